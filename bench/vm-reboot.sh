#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmark of the first incremental backup after a clean reboot (details
# in bench/vm-reboot-guest.sh): a 4 GiB origin backed up in full, its
# change tracking saved at shutdown and loaded at the next boot, then 1%
# changed and backed up from the loaded tracking (cbt), from a scan of the
# whole image (scan: what an incremental after a reboot cost before the
# history was kept, and what blksnap-backup still falls back to when it is
# not), and in full; one table: time and bytes read from the disks.
#   bench/vm-reboot.sh [BUILD_DIR]   (default: the current directory)
# Environment: srcdir, BLKSNAP_BUILDDIR, BLKSNAP_KERNELS (default: the
# newest kernel found), BLKSNAP_DISKDIR (disk images, 16 GiB of sparse
# files that fill up to about 9 GiB; default a directory in /var/tmp).
# Bounded: the two boots together stop after BLKSNAP_BENCH_TIMEOUT seconds
# (default 3600). Not part of make check.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/..}
srcdir=$(cd "$srcdir" && pwd)
build=$(cd "${1:-.}" && pwd)
. "$srcdir/tests/vm/vmlib.sh"

vm_bench_prepare vm-reboot /var/tmp
vm_stage_tools "$build" || {
	echo "vm-reboot: no tools built in $build (give the build directory)" >&2
	exit 1
}
export BLKSNAP_DISK0_SIZE=4G BLKSNAP_DISK1_SIZE=12G
echo "kernel $ver, qemu TCG -smp 2, virtio-blk (images in $BLKSNAP_DISKDIR)," \
	"one run of each mode after a clean reboot, caches dropped before each"
vm_bench_run vm-reboot bench/vm-reboot-guest.sh "${BLKSNAP_BENCH_TIMEOUT:-3600}"
