#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every option that a tool's --help lists is documented in the OPTIONS
# section of its man page with the same short and long names, and the
# page documents no option that --help does not list.  One TAP line per
# tool and direction.

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

# "-f --full" or "--cbt-generation", one option a line, from --help: only
# lines that start with an option (descriptions may mention others).
help_options() {
	"$1" --help | sed -n \
		-e 's/^ *\(-[A-Za-z0-9]\), \(--[a-z0-9][a-z0-9-]*\).*/\1 \2/p' \
		-e 's/^ *\(--[a-z0-9][a-z0-9-]*\).*/\1/p' | LC_ALL=C sort -u
}

# The same from the tag lines (the line after .TP) of the OPTIONS section.
man_options() {
	sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$1" |
	awk 'prev == ".TP" { print } { prev = $0 }' |
	sed 's/\\-/-/g; s/\\f[BIRP]//g' |
	awk '{
		out = ""
		for (i = 1; i <= NF; i++) {
			w = $i
			gsub(/^"|"$/, "", w)
			if (w ~ /^--?[A-Za-z0-9][A-Za-z0-9-]*$/)
				out = out == "" ? w : out " " w
		}
		if (out != "")
			print out
	}' | LC_ALL=C sort -u
}

for name in send diff restore merge cbt take backup; do
	tool=$BLKSNAP_BIN/src/blksnap-$name
	[ "$name" = backup ] && tool=$top_srcdir/contrib/blksnap-backup
	page=$top_srcdir/man/blksnap-$name.8

	if ! help_options "$tool" >"$TMP/help" 2>"$TMP/help.err" ||
	   [ ! -s "$TMP/help" ]; then
		not_ok "blksnap-$name: --help lists its options"
		diag "$(cat "$TMP/help.err")"
		not_ok "blksnap-$name(8): options are in --help"
		continue
	fi
	if [ ! -r "$page" ]; then
		not_ok "blksnap-$name: every --help option is in blksnap-$name(8)"
		diag "no man page at $page"
		not_ok "blksnap-$name(8): options are in --help"
		continue
	fi
	man_options "$page" >"$TMP/man"

	LC_ALL=C comm -23 "$TMP/help" "$TMP/man" >"$TMP/missing"
	if [ -s "$TMP/missing" ]; then
		not_ok "blksnap-$name: every --help option is in blksnap-$name(8)"
		diag "in --help but not in the OPTIONS of $page:" \
		     "$(cat "$TMP/missing")"
	else
		ok "blksnap-$name: every --help option is in blksnap-$name(8)"
	fi

	LC_ALL=C comm -13 "$TMP/help" "$TMP/man" >"$TMP/extra"
	if [ -s "$TMP/extra" ]; then
		not_ok "blksnap-$name(8): options are in --help"
		diag "in the OPTIONS of $page but not in --help:" \
		     "$(cat "$TMP/extra")"
	else
		ok "blksnap-$name(8): options are in --help"
	fi
done

done_testing
