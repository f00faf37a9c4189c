# An origin that fails under a snapshot. 1) A scsi_debug disk returning a
# medium error for one sector: a write to its chunk makes the copy-on-write
# read fail; the snapshot is corrupted (EIO) before the write completes,
# the write itself reaches the disk, the image fails that chunk. 2) A dm
# device over $DISK whose writes fail (dm-flakey error_writes): the
# writer gets the error, the copy was made, the snapshot stays good.
# 3) The same device failing reads and writes: the writer gets the error
# and the snapshot is corrupted. Destroy, detach and rmmod work after each.
modprobe -a dm-mod dm-flakey ext4 || die "modprobe dm-mod dm-flakey ext4"
modprobe sd_mod 2> /dev/null
modprobe scsi_debug dev_size_mb=64 2> /dev/null ||
	{ echo "scsi_debug not available"; exit 77; }
cleanup() {
	echo 0 > /sys/bus/pseudo/drivers/scsi_debug/opts
	dmsetup remove blksnap-of 2> /dev/null
	rmmod blksnap 2> /dev/null
	rmmod scsi_debug 2> /dev/null
}
trap cleanup EXIT
sd=""
for _ in $(seq 50); do
	sd=$(ls -d /sys/bus/pseudo/drivers/scsi_debug/adapter*/host*/target*/*/block/* 2> /dev/null | head -n 1)
	[ -n "$sd" ] && [ -b "/dev/${sd##*/}" ] && break
	sleep 0.1
done
[ -n "$sd" ] || die "no scsi_debug disk"
SD=/dev/${sd##*/}
echo "scsi_debug disk $SD"
load

# 1) A medium error under the chunk being copied.
region=$((32 << 20))
"$KTEST" pattern-fill "$SD" 1 $region || die "pattern-fill $SD"
id=$(snap_new "$DISK2" 0 0 "$SD") || die "snapshot"
img=$(image_of "$id" "$SD") || die "no image"
chunk=$(snap_field "$id" chunk)
bad=$((chunk * 10 / 512 + 3))
echo 1 > /sys/module/scsi_debug/parameters/medium_error_count
echo $bad > /sys/module/scsi_debug/parameters/medium_error_start
echo 2 > /sys/bus/pseudo/drivers/scsi_debug/opts
# 4 KiB at the end of chunk 10, away from the bad sector.
off=$(((chunk * 11 - 4096) / 4096))
head -c 4096 /dev/urandom > /tmp/new4k
dd if=/tmp/new4k of="$SD" bs=4096 seek=$off count=1 oflag=direct \
	conv=notrunc 2> /tmp/dd.err || die "write refused: $(cat /tmp/dd.err)"
# The write has completed: the snapshot must be corrupted by now.
info1=$("$KTEST" snap-info "$id" | head -n 1)
echo "after the write: $info1"
[ "$(snap_field "$id" state)" = corrupted ] ||
	die "write completed before the snapshot was corrupted"
# EIO, or ENODATA (61) for the medium error the disk reported.
case $(snap_field "$id" error) in
5 | 61) ;;
*) die "error not EIO or ENODATA" ;;
esac
echo 0 > /sys/bus/pseudo/drivers/scsi_debug/opts
if dd if="$img" of=/dev/null bs=4096 skip=$off count=1 iflag=direct \
	2> /dev/null; then
	die "image read of the failed chunk succeeded"
fi
dd if="$SD" of=/tmp/got4k bs=4096 skip=$off count=1 iflag=direct \
	2> /dev/null || die "read back"
cmp -s /tmp/new4k /tmp/got4k || die "the write did not reach the disk"
"$KTEST" snap-destroy "$id" || die "destroy"
"$KTEST" detach "$SD" || die "detach $SD"

# 2) and 3): a dm device over $DISK that fails writes, then everything.
region=$((64 << 20))
sz=$(blockdev --getsz "$DISK")
dmsetup create blksnap-of --table "0 $sz linear $DISK 0" ||
	die "dmsetup create"
dmsetup mknodes
OF=/dev/mapper/blksnap-of
"$KTEST" pattern-fill "$OF" 1 $region || die "pattern-fill $OF"
id=$(snap_new "$DISK2" 0 0 "$OF") || die "snapshot of $OF"
img=$(image_of "$id" "$OF") || die "no image of $OF"
flakey() {
	dmsetup suspend blksnap-of &&
		dmsetup load blksnap-of --table "0 $sz flakey $DISK 0 0 1 $*" &&
		dmsetup resume blksnap-of || die "switch to dm-flakey $*"
}
flakey 1 error_writes
if dd if=/tmp/new4k of="$OF" bs=4096 seek=100 count=1 oflag=direct \
	conv=notrunc 2> /dev/null; then
	die "a failing write was reported done"
fi
echo "after a failed write: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" state)" = taken ] ||
	die "a failed origin write corrupted the snapshot"
"$KTEST" pattern-verify "$img" 1 $region || die "image differs"
flakey 0
if dd if=/tmp/new4k of="$OF" bs=4096 seek=$((chunk * 300 / 4096)) count=1 \
	oflag=direct conv=notrunc 2> /dev/null; then
	die "a write to a failing device was reported done"
fi
echo "after a failed copy: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" state)" = corrupted ] || die "snapshot not corrupted"
if timeout 60 dd if="$img" of=/dev/null bs=64k count=1 iflag=direct \
	2> /dev/null; then
	die "image read succeeded on a corrupted snapshot"
fi
dmsetup suspend blksnap-of && dmsetup load blksnap-of --table \
	"0 $sz linear $DISK 0" && dmsetup resume blksnap-of ||
	die "back to linear"
"$KTEST" pattern-write "$OF" 2 100 7 $region > /dev/null ||
	die "writes once the device works again"
"$KTEST" snap-destroy "$id" || die "destroy (2)"
"$KTEST" detach "$OF" || die "detach $OF"
dmsetup remove blksnap-of || die "dmsetup remove"
unload
rmmod scsi_debug || die "rmmod scsi_debug"
trap - EXIT
