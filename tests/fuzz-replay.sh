#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every fuzzing harness (tests/fuzz/fuzz-NAME.c) replays its seed corpus
# and its past crash inputs through the plain driver (replay-NAME): one
# test line a harness, failing on a crash, a broken promise or, in a
# sanitizer build, a sanitizer's report, naming the input that did it.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

fuzz=$top_srcdir/tests/fuzz
for src in "$fuzz"/fuzz-*.c; do
	name=${src##*/fuzz-}
	name=${name%.c}
	[ "$name" = util ] && continue
	replay=$BLKSNAP_BIN/tests/fuzz/replay-$name
	if [ ! -x "$replay" ]; then
		not_ok "$name: no replay program $replay"
		continue
	fi
	set --
	for d in "$fuzz/corpus/$name" "$fuzz/crashes/$name"; do
		[ -d "$d" ] && set -- "$@" "$d"
	done
	if [ $# -eq 0 ]; then
		not_ok "$name: no corpus in $fuzz/corpus/$name"
		continue
	fi
	if "$replay" "$@" > "$TMP/$name.out" 2>&1; then
		ok "$name: $(tail -n 1 "$TMP/$name.out")"
	else
		not_ok "$name"
		diag "last input: $(grep -v '^==\|^ ' "$TMP/$name.out" | grep "^/" | tail -n 1)" \
		     "$(tail -n 30 "$TMP/$name.out")"
	fi
done
done_testing
