// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for everything that reads untrusted bytes: the
 * archive reader (manifest, image, hash index, end of archive), the CBT
 * dump reader, and the range list, manifest and hash index parsers on
 * their own.
 * Build and run with tests/fuzz/run.sh.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>

#include "blksnap/blksnap.h"
#include "internal.h"

static int discard(void *ctx, uint64_t off, const void *buf, size_t len)
{
	(void)ctx;
	(void)off;
	(void)buf;
	(void)len;
	return 0;
}

static void read_archive(const uint8_t *data, size_t size)
{
	struct blksnap_hash_index ix;
	struct blksnap_archive *a;
	char path[64];
	int fd = memfd_create("archive", 0);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (blksnap_archive_open(path, &a))
		goto out;
	if (blksnap_archive_has_image(a) ?
	    !blksnap_archive_read_image(a, discard, NULL, &ix) :
	    !blksnap_archive_read_index(a, &ix))
		blksnap_hash_index_free(&ix);
	blksnap_archive_close(a);
out:
	if (fd >= 0)
		close(fd);
}

static void read_cbt_dump(const uint8_t *data, size_t size)
{
	struct blksnap_cbt c;
	int fd = memfd_create("dump", 0);

	if (fd >= 0 && write(fd, data, size) == (ssize_t)size &&
	    lseek(fd, 0, SEEK_SET) == 0 && !blksnap_cbt_read(fd, "fuzz", &c))
		free(c.map);
	if (fd >= 0)
		close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blksnap_hash_index ix;
	struct blksnap_manifest m;
	struct blksnap_ranges r;
	FILE *f;

	read_archive(data, size);
	read_cbt_dump(data, size);
	blksnap_ranges_init(&r);
	f = fmemopen((void *)data, size ? size : 1, "r");
	if (f) {
		blksnap_ranges_read(f, "fuzz", &r);
		fclose(f);
	}
	blksnap_ranges_free(&r);
	blksnap_manifest_parse((const char *)data, size, "fuzz", &m);
	if (size && !blksnap_hash_index_decode(data, size, "fuzz", &ix))
		blksnap_hash_index_free(&ix);
	return 0;
}
