# SPDX-License-Identifier: GPL-2.0-or-later
# contrib/blksnap-backup, the example daily step: a full backup, then
# incrementals, of a mounted ext4; the last one after the unmount, so the
# current chain must restore to exactly the device.
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
sh "$backup" --full "$DISK2" "$dir" || die "a new chain"
[ "$(ls -d "$dir"/chain-* | wc -l)" = 2 ] || die "not two chains"
echo "4 daily steps restore to the device; --full starts a second chain"
unload
