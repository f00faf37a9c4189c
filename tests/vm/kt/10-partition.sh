# A partition can be tracked, and writes through a partition are also
# marked, at the partition's offset, in the map of its tracked disk, down
# to the 4 KiB sub-block in both.
command -v sfdisk > /dev/null || { echo "sfdisk not installed"; exit 77; }
load
echo 'start=2048, size=65536' | sfdisk -q "$DISK2" || die "sfdisk"
part=${DISK2}1
i=0
while [ ! -b "$part" ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -b "$part" ] || die "no $part"
"$KTEST" attach "$DISK2" || die "attach $DISK2"
"$KTEST" attach "$part" || die "attach $part"
bs=$(info "$part" block_size)
[ "$(info "$part" capacity)" = 65536 ] || die "partition capacity"
offs="0 4096 1048576 $((5 << 20)) $(((32 << 20) - 4096))"
"$KTEST" pwrite "$part" 4096 $offs || die "pwrite $part"
for o in $offs; do echo "$o 4096"; done | blocks "$bs" > /tmp/expected
marked "$part" > /tmp/got
same_set "partition" /tmp/expected /tmp/got
for o in $offs; do echo "$((o + 2048 * 512)) 4096"; done |
	blocks "$bs" > /tmp/expected
marked "$DISK2" > /tmp/got
same_set "disk of the partition" /tmp/expected /tmp/got

# The 4 KiB detail: the partition starts 1 MiB into the disk, so its
# sub-blocks are the disk's, 256 further on.
"$KTEST" fine "$part" 0 > /tmp/fine.raw || die "fine $part"
[ "$(head -n 1 /tmp/fine.raw)" = 4096 ] || die "partition sub-block size"
for o in $offs; do echo $((o / 4096)); done > /tmp/expected
tail -n +2 /tmp/fine.raw > /tmp/got
same_set "partition, 4 KiB" /tmp/expected /tmp/got
"$KTEST" fine "$DISK2" 0 > /tmp/fine.raw || die "fine $DISK2"
for o in $offs; do echo $((o / 4096 + 256)); done > /tmp/expected
tail -n +2 /tmp/fine.raw > /tmp/got
same_set "disk of the partition, 4 KiB" /tmp/expected /tmp/got
unload
