/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sources opened for reading, inside libblksnap (not installed). */
#ifndef BLKSNAP_SOURCE_OPEN_H
#define BLKSNAP_SOURCE_OPEN_H

#include <stdbool.h>
#include <stdint.h>
#include "blksnap/ranges.h"
#include "blksnap/source.h"

struct blksnap_source {
	int fd;
	char *path;		/* the resolved path */
	uint64_t size;
	uint32_t logical_block_size;
	bool is_blockdev;
	struct blksnap_identity id;
};

/* True for a tag NAME=VALUE that libblkid resolves (UUID=, LABEL=, ...). */
bool bs_is_device_tag(const char *spec);

/*
 * Opens a block device or a regular file for reading, with its size,
 * logical block size and identity.  Fails with a message for a missing,
 * unreadable or other kind of file.
 */
int blksnap_source_open(const char *spec, struct blksnap_source *src);
void blksnap_source_close(struct blksnap_source *src);

/*
 * The regions of @src that may hold data: a regular file's data extents
 * (SEEK_DATA/SEEK_HOLE), the whole of a block device.  @map must be
 * initialised and empty.
 */
int blksnap_source_map(const struct blksnap_source *src,
		       struct blksnap_ranges *map);

#endif
