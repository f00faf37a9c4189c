# Busy ext4 and xfs on $DISK (512 MiB; xfs needs >= 300 MB): a writer
# (fio random writes with fsync, plus file creation and removal for the
# journal) runs while the snapshot is taken (storage: the whole of $DISK2).
# The image, once its journal is replayed by mounting and unmounting it
# (the image is writable), must check clean with e2fsck -fn / xfs_repair -n.
modprobe -a ext4 xfs || die "modprobe ext4 xfs"
load
mkdir -p /tmp/mnt-image
trap 'kill $fio $churn 2> /dev/null; wait; umount /tmp/mnt-image 2> /dev/null' EXIT
fio=""
churn=""
for fs in ext4 xfs; do
	case $fs in
	ext4) mkfs.ext4 -q -F "$DISK" || die "mkfs.ext4" ;;
	xfs) mkfs.xfs -q -f "$DISK" || die "mkfs.xfs" ;;
	esac
	mount -t $fs "$DISK" /mnt || die "mount $fs"
	mkdir -p /mnt/data /mnt/churn
	fio --name=busy --directory=/mnt/data --rw=randwrite --bs=4k \
		--size=24M --nrfiles=6 --fsync=8 --ioengine=psync \
		--time_based --runtime=60 --output=/tmp/fio.out \
		> /dev/null 2>&1 &
	fio=$!
	(
		i=0
		while :; do
			i=$((i + 1))
			echo "$i" > /mnt/churn/f$((i % 200))
			[ $((i % 3)) = 0 ] && rm -f /mnt/churn/f$(((i + 100) % 200))
			[ $((i % 50)) = 0 ] && sync -f /mnt/churn
		done
	) 2> /dev/null &
	churn=$!
	# Wait until fio writes (it starts slowly under TCG).
	i=0
	while [ $i -lt 40 ] && [ ! -s /mnt/data/busy.0.0 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	sleep 2
	kill -0 $fio || die "$fs: fio ended early: $(cat /tmp/fio.out)"
	id=$(snap_new "$DISK2" 0 0 "$DISK") || die "$fs: snapshot"
	sleep 2
	kill $fio $churn
	wait $fio $churn 2> /dev/null
	fio="" churn=""
	img=$(image_of "$id" "$DISK") || die "$fs: no image"
	case $fs in
	ext4)
		mount -t ext4 "$img" /tmp/mnt-image || die "$fs: mount the image"
		ls /tmp/mnt-image/data > /dev/null || die "$fs: list the image"
		umount /tmp/mnt-image || die "$fs: umount the image"
		e2fsck -fn "$img" > /tmp/fsck.out 2>&1 ||
			{ cat /tmp/fsck.out; die "$fs: e2fsck -fn of the image"; }
		;;
	xfs)
		# Same UUID as the mounted origin: nouuid.
		mount -t xfs -o nouuid "$img" /tmp/mnt-image || die "$fs: mount the image"
		ls /tmp/mnt-image/data > /dev/null || die "$fs: list the image"
		umount /tmp/mnt-image || die "$fs: umount the image"
		xfs_repair -n "$img" > /tmp/fsck.out 2>&1 ||
			{ cat /tmp/fsck.out; die "$fs: xfs_repair -n of the image"; }
		;;
	esac
	echo "$fs: image checks clean; $("$KTEST" snap-info "$id" | head -n 1)"
	[ "$(snap_field "$id" state)" = taken ] || die "$fs: snapshot not taken"
	"$KTEST" snap-destroy "$id" || die "$fs: destroy"
	umount /mnt || die "$fs: umount"
	# The origin is fine too.
	case $fs in
	ext4) e2fsck -fn "$DISK" > /tmp/fsck.out 2>&1 ;;
	xfs) xfs_repair -n "$DISK" > /tmp/fsck.out 2>&1 ;;
	esac || { cat /tmp/fsck.out; die "$fs: origin not clean"; }
done
trap - EXIT
unload
