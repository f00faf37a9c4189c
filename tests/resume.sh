#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# blksnap-send --resume into a local file: a send killed after N bytes
# (by the kernel's file size limit, SIGXFSZ: exactly N, nothing of the
# tool runs after; and once by SIGKILL), or stopped by a full
# filesystem, continues from FILE.part to an archive that verifies and
# restores identically; a changed source, another source and a partial
# file held by another send are refused by name and left as they are;
# standard output, other compressions and http:// cannot resume.
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

# cut N OUT SEND-ARGS...: a resumable send killed after N bytes of OUT.
cut_at() {
	_n=$1 _out=$2
	shift 2
	prlimit --fsize="$_n" blksnap-send --resume -c none -o "$_out" "$@" \
		>/dev/null 2>&1
}

# Killed inside the manifest (started over), in the headers, in the data,
# in the zero range's neighbourhood, in the hash index, in the end blocks.
for n in 700 1536 4096 $((3 * MiB + 17)) $((12 * MiB)) $((ref_size - 3000)) \
	 $((ref_size - 512)); do
	rm -f a.tar a.tar.part
	cut_at "$n" a.tar --full img
	st=$?
	size=$(stat -c %s a.tar.part 2>/dev/null || echo 0)
	if [ "$st" -gt 128 ] && [ "$size" -eq "$n" ] && [ ! -e a.tar ]; then
		ok "a send killed at byte $n leaves a.tar.part of $n bytes and no a.tar"
	else
		not_ok "a send killed at byte $n leaves a.tar.part of $n bytes and no a.tar"
		diag "exit status $st, a.tar.part of $size bytes"
	fi
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

# A real SIGKILL, as soon as the partial file has 1 MiB.
random_file big $((96 * MiB))
rm -f k.tar k.tar.part
blksnap-send --resume --full -c none -o k.tar big 2>/dev/null &
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
	check "after SIGKILL at byte $killed_at, the resumed archive restores identically" \
		sh -c 'blksnap-send --resume --full -c none -o k.tar big 2>/dev/null &&
		       [ ! -e k.tar.part ] && blksnap-restore -o rk k.tar 2>/dev/null &&
		       cmp rk big'
else
	skip "resume after SIGKILL" "the send ended (status $st) before the kill"
fi
rm -f big k.tar k.tar.part rk

# An incremental, cut and resumed.
cp img img.1
scatter_writes img.1 40
blksnap-diff --scan img.1 ref.tar > r.1 2>/dev/null
rm -f i.tar i.tar.part
cut_at 70000 i.tar --base ref.tar --ranges r.1 img.1
check "a resumed incremental restores identically over its base" \
	sh -c 'blksnap-send --resume -c none --base ref.tar --ranges r.1 -o i.tar img.1 2>/dev/null &&
	       blksnap-restore -o ri ref.tar i.tar 2>/dev/null && cmp ri img.1'

# --- refusals -----------------------------------------------------------
rm -f a.tar a.tar.part
cp img src.img
cut_at $((12 * MiB)) a.tar --full src.img
flip_bit src.img $((2 * MiB + 5))
cp a.tar.part kept.part
expect_error "a resume against a source changed in what was sent is refused" \
	'a.tar.part: the partial archive differs at byte [0-9]+ .*source changed' \
	blksnap-send --resume --full -c none -o a.tar src.img
check "... and the partial file is left as it was" cmp a.tar.part kept.part
check "... and no archive appears" test ! -e a.tar
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
expect_usage_error "--resume of a compressed send is refused, naming the compression" \
	'a zstd-compressed send cannot be resumed yet: use -c none \(zstd is the default\)' \
	blksnap-send --resume --full -o a.tar img
expect_usage_error "... gzip too" 'a gzip-compressed send cannot be resumed yet' \
	blksnap-send --resume --full -c gzip -o a.tar img
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
	expect_error "a resumable send into a full filesystem fails with ENOSPC" \
		'No space left on device' \
		blksnap-send --resume --full -c none -o mnt/f.tar img
	if grep -q 'mnt/f.tar.part is kept: run the same command with --resume' "$TMP/err.msg" &&
	   [ "$(stat -c %s mnt/f.tar.part)" -gt $((7 * MiB)) ]; then
		ok "... and keeps mnt/f.tar.part, saying how to continue"
	else
		not_ok "... and keeps mnt/f.tar.part, saying how to continue"
		diag "$(cat "$TMP/err.msg")"
	fi
	mount -o remount,size=64m mnt
	check "freed, the send resumes to an archive that restores identically" \
		sh -c 'blksnap-send --resume --full -c none -o mnt/f.tar img 2>/dev/null &&
		       [ ! -e mnt/f.tar.part ] && blksnap-restore -o rf mnt/f.tar 2>/dev/null &&
		       cmp rf img'
	umount mnt
fi

done_testing
