#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# blksnap-merge: a chain of a full archive and 1 to 5 incrementals with
# overlapping changes (data over data, zeros over data, data over zeros)
# merged into a synthetic full restores as the chain does; folding the
# oldest incremental into the full, again and again, leaves a chain that
# restores every point it still holds; incrementals continue a synthetic
# full; a corrupted, truncated or misordered member is refused by name and
# nothing is replaced.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1
MiB=1048576
# 16 MiB: random data, with 2 MiB of written zeros (zero ranges of the full).
random_file img $((16 * MiB))
dd if=/dev/zero of=img bs=$MiB seek=10 count=2 conv=notrunc status=none
cp img state.0
check "full backup" blksnap-send --full -c zstd -o a.0.tar -m a.0.man img

# write FILE OFFSET_KIB COUNT_KIB SOURCE
put() {
	dd if="$4" of="$1" bs=1024 seek="$2" count="$3" conv=notrunc status=none
}
for n in 1 2 3 4 5; do
	scatter_writes img 10
	# The same 1 MiB region every time, shifted by 64 KiB: overlaps.
	put img $((4096 + n * 64)) 1024 /dev/urandom
	# Zeros over data, then data over those zeros.
	put img $((8192 + n * 512)) 640 /dev/zero
	[ "$n" -ge 3 ] && put img $((8192 + (n - 2) * 512)) 64 /dev/urandom
	# Data inside the full's zero ranges, and the last byte.
	put img $((10240 + n * 300)) 100 /dev/urandom
	printf '%s' "$n" | dd of=img bs=1 seek=$((16 * MiB - 1)) conv=notrunc status=none
	cp img "state.$n"
	set --
	i=0
	while [ "$i" -lt "$n" ]; do set -- "$@" "a.$i.tar"; i=$((i + 1)); done
	blksnap-diff --scan img "$@" > "r.$n" &&
	blksnap-send --base "a.$((n - 1)).tar" -c none -o "a.$n.tar" img < "r.$n" ||
		not_ok "incremental $n"
done
if blksnap-restore --list a.3.tar | grep -q 'zeros: *[1-9]'; then
	ok "the incrementals hold zero ranges"
else
	not_ok "the incrementals hold zero ranges"
fi

# chain N: the archives a.0.tar .. a.N.tar
chain() {
	_c=
	_i=0
	while [ "$_i" -le "$1" ]; do _c="$_c a.$_i.tar"; _i=$((_i + 1)); done
	echo "$_c"
}

# --- a synthetic full of the chain up to each point --------------------
for n in 1 2 3 4 5; do
	rm -f out
	if blksnap-merge -o "m.$n.tar" $(chain "$n") 2>err &&
	   blksnap-restore -o out "m.$n.tar" 2>>err && cmp -s out "state.$n"; then
		ok "the synthetic full of $n incremental(s) restores as the chain"
	else
		not_ok "the synthetic full of $n incremental(s) restores as the chain"
		diag "$(cat err)"
	fi
done
blksnap-restore --list m.5.tar > list.5
check "restore --list shows a synthetic full of point 5" \
	grep -q 'kind: *full, synthetic: point 5 of its chain' list.5
check "the synthetic full has the UUID of point 5" sh -c \
	"grep -q \"uuid: *\$(blksnap-restore --list a.5.tar | sed -n 's/^ *uuid: *//p')\" list.5"
check "the synthetic full holds zero ranges" grep -q 'zeros: *[1-9]' list.5
tar -xOf m.5.tar blksnap.manifest > man.5
check "the synthetic full is format 2" grep -qx 'format=blksnap-archive 2' man.5
check "the synthetic full is no larger than a full of the last point" sh -c \
	"blksnap-send --full -o f.5.tar state.5 &&
	 test \$(stat -c %s m.5.tar) -le \$((\$(stat -c %s f.5.tar) + 65536))"
mkdir x && (cd x && tar -xf ../m.5.tar) 2>err
check "GNU tar extracts the synthetic full's image identically" cmp x/img.img state.5
check "a scan of point 5 against the synthetic full finds nothing" sh -c \
	'blksnap-diff --scan state.5 m.5.tar > none && ! grep -qv "^#" none'
blksnap-merge -c none -o m.2.tar -m m.2.man $(chain 2) 2>err
rm -f out
check "the incrementals after a synthetic full follow it" sh -c \
	'blksnap-restore -o out m.2.tar a.3.tar a.4.tar a.5.tar && cmp out state.5'
check "its manifest file stands in for it in a scan" sh -c \
	'blksnap-diff --scan state.5 m.2.man a.3.tar a.4.tar a.5.tar > none && ! grep -qv "^#" none'
cp state.5 img
scatter_writes img 10
check "an incremental over a synthetic full" sh -c \
	'blksnap-diff --scan img m.5.tar > r.6 && blksnap-send --base m.5.tar -o a.6.tar img < r.6'
rm -f out
check "... restores" sh -c 'blksnap-restore -o out m.5.tar a.6.tar && cmp out img'
check "a synthetic full of a synthetic full and an incremental" sh -c \
	'blksnap-merge -o m.6.tar m.5.tar a.6.tar && blksnap-restore -o out m.6.tar && cmp out img'
check "a lone full merges into itself" sh -c \
	'blksnap-merge -c none -o m.0.tar a.0.tar && blksnap-restore -o out m.0.tar && cmp out state.0'
tar -xOf m.0.tar blksnap.manifest > man.0
check "a merge of a full alone keeps its point number 0" grep -qx 'sequence=0' man.0

# --- folding the oldest incremental, point after point -----------------
# The full keeps its name a.0.tar; a.J.tar is folded into it and removed.
mkdir fold
cp $(chain 5) a.0.man fold/
cd fold || exit 1
for j in 1 2 3 4 5; do
	cp "a.$j.tar" "held.$j.tar"
	if blksnap-merge --fold -m a.0.man a.0.tar "a.$j.tar" \
	   $(i=$((j + 1)); while [ "$i" -le 5 ]; do echo "a.$i.tar"; i=$((i + 1)); done) 2>err; then
		ok "fold $j"
	else
		not_ok "fold $j"; diag "$(cat err)"
	fi
	[ ! -e "a.$j.tar" ] && ok "fold $j removes the incremental folded" ||
		not_ok "fold $j removes the incremental folded"
	p=$j
	bad=
	while [ "$p" -le 5 ]; do
		set -- a.0.tar
		i=$((j + 1))
		while [ "$i" -le "$p" ]; do set -- "$@" "a.$i.tar"; i=$((i + 1)); done
		rm -f out
		blksnap-restore -o out "$@" 2>err && cmp -s out "../state.$p" ||
			bad="$bad $p"
		p=$((p + 1))
	done
	if [ -z "$bad" ]; then
		ok "after fold $j, every point from $j to 5 restores"
	else
		not_ok "after fold $j, every point from $j to 5 restores"
		diag "points that do not:$bad" "$(cat err)"
	fi
	# As a fold cut short between its rename and its removal leaves it.
	set -- a.0.tar "held.$j.tar"
	[ "$j" -lt 5 ] && set -- "$@" "a.$((j + 1)).tar"
	rm -f out
	if blksnap-restore -o out "$@" 2>err &&
	   cmp -s out "../state.$(( j < 5 ? j + 1 : j ))"; then
		ok "after fold $j, the incremental folded may still follow the full"
	else
		not_ok "after fold $j, the incremental folded may still follow the full"
		diag "$(cat err)"
	fi
	rm -f "held.$j.tar"
	check "after fold $j, a scan over the manifest file finds what changed since point $j" sh -c \
		"blksnap-diff --scan ../state.$j a.0.man > none && ! grep -qv '^#' none"
done
ls > left
printf '%s\n' a.0.man a.0.tar err left none out > want
if cmp -s left want; then
	ok "after 5 folds only the full of point 5 is left"
else
	not_ok "after 5 folds only the full of point 5 is left"; diag "$(cat left)"
fi
cd .. || exit 1

# --- refusals: named, nothing replaced ----------------------------------
echo old > out.tar
cp a.3.tar bad.3.tar
size=$(stat -c %s bad.3.tar)
flip_bit bad.3.tar $((size / 2))
expect_error "a corrupted incremental is refused by name" \
	"bad\\.3\\.tar: corrupted archive" \
	blksnap-merge -o out.tar a.0.tar a.1.tar a.2.tar bad.3.tar
check "... and the output is left as it was" sh -c 'test "$(cat out.tar)" = old'
check "... and no temporary file is left" sh -c '! ls -A | grep "^\\."'
cp a.0.tar bad.0.tar
flip_bit bad.0.tar $(($(stat -c %s bad.0.tar) / 2))
expect_error "a corrupted full archive is refused by name" "bad\\.0\\.tar: " \
	blksnap-merge -o out.tar bad.0.tar a.1.tar
check "... and the output is left as it was" sh -c 'test "$(cat out.tar)" = old'
head -c $((size / 2)) a.3.tar > cut.3.tar
expect_error "a truncated incremental is refused by name" "cut\\.3\\.tar: " \
	blksnap-merge -o out.tar a.0.tar a.1.tar a.2.tar cut.3.tar
expect_error "a chain out of order is refused" "a\\.3\\.tar: out of order" \
	blksnap-merge -o out.tar a.0.tar a.1.tar a.3.tar
expect_error "a manifest file is refused: it holds no image" "a\\.0\\.man: .*manifest file" \
	blksnap-merge -o out.tar a.0.man a.1.tar
check "... and the output is still as it was" sh -c 'test "$(cat out.tar)" = old'

# A result that does not hold the chain's blocks as they landed in the
# file (a byte written wrong, a write lost, each said to be done) is
# found by its read-back before the rename: tests/helpers/badwrite.so,
# preloaded, damages the writes of the temporary file of bw.tar.
shim=$BLKSNAP_BIN/tests/helpers/.libs/badwrite.so
rt=$(sanitizer_runtimes "$BLKSNAP_BIN/src/.libs/blksnap-merge")
# badwrite NAME AT MODE -- blksnap-merge ARGS...
badwrite() {
	_name=$1 _at=$2 _mode=$3
	shift 4
	with_preload "$rt$shim" env BADWRITE_NAME="$_name" \
		BADWRITE_AT="$_at" BADWRITE_MODE="$_mode" "$@"
}
if [ ! -r "$shim" ]; then
	skip "a result written wrong is refused" "tests/helpers/badwrite.so is not built (no shared libraries?)"
else
	# Offset 8 MiB of the uncompressed result: image data.  The shim
	# on another file's name: the merge is right.
	right_under_shim() {
		badwrite .other. 8388608 flip -- \
			blksnap-merge -c none -o bw.tar a.0.tar a.1.tar a.2.tar &&
		blksnap-restore -o bw.img bw.tar && cmp -s bw.img state.2 &&
		rm bw.tar bw.img
	}
	check "under badwrite.so, a result written right is taken" right_under_shim
	for mode in flip lose; do
		for c in none zstd; do
			expect_error "a result with a byte written wrong ($mode, -c $c) is refused" \
				"\\.bw\\.tar\\.[^:]*: ((corrupted|damaged|truncated|damaged or truncated) archive|the merged archive does not hold)" \
				badwrite .bw.tar. 8388608 $mode -- \
				blksnap-merge -c $c -o bw.tar a.0.tar a.1.tar a.2.tar
			check "... ($mode, -c $c) and nothing is renamed into place or left" sh -c \
				'test ! -e bw.tar && ! ls -A | grep -q "^\.bw\.tar"'
		done
	done
	# The last write (the end-of-archive blocks) said done but not made:
	# the file is shorter than what was written.  The same chain merges
	# to the same length every time.
	blksnap-merge -c none -o bw.tar a.0.tar a.1.tar a.2.tar
	last=$(($(stat -c %s bw.tar) - 1))
	rm -f bw.tar
	expect_error "a result whose last write was lost is refused" \
		"\\.bw\\.tar\\.[^:]*: (truncated|damaged) archive" \
		badwrite .bw.tar. "$last" lose -- \
		blksnap-merge -c none -o bw.tar a.0.tar a.1.tar a.2.tar
	check "... and nothing is renamed into place or left" sh -c \
		'test ! -e bw.tar && ! ls -A | grep -q "^\.bw\.tar"'
fi

mkdir badfold
cp a.0.tar a.1.tar badfold/
flip_bit badfold/a.1.tar $(($(stat -c %s badfold/a.1.tar) / 2))
cp badfold/a.1.tar before.1.tar
expect_error "a fold of a corrupted incremental is refused by name" \
	"badfold/a\\.1\\.tar: corrupted archive" \
	blksnap-merge --fold badfold/a.0.tar badfold/a.1.tar
check "... and neither archive is replaced or removed" sh -c \
	'cmp a.0.tar badfold/a.0.tar && cmp before.1.tar badfold/a.1.tar && test "$(ls -A badfold | wc -l)" -eq 2'
expect_error "a fold whose later archives do not follow is refused" \
	"a\\.3\\.tar: out of order" \
	blksnap-merge --fold a.0.tar a.1.tar a.3.tar
expect_usage_error "--fold needs two archives" "needs the full archive and its first incremental" \
	blksnap-merge --fold a.0.tar
expect_usage_error "--output and --fold exclude each other" "mutually exclusive" \
	blksnap-merge --fold -o x.tar a.0.tar a.1.tar
expect_usage_error "standard input is refused" "give files, not standard input" \
	blksnap-merge -o x.tar - < a.0.tar

done_testing
