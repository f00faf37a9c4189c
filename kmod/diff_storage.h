/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_DIFF_STORAGE_H
#define __BLKSNAP_DIFF_STORAGE_H

#include <linux/blk_types.h>
#include <linux/completion.h>
#include <linux/types.h>
#include <linux/mutex.h>

struct file;
struct block_device;
struct gendisk;

#define DIFF_MAX_SEGMENTS	64
/* A storage location: segment index above this shift, chunk slot below. */
#define DIFF_LOC_SEG_SHIFT	48

/**
 * struct diff_segment - one file or block device of a difference storage
 * @file: the file I/O goes through (regular file) or the caller's
 *        exclusively open block device file (kept for its claim)
 * @bdev: the block device, or NULL for a regular file
 * @limit: bytes the segment may hold
 * @allocated: bytes available now (a file grows by fallocate)
 * @next: next free chunk slot
 */
struct diff_segment {
	struct file *file;
	struct block_device *bdev;
	u64 limit;
	u64 allocated;
	u64 next;
};

/**
 * struct diff_storage - difference storage of a snapshot
 * @lock: serialises allocation, growth and appending segments
 * @segs: the segments, used in order; an entry never changes once set
 * @nr_segs: number of segments
 * @cur: segment allocation continues in
 * @used: bytes of allocated chunks
 * @allocated: sum of the segments' @allocated
 * @limit: sum of the segments' @limit
 * @has_file: a segment is a regular file
 *
 * The counters are written under @lock and may be read without it
 * (READ_ONCE) for reports.
 */
struct diff_storage {
	struct mutex lock;	/* see above */
	struct diff_segment *segs[DIFF_MAX_SEGMENTS];
	unsigned int nr_segs;
	unsigned int cur;
	u64 used;
	u64 allocated;
	u64 limit;
	bool has_file;
};

/* May a location lie in a file? Lockless: a file segment may follow. */
static inline bool diff_storage_has_file(struct diff_storage *ds)
{
	return READ_ONCE(ds->has_file);
}

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
struct bio *blksnap_io_clone(struct bio *bio, struct bvec_iter iter,
			     struct block_device *bdev, sector_t sector);
struct bio *blksnap_io_gather(struct block_device *bdev, sector_t sector,
			      blk_opf_t opf);
void blksnap_io_buf(struct blksnap_io *io, struct block_device *bdev,
		    bool write, sector_t sector, void *buf, u32 len);
int blksnap_io_wait(struct blksnap_io *io);
void blksnap_io_finish(struct blksnap_io *io);
void blksnap_buf_read_done(void *buf, u32 len);

void diff_storage_init(struct diff_storage *ds);
void diff_storage_free(struct diff_storage *ds);
struct diff_segment *diff_segment_new(int fd, u64 limit);
void diff_segment_free(struct diff_segment *seg);
int diff_storage_add(struct diff_storage *ds, struct diff_segment *seg);
int diff_storage_alloc(struct diff_storage *ds, unsigned int shift, u32 want,
		       u64 *loc);
struct block_device *diff_storage_map(struct diff_storage *ds,
				      unsigned int shift, u64 loc, u32 offset,
				      sector_t *sector);
int diff_storage_submit(struct diff_storage *ds, unsigned int shift, u64 loc,
			u32 offset, void *buf, u32 len, bool write,
			struct blksnap_io *io);
int diff_storage_rw(struct diff_storage *ds, unsigned int shift, u64 loc,
		    u32 offset, void *buf, u32 len, bool write);
struct gendisk *diff_segment_disk(const struct diff_segment *seg);
int blksnap_bio_rw(struct block_device *bdev, bool write, sector_t sector,
		   void *buf, u32 len);

#endif /* __BLKSNAP_DIFF_STORAGE_H */
