#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Restore from pipes (blksnap-restore(8)): archives on standard input,
# FIFOs or a shell's <(...) are read once, in one pass; into a file as
# from files (renamed only when every block matched); into a device
# written while verified, a failure naming the partial restore and the
# offset.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1

# feed FIFO FILE: a writer of FILE into FIFO in the background; unfeed
# ends those a failed restore left waiting.
feeders=
feed() {
	rm -f "$1" && mkfifo "$1" && { cat "$2" > "$1" & } && feeders="$feeders $!"
}
unfeed() {
	for p in $feeders; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	feeders=
}
at_exit unfeed

{ seq 1 200000; head -c 3M /dev/urandom; } > img
truncate -s 8M img
for c in none zstd; do
	cp img "img.$c"
	blksnap-send --full -c "$c" -o "a0.$c" "img.$c" || exit 1
	cp "img.$c" "img0.$c"
	chain="a0.$c"
	for n in 1 2 3; do
		scatter_writes "img.$c" 8
		blksnap-diff --scan "img.$c" $chain > "r$n" &&
			blksnap-send --base "a$((n - 1)).$c" -c "$c" -o "a$n.$c" "img.$c" < "r$n" || exit 1
		chain="$chain a$n.$c"
	done
	check "$c: a full archive through cat | on standard input restores identically" \
		sh -c "cat a0.$c | timeout 120 blksnap-restore -o out0.$c - && cmp out0.$c img0.$c"
	feed p0 "a0.$c"; feed p1 "a1.$c"; feed p2 "a2.$c"; feed p3 "a3.$c"
	check "$c: a full and 3 incrementals on FIFOs restore identically" \
		sh -c "timeout 120 blksnap-restore -o out.$c p0 p1 p2 p3 && cmp out.$c img.$c"
	unfeed
	if have bash; then
		check "$c: the same chain through <(cat ...)" bash -c \
			"blksnap-restore -o outb.$c <(cat a0.$c) <(cat a1.$c) <(cat a2.$c) <(cat a3.$c) && cmp outb.$c img.$c"
	else
		skip "$c: the same chain through <(cat ...)" "no bash"
	fi
	feed p0 "a0.$c"; feed p1 "a1.$c"
	check "$c: files and pipes mixed, and --verify" \
		sh -c "timeout 120 blksnap-restore --verify p0 a1.$c && cat a2.$c | timeout 120 blksnap-restore --verify a0.$c a1.$c - a3.$c"
	unfeed
done

feed p0 a1.zstd; feed p1 a0.zstd
expect_error "a chain out of order on pipes fails before any data" \
	"cannot start a chain: give its full archive first" timeout 120 blksnap-restore -o order.img p0 p1
unfeed
check "and leaves no target" test ! -e order.img
expect_usage_error "standard input twice" "only one archive" \
	blksnap-restore -o x.img - - < a0.none

# A bit of image data flipped (uncompressed archives, 4 MiB into the
# full one, 1 KiB into the data of the last incremental), read from a
# pipe.
cp a0.none bad0.none
flip_bit bad0.none 4194304
cp a3.none bad3.none
flip_bit bad3.none $(( $(stat -c %s a3.none) / 2 ))
expect_error "a damaged archive through a pipe into a file fails, naming the offset" \
	"corrupted archive: image data at offset [0-9]+ .*does not match" \
	sh -c 'cat bad0.none | timeout 120 blksnap-restore -o bad.img -'
check "and leaves no target file" test ! -e bad.img

# Into a device.
if ! have losetup; then
	skip "into a device" "losetup is not installed"
	done_testing
fi
head -c 8M /dev/urandom > dst.img
if ! attach_loop dst.img dev; then
	skip "into a device" "cannot attach a loop device here (not root, or no /dev/loop-control)"
	done_testing
fi
feed p0 a0.zstd; feed p1 a1.zstd; feed p2 a2.zstd; feed p3 a3.zstd
check "a chain on FIFOs into a device restores identically" \
	sh -c "timeout 120 blksnap-restore -v -o $dev p0 p1 p2 p3 2> dev.msg && cmp $dev img.zstd"
unfeed
check "saying that it writes while verifying" grep -q "writing to $dev while verifying" dev.msg
expect_error "a damaged full archive on standard input into a device stops, naming the offset and the partial restore" \
	"standard input\): corrupted archive: image data at offset 4[0-9]{6} .*$dev now holds a partial restore: \(standard input\) was written up to image offset [0-9]+ before it failed verification" \
	sh -c "cat bad0.none | timeout 120 blksnap-restore -o $dev -"
feed p0 a0.none; feed p3 bad3.none
expect_error "a damaged incremental on a pipe: the archives before it were restored" \
	"p3: corrupted archive: image data at offset [0-9]+ .*$dev now holds a partial restore: the archives before p3 were restored" \
	timeout 120 blksnap-restore -o "$dev" p0 a1.none a2.none p3
unfeed
done_testing
