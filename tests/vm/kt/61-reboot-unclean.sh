# SPDX-License-Identifier: GPL-2.0-only
# reboot
# timeout: 600
# A power cut after a load, without a save, loses the history, and says
# so. Boot 1: an ext4 device tracked by blksnap-cbt.service's start, a
# full backup, unmounted, saved by its stop, then its tracker detached and
# the state loaded again by its start (same boot: the history is kept,
# the file is now used), written, an incremental from the tracking alone,
# written more while mounted, and the power goes with no save. Boot 2:
# the start refuses the used state (a new generation, with the reason);
# the filesystem is mounted (its journal replayed) and written; the
# incremental falls back to a scan, sends far less than the device, and
# the chain of three still restores to exactly the last snapshot's image.
. "$KTDIR/kt/reboot-lib.sh"
rb_load
rb_layout
dev=${DISK2}2
conf=$RBDIR/cbt.conf
state=$RBDIR/state
a=$RBDIR/a
mkdir -p /tmp/mnt61 "$a"

if [ "$BOOT" = 1 ]; then
	mkfs.ext4 -q -F "$dev" || die "mkfs.ext4 $dev"
	echo "$dev" > "$conf"
	rb_check_state "$dev"
	rb_unit ExecStart "$conf" "$state" || die "ExecStart"
	mount "$dev" /tmp/mnt61 || die "mount"
	rb_write /tmp/mnt61 a 6
	rb_backup "$dev" "$a" 0
	umount /tmp/mnt61 || die "umount"
	rb_unit ExecStop "$conf" "$state" || die "ExecStop: the save failed"
	g=$(gen "$dev")
	blksnap-cbt --detach "$dev" || die "detach"
	rb_unit ExecStart "$conf" "$state" 2> /tmp/err61 || die "ExecStart after the detach: $(cat /tmp/err61)"
	cat /tmp/err61
	[ "$(gen "$dev")" = "$g" ] || die "the history was not loaded again in the same boot: $(cat /tmp/err61)"
	mount "$dev" /tmp/mnt61 || die "mount again"
	rb_write /tmp/mnt61 b 4
	rb_backup "$dev" "$a" 1 fail
	rb_size "$dev" "$a" 1
	echo "$g" > "$RBDIR/gen"
	# Written and left mounted: the power cut finds them, unsaved.
	rb_write /tmp/mnt61 c 4
	echo "mounted, written, not saved; the power goes"
	exit 0
fi

rb_unit ExecStart "$conf" "$state" 2> /tmp/err61 || die "ExecStart (second boot): $(cat /tmp/err61)"
cat /tmp/err61
[ "$(gen "$dev")" != "$(cat "$RBDIR/gen")" ] ||
	die "$dev kept its generation after a power cut without a save"
grep -q "loaded already" /tmp/err61 || die "the refusal does not say the state was used: $(cat /tmp/err61)"
grep -q "history not kept: $dev is tracked with a new generation" /tmp/err61 ||
	die "no 'history not kept' for $dev: $(cat /tmp/err61)"
mount "$dev" /tmp/mnt61 || die "mount after the power cut"
rb_write /tmp/mnt61 d 4
rb_backup "$dev" "$a" 2 scan
cat "$a/diff2.err"
grep -q 'generation changed' "$a/diff2.err" || die "the diff did not report a new generation: $(cat "$a/diff2.err")"
grep -q 'scanning the source instead' "$a/diff2.err" || die "the diff did not scan: $(cat "$a/diff2.err")"
umount /tmp/mnt61
data=$(sed -n 's/^  data: *\([0-9]*\) bytes.*/\1/p' "$a/list2")
[ -n "$data" ] && [ "$data" -lt $(($(dev_bytes "$dev") / 4)) ] ||
	die "the scanned incremental holds ${data:-?} bytes: not an incremental"
echo "after the power cut: a new generation, a scan, $data bytes sent"
rb_restore "$a" 2
