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
#include <uapi/linux/blksnap.h>
#include "compat.h"

struct cow_dev;
struct diff_storage;

/*
 * States of a snapshot; the first three are the UAPI's. The snapshot
 * changes them; copy-on-write and the images act on them.
 */
enum snap_state {
	SNAP_CREATED = BLKSNAP_SNAPSHOT_CREATED,
	SNAP_TAKEN = BLKSNAP_SNAPSHOT_TAKEN,
	SNAP_CORRUPTED = BLKSNAP_SNAPSHOT_CORRUPTED,
	SNAP_TAKING,		/* writes are held, copy-on-write not started */
	SNAP_DESTROYED,		/* writes pass, images fail */
};

/* Copy-on-write batches: buffer size, runs of chunks, bios. */
#define COW_BUFFER_BYTES	(4u << 20)
#define COW_MAX_RUNS		64
#define COW_MAX_BIOS		256

/* Set on a chunk's entry once writes over it may reach the origin. */
#define COW_CHUNK_RELEASED	XA_MARK_0

/* Consecutive chunks of a batch, copied with one read and one write. */
struct cow_run {
	u64 first;
	u32 count;
};

/**
 * struct cow_ops - what copy-on-write asks of the snapshot it works for
 * @alloc: allocate storage for up to @want (at least 1) consecutive chunks
 *         of @cd; return the number allocated (fewer where a storage
 *         segment ends), the first one's location in @loc, or -ENOSPC.
 *         Process context, may sleep; @cd's copy_lock held.
 * @corrupt: copy-on-write of @cd failed with positive errno @err (ENOSPC
 *           for an overflow, EIO for an I/O error). Process context.
 * @release: hand bios whose chunks are all copied to the bio filter
 *           again, and submit those it does not hold; empties @bios.
 *           The COW worker, once per batch.
 *
 * The snapshot passes them down when it creates the state of a device;
 * copy-on-write reports upwards only through them.
 */
struct cow_ops {
	int (*alloc)(struct cow_dev *cd, u32 want, u64 *loc);
	void (*corrupt)(struct cow_dev *cd, int err);
	void (*release)(struct cow_dev *cd, struct bio_list *bios);
};

/**
 * struct cow_dev - copy-on-write state of one device of a snapshot
 * @kref: held by the snapshot and by the image disk (until .free_disk)
 * @ops: the snapshot's callbacks
 * @owner: the snapshot, for @ops; not used here
 * @state: the snapshot's state (enum snap_state), read with READ_ONCE
 *         (cow_state()); valid while the device is in the snapshot
 * @storage: the snapshot's difference storage
 * @chunk_shift: log2 of the chunk size in bytes; fixed at the take
 *               (cow_dev_prepare())
 * @dev: the origin's device number
 * @origin: the origin, held open
 * @capacity: the origin's size in sectors at the take
 * @nr_chunks: chunks covering @capacity
 * @chunks: copied chunks: chunk number -> xa_mk_value(storage location);
 *          an entry is stored once its data is in the storage and never
 *          removed while the snapshot lives
 * @copy_lock: serialises copying chunks (the COW worker, image writes);
 *             protects the copy buffer and the batch
 * @copy_buf: the copy buffer, sized at the create for the device's own
 *             chunks, again at the take if the snapshot's do not fit
 * @copy_locs: storage location of each chunk of the batch
 * @copy_bytes: size of @copy_buf
 * @copy_locs_max: entries of @copy_locs
 * @copy_chunks: chunks the copy buffer holds (of the snapshot's size)
 * @runs: the batch, in buffer order
 * @nr_runs: runs in the batch
 * @batch_chunks: chunks in the batch
 * @readers_lock: protects @readers_gen and @readers (any context: irq)
 * @readers_gen: the reader generation image reads register in
 * @readers: image reads in flight per generation (by its lowest bit)
 * @readers_wq: the recorder waits here for a generation to drain
 * @held_lock: protects @held (taken in any context: irqsave)
 * @held: write bios held until the chunks they touch are copied
 * @cow_work: copies and releases @held
 * @disk: the image disk, once the snapshot is taken
 * @dead: set by destroy: image I/O fails from then on
 * @inflight: image bios being processed (see cow_io_get())
 * @inflight_wq: destroy waits here for @inflight to drop to zero
 */
struct cow_dev {
	struct kref kref;
	const struct cow_ops *ops;
	void *owner;
	const int *state;
	struct diff_storage *storage;
	unsigned int chunk_shift;
	dev_t dev;
	struct blksnap_bdev origin;
	sector_t capacity;
	u64 nr_chunks;
	struct xarray chunks;
	struct mutex copy_lock;		/* see above */
	void *copy_buf;
	u64 *copy_locs;
	size_t copy_bytes;
	u32 copy_locs_max;
	u32 copy_chunks;
	struct cow_run runs[COW_MAX_RUNS];
	unsigned int nr_runs;
	u32 batch_chunks;
	spinlock_t readers_lock;	/* see above */
	unsigned long readers_gen;
	unsigned int readers[2];
	wait_queue_head_t readers_wq;
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
struct cow_dev *cow_dev_create(dev_t dev, struct blksnap_bdev *origin,
			       struct diff_storage *storage, const int *state,
			       const struct cow_ops *ops, void *owner,
			       unsigned int chunk_shift);
void cow_dev_free(struct cow_dev *cd);
void cow_dev_put(struct cow_dev *cd);
bool cow_hold_bio(struct cow_dev *cd, struct bio *bio, sector_t sector);
void cow_kick(struct cow_dev *cd);
void cow_flush(struct cow_dev *cd);
int cow_dev_prepare(struct cow_dev *cd, unsigned int chunk_shift);
int cow_copy_range(struct cow_dev *cd, u64 first, u64 last);
unsigned int cow_read_begin(struct cow_dev *cd);
void cow_read_end(struct cow_dev *cd, unsigned int slot);
bool cow_origin_gone(struct cow_dev *cd);
bool cow_io_get(struct cow_dev *cd);
void cow_io_put(struct cow_dev *cd);
void cow_stop_io(struct cow_dev *cd);

/* The snapshot's state. Context: any; no lock. */
static inline int cow_state(const struct cow_dev *cd)
{
	return READ_ONCE(*cd->state);
}

/* Report a failed copy (positive errno): the snapshot is corrupted. */
static inline void cow_corrupt(struct cow_dev *cd, int err)
{
	cd->ops->corrupt(cd, err);
}

#endif /* __BLKSNAP_COW_H */
