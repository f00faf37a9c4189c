# Writes through ext4 and xfs on the tracked device are tracked: every
# block of a freshly written file is marked, and not the whole disk.
modprobe -a ext4 xfs || die "modprobe ext4 xfs"
load
for fs in ext4 xfs; do
	case $fs in
	ext4) mkfs.ext4 -q -F "$DISK" || die "mkfs.ext4" ;;
	xfs) mkfs.xfs -q -f "$DISK" || die "mkfs.xfs" ;;
	esac
	"$KTEST" attach "$DISK" || die "attach"
	bs=$(info "$DISK" block_size)
	count=$(info "$DISK" block_count)
	mount -t $fs "$DISK" /mnt || die "mount $fs"
	dd if=/dev/urandom of=/mnt/f bs=1M count=24 conv=fsync 2> /dev/null ||
		die "write file on $fs"
	sync
	# Physical extents in 512-byte units.
	filefrag -b512 -v /mnt/f | awk '$1 ~ /^[0-9]+:$/ {
		s = $4; sub(/\.\./, "", s); n = $6; sub(/:/, "", n)
		print s * 512, n * 512 }' > /tmp/extents
	[ -s /tmp/extents ] || die "no extents from filefrag"
	blocks "$bs" < /tmp/extents > /tmp/expected
	umount /mnt || die "umount"
	marked "$DISK" > /tmp/got
	sort /tmp/expected > /tmp/e.s
	sort /tmp/got > /tmp/g.s
	missing=$(comm -23 /tmp/e.s /tmp/g.s | wc -l)
	echo "$fs: file in $(wc -l < /tmp/extents) extents," \
		"$(wc -l < /tmp/expected) blocks; $(wc -l < /tmp/got) of" \
		"$count blocks marked; $missing missing"
	[ "$missing" = 0 ] || die "$fs: file blocks not marked"
	[ "$(wc -l < /tmp/got)" -lt $((count / 2)) ] ||
		die "$fs: half the disk marked for a 24 MiB file"
	"$KTEST" detach "$DISK" || die "detach"
done
unload
