// SPDX-License-Identifier: GPL-2.0-or-later
/* Range lists (blksnap-ranges(5)): what reads writes out and reads back the same. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static void same(const struct blksnap_ranges *a, const struct blksnap_ranges *b)
{
	FUZZ_ASSERT(a->count == b->count && a->device_size == b->device_size);
	FUZZ_ASSERT(!a->count ||
		    !memcmp(a->v, b->v, a->count * sizeof(*a->v)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blksnap_ranges r, back;
	char path[32], *text = NULL;
	size_t len = 0;
	FILE *f, *out;
	int fd = fuzz_memfd(data, size, path);

	if (fd < 0)
		return 0;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return 0;
	}
	blksnap_ranges_init(&r);
	blksnap_ranges_init(&back);
	if (!blksnap_ranges_read(f, "fuzz", &r)) {
		out = open_memstream(&text, &len);
		FUZZ_ASSERT(out && !blksnap_ranges_write(out, &r) && !fclose(out));
		/* A file, not fmemopen(): that refuses an empty buffer. */
		out = fdopen(fuzz_memfd(text, len, path), "r");
		FUZZ_ASSERT(out && !blksnap_ranges_read(out, "again", &back));
		fclose(out);
		same(&r, &back);
		FUZZ_ASSERT(!r.device_size ||
			    !blksnap_ranges_check_size(&r, "fuzz", r.device_size));
		free(text);
	}
	fclose(f);
	blksnap_ranges_free(&r);
	blksnap_ranges_free(&back);
	return 0;
}
