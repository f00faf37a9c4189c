// SPDX-License-Identifier: LGPL-2.1-or-later
/* Sending a source into a full or incremental archive. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct send_state {
	const struct blksnap_send_opts *o;
	struct blksnap_source src;
	struct blksnap_manifest m;
	struct blksnap_ranges regions;	/* aligned to hash blocks */
	struct blksnap_ranges zeros;	/* their blocks of zeros */
	struct blksnap_ranges data;	/* the others: the image's data */
	uint64_t sent_bytes;		/* in regions */
	struct blksnap_hash_index ix;
	struct blksnap_writer *w;
};

/* "vdb.img" for /dev/vdb: what tar users see when they extract it. */
static void image_name(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	size_t i, n;

	base = base ? base + 1 : path;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		base = "disk";
	for (i = 0; base[i] && i + 5 < size; i++) {
		char c = base[i];

		out[i] = (c == '.' || c == '-' || c == '_' ||
			  (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			  (c >= 'A' && c <= 'Z')) ? c : '_';
	}
	out[i] = '\0';
	n = strlen(out);
	if (n < 4 || strcmp(out + n - 4, ".img"))
		strcat(out, ".img");
	if (!strcmp(out, BLKSNAP_ENTRY_MANIFEST) || !strcmp(out, BLKSNAP_ENTRY_HASHES))
		bs_strlcpy(out, "disk.img", size);
}

static int plan_full(struct send_state *s)
{
	struct blksnap_ranges data;
	int ret;

	uint32_t hbs = s->o->hash_block_size ? s->o->hash_block_size :
					       BLKSNAP_DEFAULT_HASH_BLOCK;

	if (hbs < BLKSNAP_MIN_HASH_BLOCK || hbs > BLKSNAP_MAX_HASH_BLOCK ||
	    (hbs & (hbs - 1)))
		return bs_fail("hash block size %u is not a power of two from %u to %u",
			       hbs, BLKSNAP_MIN_HASH_BLOCK, BLKSNAP_MAX_HASH_BLOCK);
	s->m.hash_block_size = hbs;
	blksnap_ranges_init(&data);
	ret = blksnap_source_map(&s->src, &data);
	if (!ret)
		ret = blksnap_ranges_align(&data, s->m.hash_block_size,
					   s->src.size, &s->regions);
	blksnap_ranges_free(&data);
	return ret;
}

static int plan_incremental(struct send_state *s)
{
	const struct blksnap_send_opts *o = s->o;
	struct blksnap_manifest base;

	if (!o->changed)
		return bs_fail("an incremental archive needs the list of changed ranges");
	if (blksnap_archive_read_manifest(o->base, &base))
		return -1;
	if (base.size != s->src.size)
		return bs_fail("%s has %llu bytes but the base %s was of %llu: the device changed size, so take a full backup",
			       s->src.path, (unsigned long long)s->src.size,
			       o->base, (unsigned long long)base.size);
	if (!o->other_filesystem && base.id.uuid[0] && s->src.id.uuid[0] &&
	    strcmp(base.id.uuid, s->src.id.uuid))
		return bs_fail("%s holds the filesystem UUID %s but the base %s was of UUID %s: another device? (if it was formatted anew, take a full backup, or pass --other-filesystem)",
			       s->src.path, s->src.id.uuid, o->base,
			       base.id.uuid);
	if (base.sequence == UINT32_MAX)
		return bs_fail("%s: the chain is too long; take a full backup",
			       o->base);
	if (o->hash_block_size && o->hash_block_size != base.hash_block_size)
		return bs_fail("the hash block size of an incremental is its base's (%u)",
			       base.hash_block_size);
	if (blksnap_ranges_check_size(o->changed, "range list", s->src.size))
		return -1;
	s->m.incremental = true;
	memcpy(s->m.parent_uuid, base.uuid, sizeof(base.uuid));
	s->m.sequence = base.sequence + 1;
	s->m.hash_block_size = base.hash_block_size;
	return blksnap_ranges_align(o->changed, base.hash_block_size, s->src.size,
				    &s->regions);
}

static void fill_manifest(struct send_state *s)
{
	const struct blksnap_send_opts *o = s->o;
	struct blksnap_manifest *m = &s->m;

	m->size = s->src.size;
	m->logical_block_size = s->src.logical_block_size;
	m->id = s->src.id;
	bs_strlcpy(m->source, o->source, sizeof(m->source));
	image_name(s->src.path, m->image_name, sizeof(m->image_name));
	bs_strlcpy(m->compression, o->compress.method, sizeof(m->compression));
	if (o->cbt_generation)
		bs_strlcpy(m->cbt_generation, o->cbt_generation,
			   sizeof(m->cbt_generation));
	m->cbt_snapshot = o->cbt_snapshot;
	m->data_bytes = blksnap_ranges_bytes(&s->data);
	m->range_count = s->data.count;
	m->zero_bytes = blksnap_ranges_bytes(&s->zeros);
	m->zero_range_count = s->zeros.count;
	if (m->zero_range_count)
		m->format_version = 2;
}

/*
 * Progress counts the bytes sent: zero blocks when they are found, the
 * others when they are written.
 */
static void zero_progress(void *ctx, uint64_t zero_bytes)
{
	struct send_state *s = ctx;

	s->o->progress(s->o->progress_ctx, zero_bytes, s->sent_bytes);
}

/*
 * The blocks of zeros among those sent become holes of the image: found
 * by a first read, which reads only the first page of a block of data,
 * before the image's map is written.
 */
static int plan_zeros(struct send_state *s)
{
	s->sent_bytes = blksnap_ranges_bytes(&s->regions);
	if (bs_find_zero_blocks(&s->src, &s->regions, s->m.hash_block_size,
				&s->zeros, s->o->progress ? zero_progress : NULL,
				s))
		return -1;
	return bs_ranges_subtract(&s->regions, &s->zeros, &s->data);
}

struct send_progress {
	struct send_state *s;
	uint64_t pos;		/* end of what the image entry got so far */
	uint64_t done;		/* data bytes sent */
	size_t zero;		/* the next zero range to index */
};

/* Indexes the zero blocks before @end: each has the hash of zeros. */
static int index_zeros(struct send_progress *p, uint64_t end)
{
	struct send_state *s = p->s;
	uint32_t hbs = s->m.hash_block_size;

	for (; p->zero < s->zeros.count &&
	       s->zeros.v[p->zero].offset < end; p->zero++) {
		const struct blksnap_range *z = &s->zeros.v[p->zero];
		uint64_t off;

		for (off = z->offset; off < z->offset + z->length; off += hbs)
			if (blksnap_hash_index_add(&s->ix, off,
						   blksnap_hash_zero((size_t)BS_MIN(
							   (uint64_t)hbs, s->m.size - off))))
				return -1;
	}
	return 0;
}

/* One piece of a region, in order: the hole before it, then its data. */
static int send_piece(void *ctx, const void *buf, size_t len, uint64_t off,
		      const uint64_t *hashes)
{
	struct send_progress *p = ctx;
	struct send_state *s = p->s;
	uint32_t hbs = s->m.hash_block_size;
	size_t b;

	if (blksnap_writer_image_hole(s->w, off - p->pos) ||
	    index_zeros(p, off))
		return -1;
	for (b = 0; b < len; b += hbs)
		if (blksnap_hash_index_add(&s->ix, off + b, *hashes++))
			return -1;
	if (blksnap_writer_image_data(s->w, buf, len))
		return -1;
	p->pos = off + len;
	p->done += len;
	if (s->o->progress)
		s->o->progress(s->o->progress_ctx, s->m.zero_bytes + p->done,
			       s->m.zero_bytes + s->m.data_bytes);
	return 0;
}

static int send_image(struct send_state *s)
{
	struct send_progress p = { .s = s };

	if (blksnap_writer_begin_image(s->w, s->m.image_name, s->m.size,
				       &s->data) ||
	    bs_read_hashed(&s->src, &s->data, s->m.hash_block_size,
			   send_piece, &p) ||
	    index_zeros(&p, s->m.size))
		return -1;
	return blksnap_writer_image_hole(s->w, s->m.size - p.pos);
}

static int write_archive(struct send_state *s)
{
	char *manifest = NULL;
	void *index = NULL;
	size_t mlen, ilen;
	int ret = -1;

	if (blksnap_manifest_format(&s->m, &manifest, &mlen))
		return -1;
	if (blksnap_writer_open(s->o->out_fd, s->o->out_name, &s->o->compress,
				&s->w) ||
	    blksnap_writer_add_file(s->w, BLKSNAP_ENTRY_MANIFEST, manifest,
				    mlen) ||
	    send_image(s) ||
	    blksnap_hash_index_encode(&s->ix, &index, &ilen) ||
	    blksnap_writer_add_file(s->w, BLKSNAP_ENTRY_HASHES, index, ilen) ||
	    blksnap_writer_finish(s->w))
		goto out;
	ret = 0;
	if (s->o->manifest_out)
		ret = blksnap_manifest_file_write(s->o->manifest_out, manifest,
						      mlen, index, ilen);
out:
	free(manifest);
	free(index);
	return ret;
}

int blksnap_send(const struct blksnap_send_opts *o,
		 struct blksnap_manifest *manifest)
{
	struct send_state s = { .o = o };
	int ret = -1;

	blksnap_ranges_init(&s.regions);
	blksnap_ranges_init(&s.zeros);
	blksnap_ranges_init(&s.data);
	blksnap_manifest_init(&s.m);
	if (blksnap_source_open(o->source, &s.src))
		return -1;
	if (!s.src.size) {
		bs_fail("%s: the source is empty (0 bytes): there is nothing to back up",
			s.src.path);
		goto out;
	}
	if ((o->base ? plan_incremental(&s) : plan_full(&s)) || plan_zeros(&s))
		goto out;
	fill_manifest(&s);
	blksnap_hash_index_init(&s.ix, s.m.hash_block_size, s.m.size);
	ret = write_archive(&s);
	if (!ret && manifest)
		*manifest = s.m;
out:
	blksnap_writer_free(s.w);
	blksnap_hash_index_free(&s.ix);
	blksnap_ranges_free(&s.regions);
	blksnap_ranges_free(&s.zeros);
	blksnap_ranges_free(&s.data);
	blksnap_source_close(&s.src);
	return ret;
}
