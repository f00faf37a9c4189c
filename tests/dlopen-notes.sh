#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# libblksnap names the libraries it loads with dlopen in ELF notes
# (lib/dlopen-note.h): each note of its .note.dlopen section is owned by
# "FDO", of type 0x407c0c0a, and holds a JSON array of objects with a
# feature, a description, a priority and sonames; the sonames are the
# ones the library passes to dlopen, libarchive's and libcurl's.

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

lib=$BLKSNAP_BIN/lib/.libs/libblksnap.so.1
[ -r "$lib" ] || skip_all "no shared library at $lib"
command -v objcopy >/dev/null || skip_all "no objcopy (binutils)"
command -v python3 >/dev/null || skip_all "no python3"

if ! objcopy -O binary --only-section=.note.dlopen "$lib" "$TMP/notes" ||
   [ ! -s "$TMP/notes" ]; then
	not_ok "libblksnap.so has a .note.dlopen section"
	done_testing
fi
ok "libblksnap.so has a .note.dlopen section"
if readelf -SW "$lib" | grep -E '\.note\.dlopen +NOTE ' >/dev/null; then
	ok "the section's type is SHT_NOTE"
else
	not_ok "the section's type is SHT_NOTE"
	diag "$(readelf -SW "$lib" | grep note.dlopen)"
fi

# Every note well formed; one line per soname: "SONAME PRIORITY".
if python3 - "$TMP/notes" > "$TMP/sonames" 2> "$TMP/err" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
pos = 0
while pos < len(data):
    namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
    pos += 12
    name = data[pos:pos + namesz]
    pos += (namesz + 3) & ~3
    desc = data[pos:pos + descsz]
    pos += (descsz + 3) & ~3
    assert ntype == 0x407c0c0a, "type %#x" % ntype
    assert name == b"FDO\0", "owner %r" % name
    assert desc.endswith(b"\0"), "descriptor not NUL-terminated"
    for entry in json.loads(desc.rstrip(b"\0")):
        assert set(entry) == {"feature", "description", "priority", "soname"}, entry
        assert entry["priority"] in ("required", "recommended", "suggested"), entry
        assert entry["soname"] and all(isinstance(s, str) for s in entry["soname"]), entry
        for s in entry["soname"]:
            print(s, entry["priority"])
PY
then
	ok "each note is owned by FDO, of type 0x407c0c0a, with a JSON array of feature, description, priority, soname"
else
	not_ok "each note is owned by FDO, of type 0x407c0c0a, with a JSON array of feature, description, priority, soname"
	diag "$(cat "$TMP/err")"
fi

# The sonames that the library's sources pass to dlopen.
for define in LIBARCHIVE_SONAME LIBCURL_SONAME LIBZSTD_SONAME; do
	soname=$(sed -n "s/^#define $define \"\(.*\)\"/\1/p" "$top_srcdir"/lib/*.c)
	if [ -n "$soname" ] && grep -q "^$soname " "$TMP/sonames"; then
		ok "$soname ($define) is named in a note"
	else
		not_ok "$define (${soname:-not found}) is named in a note"
		diag "the notes name: $(cat "$TMP/sonames")"
	fi
done

done_testing
