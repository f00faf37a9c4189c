#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# blksnap-diff from CBT dumps (made here by tests/helpers/mkcbt the way
# the module lays them out): the exact changed blocks when the history
# holds, and a full list or a scan, said in words, when it does not.
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
done_testing
