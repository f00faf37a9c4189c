// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CBT dumps (blksnap-cbt(5)): a dump that reads writes out byte for
 * byte the same, and its changed ranges stay inside the device.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blksnap_ranges r;
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
	blksnap_ranges_init(&r);
	if (!blksnap_cbt_changed(&c, c.snapshot ? c.snapshot - 1 : 0, &r))
		FUZZ_ASSERT(!blksnap_ranges_check_size(&r, "changed", c.device_size));
	blksnap_ranges_free(&r);
	free(c.map);
	return 0;
}
