# SPDX-License-Identifier: GPL-2.0-or-later
# blksnap-cbt --save and --load keep a device's history across a module
# reload: an incremental from the CBT dump after the reload holds exactly
# the blocks written before and after it and restores identically. The
# state file loads once. A write between the unload and the load makes
# the load refused (exit 3) with a new generation, and the next diff
# falls back.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-cbt" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"

modprobe loop 2>/dev/null
truncate -s 64M /tmp/src.img
lo=$(losetup -f --show /tmp/src.img) || { echo "no loop device"; exit 77; }
st=/tmp/cbt-state
rm -rf "$st"

load
blksnap-cbt --attach "$lo" || die "attach"
gen=$(blksnap-cbt --info "$lo" | sed -n 's/^generation: *//p')
bs=$(blksnap-cbt --info "$lo" | sed -n 's/^tracking block: *\([0-9]*\) bytes.*/\1/p')
[ -n "$gen" ] && [ -n "$bs" ] || die "info lacks generation or block size"
blksnap-send --full -c none --cbt-generation "$gen" --cbt-snapshot 0 \
	-o /tmp/a0.tar "$lo" || die "full backup"

# writes < "OFFSET LENGTH" lines: each written with O_DIRECT, and noted
writes() {
	while read -r off len; do
		dd if=/dev/urandom of="$lo" bs="$len" count=1 seek="$off" \
			oflag=direct,seek_bytes status=none || die "write at $off"
		echo "$off $len" >> /tmp/written
	done
}
: > /tmp/written
printf '%s\n' "1048576 4096" "10485760 65536" "67104768 4096" | writes

blksnap-cbt -v --save --state-dir "$st" "$lo" || die "save"
f=$(ls "$st"/*.cbt) || die "no state file in $st"
echo "state file $f, $(stat -c %s "$f") bytes"

unload
load
out=$(blksnap-cbt -v --load --state-dir "$st" "$lo" 2>&1) ||
	die "load after a clean reload: $out"
echo "$out"
blksnap-cbt --info "$lo" > /tmp/info || die "info"
grep -q "^generation: *$gen" /tmp/info || die "generation not kept: $(cat /tmp/info)"
grep -q "loaded from a state file" /tmp/info || die "not shown as loaded: $(cat /tmp/info)"

printf '%s\n' "33554432 8192" "50331648 4096" | writes
blksnap-cbt --current -o /tmp/dump1 "$lo" || die "dump"
blksnap-diff /tmp/a0.tar < /tmp/dump1 > /tmp/r1 || die "diff"
grep -v '^#' /tmp/r1 | blocks "$bs" > /tmp/got
blocks "$bs" < /tmp/written > /tmp/want
same_set "ranges from the CBT dump after the reload" /tmp/want /tmp/got
blksnap-send --base /tmp/a0.tar --cbt-generation "$gen" --cbt-snapshot 1 \
	-o /tmp/a1.tar "$lo" < /tmp/r1 || die "incremental"
blksnap-restore -o /tmp/restored /tmp/a0.tar /tmp/a1.tar || die "restore"
cmp /tmp/restored "$lo" || die "the restored chain differs from the device"
echo "incremental across the reload: $(stat -c %s /tmp/a1.tar) bytes, restores identically"
rm -f /tmp/restored

# Loaded once: the same file again is refused.
unload
load
blksnap-cbt --load --state-dir "$st" "$lo" 2> /tmp/err
rc=$?
cat /tmp/err
[ $rc = 3 ] || die "a used state file: exit $rc, want 3"
grep -q "loaded already" /tmp/err || die "unclear message"
unload

# A write between the unload and the load: refused, new generation.
load
blksnap-cbt --attach "$lo" || die "attach 2"
gen2=$(blksnap-cbt --info "$lo" | sed -n 's/^generation: *//p')
blksnap-cbt --save --state-dir "$st" "$lo" || die "save 2"
unload
# In the middle: the fingerprint (first and last MiB) does not see it,
# the module's write count does.
dd if=/dev/urandom of="$lo" bs=4096 count=1 seek=4000 oflag=direct status=none ||
	die "untracked write"
load
blksnap-cbt --load --state-dir "$st" "$lo" 2> /tmp/err
rc=$?
cat /tmp/err
[ $rc = 3 ] || die "load after an untracked write: exit $rc, want 3"
grep -q "written while its history was not kept" /tmp/err || die "unclear message"
grep -q "tracked with a new generation" /tmp/err || die "the new generation is not said"
gen3=$(blksnap-cbt --info "$lo" | sed -n 's/^generation: *//p')
[ -n "$gen3" ] || die "not tracked after the refusal"
[ "$gen3" != "$gen2" ] || die "generation kept ($gen3) after a refused load"
blksnap-cbt --current -o /tmp/dump2 "$lo" || die "dump 2"
blksnap-diff /tmp/a0.tar /tmp/a1.tar < /tmp/dump2 > /tmp/r2 2> /tmp/e2 ||
	die "diff after the refusal"
cat /tmp/e2
[ "$(grep -v '^#' /tmp/r2)" = "0 67108864" ] || die "diff did not fall back to the whole device"

unload
losetup -d "$lo"
rm -rf "$st" /tmp/src.img /tmp/a0.tar /tmp/a1.tar /tmp/dump1 /tmp/dump2
