# Discard and write-zeroes are marked, exactly.
load
"$KTEST" attach "$DISK" || die "attach"
bs=$(info "$DISK" block_size)
q=/sys/block/${DISK#/dev/}/queue
echo "discard_max_bytes=$(cat $q/discard_max_bytes)" \
	"write_zeroes_max_bytes=$(cat $q/write_zeroes_max_bytes)"
[ "$(cat $q/write_zeroes_max_bytes)" -gt 0 ] ||
	die "the disk does not do WRITE_ZEROES"
[ "$(cat $q/discard_max_bytes)" -gt 0 ] || die "the disk does not discard"

blkdiscard -z -o $((bs * 100 + 4096)) -l $((bs * 3)) "$DISK" ||
	die "blkdiscard -z"
echo "$((bs * 100 + 4096)) $((bs * 3))" | blocks "$bs" > /tmp/expected
marked "$DISK" > /tmp/got
same_set "write-zeroes" /tmp/expected /tmp/got

blkdiscard -o $((bs * 1000)) -l $((bs * 17)) "$DISK" || die "blkdiscard"
echo "$((bs * 1000)) $((bs * 17))" | blocks "$bs" >> /tmp/expected
marked "$DISK" > /tmp/got
same_set "write-zeroes + discard" /tmp/expected /tmp/got

# Secure erase: virtio-blk does not support it; the kernel refuses.
if blkdiscard -s -o 0 -l "$bs" "$DISK" 2> /dev/null; then
	echo "0 $bs" | blocks "$bs" >> /tmp/expected
	sort -n -u /tmp/expected -o /tmp/expected
	marked "$DISK" > /tmp/got
	same_set "secure erase" /tmp/expected /tmp/got
else
	echo "secure erase not supported by the disk (not tested)"
fi
unload
