// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CBT dumps (blksnap-cbt(5)), versions 1 and 2: a dump that reads writes
 * out byte for byte the same, and its changed ranges stay inside the
 * device; with the sub-block detail they stay inside the ranges of the
 * whole blocks (the detail never says more changed than the map).
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

/* Whether every range of @fine lies inside one of @coarse (both sorted). */
static int inside(const struct blksnap_ranges *fine,
		  const struct blksnap_ranges *coarse)
{
	size_t i, j = 0;

	for (i = 0; i < fine->count; i++) {
		uint64_t a = fine->v[i].offset, b = a + fine->v[i].length;

		while (j < coarse->count &&
		       coarse->v[j].offset + coarse->v[j].length <= a)
			j++;
		if (j == coarse->count || coarse->v[j].offset > a ||
		    coarse->v[j].offset + coarse->v[j].length < b)
			return 0;
	}
	return 1;
}

static void ranges_of(const struct blksnap_cbt *c, uint32_t since)
{
	struct blksnap_cbt whole = *c;
	struct blksnap_ranges r, w;

	whole.sub_size = 0;
	whole.fine_count = 0;
	whole.fine = NULL;
	blksnap_ranges_init(&r);
	blksnap_ranges_init(&w);
	FUZZ_ASSERT(!blksnap_cbt_changed(c, since, &r));
	FUZZ_ASSERT(!blksnap_ranges_check_size(&r, "changed", c->device_size));
	FUZZ_ASSERT(!blksnap_cbt_changed(&whole, since, &w));
	FUZZ_ASSERT(inside(&r, &w));
	FUZZ_ASSERT(c->fine_count || r.count == w.count);
	blksnap_ranges_free(&r);
	blksnap_ranges_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blksnap_cbt c;
	char path[32];
	uint8_t *back;
	int fd = fuzz_memfd(data, size, path), out;

	if (fd < 0)
		return 0;
	if (blksnap_cbt_read(fd, "fuzz", &c)) {
		close(fd);
		return 0;
	}
	close(fd);
	out = fuzz_memfd(NULL, 0, path);
	FUZZ_ASSERT(out >= 0 && !blksnap_cbt_write(out, "again", &c));
	back = malloc(size);
	FUZZ_ASSERT(back && pread(out, back, size, 0) == (ssize_t)size &&
		    !memcmp(back, data, size));
	free(back);
	close(out);
	ranges_of(&c, c.snapshot ? c.snapshot - 1 : 0);
	ranges_of(&c, 0);
	blksnap_cbt_free(&c);
	return 0;
}
