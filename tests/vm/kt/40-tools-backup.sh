# SPDX-License-Identifier: GPL-2.0-or-later
# timeout: 900
# The whole workflow through the tools, on a busy ext4: blksnap-take, a
# full backup of the image, then 5 CBT-driven incrementals, each taken
# while a writer goes on. Every point of the chain restores to exactly
# what its image showed (checksums taken while backing up) and to a
# filesystem that checks clean and mounts; each incremental carries no
# more than the tracking blocks that changed. After a module reload the
# next diff falls back to the whole device and the chain still restores.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-take" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"
dev=$DISK2
mnt=/tmp/mnt40
st=/tmp/storage40
a=/tmp/arch40
mkdir -p "$mnt" "$st" "$a"

out=$(blksnap-take --storage "$st" --limit 64M "$dev" 2>&1) &&
	die "take without the module: $out"
echo "$out" | grep -q "module is not loaded" || die "unclear message: $out"
load
out=$(blksnap-take --storage "$st" --limit 64M /dev/nonexistent 2>&1) &&
	die "take of a missing device: $out"
echo "$out" | grep -q "/dev/nonexistent" || die "unclear message: $out"
out=$(blksnap-take --storage "$st" "$dev" 2>&1) && die "file storage without --limit: $out"
echo "$out" | grep -q "needs --limit" || die "unclear message: $out"

modprobe -a ext4 loop || die "modprobe ext4 loop"
mkfs.ext4 -q -F "$dev" || die "mkfs.ext4"
mount "$dev" "$mnt" || die "mount"
# The writer: new files, overwrites and deletions, synced now and then;
# paced, or under TCG it would take all of a CPU and the test its time.
head -c 1M /dev/urandom > /tmp/random40
(
	n=0
	while :; do
		n=$((n + 1))
		dd if=/tmp/random40 of="$mnt/f$((n % 40))" bs=16k count=$((n % 7 + 1)) \
			skip=$((n % 50)) seek=$((n % 5)) conv=notrunc status=none 2> /dev/null
		[ $((n % 10)) = 0 ] && sync
		[ $((n % 13)) = 0 ] && rm -f "$mnt/f$((n % 17))"
		sleep 0.05
	done
) &
writer=$!
trap 'kill $writer 2> /dev/null; wait; umount "$mnt" 2> /dev/null' EXIT
sleep 2

# back_up N: take, check the image, back it up (full for 0), destroy.
back_up() {
	id=$(blksnap-take -q --storage "$st" --limit 96M "$dev") || die "take $1"
	img=$(blksnap-take --image "$id" "$dev") || die "image $1"
	i=0
	while [ ! -b "$img" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	md5sum < "$img" > "$a/sum$1" || die "read image $1"
	if [ "$1" = 0 ]; then
		blksnap-send -q --full -o "$a/a0.tar" "$img" || die "full backup"
	else
		blksnap-cbt -o "$a/dump$1" "$dev" || die "dump $1"
		chain=$(seq 0 $(($1 - 1)) | sed "s|.*|$a/a&.tar|")
		# shellcheck disable=SC2086
		blksnap-diff $chain < "$a/dump$1" > "$a/r$1" 2> "$a/diff$1.err" ||
			die "diff $1: $(cat "$a/diff$1.err")"
		blksnap-send -q --base "$a/a$(($1 - 1)).tar" -o "$a/a$1.tar" "$img" \
			< "$a/r$1" || die "incremental $1"
	fi
	# The manifest records where the next diff starts.
	blksnap-restore --list "$a/a$1.tar" > "$a/list$1" || die "list $1"
	grep -q "cbt" "$a/list$1" || die "archive $1 has no CBT record: $(cat "$a/list$1")"
	blksnap-take --destroy "$id" || die "destroy $1"
}

start=$(date +%s)
for n in 0 1 2 3 4 5; do
	back_up $n
	echo "backup $n done at $(($(date +%s) - start)) s"
	sleep 1
done
kill $writer
wait $writer 2> /dev/null
trap - EXIT
umount "$mnt" || die "umount"
echo "a full backup and 5 incrementals of a busy ext4"

# An incremental carries only what changed: no more image data than the
# tracking blocks changed in its interval times the block size.
bs=$(blksnap-cbt --info "$dev" | sed -n 's/^tracking block: *\([0-9]*\) bytes.*/\1/p')
[ -n "$bs" ] || die "no tracking block size"
for n in 1 2 3 4 5; do
	# The dump: a 72-byte header, then one byte per block (blksnap-cbt(5)).
	since=$(sed -n 's/^  cbt: .*snapshot \([0-9]*\)$/\1/p' "$a/list$((n - 1))")
	changed=$(tail -c +73 "$a/dump$n" | od -An -v -tu1 |
		awk -v k="$since" '{ for (i = 1; i <= NF; i++) if ($i > k) c++ }
			END { print c + 0 }')
	data=$(sed -n 's/^  data: *\([0-9]*\) bytes.*/\1/p' "$a/list$n")
	[ -n "$data" ] || die "no data size in: $(cat "$a/list$n")"
	[ "$data" -le $((changed * bs)) ] ||
		die "incremental $n holds $data bytes for $changed changed blocks of $bs"
	[ "$data" -lt "$(dev_bytes "$dev")" ] || die "incremental $n is the whole device"
	echo "incremental $n: $changed tracking blocks changed, $data bytes of data"
done

# Every point restores to its image, and to a clean filesystem.
for n in 0 1 2 3 4 5; do
	chain=$(seq 0 "$n" | sed "s|.*|$a/a&.tar|")
	# shellcheck disable=SC2086
	blksnap-restore -q -o /tmp/restored40 $chain || die "restore to point $n"
	md5sum < /tmp/restored40 | cmp -s - "$a/sum$n" ||
		die "point $n restores to other data than its image showed"
	e2fsck -fn /tmp/restored40 > "$a/fsck$n" 2>&1 ||
		die "point $n: e2fsck: $(tail -n 5 "$a/fsck$n")"
	mount -o ro,loop /tmp/restored40 "$mnt" || die "point $n does not mount"
	umount "$mnt"
	echo "point $n restored at $(($(date +%s) - start)) s"
done
echo "each of the 6 points restores identically and checks clean"

# A reload starts a new generation: the next diff says so and lists all.
for id in $(blksnap-take --list | awk 'NF == 2 && $2 ~ /^(created|taken|corrupted)$/ { print $1 }'); do
	blksnap-take --destroy "$id"
done
unload
load
id=$(blksnap-take -q --storage "$st" --limit 64M "$dev") || die "take after reload"
img=$(blksnap-take --image "$id" "$dev") || die "image after reload"
md5sum < "$img" > "$a/sum6"
blksnap-cbt -o "$a/dump6" "$dev" || die "dump after reload"
chain=$(seq 0 5 | sed "s|.*|$a/a&.tar|")
# shellcheck disable=SC2086
blksnap-diff $chain < "$a/dump6" > "$a/r6" 2> "$a/diff6.err" || die "diff after reload"
grep -qi "generation" "$a/diff6.err" || die "fallback not explained: $(cat "$a/diff6.err")"
[ "$(grep -v '^#' "$a/r6")" = "0 $(dev_bytes "$dev")" ] ||
	die "the diff after a reload is not the whole device"
blksnap-send -q --base "$a/a5.tar" -o "$a/a6.tar" "$img" < "$a/r6" || die "send after reload"
blksnap-take --destroy "$id" || die "destroy after reload"
# shellcheck disable=SC2086
blksnap-restore -q -o /tmp/restored40 $chain "$a/a6.tar" || die "restore after reload"
md5sum < /tmp/restored40 | cmp -s - "$a/sum6" || die "the chain after a reload differs"
echo "after a reload the diff falls back to the whole device and the chain restores"
unload
rm -rf "$a" /tmp/restored40 /tmp/random40
