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
if have tar; then
	rm -rf x && mkdir x && (cd x && tar -xf ../sparse.img.none.tar)
	alloc=$(allocated_blocks x/sparse.img)
	if [ "$alloc" -lt 20000 ]; then ok "GNU tar keeps it sparse ($alloc blocks)"; else not_ok "GNU tar keeps it sparse ($alloc blocks)"; fi
	check "GNU tar lists manifest, image, hashes in order" sh -c \
		'tar -tf data.img.none.tar | tr "\n" " " | grep -qx "blksnap.manifest data.img blksnap.hashes "'
fi
done_testing
