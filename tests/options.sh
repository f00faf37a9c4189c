#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The command-line language shared by the five tools: a short option
# means one thing in every tool (and blksnap(7) lists them all), a
# missing argument and options that exclude each other are usage errors
# that name the options, and the old spellings still work for a release,
# with a note that names the new one.

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

tools="send diff restore merge cbt take"

# "-o --output", one a line, for every short option a tool's --help shows.
short_options() {
	"blksnap-$1" --help |
		sed -n 's/^ *\(-[A-Za-z0-9]\), \(--[a-z0-9][a-z0-9-]*\).*/\1 \2/p'
}

# --- a short option means one thing -----------------------------------
: > "$TMP/all"
for t in $tools; do
	short_options "$t" | sed "s/\$/ blksnap-$t/" >> "$TMP/all"
done
if [ "$(wc -l < "$TMP/all")" -lt 20 ]; then
	not_ok "the tools' --help list their short options"
	diag "$(cat "$TMP/all")"
fi
LC_ALL=C sort -u -k1,2 "$TMP/all" | awk '{ print $1 }' | LC_ALL=C sort | uniq -d > "$TMP/clash"
if [ -s "$TMP/clash" ]; then
	not_ok "each short option has one long name in every tool"
	for l in $(cat "$TMP/clash"); do
		diag "$(grep -- "^$l " "$TMP/all")"
	done
else
	ok "each short option has one long name in every tool"
fi
if grep -q '^-t ' "$TMP/all"; then
	not_ok "no tool shows -t (tar users read it as --list)"
else
	ok "no tool shows -t (tar users read it as --list)"
fi

# The table of blksnap(7) lists exactly the short options of --help.
sed -n '/^\.SS Options common to the tools/,/^\.TE/p' "$top_srcdir/man/blksnap.7" |
	sed -n 's/\\-/-/g; s/^\(-[A-Za-z0-9]\)	\(--[a-z0-9-]*\).*/\1 \2/p' |
	LC_ALL=C sort -u > "$TMP/man"
awk '{ print $1, $2 }' "$TMP/all" | LC_ALL=C sort -u > "$TMP/help"
if [ -s "$TMP/man" ] && cmp -s "$TMP/help" "$TMP/man"; then
	ok "blksnap(7) lists the short options that --help shows"
else
	not_ok "blksnap(7) lists the short options that --help shows"
	diag "--help (<) against blksnap(7) (>):" "$(diff "$TMP/help" "$TMP/man")"
fi

# --- usage errors name the option -------------------------------------
# Every option that --help shows with an argument, given none, short
# and long, as the last word of the command line.
for t in $tools; do
	"blksnap-$t" --help | sed -n \
		-e 's/^ *-\([A-Za-z0-9]\), \(--[a-z0-9-]*\) [A-Z].*/-\1 \2/p' \
		-e 's/^ *\(--[a-z0-9-]*\) [A-Z].*/\1/p' > "$TMP/witharg"
	n=0
	while read -r a b; do
		for o in $a ${b:-}; do
			n=$((n + 1))
			expect_usage_error "blksnap-$t $o without its argument" \
				"^blksnap-$t: option '$o' requires an argument$" \
				"blksnap-$t" -v "$o"
		done
	done < "$TMP/witharg"
	[ "$n" -ge 2 ] || not_ok "blksnap-$t: --help shows options with arguments"
done
expect_usage_error "a short option in a cluster names its letter" \
	"option '-o' requires an argument" blksnap-restore -vo
expect_usage_error "an unknown short option is named" \
	"unknown option '-x'" blksnap-send -x
expect_usage_error "an unknown long option is named" \
	"unknown or ambiguous option '--nosuch'" blksnap-diff --nosuch=3
expect_usage_error "an argument given to an option without one" \
	"option '--list' does not take an argument" blksnap-restore --list=yes a.tar

# --- options that exclude each other ----------------------------------
id=0a1b2c3d-0000-4000-8000-123456789abc
expect_usage_error "restore: --output and --verify" \
	"^blksnap-restore: --output and --verify are mutually exclusive$" \
	blksnap-restore -o x --verify a.tar
expect_usage_error "restore: --list and --output" \
	"^blksnap-restore: --list and --output are mutually exclusive$" \
	blksnap-restore -lo x a.tar
expect_usage_error "send: --full and --base" \
	"^blksnap-send: --full and --base are mutually exclusive$" \
	blksnap-send --full -b a.tar img
expect_usage_error "diff: --scan and --cbt" \
	"^blksnap-diff: --scan and --cbt are mutually exclusive$" \
	blksnap-diff --scan img --cbt dump a.tar
expect_usage_error "diff: --source and --scan" \
	"^blksnap-diff: --source and --scan are mutually exclusive$" \
	blksnap-diff -S img --scan img a.tar
expect_usage_error "cbt: --attach and --detach" \
	"^blksnap-cbt: --attach and --detach are mutually exclusive$" \
	blksnap-cbt -a -d /dev/null
expect_usage_error "take: --info and --destroy" \
	"^blksnap-take: --info and --destroy are mutually exclusive$" \
	blksnap-take -i $id --destroy $id
expect_usage_error "take: --list and --wait-events" \
	"^blksnap-take: --list and --wait-events are mutually exclusive$" \
	blksnap-take -l -w $id
check "an option repeated is not excluded by itself" sh -c \
	'blksnap-restore --list -l nosuch.tar 2>"$0"; test $? -eq 1 && ! grep -q exclusive "$0"' "$TMP/repeat.err"

# --- old spellings ----------------------------------------------------
cd "$TMP" || exit 1
random_file img 1048576
blksnap-send --full -c none -o a.tar img || exit 1

# deprecated DESC OLD NEW STATUS CMD...: CMD exits STATUS, its stderr
# has the note "OLD is deprecated, use NEW", and with -q it has not.
deprecated() {
	desc=$1 old=$2 new=$3 want=$4
	shift 4
	"$@" >out 2>err </dev/null
	status=$?
	if [ "$status" -eq "$want" ] && grep -q ": $old is deprecated, use $new\$" err; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "command: $*" "exit status $status (want $want)" "stderr: $(cat err)"
	fi
	"$@" -q >out 2>err </dev/null
	if grep -q 'deprecated' err; then
		not_ok "$desc: -q silences the note"
		diag "$(cat err)"
	else
		ok "$desc: -q silences the note"
	fi
}

deprecated "restore -t verifies" -t --verify 0 blksnap-restore -t a.tar
deprecated "send -l is --level" -l --level 0 \
	sh -c 'blksnap-send --full -c gzip -l 1 -o g.tar "$0" "$@"' img
check "send -l 1 wrote a good archive" blksnap-restore --verify g.tar
expect_usage_error "send -l checks its value as --level" \
	"invalid value for --level: '99'" blksnap-send --full -l 99 img
printf '0 4096\n' | dd of=img bs=4096 count=1 conv=notrunc status=none
blksnap-diff --scan img a.tar > scan.want
deprecated "diff -s is --scan" -s --scan 0 sh -c 'blksnap-diff -s img a.tar "$@" > scan.got' sh
check "diff -s lists what --scan lists" cmp scan.want scan.got
deprecated "diff -c is --cbt" -c --cbt 1 blksnap-diff -c nosuch.dump a.tar
grep -q 'nosuch.dump: cannot open' err && ok "diff -c names the dump to read" ||
	not_ok "diff -c names the dump to read"
# cbt and take need the module for more than their checks of the options.
deprecated "cbt -c is --current" -c --current 1 blksnap-cbt -c /dev/null
deprecated "cbt -m is --mark-dirty" -m --mark-dirty 1 blksnap-cbt -m /dev/null
expect_usage_error "cbt -m excludes as --mark-dirty" \
	"^blksnap-cbt: --mark-dirty and --list are mutually exclusive$" \
	blksnap-cbt -m -l
deprecated "cbt -s is --since" -s --since 2 blksnap-cbt -s 1 /dev/null
grep -q '^blksnap-cbt: --since goes with --info or --ranges$' err &&
	ok "cbt -s is checked as --since" || not_ok "cbt -s is checked as --since"
expect_usage_error "cbt --ranges needs --since" \
	"^blksnap-cbt: --ranges needs --since N$" blksnap-cbt --ranges /dev/null
expect_usage_error "cbt --ranges is a mode of its own" \
	"^blksnap-cbt: --ranges and --info are mutually exclusive$" \
	blksnap-cbt --ranges --info --since 1 /dev/null
expect_usage_error "cbt --ranges writes no dump file" \
	"^blksnap-cbt: --output goes with writing a dump$" \
	blksnap-cbt --ranges --since 1 -o x /dev/null
deprecated "take -d is --destroy" -d --destroy 1 blksnap-take -d $id
expect_usage_error "take -d excludes as --destroy" \
	"^blksnap-take: --list and --destroy are mutually exclusive$" \
	blksnap-take -l -d $id
for old in -a -t --timeout; do
	case $old in -a) new=--auto-extend ;; *) new=--wait-timeout ;; esac
	deprecated "take $old is $new" "$old" "$new" 2 blksnap-take --list "$old" 5
	grep -q "^blksnap-take: --auto-extend and --wait-timeout go with --wait-events$" err &&
		ok "take $old is checked as $new" || not_ok "take $old is checked as $new"
done
if blksnap-take --help | grep -q -- '--timeout'; then
	not_ok "take --help does not show --timeout"
else
	ok "take --help does not show --timeout"
fi

done_testing
