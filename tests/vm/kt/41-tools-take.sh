# SPDX-License-Identifier: GPL-2.0-or-later
# blksnap-take: two devices taken together, described, backed up and
# restored consistently while the origins change; --wait-events with
# --auto-extend keeps a snapshot with too little storage alive; errors
# for a busy device and an unknown snapshot.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-take" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"
st=/tmp/storage41
mkdir -p "$st"
load

dd if=/dev/urandom of="$DISK" bs=1M count=32 oflag=direct status=none || die "fill $DISK"
dd if=/dev/urandom of="$DISK2" bs=1M count=32 oflag=direct status=none || die "fill $DISK2"
blksnap-take --json --storage "$st" --limit 128M "$DISK" "$DISK2" > /tmp/take.json ||
	die "take of two devices"
cat /tmp/take.json
id=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' /tmp/take.json)
[ -n "$id" ] || die "no id in the JSON"
[ "$(grep -c '"origin"' /tmp/take.json)" = 2 ] || die "the JSON does not list 2 images"
blksnap-take --info "$id" | grep -q "state: *taken" || die "--info does not say taken"
blksnap-take --list | grep -q "^$id" || die "--list does not show $id"
img1=$(blksnap-take --image "$id" "$DISK") || die "image of $DISK"
img2=$(blksnap-take --image "$id" "$DISK2") || die "image of $DISK2"
[ "$img1" = "/dev/blksnap-image-$(stat -c '%Hr-%Lr' "$DISK")" ] ||
	die "$img1 is not named after its origin"
[ "$(cat "/sys/block/${img1#/dev/}/origin/dev")" = "$(stat -c '%Hr:%Lr' "$DISK")" ] ||
	die "no sysfs link from $img1 to its origin"
md5sum < "$img1" > /tmp/sum1
md5sum < "$img2" > /tmp/sum2

# Busy: a device already in a snapshot.
out=$(blksnap-take --storage "$st" --limit 16M "$DISK" 2>&1) && die "a device in two snapshots: $out"
echo "$out" | grep -q "already in another snapshot" || die "unclear message: $out"
out=$(blksnap-take --info 01234567-89ab-cdef-0123-456789abcdef 2>&1) &&
	die "info of an unknown snapshot: $out"
echo "$out" | grep -q "no such snapshot" || die "unclear message: $out"

# The origins change; the images do not.
dd if=/dev/urandom of="$DISK" bs=1M count=8 seek=4 oflag=direct status=none
dd if=/dev/urandom of="$DISK2" bs=1M count=8 seek=20 oflag=direct status=none
md5sum < "$img1" | cmp -s - /tmp/sum1 || die "$img1 changed with its origin"
md5sum < "$img2" | cmp -s - /tmp/sum2 || die "$img2 changed with its origin"
blksnap-send -q --full -o /tmp/b1.tar "$img1" || die "backup of $img1"
blksnap-send -q --full -o /tmp/b2.tar "$img2" || die "backup of $img2"
blksnap-take --destroy "$id" || die "destroy"
[ ! -b "$img1" ] || die "$img1 is still there after the destroy"
# Back onto the devices themselves (the guest's /tmp is too small for
# the images): each must then read as its image did.
blksnap-restore -q -o "$DISK" /tmp/b1.tar || die "restore onto $DISK"
blksnap-restore -q -o "$DISK2" /tmp/b2.tar || die "restore onto $DISK2"
md5sum < "$DISK" | cmp -s - /tmp/sum1 || die "restored $DISK differs from its image"
md5sum < "$DISK2" | cmp -s - /tmp/sum2 || die "restored $DISK2 differs from its image"
rm -f /tmp/b1.tar /tmp/b2.tar
echo "two devices taken together restore to their images"

# Too little storage, extended in time by the event watcher.
id=$(blksnap-take -q --storage "$st" --limit 8M --low-space 4M "$DISK") ||
	die "take with small storage"
img=$(blksnap-take --image "$id" "$DISK")
head -c 32M "$img" | md5sum > /tmp/sum
blksnap-take --wait-events "$id" --auto-extend 16M --storage "$st" > /tmp/events 2>&1 &
watcher=$!
sleep 1
i=0
while [ $i -lt 10 ]; do
	dd if=/dev/urandom of="$DISK" bs=1M count=2 seek=$((i * 2)) oflag=direct status=none
	sleep 0.5
	i=$((i + 1))
done
cat /tmp/events
grep -q "low-space" /tmp/events || die "no low-space event logged"
grep -q "extended: 16.00 MiB" /tmp/events || die "the storage was not extended"
blksnap-take --info "$id" | grep -q "state: *taken" ||
	die "the snapshot did not survive: $(blksnap-take --info "$id")"
head -c 32M "$img" | md5sum | cmp -s - /tmp/sum || die "the image changed"
blksnap-take --destroy "$id" || die "destroy"
wait $watcher || die "the watcher did not end with status 0 after the destroy"
echo "--auto-extend kept the snapshot alive past its first storage"
unload
