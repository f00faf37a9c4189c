// SPDX-License-Identifier: GPL-2.0-only
/*
 * Copy-on-write of the devices of a taken snapshot.
 *
 * The bio filter (tracker.c, called by the hook for every bio entering
 * submit_bio_noacct()) asks cow_hold_bio() about each
 * data-changing bio of a device in a snapshot. While the snapshot is being
 * taken every such bio is held; once taken, a bio is held unless every
 * chunk it touches is copied already. The filter never sleeps: holding
 * is a list insertion under a spinlock and queue_work().
 *
 * The COW worker (one work item per device on an unbound WQ_MEM_RECLAIM
 * workqueue, in a NOIO allocation scope) copies in batches: it takes held
 * bios while the chunks they still need fit in the device's copy buffer
 * (COW_BUFFER_BYTES), merging neighbouring chunks into runs. It reads
 * every run from the origin with one bio each, all in flight at once;
 * allocates consecutive storage slots for each run and writes it with
 * one bio (all in flight at once); then records every chunk of the batch
 * in the xarray. Only then does it hand the bios of the batch back to the
 * snapshot (cow_ops.release), which gives each to the filter again (for
 * another snapshot's device, and to mark the change map in the interval
 * after the take) and, if nothing holds it any more, submits it from
 * module code, which the hook lets through. A write is
 * thus released only after the original data of every chunk it touches
 * is in the storage. When the snapshot is corrupted, being destroyed or
 * rolled back, held bios are released unchanged: the origin never loses
 * a write.
 *
 * Locking: @copy_lock serialises the copiers of a device (its COW worker
 * and image writes, which copy a chunk before changing it) and protects
 * the copy buffer and batch. A chunk's entry in @chunks says where its
 * data is stored; image reads take the chunk from there once the entry
 * exists. Writes over the chunk may reach the origin only once no image
 * read that found the chunk uncopied is still reading it from the origin:
 * image reads register in the current reader generation before looking
 * chunks up (cow_read_begin()) and leave it when their I/O has
 * completed, in any context (cow_read_end()); the recorder stores
 * the entries, starts a new generation, waits for the readers of the old
 * one, and only then marks the chunks COW_CHUNK_RELEASED, the mark the
 * filter's quick check looks for, and releases the held bios.
 */
#include "blksnap.h"
#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include "io.h"
#include "diff_storage.h"
#include "cow.h"

static struct workqueue_struct *cow_wq;

static void cow_worker(struct work_struct *work);

int cow_init(void)
{
	cow_wq = alloc_workqueue("blksnap-cow", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	return cow_wq ? 0 : -ENOMEM;
}

void cow_exit(void)
{
	destroy_workqueue(cow_wq);
}

/*
 * Size the copy buffer for chunks of 1 << @shift bytes. The buffer the
 * device has is kept if it fits: made when the device joined, for its own
 * chunks, it fits the snapshot's as a rule, and the take (which allocated
 * 4 MiB per device, milliseconds under emulation) allocates nothing.
 * Context: process context, may sleep; no copy runs.
 */
static int cow_size_buffer(struct cow_dev *cd, unsigned int shift)
{
	size_t bytes = max_t(size_t, COW_BUFFER_BYTES, 1ul << shift);
	u32 chunks = bytes >> shift;

	if (cd->copy_buf && cd->copy_bytes == bytes &&
	    chunks <= cd->copy_locs_max) {
		cd->copy_chunks = chunks;
		return 0;
	}
	kvfree(cd->copy_buf);
	kvfree(cd->copy_locs);
	cd->copy_buf = kvmalloc(bytes, GFP_KERNEL);
	cd->copy_locs = kvmalloc_array(chunks, sizeof(u64), GFP_KERNEL);
	if (cd->copy_buf && cd->copy_locs) {
		cd->copy_bytes = bytes;
		cd->copy_locs_max = chunks;
		cd->copy_chunks = chunks;
		return 0;
	}
	kvfree(cd->copy_buf);
	kvfree(cd->copy_locs);
	cd->copy_buf = NULL;
	cd->copy_locs = NULL;
	cd->copy_bytes = 0;
	cd->copy_locs_max = 0;
	return -ENOMEM;
}

/**
 * cow_dev_create() - copy-on-write state of a device joining a snapshot
 * @dev: the device number
 * @origin: the device, open; owned by the result from now on
 * @storage: the snapshot's difference storage
 * @state: the snapshot's state, which the result reads
 * @ops: the snapshot's callbacks
 * @owner: for @ops
 * @chunk_shift: the device's own chunk shift, to size the copy buffer
 *               now rather than at the take
 *
 * Context: process context, may sleep.
 * Return: the state or NULL when out of memory (@origin is then still
 * the caller's).
 */
struct cow_dev *cow_dev_create(dev_t dev, struct blksnap_bdev *origin,
			       struct diff_storage *storage, const int *state,
			       const struct cow_ops *ops, void *owner,
			       unsigned int chunk_shift)
{
	struct cow_dev *cd;

	cd = kzalloc(sizeof(*cd), GFP_KERNEL);
	if (!cd)
		return NULL;
	if (cow_size_buffer(cd, chunk_shift)) {
		kfree(cd);
		return NULL;
	}
	kref_init(&cd->kref);
	cd->ops = ops;
	cd->owner = owner;
	cd->state = state;
	cd->storage = storage;
	cd->dev = dev;
	cd->origin = *origin;
	xa_init(&cd->chunks);
	mutex_init(&cd->copy_lock);
	spin_lock_init(&cd->readers_lock);
	init_waitqueue_head(&cd->readers_wq);
	spin_lock_init(&cd->held_lock);
	bio_list_init(&cd->held);
	INIT_WORK(&cd->cow_work, cow_worker);
	atomic_set(&cd->inflight, 0);
	init_waitqueue_head(&cd->inflight_wq);
	return cd;
}

static void cow_dev_release(struct kref *kref)
{
	struct cow_dev *cd = container_of(kref, struct cow_dev, kref);

	kvfree(cd->copy_buf);
	kvfree(cd->copy_locs);
	kfree(cd);
}

/**
 * cow_dev_prepare() - fix a device's size and chunks for the take
 * @cd: the device's state
 * @shift: the snapshot's chunk shift, final now
 *
 * Notes the origin's size and the chunks covering it, and sizes the copy
 * buffer if the one made at the create does not fit.
 * Context: process context, may sleep; no copy runs yet.
 * Return: 0 or -ENOMEM.
 */
int cow_dev_prepare(struct cow_dev *cd, unsigned int shift)
{
	cd->chunk_shift = shift;
	cd->capacity = bdev_nr_sectors(cd->origin.bdev);
	cd->nr_chunks = DIV_ROUND_UP_ULL(cd->capacity,
					 1ull << (shift - SECTOR_SHIFT));
	return cow_size_buffer(cd, shift);
}

/**
 * cow_dev_free() - the snapshot is done with a device
 * @cd: the device's state; its work and image I/O are stopped
 *
 * Closes the origin, forgets the copied chunks and drops the snapshot's
 * reference; the image disk may hold another until its last opener goes.
 * Context: process context, may sleep.
 */
void cow_dev_free(struct cow_dev *cd)
{
	blksnap_bdev_close(&cd->origin);
	xa_destroy(&cd->chunks);
	cd->ops = NULL;
	cd->owner = NULL;
	cd->state = NULL;
	cd->storage = NULL;
	cow_dev_put(cd);
}

/* Drop a reference. Context: any that may free memory. */
void cow_dev_put(struct cow_dev *cd)
{
	kref_put(&cd->kref, cow_dev_release);
}

/* Are all chunks of the range copied? Context: any, no sleep. */
static bool cow_range_copied(struct cow_dev *cd, sector_t sector,
			     unsigned int count)
{
	unsigned int sshift = cd->chunk_shift - SECTOR_SHIFT;
	u64 first, last, c;

	if (sector >= cd->capacity)
		return true;
	first = sector >> sshift;
	last = min((sector + count - 1) >> sshift, cd->nr_chunks - 1);
	/* A long range is left to the worker rather than walked here. */
	if (last - first >= 64)
		return false;
	for (c = first; c <= last; c++) {
		if (!xa_get_mark(&cd->chunks, c, COW_CHUNK_RELEASED))
			return false;
	}
	return true;
}

/**
 * cow_read_begin() - register an image read in the reader generation
 * @cd: the device's state
 *
 * Call before looking up the chunks to read. A chunk found uncopied after
 * this keeps its original data on the origin until cow_read_end().
 * Context: process context (also a disk's submit_bio).
 * Return: the generation's slot, for cow_read_end().
 */
unsigned int cow_read_begin(struct cow_dev *cd)
{
	unsigned long flags;
	unsigned int slot;

	spin_lock_irqsave(&cd->readers_lock, flags);
	slot = cd->readers_gen & 1;
	cd->readers[slot]++;
	spin_unlock_irqrestore(&cd->readers_lock, flags);
	return slot;
}

/* The read's I/O is done. Context: any, also an interrupt. */
void cow_read_end(struct cow_dev *cd, unsigned int slot)
{
	unsigned long flags;
	bool wake;

	spin_lock_irqsave(&cd->readers_lock, flags);
	wake = !--cd->readers[slot];
	spin_unlock_irqrestore(&cd->readers_lock, flags);
	if (wake)
		wake_up(&cd->readers_wq);
}

static bool cow_readers_gone(struct cow_dev *cd, unsigned int slot)
{
	bool gone;

	spin_lock_irq(&cd->readers_lock);
	gone = !cd->readers[slot];
	spin_unlock_irq(&cd->readers_lock);
	return gone;
}

/*
 * Wait for the image reads that may have looked chunks up before the
 * caller stored their entries. Those that register from now on find the
 * entries (the lock orders the stores before their lookups).
 */
static void cow_wait_readers(struct cow_dev *cd)
{
	unsigned int slot;

	spin_lock_irq(&cd->readers_lock);
	slot = cd->readers_gen & 1;
	cd->readers_gen++;
	spin_unlock_irq(&cd->readers_lock);
	wait_event(cd->readers_wq, cow_readers_gone(cd, slot));
}

/**
 * cow_hold_bio() - hold a write until copy-on-write has run
 * @cd: the device's state
 * @bio: a bio that changes data
 * @sector: its first sector on @cd's device
 *
 * Context: the bio filter (any context submit_bio_noacct() is called in,
 * under rcu_read_lock()); does not sleep.
 * Return: true if the bio is held: the caller must not submit it.
 */
bool cow_hold_bio(struct cow_dev *cd, struct bio *bio, sector_t sector)
{
	unsigned long flags;

	switch (cow_state(cd)) {
	case SNAP_TAKING:
		break;
	case SNAP_TAKEN:
		if (cow_range_copied(cd, sector, bio_sectors(bio)))
			return false;
		break;
	default:
		return false;
	}
	spin_lock_irqsave(&cd->held_lock, flags);
	bio_list_add(&cd->held, bio);
	spin_unlock_irqrestore(&cd->held_lock, flags);
	queue_work(cow_wq, &cd->cow_work);
	return true;
}

/* Run the COW worker (after a state change). Context: any. */
void cow_kick(struct cow_dev *cd)
{
	queue_work(cow_wq, &cd->cow_work);
}

/* Wait for the COW worker to finish. Context: process context. */
void cow_flush(struct cow_dev *cd)
{
	flush_work(&cd->cow_work);
}

/* Bytes of origin in @count chunks from @first (the last may be short). */
static u32 cow_run_bytes(struct cow_dev *cd, u64 first, u32 count)
{
	unsigned int shift = cd->chunk_shift;
	sector_t sector = first << (shift - SECTOR_SHIFT);

	return min_t(u64, (u64)count << shift,
		     (cd->capacity - sector) << SECTOR_SHIFT);
}

static bool cow_batch_has(struct cow_dev *cd, u64 chunk)
{
	unsigned int i;

	for (i = 0; i < cd->nr_runs; i++) {
		if (chunk >= cd->runs[i].first &&
		    chunk < cd->runs[i].first + cd->runs[i].count)
			return true;
	}
	return false;
}

/*
 * Add the uncopied chunks of [*next, last] to the batch, advancing *next,
 * until the range is done or the batch is full. Context: copy_lock.
 * Return: true if the whole range is in the batch or copied.
 */
static bool cow_batch_collect(struct cow_dev *cd, u64 *next, u64 last)
{
	struct cow_run *run;

	for (; *next <= last; (*next)++) {
		if (xa_load(&cd->chunks, *next) || cow_batch_has(cd, *next))
			continue;
		run = cd->nr_runs ? &cd->runs[cd->nr_runs - 1] : NULL;
		if (cd->batch_chunks == cd->copy_chunks)
			return false;
		if (run && run->first + run->count == *next) {
			run->count++;
		} else {
			if (cd->nr_runs == COW_MAX_RUNS)
				return false;
			run = &cd->runs[cd->nr_runs++];
			run->first = *next;
			run->count = 1;
		}
		cd->batch_chunks++;
	}
	return true;
}

/*
 * Add all of [first, last] to the batch, or nothing.
 * Context: copy_lock. Return: true if added.
 */
static bool cow_batch_add(struct cow_dev *cd, u64 first, u64 last)
{
	unsigned int nr_runs = cd->nr_runs, batch_chunks = cd->batch_chunks;
	u32 count = nr_runs ? cd->runs[nr_runs - 1].count : 0;

	if (cow_batch_collect(cd, &first, last))
		return true;
	cd->nr_runs = nr_runs;
	cd->batch_chunks = batch_chunks;
	if (nr_runs)
		cd->runs[nr_runs - 1].count = count;
	return false;
}

/* Read every run of the batch from the origin into the copy buffer. */
static int cow_batch_read(struct cow_dev *cd)
{
	unsigned int sshift = cd->chunk_shift - SECTOR_SHIFT;
	struct blksnap_io io;
	u8 *buf = cd->copy_buf;
	struct cow_run *run;
	unsigned int i;
	u32 len;
	int ret;

	blksnap_io_init(&io, NULL);
	for (i = 0; i < cd->nr_runs; i++) {
		run = &cd->runs[i];
		len = cow_run_bytes(cd, run->first, run->count);
		blksnap_io_buf(&io, cd->origin.bdev, false,
			       run->first << sshift, buf, len);
		buf += (size_t)run->count << cd->chunk_shift;
	}
	ret = blksnap_io_wait(&io);
	blksnap_buf_read_done(cd->copy_buf, buf - (u8 *)cd->copy_buf);
	return ret;
}

/*
 * Allocate consecutive slots for the chunks of a run (in pieces where a
 * storage segment ends) and start writing them; note each chunk's
 * location in @locs.
 */
static int cow_run_write(struct cow_dev *cd, struct cow_run *run, u8 *buf,
			 u64 *locs, struct blksnap_io *io)
{
	unsigned int shift = cd->chunk_shift;
	u32 done, i, len;
	u64 loc;
	int n, ret;

	for (done = 0; done < run->count; done += n) {
		n = cd->ops->alloc(cd, run->count - done, &loc);
		if (n < 0)
			return n;
		for (i = 0; i < n; i++)
			locs[done + i] = loc + i;
		len = cow_run_bytes(cd, run->first + done, n);
		ret = diff_storage_submit(cd->storage, shift, loc, 0,
					  buf + ((size_t)done << shift), len,
					  true, io);
		if (ret)
			return ret;
	}
	return 0;
}

/* Write the batch into the storage. */
static int cow_batch_write(struct cow_dev *cd)
{
	unsigned int shift = cd->chunk_shift;
	struct blksnap_io io;
	u8 *buf = cd->copy_buf;
	u64 *locs = cd->copy_locs;
	unsigned int i;
	int ret = 0, err;

	blksnap_io_init(&io, NULL);
	for (i = 0; i < cd->nr_runs && !ret; i++) {
		ret = cow_run_write(cd, &cd->runs[i], buf, locs, &io);
		buf += (size_t)cd->runs[i].count << shift;
		locs += cd->runs[i].count;
	}
	err = blksnap_io_wait(&io);
	return ret ?: err;
}

/* Record the chunks of the batch as copied (see the locking above). */
static int cow_batch_record(struct cow_dev *cd)
{
	u64 *locs = cd->copy_locs;
	struct cow_run *run;
	unsigned int i;
	u32 k;
	int ret;

	for (i = 0; i < cd->nr_runs; i++) {
		run = &cd->runs[i];
		for (k = 0; k < run->count; k++) {
			ret = xa_err(xa_store(&cd->chunks, run->first + k,
					      xa_mk_value(*locs++), GFP_NOIO));
			if (ret)
				return ret;
		}
	}
	cow_wait_readers(cd);
	for (i = 0; i < cd->nr_runs; i++) {
		run = &cd->runs[i];
		for (k = 0; k < run->count; k++)
			xa_set_mark(&cd->chunks, run->first + k,
				    COW_CHUNK_RELEASED);
	}
	return 0;
}

/*
 * Copy the chunks of the batch and empty it.
 * Context: copy_lock, NOIO scope.
 * Return: 0, -ENOSPC on overflow or another negative errno.
 */
static int cow_batch_copy(struct cow_dev *cd)
{
	int ret = 0;

	if (!cd->nr_runs)
		return 0;
	if (cow_state(cd) != SNAP_TAKEN)
		ret = -EIO;
	if (!ret)
		ret = cow_batch_read(cd);
	if (!ret)
		ret = cow_batch_write(cd);
	/* An earlier copy lost at a storage file's writeback. */
	if (!ret)
		ret = diff_storage_check(cd->storage);
	if (!ret)
		ret = cow_batch_record(cd);
	cd->nr_runs = 0;
	cd->batch_chunks = 0;
	return ret;
}

/* Copy the uncopied chunks of [first, last], a buffer at a time. */
static int cow_copy_range_locked(struct cow_dev *cd, u64 first, u64 last)
{
	bool done;
	int ret;

	do {
		done = cow_batch_collect(cd, &first, last);
		ret = cow_batch_copy(cd);
	} while (!done && !ret);
	return ret;
}

/**
 * cow_copy_range() - copy chunks of the origin into the storage
 * @cd: the device's state
 * @first: first chunk
 * @last: last chunk, below @cd->nr_chunks
 *
 * Chunks copied already are left alone. A failure does not corrupt the
 * snapshot: the caller does.
 * Context: process context in a NOIO scope; takes @cd->copy_lock.
 * Return: 0, -ENOSPC on overflow, or another negative errno.
 */
int cow_copy_range(struct cow_dev *cd, u64 first, u64 last)
{
	int ret;

	mutex_lock(&cd->copy_lock);
	ret = cow_copy_range_locked(cd, first, last);
	mutex_unlock(&cd->copy_lock);
	return ret;
}

/* Chunks a held bio touches; false if none (past the end of the device). */
static bool cow_bio_chunks(struct cow_dev *cd, struct bio *bio,
			   u64 *first, u64 *last)
{
	unsigned int sshift = cd->chunk_shift - SECTOR_SHIFT;
	sector_t sector = blksnap_bio_sector(bio, cd->dev);

	if (sector >= cd->capacity)
		return false;
	*first = sector >> sshift;
	*last = min((sector + bio_sectors(bio) - 1) >> sshift,
		    cd->nr_chunks - 1);
	return true;
}

static struct bio *cow_pop_held(struct cow_dev *cd)
{
	struct bio *bio = NULL;
	unsigned long flags;

	spin_lock_irqsave(&cd->held_lock, flags);
	/* While taking, the take code queues the work again when done. */
	if (cow_state(cd) != SNAP_TAKING)
		bio = bio_list_pop(&cd->held);
	spin_unlock_irqrestore(&cd->held_lock, flags);
	return bio;
}

static void cow_unpop_held(struct cow_dev *cd, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&cd->held_lock, flags);
	bio_list_add_head(&cd->held, bio);
	spin_unlock_irqrestore(&cd->held_lock, flags);
}

/*
 * Take held bios into @batch while their chunks fit in the copy buffer
 * and copy those chunks; a bio too big for the buffer alone is copied a
 * buffer at a time. Return: false when nothing was held.
 * Context: the COW worker.
 */
static bool cow_work_batch(struct cow_dev *cd, struct bio_list *batch)
{
	unsigned int nr = 0;
	struct bio *bio;
	u64 first, last;
	int ret = 0;

	bio_list_init(batch);
	mutex_lock(&cd->copy_lock);
	while (nr < COW_MAX_BIOS && (bio = cow_pop_held(cd))) {
		if (cow_state(cd) == SNAP_TAKEN &&
		    cow_bio_chunks(cd, bio, &first, &last) &&
		    !cow_batch_add(cd, first, last)) {
			if (nr) {
				cow_unpop_held(cd, bio);
				break;
			}
			ret = cow_copy_range_locked(cd, first, last);
		}
		bio_list_add(batch, bio);
		nr++;
		if (ret)
			break;
	}
	if (!ret)
		ret = cow_batch_copy(cd);
	cd->nr_runs = 0;
	cd->batch_chunks = 0;
	mutex_unlock(&cd->copy_lock);
	if (ret)
		cow_corrupt(cd, -ret);
	return nr;
}

static void cow_worker(struct work_struct *work)
{
	struct cow_dev *cd = container_of(work, struct cow_dev, cow_work);
	unsigned int noio = memalloc_noio_save();
	struct bio_list batch;

	while (cow_work_batch(cd, &batch)) {
		cd->ops->release(cd, &batch);
		cond_resched();
	}
	memalloc_noio_restore(noio);
}

/**
 * cow_origin_gone() - corrupt the snapshot if the origin disk was deleted
 * @cd: the device's state
 *
 * A deleted disk takes no more writes, so copy-on-write never notices
 * that the snapshot lost its origin: image I/O and the snapshot's state
 * queries ask here instead, and the snapshot is corrupted with ENODEV.
 * Context: process context (the corrupt callback takes a spinlock that
 * interrupts do not).
 * Return: true if the origin is gone.
 */
bool cow_origin_gone(struct cow_dev *cd)
{
	if (disk_live(cd->origin.bdev->bd_disk))
		return false;
	if (cow_state(cd) == SNAP_TAKEN)
		cow_corrupt(cd, ENODEV);
	return true;
}

/**
 * cow_io_get() - start processing an image bio
 * @cd: the device's state
 *
 * Context: any.
 * Return: false if the image is dead (destroyed): fail the bio.
 */
bool cow_io_get(struct cow_dev *cd)
{
	atomic_inc(&cd->inflight);
	/* Pairs with the barrier in cow_stop_io(). */
	smp_mb__after_atomic();
	if (likely(!READ_ONCE(cd->dead)))
		return true;
	cow_io_put(cd);
	return false;
}

/* Done with an image bio. Context: any. */
void cow_io_put(struct cow_dev *cd)
{
	if (atomic_dec_and_test(&cd->inflight))
		wake_up_all(&cd->inflight_wq);
}

/* Fail image I/O from now on and wait for bios in progress. */
void cow_stop_io(struct cow_dev *cd)
{
	WRITE_ONCE(cd->dead, true);
	/* Pairs with cow_io_get(): it sees @dead or we see its count. */
	smp_mb();
	wait_event(cd->inflight_wq, !atomic_read(&cd->inflight));
}
