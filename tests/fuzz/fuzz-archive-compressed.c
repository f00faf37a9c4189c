// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Compressed archives, through libarchive's filters: the input is an
 * archive in plain tar (as for fuzz-archive), its first byte choosing
 * the compression it is given here before it is read.  Mutating the
 * compressed bytes themselves would mostly test the decompressors'
 * checksums.
 */

#include <stdlib.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>

#include "fuzz.h"

/* @data compressed by filter @which into a malloc'ed buffer; NULL on failure. */
static void *compress(unsigned int which, const uint8_t *data, size_t size,
		      size_t *out_len)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t room = size + 4096, used = 0;
	void *out = malloc(room);
	int ok;

	FUZZ_ASSERT(a && e && out);
	switch (which % 4) {
	case 0:
		ok = archive_write_add_filter_zstd(a);
		break;
	case 1:
		ok = archive_write_add_filter_gzip(a);
		break;
	case 2:
		ok = archive_write_add_filter_xz(a);
		break;
	default:
		/*
		 * libarchive 3.6.2's lz4 writer dereferences NULL when it is
		 * closed with nothing written, which only this raw, headerless
		 * use of it can do: a pax archive, as the tools write, always
		 * gives it at least its trailer.
		 */
		ok = size ? archive_write_add_filter_lz4(a) : ARCHIVE_FATAL;
		break;
	}
	/* The fastest level: what is fuzzed is the reading. */
	ok = ok == ARCHIVE_OK &&
	     archive_write_set_filter_option(a, NULL, "compression-level",
					     which % 4 == 2 ? "0" : "1") == ARCHIVE_OK &&
	     archive_write_set_format_raw(a) == ARCHIVE_OK &&
	     archive_write_set_bytes_per_block(a, 0) == ARCHIVE_OK &&
	     archive_write_open_memory(a, out, room, &used) == ARCHIVE_OK;
	if (ok) {
		archive_entry_set_pathname(e, "x");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_size(e, (la_int64_t)size);
		ok = archive_write_header(a, e) == ARCHIVE_OK &&
		     (!size || archive_write_data(a, data, size) == (la_ssize_t)size) &&
		     archive_write_close(a) == ARCHIVE_OK;
	}
	archive_entry_free(e);
	archive_write_free(a);
	if (!ok) {
		free(out);
		return NULL;
	}
	*out_len = used;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[32];
	size_t len;
	void *z;
	int fd;

	if (!size)
		return 0;
	z = compress(data[0], data + 1, size - 1, &len);
	if (!z)
		return 0;
	fd = fuzz_memfd(z, len, path);
	free(z);
	if (fd < 0)
		return 0;
	fuzz_read_archive(path);
	close(fd);
	return 0;
}
