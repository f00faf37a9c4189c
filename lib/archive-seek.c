// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Random access to an archive's tar stream (lib/archive-seek.h): the raw
 * bytes of a file or URL, and one backend per compression over them.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"
#include "archive-seek.h"
#include "libarchive-load.h"
#include "zstd-seekable.h"

/* The archive's bytes as stored. */
struct raw {
	const char *name;
	int fd;				/* a local file, or file:// */
	struct blksnap_remote *remote;	/* else a URL, one read at a time */
	pthread_mutex_t lock;
	uint64_t size;
};

/* Exactly @len bytes of @fd at @off; messages name @name and @what. */
static int fd_pread(int fd, const char *name, const char *what, void *buf,
		    size_t len, uint64_t off)
{
	ssize_t got = bs_pread_all(fd, buf, len, off);

	if (got < 0)
		return bs_fail_errno(errno, "%s: read error at byte %llu of %s",
				     name, (unsigned long long)off, what);
	if ((size_t)got != len)
		return bs_fail("%s: truncated archive: %s ends before byte %llu",
			       name, what, (unsigned long long)(off + len));
	return 0;
}

static int raw_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct raw *w = ctx;	/* a URL's object, unless file:// gave an fd */
	int ret;

	if (w->fd >= 0)
		return fd_pread(w->fd, w->name, "the file", buf, len, off);
	pthread_mutex_lock(&w->lock);
	ret = bs_remote_pread(w->remote, buf, len, off);
	pthread_mutex_unlock(&w->lock);
	return ret;
}

static int raw_open(struct raw *w, const char *name)
{
	struct stat st;

	w->name = name;
	w->fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	if (blksnap_is_url(name))
		return bs_remote_open_ranged(name, &w->remote, &w->fd, &w->size);
	w->fd = open(name, O_RDONLY | O_CLOEXEC);
	if (w->fd < 0)
		return bs_fail_errno(errno, "%s: cannot open", name);
	if (fstat(w->fd, &st))
		return bs_fail_errno(errno, "%s", name);
	if (!S_ISREG(st.st_mode))
		return bs_fail("%s: cannot be read at offsets: not a regular file (a pipe or device is read by blksnap-restore only)",
			       name);
	w->size = (uint64_t)st.st_size;
	return 0;
}

static void raw_close(struct raw *w)
{
	if (w->remote)
		bs_remote_close_ranged(w->remote);	/* closes a file:// fd */
	else if (w->fd >= 0)
		close(w->fd);
	w->remote = NULL;
	w->fd = -1;
	pthread_mutex_destroy(&w->lock);
}

/* ----------------------------------------------------------------------- */
/* none: the tar stream is the raw bytes. */

static int none_open(bs_pread_fn pread, void *ctx, uint64_t size,
		     const char *name, void **h)
{
	(void)pread;
	(void)size;
	(void)name;
	*h = ctx;
	return 0;
}

static int none_pread(void *h, void *buf, size_t len, uint64_t off)
{
	return raw_pread(h, buf, len, off);
}

static void none_close(void *h)
{
	(void)h;
}

static const unsigned char zstd_magic[] = { 0x28, 0xb5, 0x2f, 0xfd };
static const unsigned char gzip_magic[] = { 0x1f, 0x8b };
static const unsigned char xz_magic[] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
static const unsigned char lz4_magic[] = { 0x04, 0x22, 0x4d, 0x18 };

/*
 * zstd: the seekable format's reader (lib/zstd-seekable.h) over the raw
 * layer.  It reads a frame at a time and keeps the last one, so it is
 * one reader behind the lock (not thread_safe).  Archives of one zstd
 * stream (before 0.2.0) have no seek table: .open returns 1 for them.
 */
struct zstd_seek {
	bs_pread_fn raw;
	void *raw_ctx;
	struct zseek_reader *r;
};

static ssize_t zstd_raw_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct zstd_seek *z = ctx;

	if (z->raw(z->raw_ctx, buf, len, off)) {
		errno = errno ? errno : EIO;
		return -1;
	}
	return (ssize_t)len;
}

static int zstd_open(bs_pread_fn pread, void *ctx, uint64_t size,
		     const char *name, void **h)
{
	struct zstd_seek *z = bs_calloc(1, sizeof(*z));
	int ret;

	if (!z)
		return -1;
	z->raw = pread;
	z->raw_ctx = ctx;
	ret = zseek_reader_open(zstd_raw_pread, z, size, name, &z->r);
	if (ret) {
		free(z);
		return ret;
	}
	*h = z;
	return 0;
}

static int zstd_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct zstd_seek *z = h;

	return zseek_reader_read(z->r, buf, len, off);
}

static void zstd_close(void *h)
{
	struct zstd_seek *z = h;

	zseek_reader_close(z->r);
	free(z);
}

/*
 * The table.  A compression whose .open is NULL, or returns 1, is read
 * through the cache file.  xz: its block index would allow seeking, but
 * libarchive does not expose it: through the cache for now.
 */
static const struct bs_seek_backend backends[] = {
	{ "zstd", zstd_magic, sizeof(zstd_magic), zstd_open, zstd_pread, zstd_close,
	  false },
	{ "gzip", gzip_magic, sizeof(gzip_magic), NULL, NULL, NULL, false },
	{ "xz", xz_magic, sizeof(xz_magic), NULL, NULL, NULL, false },
	{ "lz4", lz4_magic, sizeof(lz4_magic), NULL, NULL, NULL, false },
};

static const struct bs_seek_backend none_backend = {
	"none", NULL, 0, none_open, none_pread, none_close, true
};

/* ----------------------------------------------------------------------- */
/* The cache: the whole tar stream, decompressed once into an unnamed file. */

struct seekable_cache {
	int fd;
	const char *name;
};

static int cache_pread(void *h, void *buf, size_t len, uint64_t off)
{
	struct seekable_cache *c = h;

	return fd_pread(c->fd, c->name, "its decompressed tar stream (the cache file)",
			buf, len, off);
}

static void cache_close(void *h)
{
	struct seekable_cache *c = h;

	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static const struct bs_seek_backend cache_backend = {
	"cache", NULL, 0, NULL, cache_pread, cache_close, true
};

static int cache_file(const char *dir, const char *name)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		return bs_fail_errno(errno, "%s: cannot make a cache file in %s to decompress it into",
				     name, dir);
	return fd;
}

/* Decompresses the whole stream of @name into @fd with libarchive. */
static int decompress_into(const char *name, int fd)
{
	struct blksnap_remote *remote = NULL;
	struct archive_entry *e;
	struct archive *a = NULL;
	uint64_t at = 0;
	int in = -1, ret = -1;
	char *buf = NULL;

	if (la_ready())
		return -1;
	if (blksnap_is_url(name)) {
		if (blksnap_remote_open(name, NULL, &remote, &in))
			return -1;
	} else {
		in = open(name, O_RDONLY | O_CLOEXEC);
		if (in < 0)
			return bs_fail_errno(errno, "%s: cannot open", name);
	}
	buf = bs_malloc(BS_IO_CHUNK);
	a = la.read_new();
	if (!buf || !a)
		goto out;
	la.read_support_filter_all(a);
	la.read_support_format_raw(a);
	if (la.read_open_fd(a, in, 1u << 20) != ARCHIVE_OK ||
	    la.read_next_header(a, &e) != ARCHIVE_OK) {
		bs_fail("%s: cannot decompress: %s", name, la.error_string(a));
		goto out;
	}
	for (;;) {
		la_ssize_t n = la.read_data(a, buf, BS_IO_CHUNK);

		if (n == 0)
			break;
		if (n < 0) {
			if (!blksnap_remote_status(remote))
				bs_fail("%s: cannot decompress: %s at byte %llu of its tar stream",
					name, la.error_string(a),
					(unsigned long long)at);
			goto out;
		}
		if (bs_pwrite_all(fd, buf, (size_t)n, at)) {
			bs_fail_errno(errno, "%s: cannot write its cache file", name);
			goto out;
		}
		at += (uint64_t)n;
	}
	ret = blksnap_remote_status(remote);
out:
	if (a)
		la.read_free(a);
	free(buf);
	if (remote)
		blksnap_remote_close(remote);
	else if (in >= 0)
		close(in);
	return ret;
}

/* ----------------------------------------------------------------------- */

struct bs_seekable {
	char *name;
	struct raw raw;
	const struct bs_seek_backend *be;
	const char *compression;
	const char *access;
	void *h;
	pthread_mutex_t lock;
};

static const struct bs_seek_backend *find_backend(const unsigned char *head,
						  size_t len)
{
	size_t i;

	for (i = 0; i < BS_ARRAY_SIZE(backends); i++)
		if (len >= backends[i].magic_len &&
		    !memcmp(head, backends[i].magic, backends[i].magic_len))
			return &backends[i];
	return NULL;
}

static int open_cache(struct bs_seekable *s, const struct bs_seek_opts *o)
{
	const char *dir = o && o->cache_dir ? o->cache_dir : getenv("TMPDIR");
	struct seekable_cache *c;

	if (o && o->no_cache)
		return bs_fail("%s: a %s archive without a seek table cannot be read at offsets, and the cache is off: restore it with blksnap-restore, or allow the cache",
			       s->name, s->compression);
	if (!dir || !*dir)
		dir = "/var/tmp";
	c = bs_calloc(1, sizeof(*c));
	if (!c)
		return -1;
	c->name = s->name;
	c->fd = cache_file(dir, s->name);
	if (c->fd < 0 || decompress_into(s->name, c->fd)) {
		cache_close(c);
		return -1;
	}
	s->be = &cache_backend;
	s->h = c;
	s->access = "cache file";
	return 0;
}

int bs_seekable_open(const char *name, const struct bs_seek_opts *o,
		     struct bs_seekable **sp)
{
	unsigned char head[8] = { 0 };
	struct bs_seekable *s = bs_calloc(1, sizeof(*s));
	const struct bs_seek_backend *be;
	int ret;

	if (!s)
		return -1;
	pthread_mutex_init(&s->lock, NULL);
	s->name = bs_strdup(name);
	if (!s->name) {
		free(s);
		return -1;
	}
	if (raw_open(&s->raw, s->name))
		goto fail;
	if (s->raw.size < sizeof(head)) {
		bs_fail("%s: not a blksnap archive (%llu bytes)", s->name,
			(unsigned long long)s->raw.size);
		goto fail;
	}
	if (raw_pread(&s->raw, head, sizeof(head), 0))
		goto fail;
	be = find_backend(head, sizeof(head));
	if (!be)
		be = &none_backend;	/* the tar reader says if it is not tar */
	s->compression = be->name;
	ret = be->open ? be->open(raw_pread, &s->raw, s->raw.size, s->name,
				  &s->h) : 1;
	if (ret < 0)
		goto fail;
	if (ret == 0) {
		s->be = be;
		s->access = be == &none_backend ? "direct" : "seek table";
	} else if (open_cache(s, o)) {
		goto fail;
	}
	*sp = s;
	return 0;
fail:
	bs_seekable_close(s);
	return -1;
}

int bs_seekable_pread(struct bs_seekable *s, void *buf, size_t len,
		      uint64_t off)
{
	int ret;

	if (s->be->thread_safe)
		return s->be->pread(s->h, buf, len, off);
	pthread_mutex_lock(&s->lock);
	ret = s->be->pread(s->h, buf, len, off);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

const char *bs_seekable_compression(const struct bs_seekable *s)
{
	return s->compression;
}

const char *bs_seekable_access(const struct bs_seekable *s)
{
	return s->access;
}

void bs_seekable_close(struct bs_seekable *s)
{
	if (!s)
		return;
	if (s->be)
		s->be->close(s->h);
	raw_close(&s->raw);
	pthread_mutex_destroy(&s->lock);
	free(s->name);
	free(s);
}
