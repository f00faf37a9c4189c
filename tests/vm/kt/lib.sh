# SPDX-License-Identifier: GPL-2.0-only
# Helpers for the kernel tests; sourced by guest.sh before each test.
# A test is a shell script: exit 0 passes, 77 skips (last line of output
# is the reason), anything else fails.
set -u

die() {
	echo "FAIL: $*"
	exit 1
}

load() {
	insmod "$KO" "$@" || die "insmod $*"
	i=0
	while [ ! -c /dev/blksnap-control ]; do
		i=$((i + 1))
		[ $i -gt 50 ] && die "no /dev/blksnap-control"
		sleep 0.1
	done
}

unload() {
	rmmod blksnap || die "rmmod"
}

# info DEV FIELD: one field of "ktest info"
info() {
	"$KTEST" info "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# marked DEV: indexes of the marked tracking blocks, sorted
marked() {
	"$KTEST" map "$1" > /tmp/map.raw || die "ktest map $1"
	cut -d' ' -f1 /tmp/map.raw | sort -n
}

# blocks BLOCKSIZE < "offset length" lines (bytes): tracking blocks touched
blocks() {
	awk -v bs="$1" '$2 > 0 {
		first = int($1 / bs); last = int(($1 + $2 - 1) / bs)
		for (b = first; b <= last; b++) print b
	}' | sort -n -u
}

# same_set NAME EXPECTED_FILE GOT_FILE
same_set() {
	if ! cmp -s "$2" "$3"; then
		echo "$1: expected $(wc -l < "$2") blocks, got $(wc -l < "$3")"
		sort "$2" > /tmp/same.a
		sort "$3" > /tmp/same.b
		echo "missing: $(comm -23 /tmp/same.a /tmp/same.b | head -n 10 | tr '\n' ' ')"
		echo "extra:   $(comm -13 /tmp/same.a /tmp/same.b | head -n 10 | tr '\n' ' ')"
		die "$1: map differs from the blocks written"
	fi
	echo "$1: $(wc -l < "$3") blocks, as expected"
}

# dev_bytes DEV: device size in bytes
dev_bytes() {
	blockdev --getsize64 "$1"
}

# seed: a random number for awk's srand(), printed for reproduction
seed() {
	s=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo "random seed $s" >&2
	echo "$s"
}
