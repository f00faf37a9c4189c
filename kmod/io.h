/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_IO_H
#define __BLKSNAP_IO_H

#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/types.h>

/**
 * struct blksnap_io - bios of the module completed together
 * @pending: bios in flight, plus one held until blksnap_io_wait() or
 *           blksnap_io_finish()
 * @status: the first error
 * @end: called when @pending drops to zero, or NULL: @done completes
 * @done: see @end
 */
struct blksnap_io {
	atomic_t pending;
	blk_status_t status;
	void (*end)(struct blksnap_io *io);
	struct completion done;
};

int blksnap_io_setup(void);
void blksnap_io_teardown(void);
void blksnap_io_init(struct blksnap_io *io, void (*end)(struct blksnap_io *));
void blksnap_io_error(struct blksnap_io *io, blk_status_t status);
void blksnap_io_submit(struct blksnap_io *io, struct bio *bio);
void blksnap_io_endio(struct bio *bio);

/* Did the module issue @bio itself (blksnap_io_submit())? */
static inline bool blksnap_io_is_own(const struct bio *bio)
{
	return bio->bi_end_io == blksnap_io_endio;
}

struct bio *blksnap_io_clone(struct bio *bio, struct bvec_iter iter,
			     struct block_device *bdev, sector_t sector);
struct bio *blksnap_io_gather(struct block_device *bdev, sector_t sector,
			      blk_opf_t opf);
void blksnap_io_buf(struct blksnap_io *io, struct block_device *bdev,
		    bool write, sector_t sector, void *buf, u32 len);
int blksnap_io_wait(struct blksnap_io *io);
void blksnap_io_finish(struct blksnap_io *io);
void blksnap_buf_read_done(void *buf, u32 len);

int blksnap_bio_rw(struct block_device *bdev, bool write, sector_t sector,
		   void *buf, u32 len);

/**
 * blksnap_bio_sector() - first sector of a bio on a device
 * @bio: a bio on @dev, or on a partition of the disk @dev
 * @dev: the device
 *
 * A bio on a partition is remapped to the disk inside submit_bio_noacct();
 * a bio resubmitted after that (a split) already holds the disk's sector.
 * Context: any (the bio filter, per bio).
 * Return: the sector relative to @dev.
 */
static inline sector_t blksnap_bio_sector(struct bio *bio, dev_t dev)
{
	struct block_device *bdev = bio->bi_bdev;
	sector_t sector = bio->bi_iter.bi_sector;

	if (bio_flagged(bio, BIO_REMAPPED))
		sector -= bdev->bd_start_sect;
	if (bdev->bd_dev != dev)
		sector += bdev->bd_start_sect;
	return sector;
}

#endif /* __BLKSNAP_IO_H */
