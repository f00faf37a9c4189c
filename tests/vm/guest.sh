#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the VM (chrooted into the host's root): every kernel test in
# tests/vm/kt/, each in its own shell, with the kernel log checked after
# each. Writes TAP lines without numbers to OUT/tap.out ("ok - NAME",
# "not ok - NAME", "# diagnostics"); the host numbers them.
# Usage: guest.sh SRCDIR OUT   (OUT holds blksnap.ko and ktest)
#
# Reboot tests (a "# reboot" line in the test) run in two boots of the
# same disks. In the first boot (bboot=1 on the kernel command line) they
# run after all the others, with BOOT=1, one after the other, and nothing
# is cleaned up after them: each ends in the state it wants a power cut
# to find (a clean test has run the shutdown path: its filesystems
# unmounted and its state saved; an unclean one has not). Then the guest
# writes OUT/reboot and cuts the power at once (sysrq o: no sync, no
# unmount), and the host boots the same kernel again on the same disks
# (vmlib.sh); in that boot (bboot=2) only the reboot tests run, with
# BOOT=2. Each reports one TAP line per boot, "NAME (boot N)". RBDIR is
# a directory of the test's that lasts across the boots (on the host),
# for its archives and notes; a test whose first boot failed is not run
# in the second (it fails there too).
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
boot=1
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	bonly=*) only=${arg#bonly=} ;;
	brepeat=*) repeat=${arg#brepeat=} ;;
	bboot=*) boot=${arg#bboot=} ;;
	esac
done
export BOOT=$boot
rbroot="$out/reboot-state"
# is_reboot TEST: the test runs across two boots
is_reboot() {
	grep -qx '# reboot' "$1"
}
tests=""
reboots=""
i=0
while [ $i -lt "$repeat" ]; do
	i=$((i + 1))
	for t in "$KTDIR"/kt/[0-9]*.sh; do
		if kt_selected "$(basename "$t" .sh)" "$only"; then
			if is_reboot "$t"; then
				# Once, whatever the repeat count: one extra boot.
				[ $i = 1 ] && reboots="$reboots $t"
			elif [ "$boot" = 1 ]; then
				tests="$tests $t"
			fi
		fi
	done
done
if [ "$boot" = 1 ]; then
	: > "$tap"
	rm -rf "$rbroot"
	[ -n "$reboots" ] && mkdir -p "$rbroot"
fi

[ "$boot" = 1 ] && echo "# kernel $(uname -r)" >> "$tap"
[ "$boot" = 2 ] && echo "# second boot on the same disks" >> "$tap"
for t in $tests $reboots; do
	name=$(basename "$t" .sh)
	reboot=
	if is_reboot "$t"; then
		reboot=1
		export RBDIR="$rbroot/$name"
		mkdir -p "$RBDIR"
		if [ "$boot" = 2 ] && [ -f "$RBDIR/skip" ]; then
			echo "ok - $name (boot 2) # SKIP $(cat "$RBDIR/skip")" >> "$tap"
			continue
		fi
		if [ "$boot" = 2 ] && ! grep -qx ok "$RBDIR/boot1" 2> /dev/null; then
			echo "# $name: its first boot failed; not run again" >> "$tap"
			echo "not ok - $name (boot 2)" >> "$tap"
			continue
		fi
	fi
	# On the console (not in the test's log): where a hang happened.
	echo "<3>blksnap-test: starting $name" > /dev/kmsg
	log="$out/logs/$name.log"
	[ -n "$reboot" ] && log="$out/logs/$name.boot$boot.log"
	dmesg -C
	# A test may ask for more than 300 s with a "# timeout: N" line.
	tmo=$(sed -n 's/^# timeout: \([0-9]*\)$/\1/p' "$t")
	started=$(cut -d. -f1 /proc/uptime)
	timeout -k 10 "${tmo:-300}" sh -c '. "$KTDIR/kt/lib.sh"; . "$1"' sh "$t" \
		> "$log" 2>&1
	rc=$?
	# Where CI's time goes, test by test (guest seconds).
	echo "# $name: $(( $(cut -d. -f1 /proc/uptime) - started )) s" >> "$tap"
	dmesg="$out/logs/$name.dmesg"
	[ -n "$reboot" ] && dmesg="$out/logs/$name.boot$boot.dmesg"
	dmesg > "$dmesg"
	if grep -Eq "$bad" "$dmesg"; then
		echo "# $name: kernel log:" >> "$tap"
		grep -E -A3 "$bad" "$dmesg" | head -n 40 |
			sed 's/^/#   /' >> "$tap"
		rc=99
	fi
	tname=$name
	if [ -n "$reboot" ]; then
		tname="$name (boot $boot)"
		case $rc in
		0) echo ok > "$RBDIR/boot$boot" ;;
		77) tail -n1 "$log" > "$RBDIR/skip" ;;
		*) echo fail > "$RBDIR/boot$boot" ;;
		esac
	fi
	case $rc in
	0) echo "ok - $tname" >> "$tap" ;;
	77) echo "ok - $tname # SKIP $(tail -n1 "$log")" >> "$tap" ;;
	*)
		[ $rc = 124 ] && echo "# $name: timed out" >> "$tap"
		tail -n 30 "$log" | sed 's/^/#   /' >> "$tap"
		echo "not ok - $tname" >> "$tap"
		;;
	esac
	# What a reboot test's first boot left is for the power cut to find.
	[ -n "$reboot" ] && [ "$boot" = 1 ] && continue
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
if [ "$boot" = 1 ] && [ -n "$reboots" ]; then
	echo "# power cut (sysrq o) after the first boot of the reboot tests" >> "$tap"
	: > "$out/reboot"
	sync -f "$out/reboot" 2> /dev/null
	echo 1 > /proc/sys/kernel/sysrq
	echo o > /proc/sysrq-trigger
	sleep 60
	echo "guest: the power cut did not happen"
	exit 1
fi
echo "# done" >> "$tap"
sync
