#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Hash blocks of zeros (written zeros, not holes) are zero ranges of the
# archive (blksnap-archive(5), format 2): not stored, still hashed, and
# restored as zeros: holes in a new or existing file, zeros over old data
# in an incremental, on a device; GNU tar and bsdtar extract the same
# image; blksnap-diff --scan still sees them; old archives still restore.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1
MiB=1048576
HB=65536

# le DESC A B: ok when A <= B.
le() {
	if [ "$2" -le "$3" ]; then ok "$1 ($2 <= $3)"; else not_ok "$1 ($2 > $3)"; fi
}
# data_of ARCHIVE / zeros_of ARCHIVE: what --list says.
data_of() { blksnap-restore --list "$1" | sed -n 's/^  data: *\([0-9]*\) bytes.*/\1/p'; }
zeros_of() { blksnap-restore --list "$1" | sed -n 's/^  zeros: *\([0-9]*\) bytes.*/\1/p'; }
# sparse_ok FILE SIZE: FILE occupies less than half its size (holes), or
# the filesystem here keeps no holes at all.
sparse_ok() {
	[ "$(allocated_blocks "$1")" -lt $(($2 / 1024)) ]
}

# A 256 MiB image of written zeros with about 10% random data in pieces
# that start on hash blocks (4 KiB to 256 KiB long, so each range of data
# costs less than one hash block more), plus a byte of data at the end
# of an otherwise zero block and one in the first page of another.
size=$((256 * MiB))
head -c "$size" /dev/zero > img
awk -v size="$size" -v hb="$HB" 'BEGIN {
	srand(15); pos = 0
	while (1) {
		pos += hb * (1 + int(rand() * 36))
		len = 4096 * (1 + int(rand() * 64))
		if (pos + len > size - 4 * hb) break
		print pos, len
		pos += len + hb - (pos + len) % hb
	}
}' > pieces
while read -r off len; do
	dd if=/dev/urandom of=img bs=4096 seek=$((off / 4096)) count=$((len / 4096)) \
	   conv=notrunc status=none
done < pieces
printf 'x' | dd of=img bs=1 seek=$((size - 2 * HB - 1)) conv=notrunc status=none
printf 'y' | dd of=img bs=1 seek=$((size - HB + 100)) conv=notrunc status=none
nonzero=$(awk '{ n += $2 } END { print n + 2 }' pieces)
ranges=$(($(wc -l < pieces) + 2))
diag "$nonzero bytes of data in $ranges ranges, in $size bytes"
le "the image holds written zeros, not holes" $((size / 512 * 9 / 10)) "$(allocated_blocks img)"

check "full backup (-c none)" sh -c 'blksnap-send -v --full -c none -m full.man -o full.tar img 2> send.msg'
check "its summary says how much was zero" grep -Eq "of data in [0-9]+ ranges, [0-9.]+ MiB of zeros in [0-9]+ ranges" send.msg
le "archive size within one hash block per range of the data" \
	"$(stat -c %s full.tar)" $((nonzero + ranges * HB + 64 * 1024))
d=$(data_of full.tar) z=$(zeros_of full.tar)
check "the manifest says format 2 and counts the zeros ($d + $z bytes)" sh -c \
	'tar -xOf full.tar blksnap.manifest | grep -qx "format=blksnap-archive 2" &&
	 test "'"${d:-0}"'" -gt 0 && test $(('"${d:-0} + ${z:-0}"')) -eq '"$size"
check "restore is identical" sh -c 'blksnap-restore -o out full.tar && cmp img out'
if sparse_ok out "$size"; then ok "restored file has holes"; else not_ok "restored file has holes ($(allocated_blocks out) blocks)"; fi
check "verify" blksnap-restore --verify full.tar
# The search for zeros asks the kernel ahead for what is not cached: the
# same archive data when the image is out of the page cache.
if sync img && dd if=img iflag=nocache count=0 status=none 2> /dev/null &&
   command -v fincore > /dev/null &&
   [ "$(fincore -nb -o RES img 2> /dev/null | tr -d ' ')" = 0 ]; then
	check "full backup of the image out of the page cache: the same data and zeros" sh -c \
		"blksnap-send --full -c none -o cold.tar img &&
		 test \"\$(blksnap-restore --list cold.tar | grep -E '^  (data|zeros):')\" = \
		      \"\$(blksnap-restore --list full.tar | grep -E '^  (data|zeros):')\" &&
		 blksnap-restore -o cold.out cold.tar && cmp img cold.out"
	rm -f cold.tar cold.out
else
	skip "full backup of the image out of the page cache" \
		"cannot drop a file's cached pages here (dd iflag=nocache, fincore)"
fi
# The search reads the first pages of blocks in batches (io_uring) where
# the kernel allows it; BLKSNAP_IO_URING=0 leaves it to one read each:
# the same data and zeros either way.
check "full backup with one read at a time (BLKSNAP_IO_URING=0): the same data and zeros" sh -c \
	"BLKSNAP_IO_URING=0 blksnap-send --full -c none -o one.tar img &&
	 test \"\$(blksnap-restore --list one.tar | grep -E '^  (data|zeros):')\" = \
	      \"\$(blksnap-restore --list full.tar | grep -E '^  (data|zeros):')\" &&
	 blksnap-restore -o one.out one.tar && cmp img one.out"
rm -f one.tar one.out
if have strace && strace -f -qq -o st.trace -e trace=io_uring_setup,io_uring_enter \
	blksnap-send --full -c none -o /dev/null img 2> /dev/null; then
	enters=$(grep -c 'io_uring_enter(' st.trace)
	if grep -q 'io_uring_setup(.*= [0-9]' st.trace && [ "$enters" -gt 0 ]; then
		ok "the search reads in batches ($enters io_uring_enter calls)"
	elif grep -q 'io_uring_setup(.*= -1' st.trace; then
		skip "the search reads in batches" "io_uring_setup is refused here"
	else
		not_ok "the search reads in batches"
		diag "$(cat st.trace)"
	fi
else
	skip "the search reads in batches" "no strace, or it cannot trace here"
fi
random_file old "$size"
check "restore over an existing file of random data" sh -c 'blksnap-restore -o old full.tar && cmp img old'
if sparse_ok old "$size"; then ok "its zero ranges are holes"; else not_ok "its zero ranges are holes ($(allocated_blocks old) blocks)"; fi
check "zstd archive restores identically" sh -c 'blksnap-send --full -o full.zst img && blksnap-restore -o outz full.zst && cmp img outz'
check "a scan finds no change" sh -c 'blksnap-diff --scan img full.tar > scan0 && test "$(grep -vc "^#" scan0)" -eq 0'

for tar in tar bsdtar; do
	if ! have "$tar"; then
		skip "$tar extracts the image" "$tar is not installed"
		continue
	fi
	rm -rf x && mkdir x
	if (cd x && "$tar" -xf ../full.tar img.img) && cmp -s img x/img.img; then
		ok "$tar extracts the image identically"
	else
		not_ok "$tar extracts the image identically"
	fi
	rm -rf x && mkdir x
	if (cd x && "$tar" -xf ../full.zst img.img 2>/dev/null) && cmp -s img x/img.img; then
		ok "$tar extracts the zstd archive identically"
	elif [ "$tar" = tar ] && ! have zstd; then
		skip "$tar extracts the zstd archive identically" "zstd is not installed"
	else
		not_ok "$tar extracts the zstd archive identically"
	fi
done

# An incremental: data pieces that became zeros (whole blocks), a block
# half zeroed, and new data in a zero block; the range list is what a
# scan finds.
cp img img.0
head -n 3 pieces > gone
while read -r off len; do
	dd if=/dev/zero of=img bs=4096 seek=$((off / 4096)) count=$((len / 4096)) \
	   conv=notrunc status=none
done < gone
set -- $(sed -n 5p pieces)
dd if=/dev/zero of=img bs=1 seek="$1" count=2048 conv=notrunc status=none
dd if=/dev/urandom of=img bs=4096 seek=$((size / 4096 - 16 * 4)) count=3 conv=notrunc status=none
check "a scan finds the blocks that became zeros" sh -c 'blksnap-diff --scan img full.man > r1 &&
	test "$(grep -vc "^#" r1)" -ge 4'
check "incremental from the manifest file" blksnap-send --base full.man -c none -o inc.tar -r r1 img
gone_bytes=$(awk '{ n += $2 + (-$2 % '"$HB"' + '"$HB"') % '"$HB"' } END { print n }' gone)
le "the blocks that became zeros are zero ranges" "$gone_bytes" "$(zeros_of inc.tar)"
random_file old "$size"
check "the chain restores over random data, zeros where data was" sh -c 'blksnap-restore -o old full.tar inc.tar && cmp img old'
check "the chain verifies" blksnap-restore --verify full.tar inc.tar
if sparse_ok old "$size"; then ok "the chain's zero ranges are holes"; else not_ok "the chain's zero ranges are holes ($(allocated_blocks old) blocks)"; fi
check "a scan of the restored image against the chain finds no change" sh -c \
	'blksnap-diff --scan old full.tar inc.tar > scan1 && test "$(grep -vc "^#" scan1)" -eq 0'
cp img img.1
check "an incremental without zero blocks is format 1" sh -c \
	'sed -n 10p pieces | blksnap-send --base inc.tar -c none -o inc2.tar img &&
	 tar -xOf inc2.tar blksnap.manifest | grep -qx "format=blksnap-archive 1" &&
	 blksnap-restore -o out2 full.tar inc.tar inc2.tar && cmp img out2'

# Old archives (format 1, written by the tools of 0.1.0) still restore.
corpus=$top_srcdir/tests/fuzz/corpus/archive
check "a format 1 chain still restores and verifies" sh -c \
	"tar -xOf '$corpus/full.tar' blksnap.manifest | grep -qx 'format=blksnap-archive 1' &&
	 blksnap-restore -o old1 '$corpus/full.tar' '$corpus/inc.tar' && blksnap-restore --verify '$corpus/full.tar' '$corpus/inc.tar'"

# An ext4 image with files in it, its free space written zeros.
if have mkfs.ext4 && have python3; then
	mkdir files
	for i in 1 2 3 4 5 6; do random_file "files/f$i" $((i * 700000)); done
	if mkfs.ext4 -q -F -d files e.sparse 256M >/dev/null 2>&1; then
		cp --sparse=never e.sparse e.img
		set -- $(python3 - e.img <<'PY'
import sys
data, ranges, prev = 0, 0, False
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(65536)
        if not b:
            break
        nz = b.count(0) != len(b)
        data += len(b) if nz else 0
        ranges += nz and not prev
        prev = nz
print(data, ranges)
PY
)
		diag "ext4: $1 bytes in $2 ranges of non-zero hash blocks"
		check "ext4 image: full backup" blksnap-send --full -c none -o e.tar e.img
		le "ext4 archive within the data and its index" "$(stat -c %s e.tar)" $(($1 + $2 * 16 + 64 * 1024))
		check "ext4 image restores identically" sh -c 'blksnap-restore -o e.out e.tar && cmp e.img e.out'
		for tar in tar bsdtar; do
			rm -rf x && mkdir x
			if ! have "$tar"; then
				skip "$tar extracts the ext4 image" "$tar is not installed"
			elif (cd x && "$tar" -xf ../e.tar e.img) && cmp -s e.img x/e.img; then
				ok "$tar extracts the ext4 image identically"
			else
				not_ok "$tar extracts the ext4 image identically"
			fi
		done
		if have e2fsck; then
			check "the restored ext4 checks clean" e2fsck -fn e.out
		fi
	else
		skip "ext4 image" "mkfs.ext4 -d failed"
	fi
else
	skip "ext4 image" "mkfs.ext4 or python3 is not installed"
fi

# A block device that held random data (a loop device; root only).
if have losetup && [ "$(id -u)" = 0 ] && { random_file dst.img "$size"; attach_loop dst.img dst; }; then
	check "restore into a device of random data: zero ranges read as zeros" sh -c \
		"blksnap-restore -o '$dst' full.tar && cmp img.0 '$dst'"
	dd if=/dev/urandom of="$dst" bs=1M count=8 seek=100 conv=notrunc status=none
	check "the chain over it: blocks that became zeros read as zeros" sh -c \
		"blksnap-restore -o '$dst' full.tar inc.tar && cmp img.1 '$dst'"
else
	skip "restore into a block device" "needs root and a loop device"
fi
done_testing
