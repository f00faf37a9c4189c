// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Finding changed blocks by hashing, against a chain's hash indexes,
 * in the chain's smallest hash block (an incremental's divides its
 * parent's).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xxh.h"

static uint64_t state_block_len(const struct bs_chain_state *st, uint64_t b)
{
	return BS_MIN((uint64_t)st->block_size, st->size - b * st->block_size);
}

void bs_chain_apply(struct bs_chain_state *st,
		    const struct blksnap_hash_index *ix, uint16_t *src,
		    uint16_t id)
{
	uint8_t shift = 0;
	size_t r, k = 0;

	while (((uint64_t)st->block_size << shift) < ix->block_size)
		shift++;
	for (r = 0; r < ix->regions.count; r++) {
		uint64_t off = ix->regions.v[r].offset;
		uint64_t end = off + ix->regions.v[r].length;

		for (; off < end; off += ix->block_size) {
			uint64_t len = BS_MIN((uint64_t)ix->block_size,
					      st->size - off);
			uint64_t h = ix->hash[k++], b;
			/* Zeros are zeros at any size: exact where kept. */
			bool zero = st->shift && shift &&
				    h == blksnap_hash_zero((size_t)len);

			for (b = off / st->block_size;
			     b * st->block_size < off + len; b++) {
				st->hash[b] = zero ? blksnap_hash_zero((size_t)
						state_block_len(st, b)) : h;
				if (st->shift)
					st->shift[b] = zero ? 0 : shift;
				if (src)
					src[b] = id;
			}
		}
	}
}

int bs_chain_start(struct bs_chain_state *st, const struct blksnap_manifest *m,
		   uint32_t block, bool shifts)
{
	uint64_t b;

	st->block_size = block ? block : m->hash_block_size;
	st->size = m->size;
	st->blocks = blksnap_block_count(m->size, st->block_size);
	st->shift = NULL;
	if (st->blocks > SIZE_MAX / sizeof(*st->hash))
		return bs_fail("image too large to scan");
	st->hash = bs_malloc((size_t)st->blocks * sizeof(*st->hash));
	if (!st->hash)
		return -1;
	if (shifts) {
		st->shift = bs_calloc((size_t)st->blocks, 1);
		if (!st->shift) {
			bs_chain_free(st);
			return -1;
		}
	}
	for (b = 0; b < st->blocks; b++)
		st->hash[b] = blksnap_hash_zero((size_t)state_block_len(st, b));
	return 0;
}

/*
 * The state of @st in blocks of @block (a power of two dividing its
 * own): each block's hash goes to the blocks inside it, with its shift
 * raised, except a hash of zeros at shift 0 (zeros at any size), which
 * becomes the hash of the zeros of each small block.
 */
static int chain_refine(struct bs_chain_state *st, uint32_t block)
{
	struct bs_chain_state n = { .block_size = block, .size = st->size };
	uint8_t k = 0;
	uint64_t b;

	while (((uint64_t)block << k) < st->block_size)
		k++;
	n.blocks = blksnap_block_count(st->size, block);
	if (n.blocks > SIZE_MAX / sizeof(*n.hash))
		return bs_fail("image too large to scan");
	n.hash = bs_malloc((size_t)n.blocks * sizeof(*n.hash));
	n.shift = bs_malloc((size_t)n.blocks);
	if (!n.hash || !n.shift) {
		bs_chain_free(&n);
		return -1;
	}
	for (b = 0; b < n.blocks; b++) {
		uint64_t old = b >> k;
		uint8_t sh = st->shift ? st->shift[old] : 0;
		bool zero = !sh && st->hash[old] ==
			    blksnap_hash_zero((size_t)state_block_len(st, old));

		n.hash[b] = zero ? blksnap_hash_zero((size_t)state_block_len(&n, b)) :
				   st->hash[old];
		n.shift[b] = zero ? 0 : (uint8_t)(sh + k);
	}
	bs_chain_free(st);
	*st = n;
	return 0;
}

int bs_chain_load(const char *const *chain, size_t count,
		  const struct blksnap_source *src, struct bs_chain_state *st,
		  struct blksnap_manifest *last)
{
	struct blksnap_manifest prev;
	size_t i;

	memset(st, 0, sizeof(*st));
	if (!count)
		return bs_fail("no base archive given");
	for (i = 0; i < count; i++) {
		struct blksnap_archive *a;
		struct blksnap_hash_index ix;
		const struct blksnap_manifest *m;
		int ret;

		if (blksnap_archive_open(chain[i], &a))
			goto fail;
		m = blksnap_archive_manifest(a);
		ret = blksnap_manifest_check_chain(i ? &prev : NULL,
						   i ? chain[i - 1] : NULL,
						   m, chain[i]);
		/*
		 * Before the hashes of the whole image are allocated: a
		 * small manifest may state a huge image.
		 */
		if (!ret && !i && m->size != src->size)
			ret = bs_fail("%s has %llu bytes but the chain's image has %llu: the device changed size, so take a full backup",
				      src->path, (unsigned long long)src->size,
				      (unsigned long long)m->size);
		if (!ret && !i)
			ret = bs_chain_start(st, m, 0, false);
		/* Each hash block divides the one before (the chain's check). */
		if (!ret && m->hash_block_size < st->block_size)
			ret = chain_refine(st, m->hash_block_size);
		if (!ret)
			ret = blksnap_archive_read_index(a, &ix);
		if (!ret) {
			bs_chain_apply(st, &ix, NULL, 0);
			blksnap_hash_index_free(&ix);
		}
		prev = *m;
		blksnap_archive_close(a);
		if (ret)
			goto fail;
	}
	if (last)
		*last = prev;
	return 0;
fail:
	bs_chain_free(st);
	return -1;
}

void bs_chain_free(struct bs_chain_state *st)
{
	free(st->hash);
	free(st->shift);
	st->hash = NULL;
	st->shift = NULL;
}

struct scan_ctx {
	const struct bs_chain_state *st;
	struct blksnap_ranges *changed;
	blksnap_progress_fn progress;
	void *progress_ctx;
	/* The larger block being hashed (shift > 0), from its first block. */
	XXH3_state_t *xs;
	uint64_t group;		/* its first block; UINT64_MAX: none */
	bool intact;		/* its blocks all still hold its hash */
};

/*
 * Whether the blocks of the larger block starting at block @g (of
 * 2^@shift blocks) all hold its hash: no later archive wrote part of it.
 */
static bool group_intact(const struct bs_chain_state *st, uint64_t g,
			 uint8_t shift)
{
	uint64_t b, end = BS_MIN(g + ((uint64_t)1 << shift), st->blocks);

	for (b = g; b < end; b++)
		if (st->shift[b] != shift || st->hash[b] != st->hash[g])
			return false;
	return true;
}

/*
 * Block @b of the source (@buf, @len bytes) against a hash of a larger
 * block.  An intact one is hashed whole as its blocks come and, when
 * it differs, all of it is changed; a block of one that a later archive
 * wrote part of has no hash of its own here: it is listed as changed
 * (never a range left out).
 */
static int scan_coarse(struct scan_ctx *c, uint64_t b, const void *buf,
		       size_t len)
{
	const struct bs_chain_state *st = c->st;
	uint8_t shift = st->shift[b];
	uint64_t g = b & ~(((uint64_t)1 << shift) - 1);
	uint64_t end = BS_MIN(g + ((uint64_t)1 << shift), st->blocks);

	if (c->group != g) {
		c->group = g;
		c->intact = group_intact(st, g, shift);
		if (c->intact && XXH3_64bits_reset(c->xs) != XXH_OK)
			return bs_fail_errno(ENOMEM, "hashing");
	}
	if (!c->intact)
		return blksnap_ranges_append(c->changed, b * st->block_size, len);
	if (XXH3_64bits_update(c->xs, buf, len) != XXH_OK)
		return bs_fail_errno(ENOMEM, "hashing");
	if (b + 1 < end)
		return 0;
	c->group = UINT64_MAX;
	if (XXH3_64bits_digest(c->xs) == st->hash[g])
		return 0;
	return blksnap_ranges_append(c->changed, g * st->block_size,
				     b * st->block_size + len -
				     g * st->block_size);
}

static int scan_piece(void *ctx, const void *buf, size_t len, uint64_t off,
		      const uint64_t *hashes)
{
	struct scan_ctx *c = ctx;
	const struct bs_chain_state *st = c->st;
	size_t b;

	for (b = 0; b < len; b += st->block_size, hashes++) {
		uint64_t blk = (off + b) / st->block_size;
		size_t n = BS_MIN((size_t)st->block_size, len - b);

		if (st->shift && st->shift[blk]) {
			if (scan_coarse(c, blk, (const char *)buf + b, n))
				return -1;
		} else if (*hashes != st->hash[blk] &&
			   blksnap_ranges_append(c->changed, off + b, n)) {
			return -1;
		}
	}
	if (c->progress)
		c->progress(c->progress_ctx, off + len, st->size);
	return 0;
}

static int scan_source(struct blksnap_source *src, const struct bs_chain_state *st,
		       struct blksnap_ranges *changed,
		       blksnap_progress_fn progress, void *ctx)
{
	struct scan_ctx c = { st, changed, progress, ctx, NULL, UINT64_MAX,
			      false };
	struct blksnap_ranges whole;
	int ret;

	if (st->shift) {
		c.xs = XXH3_createState();
		if (!c.xs)
			return bs_fail_errno(ENOMEM, "hashing");
	}
	blksnap_ranges_init(&whole);
	ret = blksnap_ranges_append(&whole, 0, st->size);
	if (!ret)
		ret = bs_read_hashed(src, &whole, st->block_size, scan_piece, &c);
	blksnap_ranges_free(&whole);
	if (c.xs)
		XXH3_freeState(c.xs);
	return ret;
}

int blksnap_scan(const char *source, const char *const *chain, size_t count,
		 struct blksnap_ranges *changed, blksnap_progress_fn progress,
		 void *progress_ctx)
{
	struct blksnap_source src;
	struct bs_chain_state st;
	int ret = -1;

	if (blksnap_source_open(source, &src))
		return -1;
	if (bs_chain_load(chain, count, &src, &st, NULL))
		goto out;
	changed->device_size = src.size;
	ret = scan_source(&src, &st, changed, progress, progress_ctx);
	bs_chain_free(&st);
out:
	blksnap_source_close(&src);
	return ret;
}
