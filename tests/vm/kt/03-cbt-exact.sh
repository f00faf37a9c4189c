# The map marks exactly the blocks written: random O_DIRECT writes at
# known offsets, with three tracking block sizes chosen by the module
# parameters. Reads and an empty flush mark nothing; "mark" marks.
size=$(dev_bytes "$DISK")
for params in "" "tracking_block_minimum_shift=12" \
	"tracking_block_maximum_count=1000"; do
	load $params
	"$KTEST" attach "$DISK" || die "attach"
	bs=$(info "$DISK" block_size)
	count=$(info "$DISK" block_count)
	case "$params" in
	"") want=65536 ;;
	*shift=12) want=4096 ;;
	*count=1000) want=1048576 ;;
	esac
	[ "$bs" = "$want" ] || die "block size $bs with '$params', want $want"
	[ "$count" = $((size / bs)) ] || die "block count $count"

	# Reads and an empty flush first: nothing may be marked.
	dd if="$DISK" of=/dev/null bs=1M count=32 iflag=direct 2> /dev/null
	dd if=/dev/null of="$DISK" conv=notrunc,fsync 2> /dev/null
	[ -z "$(marked "$DISK")" ] || die "reads or flush marked blocks"

	awk -v n=200 -v size="$size" -v seed="$(seed)" 'BEGIN {
		srand(seed)
		for (i = 0; i < n; i++)
			print int(rand() * (size / 4096)) * 4096
	}' > /tmp/offs
	# 8 KiB writes straddling block boundaries.
	awk -v bs="$bs" -v size="$size" 'BEGIN {
		for (k = 1; k <= 5; k++) print int(k * size / 7 / bs) * bs - 4096
	}' > /tmp/offs8
	"$KTEST" pwrite "$DISK" 4096 $(cat /tmp/offs) || die "pwrite"
	"$KTEST" pwrite "$DISK" 8192 $(cat /tmp/offs8) || die "pwrite 8k"
	{
		sed 's/$/ 4096/' /tmp/offs
		sed 's/$/ 8192/' /tmp/offs8
	} | blocks "$bs" > /tmp/expected
	marked "$DISK" > /tmp/got
	same_set "writes, block size $bs" /tmp/expected /tmp/got
	if awk '$2 != 1' /tmp/map.raw | grep -q .; then
		die "map values other than snapshot number 1"
	fi

	# Marking through the ioctl: from sector 1 of block 10 into block 12.
	sec=$((bs / 512))
	"$KTEST" mark "$DISK" $((sec * 10 + 1)) $((sec * 2)) || die "mark"
	{
		cat /tmp/expected
		seq 10 12
	} | sort -n -u > /tmp/expected2
	marked "$DISK" > /tmp/got
	same_set "mark, block size $bs" /tmp/expected2 /tmp/got
	unload
done
