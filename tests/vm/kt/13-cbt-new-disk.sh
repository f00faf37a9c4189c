# Another disk taking a tracked device's number starts a new generation:
# a loop device given another file (its diskseq changes) has a history
# the module never saw. The tracker goes on tracking the new disk.
modprobe loop 2> /dev/null
truncate -s 64M /tmp/loop-a.img /tmp/loop-b.img || die "truncate"
loop=$(losetup -f --show /tmp/loop-a.img) || die "losetup"
cleanup() {
	"$KTEST" detach "$loop" 2> /dev/null
	losetup -d "$loop" 2> /dev/null
	rm -f /tmp/loop-a.img /tmp/loop-b.img
}
load
"$KTEST" attach "$loop" || { cleanup; die "attach"; }
"$KTEST" pwrite "$loop" 4096 0 1048576 || { cleanup; die "pwrite"; }
gen=$(info "$loop" gen)
[ "$(marked "$loop" | wc -l)" = 2 ] || { cleanup; die "writes not marked"; }

losetup -d "$loop" || { cleanup; die "losetup -d"; }
losetup "$loop" /tmp/loop-b.img || { cleanup; die "losetup $loop again"; }
[ "$(info "$loop" gen)" != "$gen" ] || { cleanup; die "same generation on another disk"; }
[ -z "$(marked "$loop")" ] || { cleanup; die "the old disk's changes kept"; }
dmesg | grep -q "device $((0x$(stat -c %t "$loop"))):$((0x$(stat -c %T "$loop"))) is another disk: new generation" ||
	{ cleanup; die "no kernel message naming the new disk"; }
"$KTEST" pwrite "$loop" 4096 2097152 || { cleanup; die "pwrite 2"; }
[ "$(marked "$loop")" = 32 ] || { cleanup; die "the new disk's write not marked"; }
echo "another file behind $loop: a new generation"
cleanup
unload
