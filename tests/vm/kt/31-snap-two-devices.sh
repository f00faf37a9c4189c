# Two devices in one snapshot: numbers 1..N are written one at a time, each
# completed before the next starts, odd ones to $DISK and even ones to
# $DISK2 (4 KiB slots); a snapshot of both is taken meanwhile. The images
# must hold a prefix 1..k of that order (any other state is one that no
# instant of the writer ever had), with 0 < k < N. Storage: a file on
# tmpfs (no member device may hold it).
load
n=20000
slots=$(((n / 2 + 1) * 4096))
dd if=/dev/zero of="$DISK" bs=1M count=$((slots / 1048576 + 1)) \
	oflag=direct 2> /dev/null || die "zero $DISK"
dd if=/dev/zero of="$DISK2" bs=1M count=$((slots / 1048576 + 1)) \
	oflag=direct 2> /dev/null || die "zero $DISK2"
id=$("$KTEST" snap-create /tmp/storage $((96 << 20))) || die "snap-create"
"$KTEST" snap-add "$id" "$DISK" || die "snap-add $DISK"
"$KTEST" snap-add "$id" "$DISK2" || die "snap-add $DISK2"
[ "$(snap_field "$id" state)" = created ] || die "state not created"
[ "$(snap_field "$id" devices)" = 2 ] || die "devices not 2"
"$KTEST" seq-write "$DISK" "$DISK2" $n > /tmp/seq.out 2>&1 &
w=$!
sleep 1
kill -0 $w 2> /dev/null || die "writer ended before the take: $(cat /tmp/seq.out)"
"$KTEST" snap-take "$id" || die "snap-take"
wait $w || die "writer failed: $(cat /tmp/seq.out)"
"$KTEST" snap-info "$id"
img1=$(image_of "$id" "$DISK") || die "no image of $DISK"
img2=$(image_of "$id" "$DISK2") || die "no image of $DISK2"
k=$("$KTEST" seq-check "$img1" "$img2" $n) ||
	die "images hold no prefix of the write order"
echo "images hold writes 1..$k of $n"
[ "$k" -gt 0 ] && [ "$k" -lt $n ] || die "take not during the writes: k=$k"
all=$("$KTEST" seq-check "$DISK" "$DISK2" $n) || die "origins differ"
[ "$all" = $n ] || die "origins hold $all writes, not $n"
"$KTEST" snap-destroy "$id" || die "destroy"
unload
