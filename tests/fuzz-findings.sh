#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# What fuzzing found in the tools, on its inputs in tests/fuzz/crashes/:
# a small file stating a huge image is refused before memory for the
# whole image is taken, and a time out of the calendar is shown as a
# number.  The memory bound (a limit on the address space) is only set
# without AddressSanitizer, which reserves terabytes of it.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

crashes=$top_srcdir/tests/fuzz/crashes
cd "$TMP" || exit 1

# Runs the command in at most 1 GB of address space (the tools need
# about 300 MB of it for their libraries and threads).
# ASan's runtime is linked in (clang) or loaded (gcc): either way the
# tool or its libtool wrapper's program names __asan_init.
bounded() {
	if grep -qs __asan_init "$BLKSNAP_BIN/src/.libs/blksnap-diff" \
			"$BLKSNAP_BIN/src/blksnap-diff"; then
		"$@"
	else
		(ulimit -v 1000000 && "$@")
	fi
}

# A 3 KiB manifest file of a 1 TiB image at 4 KiB hash blocks: 2 GiB of
# block hashes were allocated and filled before the sizes were compared.
random_file small.img 100000
expect_error "scan of a small image against a 1 TiB manifest: sizes first" \
	"small.img has 100000 bytes but the chain's image has 1099511627776" \
	bounded blksnap-diff --scan small.img "$crashes/manifest-file/image-1tib.man"

# A 34 KB zstd archive of a sparse 256 GiB image whose hash index entry
# is 1 GiB of zeros: the whole entry was read into memory before it was
# found not to be an index.  The image's data says how large it is.
expect_error "verify of an archive with a 1 GiB hash index: bounded by the data" \
	"zeros-index-1g.tar.zst: damaged archive: the hash index has 1073741824 bytes, not the 48 its image data needs" \
	bounded blksnap-restore --verify "$crashes/archive/zeros-index-1g.tar.zst"

# created_epoch=INT64_MAX, past gmtime's years: strftime was given an
# uninitialised struct tm.
blksnap-restore --list "$crashes/manifest-file/created-out-of-range.man" > list.out 2>&1
check "--list shows a creation time out of the calendar as a number" \
	grep -q "created:     9223372036854775807 seconds after 1970 by blksnap" list.out

done_testing
