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
# BLKSNAP_BENCH_ROUNDS (default 6), BLKSNAP_BENCH_ICOUNT (non-empty: the
# CPU-cost instrument: qemu counts guest time in instructions, fio runs
# 4k random writes at queue depth 32 on null_blk without memory, so the
# ratios measure the hook's and the tracker's instructions per bio, the
# same in every round whatever the host's load; default 4 s per run, 4
# rounds). Not part of make check.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/..}
srcdir=$(cd "$srcdir" && pwd)
. "$srcdir/tests/vm/vmlib.sh"

vm_bench_prepare vm-tracking
if [ -n "${BLKSNAP_BENCH_ICOUNT:-}" ]; then
	export BLKSNAP_VM_ICOUNT=1
	rt=${BLKSNAP_BENCH_RT:-4}
	rounds=${BLKSNAP_BENCH_ROUNDS:-4}
	echo icount > "$out/bench.mode"
	what="qemu TCG single thread with icount (guest time = instructions)," \
	what="$what fio randwrite 4k O_DIRECT libaio QD32 on null_blk"
else
	rt=${BLKSNAP_BENCH_RT:-15}
	rounds=${BLKSNAP_BENCH_ROUNDS:-6}
	rm -f "$out/bench.mode"
	what="qemu TCG -smp 2, fio randwrite 4k O_DIRECT psync QD1"
	what="$what on virtio-blk (image in ${BLKSNAP_DISKDIR:-$out})"
fi
echo "$rt" > "$out/bench.rt"
echo "$rounds" > "$out/bench.rounds"
echo "kernel $ver, $what, $rt s per run, $rounds rounds, each side once per round"
vm_bench_run vm-tracking bench/vm-tracking-guest.sh 1800
