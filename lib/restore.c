// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Restoring a chain (full, then incrementals in order) into a device or
 * an image file, and verifying one.
 *
 * Nothing is trusted before it is checked: the order of the whole chain
 * is checked from the manifests before any data is read, an image file
 * only replaces its target once every byte matched its hash, and a
 * device is only written after a first pass verified the whole chain.
 *
 * An archive that arrives on a pipe ("-", a FIFO, a socket) can be read
 * only once: such an archive is opened before any data is read (its
 * manifest read, the rest left in the pipe) and its data read once.  A
 * chain with one is restored in one pass: into a file as always; into
 * a device written while it is verified, so that a failure leaves the
 * device holding a partial restore, which the message then says.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>

#include "internal.h"

struct target {
	int fd;
	const char *name;
	bool is_blockdev;
	bool wrote;		/* anything was written or zeroed */
	struct blksnap_output out;	/* image files: the temporary file */
	bool zero_holes;	/* a full archive into a device */
	uint64_t written_to;	/* end of the last data written */
};

struct progress {
	const struct blksnap_restore_opts *o;
	uint64_t done;
	uint64_t total;
};

struct sink_ctx {
	struct target *t;
	struct progress *p;
};

static void note(const struct blksnap_restore_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(const struct blksnap_restore_opts *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!o->message)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->message(o->message_ctx, buf);
}

static int write_zeros(struct target *t, uint64_t from, uint64_t to)
{
	if (from < to)
		t->wrote = true;
	while (from < to) {
		size_t n = (size_t)BS_MIN(to - from, (uint64_t)BS_ZERO_CHUNK);

		if (bs_pwrite_all(t->fd, bs_zeroes(), n, from))
			return bs_fail_errno(errno, "%s: write error at offset %llu",
					     t->name, (unsigned long long)from);
		from += n;
	}
	return 0;
}

/*
 * Zeros on a device, by BLKZEROOUT where the range allows it: the
 * kernel offloads it to the device (WRITE ZEROES) where it can, and
 * writes zeros itself where not; never a discard that may leave data.
 */
static int zero_device(struct target *t, uint64_t from, uint64_t to)
{
	uint64_t head = (from + 511) & ~511ULL, tail = to & ~511ULL;

	if (head < tail) {
		uint64_t range[2] = { head, tail - head };

		t->wrote = true;
		if (ioctl(t->fd, BLKZEROOUT, range) == 0) {
			if (zero_device(t, from, head))
				return -1;
			from = tail;
		}
	}
	return write_zeros(t, from, to);
}

/* Zeros in a file: a hole where its filesystem punches one. */
static int zero_file(struct target *t, uint64_t from, uint64_t to)
{
	if (!fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		       (off_t)from, (off_t)(to - from)))
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return bs_fail_errno(errno, "%s: cannot punch a hole at offset %llu",
				     t->name, (unsigned long long)from);
	return write_zeros(t, from, to);
}

/*
 * An archive's zero ranges (blksnap-archive(5)) over what the archives
 * before it left there.  Under a full archive there is nothing: a new
 * image file is all holes, and a device's holes were zeroed already.
 */
static int apply_zeros(struct target *t, size_t i,
		       const struct blksnap_ranges *zeros)
{
	size_t k;

	if (!t || !i)
		return 0;
	for (k = 0; k < zeros->count; k++) {
		uint64_t from = zeros->v[k].offset;
		uint64_t to = from + zeros->v[k].length;

		if (t->is_blockdev ? zero_device(t, from, to) :
				     zero_file(t, from, to))
			return -1;
	}
	return 0;
}

static int sink_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct sink_ctx *s = ctx;
	struct target *t = s->t;

	if (t && t->zero_holes && off > t->written_to &&
	    zero_device(t, t->written_to, off))
		return -1;
	if (t)
		t->wrote = true;
	if (t && bs_pwrite_all(t->fd, buf, len, off))
		return bs_fail_errno(errno, "%s: write error at offset %llu",
				     t->name, (unsigned long long)off);
	if (t)
		t->written_to = off + len;
	s->p->done += len;
	if (s->p->o->progress)
		s->p->o->progress(s->p->o->progress_ctx, s->p->done, s->p->total);
	return 0;
}

/*
 * An archive that can be read only once: standard input, a FIFO (a
 * shell's <(...) too), a socket or a character device.  URLs are
 * downloaded again for each read.
 */
static bool is_stream(const char *name)
{
	struct stat st;

	if (!strcmp(name, "-"))
		return true;
	if (blksnap_is_url(name) || stat(name, &st))
		return false;
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode);
}

/* The chain's archives: those read once are held open from the start. */
struct chain {
	struct blksnap_manifest *ms;
	struct blksnap_archive **open;	/* a stream's, until it is applied */
	size_t streams;
	uint64_t total;			/* data bytes of the chain */
};

static void chain_free(const struct blksnap_restore_opts *o, struct chain *c)
{
	size_t i;

	for (i = 0; c->open && i < o->count; i++)
		blksnap_archive_close(c->open[i]);
	free(c->open);
	free(c->ms);
}

/*
 * Reads all manifests first: a chain out of order fails before any
 * data, even when its archives arrive on pipes (each opened, in order,
 * its manifest read and its data left in the pipe).
 */
static int check_chain(const struct blksnap_restore_opts *o, struct chain *c)
{
	size_t i;

	c->ms = bs_calloc(o->count, sizeof(*c->ms));
	c->open = bs_calloc(o->count, sizeof(*c->open));
	if (!c->ms || !c->open)
		return -1;
	for (i = 0; i < o->count; i++) {
		if (is_stream(o->chain[i])) {
			if (blksnap_archive_open(o->chain[i], &c->open[i]))
				return -1;
			c->ms[i] = *blksnap_archive_manifest(c->open[i]);
			c->streams++;
		} else if (blksnap_archive_read_manifest(o->chain[i], &c->ms[i])) {
			return -1;
		}
		if (blksnap_manifest_check_chain(i ? &c->ms[i - 1] : NULL,
						 i ? o->chain[i - 1] : NULL,
						 &c->ms[i], o->chain[i]))
			return -1;
		c->total += c->ms[i].data_bytes;
	}
	return 0;
}

static int apply_archive(const struct blksnap_restore_opts *o, size_t i,
			 struct chain *c, struct target *t, struct progress *p)
{
	const struct blksnap_manifest *want = &c->ms[i];
	struct sink_ctx ctx = { .t = t, .p = p };
	struct blksnap_hash_index ix;
	struct blksnap_ranges zeros;
	struct blksnap_archive *a = c->open[i];
	int ret;

	c->open[i] = NULL;
	if (!a) {
		if (blksnap_archive_open(o->chain[i], &a))
			return -1;
		/* The file may have been replaced since its manifest was read. */
		if (strcmp(blksnap_archive_manifest(a)->uuid, want->uuid)) {
			blksnap_archive_close(a);
			return bs_fail("%s: changed while being read", o->chain[i]);
		}
	}
	if (t) {
		t->zero_holes = t->is_blockdev && i == 0;
		t->written_to = 0;
	}
	ret = blksnap_archive_read_image(a, sink_write, &ctx, &ix, &zeros);
	if (!ret) {
		blksnap_hash_index_free(&ix);
		if (t && t->zero_holes)
			ret = zero_device(t, t->written_to, want->size);
		if (!ret)
			ret = apply_zeros(t, i, &zeros);
		blksnap_ranges_free(&zeros);
	}
	blksnap_archive_close(a);
	return ret;
}

/* Applies the chain; *@failed (may be NULL) gets the archive that failed. */
static int run_chain(const struct blksnap_restore_opts *o, struct chain *c,
		     struct target *t, size_t *failed)
{
	struct progress p = { .o = o, .total = c->total };
	size_t i;

	for (i = 0; i < o->count; i++) {
		if (apply_archive(o, i, c, t, &p)) {
			if (failed)
				*failed = i;
			return -1;
		}
	}
	return 0;
}

static const char *display_name(const char *name)
{
	return strcmp(name, "-") ? name : "(standard input)";
}

/*
 * After a failure of a one-pass restore into a device: the message
 * says what the device now holds.
 */
static int partial_restore(const struct blksnap_restore_opts *o,
			   const struct target *t, size_t failed)
{
	char why[1024];

	bs_strlcpy(why, blksnap_error(), sizeof(why));
	if (!t->wrote)
		return bs_fail("%s; nothing was written to %s", why, t->name);
	if (!failed)
		return bs_fail("%s; %s now holds a partial restore: %s was written up to image offset %llu before it failed verification; restore again from good archives",
			       why, t->name, display_name(o->chain[0]),
			       (unsigned long long)t->written_to);
	return bs_fail("%s; %s now holds a partial restore: the archives before %s were restored, it was written up to image offset %llu before it failed verification; restore again from good archives",
		       why, t->name, display_name(o->chain[failed]),
		       (unsigned long long)t->written_to);
}

/* Refuses to write over one of the archives being read. */
static int check_not_an_archive(const struct blksnap_restore_opts *o,
				const struct stat *tst)
{
	struct stat st;
	size_t i;

	for (i = 0; i < o->count; i++)
		if (!blksnap_is_url(o->chain[i]) && !stat(o->chain[i], &st) &&
		    st.st_dev == tst->st_dev && st.st_ino == tst->st_ino)
			return bs_fail("%s: the target is the archive %s itself",
				       o->target, o->chain[i]);
	return 0;
}

static int restore_device(const struct blksnap_restore_opts *o,
			  struct chain *c, const char *path)
{
	const struct blksnap_manifest *ms = c->ms;
	struct target t = { .name = path, .is_blockdev = true };
	size_t failed = 0;
	uint64_t size;
	bool blk;
	int ret = -1;

	/* O_EXCL on a block device: refused while mounted or held. */
	t.fd = open(path, O_RDWR | O_EXCL | O_CLOEXEC);
	if (t.fd < 0)
		return bs_fail_errno(errno, "%s: cannot open the target for writing%s",
				     path, errno == EBUSY ? " (mounted or in use)" : "");
	if (bs_fd_size(t.fd, path, &size, &blk))
		goto out;
	if (size < ms[0].size) {
		bs_fail("%s: the target (%llu bytes) is smaller than the image (%llu bytes)",
			path, (unsigned long long)size,
			(unsigned long long)ms[0].size);
		goto out;
	}
	if (size > ms[0].size)
		note(o, "%s is larger than the image: bytes from %llu on are left as they are",
		     path, (unsigned long long)ms[0].size);
	if (c->streams) {
		note(o, "archives on a pipe are read once: writing to %s while verifying", path);
		if (run_chain(o, c, &t, &failed)) {
			partial_restore(o, &t, failed);
			goto out;
		}
	} else {
		note(o, "verifying the chain before writing to %s", path);
		if (run_chain(o, c, NULL, NULL) || run_chain(o, c, &t, NULL))
			goto out;
	}
	if (fsync(t.fd) < 0) {
		bs_fail_errno(errno, "%s: cannot flush", path);
		goto out;
	}
	ret = 0;
out:
	if (close(t.fd) < 0 && !ret)
		ret = bs_fail_errno(errno, "%s: cannot flush", path);
	return ret;
}

static int restore_file(const struct blksnap_restore_opts *o,
			struct chain *c, const char *path)
{
	const struct blksnap_manifest *ms = c->ms;
	struct target t = { .name = path };

	if (blksnap_output_create(&t.out, path))
		return -1;
	t.fd = t.out.fd;
	if (ftruncate(t.fd, (off_t)ms[0].size) < 0) {
		bs_fail_errno(errno, "%s: cannot size the image to %llu bytes",
			      path, (unsigned long long)ms[0].size);
		goto fail;
	}
	if (run_chain(o, c, &t, NULL))
		goto fail;
	return blksnap_output_commit(&t.out);
fail:
	blksnap_output_abort(&t.out);
	return -1;
}

int blksnap_restore(const struct blksnap_restore_opts *o)
{
	struct chain c = { .ms = NULL };
	struct stat st;
	char *path = NULL;
	size_t i, stdin_count = 0;
	int ret = -1;

	if (!o->count)
		return bs_fail("no archive given");
	for (i = 0; i < o->count; i++)
		stdin_count += !strcmp(o->chain[i], "-");
	if (stdin_count > 1)
		return bs_fail("standard input (\"-\") can hold only one archive of the chain");
	/* The target is checked before a pipe's archive is opened. */
	if (o->target) {
		if (blksnap_resolve(o->target, &path))
			goto out;
		if (stat(path, &st) == 0) {
			if (check_not_an_archive(o, &st))
				goto out;
			if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
				bs_fail("%s: the target is not a block device or a regular file",
					path);
				goto out;
			}
		} else if (errno != ENOENT) {
			bs_fail_errno(errno, "%s", path);
			goto out;
		}
	}
	if (check_chain(o, &c))
		goto out;
	if (!o->target)
		ret = run_chain(o, &c, NULL, NULL);
	else if (stat(path, &st) == 0 && S_ISBLK(st.st_mode))
		ret = restore_device(o, &c, path);
	else
		ret = restore_file(o, &c, path);
out:
	chain_free(o, &c);
	free(path);
	return ret;
}
