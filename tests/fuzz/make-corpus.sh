#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes the seed corpus of the fuzzing harnesses, tests/fuzz/corpus/NAME/,
# from what the built tools write: archives (plain, incremental, of holes
# only, of an odd size), manifest files, their manifests and hash indexes,
# range lists and CBT dumps; and, for what comes from elsewhere (S3
# answers, URLs, device names), the forms the tools meet.  Small inputs
# (a few KiB) so that the fuzzer mutates structure, not data.
#
#   tests/fuzz/make-corpus.sh [BUILD_DIR]     (default: the source tree)
#
# The storage-header corpus is not written here: its inputs are headers
# as the module writes them (in use, released) and damaged ones, made
# once by hand with their CRC-32C; keep it when regenerating the rest.
# So is the cbt-state corpus (blksnap-cbt-state(5)): a small state file,
# the same used, one in place of 3000 blocks with a filesystem identity,
# and damaged ones (truncated, bad checksum, version 2, zeroes, empty),
# written once through cs_encode() (lib/cbt-state.c).
#
# The images are random, so the files differ from run to run; commit the
# new corpus only with a reason (a new format, a new field).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "${1:-$top}" && pwd)
out=$top/tests/fuzz/corpus
PATH=$bin/src:$PATH
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for h in ranges cbtdump manifest hashindex archive archive-compressed \
	 manifest-file s3-xml url devtag zstd-seek-table; do
	rm -rf "${out:?}/$h"
	mkdir -p "$out/$h"
done
cd "$tmp"

# Images: 2 hash blocks of 4 KiB and a short one, a sparse one with a
# hole in the middle, one of holes only.
head -c 9000 /dev/urandom > img
truncate -s 40960 sparse
head -c 4096 /dev/urandom | dd of=sparse bs=4096 seek=1 conv=notrunc status=none
truncate -s 1M holes

blksnap-send --full -B 4K -c none -m full.man -o full.tar img
blksnap-send --full -B 4K -c none -o sparse.tar sparse
blksnap-send --full -B 4K -c none -o holes.tar holes
printf '100 100\n8500 200\n' > changed
head -c 300 /dev/urandom | dd of=img bs=1 seek=5000 conv=notrunc status=none
blksnap-send --base full.man -c none -m inc.man -o inc.tar img < changed
blksnap-diff --scan img full.tar > scan.ranges
# Zero ranges (format 2): a block of zeros between two of data, then an
# incremental in which the first block of data became zeros.
{ head -c 4096 /dev/urandom; head -c 4096 /dev/zero; head -c 5000 /dev/urandom; } > zimg
blksnap-send --full -B 4K -c none -m zeros.man -o zeros.tar zimg
dd if=/dev/zero of=zimg bs=4096 count=1 conv=notrunc status=none
printf '0 4096\n' | blksnap-send --base zeros.man -c none -o zinc.tar zimg

# What each harness reads.
cp full.tar sparse.tar holes.tar inc.tar zeros.tar zinc.tar "$out/archive/"
for f in full sparse inc; do
	printf '\000' | cat - $f.tar > "$out/archive-compressed/zstd-$f.tar"
done
printf '\001' | cat - holes.tar > "$out/archive-compressed/gzip-holes.tar"
printf '\002' | cat - inc.tar > "$out/archive-compressed/xz-inc.tar"
printf '\003' | cat - sparse.tar > "$out/archive-compressed/lz4-sparse.tar"
printf '\000' | cat - zeros.tar > "$out/archive-compressed/zstd-zeros.tar"
# Seekable zstd archives: one frame; several (3 MiB of repeated text);
# the seek table alone, of no frame.
blksnap-send --full -B 4K -c zstd -o "$out/zstd-seek-table/one-frame.zst" img
yes 'blksnap seekable zstd' | head -c 3M > text
blksnap-send --full -c zstd -o "$out/zstd-seek-table/frames.zst" text
printf '\136\052\115\030\011\000\000\000\000\000\000\000\000\261\352\222\217' \
	> "$out/zstd-seek-table/no-frame.zst"
cp full.man inc.man zeros.man "$out/manifest-file/"
head -c 4096 sparse.tar > "$out/manifest-file/archive-head.tar"
for f in full sparse inc holes zeros zinc; do
	tar -xOf $f.tar blksnap.manifest > "$out/manifest/$f"
	tar -xOf $f.tar blksnap.hashes > "$out/hashindex/$f"
done
cp scan.ranges "$out/ranges/scan"
cp changed "$out/ranges/plain"
printf '# size 40960\n# a comment\n\n0 4096\n8192 32768\n' > "$out/ranges/sized"
gen=0123abcd-4567-89ef-0123-456789abcdef
mkcbt=$bin/tests/helpers/mkcbt
"$mkcbt" $gen 3 4096 9000 3 < changed > "$out/cbtdump/mark3"
"$mkcbt" $gen 1 512 1000 1 < /dev/null > "$out/cbtdump/empty"
"$mkcbt" $gen 200 65536 1048576 9 < scan.ranges > "$out/cbtdump/scan"
# Version 2, with the sub-block detail: 4 KiB sub-blocks of 64 KiB blocks
# (one sub-block, a whole block without entry, a cut last block), 512-byte
# ones of 4 KiB blocks, and a detail without entries.
printf '4096 4096\n65536 65536\n139264 4096\n204800 1808\n' |
	"$mkcbt" $gen 4 65536 206608 4 4096 > "$out/cbtdump/fine4k"
printf '0 512\n2048 1024\n8192 808\n' | "$mkcbt" $gen 2 4096 9000 2 512 > "$out/cbtdump/fine512"
printf '0 65536\n' | "$mkcbt" $gen 7 65536 131072 7 4096 > "$out/cbtdump/fine-none"

# From elsewhere: S3's answers (as in its API reference), URLs and
# device names as the tools' users write them.
s3=$out/s3-xml
printf '<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bkt</Bucket><Key>a.tar</Key><UploadId>VXBsb2FkIElEIGZvciBlbHZpbmc</UploadId></InitiateMultipartUploadResult>\n' > "$s3/initiate"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>\n' > "$s3/error"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult><Location>http://bkt.s3.amazonaws.com/a.tar</Location><Bucket>bkt</Bucket><Key>a.tar</Key><ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag></CompleteMultipartUploadResult>\n' > "$s3/complete"
printf '<Error><Code>InternalError</Code><Code>x</Code></Error>' > "$s3/twice"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>bkt</Bucket><IsTruncated>false</IsTruncated><Upload><Key>k</Key><UploadId>old</UploadId><Initiated>2026-12-01T10:00:00.000Z</Initiated></Upload><Upload><Key>k&amp;more</Key><UploadId>other</UploadId></Upload><Upload><Key>k</Key><UploadId>new</UploadId></Upload></ListMultipartUploadsResult>\n' > "$s3/list-uploads"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>new</UploadId><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker><Part><PartNumber>1</PartNumber><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>8388608</Size></Part><Part><PartNumber>2</PartNumber><ETag>"92eb5ffee6ae2fec3ad71c777531578f"</ETag><Size>8388608</Size></Part></ListPartsResult>\n' > "$s3/list-parts"
u=$out/url
printf 's3://bucket/dir/a%%20b.tar' > "$u/s3"
printf 's3://bucket/key?versionId=3' > "$u/s3-query"
printf 'https://user:secret@host.example:8443/dav/a.tar' > "$u/https-password"
printf 'http://[::1]:8080/a.tar#frag' > "$u/http-ipv6"
printf 'sftp://user@host:2222/~/backups/a.tar' > "$u/sftp-home"
printf 'sftp://host/srv/a%%2Fb.tar' > "$u/sftp"
printf 'file:///var/backups/a.tar' > "$u/file"
printf 'file://localhost/tmp/a%%41.tar' > "$u/file-localhost"
printf 'ftp://host/a.tar' > "$u/unsupported"
d=$out/devtag
printf 'UUID=0123abcd-4567-89ef-0123-456789abcdef' > "$d/uuid"
printf 'LABEL="backup disk"' > "$d/label-quoted"
printf 'PARTUUID=1234-01' > "$d/partuuid"
printf 'PARTLABEL=' > "$d/partlabel-empty"
printf '/dev/vdb' > "$d/path"
printf 'TYPE=ext4' > "$d/not-a-tag"
du -sh "$out"
