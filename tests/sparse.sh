#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Sparse images stay sparse; sizes that are not a multiple of the hash
# block round-trip; an empty source gets a clear answer.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1

# 1 GiB logical, 3 islands of data.
truncate -s 1G sparse.img
for at in 0 300 1023; do
	dd if=/dev/urandom of=sparse.img bs=1M seek=$at count=1 conv=notrunc status=none
done
if [ "$(allocated_blocks sparse.img)" -gt 8192 ]; then
	skip_all "this filesystem ($TMP) does not keep files sparse"
fi

check "full backup of a sparse image" blksnap-send --full -c none -o s.tar sparse.img
size=$(stat -c %s s.tar)
if [ "$size" -lt $((4 * 1048576)) ]; then ok "archive holds the data only ($size bytes)"; else not_ok "archive holds the data only ($size bytes)"; fi
check "manifest counts 3 MiB of data" sh -c 'blksnap-restore --list s.tar | grep -q "data: *3145728 bytes (3.00 MiB) in 3 ranges"'
check "restore" blksnap-restore -o out.img s.tar
check "restored image identical" cmp sparse.img out.img
alloc=$(allocated_blocks out.img)
if [ "$alloc" -le 8192 ]; then ok "restored image is sparse ($alloc blocks)"; else not_ok "restored image is sparse ($alloc blocks)"; fi

# An incremental that writes into a hole.
dd if=/dev/urandom of=sparse.img bs=4096 seek=50000 count=2 conv=notrunc status=none
check "scan finds the write in the hole" sh -c 'blksnap-diff --scan sparse.img s.tar > r && test "$(grep -vc "^#" r)" = 1'
check "incremental" sh -c 'blksnap-send --base s.tar -o s1.tar sparse.img < r'
rm -f out.img
check "chain restores identically" sh -c 'blksnap-restore -o out.img s.tar s1.tar && cmp sparse.img out.img'

# A size that is no multiple of the hash block (or even of 512).
random_file odd.img $((65536 * 10 + 777))
check "odd-sized full backup" blksnap-send --full -o odd.tar odd.img
printf 'tail' | dd of=odd.img bs=1 seek=$((65536 * 10 + 770)) conv=notrunc status=none
check "scan sees the change in the short last block" sh -c \
	"blksnap-diff --scan odd.img odd.tar > odd.r && grep -qx '655360 777' odd.r"
check "odd-sized incremental" sh -c 'blksnap-send --base odd.tar -o odd1.tar odd.img < odd.r'
check "odd-sized chain restores identically" sh -c \
	'blksnap-restore -o odd.out odd.tar odd1.tar && cmp odd.img odd.out && test "$(stat -c %s odd.out)" = $((65536 * 10 + 777))'

# A small hash block and a source smaller than one block.
random_file tiny.img 1000
check "source smaller than a hash block" sh -c \
	'blksnap-send --full -B 4K -o tiny.tar tiny.img && blksnap-restore -o tiny.out tiny.tar && cmp tiny.img tiny.out'

: > empty.img
expect_error "an empty source is refused with its name" "empty.img: the source is empty \(0 bytes\)" \
	blksnap-send --full -o empty.tar empty.img
check "no archive left behind for the empty source" test ! -e empty.tar

# A file of holes only: an archive without data regions.
truncate -s 100M holes.img
check "all-hole image" sh -c 'blksnap-send --full -c none -o holes.tar holes.img && test "$(stat -c %s holes.tar)" -lt 100000'
check "all-hole image restores" sh -c 'blksnap-restore -o holes.out holes.tar && cmp holes.img holes.out'
# An incremental with no changes at all.
check "empty incremental" sh -c 'printf "" | blksnap-send --base holes.tar -o holes1.tar holes.img && blksnap-restore -o holes.out2 holes.tar holes1.tar && cmp holes.img holes.out2'

# Enough data (80 MiB, over 64 MiB) to be read on several threads: eight
# regions, none starting or ending on a hash block, the last block short; every byte must come out in
# its place, and an incremental of scattered 4 KiB writes over it too.
truncate -s $((96 * 1048576 + 777)) big.img
for at in 0 12 24 36 48 60 72 84; do
	dd if=/dev/urandom of=big.img bs=4k seek=$((at * 256 + 3)) count=2600 conv=notrunc status=none
done
dd if=/dev/urandom of=big.img bs=1 seek=$((96 * 1048576)) count=777 conv=notrunc status=none
check "large sparse odd-sized full backup" blksnap-send --full -c none -o big.tar -m big.man big.img
check "it restores identically" sh -c 'blksnap-restore -o big.out big.tar && cmp big.img big.out'
check "its zstd archive restores identically" sh -c 'blksnap-send --full -T 2 -o bigz.tar big.img && blksnap-restore -o bigz.out bigz.tar && cmp big.img bigz.out'
check "scan of the unchanged image finds nothing" sh -c 'test "$(blksnap-diff --scan big.img big.man | grep -vc "^#")" -eq 0'
cp big.img big.0
scatter_writes big.img 50
check "scan of the changed image" sh -c 'blksnap-diff --scan big.img big.man > big.r && test "$(grep -vc "^#" big.r)" -ge 1'
check "its incremental restores identically" sh -c 'blksnap-send --base big.man -c none -o big1.tar big.img < big.r && blksnap-restore -o big.out1 big.tar big1.tar && cmp big.img big.out1'
# The same read with the image out of the page cache (where the filesystem
# lets it go): the reads that find no cached data read the next ranges ahead.
check "its incremental read from outside the page cache restores identically" sh -c 'dd if=big.img iflag=nocache count=0 status=none && blksnap-send --base big.man -c none -o big2.tar big.img < big.r && blksnap-restore -o big.out2 big.tar big2.tar && cmp big.img big.out2'

# A base whose image header (its sparse map of 8192 ranges, ~100 KiB) is
# longer than the block in which a manifest alone is read.
truncate -s 64M many.img
check "full backup with 4 KiB hash blocks" blksnap-send --full -c none -B 4K -o many.0.tar many.img
awk 'BEGIN { for (i = 0; i < 8192; i++) print i * 8192, 4096 }' > many.r
dd if=/dev/urandom of=many.img bs=4k count=16384 conv=notrunc status=none
check "incremental of 8192 ranges" sh -c 'blksnap-send --base many.0.tar -c none -o many.1.tar many.img < many.r'
# (GNU sparse 1.0: the map, one decimal number a line, starts the entry's data)
check "its sparse map is over 64 KiB" sh -c 'blksnap-restore --list many.1.tar | grep -q " in 8192 ranges" && test "$(awk "{ n += length(\$1) + length(\$2) + 2 } END { print n }" many.r)" -gt 65536'
check "an incremental over it" sh -c 'printf "0 4096\n" | blksnap-send --base many.1.tar -c none -o many.2.tar many.img'
check "the chain restores the listed ranges" sh -c 'blksnap-restore -o many.out many.0.tar many.1.tar many.2.tar && blksnap-restore --verify many.0.tar many.1.tar many.2.tar'

done_testing
