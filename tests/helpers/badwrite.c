// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * badwrite.so: a faulty file system under a tool, preloaded (LD_PRELOAD)
 * by tests/merge.sh, so that the check of what a tool wrote is tested:
 * write(2) and pwrite(2) to one file give the write of one byte of it
 * wrong while saying it was done.  Set by the environment:
 *   BADWRITE_NAME    the file: its name starts with this (its directory
 *                    left out), e.g. ".out.tar." for the temporary file
 *                    of out.tar (a file of another name is written as
 *                    asked)
 *   BADWRITE_AT      the offset in that file of the byte
 *   BADWRITE_MODE    flip: the byte lands with its bits inverted;
 *                    lose: the whole write that holds it is not made
 *                    (the offset moves on, the bytes there stay as
 *                    they were: a hole, zeros)
 * Each write holding the byte is damaged, once each.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

/* Whether @fd is the file named by BADWRITE_NAME. */
static int is_target(int fd, const char *want)
{
	char link[64], path[4096];
	const char *base;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return !strncmp(base, want, strlen(want));
}

/*
 * The write of @len bytes at file offset @off: 0 to make it as asked,
 * 1 to make it from *@copy (a malloc'ed copy with the byte inverted),
 * 2 to not make it.
 */
static int damage(int fd, const void *buf, size_t len, off_t off,
		  void **copy)
{
	const char *name = getenv("BADWRITE_NAME");
	const char *at_s = getenv("BADWRITE_AT");
	const char *mode = getenv("BADWRITE_MODE");
	unsigned long long at;
	unsigned char *p;

	if (!name || !*name || !at_s || !mode || off < 0 || !len)
		return 0;
	at = strtoull(at_s, NULL, 0);
	if (at < (unsigned long long)off ||
	    at - (unsigned long long)off >= len || !is_target(fd, name))
		return 0;
	if (!strcmp(mode, "lose"))
		return 2;
	if (strcmp(mode, "flip"))
		return 0;
	p = malloc(len);
	if (!p)
		return 0;
	memcpy(p, buf, len);
	p[at - (unsigned long long)off] ^= 0xff;
	*copy = p;
	return 1;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	static write_fn real;
	void *copy = NULL;
	ssize_t ret;
	off_t off;

	if (!real)
		real = (write_fn)dlsym(RTLD_NEXT, "write");
	off = lseek(fd, 0, SEEK_CUR);
	switch (damage(fd, buf, len, off, &copy)) {
	case 1:
		ret = real(fd, copy, len);
		free(copy);
		return ret;
	case 2:
		return lseek(fd, (off_t)len, SEEK_CUR) < 0 ? -1 : (ssize_t)len;
	default:
		return real(fd, buf, len);
	}
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static pwrite_fn real;
	void *copy = NULL;
	ssize_t ret;

	if (!real)
		real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
	switch (damage(fd, buf, len, off, &copy)) {
	case 1:
		ret = real(fd, copy, len, off);
		free(copy);
		return ret;
	case 2:
		return (ssize_t)len;
	default:
		return real(fd, buf, len, off);
	}
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}
