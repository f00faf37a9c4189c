#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Guest side of bench/vm-tracking.sh: fio 4k random writes (O_DIRECT,
# psync, queue depth 1, pinned to CPU 1: unpinned runs under TCG were
# bimodal) on /dev/vda with the module not loaded ("bare"),
# loaded with /dev/vda untracked but another disk tracked ("untracked"),
# and /dev/vda tracked ("tracked"). A round runs each side once, the
# rounds going through every order of the three; a side's ratio is taken
# within its round (the host's load drifts more between rounds than
# within one), and the table gives the mean and median of those ratios
# next to the plain means. OUT/bench.rt: seconds per run (default 15);
# OUT/bench.rounds: rounds (default 6). With OUT/bench.mode holding
# "icount" (bench/vm-tracking.sh BLKSNAP_BENCH_ICOUNT), the disk is
# null_blk without memory and fio runs at queue depth 32: under icount
# the IOPS then measure instructions per bio. Writes OUT/bench.out.
# Usage: vm-tracking-guest.sh SRCDIR OUT
out=$2
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
KO="$out/blksnap.ko"
KTEST="$out/ktest"
RT=$(cat "$out/bench.rt" 2> /dev/null || echo 15)
ROUNDS=$(cat "$out/bench.rounds" 2> /dev/null || echo 6)
res="$out/bench.raw"
: > "$res"
DEV=/dev/vda
FIO_IO="--ioengine=psync --cpus_allowed=1"
if [ "$(cat "$out/bench.mode" 2> /dev/null)" = icount ]; then
	modprobe null_blk nr_devices=1 gb=4 queue_mode=2 irqmode=0 \
		memory_backed=0 || {
		echo "null_blk: modprobe failed" > "$out/bench.out"
		echo failed >> "$out/bench.out.done"
		exit 1
	}
	DEV=/dev/nullb0
	FIO_IO="--ioengine=libaio --iodepth=32"
fi

mode() {
	rmmod blksnap 2> /dev/null
	case $1 in
	bare|warmup) ;;
	untracked)
		insmod "$KO" && "$KTEST" attach /dev/vdb ;;
	tracked)
		insmod "$KO" && "$KTEST" attach "$DEV" ;;
	esac
}

run() {
	mode "$1" || { echo "$1 setup failed" >> "$res"; return; }
	# shellcheck disable=SC2086
	fio --name=bench --filename="$DEV" --rw=randwrite --bs=4k \
		--direct=1 $FIO_IO --size=448M --time_based \
		--runtime="$RT" --ramp_time=2 --output-format=json \
		--output=/tmp/fio.json > /dev/null 2>&1
	iops=$(python3 -c 'import json,sys
print("%.0f" % json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"])' \
		/tmp/fio.json 2> /dev/null)
	echo "$1 ${iops:-0}" >> "$res"
}

# Precondition: allocate the whole test region, then warm up (discarded).
dd if=/dev/zero of="$DEV" bs=1M count=448 oflag=direct 2> /dev/null
run warmup
: > "$res"

r=0
while [ $r -lt "$ROUNDS" ]; do
	case $((r % 6)) in
	0) order="bare untracked tracked" ;;
	1) order="tracked untracked bare" ;;
	2) order="untracked tracked bare" ;;
	3) order="bare tracked untracked" ;;
	4) order="tracked bare untracked" ;;
	5) order="untracked bare tracked" ;;
	esac
	for m in $order; do
		printf 'round %d ' $r >> "$res"
		run $m
	done
	r=$((r + 1))
done
rmmod blksnap 2> /dev/null
awk '
	function median(s,   a, c, i, j, t) {
		c = split(s, a, " ")
		for (i = 1; i <= c; i++)
			for (j = i + 1; j <= c; j++)
				if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
	}
	{ iops[$2, $3] = $4; rounds[$2] = 1; sum[$3] += $4; vals[$3] = vals[$3] " " $4; n[$3]++ }
	END {
		split("bare untracked tracked", m, " ")
		for (r in rounds)
			for (i = 2; i <= 3; i++)
				if (iops[r, "bare"] > 0) {
					q = iops[r, m[i]] / iops[r, "bare"]
					ratios[m[i]] = ratios[m[i]] " " q
					rsum[m[i]] += q; rn[m[i]]++
				}
		bmean = sum["bare"] / n["bare"]
		printf "%-10s %-44s %6s %8s %12s %12s\n", "side", "IOPS per run",
			"mean", "ratio", "mean of", "median of"
		printf "%-10s %-44s %6s %8s %12s %12s\n", "", "", "",
			"of means", "round ratios", "round ratios"
		for (i = 1; i <= 3; i++) {
			k = m[i]; mean = sum[k] / n[k]
			printf "%-10s %-44s %6.0f %8.3f %12s %12s\n", k, vals[k],
				mean, mean / bmean,
				i == 1 ? "" : sprintf("%.3f", rsum[k] / rn[k]),
				i == 1 ? "" : sprintf("%.3f", median(ratios[k]))
		}
	}' "$res" > "$out/bench.out"
for q in /sys/block/vda/mq/*; do
	echo "# vda hw queue ${q##*/}: cpus $(cat "$q/cpu_list")"
done >> "$out/bench.out"
echo done >> "$out/bench.out.done"
