#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Userspace benchmarks: each row times blksnap and a reference tool on the
# same data in the same run, alternating sides and keeping each side's
# best of ROUNDS, and prints the ratio with its goal.  Nothing here is
# asserted: the table is for people.
#
#   bench/run.sh [BUILD_DIR]      (default: the current directory)
#   environment: SIZE_MB (default 2048), ROUNDS (default 3),
#                ZERO_SIZE_MB (default 4096; 0 leaves out the rows of
#                an image of zeros), BENCH_DIR (default /var/tmp)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
build=$(cd "${1:-.}" && pwd)
use_build "$build"
SIZE_MB=${SIZE_MB:-2048}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/blksnap-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

for tool in blksnap-send blksnap-diff blksnap-restore blksnap-merge zstd rsync python3; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done

rows=
row() { rows="$rows$(printf '%-58s %8.3f %8.3f %7.2f  %s' "$1" "$2" "$3" "$4" "$5")
"; }

echo "bench: $SIZE_MB MiB random image in $work, best of $ROUNDS, $(nproc) CPUs" >&2
head -c "${SIZE_MB}M" /dev/urandom > img
cat img > /dev/null

# 1. Full backup without compression against cat.
pair "blksnap-send --full -c none img > /dev/null" "cat img > /dev/null"
row "full backup, none: throughput / cat" "$ta" "$tb" "$(calc "$tb / $ta")" ">= 0.90"

# 1b. The same with the image out of the page cache before each side
#     (dd's nocache drops a file's cached pages; the device's own cache,
#     a VM host's, is not ours to drop).
PREP="dd if=img iflag=nocache count=0 status=none"
pair "blksnap-send --full -c none img > /dev/null" "cat img > /dev/null"
row "full backup, none, image not cached: throughput / cat" "$ta" "$tb" "$(calc "$tb / $ta")" ">= 0.90"
PREP=
cat img > /dev/null

# 2. Full backup with zstd -1 against zstd -1 -T0.
pair "blksnap-send --full -c zstd --level 1 img > /dev/null" "zstd -q -1 -T0 < img > /dev/null"
row "full backup, zstd -1: throughput / zstd -1 -T0" "$ta" "$tb" "$(calc "$tb / $ta")" ">= 0.90"

# 3. Incremental of 1% of the image in scattered 64 KiB ranges, from a
#    range list, against the full backup.
blksnap-send --full -c none -m base.man -o base.tar img
# ranges BLOCK SEED: 1% of the image's BLOCK-sized blocks, at random.
ranges() {
	python3 - "$SIZE_MB" "$1" "$2" <<'PY'
import random, sys
size, block, seed = int(sys.argv[1]) << 20, int(sys.argv[2]), int(sys.argv[3])
blocks = size // block
random.seed(seed)
print("# size", size)
for b in sorted(random.sample(range(blocks), blocks // 100)):
    print(b * block, block)
PY
}
ranges 65536 1 > r64
ranges 4096 2 > r4k
pair "blksnap-send --base base.man -c none --ranges r64 img > /dev/null" "blksnap-send --full -c none img > /dev/null"
row "incremental, 1% in 64K ranges: time / full backup" "$ta" "$tb" "$(calc "$ta / $tb")" "<= 0.05"
pair "blksnap-send --base base.man -c none --ranges r4k img > /dev/null" "blksnap-send --full -c none img > /dev/null"
row "incremental, 1% in 4K ranges (4K hash blocks): / full" "$ta" "$tb" "$(calc "$ta / $tb")" "(info)"
# 3b. Its size: the incremental's image data over the bytes written (the
#     columns are MiB here, not seconds); and with -B 64K, every 4 KiB
#     range rounded out to its 64 KiB block as before blksnap 0.2.0.
data_of() {
	blksnap-restore --list "$1" | sed -n 's/^  data: *\([0-9]*\) bytes.*/\1/p'
}
written=$(($(grep -vc '^#' r4k) * 4096))
blksnap-send --base base.man -c none --ranges r4k -m fine.man img > /dev/null
blksnap-send --base base.man -c none --ranges r4k -B 64K -m coarse.man img > /dev/null
fine=$(data_of fine.man) coarse=$(data_of coarse.man)
row "fine incremental, 1% in 4K ranges: data/written (MiB)" \
	"$(calc "$fine / 1048576")" "$(calc "$written / 1048576")" "$(calc "$fine / $written")" "<= 2"
row "the same with -B 64K (as before 0.2.0): data/written (MiB)" \
	"$(calc "$coarse / 1048576")" "$(calc "$written / 1048576")" "$(calc "$coarse / $written")" "(info)"

# 4. Scan against cat.
pair "blksnap-diff --scan img base.man > /dev/null" "cat img > /dev/null"
row "scan: throughput / cat" "$ta" "$tb" "$(calc "$tb / $ta")" ">= 0.80"

# 5. Restore against cat to a file (both made durable).
PREP="rm -f copy out"
pair "blksnap-restore -o out base.tar" "cat img > copy && sync copy"
row "restore: throughput / (cat > copy; sync copy)" "$ta" "$tb" "$(calc "$tb / $ta")" ">= 0.80"
PREP=

# overwrite RANGES SEED: random data into img at each range of RANGES.
overwrite() {
	python3 - "$1" "$2" <<'PY'
import random, sys
random.seed(int(sys.argv[2]))
lines = [l.split() for l in open(sys.argv[1]) if not l.startswith("#")]
with open("img", "r+b") as f:
    for off, length in lines:
        f.seek(int(off)); f.write(random.randbytes(int(length)))
PY
}

# 6. The 1% incremental against rsync updating a copy in place.
cp img old
cp img img.0
overwrite r64 1
PREP="cp --reflink=never old copy2 2>/dev/null || cp old copy2"
pair "blksnap-send --base base.man -c none --ranges r64 img > inc.tar" "rsync --inplace --no-whole-file img copy2"
row "1% incremental vs rsync --inplace: rsync time / ours" "$ta" "$tb" "$(calc "$tb / $ta")" ">= 5"
PREP=

# 8. A served point (nbdkit blksnap, the chain base.tar + inc.tar, whose
#    image is img now) against nbdkit's file plugin serving img: the
#    whole export read by nbdcopy, and 4 KiB random reads by fio's nbd
#    engine (16,384 reads, 8 in flight).  Each side's time includes
#    nbdkit's start (the plugin reads the manifests and hash indexes; a
#    zstd chain is decompressed into its cache file then).
plugin=$build/src/.libs/nbdkit-blksnap-plugin.so
if [ -f "$plugin" ] && command -v nbdkit >/dev/null && command -v nbdcopy >/dev/null; then
	blksnap-send --full -c zstd --level 1 -m zbase.man -o zbase.tar img.0
	blksnap-send --base zbase.man -c zstd --level 1 --ranges r64 -o zinc.tar img
	# serve-copy.sh / serve-fio.sh PLUGIN ARGS...: one nbdkit and its client.
	cat > serve-copy.sh <<'SH'
exec nbdkit -U - "$@" --run 'nbdcopy "$uri" null:'
SH
	cat > serve-fio.sh <<'SH'
exec nbdkit -U - "$@" --run 'fio --name=r --ioengine=nbd --uri="$uri" --rw=randread --bs=4k --iodepth=8 --io_size=64M --randseed=7 --norandommap --output=/dev/null'
SH
	have_fio=
	fio --enghelp 2>&1 | grep -qw nbd && have_fio=1
	for comp in none zstd; do
		chain="base.tar inc.tar"
		[ "$comp" = zstd ] && chain="zbase.tar zinc.tar"
		goal=">= 0.80" goal4k=">= 0.70"
		[ "$comp" = zstd ] && goal="(info)" goal4k="(info)"
		pair "sh serve-copy.sh $plugin $chain" "sh serve-copy.sh file img"
		row "served point ($comp), nbdcopy: throughput / file plugin" "$ta" "$tb" "$(calc "$tb / $ta")" "$goal"
		if [ -n "$have_fio" ]; then
			pair "sh serve-fio.sh $plugin $chain" "sh serve-fio.sh file img"
			row "served point ($comp), 4K random reads: IOPS / file plugin" "$ta" "$tb" "$(calc "$tb / $ta")" "$goal4k"
		else
			echo "bench: fio has no nbd engine: no 4K random read row" >&2
		fi
	done
	rm -f zbase.tar zinc.tar img.0
else
	echo "bench: no nbdkit, nbdcopy or plugin: the served point rows are left out" >&2
fi

# 9. A synthetic full of a full and 5 incrementals of 1% each (blocks
#    at random, overlapping by chance) against restoring the chain into
#    a file: both read the whole chain and write an image's worth.
chain="base.tar"
prev=base.man
for k in 1 2 3 4 5; do
	ranges 65536 $((10 + k)) > "r.$k"
	overwrite "r.$k" $((20 + k))
	blksnap-send --base "$prev" -c none --ranges "r.$k" -m "i.$k.man" -o "i.$k.tar" img
	chain="$chain i.$k.tar"
	prev=i.$k.man
done
PREP="rm -f merged.tar out"
pair "blksnap-merge -c none -o merged.tar $chain" "blksnap-restore -o out $chain"
row "merge full + 5 x 1% into a synthetic full: restore / ours" "$ta" "$tb" "$(calc "$tb / $ta")" ">= 1.0"
PREP=
rm -f i.?.tar i.?.man r.? merged.tar out

# 7. An image of 10% random data (in 64 KiB blocks at random) and 90%
#    written zeros: the zeros become zero ranges (blksnap-archive(5)).
ZERO_SIZE_MB=${ZERO_SIZE_MB:-4096}
if [ "$ZERO_SIZE_MB" -gt 0 ]; then
	rm -f img old copy copy2 out inc.tar base.tar
	echo "bench: $ZERO_SIZE_MB MiB image, 10% data, 90% written zeros" >&2
	python3 - "$ZERO_SIZE_MB" <<'PY'
import os, random, sys
blocks = (int(sys.argv[1]) << 20) // 65536
random.seed(7)
data = set(random.sample(range(blocks), blocks // 10))
zero = bytes(65536)
with open("zimg", "wb") as f:
    for b in range(blocks):
        f.write(os.urandom(65536) if b in data else zero)
PY
	nonzero=$(( (ZERO_SIZE_MB << 20) / 65536 / 10 * 65536 ))
	cat zimg > /dev/null
	pair "blksnap-send --full -c none zimg > /dev/null" "cat zimg > /dev/null"
	row "90% zeros, full backup, none: throughput / cat" "$ta" "$tb" "$(calc "$tb / $ta")" ">= 0.90"
	PREP="dd if=zimg iflag=nocache count=0 status=none"
	pair "blksnap-send --full -c none zimg > /dev/null" "cat zimg > /dev/null"
	row "90% zeros, the same, image not cached: throughput / cat" "$ta" "$tb" "$(calc "$tb / $ta")" ">= 0.90"
	PREP=
	blksnap-send --full -c none -o zimg.tar zimg
	row "90% zeros, full backup, none: size / non-zero data" 0 0 \
		"$(calc "$(stat -c %s zimg.tar) / $nonzero")" "<= 1.05"
	PREP="rm -f copy out"
	pair "blksnap-restore -o out zimg.tar" "cat zimg > copy && sync copy"
	row "90% zeros, restore into a file: (cat > copy; sync) / ours" "$ta" "$tb" "$(calc "$tb / $ta")" ">= 3"
	PREP=
fi

printf '\n%-58s %8s %8s %7s  %s\n' "measure" "ours s" "ref s" "ratio" "goal"
printf '%s' "$rows"
