// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers of the fuzzing harnesses (fuzz.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "fuzz.h"

int fuzz_memfd(const void *data, size_t size, char path[32])
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if ((size && write(fd, data, size) != (ssize_t)size) ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	snprintf(path, 32, "/proc/self/fd/%d", fd);
	return fd;
}

char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Counts the image data it is given. */
static int discard(void *ctx, uint64_t off, const void *buf, size_t len)
{
	(void)off;
	(void)buf;
	*(uint64_t *)ctx += len;
	return 0;
}

void fuzz_read_archive(const char *path)
{
	struct blksnap_hash_index ix;
	struct blksnap_ranges zeros;
	struct blksnap_archive *a;
	const struct blksnap_manifest *m;
	uint64_t data = 0;
	bool image;
	int ret;

	if (blksnap_archive_open(path, &a))
		return;
	m = blksnap_archive_manifest(a);
	image = blksnap_archive_has_image(a);
	if (image)
		ret = blksnap_archive_read_image(a, discard, &data, &ix, &zeros);
	else
		ret = blksnap_archive_read_index(a, &ix);
	if (!ret) {
		/* What verified must be what the manifest says. */
		FUZZ_ASSERT(ix.image_size == m->size);
		/* The index covers the data and the zero ranges, no more. */
		if (image) {
			FUZZ_ASSERT(blksnap_ranges_bytes(&zeros) == m->zero_bytes &&
				    zeros.count == m->zero_range_count);
			FUZZ_ASSERT(blksnap_ranges_bytes(&ix.regions) ==
				    data + m->zero_bytes);
			blksnap_ranges_free(&zeros);
		}
		blksnap_hash_index_free(&ix);
	}
	blksnap_archive_close(a);
}

void fuzz_abort(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: broken promise: %s\n", file, line, what);
	abort();
}
