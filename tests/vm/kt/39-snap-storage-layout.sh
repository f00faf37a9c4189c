# SPDX-License-Identifier: GPL-2.0-only
# Difference storage never poses as the origin (blksnap-storage(5)).
# The origin holds a GPT (its chunk 0 and its last chunk) and btrfs on
# its first partition (a superblock 64 KiB into it); the writes copy
# chunk 0 into the storage's first slot, the chunk of that superblock
# next, and the last chunk into its last slot. Yet the storage's first
# and last MiB hold only the module's header and zeroes, blkid finds
# nothing on it while the snapshot lives and after, and the header says
# "released" after destroy, which blksnap-take reads back (same CRC-32C
# as the module's). A storage device holding ext4 is refused without
# --force, and probes as nothing once used.
command -v mkfs.btrfs > /dev/null || { echo "mkfs.btrfs is not installed"; exit 77; }
command -v sfdisk > /dev/null || { echo "sfdisk is not installed"; exit 77; }
modprobe -a dm_mod ext4 btrfs || die "modprobe dm_mod ext4 btrfs"
load
mib=1048576
st=/dev/mapper/blksnap-st39
cleanup() {
	umount /tmp/mnt39 2> /dev/null
	dmsetup remove blksnap-st39 2> /dev/null
}
trap cleanup EXIT
# 4 MiB storage, 2 MiB of slots: the test fills them all.
dmsetup create blksnap-st39 --table "0 8192 linear $DISK2 0" || die "dmsetup create"
dmsetup mknodes
[ -b $st ] || die "no $st"
size=$(dev_bytes $st)

# Bytes of a device, read past its page cache.
bytes() {
	dd if="$1" iflag=direct,skip_bytes,count_bytes skip="$2" count="$3" \
		bs=64K status=none
}
# zeroes DEV OFFSET LENGTH: fails unless they are all zero
zeroes() {
	bytes "$1" "$2" "$3" | cmp -s -n "$3" - /dev/zero
}
# header DEV STATE: the module's header with that state (1 in use, 2 released)
header() {
	bytes "$1" 0 4096 > /tmp/header39
	[ "$(head -c 15 /tmp/header39)" = blksnap-storage ] || return 1
	[ "$(od -An -tu4 -j20 -N4 /tmp/header39 | tr -d ' ')" = "$2" ]
}
# nothing_on DEV: blkid's low-level probe finds no signature (status 2)
nothing_on() {
	blkid -p "$1" > /tmp/blkid39 2>&1
	rc=$?
	[ $rc = 2 ] || { echo "blkid -p $1 ($rc): $(cat /tmp/blkid39)"; return 1; }
}

# Stale signatures in what become the reserved areas.
mkfs.ext4 -q -F -L stale39 $st || die "mkfs.ext4 $st"
dd if=/dev/urandom of=$st bs=1M seek=3 count=1 oflag=direct status=none || die "fill the end"
blkid -p $st | grep -q 'TYPE="ext4"' || die "no ext4 on $st to start with"

# The origin: a GPT, btrfs on its first partition at 1 MiB.
echo 'start=2048, size=524288' | sfdisk -q -X gpt "$DISK" || die "sfdisk"
blockdev --rereadpt "$DISK" 2> /dev/null
[ -b "${DISK}1" ] || die "no ${DISK}1"
mkfs.btrfs -q -f -L origin39 "${DISK}1" > /dev/null || die "mkfs.btrfs"
blkid -p "$DISK" | grep -q 'PTTYPE="gpt"' || die "no GPT on $DISK"
osize=$(dev_bytes "$DISK")

id=$(snap_new $st 0 0 "$DISK") || die "snapshot"
chunk=$(snap_field "$id" chunk)
slots=$(((size - 2 * mib) / chunk))
echo "chunk $chunk, $slots slots"
[ "$slots" -ge 4 ] || die "too few slots for the test"
header $st 1 || die "no header 'in use' at the start of $st"
zeroes $st 4096 $((mib - 4096)) || die "the reserved start is not zeroed"
zeroes $st $((size - mib)) $mib || die "the reserved end is not zeroed"
nothing_on $st || die "blkid finds something on the storage of a live snapshot"

last=$((osize / chunk - 1))
sb=$(((mib + 65536) / chunk))
bytes "$DISK" 0 "$chunk" > /tmp/c0
bytes "$DISK" $((sb * chunk)) "$chunk" > /tmp/csb
bytes "$DISK" $((last * chunk)) "$chunk" > /tmp/clast
# Copy order: chunk 0, the superblock's, fillers from the middle, the last.
order="0"
[ "$sb" != 0 ] && order="$order $sb"
n=$(echo $order | wc -w)
c=$((osize / chunk / 2))
while [ $((n + 1)) -lt "$slots" ]; do
	order="$order $c"
	c=$((c + 1))
	n=$((n + 1))
done
order="$order $last"
for c in $order; do
	dd if=/dev/urandom of="$DISK" bs="$chunk" seek="$c" count=1 \
		oflag=direct conv=notrunc status=none || die "write chunk $c"
done
[ "$(snap_field "$id" used)" = $((slots * chunk)) ] ||
	die "used $(snap_field "$id" used), not all $slots slots"
[ "$(snap_field "$id" state)" = taken ] || die "state $(snap_field "$id" state)"
bytes $st $mib "$chunk" | cmp -s - /tmp/c0 ||
	die "the first slot does not hold the origin's chunk 0"
bytes $st $((mib + (slots - 1) * chunk)) "$chunk" | cmp -s - /tmp/clast ||
	die "the last slot does not hold the origin's last chunk"
if [ "$sb" != 0 ]; then
	bytes $st $((mib + chunk)) "$chunk" | cmp -s - /tmp/csb ||
		die "the second slot does not hold the btrfs superblock's chunk"
fi
header $st 1 || die "the header changed while in use"
zeroes $st 4096 $((mib - 4096)) || die "a chunk landed in the reserved start"
zeroes $st $((size - mib)) $mib || die "a chunk landed in the reserved end"
nothing_on $st || die "blkid finds the origin's copies on the storage"
img=$(image_of "$id" "$DISK") || die "no image"
bytes "$img" 0 "$chunk" | cmp -s - /tmp/c0 || die "the image's chunk 0 differs"
bytes "$img" $((last * chunk)) "$chunk" | cmp -s - /tmp/clast ||
	die "the image's last chunk differs"

"$KTEST" snap-destroy "$id" || die "destroy"
header $st 2 || die "no header 'released' after destroy"
zeroes $st 4096 $((mib - 4096)) || die "the reserved start is not zero after destroy"
zeroes $st $((size - mib)) $mib || die "the reserved end is not zero after destroy"
nothing_on $st || die "blkid finds something on the storage after destroy"
echo "storage after destroy: header released, reserved areas zero, blkid finds nothing"

[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-take" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"
# A former storage: taken again without --force, its header read back.
out=$(blksnap-take -v --storage $st "$DISK" 2> /tmp/take39.err) ||
	die "take on a former storage: $(cat /tmp/take39.err)"
cat /tmp/take39.err
grep -q "was blksnap difference storage of snapshot $id, released" /tmp/take39.err ||
	die "blksnap-take did not read the released header of snapshot $id"
blksnap-take --destroy "$out" || die "destroy $out"

# A storage device holding ext4 is refused, and the refusal says why.
mkfs.ext4 -q -F -L data39 $st || die "mkfs.ext4 $st"
if blksnap-take --storage $st "$DISK" > /tmp/take39.out 2> /tmp/take39.err; then
	die "a storage device holding ext4 was taken without --force"
fi
cat /tmp/take39.err
grep -q "^blksnap-take: $st: holds TYPE=ext4 LABEL=data39" /tmp/take39.err ||
	die "the refusal does not name the device and its ext4"
grep -q -- '--force' /tmp/take39.err || die "the refusal does not name --force"
blkid -p $st | grep -q 'LABEL="data39"' || die "the refused device was changed"
out=$(blksnap-take --force --storage $st "$DISK") || die "--force refused"
nothing_on $st || die "the forced storage still probes as ext4"
blksnap-take --destroy "$out" || die "destroy $out"
nothing_on $st || die "the forced storage probes as something after destroy"
unload
