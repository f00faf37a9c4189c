// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Seekable zstd (lib/zstd-seekable.h): a writer that compresses frames
 * on several threads and writes them in order with the seek table at
 * the end, and a reader that decompresses only the frames a range needs.
 *
 * The writer's caller fills one slot (a frame's uncompressed bytes) at
 * a time; a full slot is queued, the workers compress queued slots in
 * any order, and the caller writes compressed slots out in the order of
 * their frames, on its own thread, as soon as they are ready and before
 * it reuses a slot.
 */

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"
#include "xxh.h"
#include "zstd-load.h"
#include "zstd-seekable.h"

/* More threads than this do not help; each holds two slots of ~1 MiB. */
#define ZSEEK_MAX_THREADS	64

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* A message with errno EIO, without strerror's text appended. */
static int fail_eio(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail_eio(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bs_fail_with(EIO, msg);
}

/* ---- Writer ------------------------------------------------------------ */

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE };

struct slot {
	enum slot_state state;
	unsigned char *in, *out;
	size_t in_len, out_len;
	size_t zerr;		/* a zstd error code, or 0 */
};

struct zseek_writer {
	char *name;
	int level;
	zseek_write_fn out;
	void *ctx;

	pthread_mutex_t lock;
	pthread_cond_t work;	/* a slot was queued, or stop */
	pthread_cond_t done;	/* a slot was compressed */
	struct slot *slots;
	size_t nslots;
	size_t out_cap;		/* compressBound of a whole frame */
	uint64_t filling;	/* frame number of the slot being filled */
	uint64_t queued;	/* frames queued so far (all below filling) */
	uint64_t taken;		/* frames a worker took */
	uint64_t written;	/* frames written out */
	bool stop;
	bool failed;		/* an error was returned: refuse more */

	pthread_t *threads;
	int nthreads;
	int started;

	/* The seek table: per frame written, its sizes. */
	uint32_t *sizes;	/* compressed, decompressed, pairs */
	size_t sizes_alloc;
	uint64_t out_bytes, in_bytes;
};

static struct slot *slot_of(struct zseek_writer *w, uint64_t frame)
{
	return &w->slots[frame % w->nslots];
}

static void *worker(void *arg)
{
	struct zseek_writer *w = arg;
	ZSTD_CCtx *cctx = zs.createCCtx();
	/* A failure here fails every frame this thread takes. */
	size_t err = cctx ? 0 : (size_t)-1;

	if (cctx) {
		err = zs.CCtx_setParameter(cctx, ZSTD_c_compressionLevel, w->level);
		if (!zs.isError(err))
			err = zs.CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
		if (!zs.isError(err))
			err = zs.CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
		if (!zs.isError(err))
			err = 0;
	}
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct slot *s;
		size_t r;

		while (!w->stop && w->taken == w->queued)
			pthread_cond_wait(&w->work, &w->lock);
		if (w->stop)
			break;
		s = slot_of(w, w->taken++);
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&w->lock);
		r = err ? err : zs.compress2(cctx, s->out, w->out_cap, s->in,
					     s->in_len);
		pthread_mutex_lock(&w->lock);
		if (zs.isError(r)) {
			s->zerr = r;
			s->out_len = 0;
		} else {
			s->zerr = 0;
			s->out_len = r;
		}
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->lock);
	if (cctx)
		zs.freeCCtx(cctx);
	return NULL;
}

int zseek_writer_open(const char *name, int level, int threads,
		      zseek_write_fn out, void *ctx, struct zseek_writer **wp)
{
	struct zseek_writer *w;
	size_t i;

	if (zs_ready())
		return -1;
	if (level == -1)
		level = ZSTD_CLEVEL_DEFAULT;
	if (level < 1 || level > 22)
		return bs_fail("%s: zstd level %d is not from 1 to 22", name, level);
	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (int)BS_MIN(n, (long)ZSEEK_MAX_THREADS) : 1;
	}
	threads = BS_MIN(threads, ZSEEK_MAX_THREADS);
	w = bs_calloc(1, sizeof(*w));
	if (!w)
		return -1;
	w->name = bs_strdup(name);
	w->level = level;
	w->out = out;
	w->ctx = ctx;
	w->out_cap = zs.compressBound(ZSEEK_FRAME_SIZE);
	/* Two slots a thread keep them all busy while the caller fills one. */
	w->nslots = (size_t)threads * 2 + 1;
	w->slots = bs_calloc(w->nslots, sizeof(*w->slots));
	w->threads = bs_calloc((size_t)threads, sizeof(*w->threads));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);
	w->nthreads = threads;
	if (!w->name || !w->slots || !w->threads)
		goto fail;
	for (i = 0; i < w->nslots; i++) {
		w->slots[i].in = bs_malloc(ZSEEK_FRAME_SIZE);
		w->slots[i].out = bs_malloc(w->out_cap);
		if (!w->slots[i].in || !w->slots[i].out)
			goto fail;
	}
	for (; w->started < threads; w->started++) {
		int err = pthread_create(&w->threads[w->started], NULL, worker, w);

		if (err) {
			bs_fail_errno(err, "%s: cannot start a compression thread",
				      name);
			goto fail;
		}
	}
	*wp = w;
	return 0;
fail:
	zseek_writer_free(w);
	return -1;
}

/* Writes out the oldest frame, waiting for it when @wait; 1: not ready. */
static int write_oldest(struct zseek_writer *w, bool wait)
{
	struct slot *s = slot_of(w, w->written);
	char zmsg[128];
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	while (wait && s->state != SLOT_DONE)
		pthread_cond_wait(&w->done, &w->lock);
	if (s->state != SLOT_DONE) {
		pthread_mutex_unlock(&w->lock);
		return 1;
	}
	pthread_mutex_unlock(&w->lock);
	/* A done slot is the caller's until it is freed. */
	if (s->zerr) {
		bs_strlcpy(zmsg, s->zerr == (size_t)-1 ? "out of memory" :
			   zs.getErrorName(s->zerr), sizeof(zmsg));
		return bs_fail("%s: zstd compression of frame %llu failed: %s",
			       w->name, (unsigned long long)w->written, zmsg);
	}
	if (bs_grow((void **)&w->sizes, &w->sizes_alloc,
		    (size_t)(w->written + 1) * 2, sizeof(*w->sizes)))
		return -1;
	ret = w->out(w->ctx, s->out, s->out_len);
	if (ret)
		return -1;
	w->sizes[w->written * 2] = (uint32_t)s->out_len;
	w->sizes[w->written * 2 + 1] = (uint32_t)s->in_len;
	w->out_bytes += s->out_len;
	w->in_bytes += s->in_len;
	pthread_mutex_lock(&w->lock);
	s->state = SLOT_FREE;
	s->in_len = 0;
	w->written++;
	pthread_mutex_unlock(&w->lock);
	return 0;
}

/* Queues the slot being filled (when it holds anything). */
static void queue_filling(struct zseek_writer *w)
{
	struct slot *s = slot_of(w, w->filling);

	if (!s->in_len)
		return;
	pthread_mutex_lock(&w->lock);
	s->state = SLOT_QUEUED;
	w->queued = ++w->filling;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
}

static int check_usable(struct zseek_writer *w)
{
	return w->failed ? bs_fail("%s: internal error: the zstd writer failed before",
				   w->name) : 0;
}

int zseek_writer_write(struct zseek_writer *w, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (check_usable(w))
		return -1;
	while (len) {
		struct slot *s = slot_of(w, w->filling);
		size_t n;
		int r = 0;

		/* The slot to fill is still the frame nslots back: write it. */
		while (w->written + w->nslots <= w->filling) {
			if (write_oldest(w, true))
				goto fail;
		}
		n = BS_MIN(len, (size_t)ZSEEK_FRAME_SIZE - s->in_len);
		memcpy(s->in + s->in_len, p, n);
		s->in_len += n;
		p += n;
		len -= n;
		if (s->in_len < ZSEEK_FRAME_SIZE)
			continue;
		queue_filling(w);
		/* Whatever is ready goes out now, in order. */
		while (w->written < w->queued && !(r = write_oldest(w, false)))
			;
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	w->failed = true;
	return -1;
}

int zseek_writer_end_frame(struct zseek_writer *w, uint64_t *out_bytes,
			   uint64_t *in_bytes)
{
	if (check_usable(w))
		return -1;
	queue_filling(w);
	while (w->written < w->queued) {
		if (write_oldest(w, true)) {
			w->failed = true;
			return -1;
		}
	}
	if (out_bytes)
		*out_bytes = w->out_bytes;
	if (in_bytes)
		*in_bytes = w->in_bytes;
	return 0;
}

/* zstd's raw block: at most 128 KiB, a 3-byte header of its size. */
#define ZSTD_RAW_BLOCK	(128u << 10)

/*
 * @len bytes of @in as a zstd frame of raw blocks into @out: magic,
 * descriptor (single segment, 4-byte content size, checksum), content
 * size, blocks, the low 32 bits of XXH64.  Its size.
 */
static size_t stored_frame(unsigned char *out, const unsigned char *in,
			   size_t len)
{
	unsigned char *p = out;
	size_t at = 0;

	put_le32(p, ZSTD_MAGICNUMBER);
	p[4] = 0xA4;	/* content size on 4 bytes, single segment, checksum */
	put_le32(p + 5, (uint32_t)len);
	p += 9;
	do {
		size_t n = BS_MIN(len - at, (size_t)ZSTD_RAW_BLOCK);
		uint32_t h = (uint32_t)n << 3 | (at + n == len ? 1u : 0u);

		p[0] = (unsigned char)h;
		p[1] = (unsigned char)(h >> 8);
		p[2] = (unsigned char)(h >> 16);
		memcpy(p + 3, in + at, n);
		p += 3 + n;
		at += n;
	} while (at < len);
	put_le32(p, (uint32_t)XXH64(in, len, 0));
	return (size_t)(p + 4 - out);
}

int zseek_writer_end_frame_stored(struct zseek_writer *w,
				  uint64_t *out_bytes, uint64_t *in_bytes)
{
	struct slot *s = slot_of(w, w->filling);

	if (check_usable(w))
		return -1;
	/* The frames before it out first: none queued, none taken. */
	while (w->written < w->queued) {
		if (write_oldest(w, true)) {
			w->failed = true;
			return -1;
		}
	}
	if (s->in_len) {
		/* A frame's raw blocks and header fit in compressBound's. */
		s->out_len = stored_frame(s->out, s->in, s->in_len);
		s->zerr = 0;
		pthread_mutex_lock(&w->lock);
		s->state = SLOT_DONE;
		w->taken = w->queued = ++w->filling;
		pthread_mutex_unlock(&w->lock);
	}
	return zseek_writer_end_frame(w, out_bytes, in_bytes);
}

const uint32_t *zseek_writer_table(const struct zseek_writer *w, uint64_t *n)
{
	*n = w->written;
	return w->sizes;
}

int zseek_writer_preload(struct zseek_writer *w, const uint32_t *sizes,
			 uint64_t n)
{
	uint64_t i;

	if (check_usable(w))
		return -1;
	if (w->written || w->filling || slot_of(w, 0)->in_len)
		return bs_fail("%s: internal error: frames preloaded after data",
			       w->name);
	if (n > UINT32_MAX)
		return bs_fail("%s: too many zstd frames for a seek table (%llu)",
			       w->name, (unsigned long long)n);
	if (bs_grow((void **)&w->sizes, &w->sizes_alloc, (size_t)n * 2,
		    sizeof(*w->sizes)))
		return -1;
	for (i = 0; i < n; i++) {
		if (sizes[2 * i + 1] > ZSEEK_MAX_FRAME ||
		    (sizes[2 * i + 1] && !sizes[2 * i]))
			return bs_fail("%s: preloaded frame %llu is not one this writer wrote",
				       w->name, (unsigned long long)i);
		w->sizes[2 * i] = sizes[2 * i];
		w->sizes[2 * i + 1] = sizes[2 * i + 1];
		w->out_bytes += sizes[2 * i];
		w->in_bytes += sizes[2 * i + 1];
	}
	/* Frame numbers go on from there: the slots are all free. */
	w->written = w->filling = w->queued = w->taken = n;
	return 0;
}

int zseek_writer_finish(struct zseek_writer *w)
{
	unsigned char *t, *p;
	uint64_t n = 0, i, size;
	int ret;

	if (zseek_writer_end_frame(w, NULL, NULL))
		return -1;
	n = w->written;
	size = n * 8 + ZSEEK_FOOTER_SIZE;
	if (n > UINT32_MAX || size > UINT32_MAX) {
		w->failed = true;
		return bs_fail("%s: too many zstd frames for a seek table (%llu)",
			       w->name, (unsigned long long)n);
	}
	t = bs_malloc((size_t)size + 8);
	if (!t)
		return -1;
	put_le32(t, ZSEEK_SKIPPABLE_MAGIC);
	put_le32(t + 4, (uint32_t)size);
	p = t + 8;
	for (i = 0; i < n; i++, p += 8) {
		put_le32(p, w->sizes[i * 2]);
		put_le32(p + 4, w->sizes[i * 2 + 1]);
	}
	put_le32(p, (uint32_t)n);
	p[4] = 0;	/* descriptor: no checksums in the entries */
	put_le32(p + 5, ZSEEK_SEEKABLE_MAGIC);
	ret = w->out(w->ctx, t, (size_t)size + 8);
	free(t);
	if (ret)
		w->failed = true;
	else
		w->out_bytes += size + 8;
	return ret ? -1 : 0;
}

void zseek_writer_free(struct zseek_writer *w)
{
	size_t i;
	int k;

	if (!w)
		return;
	if (w->threads) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_broadcast(&w->work);
		pthread_mutex_unlock(&w->lock);
		for (k = 0; k < w->started; k++)
			pthread_join(w->threads[k], NULL);
	}
	pthread_cond_destroy(&w->done);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	for (i = 0; w->slots && i < w->nslots; i++) {
		free(w->slots[i].in);
		free(w->slots[i].out);
	}
	free(w->slots);
	free(w->threads);
	free(w->sizes);
	free(w->name);
	free(w);
}

/* ---- Reader ------------------------------------------------------------ */

struct zseek_reader {
	zseek_pread_fn pread;
	void *ctx;
	char *name;
	uint64_t size;		/* of the compressed file */
	uint32_t frames;
	uint64_t *c_off;	/* frames + 1: where each frame starts */
	uint64_t *d_off;	/* frames + 1: its first uncompressed byte */
	uint32_t *checksum;	/* NULL: the table has none */
	ZSTD_DCtx *dctx;
	unsigned char *cbuf, *dbuf;
	size_t cbuf_size, dbuf_size;
	uint32_t cached;	/* the frame in dbuf, or UINT32_MAX */
	int fd;			/* zseek_reader_open_fd's, read by fd_pread */
};

static int read_exact(struct zseek_reader *r, void *buf, size_t len,
		      uint64_t off)
{
	ssize_t n = r->pread(r->ctx, buf, len, off);

	if (n < 0)
		return bs_fail_errno(errno, "%s: read error at byte %llu",
				     r->name, (unsigned long long)off);
	if ((size_t)n != len)
		return fail_eio("%s: the file ends before byte %llu (it shrank?)",
				r->name, (unsigned long long)(off + len));
	return 0;
}

/* Parses the seek table in @tab (@len bytes: the whole skippable frame). */
static int parse_table(struct zseek_reader *r, const unsigned char *tab,
		       size_t len, bool checksums)
{
	size_t esz = checksums ? 12 : 8, i;
	uint64_t c = 0, d = 0;
	uint32_t max_c = 0, max_d = 0;

	for (i = 0; i < r->frames; i++) {
		const unsigned char *e = tab + 8 + i * esz;
		uint32_t cs = get_le32(e), ds = get_le32(e + 4);

		if (ds > ZSEEK_MAX_FRAME)
			return fail_eio("%s: seek table: frame %zu holds %u bytes, more than the %u this reader takes",
					r->name, i, ds, ZSEEK_MAX_FRAME);
		if (ds && !cs)
			return fail_eio("%s: damaged seek table: frame %zu holds %u bytes in none",
					r->name, i, ds);
		r->c_off[i] = c;
		r->d_off[i] = d;
		if (checksums)
			r->checksum[i] = get_le32(e + 8);
		c += cs;
		d += ds;
		if (ds) {
			max_c = BS_MAX(max_c, cs);
			max_d = BS_MAX(max_d, ds);
		}
	}
	r->c_off[r->frames] = c;
	r->d_off[r->frames] = d;
	if (c != r->size - len)
		return fail_eio("%s: damaged seek table: its frames add up to %llu bytes, the file has %llu before the table",
				r->name, (unsigned long long)c,
				(unsigned long long)(r->size - len));
	/* A frame's compressed size is bounded by the file's: checked above. */
	r->cbuf_size = max_c;
	r->dbuf_size = max_d;
	return 0;
}

static ssize_t fd_pread(void *ctx, void *buf, size_t len, uint64_t offset)
{
	const struct zseek_reader *r = ctx;

	return bs_pread_all(r->fd, buf, len, offset);
}

/* A reader without frames yet; @fd >= 0: read through fd_pread. */
static struct zseek_reader *reader_new(zseek_pread_fn pread, void *ctx, int fd,
				       uint64_t size, const char *name)
{
	struct zseek_reader *r;

	if (zs_ready())
		return NULL;
	r = bs_calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->fd = fd;
	r->pread = fd >= 0 ? fd_pread : pread;
	r->ctx = fd >= 0 ? r : ctx;
	r->size = size;
	r->cached = UINT32_MAX;
	r->name = bs_strdup(name);
	if (!r->name) {
		free(r);
		return NULL;
	}
	return r;
}

/* @fd >= 0: read through fd_pread, @pread and @ctx unused. */
static int open_reader(zseek_pread_fn pread, void *ctx, int fd, uint64_t size,
		       const char *name, struct zseek_reader **rp)
{
	unsigned char foot[ZSEEK_FOOTER_SIZE], head[8], *tab = NULL;
	struct zseek_reader *r;
	uint64_t tlen;
	bool checksums;
	int ret = -1;

	r = reader_new(pread, ctx, fd, size, name);
	if (!r)
		return -1;
	if (size < 8 + ZSEEK_FOOTER_SIZE) {
		ret = 1;
		bs_fail("%s: no zstd seek table (the file has %llu bytes)", name,
			(unsigned long long)size);
		goto out;
	}
	if (read_exact(r, foot, sizeof(foot), size - sizeof(foot)))
		goto out;
	if (get_le32(foot + 5) != ZSEEK_SEEKABLE_MAGIC) {
		ret = 1;
		bs_fail("%s: no zstd seek table at its end (a single zstd stream?)",
			name);
		goto out;
	}
	if (foot[4] & ZSEEK_RESERVED_BITS) {
		fail_eio("%s: seek table descriptor 0x%02x has reserved bits set",
			 name, foot[4]);
		goto out;
	}
	checksums = foot[4] & ZSEEK_CHECKSUM_FLAG;
	r->frames = get_le32(foot);
	tlen = 8 + (uint64_t)r->frames * (checksums ? 12 : 8) + ZSEEK_FOOTER_SIZE;
	if (tlen > size) {
		fail_eio("%s: damaged seek table: %u frames do not fit in %llu bytes",
			 name, r->frames, (unsigned long long)size);
		goto out;
	}
	if (read_exact(r, head, sizeof(head), size - tlen))
		goto out;
	if (get_le32(head) != ZSEEK_SKIPPABLE_MAGIC ||
	    get_le32(head + 4) != tlen - 8) {
		fail_eio("%s: damaged seek table: no skippable frame of %llu bytes at byte %llu",
			 name, (unsigned long long)(tlen - 8),
			 (unsigned long long)(size - tlen));
		goto out;
	}
	tab = bs_malloc((size_t)tlen);
	r->c_off = bs_calloc((size_t)r->frames + 1, sizeof(*r->c_off));
	r->d_off = bs_calloc((size_t)r->frames + 1, sizeof(*r->d_off));
	if (checksums)
		r->checksum = bs_calloc(BS_MAX((size_t)r->frames, (size_t)1),
					sizeof(*r->checksum));
	if (!tab || !r->c_off || !r->d_off || (checksums && !r->checksum))
		goto out;
	if (read_exact(r, tab, (size_t)tlen, size - tlen) ||
	    parse_table(r, tab, (size_t)tlen, checksums))
		goto out;
	ret = 0;
out:
	free(tab);
	if (ret) {
		zseek_reader_close(r);
		return ret;
	}
	*rp = r;
	return 0;
}

int zseek_reader_open(zseek_pread_fn pread, void *ctx, uint64_t size,
		      const char *name, struct zseek_reader **rp)
{
	return open_reader(pread, ctx, -1, size, name, rp);
}

int zseek_reader_open_fd(int fd, const char *name, struct zseek_reader **rp)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return bs_fail_errno(errno, "%s", name);
	if (!S_ISREG(st.st_mode))
		return bs_fail("%s: not a regular file: no random access", name);
	return open_reader(NULL, NULL, fd, (uint64_t)st.st_size, name, rp);
}

uint64_t zseek_reader_size(const struct zseek_reader *r)
{
	return r->d_off[r->frames];
}

uint32_t zseek_reader_frames(const struct zseek_reader *r)
{
	return r->frames;
}

/* The frame holding uncompressed byte @off (< the size), by bisection. */
static uint32_t frame_at(const struct zseek_reader *r, uint64_t off)
{
	uint32_t lo = 0, hi = r->frames;	/* d_off[lo] <= off < d_off[hi] */

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r->d_off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int load_frame(struct zseek_reader *r, uint32_t f)
{
	uint64_t at = r->c_off[f];
	size_t clen = (size_t)(r->c_off[f + 1] - at);
	size_t dlen = (size_t)(r->d_off[f + 1] - r->d_off[f]);
	size_t got;

	if (r->cached == f)
		return 0;
	r->cached = UINT32_MAX;
	if (!r->dctx) {
		r->dctx = zs.createDCtx();
		r->cbuf = bs_malloc(r->cbuf_size);
		r->dbuf = bs_malloc(r->dbuf_size);
		if (!r->dctx)
			return bs_fail_errno(ENOMEM, "%s", r->name);
		if (!r->cbuf || !r->dbuf)
			return -1;
	}
	if (read_exact(r, r->cbuf, clen, at))
		return -1;
	got = zs.decompressDCtx(r->dctx, r->dbuf, dlen, r->cbuf, clen);
	if (zs.isError(got))
		return fail_eio("%s: damaged zstd frame %u at byte %llu: %s",
				r->name, f, (unsigned long long)at,
				zs.getErrorName(got));
	if (got != dlen)
		return fail_eio("%s: damaged zstd frame %u at byte %llu: it holds %zu bytes, its seek table says %zu",
				r->name, f, (unsigned long long)at, got, dlen);
	if (r->checksum &&
	    (uint32_t)XXH64(r->dbuf, dlen, 0) != r->checksum[f])
		return fail_eio("%s: damaged zstd frame %u at byte %llu: its checksum does not match the seek table's",
				r->name, f, (unsigned long long)at);
	r->cached = f;
	return 0;
}

int zseek_reader_read(struct zseek_reader *r, void *buf, size_t len,
		      uint64_t offset)
{
	unsigned char *p = buf;
	uint64_t total = zseek_reader_size(r);
	uint32_t f;

	if (offset > total || len > total - offset)
		return bs_fail_errno(EINVAL, "%s: %zu bytes at %llu are past the end (%llu bytes)",
				     r->name, len, (unsigned long long)offset,
				     (unsigned long long)total);
	if (!len)
		return 0;
	f = frame_at(r, offset);
	while (len) {
		size_t in, n;

		/* Frames that hold nothing (skippable ones) are passed over. */
		while (r->d_off[f + 1] <= offset)
			f++;
		if (load_frame(r, f))
			return -1;
		in = (size_t)(offset - r->d_off[f]);
		n = BS_MIN(len, (size_t)(r->d_off[f + 1] - offset));
		memcpy(p, r->dbuf + in, n);
		p += n;
		offset += n;
		len -= n;
	}
	return 0;
}

void zseek_reader_close(struct zseek_reader *r)
{
	if (!r)
		return;
	if (r->dctx)
		zs.freeDCtx(r->dctx);
	free(r->cbuf);
	free(r->dbuf);
	free(r->c_off);
	free(r->d_off);
	free(r->checksum);
	free(r->name);
	free(r);
}

/* ---- A file cut short ---------------------------------------------------- */

int zseek_partial_scan(int fd, const char *name, uint64_t size,
		       uint32_t frame_size, uint32_t **sizes, uint64_t *n)
{
	uint32_t *v = NULL;
	size_t cap, alloc = 0;
	unsigned char *buf;
	uint64_t off = 0, k = 0;
	int ret = -1;

	*sizes = NULL;
	*n = 0;
	if (zs_ready())
		return -1;
	/* A frame of @frame_size bytes compresses to this at most. */
	cap = zs.compressBound(frame_size);
	buf = bs_malloc(cap);
	if (!buf)
		return -1;
	while (off < size && k < UINT32_MAX) {
		size_t len = (size_t)BS_MIN((uint64_t)cap, size - off), flen;
		ssize_t got = bs_pread_all(fd, buf, len, off);
		unsigned long long content;

		if (got < 0) {
			bs_fail_errno(errno, "%s: read error at byte %llu", name,
				      (unsigned long long)off);
			goto out;
		}
		if ((size_t)got != len) {
			fail_eio("%s: the file ends before byte %llu (it shrank?)",
				 name, (unsigned long long)(off + len));
			goto out;
		}
		if (len < 4 || get_le32(buf) != ZSTD_MAGICNUMBER)
			break;
		flen = zs.findFrameCompressedSize(buf, len);
		content = zs.getFrameContentSize(buf, len);
		if (zs.isError(flen) || !content || content > frame_size ||
		    (k && content != frame_size))
			break;
		if (bs_grow((void **)&v, &alloc, (size_t)(k + 1) * 2, sizeof(*v)))
			goto out;
		v[2 * k] = (uint32_t)flen;
		v[2 * k + 1] = (uint32_t)content;
		k++;
		off += flen;
	}
	*sizes = v;
	*n = k;
	v = NULL;
	ret = 0;
out:
	free(v);
	free(buf);
	return ret;
}

int zseek_reader_open_frames(int fd, const char *name, const uint32_t *sizes,
			     uint64_t n, struct zseek_reader **rp)
{
	struct zseek_reader *r;
	uint64_t c = 0, d = 0, i;

	if (n >= UINT32_MAX)
		return bs_fail("%s: too many zstd frames (%llu)", name,
			       (unsigned long long)n);
	r = reader_new(NULL, NULL, fd, 0, name);
	if (!r)
		return -1;
	r->frames = (uint32_t)n;
	r->c_off = bs_calloc((size_t)n + 1, sizeof(*r->c_off));
	r->d_off = bs_calloc((size_t)n + 1, sizeof(*r->d_off));
	if (!r->c_off || !r->d_off) {
		zseek_reader_close(r);
		return -1;
	}
	for (i = 0; i < n; i++) {
		r->c_off[i] = c;
		r->d_off[i] = d;
		c += sizes[2 * i];
		d += sizes[2 * i + 1];
		r->cbuf_size = BS_MAX(r->cbuf_size, (size_t)sizes[2 * i]);
		r->dbuf_size = BS_MAX(r->dbuf_size, (size_t)sizes[2 * i + 1]);
	}
	r->c_off[n] = c;
	r->d_off[n] = d;
	r->size = c;
	*rp = r;
	return 0;
}

int zseek_partial_head(int fd, const char *name, void *buf, size_t len,
		       size_t *got)
{
	enum { CHUNK = 64 << 10 };
	ZSTD_outBuffer ob = { buf, len, 0 };
	unsigned char *in = NULL;
	ZSTD_DCtx *d = NULL;
	uint64_t off = 0;
	int ret = -1;

	*got = 0;
	if (zs_ready())
		return -1;
	d = zs.createDCtx();
	in = bs_malloc(CHUNK);
	if (!d || !in) {
		if (!d)
			bs_fail_errno(ENOMEM, "%s", name);
		goto out;
	}
	while (ob.pos < ob.size) {
		ssize_t n = bs_pread_all(fd, in, CHUNK, off);
		ZSTD_inBuffer ib = { in, 0, 0 };

		if (n < 0) {
			bs_fail_errno(errno, "%s: read error at byte %llu", name,
				      (unsigned long long)off);
			goto out;
		}
		if (!off && n >= 4 && get_le32(in) != ZSTD_MAGICNUMBER) {
			fail_eio("%s: does not start as a zstd stream", name);
			goto out;
		}
		if (n < 4 && !off)
			break;
		if (!n)
			break;
		ib.size = (size_t)n;
		while (ib.pos < ib.size && ob.pos < ob.size) {
			size_t r = zs.decompressStream(d, &ob, &ib);

			if (zs.isError(r)) {
				fail_eio("%s: damaged zstd data before byte %llu: %s",
					 name, (unsigned long long)(off + ib.pos),
					 zs.getErrorName(r));
				goto out;
			}
		}
		off += (uint64_t)n;
	}
	*got = ob.pos;
	ret = 0;
out:
	if (d)
		zs.freeDCtx(d);
	free(in);
	return ret;
}
