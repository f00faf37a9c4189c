#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# GNU tar and bsdtar extract a full archive into a usable image.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cd "$TMP" || exit 1
random_file data.img 20000000
truncate -s 300M sparse.img
dd if=/dev/urandom of=sparse.img bs=1M seek=100 count=2 conv=notrunc status=none
dd if=/dev/urandom of=sparse.img bs=1 seek=$((300 * 1048576 - 10)) count=10 conv=notrunc status=none

for img in data.img sparse.img; do
	for c in none zstd; do
		blksnap-send --full -c "$c" -o "$img.$c.tar" "$img"
		for tar in tar bsdtar; do
			if ! have "$tar"; then
				skip "$tar extracts $img ($c)" "$tar is not installed"
				continue
			fi
			rm -rf x && mkdir x
			if [ "$tar" = tar ] && [ "$c" = zstd ]; then
				set -- tar --zstd -xf
			else
				set -- "$tar" -xf
			fi
			if (cd x && "$@" "../$img.$c.tar") && cmp -s "$img" "x/$img"; then
				ok "$tar extracts $img ($c) identically"
			else
				not_ok "$tar extracts $img ($c) identically"
			fi
		done
	done
done
# same_layout A B: archives of the same data byte for byte alike, but for
# the manifest (its UUID, time and compression: 1 KiB at most here) and
# the mtime and checksum fields of the headers.
same_layout() {
	[ "$(wc -c <"$1")" = "$(wc -c <"$2")" ] || return 1
	cmp -l "$1" "$2" | awk '{ off = $1 - 1; field = off % 512 }
		!(field >= 136 && field < 156) && !(off >= 512 && off < 1536) { bad++ }
		END { exit bad > 0 }'
}
# Uncompressed archives are written by libblksnap, compressed ones by
# libarchive's pax writer: the layout is the same.
if have gzip; then
	printf '# size 314572800\n104857600 4096\n209715200 65536\n314572790 10\n' >ranges
	blksnap-send --full -c none -m sparse.man -o base.tar sparse.img
	for img in data.img sparse.img; do
		blksnap-send --full -c gzip "$img" | gzip -dc >"$img.gz.tar"
		check "uncompressed $img is laid out as libarchive writes it" \
			same_layout "$img.none.tar" "$img.gz.tar"
	done
	blksnap-send --base sparse.man -r ranges -c none -o inc.none.tar sparse.img
	blksnap-send --base sparse.man -r ranges -c gzip sparse.img | gzip -dc >inc.gz.tar
	check "an uncompressed incremental is laid out as libarchive writes it" \
		same_layout inc.none.tar inc.gz.tar
else
	skip "uncompressed archives are laid out as libarchive writes them" "gzip is not installed"
fi
if have tar; then
	rm -rf x && mkdir x && (cd x && tar -xf ../sparse.img.none.tar)
	alloc=$(allocated_blocks x/sparse.img)
	if [ "$alloc" -lt 20000 ]; then ok "GNU tar keeps it sparse ($alloc blocks)"; else not_ok "GNU tar keeps it sparse ($alloc blocks)"; fi
	check "GNU tar lists manifest, image, hashes in order" sh -c \
		'tar -tf data.img.none.tar | tr "\n" " " | grep -qx "blksnap.manifest data.img blksnap.hashes "'
fi
done_testing
