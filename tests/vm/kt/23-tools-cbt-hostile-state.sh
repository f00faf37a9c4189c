# SPDX-License-Identifier: GPL-2.0-or-later
# Hostile state files: missing, empty, truncated, with a wrong checksum,
# of another version, of another device, for another size, a reserved
# file never saved, one used already, one of a device whose first MiB
# changed since. Each load is refused by name and
# reason (exit 3), leaves the device tracked with a new generation, and
# the kernel log stays clean (guest.sh checks it). A good copy then still
# loads: nothing was consumed by a refusal for the file itself.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-cbt" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"

modprobe loop 2>/dev/null
truncate -s 64M /tmp/h1.img /tmp/h2.img
a=$(losetup -f --show /tmp/h1.img) || { echo "no loop device"; exit 77; }
b=$(losetup -f --show /tmp/h2.img) || die "second loop device"
mkfs.ext4 -q -F "$a" || die "mkfs a"
mkfs.ext4 -q -F "$b" || die "mkfs b"
d=/tmp/cbt-hostile
rm -rf "$d"
mkdir -p "$d"

load
blksnap-cbt --attach "$a" || die "attach"
dd if=/dev/urandom of="$a" bs=65536 count=2 seek=300 oflag=direct status=none ||
	die "write"
blksnap-cbt --save --state-file "$d/good" "$a" || die "save"
size=$(stat -c %s "$d/good")
unload

# refused NAME DEVICE FILE WORDS...: the load of FILE on DEVICE exits 3
# with FILE and WORDS in its message, and DEVICE is tracked after it
refused() {
	r_name=$1 r_dev=$2 r_file=$3
	shift 3
	load
	blksnap-cbt --load --state-file "$r_file" "$r_dev" 2> /tmp/err
	r_rc=$?
	sed "s/^/$r_name: /" /tmp/err
	[ $r_rc = 3 ] || die "$r_name: exit $r_rc, want 3"
	grep -q "$r_file" /tmp/err || die "$r_name: the file is not named"
	grep -q "$*" /tmp/err || die "$r_name: the reason ($*) is not said"
	grep -q "tracked with a new generation" /tmp/err || die "$r_name: no new generation said"
	blksnap-cbt --info "$r_dev" > /dev/null || die "$r_name: not tracked after the refusal"
	unload
}

refused missing "$a" "$d/none" "no saved history"
: > "$d/empty"
refused empty "$a" "$d/empty" "empty"
head -c 5000 "$d/good" > "$d/truncated"
refused truncated "$a" "$d/truncated" "truncated"
head -c $((size - 1)) "$d/good" > "$d/short"
refused "one byte short" "$a" "$d/short" "truncated"
cp "$d/good" "$d/checksum"
printf '\001' | dd of="$d/checksum" bs=1 seek=300 conv=notrunc status=none
refused "header checksum" "$a" "$d/checksum" "bad header checksum"
cp "$d/good" "$d/mapsum"
printf '\377' | dd of="$d/mapsum" bs=1 seek=4200 conv=notrunc status=none
refused "map checksum" "$a" "$d/mapsum" "bad map checksum"
cp "$d/good" "$d/version"
printf '\002' | dd of="$d/version" bs=1 seek=8 conv=notrunc status=none
refused "another version" "$a" "$d/version" "of version 2"
head -c "$size" /dev/zero > "$d/zeroes"
refused "reserved, never saved" "$a" "$d/zeroes" "holds no saved state"
head -c 8192 /dev/urandom > "$d/random"
refused "random bytes" "$a" "$d/random" "not a blksnap CBT state file"
refused "another device" "$b" "$d/good" "another device: its filesystem UUID differs"

# Another size: the device grew since the save.
cp "$d/good" "$d/grown"
truncate -s 65M /tmp/h1.img
losetup -c "$a" || die "losetup -c"
refused "another size" "$a" "$d/grown" "another device: its size differs"
truncate -s 64M /tmp/h1.img
losetup -c "$a" || die "losetup -c back"

# The good file was not used up by those refusals: it loads, once.
load
blksnap-cbt -v --load --state-file "$d/good" "$a" || die "the good file does not load"
unload
refused "used" "$a" "$d/good" "loaded already"

# Content changed while the module was out, in the fingerprinted first
# MiB (where an ext4 mount writes its superblock): refused.
load
blksnap-cbt --attach "$a" || die "attach for the fingerprint"
blksnap-cbt --save --state-file "$d/fp" "$a" || die "save for the fingerprint"
unload
dd if=/dev/urandom of="$a" bs=4096 count=1 seek=16 oflag=direct status=none ||
	die "write in the first MiB"
refused "content changed" "$a" "$d/fp" "first or last MiB differ"

losetup -d "$a"
losetup -d "$b"
rm -rf "$d" /tmp/h1.img /tmp/h2.img
