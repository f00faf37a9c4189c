# SPDX-License-Identifier: GPL-2.0-only
# reboot
# A device written after boot and before its state is loaded: the load is
# refused with a new generation and the reason, even when the write
# leaves the first and last MiB alone (the state file's fingerprint cannot
# see it; the kernel's count of writes at the attach does). Boot 1: ext4
# tracked, written, unmounted, saved (blksnap-cbt.service's stop). Boot 2:
# 64 KiB written in the middle of the device, then the load.
. "$KTDIR/kt/reboot-lib.sh"
rb_load
rb_layout
dev=${SCRATCH}2
conf=$RBDIR/cbt.conf
state=$RBDIR/state
mkdir -p /tmp/mnt63

if [ "$BOOT" = 1 ]; then
	mkfs.ext4 -q -F "$dev" || die "mkfs.ext4 $dev"
	echo "$dev" > "$conf"
	rb_check_state "$dev"
	rb_unit ExecStart "$conf" "$state" || die "ExecStart"
	mount "$dev" /tmp/mnt63 || die "mount"
	rb_write /tmp/mnt63 a 4
	umount /tmp/mnt63 || die "umount"
	gen "$dev" > "$RBDIR/gen"
	rb_unit ExecStop "$conf" "$state" || die "ExecStop: the save failed"
	exit 0
fi

# Before anything tracks it: a raw write at 64 MiB, synced.
dd if=/dev/urandom of="$dev" bs=64k count=1 seek=1024 conv=fsync status=none ||
	die "write before the load"
blksnap-cbt --load --state-dir "$state" "$dev" 2> /tmp/err63
rc=$?
cat /tmp/err63
[ $rc = 3 ] || die "the load after a write exited $rc, not 3"
grep -q "$dev was written while its history was not kept" /tmp/err63 ||
	die "the refusal does not say the device was written: $(cat /tmp/err63)"
[ "$(gen "$dev")" != "$(cat "$RBDIR/gen")" ] || die "$dev kept its generation"
case $(history "$dev") in
loaded*) die "$dev: its history says loaded" ;;
esac
echo "refused, tracked with a new generation"
# The refused file is used: it never loads later either.
blksnap-cbt --detach "$dev" || die "detach"
blksnap-cbt --load --state-dir "$state" "$dev" 2> /tmp/err63
rc=$?
[ $rc = 3 ] || die "the refused state file loaded later (exit $rc): $(cat /tmp/err63)"
echo "a second load of the same file is refused too: $(head -n 1 /tmp/err63)"
