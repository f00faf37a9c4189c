#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Incrementals with hash blocks finer than their base's (blksnap-send(8),
# "Hash blocks"): a full archive in 64 KiB blocks, then incrementals sent
# from hand-written range lists of scattered 4 KiB writes (1% of the
# image) take 4 KiB blocks: each holds at most twice the bytes written,
# every point restores identically, a corrupted byte is refused naming
# the archive; a coarse list keeps 64 KiB blocks; -B for an incremental
# must divide its base's; a resume of another hash block is refused;
# merge (synthetic full and fold), blksnap-diff --scan and the nbdkit
# plugin (whole reads, random reads, a corrupted block of the full under
# a fine incremental) handle chains of mixed hash blocks (64/4 KiB and
# 64/16/4 KiB).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1
KiB=1024
MiB=1048576
SIZE=$((16 * MiB))
BLOCKS=$((SIZE / 4096))

# fine_writes FILE COUNT LIST: COUNT distinct random 4 KiB blocks of FILE
# overwritten with random data; LIST gets their range list, one 4 KiB
# range a line, sorted.
fine_writes() {
	od -An -tu4 -N$((4 * $2 * 2)) /dev/urandom | tr -s ' ' '\n' |
		sed '/^$/d' | awk -v n="$BLOCKS" '{ print $1 % n }' |
		sort -nu | head -n "$2" > "$3.blocks"
	: > "$3"
	while read -r b; do
		dd if=/dev/urandom of="$1" bs=4096 seek="$b" count=1 \
		   conv=notrunc status=none
		echo "$((b * 4096)) 4096" >> "$3"
	done < "$3.blocks"
}

# field ARCHIVE WHAT: the number --list gives for "hash block" or "data".
field() {
	blksnap-restore --list "$1" | sed -n "s/^  $2: *\([0-9]*\) bytes.*/\1/p"
}

# restores_as DESC STATE ARCHIVE...: the chain restores STATE.
restores_as() {
	_desc=$1 _state=$2
	shift 2
	rm -f out
	if blksnap-restore -q -o out "$@" 2>restore.err && cmp -s out "$_state"; then
		ok "$_desc"
	else
		not_ok "$_desc"
		diag "$(cat restore.err)"
	fi
}

random_file img "$SIZE"
# Written zeros: a zero range of the full, where incrementals write later.
dd if=/dev/zero of=img bs=$MiB seek=12 count=1 conv=notrunc status=none
cp img state.0
check "full backup, 64 KiB hash blocks" blksnap-send --full -c none -o a.0.tar img
[ "$(field a.0.tar 'hash block')" = 65536 ] && ok "full: 64 KiB hash blocks" ||
	not_ok "full: 64 KiB hash blocks"

# Three incrementals of scattered 4 KiB writes covering 1% of the image.
count=$((BLOCKS / 100))
for n in 1 2 3; do
	fine_writes img "$count" "r.$n"
	# Zeros over 4 KiB of data; data inside the full's zero range.
	dd if=/dev/zero of=img bs=4096 seek=$((100 + n)) count=1 conv=notrunc status=none
	dd if=/dev/urandom of=img bs=4096 seek=$((3 * 1024 + 5 * n)) count=1 conv=notrunc status=none
	printf '%s 4096\n%s 4096\n' $(((100 + n) * 4096)) $(((3 * 1024 + 5 * n) * 4096)) >> "r.$n"
	sort -nu "r.$n" -o "r.$n"
	# (The 4 KiB of zeros is a zero range, not data.)
	written=$(($(wc -l < "r.$n") * 4096))
	cp img "state.$n"
	check "incremental $n from a 4 KiB range list" \
		blksnap-send --base "a.$((n - 1)).tar" -c none -o "a.$n.tar" img -r "r.$n"
	hb=$(field "a.$n.tar" 'hash block')
	[ "$hb" = 4096 ] && ok "incremental $n: manifest says hash block 4096" ||
		not_ok "incremental $n: manifest says hash block 4096 (it says $hb)"
	data=$(field "a.$n.tar" data)
	if [ -n "$data" ] && [ "$data" -le $((2 * written)) ] && [ "$data" -ge $((written - 4096)) ]; then
		ok "incremental $n: $data bytes of data for $written written (at most 2x)"
	else
		not_ok "incremental $n: $data bytes of data for $written written (at most 2x)"
	fi
done
# The archive file itself: that data, its headers and its hash index.
tar_bytes=$(stat -c %s a.1.tar)
[ "$tar_bytes" -le $((2 * count * 4096 + 64 * KiB)) ] &&
	ok "incremental 1 is a file of $tar_bytes bytes (at most 2x written + 64 KiB)" ||
	not_ok "incremental 1 is a file of $tar_bytes bytes (at most 2x written + 64 KiB)"

restores_as "the full restores its point" state.0 a.0.tar
restores_as "full + 1 fine incremental restores its point" state.1 a.0.tar a.1.tar
restores_as "full + 2 fine incrementals restore their point" state.2 a.0.tar a.1.tar a.2.tar
restores_as "full + 3 fine incrementals restore their point" state.3 \
	a.0.tar a.1.tar a.2.tar a.3.tar
check "--verify of the mixed chain" blksnap-restore --verify a.0.tar a.1.tar a.2.tar a.3.tar

# Merging the mixed chain: a synthetic full in the full's 64 KiB blocks.
check "merge of the mixed chain" \
	blksnap-merge -c none -o s.tar a.0.tar a.1.tar a.2.tar a.3.tar
[ "$(field s.tar 'hash block')" = 65536 ] && ok "the synthetic full has 64 KiB hash blocks" ||
	not_ok "the synthetic full has 64 KiB hash blocks"
restores_as "the synthetic full restores the last point" state.3 s.tar
check "merge of the mixed chain, zstd" \
	blksnap-merge -c zstd -o s.zst.tar a.0.tar a.1.tar a.2.tar
restores_as "the zstd synthetic full of point 2 restores it" state.2 s.zst.tar
restores_as "an incremental continues the synthetic full of point 2" state.3 \
	s.zst.tar a.3.tar
# Folding, again and again.
mkdir fold
cp a.0.tar a.1.tar a.2.tar a.3.tar fold/
check "fold of a 4 KiB incremental into the 64 KiB full" \
	blksnap-merge -c none --fold fold/a.0.tar fold/a.1.tar fold/a.2.tar fold/a.3.tar
restores_as "after the fold the full restores point 1" state.1 fold/a.0.tar
restores_as "after the fold the chain restores point 3" state.3 \
	fold/a.0.tar fold/a.2.tar fold/a.3.tar
check "a second fold" blksnap-merge -c none --fold fold/a.0.tar fold/a.2.tar fold/a.3.tar
restores_as "after it the chain restores point 3" state.3 fold/a.0.tar fold/a.3.tar
[ "$(field fold/a.0.tar 'hash block')" = 65536 ] &&
	ok "the folded full keeps 64 KiB hash blocks" ||
	not_ok "the folded full keeps 64 KiB hash blocks"

# blksnap-diff --scan against the mixed chain.  Unchanged: only blocks of
# the full that the incrementals wrote part of are listed (they have no
# hash of their own here), never more than those 64 KiB blocks.
cat r.1 r.2 r.3 | awk '{ print int($1 / 65536) }' | sort -u > touched
check "scan of the last point against the mixed chain" \
	sh -c 'blksnap-diff --scan state.3 a.0.tar a.1.tar a.2.tar a.3.tar > scan.same'
listed=$(awk '!/^#/ && NF == 2 { s += $2 } END { print s + 0 }' scan.same)
limit=$(($(wc -l < touched) * 65536))
[ "$listed" -le "$limit" ] &&
	ok "scan of an unchanged image lists $listed bytes (at most the $limit of the 64 KiB blocks written in part)" ||
	not_ok "scan of an unchanged image lists $listed bytes (at most the $limit of the 64 KiB blocks written in part)"
check "scan of the last point against its synthetic full" \
	sh -c 'blksnap-diff --scan state.3 s.tar > scan.s'
[ "$(awk '!/^#/ && NF == 2' scan.s | wc -l)" = 0 ] &&
	ok "against the synthetic full nothing is listed" ||
	not_ok "against the synthetic full nothing is listed"
# Writes: in a 64 KiB block no incremental touched, in one they wrote in
# part, and over a 4 KiB block an incremental wrote.
cp state.3 img4
b_full=$(awk -v t="$(tr '\n' ' ' < touched)" 'BEGIN {
	n = split(t, u, " "); for (i = 1; i <= n; i++) w[u[i]] = 1
	for (g = 8; g < 256; g++) if (!(g in w)) { print g; exit } }')
b_part=$(head -n 1 r.1 | awk '{ print $1 }')
b_part=$((b_part / 65536 * 65536))
b_fine=$(sed -n 2p r.3 | awk '{ print $1 }')
for at in $((b_full * 65536 + 8192)) $((b_part + 61440)) "$b_fine"; do
	dd if=/dev/urandom of=img4 bs=1 seek="$at" count=100 conv=notrunc status=none
done
blksnap-diff --scan img4 a.0.tar a.1.tar a.2.tar a.3.tar > scan.4 2>scan.err
covered=yes
for at in $((b_full * 65536 + 8192)) $((b_part + 61440)) "$b_fine"; do
	awk -v at="$at" '!/^#/ && NF == 2 && $1 <= at && at + 100 <= $1 + $2 { f = 1 }
		END { exit !f }' scan.4 || covered="no ($at)"
done
[ "$covered" = yes ] && ok "scan lists the three writes" ||
	not_ok "scan lists the three writes: $covered"
check "incremental from the scan" \
	blksnap-send --base a.3.tar -c none -o a.4.tar img4 -r scan.4
restores_as "the chain with it restores the written image" img4 \
	a.0.tar a.1.tar a.2.tar a.3.tar a.4.tar

# The nbdkit plugin serves a point of the mixed chain.
PLUGIN=$BLKSNAP_BIN/src/.libs/nbdkit-blksnap-plugin.so
PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import nbd' 2>/dev/null; then PY=$p; break; fi
done
if ! have nbdkit || ! have nbdcopy; then
	skip "nbdkit serves the mixed chain" "nbdkit or nbdcopy is not installed (Debian: nbdkit, libnbd-bin)"
elif [ ! -f "$PLUGIN" ]; then
	skip "nbdkit serves the mixed chain" "the nbdkit plugin was not built"
else
	sanitized_plugin "$PLUGIN"
	for k in 1 3; do
		set -- a.0.tar
		i=1
		while [ "$i" -le "$k" ]; do set -- "$@" "a.$i.tar"; i=$((i + 1)); done
		rm -f nbd.out
		if nbdkit -U - "$PLUGIN" "$@" --run 'nbdcopy "$uri" nbd.out' 2>serve.log &&
		   cmp -s nbd.out "state.$k"; then
			ok "nbdkit serves point $k of the mixed chain identically"
		else
			not_ok "nbdkit serves point $k of the mixed chain identically"
			diag "$(tail -n 3 serve.log)"
		fi
	done
	# A byte of the full flipped in a 64 KiB block an incremental wrote
	# part of: its reads fail, naming the full and the 64 KiB block.
	cp a.0.tar bad0.tar
	# The first 64 KiB block incremental 1 wrote part of, a 4 KiB block
	# of it that it did not write, and where the full's bytes of that
	# block are in its (uncompressed) tar stream.
	set -- $(python3 -c "
w = set(int(l.split()[0]) for l in open('r.1'))
part = min(w) // 65536 * 65536
flip = next(o for o in range(part, part + 65536, 4096) if o not in w)
d = open('a.0.tar', 'rb').read(); s = open('state.0', 'rb').read()
print(part, flip, d.find(s[flip:flip + 4096]))")
	part=$1 flip=$2 data_at=$3
	if [ "${data_at:--1}" -ge 0 ]; then
		flip_bit bad0.tar $((data_at + 100))
		if nbdkit -U - "$PLUGIN" bad0.tar a.1.tar --run 'nbdcopy "$uri" nbd.bad' 2>serve.log; then
			not_ok "a corrupted block of the full under a 4 KiB incremental fails its read"
		else
			grep -q "bad0\.tar: corrupted archive: image data at offset $part (hash block of 65536 bytes" serve.log &&
				ok "a corrupted block of the full under a 4 KiB incremental fails its read, naming it" ||
				{ not_ok "a corrupted block of the full under a 4 KiB incremental fails its read, naming it"; diag "$(head -n 3 serve.log)"; }
		fi
	else
		not_ok "the full's block is in its tar stream"
	fi
	if [ -n "$PY" ]; then
		check "1,000 random 4 KiB reads of point 3 match it" \
			nbdkit -U - "$PLUGIN" a.0.tar a.1.tar a.2.tar a.3.tar --run \
			"$PY $top_srcdir/tests/helpers/nbd-reads.py random \"\$uri\" state.3 1000 4096 7"
	else
		skip "1,000 random 4 KiB reads of point 3 match it" "libnbd's Python module is not installed (Debian: python3-libnbd)"
	fi
fi

# A chain's hash blocks only get finer.
expect_error "-B 64K for an incremental of a 4 KiB base is refused" \
	"hash block size 65536 for an incremental of a\\.1\\.tar: it must divide its base's \\(4096\\)" \
	blksnap-send --base a.1.tar -B 64K -o c.bad.tar img -r r.1
expect_error "a 4 KiB incremental after a 64 KiB full is the order: reversed, refused" \
	"a\\.1\\.tar: an incremental archive \\(number 1 of its chain\\) cannot start a chain" \
	blksnap-restore --verify a.1.tar a.0.tar

# A coarse range list from a 64 KiB base: 64 KiB blocks, as before; the
# same archive as one sent with -B 64K (the old fixed choice).
cp state.0 coarse
dd if=/dev/urandom of=coarse bs=65536 seek=5 count=2 conv=notrunc status=none
dd if=/dev/urandom of=coarse bs=65536 seek=100 count=1 conv=notrunc status=none
printf '327680 131072\n6553600 65536\n' > r.coarse
check "incremental from a 64 KiB range list" \
	blksnap-send --base a.0.tar -c none -o c.auto.tar coarse -r r.coarse
check "the same with -B 64K" \
	blksnap-send --base a.0.tar -B 64K -c none -o c.b64.tar coarse -r r.coarse
[ "$(field c.auto.tar 'hash block')" = 65536 ] &&
	ok "a 64 KiB range list keeps 64 KiB hash blocks" ||
	not_ok "a 64 KiB range list keeps 64 KiB hash blocks"
# Equal but for the UUID and the creation time (manifest, then checksums).
tar xOf c.auto.tar blksnap.hashes > h.auto 2>/dev/null
tar xOf c.b64.tar blksnap.hashes > h.b64 2>/dev/null
tar xOf c.auto.tar coarse.img > i.auto 2>/dev/null
tar xOf c.b64.tar coarse.img > i.b64 2>/dev/null
[ -s h.auto ] && cmp -s h.auto h.b64 && cmp -s i.auto i.b64 &&
	[ "$(field c.auto.tar data)" = 196608 ] &&
	ok "its image and hash index are those of -B 64K (196608 bytes of data)" ||
	not_ok "its image and hash index are those of -B 64K (196608 bytes of data)"
restores_as "the coarse incremental restores its point" coarse a.0.tar c.auto.tar

# One 8 KiB-aligned range among 64 KiB ones: 8 KiB blocks.
printf '327680 131072\n6561792 8192\n' > r.8k
check "incremental from a list aligned to 8 KiB" \
	blksnap-send --base a.0.tar -c none -o c.8k.tar coarse -r r.8k
[ "$(field c.8k.tar 'hash block')" = 8192 ] && ok "an 8 KiB-aligned list gives 8 KiB blocks" ||
	not_ok "an 8 KiB-aligned list gives 8 KiB blocks"
# A range not aligned to 4 KiB is rounded out to 4 KiB blocks.
printf '1000 10\n' > r.odd
check "incremental from a list of a 10-byte range" \
	blksnap-send --base a.0.tar -c none -o c.odd.tar state.0 -r r.odd
[ "$(field c.odd.tar 'hash block')" = 4096 ] && [ "$(field c.odd.tar data)" = 4096 ] &&
	ok "an unaligned range gives one 4 KiB block" ||
	not_ok "an unaligned range gives one 4 KiB block"

# -B with an incremental: it must divide the base's block.
check "-B 16K for an incremental of a 64 KiB base" \
	blksnap-send --base a.0.tar -B 16K -c none -o c.16k.tar coarse -r r.coarse
[ "$(field c.16k.tar 'hash block')" = 16384 ] && ok "-B 16K gives 16 KiB blocks" ||
	not_ok "-B 16K gives 16 KiB blocks"
restores_as "the -B 16K incremental restores its point" coarse a.0.tar c.16k.tar
expect_error "-B 128K for an incremental of a 64 KiB base is refused" \
	"hash block size 131072 for an incremental of a\\.0\\.tar: it must divide its base's \\(65536\\)" \
	blksnap-send --base a.0.tar -B 128K -o c.bad.tar coarse -r r.coarse
[ ! -e c.bad.tar ] && ok "nothing written for the refused -B" ||
	not_ok "nothing written for the refused -B"

# Three sizes in one chain: 64 KiB, 16 KiB (-B), then 4 KiB, with 4 KiB
# writes inside the 16 KiB blocks and beside them.
cp coarse three
for b in 81 82 1601 1700; do
	dd if=/dev/urandom of=three bs=4096 seek=$b count=1 conv=notrunc status=none
done
printf '%s 8192\n%s 4096\n%s 4096\n' $((81 * 4096)) $((1601 * 4096)) $((1700 * 4096)) > r.three
check "a 4 KiB incremental after a 16 KiB one" \
	blksnap-send --base c.16k.tar -c zstd -o c.4k.tar three -r r.three
[ "$(field c.4k.tar 'hash block')" = 4096 ] && ok "it has 4 KiB hash blocks" ||
	not_ok "it has 4 KiB hash blocks"
restores_as "the chain of 64, 16 and 4 KiB blocks restores its point" three \
	a.0.tar c.16k.tar c.4k.tar
check "merge of the chain of three sizes" \
	blksnap-merge -c zstd -o three.tar a.0.tar c.16k.tar c.4k.tar
restores_as "its synthetic full restores the point" three three.tar
cp three three.new
for at in $((81 * 4096 + 5)) $((5 * 65536 + 20000)) $((1601 * 4096 + 4096 + 7)) $((200 * 65536))
do
	dd if=/dev/urandom of=three.new bs=1 seek="$at" count=10 conv=notrunc status=none
done
check "scan against the chain of three sizes" \
	sh -c 'blksnap-diff --scan three.new a.0.tar c.16k.tar c.4k.tar > scan.three'
check "incremental from that scan" \
	blksnap-send --base c.4k.tar -c none -o c.new.tar three.new -r scan.three
restores_as "the chain with it restores the changed image" three.new \
	a.0.tar c.16k.tar c.4k.tar c.new.tar

# A send cut short with -B 64K, resumed without it (4 KiB blocks from the
# list): refused, saying why, and the partial archive kept.
prlimit --fsize=20480 blksnap-send --resume -c none --base a.0.tar -B 64K \
	-o cut.tar img -r r.3 >/dev/null 2>&1
if [ -s cut.tar.part ]; then
	expect_error "a resume whose hash block differs is refused, saying so" \
		"cut\\.tar\\.part: the partial archive has hash blocks of 65536 bytes, this send 4096" \
		blksnap-send --resume -c none --base a.0.tar -o cut.tar img -r r.3
	[ -s cut.tar.part ] && [ ! -e cut.tar ] && ok "the partial archive is kept" ||
		not_ok "the partial archive is kept"
else
	not_ok "a send cut at 20480 bytes leaves cut.tar.part"
fi

# An image whose size is not a multiple of 4 KiB: the last range ends at
# the image's end.
random_file odd $((SIZE + 1536))
check "full backup of an odd-sized image" blksnap-send --full -c none -o o.0.tar odd
cp odd odd.0
dd if=/dev/urandom of=odd bs=4096 seek=3 count=1 conv=notrunc status=none
dd if=/dev/urandom of=odd bs=512 seek=$((SIZE / 512)) count=3 conv=notrunc status=none
printf '12288 4096\n%s 1536\n' "$SIZE" > r.oddend
check "incremental of the odd-sized image" \
	blksnap-send --base o.0.tar -c none -o o.1.tar odd -r r.oddend
[ "$(field o.1.tar 'hash block')" = 4096 ] && [ "$(field o.1.tar data)" = 5632 ] &&
	ok "its last range ends at the image's end in a 4 KiB block" ||
	not_ok "its last range ends at the image's end in a 4 KiB block"
restores_as "the odd-sized chain restores its point" odd o.0.tar o.1.tar

# A corrupted byte in a 4 KiB incremental: refused, naming the archive.
cp state.3 marked
printf 'FINE-INCREMENTAL-MARKER' |
	dd of=marked bs=1 seek=$((3 * MiB + 4096 + 100)) conv=notrunc status=none
printf '%s 4096\n' $((3 * MiB + 4096)) > r.mark
check "incremental holding a marked 4 KiB block" \
	blksnap-send --base a.3.tar -c none -o m.tar marked -r r.mark
cp m.tar bad.tar
at=$(grep -boa 'FINE-INCREMENTAL-MARKER' bad.tar | head -n 1 | cut -d: -f1)
if [ -n "$at" ]; then
	flip_bit bad.tar $((at + 3))
	expect_error "a corrupted byte in a 4 KiB incremental is refused naming it" \
		"bad\\.tar: corrupted archive: image data at offset $((3 * MiB + 4096)) \\(hash block of 4096 bytes\\)" \
		blksnap-restore -o bad.out a.0.tar a.1.tar a.2.tar a.3.tar bad.tar
	[ ! -e bad.out ] && ok "nothing restored from the corrupted chain" ||
		not_ok "nothing restored from the corrupted chain"
else
	not_ok "the marker is in the uncompressed incremental"
fi
restores_as "the good one restores" marked a.0.tar a.1.tar a.2.tar a.3.tar m.tar

done_testing
