// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Merging a chain (a full archive and incrementals, in order) into one
 * full archive of the chain's last point: a synthetic full
 * (blksnap-merge(8)), written without the source device.
 *
 * Every block of the result has one owner: the newest archive of the
 * chain that holds it, as data or as a zero range.  The incrementals
 * are read first, verified, and their data kept in an anonymous scratch
 * file beside the output; the full archive's hash index tells its map,
 * so that the result's map and manifest are complete before its header
 * is written; then the full archive's image is read once more, verified,
 * and streamed into the result, with the incrementals' blocks taking the
 * place of those they replace; its writeback starts as it is written.
 * The result is read back whole by a second thread as it is written,
 * behind the writer, and checked against the index built from the
 * members' indexes; it is renamed into place only once that check and
 * its fsync both succeeded.
 *
 * The members' hash blocks may differ (an incremental's divides its
 * parent's, blksnap-send(8)): owners are kept per block of the finest
 * size of the chain, the result takes the full archive's hash block.  A
 * block of the result that is the full's own keeps the full's hash; any
 * other is built from its pieces (the full's bytes, read in pass 3 and
 * verified by its index; the incrementals' from the scratch file, each
 * piece checked against the hash of that finest block computed when it
 * was read and verified; zeros) and hashed as built.  With one hash
 * block size all along this makes the same archive as taking the
 * incrementals' hashes would.
 */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"

/* Who owns a block of the finest size. */
enum owner {
	OWN_NONE,	/* a hole of the full no incremental wrote: a hole */
	OWN_FULL,	/* the full archive's data */
	OWN_INC,	/* an incremental's data, in the scratch file */
	OWN_ZERO,	/* a zero range (or a block of zeros of the full) */
};

/* What a block of the result is, from the owners of its fine blocks. */
enum result {
	RES_NONE,	/* a hole: every piece OWN_NONE */
	RES_ZERO,	/* a zero range: pieces OWN_ZERO or OWN_NONE */
	RES_FULL,	/* the full's own block, every piece OWN_FULL */
	RES_BUILD,	/* built from the incrementals' pieces and zeros */
	RES_BUILD_FULL,	/* the same with pieces of the full's block */
};

struct merge {
	const struct blksnap_merge_opts *o;
	struct blksnap_manifest *ms;
	uint32_t hbs;			/* the result's hash block: the full's */
	uint32_t fine;			/* the chain's smallest hash block */
	uint64_t size;
	uint64_t blocks;
	uint64_t fblocks;		/* blocks of @fine */
	uint8_t *owner;			/* enum owner, per fine block */
	uint64_t *fhash;		/* an incremental's, per fine block */
	uint8_t *res;			/* enum result, per block */
	uint64_t *hash;			/* per block that has an owner */
	/* Pass 2: a fine block an incremental sent in pieces. */
	unsigned char *fbuf;
	uint64_t fblock;
	size_t ffill;
	const char *cur;		/* the incremental being read */
	/* Pass 3: a block of the full being built into the result's. */
	uint64_t fill_block;
	uint64_t fill;
	struct blksnap_hash_index full_ix;	/* the full's, as first read */
	int scratch;			/* the incrementals' data */
	struct blksnap_ranges data;	/* the result's data regions */
	struct blksnap_ranges zeros;	/* and zero ranges */
	struct blksnap_output out;
	struct blksnap_writer *w;
	uint64_t pos;			/* what the image entry got so far */
	struct flusher *fl;		/* the output's, while it runs */
	struct checker *ck;		/* the result's, while it runs */
	uint64_t told;			/* output bytes told the flusher */
	bool missing;			/* a block of the full never came */
	unsigned char *block;		/* one hash block being built */
	uint64_t done, total;		/* progress */
};

static uint64_t block_len(const struct merge *m, uint64_t b)
{
	return BS_MIN((uint64_t)m->hbs, m->size - b * m->hbs);
}

static uint64_t fine_len(const struct merge *m, uint64_t f)
{
	return BS_MIN((uint64_t)m->fine, m->size - f * m->fine);
}

/* Sets the owner of the fine blocks of image bytes [@off, @off+@len). */
static void set_owner(struct merge *m, uint64_t off, uint64_t len,
		      enum owner o)
{
	uint64_t f;

	for (f = off / m->fine; f * m->fine < off + len; f++)
		m->owner[f] = (uint8_t)o;
}

static void progress(struct merge *m, uint64_t bytes)
{
	m->done += bytes;
	if (m->o->progress)
		m->o->progress(m->o->progress_ctx, m->done, m->total);
}

/* Opens member @i, checking it is the archive whose manifest was read. */
static int open_member(struct merge *m, size_t i, struct blksnap_archive **ap)
{
	const char *name = m->o->chain[i];

	if (blksnap_archive_open(name, ap))
		return -1;
	if (!blksnap_archive_has_image(*ap)) {
		blksnap_archive_close(*ap);
		*ap = NULL;
		return bs_fail("%s: a manifest file holds no image data: give the archive",
			       name);
	}
	if (strcmp(blksnap_archive_manifest(*ap)->uuid, m->ms[i].uuid)) {
		blksnap_archive_close(*ap);
		*ap = NULL;
		return bs_fail("%s: changed while being read", name);
	}
	return 0;
}

/*
 * Calls @fn for each block of @ix (of its own size), in order, with its
 * offset, length and hash.
 */
static int each_block(struct merge *m, const struct blksnap_hash_index *ix,
		      int (*fn)(struct merge *m, uint64_t off, uint64_t len,
				uint64_t hash))
{
	size_t r, h = 0;

	for (r = 0; r < ix->regions.count; r++) {
		const struct blksnap_range *g = &ix->regions.v[r];
		uint64_t off;

		for (off = g->offset; off < g->offset + g->length;
		     off += ix->block_size)
			if (fn(m, off, BS_MIN((uint64_t)ix->block_size,
					      m->size - off), ix->hash[h++]))
				return -1;
	}
	return 0;
}

static int own_full(struct merge *m, uint64_t off, uint64_t len,
		    uint64_t hash)
{
	set_owner(m, off, len, hash == blksnap_hash_zero((size_t)len) ?
			       OWN_ZERO : OWN_FULL);
	m->hash[off / m->hbs] = hash;
	return 0;
}

/* Its fine blocks' hashes came with its data (fine_hash_feed). */
static int own_inc(struct merge *m, uint64_t off, uint64_t len,
		   uint64_t hash)
{
	(void)hash;
	set_owner(m, off, len, OWN_INC);
	return 0;
}

/*
 * The hash of each fine block of an incremental's data, as it comes (in
 * order, in pieces of any size, its regions starting on fine blocks):
 * once the archive's own hashes verified it, these verify the copy kept
 * in the scratch file.
 */
static int fine_hash_feed(struct merge *m, uint64_t off, const char *p,
			  size_t len)
{
	while (len) {
		uint64_t f = off / m->fine, flen = fine_len(m, f);
		size_t at = (size_t)(off - f * m->fine), n;

		if (!at && !m->ffill && len >= flen) {
			m->fhash[f] = blksnap_hash(p, (size_t)flen);
			n = (size_t)flen;
		} else {
			if (at != m->ffill || (m->ffill && f != m->fblock))
				return bs_fail("%s: damaged archive: image data at %llu does not start on a hash block",
					       m->cur, (unsigned long long)off);
			n = (size_t)BS_MIN((uint64_t)len, flen - at);
			memcpy(m->fbuf + at, p, n);
			m->fblock = f;
			m->ffill = at + n;
			if (m->ffill == flen) {
				m->fhash[f] = blksnap_hash(m->fbuf, (size_t)flen);
				m->ffill = 0;
			}
		}
		off += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* Pass 1: the full archive's map, from its index (checked in pass 3). */
static int plan_full(struct merge *m)
{
	struct blksnap_archive *a;
	int ret;

	if (open_member(m, 0, &a))
		return -1;
	ret = blksnap_archive_read_index(a, &m->full_ix);
	blksnap_archive_close(a);
	if (ret)
		return -1;
	return each_block(m, &m->full_ix, own_full);
}

static int scratch_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct merge *m = ctx;

	if (bs_pwrite_all(m->scratch, buf, len, off))
		return bs_fail_errno(errno, "%s: cannot keep an incremental's data beside it",
				     m->o->output);
	progress(m, len);
	return fine_hash_feed(m, off, buf, len);
}

/* Pass 2: each incremental, verified, its data into the scratch file. */
static int read_incremental(struct merge *m, size_t i)
{
	struct blksnap_hash_index ix;
	struct blksnap_ranges zeros;
	struct blksnap_archive *a;
	size_t k;
	int ret;

	if (open_member(m, i, &a))
		return -1;
	m->ffill = 0;
	m->cur = m->o->chain[i];
	ret = blksnap_archive_read_image(a, scratch_write, m, &ix, &zeros);
	blksnap_archive_close(a);
	if (ret)
		return -1;
	if (m->ffill)
		ret = bs_fail("%s: damaged archive: its image data ends inside a hash block",
			      m->o->chain[i]);
	if (!ret)
		ret = each_block(m, &ix, own_inc);
	for (k = 0; !ret && k < zeros.count; k++)
		set_owner(m, zeros.v[k].offset, zeros.v[k].length, OWN_ZERO);
	blksnap_hash_index_free(&ix);
	blksnap_ranges_free(&zeros);
	return ret;
}

/* What block @b of the result is, from its fine blocks' owners. */
static enum result block_result(const struct merge *m, uint64_t b)
{
	uint64_t f = b * m->hbs / m->fine;
	uint64_t end = BS_MIN(f + m->hbs / m->fine, m->fblocks);
	unsigned int seen = 0;

	for (; f < end; f++)
		seen |= 1u << m->owner[f];
	if (seen == 1u << OWN_NONE)
		return RES_NONE;
	if (!(seen & (1u << OWN_FULL | 1u << OWN_INC)))
		return RES_ZERO;
	if (seen == 1u << OWN_FULL)
		return RES_FULL;
	return seen & 1u << OWN_FULL ? RES_BUILD_FULL : RES_BUILD;
}

/* The result's data regions and zero ranges, from the owners. */
static int plan_result(struct merge *m)
{
	uint64_t b;

	for (b = 0; b < m->blocks; b++) {
		struct blksnap_ranges *r;

		m->res[b] = (uint8_t)block_result(m, b);
		r = m->res[b] == RES_ZERO ? &m->zeros :
		    m->res[b] == RES_NONE ? NULL : &m->data;
		if (m->res[b] == RES_ZERO)
			m->hash[b] = blksnap_hash_zero((size_t)block_len(m, b));

		if (r && blksnap_ranges_append(r, b * m->hbs, block_len(m, b)))
			return -1;
	}
	return 0;
}

/*
 * The result's manifest: the identity of the chain's last point (its
 * UUID, sequence number, source and CBT state), as a full archive.
 */
static void fill_manifest(const struct merge *m, struct blksnap_manifest *r)
{
	const struct blksnap_manifest *last = &m->ms[m->o->count - 1];
	char tool[sizeof(r->tool_version)];

	blksnap_manifest_init(r);
	memcpy(tool, r->tool_version, sizeof(tool));
	*r = *last;
	memcpy(r->tool_version, tool, sizeof(tool));
	r->incremental = false;
	r->parent_uuid[0] = '\0';
	r->hash_block_size = m->hbs;
	bs_strlcpy(r->image_name, m->ms[0].image_name, sizeof(r->image_name));
	bs_strlcpy(r->compression, m->o->compress.method, sizeof(r->compression));
	r->data_bytes = blksnap_ranges_bytes(&m->data);
	r->range_count = m->data.count;
	r->zero_bytes = blksnap_ranges_bytes(&m->zeros);
	r->zero_range_count = m->zeros.count;
	/* Version 1 has neither zero ranges nor a full of a later point. */
	r->format_version = r->zero_range_count || r->sequence ? 2 : 1;
}

/*
 * Builds block @b of the result in m->block over what it holds (the
 * full's bytes, for RES_BUILD_FULL): the incrementals' pieces from the
 * scratch file, each checked against its hash, and zeros; then hashes
 * it and feeds it to the image entry.
 */
static int build_block(struct merge *m, uint64_t b)
{
	uint64_t len = block_len(m, b), f = b * m->hbs / m->fine;
	uint64_t end = f + (len + m->fine - 1) / m->fine;

	if (m->res[b] == RES_BUILD)
		memset(m->block, 0, (size_t)len);
	for (; f < end; f++) {
		unsigned char *p = m->block + (f * m->fine - b * m->hbs);
		uint64_t flen = fine_len(m, f);

		switch (m->owner[f]) {
		case OWN_NONE:
		case OWN_ZERO:
			memset(p, 0, (size_t)flen);
			break;
		case OWN_FULL:
			break;
		case OWN_INC:
			if (bs_pread_all(m->scratch, p, (size_t)flen,
					 f * m->fine) != (ssize_t)flen)
				return bs_fail_errno(errno ? errno : EIO,
						     "%s: cannot read back an incremental's data kept beside it",
						     m->o->output);
			if (blksnap_hash(p, (size_t)flen) != m->fhash[f])
				return bs_fail("%s: the incrementals' data kept beside it changed at offset %llu",
					       m->o->output,
					       (unsigned long long)(f * m->fine));
			break;
		}
	}
	m->hash[b] = blksnap_hash(m->block, (size_t)len);
	if (blksnap_writer_image_data(m->w, m->block, (size_t)len))
		return -1;
	m->pos += len;
	return 0;
}

/* Feeds the image entry up to @end: holes, and the incrementals' blocks. */
static int emit_until(struct merge *m, uint64_t end)
{
	while (m->pos < end) {
		uint64_t b = m->pos / m->hbs, len = block_len(m, b);
		uint64_t rest = (b * m->hbs + len) - m->pos;

		switch (m->res[b]) {
		case RES_NONE:
		case RES_ZERO:
			if (blksnap_writer_image_hole(m->w, rest))
				return -1;
			break;
		case RES_FULL:
		case RES_BUILD_FULL:
			/* Data of the full that did not come: its read fails. */
			m->missing = true;
			if (blksnap_writer_image_data(m->w, bs_zeroes(), (size_t)rest))
				return -1;
			break;
		case RES_BUILD:
			if (build_block(m, b))
				return -1;
			continue;
		}
		m->pos += rest;
	}
	return 0;
}

/*
 * The output's flusher, a thread: it hands what is written to the disk
 * as it comes (told every WRITEBACK_STEP bytes), so that the disk works
 * while the rest is built, and neither waits for the other; at the end
 * it fsyncs the output, beside the read-back.  sync_file_range() with
 * SYNC_FILE_RANGE_WRITE only: it neither waits for the disk nor takes a
 * writeback error from the fsync, which reports it.
 */
#define WRITEBACK_STEP (32u << 20)

enum flusher_state { FL_RUN, FL_SYNC, FL_QUIT };

struct flusher {
	int fd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t written;		/* output bytes written, as told */
	enum flusher_state state;
	int err;			/* the fsync's errno, or 0 */
	pthread_t thread;
};

static void *flusher_run(void *p)
{
	struct flusher *f = p;
	uint64_t from = 0, to;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		if (f->state == FL_QUIT)
			break;
		if (f->state == FL_SYNC) {
			pthread_mutex_unlock(&f->lock);
			f->err = fsync(f->fd) < 0 ? errno : 0;
			return NULL;
		}
		if (f->written == from) {
			pthread_cond_wait(&f->cond, &f->lock);
			continue;
		}
		to = f->written;
		pthread_mutex_unlock(&f->lock);
		(void)sync_file_range(f->fd, (off_t)from, (off_t)(to - from),
				      SYNC_FILE_RANGE_WRITE);
		from = to;
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static void flusher_set(struct flusher *f, uint64_t written,
			enum flusher_state state)
{
	pthread_mutex_lock(&f->lock);
	f->written = written;
	f->state = state;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* Starts @f on the output; without a thread, no flusher (m->fl NULL). */
static void flusher_start(struct merge *m, struct flusher *f)
{
	f->fd = m->out.fd;
	f->written = 0;
	f->state = FL_RUN;
	f->err = 0;
	if (pthread_mutex_init(&f->lock, NULL))
		return;
	if (pthread_cond_init(&f->cond, NULL)) {
		pthread_mutex_destroy(&f->lock);
		return;
	}
	if (pthread_create(&f->thread, NULL, flusher_run, f)) {
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->lock);
		return;
	}
	m->fl = f;
}

/*
 * Ends the flusher, with the fsync (@sync) or without: returns the
 * fsync's errno, or 0.
 */
static int flusher_end(struct merge *m, bool sync)
{
	struct flusher *f = m->fl;

	if (!f)
		return 0;
	flusher_set(f, f->written, sync ? FL_SYNC : FL_QUIT);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	m->fl = NULL;
	return f->err;
}

static bool same_index(const struct blksnap_hash_index *a,
		       const struct blksnap_hash_index *b)
{
	return a->count == b->count && a->regions.count == b->regions.count &&
	       !memcmp(a->hash, b->hash, a->count * sizeof(*a->hash)) &&
	       !memcmp(a->regions.v, b->regions.v,
		       a->regions.count * sizeof(*a->regions.v));
}

/*
 * The result's checker, a thread: the result read back whole with the
 * archive reader, as it is written, behind the writer.  It reads the
 * output file (pread(2), from the page cache: the bytes as write(2)
 * left them in the file, not the writer's buffers) up to where the
 * writer says it wrote (tell_written), so that the read-back takes the
 * other CPU while the result is built and written, and little is left
 * to read when the writing ends.  The writer never waits for it but at
 * the end (checker_end), which the rename comes after.  Without a
 * thread, the checker reads the result after it was written.
 */
enum checker_state { CK_RUN, CK_DONE, CK_QUIT };

struct checker {
	int fd;				/* the output */
	const char *name;		/* its temporary name, for messages */
	const char *uuid;		/* the result's */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t written;		/* output bytes written, as told */
	enum checker_state state;
	uint64_t pos;			/* output bytes read (the thread's) */
	/* What the read found: the index of the blocks read, or why not. */
	struct blksnap_hash_index ix;
	int ret;
	int err;
	char msg[1024];
	bool threaded;
	pthread_t thread;
};

/* The archive reader's source: the output, as far as it is written. */
static ssize_t checker_fill(void *ctx, void *buf, size_t len)
{
	struct checker *c = ctx;
	enum checker_state state;
	uint64_t written;
	ssize_t n;

	pthread_mutex_lock(&c->lock);
	while (c->state == CK_RUN && c->written == c->pos)
		pthread_cond_wait(&c->cond, &c->lock);
	state = c->state;
	written = c->written;
	pthread_mutex_unlock(&c->lock);
	if (state == CK_QUIT)
		return bs_fail("%s: not checked: its writing stopped", c->name);
	len = (size_t)BS_MIN((uint64_t)len, written - c->pos);
	if (!len)
		return 0;
	n = bs_pread_all(c->fd, buf, len, c->pos);
	if (n < 0)
		return bs_fail_errno(errno, "%s: cannot read back at byte %llu",
				     c->name, (unsigned long long)c->pos);
	if ((size_t)n < len)
		return bs_fail("%s: truncated archive: it ends at byte %llu, before the %llu bytes written",
			       c->name, (unsigned long long)(c->pos + (uint64_t)n),
			       (unsigned long long)written);
	c->pos += (uint64_t)n;
	return n;
}

static void *checker_run(void *p)
{
	struct checker *c = p;
	struct blksnap_archive *a;

	c->ret = blksnap_archive_open_fill(c->name, checker_fill, c, &a);
	if (!c->ret) {
		c->ret = strcmp(blksnap_archive_manifest(a)->uuid, c->uuid) ?
			 bs_fail("%s: changed while being written", c->name) :
			 blksnap_archive_read_image(a, NULL, NULL, &c->ix, NULL);
		blksnap_archive_close(a);
	}
	if (c->ret) {
		/* blksnap_error() is the thread's own: kept for the writer. */
		bs_strlcpy(c->msg, blksnap_error(), sizeof(c->msg));
		c->err = blksnap_error_errno();
	}
	return NULL;
}

/* Starts @c on the output, before the result's first byte is written. */
static void checker_start(struct merge *m, struct checker *c,
			  const struct blksnap_manifest *r)
{
	c->fd = m->out.fd;
	c->name = m->out.tmp_path;
	c->uuid = r->uuid;
	c->written = 0;
	c->state = CK_RUN;
	c->pos = 0;
	c->ret = -1;
	c->err = 0;
	c->msg[0] = '\0';
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->threaded = !pthread_create(&c->thread, NULL, checker_run, c);
	m->ck = c;
}

static void checker_set(struct checker *c, uint64_t written,
			enum checker_state state)
{
	pthread_mutex_lock(&c->lock);
	c->written = written;
	c->state = state;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/*
 * Each byte was read once, after write(2) put it in the file (the writer
 * only appends): the file must then hold exactly what was written.
 */
static int checker_size(const struct checker *c)
{
	struct stat st;

	if (fstat(c->fd, &st) < 0)
		return bs_fail_errno(errno, "%s", c->name);
	if ((uint64_t)st.st_size != c->written)
		return bs_fail("%s: damaged archive: the file holds %llu bytes, not the %llu written",
			       c->name, (unsigned long long)st.st_size,
			       (unsigned long long)c->written);
	return 0;
}

/*
 * Ends the checker.  With @want, the output is complete: the read ends
 * and its blocks must be those of @want; 0, or -1 with why.  Without,
 * the writing failed: the read stops, whatever it found.
 */
static int checker_end(struct merge *m, const struct blksnap_hash_index *want)
{
	struct checker *c = m->ck;
	int ret;

	if (!c)
		return 0;
	m->ck = NULL;
	checker_set(c, want ? blksnap_writer_bytes(m->w) : c->written,
		    want ? CK_DONE : CK_QUIT);
	if (c->threaded)
		pthread_join(c->thread, NULL);
	else if (want)
		checker_run(c);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	if (c->ret)
		return want ? bs_fail_with(c->err, c->msg) : 0;
	ret = !want ? 0 : checker_size(c);
	if (!ret && want && !same_index(&c->ix, want))
		ret = bs_fail("%s: the merged archive does not hold the chain's blocks",
			      c->name);
	blksnap_hash_index_free(&c->ix);
	return ret;
}

/*
 * The end of the result's checks, @want the index it must hold, while
 * its bytes go to disk: the flusher's fsync runs beside the end of the
 * read.  Both must succeed before the rename; without a flusher,
 * blksnap_output_commit()'s fsync is the only one.
 */
static int check_and_sync(struct merge *m, const struct blksnap_hash_index *want)
{
	int ret, err;

	if (m->fl)
		flusher_set(m->fl, m->fl->written, FL_SYNC);
	ret = checker_end(m, want);
	err = flusher_end(m, true);
	if (err && !ret)
		ret = bs_fail_errno(err, "%s: cannot write", m->o->output);
	return ret;
}

/*
 * Tells the checker what was written, and the flusher every
 * WRITEBACK_STEP bytes.
 */
static void tell_written(struct merge *m)
{
	uint64_t now = blksnap_writer_bytes(m->w);

	if (m->ck)
		checker_set(m->ck, now, CK_RUN);
	if (!m->fl || now - m->told < WRITEBACK_STEP)
		return;
	flusher_set(m->fl, now, FL_RUN);
	m->told = now;
}

/* Pass 3: the full archive's data, where no incremental replaced it. */
static int full_sink(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct merge *m = ctx;
	const char *p = buf;
	uint64_t end = off + len;

	progress(m, len);
	tell_written(m);
	while (off < end) {
		uint64_t b = off / m->hbs;
		uint64_t n = BS_MIN(end, b * m->hbs + block_len(m, b)) - off;

		if (m->res[b] == RES_FULL) {
			/* The full's own blocks that follow go with it. */
			while (off + n < end && m->res[++b] == RES_FULL)
				n = BS_MIN(end, b * m->hbs + block_len(m, b)) - off;
			if (emit_until(m, off))
				return -1;
			if (m->pos != off)
				return bs_fail("%s: damaged archive: image data at %llu comes twice",
					       m->o->chain[0], (unsigned long long)off);
			if (blksnap_writer_image_data(m->w, p, (size_t)n))
				return -1;
			m->pos += n;
		} else if (m->res[b] == RES_BUILD_FULL) {
			/* The full's block, whole, then built on. */
			uint64_t at = off - b * m->hbs;

			/* What comes before it first: m->block is then free. */
			if (!at) {
				if (emit_until(m, off))
					return -1;
				if (m->pos != off)
					return bs_fail("%s: damaged archive: image data at %llu comes twice",
						       m->o->chain[0], (unsigned long long)off);
				m->fill_block = b;
				m->fill = 0;
			}
			if (m->fill_block != b || m->fill != at)
				return bs_fail("%s: damaged archive: image data at %llu is not in order",
					       m->o->chain[0], (unsigned long long)off);
			memcpy(m->block + at, p, (size_t)n);
			m->fill += n;
			if (m->fill == block_len(m, b)) {
				m->fill_block = UINT64_MAX;
				if (build_block(m, b))
					return -1;
			}
		}
		off += n;
		p += n;
	}
	return 0;
}

static int stream_full(struct merge *m)
{
	struct blksnap_hash_index ix;
	struct blksnap_archive *a;
	int ret;

	if (open_member(m, 0, &a))
		return -1;
	ret = blksnap_archive_read_image(a, full_sink, m, &ix, NULL);
	blksnap_archive_close(a);
	if (ret)
		return -1;
	ret = same_index(&ix, &m->full_ix) ? 0 :
	      bs_fail("%s: changed while being read", m->o->chain[0]);
	blksnap_hash_index_free(&ix);
	if (ret || emit_until(m, m->size))
		return -1;
	if (m->missing)
		return bs_fail("%s: damaged archive: image data its index holds is missing",
			       m->o->chain[0]);
	return 0;
}

static int add_owned(struct merge *m, uint64_t b, struct blksnap_hash_index *ix)
{
	return m->res[b] == RES_NONE ? 0 :
	       blksnap_hash_index_add(ix, b * m->hbs, m->hash[b]);
}

static int write_result(struct merge *m, struct blksnap_manifest *r)
{
	struct blksnap_hash_index ix;
	struct flusher fl;
	struct checker ck;
	char *text = NULL;
	void *index = NULL;
	size_t tlen, ilen;
	uint64_t b;
	int ret = -1;

	fill_manifest(m, r);
	blksnap_hash_index_init(&ix, m->hbs, m->size);
	flusher_start(m, &fl);
	checker_start(m, &ck, r);
	if (blksnap_manifest_format(r, &text, &tlen) ||
	    blksnap_writer_open(m->out.fd, m->o->output, &m->o->compress, &m->w) ||
	    blksnap_writer_add_file(m->w, BLKSNAP_ENTRY_MANIFEST, text, tlen) ||
	    blksnap_writer_begin_image(m->w, r->image_name, m->size, &m->data) ||
	    stream_full(m))
		goto out;
	/* The hashes of the blocks built are known once they were built. */
	for (b = 0; b < m->blocks; b++)
		if (add_owned(m, b, &ix))
			goto out;
	if (blksnap_hash_index_encode(&ix, &index, &ilen) ||
	    blksnap_writer_add_file(m->w, BLKSNAP_ENTRY_HASHES, index, ilen) ||
	    blksnap_writer_finish(m->w) ||
	    check_and_sync(m, &ix) ||
	    blksnap_output_commit(&m->out))
		goto out;
	ret = m->o->manifest_out ?
	      blksnap_manifest_file_write(m->o->manifest_out, text, tlen,
					  index, ilen) : 0;
out:
	checker_end(m, NULL);
	flusher_end(m, false);
	free(text);
	free(index);
	blksnap_hash_index_free(&ix);
	return ret;
}

/* Sizes and the places the result and the scratch file take. */
static int prepare(struct merge *m)
{
	const struct blksnap_merge_opts *o = m->o;
	char *dir;
	size_t i;

	if (!o->count)
		return bs_fail("no archive given");
	if (blksnap_chain_read_manifests(o->chain, o->count, m->ms))
		return -1;
	m->hbs = m->fine = m->ms[0].hash_block_size;
	/* The chain's check made each divide the one before. */
	for (i = 1; i < o->count; i++)
		m->fine = BS_MIN(m->fine, m->ms[i].hash_block_size);
	m->size = m->ms[0].size;
	m->blocks = blksnap_block_count(m->size, m->hbs);
	m->fblocks = blksnap_block_count(m->size, m->fine);
	for (i = 0; i < o->count; i++)
		m->total += m->ms[i].data_bytes;
	if (m->fblocks > SIZE_MAX / sizeof(*m->fhash))
		return bs_fail("%s: too many hash blocks to merge", o->chain[0]);
	m->owner = bs_calloc((size_t)m->fblocks, 1);
	m->fhash = bs_calloc((size_t)m->fblocks, sizeof(*m->fhash));
	m->res = bs_calloc((size_t)m->blocks, 1);
	m->hash = bs_calloc((size_t)m->blocks, sizeof(*m->hash));
	m->block = bs_malloc(m->hbs);
	m->fbuf = bs_malloc(m->fine);
	if (!m->owner || !m->fhash || !m->res || !m->hash || !m->block ||
	    !m->fbuf)
		return -1;
	if (blksnap_output_create(&m->out, o->output))
		return -1;
	if (!m->out.tmp_path)
		return bs_fail("%s: the merged archive goes to a regular file, written under a temporary name and renamed when verified",
			       o->output);
	dir = bs_strdup(m->out.tmp_path);
	if (!dir)
		return -1;
	m->scratch = bs_open_anonymous(dirname(dir));
	if (m->scratch < 0)
		bs_fail_errno(errno, "%s: cannot create a scratch file for the incrementals' data in its directory",
			      o->output);
	free(dir);
	return m->scratch < 0 ? -1 : 0;
}

int blksnap_merge(const struct blksnap_merge_opts *o,
		  struct blksnap_manifest *manifest)
{
	struct merge m = { .o = o, .scratch = -1, .out = { .fd = -1 },
			   .fill_block = UINT64_MAX };
	struct blksnap_manifest r;
	size_t i;
	int ret = -1;

	blksnap_ranges_init(&m.data);
	blksnap_ranges_init(&m.zeros);
	blksnap_hash_index_init(&m.full_ix, 0, 0);
	m.ms = bs_calloc(o->count ? o->count : 1, sizeof(*m.ms));
	if (!m.ms || prepare(&m) || plan_full(&m))
		goto out;
	for (i = 1; i < o->count; i++)
		if (read_incremental(&m, i))
			goto out;
	if (plan_result(&m) || write_result(&m, &r))
		goto out;
	if (manifest)
		*manifest = r;
	ret = 0;
out:
	blksnap_output_abort(&m.out);
	if (m.scratch >= 0)
		close(m.scratch);
	blksnap_writer_free(m.w);
	blksnap_hash_index_free(&m.full_ix);
	blksnap_ranges_free(&m.data);
	blksnap_ranges_free(&m.zeros);
	free(m.block);
	free(m.fbuf);
	free(m.hash);
	free(m.res);
	free(m.fhash);
	free(m.owner);
	free(m.ms);
	return ret;
}
