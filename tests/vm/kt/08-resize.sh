# A device resize starts a new generation: a dm-linear device reloaded
# with a larger table, and a loop device grown with losetup -c.
modprobe dm_mod || die "modprobe dm_mod"
modprobe loop 2> /dev/null
load
dmsetup create blksnap-rs --table "0 131072 linear $DISK2 0" ||
	die "dmsetup create"
dmsetup mknodes
rs=/dev/mapper/blksnap-rs
"$KTEST" attach $rs || die "attach $rs"
gen1=$(info $rs gen)
"$KTEST" pwrite $rs 4096 0 || die "pwrite"
dmsetup reload blksnap-rs --table "0 262144 linear $DISK2 0" ||
	die "dmsetup reload"
dmsetup resume blksnap-rs || die "dmsetup resume"
# A write after the resize is seen by the filter, which starts the new map.
"$KTEST" pwrite $rs 4096 $((100 << 20)) || die "pwrite past old end"
sleep 0.5
gen2=$(info $rs gen)
"$KTEST" pwrite $rs 4096 $((100 << 20)) || die "pwrite past old end"
cap=$(info $rs capacity)
[ "$cap" = 262144 ] || die "capacity $cap after resize, want 262144"
[ "$gen1" != "$gen2" ] || die "generation unchanged after dm resize"
bs=$(info $rs block_size)
echo "$((100 << 20)) 4096" | blocks "$bs" > /tmp/expected
marked $rs > /tmp/got
same_set "after dm resize" /tmp/expected /tmp/got

truncate -s 32M /tmp/loop.img
loopdev=$(losetup -f --show /tmp/loop.img) || die "losetup"
"$KTEST" attach "$loopdev" || die "attach $loopdev"
gen1=$(info "$loopdev" gen)
"$KTEST" pwrite "$loopdev" 4096 8192 || die "pwrite loop"
truncate -s 64M /tmp/loop.img
losetup -c "$loopdev" || die "losetup -c"
gen2=$(info "$loopdev" gen)
cap=$(info "$loopdev" capacity)
[ "$cap" = 131072 ] || die "loop capacity $cap after resize"
[ "$gen1" != "$gen2" ] || die "generation unchanged after loop resize"
[ -z "$(marked "$loopdev")" ] || die "new generation not empty"
"$KTEST" pwrite "$loopdev" 4096 $((40 << 20)) || die "pwrite loop"
echo "$((40 << 20)) 4096" | blocks "$bs" > /tmp/expected
marked "$loopdev" > /tmp/got
same_set "after loop resize" /tmp/expected /tmp/got
"$KTEST" detach "$loopdev" || die "detach"
losetup -d "$loopdev"
unload
