#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every man page formats without a warning from man and groff, run as
# lintian runs them (its groff-message tag): LC_ALL=C.UTF-8, no
# preprocessors but those the page's first line asks for, man --warnings
# -E UTF-8 -l -Tutf8 -Z, at lintian's width (120 columns) and at the
# usual terminal's (80).  A table that straddles a page boundary at one
# of them, for one, warns "table text block will not fit on one page".
# One TAP line per page and width.

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

command -v man >/dev/null 2>&1 || skip_all "man is not installed (man-db)"
command -v groff >/dev/null 2>&1 || skip_all "groff is not installed (groff-base)"

for page in "$top_srcdir"/man/*.[1-9]; do
	name=${page##*/}
	for width in 80 120; do
		warnings=$(cd "$TMP" && env -i PATH="$PATH" LC_ALL=C.UTF-8 \
			MANROFFSEQ='' MANWIDTH=$width \
			man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
		if [ -z "$warnings" ]; then
			ok "$name at $width columns: no warning"
		else
			diag "$warnings"
			not_ok "$name at $width columns: no warning"
		fi
	done
done
done_testing
