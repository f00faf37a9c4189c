#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Guest side of bench/vm-backup.sh. /dev/vda (4 GiB) is the origin, filled
# with data; /dev/vdb holds an ext4 with the archives and the snapshot's
# storage file. A full backup of a first snapshot is the base; then 1% of
# the origin changes (64 KiB writes at random offsets) and a second
# snapshot is backed up three ways, each timed from nothing (caches
# dropped) to a finished archive:
#   cbt   blksnap-cbt dump, blksnap-diff against the base, blksnap-send
#         --base of the listed ranges;
#   scan  blksnap-diff --scan of the image against the base, then the same
#         blksnap-send --base;
#   full  blksnap-send --full of the image.
# No compression (-c none): the rows compare what is read, hashed and
# written, not the compressor under TCG. ROUNDS (OUT/bench.rounds) rounds,
# the order of the modes reversed every other round; each side's mean.
# Then the size of incrementals per byte written, with the module's 4 KiB
# detail and without it, for 4 KiB and 64 KiB random writes.
# Writes OUT/bench.out.
# Usage: vm-backup-guest.sh SRCDIR OUT
out=$2
tools="$(dirname "$out")/tools"
export PATH="$tools:/usr/sbin:/usr/bin:/sbin:/bin" LD_LIBRARY_PATH="$tools"
ROUNDS=$(cat "$out/bench.rounds" 2> /dev/null || echo 2)
res="$out/bench.raw"
log="$out/bench.log"
a=/tmp/archives
: > "$res"
: > "$log"

fail() {
	echo "vm-backup: $*" | tee -a "$out/bench.out" >&2
	echo failed >> "$out/bench.out.done"
	exit 1
}

# timed NAME CMD: run CMD (sh -c) from cold caches; records NAME SECONDS.
timed() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
	t0=$(date +%s.%N)
	sh -c "$2" >> "$log" 2>&1 || fail "$1 failed: $2 (see bench.log)"
	t1=$(date +%s.%N)
	echo "$1 $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" >> "$res"
}

insmod "$out/blksnap.ko" || fail "insmod"
modprobe ext4
mkfs.ext4 -q -F /dev/vdb >> "$log" 2>&1 || fail "mkfs.ext4 /dev/vdb"
mkdir -p "$a"
mount /dev/vdb "$a" || fail "mount /dev/vdb"
size=$(blockdev --getsize64 /dev/vda)
fio --name=fill --filename=/dev/vda --rw=write --bs=1M --direct=1 \
	--ioengine=psync --refill_buffers --size="$size" >> "$log" 2>&1 ||
	fail "fill /dev/vda"

take() {
	id=$(blksnap-take -q --storage "$a" --limit 1G /dev/vda) || fail "take"
	img=$(blksnap-take --image "$id" /dev/vda) || fail "image"
}
take
timed base "blksnap-send -q -c none --full -o $a/base.tar $img"
blksnap-take --destroy "$id" || fail "destroy"

# 1% of the origin in 64 KiB writes at distinct random offsets.
changed=$((size / 100))
fio --name=change --filename=/dev/vda --rw=randwrite --bs=64k --direct=1 \
	--ioengine=psync --io_size="$changed" --randseed=4242 \
	--refill_buffers >> "$log" 2>&1 || fail "change 1%"
take

cbt="blksnap-cbt -o $a/dump /dev/vda &&
	blksnap-diff $a/base.tar < $a/dump > $a/ranges-cbt &&
	blksnap-send -q -c none --base $a/base.tar -o $a/cbt.tar $img < $a/ranges-cbt"
scan="blksnap-diff --scan $img $a/base.tar > $a/ranges-scan &&
	blksnap-send -q -c none --base $a/base.tar -o $a/scan.tar $img < $a/ranges-scan"
full="blksnap-send -q -c none --full -o $a/full.tar $img"
r=0
while [ $r -lt "$ROUNDS" ]; do
	if [ $((r % 2)) = 0 ]; then order="cbt scan full"; else order="full scan cbt"; fi
	for m in $order; do
		rm -f "$a/$m.tar"
		eval "timed $m \"\$$m\""
		stat -c "size-$m %s" "$a/$m.tar" >> "$res"
		# Both incrementals carry exactly what changed, as ranges.
		[ "$m" = full ] || echo "ranges-$m $(grep -vc '^#' "$a/ranges-$m")" >> "$res"
	done
	rm -f "$a/full.tar"
	r=$((r + 1))
done
blksnap-take --destroy "$id" || fail "destroy"

# Incremental size per byte written, with the module's 4 KiB detail
# (tracking_fine_limit at its default) and without it (0: whole 64 KiB
# blocks, as before the detail existed), side by side: 1% of the origin
# in 4 KiB and in 64 KiB writes at distinct random offsets, each an
# interval of its own, each incremental on top of the one before; the
# offsets differ from run to run (fio's randseed alone repeats them).
fine_limit=$(cat /sys/module/blksnap/parameters/tracking_fine_limit)
chain="$a/base.tar $a/cbt.tar"
parent=$a/cbt.tar
for bs in 4k 64k; do
	for detail in fine coarse; do
		if [ $detail = fine ]; then lim=$fine_limit; else lim=0; fi
		echo "$lim" > /sys/module/blksnap/parameters/tracking_fine_limit
		fio --name=amp --filename=/dev/vda --rw=randwrite --bs=$bs \
			--randrepeat=0 \
			--direct=1 --ioengine=psync --io_size="$changed" \
			--refill_buffers >> "$log" 2>&1 ||
			fail "amp $bs writes"
		take
		# shellcheck disable=SC2086
		blksnap-cbt -o "$a/dump" /dev/vda &&
			blksnap-diff $chain < "$a/dump" > "$a/ranges-amp" &&
			blksnap-send -q -c none --base "$parent" \
				-o "$a/amp-$bs-$detail.tar" "$img" < "$a/ranges-amp" ||
			fail "amp $bs $detail incremental"
		blksnap-take --destroy "$id" || fail "destroy"
		echo "amp-$bs-$detail $(stat -c %s "$a/amp-$bs-$detail.tar") $(grep -vc '^#' "$a/ranges-amp")" >> "$res"
		parent=$a/amp-$bs-$detail.tar
		chain="$chain $parent"
	done
done
echo "$fine_limit" > /sys/module/blksnap/parameters/tracking_fine_limit
umount "$a"
rmmod blksnap

awk -v size="$size" -v changed="$changed" '
	$1 ~ /^(base|cbt|scan|full)$/ { t[$1] += $2; n[$1]++; v[$1] = v[$1] " " sprintf("%.1f", $2) }
	$1 ~ /^size-/ { s[substr($1, 6)] = $2 }
	$1 ~ /^ranges-/ { rg[substr($1, 8)] = $2 }
	function mean(k) { return n[k] ? t[k] / n[k] : 0 }
	function row(k, what) {
		printf "%-6s %-44s %-16s %8.1f %11.1f %8.3f\n", k, what, substr(v[k], 2), mean(k),
			s[k] / 1048576, mean(k) / mean("full")
	}
	END {
		printf "origin %.0f MiB, %.1f MiB changed in 64 KiB writes\n",
			size / 1048576, changed / 1048576
		printf "%-6s %-44s %-16s %8s %11s %8s\n", "mode", "what", "runs s",
			"mean s", "archive MiB", "vs full"
		row("full", "blksnap-send --full of the image")
		row("scan", "diff --scan + send --base (" rg["scan"] " ranges)")
		row("cbt", "cbt dump + diff + send --base (" rg["cbt"] " ranges)")
		printf "# base (first full backup): %.1f s; cbt is %.1fx faster than scan\n",
			mean("base"), (mean("cbt") > 0 ? mean("scan") / mean("cbt") : 0)
		printf "\nincremental archive bytes (-c none) per byte written, 1%% of the origin (%.1f MiB)\n", changed / 1048576
		printf "%-26s %14s %14s %8s %s\n", "writes", "4 KiB detail", "whole blocks", "ratio", "goal"
		amp("4k", "4 KiB, random offsets", "detail <= 2")
		amp("64k", "64 KiB, random offsets", "detail <= whole")
	}
	$1 ~ /^amp-/ { split($1, k, "-"); a[k[2] "-" k[3]] = $2; ar[k[2] "-" k[3]] = $3 }
	function amp(bs, what, goal,   f, c) {
		f = a[bs "-fine"] / changed; c = a[bs "-coarse"] / changed
		printf "%-26s %8.3f (%4d) %8.3f (%4d) %8.3f %s\n", what, f, ar[bs "-fine"],
			c, ar[bs "-coarse"], (c > 0 ? f / c : 0), goal
	}' "$res" > "$out/bench.out"
echo done >> "$out/bench.out.done"
