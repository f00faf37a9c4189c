#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Benchmark of snapshots in a VM (details in bench/vm-snapshot-guest.sh):
# fio 4k random-write IOPS and 1 MiB sequential write throughput on the
# origin /dev/vda (512 MiB) bare, with a live blksnap snapshot, and with
# a device-mapper dm-snapshot of the same chunk size (persistent exception
# store), both storing on /dev/vdb (1 GiB); then sequential reads of the
# blksnap image against the origin (and of the dm-snapshot device). Each
# side runs 15 s, sides alternate over 3 rounds; one table of ratios.
# The "ssd" rows read the blksnap image again with the origin marked
# non-rotational, the read plan of an SSD origin (no gap reads).
# Goals (issue 4): blksnap >= dm-snapshot on every write row, image read
# >= 0.9 of the origin read (issue 18: also in the worst layout, half
# the chunks copied, on a non-rotational origin).
# Environment: srcdir, BLKSNAP_BUILDDIR, BLKSNAP_KERNELS (default: the
# newest kernel found), BLKSNAP_DISKDIR (disk images; default a directory
# in /dev/shm), BLKSNAP_BENCH_RT (seconds per side, default 15),
# BLKSNAP_BENCH_ROUNDS (default 3), BLKSNAP_BENCH_ROWS (writes, reads or
# all, the default). Not part of make check.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/..}
srcdir=$(cd "$srcdir" && pwd)
. "$srcdir/tests/vm/vmlib.sh"

vm_bench_prepare vm-snapshot
echo "${BLKSNAP_BENCH_RT:-15}" > "$out/bench.rt"
echo "${BLKSNAP_BENCH_ROUNDS:-3}" > "$out/bench.rounds"
echo "${BLKSNAP_BENCH_ROWS:-all}" > "$out/bench.rows"
export BLKSNAP_DISK0_SIZE=512M BLKSNAP_DISK1_SIZE=1G
echo "kernel $ver, qemu TCG -smp 2, fio O_DIRECT psync QD1 pinned to CPU 1" \
	"on virtio-blk (images in $BLKSNAP_DISKDIR), ${BLKSNAP_BENCH_RT:-15} s" \
	"per side, ${BLKSNAP_BENCH_ROUNDS:-3} rounds in alternating order; a fresh" \
	"snapshot per write run"
vm_bench_run vm-snapshot bench/vm-snapshot-guest.sh 2400
