#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the VM (chrooted into the host's root): every kernel test in
# tests/vm/kt/, each in its own shell, with the kernel log checked after
# each. Writes TAP lines without numbers to OUT/tap.out ("ok - NAME",
# "not ok - NAME", "# diagnostics"); the host numbers them.
# Usage: guest.sh SRCDIR OUT   (OUT holds blksnap.ko and ktest)
srcdir=$1
out=$2
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export KO="$out/blksnap.ko" KTEST="$out/ktest" KTDIR="$srcdir/tests/vm"
export DISK=/dev/vda DISK2=/dev/vdb SCRATCH=/dev/vdc TMPDIR=/tmp
# The userspace tools staged by run.sh, if any.
if [ -d "$(dirname "$out")/tools" ]; then
	export BLKSNAP_TOOLS="$(dirname "$out")/tools"
	export LD_LIBRARY_PATH="$BLKSNAP_TOOLS"
fi

tap="$out/tap.out"
: > "$tap"
mkdir -p "$out/logs"

sysctl -qw kernel.hung_task_timeout_secs=30 2>/dev/null
sysctl -qw kernel.printk="4 4 1 7" 2>/dev/null

# Lines of the kernel log that fail a test. The taint notice of an unsigned
# out-of-tree module is expected and matches none of them.
bad='BUG:|BUG [^ ]+ \(|WARNING:|Oops|general protection|Kernel panic|blocked for more than|hung_task|KASAN|UBSAN|RCU stall|rcu_sched detected|soft lockup|hard LOCKUP|Call Trace'

# bonly=GLOBS runs only the tests whose names match one of GLOBS
# (comma-separated; run.sh passes BLKSNAP_KT, or the kernel's TESTS in
# tests/vm/kernels); for chasing an intermittent failure, brepeat=N runs
# the list N times (run.sh passes BLKSNAP_KT_REPEAT).
. "$KTDIR/ktselect.sh"
only='*'
repeat=1
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	bonly=*) only=${arg#bonly=} ;;
	brepeat=*) repeat=${arg#brepeat=} ;;
	esac
done
tests=""
i=0
while [ $i -lt "$repeat" ]; do
	i=$((i + 1))
	for t in "$KTDIR"/kt/[0-9]*.sh; do
		if kt_selected "$(basename "$t" .sh)" "$only"; then
			tests="$tests $t"
		fi
	done
done

echo "# kernel $(uname -r)" >> "$tap"
for t in $tests; do
	name=$(basename "$t" .sh)
	# On the console (not in the test's log): where a hang happened.
	echo "<3>blksnap-test: starting $name" > /dev/kmsg
	log="$out/logs/$name.log"
	dmesg -C
	# A test may ask for more than 300 s with a "# timeout: N" line.
	tmo=$(sed -n 's/^# timeout: \([0-9]*\)$/\1/p' "$t")
	timeout -k 10 "${tmo:-300}" sh -c '. "$KTDIR/kt/lib.sh"; . "$1"' sh "$t" \
		> "$log" 2>&1
	rc=$?
	dmesg > "$out/logs/$name.dmesg"
	if grep -Eq "$bad" "$out/logs/$name.dmesg"; then
		echo "# $name: kernel log:" >> "$tap"
		grep -E -A3 "$bad" "$out/logs/$name.dmesg" | head -n 40 |
			sed 's/^/#   /' >> "$tap"
		rc=99
	fi
	case $rc in
	0) echo "ok - $name" >> "$tap" ;;
	77) echo "ok - $name # SKIP $(tail -n1 "$log")" >> "$tap" ;;
	*)
		[ $rc = 124 ] && echo "# $name: timed out" >> "$tap"
		tail -n 30 "$log" | sed 's/^/#   /' >> "$tap"
		echo "not ok - $name" >> "$tap"
		;;
	esac
	# Leave no module, snapshot, tracker or mapping behind for the next
	# test (a failed snapshot test may leave its snapshot alive).
	# Whatever a failed test left mounted under /tmp (images first, their
	# storage after the snapshots are gone); never the 9p mounts of the
	# host's trees, which may be under /tmp too.
	for m in $(awk '$2 ~ "^/tmp/" && $3 != "9p" { print $2 }' /proc/mounts | sort -r); do
		case "$m" in
		*storage*) ;;
		*) umount "$m" 2>/dev/null ;;
		esac
	done
	umount /mnt 2>/dev/null
	for id in $("$KTEST" snap-list 2>/dev/null); do
		"$KTEST" snap-destroy "$id"
	done
	for m in $(awk '$2 ~ "^/tmp/" && $3 != "9p" { print $2 }' /proc/mounts | sort -r); do
		umount "$m" 2>/dev/null
	done
	dmsetup remove_all 2>/dev/null
	losetup -D 2>/dev/null
	rmmod blksnap 2>/dev/null
done
echo "# done" >> "$tap"
sync
