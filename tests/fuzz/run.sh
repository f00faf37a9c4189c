#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the libFuzzer target with clang (ASan + UBSan) from the library's
# sources and runs it on a corpus seeded with real archives.  Not part of
# make check: run by hand, e.g. after changing a parser.
#
#   tests/fuzz/run.sh [SECONDS]        (default 300)
#   environment: BLKSNAP_BIN (build directory, for the seeds; default the
#   source directory), FUZZ_DIR (work directory)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-300}
work=${FUZZ_DIR:-/var/tmp/blksnap-fuzz}
mkdir -p "$work/corpus"
command -v clang >/dev/null || { echo "run.sh: clang is needed" >&2; exit 1; }

# shellcheck disable=SC2046
clang -g -O1 -D_GNU_SOURCE -DPACKAGE_VERSION='"fuzz"' -DHAVE_XXH_X86DISPATCH \
	-fsanitize=fuzzer,address,undefined -I"$top/include" -I"$top/include/uapi" -I"$top/lib" \
	$(pkg-config --cflags blkid libarchive libxxhash libcurl) \
	"$top/tests/fuzz/fuzz-parsers.c" $(ls "$top"/lib/*.c | grep -v -e '/cli\.c$' -e '/control\.c$') \
	$(pkg-config --libs blkid libarchive libxxhash libcurl) -lpthread \
	-o "$work/fuzz-parsers"

# Seeds: small archives of every compression, a manifest file, a range list.
send=${BLKSNAP_BIN:-$top}/src/blksnap-send
if [ ! -f "$work/corpus/seeded" ] && [ -x "$send" ]; then
	head -c 3000 /dev/urandom > "$work/seed.img"
	for c in none zstd gzip; do
		"$send" --full -B 4K -c $c -o "$work/corpus/full.$c" "$work/seed.img"
	done
	"$send" --full -B 4K -c none -o "$work/seed.tar" -m "$work/corpus/manifest" "$work/seed.img"
	printf '# size 8192\n0 4096\n' > "$work/corpus/ranges"
	touch "$work/corpus/seeded"
fi
cd "$work"
exec ./fuzz-parsers -max_total_time="$secs" -max_len=20000 corpus
