# SPDX-License-Identifier: GPL-2.0-or-later
# contrib/blksnap-backup, the example daily step: a full backup, then
# incrementals, of a mounted ext4; the last one after the unmount, so the
# current chain must restore to exactly the device; then one after a new
# generation, which must scan rather than send the whole device.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-take" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"
backup="$KTDIR/../../contrib/blksnap-backup"
mnt=/tmp/mnt42
dir=/tmp/backups42
mkdir -p "$mnt" /tmp/storage42
export BLKSNAP_STORAGE=/tmp/storage42 BLKSNAP_LIMIT=64M
load
modprobe -a ext4 loop || die "modprobe ext4 loop"
mkfs.ext4 -q -F "$DISK2" || die "mkfs.ext4"
mount "$DISK2" "$mnt" || die "mount"
for day in 1 2 3; do
	dd if=/dev/urandom of="$mnt/day$day" bs=64k count=16 status=none
	sh "$backup" "$DISK2" "$dir" || die "backup of day $day"
done
umount "$mnt" || die "umount"
sh "$backup" "$DISK2" "$dir" || die "backup after the unmount"
ls -l "$dir/current/"
[ "$(ls "$dir"/current/*.tar | wc -l)" = 4 ] || die "the chain does not hold 4 archives"
blksnap-restore -q -o /tmp/restored42 "$dir"/current/*.tar || die "restore"
cmp /tmp/restored42 "$DISK2" || die "the chain does not restore to the device"
e2fsck -fn /tmp/restored42 > /tmp/fsck42 2>&1 || die "e2fsck: $(tail -n 5 /tmp/fsck42)"
[ -z "$(blksnap-take --list)" ] || die "a snapshot was left behind: $(blksnap-take --list)"
rm -f /tmp/restored42
# A new generation (the history lost, as after a reboot without the
# state kept): the next step scans the snapshot, never sends the whole
# device, and the chain still restores to the device.
blksnap-cbt --detach "$DISK2" || die "detach"
blksnap-cbt --attach "$DISK2" || die "attach"
mount "$DISK2" "$mnt" || die "mount again"
dd if=/dev/urandom of="$mnt/day4" bs=64k count=4 status=none
umount "$mnt" || die "umount again"
sh "$backup" "$DISK2" "$dir" 2> /tmp/err42 || die "backup after a new generation: $(cat /tmp/err42)"
cat /tmp/err42
grep -q 'scanning the source instead' /tmp/err42 ||
	die "no scan after a new generation: $(cat /tmp/err42)"
last=$(ls "$dir"/current/*.tar | tail -n 1)
data=$(blksnap-restore --list "$last" | sed -n 's/^  data: *\([0-9]*\) bytes.*/\1/p')
[ -n "$data" ] || die "no data size in $last"
[ "$data" -lt $(($(dev_bytes "$DISK2") / 4)) ] ||
	die "the step after a new generation sent $data bytes: not an incremental"
echo "after a new generation: scanned, $data bytes sent"
blksnap-restore -q -o /tmp/restored42b "$dir"/current/*.tar || die "restore after the scan"
cmp /tmp/restored42b "$DISK2" || die "the chain does not restore to the device after the scan"
rm -f /tmp/restored42b
sh "$backup" --full "$DISK2" "$dir" || die "a new chain"
[ "$(ls -d "$dir"/chain-* | wc -l)" = 2 ] || die "not two chains"
echo "4 daily steps restore to the device; --full starts a second chain"
# Forever forward from snapshots: 5 steps keeping 2 points, the oldest
# incremental folded into the full after each; the last point restores
# to the device, and the point before it too (its full archive alone).
rm -rf "$dir"
mount "$DISK2" "$mnt" || die "mount for forever forward"
for day in 5 6 7 8; do
	dd if=/dev/urandom of="$mnt/day$day" bs=64k count=8 status=none
	# The last two steps with the filesystem unmounted: the device is
	# then what they back up.
	[ "$day" = 8 ] && { umount "$mnt" || die "umount on day 8"; }
	sh "$backup" --keep-points 2 --retention forever "$DISK2" "$dir" ||
		die "forever forward, day $day"
done
cp "$DISK2" /tmp/before42 || die "copy of the device"
mount "$DISK2" "$mnt" || die "mount for the last step"
dd if=/dev/urandom of="$mnt/day9" bs=64k count=8 status=none
umount "$mnt" || die "umount before the last step"
sh "$backup" --keep-points 2 --retention forever "$DISK2" "$dir" ||
	die "forever forward, last step"
ls -l "$dir/current/"
[ "$(ls "$dir"/current/*.tar | wc -l)" = 2 ] || die "forever forward: not 2 points"
blksnap-restore -q --list "$dir/current/0000.tar" | grep -q 'synthetic: point 3 of its chain' ||
	die "forever forward: the full archive is not the synthetic full of point 3"
blksnap-restore -q -o /tmp/restored42c "$dir"/current/*.tar || die "forever forward: restore"
cmp /tmp/restored42c "$DISK2" || die "forever forward: the chain does not restore to the device"
blksnap-restore -q -o /tmp/restored42c "$dir/current/0000.tar" || die "forever forward: restore of the full"
cmp /tmp/restored42c /tmp/before42 || die "forever forward: the full does not restore to the point before"
rm -f /tmp/restored42c /tmp/before42
[ -z "$(blksnap-take --list)" ] || die "a snapshot was left behind: $(blksnap-take --list)"
echo "forever forward: 5 steps, 2 points kept, both restore"
unload
