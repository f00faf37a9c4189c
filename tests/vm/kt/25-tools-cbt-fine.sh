# SPDX-License-Identifier: GPL-2.0-or-later
# Scattered 4 KiB writes through the tools (1% of a 32 MiB device): blksnap-cbt's dump carries
# the module's 4 KiB detail, blksnap-diff lists exactly the 4 KiB ranges
# written, and blksnap-send makes of them an incremental with 4 KiB hash
# blocks holding just what was written, which restores identically. With
# the detail turned off (tracking_fine_limit=0) the same writes cost whole
# 64 KiB blocks, as they did before the detail existed.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-cbt" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"

modprobe loop 2>/dev/null
truncate -s 32M /tmp/fine.img
lo=$(losetup -f --show /tmp/fine.img) || { echo "no loop device"; exit 77; }
# Data everywhere: blocks of zeros would be stored as holes and hide
# what a coarser range list costs.
dd if=/dev/urandom of="$lo" bs=1M count=32 oflag=direct status=none ||
	die "fill $lo"
load
blksnap-cbt --attach "$lo" || die "attach"
gen=$(blksnap-cbt --info "$lo" | sed -n 's/^generation: *//p')
[ -n "$gen" ] || die "no generation"
blksnap-send -q --full -c none --cbt-generation "$gen" --cbt-snapshot 0 \
	-o /tmp/f0.tar "$lo" || die "full backup"

# interval N SEED: 1% of the device in 4 KiB writes at distinct random
# offsets (/tmp/w.N: their 4 KiB indexes), a snapshot, then the dump of
# the map frozen by it, the ranges and an incremental on top of archive
# N-1
interval() {
	awk -v seed="$2" -v subs=8192 'BEGIN {
		srand(seed)
		while (n < 82) {
			s = int(rand() * subs)
			if (!(s in seen)) { seen[s] = 1; n++; print s }
		}
	}' | sort -n > "/tmp/w.$1"
	"$KTEST" pwrite "$lo" 4096 $(awk '{ print $1 * 4096 }' "/tmp/w.$1") ||
		die "writes $1"
	# A snapshot freezes the map at number $1 (its image is not needed:
	# nothing writes to the device until the incremental is made).
	id=$(snap_new "$DISK2" 0 0 "$lo") || die "snapshot $1"
	"$KTEST" snap-destroy "$id" || die "destroy $1"
	blksnap-cbt -o "/tmp/dump.$1" "$lo" || die "dump $1"
	chain=$(seq 0 $(($1 - 1)) | sed 's|.*|/tmp/f&.tar|')
	# shellcheck disable=SC2086
	blksnap-diff $chain < "/tmp/dump.$1" > "/tmp/r.$1" || die "diff $1"
	blksnap-send -q -c none --base "/tmp/f$(($1 - 1)).tar" \
		--cbt-generation "$gen" --cbt-snapshot "$1" \
		-o "/tmp/f$1.tar" "$lo" < "/tmp/r.$1" || die "incremental $1"
	blksnap-restore --list "/tmp/f$1.tar" > "/tmp/list.$1" || die "list $1"
	data=$(sed -n 's/^  data: *\([0-9]*\) bytes.*/\1/p' "/tmp/list.$1")
	hbs=$(sed -n 's/^  hash block: *\([0-9]*\) bytes.*/\1/p' "/tmp/list.$1")
	echo "interval $1: $((82 * 4096)) bytes written, $data in the incremental ($(grep -vc '^#' "/tmp/r.$1") ranges, hash block $hbs)"
}

s=$(seed)
interval 1 "$s"
grep -v '^#' /tmp/r.1 | awk '{
	for (o = $1; o < $1 + $2; o += 4096) print o / 4096
}' | sort -n > /tmp/got
same_set "ranges of the 4 KiB writes" /tmp/w.1 /tmp/got
[ "$hbs" = 4096 ] || die "incremental 1 has hash block $hbs, want 4096"
[ "$data" -le $((2 * 82 * 4096)) ] ||
	die "incremental 1 holds $data bytes for $((82 * 4096)) written"
blksnap-restore -q -o /tmp/restored /tmp/f0.tar /tmp/f1.tar || die "restore 1"
cmp /tmp/restored "$lo" || die "point 1 restores to other data"

# Without new detail the list names whole 64 KiB blocks (but in the
# blocks that kept theirs from interval 1). The archive keeps 4 KiB hash
# blocks: a chain's only ever get finer.
echo 0 > /sys/module/blksnap/parameters/tracking_fine_limit
interval 2 $((s + 1))
coarse=$data
blksnap-restore -q -o /tmp/restored /tmp/f0.tar /tmp/f1.tar /tmp/f2.tar ||
	die "restore 2"
cmp /tmp/restored "$lo" || die "point 2 restores to other data"
[ "$coarse" -gt $((8 * 82 * 4096)) ] ||
	die "without the detail only $coarse bytes: is it really off?"

blksnap-cbt --detach "$lo" || die "detach"
unload
losetup -d "$lo"
rm -f /tmp/fine.img /tmp/f?.tar /tmp/restored /tmp/dump.* /tmp/r.* /tmp/w.*
