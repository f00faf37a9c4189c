/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside libblksnap (not installed).
 * The hash index: XXH3-64 of every hash block an archive holds.
 *
 * The blocks are those of the image's data regions, which start on hash
 * block boundaries and end on one or at the end of the image.
 */
#ifndef BLKSNAP_HASHINDEX_H
#define BLKSNAP_HASHINDEX_H

#include <stdint.h>
#include <stddef.h>
#include "blksnap/ranges.h"

#ifdef __cplusplus
extern "C" {
#endif

struct blksnap_hash_index {
	uint32_t block_size;
	uint64_t image_size;
	struct blksnap_ranges regions;	/* the data regions, aligned */
	uint64_t *hash;			/* one per block, region by region */
	size_t count;
	size_t alloc;
};

void blksnap_hash_index_init(struct blksnap_hash_index *ix, uint32_t block_size,
			     uint64_t image_size);
void blksnap_hash_index_free(struct blksnap_hash_index *ix);

/* The hash of a buffer, as stored in the index. */
uint64_t blksnap_hash(const void *buf, size_t len);

/* The hash of @len zero bytes (a hole of a full archive). */
uint64_t blksnap_hash_zero(size_t len);

/* Adds the next block's hash; @offset must continue the regions. */
int blksnap_hash_index_add(struct blksnap_hash_index *ix, uint64_t offset,
			   uint64_t hash);

/* Number of blocks of an image: ceil(size / block). */
uint64_t blksnap_block_count(uint64_t size, uint32_t block);

/* Serialised form (blksnap-archive(5)); a malloc'ed buffer. */
int blksnap_hash_index_encode(const struct blksnap_hash_index *ix,
			      void **buf, size_t *len);

/* Parses and checks a serialised index; messages name @archive. */
int blksnap_hash_index_decode(const void *buf, size_t len, const char *archive,
			      struct blksnap_hash_index *ix);

#ifdef __cplusplus
}
#endif
#endif
