#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Guest side of bench/vm-tracking.sh: fio 4k random writes (O_DIRECT,
# psync, queue depth 1, pinned to CPU 1: unpinned runs under TCG were
# bimodal) on /dev/vda with the module not loaded ("bare"),
# loaded with /dev/vda untracked but another disk tracked ("untracked"),
# and /dev/vda tracked ("tracked"), in alternating order. Writes the
# results to OUT/bench.out.
# Usage: vm-tracking-guest.sh SRCDIR OUT
out=$2
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
KO="$out/blksnap.ko"
KTEST="$out/ktest"
RT=15
res="$out/bench.raw"
: > "$res"

mode() {
	rmmod blksnap 2> /dev/null
	case $1 in
	bare|warmup) ;;
	untracked)
		insmod "$KO" && "$KTEST" attach /dev/vdb ;;
	tracked)
		insmod "$KO" && "$KTEST" attach /dev/vda ;;
	esac
}

run() {
	mode "$1" || { echo "$1 setup failed" >> "$res"; return; }
	fio --name=bench --filename=/dev/vda --rw=randwrite --bs=4k \
		--direct=1 --ioengine=psync --size=448M --time_based \
		--cpus_allowed=1 \
		--runtime="$RT" --ramp_time=2 --output-format=json \
		--output=/tmp/fio.json > /dev/null 2>&1
	iops=$(python3 -c 'import json,sys
print("%.0f" % json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"])' \
		/tmp/fio.json 2> /dev/null)
	echo "$1 ${iops:-0}" >> "$res"
}

# Precondition: allocate the whole test region, then warm up (discarded).
dd if=/dev/zero of=/dev/vda bs=1M count=448 oflag=direct 2> /dev/null
run warmup
: > "$res"

for order in "bare untracked tracked" "tracked untracked bare" \
	"untracked tracked bare" "bare tracked untracked" \
	"tracked bare untracked"; do
	for m in $order; do
		run $m
	done
done
rmmod blksnap 2> /dev/null
awk '
	function median(k,   a, c, i, j, t) {
		c = split(vals[k], a, " ")
		for (i = 1; i <= c; i++)
			for (j = i + 1; j <= c; j++)
				if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
	}
	{ sum[$1] += $2; vals[$1] = vals[$1] " " $2; n[$1]++ }
	END {
		split("bare untracked tracked", m, " ")
		bmean = sum["bare"] / n["bare"]; bmed = median("bare")
		printf "%-10s %-32s %7s %7s %7s %7s\n", "side", "IOPS per run",
			"mean", "ratio", "median", "ratio"
		for (i = 1; i <= 3; i++) {
			k = m[i]; mean = sum[k] / n[k]; med = median(k)
			printf "%-10s %-32s %7.0f %7.3f %7.0f %7.3f\n", k, vals[k],
				mean, mean / bmean, med, med / bmed
		}
	}' "$res" > "$out/bench.out"
for q in /sys/block/vda/mq/*; do
	echo "# vda hw queue ${q##*/}: cpus $(cat "$q/cpu_list")"
done >> "$out/bench.out"
echo done >> "$out/bench.out.done"
