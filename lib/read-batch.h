/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Many small reads at scattered offsets of one file, handed to the
 * kernel together (io_uring): one system call for a batch instead of
 * one per read.  Internal to libblksnap, one batch per thread.
 */
#ifndef BLKSNAP_READ_BATCH_H
#define BLKSNAP_READ_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bs_read_req {
	void *buf;
	size_t len;
	uint64_t offset;
	ssize_t res;		/* bytes read, or -errno: set by the run */
};

struct bs_read_batch;

/*
 * A batch of at most @depth reads (a power of two, at most 4096), or
 * NULL where the kernel offers none (no io_uring, or refused by policy
 * or a seccomp filter): the caller then reads one at a time.  Never an
 * error of its own.
 */
struct bs_read_batch *bs_read_batch_open(unsigned int depth);

/*
 * Reads the @n requests (at most the depth) from @fd and waits for all:
 * each request's res then holds what read(2) would have returned (a
 * short count or -errno are the caller's to handle, for example by
 * reading that one again with pread(2) for its message).  0, or -1
 * with errno when the batch itself failed: the batch is then unusable
 * (close it); requests may still have been in flight, so their buffers
 * must not be reused or freed (the caller leaks them).
 */
int bs_read_batch_run(struct bs_read_batch *rb, int fd,
		      struct bs_read_req *req, size_t n);

/* Releases @rb (NULL is fine). */
void bs_read_batch_close(struct bs_read_batch *rb);

#endif
