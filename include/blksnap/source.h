/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sources and targets: block devices and image files, named by path or
 * by a libblkid tag (UUID=, LABEL=, PARTUUID=, PARTLABEL=).
 */
#ifndef BLKSNAP_SOURCE_H
#define BLKSNAP_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include "ranges.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What libblkid says of the content; empty strings when unknown. */
struct blksnap_identity {
	char fstype[32];
	char uuid[64];
	char label[256];
};

struct blksnap_source {
	int fd;
	char *path;		/* the resolved path */
	uint64_t size;
	uint32_t logical_block_size;
	bool is_blockdev;
	struct blksnap_identity id;
};

/*
 * Resolves a device specification: a tag NAME=VALUE known to libblkid
 * gives the device's path; anything else is returned as a copy.  The
 * caller frees *path.
 */
int blksnap_resolve(const char *spec, char **path);

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

#ifdef __cplusplus
}
#endif
#endif
