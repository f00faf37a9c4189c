# SPDX-License-Identifier: GPL-2.0-or-later
# timeout: 900
# The whole workflow through the tools, on a busy ext4: errors before the
# module is loaded and for bad arguments; a full backup and 5 CBT-driven
# incrementals, each taken while a writer goes on, every point restored
# and checked (backup-chain.sh); after a module reload the next diff
# falls back to the whole device and the chain still restores.
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

. "$KTDIR/kt/backup-chain.sh"
backup_chain ext4 "$dev"

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
blksnap-restore -q -o "$SCRATCH" $chain "$a/a6.tar" || die "restore after reload"
head -c "$(dev_bytes "$dev")" "$SCRATCH" | md5sum | cmp -s - "$a/sum6" ||
	die "the chain after a reload differs"
echo "after a reload the diff falls back to the whole device and the chain restores"
unload
rm -rf "$a"
