/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manifest: the first entry of every archive (blksnap-archive(5)).
 */
#ifndef BLKSNAP_MANIFEST_H
#define BLKSNAP_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "source.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The newest archive format version read and written.  Version 2 adds
 * zero ranges (blksnap-archive(5)); an archive without them is still
 * written as version 1, which older releases read.
 */
#define BLKSNAP_FORMAT_VERSION	2
#define BLKSNAP_UUID_LEN	36

struct blksnap_manifest {
	unsigned int format_version;
	char uuid[BLKSNAP_UUID_LEN + 1];
	bool incremental;
	char parent_uuid[BLKSNAP_UUID_LEN + 1];	/* "" for a full archive */
	uint32_t sequence;		/* 0 for a full, parent's + 1 */
	uint64_t size;			/* logical size of the image */
	uint32_t logical_block_size;
	char source[256];		/* the source as named when sent */
	struct blksnap_identity id;
	char cbt_generation[BLKSNAP_UUID_LEN + 1];	/* "" without CBT */
	uint32_t cbt_snapshot;
	uint32_t hash_block_size;
	int64_t created;		/* seconds since the epoch, UTC */
	char tool_version[32];
	char compression[16];
	char image_name[128];		/* name of the image entry */
	uint64_t data_bytes;		/* bytes in the image's data regions */
	uint64_t range_count;
	/*
	 * Version 2: bytes and number of the zero ranges, blocks that the
	 * archive covers (and hashes) but holds as holes; 0 in version 1.
	 */
	uint64_t zero_bytes;
	uint64_t zero_range_count;
};

/* True for a UUID in lower-case text form (8-4-4-4-12 hex digits). */
bool blksnap_uuid_valid(const char *s);

#ifdef __cplusplus
}
#endif
#endif
