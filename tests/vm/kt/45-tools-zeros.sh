# SPDX-License-Identifier: GPL-2.0-or-later
# timeout: 600
# Zero ranges on real devices: a full backup of a snapshot of a virtio
# disk that is mostly written zeros stores about its data; restored onto
# the scratch disk filled with random data, every zero range reads as
# zeros; an incremental in which data became zeros restores zeros over
# the old data (BLKZEROOUT, with the device's write-zeroes where it has it).
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-send" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"
st=/tmp/storage45 a=/tmp/arch45 dev=$DISK2 MiB=1048576
mkdir -p "$st" "$a"
size=$(dev_bytes "$dev")
[ "$(dev_bytes "$SCRATCH")" -ge "$size" ] || die "$SCRATCH is smaller than $dev"

# sum N DEV: md5 of the first N bytes of DEV.
sum() { head -c "$1" "$2" | md5sum; }
# zeros_of ARCHIVE: the bytes of its zero ranges.
zeros_of() { blksnap-restore --list "$1" | sed -n 's/^  zeros: *\([0-9]*\) bytes.*/\1/p'; }

dd if=/dev/zero of="$dev" bs=1M count=$((size / MiB)) oflag=direct status=none ||
	die "zeroing $dev"
dd if=/dev/urandom of="$dev" bs=1M seek=16 count=8 oflag=direct status=none
dd if=/dev/urandom of="$dev" bs=1M seek=64 count=4 oflag=direct status=none
load
id=$(blksnap-take -q --storage "$st" --limit 64M "$dev") || die "take"
img=$(blksnap-take --image "$id" "$dev") || die "image"
blksnap-send -v --full -c none -m "$a/0.man" -o "$a/0.tar" "$img" 2> "$a/send0" ||
	die "full backup: $(cat "$a/send0")"
cat "$a/send0"
sum "$size" "$img" > "$a/sum0"
blksnap-take --destroy "$id" || die "destroy"
asize=$(stat -c %s "$a/0.tar")
[ "$asize" -le $((12 * MiB + 64 * 1024)) ] ||
	die "the full archive has $asize bytes for 12 MiB of data"
echo "full archive: $asize bytes for 12 MiB of data in $size"

dd if=/dev/urandom of="$SCRATCH" bs=1M count=$((size / MiB)) oflag=direct status=none
blksnap-restore -q -o "$SCRATCH" "$a/0.tar" || die "restore of the full archive"
sum "$size" "$SCRATCH" | cmp -s - "$a/sum0" ||
	die "the scratch disk differs from the snapshot: zero ranges not zeroed?"

# Data became zeros (4 MiB at 16 MiB), new data at 100 MiB.
dd if=/dev/zero of="$dev" bs=1M seek=16 count=4 oflag=direct status=none
dd if=/dev/urandom of="$dev" bs=1M seek=100 count=1 oflag=direct status=none
printf '%s %s\n%s %s\n' $((16 * MiB)) $((4 * MiB)) $((100 * MiB)) $MiB |
	blksnap-send -c none --base "$a/0.man" -o "$a/1.tar" "$dev" || die "incremental"
z=$(zeros_of "$a/1.tar")
[ "${z:-0}" -eq $((4 * MiB)) ] || die "the incremental has ${z:-no} bytes of zero ranges, not 4 MiB"
blksnap-restore -q -o "$SCRATCH" "$a/0.tar" "$a/1.tar" || die "restore of the chain"
sum "$size" "$dev" > "$a/sum1"
sum "$size" "$SCRATCH" | cmp -s - "$a/sum1" ||
	die "the scratch disk differs from the device after the chain"
head -c $((4 * MiB)) /dev/zero > "$a/z4"
dd if="$SCRATCH" bs=1M skip=16 count=4 status=none | cmp -s - "$a/z4" ||
	die "the zero range of the incremental kept old data"
echo "the chain restores zeros over old data on $SCRATCH"
unload

modprobe dm_mod || die "modprobe dm_mod"
sectors=$((size / 512)) mib=2048
dmsetup create blksnap-bad --table "0 $((16 * mib)) linear $dev 0
$((16 * mib)) $mib error
$((17 * mib)) $((sectors - 17 * mib)) linear $dev $((17 * mib))" ||
	die "dmsetup create"
dmsetup mknodes
bad=/dev/mapper/blksnap-bad
bad_die() {
	dmsetup remove blksnap-bad
	die "$* (BLKSNAP_IO_URING=$ring)"
}
[ -b "$bad" ] || die "no $bad"
for ring in 1 0; do
	BLKSNAP_IO_URING=$ring blksnap-send --full -c none -o "$a/bad.tar" \
		"$bad" 2> "$a/bad.err" &&
		bad_die "a full backup of a device failing reads succeeded"
	cat "$a/bad.err"
	grep -q "$bad: read error at offset [0-9]*: Input/output error" "$a/bad.err" ||
		bad_die "no read error naming $bad"
	[ ! -e "$a/bad.tar" ] || bad_die "an archive was left"
done
dmsetup remove blksnap-bad || die "dmsetup remove"
echo "a device failing reads is refused, naming it and the offset"
