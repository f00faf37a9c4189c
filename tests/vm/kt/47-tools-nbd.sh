# SPDX-License-Identifier: GPL-2.0-or-later
# timeout: 600
# File-level restore as blksnap(7) describes it: an ext4 device backed up
# (full, then an incremental after files changed) from snapshots taken
# while it is mounted; the incremental's point served by nbdkit's blksnap
# plugin, connected with the kernel's NBD client (nbd module), mounted
# read-only with -o ro,noload, and its files compared with those the
# snapshot held; the plugin refuses writes through the device.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-send" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
plugin=$BLKSNAP_TOOLS/nbdkit-blksnap-plugin.so
[ -f "$plugin" ] || { echo "the nbdkit plugin was not built (no nbdkit-plugin-dev)"; exit 77; }
command -v nbdkit >/dev/null || { echo "nbdkit is not installed"; exit 77; }
command -v nbd-client >/dev/null || { echo "nbd-client is not installed"; exit 77; }
modprobe ext4 || die "modprobe ext4"
modprobe nbd nbds_max=2 2>/dev/null || { echo "the kernel has no nbd module"; exit 77; }
PATH="$BLKSNAP_TOOLS:$PATH"
dev=$DISK2 mnt=/tmp/mnt47 ro=/tmp/ro47 st=/tmp/storage47 a=/tmp/arch47
sock=/tmp/nbd47.sock
mkdir -p "$mnt" "$ro" "$st" "$a"
cleanup() {
	umount "$ro" 2>/dev/null
	nbd-client -d /dev/nbd0 >/dev/null 2>&1
	[ -f /tmp/nbd47.pid ] && kill "$(cat /tmp/nbd47.pid)" 2>/dev/null
	umount "$mnt" 2>/dev/null
}
trap cleanup EXIT

mkfs.ext4 -q -F "$dev" || die "mkfs"
mount "$dev" "$mnt" || die "mount"
head -c 3000000 /dev/urandom > "$mnt/a.bin"
mkdir "$mnt/dir" && seq 1 100000 > "$mnt/dir/numbers.txt"
sync
load
# snap N: a snapshot of the mounted device, its archive N (a full one
# for 0, else an incremental over the scan of the previous point), and
# copies of the files as the snapshot holds them, read from the image.
snap() {
	id=$(blksnap-take -q --storage "$st" --limit 64M "$dev") || die "take $1"
	img=$(blksnap-take --image "$id" "$dev") || die "image $1"
	if [ "$1" = 0 ]; then
		blksnap-send -q --full -c none -o "$a/0.tar" "$img" || die "full backup"
	else
		blksnap-diff --scan "$img" "$a/0.tar" > "$a/r$1" || die "scan $1"
		blksnap-send -q -c none --base "$a/0.tar" -o "$a/$1.tar" "$img" < "$a/r$1" ||
			die "incremental $1"
	fi
	mkdir -p "$a/files$1" /tmp/img47
	mount -o ro,noload "$img" /tmp/img47 || die "mount of image $1"
	cp -a /tmp/img47/. "$a/files$1/"
	umount /tmp/img47
	blksnap-take --destroy "$id" || die "destroy $1"
}
snap 0
head -c 2000000 /dev/urandom > "$mnt/b.bin"
dd if=/dev/urandom of="$mnt/a.bin" bs=4096 seek=100 count=50 conv=notrunc status=none
echo changed >> "$mnt/dir/numbers.txt"
sync
snap 1
umount "$mnt"
unload

nbdkit -U "$sock" -P /tmp/nbd47.pid "$plugin" 2>/dev/null &&
	die "nbdkit with no archive started"
nbdkit -U "$sock" -P /tmp/nbd47.pid "$plugin" "$a/0.tar" "$a/1.tar" ||
	die "nbdkit did not start"
i=0
while [ ! -S "$sock" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
nbd-client -readonly -u "$sock" /dev/nbd0 || die "nbd-client did not connect"
[ "$(dev_bytes /dev/nbd0)" -eq "$(dev_bytes "$dev")" ] ||
	die "/dev/nbd0 has $(dev_bytes /dev/nbd0) bytes, not $(dev_bytes "$dev")"
mount -o ro,noload /dev/nbd0 "$ro" || die "mount -o ro,noload of /dev/nbd0"
for f in a.bin b.bin dir/numbers.txt; do
	cmp "$ro/$f" "$a/files1/$f" || die "$f served differs from the snapshot's"
done
diff -r "$ro" "$a/files1" >/dev/null || die "the served tree differs from the snapshot's"
cmp -s "$ro/a.bin" "$a/files0/a.bin" && die "a.bin is the full backup's, not the incremental's"
echo "the served point's files are those of the snapshot"
dd if=/dev/zero of=/dev/nbd0 bs=4096 count=1 oflag=direct status=none 2>/dev/null &&
	die "a write to the read-only export succeeded"
umount "$ro" || die "umount"
nbd-client -d /dev/nbd0 >/dev/null 2>&1 || die "nbd-client -d"
echo "file-level restore through nbd works"
