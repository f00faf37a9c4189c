#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Guest side of bench/vm-snapshot.sh. Origin /dev/vda (the first 448 MiB
# are the test region), storage /dev/vdb (1 GiB: room for every chunk of
# the region, so no side overflows). fio O_DIRECT, psync, queue depth 1,
# pinned to CPU 1 (unpinned runs under TCG were bimodal), no ramp time:
# the copy-on-write after a fresh snapshot is part of what is measured.
# Write sides, alternating:
#   bare     /dev/vda, module not loaded;
#   blksnap  /dev/vda with a blksnap snapshot taken just before the run
#            (storage: /dev/vdb);
#   dm       /dev/mapper/bsorigin (snapshot-origin of /dev/vda) with a
#            dm-snapshot "snapshot /dev/vda /dev/vdb P CHUNK" created just
#            before the run (the snapshot first, as LVM does), CHUNK =
#            the blksnap chunk size in sectors.
# Rows: 4k random write IOPS, 1 MiB sequential write MiB/s.
# Reads (1 MiB sequential, MiB/s), after a 4 KiB write into every other
# chunk of the region (half the image then comes from the storage), and
# again into one chunk in 16: origin /dev/vda, image (the blksnap image),
# dm-image (the dm-snapshot device, set up the same way afterwards).
# The origin, a virtio disk, says it is rotational, so the image reads
# gaps of copied chunks from it rather than seek; the same blksnap reads
# once more with the origin marked non-rotational (an SSD: one read per
# piece, no gap read) make the "ssd" rows.
# Writes OUT/bench.out.
# Usage: vm-snapshot-guest.sh SRCDIR OUT
out=$2
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
. "$1/bench/guest-lib.sh"
KO="$out/blksnap.ko"
KTEST="$out/ktest"
RT=$(cat "$out/bench.rt" 2> /dev/null || echo 15)
ROUNDS=$(cat "$out/bench.rounds" 2> /dev/null || echo 3)
ROWS=$(cat "$out/bench.rows" 2> /dev/null || echo all)
REGION=$((448 << 20))
res="$out/bench.raw"
log="$out/bench.log"
: > "$res"
: > "$log"
modprobe dm-snapshot >> "$log" 2>&1
# The boot's messages are not the run's (see the end).
dmesg -C
size=$(blockdev --getsz /dev/vda)

teardown() {
	dmsetup remove bssnap 2> /dev/null
	dmsetup remove bsorigin 2> /dev/null
	if [ -c /dev/blksnap-control ]; then
		for id in $("$KTEST" snap-list 2> /dev/null); do
			"$KTEST" snap-destroy "$id"
		done
	fi
	rmmod blksnap 2> /dev/null
	# Let the workers finish before the next side.
	sleep 1
}

# setup SIDE: prints the device to write to
setup() {
	teardown
	case $1 in
	bare) echo /dev/vda ;;
	blksnap)
		insmod "$KO" || return 1
		id=$("$KTEST" snap-create /dev/vdb 0) &&
			"$KTEST" snap-add "$id" /dev/vda &&
			"$KTEST" snap-take "$id" || return 1
		echo /dev/vda
		;;
	dm)
		dd if=/dev/zero of=/dev/vdb bs=64k count=16 oflag=direct 2> /dev/null
		# The snapshot first: snapshot-origin learns at its resume
		# the chunk size it splits writes at. The other way round
		# (before 2026-12-02) a 1 MiB write copied its first chunk
		# only, and the dm write row measured a broken snapshot.
		dmsetup create bssnap --table \
			"0 $size snapshot /dev/vda /dev/vdb P $chunk_sectors" &&
			dmsetup create bsorigin --table \
				"0 $size snapshot-origin /dev/vda" &&
			dmsetup mknodes || return 1
		echo /dev/mapper/bsorigin
		;;
	esac
}

# measure RW BS DEV: IOPS (randwrite) or MiB/s
measure() {
	if ! timeout -k 10 $((RT + 60)) fio --name=bench --filename="$3" \
		--rw="$1" --bs="$2" --direct=1 --ioengine=psync --size=$REGION \
		--time_based --runtime="$RT" --cpus_allowed=1 \
		--output-format=json --output=/tmp/fio.json \
		> /dev/null 2>> "$log"; then
		echo "fio $1 $2 $3 failed or hung; blocked tasks:" >> "$log"
		echo w > /proc/sysrq-trigger
		dmesg | tail -n 150 >> "$log"
		lsmod | head -n 5 >> "$log"
		return
	fi
	fio_result /tmp/fio.json "$1" 2>> "$log"
}

# state after a run: a snapshot that overflowed would flatter the result
check_side() {
	case $1 in
	blksnap)
		st=$("$KTEST" snap-info "$id" | head -n 1)
		echo "$2 $1: $st" >> "$log"
		case "$st" in state=taken*) ;; *) echo " (snapshot $st)" ;; esac
		;;
	dm)
		st=$(dmsetup status bssnap)
		echo "$2 $1: $st" >> "$log"
		case "$st" in *Invalid*) echo " (dm-snapshot invalid)" ;; esac
		;;
	esac
}

# run_write RW BS SIDE
run_write() {
	dev=$(setup "$3") || { echo "$1 $3 0 setup-failed" >> "$res"; return; }
	[ "$3" = blksnap ] && id=$("$KTEST" snap-list | head -n 1)
	v=$(measure "$1" "$2" "$dev")
	echo "$1 $3 ${v:-0}$(check_side "$3" "$1")" >> "$res"
}

# orders A B [C]: the sides of each of the ROUNDS rounds, a word each
# (sides joined by commas), in turn A B C, C B A, B C A (two sides: A B,
# B A)
orders() {
	awk -v n="$ROUNDS" -v a="$1" -v b="$2" -v c="${3:-}" 'BEGIN {
		if (c == "") { o[0] = a "," b; o[1] = b "," a; k = 2 }
		else { o[0] = a "," b "," c; o[1] = c "," b "," a
			o[2] = b "," c "," a; k = 3 }
		for (i = 0; i < n; i++) print o[i % k] }'
}

# read_rows TAG N [ROTATIONAL]: sequential reads of the blksnap image and
# of the dm-snapshot device after every Nth chunk was copied, each
# alternating with reads of the origin; with ROTATIONAL (0 or 1), the
# blksnap side only, the origin's rotational flag set so meanwhile
read_rows() {
	rot=$(cat /sys/block/vda/queue/rotational)
	[ -n "${3:-}" ] && echo "$3" > /sys/block/vda/queue/rotational
	echo "$1: origin rotational=$(cat /sys/block/vda/queue/rotational)" >> "$log"
	teardown
	if setup blksnap > /dev/null; then
		id=$("$KTEST" snap-list | head -n 1)
		every_nth /dev/vda "$2" "$REGION" "$chunk"
		img=$("$KTEST" snap-image "$id" /dev/vda)
		echo "$1: $("$KTEST" snap-info "$id" | head -n 1)" >> "$log"
		for order in $(orders origin image); do
			for side in $(echo "$order" | tr , " "); do
				case $side in
				origin) d=/dev/vda ;;
				image) d=$img ;;
				esac
				echo "$1 $side $(measure read 1M "$d")" >> "$res"
			done
		done
	fi
	teardown
	echo "$rot" > /sys/block/vda/queue/rotational
	[ -z "${3:-}" ] && setup dm > /dev/null && {
		every_nth /dev/mapper/bsorigin "$2" "$REGION" "$chunk"
		for order in $(orders origin dm-image); do
			for side in $(echo "$order" | tr , " "); do
				case $side in
				origin) d=/dev/vda ;;
				dm-image) d=/dev/mapper/bssnap ;;
				esac
				echo "$1-dm $side $(measure read 1M "$d")" >> "$res"
			done
		done
	}
	teardown
}

# Precondition: allocate both disks on the host, learn the chunk size.
dd if=/dev/zero of=/dev/vda bs=1M oflag=direct 2> /dev/null
dd if=/dev/zero of=/dev/vdb bs=1M oflag=direct 2> /dev/null
insmod "$KO" && id=$("$KTEST" snap-create /dev/vdb 0) &&
	"$KTEST" snap-add "$id" /dev/vda && "$KTEST" snap-take "$id"
chunk=$("$KTEST" snap-info "$id" | head -n 1 | tr ' ' '\n' | sed -n 's/^chunk=//p')
chunk=${chunk:-65536}
chunk_sectors=$((chunk / 512))
echo "chunk $chunk bytes" >> "$log"
teardown
measure randwrite 4k /dev/vda > /dev/null	# warm-up, discarded

[ "$ROWS" = reads ] || for rw in "randwrite 4k" "write 1M"; do
	for order in $(orders bare blksnap dm); do
		for side in $(echo "$order" | tr , " "); do
			# shellcheck disable=SC2086
			run_write $rw $side
		done
	done
done

# Reads: images against the origin, alternating; half the chunks copied
# (the worst case: every piece of a read alternates between origin and
# storage), then one in 16 (a backup read soon after the take).
if [ "$ROWS" != writes ]; then
	read_rows read 2
	read_rows read16 16
	read_rows ssd 2 0
	read_rows ssd16 16 0
fi
teardown

# In bench.log, and counted in the summary.
kwarn=$(kernel_warnings "$log")

awk -v chunk="$chunk" '
	{
		k = $1 " " $2; vals[k] = vals[k] " " $3; sum[k] += $3
		v[k, n[k]++] = $3
		if (NF > 3) note[k] = note[k] " [" $0 "]"
	}
	function mean(k) { return n[k] ? sum[k] / n[k] : 0 }
	function ratio(a, b) { return b > 0 ? a / b : 0 }
	# median over the rounds of k / base in the same round: a round
	# slowed by the host slows both sides
	function median_ratio(k, base,    i, j, m, r, t) {
		if (k == base || n[k] != n[base] || !n[k])
			return ""
		for (i = 0; i < n[k]; i++) {
			r[i] = ratio(v[k, i], v[base, i])
			for (j = i; j > 0 && r[j - 1] > r[j]; j--) {
				t = r[j]; r[j] = r[j - 1]; r[j - 1] = t
			}
		}
		m = n[k] % 2 ? r[(n[k] - 1) / 2] : \
			(r[n[k] / 2 - 1] + r[n[k] / 2]) / 2
		return sprintf("%.3f", m)
	}
	function row(label, k, base, dm) {
		printf "%-30s %-28s %9.1f %8.3f %8s %8s %8s\n", label, vals[k],
			mean(k), ratio(mean(k), mean(base)),
			median_ratio(k, base),
			dm == "" ? "" : sprintf("%.3f", ratio(mean(k), mean(dm))),
			dm == "" ? "" : median_ratio(k, dm)
	}
	END {
		printf "chunk %d bytes\n", chunk
		printf "%-30s %-28s %9s %8s %8s %8s %8s\n", "row", "per run",
			"mean", "vs base", "median", "vs dm", "median"
		row("randwrite 4k IOPS bare", "randwrite bare", "randwrite bare", "")
		row("randwrite 4k IOPS blksnap", "randwrite blksnap", "randwrite bare",
			"randwrite dm")
		row("randwrite 4k IOPS dm", "randwrite dm", "randwrite bare", "")
		row("write 1M MiB/s bare", "write bare", "write bare", "")
		row("write 1M MiB/s blksnap", "write blksnap", "write bare",
			"write dm")
		row("write 1M MiB/s dm", "write dm", "write bare", "")
		row("read 1M, 1/2 copied: origin", "read origin", "read origin", "")
		row("read 1M, 1/2 copied: image", "read image", "read origin", "")
		row("read 1M, 1/2: origin (dm)", "read-dm origin", "read-dm origin", "")
		row("read 1M, 1/2: dm-image", "read-dm dm-image", "read-dm origin", "")
		row("read 1M, 1/16 copied: origin", "read16 origin", "read16 origin", "")
		row("read 1M, 1/16 copied: image", "read16 image", "read16 origin", "")
		row("read 1M, 1/16: origin (dm)", "read16-dm origin", "read16-dm origin", "")
		row("read 1M, 1/16: dm-image", "read16-dm dm-image", "read16-dm origin", "")
		row("ssd read, 1/2 copied: origin", "ssd origin", "ssd origin", "")
		row("ssd read, 1/2 copied: image", "ssd image", "ssd origin", "")
		row("ssd read, 1/16: origin", "ssd16 origin", "ssd16 origin", "")
		row("ssd read, 1/16: image", "ssd16 image", "ssd16 origin", "")
		for (k in note) print "note:" note[k]
	}' "$res" > "$out/bench.out"
echo "# base: bare for writes, origin for reads; vs dm: blksnap / dm-snapshot;" >> "$out/bench.out"
echo "# vs: ratio of the means; median: of the ratios within each round" >> "$out/bench.out"
echo "# kernel warnings and errors in the run: $kwarn (bench.log)" >> "$out/bench.out"
echo done >> "$out/bench.out.done"
