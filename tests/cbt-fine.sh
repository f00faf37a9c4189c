#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# blksnap-cbt reading the sub-block detail with the map, without the
# module: tests/helpers/fakecbt.so, preloaded, answers the control
# device's ioctls from a CBT dump made by tests/helpers/mkcbt, as the
# UAPI describes them (chunks along the cursor, an older module without
# the detail, races with a snapshot, the live map moving on).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

shim=$BLKSNAP_BIN/tests/helpers/.libs/fakecbt.so
mkcbt=$BLKSNAP_BIN/tests/helpers/mkcbt
[ -x "$mkcbt" ] || skip_all "tests/helpers/mkcbt is not built"
[ -r "$shim" ] || skip_all "tests/helpers/fakecbt.so is not built (no shared libraries?)"
cd "$TMP" || exit 1
# A block device node (7:250) that no driver needs to answer: blksnap-cbt
# only asks its number, the fake module the rest.
mknod dev b 7 250 2>/dev/null || skip_all "cannot create a block device node here (not root?)"
# In a sanitized build the sanitizers' runtimes must be loaded first.
preload="$(sanitizer_runtimes "$BLKSNAP_BIN/src/.libs/blksnap-cbt")$shim"
fake() {
	with_preload "$preload" blksnap-cbt "$@"
}

gen=0a1b2c3d-0000-4000-8000-123456789abc
# 3 blocks of 64 KiB and one cut to 10 KiB (3 sub-blocks, the last of
# 2 KiB): one sub-block of block 0, block 1 whole (no entry), every other
# sub-block of block 2, the last bytes of the device.
size=$((3 * 65536 + 10240))
{
	echo "4096 4096"
	echo "65536 65536"
	for k in 0 1 2 3 4 5 6 7; do echo "$((131072 + k * 8192)) 4096"; done
	echo "204800 2048"
} > written
"$mkcbt" $gen 2 65536 $size 2 4096 < written > frozen.cbt
FAKECBT_DUMP=$TMP/frozen.cbt
export FAKECBT_DUMP
# Block 1 runs into sub-block 0 of block 2: one range.
{
	printf '# size %s\n4096 4096\n65536 69632\n' $size
	for k in 1 2 3 4 5 6 7; do echo "$((131072 + k * 8192)) 4096"; done
	echo "204800 2048"
} > want
head -c $size /dev/zero > img
blksnap-send --full --cbt-generation $gen --cbt-snapshot 1 -o base.tar img

if fake ./dev > got.cbt 2> err && cmp -s frozen.cbt got.cbt; then
	ok "the dump holds the map and the detail as the module gives them (version 2)"
else
	not_ok "the dump holds the map and the detail as the module gives them (version 2)"
	diag "$(cat err)"
fi
fake --ranges --since 1 ./dev > got.ranges 2> err
check "--ranges --since 1: the written 4 KiB sub-blocks, the whole block, the cut end" \
	cmp want got.ranges
check "blksnap-diff's list over the dump is the same" sh -c \
	'blksnap-diff base.tar < got.cbt | cmp - want'
printf '# size %s\n' $size > nothing
fake --ranges --since 2 ./dev > got2.ranges 2> err
check "--ranges --since 2: nothing changed after snapshot 2" cmp nothing got2.ranges
if fake --info --since 1 ./dev > info 2>&1 &&
   grep -q '^sub-blocks: *4096 bytes, detail for 3 blocks' info &&
   grep -q 'changed since snapshot 1: 102.00 KiB in 10 ranges' info; then
	ok "--info gives the sub-block size, the blocks with detail, the bytes changed"
else
	not_ok "--info gives the sub-block size, the blocks with detail, the bytes changed"
	diag "$(cat info)"
fi

# The module returns 2 entries a call: the cursor leads to every one.
FAKECBT_CHUNK=2 fake ./dev > chunk.cbt 2> err
check "read in chunks along the cursor: the same dump" cmp frozen.cbt chunk.cbt
# A snapshot taken while reading: read again.
FAKECBT_RACE=3 fake ./dev > race.cbt 2> err
check "a race with a snapshot is read again: the same dump" cmp frozen.cbt race.cbt
expect_error "a state that keeps changing is refused" "kept changing while being read" \
	with_preload "$preload" env FAKECBT_RACE=100 blksnap-cbt ./dev
# A module older than interface 1.4: no detail, a dump of version 1.
"$mkcbt" $gen 2 65536 $size 2 < written > coarse.cbt
FAKECBT_FEATURES=0 fake ./dev > old.cbt 2> err
check "an older module: a dump of version 1, as before" cmp coarse.cbt old.cbt
printf '# size %s\n0 %s\n' $size $size > whole
FAKECBT_FEATURES=0 fake --ranges --since 1 ./dev > old.ranges 2> err
check "an older module: --ranges lists whole blocks" cmp whole old.ranges
FAKECBT_FEATURES=0 fake --info ./dev > info 2>&1
check "an older module: --info says why there is no detail" \
	grep -q 'sub-blocks: *none: every block changed as a whole (the module predates interface 1.4)' info
# A module that keeps no detail for the device (sub_size = block size).
FAKECBT_DUMP=$TMP/coarse.cbt fake ./dev > none.cbt 2> err
check "no detail kept: a dump of version 1" cmp coarse.cbt none.cbt
# The live map: a write to sub-block 1 of block 3 between the map's read
# and the detail's is in the detail only; the dump marks the block too.
FAKECBT_LIVE=3:1 fake --ranges --since 2 --current ./dev > live.ranges 2> err
printf '# size %s\n200704 4096\n' $size > want.live
check "the live detail's newer mark is kept, its block raised in the map" cmp want.live live.ranges
FAKECBT_LIVE=0:9 fake --current ./dev > live.cbt 2> err
check "a live dump with a newer mark in the detail reads back" sh -c \
	'blksnap-diff --fallback=fail base.tar < live.cbt > live.diff'
check "and gives that sub-block" grep -qx '36864 4096' live.diff
# A module breaking the contract: refused by name, no dump.
expect_error "a detail that disagrees with the map is refused" \
	"the module's change map and its sub-block detail disagree: \./dev: CBT detail entry 0: the largest mark of block 0's sub-blocks, 3, is not its map byte 2" \
	with_preload "$preload" env FAKECBT_BAD=1 blksnap-cbt -o bad.cbt ./dev
check "and no dump is left" test ! -e bad.cbt
done_testing
