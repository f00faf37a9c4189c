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
# Goals (issue 4): blksnap >= dm-snapshot on every write row, image read
# >= 0.9 of the origin read.
# Environment: srcdir, BLKSNAP_BUILDDIR, BLKSNAP_KERNELS (default: the
# newest kernel found), BLKSNAP_DISKDIR (disk images; default a directory
# in /dev/shm), BLKSNAP_BENCH_RT (seconds per side, default 15). Not part
# of make check.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/..}
srcdir=$(cd "$srcdir" && pwd)
. "$srcdir/tests/vm/vmlib.sh"

if ! reason=$(vm_check); then
	echo "vm-snapshot: cannot run: $reason" >&2
	exit 77
fi
if ! vm_kernels; then
	echo "vm-snapshot: no kernel with image and headers" >&2
	exit 77
fi
ver=$(printf '%s\n' "${kernels[@]}" | sort -V | tail -n 1)

cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT
if [ -n "${BLKSNAP_BUILDDIR:-}" ]; then
	B=$(mkdir -p "$BLKSNAP_BUILDDIR" && cd "$BLKSNAP_BUILDDIR" && pwd)
else
	B=$(mktemp -d "${TMPDIR:-/tmp}/blksnap-bench.XXXXXX")
	cleanup+=("$B")
fi
out="$B/bench-snapshot-$ver"
mkdir -p "$out"
rm -f "$out/bench.out" "$out/bench.out.done"
vm_build_ktest > "$out/ktest.log" || { cat "$out/ktest.log"; exit 1; }
cp "$B/ktest" "$out/ktest"
vm_build_module "$ver" "$out" || { cat "$out/kmod.log"; exit 1; }
echo "${BLKSNAP_BENCH_RT:-15}" > "$out/bench.rt"

# Disk images in RAM: no host writeback noise in the measurement.
if [ -z "${BLKSNAP_DISKDIR:-}" ] && [ -w /dev/shm ]; then
	BLKSNAP_DISKDIR=$(mktemp -d /dev/shm/blksnap-bench.XXXXXX)
	cleanup+=("$BLKSNAP_DISKDIR")
fi
export BLKSNAP_DISKDIR BLKSNAP_DISK0_SIZE=512M BLKSNAP_DISK1_SIZE=1G
echo "kernel $ver, qemu TCG -smp 2, fio O_DIRECT psync QD1 pinned to CPU 1" \
	"on virtio-blk (images in $BLKSNAP_DISKDIR), ${BLKSNAP_BENCH_RT:-15} s" \
	"per side, 3 rounds in alternating order; a fresh snapshot per write run"
vm_boot "$ver" "$out" 2400 bench/vm-snapshot-guest.sh
if [ ! -f "$out/bench.out.done" ]; then
	echo "vm-snapshot: the guest did not finish; console tail:" >&2
	tail -n 30 "$out/console.log" >&2
	[ -f "$out/bench.out" ] && cat "$out/bench.out"
	exit 1
fi
cat "$out/bench.out"
