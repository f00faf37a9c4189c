#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmark of incremental backups of a live disk in a VM (details in
# bench/vm-backup-guest.sh): a 4 GiB origin with 1% changed since its
# full backup, backed up through the CBT map, through a --scan of the
# whole image, and in full, each from a blksnap snapshot; one table with
# each mode's time against the full backup's.
#   bench/vm-backup.sh [BUILD_DIR]   (default: the current directory)
# Environment: srcdir, BLKSNAP_BUILDDIR, BLKSNAP_KERNELS (default: the
# newest kernel found), BLKSNAP_DISKDIR (disk images, 12 GiB of sparse
# files that fill up; default a directory in /var/tmp), BLKSNAP_BENCH_ROUNDS
# (default 2). Not part of make check.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/..}
srcdir=$(cd "$srcdir" && pwd)
build=$(cd "${1:-.}" && pwd)
. "$srcdir/tests/vm/vmlib.sh"

# The images would not fit in /dev/shm (half the RAM by default).
vm_bench_prepare vm-backup /var/tmp
vm_stage_tools "$build" || {
	echo "vm-backup: no tools built in $build (give the build directory)" >&2
	exit 1
}
echo "${BLKSNAP_BENCH_ROUNDS:-2}" > "$out/bench.rounds"
export BLKSNAP_DISK0_SIZE=4G BLKSNAP_DISK1_SIZE=12G
echo "kernel $ver, qemu TCG -smp 2, virtio-blk (images in $BLKSNAP_DISKDIR)," \
	"${BLKSNAP_BENCH_ROUNDS:-2} rounds, caches dropped before each run"
vm_bench_run vm-backup bench/vm-backup-guest.sh 3600
