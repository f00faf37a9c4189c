# SPDX-License-Identifier: GPL-2.0-or-later
# A device written in this boot before its tracker was attached cannot
# take a saved history: the load is refused (exit 3) with a new
# generation. The partition of a loop device is the disk: the loop device
# is detached and set up again between the save and the load, which makes
# its partition a new block device (new diskseq, its I/O counters at 0) as
# after a reboot (the loop device itself keeps its counters, and dm keeps
# no I/O statistics on 6.1). Written after
# the attach instead, the load passes and the write is in the history.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-cbt" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"

command -v sfdisk > /dev/null || { echo "sfdisk not installed"; exit 77; }
modprobe loop 2>/dev/null
truncate -s 66M /tmp/wbl.img
echo 'start=2048, size=131072' | sfdisk -q /tmp/wbl.img || die "sfdisk"
st=/tmp/cbt-wbl
rm -rf "$st"

# dev_up: the loop device with its partition $lo
dev_up() {
	back=$(losetup -P -f --show /tmp/wbl.img) || { echo "no loop device"; exit 77; }
	lo=${back}p1
	i=0
	while [ ! -b "$lo" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -b "$lo" ] || die "no $lo"
}
# reappear: the loop device set up again (its partition a new disk)
reappear() {
	losetup -d "$back" || die "losetup -d"
	dev_up
}
dev_up

load
blksnap-cbt --attach "$lo" || die "attach"
dd if=/dev/urandom of="$lo" bs=65536 count=1 seek=10 oflag=direct status=none ||
	die "write"
gen=$(blksnap-cbt --info "$lo" | sed -n 's/^generation: *//p')
bs=$(blksnap-cbt --info "$lo" | sed -n 's/^tracking block: *\([0-9]*\) bytes.*/\1/p')
blksnap-cbt --save --state-dir "$st" "$lo" || die "save"
unload

# Written before the attach: refused.
reappear
load
dd if=/dev/urandom of="$lo" bs=4096 count=1 seek=1000 oflag=direct status=none ||
	die "early write"
blksnap-cbt --attach "$lo" || die "attach after the write"
blksnap-cbt --load --state-dir "$st" "$lo" 2> /tmp/err
rc=$?
cat /tmp/err
[ $rc = 3 ] || die "load after a write before the attach: exit $rc, want 3"
grep -q "written while its history was not kept" /tmp/err || die "unclear message"
g=$(blksnap-cbt --info "$lo" | sed -n 's/^generation: *//p')
[ -n "$g" ] && [ "$g" != "$gen" ] || die "generation after the refusal: $g"
# The refused file is used up: even a clean device does not take it now.
unload
reappear
load
blksnap-cbt --load --state-dir "$st" "$lo" 2> /tmp/err
rc=$?
cat /tmp/err
[ $rc = 3 ] || die "a file refused once loaded later: exit $rc"
grep -q "loaded already" /tmp/err || die "unclear message"
unload

# Written after the attach, before the load: loaded, the write kept.
load
blksnap-cbt --attach "$lo" || die "attach"
gen=$(blksnap-cbt --info "$lo" | sed -n 's/^generation: *//p')
blksnap-cbt --save --state-dir "$st" "$lo" || die "save 2"
unload
reappear
load
blksnap-cbt --attach "$lo" || die "attach before the write"
dd if=/dev/urandom of="$lo" bs=4096 count=1 seek=2000 oflag=direct status=none ||
	die "write after the attach"
blksnap-cbt -v --load --state-dir "$st" "$lo" || die "load after a tracked write"
g=$(blksnap-cbt --info "$lo" | sed -n 's/^generation: *//p')
[ "$g" = "$gen" ] || die "generation $g, want $gen"
blksnap-cbt --current -o /tmp/wbl.dump "$lo" || die "dump"
blksnap-cbt --current --info --since 0 "$lo" | grep "changed since"
"$KTEST" map "$lo" | grep -q "^$((2000 * 4096 / bs)) " ||
	die "the write between the attach and the load is not in the map"

unload
losetup -d "$back"
rm -rf "$st" /tmp/wbl.img /tmp/wbl.dump
