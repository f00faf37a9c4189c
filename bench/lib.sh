# SPDX-License-Identifier: GPL-2.0-or-later
# Timing helpers shared by the benchmarks (sourced).
#
#   use_build DIR        puts the tools of build tree DIR first in PATH
#   calc EXPR            awk arithmetic
#   elapsed CMD          seconds CMD took (sh -c); exits on failure
#   pair CMD_A CMD_B     times both ROUNDS times, alternating, running
#                        $PREP (if set) before each; sets ta and tb to
#                        each side's best

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
elapsed() {
	_s=$(now)
	sh -c "$1" >/dev/null 2>&1 || { echo "bench: failed: $1" >&2; exit 1; }
	_e=$(now)
	calc "$_e - $_s"
}
min() { calc "($1 < $2) ? $1 : $2"; }
pair() {
	ta=999999 tb=999999
	_r=0
	while [ "$_r" -lt "${ROUNDS:-3}" ]; do
		[ -n "${PREP:-}" ] && sh -c "$PREP"
		ta=$(min "$ta" "$(elapsed "$1")")
		[ -n "${PREP:-}" ] && sh -c "$PREP"
		tb=$(min "$tb" "$(elapsed "$2")")
		_r=$((_r + 1))
	done
}

# In a build tree src/blksnap-* are libtool's wrapper scripts: a bash
# start-up and an exec before each tool runs (100 ms on a busy machine,
# more than a 1% incremental takes).  Time the real binaries, as
# installed tools run, with the uninstalled library beside them.
use_build() {
	if [ -x "$1/src/.libs/blksnap-send" ] && [ -d "$1/lib/.libs" ]; then
		PATH="$1/src/.libs:$PATH"
		LD_LIBRARY_PATH="$1/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
		export LD_LIBRARY_PATH
	else
		PATH="$1/src:$PATH"
	fi
}
