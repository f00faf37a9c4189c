# SPDX-License-Identifier: GPL-2.0-or-later
# timeout: 1800
# The CBT backup chain of test 40 on a busy xfs (which needs >= 300 MB:
# $DISK, 512 MiB): a full backup and 5 incrementals taken while a writer
# goes on; every point restores to its image and checks clean with
# xfs_repair -n.
[ -n "${BLKSNAP_TOOLS:-}" ] && [ -x "$BLKSNAP_TOOLS/blksnap-take" ] || {
	echo "the userspace tools were not staged for the guest"
	exit 77
}
command -v mkfs.xfs > /dev/null && command -v xfs_repair > /dev/null || {
	echo "xfsprogs is not installed"
	exit 77
}
PATH="$BLKSNAP_TOOLS:$PATH"
mnt=/tmp/mnt43
st=/tmp/storage43
a=/tmp/arch43
mkdir -p "$mnt" "$st" "$a"
load
. "$KTDIR/kt/backup-chain.sh"
backup_chain xfs "$DISK"
unload
rm -rf "$a" "$st"
