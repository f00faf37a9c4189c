#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Fuzzes the harnesses of a build configured with --enable-fuzzing
# (CC=clang), each for a bounded time, a few at a time, starting from the
# seed corpus and the past crash inputs of the tree.  Prints, a harness
# a line, libFuzzer's final executions and coverage, and fails on a
# finding (crash, sanitizer report, leak, timeout, out of memory), naming
# the input it saved.  CI runs it (.ci/run); by hand, for longer:
#
#   tests/fuzz/run.sh [-t SECONDS] [-j JOBS] [-b BUILD_DIR] [HARNESS...]
#
# defaults: 60 s a harness, 2 at a time, the current directory, every
# harness.  New inputs and findings go to $FUZZ_DIR (default
# /var/tmp/blksnap-fuzz/HARNESS/); the tree's corpus is only read: copy a
# finding to tests/fuzz/crashes/HARNESS/ with its fix.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=60 jobs=2 build=.
work=${FUZZ_DIR:-/var/tmp/blksnap-fuzz}

# One harness: what the parallel runs below call.
if [ "${1:-}" = --one ]; then
	name=$2 secs=$3 build=$4
	dir=$work/$name
	rm -rf "$dir" && mkdir -p "$dir/corpus"
	set -- "$dir/corpus" "$top/tests/fuzz/corpus/$name"
	[ -d "$top/tests/fuzz/crashes/$name" ] && set -- "$@" "$top/tests/fuzz/crashes/$name"
	# A single allocation over 1 GiB is a finding: no input of these
	# parsers needs one.  Leaks are findings too.
	"$build/tests/fuzz/fuzz-$name" -max_total_time="$secs" -print_final_stats=1 \
		-rss_limit_mb=1536 -malloc_limit_mb=1024 -timeout=20 -max_len=65536 \
		-artifact_prefix="$dir/" "$@" > "$dir/log" 2>&1 || true
	exit 0
fi

while getopts t:j:b: opt; do
	case $opt in
	t) secs=$OPTARG ;;
	j) jobs=$OPTARG ;;
	b) build=$OPTARG ;;
	*) echo "usage: $0 [-t SECONDS] [-j JOBS] [-b BUILD_DIR] [HARNESS...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
build=$(cd "$build" && pwd)
if [ $# -eq 0 ]; then
	for f in "$top"/tests/fuzz/fuzz-*.c; do
		n=${f##*/fuzz-}
		[ "$n" = util.c ] || set -- "$@" "${n%.c}"
	done
fi
for n in "$@"; do
	if [ ! -x "$build/tests/fuzz/fuzz-$n" ]; then
		echo "run.sh: no $build/tests/fuzz/fuzz-$n: configure CC=clang --enable-fuzzing and make" >&2
		exit 1
	fi
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
printf '%s\n' "$@" | xargs -P "$jobs" -I{} "$0" --one {} "$secs" "$build"

# libFuzzer calls a unit slow past 10 s of wall time, which two harnesses
# sharing a loaded machine can reach for an input that takes milliseconds:
# such a unit is a finding only if it is slow again run alone (past
# SLOW_MS, a fifth of libFuzzer's mark; starting the harness takes
# about 0.2 s).  Sets alone to its time in ms.
SLOW_MS=2000
unit_is_slow() {
	t0=$(date +%s%N)
	"$1" -runs=1 "$2" > /dev/null 2>&1 || { alone=failed; return 0; }
	alone=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$alone" -gt "$SLOW_MS" ]
}

# libFuzzer's last status line ("#N DONE cov: C ft: F corp: ...") and
# final stats; the artifacts it saved are its findings.
status=0
printf '%-20s %12s %8s %8s %8s  %s\n' harness executions exec/s cov ft result
for n in "$@"; do
	dir=$work/$n
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -n 1)
	last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	found=$(ls "$dir" | grep -E '^(crash|leak|timeout|oom)-' || true)
	for slow in $(ls "$dir" | grep -E '^slow-unit-' || true); do
		if unit_is_slow "$build/tests/fuzz/fuzz-$n" "$dir/$slow"; then
			found=$(printf '%s\n%s' "$found" "$slow" | sed '/^$/d')
		else
			echo "$n: $slow: slow only under load ($alone ms alone): not a finding" >&2
		fi
	done
	if [ -n "$found" ]; then
		result="FOUND: $(echo "$found" | sed "s|^|$dir/|" | tr '\n' ' ')"
		status=1
	elif ! grep -q '^stat::number_of_executed_units' "$dir/log"; then
		result="did not run: $(tail -n 3 "$dir/log" | tr '\n' ' ')"
		status=1
	else
		result=ok
	fi
	printf '%-20s %12s %8s %8s %8s  %s\n' "$n" "${execs:--}" "${rate:--}" \
		"${cov:--}" "${ft:--}" "$result"
	if [ "$result" != ok ]; then
		grep -E -A12 '^==[0-9]+==ERROR|runtime error|broken promise|ERROR: libFuzzer' "$dir/log" | head -n 40 | sed 's/^/    /'
	fi
done
exit $status
