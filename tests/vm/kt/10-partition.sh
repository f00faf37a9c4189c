# A partition can be tracked, and writes through a partition are also
# marked, at the partition's offset, in the map of its tracked disk.
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
unload
