// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The archive writer (blksnap-archive(5)): uncompressed archives written
 * here, zstd ones too, their tar bytes going through the seekable zstd
 * writer (lib/zstd-seekable.c); gzip, xz and lz4 ones through
 * libarchive's pax writer and filters.
 *
 * libarchive pads a short entry with zeros, so the image's length is
 * checked here before it reaches it.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "libarchive-load.h"
#include "tar.h"
#include "zstd-seekable.h"

int blksnap_compress_parse(const char *method, struct blksnap_compress *c)
{
	static const char *const known[] = { "zstd", "gzip", "xz", "lz4", "none" };
	size_t i;

	memset(c, 0, sizeof(*c));
	c->level = -1;
	for (i = 0; i < BS_ARRAY_SIZE(known); i++) {
		if (!strcmp(method, known[i])) {
			strcpy(c->method, known[i]);
			return 0;
		}
	}
	return bs_fail("unknown compression '%s' (choose zstd, gzip, xz, lz4 or none)",
		       method);
}

int blksnap_compress_set_level(struct blksnap_compress *c, int level)
{
	static const struct {
		const char *method;
		int min, max;
	} levels[] = {
		{ "zstd", 1, 22 }, { "gzip", 0, 9 }, { "xz", 0, 9 }, { "lz4", 1, 9 },
	};
	size_t i;

	for (i = 0; i < BS_ARRAY_SIZE(levels); i++) {
		if (strcmp(c->method, levels[i].method))
			continue;
		if (level < levels[i].min || level > levels[i].max)
			return bs_fail("%s levels go from %d to %d, not %d",
				       c->method, levels[i].min, levels[i].max,
				       level);
		c->level = level;
		return 0;
	}
	return bs_fail("compression %s has no levels", c->method);
}

/* ----------------------------------------------------------------------- */

struct blksnap_writer {
	struct archive *a;	/* NULL: tar written here (none, zstd) */
	struct zseek_writer *z;	/* zstd: where the tar written here goes */
	int fd;
	char *name;
	uint64_t out_bytes;
	uint64_t tar_bytes;	/* none, zstd: of the tar stream, so far */
	uint64_t image_size;	/* logical bytes the image entry needs */
	uint64_t image_fed;	/* logical bytes given so far */
	bool in_image;
	/* Uncompressed: the image's data regions, the one being fed. */
	struct blksnap_range *map;
	size_t map_count, map_at;
	uint64_t entry_bytes;	/* data bytes of the current entry */
	time_t mtime;		/* of every entry */
	struct blksnap_writer_resume resume;
};

/*
 * Resuming: the bytes at @*pos that an earlier run already wrote
 * (before resume.have) are checked, not written, and @*pos moves past
 * them; *buf and *len are left with the bytes to write.  Output bytes
 * through libarchive, the tar stream's for the archives written here.
 */
static int resume_check(struct blksnap_writer *w, uint64_t *pos,
			const char **buf, size_t *len)
{
	size_t n;

	if (*pos >= w->resume.have)
		return 0;
	n = (size_t)BS_MIN((uint64_t)*len, w->resume.have - *pos);
	if (w->resume.check(w->resume.ctx, *pos, *buf, n))
		return -1;
	*pos += n;
	*buf += n;
	*len -= n;
	return 0;
}

static la_ssize_t writer_cb(struct archive *a, void *ctx, const void *buf,
			    size_t len)
{
	struct blksnap_writer *w = ctx;
	const char *p = buf;
	size_t n = len;

	if (resume_check(w, &w->out_bytes, &p, &n)) {
		la.set_error(a, EIO, "%s", blksnap_error());
		return -1;
	}
	if (n && bs_write_all(w->fd, p, n) < 0) {
		la.set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	w->out_bytes += n;
	return (la_ssize_t)len;
}

static int writer_fail(struct blksnap_writer *w, const char *what)
{
	int err = la.error_number(w->a);
	const char *msg = la.error_string(w->a);

	if (err > 0 && (!msg || !strcmp(msg, strerror(err))))
		return bs_fail_errno(err, "%s: %s", w->name, what);
	return bs_fail("%s: %s: %s", w->name, what, msg ? msg : "unknown error");
}

static int set_filter(struct blksnap_writer *w, const struct blksnap_compress *c)
{
	char num[16];
	int r;

	/* zstd is written here (blksnap_writer_open), not by libarchive. */
	if (!strcmp(c->method, "gzip"))
		r = la.write_add_filter_gzip(w->a);
	else if (!strcmp(c->method, "xz"))
		r = la.write_add_filter_xz(w->a);
	else if (!strcmp(c->method, "lz4"))
		r = la.write_add_filter_lz4(w->a);
	else
		r = la.write_add_filter_none(w->a);
	if (r != ARCHIVE_OK)
		return writer_fail(w, "cannot set up compression");
	if (c->level >= 0) {
		snprintf(num, sizeof(num), "%d", c->level);
		if (la.write_set_filter_option(w->a, NULL,
						    "compression-level",
						    num) != ARCHIVE_OK)
			return writer_fail(w, "bad compression level");
	}
	if (c->threads > 0) {
		snprintf(num, sizeof(num), "%d", c->threads);
		if (la.write_set_filter_option(w->a, NULL, "threads",
						    num) != ARCHIVE_OK)
			return writer_fail(w, "compression threads not supported");
	}
	return 0;
}

/* Output bytes of an archive written here (none, zstd). */
static int out_write(struct blksnap_writer *w, const void *buf, size_t len)
{
	if (len && bs_write_all(w->fd, buf, len) < 0)
		return bs_fail_errno(errno, "%s: write error", w->name);
	w->out_bytes += len;
	return 0;
}

/*
 * Uncompressed archives are written here rather than by libarchive, in
 * the layout its pax writer gives them (the same bytes but for names
 * too long for a ustar header: tests/tar-compat.sh compares the two), so
 * that an uncompressed send from a manifest file needs nothing of
 * libarchive, whose loading is a fifth of a 1% incremental of a 2 GiB
 * image.  A zstd archive is the same tar bytes cut into independent
 * frames compressed on every CPU, with a seek table at the end
 * (lib/zstd-seekable.h), so that a reader can reach any offset.  Other
 * compressed archives go through libarchive's pax writer and filters.
 */
static int native_out(struct blksnap_writer *w, const void *buf, size_t len)
{
	uint64_t at = w->tar_bytes;
	const char *p = buf;

	if (resume_check(w, &w->tar_bytes, &p, &len))
		return -1;
	/* Uncompressed, the bytes checked are output bytes kept. */
	if (!w->z)
		w->out_bytes += w->tar_bytes - at;
	w->tar_bytes += len;
	if (!len)
		return 0;
	if (w->z)
		return zseek_writer_write(w->z, p, len);
	return out_write(w, p, len);
}

/* Zeros up to the next multiple of TAR_BLOCK after @len bytes. */
static int native_pad(struct blksnap_writer *w, uint64_t len)
{
	size_t n = (size_t)((TAR_BLOCK - len % TAR_BLOCK) % TAR_BLOCK);

	return n ? native_out(w, bs_zeroes(), n) : 0;
}

/* A ustar header as libarchive's pax writer fills it. */
static int native_header(struct blksnap_writer *w, const char *name,
			 char type, uint64_t size, time_t mtime)
{
	unsigned char h[TAR_BLOCK];

	tar_header_format(h, name, type, size, mtime);
	return native_out(w, h, sizeof(h));
}

/*
 * The headers of an entry named @name: a pax extended header first when
 * it needs records, @extra (pax records, may be empty) or others (the
 * name when it does not fit the ustar header, a size too large for it),
 * then the ustar header, named @ustar_name, cut as libarchive cuts it.
 */
static int native_entry(struct blksnap_writer *w, const char *name,
			const char *ustar_name, uint64_t size, const char *extra)
{
	time_t now = w->mtime;
	char rec[4 * TAR_BLOCK], num[24], pax_name[TAR_NAME_MAX];
	size_t rlen = 0;

	if (strlen(ustar_name) > TAR_NAME_MAX &&
	    tar_pax_record(rec, sizeof(rec), &rlen, "path", name))
		return -1;
	if (strlen(extra) >= sizeof(rec) - rlen)
		return bs_fail("%s: internal error: pax header too long", w->name);
	memcpy(rec + rlen, extra, strlen(extra));
	rlen += strlen(extra);
	if (size > USTAR_SIZE_MAX) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
		if (tar_pax_record(rec, sizeof(rec), &rlen, "size", num))
			return -1;
	}
	if (rlen) {
		snprintf(pax_name, sizeof(pax_name), "PaxHeader/%s", name);
		if (native_header(w, pax_name, 'x', rlen, now) ||
		    native_out(w, rec, rlen) || native_pad(w, rlen))
			return -1;
	}
	w->entry_bytes = size;
	return native_header(w, ustar_name, '0', size, now);
}

static int native_add_file(struct blksnap_writer *w, const char *entry,
			   const void *data, size_t len)
{
	if (native_entry(w, entry, entry, len, "") ||
	    native_out(w, data, len))
		return -1;
	return native_pad(w, len);
}

/*
 * The end of the image's headers.  zstd: the first frame ends here,
 * stored, not compressed.  It holds all that depends on the archive's
 * UUID and time (the manifest, the headers' mtime) but the hash index's
 * header at the end, which change in content, not in length, from one
 * send of a source to the next: the frames after it are the same bytes
 * at the same offsets (given the same level and libzstd), which lets an
 * upload resumed with a new UUID and time send part 1 again and keep
 * the others (lib/remote-s3.c).
 */
static int native_headers_end(struct blksnap_writer *w)
{
	return w->z ? zseek_writer_end_frame_stored(w->z, NULL, NULL) : 0;
}

/*
 * The image entry: a plain one when a single region covers it, else in
 * GNU sparse format 1.0 of pax, its data starting with the map in text.
 */
static int native_begin_image(struct blksnap_writer *w, const char *entry,
			      uint64_t size,
			      const struct blksnap_ranges *regions)
{
	/* A name longer than TAR_NAME_MAX is cut: a longer buffer is not needed. */
	char records[2 * TAR_BLOCK], num[24], ustar_name[TAR_NAME_MAX + 2];
	char *map = NULL;
	size_t rlen = 0, mlen = 0, msize, i;
	uint64_t data = 0;
	bool tail;
	int ret = -1;

	w->map = bs_calloc(BS_MAX(regions->count, (size_t)1), sizeof(*w->map));
	if (!w->map)
		return -1;
	/* An image of holes only has no regions (and may have no array). */
	if (regions->count)
		memcpy(w->map, regions->v, regions->count * sizeof(*w->map));
	w->map_count = regions->count;
	w->map_at = 0;
	if (regions->count == 1 && regions->v[0].offset == 0 &&
	    regions->v[0].length == size)
		return native_entry(w, entry, entry, size, "") ||
		       native_headers_end(w) ? -1 : 0;
	/* Two numbers of up to 20 digits and newlines a region. */
	msize = 24 + (regions->count + 1) * 42;
	map = bs_malloc(msize);
	if (!map)
		return -1;
	/*
	 * As libarchive does, an empty extent at the end of the image ends a
	 * map whose last region does not: it keeps the size when there is
	 * no region at all.
	 */
	tail = !regions->count ||
	       regions->v[regions->count - 1].offset +
	       regions->v[regions->count - 1].length < size;
	mlen = (size_t)snprintf(map, msize, "%zu\n", regions->count + tail);
	for (i = 0; i < regions->count; i++) {
		mlen += (size_t)snprintf(map + mlen, msize - mlen, "%llu\n%llu\n",
					 (unsigned long long)regions->v[i].offset,
					 (unsigned long long)regions->v[i].length);
		data += regions->v[i].length;
	}
	if (tail)
		mlen += (size_t)snprintf(map + mlen, msize - mlen, "%llu\n0\n",
					 (unsigned long long)size);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
	snprintf(ustar_name, sizeof(ustar_name), "GNUSparseFile.0/%s", entry);
	if (tar_pax_record(records, sizeof(records), &rlen, "GNU.sparse.major", "1") ||
	    tar_pax_record(records, sizeof(records), &rlen, "GNU.sparse.minor", "0") ||
	    tar_pax_record(records, sizeof(records), &rlen, "GNU.sparse.name", entry) ||
	    tar_pax_record(records, sizeof(records), &rlen, "GNU.sparse.realsize", num))
		goto out;
	data += (mlen + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	records[rlen] = '\0';
	if (native_entry(w, entry, ustar_name, data, records) ||
	    native_headers_end(w) ||
	    native_out(w, map, mlen) || native_pad(w, mlen))
		goto out;
	ret = 0;
out:
	free(map);
	return ret;
}

/*
 * Logical image bytes from the current position: those in a region are
 * written (zeros when @buf is NULL), those in a hole skipped.
 */
static int native_feed(struct blksnap_writer *w, const char *buf, uint64_t len)
{
	uint64_t pos = w->image_fed;

	while (len) {
		const struct blksnap_range *r;
		uint64_t n;

		while (w->map_at < w->map_count &&
		       w->map[w->map_at].offset + w->map[w->map_at].length <= pos)
			w->map_at++;
		r = w->map_at < w->map_count ? &w->map[w->map_at] : NULL;
		if (!r || pos < r->offset) {
			n = r ? BS_MIN(len, r->offset - pos) : len;
		} else {
			n = BS_MIN(len, r->offset + r->length - pos);
			if (!buf)
				n = BS_MIN(n, (uint64_t)BS_ZERO_CHUNK);
			if (native_out(w, buf ? buf : bs_zeroes(), (size_t)n))
				return -1;
		}
		if (buf)
			buf += n;
		pos += n;
		len -= n;
	}
	w->image_fed = pos;
	return 0;
}

/* The seekable zstd writer's output: the file. */
static int zstd_out(void *ctx, const void *buf, size_t len)
{
	return out_write(ctx, buf, len);
}

int blksnap_writer_open(int fd, const char *name,
			const struct blksnap_compress *c,
			struct blksnap_writer **wp)
{
	bool zstd = !strcmp(c->method, "zstd");
	bool native = zstd || !strcmp(c->method, "none");
	struct blksnap_writer *w;

	if (!native && la_ready())
		return -1;
	w = bs_calloc(1, sizeof(*w));
	if (!w)
		return -1;
	w->fd = fd;
	w->mtime = time(NULL);
	w->name = bs_strdup(name);
	if (native) {
		if (!w->name || (zstd && zseek_writer_open(name, c->level, c->threads,
							   zstd_out, w, &w->z)))
			goto fail;
		*wp = w;
		return 0;
	}
	w->a = la.write_new();
	if (!w->name || !w->a) {
		bs_fail_errno(ENOMEM, "%s", name);
		goto fail;
	}
	if (la.write_set_format_pax(w->a) != ARCHIVE_OK ||
	    /*
	     * Unbuffered: the image data goes from the caller's buffer to
	     * write(2) (or the compressor) without another copy.
	     */
	    la.write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK) {
		writer_fail(w, "cannot set up the archive");
		goto fail;
	}
	if (set_filter(w, c))
		goto fail;
	if (la.write_open2(w->a, w, NULL, writer_cb, NULL, NULL) !=
	    ARCHIVE_OK) {
		writer_fail(w, "cannot start the archive");
		goto fail;
	}
	*wp = w;
	return 0;
fail:
	blksnap_writer_free(w);
	return -1;
}

static struct archive_entry *new_entry(const struct blksnap_writer *w,
				       const char *name, uint64_t size)
{
	struct archive_entry *e = la.entry_new();

	if (!e)
		return NULL;
	la.entry_set_pathname(e, name);
	la.entry_set_filetype(e, AE_IFREG);
	la.entry_set_perm(e, 0644);
	la.entry_set_mtime(e, w->mtime, 0);
	la.entry_set_size(e, (la_int64_t)size);
	return e;
}

static int end_image(struct blksnap_writer *w);

int blksnap_writer_add_file(struct blksnap_writer *w, const char *entry,
			    const void *data, size_t len)
{
	struct archive_entry *e;
	int ret = 0;

	if (end_image(w))
		return -1;
	if (!w->a)
		return native_add_file(w, entry, data, len);
	e = new_entry(w, entry, len);
	if (!e)
		return bs_fail_errno(ENOMEM, "%s", w->name);
	if (la.write_header(w->a, e) != ARCHIVE_OK ||
	    la.write_data(w->a, data, len) != (la_ssize_t)len ||
	    la.write_finish_entry(w->a) != ARCHIVE_OK)
		ret = writer_fail(w, "write error");
	la.entry_free(e);
	return ret;
}

static int check_map(const struct blksnap_writer *w,
		     const struct blksnap_ranges *regions, uint64_t size)
{
	uint64_t end = 0;
	size_t i;

	for (i = 0; i < regions->count; i++) {
		const struct blksnap_range *r = &regions->v[i];

		if (!r->length || r->offset < end || r->offset + r->length > size ||
		    r->offset + r->length < r->offset)
			return bs_fail("%s: internal error: bad sparse map at %llu+%llu",
				       w->name, (unsigned long long)r->offset,
				       (unsigned long long)r->length);
		end = r->offset + r->length;
	}
	return 0;
}

int blksnap_writer_begin_image(struct blksnap_writer *w, const char *entry,
			       uint64_t size,
			       const struct blksnap_ranges *regions)
{
	struct archive_entry *e;
	size_t i;
	int ret = 0;

	if (check_map(w, regions, size))
		return -1;
	if (!w->a) {
		w->image_size = size;
		w->image_fed = 0;
		w->in_image = true;
		return native_begin_image(w, entry, size, regions);
	}
	e = new_entry(w, entry, size);
	if (!e)
		return bs_fail_errno(ENOMEM, "%s", w->name);
	for (i = 0; i < regions->count; i++)
		la.entry_sparse_add_entry(e, (la_int64_t)regions->v[i].offset,
					       (la_int64_t)regions->v[i].length);
	/* With no data at all, an empty extent at the end keeps it sparse. */
	if (!regions->count)
		la.entry_sparse_add_entry(e, (la_int64_t)size, 0);
	if (la.write_header(w->a, e) != ARCHIVE_OK)
		ret = writer_fail(w, "write error");
	la.entry_free(e);
	w->image_size = size;
	w->image_fed = 0;
	w->in_image = true;
	return ret;
}

int blksnap_writer_image_data(struct blksnap_writer *w, const void *buf,
			      size_t len)
{
	const char *p = buf;

	if (w->image_fed + len > w->image_size)
		return bs_fail("%s: internal error: image data past its size",
			       w->name);
	if (!w->a)
		return native_feed(w, buf, len);
	while (len) {
		la_ssize_t n = la.write_data(w->a, p, len);

		if (n <= 0)
			return writer_fail(w, "write error");
		p += n;
		len -= (size_t)n;
		w->image_fed += (uint64_t)n;
	}
	return 0;
}

int blksnap_writer_image_hole(struct blksnap_writer *w, uint64_t len)
{
	if (!w->a) {
		if (w->image_fed + len > w->image_size)
			return bs_fail("%s: internal error: image data past its size",
				       w->name);
		return native_feed(w, NULL, len);
	}
	while (len) {
		size_t n = (size_t)BS_MIN(len, (uint64_t)BS_ZERO_CHUNK);

		if (blksnap_writer_image_data(w, bs_zeroes(), n))
			return -1;
		len -= n;
	}
	return 0;
}

static int end_image(struct blksnap_writer *w)
{
	if (!w->in_image)
		return 0;
	w->in_image = false;
	/* libarchive would pad a short entry with zeros without a word. */
	if (w->image_fed != w->image_size)
		return bs_fail("%s: internal error: image entry got %llu of %llu bytes",
			       w->name, (unsigned long long)w->image_fed,
			       (unsigned long long)w->image_size);
	if (!w->a) {
		free(w->map);
		w->map = NULL;
		return native_pad(w, w->entry_bytes);
	}
	if (la.write_finish_entry(w->a) != ARCHIVE_OK)
		return writer_fail(w, "write error");
	return 0;
}

int blksnap_writer_finish(struct blksnap_writer *w)
{
	if (end_image(w))
		return -1;
	/* The end of archive: two blocks of zeros, not padded further. */
	if (!w->a)
		return native_out(w, bs_zeroes(), 2 * TAR_BLOCK) ||
		       (w->z && zseek_writer_finish(w->z)) ? -1 : 0;
	if (la.write_close(w->a) != ARCHIVE_OK)
		return writer_fail(w, "write error");
	return 0;
}

int blksnap_writer_end_frame(struct blksnap_writer *w, uint64_t *out_bytes)
{
	if (w->a)
		return bs_fail("%s: internal error: %s archives cannot end a frame on request",
			       w->name, "gzip, xz and lz4");
	if (w->z && zseek_writer_end_frame(w->z, NULL, NULL))
		return -1;
	if (out_bytes)
		*out_bytes = w->out_bytes;
	return 0;
}

void blksnap_writer_set_mtime(struct blksnap_writer *w, time_t mtime)
{
	w->mtime = mtime;
}

int blksnap_writer_set_resume(struct blksnap_writer *w,
			      const struct blksnap_writer_resume *r)
{
	uint64_t in = 0;

	if (w->tar_bytes || w->out_bytes)
		return bs_fail("%s: internal error: resuming after data", w->name);
	if (!w->z && r->nframes)
		return bs_fail("%s: internal error: zstd frames kept in an archive not zstd",
			       w->name);
	if (w->z && (zseek_writer_preload(w->z, r->frames, r->nframes) ||
		     zseek_writer_end_frame(w->z, &w->out_bytes, &in)))
		return -1;
	if (w->z && in != r->have)
		return bs_fail("%s: internal error: the zstd frames kept hold %llu bytes, not %llu",
			       w->name, (unsigned long long)in,
			       (unsigned long long)r->have);
	w->resume = *r;
	return 0;
}

uint64_t blksnap_writer_bytes(const struct blksnap_writer *w)
{
	return w->out_bytes;
}

void blksnap_writer_free(struct blksnap_writer *w)
{
	if (!w)
		return;
	if (w->a)
		la.write_free(w->a);
	zseek_writer_free(w->z);
	free(w->map);
	free(w->name);
	free(w);
}


int blksnap_manifest_file_write(const char *path, const char *text,
				size_t text_len, const void *index,
				size_t index_len)
{
	struct blksnap_compress none;
	struct blksnap_writer *w = NULL;
	struct blksnap_output out;

	blksnap_compress_parse("none", &none);
	if (blksnap_output_create(&out, path))
		return -1;
	if (blksnap_writer_open(out.fd, path, &none, &w) ||
	    blksnap_writer_add_file(w, BLKSNAP_ENTRY_MANIFEST, text, text_len) ||
	    blksnap_writer_add_file(w, BLKSNAP_ENTRY_HASHES, index, index_len) ||
	    blksnap_writer_finish(w)) {
		blksnap_writer_free(w);
		blksnap_output_abort(&out);
		return -1;
	}
	blksnap_writer_free(w);
	return blksnap_output_commit(&out);
}
