#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Guest side of bench/vm-take.sh. Storage: /dev/vdb. Cases, each taken
# OUT/bench.rounds times (a fresh snapshot each time, destroyed after):
#   1g       /dev/vda (1 GiB), idle;
#   64g      /dev/vdc (64 GiB, sparse on the host), idle;
#   4dev     four loop devices over 1 GiB sparse files, one snapshot;
#   ext4     ext4 on /dev/vda, mounted, idle;
#   ext4-w   the same with fio writing a file through the page cache.
# Each take's phases come from the module's kernel message; wall is the
# snap-take ioctl's time seen from the shell. Writes OUT/bench.out.
# Usage: vm-take-guest.sh SRCDIR OUT
out=$2
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
KO="$out/blksnap.ko"
KTEST="$out/ktest"
ROUNDS=$(cat "$out/bench.rounds" 2> /dev/null || echo 5)
res="$out/bench.raw"
log="$out/bench.log"
: > "$res"
: > "$log"
insmod "$KO" || {
	echo "insmod failed" > "$out/bench.out"
	echo failed >> "$out/bench.out.done"
	exit 1
}

# take CASE DEV...: one take of DEV... into one snapshot
take() {
	c=$1
	shift
	id=$("$KTEST" snap-create /dev/vdb 0) || { echo "$c create failed" >> "$log"; return; }
	for d in "$@"; do
		"$KTEST" snap-add "$id" "$d" || echo "$c add $d failed" >> "$log"
	done
	dmesg -C
	t0=$(date +%s%N)
	"$KTEST" snap-take "$id" || echo "$c take failed" >> "$log"
	t1=$(date +%s%N)
	line=$(dmesg | grep 'taken, chunk' | tail -n 1)
	echo "$c: $line" >> "$log"
	echo "$line" | sed 's/.* in \([0-9]*\) us: prepare \([0-9]*\), freeze \([0-9]*\), writes held \([0-9]*\) (grace \([0-9]*\), drain \([0-9]*\), maps \([0-9]*\)), thaw \([0-9]*\), images \([0-9]*\).*/\1 \2 \3 \4 \5 \6 \7 \8 \9/' |
		while read -r total prepare freeze held grace drain maps thaw images; do
			echo "$c $total $prepare $freeze $held $grace $drain $maps $thaw $images $(((t1 - t0) / 1000))" >> "$res"
		done
	"$KTEST" snap-destroy "$id"
}

rounds() {
	r=0
	while [ "$r" -lt "$ROUNDS" ]; do
		take "$@"
		r=$((r + 1))
	done
}

rounds 1g /dev/vda
rounds 64g /dev/vdc
# The loop driver may be a module nothing loaded yet.
modprobe loop 2> /dev/null
loops=
for i in 0 1 2 3; do
	truncate -s 1G "/tmp/loop$i.img"
	loops="$loops $(losetup -f --show "/tmp/loop$i.img")"
done
# shellcheck disable=SC2086
rounds 4dev $loops
for l in $loops; do
	losetup -d "$l"
done
mkfs.ext4 -q -F /dev/vda >> "$log" 2>&1
mkdir -p /tmp/mnt
mount /dev/vda /tmp/mnt
rounds ext4 /dev/vda
fio --name=w --filename=/tmp/mnt/f --rw=write --bs=64k --size=256M \
	--time_based --runtime=3600 > /dev/null 2>&1 &
fio=$!
sleep 5
rounds ext4-w /dev/vda
kill $fio
wait
umount /tmp/mnt

awk '
	function stats(s,   a, c, i, j, t) {
		c = split(s, a, " ")
		for (i = 1; i <= c; i++)
			for (j = i + 1; j <= c; j++)
				if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return sprintf("%.1f (%.1f-%.1f)",
			(c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2) / 1000,
			a[1] / 1000, a[c] / 1000)
	}
	{
		if (!($1 in seen)) { order[++n] = $1; seen[$1] = 1 }
		for (i = 2; i <= 11; i++)
			v[$1, i] = v[$1, i] " " $i
		# the module s own part: the take without freeze and thaw
		v[$1, 12] = v[$1, 12] " " ($2 - $4 - $9)
	}
	END {
		split("total prepare freeze held grace drain maps thaw images wall own", h, " ")
		for (k = 1; k <= n; k++) {
			printf "%s\n", order[k]
			for (i = 2; i <= 12; i++)
				printf "  %-8s %s ms\n", h[i - 1], stats(v[order[k], i])
		}
	}' "$res" > "$out/bench.out"
echo done >> "$out/bench.out.done"
