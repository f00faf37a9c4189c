# Attach and detach while writes run, on both disks; unload with trackers
# attached and I/O in flight.
load
fio --name=rw --filename="$DISK" --rw=randwrite --bs=4k --direct=1 \
	--ioengine=psync --size=256M --time_based --runtime=12 \
	--output=/tmp/fio1.out > /dev/null 2>&1 &
fio1=$!
fio --name=seq --filename="$DISK2" --rw=write --bs=64k --direct=0 \
	--ioengine=psync --size=64M --time_based --runtime=12 \
	--output=/tmp/fio2.out > /dev/null 2>&1 &
fio2=$!
sleep 1
for i in $(seq 25); do
	"$KTEST" attach "$DISK" || die "attach $DISK ($i)"
	"$KTEST" attach "$DISK2" || die "attach $DISK2 ($i)"
	sleep 0.1
	"$KTEST" map "$DISK" > /dev/null || die "map ($i)"
	"$KTEST" detach "$DISK" || die "detach $DISK ($i)"
	"$KTEST" detach "$DISK2" || die "detach $DISK2 ($i)"
done
"$KTEST" attach "$DISK" || die "attach"
sleep 0.5
n=$(marked "$DISK" | wc -l)
[ "$n" -gt 0 ] || die "nothing marked under random writes"
echo "$n blocks marked after 0.5 s of random writes"
unload
load
"$KTEST" attach "$DISK" || die "attach after reload"
wait $fio1 || die "fio on $DISK failed: $(cat /tmp/fio1.out)"
wait $fio2 || die "fio on $DISK2 failed: $(cat /tmp/fio2.out)"
grep -h 'IOPS=' /tmp/fio1.out /tmp/fio2.out
unload
