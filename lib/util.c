// SPDX-License-Identifier: LGPL-2.1-or-later
/* Error messages, allocation, I/O loops and atomic output files. */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <linux/fs.h>

#include "internal.h"

static __thread char last_error[1024];
static __thread int last_errno;

const char *blksnap_error(void)
{
	return last_error;
}

int blksnap_error_errno(void)
{
	return last_errno;
}

const char *blksnap_version(void)
{
	return PACKAGE_VERSION;
}

int bs_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	last_errno = 0;
	return -1;
}

int bs_fail_errno(int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	n = strlen(last_error);
	snprintf(last_error + n, sizeof(last_error) - n, ": %s", strerror(err));
	last_errno = err;
	return -1;
}

int bs_fail_with(int err, const char *msg)
{
	bs_strlcpy(last_error, msg, sizeof(last_error));
	last_errno = err;
	return -1;
}

void *bs_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		bs_fail_errno(ENOMEM, "cannot allocate %zu bytes", size);
	return p;
}

void *bs_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		bs_fail_errno(ENOMEM, "cannot allocate %zu x %zu bytes", n, size);
	return p;
}

int bs_grow(void **v, size_t *alloc, size_t need, size_t size)
{
	size_t n = *alloc ? *alloc : 16;
	void *p;

	if (need <= *alloc)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2 / size)
			return bs_fail_errno(ENOMEM, "list too long");
		n *= 2;
	}
	p = realloc(*v, n * size);
	if (!p)
		return bs_fail_errno(ENOMEM, "cannot allocate %zu x %zu bytes",
				     n, size);
	*v = p;
	*alloc = n;
	return 0;
}

char *bs_strdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		bs_fail_errno(ENOMEM, "cannot allocate a string");
	return p;
}

void bs_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

ssize_t bs_pread_all(int fd, void *buf, size_t len, uint64_t offset)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(offset + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int bs_write_all(int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

int bs_pwrite_all(int fd, const void *buf, size_t len, uint64_t offset)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, (off_t)offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		buf = (const char *)buf + n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

const void *bs_zeroes(void)
{
	static const char zeroes[BS_ZERO_CHUNK];

	return zeroes;
}

bool bs_is_zero(const void *buf, size_t len)
{
	const char *p = buf;

	/* Against the shared zero buffer: its pages are all the zero page. */
	while (len) {
		size_t n = BS_MIN(len, (size_t)BS_ZERO_CHUNK);

		if (memcmp(p, bs_zeroes(), n))
			return false;
		p += n;
		len -= n;
	}
	return true;
}

void bs_uuid_random(char out[BLKSNAP_UUID_LEN + 1])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			abort();	/* the kernel always has randomness */
	}
	b[6] = (b[6] & 0x0f) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	bs_uuid_format(b, out);
}

bool blksnap_uuid_valid(const char *s)
{
	size_t i;

	if (strlen(s) != BLKSNAP_UUID_LEN)
		return false;
	for (i = 0; i < BLKSNAP_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
			return false;
	}
	return true;
}

int bs_fd_size(int fd, const char *name, uint64_t *size, bool *is_blockdev)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return bs_fail_errno(errno, "%s", name);
	*is_blockdev = S_ISBLK(st.st_mode);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0)
			return bs_fail_errno(errno, "%s: cannot get the device size",
					     name);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return bs_fail("%s: not a block device or a regular file", name);
	*size = (uint64_t)st.st_size;
	return 0;
}

int bs_open_anonymous(const char *dir)
{
	char *name;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd;
	if (asprintf(&name, "%s/.blksnap-tmp.XXXXXX", dir) < 0) {
		errno = ENOMEM;
		return -1;
	}
	fd = mkostemp(name, O_CLOEXEC);
	if (fd >= 0)
		unlink(name);
	free(name);
	return fd;
}

static int fsync_parent(const char *path)
{
	char *copy = bs_strdup(path);
	int fd, ret = 0;

	if (!copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) < 0 && errno != EINVAL)
			ret = bs_fail_errno(errno, "%s: cannot sync its directory",
					    path);
		close(fd);
	}
	free(copy);
	return ret;
}

/* Devices and FIFOs are written in place: they cannot be renamed over. */
static int open_in_place(struct blksnap_output *o, const char *path,
			 const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return bs_fail("%s: is a directory", path);
	o->path = bs_strdup(path);
	if (!o->path)
		return -1;
	o->fd = open(path, O_WRONLY | O_CLOEXEC);
	if (o->fd < 0) {
		bs_fail_errno(errno, "%s: cannot open for writing", path);
		blksnap_output_abort(o);
		return -1;
	}
	return 0;
}

static int create_temporary(struct blksnap_output *o)
{
	char *copy = bs_strdup(o->path), *dir, *base;
	mode_t mask;
	size_t n;

	if (!copy)
		return -1;
	base = strrchr(copy, '/');
	if (base) {
		*base++ = '\0';
		dir = copy[0] ? copy : "/";
	} else {
		base = copy;
		dir = ".";
	}
	n = strlen(dir) + strlen(base) + 32;
	o->tmp_path = bs_malloc(n);
	if (!o->tmp_path)
		goto fail;
	snprintf(o->tmp_path, n, "%s/.%s.XXXXXX", dir, base);
	o->fd = mkostemp(o->tmp_path, O_CLOEXEC);
	if (o->fd < 0) {
		bs_fail_errno(errno, "%s: cannot create a temporary file in %s",
			      o->path, dir);
		free(o->tmp_path);
		o->tmp_path = NULL;
		goto fail;
	}
	/* mkostemp makes 0600; an image or archive gets the usual mode. */
	mask = umask(0);
	umask(mask);
	if (fchmod(o->fd, 0666 & ~mask) < 0) {
		bs_fail_errno(errno, "%s", o->tmp_path);
		goto fail;
	}
	free(copy);
	return 0;
fail:
	free(copy);
	return -1;
}

/*
 * o->path: the name the finished file gets, @path itself or, when it
 * @exists, the file it names: through a symlink, that file is replaced,
 * not the link.
 */
static int set_final_path(struct blksnap_output *o, const char *path,
			  bool exists)
{
	if (exists) {
		o->path = realpath(path, NULL);
		if (!o->path)
			return bs_fail_errno(errno, "%s", path);
		return 0;
	}
	o->path = bs_strdup(path);
	return o->path ? 0 : -1;
}

int blksnap_output_create(struct blksnap_output *o, const char *path)
{
	struct stat st;
	bool exists;

	o->fd = -1;
	o->tmp_path = NULL;
	o->path = NULL;
	exists = stat(path, &st) == 0;
	if (exists && !S_ISREG(st.st_mode))
		return open_in_place(o, path, &st);
	if (set_final_path(o, path, exists))
		return -1;
	if (create_temporary(o)) {
		blksnap_output_abort(o);
		return -1;
	}
	return 0;
}

int blksnap_output_resume(struct blksnap_output *o, const char *path,
			  uint64_t *have)
{
	struct stat st;
	bool exists;
	size_t n;

	o->fd = -1;
	o->tmp_path = NULL;
	o->path = NULL;
	exists = stat(path, &st) == 0;
	if (exists && !S_ISREG(st.st_mode))
		return bs_fail("%s: not a regular file: a send into it cannot be resumed",
			       path);
	if (set_final_path(o, path, exists))
		return -1;
	n = strlen(o->path) + 6;
	o->tmp_path = bs_malloc(n);
	if (!o->tmp_path)
		goto fail;
	snprintf(o->tmp_path, n, "%s.part", o->path);
	o->fd = open(o->tmp_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (o->fd < 0) {
		bs_fail_errno(errno, "%s: cannot open the partial file %s", o->path,
			      o->tmp_path);
		goto fail;
	}
	if (flock(o->fd, LOCK_EX | LOCK_NB) < 0) {
		bs_fail_errno(errno, errno == EWOULDBLOCK ?
			      "%s: another send is writing it now" :
			      "%s: cannot lock it", o->tmp_path);
		goto fail;
	}
	if (fstat(o->fd, &st) < 0) {
		bs_fail_errno(errno, "%s", o->tmp_path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		bs_fail("%s: not a regular file", o->tmp_path);
		goto fail;
	}
	*have = (uint64_t)st.st_size;
	return 0;
fail:
	/* What is there stays: it may be the partial file of another run. */
	blksnap_output_keep(o);
	return -1;
}

void blksnap_output_keep(struct blksnap_output *o)
{
	if (o->fd >= 0) {
		/* Kept for a later run: on disk, as far as it got. */
		fsync(o->fd);
		close(o->fd);
	}
	o->fd = -1;
	free(o->tmp_path);
	free(o->path);
	o->tmp_path = NULL;
	o->path = NULL;
}

int blksnap_output_commit(struct blksnap_output *o)
{
	int ret = -1;

	/* A character device or FIFO written in place may not sync. */
	if (fsync(o->fd) < 0 && (o->tmp_path || errno != EINVAL)) {
		bs_fail_errno(errno, "%s: cannot write", o->path);
		goto out;
	}
	if (close(o->fd) < 0) {
		o->fd = -1;
		bs_fail_errno(errno, "%s: cannot write", o->path);
		goto out;
	}
	o->fd = -1;
	if (!o->tmp_path) {
		ret = 0;
		goto out;
	}
	if (rename(o->tmp_path, o->path) < 0) {
		bs_fail_errno(errno, "%s: cannot rename %s into place", o->path,
			      o->tmp_path);
		goto out;
	}
	free(o->tmp_path);
	o->tmp_path = NULL;
	ret = fsync_parent(o->path);
out:
	blksnap_output_abort(o);
	return ret;
}

void blksnap_output_abort(struct blksnap_output *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp_path)
		unlink(o->tmp_path);
	free(o->tmp_path);
	free(o->path);
	o->tmp_path = NULL;
	o->path = NULL;
}

int bs_dlopen_table(const char *soname, int flags, const struct bs_dlsym *syms,
		    size_t count, void *table, size_t table_size,
		    const char *missing, char *err, size_t err_size)
{
	void *h = dlopen(soname, flags);
	size_t i;

	if (!h) {
		snprintf(err, err_size, "%s: %s", missing, dlerror());
		return -1;
	}
	for (i = 0; i < count; i++) {
		void *f = dlsym(h, syms[i].name);

		if (!f) {
			snprintf(err, err_size, "%s: no %s in it", soname,
				 syms[i].name);
			memset(table, 0, table_size);
			return -1;	/* h stays loaded: harmless */
		}
		memcpy((char *)table + syms[i].at, &f, sizeof(f));
	}
	return 0;
}
