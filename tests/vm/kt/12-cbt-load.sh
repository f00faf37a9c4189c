# A saved history (ktest cbt-save: the state and both maps, raw) loads
# back after a module reload if nothing wrote the device in between: the
# maps, the generation and the snapshot number come back, and the blocks
# written between the attach and the load are marked in the current
# interval. A write while the module was out, malformed loads and a
# device without I/O statistics are refused and leave a new generation.

# state DEV FIELD: one field of "ktest cbt-state"
state() {
	"$KTEST" cbt-state "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

load
"$KTEST" attach "$DISK" || die "attach"
bs=$(info "$DISK" block_size)
[ "$(state "$DISK" no_iostat)" = 0 ] || die "virtio disk without I/O statistics"
# A history with a frozen map: writes, a snapshot, more writes.
"$KTEST" pwrite "$DISK" 4096 $((bs * 3)) $((bs * 10)) || die "pwrite 1"
id=$(snap_new "$DISK2" 0 0 "$DISK") || die "snapshot"
"$KTEST" snap-destroy "$id" || die "destroy"
"$KTEST" pwrite "$DISK" 4096 $((bs * 10)) $((bs * 20 + 512)) || die "pwrite 2"
[ "$(info "$DISK" snap)" = 2 ] || die "snapshot number $(info "$DISK" snap), want 2"
"$KTEST" map "$DISK" > /tmp/live.1 || die "map"
"$KTEST" map "$DISK" frozen > /tmp/frozen.1 || die "frozen map"
printf '3 1\n10 2\n20 2\n' | cmp -s - /tmp/live.1 ||
	die "live map before the save: $(tr '\n' ' ' < /tmp/live.1)"
printf '3 1\n10 1\n' | cmp -s - /tmp/frozen.1 ||
	die "frozen map before the save: $(tr '\n' ' ' < /tmp/frozen.1)"
gen=$(info "$DISK" gen)
"$KTEST" cbt-save "$DISK" /tmp/cbt.saved || die "save"

# Reload, nothing written: the history comes back.
unload
load
"$KTEST" attach "$DISK" || die "attach 2"
[ "$(info "$DISK" gen)" != "$gen" ] || die "a new tracker kept the generation"
"$KTEST" cbt-load "$DISK" /tmp/cbt.saved || die "load after a clean reload"
[ "$(info "$DISK" gen)" = "$gen" ] || die "generation not loaded"
[ "$(info "$DISK" snap)" = 2 ] || die "snapshot number not loaded"
[ "$(state "$DISK" loaded)" = 1 ] || die "not flagged loaded"
"$KTEST" map "$DISK" | cmp -s - /tmp/live.1 || die "live map not loaded"
"$KTEST" map "$DISK" frozen | cmp -s - /tmp/frozen.1 || die "frozen map not loaded"
"$KTEST" cbt-load "$DISK" /tmp/cbt.saved 2> /tmp/err && die "loaded twice"
grep -q 'already in progress' /tmp/err || die "second load: $(cat /tmp/err)"
echo "clean reload: history $gen back"

# Written between the attach and the load: kept, in the current interval.
"$KTEST" cbt-save "$DISK" /tmp/cbt.saved2 || die "save 2"
unload
load
"$KTEST" attach "$DISK" || die "attach 3"
"$KTEST" pwrite "$DISK" 4096 $((bs * 30)) || die "pwrite 3"
"$KTEST" cbt-load "$DISK" /tmp/cbt.saved2 || die "load with tracked writes"
"$KTEST" map "$DISK" > /tmp/m || die "map"
printf '3 1\n10 2\n20 2\n30 2\n' | cmp -s - /tmp/m ||
	die "writes since the attach: $(tr '\n' ' ' < /tmp/m)"
echo "a write between the attach and the load is kept"

# Written while the module was out: refused, a new generation.
"$KTEST" cbt-save "$DISK" /tmp/cbt.saved3 || die "save 3"
unload
dd if=/dev/urandom of="$DISK" bs=4096 seek=$((bs * 40 / 4096)) count=1 \
	oflag=direct conv=notrunc 2> /dev/null || die "dd"
load
"$KTEST" attach "$DISK" || die "attach 4"
"$KTEST" cbt-load "$DISK" /tmp/cbt.saved3 2> /tmp/err && die "loaded a history a write escaped"
grep -q 'Stale file handle' /tmp/err || die "escaped write: $(cat /tmp/err)"
[ "$(info "$DISK" gen)" != "$gen" ] || die "generation of a refused load"
[ "$(state "$DISK" loaded)" = 0 ] || die "flagged loaded after a refusal"
dmesg | grep -q 'was written while not tracked' || die "no kernel message for the refusal"
echo "a write while the module was out: refused"

# Malformed loads, then a good one (the same boot, nothing written).
"$KTEST" cbt-save "$DISK" /tmp/cbt.saved4 || die "save 4"
unload
load
"$KTEST" attach "$DISK" || die "attach 5"
"$KTEST" cbt-load-hostile "$DISK" /tmp/cbt.saved4 || die "hostile loads"

# A device that keeps no I/O statistics cannot prove it was not written.
unload
load
stat=/sys/block/$(basename "$DISK")/queue/iostats
echo 0 > "$stat" || die "iostats"
"$KTEST" attach "$DISK" || die "attach 6"
[ "$(state "$DISK" no_iostat)" = 1 ] || { echo 1 > "$stat"; die "no_iostat not set"; }
"$KTEST" cbt-load "$DISK" /tmp/cbt.saved4 2> /tmp/err && { echo 1 > "$stat"; die "loaded without statistics"; }
echo 1 > "$stat"
grep -q 'Operation not supported' /tmp/err || die "no statistics: $(cat /tmp/err)"
unload
