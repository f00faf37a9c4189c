#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# blksnap-send --resume into a local file: a send killed after N bytes
# (by the kernel's file size limit, SIGXFSZ: exactly N, nothing of the
# tool runs after; and once by SIGKILL), or stopped by a full
# filesystem, continues from FILE.part to an archive that verifies and
# restores identically; a changed source, another source and a partial
# file held by another send are refused by name and left as they are;
# standard output, gzip, xz, lz4 and http:// cannot resume.  The same
# for zstd, which resumes from the partial file's last whole frame, to
# the archive an uninterrupted send makes, byte for byte.
# (S3: tests/remote-s3.sh.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1
MiB=1048576

have prlimit || skip_all "prlimit (util-linux) is not installed"

# 24 MiB: random data, 4 MiB of written zeros, a 4 MiB hole, data again.
random_file img $((24 * MiB))
dd if=/dev/zero of=img bs=1M seek=6 count=4 conv=notrunc status=none
fallocate -p -o $((14 * MiB)) -l $((4 * MiB)) img 2>/dev/null ||
	dd if=/dev/zero of=img bs=1M seek=14 count=4 conv=notrunc status=none
blksnap-send --full -c none -o ref.tar img 2>/dev/null
ref_size=$(stat -c %s ref.tar)

# restores_as ARCHIVE... IMAGE: the chain verifies and restores to IMAGE.
restores_as() {
	_want=$(eval echo "\${$#}")
	_n=$(($# - 1))
	_chain=
	_i=1
	for _a in "$@"; do
		[ "$_i" -le "$_n" ] && _chain="$_chain $_a"
		_i=$((_i + 1))
	done
	rm -f restored
	# shellcheck disable=SC2086
	blksnap-restore --verify $_chain >/dev/null 2>&1 &&
		blksnap-restore -o restored $_chain >/dev/null 2>&1 &&
		cmp -s restored "$_want"
}

# cut N OUT SEND-ARGS...: a resumable send (-c $C) killed after N bytes
# of OUT.
C=none
cut_at() {
	_n=$1 _out=$2
	shift 2
	prlimit --fsize="$_n" blksnap-send --resume -c "$C" -o "$_out" "$@" \
		>/dev/null 2>&1
}

# cut_leaves N OUT: the send cut at N left OUT.part of N bytes, no OUT
# (its status in $st).
cut_leaves() {
	_size=$(stat -c %s "$2.part" 2>/dev/null || echo 0)
	if [ "$st" -gt 128 ] && [ "$_size" -eq "$1" ] && [ ! -e "$2" ]; then
		ok "a $C send killed at byte $1 leaves $2.part of $1 bytes and no $2"
	else
		not_ok "a $C send killed at byte $1 leaves $2.part of $1 bytes and no $2"
		diag "exit status $st, $2.part of $_size bytes"
	fi
}

# changed_refused IMG CUT WHERE: a send (-c $C) of a copy of IMG cut at
# byte CUT, the copy then changed in what was sent: the resume is
# refused, naming the byte (WHERE: a pattern after it), the partial file
# left as it was, no archive made.
changed_refused() {
	rm -f a.tar a.tar.part
	cp "$1" src.img
	cut_at "$2" a.tar --full src.img
	flip_bit src.img $((2 * MiB + 5))
	cp a.tar.part kept.part
	expect_error "a $C resume against a source changed in what was sent is refused" \
		"a.tar.part: the partial archive differs at byte [0-9]+ $3.*source changed" \
		blksnap-send --resume --full -c "$C" -o a.tar src.img
	check "... and the partial file is left as it was" cmp a.tar.part kept.part
	check "... and no archive appears" test ! -e a.tar
}

# Killed inside the manifest (started over), in the headers, in the data,
# in the zero range's neighbourhood, in the hash index, in the end blocks.
for n in 700 1536 4096 $((3 * MiB + 17)) $((12 * MiB)) $((ref_size - 3000)) \
	 $((ref_size - 512)); do
	rm -f a.tar a.tar.part
	cut_at "$n" a.tar --full img
	st=$?
	cut_leaves "$n" a.tar
	if blksnap-send -v --resume --full -c none -o a.tar img 2>resume.err &&
	   [ ! -e a.tar.part ] && [ "$(stat -c %s a.tar)" -eq "$ref_size" ] &&
	   restores_as a.tar img; then
		ok "resumed from byte $n: the archive verifies and restores identically"
	else
		not_ok "resumed from byte $n: the archive verifies and restores identically"
		diag "$(cat resume.err)"
	fi
	if [ "$n" -gt 4096 ]; then
		if grep -q "a.tar.part: $n bytes of an interrupted send" resume.err; then
			ok "the resume at byte $n continued the partial file"
		else
			not_ok "the resume at byte $n continued the partial file"
			diag "$(cat resume.err)"
		fi
	fi
done

# The resumed archive is the interrupted one's: same UUID.
rm -f a.tar a.tar.part
cut_at $((10 * MiB)) a.tar --full img
uuid=$(head -c 2048 a.tar.part | tr '\0' '\n' | sed -n 's/^uuid=//p')
blksnap-send --resume --full -c none -o a.tar img 2>/dev/null
if [ -n "$uuid" ] && blksnap-restore --list a.tar | grep -q "$uuid"; then
	ok "the resumed archive keeps the UUID of the interrupted one"
else
	not_ok "the resumed archive keeps the UUID of the interrupted one"
fi

# Killed after the last byte, before the rename: checked, renamed.
rm -f a.tar a.tar.part
blksnap-send --resume --full -c none -o a.tar img 2>/dev/null
mv a.tar a.tar.part
cp a.tar.part whole.tar
check "a whole partial file (killed before the rename) is checked and renamed, unchanged" \
	sh -c 'blksnap-send --resume --full -c none -o a.tar img 2>/dev/null &&
	       [ ! -e a.tar.part ] && cmp a.tar whole.tar'
cat whole.tar whole.tar > a.tar.part
rm -f a.tar
expect_error "a partial file longer than the archive is refused" \
	'a.tar.part: the partial archive is longer \([0-9]+ bytes\) than the archive this send makes' \
	blksnap-send --resume --full -c none -o a.tar img
rm -f a.tar.part whole.tar

# Killed twice, then resumed.
rm -f a.tar a.tar.part
cut_at $((5 * MiB)) a.tar --full img
cut_at $((15 * MiB)) a.tar --full img
check "a send cut twice resumes to an archive that restores identically" \
	sh -c 'blksnap-send --resume --full -c none -o a.tar img 2>/dev/null &&
	       blksnap-restore -o r2 a.tar 2>/dev/null && cmp r2 img'

# A real SIGKILL, as soon as the partial file has 1 MiB (-c $C).
sigkill_resume() {
	rm -f k.tar k.tar.part
	blksnap-send --resume --full -c "$C" -o k.tar big 2>/dev/null &
	pid=$!
	i=0
	while [ "$(stat -c %s k.tar.part 2>/dev/null || echo 0)" -lt $MiB ] &&
	      [ ! -e k.tar ] && [ "$i" -lt 2000 ]; do
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid"
	st=$?
	if [ "$st" -eq 137 ] && [ -e k.tar.part ]; then
		killed_at=$(stat -c %s k.tar.part)
		check "after SIGKILL at byte $killed_at, the resumed $C archive restores identically" \
			sh -c "blksnap-send --resume --full -c $C -o k.tar big 2>/dev/null &&
			       [ ! -e k.tar.part ] && blksnap-restore -o rk k.tar 2>/dev/null &&
			       cmp rk big"
	else
		skip "resume of a $C send after SIGKILL" "the send ended (status $st) before the kill"
	fi
	rm -f k.tar k.tar.part rk
}
random_file big $((96 * MiB))
sigkill_resume
C=zstd
sigkill_resume
C=none
rm -f big

# An incremental, cut and resumed.
cp img img.1
scatter_writes img.1 40
blksnap-diff --scan img.1 ref.tar > r.1 2>/dev/null
rm -f i.tar i.tar.part
cut_at 70000 i.tar --base ref.tar --ranges r.1 img.1
check "a resumed incremental restores identically over its base" \
	sh -c 'blksnap-send --resume -c none --base ref.tar --ranges r.1 -o i.tar img.1 2>/dev/null &&
	       blksnap-restore -o ri ref.tar i.tar 2>/dev/null && cmp ri img.1'

# --- zstd ---------------------------------------------------------------
# zimg: img with 5 MiB of text, which compresses.  The archive's frames
# hold 1 MiB of tar each: a resume keeps the partial file's whole frames
# (their tar stream checked), makes the one cut short again, and takes
# the UUID and time from the first frame, even cut short.
C=zstd
cp img zimg
yes 'blksnap resumes a zstd send from its last whole frame' |
	head -c $((5 * MiB)) | dd of=zimg bs=1M seek=1 conv=notrunc status=none
blksnap-send --full -o zref.tar zimg 2>/dev/null
zref_size=$(stat -c %s zref.tar)

# resumed_restores OUT IMG SEND-ARGS...: the send (-c $C) of IMG into
# OUT, resumed, ends and its archive verifies and restores to IMG.
resumed_restores() {
	_out=$1 _img=$2
	shift 2
	blksnap-send --resume -c "$C" -o "$_out" "$@" "$_img" 2>/dev/null &&
		[ ! -e "$_out.part" ] && restores_as "$_out" "$_img"
}

# zstd_ok ARCHIVE: zstd and tar read it whole.
zstd_ok() {
	{ ! have zstd || zstd -qt "$1"; } &&
		[ "$(tar --zstd -tf "$1" | wc -l)" -eq 3 ]
}

# Killed in the manifest (started over), after it in the first frame, in
# the data, in the last frame (the hash index), in the seek table.
for n in 300 5000 $((3 * MiB + 17)) $((zref_size * 3 / 4)) \
	 $((zref_size - 3000)) $((zref_size - 20)); do
	rm -f a.tar a.tar.part b.tar b.tar.part
	cut_at "$n" a.tar --full zimg
	st=$?
	cut_leaves "$n" a.tar
	cp a.tar.part cut.part
	if blksnap-send --resume --full -o a.tar zimg 2>resume.err &&
	   [ ! -e a.tar.part ] && restores_as a.tar zimg && zstd_ok a.tar; then
		ok "zstd, resumed from byte $n: the archive verifies, restores identically, zstd and tar read it"
	else
		not_ok "zstd, resumed from byte $n: the archive verifies, restores identically, zstd and tar read it"
		diag "$(cat resume.err)"
	fi
	[ "$n" -gt 300 ] || continue
	check "zstd, resumed from byte $n: the archive starts with the partial file's bytes" \
		cmp -n "$n" cut.part a.tar
	# The partial file of an uninterrupted send's archive: that archive.
	head -c "$n" zref.tar > b.tar.part
	check "zstd, resumed from byte $n of an archive: that archive, byte for byte" \
		sh -c 'blksnap-send --resume --full -o b.tar zimg 2>/dev/null &&
		       [ ! -e b.tar.part ] && cmp b.tar zref.tar'
done
rm -f b.tar cut.part

rm -f a.tar a.tar.part
cut_at $((5 * MiB)) a.tar --full zimg
cut_at $((9 * MiB)) a.tar --full zimg
check "a zstd send cut twice resumes to an archive that restores identically" \
	resumed_restores a.tar zimg --full

rm -f i.tar i.tar.part
cp zimg zimg.1
scatter_writes zimg.1 40
blksnap-diff --scan zimg.1 zref.tar > zr.1 2>/dev/null
blksnap-send --base zref.tar --ranges zr.1 -o iref.tar zimg.1 2>/dev/null
head -c 90000 iref.tar > i.tar.part
check "a zstd incremental resumed is the uninterrupted one, byte for byte, and restores over its base" \
	sh -c 'blksnap-send --resume --base zref.tar --ranges zr.1 -o i.tar zimg.1 2>/dev/null &&
	       cmp i.tar iref.tar && blksnap-restore -o ri zref.tar i.tar 2>/dev/null &&
	       cmp ri zimg.1'

# Another level: the whole frames kept as they are, the others at the new
# level; the archive reads and restores the same.
rm -f a.tar a.tar.part
cut_at $((9 * MiB)) a.tar --full zimg
cp a.tar.part cut.part
check "a zstd send resumed at another level keeps its frames and restores identically" \
	resumed_restores a.tar zimg --full --level 1
check "... its first 2 MiB being the partial file's, and zstd and tar read it" \
	sh -c 'cmp -n 2097152 cut.part a.tar && tar --zstd -tf a.tar >/dev/null'
rm -f cut.part

# Refused: a source changed in what the partial file holds, a damaged
# partial file, a partial file of the other compression; each left as it
# was.
changed_refused zimg $((8 * MiB)) 'of its tar stream '
cp zimg src.img
flip_bit a.tar.part $((3 * MiB))
cp a.tar.part kept.part
expect_error "a damaged zstd partial file is refused, naming the frame" \
	'a.tar.part: damaged zstd frame [0-9]+ at byte [0-9]+' \
	blksnap-send --resume --full -o a.tar src.img
check "... and left as it was" cmp a.tar.part kept.part
expect_error "a zstd partial file resumed uncompressed is refused" \
	'a.tar.part: the partial archive is zstd-compressed, this send uncompressed' \
	blksnap-send --resume --full -c none -o a.tar src.img
rm -f a.tar.part
C=none
cut_at $((2 * MiB)) a.tar --full src.img
expect_error "an uncompressed partial file resumed with zstd is refused" \
	'a.tar.part: the partial archive is uncompressed, this send zstd' \
	blksnap-send --resume --full -o a.tar src.img
rm -f a.tar.part kept.part src.img zimg.1 zr.1 iref.tar i.tar ri

# --- refusals -----------------------------------------------------------
changed_refused img $((12 * MiB)) ''
flip_bit src.img $((2 * MiB + 5))
dd if=/dev/urandom of=src.img bs=1M seek=6 count=1 conv=notrunc status=none
expect_error "a source whose zero blocks changed is refused by its manifest" \
	'the source changed since the interrupted send: .*holds 16777216 bytes of data' \
	blksnap-send --resume --full -c none -o a.tar src.img
cp img src.img
expect_error "another snapshot (its CBT generation and number) is refused by them" \
	'CBT generation 11111111-2222-3333-4444-555555555555, snapshot 3, this send of generation 11111111-2222-3333-4444-555555555555, snapshot 4' \
	sh -c 'rm -f g.tar.part
	       prlimit --fsize=3000000 blksnap-send --resume -c none --full \
		--cbt-generation 11111111-2222-3333-4444-555555555555 --cbt-snapshot 3 \
		-o g.tar src.img 2>/dev/null
	       blksnap-send --resume -c none --full \
		--cbt-generation 11111111-2222-3333-4444-555555555555 --cbt-snapshot 4 \
		-o g.tar src.img'
cp img other.img
expect_error "another source is refused by name" \
	'a full archive of src.img, this send a full of other.img' \
	blksnap-send --resume --full -c none -o a.tar other.img
check "the same source, as it was, still resumes after those refusals" \
	sh -c 'blksnap-send --resume --full -c none -o a.tar src.img 2>/dev/null &&
	       blksnap-restore -o r3 a.tar 2>/dev/null && cmp r3 img'

printf 'not an archive, just a file called .part\n' > x.tar.part
dd if=/dev/zero bs=1k count=2 status=none >> x.tar.part
cp x.tar.part x.kept
expect_error "a .part file that is not a partial archive is refused, not overwritten" \
	'x.tar.part: not the partial archive of a send' \
	blksnap-send --resume --full -c none -o x.tar img
check "... and left as it was" cmp x.tar.part x.kept
expect_error "... with zstd too" 'x.tar.part: not the partial archive of a send' \
	blksnap-send --resume --full -o x.tar img

rm -f a.tar a.tar.part
cut_at $((6 * MiB)) a.tar --full img
if have flock; then
	flock a.tar.part sleep 3 &
	lockpid=$!
	sleep 0.5
	expect_error "a partial file another send holds is refused" \
		'a.tar.part: another send is writing it' \
		blksnap-send --resume --full -c none -o a.tar img
	wait "$lockpid"
else
	skip "a partial file another send holds is refused" "flock is not installed"
fi

expect_usage_error "--resume to standard output is refused" \
	'--resume needs --output FILE or an s3:// URL.*cannot be resumed' \
	blksnap-send --resume --full -c none -o - img
expect_usage_error "--resume without --output is refused" \
	'--resume needs --output FILE' \
	blksnap-send --resume --full -c none img
expect_usage_error "--resume of a gzip send is refused, naming the compression" \
	'a gzip-compressed send cannot be resumed: use -c zstd or -c none' \
	blksnap-send --resume --full -c gzip -o a.tar img
expect_usage_error "... lz4 too" 'a lz4-compressed send cannot be resumed' \
	blksnap-send --resume --full -c lz4 -o a.tar img
expect_error "--resume over http:// is refused" \
	'http://127.0.0.1:9/x.tar: an upload over http:// cannot be resumed' \
	blksnap-send --resume --full -c none -o http://127.0.0.1:9/x.tar img
mkfifo fifo
expect_error "--resume into a FIFO is refused" \
	'fifo: not a regular file: a send into it cannot be resumed' \
	blksnap-send --resume --full -c none -o fifo img

# --- a full filesystem --------------------------------------------------
mkdir mnt
if [ "$(id -u)" -ne 0 ]; then
	skip "a send stopped by a full filesystem resumes" "not root: cannot mount a small tmpfs"
elif ! mount -t tmpfs -o size=8m blksnap-test mnt 2>mount.err; then
	skip "a send stopped by a full filesystem resumes" "cannot mount a tmpfs: $(cat mount.err)"
else
	at_exit "umount '$TMP/mnt' 2>/dev/null"
	umount mnt
	for C in none zstd; do
		mount -t tmpfs -o size=8m blksnap-test mnt
		expect_error "a resumable $C send into a full filesystem fails with ENOSPC" \
			'No space left on device' \
			blksnap-send --resume --full -c $C -o mnt/f.tar img
		if grep -q 'mnt/f.tar.part is kept: run the same command with --resume' "$TMP/err.msg" &&
		   [ "$(stat -c %s mnt/f.tar.part)" -gt $((7 * MiB)) ]; then
			ok "... and keeps mnt/f.tar.part, saying how to continue"
		else
			not_ok "... and keeps mnt/f.tar.part, saying how to continue"
			diag "$(cat "$TMP/err.msg")"
		fi
		mount -o remount,size=64m mnt
		check "freed, the $C send resumes to an archive that restores identically" \
			sh -c "blksnap-send --resume --full -c $C -o mnt/f.tar img 2>/dev/null &&
			       [ ! -e mnt/f.tar.part ] && blksnap-restore -o rf mnt/f.tar 2>/dev/null &&
			       cmp rf img"
		umount mnt
	done
	C=none
fi

done_testing
