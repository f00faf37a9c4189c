#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Real block devices (loop): backup from a device named by path, UUID= and
# LABEL=; restore into a device, holes zeroed; refusals of a too-small or
# mounted target.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

have losetup || skip_all "losetup is not installed"
cd "$TMP" || exit 1
truncate -s 64M src.img
attach_loop src.img dev || skip_all "cannot attach a loop device here (not root, or no /dev/loop-control)"
have mkfs.ext4 || skip_all "mkfs.ext4 (e2fsprogs) is not installed"

label=bsnap$$
mkfs.ext4 -q -F -L "$label" "$dev" >/dev/null 2>&1 || skip_all "mkfs.ext4 failed on $dev"
dd if=/dev/urandom of="$dev" bs=1M seek=20 count=4 conv=notrunc status=none
sync
uuid=$(blkid -s UUID -o value "$dev")

check "full backup of the device" blksnap-send --full -c zstd -o d0.tar "$dev"
check "manifest records ext4 and its UUID" sh -c "blksnap-restore --list d0.tar | grep -q 'ext4, UUID $uuid, label $label'"
check "backup by UUID= is the same data" sh -c "blksnap-send --full -c none -o u.tar UUID=$uuid && blksnap-restore -o u.out u.tar && cmp u.out '$dev'"
check "backup by LABEL=" blksnap-send --full -c none -o l.tar "LABEL=$label"

truncate -s 64M dst.img
dd if=/dev/urandom of=dst.img bs=1M count=64 status=none	# garbage to be replaced
attach_loop dst.img dst || exit 1
check "restore into a device" blksnap-restore -o "$dst" d0.tar
check "device identical, holes zeroed" cmp "$dev" "$dst"

dd if=/dev/urandom of="$dev" bs=4096 seek=3000 count=5 conv=notrunc status=none
sync
check "scan a device" sh -c "blksnap-diff --scan '$dev' d0.tar > r1 && test \"\$(grep -vc '^#' r1)\" -ge 1"
check "incremental of a device" sh -c "blksnap-send --base d0.tar -o d1.tar '$dev' < r1"
check "incremental restore onto the device" sh -c "blksnap-restore -o '$dst' d0.tar d1.tar && cmp '$dev' '$dst'"

truncate -s 32M small.img
attach_loop small.img small || exit 1
cp small.img small.before
expect_error "target smaller than the image" "the target \(33554432 bytes\) is smaller than the image \(67108864 bytes\)" \
	blksnap-restore -o "$small" d0.tar
check "small target untouched" cmp "$small" small.before

mkdir mnt
if mount "$dst" mnt 2>/dev/null; then
	at_exit "umount '$TMP/mnt' 2>/dev/null"
	expect_error "mounted target refused" "cannot open the target for writing.*(busy|in use)" \
		blksnap-restore -o "$dst" d0.tar
	umount mnt
else
	skip "mounted target refused" "cannot mount ext4 here"
fi
done_testing
