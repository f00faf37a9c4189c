# Destroy a snapshot whose image is open, mounted and being read: destroy
# succeeds, the image disappears, later I/O on it fails (no oops, no
# hang), the module can be unloaded once the users are gone.
modprobe ext4 || die "modprobe ext4"
load
mkfs.ext4 -q -F "$DISK" || die "mkfs.ext4"
mount "$DISK" /mnt || die "mount"
dd if=/dev/urandom of=/mnt/f bs=1M count=8 2> /dev/null || die "write file"
umount /mnt || die "umount"
id=$(snap_new "$DISK2" 0 0 "$DISK") || die "snapshot"
img=$(image_of "$id" "$DISK") || die "no image"
mkdir -p /tmp/mnt-image
mount -o ro,noload "$img" /tmp/mnt-image || die "mount the image"
cmp /tmp/mnt-image/f /tmp/mnt-image/f || die "read the image's file"
exec 4< "$img"
# A reader of the image and a writer to the origin during the destroy.
( while dd if="$img" of=/dev/null bs=64k count=64 iflag=direct 2> /dev/null; do :; done ) &
r=$!
( while dd if=/dev/zero of="$DISK" bs=64k count=64 seek=2000 oflag=direct 2> /dev/null; do :; done ) &
wr=$!
trap 'kill $r $wr 2> /dev/null; umount /tmp/mnt-image 2> /dev/null' EXIT
sleep 2
rc0=$(refcnt)
echo "module refcnt with the snapshot: $rc0"
[ "$rc0" -ge 1 ] || die "no module reference for a live snapshot"
"$KTEST" snap-destroy "$id" || die "destroy with the image open"
sleep 1
kill -0 $wr 2> /dev/null || die "origin writes failed after the destroy"
kill $wr
i=0
while kill -0 $r 2> /dev/null && [ $i -lt 30 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -0 $r 2> /dev/null && die "image reads still succeed after destroy"
[ -z "$("$KTEST" snap-list)" ] || die "snapshot still listed"
# Through the descriptor opened before: an error or end of file, never data.
got=$(dd bs=4096 count=1 iflag=direct <&4 2> /dev/null | wc -c)
echo "read through the old descriptor after destroy: $got bytes"
[ "$got" = 0 ] || die "the destroyed image still returns data"
if cat /tmp/mnt-image/f > /dev/null 2>&1; then
	echo "note: cached file data still readable after destroy"
fi
exec 4<&-
umount /tmp/mnt-image || die "umount the destroyed image"
trap - EXIT
wait 2> /dev/null
[ ! -b "$img" ] || die "$img still exists"
i=0
while [ "$(refcnt)" != 0 ] && [ $i -lt 20 ]; do
	sleep 0.2
	i=$((i + 1))
done
[ "$(refcnt)" = 0 ] || die "module refcnt $(refcnt) after destroy"
unload
