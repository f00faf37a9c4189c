# An untracked device is unaffected: data written to it reads back, it
# has no tracker, and its writes do not show in the tracked disk's map.
load
"$KTEST" attach "$DISK" || die "attach"
head -c 16777216 /dev/urandom > /tmp/pattern
dd if=/tmp/pattern of="$DISK2" bs=1M oflag=direct seek=3 2> /dev/null ||
	die "write $DISK2"
dd if=/tmp/pattern of="$DISK2" bs=1M seek=40 conv=fsync 2> /dev/null ||
	die "buffered write $DISK2"
echo 3 > /proc/sys/vm/drop_caches
cmp -n 16777216 /tmp/pattern "$DISK2" -i 0:3145728 ||
	die "direct data differs"
cmp -n 16777216 /tmp/pattern "$DISK2" -i 0:41943040 ||
	die "buffered data differs"
[ -z "$(marked "$DISK")" ] || die "writes to $DISK2 marked in $DISK"
if "$KTEST" info "$DISK2" 2> /dev/null; then
	die "untracked $DISK2 has CBT info"
fi
[ "$("$KTEST" list | wc -l)" = 1 ] || die "list: $("$KTEST" list)"
unload
