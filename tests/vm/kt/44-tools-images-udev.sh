# SPDX-License-Identifier: GPL-2.0-or-later
# Images and storage never pose as their origins, with systemd-udevd
# running the installed rules (contrib/udev/60-blksnap.rules).
# 1. ext4 labelled on $DISK, the whole $DISK2 as storage, the filesystem
#    unmounted while the snapshot lives (as at shutdown), then destroyed:
#    at every step /dev/disk/by-uuid and by-label name the origin and
#    `mount UUID=` mounts it; the image is /dev/disk/by-id/blksnap-ORIGIN,
#    ignored by udisks; afterwards blkid finds no filesystem on $DISK2.
# 2. ext4 and xfs images mount read-only, with the options blksnap(7)
#    gives, while their origins are mounted; xfs refuses without nouuid;
#    btrfs mounts beside its origin from 6.7 on, and before only alone.
# 3. An LVM volume group on $DISK with an active volume: while a snapshot
#    of the PV lives, pvs, vgs and lvs use the origin and see no duplicate
#    PV, a new volume can be made, and writes to the volume reach the
#    origin, not the image.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-take" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
for p in /lib/systemd/systemd-udevd mkfs.xfs btrfs pvcreate; do
	command -v $p > /dev/null || { echo "$p is not installed"; exit 77; }
done
PATH="$BLKSNAP_TOOLS:$PATH"
rules=$KTDIR/../../contrib/udev/60-blksnap.rules
[ -f "$rules" ] || die "no $rules"
origin=$(basename "$DISK")
mnt=/tmp/mnt44
imnt=/tmp/img44
mkdir -p $mnt $imnt
export LVM_SYSTEM_DIR=/tmp/lvm44
rm -rf $LVM_SYSTEM_DIR
cp -a /etc/lvm $LVM_SYSTEM_DIR || die "copy /etc/lvm"
cleanup() {
	umount $imnt 2> /dev/null
	umount $mnt 2> /dev/null
	vgchange -q -an vg44 > /dev/null 2>&1
	[ -n "${id:-}" ] && blksnap-take --destroy "$id" 2> /dev/null
	udevadm control --exit 2> /dev/null
	# libdevmapper takes udev for running while its control socket
	# exists, and dmsetup in a later test would wait for it for ever.
	i=0
	while pgrep -x systemd-udevd > /dev/null && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	pkill -9 -x systemd-udevd 2> /dev/null
	rm -rf /run/udev
}
trap cleanup EXIT

# The guest runs the tests chrooted into the host's root: udevadm ignores
# its requests in a chroot unless told not to.
export SYSTEMD_IGNORE_CHROOT=1
mkdir -p /run/udev/rules.d
cp "$rules" /run/udev/rules.d/ || die "install the rules"
/lib/systemd/systemd-udevd --daemon || die "start systemd-udevd"
udevadm trigger --action=add --subsystem-match=block || die "udevadm trigger"
udevadm settle -t 60 || die "udevadm settle"
modprobe -a dm_mod ext4 xfs btrfs || die "modprobe dm_mod ext4 xfs btrfs"
load
udevadm settle -t 60

settle() {
	udevadm settle -t 60 || die "udevadm settle"
}
# A change event for every block device, as a coldplug at boot makes.
retrigger() {
	udevadm trigger --action=change --subsystem-match=block || die "udevadm trigger"
	settle
}
# names WHEN: by-uuid and by-label name the origin, by-id the image
names() {
	for l in by-uuid/$uuid by-label/$label; do
		got=$(readlink -f /dev/disk/$l)
		[ "$got" = "$DISK" ] || die "$1: /dev/disk/$l is $got, not $DISK"
	done
	if [ -n "${img:-}" ]; then
		got=$(readlink -f /dev/disk/by-id/blksnap-$origin)
		[ "$got" = "$img" ] || die "$1: /dev/disk/by-id/blksnap-$origin is '$got', not $img"
	fi
	echo "$1: by-uuid and by-label name $DISK"
}
# mounts_origin WHEN: mount UUID= and LABEL= mount the origin
mounts_origin() {
	for t in UUID=$uuid LABEL=$label; do
		mount "$t" $imnt || die "$1: mount $t"
		got=$(findmnt -n -o SOURCE $imnt)
		umount $imnt
		[ "$got" = "$DISK" ] || die "$1: mount $t mounted $got, not $DISK"
	done
}

# --- 1. the issue's scenario -------------------------------------------
wipefs -q -a "$DISK2" || die "wipefs $DISK2"
label=data44
mkfs.ext4 -q -F -L $label "$DISK" || die "mkfs.ext4"
settle
uuid=$(blkid -s UUID -o value "$DISK")
mount "$DISK" $mnt || die "mount $DISK"
echo before > $mnt/file
sync
names "before the snapshot"
id=$(blksnap-take -q --storage "$DISK2" "$DISK") || die "take"
img=$(blksnap-take --image "$id" "$DISK") || die "image"
settle
names "snapshot taken"
udevadm info --query=property --name="$img" > /tmp/udev44
grep -qx UDISKS_IGNORE=1 /tmp/udev44 || die "the image lacks UDISKS_IGNORE=1: $(cat /tmp/udev44)"
grep -qx "BLKSNAP_ORIGIN=$origin" /tmp/udev44 || die "the image lacks BLKSNAP_ORIGIN"
grep -q '^ID_FS_UUID=' /tmp/udev44 && die "udev probed the image's filesystem"
echo after > $mnt/file
dd if=/dev/urandom of=$mnt/big bs=1M count=8 status=none
sync
retrigger
names "origin written, devices re-probed"
mounts_origin "origin mounted"
umount $mnt || die "umount"
[ "$(blksnap-take --info "$id" --json | sed -n 's/^  "storage_used": \([0-9]*\),$/\1/p')" -gt 0 ] ||
	die "nothing was copied to the storage"
retrigger
names "origin unmounted"
mounts_origin "origin unmounted"
blksnap-take --destroy "$id" || die "destroy"
id=""
img=""
settle
blkid -p "$DISK2" > /tmp/blkid44 2>&1 && die "blkid finds on the storage after destroy: $(cat /tmp/blkid44)"
retrigger
names "snapshot destroyed"
[ -e /dev/disk/by-id/blksnap-$origin ] && die "by-id/blksnap-$origin outlived its image"
mounts_origin "snapshot destroyed"

# --- 2. images mount while their origins are mounted --------------------
# take_mounted FS: mount $DISK, write "taken" to a file, take a snapshot
# (sets id and img), then write "changed" to the origin's file.
take_mounted() {
	mount "$DISK" $mnt || die "$1: mount $DISK"
	echo taken > $mnt/file
	# Committed before the take: freezing may not reach a btrfs.
	sync
	id=$(blksnap-take -q --storage "$DISK2" "$DISK") || die "$1: take"
	img=$(blksnap-take --image "$id" "$DISK") || die "$1: image"
	echo changed > $mnt/file
	sync
}
for fs in ext4 xfs; do
	case $fs in
	ext4) mkfs.ext4 -q -F "$DISK" || die "mkfs.ext4"; opts=ro,noload ;;
	xfs) mkfs.xfs -q -f "$DISK" || die "mkfs.xfs"; opts=ro,nouuid,norecovery ;;
	esac
	take_mounted $fs
	if [ $fs = xfs ] && mount -o ro,norecovery "$img" $imnt 2> /dev/null; then
		umount $imnt
		die "xfs: the image mounted without nouuid beside its origin (blksnap(7) says it needs it)"
	fi
	mount -o $opts "$img" $imnt || die "$fs: mount -o $opts $img while $DISK is mounted"
	[ "$(cat $imnt/file)" = taken ] || die "$fs: the image's file reads '$(cat $imnt/file)'"
	umount $imnt
	[ "$(cat $mnt/file)" = changed ] || die "$fs: the origin's file changed"
	umount $mnt
	blksnap-take --destroy "$id" || die "$fs: destroy"
	id=""
	img=""
	echo "$fs: the image mounts with -o $opts beside its mounted origin"
done

# btrfs knows its devices by fsid: before 6.7 (no temp-fsid) an image
# mounts only while its origin is not mounted, from 6.7 on beside it;
# alone, once btrfs forgot the origin.
kv=$(uname -r | awk -F. '{ print $1 * 100 + $2 }')
mkfs.btrfs -q -f "$DISK" > /dev/null || die "mkfs.btrfs"
take_mounted btrfs
opts=ro,rescue=nologreplay
if mount -o $opts "$img" $imnt; then
	[ "$kv" -ge 607 ] || die "btrfs: $(uname -r) mounted an image beside its origin"
	[ "$(cat $imnt/file)" = taken ] || die "btrfs: the image's file beside its origin"
	umount $imnt
	echo "btrfs: the image mounts beside its origin (temp-fsid)"
else
	[ "$kv" -lt 607 ] || die "btrfs: $(uname -r) has temp-fsid, yet the image did not mount"
	echo "btrfs: the image does not mount beside its origin, as documented"
fi
[ "$(cat $mnt/file)" = changed ] || die "btrfs: the origin's file changed"
umount $mnt
# As blksnap(7) says: btrfs would prefer the origin's newer generation.
btrfs device scan --forget || die "btrfs: forget the origin"
mount -o $opts "$img" $imnt || die "btrfs: mount -o $opts $img, origin unmounted"
[ "$(cat $imnt/file)" = taken ] || die "btrfs: the image's file"
umount $imnt
btrfs device scan --forget || die "btrfs: forget the image"
mount "$DISK" $mnt || die "btrfs: mount $DISK after the image"
[ "$(findmnt -n -o SOURCE $mnt)" = "$DISK" ] || die "btrfs: $mnt is not $DISK"
[ "$(cat $mnt/file)" = changed ] || die "btrfs: the origin's file after the image was mounted"
umount $mnt
blksnap-take --destroy "$id" || die "btrfs: destroy"
id=""
img=""

# --- 3. LVM on the origin -----------------------------------------------
wipefs -q -a "$DISK" || die "wipefs $DISK"
pvcreate -q -y "$DISK" > /dev/null || die "pvcreate"
vgcreate -q vg44 "$DISK" > /dev/null || die "vgcreate"
lvcreate -q -y -L 64M -n lv44 vg44 > /dev/null || die "lvcreate"
settle
lv=/dev/vg44/lv44
[ -b $lv ] || die "no $lv"
dd if=/dev/urandom of=$lv bs=1M count=4 oflag=direct status=none || die "write $lv"
dd if=$lv bs=1M count=4 iflag=direct status=none > /tmp/lv-before
pe_start=$(pvs --noheadings --nosuffix --units b -o pe_start "$DISK" | tr -d ' ')
lvs --noheadings -o seg_pe_ranges vg44/lv44 | grep -q ":0-" || die "lv44 does not start at extent 0"
id=$(blksnap-take -q --storage "$DISK2" "$DISK") || die "lvm: take"
img=$(blksnap-take --image "$id" "$DISK") || die "lvm: image"
settle
for cmd in pvs vgs lvs; do
	$cmd > /tmp/$cmd.out 2> /tmp/$cmd.err || die "$cmd failed: $(cat /tmp/$cmd.err)"
	cat /tmp/$cmd.out /tmp/$cmd.err
	grep -qi "duplicate\|not using device\|prefers device" /tmp/$cmd.err &&
		die "$cmd sees a duplicate PV: $(cat /tmp/$cmd.err)"
done
pvs -a --noheadings -o pv_name 2> /dev/null | grep -q blksnap-image && die "pvs -a lists the image"
[ "$(pvs --noheadings -o pv_name 2> /dev/null | tr -d ' ')" = "$DISK" ] ||
	die "pvs lists $(pvs --noheadings -o pv_name | tr -d ' \n'), not $DISK"
lvcreate -q -y -L 8M -n lv44b vg44 > /dev/null || die "lvcreate while the snapshot lives"
lvremove -q -y vg44/lv44b > /dev/null || die "lvremove while the snapshot lives"
dd if=/dev/urandom of=$lv bs=1M count=4 oflag=direct status=none || die "write $lv after the take"
dd if=$lv bs=1M count=4 iflag=direct status=none > /tmp/lv-after
dd if="$DISK" iflag=direct,skip_bytes skip="$pe_start" bs=1M count=4 status=none |
	cmp -s - /tmp/lv-after || die "the volume's writes did not reach the origin"
dd if="$img" iflag=direct,skip_bytes skip="$pe_start" bs=1M count=4 status=none |
	cmp -s - /tmp/lv-before || die "the image does not hold the volume as taken"
echo "lvm: pvs, vgs, lvs use $DISK; writes to $lv reach it; the image keeps the volume as taken"
blksnap-take --destroy "$id" || die "lvm: destroy"
id=""
vgchange -q -an vg44 > /dev/null || die "vgchange -an"
settle
unload
