/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_DIFF_STORAGE_H
#define __BLKSNAP_DIFF_STORAGE_H

#include <linux/types.h>
#include <linux/errseq.h>
#include <linux/mutex.h>

struct file;
struct block_device;
struct gendisk;
struct blksnap_io;

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
 * @next: next free chunk slot, counted from the end of the reserved start
 * @owner: the id of the snapshot using it, for its header
 */
struct diff_segment {
	struct file *file;
	struct block_device *bdev;
	u64 limit;
	u64 allocated;
	u64 next;
	errseq_t wb_err;	/* a file's writeback errors when opened */
	u8 owner[16];
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

void diff_storage_init(struct diff_storage *ds);
void diff_storage_free(struct diff_storage *ds);
struct diff_segment *diff_segment_new(int fd, u64 limit, const u8 *owner);
void diff_segment_free(struct diff_segment *seg);
int diff_storage_add(struct diff_storage *ds, struct diff_segment *seg);
int diff_storage_alloc(struct diff_storage *ds, unsigned int shift, u32 want,
		       u64 *loc);
int diff_storage_check(struct diff_storage *ds);
struct block_device *diff_storage_map(struct diff_storage *ds,
				      unsigned int shift, u64 loc, u32 offset,
				      sector_t *sector);
int diff_storage_submit(struct diff_storage *ds, unsigned int shift, u64 loc,
			u32 offset, void *buf, u32 len, bool write,
			struct blksnap_io *io);
int diff_storage_rw(struct diff_storage *ds, unsigned int shift, u64 loc,
		    u32 offset, void *buf, u32 len, bool write);
struct gendisk *diff_segment_disk(const struct diff_segment *seg);

#endif /* __BLKSNAP_DIFF_STORAGE_H */
