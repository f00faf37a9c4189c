// SPDX-License-Identifier: GPL-2.0-only
/*
 * The module's own bios: groups of bios completed together, clones of
 * image bios and buffers read or written in pieces. Every bio here ends in
 * this module, so the hook lets it through unfiltered.
 */
#include "blksnap.h"
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include "io.h"

static struct bio_set blksnap_bio_set;
/*
 * Clones of image bios, and the reads gathered from their pages.
 * Allocated inside the image disk's submit_bio, where earlier bios wait on
 * current->bio_list until it returns: the rescuer submits them if the pool
 * runs dry, so allocation cannot wait for bios that are never sent.
 */
static struct bio_set blksnap_clone_set;

/* Context: module init. Return: 0 or -ENOMEM. */
int blksnap_io_setup(void)
{
	int ret;

	ret = bioset_init(&blksnap_bio_set, BIO_POOL_SIZE, 0,
			  BIOSET_NEED_BVECS);
	if (ret)
		return ret;
	ret = bioset_init(&blksnap_clone_set, BIO_POOL_SIZE, 0,
			  BIOSET_NEED_BVECS | BIOSET_NEED_RESCUER);
	if (ret)
		bioset_exit(&blksnap_bio_set);
	return ret;
}

/* Context: module exit, no bio of the module in flight. */
void blksnap_io_teardown(void)
{
	bioset_exit(&blksnap_clone_set);
	bioset_exit(&blksnap_bio_set);
}

/**
 * blksnap_io_init() - start a group of bios
 * @io: the group; counts one reference of its own until
 *      blksnap_io_wait() or blksnap_io_finish()
 * @end: NULL to wait with blksnap_io_wait(), or called (in any context,
 *       often an interrupt) when the last bio has completed after
 *       blksnap_io_finish()
 */
void blksnap_io_init(struct blksnap_io *io, void (*end)(struct blksnap_io *))
{
	atomic_set(&io->pending, 1);
	io->status = BLK_STS_OK;
	io->end = end;
	if (!end)
		init_completion(&io->done);
}

static void blksnap_io_put(struct blksnap_io *io)
{
	if (!atomic_dec_and_test(&io->pending))
		return;
	if (io->end)
		io->end(io);
	else
		complete(&io->done);
}

/* Note an error of the group; the first one is kept. Context: any. */
void blksnap_io_error(struct blksnap_io *io, blk_status_t status)
{
	if (status)
		cmpxchg(&io->status, BLK_STS_OK, status);
}

/*
 * Completion of a bio of a group. Context: any (often an interrupt).
 * Every bio the module issues itself has it (blksnap_io_is_own()).
 */
void blksnap_io_endio(struct bio *bio)
{
	struct blksnap_io *io = bio->bi_private;

	blksnap_io_error(io, bio->bi_status);
	bio_put(bio);
	blksnap_io_put(io);
}

/**
 * blksnap_io_submit() - submit a bio as part of a group
 * @io: the group
 * @bio: a bio of the module, complete but for its end_io and private
 *
 * Its end_io is blksnap_io_endio(), so the hook lets it through
 * unfiltered (blksnap_io_is_own()).
 * Context: process context.
 */
void blksnap_io_submit(struct blksnap_io *io, struct bio *bio)
{
	atomic_inc(&io->pending);
	bio->bi_end_io = blksnap_io_endio;
	bio->bi_private = io;
	submit_bio_noacct(bio);
}

/**
 * blksnap_io_clone() - a clone of part of a bio, for another device
 * @bio: the bio whose pages the clone shares
 * @iter: the part of @bio
 * @bdev: the device the clone goes to
 * @sector: the clone's first sector on @bdev
 *
 * Context: process context, also a disk's submit_bio; allocates from the
 * module's pool of clones, so it does not fail, but the caller must
 * submit each clone before asking for the next one.
 * Return: the clone, for blksnap_io_submit().
 */
struct bio *blksnap_io_clone(struct bio *bio, struct bvec_iter iter,
			     struct block_device *bdev, sector_t sector)
{
	struct bio *clone;

	clone = bio_alloc_clone(bdev, bio, GFP_NOIO, &blksnap_clone_set);
	clone->bi_iter = iter;
	clone->bi_iter.bi_sector = sector;
	return clone;
}

/**
 * blksnap_io_gather() - an empty read bio for pages of another bio
 * @bdev: the device it reads
 * @sector: its first sector
 * @opf: its operation and flags
 *
 * It has room for BIO_MAX_VECS vectors (bio_add_page()).
 * Context: as blksnap_io_clone(), with the same rule.
 * Return: the bio, for blksnap_io_submit().
 */
struct bio *blksnap_io_gather(struct block_device *bdev, sector_t sector,
			      blk_opf_t opf)
{
	struct bio *bio;

	bio = bio_alloc_bioset(bdev, BIO_MAX_VECS, opf, GFP_NOIO,
			       &blksnap_clone_set);
	bio->bi_iter.bi_sector = sector;
	return bio;
}

/* No more bios for an asynchronous group: its end runs once they are done. */
void blksnap_io_finish(struct blksnap_io *io)
{
	blksnap_io_put(io);
}

/* Wait for every bio of the group. Return: 0 or a negative errno. */
int blksnap_io_wait(struct blksnap_io *io)
{
	blksnap_io_put(io);
	wait_for_completion_io(&io->done);
	return blk_status_to_errno(READ_ONCE(io->status));
}

static struct page *blksnap_buf_page(void *p)
{
	return is_vmalloc_addr(p) ? vmalloc_to_page(p) : virt_to_page(p);
}

/**
 * blksnap_io_buf() - read or write a buffer as part of a group
 * @io: the group
 * @bdev: the device
 * @write: write instead of read
 * @sector: first sector
 * @buf: page-aligned buffer from kvmalloc()
 * @len: bytes, a multiple of 512
 *
 * A vmalloc buffer is flushed before a write here; after a read the
 * caller invalidates it (blksnap_buf_read_done()) once the group is done.
 * Context: process context; submits one bio at a time from the module's
 * pool.
 */
void blksnap_io_buf(struct blksnap_io *io, struct block_device *bdev,
		    bool write, sector_t sector, void *buf, u32 len)
{
	blk_opf_t opf = write ? REQ_OP_WRITE : REQ_OP_READ;
	u8 *p = buf;
	unsigned int nr, n;
	struct bio *bio;
	u32 done;

	if (write && is_vmalloc_addr(buf))
		flush_kernel_vmap_range(buf, len);
	while (len) {
		nr = min_t(u32, DIV_ROUND_UP(len, PAGE_SIZE), BIO_MAX_VECS);
		bio = bio_alloc_bioset(bdev, nr, opf, GFP_NOIO,
				       &blksnap_bio_set);
		bio->bi_iter.bi_sector = sector;
		for (done = 0; done < len && bio->bi_vcnt < nr; done += n) {
			n = min_t(u32, PAGE_SIZE, len - done);
			if (bio_add_page(bio, blksnap_buf_page(p + done), n,
					 0) != n)
				break;
		}
		blksnap_io_submit(io, bio);
		p += done;
		len -= done;
		sector += done >> SECTOR_SHIFT;
	}
}

/* After a group that read into @buf has completed. */
void blksnap_buf_read_done(void *buf, u32 len)
{
	if (is_vmalloc_addr(buf))
		invalidate_kernel_vmap_range(buf, len);
}

/**
 * blksnap_bio_rw() - read or write a buffer with the module's own bios
 * @bdev: the device
 * @write: write instead of read
 * @sector: first sector
 * @buf: page-aligned buffer from kvmalloc()
 * @len: bytes, a multiple of 512
 *
 * Context: process context, sleeps until the I/O is done.
 * Return: 0 or a negative errno.
 */
int blksnap_bio_rw(struct block_device *bdev, bool write, sector_t sector,
		   void *buf, u32 len)
{
	struct blksnap_io io;
	int ret;

	blksnap_io_init(&io, NULL);
	blksnap_io_buf(&io, bdev, write, sector, buf, len);
	ret = blksnap_io_wait(&io);
	if (!write)
		blksnap_buf_read_done(buf, len);
	return ret;
}
