// SPDX-License-Identifier: LGPL-2.1-or-later
/* The hash index of an archive and its serialised form. */

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xxh.h"

#define INDEX_MAGIC	"BSNAPHIX"
#define INDEX_VERSION	1
#define INDEX_HEADER	40

uint64_t blksnap_hash(const void *buf, size_t len)
{
	return XXH3_64bits(buf, len);
}

uint64_t blksnap_hash_zero(size_t len)
{
	static __thread size_t cached_len;
	static __thread uint64_t cached;
	XXH3_state_t *st;
	size_t done;

	if (len && len == cached_len)
		return cached;
	if (len <= BS_ZERO_CHUNK) {
		cached = XXH3_64bits(bs_zeroes(), len);
	} else {
		st = XXH3_createState();
		if (!st)
			abort();
		XXH3_64bits_reset(st);
		for (done = 0; done < len; done += BS_ZERO_CHUNK)
			XXH3_64bits_update(st, bs_zeroes(),
					   BS_MIN(BS_ZERO_CHUNK, len - done));
		cached = XXH3_64bits_digest(st);
		XXH3_freeState(st);
	}
	cached_len = len;
	return cached;
}

uint64_t blksnap_block_count(uint64_t size, uint32_t block)
{
	return size / block + (size % block != 0);
}

void blksnap_hash_index_init(struct blksnap_hash_index *ix, uint32_t block_size,
			     uint64_t image_size)
{
	memset(ix, 0, sizeof(*ix));
	ix->block_size = block_size;
	ix->image_size = image_size;
	ix->regions.device_size = image_size;
}

void blksnap_hash_index_free(struct blksnap_hash_index *ix)
{
	blksnap_ranges_free(&ix->regions);
	free(ix->hash);
	ix->hash = NULL;
	ix->count = ix->alloc = 0;
}

int blksnap_hash_index_add(struct blksnap_hash_index *ix, uint64_t offset,
			   uint64_t hash)
{
	uint64_t len;

	if (offset % ix->block_size || offset >= ix->image_size)
		return bs_fail("hash block at %llu is not a block of the image",
			       (unsigned long long)offset);
	len = BS_MIN((uint64_t)ix->block_size, ix->image_size - offset);
	if (blksnap_ranges_append(&ix->regions, offset, len))
		return -1;
	if (bs_grow((void **)&ix->hash, &ix->alloc, ix->count + 1,
		    sizeof(*ix->hash)))
		return -1;
	ix->hash[ix->count++] = hash;
	return 0;
}

static void put64(unsigned char **p, uint64_t v)
{
	v = htole64(v);
	memcpy(*p, &v, 8);
	*p += 8;
}

static uint64_t get64(const unsigned char **p)
{
	uint64_t v;

	memcpy(&v, *p, 8);
	*p += 8;
	return le64toh(v);
}

uint64_t bs_hash_index_len(const struct blksnap_hash_index *ix)
{
	return INDEX_HEADER + (uint64_t)ix->regions.count * 16 +
	       (uint64_t)ix->count * 8 + 8;
}

int blksnap_hash_index_encode(const struct blksnap_hash_index *ix,
			      void **buf, size_t *len)
{
	size_t n = (size_t)bs_hash_index_len(ix);
	unsigned char *out = bs_malloc(n), *p = out;
	uint32_t v32;
	size_t i;

	if (!out)
		return -1;
	memcpy(p, INDEX_MAGIC, 8);
	v32 = htole32(INDEX_VERSION);
	memcpy(p + 8, &v32, 4);
	v32 = htole32(ix->block_size);
	memcpy(p + 12, &v32, 4);
	p += 16;
	put64(&p, ix->image_size);
	put64(&p, ix->regions.count);
	put64(&p, ix->count);
	for (i = 0; i < ix->regions.count; i++) {
		put64(&p, ix->regions.v[i].offset);
		put64(&p, ix->regions.v[i].length);
	}
	for (i = 0; i < ix->count; i++)
		put64(&p, ix->hash[i]);
	put64(&p, blksnap_hash(out, n - 8));
	*buf = out;
	*len = n;
	return 0;
}

/* Regions aligned, in the image, and holding exactly @hashes blocks. */
static int check_regions(const struct blksnap_hash_index *ix, uint64_t hashes,
			 const char *archive)
{
	uint64_t blocks = 0;
	size_t i;

	for (i = 0; i < ix->regions.count; i++) {
		const struct blksnap_range *r = &ix->regions.v[i];
		uint64_t end = r->offset + r->length;

		if (r->offset % ix->block_size ||
		    (end % ix->block_size && end != ix->image_size) ||
		    end > ix->image_size)
			return bs_fail("%s: hash index: region %llu+%llu is not aligned to hash blocks",
				       archive, (unsigned long long)r->offset,
				       (unsigned long long)r->length);
		blocks += blksnap_block_count(r->length, ix->block_size);
	}
	if (blocks != hashes)
		return bs_fail("%s: hash index: %llu hashes for %llu blocks",
			       archive, (unsigned long long)hashes,
			       (unsigned long long)blocks);
	return 0;
}

int blksnap_hash_index_decode(const void *buf, size_t len, const char *archive,
			      struct blksnap_hash_index *ix)
{
	const unsigned char *p = buf;
	uint32_t version, block;
	const unsigned char *sum;
	uint64_t size, nregions, nhashes, i;

	if (len < INDEX_HEADER + 8 || memcmp(p, INDEX_MAGIC, 8))
		return bs_fail("%s: hash index is missing or not one", archive);
	/* Copied out: the buffer's length need not be a multiple of 8. */
	sum = p + len - 8;
	if (blksnap_hash(buf, len - 8) != get64(&sum))
		return bs_fail("%s: hash index is corrupted (checksum mismatch)",
			       archive);
	memcpy(&version, p + 8, 4);
	memcpy(&block, p + 12, 4);
	version = le32toh(version);
	block = le32toh(block);
	p += 16;
	size = get64(&p);
	nregions = get64(&p);
	nhashes = get64(&p);
	if (version != INDEX_VERSION)
		return bs_fail("%s: hash index version %u is not supported",
			       archive, version);
	if (block < BLKSNAP_MIN_HASH_BLOCK || (block & (block - 1)) ||
	    nregions > len / 16 || nhashes > len / 8 ||
	    INDEX_HEADER + nregions * 16 + nhashes * 8 + 8 != len)
		return bs_fail("%s: hash index is malformed", archive);
	blksnap_hash_index_init(ix, block, size);
	for (i = 0; i < nregions; i++) {
		uint64_t off = get64(&p);
		uint64_t rlen = get64(&p);

		if (!rlen || blksnap_ranges_append(&ix->regions, off, rlen)) {
			blksnap_hash_index_free(ix);
			return bs_fail("%s: hash index: regions out of order",
				       archive);
		}
	}
	if (check_regions(ix, nhashes, archive)) {
		blksnap_hash_index_free(ix);
		return -1;
	}
	ix->hash = bs_calloc(nhashes, sizeof(*ix->hash));
	if (!ix->hash) {
		blksnap_hash_index_free(ix);
		return -1;
	}
	for (i = 0; i < nhashes; i++)
		ix->hash[i] = get64(&p);
	ix->count = ix->alloc = nhashes;
	return 0;
}
