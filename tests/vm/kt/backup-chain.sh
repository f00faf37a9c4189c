# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the tests that back up a busy filesystem through the tools
# (40: ext4, 43: xfs). backup_chain FS DEV makes FS on DEV, starts a
# writer on it, then takes a full backup and 5 CBT-driven incrementals,
# each from a snapshot taken while the writer goes on. It checks that
# each incremental carries no more than the tracking blocks that changed,
# and that every point of the chain restores to exactly what its image
# showed (checksums taken while backing up) and to a filesystem that
# mounts and checks clean; the restores go to the scratch disk $SCRATCH. Leaves the archives a0.tar..a5.tar in $a.
# Needs: st (storage directory), a (archive directory), mnt.

# fs_check FS FILE: the filesystem check that must find nothing.
fs_check() {
	case $1 in
	ext4) e2fsck -fn "$2" ;;
	xfs) xfs_repair -n "$2" ;;
	*) echo "no check for $1"; return 1 ;;
	esac
}

# chain_writer DIR: new files, overwrites and deletions, synced now and
# then; paced, or under TCG it would take all of a CPU and the test its
# time. Runs until killed.
chain_writer() {
	n=0
	while :; do
		n=$((n + 1))
		dd if=/tmp/random-chain of="$1/f$((n % 40))" bs=16k count=$((n % 7 + 1)) \
			skip=$((n % 50)) seek=$((n % 5)) conv=notrunc status=none 2> /dev/null
		[ $((n % 10)) = 0 ] && sync
		[ $((n % 13)) = 0 ] && rm -f "$1/f$((n % 17))"
		sleep 0.05
	done
}

# chain_point DEV N: take, checksum the image, back it up (full for 0,
# else from the CBT dump against the chain so far), destroy.
chain_point() {
	id=$(blksnap-take -q --storage "$st" --limit 96M "$1") || die "take $2"
	img=$(blksnap-take --image "$id" "$1") || die "image $2"
	i=0
	while [ ! -b "$img" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	md5sum < "$img" > "$a/sum$2" || die "read image $2"
	if [ "$2" = 0 ]; then
		blksnap-send -q --full -o "$a/a0.tar" "$img" || die "full backup"
	else
		blksnap-cbt -o "$a/dump$2" "$1" || die "dump $2"
		chain=$(seq 0 $(($2 - 1)) | sed "s|.*|$a/a&.tar|")
		# shellcheck disable=SC2086
		blksnap-diff $chain < "$a/dump$2" > "$a/r$2" 2> "$a/diff$2.err" ||
			die "diff $2: $(cat "$a/diff$2.err")"
		blksnap-send -q --base "$a/a$(($2 - 1)).tar" -o "$a/a$2.tar" "$img" \
			< "$a/r$2" || die "incremental $2"
	fi
	# The manifest records where the next diff starts.
	blksnap-restore --list "$a/a$2.tar" > "$a/list$2" || die "list $2"
	grep -q "cbt" "$a/list$2" ||
		die "archive $2 has no CBT record: $(cat "$a/list$2")"
	blksnap-take --destroy "$id" || die "destroy $2"
}

# chain_sizes DEV: each incremental holds no more image data than the
# tracking blocks changed in its interval times the block size.
chain_sizes() {
	bs=$(blksnap-cbt --info "$1" | sed -n 's/^tracking block: *\([0-9]*\) bytes.*/\1/p')
	[ -n "$bs" ] || die "no tracking block size"
	for n in 1 2 3 4 5; do
		since=$(sed -n 's/^  cbt: .*snapshot \([0-9]*\)$/\1/p' "$a/list$((n - 1))")
		changed=$(dump_changed "$a/dump$n" "$since")
		data=$(sed -n 's/^  data: *\([0-9]*\) bytes.*/\1/p' "$a/list$n")
		[ -n "$data" ] || die "no data size in: $(cat "$a/list$n")"
		[ "$data" -le $((changed * bs)) ] ||
			die "incremental $n holds $data bytes for $changed changed blocks of $bs"
		[ "$data" -lt "$(dev_bytes "$1")" ] || die "incremental $n is the whole device"
		echo "incremental $n: $changed tracking blocks changed, $data bytes of data"
	done
}

# chain_restores FS DEV: every point restores, into the scratch disk, to
# its image's checksum (over the origin's size: the scratch disk may be
# larger), and the restored filesystem mounts and, once unmounted, checks
# clean. The mount comes first because a frozen xfs keeps metadata in its
# log (xfs_repair -n finds, for one, the free block count behind until
# the log is replayed); a frozen ext4 has nothing to replay.
chain_restores() {
	size=$(dev_bytes "$2")
	[ "$(dev_bytes "$SCRATCH")" -ge "$size" ] || die "$SCRATCH is smaller than $2"
	for n in 0 1 2 3 4 5; do
		chain=$(seq 0 "$n" | sed "s|.*|$a/a&.tar|")
		# shellcheck disable=SC2086
		blksnap-restore -q -o "$SCRATCH" $chain || die "restore to point $n"
		head -c "$size" "$SCRATCH" | md5sum | cmp -s - "$a/sum$n" ||
			die "point $n restores to other data than its image showed"
		mount -t "$1" "$SCRATCH" "$mnt" || die "point $n does not mount"
		umount "$mnt" || die "umount point $n"
		fs_check "$1" "$SCRATCH" > "$a/fsck$n" 2>&1 || {
			cat "$a/fsck$n"
			die "point $n: the $1 check failed"
		}
		echo "point $n restored and checked at $(($(date +%s) - start)) s"
	done
}

backup_chain() {
	fs=$1
	dev=$2
	modprobe -a "$fs" loop || die "modprobe $fs loop"
	case $fs in
	ext4) mkfs.ext4 -q -F "$dev" ;;
	xfs) mkfs.xfs -q -f "$dev" ;;
	esac || die "mkfs.$fs $dev"
	mount -t "$fs" "$dev" "$mnt" || die "mount $dev"
	head -c 1M /dev/urandom > /tmp/random-chain
	chain_writer "$mnt" &
	writer=$!
	trap 'kill $writer 2> /dev/null; wait; umount "$mnt" 2> /dev/null' EXIT
	sleep 2

	start=$(date +%s)
	for n in 0 1 2 3 4 5; do
		chain_point "$dev" $n
		echo "backup $n done at $(($(date +%s) - start)) s"
		sleep 1
	done
	kill $writer
	wait $writer 2> /dev/null
	trap - EXIT
	umount "$mnt" || die "umount"
	rm -f /tmp/random-chain
	echo "a full backup and 5 incrementals of a busy $fs"
	chain_sizes "$dev"
	chain_restores "$fs" "$dev"
	echo "each of the 6 points restores identically and checks clean"
}
