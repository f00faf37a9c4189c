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

# wait_marked DEV: the number of marked blocks in DEV's map once writers
# started (fio takes a while to start under TCG), 0 after 30 s
wait_marked() {
	wm_i=0
	wm_n=0
	while [ $wm_i -lt 60 ] && [ "$wm_n" = 0 ]; do
		sleep 0.5
		wm_i=$((wm_i + 1))
		wm_n=$(marked "$1" | wc -l)
	done
	echo "$wm_n"
}

# image_read_fails IMG: reading IMG fails, and within a minute
image_read_fails() {
	timeout 60 dd if="$1" of=/dev/null bs=64k count=1 skip=7 \
		iflag=direct 2> /dev/null
	case $? in
	0) die "image read succeeded on a corrupted snapshot" ;;
	124) die "image read hung" ;;
	esac
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

# Snapshot helpers (tests 3*).

# snap_field ID FIELD: one field of the first line of "ktest snap-info"
snap_field() {
	"$KTEST" snap-info "$1" | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# Called as $(...): errors go to stderr and the caller dies.
snap_err() {
	echo "FAIL: $*" >&2
	return 1
}

# image_of ID DEV: the image device of DEV, once its node exists
image_of() {
	io_img=$("$KTEST" snap-image "$1" "$2") || snap_err "snap-image $2" ||
		return 1
	io_i=0
	while [ ! -b "$io_img" ]; do
		io_i=$((io_i + 1))
		[ $io_i -gt 50 ] && { snap_err "no device node $io_img"; return 1; }
		sleep 0.1
	done
	echo "$io_img"
}

# snap_new STORAGE LIMIT LOW_SPACE DEV...: create a snapshot, add the
# devices, take it; prints the id
snap_new() {
	sn_storage=$1 sn_limit=$2 sn_low=$3
	shift 3
	sn_id=$("$KTEST" snap-create "$sn_storage" "$sn_limit" "$sn_low") ||
		{ snap_err "snap-create $sn_storage $sn_limit"; return 1; }
	for sn_dev in "$@"; do
		"$KTEST" snap-add "$sn_id" "$sn_dev" ||
			{ snap_err "snap-add $sn_dev"; return 1; }
	done
	"$KTEST" snap-take "$sn_id" || { snap_err "snap-take"; return 1; }
	echo "$sn_id"
}

# refcnt: the module's reference count
refcnt() {
	cat /sys/module/blksnap/refcnt
}

# slab_kb: unreclaimable slab memory in KiB, after dropping caches
slab_kb() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
	sleep 1
	awk '$1 == "SUnreclaim:" { print $2 }' /proc/meminfo
}

# dump_changed DUMP SINCE: the number of tracking blocks whose map byte in
# the CBT dump DUMP (blksnap-cbt(5): the map follows a 72-byte header in
# version 1, a 96-byte one in version 2) is above SINCE
dump_changed() {
	dc_hl=$(od -An -tu4 -j 12 -N 4 "$1" | tr -d ' ')
	dc_count=$(od -An -tu8 -j 48 -N 8 "$1" | tr -d ' ')
	tail -c +$((dc_hl + 1)) "$1" | head -c "$dc_count" | od -An -v -tu1 |
		awk -v k="$2" '{ for (i = 1; i <= NF; i++) if ($i > k) c++ }
			END { print c + 0 }'
}
