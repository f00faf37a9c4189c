# SPDX-License-Identifier: GPL-2.0-or-later
# The userspace tools over the module: blksnap-cbt attaches, reports and
# dumps; blksnap-diff turns the dump into exactly the tracking blocks
# written; blksnap-send and blksnap-restore make a CBT-driven incremental
# that restores identically; a second dump of the same interval is not
# trusted and falls back to the whole device.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-cbt" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"

modprobe loop 2>/dev/null
truncate -s 64M /tmp/src.img
lo=$(losetup -f --show /tmp/src.img) || { echo "no loop device"; exit 77; }

out=$(blksnap-cbt --info "$lo" 2>&1) && die "info without the module: $out"
echo "$out" | grep -q "module is not loaded" || die "unclear message: $out"
load
out=$(blksnap-cbt --info "$lo" 2>&1) && die "info of an untracked device: $out"
echo "$out" | grep -q "not tracked" || die "unclear message: $out"
blksnap-cbt --attach "$lo" || die "attach"
blksnap-cbt --list | grep -q "$lo" || die "list does not show $lo"
blksnap-cbt --info "$lo" > /tmp/info || die "info"
cat /tmp/info
gen=$(sed -n 's/^generation: *//p' /tmp/info)
bs=$(sed -n 's/^tracking block: *\([0-9]*\) bytes.*/\1/p' /tmp/info)
[ -n "$gen" ] && [ -n "$bs" ] || die "info lacks generation or block size"

# A full backup recording the generation, before any write: snapshot 0.
blksnap-send --full -c none --cbt-generation "$gen" --cbt-snapshot 0 \
	-o /tmp/a0.tar "$lo" || die "full backup"
cp /tmp/src.img /tmp/state0

printf '%s\n' "1048576 4096" "10485760 65536" "67104768 4096" > /tmp/written
while read -r off len; do
	dd if=/dev/urandom of="$lo" bs="$len" count=1 seek="$off" \
		oflag=direct,seek_bytes status=none || die "write at $off"
done < /tmp/written
sync

blksnap-cbt --current -o /tmp/dump1 "$lo" || die "dump"
blksnap-diff /tmp/a0.tar < /tmp/dump1 > /tmp/r1 || die "diff"
grep -v '^#' /tmp/r1 | blocks "$bs" > /tmp/got
blocks "$bs" < /tmp/written > /tmp/want
same_set "ranges from the CBT dump" /tmp/want /tmp/got

blksnap-send --base /tmp/a0.tar --cbt-generation "$gen" --cbt-snapshot 1 \
	-o /tmp/a1.tar "$lo" < /tmp/r1 || die "incremental"
blksnap-restore -o /tmp/restored /tmp/a0.tar /tmp/a1.tar || die "restore"
cmp /tmp/restored "$lo" || die "the restored chain differs from the device"
echo "CBT-driven incremental restores identically"

# The same interval again: the dump is not newer than the base.
blksnap-cbt --current -o /tmp/dump2 "$lo" || die "second dump"
blksnap-diff /tmp/a0.tar /tmp/a1.tar < /tmp/dump2 > /tmp/r2 2> /tmp/e2 ||
	die "diff of a stale dump"
grep -q "not newer" /tmp/e2 || die "fallback not explained: $(cat /tmp/e2)"
[ "$(grep -v '^#' /tmp/r2)" = "0 67108864" ] || die "fallback is not the whole device"

# Marking by hand.
echo "33554432 100" | blksnap-cbt --mark-dirty "$lo" || die "mark-dirty"
blksnap-cbt --current --info --since 0 "$lo" | grep -q "changed since snapshot 0" ||
	die "info --since"
blksnap-cbt --current -o /tmp/dump3 "$lo" || die "third dump"
blksnap-diff /tmp/a0.tar < /tmp/dump3 | grep -q "^$((33554432 / bs * bs)) " ||
	die "marked range not in the dump"
out=$(echo "67108860 8" | blksnap-cbt --mark-dirty "$lo" 2>&1) && die "range past the end accepted"
echo "$out" | grep -q "past the end" || die "unclear message: $out"

blksnap-cbt --detach "$lo" || die "detach"
out=$(blksnap-cbt --detach "$lo" 2>&1) && die "second detach accepted"
unload
losetup -d "$lo"
rm -f /tmp/src.img /tmp/state0 /tmp/a0.tar /tmp/a1.tar /tmp/restored
