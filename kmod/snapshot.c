// SPDX-License-Identifier: GPL-2.0-only
/*
 * Snapshots: sets of devices taken at one instant, with copy-on-write into
 * a difference storage and one image disk per device.
 *
 * Life of a snapshot: create (with its first storage segment), add devices,
 * take, then destroy. Each live snapshot holds a reference to the module,
 * so the module cannot be unloaded while one exists; it survives the
 * control device being closed.
 *
 * Take: freeze the filesystems on every device (and, for a whole disk, on
 * its partitions); mark the snapshot TAKING, from when the filter holds
 * every write to the devices; wait for the filter calls already running
 * (hook SRCU) and drain the devices' queues (freeze + unfreeze; their
 * request counters were put in atomic mode before, so that this waits for
 * no RCU grace period), so writes that passed before have completed;
 * switch the change maps; mark the snapshot TAKEN and start the COW
 * workers on the held writes; thaw; then add the image disks. Taking a
 * taken snapshot fails with -EALREADY. A failure before TAKEN thaws and
 * returns to CREATED; a failure to add an image disk corrupts the
 * snapshot and returns the error.
 *
 * Corruption: an overflow of the storage (ENOSPC) or an I/O error of the
 * storage or origin during copy-on-write (EIO) marks the snapshot
 * CORRUPTED and queues a CORRUPTED event; from then on writes to the
 * origins pass untouched and every image bio fails. So does the deletion
 * of an origin's disk (ENODEV) and a failed writeback of a storage file
 * (the copies in it are lost), which a write may never reveal: image I/O,
 * copy-on-write and the state queries (info, event wait) look for them.
 *
 * Destroy: allowed in any state. The image disks are removed, even when
 * open or mounted (their I/O fails from then on, and their memory is
 * freed when the last opener closes them); held writes are released; the
 * copy-on-write state is detached from the trackers (which stay, with
 * their change history) after an RCU grace period; the storage is closed.
 * An event waiter is woken with -ENOENT.
 *
 * Limits: a write that passed the filter just before the take but is
 * still parked on a stacking driver's current->bio_list is not drained by
 * the queue freeze and may reach the origin uncopied (filesystems are
 * frozen then, so only raw writers can hit this window). A write to a
 * whole disk is checked against the disk's snapshot only, not against
 * snapshots of its partitions. Discard and write-zeroes are not offered
 * on images.
 *
 * Errors of the ioctls: -ENOENT (unknown id), -EALREADY (add or take
 * after the take), -EBUSY (device in a snapshot already), -EINVAL
 * (storage on a device of the snapshot, an image as a device, bad storage
 * descriptor kind or limit), -EBADF (storage not open read-write), -E2BIG
 * (too many snapshots, devices or storage segments), -ENODEV (take
 * without devices), -EFBIG (device too large for the chunk parameters).
 *
 * Locking: blksnap_ctl_lock (held by every control ioctl but the event wait)
 * protects the list of snapshots and each snapshot's devices and state
 * transitions made by the ioctls. snap->event_lock protects the event
 * queue, the low-space flag and state changes from the workers
 * (TAKEN -> CORRUPTED). The lock order is in blksnap.h.
 */
#include "blksnap.h"
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include "compat.h"
#include "cow.h"
#include "hook.h"
#include "image.h"
#include "tracker.h"
#include "snapshot.h"
#define CREATE_TRACE_POINTS
#include "blksnap_trace.h"

#define CHUNK_SHIFT_MIN 12
#define CHUNK_SHIFT_MAX 26

static LIST_HEAD(snapshots);
static unsigned int snapshot_count;

static struct snapshot *snapshot_find(const u8 *id)
{
	struct snapshot *snap;

	lockdep_assert_held(&blksnap_ctl_lock);
	list_for_each_entry(snap, &snapshots, link) {
		if (!memcmp(&snap->id, id, BLKSNAP_UUID_SIZE))
			return snap;
	}
	return NULL;
}

static void snapshot_release(struct kref *kref)
{
	kfree(container_of(kref, struct snapshot, kref));
}

static void snapshot_put(struct snapshot *snap)
{
	kref_put(&snap->kref, snapshot_release);
}

/* Queue an event unless the same one is queued. Context: event_lock. */
static void snapshot_event_locked(struct snapshot *snap, u32 code, int err,
				  dev_t dev)
{
	struct diff_storage *ds = &snap->storage;
	struct blksnap_event *ev;
	unsigned int i;

	lockdep_assert_held(&snap->event_lock);
	for (i = 0; i < snap->ev_count; i++) {
		ev = &snap->events[(snap->ev_head + i) % SNAP_MAX_EVENTS];
		if (ev->code == code && ev->error == err)
			return;
	}
	if (snap->ev_count == SNAP_MAX_EVENTS)
		return;
	ev = &snap->events[(snap->ev_head + snap->ev_count) % SNAP_MAX_EVENTS];
	memset(ev, 0, sizeof(*ev));
	memcpy(ev->id, &snap->id, BLKSNAP_UUID_SIZE);
	ev->code = code;
	ev->error = err;
	ev->dev.mj = MAJOR(dev);
	ev->dev.mn = MINOR(dev);
	ev->storage_used = READ_ONCE(ds->used);
	ev->storage_limit = READ_ONCE(ds->limit);
	ev->time_ns = ktime_get_real_ns();
	snap->ev_count++;
	wake_up_all(&snap->event_wq);
}

/**
 * snapshot_corrupt() - mark a taken snapshot corrupted
 * @snap: the snapshot
 * @err: positive errno: ENOSPC for an overflow, EIO for an I/O error
 * @dev: the device whose copy-on-write failed, 0 for the storage alone
 *
 * Context: process context (workers); takes event_lock.
 */
static void snapshot_corrupt(struct snapshot *snap, int err, dev_t dev)
{
	spin_lock(&snap->event_lock);
	if (snap->state == SNAP_TAKEN) {
		snap->error = err;
		WRITE_ONCE(snap->state, SNAP_CORRUPTED);
		snapshot_event_locked(snap, BLKSNAP_EVENT_CORRUPTED, err, dev);
		if (dev)
			pr_err("snapshot %pUb corrupted by device %u:%u: error %d\n",
			       &snap->id, MAJOR(dev), MINOR(dev), err);
		else
			pr_err("snapshot %pUb corrupted by its difference storage: error %d\n",
			       &snap->id, err);
	}
	spin_unlock(&snap->event_lock);
}

static u64 snapshot_low_space(struct snapshot *snap)
{
	return snap->low_space ?: READ_ONCE(snap->storage.limit) / 8;
}

/*
 * struct cow_ops.alloc: allocate storage for consecutive chunks of a
 * device, and queue a LOW_SPACE event when the free storage falls below
 * the snapshot's threshold (once, until an append re-arms it).
 */
static int snapshot_cow_alloc(struct cow_dev *cd, u32 want, u64 *loc)
{
	struct snapshot *snap = cd->owner;
	struct diff_storage *ds = &snap->storage;
	int ret;

	ret = diff_storage_alloc(ds, snap->chunk_shift, want, loc);
	if (ret < 0)
		return ret;
	spin_lock(&snap->event_lock);
	if (!snap->low_fired &&
	    READ_ONCE(ds->limit) - READ_ONCE(ds->used) <
	    snapshot_low_space(snap)) {
		snap->low_fired = true;
		snapshot_event_locked(snap, BLKSNAP_EVENT_LOW_SPACE, 0,
				      cd->dev);
	}
	spin_unlock(&snap->event_lock);
	return ret;
}

/* struct cow_ops.corrupt */
static void snapshot_cow_corrupt(struct cow_dev *cd, int err)
{
	snapshot_corrupt(cd->owner, err, cd->dev);
}

/* What copy-on-write of the snapshot's devices asks of it. */
static const struct cow_ops snapshot_cow_ops = {
	.alloc = snapshot_cow_alloc,
	.corrupt = snapshot_cow_corrupt,
	.release = tracker_release_bios,
};

static void snapshot_set_state(struct snapshot *snap, int state)
{
	spin_lock(&snap->event_lock);
	WRITE_ONCE(snap->state, state);
	spin_unlock(&snap->event_lock);
}

/* Does storage segment @seg live on the disk of one of the devices? */
static bool snapshot_seg_conflict(struct snapshot *snap,
				  struct diff_segment *seg)
{
	struct gendisk *disk = diff_segment_disk(seg);
	unsigned int i;

	for (i = 0; disk && i < snap->nr_devs; i++) {
		if (snap->devs[i]->origin.bdev->bd_disk == disk)
			return true;
	}
	return false;
}

/* Context: blksnap_ctl_lock. Return: -EINVAL on a conflict. */
static int snapshot_check_storage(struct snapshot *snap)
{
	struct diff_storage *ds = &snap->storage;
	unsigned int i;

	for (i = 0; i < ds->nr_segs; i++) {
		if (snapshot_seg_conflict(snap, ds->segs[i]))
			return -EINVAL;
	}
	return 0;
}

/* Check and add a storage segment. Context: blksnap_ctl_lock. */
static int snapshot_new_segment(struct snapshot *snap, int fd, u64 limit)
{
	struct diff_segment *seg;
	int ret;

	seg = diff_segment_new(fd, limit, snap->id.b);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	ret = -EINVAL;
	if (!snapshot_seg_conflict(snap, seg))
		ret = diff_storage_add(&snap->storage, seg);
	if (ret)
		diff_segment_free(seg);
	return ret;
}

/**
 * snapshot_create() - create a snapshot with its first storage segment
 * @in: the ioctl's argument; @in->id is filled in
 *
 * Context: blksnap_ctl_lock held, may sleep.
 * Return: 0, -E2BIG (too many snapshots), or an error of
 * diff_segment_new().
 */
int snapshot_create(struct blksnap_snapshot_create *in)
{
	struct snapshot *snap;
	int ret;

	lockdep_assert_held(&blksnap_ctl_lock);
	if (snapshot_count >= BLKSNAP_MAX_SNAPSHOTS)
		return -E2BIG;
	snap = kzalloc(sizeof(*snap), GFP_KERNEL);
	if (!snap)
		return -ENOMEM;
	kref_init(&snap->kref);
	uuid_gen(&snap->id);
	snap->state = SNAP_CREATED;
	snap->low_space = in->low_space;
	spin_lock_init(&snap->event_lock);
	init_waitqueue_head(&snap->event_wq);
	diff_storage_init(&snap->storage);
	ret = snapshot_new_segment(snap, in->storage_fd, in->storage_limit);
	if (ret) {
		kfree(snap);
		return ret;
	}
	__module_get(THIS_MODULE);
	list_add_tail(&snap->link, &snapshots);
	snapshot_count++;
	memcpy(in->id, &snap->id, BLKSNAP_UUID_SIZE);
	pr_info("snapshot %pUb created\n", &snap->id);
	return 0;
}

/* Smallest chunk shift whose chunk count fits, or -EFBIG. */
static int snapshot_chunk_shift(u64 capacity)
{
	unsigned int min = clamp(chunk_minimum_shift, CHUNK_SHIFT_MIN,
				 CHUNK_SHIFT_MAX);
	unsigned int max = clamp(chunk_maximum_shift, min, CHUNK_SHIFT_MAX);
	u64 limit = max_t(u64, chunk_maximum_count, 1);
	unsigned int s;

	for (s = min; s <= max; s++) {
		if (DIV_ROUND_UP_ULL(capacity, 1ull << (s - SECTOR_SHIFT)) <=
		    limit)
			return s;
	}
	return -EFBIG;
}

/* Checks of a device joining @snap. Context: blksnap_ctl_lock. */
static int snapshot_add_check(struct snapshot *snap, struct block_device *bdev)
{
	struct diff_storage *ds = &snap->storage;
	unsigned int i;

	if (image_is_image(bdev))
		return -EINVAL;
	for (i = 0; i < ds->nr_segs; i++) {
		if (diff_segment_disk(ds->segs[i]) == bdev->bd_disk)
			return -EINVAL;
	}
	return snapshot_chunk_shift(bdev_nr_sectors(bdev));
}

static int snapshot_add_dev(struct snapshot *snap, struct tracker *tr,
			    dev_t dev, struct blksnap_bdev *b, int shift)
{
	struct cow_dev *cd;

	cd = cow_dev_create(dev, b, &snap->storage, &snap->state,
			    &snapshot_cow_ops, snap, shift);
	if (!cd)
		return -ENOMEM;
	snap->chunk_shift = max_t(unsigned int, snap->chunk_shift, shift);
	snap->trackers[snap->nr_devs] = tr;
	snap->devs[snap->nr_devs++] = cd;
	tracker_set_cow(tr, cd);
	return 0;
}

/**
 * snapshot_add() - add a device to a snapshot not taken yet
 * @id: the snapshot
 * @dev: the device; it gets a tracker if it has none
 *
 * Context: blksnap_ctl_lock held, may sleep.
 * Return: 0, -ENOENT (no such snapshot), -EALREADY (taken), -E2BIG (too
 * many devices), -EBUSY (the device is in a snapshot), -EINVAL (an image,
 * or the device holds the storage), -EFBIG (too big for the chunk
 * parameters), or an error opening or tracking the device.
 */
int snapshot_add(const u8 *id, dev_t dev)
{
	struct snapshot *snap = snapshot_find(id);
	struct blksnap_bdev b;
	struct tracker *tr;
	int ret, shift;

	if (!snap)
		return -ENOENT;
	if (snap->state != SNAP_CREATED)
		return -EALREADY;
	if (snap->nr_devs >= BLKSNAP_MAX_SNAPSHOT_DEVICES)
		return -E2BIG;
	tr = tracker_find(dev);
	if (tr && tracker_has_cow(tr))
		return -EBUSY;
	ret = blksnap_bdev_open(dev, &b);
	if (ret)
		return ret;
	shift = snapshot_add_check(snap, b.bdev);
	if (shift < 0) {
		ret = shift;
		goto fail;
	}
	if (!tr) {
		ret = tracker_attach(dev);
		if (ret)
			goto fail;
		tr = tracker_find(dev);
		hook_synchronize_attach();
		tracker_settle(tr);
	}
	ret = snapshot_add_dev(snap, tr, dev, &b, shift);
	if (ret)
		goto fail;
	/*
	 * Count the device's requests in atomic mode until the take, so
	 * that its drain needs no grace period (compat.h). The one of the
	 * switch passes during the wait below.
	 */
	blksnap_queue_count_atomic(bdev_get_queue(b.bdev));
	/*
	 * The writes that passed the hook before it saw the device in a
	 * snapshot reach the queue, where the take's drain finds them.
	 */
	hook_synchronize_join();
	return 0;
fail:
	blksnap_bdev_close(&b);
	return ret;
}

/**
 * snapshot_append() - add a storage segment
 * @id: the snapshot
 * @fd: as for create
 * @limit: as for create
 *
 * Re-arms the low-space event.
 * Context: blksnap_ctl_lock held, may sleep.
 * Return: 0, -ENOENT, -EINVAL (the storage is on a device of the
 * snapshot), -E2BIG (too many segments) or an error of diff_segment_new().
 */
int snapshot_append(const u8 *id, int fd, u64 limit)
{
	struct snapshot *snap = snapshot_find(id);
	int ret;

	if (!snap)
		return -ENOENT;
	ret = snapshot_new_segment(snap, fd, limit);
	if (ret)
		return ret;
	spin_lock(&snap->event_lock);
	snap->low_fired = false;
	spin_unlock(&snap->event_lock);
	return 0;
}

/* A device frozen for the take. */
struct snap_frozen {
	struct list_head link;
	struct blksnap_bdev b;
};

static void snapshot_thaw(struct list_head *frozen)
{
	struct snap_frozen *f, *tmp;

	list_for_each_entry_safe(f, tmp, frozen, link) {
		if (blksnap_thaw(f->b.bdev))
			pr_warn("cannot thaw device %u:%u\n",
				MAJOR(f->b.bdev->bd_dev),
				MINOR(f->b.bdev->bd_dev));
		blksnap_bdev_close(&f->b);
		list_del(&f->link);
		kfree(f);
	}
}

static int snapshot_freeze_dev(dev_t dev, struct list_head *frozen)
{
	struct snap_frozen *f;
	int ret;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	ret = blksnap_bdev_open(dev, &f->b);
	if (ret)
		goto fail;
	ret = blksnap_freeze(f->b.bdev);
	if (ret) {
		blksnap_bdev_close(&f->b);
		goto fail;
	}
	list_add(&f->link, frozen);
	return 0;
fail:
	kfree(f);
	pr_err("cannot freeze device %u:%u: %d\n", MAJOR(dev), MINOR(dev), ret);
	return ret;
}

#define SNAP_MAX_PARTS 256

/* Freeze the filesystems on the partitions of a whole disk. */
static int snapshot_freeze_parts(struct gendisk *disk, struct list_head *frozen)
{
	struct block_device *part;
	unsigned long idx;
	unsigned int n = 0, i;
	dev_t *devs;
	int ret = 0;

	devs = kcalloc(SNAP_MAX_PARTS, sizeof(*devs), GFP_KERNEL);
	if (!devs)
		return -ENOMEM;
	rcu_read_lock();
	xa_for_each_start(&disk->part_tbl, idx, part, 1) {
		if (n == SNAP_MAX_PARTS)
			break;
		devs[n++] = part->bd_dev;
	}
	rcu_read_unlock();
	for (i = 0; i < n && !ret; i++)
		ret = snapshot_freeze_dev(devs[i], frozen);
	kfree(devs);
	return ret;
}

static int snapshot_freeze(struct snapshot *snap, struct list_head *frozen)
{
	struct block_device *bdev;
	unsigned int i;
	int ret;

	for (i = 0; i < snap->nr_devs; i++) {
		bdev = snap->devs[i]->origin.bdev;
		ret = snapshot_freeze_dev(bdev->bd_dev, frozen);
		if (!ret && !bdev_is_partition(bdev))
			ret = snapshot_freeze_parts(bdev->bd_disk, frozen);
		if (ret)
			return ret;
	}
	return 0;
}

/* Fix the devices' sizes and chunk counts, size the copy buffers. */
static int snapshot_prepare(struct snapshot *snap)
{
	unsigned int i;
	int ret;

	for (i = 0; i < snap->nr_devs; i++) {
		ret = cow_dev_prepare(snap->devs[i], snap->chunk_shift);
		if (ret)
			return ret;
	}
	return 0;
}

static struct request_queue *snapshot_queue(struct snapshot *snap,
					    unsigned int i)
{
	return bdev_get_queue(snap->devs[i]->origin.bdev);
}

/*
 * The devices' queues count their requests in atomic mode from the add of
 * each device to the end of the take, so that the take's drain under held
 * writes waits for no grace period (compat.h). This waits for the switch
 * to be complete (long done, as a rule: the add waited for longer).
 * A queue shared with a device of another snapshot (partitions of one
 * disk) may be back in per-cpu mode: the drain then takes a grace period.
 */
static void snapshot_queues_atomic(struct snapshot *snap)
{
	unsigned int i;

	for (i = 0; i < snap->nr_devs; i++)
		blksnap_queue_count_atomic_wait(snapshot_queue(snap, i));
}

/* After the take, or at the destroy of a snapshot never taken. */
static void snapshot_queues_percpu(struct snapshot *snap)
{
	unsigned int i;

	for (i = 0; i < snap->nr_devs; i++)
		blksnap_queue_count_percpu(snapshot_queue(snap, i));
}

/*
 * The instant of the snapshot: writes are held from here; wait for those
 * that passed the filter before to complete, then switch the change maps.
 * Context: blksnap_ctl_lock, filesystems frozen.
 */
static void snapshot_switch(struct snapshot *snap)
{
	u64 *ns = snap->take_ns;
	unsigned int i;
	u64 t0, t;

	snapshot_set_state(snap, SNAP_TAKING);
	t0 = ktime_get_ns();
	hook_synchronize();
	t = ktime_get_ns();
	ns[BLKSNAP_TAKE_GRACE] = t - t0;
	/* All the queues drain at once (their counters are atomic now). */
	for (i = 0; i < snap->nr_devs; i++)
		blksnap_queue_freeze_start(snapshot_queue(snap, i));
	for (i = 0; i < snap->nr_devs; i++)
		blksnap_queue_freeze_wait(snapshot_queue(snap, i));
	for (i = 0; i < snap->nr_devs; i++)
		blksnap_queue_unfreeze(snapshot_queue(snap, i));
	ns[BLKSNAP_TAKE_DRAIN] = ktime_get_ns() - t;
	t = ktime_get_ns();
	for (i = 0; i < snap->nr_devs; i++)
		tracker_switch_map(snap->trackers[i]);
	ns[BLKSNAP_TAKE_MAP] = ktime_get_ns() - t;
	snapshot_set_state(snap, SNAP_TAKEN);
	ns[BLKSNAP_TAKE_HOLD] = ktime_get_ns() - t0;
	for (i = 0; i < snap->nr_devs; i++)
		cow_kick(snap->devs[i]);
}

static int snapshot_add_images(struct snapshot *snap)
{
	struct cow_dev *cd;
	unsigned int i;
	int ret;

	for (i = 0; i < snap->nr_devs; i++) {
		cd = snap->devs[i];
		ret = image_create(cd);
		if (ret) {
			pr_err("cannot add the image of device %u:%u: %d\n",
			       MAJOR(cd->dev), MINOR(cd->dev), ret);
			snapshot_corrupt(snap, -ret, cd->dev);
			return ret;
		}
	}
	return 0;
}

/**
 * snapshot_take() - take a snapshot of its devices at one instant
 * @id: the snapshot
 *
 * Context: blksnap_ctl_lock held, may sleep.
 * Return: 0, -ENOENT, -EALREADY (taken before), -ENODEV (no devices),
 * -EINVAL (the storage is on a device of the snapshot), an error freezing
 * a filesystem, or an error adding an image disk (the snapshot is then
 * corrupted).
 */
int snapshot_take(const u8 *id)
{
	struct snapshot *snap = snapshot_find(id);
	u64 start = ktime_get_ns(), t;
	LIST_HEAD(frozen);
	u64 *ns;
	int ret;

	if (!snap)
		return -ENOENT;
	if (snap->state != SNAP_CREATED)
		return -EALREADY;
	if (!snap->nr_devs)
		return -ENODEV;
	ns = snap->take_ns;
	memset(snap->take_ns, 0, sizeof(snap->take_ns));
	ret = snapshot_check_storage(snap);
	if (ret)
		return ret;
	ret = snapshot_prepare(snap);
	if (ret)
		return ret;
	snapshot_queues_atomic(snap);
	t = ktime_get_ns();
	ns[BLKSNAP_TAKE_PREPARE] = t - start;
	ret = snapshot_freeze(snap, &frozen);
	ns[BLKSNAP_TAKE_FREEZE] = ktime_get_ns() - t;
	if (!ret)
		snapshot_switch(snap);
	t = ktime_get_ns();
	snapshot_thaw(&frozen);
	ns[BLKSNAP_TAKE_THAW] = ktime_get_ns() - t;
	if (ret)
		return ret;
	snapshot_queues_percpu(snap);
	t = ktime_get_ns();
	ret = snapshot_add_images(snap);
	ns[BLKSNAP_TAKE_IMAGES] = ktime_get_ns() - t;
	ns[BLKSNAP_TAKE_TOTAL] = ktime_get_ns() - start;
	trace_blksnap_take(snap);
	pr_info("snapshot %pUb taken, chunk %u bytes, in %llu us: prepare %llu, freeze %llu, writes held %llu (grace %llu, drain %llu, maps %llu), thaw %llu, images %llu\n",
		&snap->id, 1u << snap->chunk_shift,
		div_u64(ns[BLKSNAP_TAKE_TOTAL], NSEC_PER_USEC),
		div_u64(ns[BLKSNAP_TAKE_PREPARE], NSEC_PER_USEC),
		div_u64(ns[BLKSNAP_TAKE_FREEZE], NSEC_PER_USEC),
		div_u64(ns[BLKSNAP_TAKE_HOLD], NSEC_PER_USEC),
		div_u64(ns[BLKSNAP_TAKE_GRACE], NSEC_PER_USEC),
		div_u64(ns[BLKSNAP_TAKE_DRAIN], NSEC_PER_USEC),
		div_u64(ns[BLKSNAP_TAKE_MAP], NSEC_PER_USEC),
		div_u64(ns[BLKSNAP_TAKE_THAW], NSEC_PER_USEC),
		div_u64(ns[BLKSNAP_TAKE_IMAGES], NSEC_PER_USEC));
	return ret;
}

/**
 * snapshot_take_times() - how long the phases of a take lasted
 * @t: in: id; out: count and ns
 *
 * Context: blksnap_ctl_lock held.
 * Return: 0 or -ENOENT.
 */
int snapshot_take_times(struct blksnap_take_times *t)
{
	struct snapshot *snap = snapshot_find(t->id);

	if (!snap)
		return -ENOENT;
	BUILD_BUG_ON(BLKSNAP_TAKE_PHASES > BLKSNAP_TAKE_MAX_PHASES);
	memset(t->ns, 0, sizeof(t->ns));
	memcpy(t->ns, snap->take_ns, sizeof(snap->take_ns));
	t->count = BLKSNAP_TAKE_PHASES;
	return 0;
}

/* Context: blksnap_ctl_lock. */
static void snapshot_free_devs(struct snapshot *snap)
{
	unsigned int i;

	for (i = 0; i < snap->nr_devs; i++) {
		cow_dev_free(snap->devs[i]);
		snap->devs[i] = NULL;
		snap->trackers[i] = NULL;
	}
	snap->nr_devs = 0;
}

/**
 * snapshot_destroy() - destroy a snapshot in any state
 * @id: the snapshot
 *
 * Context: blksnap_ctl_lock held, may sleep.
 * Return: 0 or -ENOENT.
 */
int snapshot_destroy(const u8 *id)
{
	struct snapshot *snap = snapshot_find(id);
	unsigned int i;

	if (!snap)
		return -ENOENT;
	list_del(&snap->link);
	snapshot_count--;
	/* Image I/O still works while the disks flush and go away. */
	for (i = 0; i < snap->nr_devs; i++)
		image_destroy(snap->devs[i]);
	snapshot_set_state(snap, SNAP_DESTROYED);
	wake_up_all(&snap->event_wq);
	for (i = 0; i < snap->nr_devs; i++) {
		cow_stop_io(snap->devs[i]);
		tracker_set_cow(snap->trackers[i], NULL);
	}
	/* No filter sees the devices' state any more... */
	synchronize_rcu();
	/* ...and the workers release what is held. */
	for (i = 0; i < snap->nr_devs; i++)
		cow_flush(snap->devs[i]);
	diff_storage_free(&snap->storage);
	snapshot_queues_percpu(snap);
	snapshot_free_devs(snap);
	pr_info("snapshot %pUb destroyed\n", &snap->id);
	snapshot_put(snap);
	module_put(THIS_MODULE);
	return 0;
}

/**
 * snapshot_list() - the ids of the snapshots
 * @ids: array of @max ids to fill
 * @max: capacity of @ids
 * @total: out: number of snapshots
 *
 * Context: blksnap_ctl_lock held.
 * Return: 0.
 */
int snapshot_list(u8 *ids, unsigned int max, unsigned int *total)
{
	struct snapshot *snap;
	unsigned int n = 0;

	lockdep_assert_held(&blksnap_ctl_lock);
	list_for_each_entry(snap, &snapshots, link) {
		if (n < max)
			memcpy(ids + n * BLKSNAP_UUID_SIZE, &snap->id,
			       BLKSNAP_UUID_SIZE);
		n++;
	}
	*total = n;
	return 0;
}

/**
 * snapshot_info() - state of a snapshot
 * @info: in: id and image_count (capacity of @images); out: the rest
 * @images: array to fill
 *
 * Context: blksnap_ctl_lock held.
 * Return: 0 or -ENOENT.
 */
/*
 * Has a taken snapshot lost its data without a write noticing (a deleted
 * origin disk, a failed writeback of a storage file)? Corrupt it then.
 */
static void snapshot_check_health(struct snapshot *snap)
{
	unsigned int i;
	int ret;

	lockdep_assert_held(&blksnap_ctl_lock);
	if (READ_ONCE(snap->state) != SNAP_TAKEN)
		return;
	ret = diff_storage_check(&snap->storage);
	if (ret)
		snapshot_corrupt(snap, -ret, 0);
	for (i = 0; i < snap->nr_devs; i++) {
		if (READ_ONCE(snap->state) != SNAP_TAKEN)
			break;
		cow_origin_gone(snap->devs[i]);
	}
}

int snapshot_info(struct blksnap_snapshot_info *info,
		  struct blksnap_image *images)
{
	struct snapshot *snap = snapshot_find(info->id);
	struct diff_storage *ds;
	struct cow_dev *cd;
	unsigned int i;

	if (!snap)
		return -ENOENT;
	ds = &snap->storage;
	for (i = 0; i < snap->nr_devs && i < info->image_count; i++) {
		cd = snap->devs[i];
		memset(&images[i], 0, sizeof(images[i]));
		images[i].origin.mj = MAJOR(cd->dev);
		images[i].origin.mn = MINOR(cd->dev);
		if (!cd->disk)
			continue;
		images[i].image.mj = MAJOR(disk_devt(cd->disk));
		images[i].image.mn = MINOR(disk_devt(cd->disk));
		strscpy(images[i].name, cd->disk->disk_name,
			sizeof(images[i].name));
	}
	info->image_count = snap->nr_devs;
	snapshot_check_health(snap);
	spin_lock(&snap->event_lock);
	info->state = snap->state;
	info->error = snap->error;
	spin_unlock(&snap->event_lock);
	info->chunk_size = 1u << snap->chunk_shift;
	info->storage_used = READ_ONCE(ds->used);
	info->storage_allocated = READ_ONCE(ds->allocated);
	info->storage_limit = READ_ONCE(ds->limit);
	return 0;
}

/* Pop the next event, or -ENOENT if destroyed, -EAGAIN if none. */
static int snapshot_pop_event(struct snapshot *snap, struct blksnap_event *ev)
{
	int ret = -EAGAIN;

	spin_lock(&snap->event_lock);
	if (snap->state == SNAP_DESTROYED) {
		ret = -ENOENT;
	} else if (snap->ev_count) {
		*ev = snap->events[snap->ev_head];
		snap->ev_head = (snap->ev_head + 1) % SNAP_MAX_EVENTS;
		snap->ev_count--;
		ret = 0;
	}
	spin_unlock(&snap->event_lock);
	return ret;
}

static bool snapshot_event_ready(struct snapshot *snap)
{
	bool ready;

	spin_lock(&snap->event_lock);
	ready = snap->ev_count || snap->state == SNAP_DESTROYED;
	spin_unlock(&snap->event_lock);
	return ready;
}

/**
 * snapshot_wait_event() - wait for the next event of a snapshot
 * @ev: in: id and timeout_ms; out: the event
 *
 * Context: process context, blksnap_ctl_lock NOT held (taken briefly).
 * Return: 0, -ENOENT (no such snapshot, or destroyed meanwhile),
 * -ETIMEDOUT or -EINTR.
 */
int snapshot_wait_event(struct blksnap_event *ev)
{
	struct snapshot *snap;
	long t;
	int ret;

	mutex_lock(&blksnap_ctl_lock);
	snap = snapshot_find(ev->id);
	if (snap) {
		snapshot_check_health(snap);
		kref_get(&snap->kref);
	}
	mutex_unlock(&blksnap_ctl_lock);
	if (!snap)
		return -ENOENT;

	t = wait_event_interruptible_timeout(snap->event_wq,
					     snapshot_event_ready(snap),
					     msecs_to_jiffies(ev->timeout_ms));
	ret = snapshot_pop_event(snap, ev);
	if (ret == -EAGAIN)
		ret = t < 0 ? -EINTR : -ETIMEDOUT;
	snapshot_put(snap);
	return ret;
}
