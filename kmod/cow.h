/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_COW_H
#define __BLKSNAP_COW_H

#include <linux/bio.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include "compat.h"

struct snapshot;
struct tracker;

#define SNAP_CHUNK_LOCKS	64

/**
 * struct snap_dev - copy-on-write state of one device of a snapshot
 * @kref: held by the snapshot and by the image disk (until .free_disk)
 * @snap: the snapshot; used only while the device is in it (until
 *        snapshot_destroy() has stopped the work and the image I/O)
 * @dev: the origin's device number
 * @origin: the origin, held open
 * @tracker: the origin's tracker, whose @snap_dev points here
 * @capacity: the origin's size in sectors at the take
 * @nr_chunks: chunks covering @capacity
 * @chunks: copied chunks: chunk number -> xa_mk_value(storage location);
 *          an entry is stored once its data is in the storage and never
 *          removed while the snapshot lives
 * @chunk_locks: hashed by chunk number; held while a chunk is copied, and
 *               while an image bio reads or writes it, so that an image
 *               read of the origin cannot see a write the copy let through
 * @held_lock: protects @held (taken in any context: irqsave)
 * @held: write bios held until the chunks they touch are copied
 * @cow_work: copies and releases @held
 * @disk: the image disk, once the snapshot is taken
 * @dead: set by destroy: image I/O fails from then on
 * @inflight: image bios being processed (see snap_dev_io_get())
 * @inflight_wq: destroy waits here for @inflight to drop to zero
 */
struct snap_dev {
	struct kref kref;
	struct snapshot *snap;
	dev_t dev;
	struct blksnap_bdev origin;
	struct tracker *tracker;
	sector_t capacity;
	u64 nr_chunks;
	struct xarray chunks;
	struct mutex chunk_locks[SNAP_CHUNK_LOCKS];	/* see above */
	spinlock_t held_lock;		/* see above */
	struct bio_list held;
	struct work_struct cow_work;
	struct gendisk *disk;
	bool dead;
	atomic_t inflight;
	wait_queue_head_t inflight_wq;
};

int cow_init(void);
void cow_exit(void);
struct snap_dev *snap_dev_create(struct snapshot *snap, dev_t dev,
				 struct blksnap_bdev *origin);
void snap_dev_put(struct snap_dev *sd);
bool snap_dev_hold_bio(struct snap_dev *sd, struct bio *bio, sector_t sector);
void snap_dev_kick(struct snap_dev *sd);
void snap_dev_flush(struct snap_dev *sd);
int snap_dev_copy_chunk(struct snap_dev *sd, u64 chunk, void *buf);
bool snap_dev_io_get(struct snap_dev *sd);
void snap_dev_io_put(struct snap_dev *sd);
void snap_dev_stop_io(struct snap_dev *sd);

static inline struct mutex *snap_dev_chunk_lock(struct snap_dev *sd, u64 chunk)
{
	return &sd->chunk_locks[chunk % SNAP_CHUNK_LOCKS];
}

#endif /* __BLKSNAP_COW_H */
