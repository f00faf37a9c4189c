# Load and unload the module 20 times; the generation changes on reload.
gen=""
for i in $(seq 20); do
	load
	"$KTEST" version > /dev/null || die "version ioctl ($i)"
	if [ $((i % 5)) = 0 ]; then
		"$KTEST" attach "$DISK" || die "attach ($i)"
		dd if=/dev/zero of="$DISK" bs=64k count=16 oflag=direct \
			2> /dev/null || die "write ($i)"
		g=$(info "$DISK" gen)
		[ -n "$g" ] && [ "$g" != "$gen" ] || die "generation kept: $g"
		gen=$g
	fi
	unload
	[ ! -e /dev/blksnap-control ] || die "control device left after rmmod"
done
echo "20 load/unload cycles"
