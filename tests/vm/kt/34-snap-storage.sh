# Difference storage. 1) A file on ext4 on $DISK2, grown on demand: its
# allocation (stat and snap-info) starts small and grows with the chunks
# copied, never past the limit; the LOW_SPACE event fires once free
# space drops under the threshold; an appended second file keeps the
# snapshot going. 2) The whole of $DISK2 as a block device. 3) Storage on
# a member device and a device in two snapshots are refused. The image
# holds the pattern throughout.
grow=""
if modinfo -p "$KO" | grep -q '^diff_storage_grow_mib'; then
	grow="diff_storage_grow_mib=4"
fi
modprobe ext4 || die "modprobe ext4"
load $grow
echo "module parameters: ${grow:-defaults}"
region=$((64 << 20))
mkfs.ext4 -q -F "$DISK2" || die "mkfs.ext4 $DISK2"
mkdir -p /tmp/mnt-storage
mount "$DISK2" /tmp/mnt-storage || die "mount $DISK2"
trap 'umount /tmp/mnt-storage 2> /dev/null' EXIT
"$KTEST" pattern-fill "$DISK" 1 $region || die "pattern-fill"
limit=$((48 << 20))
low=$((12 << 20))
id=$(snap_new /tmp/mnt-storage/s1 $limit $low "$DISK") || die "snapshot"
img=$(image_of "$id" "$DISK") || die "no image"
chunk=$(snap_field "$id" chunk)
echo "chunk $chunk; $("$KTEST" snap-info "$id" | head -n 1)"
[ "$chunk" -ge 4096 ] || die "chunk size $chunk"
file_bytes() {
	echo $(($(stat -c '%b * %B' "$1")))
}
# batch N: write 4 KiB into each of the next N chunks (one copy each).
next=0
batch() {
	offs=""
	b=0
	while [ $b -lt "$1" ]; do
		offs="$offs $((next * chunk))"
		next=$((next + 1))
		b=$((b + 1))
	done
	# shellcheck disable=SC2086
	"$KTEST" pwrite "$DISK" 4096 $offs || die "pwrite"
}
per=$(((8 << 20) / chunk))	# chunks in 8 MiB
prev_alloc=$(file_bytes /tmp/mnt-storage/s1)
grew=0
lowseen=""
for round in 1 2 3 4 5; do
	batch $per
	used=$(snap_field "$id" used)
	alloc=$(snap_field "$id" allocated)
	fb=$(file_bytes /tmp/mnt-storage/s1)
	echo "round $round: used=$used allocated=$alloc file=$fb"
	[ "$used" -ge $((round * per * chunk)) ] || die "used below the chunks copied"
	[ "$used" -le "$alloc" ] || die "used above allocated"
	[ "$alloc" -le $limit ] || die "allocated above the limit"
	[ "$fb" -le $((limit + (1 << 20))) ] || die "file above the limit"
	[ "$fb" -ge "$prev_alloc" ] || die "file shrank"
	[ "$fb" -gt "$prev_alloc" ] && grew=$((grew + 1))
	prev_alloc=$fb
	if [ -z "$lowseen" ] && ev=$("$KTEST" snap-wait "$id" 100); then
		echo "$ev (round $round)"
		case "$ev" in
		*event=low-space*) lowseen=$round ;;
		*) die "unexpected event" ;;
		esac
	fi
done
[ $grew -ge 2 ] || die "the storage file did not grow on demand ($grew times)"
[ "$(snap_field "$id" state)" = taken ] || die "state not taken"
# 40 MiB of 48 used: 8 MiB free < 12 MiB threshold.
[ -n "$lowseen" ] || die "no LOW_SPACE event"
[ "$lowseen" -ge 4 ] || die "LOW_SPACE too early (round $lowseen)"
"$KTEST" snap-append "$id" /tmp/mnt-storage/s2 $((32 << 20)) || die "append"
[ "$(snap_field "$id" limit)" = $((80 << 20)) ] || die "limit after append"
batch $per
batch $per
echo "after append: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" state)" = taken ] || die "corrupted despite the append"
[ "$(file_bytes /tmp/mnt-storage/s2)" -gt 0 ] || die "appended file unused"
"$KTEST" pattern-verify "$img" 1 $region || die "image differs (file storage)"
# A device holding the storage cannot join the snapshot.
id2=$("$KTEST" snap-create /tmp/mnt-storage/s3 $((8 << 20))) || die "snap-create s3"
if "$KTEST" snap-add "$id2" "$DISK2" 2> /dev/null; then
	die "the storage's device was added to its snapshot"
fi
# A device is in one snapshot at a time.
if "$KTEST" snap-add "$id2" "$DISK" 2> /dev/null; then
	die "$DISK added to a second snapshot"
fi
"$KTEST" snap-destroy "$id2" || die "destroy 2"
"$KTEST" snap-destroy "$id" || die "destroy"
umount /tmp/mnt-storage || die "umount $DISK2 (storage still referenced?)"
trap - EXIT

# Block device storage: all of it, at once.
"$KTEST" pattern-fill "$DISK" 1 $region || die "pattern-fill 2"
id=$(snap_new "$DISK2" 0 0 "$DISK") || die "snapshot on $DISK2"
img=$(image_of "$id" "$DISK") || die "no image"
size=$(dev_bytes "$DISK2")
echo "block device: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" limit)" = "$size" ] || die "limit is not the device size"
[ "$(snap_field "$id" allocated)" = "$size" ] || die "allocated is not the device size"
next=0
batch $((per * 4))
[ "$(snap_field "$id" used)" -ge $((per * 4 * chunk)) ] || die "used too small"
"$KTEST" pattern-verify "$img" 1 $region || die "image differs (device storage)"
# The storage device is held exclusively while the snapshot lives.
if "$KTEST" snap-create "$DISK2" 0 > /dev/null 2>&1; then
	die "$DISK2 used as storage twice"
fi
"$KTEST" snap-destroy "$id" || die "destroy"
unload
