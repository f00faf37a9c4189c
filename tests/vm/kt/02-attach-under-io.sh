# timeout: 600
# Attach and detach while writes run, on both disks; unload and load with
# trackers attached while they run.
load
fio --name=rw --filename="$DISK" --rw=randwrite --bs=4k --direct=1 \
	--ioengine=psync --size=256M --time_based --runtime=900 \
	--output=/tmp/fio1.out > /dev/null 2>&1 &
fio1=$!
fio --name=seq --filename="$DISK2" --rw=write --bs=64k --direct=0 \
	--ioengine=psync --size=64M --time_based --runtime=900 \
	--output=/tmp/fio2.out > /dev/null 2>&1 &
fio2=$!
trap 'kill $fio1 $fio2 2> /dev/null; wait' EXIT
"$KTEST" attach "$DISK" || die "attach"
n=$(wait_marked "$DISK")
kill -0 $fio1 || die "fio ended too early: $(cat /tmp/fio1.out)"
[ "$n" -gt 0 ] || die "nothing marked under random writes"
echo "$n blocks marked under random writes"
# Unload with trackers attached while the writers run, then load again:
# ftrace patches submit_bio_noacct() under their calls both ways.
"$KTEST" attach "$DISK2" || die "attach $DISK2"
kill -0 $fio1 || die "fio ended before the unload"
unload
kill -0 $fio1 && kill -0 $fio2 || die "a writer died at the unload"
load
# Twenty cycles while both writers run (they run until killed: no
# timing to depend on under a loaded emulator).
i=0
while [ $i -lt 20 ]; do
	i=$((i + 1))
	"$KTEST" attach "$DISK" || die "attach $DISK ($i)"
	"$KTEST" attach "$DISK2" || die "attach $DISK2 ($i)"
	sleep 0.1
	"$KTEST" map "$DISK" > /dev/null || die "map ($i)"
	"$KTEST" detach "$DISK" || die "detach $DISK ($i)"
	"$KTEST" detach "$DISK2" || die "detach $DISK2 ($i)"
	kill -0 $fio1 && kill -0 $fio2 || die "a writer ended ($i)"
done
echo "$i attach/detach cycles under writes"
"$KTEST" attach "$DISK" || die "attach after the cycles"
sleep 1
kill $fio1 $fio2
wait $fio1 $fio2
trap - EXIT
[ "$(marked "$DISK" | wc -l)" -gt 0 ] || die "nothing marked after the cycles"
unload
