// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The archive reader (blksnap-archive(5)), over libarchive's tar reader
 * and filters; and the manifest of a manifest file, read without it.
 *
 * libarchive drops malformed sparse maps silently and pads a short
 * entry with zeros, so both are checked here.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"
#include "libarchive-load.h"
#include "archive-read.h"
#include "tar.h"
#include "xxh.h"

/* Reads of an archive: libarchive hands out data in place from them. */
#define ARCHIVE_READ_BLOCK	(1u << 20)
/*
 * Reads when only the manifest is wanted: it and the next header fit in
 * the first 64 KiB of the archive (more is read if a header needs it).
 * A 1 MiB block read 1 MiB of image data into a new buffer only to be
 * dropped, which cost an incremental send more than its base's manifest.
 */
#define MANIFEST_READ_BLOCK	(64u << 10)
/* Largest small entry (manifest, hash index of a 2^48-byte image). */
#define SMALL_ENTRY_MAX	(1ull << 36)

/* A damaged header may leave an entry without a usable name. */
static const char *entry_name(struct archive_entry *e)
{
	const char *name = la.entry_pathname(e);

	return name ? name : "";
}

struct blksnap_archive {
	struct archive *a;
	int fd;
	bool own_fd;
	struct blksnap_remote *remote;	/* a URL's download, or NULL */
	char *name;
	struct blksnap_manifest manifest;
	struct archive_entry *entry;	/* the entry after the manifest */
	bool has_image;
	/* blksnap_archive_open_fill(): where the bytes come from. */
	blksnap_fill_fn fill;
	void *fill_ctx;
	void *fill_buf;
	bool fill_failed;		/* its message is blksnap_error() */
};

static int reader_fail(struct blksnap_archive *r, const char *what)
{
	const char *msg = la.error_string(r->a);
	int err = la.error_number(r->a);

	/* A download that failed ends the stream early: say why. */
	if (blksnap_remote_status(r->remote))
		return -1;
	/* So does a source of bytes that failed: it said why. */
	if (r->fill_failed)
		return -1;
	if (err > 0 && msg && !strcmp(msg, strerror(err)))
		return bs_fail_errno(err, "%s: %s at byte %llu", r->name, what,
				     (unsigned long long)blksnap_archive_position(r));
	return bs_fail("%s: %s at byte %llu: %s", r->name, what,
		       (unsigned long long)blksnap_archive_position(r),
		       msg ? msg : "unexpected end of data");
}

/* Reads the current entry, at most @max bytes, into a malloc'ed buffer. */
static int read_small_entry(struct blksnap_archive *r, struct archive_entry *e,
			    uint64_t max, void **buf, size_t *len)
{
	la_int64_t size = la.entry_size(e);
	la_ssize_t n;
	char *p;

	if (size < 0 || (uint64_t)size > max)
		return bs_fail("%s: entry %s has an implausible size", r->name,
			       entry_name(e));
	p = bs_malloc((size_t)size + 1);
	if (!p)
		return -1;
	n = la.read_data(r->a, p, (size_t)size);
	if (n != size) {
		free(p);
		return reader_fail(r, n < 0 ? "read error" : "truncated archive");
	}
	p[size] = '\0';
	*buf = p;
	*len = (size_t)size;
	return 0;
}

static int next_entry(struct blksnap_archive *r, struct archive_entry **e,
		      const char *expect)
{
	int ret = la.read_next_header(r->a, e);

	if (ret == ARCHIVE_EOF && blksnap_remote_status(r->remote))
		return -1;
	if (ret == ARCHIVE_EOF)
		return bs_fail("%s: truncated archive: it ends before its %s at byte %llu",
			       r->name, expect,
			       (unsigned long long)blksnap_archive_position(r));
	if (ret < ARCHIVE_WARN)
		return reader_fail(r, "damaged archive");
	return 0;
}

static int read_manifest(struct blksnap_archive *r)
{
	struct archive_entry *e;
	void *text;
	size_t len;
	int ret = la.read_next_header(r->a, &e);

	if (r->fill_failed)
		return -1;
	if (ret == ARCHIVE_EOF)
		return bs_fail("%s: not a blksnap archive (empty)", r->name);
	if (ret < ARCHIVE_WARN)
		return bs_fail("%s: not a blksnap archive (%s)", r->name,
			       la.error_string(r->a));
	if (strcmp(entry_name(e), BLKSNAP_ENTRY_MANIFEST))
		return bs_fail("%s: not a blksnap archive (its first entry is '%.60s', not %s)",
			       r->name, entry_name(e),
			       BLKSNAP_ENTRY_MANIFEST);
	if (read_small_entry(r, e, 65536, &text, &len))
		return -1;
	ret = blksnap_manifest_parse(text, len, r->name, &r->manifest);
	free(text);
	return ret;
}

/* The entry after the manifest: the image, or the index of a manifest file. */
static int read_second_header(struct blksnap_archive *r)
{
	const struct blksnap_manifest *m = &r->manifest;
	const char *path;

	if (next_entry(r, &r->entry, "image"))
		return -1;
	path = entry_name(r->entry);
	if (!strcmp(path, BLKSNAP_ENTRY_HASHES))
		return 0;
	if (strcmp(path, m->image_name))
		return bs_fail("%s: damaged archive: expected the image entry '%s', found '%.60s'",
			       r->name, m->image_name, path);
	if (la.entry_filetype(r->entry) != AE_IFREG ||
	    (uint64_t)la.entry_size(r->entry) != m->size)
		return bs_fail("%s: damaged archive: the image entry is not a file of %llu bytes",
			       r->name, (unsigned long long)m->size);
	r->has_image = true;
	return 0;
}

/* libarchive's read callback over blksnap_archive_open_fill()'s source. */
static la_ssize_t fill_read(struct archive *a, void *ctx, const void **buf)
{
	struct blksnap_archive *r = ctx;
	ssize_t n = r->fill(r->fill_ctx, r->fill_buf, ARCHIVE_READ_BLOCK);

	if (n < 0) {
		r->fill_failed = true;
		la.set_error(a, EIO, "%s", blksnap_error());
		return -1;
	}
	*buf = r->fill_buf;
	return (la_ssize_t)n;
}

/* @fill NULL: the archive @name, a file, URL or "-" (standard input). */
static int open_archive(const char *name, size_t block, blksnap_fill_fn fill,
			void *fill_ctx, struct blksnap_archive **ap)
{
	struct blksnap_archive *r;
	int ret;

	if (la_ready())
		return -1;
	r = bs_calloc(1, sizeof(*r));
	if (!r)
		return -1;
	r->fd = -1;
	r->name = bs_strdup(strcmp(name, "-") || fill ? name : "(standard input)");
	if (!r->name)
		goto fail;
	if (fill) {
		r->fill = fill;
		r->fill_ctx = fill_ctx;
		r->fill_buf = bs_malloc(ARCHIVE_READ_BLOCK);
		if (!r->fill_buf)
			goto fail;
	} else if (!strcmp(name, "-")) {
		r->fd = STDIN_FILENO;
	} else if (blksnap_is_url(name)) {
		if (blksnap_remote_open(name, NULL, &r->remote, &r->fd))
			goto fail;
	} else {
		r->fd = open(name, O_RDONLY | O_CLOEXEC);
		if (r->fd < 0) {
			bs_fail_errno(errno, "%s: cannot open", name);
			goto fail;
		}
		r->own_fd = true;
		posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	r->a = la.read_new();
	if (!r->a) {
		bs_fail_errno(ENOMEM, "%s", r->name);
		goto fail;
	}
	la.read_support_filter_all(r->a);
	la.read_support_format_tar(r->a);
	ret = fill ? la.read_open(r->a, r, NULL, fill_read, NULL) :
		     la.read_open_fd(r->a, r->fd, block);
	if (ret != ARCHIVE_OK) {
		if (!r->fill_failed)
			bs_fail("%s: not a blksnap archive (%s)", r->name,
				la.error_string(r->a));
		goto fail;
	}
	if (read_manifest(r) || read_second_header(r)) {
		blksnap_remote_status(r->remote);
		goto fail;
	}
	*ap = r;
	return 0;
fail:
	blksnap_archive_close(r);
	return -1;
}

int blksnap_archive_open(const char *name, struct blksnap_archive **ap)
{
	return open_archive(name, ARCHIVE_READ_BLOCK, NULL, NULL, ap);
}

int blksnap_archive_open_fill(const char *name, blksnap_fill_fn fill,
			      void *ctx, struct blksnap_archive **ap)
{
	return open_archive(name, ARCHIVE_READ_BLOCK, fill, ctx, ap);
}

const struct blksnap_manifest *
blksnap_archive_manifest(const struct blksnap_archive *a)
{
	return &a->manifest;
}

const char *blksnap_archive_name(const struct blksnap_archive *a)
{
	return a->name;
}

bool blksnap_archive_has_image(const struct blksnap_archive *a)
{
	return a->has_image;
}

uint64_t blksnap_archive_position(const struct blksnap_archive *a)
{
	return (uint64_t)la.filter_bytes(a->a, -1);
}

void blksnap_archive_close(struct blksnap_archive *a)
{
	if (!a)
		return;
	if (a->a)
		la.read_free(a->a);
	if (a->own_fd && a->fd >= 0)
		close(a->fd);
	blksnap_remote_close(a->remote);
	free(a->fill_buf);
	free(a->name);
	free(a);
}

/* Hashes the image's data stream block by block as it arrives. */
struct block_hasher {
	struct blksnap_hash_index ix;
	XXH3_state_t *st;
	uint64_t block_start;	/* offset of the block being hashed */
	uint64_t filled;	/* its bytes seen so far */
};

static uint64_t block_len(const struct block_hasher *h, uint64_t start)
{
	return BS_MIN((uint64_t)h->ix.block_size, h->ix.image_size - start);
}

static int hasher_feed(struct block_hasher *h, const char *name, uint64_t off,
		       const char *buf, size_t len)
{
	if (h->filled && off != h->block_start + h->filled)
		return bs_fail("%s: damaged archive: image data region ends inside the hash block at %llu",
			       name, (unsigned long long)h->block_start);
	while (len) {
		uint64_t want, n;

		if (!h->filled) {
			if (off % h->ix.block_size)
				return bs_fail("%s: damaged archive: image data at %llu does not start a hash block",
					       name, (unsigned long long)off);
			h->block_start = off;
			XXH3_64bits_reset(h->st);
		}
		want = block_len(h, h->block_start) - h->filled;
		n = BS_MIN(want, (uint64_t)len);
		XXH3_64bits_update(h->st, buf, (size_t)n);
		h->filled += n;
		off += n;
		buf += n;
		len -= (size_t)n;
		if (h->filled == block_len(h, h->block_start)) {
			if (blksnap_hash_index_add(&h->ix, h->block_start,
						   XXH3_64bits_digest(h->st)))
				return -1;
			h->filled = 0;
		}
	}
	return 0;
}

static int stream_image(struct blksnap_archive *r, blksnap_sink_fn sink,
			void *ctx, struct block_hasher *h)
{
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int ret = la.read_data_block(r->a, &buf, &len, &off);

		if (ret == ARCHIVE_EOF)
			break;
		if (ret < ARCHIVE_WARN)
			return reader_fail(r, "damaged or truncated archive");
		if (!len)
			continue;
		if (off < 0 || (uint64_t)off + len > r->manifest.size)
			return bs_fail("%s: damaged archive: image data past its size",
				       r->name);
		if (hasher_feed(h, r->name, (uint64_t)off, buf, len))
			return -1;
		if (sink && sink(ctx, (uint64_t)off, buf, len))
			return -1;
	}
	if (h->filled)
		return bs_fail("%s: truncated archive: image data ends inside the hash block at %llu",
			       r->name, (unsigned long long)h->block_start);
	return 0;
}

/*
 * The end of the archive after its last entry: two blocks of zeros,
 * which libarchive takes as the end, as it takes the end of the data:
 * it consumes them, so that the bytes it consumed in the (uncompressed)
 * tar stream from the end of the entry tell them apart.
 */
static int read_end(struct blksnap_archive *r)
{
	struct archive_entry *e;
	la_int64_t end;
	int ret;

	if (la.read_data_skip(r->a) < ARCHIVE_WARN)
		return reader_fail(r, "damaged or truncated archive");
	end = la.filter_bytes(r->a, 0);
	ret = la.read_next_header(r->a, &e);
	if (ret == ARCHIVE_EOF && blksnap_remote_status(r->remote))
		return -1;
	if (ret == ARCHIVE_EOF && la.filter_bytes(r->a, 0) - end < 2 * TAR_BLOCK)
		return bs_fail("%s: truncated archive: its end-of-archive blocks are missing at byte %llu",
			       r->name, (unsigned long long)blksnap_archive_position(r));
	if (ret == ARCHIVE_EOF)
		return 0;
	if (ret < ARCHIVE_WARN)
		return reader_fail(r, "damaged archive");
	return bs_fail("%s: unexpected entry '%.60s' after the hash index",
		       r->name, entry_name(e));
}

/* @want: the index's size in bytes when the image read told it, else 0. */
static int read_index_entry(struct blksnap_archive *r, uint64_t want,
			    struct blksnap_hash_index *ix)
{
	const struct blksnap_manifest *m = &r->manifest;
	struct archive_entry *e;
	uint64_t blocks = blksnap_block_count(m->size, m->hash_block_size);
	void *buf;
	size_t len;
	int ret;

	if (r->has_image) {
		if (next_entry(r, &e, "hash index"))
			return -1;
	} else {
		e = r->entry;
	}
	if (strcmp(entry_name(e), BLKSNAP_ENTRY_HASHES))
		return bs_fail("%s: damaged archive: expected the hash index, found '%.60s'",
			       r->name, entry_name(e));
	if (want && (uint64_t)la.entry_size(e) != want)
		return bs_fail("%s: damaged archive: the hash index has %lld bytes, not the %llu its image data needs",
			       r->name, (long long)la.entry_size(e),
			       (unsigned long long)want);
	if (read_small_entry(r, e, BS_MIN(SMALL_ENTRY_MAX, 64 + blocks * 24),
			     &buf, &len))
		return -1;
	ret = blksnap_hash_index_decode(buf, len, r->name, ix);
	free(buf);
	if (ret)
		return -1;
	if (ix->block_size != m->hash_block_size || ix->image_size != m->size) {
		blksnap_hash_index_free(ix);
		return bs_fail("%s: hash index does not match the manifest",
			       r->name);
	}
	ret = read_end(r);
	if (ret)
		blksnap_hash_index_free(ix);
	return ret;
}

/* Walks the blocks of an index, region by region. */
struct block_walk {
	const struct blksnap_hash_index *ix;
	size_t region;
	uint64_t off;		/* the current block; UINT64_MAX at the end */
	size_t hash;		/* its hash's place */
};

static void walk_set(struct block_walk *w)
{
	w->off = w->region < w->ix->regions.count ?
		 w->ix->regions.v[w->region].offset : UINT64_MAX;
}

static void walk_next(struct block_walk *w)
{
	const struct blksnap_range *g = &w->ix->regions.v[w->region];

	w->hash++;
	w->off += w->ix->block_size;
	if (w->off >= g->offset + g->length) {
		w->region++;
		walk_set(w);
	}
}

/*
 * Checks what was read (@got) against the index (@want): every block
 * read is in the index with the same hash; the index's blocks that were
 * not read are the zero ranges (version 2), which go to @zeros, each
 * with the hash of zeros.
 */
static int compare_index(const struct blksnap_archive *r,
			 const struct blksnap_hash_index *got,
			 const struct blksnap_hash_index *want,
			 struct blksnap_ranges *zeros)
{
	const char *name = r->name;
	const struct blksnap_manifest *m = &r->manifest;
	struct block_walk g = { .ix = got }, w = { .ix = want };
	uint64_t zero_bytes = 0;

	walk_set(&g);
	walk_set(&w);
	zeros->device_size = m->size;
	while (w.off != UINT64_MAX) {
		uint64_t len = BS_MIN((uint64_t)want->block_size, m->size - w.off);

		if (g.off < w.off)
			break;	/* data the index does not cover */
		if (g.off == w.off) {
			if (got->hash[g.hash] != want->hash[w.hash])
				return bs_fail("%s: corrupted archive: image data at offset %llu (hash block of %u bytes) does not match its hash",
					       name, (unsigned long long)w.off,
					       want->block_size);
			walk_next(&g);
		} else if (m->format_version < 2) {
			break;	/* version 1 has no zero ranges */
		} else if (want->hash[w.hash] != blksnap_hash_zero((size_t)len)) {
			return bs_fail("%s: corrupted archive: the hash of the zero block at offset %llu is not that of zeros",
				       name, (unsigned long long)w.off);
		} else {
			if (blksnap_ranges_append(zeros, w.off, len))
				return -1;
			zero_bytes += len;
		}
		walk_next(&w);
	}
	if (g.off != UINT64_MAX || w.off != UINT64_MAX)
		return bs_fail("%s: damaged archive: image data regions differ from the hash index near byte %llu of the image",
			       name, (unsigned long long)BS_MIN(g.off, w.off));
	if (zero_bytes != m->zero_bytes || zeros->count != m->zero_range_count)
		return bs_fail("%s: damaged archive: the hash index's zero ranges (%llu bytes in %zu) are not the manifest's (%llu bytes in %llu)",
			       name, (unsigned long long)zero_bytes, zeros->count,
			       (unsigned long long)m->zero_bytes,
			       (unsigned long long)m->zero_range_count);
	return 0;
}

int blksnap_archive_read_image(struct blksnap_archive *r, blksnap_sink_fn sink,
			       void *ctx, struct blksnap_hash_index *ix,
			       struct blksnap_ranges *zeros)
{
	struct block_hasher h = { .block_start = 0 };
	struct blksnap_ranges z;
	int ret = -1;

	if (!r->has_image)
		return bs_fail("%s: this is a manifest file: it holds no image data",
			       r->name);
	blksnap_ranges_init(&z);
	blksnap_hash_index_init(&h.ix, r->manifest.hash_block_size,
				r->manifest.size);
	h.st = XXH3_createState();
	if (!h.st) {
		bs_fail_errno(ENOMEM, "%s", r->name);
		goto out;
	}
	/* Version 1: the index covers the data read and nothing else. */
	if (stream_image(r, sink, ctx, &h) ||
	    read_index_entry(r, r->manifest.format_version < 2 ?
				bs_hash_index_len(&h.ix) : 0, ix))
		goto out;
	ret = compare_index(r, &h.ix, ix, &z);
	if (ret)
		blksnap_hash_index_free(ix);
out:
	if (!ret && zeros)
		*zeros = z;
	else
		blksnap_ranges_free(&z);
	if (h.st)
		XXH3_freeState(h.st);
	blksnap_hash_index_free(&h.ix);
	return ret;
}

int blksnap_archive_read_index(struct blksnap_archive *r,
			       struct blksnap_hash_index *ix)
{
	return read_index_entry(r, 0, ix);
}

bool manifest_file_parse(const unsigned char *buf, size_t len, const char *name,
			 struct blksnap_manifest *m, uint64_t *end)
{
	uint64_t size, next, hsize;

	if (len < 2 * TAR_BLOCK ||
	    !tar_plain_header(buf, BLKSNAP_ENTRY_MANIFEST, &size))
		return false;
	next = TAR_BLOCK + tar_blocks(size);
	if (next + TAR_BLOCK > (uint64_t)len ||
	    !tar_plain_header(buf + next, BLKSNAP_ENTRY_HASHES, &hsize) ||
	    blksnap_manifest_parse((const char *)buf + TAR_BLOCK, (size_t)size,
				   name, m))
		return false;
	*end = next + TAR_BLOCK + tar_blocks(hsize);
	return true;
}

/* Whether the end-of-archive blocks are at @end of @fd. */
static bool has_end_blocks(int fd, uint64_t end)
{
	unsigned char z[2 * TAR_BLOCK];

	return bs_pread_all(fd, z, sizeof(z), end) == (ssize_t)sizeof(z) &&
	       !memcmp(z, bs_zeroes(), sizeof(z));
}

/*
 * The manifest of a manifest file, read without libarchive: an
 * incremental's base is usually one.  1 for anything else, which
 * libarchive then reads, or fails on, as for any other archive.
 */
static int read_manifest_file(const char *name, struct blksnap_manifest *m)
{
	unsigned char buf[4096];
	struct stat st;
	uint64_t end = 0;
	ssize_t got;
	int fd, ret = 1;

	if (!strcmp(name, "-") || blksnap_is_url(name))
		return 1;
	/*
	 * A regular file only, not even opened otherwise: opening a FIFO
	 * lets its writer write, and what it wrote would be gone when
	 * libarchive opens it again.
	 */
	if (stat(name, &st) || !S_ISREG(st.st_mode))
		return 1;
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	got = fstat(fd, &st) || !S_ISREG(st.st_mode) ? -1 :
	      bs_pread_all(fd, buf, sizeof(buf), 0);
	if (got >= 0 && manifest_file_parse(buf, (size_t)got, name, m, &end))
		ret = has_end_blocks(fd, end) ? 0 :
		      bs_fail("%s: truncated archive: its end-of-archive blocks are missing at byte %llu",
			      name, (unsigned long long)end);
	close(fd);
	return ret;
}

int blksnap_archive_read_manifest(const char *name, struct blksnap_manifest *m)
{
	struct blksnap_archive *a;
	int ret = read_manifest_file(name, m);

	if (ret <= 0)
		return ret;

	if (open_archive(name, MANIFEST_READ_BLOCK, NULL, NULL, &a))
		return -1;
	*m = a->manifest;
	blksnap_archive_close(a);
	return 0;
}

int blksnap_chain_read_manifests(const char *const *chain, size_t count,
				 struct blksnap_manifest *ms)
{
	size_t i;

	if (!count)
		return bs_fail("no archive given");
	for (i = 0; i < count; i++)
		if (blksnap_archive_read_manifest(chain[i], &ms[i]) ||
		    blksnap_manifest_check_chain(i ? &ms[i - 1] : NULL,
						 i ? chain[i - 1] : NULL,
						 &ms[i], chain[i]))
			return -1;
	return 0;
}
