// SPDX-License-Identifier: GPL-2.0-only
/*
 * Trackers: the set of tracked devices and the bio filter that marks
 * their change maps.
 *
 * Locking: readers (the bio filter) find trackers under rcu_read_lock();
 * tracker_lock (a spinlock) serialises changes of the hash table;
 * blksnap_ctl_lock serialises attach, detach and the control ioctls, so a
 * tracker found under it stays alive until it is released. tr->cbt_lock
 * serialises replacing a tracker's map (resize) with its other users that
 * may sleep: the control ioctls and the take, through tracker_map_lock()
 * and tracker_switch_map(); only this file takes it. Lock order:
 * blksnap_ctl_lock, then tr->cbt_lock.
 *
 * Keeping a history across a reload or a reboot: the module cannot see
 * the writes made while nobody tracks the device, but the block layer
 * counts every write and discard request of a device since it appeared
 * (when the queue keeps I/O statistics). tracker_settle() notes that
 * count once the tracker is visible to every filter call and the writes
 * in flight before have ended; tracker_load() accepts a saved history
 * only if the count is what the history accounts for (0 after a boot,
 * the count at the save in the same boot), so a write that escaped
 * tracking ends in a new generation, never in a short incremental. Left
 * undetected: a write still held by a throttling cgroup or parked on a
 * stacking driver while the tracker is attached (see snapshot.c's limits),
 * or one that passed the hook before the attach and whose thread was
 * preempted or slept on its way to the device's queue for longer than an
 * RCU grace period (hook_synchronize_attach()): the hook lets writes to
 * untracked devices through without a read section the attach could wait
 * for, as it did not see those in flight when the module was loaded.
 */
#include "blksnap.h"
#include <linux/blkdev.h>
#include <linux/bio.h>
#include <linux/delay.h>
#include <linux/hashtable.h>
#include <linux/slab.h>
#include "compat.h"
#include "cbt.h"
#include "cow.h"
#include "io.h"
#include "tracker.h"

#define TRACKER_HASH_BITS 6

static DEFINE_HASHTABLE(tracker_table, TRACKER_HASH_BITS);
static DEFINE_SPINLOCK(tracker_lock);
static unsigned int tracker_count;	/* read locklessly by the filter */

static struct tracker *tracker_lookup_rcu(dev_t dev)
{
	struct tracker *tr;

	hash_for_each_possible_rcu(tracker_table, tr, link, dev) {
		if (tr->dev == dev)
			return tr;
	}
	return NULL;
}

/**
 * tracker_find() - find the tracker of a device
 * @dev: device number
 *
 * Context: blksnap_ctl_lock held; the tracker stays valid while it is held.
 * Return: the tracker or NULL.
 */
struct tracker *tracker_find(dev_t dev)
{
	struct tracker *tr;

	lockdep_assert_held(&blksnap_ctl_lock);
	rcu_read_lock();
	tr = tracker_lookup_rcu(dev);
	rcu_read_unlock();
	return tr;
}

static struct cbt_map *tracker_cbt(struct tracker *tr)
{
	return rcu_dereference_protected(tr->cbt,
					 lockdep_is_held(&tr->cbt_lock));
}

/**
 * tracker_map_lock() - the change map of a tracker, for a reader that may
 * sleep or a writer other than the bio filter
 * @tr: the tracker
 *
 * The map cannot be replaced (resize) until tracker_map_unlock().
 * Context: process context, blksnap_ctl_lock held; takes @tr->cbt_lock.
 * Return: the map.
 */
struct cbt_map *tracker_map_lock(struct tracker *tr)
{
	mutex_lock(&tr->cbt_lock);
	return tracker_cbt(tr);
}

/* The caller is done with the map from tracker_map_lock(). */
void tracker_map_unlock(struct tracker *tr)
{
	mutex_unlock(&tr->cbt_lock);
}

/**
 * tracker_switch_map() - freeze a tracker's map for a snapshot taken now
 * @tr: the tracker
 *
 * Context: process context, blksnap_ctl_lock held (the take).
 */
void tracker_switch_map(struct tracker *tr)
{
	cbt_map_switch(tracker_map_lock(tr));
	tracker_map_unlock(tr);
}

/* Is the device in a snapshot? Context: blksnap_ctl_lock held. */
bool tracker_has_cow(struct tracker *tr)
{
	lockdep_assert_held(&blksnap_ctl_lock);
	return rcu_access_pointer(tr->cow);
}

/**
 * tracker_set_cow() - start or stop copy-on-write of a tracked device
 * @tr: the tracker
 * @cd: the device's copy-on-write state in a snapshot, or NULL
 *
 * From now on the bio filter hands writes to @cd. When clearing, the
 * caller waits for an RCU grace period before it frees the old state:
 * a filter may still be using it until then.
 * Context: blksnap_ctl_lock held.
 */
void tracker_set_cow(struct tracker *tr, struct cow_dev *cd)
{
	lockdep_assert_held(&blksnap_ctl_lock);
	rcu_assign_pointer(tr->cow, cd);
}

/*
 * Replace the map of @tr with an empty one for @capacity: a new
 * generation, for @why.
 */
static int tracker_new_map(struct tracker *tr, u64 capacity, const char *why)
{
	struct cbt_map *cbt, *old;

	lockdep_assert_held(&tr->cbt_lock);
	cbt = cbt_map_create(capacity);
	if (IS_ERR(cbt))
		return PTR_ERR(cbt);
	old = tracker_cbt(tr);
	rcu_assign_pointer(tr->cbt, cbt);
	if (old) {
		synchronize_rcu();
		cbt_map_destroy(old);
		pr_info("device %u:%u %s: new generation\n",
			MAJOR(tr->dev), MINOR(tr->dev), why);
	}
	return 0;
}

static void tracker_resize_work(struct work_struct *work)
{
	struct tracker *tr = container_of(work, struct tracker, resize_work);
	u64 capacity = atomic64_read(&tr->new_capacity);
	int ret = 0;

	mutex_lock(&tr->cbt_lock);
	if (tracker_cbt(tr)->capacity != capacity)
		ret = tracker_new_map(tr, capacity, "resized");
	mutex_unlock(&tr->cbt_lock);
	if (ret)
		pr_err("device %u:%u: cannot resize the change map: %d\n",
		       MAJOR(tr->dev), MINOR(tr->dev), ret);
}

/**
 * tracker_refresh() - start a new generation if the device was resized or
 * another disk took its number
 * @tr: the tracker
 *
 * A new disk (diskseq) has a history of its own that the module never
 * saw, and no count of writes a saved history could be checked against.
 * Context: blksnap_ctl_lock held, may sleep.
 * Return: 0 or a negative errno.
 */
int tracker_refresh(struct tracker *tr)
{
	u64 capacity, diskseq;
	int ret;

	lockdep_assert_held(&blksnap_ctl_lock);
	ret = blksnap_dev_identity(tr->dev, &capacity, &diskseq);
	if (ret)
		return ret;
	flush_work(&tr->resize_work);
	mutex_lock(&tr->cbt_lock);
	if (diskseq != tr->diskseq) {
		ret = tracker_new_map(tr, capacity, "is another disk");
		tr->diskseq = diskseq;
		tr->settled = false;
	} else if (tracker_cbt(tr)->capacity != capacity) {
		ret = tracker_new_map(tr, capacity, "resized");
	}
	mutex_unlock(&tr->cbt_lock);
	return ret;
}

static struct tracker *tracker_alloc(dev_t dev, u64 capacity, u64 diskseq)
{
	struct tracker *tr;
	int ret;

	tr = kzalloc(sizeof(*tr), GFP_KERNEL);
	if (!tr)
		return ERR_PTR(-ENOMEM);
	tr->dev = dev;
	tr->diskseq = diskseq;
	mutex_init(&tr->cbt_lock);
	atomic64_set(&tr->new_capacity, capacity);
	INIT_WORK(&tr->resize_work, tracker_resize_work);

	mutex_lock(&tr->cbt_lock);
	ret = tracker_new_map(tr, capacity, NULL);
	mutex_unlock(&tr->cbt_lock);
	if (ret) {
		kfree(tr);
		return ERR_PTR(ret);
	}
	return tr;
}

/**
 * tracker_attach() - start tracking a device
 * @dev: device number
 *
 * Context: blksnap_ctl_lock held, may sleep.
 * Return: 0, -EALREADY if tracked, or another negative errno.
 */
int tracker_attach(dev_t dev)
{
	struct tracker *tr;
	u64 capacity, diskseq;
	int ret;

	lockdep_assert_held(&blksnap_ctl_lock);
	if (tracker_find(dev))
		return -EALREADY;
	ret = blksnap_dev_identity(dev, &capacity, &diskseq);
	if (ret)
		return ret;
	tr = tracker_alloc(dev, capacity, diskseq);
	if (IS_ERR(tr))
		return PTR_ERR(tr);

	spin_lock(&tracker_lock);
	hash_add_rcu(tracker_table, &tr->link, dev);
	WRITE_ONCE(tracker_count, tracker_count + 1);
	spin_unlock(&tracker_lock);
	pr_info("tracking device %u:%u\n", MAJOR(dev), MINOR(dev));
	return 0;
}

/**
 * tracker_settle() - note how often the device was written before it was
 * tracked
 * @tr: a tracker just attached
 *
 * Drains the writes in flight (they may have passed the filter before the
 * tracker was visible), then notes the device's count of write and
 * discard requests, for tracker_load(). Without a settled count (a
 * bio-based device still writing after a second) no history is loaded.
 * Context: blksnap_ctl_lock held, after the filter calls that may have
 * missed the new tracker have returned (hook_synchronize_attach()); may
 * sleep.
 */
void tracker_settle(struct tracker *tr)
{
	struct blksnap_bdev b;
	int i;

	lockdep_assert_held(&blksnap_ctl_lock);
	if (blksnap_bdev_open(tr->dev, &b))
		return;
	tr->no_iostat = !blk_queue_io_stat(bdev_get_queue(b.bdev));
	blksnap_queue_drain(bdev_get_queue(b.bdev));
	for (i = 0; i < 50 && blksnap_bdev_writes_in_flight(b.bdev); i++)
		msleep(20);
	tr->settled = !blksnap_bdev_writes_in_flight(b.bdev);
	tr->writes_at_attach = blksnap_bdev_writes(b.bdev);
	blksnap_bdev_close(&b);
}

/**
 * tracker_state() - the counts that go with a saved history
 * @tr: the tracker
 * @st: out
 *
 * Context: blksnap_ctl_lock held, may sleep.
 * Return: 0 or a negative errno (the device is gone).
 */
int tracker_state(struct tracker *tr, struct tracker_state *st)
{
	struct blksnap_bdev b;
	int ret;

	lockdep_assert_held(&blksnap_ctl_lock);
	ret = blksnap_bdev_open(tr->dev, &b);
	if (ret)
		return ret;
	st->writes_now = blksnap_bdev_writes(b.bdev);
	blksnap_bdev_close(&b);
	st->writes_at_attach = tr->writes_at_attach;
	st->diskseq = tr->diskseq;
	st->no_iostat = tr->no_iostat;
	st->loaded = tr->loaded;
	return 0;
}

/* May @tr take a saved history? Context: blksnap_ctl_lock, tr->cbt_lock. */
static int tracker_may_load(struct tracker *tr, const struct cbt_history *h,
			    u64 writes_expected)
{
	struct cbt_map *cur = tracker_cbt(tr);
	int ret;

	if (tr->loaded)
		return -EALREADY;
	if (tracker_has_cow(tr) || READ_ONCE(cur->snap_number) != 1)
		return -EBUSY;
	if (tr->no_iostat)
		return -EOPNOTSUPP;
	ret = cbt_map_check_history(cur, h);
	if (ret)
		return ret;
	if (!tr->settled || tr->writes_at_attach > writes_expected) {
		pr_warn("device %u:%u was written while not tracked (%llu writes counted when tracking began, %llu in the saved history%s): history not loaded\n",
			MAJOR(tr->dev), MINOR(tr->dev), tr->writes_at_attach,
			writes_expected, tr->settled ? "" : ", writes in flight");
		return -ESTALE;
	}
	if (tr->writes_at_attach < writes_expected) {
		pr_warn("device %u:%u: the saved history counts %llu writes, the device %llu: another boot or another disk; history not loaded\n",
			MAJOR(tr->dev), MINOR(tr->dev), writes_expected,
			tr->writes_at_attach);
		return -ESTALE;
	}
	return 0;
}

/**
 * tracker_load() - give a tracker back its saved history
 * @tr: the tracker
 * @h: the history
 * @writes_expected: the device's count of writes that @h accounts for
 *
 * The blocks written since the attach stay marked, in the current
 * interval of the loaded history. The errors are those of
 * BLKSNAP_IOCTL_CBT_LOAD; after one the tracker keeps its own history.
 * Context: blksnap_ctl_lock held, may sleep.
 * Return: 0 or a negative errno.
 */
int tracker_load(struct tracker *tr, const struct cbt_history *h,
		 u64 writes_expected)
{
	struct cbt_map *old, *cbt;
	int ret;

	lockdep_assert_held(&blksnap_ctl_lock);
	mutex_lock(&tr->cbt_lock);
	ret = tracker_may_load(tr, h, writes_expected);
	if (ret)
		goto out;
	old = tracker_cbt(tr);
	cbt = cbt_map_create(old->capacity);
	if (IS_ERR(cbt)) {
		ret = PTR_ERR(cbt);
		goto out;
	}
	/* The tracking-block parameters may have changed since the attach. */
	ret = cbt_map_check_history(cbt, h);
	if (ret) {
		cbt_map_destroy(cbt);
		goto out;
	}
	cbt_map_restore(cbt, h);
	cbt_map_merge(cbt, old);
	rcu_assign_pointer(tr->cbt, cbt);
	synchronize_rcu();
	/* The writes that marked @old until every filter saw @cbt. */
	cbt_map_merge(cbt, old);
	cbt_map_destroy(old);
	tr->loaded = true;
	pr_info("device %u:%u: history %pUb loaded at snapshot %u\n",
		MAJOR(tr->dev), MINOR(tr->dev), &h->generation, h->snap_number);
out:
	mutex_unlock(&tr->cbt_lock);
	return ret;
}

static void tracker_release(struct tracker *tr)
{
	spin_lock(&tracker_lock);
	hash_del_rcu(&tr->link);
	WRITE_ONCE(tracker_count, tracker_count - 1);
	spin_unlock(&tracker_lock);

	/* No filter can find @tr after this, so none can queue the work. */
	synchronize_rcu();
	cancel_work_sync(&tr->resize_work);
	cbt_map_destroy(rcu_dereference_protected(tr->cbt, 1));
	pr_info("stopped tracking device %u:%u\n",
		MAJOR(tr->dev), MINOR(tr->dev));
	kfree(tr);
}

/**
 * tracker_detach() - stop tracking a device and drop its history
 * @dev: device number
 *
 * Context: blksnap_ctl_lock held, may sleep.
 * Return: 0, -ENOENT if the device is not tracked or -EBUSY if it is in
 * a snapshot.
 */
int tracker_detach(dev_t dev)
{
	struct tracker *tr;

	lockdep_assert_held(&blksnap_ctl_lock);
	tr = tracker_find(dev);
	if (!tr)
		return -ENOENT;
	if (tracker_has_cow(tr))
		return -EBUSY;
	tracker_release(tr);
	return 0;
}

/* Context: process context, takes blksnap_ctl_lock. */
void tracker_detach_all(void)
{
	struct hlist_node *tmp;
	struct tracker *tr;
	int bkt;

	mutex_lock(&blksnap_ctl_lock);
	hash_for_each_safe(tracker_table, bkt, tmp, tr, link)
		tracker_release(tr);
	mutex_unlock(&blksnap_ctl_lock);
}

/**
 * tracker_list() - list the tracked devices
 * @devs: array to fill
 * @max: capacity of @devs
 * @total: out: number of tracked devices
 *
 * Context: blksnap_ctl_lock held.
 * Return: 0.
 */
int tracker_list(dev_t *devs, unsigned int max, unsigned int *total)
{
	struct tracker *tr;
	unsigned int n = 0;
	int bkt;

	lockdep_assert_held(&blksnap_ctl_lock);
	rcu_read_lock();
	hash_for_each_rcu(tracker_table, bkt, tr, link) {
		if (n < max)
			devs[n] = tr->dev;
		n++;
	}
	rcu_read_unlock();
	*total = n;
	return 0;
}

static bool bio_changes_data(struct bio *bio)
{
	switch (bio_op(bio)) {
	case REQ_OP_WRITE:
	case REQ_OP_WRITE_ZEROES:
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE:
		return bio_sectors(bio) != 0;
	default:
		return false;
	}
}

/*
 * Mark @count sectors at @sector in @tr's map. Context: preemption off
 * (an RCU reader).
 */
static void tracker_mark_sched(struct tracker *tr, u64 capacity,
			       u64 sector, u64 count)
{
	struct cbt_map *cbt = rcu_dereference_sched(tr->cbt);

	if (unlikely(cbt->capacity != capacity)) {
		/* Resized: history is lost, rebuild the map in process context. */
		atomic64_set(&tr->new_capacity, capacity);
		schedule_work(&tr->resize_work);
	}
	cbt_map_mark(cbt, sector, count);
}

/**
 * tracker_mark_bio() - record the change a bio is about to make
 * @bio: a bio entering submit_bio_noacct()
 *
 * The hook's test, made for every bio in the ftrace callback: a bio that
 * changes no data, one the module issued itself, or one whose device and
 * whole disk are untracked goes on untouched, after a few loads and one
 * hash bucket. No RCU nesting count: preemption is off around the walk
 * (an RCU grace period waits for that as well). A bio on a partition is
 * also recorded in the map of its whole disk.
 * Context: any context submit_bio_noacct() may be called in; does not sleep.
 * Return: true if a device of @bio is in a snapshot: the bio must then go
 * through tracker_hold_bio().
 */
bool tracker_mark_bio(struct bio *bio)
{
	struct block_device *bdev = bio->bi_bdev;
	struct tracker *tr;
	sector_t sector;
	bool cow = false;

	if (!READ_ONCE(tracker_count) || !bio_changes_data(bio) ||
	    blksnap_io_is_own(bio))
		return false;
	rcu_read_lock_sched_notrace();
	tr = tracker_lookup_rcu(bdev->bd_dev);
	if (tr) {
		sector = blksnap_bio_sector(bio, bdev->bd_dev);
		tracker_mark_sched(tr, bdev_nr_sectors(bdev), sector,
				   bio_sectors(bio));
		cow = rcu_access_pointer(tr->cow);
	}
	if (bdev_is_partition(bdev)) {
		tr = tracker_lookup_rcu(disk_devt(bdev->bd_disk));
		if (tr) {
			sector = blksnap_bio_sector(bio, bdev->bd_dev);
			tracker_mark_sched(tr, get_capacity(bdev->bd_disk),
					   sector + bdev->bd_start_sect,
					   bio_sectors(bio));
			cow = cow || rcu_access_pointer(tr->cow);
		}
	}
	rcu_read_unlock_sched_notrace();
	return cow;
}

/* Should a snapshot of @tr's device hold @bio? Context: rcu_read_lock. */
static bool tracker_hold_rcu(struct tracker *tr, struct bio *bio,
			     sector_t sector, struct cow_dev *copied)
{
	struct cow_dev *cd = rcu_dereference(tr->cow);

	return cd && cd != copied && cow_hold_bio(cd, bio, sector);
}

/**
 * tracker_hold_bio() - hold a write for copy-on-write
 * @bio: a bio that changes data, marked (tracker_mark_bio() true)
 * @copied: NULL, or the copy-on-write state that has just copied every
 *          chunk @bio touches (its worker releasing it): not asked again,
 *          since a bio too long for the filter's quick check would be
 *          held again for ever
 *
 * A write to a device of a taken snapshot (or of a partition of it) may
 * be held: the caller must then not submit it; the COW worker will.
 * Context: any context submit_bio_noacct() may be called in; does not sleep.
 * Return: true if the bio is held.
 */
bool tracker_hold_bio(struct bio *bio, struct cow_dev *copied)
{
	struct block_device *bdev = bio->bi_bdev;
	sector_t sector = blksnap_bio_sector(bio, bdev->bd_dev);
	struct tracker *tr;
	bool held = false;

	rcu_read_lock();
	tr = tracker_lookup_rcu(bdev->bd_dev);
	if (tr)
		held = tracker_hold_rcu(tr, bio, sector, copied);
	if (!held && bdev_is_partition(bdev)) {
		tr = tracker_lookup_rcu(disk_devt(bdev->bd_disk));
		if (tr)
			held = tracker_hold_rcu(tr, bio,
						sector + bdev->bd_start_sect,
						copied);
	}
	rcu_read_unlock();
	return held;
}

/**
 * tracker_release_bios() - submit bios copy-on-write has released
 * @cd: the copy-on-write state that has copied every chunk the bios touch
 * @bios: the bios; emptied
 *
 * Each bio goes through the filter again (another snapshot's device may
 * hold it, and its change is marked in the interval after the take),
 * though not to @cd; those not held are submitted from module code, which
 * the hook lets through.
 * Context: the COW worker (struct cow_ops.release).
 */
void tracker_release_bios(struct cow_dev *cd, struct bio_list *bios)
{
	struct bio *bio;

	while ((bio = bio_list_pop(bios))) {
		if (!tracker_mark_bio(bio) || !tracker_hold_bio(bio, cd))
			submit_bio_noacct(bio);
	}
}
