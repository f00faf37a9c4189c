# SPDX-License-Identifier: GPL-2.0-or-later
# timeout: 600
# The installed packages, as an administrator uses them (run.sh with
# BLKSNAP_INSTALLED=1, after the .deb files are installed): modprobe finds
# the module that DKMS built for this kernel, of the tools' release; the
# tools of /usr/bin and /usr/sbin, through the installed blksnap-backup,
# take a full backup and a CBT incremental of a mounted ext4 from
# snapshots while a writer runs, and a last one after the unmount, and
# the chain restores to exactly the device.
# Both resolved: /lib may be a link to /usr/lib (merged /usr).
case $(readlink -f "$KO") in
"$(readlink -f "/lib/modules/$(uname -r)")"/updates/*) ;;
*)
	echo "the module is the tree's build (run.sh with BLKSNAP_INSTALLED=1 tests the installed one)"
	exit 77
	;;
esac
PATH=/usr/sbin:/usr/bin:/sbin:/bin
for t in sbin/blksnap-take sbin/blksnap-cbt sbin/blksnap-backup \
	 bin/blksnap-send bin/blksnap-diff bin/blksnap-restore; do
	[ "$(command -v "${t#*/}")" = "/usr/$t" ] || die "${t#*/} is not /usr/$t"
done
# The packaged library, not one that "make install" put in /usr/local/lib
# (CI's quick start does), which ld.so would find first.
lib=$(dpkg -L libblksnap1 | grep '/libblksnap\.so\.1$') || die "libblksnap1 is not installed"
export LD_LIBRARY_PATH="${lib%/*}"
ver=$(blksnap-take --version | awk '{ print $NF }')

modprobe blksnap || die "modprobe blksnap"
[ -c /dev/blksnap-control ] || die "no /dev/blksnap-control after modprobe"
[ "$(cat /sys/module/blksnap/version)" = "$ver" ] ||
	die "module version $(cat /sys/module/blksnap/version), tools $ver"
echo "modprobe loaded $(modinfo -n blksnap), version $ver"

mnt=/tmp/mnt44
dir=/tmp/backups44
mkdir -p "$mnt" /tmp/storage44
export BLKSNAP_STORAGE=/tmp/storage44 BLKSNAP_LIMIT=64M
modprobe ext4 || die "modprobe ext4"
mkfs.ext4 -q -F "$DISK2" || die "mkfs.ext4"
mount "$DISK2" "$mnt" || die "mount"
dd if=/dev/urandom of="$mnt/base" bs=64k count=32 status=none
# A writer throughout the two backups of the mounted filesystem.
(
	i=0
	while [ ! -e /tmp/stop44 ]; do
		i=$((i + 1))
		dd if=/dev/urandom of="$mnt/w$((i % 8))" bs=4k count=16 conv=fsync status=none
	done
) &
writer=$!
blksnap-backup "$DISK2" "$dir" || die "full backup"
dd if=/dev/urandom of="$mnt/base" bs=64k count=4 seek=8 conv=notrunc status=none
blksnap-backup "$DISK2" "$dir" || die "incremental backup"
touch /tmp/stop44
wait "$writer"
umount "$mnt" || die "umount"
blksnap-backup "$DISK2" "$dir" || die "incremental after the unmount"
ls -l "$dir/current/"
[ "$(ls "$dir"/current/*.tar | wc -l)" = 3 ] || die "the chain does not hold 3 archives"
[ "$(blksnap-restore -l "$dir"/current/*.tar | grep -c 'kind: *incremental')" = 2 ] ||
	die "not 2 incrementals: $(blksnap-restore -l "$dir"/current/*.tar)"
blksnap-restore -q -o /tmp/restored44 "$dir"/current/*.tar || die "restore"
cmp /tmp/restored44 "$DISK2" || die "the chain does not restore to the device"
[ -z "$(blksnap-take --list)" ] || die "a snapshot was left behind"
echo "full + 2 CBT incrementals with the installed tools restore to the device"
rm -rf "$dir" /tmp/restored44 /tmp/stop44
rmmod blksnap || die "rmmod"
