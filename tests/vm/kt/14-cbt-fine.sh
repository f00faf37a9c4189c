# The map's detail names exactly the 4 KiB sub-blocks written inside
# 64 KiB tracking blocks: scattered 4 KiB writes, writes straddling blocks,
# whole blocks and a long write, over two snapshots (the frozen detail
# stays that of its snapshot while the live one moves on); a write covering
# a whole block replaces its detail; past tracking_fine_limit blocks count
# whole, never less than written; 4 KiB tracking blocks keep no detail.
size=$(dev_bytes "$DISK")
subs=$((size / 4096))

# subs_of: the 4 KiB sub-blocks of "OFFSET LENGTH" lines
subs_of() {
	awk '$2 > 0 {
		first = int($1 / 4096); last = int(($1 + $2 - 1) / 4096)
		for (s = first; s <= last; s++) print s
	}' | sort -n -u
}

# fine DEV SINCE [frozen]: the changed sub-blocks, checking the size
fine() {
	"$KTEST" fine "$@" > /tmp/fine.raw || die "ktest fine $*"
	[ "$(head -n 1 /tmp/fine.raw)" = 4096 ] ||
		die "sub-block size $(head -n 1 /tmp/fine.raw), want 4096"
	tail -n +2 /tmp/fine.raw
}

# writes SEED FILE: random 4 KiB writes, some 8 KiB ones straddling
# blocks, one whole block and one 1 MiB write, recorded in FILE
writes() {
	awk -v n=300 -v subs="$subs" -v seed="$1" 'BEGIN {
		srand(seed)
		for (i = 0; i < n; i++) print int(rand() * subs) * 4096, 4096
	}' > "$2.4k"
	awk -v size="$size" -v seed="$1" 'BEGIN {
		srand(seed + 1)
		for (k = 0; k < 5; k++)
			print (int(rand() * (size / 65536 - 2)) + 1) * 65536 - 4096, 8192
		print int(rand() * (size / 65536 - 1)) * 65536, 65536
		print int(rand() * (size / 65536 - 32)) * 65536 + 12288, 1048576
	}' > "$2.big"
	"$KTEST" pwrite "$DISK" 4096 $(cut -d' ' -f1 "$2.4k") || die "pwrite"
	while read -r off len; do
		"$KTEST" pwrite "$DISK" "$len" "$off" || die "pwrite $len"
	done < "$2.big"
	cat "$2.4k" "$2.big" | subs_of > "$2"
}

load
"$KTEST" attach "$DISK" || die "attach"
[ "$(info "$DISK" block_size)" = 65536 ] || die "tracking block not 64 KiB"
dd if="$DISK" of=/dev/null bs=1M count=16 iflag=direct 2> /dev/null
[ -z "$(fine "$DISK" 0)" ] || die "reads marked sub-blocks"

s=$(seed)
writes "$s" /tmp/a
fine "$DISK" 0 > /tmp/got
same_set "interval 1, live" /tmp/a /tmp/got

id=$(snap_new "$DISK2" 0 0 "$DISK") || die "snapshot 1"
"$KTEST" snap-destroy "$id" || die "destroy 1"
fine "$DISK" 0 frozen > /tmp/got
same_set "interval 1, frozen at snapshot 1" /tmp/a /tmp/got

writes $((s + 7)) /tmp/b
fine "$DISK" 1 > /tmp/got
same_set "interval 2, live" /tmp/b /tmp/got
sort -n -u /tmp/a /tmp/b > /tmp/ab
fine "$DISK" 0 > /tmp/got
same_set "intervals 1 and 2, live" /tmp/ab /tmp/got
fine "$DISK" 0 frozen > /tmp/got
same_set "frozen detail kept while writes go on" /tmp/a /tmp/got

id=$(snap_new "$DISK2" 0 0 "$DISK") || die "snapshot 2"
"$KTEST" snap-destroy "$id" || die "destroy 2"
fine "$DISK" 1 frozen > /tmp/got
same_set "interval 2, frozen at snapshot 2" /tmp/b /tmp/got
fine "$DISK" 0 frozen > /tmp/got
same_set "intervals 1 and 2, frozen at snapshot 2" /tmp/ab /tmp/got

# A write over a whole block of detail marks all its sub-blocks.
blk=$(( $(head -n 1 /tmp/b.4k | cut -d' ' -f1) / 65536 ))
"$KTEST" pwrite "$DISK" 65536 $((blk * 65536)) || die "pwrite whole"
seq $((blk * 16)) $((blk * 16 + 15)) > /tmp/c
fine "$DISK" 2 > /tmp/got
same_set "whole block over detail" /tmp/c /tmp/got

# Marking through the ioctl: from sector 1 of block 10 to sector 0 of 12.
"$KTEST" mark "$DISK" $((128 * 10 + 1)) 256 || die "mark"
{ cat /tmp/c; seq 160 192; } | sort -n -u > /tmp/c2
fine "$DISK" 2 > /tmp/got
same_set "mark ioctl" /tmp/c2 /tmp/got

# Under load: writers of 4 KiB, of 6 KiB at odd offsets and of 128 KiB
# race with snapshots, reads of the detail and marks; then, quiet, the
# frozen detail of the last snapshot says at least what its interval
# wrote (the writers' own log of offsets is not kept: the kernel log's
# silence and the consistency checks of "ktest fine" are the test here).
fio --name=a --filename="$DISK" --rw=randwrite --bs=4k --direct=1 \
	--ioengine=libaio --iodepth=16 --time_based --runtime=12 \
	--output=/tmp/fio-a.out > /dev/null 2>&1 &
fa=$!
fio --name=b --filename="$DISK" --rw=randwrite --bs=6k --offset=512 \
	--direct=1 --ioengine=psync --time_based --runtime=12 \
	--output=/tmp/fio-b.out > /dev/null 2>&1 &
fb=$!
fio --name=c --filename="$DISK" --rw=randwrite --bs=128k --direct=1 \
	--ioengine=psync --time_based --runtime=12 \
	--output=/tmp/fio-c.out > /dev/null 2>&1 &
fc=$!
n=0
while kill -0 $fa 2> /dev/null; do
	id=$(snap_new "$DISK2" 0 0 "$DISK") || die "snapshot under load"
	"$KTEST" fine "$DISK" 0 frozen > /dev/null || die "frozen detail under load"
	"$KTEST" fine "$DISK" 0 > /dev/null || die "live detail under load"
	"$KTEST" mark "$DISK" $((n * 8 + 3)) 5 || die "mark under load"
	"$KTEST" snap-destroy "$id" || die "destroy under load"
	n=$((n + 1))
done
wait $fa $fb $fc
[ "$n" -gt 2 ] || die "only $n snapshots under load"
echo "$n snapshots and detail reads under load"

# A device whose last block is cut short: 1 MiB and 12 KiB, 3 sub-blocks
# in its last block; writes to its first and last 4 KiB.
modprobe loop 2> /dev/null
truncate -s $(((1 << 20) + 12288)) /tmp/cut.img
lo=$(losetup -f --show /tmp/cut.img) || die "losetup"
"$KTEST" attach "$lo" || die "attach $lo"
"$KTEST" pwrite "$lo" 4096 $((1 << 20)) $(((1 << 20) + 8192)) || die "pwrite $lo"
printf '%s\n' 256 258 > /tmp/c
"$KTEST" fine "$lo" 0 > /tmp/fine.raw || die "fine $lo"
tail -n +2 /tmp/fine.raw > /tmp/got
same_set "a last block cut short" /tmp/c /tmp/got
"$KTEST" detach "$lo" || die "detach $lo"
losetup -d "$lo"
unload

# Past the limit: never less than written, whole blocks at most.
load tracking_fine_limit=20
"$KTEST" attach "$DISK" || die "attach (limit)"
writes $((s + 13)) /tmp/d
fine "$DISK" 0 | sort > /tmp/got
sort /tmp/d > /tmp/dlex
[ -z "$(comm -23 /tmp/dlex /tmp/got)" ] ||
	die "limit: written sub-blocks missing"
awk '{ b = int($1 / 16); for (i = 0; i < 16; i++) print b * 16 + i }' \
	/tmp/d | sort -u > /tmp/dwhole
[ -z "$(comm -13 /tmp/dwhole /tmp/got)" ] ||
	die "limit: sub-blocks marked outside the blocks written"
n=$(wc -l < /tmp/got)
[ "$n" -gt "$(wc -l < /tmp/d)" ] || die "limit: no block tracked whole"
echo "limit 20: $(wc -l < /tmp/d) sub-blocks written, $n marked"
unload

# 4 KiB tracking blocks: no detail, the map alone is exact.
load tracking_block_minimum_shift=12
"$KTEST" attach "$DISK" || die "attach (4K)"
writes $((s + 21)) /tmp/e
fine "$DISK" 0 > /tmp/got
same_set "4 KiB tracking blocks" /tmp/e /tmp/got
unload
