#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Guest side of bench/vm-reboot.sh, over two boots of the same disks
# (bboot= on the kernel command line, tests/vm/vmlib.sh). /dev/vda (4 GiB)
# is the origin; /dev/vdb holds an ext4 with the archives and the
# snapshot's storage file.
# Boot 1: the origin tracked and filled, a full backup of a snapshot (the
# base), the origin's state saved (blksnap-cbt --save, into OUT/state: the
# VM's root is the host's, read-only), then the power cut (sysrq o).
# Boot 2: the state loaded (blksnap-cbt --load) before anything writes the
# origin, 1% of it changed (64 KiB writes at random offsets), a snapshot,
# then three backups of it, each timed from cold caches to a finished
# archive, with the bytes read from vda and vdb counted:
#   cbt   blksnap-cbt dump, blksnap-diff --fallback=fail against the base
#         (the loaded history must tell what changed), blksnap-send --base;
#   scan  blksnap-diff --scan of the image against the base, send --base;
#   full  blksnap-send --full of the image.
# No compression (-c none). Writes OUT/bench.out.
# Usage: vm-reboot-guest.sh SRCDIR OUT
out=$2
tools="$(dirname "$out")/tools"
export PATH="$tools:/usr/sbin:/usr/bin:/sbin:/bin" LD_LIBRARY_PATH="$tools"
res="$out/bench.raw"
log="$out/bench.log"
a=/tmp/archives
boot=1
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	bboot=*) boot=${arg#bboot=} ;;
	esac
done

fail() {
	echo "vm-reboot (boot $boot): $*" | tee -a "$out/bench.out" >&2
	echo failed >> "$out/bench.out.done"
	exit 1
}

# rsectors: sectors read from vda and vdb so far
rsectors() {
	awk '{ s += $3 } END { print s }' /sys/block/vda/stat /sys/block/vdb/stat
}

# timed NAME CMD: run CMD (sh -c) from cold caches; records NAME SECONDS
# and readNAME BYTES.
timed() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
	r0=$(rsectors)
	t0=$(date +%s.%N)
	sh -c "$2" >> "$log" 2>&1 || fail "$1 failed: $2 (see bench.log)"
	t1=$(date +%s.%N)
	r1=$(rsectors)
	echo "$1 $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" >> "$res"
	echo "read-$1 $(((r1 - r0) * 512))" >> "$res"
}

take() {
	id=$(blksnap-take -q --storage "$a" --limit 1G /dev/vda) || fail "take"
	img=$(blksnap-take --image "$id" /dev/vda) || fail "image"
	i=0
	while [ ! -b "$img" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}

insmod "$out/blksnap.ko" || fail "insmod"
modprobe ext4
mkdir -p "$a"
size=$(blockdev --getsize64 /dev/vda)

if [ "$boot" = 1 ]; then
	: > "$res"
	: > "$log"
	rm -rf "$out/state"
	mkdir -p "$out/state"
	mkfs.ext4 -q -F /dev/vdb >> "$log" 2>&1 || fail "mkfs.ext4 /dev/vdb"
	mount /dev/vdb "$a" || fail "mount /dev/vdb"
	blksnap-cbt --attach /dev/vda || fail "attach"
	fio --name=fill --filename=/dev/vda --rw=write --bs=1M --direct=1 \
		--ioengine=psync --refill_buffers --size="$size" >> "$log" 2>&1 ||
		fail "fill /dev/vda"
	take
	timed base "blksnap-send -q -c none --full -o $a/base.tar $img"
	blksnap-take --destroy "$id" || fail "destroy"
	umount "$a" || fail "umount"
	blksnap-cbt --save --state-dir "$out/state" /dev/vda >> "$log" 2>&1 ||
		fail "save the state (see bench.log)"
	: > "$out/reboot"
	echo 1 > /proc/sys/kernel/sysrq
	echo o > /proc/sysrq-trigger
	sleep 60
	fail "the power cut did not happen"
fi

# Nothing may write the origin before its history is loaded.
blksnap-cbt --load --state-dir "$out/state" /dev/vda >> "$log" 2>&1 ||
	fail "load the state after the reboot (see bench.log)"
mount /dev/vdb "$a" || fail "mount /dev/vdb"
changed=$((size / 100))
fio --name=change --filename=/dev/vda --rw=randwrite --bs=64k --direct=1 \
	--ioengine=psync --io_size="$changed" --randseed=4242 \
	--refill_buffers >> "$log" 2>&1 || fail "change 1%"
take

cbt="blksnap-cbt -o $a/dump /dev/vda &&
	blksnap-diff --fallback=fail $a/base.tar < $a/dump > $a/ranges-cbt &&
	blksnap-send -q -c none --base $a/base.tar -o $a/cbt.tar $img < $a/ranges-cbt"
scan="blksnap-diff --scan $img $a/base.tar > $a/ranges-scan &&
	blksnap-send -q -c none --base $a/base.tar -o $a/scan.tar $img < $a/ranges-scan"
full="blksnap-send -q -c none --full -o $a/full.tar $img"
for m in cbt scan full; do
	rm -f "$a/$m.tar"
	eval "timed $m \"\$$m\""
	stat -c "size-$m %s" "$a/$m.tar" >> "$res"
	[ "$m" = full ] || echo "ranges-$m $(grep -vc '^#' "$a/ranges-$m")" >> "$res"
	rm -f "$a/full.tar"
done
blksnap-take --destroy "$id" || fail "destroy"
umount "$a"
rmmod blksnap

awk -v size="$size" -v changed="$changed" '
	$1 ~ /^(base|cbt|scan|full)$/ { t[$1] = $2 }
	$1 ~ /^read-/ { rd[substr($1, 6)] = $2 }
	$1 ~ /^size-/ { s[substr($1, 6)] = $2 }
	$1 ~ /^ranges-/ { rg[substr($1, 8)] = $2 }
	function row(k, what) {
		printf "%-5s %-46s %8.1f %10.1f %11.1f %8.3f %8.3f\n", k, what, t[k],
			rd[k] / 1048576, s[k] / 1048576, t[k] / t["full"],
			rd[k] / rd["full"]
	}
	END {
		printf "origin %.0f MiB, %.1f MiB changed in 64 KiB writes after a clean reboot\n",
			size / 1048576, changed / 1048576
		printf "%-5s %-46s %8s %10s %11s %8s %8s\n", "mode", "what", "time s",
			"read MiB", "archive MiB", "time", "read"
		printf "%-5s %-46s %8s %10s %11s %8s %8s\n", "", "", "", "", "",
			"vs full", "vs full"
		row("full", "blksnap-send --full of the image")
		row("scan", "diff --scan + send --base (" rg["scan"] " ranges)")
		row("cbt", "loaded cbt + diff + send --base (" rg["cbt"] " ranges)")
		printf "# base (full backup before the reboot): %.1f s; after the reboot cbt is %.1fx faster than scan and reads %.1fx less\n",
			t["base"], (t["cbt"] > 0 ? t["scan"] / t["cbt"] : 0),
			(rd["cbt"] > 0 ? rd["scan"] / rd["cbt"] : 0)
	}' "$res" > "$out/bench.out"
echo done >> "$out/bench.out.done"
