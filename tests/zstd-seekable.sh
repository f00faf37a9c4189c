#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# zstd archives are seekable zstd (blksnap-archive(5)): independent
# frames and a seek table in a skippable frame, still one zstd stream
# for zstd, GNU tar and bsdtar; and the single-stream zstd archives of
# earlier versions still restore.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1
# 6 MiB: text-like, random, zeros (zero ranges) and text again.
{ seq 1 300000; head -c 2M /dev/urandom; head -c 1M /dev/zero; seq 1 200000; } > img
truncate -s 6M img
check "full zstd archive" blksnap-send --full -c zstd -T 2 -o full.zst img
check "zstd -t reads it" zstd -q -t full.zst
if zstd -l full.zst > list 2>&1; then
	frames=$(awk 'NR == 2 { print $1 }' list)
	skips=$(awk 'NR == 2 { print $2 }' list)
	check "several frames ($frames) and one skippable frame, the seek table ($skips)" \
		test "$frames" -gt 3 -a "$skips" -eq 1
else
	not_ok "zstd -l lists it"
	diag "$(cat list)"
fi
# The first frame, the manifest and the image's headers, stored: the
# manifest is there as text.
check "the first frame is stored: the manifest reads at the start" \
	sh -c 'head -c 4096 full.zst | tr "\0" "\n" | grep -q "^uuid="'
# The last 4 bytes: the seekable magic 0x8F92EAB1, little-endian.
check "it ends with the seek table's magic" \
	test "$(tail -c 4 full.zst | od -An -tx1 | tr -d ' \n')" = b1ea928f
if have tar && tar --help 2>/dev/null | grep -q -- --zstd; then
	check "tar --zstd -tf lists its entries" \
		sh -c 'test "$(tar --zstd -tf full.zst | tr "\n" " ")" = "blksnap.manifest img.img blksnap.hashes "'
	check "GNU tar extracts the image" \
		sh -c 'mkdir x && tar --zstd -xf full.zst -C x img.img && cmp img x/img.img'
else
	skip "tar --zstd -tf lists its entries" "no GNU tar with --zstd"
	skip "GNU tar extracts the image" "no GNU tar with --zstd"
fi
if have bsdtar; then
	check "bsdtar -tf lists its entries" \
		sh -c 'test "$(bsdtar -tf full.zst | tr "\n" " ")" = "blksnap.manifest img.img blksnap.hashes "'
	check "bsdtar extracts the image" \
		sh -c 'mkdir y && bsdtar -xf full.zst -C y img.img && cmp img y/img.img'
else
	skip "bsdtar -tf lists its entries" "no bsdtar (libarchive-tools)"
	skip "bsdtar extracts the image" "no bsdtar (libarchive-tools)"
fi
check "restores identically" sh -c 'blksnap-restore -o out full.zst && cmp img out'
cp img img2
scatter_writes img2 20
check "an incremental in zstd" sh -c 'blksnap-diff --scan img2 full.zst | blksnap-send --base full.zst -c zstd -o inc.zst img2'
check "the chain restores identically" sh -c 'blksnap-restore -o out2 full.zst inc.zst && cmp img2 out2'
# A flipped bit, not a fixed byte: offset 600000 may lie in the random
# data, stored raw, where any fixed byte is already there once in 256.
cp full.zst bad.zst
flip_bit bad.zst 600000
check "a damaged frame fails the restore" \
	sh -c '! blksnap-restore --verify bad.zst 2>/dev/null'

# tests/data/old-zstd.tar.zst: a full archive of the first 100000 bytes
# of "seq 1 100000", written by blksnap-send 0.2.0 before seekable zstd
# (libarchive's zstd filter: a single zstd frame, no seek table).
old=$top_srcdir/tests/data/old-zstd.tar.zst
seq 1 100000 | head -c 100000 > oldimg
check "the old archive has no seek table" \
	test "$(tail -c 4 "$old" | od -An -tx1 | tr -d ' \n')" != b1ea928f
check "an old single-stream zstd archive verifies" blksnap-restore --verify "$old"
check "an old single-stream zstd archive restores identically" \
	sh -c 'blksnap-restore -o oldout "$1" && cmp oldimg oldout' sh "$old"
done_testing
