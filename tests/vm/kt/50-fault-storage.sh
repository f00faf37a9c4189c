# Difference storage that fails under a snapshot with writes: 1) the
# whole storage device, a dm device whose table is switched to dm-error;
# 2) a storage file on ext4 over a dm-flakey device that starts failing
# every write, which the module sees at writeback, after its buffered
# write returned. Each time the snapshot becomes corrupted with EIO (or
# EROFS from the file's filesystem) and the CORRUPTED event, the held writes are released, the origin keeps every
# write (checked sector by sector), image reads fail with an error (not
# a hang), and destroy, detach and rmmod work.
modprobe -a dm-mod dm-flakey ext4 || die "modprobe dm-mod dm-flakey ext4"
load
region=$((64 << 20))
sz=$(blockdev --getsz "$DISK2")
cleanup() {
	umount /tmp/mnt-flaky 2> /dev/null
	dmsetup remove blksnap-st 2> /dev/null
	dmsetup remove blksnap-flaky 2> /dev/null
}
trap cleanup EXIT

# check_failed ID IMG RNG ERRNOS: the state after the storage failed;
# ERRNOS, a case pattern, the errors expected
check_failed() {
	# Writes to chunks copied and not: the first of them need copies.
	"$KTEST" pattern-write "$DISK" 2 120 "$3" $region > /dev/null ||
		die "writes after the storage failed"
	"$KTEST" pattern-verify "$DISK" 1 $region 2 120 "$3" $region ||
		die "origin lost a write"
	# A storage file's copies fail at writeback, after the writes.
	sync
	cf_info=$("$KTEST" snap-info "$1" | head -n 1)
	echo "after the failure: $cf_info"
	[ "$(snap_field "$1" state)" = corrupted ] || die "state not corrupted"
	cf_err=$(snap_field "$1" error)
	eval "case $cf_err in $4) ;; *) die 'error $cf_err not $4' ;; esac"
	cf_got=""
	for _ in 1 2 3; do
		cf_ev=$("$KTEST" snap-wait "$1" 5000) || break
		case "$cf_ev" in
		*event=corrupted*) cf_got=$cf_ev; break ;;
		esac
	done
	case "$cf_got" in
	*" error=$cf_err "*) echo "event: $cf_got" ;;
	*) die "no CORRUPTED event with error $cf_err (got '$cf_got')" ;;
	esac
	image_read_fails "$2"
	"$KTEST" snap-destroy "$1" || die "destroy"
}

# 1) The storage device turns into dm-error.
"$KTEST" pattern-fill "$DISK" 1 $region || die "pattern-fill"
dmsetup create blksnap-st --table "0 $sz linear $DISK2 0" ||
	die "dmsetup create"
dmsetup mknodes
id=$(snap_new /dev/mapper/blksnap-st 0 0 "$DISK") || die "snapshot"
img=$(image_of "$id" "$DISK") || die "no image"
rng=$(seed)
# Some chunks are copied while the storage works (the same RNG later
# repeats these writes first, so one verify covers both phases).
"$KTEST" pattern-write "$DISK" 2 40 "$rng" $region > /dev/null ||
	die "writes before the failure"
"$KTEST" pattern-verify "$img" 1 $region || die "image differs"
dmsetup suspend blksnap-st && dmsetup load blksnap-st --table "0 $sz error" &&
	dmsetup resume blksnap-st || die "switch to dm-error"
echo "storage device now dm-error"
check_failed "$id" "$img" "$rng" 5
dmsetup remove blksnap-st || die "dmsetup remove (still held?)"

# 2) A storage file on ext4 over dm-flakey, which starts failing writes.
"$KTEST" pattern-fill "$DISK" 1 $region || die "pattern-fill (2)"
dmsetup create blksnap-flaky --table "0 $sz linear $DISK2 0" ||
	die "dmsetup create flaky"
dmsetup mknodes
mkfs.ext4 -q -F /dev/mapper/blksnap-flaky || die "mkfs.ext4"
mkdir -p /tmp/mnt-flaky
mount /dev/mapper/blksnap-flaky /tmp/mnt-flaky || die "mount"
id=$(snap_new /tmp/mnt-flaky/storage $((100 << 20)) 0 "$DISK") ||
	die "snapshot (2)"
img=$(image_of "$id" "$DISK") || die "no image (2)"
rng=$(seed)
"$KTEST" pattern-write "$DISK" 2 40 "$rng" $region > /dev/null ||
	die "writes before the failure (2)"
"$KTEST" pattern-verify "$img" 1 $region || die "image differs (2)"
# Up 0 s, down 1 s, failing every write while down: always failing.
dmsetup suspend blksnap-flaky &&
	dmsetup load blksnap-flaky --table \
		"0 $sz flakey $DISK2 0 0 1 1 error_writes" &&
	dmsetup resume blksnap-flaky || die "switch to dm-flakey"
echo "storage file's device now fails every write"
# EIO from writeback, or EROFS (30) once ext4 has aborted its journal
# and the file cannot grow.
check_failed "$id" "$img" "$rng" "5 | 30"
umount /tmp/mnt-flaky || die "umount"
dmsetup remove blksnap-flaky || die "dmsetup remove flaky"
trap - EXIT
"$KTEST" detach "$DISK" || die "detach"
unload
