# SPDX-License-Identifier: GPL-2.0-only
# reboot
# timeout: 600
# The root filesystem's path: a device that holds its own state file.
# Boot 1: the initramfs script local-premount attaches the tracker before
# the mount, "blksnap-cbt --reserve" makes the state file on the device,
# the filesystem is written and backed up (full), written more, remounted
# read-only, and the system-shutdown hook saves its state in place. Boot 2:
# local-premount attaches the tracker, the filesystem is mounted
# read-only, local-bottom loads the state in place (same generation,
# history loaded), the filesystem is remounted read-write and written, and
# an incremental from the tracking alone restores to exactly the new
# snapshot's image.
. "$KTDIR/kt/reboot-lib.sh"
rb_load
rb_layout
dev=${SCRATCH}1
root=/tmp/root62
a=$RBDIR/a
file=/var/lib/blksnap/cbt/root.cbt
mkdir -p "$root" "$a"
initramfs="$contrib/initramfs-tools/scripts"

# As initramfs-tools runs them: ROOT is the root device, rootmnt where it
# is mounted.
premount() {
	ROOT=$dev sh "$initramfs/local-premount/blksnap" || die "local-premount exited $?"
	blksnap-cbt --info "$dev" > /dev/null || die "local-premount did not attach $dev"
}

if [ "$BOOT" = 1 ]; then
	mkfs.ext4 -q -F "$dev" || die "mkfs.ext4 $dev"
	rb_check_state "$dev"
	premount
	mount "$dev" "$root" || die "mount"
	mkdir -p "$root/var/lib/blksnap/cbt"
	blksnap-cbt --reserve --state-file "$root$file" "$dev" || die "--reserve"
	rb_write "$root" a 6
	rb_backup "$dev" "$a" 0
	rb_write "$root" b 3
	mount -o remount,ro "$root" || die "remount read-only"
	gen "$dev" > "$RBDIR/gen"
	BLKSNAP_CBT_ROOT=$root sh "$contrib/systemd/blksnap-cbt.shutdown" poweroff ||
		die "the system-shutdown hook failed"
	echo "saved in place, read-only; the power goes"
	exit 0
fi

premount
mount -o ro "$dev" "$root" || die "mount read-only"
ROOT=$dev rootmnt=$root sh "$initramfs/local-bottom/blksnap" 2> /tmp/err62 ||
	die "local-bottom exited $?"
cat /tmp/err62
[ "$(gen "$dev")" = "$(cat "$RBDIR/gen")" ] ||
	die "generation $(gen "$dev") after the reboot, $(cat "$RBDIR/gen") before: $(cat /tmp/err62)"
case $(history "$dev") in
loaded*) ;;
*) die "$dev: history '$(history "$dev")', not loaded" ;;
esac
echo "loaded in place by local-bottom"
mount -o remount,rw "$root" || die "remount read-write"
rb_write "$root" c 4
rb_backup "$dev" "$a" 1 fail
umount "$root"
rb_size "$dev" "$a" 1
rb_restore "$a" 1
