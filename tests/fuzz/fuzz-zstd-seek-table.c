// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The seek table of a seekable zstd file (lib/zstd-seekable.c), read
 * from the end of whatever a file holds, and the frames it points to.
 * A file that does not end with the seekable magic is not seekable (1);
 * a table that opens describes the whole file; reads of what it holds
 * either fail or give the same bytes however they are cut.
 */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "zstd-seekable.h"

struct input {
	const uint8_t *data;
	size_t size;
};

static ssize_t input_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct input *in = ctx;

	if (off >= in->size)
		return 0;
	if (len > in->size - off)
		len = in->size - off;
	memcpy(buf, in->data + off, len);
	return (ssize_t)len;
}

/* Reads of at most this much are tried: the fuzzer's inputs are small. */
#define READ_MAX (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct zseek_reader *r;
	unsigned char *whole, *part;
	uint64_t total, off;
	int ret = zseek_reader_open(input_pread, &in, size, "fuzz", &r);
	bool magic = size >= 4 && data[size - 4] == 0xB1 &&
		     data[size - 3] == 0xEA && data[size - 2] == 0x92 &&
		     data[size - 1] == 0x8F;

	FUZZ_ASSERT(ret >= -1 && ret <= 1);
	FUZZ_ASSERT(ret != 1 || !magic || size < 17);
	if (ret)
		return 0;
	FUZZ_ASSERT(magic);
	total = zseek_reader_size(r);
	FUZZ_ASSERT(zseek_reader_read(r, NULL, 1, total) == -1);
	if (total > READ_MAX) {
		zseek_reader_close(r);
		return 0;
	}
	whole = malloc(total + 1);
	part = malloc(total + 1);
	FUZZ_ASSERT(whole && part);
	if (!zseek_reader_read(r, whole, (size_t)total, 0)) {
		/* The same bytes, read backwards in pieces of odd sizes. */
		for (off = total; off > 0;) {
			size_t n = (size_t)(off < 777 ? off : 777);

			off -= n;
			FUZZ_ASSERT(!zseek_reader_read(r, part, n, off));
			FUZZ_ASSERT(!memcmp(part, whole + off, n));
		}
	}
	free(whole);
	free(part);
	zseek_reader_close(r);
	return 0;
}
