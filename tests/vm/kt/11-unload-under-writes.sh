# Unload and load the module with trackers attached while writers run
# (direct random writes with a deep queue, buffered sequential writes),
# then keep writing without the module: whatever the module left behind
# (a bio, a map, the hook) must not be touched after it is gone.
ROUNDS=${ROUNDS:-6}
fio --name=rw --filename="$DISK" --rw=randwrite --bs=4k --direct=1 \
	--ioengine=libaio --iodepth=32 --size=256M --time_based --runtime=600 \
	--output=/tmp/fio1.out > /dev/null 2>&1 &
fio1=$!
fio --name=seq --filename="$DISK2" --rw=write --bs=64k --direct=0 \
	--ioengine=psync --size=64M --time_based --runtime=600 \
	--output=/tmp/fio2.out > /dev/null 2>&1 &
fio2=$!
trap 'kill $fio1 $fio2 2> /dev/null; wait' EXIT
r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	load
	"$KTEST" attach "$DISK" || die "attach $DISK ($r)"
	"$KTEST" attach "$DISK2" || die "attach $DISK2 ($r)"
	[ "$(wait_marked "$DISK")" -gt 0 ] ||
		die "nothing marked under random writes ($r)"
	sleep 1
	unload
	kill -0 $fio1 && kill -0 $fio2 || die "a writer died ($r)"
	sleep 2
done
kill $fio1 $fio2
wait
trap - EXIT
echo "$ROUNDS unloads under writes"
