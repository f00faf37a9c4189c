#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every bad input fails with exit status 1, a message naming the thing and
# the reason, and loses nothing: an existing target keeps its content and
# no temporary file is left behind.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1
random_file img 3000000
blksnap-send --full -c none -o full.tar img || exit 1
scatter_writes img 20
blksnap-diff --scan img full.tar > r1
blksnap-send --base full.tar -c none -o inc1.tar img < r1 || exit 1
scatter_writes img 20
blksnap-diff --scan img full.tar inc1.tar > r2
blksnap-send --base inc1.tar -c none -o inc2.tar img < r2 || exit 1
echo "precious content" > target
cp target target.orig

# The target must be as it was and the directory free of temporaries.
target_untouched() {
	cmp -s target target.orig && [ -z "$(ls -A | grep '^\.target\.')" ]
}

restore_fails() {
	desc=$1 pattern=$2
	shift 2
	expect_error "$desc" "$pattern" blksnap-restore -o target "$@"
	if target_untouched; then ok "$desc: target untouched"; else not_ok "$desc: target untouched"; fi
	cp target.orig target
	rm -f .target.*
}

# --- not an archive --------------------------------------------------------
echo "just some text" > text.tar
: > empty.tar
head -c 100000 /dev/urandom > random.tar
tar -cf plain.tar img
gzip -c img > img.gz
restore_fails "text file" "text.tar: not a blksnap archive" text.tar
restore_fails "empty file" "empty.tar: not a blksnap archive" empty.tar
restore_fails "random bytes" "random.tar: not a blksnap archive" random.tar
restore_fails "plain tar" "plain.tar: not a blksnap archive \(its first entry is 'img'" plain.tar
restore_fails "gzip file" "img.gz: not a blksnap archive" img.gz
restore_fails "missing file" "nosuch.tar: cannot open: No such file" nosuch.tar
expect_error "diff refuses a text file as base" "text.tar: not a blksnap archive" \
	blksnap-diff --scan img text.tar
expect_error "send refuses a text file as base" "text.tar: not a blksnap archive" \
	sh -c 'blksnap-send --base text.tar -o x.tar img < r1'
check "no archive left by the refused send" test ! -e x.tar

# Found by fuzzing: an entry whose header leaves it without a name.
expect_error "entry without a name" "nameless-entry.tar: damaged archive: expected the image entry" \
	blksnap-restore --verify "$top_srcdir/tests/data/nameless-entry.tar"

# --- truncated archives ----------------------------------------------------
size=$(stat -c %s full.tar)
for cut in 100 600 2048 100000 $((size / 2)) $((size - 70000)) $((size - 1100)) $((size - 1025))
do
	head -c "$cut" full.tar > cut.tar
	restore_fails "archive truncated to $cut bytes" "cut.tar: .*(truncated|damaged|Truncated|not a blksnap)" cut.tar
done
# An archive ends with two blocks of zeros (blksnap-archive(5)): one cut
# before or inside them has all its entries, and is still incomplete.
for cut in 1 512 700 1024; do
	head -c $((size - cut)) full.tar > cut.tar
	expect_error "verify: archive cut $cut bytes before its end" \
		"cut.tar: (truncated archive: its end-of-archive blocks are missing|damaged archive .*Truncated tar archive)" \
		blksnap-restore --verify cut.tar
done
restore_fails "restore: archive cut before its end-of-archive blocks" \
	"cut.tar: truncated archive: its end-of-archive blocks are missing" cut.tar
# Compressed, the blocks are inside the compressed stream: a stream that
# is whole but holds a tar cut short.
blksnap-send --full -c gzip -o full.gz.tar img || exit 1
gzip -dc full.gz.tar > plain-of-gz.tar
head -c $(($(stat -c %s plain-of-gz.tar) - 1024)) plain-of-gz.tar | gzip -c > cutg.tar
expect_error "verify: gzip stream of an archive without its end-of-archive blocks" \
	"cutg.tar: truncated archive: its end-of-archive blocks are missing" \
	blksnap-restore --verify cutg.tar
head -c $(($(stat -c %s full.gz.tar) - 4)) full.gz.tar > cutg.tar
expect_error "verify: gzip stream cut in its trailer" "cutg.tar: .*(truncated|damaged)" \
	blksnap-restore --verify cutg.tar
# A manifest file, read without libarchive.
blksnap-send --full -c none -o /dev/null -m full.man img || exit 1
head -c $(($(stat -c %s full.man) - 512)) full.man > cut.man
expect_error "list: manifest file cut inside its end-of-archive blocks" \
	"cut.man: truncated archive: its end-of-archive blocks are missing at byte [0-9]+" \
	blksnap-restore --list cut.man
check "list: the whole manifest file" blksnap-restore --list full.man
zstd_size=0
blksnap-send --full -c zstd -o full.zst.tar img && zstd_size=$(stat -c %s full.zst.tar)
head -c $((zstd_size * 2 / 3)) full.zst.tar > cutz.tar
restore_fails "compressed archive truncated" "cutz.tar: .*(truncated|damaged|Truncated)" cutz.tar

# --- flipped bits ----------------------------------------------------------
# A bit in the image data: the archive and the hash block's offset named.
cp full.tar flip.tar
# Image data starts after the manifest and pax headers: flip a byte
# 1 MiB into the archive, well inside the 3 MB image.
flip_bit flip.tar 1048576
restore_fails "flipped bit in image data" "flip.tar: corrupted archive: image data at offset [0-9]+ " flip.tar
expect_error "verify finds the flipped bit too" "flip.tar: corrupted archive: image data at offset" \
	blksnap-restore --verify flip.tar
# In the manifest.
cp full.tar flipm.tar
mpos=$(grep -abo 'hash_block_size=' full.tar | head -1 | cut -d: -f1)
printf '9' | dd of=flipm.tar bs=1 seek=$((mpos + 16)) conv=notrunc status=none
restore_fails "flipped manifest" "flipm.tar: manifest is corrupted" flipm.tar
# In the hash index (the last entry).
cp full.tar fliph.tar
hpos=$(grep -abo 'BSNAPHIX' full.tar | tail -1 | cut -d: -f1)
flip_bit fliph.tar $((hpos + 60))
restore_fails "flipped hash index" "fliph.tar: hash index is corrupted" fliph.tar
# In a compressed archive.
cp full.zst.tar flipz.tar
flip_bit flipz.tar $((zstd_size / 2))
restore_fails "flipped bit in a compressed archive" "flipz.tar: " flipz.tar

# --- chains out of order ---------------------------------------------------
restore_fails "incremental alone" "inc1.tar: an incremental archive .* cannot start a chain" inc1.tar
restore_fails "missing middle" "inc2.tar: out of order: its parent is archive .* but it follows full.tar" full.tar inc2.tar
restore_fails "swapped incrementals" "out of order" full.tar inc2.tar inc1.tar
restore_fails "full after full" "full.zst.tar: a full archive cannot follow full.tar" full.tar full.zst.tar
restore_fails "other chain's full" "inc1.tar: out of order" full.zst.tar inc1.tar
expect_error "scan refuses a chain out of order" "out of order" blksnap-diff --scan img full.tar inc2.tar
expect_error "restore into one of its archives" "the target is the archive full.tar itself" \
	blksnap-restore -o full.tar full.tar
check "that archive is intact" blksnap-restore --verify full.tar

# --- an incremental of another filesystem ----------------------------------
# Two ext4 images of one size: the second is not the device the chain of
# the first is of, though its size fits.
if have mkfs.ext4 && truncate -s 16M fs1.img fs2.img &&
	mkfs.ext4 -q -F fs1.img > /dev/null 2>&1 &&
	mkfs.ext4 -q -F fs2.img > /dev/null 2>&1; then
	uuid1=$(blksnap-send --full -c none -o fs1.tar -m fs1.man fs1.img &&
		blksnap-restore --list fs1.tar | sed -n 's/.*ext4, UUID \([^,)]*\).*/\1/p')
	echo '0 65536' > fs.ranges
	expect_error "incremental of another filesystem refused" \
		"fs2.img holds the filesystem UUID [-0-9a-f]+ but the base fs1.man was of UUID $uuid1: another device\\? .*--other-filesystem" \
		blksnap-send --base fs1.man -c none -o fs2.tar -r fs.ranges fs2.img
	check "the refusal wrote no archive" test ! -e fs2.tar
	check "the same filesystem is accepted" \
		blksnap-send --base fs1.man -c none -o fs1i.tar -r fs.ranges fs1.img
	check "--other-filesystem sends it" \
		blksnap-send --base fs1.man --other-filesystem -c none -o fs2.tar -r fs.ranges fs2.img
	check "--other-filesystem goes with --base only" sh -c \
		'! blksnap-send --full --other-filesystem -o x.tar fs2.img 2> /dev/null && test ! -e x.tar'
	rm -f fs1.img fs2.img
else
	skip "incremental of another filesystem" "mkfs.ext4 cannot make a filesystem in a file here"
fi

# --- malformed range lists -------------------------------------------------
send_ranges() {
	desc=$1 pattern=$2 list=$3
	printf '%b' "$list" > bad.ranges
	expect_error "range list: $desc" "$pattern" blksnap-send --base full.tar -o bad.tar --ranges bad.ranges img
	check "$desc: no archive written" test ! -e bad.tar
}
send_ranges "unsorted" "bad.ranges:2: ranges not sorted" '65536 4096\n0 4096\n'
send_ranges "overlapping" "bad.ranges:2: range at 4096 overlaps" '0 8192\n4096 100\n'
send_ranges "past the end" "range .* ends past the end of the source" '2999000 4096\n'
send_ranges "negative" "bad.ranges:1: expected 'OFFSET LENGTH'" '-4096 4096\n'
send_ranges "garbage" "bad.ranges:1: expected 'OFFSET LENGTH' .*got 'hello'" 'hello\n'
send_ranges "wrong stated size" "states a device size of 4096 bytes" '# size 4096\n0 4096\n'
expect_error "range list from stdin named" "standard input:1: expected" \
	sh -c 'echo "1 2 3" | blksnap-send --base full.tar -o bad.tar img'

# --- unreadable sources ----------------------------------------------------
expect_error "missing source" "nosuch.img: cannot open: No such file or directory" \
	blksnap-send --full -o x.tar nosuch.img
expect_error "directory as source" "\.: not a block device or a regular file" \
	blksnap-send --full -o x.tar .
expect_error "unknown label" "LABEL=no-such-label-here: no such device" \
	blksnap-send --full -o x.tar LABEL=no-such-label-here
mkfifo fifo
expect_error "fifo as source" "fifo: not a block device or a regular file" \
	blksnap-send --full -o x.tar fifo
expect_error "source size differs from the base" "has 3000001 bytes but the base full.tar was of 3000000" \
	sh -c 'cp img big && echo >> big && blksnap-send --base full.tar -o x.tar big < r1'
check "no archive left by any refused send" test ! -e x.tar
# A source this user may not read (as nobody, when we are root).
if [ "$(id -u)" = 0 ] && have setpriv &&
   setpriv --reuid=65534 --regid=65534 --clear-groups blksnap-send --version >/dev/null 2>&1; then
	chmod 755 "$TMP"
	cp img secret && chmod 600 secret
	expect_error "source without read permission" "secret: cannot open: Permission denied" \
		setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "blksnap-send --full '$TMP/secret' > /dev/null"
else
	skip "source without read permission" "needs root and setpriv to run as another user"
fi

# --- usage errors exit 2 ----------------------------------------------------
for args in "" "--full" "--full --base full.tar img" "--bogus img" "--full -c rar img" "--full -B 1000 img"; do
	# shellcheck disable=SC2086
	blksnap-send $args > /dev/null 2> usage.err
	st=$?
	if [ "$st" -eq 2 ] && grep -q "Try 'blksnap-send --help'" usage.err; then
		ok "usage error exits 2: blksnap-send $args"
	else
		not_ok "usage error exits 2: blksnap-send $args (got $st)"
	fi
done
blksnap-restore full.tar > /dev/null 2>&1
if [ $? -eq 2 ]; then ok "restore without a mode exits 2"; else not_ok "restore without a mode exits 2"; fi

# --- output cut short -------------------------------------------------------
{ blksnap-send --full -c none img 2> pipe.err; echo $? > pipe.status; } | head -c 1000 > /dev/null
if [ "$(cat pipe.status)" = 1 ] && grep -q "standard output: write error: Broken pipe" pipe.err; then
	ok "a closed pipe fails the send, named"
else
	not_ok "a closed pipe fails the send (status $(cat pipe.status): $(cat pipe.err))"
fi
blksnap-send --full -c none img > /dev/full 2> full.err
st=$?
if [ $st -eq 1 ] && grep -q "No space left on device" full.err; then
	ok "writing to /dev/full fails with ENOSPC named"
else
	not_ok "writing to /dev/full fails with ENOSPC named (status $st: $(cat full.err))"
fi
blksnap-diff --scan img full.tar > /dev/full 2> full.err
st=$?
if [ $st -eq 1 ] && grep -q "write error" full.err; then ok "range list to /dev/full fails"; else not_ok "range list to /dev/full fails (status $st)"; fi

# Outputs that are not regular files are written in place, never replaced.
check "--output /dev/null keeps /dev/null a device" sh -c \
	'blksnap-send --full -c none -o /dev/null img && test -c /dev/null'
mkfifo out.fifo
check "--output to a FIFO streams through it" sh -c \
	'cat out.fifo > fifo.tar & blksnap-send --full -c none -o out.fifo img && wait && blksnap-restore --verify fifo.tar'
mkdir outdir
expect_error "--output to a directory is refused" "outdir: is a directory" \
	blksnap-send --full -o outdir img

mkdir small
if mount -t tmpfs -o size=1m tmpfs small 2>/dev/null; then
	at_exit "umount '$TMP/small'"
	expect_error "archive on a full filesystem" "small/a.tar: write error.*No space left on device" \
		blksnap-send --full -c none -o small/a.tar img
	check "nothing left on the full filesystem" test -z "$(ls -A small)"
	expect_error "restore into a full filesystem" "small/r.img.*No space left on device" \
		blksnap-restore -o small/r.img full.tar
	check "no temporary left on the full filesystem" test -z "$(ls -A small)"
	expect_error "manifest file on a full filesystem" "No space left on device" \
		sh -c 'head -c 2000000 /dev/urandom > small/fill 2>/dev/null; blksnap-send --full -c none -o a.tar -m small/m img'
	check "no manifest file or archive left" sh -c 'test ! -e a.tar && test "$(ls -A small)" = fill'
else
	skip "full filesystem cases" "cannot mount a tmpfs here (not root?)"
fi

done_testing
