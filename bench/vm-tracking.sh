#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Benchmark of the bio hook in a VM: fio 4k random-write IOPS on a virtio
# disk with blksnap.ko not loaded, loaded with the disk untracked (another
# disk tracked, so the lookup runs), and with the disk tracked; 15 s per
# side after a warm-up, five rounds in alternating order. Prints a ratio
# table. Goals: untracked >= 0.99 of bare, tracked >= 0.95.
# Environment: srcdir, BLKSNAP_BUILDDIR, BLKSNAP_KERNELS (default: the
# newest kernel found), BLKSNAP_DISKDIR (disk images; default a directory
# in /dev/shm). Not part of make check.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/..}
srcdir=$(cd "$srcdir" && pwd)
. "$srcdir/tests/vm/vmlib.sh"

if ! reason=$(vm_check); then
	echo "vm-tracking: cannot run: $reason" >&2
	exit 77
fi
if ! vm_kernels; then
	echo "vm-tracking: no kernel with image and headers" >&2
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
out="$B/bench-$ver"
mkdir -p "$out"
rm -f "$out/bench.out" "$out/bench.out.done"
vm_build_ktest > "$out/ktest.log" || { cat "$out/ktest.log"; exit 1; }
cp "$B/ktest" "$out/ktest"
vm_build_module "$ver" "$out" || { cat "$out/kmod.log"; exit 1; }

# Disk images in RAM: no host writeback noise in the measurement.
if [ -z "${BLKSNAP_DISKDIR:-}" ] && [ -w /dev/shm ]; then
	BLKSNAP_DISKDIR=$(mktemp -d /dev/shm/blksnap-bench.XXXXXX)
	cleanup+=("$BLKSNAP_DISKDIR")
fi
echo "kernel $ver, qemu TCG -smp 2, fio randwrite 4k O_DIRECT psync QD1" \
	"on virtio-blk (image in ${BLKSNAP_DISKDIR:-$out}), 15 s per side," \
	"5 rounds in alternating order"
vm_boot "$ver" "$out" 1800 bench/vm-tracking-guest.sh
if [ ! -f "$out/bench.out.done" ]; then
	echo "vm-tracking: the guest did not finish; console tail:" >&2
	tail -n 30 "$out/console.log" >&2
	exit 1
fi
cat "$out/bench.out"
