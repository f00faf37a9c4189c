/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_TRACKER_H
#define __BLKSNAP_TRACKER_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/rcupdate.h>

struct bio;
struct bio_list;
struct cbt_map;
struct cow_dev;

/**
 * struct tracker - change tracker of one block device
 * @link: in the tracker hash table; RCU for readers, tracker_lock for writers
 * @dev: device number the tracker is keyed by
 * @cbt: the change map; replaced (RCU) when the device is resized
 * @cbt_lock: serialises replacing @cbt and readers that may sleep on it
 *            (tracker_map_lock())
 * @new_capacity: size seen by the bio filter that differs from @cbt's
 * @resize_work: rebuilds @cbt for @new_capacity
 * @cow: copy-on-write state while the device is in a snapshot; set and
 *       cleared under blksnap_ctl_lock (tracker_set_cow()), read by the
 *       filter under RCU
 * @writes_at_attach: write and discard requests the block layer had
 *                    counted for the device when tracking started
 * @diskseq: the sequence number of the device's disk then, or when
 *           tracker_refresh() last saw another disk take the number
 * @settled: @writes_at_attach was noted after the writes in flight at the
 *           attach had ended (tracker_settle())
 * @no_iostat: the device keeps no I/O statistics
 * @loaded: a saved history was loaded (tracker_load())
 * @rcu: for freeing
 *
 * The fields from @writes_at_attach on change under blksnap_ctl_lock.
 */
struct tracker {
	struct hlist_node link;
	dev_t dev;
	struct cbt_map __rcu *cbt;
	struct mutex cbt_lock;	/* see above */
	atomic64_t new_capacity;
	struct work_struct resize_work;
	struct cow_dev __rcu *cow;
	u64 writes_at_attach;
	u64 diskseq;
	bool settled;
	bool no_iostat;
	bool loaded;
	struct rcu_head rcu;
};

/**
 * struct tracker_state - what saving a tracker's history needs besides
 * its map (BLKSNAP_IOCTL_CBT_STATE)
 * @writes_at_attach: see struct tracker
 * @writes_now: the same count now
 * @diskseq: see struct tracker
 * @no_iostat: see struct tracker
 * @loaded: see struct tracker
 */
struct tracker_state {
	u64 writes_at_attach;
	u64 writes_now;
	u64 diskseq;
	bool no_iostat;
	bool loaded;
};

struct cbt_history;

int tracker_attach(dev_t dev);
void tracker_settle(struct tracker *tr);
int tracker_state(struct tracker *tr, struct tracker_state *st);
int tracker_load(struct tracker *tr, const struct cbt_history *h,
		 u64 writes_expected);
int tracker_detach(dev_t dev);
void tracker_detach_all(void);
struct tracker *tracker_find(dev_t dev);
int tracker_list(dev_t *devs, unsigned int max, unsigned int *total);
int tracker_refresh(struct tracker *tr);
struct cbt_map *tracker_map_lock(struct tracker *tr);
void tracker_map_unlock(struct tracker *tr);
void tracker_switch_map(struct tracker *tr);
bool tracker_has_cow(struct tracker *tr);
void tracker_set_cow(struct tracker *tr, struct cow_dev *cd);
bool tracker_mark_bio(struct bio *bio);
bool tracker_hold_bio(struct bio *bio, struct cow_dev *copied);
void tracker_release_bios(struct cow_dev *cd, struct bio_list *bios);

#endif /* __BLKSNAP_TRACKER_H */
