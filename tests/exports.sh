#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The shared library exports the functions of the installed headers and
# nothing else, each in its version node of lib/libblksnap.sym
# (LIBBLKSNAP_1, and LIBBLKSNAP_1.N for what a later release added).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

so=$BLKSNAP_BIN/lib/.libs/libblksnap.so
map=$srcdir/lib/libblksnap.sym
have nm || skip_all "nm is not installed"
[ -e "$so" ] || skip_all "no shared library was built"
grep -q '^[^#].*-Wl,--version-script=' "$BLKSNAP_BIN/Makefile" ||
	skip_all "the linker has no --version-script: blksnap_* is exported unversioned"

nm -D --defined-only "$so" | awk '{ print $3 }' | LC_ALL=C sort > "$TMP/exported"
sed -n 's/^\t\(blksnap_[a-z0-9_]*\);$/\1/p' "$map" | LC_ALL=C sort > "$TMP/map"
cat "$srcdir"/include/blksnap/*.h | grep -o 'blksnap_[a-z0-9_]*(' | tr -d '(' |
	LC_ALL=C sort -u > "$TMP/declared"

check "the map lists the functions of the installed headers" \
	diff -u "$TMP/declared" "$TMP/map"
check "the library exports the map's functions and nothing else" \
	sh -c "sed -E 's/@@LIBBLKSNAP_1(\.[0-9]+)?\$//' '$TMP/exported' |
	       grep -Evx 'LIBBLKSNAP_1(\.[0-9]+)?' | diff -u '$TMP/map' -"
check "the version node LIBBLKSNAP_1 is defined" grep -qx LIBBLKSNAP_1 "$TMP/exported"
check "every exported symbol carries the version node" \
	sh -c "! grep -Ev -e '@@LIBBLKSNAP_1(\.[0-9]+)?\$' -e '^LIBBLKSNAP_1(\.[0-9]+)?\$' '$TMP/exported'"
# The Debian symbols file (not in a dist tarball) lists the map's
# functions, each at LIBBLKSNAP_1, for the soname the library has.
symbols=$srcdir/debian/libblksnap1.symbols
if [ -r "$symbols" ]; then
	sed -n 's/^ \(blksnap_[a-z0-9_]*\)@LIBBLKSNAP_1 .*/\1/p' "$symbols" |
		LC_ALL=C sort > "$TMP/symbols"
	check "debian/libblksnap1.symbols lists the map's functions at LIBBLKSNAP_1" \
		diff -u "$TMP/map" "$TMP/symbols"
	check "debian/libblksnap1.symbols has no other symbol and names libblksnap.so.1" \
		sh -c "head -n1 '$symbols' | grep -q '^libblksnap\.so\.1 libblksnap1 ' &&
		       ! grep '^ ' '$symbols' | grep -v -e '^ blksnap_[a-z0-9_]*@LIBBLKSNAP_1 ' \
			-e '^ LIBBLKSNAP_1@LIBBLKSNAP_1 '"
else
	skip "debian/libblksnap1.symbols lists the map's functions" "no debian/ here"
fi
check "the library's soname is libblksnap.so.1" \
	sh -c "objdump -p '$so' 2>/dev/null | grep -q 'SONAME *libblksnap\\.so\\.1\$' ||
	       readelf -d '$so' | grep -q 'libblksnap\\.so\\.1\\]'"
done_testing
