// SPDX-License-Identifier: GPL-2.0-only
/*
 * Copy-on-write of the devices of a taken snapshot.
 *
 * The bio filter (tracker_filter_bio(), called by the hook for every bio
 * entering submit_bio_noacct()) asks snap_dev_hold_bio() about each
 * data-changing bio of a device in a snapshot. While the snapshot is being
 * taken every such bio is held; once taken, a bio is held unless every
 * chunk it touches is copied already. The filter never sleeps: holding
 * is a list insertion under a spinlock and queue_work().
 *
 * The COW worker (one work item per device on an unbound WQ_MEM_RECLAIM
 * workqueue, in a NOIO allocation scope) copies each uncopied chunk a held
 * bio touches: it reads the origin with its own bio, writes the data to
 * the difference storage and records the chunk in the xarray; then it
 * hands the bio to the filter again (for another snapshot's device, and to
 * mark the change map in the interval after the take) and, if nothing
 * holds it any more, submits it from module code, which the hook lets
 * through. When the snapshot is corrupted, being destroyed or rolled back,
 * held bios are released unchanged: the origin never loses a write.
 */
#include "blksnap.h"
#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include "diff_storage.h"
#include "snapshot.h"
#include "tracker.h"
#include "cow.h"

static struct workqueue_struct *cow_wq;

static void snap_dev_cow_work(struct work_struct *work);

int cow_init(void)
{
	cow_wq = alloc_workqueue("blksnap-cow", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	return cow_wq ? 0 : -ENOMEM;
}

void cow_exit(void)
{
	destroy_workqueue(cow_wq);
}

/**
 * snap_dev_create() - copy-on-write state of a device joining a snapshot
 * @snap: the snapshot
 * @dev: the device number
 * @origin: the device, open; owned by the result from now on
 *
 * Context: process context, may sleep.
 * Return: the state or NULL when out of memory.
 */
struct snap_dev *snap_dev_create(struct snapshot *snap, dev_t dev,
				 struct blksnap_bdev *origin)
{
	struct snap_dev *sd;
	int i;

	sd = kzalloc(sizeof(*sd), GFP_KERNEL);
	if (!sd)
		return NULL;
	kref_init(&sd->kref);
	sd->snap = snap;
	sd->dev = dev;
	sd->origin = *origin;
	xa_init(&sd->chunks);
	for (i = 0; i < SNAP_CHUNK_LOCKS; i++)
		mutex_init(&sd->chunk_locks[i]);
	spin_lock_init(&sd->held_lock);
	bio_list_init(&sd->held);
	INIT_WORK(&sd->cow_work, snap_dev_cow_work);
	atomic_set(&sd->inflight, 0);
	init_waitqueue_head(&sd->inflight_wq);
	return sd;
}

static void snap_dev_release(struct kref *kref)
{
	struct snap_dev *sd = container_of(kref, struct snap_dev, kref);

	kfree(sd);
}

/* Drop a reference. Context: any that may free memory. */
void snap_dev_put(struct snap_dev *sd)
{
	kref_put(&sd->kref, snap_dev_release);
}

/* Are all chunks of the range copied? Context: any, no sleep. */
static bool snap_dev_range_copied(struct snap_dev *sd, sector_t sector,
				  unsigned int count)
{
	unsigned int sshift = sd->snap->chunk_shift - SECTOR_SHIFT;
	u64 first, last, c;

	if (sector >= sd->capacity)
		return true;
	first = sector >> sshift;
	last = min((sector + count - 1) >> sshift, sd->nr_chunks - 1);
	/* A long range is left to the worker rather than walked here. */
	if (last - first >= 64)
		return false;
	for (c = first; c <= last; c++) {
		if (!xa_load(&sd->chunks, c))
			return false;
	}
	return true;
}

/**
 * snap_dev_hold_bio() - hold a write until copy-on-write has run
 * @sd: the device's state
 * @bio: a bio that changes data
 * @sector: its first sector on @sd's device
 *
 * Context: the bio filter (any context submit_bio_noacct() is called in,
 * under rcu_read_lock()); does not sleep.
 * Return: true if the bio is held: the caller must not submit it.
 */
bool snap_dev_hold_bio(struct snap_dev *sd, struct bio *bio, sector_t sector)
{
	unsigned long flags;

	switch (READ_ONCE(sd->snap->state)) {
	case SNAP_TAKING:
		break;
	case SNAP_TAKEN:
		if (snap_dev_range_copied(sd, sector, bio_sectors(bio)))
			return false;
		break;
	default:
		return false;
	}
	spin_lock_irqsave(&sd->held_lock, flags);
	bio_list_add(&sd->held, bio);
	spin_unlock_irqrestore(&sd->held_lock, flags);
	queue_work(cow_wq, &sd->cow_work);
	return true;
}

/* Run the COW worker (after a state change). Context: any. */
void snap_dev_kick(struct snap_dev *sd)
{
	queue_work(cow_wq, &sd->cow_work);
}

/* Wait for the COW worker to finish. Context: process context. */
void snap_dev_flush(struct snap_dev *sd)
{
	flush_work(&sd->cow_work);
}

static int snap_dev_copy_locked(struct snap_dev *sd, u64 chunk, void *buf)
{
	struct snapshot *snap = sd->snap;
	unsigned int shift = snap->chunk_shift;
	sector_t sector = chunk << (shift - SECTOR_SHIFT);
	u32 len = min_t(u64, 1ull << shift,
			(sd->capacity - sector) << SECTOR_SHIFT);
	u64 loc;
	int ret;

	if (xa_load(&sd->chunks, chunk))
		return 0;
	ret = snapshot_alloc_chunk(snap, sd->dev, &loc);
	if (ret)
		return ret;
	ret = blksnap_bio_rw(sd->origin.bdev, false, sector, buf, len);
	if (ret)
		return ret;
	ret = diff_storage_rw(&snap->storage, shift, loc, 0, buf, len, true);
	if (ret)
		return ret;
	return xa_err(xa_store(&sd->chunks, chunk, xa_mk_value(loc),
			       GFP_NOIO));
}

/**
 * snap_dev_copy_chunk() - copy a chunk of the origin into the storage
 * @sd: the device's state
 * @chunk: chunk number, below @sd->nr_chunks
 * @buf: a buffer of the chunk size from kvmalloc()
 *
 * Does nothing if the chunk is copied already.
 * Context: process context in a NOIO scope; takes the chunk's lock.
 * Return: 0, -ENOSPC on overflow, or another negative errno.
 */
int snap_dev_copy_chunk(struct snap_dev *sd, u64 chunk, void *buf)
{
	struct mutex *lock = snap_dev_chunk_lock(sd, chunk);
	int ret;

	mutex_lock(lock);
	ret = snap_dev_copy_locked(sd, chunk, buf);
	mutex_unlock(lock);
	return ret;
}

/* Copy the chunks @bio touches. Context: the COW worker. */
static void snap_dev_cow_bio(struct snap_dev *sd, struct bio *bio,
			     void **bufp)
{
	struct snapshot *snap = sd->snap;
	unsigned int sshift = snap->chunk_shift - SECTOR_SHIFT;
	sector_t sector = tracker_bio_sector(bio, sd->dev);
	u64 c, last;
	int ret = 0;

	if (READ_ONCE(snap->state) != SNAP_TAKEN || sector >= sd->capacity)
		return;
	if (!*bufp) {
		*bufp = kvmalloc(1ul << snap->chunk_shift, GFP_KERNEL);
		if (!*bufp) {
			snapshot_corrupt(snap, ENOMEM, sd->dev);
			return;
		}
	}
	last = min((sector + bio_sectors(bio) - 1) >> sshift,
		   sd->nr_chunks - 1);
	for (c = sector >> sshift; c <= last && !ret; c++)
		ret = snap_dev_copy_chunk(sd, c, *bufp);
	if (ret)
		snapshot_corrupt(snap, -ret, sd->dev);
}

static struct bio *snap_dev_pop_held(struct snap_dev *sd)
{
	struct bio *bio = NULL;
	unsigned long flags;

	spin_lock_irqsave(&sd->held_lock, flags);
	/* While taking, the take code queues the work again when done. */
	if (READ_ONCE(sd->snap->state) != SNAP_TAKING)
		bio = bio_list_pop(&sd->held);
	spin_unlock_irqrestore(&sd->held_lock, flags);
	return bio;
}

static void snap_dev_cow_work(struct work_struct *work)
{
	struct snap_dev *sd = container_of(work, struct snap_dev, cow_work);
	unsigned int noio = memalloc_noio_save();
	void *buf = NULL;
	struct bio *bio;

	while ((bio = snap_dev_pop_held(sd))) {
		snap_dev_cow_bio(sd, bio, &buf);
		/* Module code: the hook lets this call through. */
		if (!tracker_filter_bio(bio))
			submit_bio_noacct(bio);
		cond_resched();
	}
	kvfree(buf);
	memalloc_noio_restore(noio);
}

/**
 * snap_dev_io_get() - start processing an image bio
 * @sd: the device's state
 *
 * Context: any.
 * Return: false if the image is dead (destroyed): fail the bio.
 */
bool snap_dev_io_get(struct snap_dev *sd)
{
	atomic_inc(&sd->inflight);
	/* Pairs with the barrier in snap_dev_stop_io(). */
	smp_mb__after_atomic();
	if (likely(!READ_ONCE(sd->dead)))
		return true;
	snap_dev_io_put(sd);
	return false;
}

/* Done with an image bio. Context: any. */
void snap_dev_io_put(struct snap_dev *sd)
{
	if (atomic_dec_and_test(&sd->inflight))
		wake_up_all(&sd->inflight_wq);
}

/* Fail image I/O from now on and wait for bios in progress. */
void snap_dev_stop_io(struct snap_dev *sd)
{
	WRITE_ONCE(sd->dead, true);
	/* Pairs with snap_dev_io_get(): it sees @dead or we see its count. */
	smp_mb();
	wait_event(sd->inflight_wq, !atomic_read(&sd->inflight));
}
