#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Guest side of bench/vm-tracking.sh BLKSNAP_BENCH_ICOUNT=1: the CPU cost
# of the hook, the tracker and copy-on-write per bio. Under icount guest
# time is instructions, so IOPS measure instructions per bio.
#
# Devices: null_blk through configfs (queue_mode 2, irqmode 0, 1 GiB), an
# origin and a storage, once without memory backing ("nomem": nothing is
# stored, reads return zeros) and once memory-backed ("mem").
# fio: 4k random writes, O_DIRECT, libaio, queue depth 32, on the first
# REGION bytes of the origin (the same seed every run), ramp 2 s.
# Sides, on each pair of devices:
#   bare       module not loaded;
#   untracked  module loaded, the origin untracked, /dev/vdb tracked (so
#              the hook's lookup runs);
#   tracked    the origin tracked;
#   snapshot   the origin in a blksnap snapshot taken just before the run,
#              storage on the storage device;
#   dm         dm-snapshot of the origin on the storage device, same chunk
#              size, written through its snapshot-origin device.
# A round runs every side once per pair, the order turning from round to
# round. Ratios: each side against bare, snapshot against dm.
# Image reads, on the memory-backed pair: fio 1 MiB sequential reads,
# O_DIRECT, psync (one at a time), over the region after every other
# chunk of it was copied into the storage (a 4 KiB write through the
# origin per chunk: "1/2"), then one chunk in 16 ("1/16"): the blksnap
# image against the origin, and dm-snapshot's snapshot device, set up the
# same way, against the origin; each round reads the origin and the
# image in turn. OUT/blksnap-alt.ko, if there, is a second build of the
# module whose image makes the "image-alt" rows the same way (another
# read plan, side by side).
# OUT/bench.rt: seconds per run; OUT/bench.rounds: rounds;
# OUT/bench.rows: writes, reads or all (the default). Writes
# OUT/bench.out.
# Usage: vm-hook-guest.sh SRCDIR OUT
out=$2
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
. "$1/bench/guest-lib.sh"
KO="$out/blksnap.ko"
ALT_KO="$out/blksnap-alt.ko"
[ -f "$ALT_KO" ] || ALT_KO=
KTEST="$out/ktest"
RT=$(cat "$out/bench.rt" 2> /dev/null || echo 3)
ROUNDS=$(cat "$out/bench.rounds" 2> /dev/null || echo 2)
ROWS=$(cat "$out/bench.rows" 2> /dev/null || echo all)
REGION=128M
REGION_BYTES=$((128 << 20))
res="$out/bench.raw"
rres="$out/bench.raw.reads"
log="$out/bench.log"
: > "$res"
: > "$rres"
: > "$log"
CFS=/sys/kernel/config/nullb

fail() {
	echo "$*" > "$out/bench.out"
	echo failed >> "$out/bench.out.done"
	exit 1
}

# nullb NAME MEMORY_BACKED: create a null_blk device, print its node
nullb() {
	mkdir "$CFS/$1" || return 1
	echo 1024 > "$CFS/$1/size"
	echo 2 > "$CFS/$1/queue_mode"
	echo 0 > "$CFS/$1/irqmode"
	echo "$2" > "$CFS/$1/memory_backed"
	echo 1 > "$CFS/$1/power" || return 1
	udevadm settle 2> /dev/null
	if [ -b "/dev/$1" ]; then
		echo "/dev/$1"
	else
		echo "/dev/nullb$(cat "$CFS/$1/index")"
	fi
}

modprobe null_blk nr_devices=0 >> "$log" 2>&1 || fail "null_blk: modprobe failed"
modprobe dm-snapshot >> "$log" 2>&1
# The boot's messages are not the run's (see the end).
dmesg -C
[ -d "$CFS" ] || mount -t configfs none /sys/kernel/config 2>> "$log"
o_nomem=$(nullb bsonomem 0) && s_nomem=$(nullb bssnomem 0) &&
	o_mem=$(nullb bsomem 1) && s_mem=$(nullb bssmem 1) ||
	fail "null_blk: configfs devices failed"
echo "nomem: origin $o_nomem storage $s_nomem; mem: origin $o_mem storage $s_mem" >> "$log"

teardown() {
	dmsetup remove bssnap 2> /dev/null
	dmsetup remove bsorigin 2> /dev/null
	if [ -c /dev/blksnap-control ]; then
		for id in $("$KTEST" snap-list 2> /dev/null); do
			"$KTEST" snap-destroy "$id"
		done
	fi
	rmmod blksnap 2> /dev/null
}

# setup SIDE ORIGIN STORAGE: prints the device to write to
setup() {
	teardown
	case $1 in
	bare) ;;
	untracked) insmod "$KO" && "$KTEST" attach /dev/vdb || return 1 ;;
	tracked) insmod "$KO" && "$KTEST" attach "$2" || return 1 ;;
	snapshot)
		insmod "$KO" || return 1
		id=$("$KTEST" snap-create "$3" 0) &&
			"$KTEST" snap-add "$id" "$2" &&
			"$KTEST" snap-take "$id" || return 1
		;;
	dm)
		size=$(blockdev --getsz "$2")
		dd if=/dev/zero of="$3" bs=64k count=16 oflag=direct 2> /dev/null
		dmsetup create bssnap --table \
			"0 $size snapshot $2 $3 P $chunk_sectors" &&
			dmsetup create bsorigin --table \
				"0 $size snapshot-origin $2" &&
			dmsetup mknodes || return 1
		echo /dev/mapper/bsorigin
		return 0
		;;
	esac
	echo "$2"
}

# run PAIR SIDE ORIGIN STORAGE
run() {
	dev=$(setup "$2" "$3" "$4") || {
		echo "$1 $2 0 setup-failed" >> "$res"
		return
	}
	fio --name=bench --filename="$dev" --rw=randwrite --bs=4k \
		--direct=1 --ioengine=libaio --iodepth=32 --size=$REGION \
		--time_based --runtime="$RT" --ramp_time=2 \
		--output-format=json --output=/tmp/fio.json > /dev/null 2>> "$log"
	iops=$(fio_result /tmp/fio.json randwrite 2>> "$log")
	st=
	case $2 in
	snapshot)
		st=$("$KTEST" snap-info "$(
			"$KTEST" snap-list | head -n 1)" | head -n 1)
		case "$st" in state=taken*) st= ;; *) st=" ($st)" ;; esac
		;;
	dm)
		case "$(dmsetup status bssnap)" in
		*Invalid*) st=" (dm-snapshot invalid)" ;;
		esac
		;;
	esac
	echo "$1 $2 ${iops:-0}$st" >> "$res"
}

# The chunk size of a blksnap snapshot, for dm-snapshot's.
insmod "$KO" && id=$("$KTEST" snap-create "$s_nomem" 0) &&
	"$KTEST" snap-add "$id" "$o_nomem" && "$KTEST" snap-take "$id"
chunk=$("$KTEST" snap-info "$id" | head -n 1 | tr ' ' '\n' | sed -n 's/^chunk=//p')
chunk=${chunk:-65536}
chunk_sectors=$((chunk / 512))
echo "chunk $chunk bytes" >> "$log"
teardown

# read_mb DEV: MiB/s of 1 MiB sequential reads of the region of DEV
read_mb() {
	fio --name=bench --filename="$1" --rw=read --bs=1M --direct=1 \
		--ioengine=psync --size=$REGION --time_based --runtime="$RT" \
		--output-format=json --output=/tmp/fio.json > /dev/null 2>> "$log"
	fio_result /tmp/fio.json read 2>> "$log" || echo 0
}

# read_pair TAG SIDE DEV: ROUNDS reads of the origin and of DEV in turn
read_pair() {
	r=0
	while [ "$r" -lt "$ROUNDS" ]; do
		if [ $((r % 2)) = 0 ]; then
			echo "$1 origin $(read_mb "$o_mem")" >> "$rres"
			echo "$1 $2 $(read_mb "$3")" >> "$rres"
		else
			echo "$1 $2 $(read_mb "$3")" >> "$rres"
			echo "$1 origin $(read_mb "$o_mem")" >> "$rres"
		fi
		r=$((r + 1))
	done
}

# read_rows TAG N: image reads after every Nth chunk was copied
read_rows() {
	for side in image ${ALT_KO:+image-alt}; do
		teardown
		ko=$KO
		[ "$side" = image-alt ] && ko=$ALT_KO
		insmod "$ko" && id=$("$KTEST" snap-create "$s_mem" 0) &&
			"$KTEST" snap-add "$id" "$o_mem" &&
			"$KTEST" snap-take "$id" &&
			every_nth "$o_mem" "$2" "$REGION_BYTES" "$chunk" &&
			img=$("$KTEST" snap-image "$id" "$o_mem") || {
			echo "$1 $side 0 setup-failed" >> "$rres"
			continue
		}
		echo "$1 $side: $("$KTEST" snap-info "$id" | head -n 1)" >> "$log"
		read_pair "$1" "$side" "$img"
	done
	if dev=$(setup dm "$o_mem" "$s_mem") &&
		every_nth "$dev" "$2" "$REGION_BYTES" "$chunk"; then
		read_pair "$1-dm" dm-image /dev/mapper/bssnap
	else
		echo "$1-dm dm-image 0 setup-failed" >> "$rres"
	fi
	teardown
}

# Precondition: allocate the region of the memory-backed origin; warm up.
dd if=/dev/zero of="$o_mem" bs=1M count=128 oflag=direct 2> /dev/null
run warmup bare "$o_nomem" "$s_nomem"
: > "$res"

[ "$ROWS" = reads ] && r=$ROUNDS || r=0
while [ "$r" -lt "$ROUNDS" ]; do
	case $((r % 3)) in
	0) order="bare untracked tracked snapshot dm" ;;
	1) order="dm snapshot tracked untracked bare" ;;
	2) order="tracked dm bare snapshot untracked" ;;
	esac
	for side in $order; do
		run nomem "$side" "$o_nomem" "$s_nomem"
		run mem "$side" "$o_mem" "$s_mem"
	done
	r=$((r + 1))
done
teardown
if [ "$ROWS" != writes ]; then
	# The origin's random data, so that no read is of untouched zeros.
	dd if=/dev/urandom of="$o_mem" bs=1M count=128 oflag=direct 2> /dev/null
	read_rows "1/2" 2
	read_rows "1/16" 16
	cat "$rres" >> "$log"
fi

: > "$out/bench.out"
[ "$ROWS" != reads ] && awk '
	{ v[$1, $2] = v[$1, $2] " " $3; s[$1, $2] += $3; n[$1, $2]++
	  if (NF > 3) note[$1, $2] = note[$1, $2] " " $4 " " $5 " " $6 }
	END {
		split("bare untracked tracked snapshot dm", m, " ")
		split("nomem mem", p, " ")
		printf "%-6s %-10s %-24s %8s %8s %8s\n", "disk", "side",
			"IOPS per run", "mean", "of bare", "of dm"
		for (j = 1; j <= 2; j++) {
			b = n[p[j], "bare"] ? s[p[j], "bare"] / n[p[j], "bare"] : 0
			d = n[p[j], "dm"] ? s[p[j], "dm"] / n[p[j], "dm"] : 0
			for (i = 1; i <= 5; i++) {
				k = p[j] SUBSEP m[i]
				if (!n[k])
					continue
				mean = s[k] / n[k]
				printf "%-6s %-10s %-24s %8.0f %8.3f %8s%s\n",
					p[j], m[i], v[k], mean,
					b ? mean / b : 0,
					m[i] == "snapshot" && d ? sprintf("%.3f", mean / d) : "",
					note[k]
			}
		}
	}' "$res" > "$out/bench.out"
[ "$ROWS" != writes ] && awk '
	{ v[$1, $2] = v[$1, $2] " " $3; s[$1, $2] += $3; n[$1, $2]++
	  if (NF > 3) note[$1, $2] = note[$1, $2] " " $4 }
	END {
		split("image image-alt dm-image", m, " ")
		split("1/2 1/16", p, " ")
		printf "\n%-6s %-10s %-24s %8s %8s\n", "copied", "side",
			"MiB/s per run", "mean", "of origin"
		for (j = 1; j <= 2; j++) {
			for (i = 1; i <= 3; i++) {
				t = m[i] == "dm-image" ? p[j] "-dm" : p[j]
				k = t SUBSEP m[i]
				o = t SUBSEP "origin"
				if (!n[k])
					continue
				mean = s[k] / n[k]
				b = n[o] ? s[o] / n[o] : 0
				printf "%-6s %-10s %-24s %8.1f %8.3f%s\n",
					p[j], m[i], v[k], mean,
					b ? mean / b : 0, note[k]
				printf "%-6s %-10s %-24s %8.1f\n", "", "(origin)",
					v[o], b
			}
		}
	}' "$rres" >> "$out/bench.out"
echo "# kernel warnings and errors in the run: $(kernel_warnings "$log") (bench.log)" >> "$out/bench.out"
echo done >> "$out/bench.out.done"
