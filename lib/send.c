// SPDX-License-Identifier: LGPL-2.1-or-later
/* Sending a source into a full or incremental archive. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"
#include "manifest-text.h"
#include "tar.h"
#include "zstd-seekable.h"

/* Largest manifest a partial archive's first entry may be. */
#define RESUME_MANIFEST_MAX	(64u << 10)

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
	/*
	 * Resuming: the partial archive's manifest, whose UUID and time
	 * this send takes; the first @have bytes of its tar stream kept,
	 * which are @keep bytes of the file (uncompressed, the same; zstd,
	 * its leading whole frames, read through @zr), compared with the
	 * bytes made again in a buffer, @checked of them so far.
	 */
	bool resumed;
	struct blksnap_manifest old;
	uint64_t have, keep, part_size, checked;
	uint32_t *frames;		/* zstd: those kept, sizes */
	uint64_t nframes;
	struct zseek_reader *zr;
	char *cmp;
	size_t cmp_size;
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

/*
 * The smallest hash block an incremental of @src takes: 4 KiB, or the
 * source's logical block size when it is larger (no write is smaller).
 */
static uint32_t incremental_floor(const struct blksnap_source *src)
{
	uint32_t lbs = src->logical_block_size;

	if (lbs > BLKSNAP_MIN_HASH_BLOCK && lbs <= BLKSNAP_MAX_HASH_BLOCK &&
	    !(lbs & (lbs - 1)))
		return lbs;
	return BLKSNAP_MIN_HASH_BLOCK;
}

static int plan_incremental(struct send_state *s)
{
	const struct blksnap_send_opts *o = s->o;
	struct blksnap_manifest base;
	uint32_t least;

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
	if (blksnap_ranges_check_size(o->changed, "range list", s->src.size))
		return -1;
	least = incremental_floor(&s->src);
	if (o->hash_block_size &&
	    (o->hash_block_size > base.hash_block_size ||
	     base.hash_block_size % o->hash_block_size ||
	     o->hash_block_size < least))
		return bs_fail("hash block size %u for an incremental of %s: it must divide its base's (%u) and be at least %u",
			       o->hash_block_size, o->base,
			       base.hash_block_size, least);
	s->m.incremental = true;
	memcpy(s->m.parent_uuid, base.uuid, sizeof(base.uuid));
	s->m.sequence = base.sequence + 1;
	s->m.hash_block_size = o->hash_block_size ? o->hash_block_size :
		bs_ranges_grain(o->changed, base.hash_block_size, least,
				     s->src.size);
	return blksnap_ranges_align(o->changed, s->m.hash_block_size,
				    s->src.size, &s->regions);
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

/*
 * The start of the partial archive's tar stream: up to @len bytes into
 * @buf, *@got of them.  zstd: decompressed, its first frame possibly
 * cut short.
 */
static int partial_head(struct send_state *s, bool zstd, char *buf,
			size_t len, size_t *got)
{
	const struct blksnap_send_opts *o = s->o;
	ssize_t n;

	if (zstd)
		return zseek_partial_head(o->out_fd, o->out_name, buf, len, got);
	n = bs_pread_all(o->out_fd, buf, (size_t)BS_MIN((uint64_t)len,
							s->part_size), 0);
	if (n < 0)
		return bs_fail_errno(errno, "%s: read error", o->out_name);
	*got = (size_t)n;
	return 0;
}

/* What a zstd partial archive keeps: its leading whole frames. */
static int resume_frames(struct send_state *s)
{
	const struct blksnap_send_opts *o = s->o;
	uint64_t i;

	if (zseek_partial_scan(o->out_fd, o->out_name, s->part_size,
			       ZSEEK_FRAME_SIZE, &s->frames, &s->nframes))
		return -1;
	s->have = s->keep = 0;
	for (i = 0; i < s->nframes; i++) {
		s->keep += s->frames[2 * i];
		s->have += s->frames[2 * i + 1];
	}
	return s->nframes ? zseek_reader_open_frames(o->out_fd, o->out_name,
						     s->frames, s->nframes,
						     &s->zr) : 0;
}

/*
 * Resuming into a partial archive: its manifest gives the archive's
 * UUID and time (the entries' time too), the only bytes that would
 * differ in an archive of the same source made again.  Uncompressed,
 * every byte of it is kept, to be checked; zstd, its leading whole
 * frames (the frame the interrupted send was writing is made again),
 * their tar stream checked.  Returns 0 with s->resumed, or 0 without
 * it when the partial file is too short to hold a manifest (started
 * over: truncated), else -1.
 */
static int resume_prepare(struct send_state *s)
{
	const struct blksnap_send_opts *o = s->o;
	bool zstd = !strcmp(o->compress.method, "zstd"), was_zstd = zstd;
	unsigned char magic[4] = { 0 };
	uint64_t size = 0;
	struct stat st;
	size_t got;
	char *head;
	int ret = -1;

	if (!zstd && strcmp(o->compress.method, "none"))
		return bs_fail("%s: a %s-compressed send cannot be resumed (zstd and none can)",
			       o->out_name, o->compress.method);
	if (fstat(o->out_fd, &st) < 0)
		return bs_fail_errno(errno, "%s", o->out_name);
	/*
	 * An upload's pipe: the receiver resumes, taking the bytes made
	 * again, with a new UUID and time, for those sent (zstd: the
	 * first frame, which they are in, is stored, of the same size).
	 */
	if (!S_ISREG(st.st_mode) || !st.st_size)
		return 0;
	s->part_size = (uint64_t)st.st_size;
	if (bs_pread_all(o->out_fd, magic, sizeof(magic), 0) < 0)
		return bs_fail_errno(errno, "%s: read error", o->out_name);
	/* zstd's frame magic number, 0xFD2FB528, little-endian. */
	if (st.st_size >= 4)
		was_zstd = magic[0] == 0x28 && magic[1] == 0xb5 &&
			   magic[2] == 0x2f && magic[3] == 0xfd;
	head = bs_malloc(TAR_BLOCK + RESUME_MANIFEST_MAX);
	if (!head)
		return -1;
	if (partial_head(s, was_zstd, head, TAR_BLOCK + RESUME_MANIFEST_MAX, &got))
		goto out;
	if (got >= TAR_BLOCK &&
	    !tar_plain_header((unsigned char *)head, BLKSNAP_ENTRY_MANIFEST, &size)) {
		bs_fail("%s: not the partial archive of a send: remove it to start over",
			o->out_name);
		goto out;
	}
	if (was_zstd != zstd) {
		bs_fail("%s: the partial archive is %s, this send %s: resume with the -c of the interrupted send, or remove it to start over",
			o->out_name, was_zstd ? "zstd-compressed" : "uncompressed",
			zstd ? "zstd" : "uncompressed");
		goto out;
	}
	if (got < TAR_BLOCK || size > RESUME_MANIFEST_MAX || got < TAR_BLOCK + size) {
		/* Not even the manifest: nothing worth keeping. */
		if (ftruncate(o->out_fd, 0) < 0)
			bs_fail_errno(errno, "%s: cannot truncate", o->out_name);
		else
			ret = 0;
		goto out;
	}
	if (blksnap_manifest_parse(head + TAR_BLOCK, (size_t)size, o->out_name,
				   &s->old))
		goto out;
	memcpy(s->m.uuid, s->old.uuid, sizeof(s->m.uuid));
	s->m.created = s->old.created;
	s->resumed = true;
	if (zstd) {
		if (resume_frames(s))
			goto out;
	} else {
		s->have = s->keep = s->part_size;
	}
	if (lseek(o->out_fd, (off_t)s->keep, SEEK_SET) < 0) {
		bs_fail_errno(errno, "%s", o->out_name);
		goto out;
	}
	ret = 0;
out:
	free(head);
	return ret;
}

/*
 * Once what is kept is found to be this send's, what is not (zstd: the
 * frame cut short) goes.
 */
static int resume_drop_rest(struct send_state *s)
{
	if (s->keep < s->part_size && ftruncate(s->o->out_fd, (off_t)s->keep) < 0)
		return bs_fail_errno(errno, "%s: cannot truncate", s->o->out_name);
	return 0;
}

/*
 * Before the bytes: what the manifests tell of why the partial archive
 * cannot be this send's.
 */
static int resume_compare_manifests(const struct send_state *s)
{
	const struct blksnap_manifest *a = &s->old, *b = &s->m;
	const char *name = s->o->out_name;

	if (strcmp(a->source, b->source) || a->incremental != b->incremental ||
	    strcmp(a->parent_uuid, b->parent_uuid))
		return bs_fail("%s: the partial archive is %s archive of %s%s%s, this send %s of %s%s%s: remove it to start over",
			       name, a->incremental ? "an incremental" : "a full",
			       a->source, a->incremental ? " over " : "",
			       a->parent_uuid,
			       b->incremental ? "an incremental" : "a full",
			       b->source, b->incremental ? " over " : "",
			       b->parent_uuid);
	/* An incremental's comes from its range list (or -B). */
	if (a->hash_block_size != b->hash_block_size)
		return bs_fail("%s: the partial archive has hash blocks of %u bytes, this send %u (another range list or --hash-block-size): remove it to start over",
			       name, a->hash_block_size, b->hash_block_size);
	if (a->size != b->size ||
	    a->data_bytes != b->data_bytes || a->range_count != b->range_count ||
	    a->zero_bytes != b->zero_bytes ||
	    a->zero_range_count != b->zero_range_count)
		return bs_fail("%s: the source changed since the interrupted send: its partial archive holds %llu bytes of data in %llu ranges and %llu bytes of zeros of %llu, the source now %llu, %llu, %llu and %llu: remove it to start over",
			       name, (unsigned long long)a->data_bytes,
			       (unsigned long long)a->range_count,
			       (unsigned long long)a->zero_bytes,
			       (unsigned long long)a->size,
			       (unsigned long long)b->data_bytes,
			       (unsigned long long)b->range_count,
			       (unsigned long long)b->zero_bytes,
			       (unsigned long long)b->size);
	if (strcmp(a->cbt_generation, b->cbt_generation) ||
	    a->cbt_snapshot != b->cbt_snapshot)
		return bs_fail("%s: the partial archive is of CBT generation %s, snapshot %u, this send of generation %s, snapshot %u: another snapshot; remove it to start over",
			       name, a->cbt_generation[0] ? a->cbt_generation : "(none)",
			       a->cbt_snapshot,
			       b->cbt_generation[0] ? b->cbt_generation : "(none)",
			       b->cbt_snapshot);
	if (strcmp(a->tool_version, b->tool_version))
		return bs_fail("%s: the partial archive was written by blksnap-send %s, this is %s: remove it to start over",
			       name, a->tool_version, b->tool_version);
	return 0;
}

/*
 * The bytes the partial archive holds at @off must be @buf's: output
 * bytes, or zstd, those of its tar stream.
 */
static int resume_check(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct send_state *s = ctx;
	const unsigned char *a = buf, *b;
	ssize_t n;
	size_t i;

	if (len > s->cmp_size) {
		free(s->cmp);
		s->cmp = bs_malloc(len);
		s->cmp_size = s->cmp ? len : 0;
		if (!s->cmp)
			return -1;
	}
	if (s->zr) {
		if (zseek_reader_read(s->zr, s->cmp, len, off))
			return -1;
	} else {
		n = bs_pread_all(s->o->out_fd, s->cmp, len, off);
		if (n < 0)
			return bs_fail_errno(errno, "%s: read error", s->o->out_name);
		if ((size_t)n != len)
			return bs_fail("%s: the partial archive got shorter while read",
				       s->o->out_name);
	}
	if (!memcmp(s->cmp, buf, len)) {
		s->checked = off + len;
		return s->checked == s->have ? resume_drop_rest(s) : 0;
	}
	b = (const unsigned char *)s->cmp;
	for (i = 0; a[i] == b[i]; i++)
		;
	return bs_fail("%s: the partial archive differs at byte %llu%s from the archive this send makes: the source changed since the interrupted send, or it is another source, or other options or another version of blksnap-send; remove it to start over",
		       s->o->out_name, (unsigned long long)(off + i),
		       s->zr ? " of its tar stream (uncompressed)" : "");
}

static int write_archive(struct send_state *s)
{
	char *manifest = NULL;
	void *index = NULL;
	size_t mlen, ilen;
	int ret = -1;

	if (s->resumed && resume_compare_manifests(s))
		return -1;
	if (s->resumed && !s->have && resume_drop_rest(s))
		return -1;
	if (blksnap_manifest_format(&s->m, &manifest, &mlen))
		return -1;
	if (blksnap_writer_open(s->o->out_fd, s->o->out_name, &s->o->compress,
				&s->w))
		goto out;
	/* Every entry has the archive's time: made again, the same bytes. */
	blksnap_writer_set_mtime(s->w, (time_t)s->m.created);
	if (s->resumed) {
		struct blksnap_writer_resume r = {
			.have = s->have, .check = resume_check, .ctx = s,
			.frames = s->frames, .nframes = s->nframes,
		};

		if (blksnap_writer_set_resume(s->w, &r))
			goto out;
	}
	if (blksnap_writer_add_file(s->w, BLKSNAP_ENTRY_MANIFEST, manifest,
				    mlen) ||
	    send_image(s) ||
	    blksnap_hash_index_encode(&s->ix, &index, &ilen) ||
	    blksnap_writer_add_file(s->w, BLKSNAP_ENTRY_HASHES, index, ilen) ||
	    blksnap_writer_finish(s->w))
		goto out;
	if (s->checked < s->have) {
		bs_fail("%s: the partial archive is longer (%llu bytes%s) than the archive this send makes (%llu): the source changed since the interrupted send, or it is another source; remove it to start over",
			s->o->out_name, (unsigned long long)s->have,
			s->zr ? " of tar stream" : "",
			(unsigned long long)s->checked);
		goto out;
	}
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
	if (o->resume && resume_prepare(&s))
		goto out;
	if ((o->base ? plan_incremental(&s) : plan_full(&s)) || plan_zeros(&s))
		goto out;
	fill_manifest(&s);
	blksnap_hash_index_init(&s.ix, s.m.hash_block_size, s.m.size);
	ret = write_archive(&s);
	if (!ret && manifest)
		*manifest = s.m;
out:
	blksnap_writer_free(s.w);
	free(s.cmp);
	free(s.frames);
	zseek_reader_close(s.zr);
	blksnap_hash_index_free(&s.ix);
	blksnap_ranges_free(&s.regions);
	blksnap_ranges_free(&s.zeros);
	blksnap_ranges_free(&s.data);
	blksnap_source_close(&s.src);
	return ret;
}
