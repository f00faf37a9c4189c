#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Benchmark of the bio hook in a VM: fio 4k random-write IOPS on a virtio
# disk with blksnap.ko not loaded, loaded with the disk untracked (another
# disk tracked, so the lookup runs), and with the disk tracked, in rounds
# of one run per side (details in bench/vm-tracking-guest.sh). Prints a
# ratio table. Goals: untracked >= 0.99 of bare, tracked >= 0.95.
# Environment: srcdir, BLKSNAP_BUILDDIR, BLKSNAP_KERNELS (default: the
# newest kernel found), BLKSNAP_DISKDIR (disk images; default a directory
# in /dev/shm), BLKSNAP_BENCH_RT (seconds per run, default 15),
# BLKSNAP_BENCH_ROUNDS (default 6). Not part of make check.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/..}
srcdir=$(cd "$srcdir" && pwd)
. "$srcdir/tests/vm/vmlib.sh"

vm_bench_prepare vm-tracking
rt=${BLKSNAP_BENCH_RT:-15}
rounds=${BLKSNAP_BENCH_ROUNDS:-6}
echo "$rt" > "$out/bench.rt"
echo "$rounds" > "$out/bench.rounds"
echo "kernel $ver, qemu TCG -smp 2, fio randwrite 4k O_DIRECT psync QD1" \
	"on virtio-blk (image in ${BLKSNAP_DISKDIR:-$out}), $rt s per run," \
	"$rounds rounds, each side once per round"
vm_bench_run vm-tracking bench/vm-tracking-guest.sh 1800
