# Copy-on-write of large and odd-shaped writes. The origin is a dm-linear
# device of an odd size (its last chunk is short) filled with a pattern;
# the snapshot stores into three files on $DISK2 whose limits are not
# multiples of 1 MiB, so runs of chunks are cut where a file ends; the
# last may grow to 160 MiB, more than $DISK2 holds, so a step of growth
# fails there and the file must grow by just what is needed. Then,
# with the image read meanwhile: a 24 MiB write-zeroes and a 24 MiB
# discard (single bios larger than the 4 MiB copy buffer), 16 MiB in one
# O_DIRECT write, scattered 1 MiB writes, and a write over the short last
# chunk. The image must read as the origin did at the take (md5 of the
# whole device), the origin as what was written; a 3 MiB write to the
# image (many chunks in one bio) stays in the image.
modprobe dm_mod || die "modprobe dm_mod"
modprobe ext4 || die "modprobe ext4"
load
chunk_s=128
size_s=$(((96 << 11) + 77))	# 96 MiB and 77 sectors: a short last chunk
dmsetup create blksnap-odd --table "0 $size_s linear $DISK 0" ||
	die "dmsetup create"
# The guest's /tmp is a tmpfs shared by the tests that follow: leave
# nothing in it.
scratch="/tmp/taken.img /tmp/expect.img /tmp/zero /tmp/rand /tmp/tail /tmp/iw /tmp/img.md5"
# shellcheck disable=SC2086
trap 'rm -f $scratch; umount /tmp/mnt-storage 2> /dev/null; dmsetup remove blksnap-odd 2> /dev/null' EXIT
dmsetup mknodes
odd=/dev/mapper/blksnap-odd
[ -b $odd ] || die "no $odd"
"$KTEST" pattern-fill $odd 1 || die "pattern-fill"
cat $odd > /tmp/taken.img || die "copy of the origin"
cp /tmp/taken.img /tmp/expect.img || die "copy of the origin"
taken=$(md5sum < /tmp/taken.img)

mkfs.ext4 -q -F "$DISK2" || die "mkfs.ext4 $DISK2"
mkdir -p /tmp/mnt-storage
mount "$DISK2" /tmp/mnt-storage || die "mount $DISK2"
id=$(snap_new /tmp/mnt-storage/s1 $(((3 << 20) + (192 << 10))) 0 $odd) ||
	die "snapshot"
"$KTEST" snap-append "$id" /tmp/mnt-storage/s2 $(((5 << 20) + (64 << 10))) ||
	die "append s2"
"$KTEST" snap-append "$id" /tmp/mnt-storage/s3 $((160 << 20)) ||
	die "append s3"
img=$(image_of "$id" $odd) || die "no image"
echo "snapshot $id: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" chunk)" = $((chunk_s * 512)) ] ||
	die "chunk size $(snap_field "$id" chunk), the test assumes 64 KiB"

# both OFFSET_MIB LENGTH_MIB FILE: write FILE to the origin (one O_DIRECT
# write) and to the expected image of the origin
both() {
	dd if="$3" of=$odd bs=$(($2 << 20)) seek=$(($1 << 20)) count=1 \
		iflag=fullblock oflag=direct,seek_bytes 2> /dev/null ||
		die "dd of $2 MiB at $1 MiB"
	dd if="$3" of=/tmp/expect.img bs=1M seek="$1" count="$2" \
		conv=notrunc 2> /dev/null || die "dd into the expected image"
}
head -c $((24 << 20)) /dev/zero > /tmp/zero
head -c $((16 << 20)) /dev/urandom > /tmp/rand

md5sum < "$img" > /tmp/img.md5 &
reader=$!
blkdiscard -z -o $((8 << 20)) -l $((24 << 20)) $odd || die "blkdiscard -z"
dd if=/tmp/zero of=/tmp/expect.img bs=1M seek=8 count=24 conv=notrunc \
	2> /dev/null
blkdiscard -o $((40 << 20)) -l $((24 << 20)) $odd || die "blkdiscard"
# What a discard leaves is undefined: write the range again.
dd if=/tmp/zero of=$odd bs=1M seek=40 count=24 oflag=direct 2> /dev/null ||
	die "rewrite after discard"
dd if=/tmp/zero of=/tmp/expect.img bs=1M seek=40 count=24 conv=notrunc \
	2> /dev/null
both 70 16 /tmp/rand
for mib in 1 3 5 66 68 88 90 93; do
	both $mib 1 /tmp/rand
done
# The last 77 sectors and the 51 before them: the short chunk and the one
# before it, in one write.
head -c $((128 * 512)) /dev/urandom > /tmp/tail
dd if=/tmp/tail of=$odd bs=512 seek=$((size_s - 128)) oflag=direct \
	2> /dev/null || die "write at the end"
dd if=/tmp/tail of=/tmp/expect.img bs=512 seek=$((size_s - 128)) \
	conv=notrunc 2> /dev/null
wait $reader
[ "$(cat /tmp/img.md5)" = "$taken" ] || die "image read during the writes differs"
[ "$(md5sum < "$img")" = "$taken" ] || die "image differs after the writes"
[ "$(md5sum < $odd)" = "$(md5sum < /tmp/expect.img)" ] ||
	die "origin differs from the writes"
echo "after: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" state)" = taken ] || die "state not taken"

# A 3 MiB write to the image at 30.5 MiB, in one bio: 49 chunks, most
# of them not copied yet.
head -c $((3 << 20)) /dev/urandom > /tmp/iw
dd if=/tmp/iw of="$img" bs=$((3 << 20)) seek=$((61 << 19)) count=1 \
	oflag=direct,seek_bytes 2> /dev/null || die "write to the image"
dd if=/tmp/iw of=/tmp/taken.img bs=$((3 << 20)) seek=$((61 << 19)) count=1 \
	oflag=seek_bytes conv=notrunc 2> /dev/null
[ "$(md5sum < "$img")" = "$(md5sum < /tmp/taken.img)" ] ||
	die "image does not hold its write"
[ "$(md5sum < $odd)" = "$(md5sum < /tmp/expect.img)" ] ||
	die "the image write reached the origin"
[ "$(snap_field "$id" state)" = taken ] || die "state not taken at the end"
"$KTEST" snap-destroy "$id" || die "destroy"
umount /tmp/mnt-storage || die "umount"
dmsetup remove blksnap-odd || die "dmsetup remove"
# shellcheck disable=SC2086
rm -f $scratch
trap - EXIT
unload
