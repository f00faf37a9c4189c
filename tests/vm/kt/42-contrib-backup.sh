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
unload
