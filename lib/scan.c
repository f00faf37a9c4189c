// SPDX-License-Identifier: LGPL-2.1-or-later
/* Finding changed blocks by hashing, against a chain's hash indexes. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void bs_chain_apply(struct bs_chain_state *st,
		    const struct blksnap_hash_index *ix, uint16_t *src,
		    uint16_t id)
{
	size_t r, k = 0;

	for (r = 0; r < ix->regions.count; r++) {
		uint64_t off = ix->regions.v[r].offset;
		uint64_t end = off + ix->regions.v[r].length;

		for (; off < end; off += st->block_size) {
			st->hash[off / st->block_size] = ix->hash[k++];
			if (src)
				src[off / st->block_size] = id;
		}
	}
}

int bs_chain_start(struct bs_chain_state *st, const struct blksnap_manifest *m)
{
	uint64_t b;

	st->block_size = m->hash_block_size;
	st->size = m->size;
	st->blocks = blksnap_block_count(m->size, m->hash_block_size);
	if (st->blocks > SIZE_MAX / sizeof(*st->hash))
		return bs_fail("image too large to scan");
	st->hash = bs_malloc((size_t)st->blocks * sizeof(*st->hash));
	if (!st->hash)
		return -1;
	for (b = 0; b < st->blocks; b++)
		st->hash[b] = blksnap_hash_zero((size_t)BS_MIN(
			(uint64_t)st->block_size, st->size - b * st->block_size));
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
			ret = bs_chain_start(st, m);
		if (!ret && m->hash_block_size != st->block_size)
			ret = bs_fail("%s: its hash block (%u bytes) is not that of the full archive %s (%u bytes): blksnap-diff --scan compares only against a chain of one hash block size; scan against a synthetic full of the chain (blksnap-merge) instead",
				      chain[i], m->hash_block_size, chain[0],
				      st->block_size);
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
	st->hash = NULL;
}

struct scan_ctx {
	const struct bs_chain_state *st;
	struct blksnap_ranges *changed;
	blksnap_progress_fn progress;
	void *progress_ctx;
};

static int scan_piece(void *ctx, const void *buf, size_t len, uint64_t off,
		      const uint64_t *hashes)
{
	struct scan_ctx *c = ctx;
	const struct bs_chain_state *st = c->st;
	size_t b;

	(void)buf;
	for (b = 0; b < len; b += st->block_size)
		if (*hashes++ != st->hash[(off + b) / st->block_size] &&
		    blksnap_ranges_append(c->changed, off + b,
					  BS_MIN((size_t)st->block_size, len - b)))
			return -1;
	if (c->progress)
		c->progress(c->progress_ctx, off + len, st->size);
	return 0;
}

static int scan_source(struct blksnap_source *src, const struct bs_chain_state *st,
		       struct blksnap_ranges *changed,
		       blksnap_progress_fn progress, void *ctx)
{
	struct scan_ctx c = { st, changed, progress, ctx };
	struct blksnap_ranges whole;
	int ret;

	blksnap_ranges_init(&whole);
	ret = blksnap_ranges_append(&whole, 0, st->size);
	if (!ret)
		ret = bs_read_hashed(src, &whole, st->block_size, scan_piece, &c);
	blksnap_ranges_free(&whole);
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
