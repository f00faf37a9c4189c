# A dm-linear device over a virtio disk is trackable, and so are the
# disk's writes that come from it (submitted while current->bio_list is
# set).
modprobe dm_mod || die "modprobe dm_mod"
load
start=2048
dmsetup create blksnap-lin --table "0 $((256 * 2048)) linear $DISK $start" ||
	die "dmsetup create"
dmsetup mknodes
lin=/dev/mapper/blksnap-lin
[ -b $lin ] || die "no $lin"
"$KTEST" attach $lin || die "attach $lin"
"$KTEST" attach "$DISK" || die "attach $DISK"
bs=$(info $lin block_size)
size=$(dev_bytes $lin)
awk -v n=100 -v size="$size" -v seed="$(seed)" 'BEGIN {
	srand(seed)
	for (i = 0; i < n; i++) print int(rand() * (size / 4096)) * 4096
}' > /tmp/offs
"$KTEST" pwrite $lin 4096 $(cat /tmp/offs) || die "pwrite $lin"
sed 's/$/ 4096/' /tmp/offs | blocks "$bs" > /tmp/expected
marked $lin > /tmp/got
same_set "dm device" /tmp/expected /tmp/got
awk -v o=$((start * 512)) '{ print $1 + o, 4096 }' /tmp/offs |
	blocks "$bs" > /tmp/expected
marked "$DISK" > /tmp/got
same_set "disk under dm" /tmp/expected /tmp/got
dmsetup remove blksnap-lin || die "dmsetup remove with a tracker attached"
unload
