#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every compression method round-trips, full and incremental.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1
# Compressible data: text-like with random parts.
{ seq 1 2000000; head -c 4000000 /dev/urandom; } > img
truncate -s 24M img
for c in none zstd gzip xz lz4; do
	cp img "img.$c"
	check "$c: full" blksnap-send --full -c "$c" -o "f.$c" "img.$c"
	check "$c: recorded in the manifest" sh -c "blksnap-restore --list f.$c | grep -q 'compression: *$c'"
	scatter_writes "img.$c" 10
	check "$c: incremental" sh -c "blksnap-diff --scan img.$c f.$c | blksnap-send --base f.$c -c $c -o i.$c img.$c"
	check "$c: chain restores identically" sh -c "blksnap-restore -o out.$c f.$c i.$c && cmp img.$c out.$c"
done
for c in zstd gzip xz; do
	check "$c: smaller than none" test "$(stat -c %s "f.$c")" -lt "$(stat -c %s f.none)"
done
check "zstd level 19 single thread" sh -c 'blksnap-send --full -c zstd --level 19 -T 1 -o z19 img && blksnap-restore --verify z19'
check "gzip level 1" sh -c 'blksnap-send --full -c gzip --level 1 -o g1 img && blksnap-restore --verify g1'
done_testing
