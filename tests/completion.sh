#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The bash completion (contrib/bash-completion/blksnap), run as bash runs
# it: for every tool, completing "--" offers exactly the long options
# that its --help lists; an option's argument is completed by its kind
# (a compression method, a mode, a file); a word that is not an option
# is a file for the tools that read archives.

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || skip_all "no bash-completion (Debian: apt-get install bash-completion)"
command -v bash >/dev/null || skip_all "no bash"

# complete TOOL WORD...: what the completion offers for the last WORD,
# one a line, sorted.
complete_words() {
	bash -c '
		. "$1" && . "$2" || exit 1
		shift 2
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_blksnap
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"
	' complete "$bc" "$top_srcdir/contrib/bash-completion/blksnap" "$@" |
	LC_ALL=C sort -u
}

# The long options of TOOL's --help: the option lines alone (the
# descriptions mention other options), read here apart from the
# completion's own reading.
help_long_options() {
	"$1" --help | sed -n 's/^ *\(-[A-Za-z0-9], \)\{0,1\}\(--[a-z0-9][a-z0-9-]*\).*/\2/p' |
		LC_ALL=C sort -u
}

for name in take cbt send diff restore merge backup; do
	tool=$BLKSNAP_BIN/src/blksnap-$name
	[ "$name" = backup ] && tool=$top_srcdir/contrib/blksnap-backup
	help_long_options "$tool" > "$TMP/help"
	complete_words "$tool" -- > "$TMP/offered"
	if [ ! -s "$TMP/help" ]; then
		not_ok "blksnap-$name: --help lists long options"
	elif cmp -s "$TMP/help" "$TMP/offered"; then
		ok "blksnap-$name: completing -- offers exactly the long options of --help"
	else
		not_ok "blksnap-$name: completing -- offers exactly the long options of --help"
		diag "$(diff "$TMP/help" "$TMP/offered")"
	fi
done

send=$BLKSNAP_BIN/src/blksnap-send
expect_words() {
	desc=$1 want=$2
	shift 2
	got=$(complete_words "$@" | tr '\n' ' ')
	if [ "$got" = "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "expected: $want" "offered:  $got"
	fi
}
expect_words "send --compress offers the methods" "gzip lz4 none xz zstd " \
	"$send" --compress ""
expect_words "send -c (its short name) offers the methods" "gzip lz4 none xz zstd " \
	"$send" -c ""
expect_words "diff --fallback offers the modes" "fail full scan " \
	"$BLKSNAP_BIN/src/blksnap-diff" --fallback ""
mkdir "$TMP/dir" && : > "$TMP/dir/chain.0.tar"
expect_words "restore completes an archive's file name" "$TMP/dir/chain.0.tar " \
	"$BLKSNAP_BIN/src/blksnap-restore" "$TMP/dir/ch"
expect_words "send --level takes a number: nothing offered" "" \
	"$send" --level ""

done_testing
