# timeout: 400
# Devices that disappear under a live snapshot whose image is mounted:
# 1) the origin, a dm device removed with --force (its table becomes one
# that fails all I/O) while its filesystem is mounted and written;
# 2) the origin, a scsi_debug disk deleted through sysfs while written;
# 3) the difference storage, a scsi_debug disk deleted while the origin
# is written. Each time: no oops and no hang, the snapshot is corrupted
# once a write needs a copy, the image fails reads, and the image
# unmounts, the snapshot is destroyed, the devices detach, the module
# unloads.
modprobe -a dm-mod dm-flakey ext4 || die "modprobe dm-mod dm-flakey ext4"
modprobe sd_mod 2> /dev/null
modprobe scsi_debug dev_size_mb=64 2> /dev/null ||
	{ echo "scsi_debug not available"; exit 77; }
writer=""
cleanup() {
	[ -z "$writer" ] || kill "$writer" 2> /dev/null
	umount /tmp/mnt-img 2> /dev/null
	umount /tmp/mnt-or 2> /dev/null
	dmsetup remove --force blksnap-or 2> /dev/null
	rmmod blksnap 2> /dev/null
	rmmod scsi_debug 2> /dev/null
}
trap cleanup EXIT
mkdir -p /tmp/mnt-img /tmp/mnt-or

# sd_disk: the newest scsi_debug disk's node, once it exists
sd_disk() {
	sdd_i=0
	while [ $sdd_i -lt 100 ]; do
		for sdd in /sys/bus/pseudo/drivers/scsi_debug/adapter*/host*/target*/*/block/*; do
			[ -e "$sdd" ] || continue
			[ -b "/dev/${sdd##*/}" ] && { echo "/dev/${sdd##*/}"; return 0; }
		done
		sdd_i=$((sdd_i + 1))
		sleep 0.1
	done
	return 1
}
sd_add() {
	echo 1 > /sys/bus/pseudo/drivers/scsi_debug/add_host
}
# sd_node DEV: a node of DEV's own in /tmp, which outlives the disk's (a
# writer that opened /dev/sdX after the deletion would create a file)
sd_node() {
	sdn=/tmp/node-${1#/dev/}
	rm -f "$sdn"
	mknod "$sdn" b $(($(stat -c 0x%t "$1"))) $(($(stat -c 0x%T "$1"))) ||
		die "mknod $sdn"
	echo "$sdn"
}
sd_delete() {
	echo 1 > "/sys/block/${1#/dev/}/device/delete" || die "delete $1"
}

# writes_until_corrupted ID DEV: write 4 KiB to fresh chunks until the
# snapshot is corrupted (the writes themselves may fail)
writes_until_corrupted() {
	wuc_chunk=$(snap_field "$1" chunk)
	for wuc_i in $(seq 20 60); do
		dd if=/dev/urandom of="$2" bs=4096 count=1 oflag=direct \
			seek=$((wuc_i * wuc_chunk / 4096)) conv=notrunc 2> /dev/null
		[ "$(snap_field "$1" state)" = corrupted ] && return 0
	done
	die "snapshot not corrupted: $("$KTEST" snap-info "$1" | head -n 1)"
}


load
# 1) dm origin removed with --force.
sz=$(blockdev --getsz "$DISK")
dmsetup create blksnap-or --table "0 $sz linear $DISK 0" ||
	die "dmsetup create"
dmsetup mknodes
OR=/dev/mapper/blksnap-or
mkfs.ext4 -q -F "$OR" || die "mkfs"
mount "$OR" /tmp/mnt-or || die "mount origin"
dd if=/dev/urandom of=/tmp/mnt-or/f bs=1M count=8 2> /dev/null
sync
id=$(snap_new "$DISK2" 0 0 "$OR") || die "snapshot of $OR"
img=$(image_of "$id" "$OR") || die "no image"
mount -o ro,noload "$img" /tmp/mnt-img || die "mount image"
(while :; do dd if=/dev/urandom of=/tmp/mnt-or/g bs=64k count=16 \
	conv=fsync 2> /dev/null; done) &
writer=$!
sleep 2
dmsetup remove --force blksnap-or > /dev/null 2>&1
dmsetup table blksnap-or | grep -q error || die "table not replaced"
echo "origin's table replaced by one failing all I/O"
writes_until_corrupted "$id" "$OR"
echo "after removal: $("$KTEST" snap-info "$id" | head -n 1)"
kill $writer; wait $writer 2> /dev/null; writer=""
image_read_fails "$img"
cat /tmp/mnt-img/f > /dev/null 2>&1
umount /tmp/mnt-img || die "umount image"
umount /tmp/mnt-or || die "umount origin"
"$KTEST" snap-destroy "$id" || die "destroy (1)"
"$KTEST" detach "$OR" || die "detach $OR"
dmsetup remove blksnap-or || die "final dmsetup remove"

# 2) scsi_debug origin deleted.
SD=$(sd_disk) || die "no scsi_debug disk"
node=$(sd_node "$SD")
echo "origin $SD"
mkfs.ext4 -q -F "$node" || die "mkfs $SD"
id=$(snap_new "$DISK2" 0 0 "$node") || die "snapshot of $SD"
img=$(image_of "$id" "$node") || die "no image of $SD"
mount -o ro,noload "$img" /tmp/mnt-img || die "mount image (2)"
(while dd if=/dev/urandom of="$node" bs=4k count=1 oflag=direct \
	conv=notrunc seek=$(($(od -An -N2 -tu2 /dev/urandom) % 16000)) \
	2> /dev/null; do :; done) &
writer=$!
sleep 1
sd_delete "$SD"
echo "$SD deleted"
wait $writer
writer=""
# Nothing can write to a deleted disk; reading the image notices.
image_read_fails "$img"
echo "after deletion: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" state)" = corrupted ] || die "not corrupted (2)"
[ "$(snap_field "$id" error)" = 19 ] || die "error not ENODEV (2)"
ls /tmp/mnt-img > /dev/null 2>&1
umount /tmp/mnt-img || die "umount image (2)"
"$KTEST" snap-destroy "$id" || die "destroy (2)"
"$KTEST" detach "$node" || die "detach deleted $SD"

# 3) scsi_debug storage deleted.
sd_add
ST=$(sd_disk) || die "no second scsi_debug disk"
echo "storage $ST"
ST=$(sd_node "$ST")
region=$((64 << 20))
"$KTEST" pattern-fill "$DISK" 1 $region || die "pattern-fill"
id=$(snap_new "$ST" 0 0 "$DISK") || die "snapshot with storage $ST"
img=$(image_of "$id" "$DISK") || die "no image (3)"
rng=$(seed)
"$KTEST" pattern-write "$DISK" 2 30 "$rng" $region > /dev/null ||
	die "writes before the deletion"
sd_delete "/dev/${ST#/tmp/node-}"
echo "$ST deleted"
"$KTEST" pattern-write "$DISK" 2 300 "$rng" $region > /dev/null ||
	die "writes after the storage went away"
"$KTEST" pattern-verify "$DISK" 1 $region 2 300 "$rng" $region ||
	die "origin lost a write"
echo "after deletion: $("$KTEST" snap-info "$id" | head -n 1)"
[ "$(snap_field "$id" state)" = corrupted ] || die "not corrupted (3)"
image_read_fails "$img"
"$KTEST" snap-destroy "$id" || die "destroy (3)"
"$KTEST" detach "$DISK" || die "detach $DISK"
unload
rmmod scsi_debug || die "rmmod scsi_debug"
trap - EXIT
