// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Archive writer and reader over libarchive's pax tar (blksnap-archive(5));
 * uncompressed archives are written here, in the same layout.
 *
 * libarchive drops malformed sparse maps silently and pads a short
 * entry with zeros, so both are checked here before they reach it.
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>

#include "internal.h"
#include "xxh.h"

/*
 * libarchive is loaded when it is first needed (an archive read through
 * it, a compressed one written), not when a program linked with
 * libblksnap starts, as libcurl is (lib/remote.c): Debian's brings
 * libxml2, ICU, libstdc++, nettle and the compressors, which took 2 ms of
 * every run of every tool to load, relocate and unload, a fifth of a 1%
 * incremental of a 2 GiB image.  An uncompressed send from a manifest
 * file does not need it at all (native_entry(), read_manifest_file()).
 * The calls below keep their names: the #defines after la_ready() send
 * them through the table.
 */
#define LIBARCHIVE_SONAME "libarchive.so.13"
#define LA_FUNCTIONS(F) \
	F(entry_filetype) F(entry_free) F(entry_new) \
	F(entry_pathname) F(entry_set_filetype) F(entry_set_mtime) \
	F(entry_set_pathname) F(entry_set_perm) F(entry_set_size) \
	F(entry_size) F(entry_sparse_add_entry) F(errno) \
	F(error_string) F(filter_bytes) F(read_data) \
	F(read_data_block) F(read_free) F(read_new) \
	F(read_next_header) F(read_open_fd) F(read_support_filter_all) \
	F(read_support_format_tar) F(set_error) F(write_add_filter_gzip) \
	F(write_add_filter_lz4) F(write_add_filter_none) F(write_add_filter_xz) \
	F(write_add_filter_zstd) F(write_close) F(write_data) \
	F(write_finish_entry) F(write_free) F(write_header) \
	F(write_new) F(write_open2) F(write_set_bytes_per_block) \
	F(write_set_filter_option) F(write_set_format_pax)

static struct {
#define F(f) __typeof__(archive_##f) *archive_##f;
	LA_FUNCTIONS(F)
#undef F
} la;
static pthread_once_t la_once = PTHREAD_ONCE_INIT;
static bool la_loaded;
static char la_error[512];

static void la_load(void)
{
	static const struct bs_dlsym syms[] = {
#define F(f) { "archive_" #f, offsetof(__typeof__(la), archive_##f) },
		LA_FUNCTIONS(F)
#undef F
	};

	/* Lazy binding, as when it was loaded with the program. */
	la_loaded = !bs_dlopen_table(LIBARCHIVE_SONAME, RTLD_LAZY | RTLD_LOCAL,
				     syms, BS_ARRAY_SIZE(syms), &la, sizeof(la),
				     "archives need libarchive, which did not load (Debian: apt-get install libarchive13)",
				     la_error, sizeof(la_error));
}

/*
 * Loads libarchive once; concurrent callers wait for the first.  Every
 * call below goes through the table: a handle exists only once it was
 * loaded, and the freeing calls are only made on a handle.
 */
static int la_ready(void)
{
	pthread_once(&la_once, la_load);
	return la_loaded ? 0 : bs_fail("%s", la_error);
}

#define archive_entry_filetype la.archive_entry_filetype
#define archive_entry_free la.archive_entry_free
#define archive_entry_new la.archive_entry_new
#define archive_entry_pathname la.archive_entry_pathname
#define archive_entry_set_filetype la.archive_entry_set_filetype
#define archive_entry_set_mtime la.archive_entry_set_mtime
#define archive_entry_set_pathname la.archive_entry_set_pathname
#define archive_entry_set_perm la.archive_entry_set_perm
#define archive_entry_set_size la.archive_entry_set_size
#define archive_entry_size la.archive_entry_size
#define archive_entry_sparse_add_entry la.archive_entry_sparse_add_entry
#define archive_errno la.archive_errno
#define archive_error_string la.archive_error_string
#define archive_filter_bytes la.archive_filter_bytes
#define archive_read_data la.archive_read_data
#define archive_read_data_block la.archive_read_data_block
#define archive_read_free la.archive_read_free
#define archive_read_new la.archive_read_new
#define archive_read_next_header la.archive_read_next_header
#define archive_read_open_fd la.archive_read_open_fd
#define archive_read_support_filter_all la.archive_read_support_filter_all
#define archive_read_support_format_tar la.archive_read_support_format_tar
#define archive_set_error la.archive_set_error
#define archive_write_add_filter_gzip la.archive_write_add_filter_gzip
#define archive_write_add_filter_lz4 la.archive_write_add_filter_lz4
#define archive_write_add_filter_none la.archive_write_add_filter_none
#define archive_write_add_filter_xz la.archive_write_add_filter_xz
#define archive_write_add_filter_zstd la.archive_write_add_filter_zstd
#define archive_write_close la.archive_write_close
#define archive_write_data la.archive_write_data
#define archive_write_finish_entry la.archive_write_finish_entry
#define archive_write_free la.archive_write_free
#define archive_write_header la.archive_write_header
#define archive_write_new la.archive_write_new
#define archive_write_open2 la.archive_write_open2
#define archive_write_set_bytes_per_block la.archive_write_set_bytes_per_block
#define archive_write_set_filter_option la.archive_write_set_filter_option
#define archive_write_set_format_pax la.archive_write_set_format_pax

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
	struct archive *a;	/* NULL: uncompressed, written here */
	int fd;
	char *name;
	uint64_t out_bytes;
	uint64_t image_size;	/* logical bytes the image entry needs */
	uint64_t image_fed;	/* logical bytes given so far */
	bool in_image;
	/* Uncompressed: the image's data regions, the one being fed. */
	struct blksnap_range *map;
	size_t map_count, map_at;
	uint64_t entry_bytes;	/* data bytes of the current entry */
};

static la_ssize_t writer_cb(struct archive *a, void *ctx, const void *buf,
			    size_t len)
{
	struct blksnap_writer *w = ctx;

	if (bs_write_all(w->fd, buf, len) < 0) {
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	w->out_bytes += len;
	return (la_ssize_t)len;
}

static int writer_fail(struct blksnap_writer *w, const char *what)
{
	int err = archive_errno(w->a);
	const char *msg = archive_error_string(w->a);

	if (err > 0 && (!msg || !strcmp(msg, strerror(err))))
		return bs_fail_errno(err, "%s: %s", w->name, what);
	return bs_fail("%s: %s: %s", w->name, what, msg ? msg : "unknown error");
}

static int set_filter(struct blksnap_writer *w, const struct blksnap_compress *c)
{
	char num[16];
	int r;

	if (!strcmp(c->method, "zstd"))
		r = archive_write_add_filter_zstd(w->a);
	else if (!strcmp(c->method, "gzip"))
		r = archive_write_add_filter_gzip(w->a);
	else if (!strcmp(c->method, "xz"))
		r = archive_write_add_filter_xz(w->a);
	else if (!strcmp(c->method, "lz4"))
		r = archive_write_add_filter_lz4(w->a);
	else
		r = archive_write_add_filter_none(w->a);
	if (r != ARCHIVE_OK)
		return writer_fail(w, "cannot set up compression");
	if (c->level >= 0) {
		snprintf(num, sizeof(num), "%d", c->level);
		if (archive_write_set_filter_option(w->a, NULL,
						    "compression-level",
						    num) != ARCHIVE_OK)
			return writer_fail(w, "bad compression level");
	}
	if (c->threads > 0) {
		snprintf(num, sizeof(num), "%d", c->threads);
		if (archive_write_set_filter_option(w->a, NULL, "threads",
						    num) != ARCHIVE_OK)
			return writer_fail(w, "compression threads not supported");
	}
	return 0;
}

/*
 * Uncompressed archives are written here rather than by libarchive, in
 * the layout its pax writer gives them (the same bytes but for names
 * too long for a ustar header: tests/tar-compat.sh compares the two), so
 * that an uncompressed send from a manifest file needs nothing of
 * libarchive, whose loading is a fifth of a 1% incremental of a 2 GiB
 * image.  Compressed archives go through libarchive's pax writer and
 * filters.
 */
#define TAR_BLOCK	512u
#define TAR_NAME_MAX	100u
/* Largest size a ustar header holds: 11 octal digits. */
#define USTAR_SIZE_MAX	077777777777ull

static int native_out(struct blksnap_writer *w, const void *buf, size_t len)
{
	if (bs_write_all(w->fd, buf, len) < 0)
		return bs_fail_errno(errno, "%s: write error", w->name);
	w->out_bytes += len;
	return 0;
}

/* Zeros up to the next multiple of TAR_BLOCK after @len bytes. */
static int native_pad(struct blksnap_writer *w, uint64_t len)
{
	size_t n = (size_t)((TAR_BLOCK - len % TAR_BLOCK) % TAR_BLOCK);

	return n ? native_out(w, bs_zeroes(), n) : 0;
}

/* @v in octal, zero-padded to @digits digits, then @tail. */
static void put_octal(char *field, size_t digits, uint64_t v,
		      const char *tail, size_t tail_len)
{
	size_t i;

	for (i = digits; i-- > 0; v >>= 3)
		field[i] = (char)('0' + (v & 7));
	memcpy(field + digits, tail, tail_len);
}

/* A ustar header as libarchive's pax writer fills it. */
static int native_header(struct blksnap_writer *w, const char *name,
			 char type, uint64_t size, time_t mtime)
{
	unsigned char h[TAR_BLOCK];
	unsigned int sum = 0;
	size_t i, len;

	memset(h, 0, sizeof(h));
	/* A name that does not fit is cut to 99 bytes, as libarchive does. */
	len = strlen(name);
	memcpy(h, name, len <= TAR_NAME_MAX ? len : TAR_NAME_MAX - 1);
	put_octal((char *)h + 100, 6, 0644, " ", 2);	/* mode */
	put_octal((char *)h + 108, 6, 0, " ", 2);	/* uid */
	put_octal((char *)h + 116, 6, 0, " ", 2);	/* gid */
	/* A larger size is in the pax header (size=). */
	put_octal((char *)h + 124, 11, BS_MIN(size, USTAR_SIZE_MAX), " ", 1);
	put_octal((char *)h + 136, 11, (uint64_t)mtime, " ", 1);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar\0" "00", 8);
	put_octal((char *)h + 329, 6, 0, " ", 2);	/* devmajor */
	put_octal((char *)h + 337, 6, 0, " ", 2);	/* devminor */
	memset(h + 148, ' ', 8);
	for (i = 0; i < sizeof(h); i++)
		sum += h[i];
	put_octal((char *)h + 148, 6, sum, "\0 ", 2);
	return native_out(w, h, sizeof(h));
}

/* Appends the pax record "LEN KEY=VALUE\n" to @buf (of @size) at *len. */
static int pax_record(char *buf, size_t size, size_t *len, const char *key,
		      const char *value)
{
	size_t n = strlen(key) + strlen(value) + 3, digits = 1, t;
	int ret;

	/* LEN counts its own digits. */
	for (;;) {
		size_t d = 1;

		for (t = n + digits; t >= 10; t /= 10)
			d++;
		if (d == digits)
			break;
		digits = d;
	}
	ret = snprintf(buf + *len, size - *len, "%zu %s=%s\n", n + digits,
		       key, value);
	/* One byte is left for a terminating NUL. */
	if (ret < 0 || (size_t)ret >= size - *len)
		return bs_fail("internal error: pax header too long");
	*len += (size_t)ret;
	return 0;
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
	time_t now = time(NULL);
	char rec[4 * TAR_BLOCK], num[24], pax_name[TAR_NAME_MAX];
	size_t rlen = 0;

	if (strlen(ustar_name) > TAR_NAME_MAX &&
	    pax_record(rec, sizeof(rec), &rlen, "path", name))
		return -1;
	if (strlen(extra) >= sizeof(rec) - rlen)
		return bs_fail("%s: internal error: pax header too long", w->name);
	memcpy(rec + rlen, extra, strlen(extra));
	rlen += strlen(extra);
	if (size > USTAR_SIZE_MAX) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
		if (pax_record(rec, sizeof(rec), &rlen, "size", num))
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
		return native_entry(w, entry, entry, size, "");
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
	if (pax_record(records, sizeof(records), &rlen, "GNU.sparse.major", "1") ||
	    pax_record(records, sizeof(records), &rlen, "GNU.sparse.minor", "0") ||
	    pax_record(records, sizeof(records), &rlen, "GNU.sparse.name", entry) ||
	    pax_record(records, sizeof(records), &rlen, "GNU.sparse.realsize", num))
		goto out;
	data += (mlen + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	records[rlen] = '\0';
	if (native_entry(w, entry, ustar_name, data, records) ||
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

int blksnap_writer_open(int fd, const char *name,
			const struct blksnap_compress *c,
			struct blksnap_writer **wp)
{
	bool native = !strcmp(c->method, "none");
	struct blksnap_writer *w;

	if (!native && la_ready())
		return -1;
	w = bs_calloc(1, sizeof(*w));
	if (!w)
		return -1;
	w->fd = fd;
	w->name = bs_strdup(name);
	if (native) {
		if (!w->name)
			goto fail;
		*wp = w;
		return 0;
	}
	w->a = archive_write_new();
	if (!w->name || !w->a) {
		bs_fail_errno(ENOMEM, "%s", name);
		goto fail;
	}
	if (archive_write_set_format_pax(w->a) != ARCHIVE_OK ||
	    /*
	     * Unbuffered: the image data goes from the caller's buffer to
	     * write(2) (or the compressor) without another copy.
	     */
	    archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK) {
		writer_fail(w, "cannot set up the archive");
		goto fail;
	}
	if (set_filter(w, c))
		goto fail;
	if (archive_write_open2(w->a, w, NULL, writer_cb, NULL, NULL) !=
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

static struct archive_entry *new_entry(const char *name, uint64_t size)
{
	struct archive_entry *e = archive_entry_new();

	if (!e)
		return NULL;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, time(NULL), 0);
	archive_entry_set_size(e, (la_int64_t)size);
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
	e = new_entry(entry, len);
	if (!e)
		return bs_fail_errno(ENOMEM, "%s", w->name);
	if (archive_write_header(w->a, e) != ARCHIVE_OK ||
	    archive_write_data(w->a, data, len) != (la_ssize_t)len ||
	    archive_write_finish_entry(w->a) != ARCHIVE_OK)
		ret = writer_fail(w, "write error");
	archive_entry_free(e);
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
	e = new_entry(entry, size);
	if (!e)
		return bs_fail_errno(ENOMEM, "%s", w->name);
	for (i = 0; i < regions->count; i++)
		archive_entry_sparse_add_entry(e, (la_int64_t)regions->v[i].offset,
					       (la_int64_t)regions->v[i].length);
	/* With no data at all, an empty extent at the end keeps it sparse. */
	if (!regions->count)
		archive_entry_sparse_add_entry(e, (la_int64_t)size, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		ret = writer_fail(w, "write error");
	archive_entry_free(e);
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
		la_ssize_t n = archive_write_data(w->a, p, len);

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
	if (archive_write_finish_entry(w->a) != ARCHIVE_OK)
		return writer_fail(w, "write error");
	return 0;
}

int blksnap_writer_finish(struct blksnap_writer *w)
{
	if (end_image(w))
		return -1;
	/* The end of archive: two blocks of zeros, not padded further. */
	if (!w->a)
		return native_out(w, bs_zeroes(), 2 * TAR_BLOCK);
	if (archive_write_close(w->a) != ARCHIVE_OK)
		return writer_fail(w, "write error");
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
		archive_write_free(w->a);
	free(w->map);
	free(w->name);
	free(w);
}

/* ----------------------------------------------------------------------- */

/* A damaged header may leave an entry without a usable name. */
static const char *entry_name(struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);

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
};

static int reader_fail(struct blksnap_archive *r, const char *what)
{
	const char *msg = archive_error_string(r->a);
	int err = archive_errno(r->a);

	/* A download that failed ends the stream early: say why. */
	if (blksnap_remote_status(r->remote))
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
	la_int64_t size = archive_entry_size(e);
	la_ssize_t n;
	char *p;

	if (size < 0 || (uint64_t)size > max)
		return bs_fail("%s: entry %s has an implausible size", r->name,
			       entry_name(e));
	p = bs_malloc((size_t)size + 1);
	if (!p)
		return -1;
	n = archive_read_data(r->a, p, (size_t)size);
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
	int ret = archive_read_next_header(r->a, e);

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
	int ret = archive_read_next_header(r->a, &e);

	if (ret == ARCHIVE_EOF)
		return bs_fail("%s: not a blksnap archive (empty)", r->name);
	if (ret < ARCHIVE_WARN)
		return bs_fail("%s: not a blksnap archive (%s)", r->name,
			       archive_error_string(r->a));
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
	if (archive_entry_filetype(r->entry) != AE_IFREG ||
	    (uint64_t)archive_entry_size(r->entry) != m->size)
		return bs_fail("%s: damaged archive: the image entry is not a file of %llu bytes",
			       r->name, (unsigned long long)m->size);
	r->has_image = true;
	return 0;
}

static int archive_open(const char *name, size_t block,
			struct blksnap_archive **ap)
{
	struct blksnap_archive *r;

	if (la_ready())
		return -1;
	r = bs_calloc(1, sizeof(*r));
	if (!r)
		return -1;
	r->fd = -1;
	r->name = bs_strdup(strcmp(name, "-") ? name : "(standard input)");
	if (!r->name)
		goto fail;
	if (!strcmp(name, "-")) {
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
	r->a = archive_read_new();
	if (!r->a) {
		bs_fail_errno(ENOMEM, "%s", r->name);
		goto fail;
	}
	archive_read_support_filter_all(r->a);
	archive_read_support_format_tar(r->a);
	if (archive_read_open_fd(r->a, r->fd, block) != ARCHIVE_OK) {
		bs_fail("%s: not a blksnap archive (%s)", r->name,
			archive_error_string(r->a));
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
	return archive_open(name, ARCHIVE_READ_BLOCK, ap);
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
	return (uint64_t)archive_filter_bytes(a->a, -1);
}

void blksnap_archive_close(struct blksnap_archive *a)
{
	if (!a)
		return;
	if (a->a)
		archive_read_free(a->a);
	if (a->own_fd && a->fd >= 0)
		close(a->fd);
	blksnap_remote_close(a->remote);
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
		int ret = archive_read_data_block(r->a, &buf, &len, &off);

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
	if (want && (uint64_t)archive_entry_size(e) != want)
		return bs_fail("%s: damaged archive: the hash index has %lld bytes, not the %llu its image data needs",
			       r->name, (long long)archive_entry_size(e),
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
	ret = archive_read_next_header(r->a, &e);
	if (ret != ARCHIVE_EOF) {
		blksnap_hash_index_free(ix);
		if (ret < ARCHIVE_WARN)
			return reader_fail(r, "damaged archive");
		return bs_fail("%s: unexpected entry '%.60s' after the hash index",
			       r->name, entry_name(e));
	}
	return 0;
}

/* The first block where what was read and what the index says differ. */
static int compare_index(const char *name, const struct blksnap_hash_index *got,
			 const struct blksnap_hash_index *want)
{
	size_t ri = 0, hi = 0;

	for (ri = 0; ri < want->regions.count || ri < got->regions.count; ri++) {
		const struct blksnap_range *w = ri < want->regions.count ?
						&want->regions.v[ri] : NULL;
		const struct blksnap_range *g = ri < got->regions.count ?
						&got->regions.v[ri] : NULL;
		uint64_t off, end;

		if (!w || !g || w->offset != g->offset || w->length != g->length)
			return bs_fail("%s: damaged archive: image data regions differ from the hash index near byte %llu of the image",
				       name, (unsigned long long)(w ? w->offset : g->offset));
		end = w->offset + w->length;
		for (off = w->offset; off < end; off += want->block_size, hi++) {
			if (got->hash[hi] != want->hash[hi])
				return bs_fail("%s: corrupted archive: image data at offset %llu (hash block of %u bytes) does not match its hash",
					       name, (unsigned long long)off,
					       want->block_size);
		}
	}
	return 0;
}

int blksnap_archive_read_image(struct blksnap_archive *r, blksnap_sink_fn sink,
			       void *ctx, struct blksnap_hash_index *ix)
{
	struct block_hasher h = { .block_start = 0 };
	int ret = -1;

	if (!r->has_image)
		return bs_fail("%s: this is a manifest file: it holds no image data",
			       r->name);
	blksnap_hash_index_init(&h.ix, r->manifest.hash_block_size,
				r->manifest.size);
	h.st = XXH3_createState();
	if (!h.st) {
		bs_fail_errno(ENOMEM, "%s", r->name);
		goto out;
	}
	if (stream_image(r, sink, ctx, &h) ||
	    read_index_entry(r, bs_hash_index_len(&h.ix), ix))
		goto out;
	ret = compare_index(r->name, &h.ix, ix);
	if (ret)
		blksnap_hash_index_free(ix);
out:
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

/* A ustar header's octal field; false when it is not one. */
static bool get_octal(const unsigned char *field, size_t size, uint64_t *v)
{
	size_t i = 0;

	*v = 0;
	while (i < size && field[i] == ' ')
		i++;
	if (i == size || field[i] < '0' || field[i] > '7')
		return false;
	for (; i < size && field[i] >= '0' && field[i] <= '7'; i++)
		*v = *v << 3 | (uint64_t)(field[i] - '0');
	return i == size || field[i] == ' ' || field[i] == '\0';
}

/* A plain ustar header of a regular file named @name, of *size bytes. */
static bool plain_header(const unsigned char *h, const char *name,
			 uint64_t *size)
{
	uint64_t sum;
	unsigned int got = 0;
	size_t i;

	for (i = 0; i < TAR_BLOCK; i++)
		got += (i >= 148 && i < 156) ? ' ' : h[i];
	return get_octal(h + 148, 8, &sum) && sum == got &&
	       !memcmp(h + 257, "ustar", 5) &&
	       (h[156] == '0' || h[156] == '\0') &&
	       strnlen((const char *)h, TAR_NAME_MAX) == strlen(name) &&
	       !memcmp(h, name, strlen(name)) &&
	       get_octal(h + 124, 12, size);
}

/*
 * The manifest of a manifest file (blksnap.manifest then blksnap.hashes,
 * uncompressed, in plain ustar headers, as blksnap-send writes it), read
 * without libarchive: an incremental's base is usually one.  False for
 * anything else, which libarchive then reads, or fails on, as for any
 * other archive.
 */
static bool read_manifest_file(const char *name, struct blksnap_manifest *m)
{
	unsigned char buf[4096];
	uint64_t size, next, hsize;
	struct stat st;
	ssize_t got;
	int fd;

	if (!strcmp(name, "-") || blksnap_is_url(name))
		return false;
	/*
	 * A regular file only, not even opened otherwise: opening a FIFO
	 * lets its writer write, and what it wrote would be gone when
	 * libarchive opens it again.
	 */
	if (stat(name, &st) || !S_ISREG(st.st_mode))
		return false;
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	got = fstat(fd, &st) || !S_ISREG(st.st_mode) ? -1 :
	      bs_pread_all(fd, buf, sizeof(buf), 0);
	close(fd);
	if (got < 0 || (size_t)got < 2 * TAR_BLOCK ||
	    !plain_header(buf, BLKSNAP_ENTRY_MANIFEST, &size))
		return false;
	next = TAR_BLOCK + (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	return next + TAR_BLOCK <= (uint64_t)got &&
	       plain_header(buf + next, BLKSNAP_ENTRY_HASHES, &hsize) &&
	       !blksnap_manifest_parse((const char *)buf + TAR_BLOCK,
				       (size_t)size, name, m);
}

int blksnap_archive_read_manifest(const char *name, struct blksnap_manifest *m)
{
	struct blksnap_archive *a;

	if (read_manifest_file(name, m))
		return 0;

	if (archive_open(name, MANIFEST_READ_BLOCK, &a))
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
