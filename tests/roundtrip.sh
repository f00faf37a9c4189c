#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A full backup of a 256 MiB random image and three incrementals after
# scattered writes; the chain restored up to each point is identical to
# the image at that point.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1
random_file img 268435456
cp img state.0

check "full backup" blksnap-send --full -c none -o a.0.tar img
check "manifest says full" sh -c 'blksnap-restore --list a.0.tar | grep -q "kind: *full"'

chain=a.0.tar
for n in 1 2 3; do
	scatter_writes img 40
	# A write across a hash block boundary and one to the last byte.
	dd if=/dev/urandom of=img bs=1 seek=$((65536 * (n * 100) - 7)) count=14 conv=notrunc status=none
	printf 'x' | dd of=img bs=1 seek=268435455 conv=notrunc status=none
	cp img "state.$n"
	if blksnap-diff --scan img $chain > "r.$n" 2>"err.$n"; then
		ok "scan $n finds changes"
	else
		not_ok "scan $n finds changes"; diag "$(cat "err.$n")"
	fi
	# Every changed 4 KiB block must lie inside the listed ranges.
	missed=$(cmp -l "state.$((n - 1))" "state.$n" | awk -v list="r.$n" '
		BEGIN { while ((getline l < list) > 0) if (l !~ /^#/) { split(l, f, " "); s[++k] = f[1]; e[k] = f[1] + f[2] } }
		{ off = $1 - 1; hit = 0; for (i = 1; i <= k; i++) if (off >= s[i] && off < e[i]) { hit = 1; break } if (!hit) { print off; exit } }')
	if [ -z "$missed" ]; then ok "range list $n covers every changed byte"; else not_ok "range list $n misses byte $missed"; fi
	bytes=$(awk '!/^#/ { s += $2 } END { print s + 0 }' "r.$n")
	# 42 writes touch at most 43 hash blocks of 64 KiB.
	if [ "$bytes" -gt 0 ] && [ "$bytes" -le $((43 * 65536)) ]; then
		ok "range list $n is small ($bytes bytes)"
	else
		not_ok "range list $n is small ($bytes bytes)"
	fi
	check "incremental $n" sh -c "blksnap-send --base a.$((n - 1)).tar -c none -o a.$n.tar img < r.$n"
	size=$(stat -c %s "a.$n.tar")
	if [ "$size" -lt $((bytes + 65536)) ]; then
		ok "incremental $n holds only the changes ($size bytes)"
	else
		not_ok "incremental $n holds only the changes ($size bytes for $bytes changed)"
	fi
	chain="$chain a.$n.tar"
done

for n in 0 1 2 3; do
	set --
	i=0
	while [ "$i" -le "$n" ]; do set -- "$@" "a.$i.tar"; i=$((i + 1)); done
	rm -f out
	if blksnap-restore -o out "$@" 2>err && cmp -s out "state.$n"; then
		ok "chain up to $n restores identically"
	else
		not_ok "chain up to $n restores identically"; diag "$(cat err)"
	fi
done

ln -s out link
check "restore through a symlink replaces the file it names" sh -c \
	'blksnap-restore -o link a.0.tar && test -L link && cmp out state.0'
rm link
check "chain verifies" blksnap-restore --verify a.0.tar a.1.tar a.2.tar a.3.tar
blksnap-restore -o out a.0.tar a.1.tar a.2.tar a.3.tar
check "scan of the restored image finds nothing" sh -c \
	'blksnap-diff --scan out a.0.tar a.1.tar a.2.tar a.3.tar > none && ! grep -qv "^#" none'

# Manifest files stand in for archives as bases.
check "full with a manifest file" blksnap-send --full -c zstd -o m.0.tar -m m.0.man img
check "manifest file is small" test "$(stat -c %s m.0.man)" -lt 100000
scatter_writes img 5
check "scan against the manifest file" sh -c 'blksnap-diff --scan img m.0.man > mr'
check "incremental over the manifest file" sh -c 'blksnap-send --base m.0.man -o m.1.tar img < mr'
rm -f out
check "restore of archive + incremental made over its manifest" \
	sh -c 'blksnap-restore -o out m.0.tar m.1.tar && cmp out img'
expect_error "a manifest file cannot be restored" "holds no image|manifest file" \
	blksnap-restore -o out2 m.0.man
check "the failed restore left no file" test ! -e out2
# A base read from a FIFO is read once, whatever it is: a manifest file is
# read without libarchive from a regular file only.
for base in m.0.man m.0.tar; do
	rm -f fifo && mkfifo fifo
	cat "$base" >fifo 2>/dev/null &
	writer=$!
	check "incremental over $base through a FIFO" timeout 60 sh -c \
		'blksnap-send --base fifo -c none -o f.tar img < mr && blksnap-restore --list f.tar >/dev/null'
	kill "$writer" 2>/dev/null
	wait "$writer" 2>/dev/null
done

done_testing
