# SPDX-License-Identifier: GPL-2.0-or-later
# An ext4 device that holds its own state file (as the root filesystem
# does): --reserve makes the file on it, --save --in-place writes the
# state through the device at the file's blocks with the filesystem
# read-only, and after the disk re-appears (as after a reboot: the loop
# device set up again, which makes its partition a new block device with
# its I/O counters at 0), --load --in-place
# with the filesystem mounted read-only gives the history back. The state
# file's blocks appear as changed, and the incremental from the CBT dump
# restores identically. A regular --save to a file on the device itself
# is refused.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-cbt" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"
command -v mkfs.ext4 > /dev/null && command -v filefrag > /dev/null || {
	echo "mkfs.ext4 or filefrag missing"
	exit 77
}

command -v sfdisk > /dev/null || { echo "sfdisk not installed"; exit 77; }
modprobe loop 2>/dev/null
modprobe ext4 || die "modprobe ext4"
truncate -s 66M /tmp/ip.img
echo 'start=2048, size=131072' | sfdisk -q /tmp/ip.img || die "sfdisk"
# dev_up: the loop device with its partition $lo
dev_up() {
	back=$(losetup -P -f --show /tmp/ip.img) || { echo "no loop device"; exit 77; }
	lo=${back}p1
	i=0
	while [ ! -b "$lo" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -b "$lo" ] || die "no $lo"
}
dev_up
mkfs.ext4 -q -F -b 4096 "$lo" || die "mkfs"
mnt=/tmp/ip.mnt
mkdir -p "$mnt"
f=$mnt/root.cbt

load
blksnap-cbt --attach "$lo" || die "attach"
gen=$(blksnap-cbt --info "$lo" | sed -n 's/^generation: *//p')
bs=$(blksnap-cbt --info "$lo" | sed -n 's/^tracking block: *\([0-9]*\) bytes.*/\1/p')
blksnap-send --full -c none --cbt-generation "$gen" --cbt-snapshot 0 \
	-o /tmp/ip0.tar "$lo" || die "full backup"

mount -t ext4 "$lo" "$mnt" || die "mount"
out=$(blksnap-cbt --save --state-file "$mnt/plain.cbt" "$lo" 2>&1) &&
	die "a state file on the device itself was written"
echo "$out"
echo "$out" | grep -q "use 'blksnap-cbt --reserve' and --in-place" || die "unclear message"
out=$(blksnap-cbt --reserve --state-file /tmp/elsewhere.cbt "$lo" 2>&1) &&
	die "a reservation on another filesystem was accepted"
echo "$out"
blksnap-cbt -v --reserve --state-file "$f" "$lo" || die "reserve"
out=$(blksnap-cbt --save --in-place --state-file /tmp/none.cbt "$lo" 2>&1) &&
	die "an in-place save without a reserved file"
echo "$out"
head -c 3000000 /dev/urandom > "$mnt/data" || die "write a file"
sync
mount -o remount,ro "$mnt" || die "remount read-only"
blksnap-cbt -v --save --in-place --state-file "$f" "$lo" || die "in-place save"
# The file's extents in bytes on the device (filefrag counts fs blocks).
filefrag -v -b4096 "$f" | awk -F'[: .]+' '$2 ~ /^[0-9]+$/ && NF > 6 {
	print $5 * 4096, ($6 - $5 + 1) * 4096 }' > /tmp/ip.extents
[ -s /tmp/ip.extents ] || die "no extents for $f: $(filefrag -v "$f")"
echo "state file extents: $(tr '\n' ' ' < /tmp/ip.extents)"
umount "$mnt" || die "umount"
unload

# As after a reboot: the disk re-appears, tracked before it is mounted.
losetup -d "$back" || die "losetup -d"
dev_up
load
blksnap-cbt --attach "$lo" || die "attach after the re-appearance"
mount -t ext4 -o ro "$lo" "$mnt" || die "mount read-only"
blksnap-cbt -v --load --in-place --state-file "$f" "$lo" || die "in-place load"
g=$(blksnap-cbt --info "$lo" | sed -n 's/^generation: *//p')
[ "$g" = "$gen" ] || die "generation $g, want $gen"
blksnap-cbt --load --in-place --state-file "$f" "$lo" 2> /tmp/err
rc=$?
cat /tmp/err
[ $rc = 3 ] && grep -q "loaded already" /tmp/err || die "second in-place load: exit $rc"

blksnap-cbt --current -o /tmp/ip.dump "$lo" || die "dump"
blksnap-diff /tmp/ip0.tar < /tmp/ip.dump > /tmp/ip.r || die "diff"
grep -v '^#' /tmp/ip.r | blocks "$bs" > /tmp/ip.got
blocks "$bs" < /tmp/ip.extents > /tmp/ip.want
sort /tmp/ip.want > /tmp/ip.want.s
sort /tmp/ip.got > /tmp/ip.got.s
missing=$(comm -23 /tmp/ip.want.s /tmp/ip.got.s | wc -l)
[ "$missing" = 0 ] || die "$missing tracking blocks of the state file not marked changed"
echo "the state file's $(wc -l < /tmp/ip.want) tracking blocks are marked changed, of $(wc -l < /tmp/ip.got)"
blksnap-send --base /tmp/ip0.tar --cbt-generation "$gen" --cbt-snapshot 1 \
	-o /tmp/ip1.tar "$lo" < /tmp/ip.r || die "incremental"
blksnap-restore -o /tmp/ip.restored /tmp/ip0.tar /tmp/ip1.tar || die "restore"
cmp /tmp/ip.restored "$lo" || die "the restored chain differs from the device"
echo "in-place incremental: $(stat -c %s /tmp/ip1.tar) bytes, restores identically"

umount "$mnt"
unload
losetup -d "$back"
rm -rf "$mnt" /tmp/ip.img /tmp/ip0.tar /tmp/ip1.tar /tmp/ip.restored /tmp/ip.dump
