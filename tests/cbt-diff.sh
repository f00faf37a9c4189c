#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# blksnap-diff from CBT dumps (made here by tests/helpers/mkcbt the way
# the module lays them out): the exact changed blocks when the history
# holds, and a full list or a scan, said in words, when it does not.
# Dumps of version 2 carry the sub-block detail: then the changed 4 KiB
# sub-blocks, not the 64 KiB blocks.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

[ -x "$BLKSNAP_BIN/tests/helpers/mkcbt" ] || skip_all "tests/helpers/mkcbt is not built"
mkcbt() {
	"$BLKSNAP_BIN/tests/helpers/mkcbt" "$@" || { not_ok "mkcbt $*"; done_testing; }
}
cd "$TMP" || exit 1

gen=0a1b2c3d-0000-4000-8000-123456789abc
other=ffffffff-0000-4000-8000-123456789abc
size=$((64 * 1048576))
random_file img $size
check "full backup recording CBT generation and snapshot 1" \
	blksnap-send --full --cbt-generation $gen --cbt-snapshot 1 -o a0.tar img
check "manifest shows the CBT fields" sh -c "blksnap-restore --list a0.tar | grep -q 'cbt: *generation $gen, snapshot 1'"

# Writes after snapshot 1 are marked 2; the dump is frozen at snapshot 2.
printf '%s\n' "1048576 4096" "5242880 65536" "67104768 4096" > written
dd if=/dev/urandom of=img bs=4096 seek=256 count=1 conv=notrunc status=none
dd if=/dev/urandom of=img bs=4096 seek=1280 count=16 conv=notrunc status=none
dd if=/dev/urandom of=img bs=4096 seek=16383 count=1 conv=notrunc status=none
mkcbt $gen 2 65536 $size 2 < written > dump2
check "diff from the dump" sh -c 'blksnap-diff a0.tar < dump2 > r2'
check "exactly the written tracking blocks" sh -c \
	'printf "# size %s\n1048576 65536\n5242880 65536\n67043328 65536\n" '$size' | cmp - r2'
check "incremental from the CBT list" sh -c \
	"blksnap-send --base a0.tar --cbt-generation $gen --cbt-snapshot 2 -o a1.tar img < r2"
check "chain restores identically" sh -c 'blksnap-restore -o out a0.tar a1.tar && cmp out img'
check "the scan agrees with the CBT" sh -c 'blksnap-diff --scan img a0.tar > s2 && cmp s2 r2'

# History lost: another generation.  Full list, with the reason said.
mkcbt $other 3 65536 $size 3 < written > dump3
if blksnap-diff a0.tar a1.tar < dump3 > r3 2> e3 && grep -q "generation changed" e3 &&
   printf '# size %s\n0 %s\n' $size $size | cmp -s - r3; then
	ok "another generation: the whole device, and why"
else
	not_ok "another generation: the whole device, and why"; diag "$(cat e3)"
fi
check "--fallback=scan scans the source instead" sh -c \
	"blksnap-diff --fallback=scan --source img a0.tar a1.tar < dump3 > r3s 2> e3s && grep -q 'scanning the source' e3s && ! grep -qv '^#' r3s"
expect_error "--fallback=fail fails, naming the reason" "generation changed" \
	sh -c 'blksnap-diff --fallback=fail a0.tar a1.tar < dump3'
# A dump not newer than the base.
mkcbt $gen 2 65536 $size 2 < written > dump2b
expect_error "dump of the base's own snapshot is not trusted" "not newer than the base's snapshot 2" \
	sh -c 'blksnap-diff --fallback=fail a0.tar a1.tar < dump2b'
# A base made without CBT.
blksnap-send --full -o plain.tar img
expect_error "base without CBT" "records no CBT generation" \
	sh -c 'blksnap-diff --fallback=fail plain.tar < dump2'
expect_error "not a dump" "not a CBT dump" sh -c 'blksnap-diff a0.tar < img'
expect_error "truncated dump" "truncated CBT dump" sh -c 'head -c 500 dump2 | blksnap-diff a0.tar'
expect_error "--fallback=scan without --source is a usage error" "needs --source" \
	sh -c 'blksnap-diff --fallback=scan a0.tar < dump2; test $? = 2 && exit 1'

# Version 2: the detail in sub-blocks of 4 KiB.  One sub-block of block 16,
# every other one of block 32, block 80 whole (no entry), the last 4 KiB.
{
	echo "1048576 4096"
	for k in 0 1 2 3 4 5 6 7; do echo "$((2097152 + k * 8192)) 4096"; done
	echo "5242880 65536"
	echo "67104768 4096"
} > written4k
mkcbt $gen 2 65536 $size 2 4096 < written4k > dump2f
check "a dump with detail is of version 2" sh -c \
	"od -A n -t u4 -j 8 -N 4 dump2f | grep -qx ' *2'"
check "diff from the dump of version 2" sh -c 'blksnap-diff a0.tar < dump2f > r2f'
{
	printf '# size %s\n' $size
	cat written4k
} > want4k
check "exactly the written 4 KiB sub-blocks, whole blocks without an entry" cmp want4k r2f
check "the same through --cbt FILE" sh -c 'blksnap-diff --cbt dump2f a0.tar | cmp - want4k'
# The image as written4k says (its other lines were written above).
for k in 0 1 2 3 4 5 6 7; do
	dd if=/dev/urandom of=img bs=4096 seek=$((512 + 2 * k)) count=1 conv=notrunc status=none
done
check "incremental from the 4 KiB list" sh -c \
	"blksnap-send --base a0.tar --cbt-generation $gen --cbt-snapshot 2 -o a1f.tar img < r2f"
check "chain restores identically from the 4 KiB list" sh -c \
	'blksnap-restore -o outf a0.tar a1f.tar && cmp outf img'
mkcbt $gen 2 65536 $size 2 < written4k > dump2c
printf '# size %s\n1048576 65536\n2097152 65536\n5242880 65536\n67043328 65536\n' $size > want64k
check "the coarse dump (version 1) of the same writes gives whole blocks" sh -c \
	'blksnap-diff a0.tar < dump2c | cmp - want64k'
# A version this blksnap does not know is refused by name.
cp dump2f dump9
printf '\011' | dd of=dump9 bs=1 seek=8 conv=notrunc status=none
expect_error "a dump of version 9 is refused by name" \
	"CBT dump version 9 is not supported \\(this blksnap reads versions 1 and 2\\)" \
	sh -c 'blksnap-diff a0.tar < dump9'
# A damaged detail is never read as a shorter list.
cp dump2f dump2x
len=$(wc -c < dump2x)
printf '\377' | dd of=dump2x bs=1 seek=$((len - 3)) conv=notrunc status=none
expect_error "a corrupted detail is refused" "CBT detail is corrupted" \
	sh -c 'blksnap-diff a0.tar < dump2x'

# A device whose size is not a multiple of the block: the last block is
# cut to 10000 bytes, its last sub-block to 1808.
small=$((3 * 65536 + 10000))
random_file simg $small
blksnap-send --full --cbt-generation $gen --cbt-snapshot 1 -o s0.tar simg
printf '%s\n' "4096 4096" "204800 1808" > swritten
mkcbt $gen 2 65536 $small 2 4096 < swritten > sdump
printf '# size %s\n4096 4096\n204800 1808\n' $small > swant
check "the cut last block: its sub-block clamped to the device" sh -c \
	'blksnap-diff s0.tar < sdump | cmp - swant'
done_testing
