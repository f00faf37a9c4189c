#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Benchmark of the take in a VM (details in bench/vm-take-guest.sh): how
# long each phase of a take lasted, as the module measured it (its kernel
# message; BLKSNAP_IOCTL_SNAPSHOT_TAKE_TIMES), for an idle 1 GiB and an
# idle 64 GiB device (sparse disk files), 4 devices at once, and a mounted
# ext4 idle and with writers. Goals (issue 18): the module's own part
# (the take without the filesystem freeze and thaw) at most 20 ms at any
# size, for 4 devices at most 1.5 times one; writes held at most that.
# Environment: srcdir, BLKSNAP_BUILDDIR, BLKSNAP_KERNELS (default: the
# newest kernel found), BLKSNAP_DISKDIR (disk images; default a directory
# in /dev/shm), BLKSNAP_BENCH_ROUNDS (takes per case, default 5). Timings
# under TCG are those of an emulated machine: compare rows, not machines.
# Not part of make check.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/..}
srcdir=$(cd "$srcdir" && pwd)
. "$srcdir/tests/vm/vmlib.sh"

vm_bench_prepare vm-take
echo "${BLKSNAP_BENCH_ROUNDS:-5}" > "$out/bench.rounds"
export BLKSNAP_DISK0_SIZE=1G BLKSNAP_DISK1_SIZE=1G BLKSNAP_DISK2_SIZE=64G
echo "kernel $ver, qemu TCG, ${BLKSNAP_BENCH_ROUNDS:-5} takes per case;" \
	"milliseconds as the module measured them (median, min-max)"
vm_bench_run vm-take bench/vm-take-guest.sh 2400
