# Overflow: a 2 MiB storage file (on ext4 on $DISK2) cannot hold the chunks
# that random writes over 64 MiB of the origin copy. The snapshot becomes
# corrupted with ENOSPC, the CORRUPTED event arrives, image reads fail, and
# the origin holds every write, as if there were no snapshot.
modprobe ext4 || die "modprobe ext4"
load
region=$((64 << 20))
count=300
mkfs.ext4 -q -F "$DISK2" || die "mkfs.ext4 $DISK2"
mkdir -p /tmp/mnt-storage
mount "$DISK2" /tmp/mnt-storage || die "mount $DISK2"
trap 'umount /tmp/mnt-storage 2> /dev/null' EXIT
"$KTEST" pattern-fill "$DISK" 1 $region || die "pattern-fill"
id=$(snap_new /tmp/mnt-storage/storage $((2 << 20)) 0 "$DISK") || die "snapshot"
img=$(image_of "$id" "$DISK") || die "no image"
"$KTEST" pattern-verify "$img" 1 $region || die "image differs before writes"
rng=$(seed)
"$KTEST" pattern-write "$DISK" 2 $count "$rng" $region > /tmp/written ||
	die "writes to the origin failed during the overflow"
"$KTEST" pattern-verify "$DISK" 1 $region 2 $count "$rng" $region ||
	die "origin differs from the writes"
echo "after $count writes: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" state)" = corrupted ] || die "state not corrupted"
[ "$(snap_field "$id" error)" = 28 ] || die "error not ENOSPC (28)"
# Events: maybe a LOW_SPACE one first, then CORRUPTED with ENOSPC.
got=""
for _ in 1 2 3; do
	ev=$("$KTEST" snap-wait "$id" 5000) || break
	echo "$ev"
	case "$ev" in
	*event=corrupted*) got=$ev; break ;;
	esac
done
[ -n "$got" ] || die "no CORRUPTED event"
case "$got" in
*" error=28 "*) ;;
*) die "CORRUPTED event without ENOSPC" ;;
esac
# Each event is returned once: nothing more now.
"$KTEST" snap-wait "$id" 300
[ $? = 3 ] || die "another event after CORRUPTED (or the wait failed)"
if dd if="$img" of=/dev/null bs=64k count=1 iflag=direct 2> /dev/null; then
	die "image read succeeded on a corrupted snapshot"
fi
if dd if="$img" of=/dev/null bs=64k count=1 skip=500 iflag=direct 2> /dev/null; then
	die "image read of an uncopied chunk succeeded on a corrupted snapshot"
fi
# Later writes to the origin still work and are kept.
"$KTEST" pattern-write "$DISK" 4 50 "$rng" $region > /dev/null ||
	die "writes after the overflow failed"
"$KTEST" snap-destroy "$id" || die "destroy"
"$KTEST" pattern-write "$DISK" 2 $count "$rng" $region > /dev/null
"$KTEST" pattern-verify "$DISK" 1 $region 2 $count "$rng" $region ||
	die "origin differs after destroy"
umount /tmp/mnt-storage || die "umount $DISK2"
trap - EXIT
unload
