#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Benchmark of the bio hook in a VM: fio 4k random-write IOPS on a virtio
# disk with blksnap.ko not loaded, loaded with the disk untracked (another
# disk tracked, so the lookup runs), and with the disk tracked, in rounds
# of one run per side (details in bench/vm-tracking-guest.sh). Prints a
# ratio table. Goals: untracked >= 0.99 of bare, tracked >= 0.97.
# Environment: srcdir, BLKSNAP_BUILDDIR, BLKSNAP_KERNELS (default: the
# newest kernel found), BLKSNAP_DISKDIR (disk images; default a directory
# in /dev/shm), BLKSNAP_BENCH_RT (seconds per run, default 15),
# BLKSNAP_BENCH_ROUNDS (default 6), BLKSNAP_BENCH_ICOUNT (non-empty: the
# CPU-cost instrument: qemu counts guest time in instructions, fio runs
# 4k random writes at queue depth 32 on null_blk with and without memory
# backing, so the ratios measure the instructions per bio of the hook,
# the tracker and copy-on-write, the same in every round whatever the
# host's load: bare, untracked, tracked, a live blksnap snapshot and
# dm-snapshot on the same devices (bench/vm-hook-guest.sh); default 3 s
# per run, 2 rounds; goals: untracked >= 0.99 of bare, tracked >= 0.97,
# snapshot >= 1.0 of dm-snapshot; then the same instrument's image
# reads, 1 MiB sequential, after every other chunk and one chunk in 16
# were copied: image against origin, goal >= 0.9 in both layouts, and
# dm-snapshot's for comparison). With icount, BLKSNAP_BENCH_ROWS
# (writes, reads or all, the default) chooses the rows, and
# BLKSNAP_BENCH_ALT_KO names a second build of blksnap.ko for the same
# kernel whose image reads make "image-alt" rows beside the others (two
# read plans compared in one run). Not part of make check.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/..}
srcdir=$(cd "$srcdir" && pwd)
. "$srcdir/tests/vm/vmlib.sh"

vm_bench_prepare vm-tracking
if [ -n "${BLKSNAP_BENCH_ICOUNT:-}" ]; then
	export BLKSNAP_VM_ICOUNT=1
	# Without CMPXCHG16B: under icount, qemu 7.2 was seen to give a
	# cmpxchg16b in SLUB's allocation fast path flags holding RAX's low
	# bits (EFLAGS with reserved bits set, which no CPU pushes), and the
	# guest died of it in 2 of 3 runs. SLUB then takes its locked path;
	# the rows of a run without the flag matched those of the run that
	# survived with it within 0.003.
	export BLKSNAP_VM_CPU=${BLKSNAP_VM_CPU:-max,-cx16}
	rt=${BLKSNAP_BENCH_RT:-3}
	rounds=${BLKSNAP_BENCH_ROUNDS:-2}
	guest=bench/vm-hook-guest.sh
	echo icount > "$out/bench.mode"
	echo "${BLKSNAP_BENCH_ROWS:-all}" > "$out/bench.rows"
	rm -f "$out/blksnap-alt.ko"
	if [ -n "${BLKSNAP_BENCH_ALT_KO:-}" ]; then
		cp "$BLKSNAP_BENCH_ALT_KO" "$out/blksnap-alt.ko" || exit 1
	fi
	what="qemu TCG single thread with icount (guest time = instructions)," \
	what="$what on null_blk: fio randwrite 4k O_DIRECT libaio QD32;"
	what="$what image reads 1M sequential O_DIRECT psync"
else
	rt=${BLKSNAP_BENCH_RT:-15}
	rounds=${BLKSNAP_BENCH_ROUNDS:-6}
	guest=bench/vm-tracking-guest.sh
	rm -f "$out/bench.mode"
	what="qemu TCG -smp 2, fio randwrite 4k O_DIRECT psync QD1"
	what="$what on virtio-blk (image in ${BLKSNAP_DISKDIR:-$out})"
fi
echo "$rt" > "$out/bench.rt"
echo "$rounds" > "$out/bench.rounds"
echo "kernel $ver, $what, $rt s per run, $rounds rounds, each side once per round"
vm_bench_run vm-tracking "$guest" 3600
