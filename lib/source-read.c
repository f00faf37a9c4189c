// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Reading and hashing a source's regions on several threads, delivering
 * them in order.
 *
 * A read from the page cache is a copy that costs about three times
 * what hashing the same bytes does, and one thread pays both one after
 * the other.  Handing the pieces from a reader thread to a hashing
 * thread through a ring of 1 or 4 MiB was measured slower than one
 * thread: the copies into the ring cost four times more (a buffer
 * larger than the core's own cache, or one the other core had just
 * read; not told apart).  So each thread here reads a stripe of
 * consecutive pieces into its own small buffer and hashes each piece
 * while it is still in its cache; the stripes then go to the caller in
 * order, one at a time, from the thread that read them.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "internal.h"
#include "read-batch.h"

/*
 * Bytes of pieces a thread reads and hashes before its turn to deliver
 * (its buffer, the pieces packed in it), and the largest piece it reads
 * with one system call.  A 256 KiB stripe of 128 KiB reads was chosen
 * when a 512 KiB buffer made the copies three times slower (a core's L2
 * cache of 512 KiB); on the machines measured since, the calls cost
 * more than the cache: 2 GiB of random data, cached, sent with -c none
 * (the zero search left out) in 0.14 s with 256 KiB stripes of 128 KiB
 * reads, 0.14 s with 1 MiB stripes of 128 KiB reads, 0.12-0.13 s with
 * 1 MiB stripes of 1 MiB reads (cat: 0.15 s).  A stripe is bounded in
 * bytes, not pieces: one of scattered 64 KiB ranges holds 16 of them.
 */
#define STRIPE_BYTES	(1u << 20)
#define READ_BYTES	(1u << 20)
/* More threads than this do not copy faster. */
#define MAX_THREADS	4
/*
 * Less data than this is read on the caller's thread alone: a 1%
 * incremental of a 2 GiB image took 0.10 s instead of 0.03 s on a busy
 * machine when its stripes went back and forth between two threads,
 * each hand-over waiting for the other thread to be scheduled.
 */
#define THREADS_FROM	(64ull << 20)
/*
 * Once a read finds its data outside the page cache, the regions after
 * the one being read are read ahead, this many bytes of them (at most
 * this much of each).  Within a region the kernel's own read-ahead
 * follows the reads; from one region to the next it cannot know where
 * they go, and a scattered incremental read one 64 KiB range at a time
 * waits for the device once per range: 20 MiB in 328 ranges took 56 ms
 * where the page cache had none of it, 26 ms with 8 ranges read ahead.
 * Data already cached costs no advice (nor any syscall more).
 */
#define LOOKAHEAD_BYTES	(4u << 20)
/* Advice given at a time, outside the lock. */
#define LOOKAHEAD_MAX	16
/*
 * What a search for zero blocks reads of a block first: a block that
 * holds data almost always has some in its first page, and then the
 * rest of it is not read.
 */
#define PROBE_BYTES	4096u
/*
 * What a thread searches for zero blocks before its turn to deliver
 * their places: no data is kept, so a stripe can be long; with the
 * 256 KiB of a read, the hand-overs between threads took more time than
 * the search itself on a busy machine.
 */
#define PROBE_STRIPE_BYTES	(64u << 20)
/*
 * A search that finds a stripe outside the page cache asks the kernel
 * for it before probing it (POSIX_FADV_WILLNEED): one page at a time,
 * one in 16, the kernel's own read-ahead (128 KiB by default) made the
 * search wait for the device at almost every block.  2 GiB of random
 * data from a cold file took 2.0-2.7 s to send with -c none, against
 * 0.8-1.5 s with this advice (cat: 0.8-1.6 s).  The whole stripe is
 * asked for when the regions fit in this share of the memory available:
 * the data pass then finds them in the page cache.  Otherwise only each
 * block's first page is, so that the device is not read through twice.
 */
#define ADVISE_WHOLE_SHARE	2	/* 1/2 */
/*
 * First pages the search reads with one system call (lib/read-batch.c):
 * batches of 32 to 128 took the same time, 256 more.
 */
#define PROBE_BATCH	64u

struct piece {
	uint64_t offset;
	size_t len;
};

struct shared {
	const struct blksnap_source *src;
	const struct blksnap_ranges *regions;
	size_t chunk;		/* largest piece */
	uint32_t block;		/* hash block */
	size_t stripe;		/* most pieces in a stripe */
	size_t stripe_bytes;	/* most bytes in a stripe */
	bool probe;		/* finding zero blocks, not hashing */
	bool advise_whole;	/* a cold probed stripe is asked for whole */
	bs_deliver_fn deliver;
	void *ctx;

	pthread_mutex_t lock;
	pthread_cond_t turn_cond;
	size_t waiting;		/* threads waiting for their turn */
	/* Where the next stripe starts; taken under the lock. */
	size_t region;
	uint64_t pos;
	uint64_t next_stripe;	/* number of the next stripe to take */
	uint64_t turn;		/* number of the stripe to deliver next */
	bool stop;		/* an error, or the end */
	bool failed;
	bool cold;		/* a read found data outside the page cache */
	size_t ahead;		/* regions before this one were read ahead */
	char error[1024];
	int error_errno;
};

struct worker {
	struct shared *sh;
	char *buf;		/* stripe_bytes (a probe: chunk) */
	uint64_t *hashes;	/* a stripe's blocks */
	struct piece *pieces;	/* stripe */
	pthread_t thread;
	bool started;
	bool nowait;		/* RWF_NOWAIT reads are supported */
	/* The search's batches of first pages, or NULL: one read each. */
	struct bs_read_batch *batch;
	char *pages;		/* PROBE_BATCH * PROBE_BYTES */
	struct bs_read_req *reqs;	/* PROBE_BATCH */
	size_t *block_len;	/* PROBE_BATCH: the blocks the pages begin */
};

/*
 * The next piece's place, at most @room bytes (a multiple of the block),
 * or false at the end; under the lock.
 */
static bool next_piece(struct shared *sh, struct piece *p, size_t room)
{
	const struct blksnap_range *g;

	while (sh->region < sh->regions->count) {
		g = &sh->regions->v[sh->region];
		if (sh->pos < g->offset)
			sh->pos = g->offset;
		if (sh->pos < g->offset + g->length) {
			p->offset = sh->pos;
			p->len = (size_t)BS_MIN((uint64_t)BS_MIN(sh->chunk, room),
						g->offset + g->length - sh->pos);
			sh->pos += p->len;
			return true;
		}
		sh->region++;
	}
	return false;
}

/* Records this thread's error for the caller and stops everyone; locked. */
static void fail_locked(struct shared *sh)
{
	if (!sh->failed) {
		bs_strlcpy(sh->error, blksnap_error(), sizeof(sh->error));
		sh->error_errno = blksnap_error_errno();
		sh->failed = true;
	}
	sh->stop = true;
	pthread_cond_broadcast(&sh->turn_cond);
}

/*
 * The next regions to read ahead, once reads have found uncached data;
 * under the lock.  Only the regions after the current one are counted:
 * those before it are read or being read.
 */
static size_t plan_lookahead(struct shared *sh, struct piece *ra)
{
	uint64_t bytes = 0;
	size_t r, n = 0;

	if (!sh->cold)
		return 0;
	if (sh->ahead <= sh->region)
		sh->ahead = sh->region + 1;
	for (r = sh->region + 1; r < sh->ahead; r++)
		bytes += BS_MIN(sh->regions->v[r].length, (uint64_t)LOOKAHEAD_BYTES);
	while (sh->ahead < sh->regions->count && bytes < LOOKAHEAD_BYTES &&
	       n < LOOKAHEAD_MAX) {
		const struct blksnap_range *g = &sh->regions->v[sh->ahead++];

		ra[n].offset = g->offset;
		ra[n].len = (size_t)BS_MIN(g->length, (uint64_t)LOOKAHEAD_BYTES);
		bytes += ra[n++].len;
	}
	return n;
}

/*
 * Reads up to @len bytes at @off without waiting for the device: the
 * bytes that were in the page cache (0 when none, or on any error, which
 * the plain read that follows reports), and *@missed set when some were
 * not. The worker stops trying where the file cannot say.
 */
static size_t read_cached(struct worker *w, char *buf, size_t len,
			  uint64_t off, bool *missed)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	ssize_t got;

	if (!w->nowait)
		return 0;
	got = preadv2(w->sh->src->fd, &iov, 1, (off_t)off, RWF_NOWAIT);
	if (got >= 0) {
		if ((size_t)got < len)
			*missed = true;	/* or the source's end: see callers */
		return (size_t)got;
	}
	if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)
		w->nowait = false;
	else if (errno == EAGAIN)
		*missed = true;
	return 0;
}

/*
 * Reads a piece, first without waiting for the device: *missed is set
 * when some of it was not in the page cache.
 */
static int read_piece(struct worker *w, char *buf, const struct piece *p,
		      bool *missed)
{
	size_t got = read_cached(w, buf, p->len, p->offset, missed);

	if (got == p->len)
		return 0;
	return bs_source_read(w->sh->src, buf + got, p->len - got,
			      p->offset + got);
}

/*
 * Whether the block of @len bytes at @off holds only zeros (1) or not
 * (0): its first page is read, and the rest only when that is zeros
 * (the whole block at once after a zero block: zeros come in runs).
 */
static int probe_block(const struct blksnap_source *src, char *buf,
		       uint64_t off, size_t len, bool after_zero)
{
	size_t head = after_zero ? len : BS_MIN(len, (size_t)PROBE_BYTES);

	if (bs_source_read(src, buf, head, off))
		return -1;
	if (!bs_is_zero(buf, head))
		return 0;
	if (head == len)
		return 1;
	if (bs_source_read(src, buf + head, len - head, off + head))
		return -1;
	return bs_is_zero(buf + head, len - head);
}

/* Whether the page at @off is outside the page cache. */
static bool page_missing(struct worker *w, uint64_t off)
{
	char page[PROBE_BYTES];
	bool missed = false;

	read_cached(w, page, sizeof(page), off, &missed);
	return missed;
}

/* Asks the kernel to read what probing @n pieces will read first. */
static void advise_probe(struct worker *w, size_t n)
{
	const struct shared *sh = w->sh;
	size_t i, b;

	for (i = 0; i < n; i++) {
		const struct piece *p = &w->pieces[i];

		if (sh->advise_whole) {
			posix_fadvise(sh->src->fd, (off_t)p->offset,
				      (off_t)p->len, POSIX_FADV_WILLNEED);
			continue;
		}
		for (b = 0; b < p->len; b += sh->block)
			posix_fadvise(sh->src->fd, (off_t)(p->offset + b),
				      PROBE_BYTES, POSIX_FADV_WILLNEED);
	}
}

/*
 * Ends the batches of the search for this worker: it reads one page at a
 * time from then on.  After a failed batch, reads may still land in the
 * pages it named: they are then left allocated, never used again.
 */
static void probe_batch_end(struct worker *w, bool in_flight)
{
	bs_read_batch_close(w->batch);
	w->batch = NULL;
	if (!in_flight)
		free(w->pages);
	w->pages = NULL;
}

/*
 * Runs a batch of @n reads; false when the batch failed: the batches
 * are then ended, and the reads not done are left failed (res -EIO), to
 * be read again alone.
 */
static bool probe_batch_run(struct worker *w, struct bs_read_req *req,
			    size_t n)
{
	if (!bs_read_batch_run(w->batch, w->sh->src->fd, req, n))
		return true;
	probe_batch_end(w, true);
	return false;
}

/* Asks for the first page of the block of @len bytes at @off, as the @k-th. */
static void probe_batch_add(struct worker *w, size_t k, uint64_t off,
			    size_t len)
{
	struct bs_read_req *r = &w->reqs[k];

	w->block_len[k] = len;
	r->buf = w->pages + k * PROBE_BYTES;
	r->len = BS_MIN(len, (size_t)PROBE_BYTES);
	r->offset = off;
}

/* A block whose first page is zeros: the rest is still to be read. */
#define PROBE_REST	2u

/*
 * What the first page of a block says: data (0), zeros and the whole
 * block (1), or zeros and more to read (PROBE_REST).  A page the batch
 * did not read whole is read again alone, with the rest of its block,
 * for its error message.
 */
static int probe_first_page(struct worker *w, const struct bs_read_req *r,
			    size_t len)
{
	if (r->res != (ssize_t)r->len)
		return probe_block(w->sh->src, w->buf, r->offset, len, false);
	if (!bs_is_zero(r->buf, r->len))
		return 0;
	return r->len == len ? 1 : (int)PROBE_REST;
}

/*
 * Reads the rest of the blocks of the batch whose first page is zeros,
 * as many at a time as w->buf holds, and says which are zeros: in
 * @zero, for the @k blocks of the batch.
 */
static int probe_rests(struct worker *w, uint64_t *zero, size_t k)
{
	const struct blksnap_source *src = w->sh->src;
	struct bs_read_req rest[PROBE_BATCH];
	size_t which[PROBE_BATCH];
	size_t j = 0, i, n, used;
	bool abandoned = false;

	while (j < k) {
		for (n = 0, used = 0; j < k; j++) {
			const struct bs_read_req *r = &w->reqs[j];
			size_t len = w->block_len[j] - r->len;

			if (zero[j] != PROBE_REST)
				continue;
			if (used + len > w->sh->chunk)
				break;
			rest[n].buf = w->buf + used;
			rest[n].len = len;
			rest[n].offset = r->offset + r->len;
			rest[n].res = -EIO;
			which[n++] = j;
			used += len;
		}
		/*
		 * A failed batch may still read into w->buf: it is left, and
		 * the rest read one at a time into a new one.
		 */
		if (w->batch && n && !probe_batch_run(w, rest, n)) {
			w->buf = bs_malloc(w->sh->chunk);
			if (!w->buf)
				return -1;
			abandoned = true;
		}
		for (i = 0; i < n; i++) {
			char *buf = abandoned ? w->buf : rest[i].buf;

			if (rest[i].res == (ssize_t)rest[i].len)
				buf = rest[i].buf;
			else if (bs_source_read(src, buf, rest[i].len,
						rest[i].offset))
				return -1;
			zero[which[i]] = bs_is_zero(buf, rest[i].len);
		}
	}
	return 0;
}

/*
 * Reads the *@k first pages asked for in one batch and finds which of
 * their blocks are zeros, into w->hashes from *@h; *@k is then 0.
 */
static int probe_batch(struct worker *w, size_t *k, size_t *h)
{
	uint64_t *zero = w->hashes + *h;
	bool unsupported = false;
	size_t j;
	int ret;

	probe_batch_run(w, w->reqs, *k);
	for (j = 0; j < *k; j++) {
		/* A kernel without IORING_OP_READ. */
		if (w->reqs[j].res == -EINVAL || w->reqs[j].res == -EOPNOTSUPP)
			unsupported = true;
		ret = probe_first_page(w, &w->reqs[j], w->block_len[j]);
		if (ret < 0)
			return -1;
		zero[j] = (uint64_t)ret;
	}
	if (probe_rests(w, zero, *k))
		return -1;
	*h += *k;
	*k = 0;
	if (unsupported && w->batch)
		probe_batch_end(w, false);
	return 0;
}

static int probe_stripe(struct worker *w, size_t n)
{
	struct shared *sh = w->sh;
	size_t i, b, k = 0, h = 0;
	int zero = 0;

	if (page_missing(w, w->pieces[0].offset))
		advise_probe(w, n);
	for (i = 0; i < n; i++) {
		const struct piece *p = &w->pieces[i];

		for (b = 0; b < p->len; b += sh->block) {
			uint64_t off = p->offset + b;
			size_t len = BS_MIN((size_t)sh->block, p->len - b);

			if (w->batch) {
				probe_batch_add(w, k++, off, len);
				if (k == PROBE_BATCH && probe_batch(w, &k, &h))
					return -1;
				continue;
			}
			zero = probe_block(sh->src, w->buf, off, len, zero == 1);
			if (zero < 0)
				return -1;
			w->hashes[h++] = (uint64_t)zero;
		}
	}
	return k ? probe_batch(w, &k, &h) : 0;
}

static int read_stripe(struct worker *w, size_t n, bool *missed)
{
	struct shared *sh = w->sh;
	char *buf = w->buf;
	size_t i, b, h = 0;

	if (sh->probe)
		return probe_stripe(w, n);
	for (i = 0; i < n; buf += w->pieces[i++].len) {
		const struct piece *p = &w->pieces[i];

		if (read_piece(w, buf, p, missed))
			return -1;
		/* Hashed now, while the copy is in this core's cache. */
		for (b = 0; b < p->len; b += sh->block)
			w->hashes[h++] = blksnap_hash(buf + b,
						      BS_MIN((size_t)sh->block,
							     p->len - b));
	}
	return 0;
}

static int deliver_stripe(struct worker *w, size_t n)
{
	struct shared *sh = w->sh;
	const uint64_t *hashes = w->hashes;
	const char *buf = w->buf;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct piece *p = &w->pieces[i];

		if (sh->deliver(sh->ctx, sh->probe ? NULL : buf, p->len,
				p->offset, hashes))
			return -1;
		hashes += (p->len + sh->block - 1) / sh->block;
		buf += p->len;
	}
	return 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;

	pthread_mutex_lock(&sh->lock);
	while (!sh->stop) {
		uint64_t mine = sh->next_stripe++;
		struct piece ra[LOOKAHEAD_MAX];
		size_t i, nra, n = 0, used = 0;
		bool missed = false;
		int ret;

		/* Room for a whole block at least: pieces hold whole blocks. */
		while (n < sh->stripe && sh->stripe_bytes - used >= sh->block &&
		       next_piece(sh, &w->pieces[n], sh->stripe_bytes - used))
			used += w->pieces[n++].len;
		if (!n)
			break;		/* the end; the last stripes finish alone */
		nra = plan_lookahead(sh, ra);
		pthread_mutex_unlock(&sh->lock);
		for (i = 0; i < nra; i++)
			posix_fadvise(sh->src->fd, (off_t)ra[i].offset,
				      (off_t)ra[i].len, POSIX_FADV_WILLNEED);
		ret = read_stripe(w, n, &missed);
		pthread_mutex_lock(&sh->lock);
		if (missed)
			sh->cold = true;
		while (!sh->stop && sh->turn != mine) {
			sh->waiting++;
			pthread_cond_wait(&sh->turn_cond, &sh->lock);
			sh->waiting--;
		}
		if (sh->stop)
			break;
		/* Its turn: the earlier stripes are all delivered. */
		if (ret) {
			fail_locked(sh);
			break;
		}
		pthread_mutex_unlock(&sh->lock);
		ret = deliver_stripe(w, n);
		pthread_mutex_lock(&sh->lock);
		if (ret) {
			fail_locked(sh);
			break;
		}
		sh->turn++;
		if (sh->waiting)
			pthread_cond_broadcast(&sh->turn_cond);
	}
	pthread_mutex_unlock(&sh->lock);
	return NULL;
}

/*
 * The batches of the search, where the kernel has them: -1 only when
 * memory is short.
 */
static int probe_batch_start(struct worker *w)
{
	w->batch = bs_read_batch_open(PROBE_BATCH);
	if (!w->batch)
		return 0;
	w->pages = bs_malloc(PROBE_BATCH * PROBE_BYTES);
	w->reqs = bs_calloc(PROBE_BATCH, sizeof(*w->reqs));
	w->block_len = bs_calloc(PROBE_BATCH, sizeof(*w->block_len));
	return w->pages && w->reqs && w->block_len ? 0 : -1;
}

static int threads_wanted(const struct blksnap_ranges *regions)
{
	long n;

	/* Not even asked: sysconf() reads a file in /sys (40 us cold). */
	if (blksnap_ranges_bytes(regions) < THREADS_FROM)
		return 1;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Bytes of memory the kernel can give without swapping, or 0. */
static uint64_t memory_available(void)
{
	unsigned long long kib;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "re");
	long pages, page;

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
				fclose(f);
				return (uint64_t)kib << 10;
			}
		fclose(f);
	}
	/* Free memory only, without the cache the kernel could drop. */
	pages = sysconf(_SC_AVPHYS_PAGES);
	page = sysconf(_SC_PAGESIZE);
	return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

static int read_regions(const struct blksnap_source *src,
			const struct blksnap_ranges *regions, uint32_t block,
			bool probe, bs_deliver_fn deliver, void *ctx)
{
	size_t chunk = block >= READ_BYTES ? block : READ_BYTES / block * block;
	size_t bytes = (probe ? PROBE_STRIPE_BYTES : STRIPE_BYTES) / block * block;
	struct shared sh = {
		.src = src, .regions = regions, .chunk = chunk, .block = block,
		.stripe_bytes = BS_MAX(chunk, bytes),
		.probe = probe, .deliver = deliver, .ctx = ctx,
	};
	struct worker w[MAX_THREADS];
	int i, n = threads_wanted(regions), ret = -1;
	sigset_t all, old;

	if (probe)
		sh.advise_whole = blksnap_ranges_bytes(regions) <=
				  memory_available() / ADVISE_WHOLE_SHARE;
	/* Each piece but the source's last holds whole blocks. */
	sh.stripe = sh.stripe_bytes / block + 1;
	memset(w, 0, sizeof(w));
	for (i = 0; i < n; i++) {
		w[i].sh = &sh;
		w[i].nowait = true;
		w[i].buf = bs_malloc(probe ? chunk : sh.stripe_bytes);
		w[i].hashes = bs_calloc(sh.stripe, sizeof(uint64_t));
		w[i].pieces = bs_calloc(sh.stripe, sizeof(struct piece));
		if (!w[i].buf || !w[i].hashes || !w[i].pieces ||
		    (probe && probe_batch_start(&w[i])))
			goto out;
	}
	pthread_mutex_init(&sh.lock, NULL);
	pthread_cond_init(&sh.turn_cond, NULL);
	/*
	 * Signals stay with the caller's thread.  A thread that cannot be
	 * started leaves its share to the others: same result, slower.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 1; i < n; i++)
		w[i].started = pthread_create(&w[i].thread, NULL, work, &w[i]) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	work(&w[0]);
	for (i = 1; i < n; i++)
		if (w[i].started)
			pthread_join(w[i].thread, NULL);
	pthread_cond_destroy(&sh.turn_cond);
	pthread_mutex_destroy(&sh.lock);
	ret = sh.failed ? bs_fail_with(sh.error_errno, sh.error) : 0;
out:
	for (i = 0; i < n; i++) {
		if (w[i].batch)
			probe_batch_end(&w[i], false);
		free(w[i].reqs);
		free(w[i].block_len);
		free(w[i].buf);
		free(w[i].hashes);
		free(w[i].pieces);
	}
	return ret;
}

int bs_read_hashed(const struct blksnap_source *src,
		   const struct blksnap_ranges *regions, uint32_t block,
		   bs_deliver_fn deliver, void *ctx)
{
	return read_regions(src, regions, block, false, deliver, ctx);
}

struct zero_list {
	struct blksnap_ranges *zeros;
	uint32_t block;
	uint64_t bytes;		/* in zeros */
	bs_zero_progress_fn progress;
	void *ctx;
};

/* Appends a probed piece's zero blocks to the list. */
static int add_zero_blocks(void *ctx, const void *buf, size_t len,
			   uint64_t offset, const uint64_t *zero)
{
	struct zero_list *z = ctx;
	size_t b;

	(void)buf;
	for (b = 0; b < len; b += z->block, zero++) {
		size_t n = BS_MIN((size_t)z->block, len - b);

		if (!*zero)
			continue;
		if (blksnap_ranges_append(z->zeros, offset + b, n))
			return -1;
		z->bytes += n;
	}
	if (z->progress)
		z->progress(z->ctx, z->bytes);
	return 0;
}

int bs_find_zero_blocks(const struct blksnap_source *src,
			const struct blksnap_ranges *regions, uint32_t block,
			struct blksnap_ranges *zeros, bs_zero_progress_fn progress,
			void *ctx)
{
	struct zero_list z = {
		.zeros = zeros, .block = block, .progress = progress, .ctx = ctx,
	};

	zeros->device_size = regions->device_size;
	return read_regions(src, regions, block, true, add_zero_blocks, &z);
}
