// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Archives and manifest files (blksnap-archive(5)) as blksnap-restore
 * reads them: manifest, image, hash index, end of archive.
 */

#include <unistd.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[32];
	int fd = fuzz_memfd(data, size, path);

	if (fd < 0)
		return 0;
	fuzz_read_archive(path);
	close(fd);
	return 0;
}
