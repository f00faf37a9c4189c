# SPDX-License-Identifier: GPL-2.0-or-later
# timeout: 900
# The quick start's live demonstration (contrib/quickstart-live), as
# contrib/quickstart runs it once the module is installed and loaded:
# here with the tree's module loaded (the guest's root is the host's,
# read-only: no DKMS install) and the staged tools. It must refuse to
# start when told the module is loaded and it is not; then snapshot a
# mounted ext4 on a loop device under a writer, back it up full and CBT
# incremental (the incremental much smaller than the device), restore
# the chain identical to the second snapshot's image, and leave nothing
# behind: no snapshot, tracker, mount, loop device or file, the module
# still loaded; interrupted by a signal while a snapshot exists, leave
# nothing behind either.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-take" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"
live=$KTDIR/../../contrib/quickstart-live
[ -x "$live" ] || die "no $live"
w=/tmp/w46
mkdir -p "$w"

# nothing_left WHEN: no snapshot, tracker, loop device, mount or file
# left, and the module still loaded (--module-loaded).
nothing_left() {
	[ -z "$(blksnap-take --list)" ] || die "$1: snapshots left: $(blksnap-take --list)"
	[ -z "$(blksnap-cbt --list)" ] || die "$1: trackers left: $(blksnap-cbt --list)"
	[ "$(losetup -a | wc -l)" = "$loops_before" ] || die "$1: loop devices left: $(losetup -a)"
	! grep -q " $w/" /proc/mounts || die "$1: mounts left: $(grep " $w/" /proc/mounts)"
	left=$(find "$w" -mindepth 1 -maxdepth 1 ! -name lost+found)
	[ -z "$left" ] || die "$1: files left in $w: $left"
	[ -d /sys/module/blksnap ] || die "$1: the module was unloaded although it was loaded before"
}

out=$("$live" --module-loaded --dir "$w" 2>&1) && die "ran without the module: $out"
echo "$out" | grep -q "module is not loaded" || die "unclear message: $out"
[ -z "$(ls "$w")" ] || die "left files behind after refusing: $(ls "$w")"
echo "without the module: $out"

modprobe -a ext4 loop || die "modprobe ext4 loop"
load
# The work directory on a disk, not on the guest's RAM-backed /tmp.
mkfs.ext4 -q -F "$DISK" || die "mkfs.ext4 $DISK"
mount "$DISK" "$w" || die "mount $DISK"
loops_before=$(losetup -a | wc -l)
start=$(date +%s)
"$live" --module-loaded --dir "$w" --size 192M > /tmp/live46.log 2>&1
rc=$?
cat /tmp/live46.log
[ $rc = 0 ] || die "quickstart-live exited with $rc"
echo "quickstart-live took $(($(date +%s) - start)) s"
grep -q "^the restored image is identical to snapshot 2's image$" /tmp/live46.log ||
	die "no comparison reported"
grep -q "^the restored ext4 mounts and holds the files" /tmp/live46.log ||
	die "no check of the restored filesystem reported"
changed=$(sed -n 's/^changed since snapshot 1: \([0-9]*\) bytes.*/\1/p' /tmp/live46.log)
[ -n "$changed" ] || die "no size of the changes reported"
if [ "$changed" -le 0 ] || [ "$changed" -ge $((96 * 1024 * 1024)) ]; then
	die "the CBT incremental covers $changed bytes of a 192 MiB device"
fi
echo "the incremental covers $changed bytes of 192 MiB"

nothing_left after the run
echo "nothing left behind; the module stays loaded"

# Interrupted (^C, a signal) while snapshot 1 exists: it stops, non-zero,
# and still leaves nothing.
"$live" --module-loaded --dir "$w" --size 192M > /tmp/live46-int.log 2>&1 &
pid=$!
i=0
while [ -z "$(blksnap-take --list)" ]; do
	i=$((i + 1))
	kill -0 $pid 2> /dev/null || { cat /tmp/live46-int.log; die "ended before a snapshot was seen"; }
	[ $i -le 600 ] || die "no snapshot after 120 s"
	sleep 0.2
done
kill -TERM $pid
wait $pid
rc=$?
cat /tmp/live46-int.log
[ $rc != 0 ] || die "the interrupted run exited with 0"
nothing_left "an interrupted run (status $rc)"
echo "interrupted with a snapshot alive: status $rc, nothing left behind"
umount "$w" || die "umount $w"
unload
