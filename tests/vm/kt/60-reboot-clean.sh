# SPDX-License-Identifier: GPL-2.0-only
# reboot
# timeout: 900
# A clean reboot keeps the history of an ext4 and an xfs device. Boot 1:
# blksnap-cbt.service's start (ExecStart) tracks them, they are written,
# backed up (full), written more, unmounted, and its stop (ExecStop) saves
# their state, as at a shutdown. Boot 2, on the same disks: ExecStart
# loads the state before they are mounted (same generation, history
# "loaded"), more writes, and an incremental made from the tracking alone
# (blksnap-diff --fallback=fail) restores to exactly the new snapshot's
# image and holds no more than the changed tracking blocks.
. "$KTDIR/kt/reboot-lib.sh"
rb_load
rb_layout
ext=${DISK2}1
xfs=${DISK}1
conf=$RBDIR/cbt.conf
state=$RBDIR/state
mkdir -p /tmp/mnt60x /tmp/mnt60e "$RBDIR/e" "$RBDIR/x"

if [ "$BOOT" = 1 ]; then
	mkfs.ext4 -q -F "$ext" || die "mkfs.ext4 $ext"
	mkfs.xfs -q -f "$xfs" || die "mkfs.xfs $xfs"
	printf '# the reboot test 60\n%s\n%s\n' "$ext" "$xfs" > "$conf"
	rb_check_state "$ext"
	rb_unit ExecStart "$conf" "$state" || die "ExecStart (first boot)"
	mount "$ext" /tmp/mnt60e || die "mount $ext"
	mount "$xfs" /tmp/mnt60x || die "mount $xfs"
	rb_write /tmp/mnt60e day1 8
	rb_write /tmp/mnt60x day1 8
	rb_backup "$ext" "$RBDIR/e" 0
	rb_backup "$xfs" "$RBDIR/x" 0
	# Written after the backup, before the shutdown: the incremental of
	# the next boot must carry it.
	rb_write /tmp/mnt60e day1-late 3
	rb_write /tmp/mnt60x day1-late 3
	umount /tmp/mnt60e || die "umount $ext"
	umount /tmp/mnt60x || die "umount $xfs"
	gen "$ext" > "$RBDIR/gen-e"
	gen "$xfs" > "$RBDIR/gen-x"
	rb_unit ExecStop "$conf" "$state" || die "ExecStop: the save failed"
	ls -l "$state"
	[ "$(ls "$state" | wc -l)" = 2 ] || die "not two state files in $state: $(ls "$state")"
	echo "saved; the power goes"
	exit 0
fi

rb_unit ExecStart "$conf" "$state" || die "ExecStart (second boot)"
for d in e x; do
	dev=$ext
	[ $d = x ] && dev=$xfs
	[ "$(gen "$dev")" = "$(cat "$RBDIR/gen-$d")" ] ||
		die "$dev: generation $(gen "$dev") after the reboot, $(cat "$RBDIR/gen-$d") before"
	case $(history "$dev") in
	loaded*) ;;
	*) die "$dev: history '$(history "$dev")', not loaded" ;;
	esac
done
echo "both histories loaded, generations kept"
mount "$ext" /tmp/mnt60e || die "mount $ext"
mount "$xfs" /tmp/mnt60x || die "mount $xfs"
rb_write /tmp/mnt60e day2 4
rb_write /tmp/mnt60x day2 4
rb_backup "$ext" "$RBDIR/e" 1 fail
rb_backup "$xfs" "$RBDIR/x" 1 fail
umount /tmp/mnt60e
umount /tmp/mnt60x
for d in e x; do
	dev=$ext
	[ $d = x ] && dev=$xfs
	[ -s "$RBDIR/$d/diff1.err" ] && cat "$RBDIR/$d/diff1.err"
	rb_size "$dev" "$RBDIR/$d" 1
	rb_restore "$RBDIR/$d" 1
done
