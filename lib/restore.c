// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Restoring a chain (full, then incrementals in order) into a device or
 * an image file, and verifying one.
 *
 * Nothing is trusted before it is checked: the order of the whole chain
 * is checked from the manifests before any data is read, an image file
 * only replaces its target once every byte matched its hash, and a
 * device is only written after a first pass verified the whole chain.
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

/* Reads all manifests first: a chain out of order fails before any data. */
static int check_chain(const struct blksnap_restore_opts *o,
		       struct blksnap_manifest *ms, uint64_t *total)
{
	size_t i;

	if (blksnap_chain_read_manifests(o->chain, o->count, ms))
		return -1;
	*total = 0;
	for (i = 0; i < o->count; i++)
		*total += ms[i].data_bytes;
	return 0;
}

static int apply_archive(const struct blksnap_restore_opts *o, size_t i,
			 const struct blksnap_manifest *want, struct target *t,
			 struct progress *p)
{
	struct sink_ctx ctx = { .t = t, .p = p };
	struct blksnap_hash_index ix;
	struct blksnap_ranges zeros;
	struct blksnap_archive *a;
	int ret;

	if (blksnap_archive_open(o->chain[i], &a))
		return -1;
	/* The file may have been replaced since its manifest was read. */
	if (strcmp(blksnap_archive_manifest(a)->uuid, want->uuid)) {
		blksnap_archive_close(a);
		return bs_fail("%s: changed while being read", o->chain[i]);
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

static int run_chain(const struct blksnap_restore_opts *o,
		     const struct blksnap_manifest *ms, uint64_t total,
		     struct target *t)
{
	struct progress p = { .o = o, .total = total };
	size_t i;

	for (i = 0; i < o->count; i++)
		if (apply_archive(o, i, &ms[i], t, &p))
			return -1;
	return 0;
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
			  const struct blksnap_manifest *ms, uint64_t total,
			  const char *path)
{
	struct target t = { .name = path, .is_blockdev = true };
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
	note(o, "verifying the chain before writing to %s", path);
	if (run_chain(o, ms, total, NULL))
		goto out;
	if (run_chain(o, ms, total, &t))
		goto out;
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
			const struct blksnap_manifest *ms, uint64_t total,
			const char *path)
{
	struct target t = { .name = path };

	if (blksnap_output_create(&t.out, path))
		return -1;
	t.fd = t.out.fd;
	if (ftruncate(t.fd, (off_t)ms[0].size) < 0) {
		bs_fail_errno(errno, "%s: cannot size the image to %llu bytes",
			      path, (unsigned long long)ms[0].size);
		goto fail;
	}
	if (run_chain(o, ms, total, &t))
		goto fail;
	return blksnap_output_commit(&t.out);
fail:
	blksnap_output_abort(&t.out);
	return -1;
}

int blksnap_restore(const struct blksnap_restore_opts *o)
{
	struct blksnap_manifest *ms;
	struct stat st;
	char *path = NULL;
	uint64_t total;
	int ret = -1;

	if (!o->count)
		return bs_fail("no archive given");
	ms = bs_calloc(o->count, sizeof(*ms));
	if (!ms)
		return -1;
	if (check_chain(o, ms, &total))
		goto out;
	if (!o->target) {
		ret = run_chain(o, ms, total, NULL);
		goto out;
	}
	if (blksnap_resolve(o->target, &path))
		goto out;
	if (stat(path, &st) == 0) {
		if (check_not_an_archive(o, &st))
			goto out;
		if (S_ISBLK(st.st_mode)) {
			ret = restore_device(o, ms, total, path);
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			bs_fail("%s: the target is not a block device or a regular file",
				path);
			goto out;
		}
	} else if (errno != ENOENT) {
		bs_fail_errno(errno, "%s", path);
		goto out;
	}
	ret = restore_file(o, ms, total, path);
out:
	free(path);
	free(ms);
	return ret;
}
