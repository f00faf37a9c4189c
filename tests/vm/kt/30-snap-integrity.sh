# Snapshot integrity: the origin is filled with a known pattern, a
# snapshot taken (storage: the whole of $DISK2), then random writes of
# mixed sizes (1 to 2048 sectors, half of them 4 KiB aligned) overwrite the
# first 64 MiB while the image is read and checked over and over. Every
# sector of the image must still hold the pattern, the origin exactly the
# new writes; writes to the image stay in the image.
load
region=$((64 << 20))
count=1500
"$KTEST" pattern-fill "$DISK" 1 || die "pattern-fill"
id=$(snap_new "$DISK2" 0 0 "$DISK") || die "snapshot"
echo "snapshot $id: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" state)" = taken ] || die "state not taken"
img=$(image_of "$id" "$DISK") || die "no image"
[ "$(dev_bytes "$img")" = "$(dev_bytes "$DISK")" ] || die "image size differs"
# The sysfs link of the image to its origin.
origin=$(readlink -f "/sys/block/${img#/dev/}/origin")
[ "$(cat "$origin/dev")" = "$(cat "/sys/block/${DISK#/dev/}/dev")" ] ||
	die "sysfs link origin of $img: $origin"
"$KTEST" pattern-verify "$img" 1 || die "image differs before any write"
rng=$(seed)
"$KTEST" pattern-write "$DISK" 2 $count "$rng" $region > /tmp/written 2>&1 &
w=$!
reads=0
while kill -0 $w 2> /dev/null; do
	"$KTEST" pattern-verify "$img" 1 $region ||
		{ kill $w; die "image changed during writes (pass $reads)"; }
	reads=$((reads + 1))
done
wait $w || die "writes to the origin failed: $(cat /tmp/written)"
echo "$count writes ($(cat /tmp/written) sectors), $reads image passes during them"
[ $reads -ge 1 ] || die "no image read ran during the writes"
"$KTEST" pattern-verify "$img" 1 || die "image differs after the writes"
"$KTEST" pattern-verify "$DISK" 1 "$(dev_bytes "$DISK")" 2 $count "$rng" $region ||
	die "origin differs from the writes"
# Writes to the image: read back from the image, never seen on the origin.
rng2=$(seed)
"$KTEST" pattern-write "$img" 3 300 "$rng2" $region > /dev/null ||
	die "write to the image"
"$KTEST" pattern-verify "$img" 1 $region 3 300 "$rng2" $region ||
	die "image does not hold its own writes"
"$KTEST" pattern-verify "$DISK" 1 "$(dev_bytes "$DISK")" 2 $count "$rng" $region ||
	die "image writes reached the origin"
echo "after: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" state)" = taken ] || die "state not taken at the end"
[ "$(snap_field "$id" used)" -gt 0 ] || die "no storage used"
"$KTEST" snap-destroy "$id" || die "destroy"
[ -z "$("$KTEST" snap-list)" ] || die "snapshot listed after destroy"
[ ! -e "$img" ] || sleep 1
[ ! -b "$img" ] || die "$img left after destroy"

# Reads that alternate between origin and storage: 4 KiB is written into
# chunks of the first 32 MiB in a set of layouts (every other chunk, every
# third, runs of two copied and five not, a run copied in descending order
# so its storage slots descend), then the image is read in 1 MiB requests
# (gathered: origin pieces with the copied chunks between them, storage
# pieces by their slots) and in 4 KiB ones. Both read plans are checked:
# a rotational origin reads the gaps into a bucket, a non-rotational one
# reads each piece on its own (the flag is read per bio).
"$KTEST" pattern-fill "$DISK" 4 $((32 << 20)) || die "pattern-fill 4"
id=$(snap_new "$DISK2" 0 0 "$DISK") || die "snapshot 2"
img=$(image_of "$id" "$DISK") || die "no image 2"
chunk=$(snap_field "$id" chunk)
n=$(((8 << 20) / chunk))
offsets=$(awk -v n="$n" -v c="$chunk" 'BEGIN {
	for (i = 0; i < n; i += 2) print i * c
	for (i = 0; i < n; i += 3) print (n + i) * c
	for (i = 0; i < n; i++) if (i % 7 < 2) print (2 * n + i) * c + 8192
	for (i = n - 1; i >= 0; i -= 2) print (3 * n + i) * c }')
# shellcheck disable=SC2086
"$KTEST" pwrite "$DISK" 4096 $offsets || die "writes over the layouts"
echo "layouts: $("$KTEST" snap-info "$id" | head -n 1)"
rotfile=/sys/block/${DISK#/dev/}/queue/rotational
rot=$(cat "$rotfile")
for r in 1 0; do
	echo "$r" > "$rotfile" || die "cannot set $rotfile"
	"$KTEST" pattern-verify "$img" 4 $((32 << 20)) ||
		die "image differs where origin and storage alternate (rotational=$r)"
	small=$(dd if="$img" bs=4k count=8192 iflag=direct 2> /dev/null | md5sum)
	large=$(dd if="$img" bs=1M count=32 iflag=direct 2> /dev/null | md5sum)
	[ "$small" = "$large" ] ||
		die "4 KiB image reads differ from 1 MiB ones (rotational=$r)"
done
echo "$rot" > "$rotfile"
"$KTEST" pattern-verify "$DISK" 4 $((32 << 20)) &&
	die "the writes did not reach the origin"
"$KTEST" snap-destroy "$id" || die "destroy 2"
unload
