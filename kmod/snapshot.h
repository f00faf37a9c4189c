/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_SNAPSHOT_H
#define __BLKSNAP_SNAPSHOT_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/uuid.h>
#include <linux/wait.h>
#include <uapi/linux/blksnap.h>
#include "diff_storage.h"

struct cow_dev;
struct tracker;

#define SNAP_MAX_EVENTS 16

/**
 * struct snapshot - a snapshot of one or more devices
 * @link: in the list of snapshots (blksnap_ctl_lock)
 * @kref: held by the list and by event waiters
 * @id: the snapshot's UUID
 * @state: enum snap_state; written under @event_lock, read with READ_ONCE
 * @error: positive errno that corrupted the snapshot
 * @chunk_shift: log2 of the chunk size in bytes; fixed at the take
 * @devs: the devices (blksnap_ctl_lock)
 * @trackers: their trackers, in the same order
 * @nr_devs: number of @devs
 * @storage: the difference storage
 * @low_space: free bytes below which LOW_SPACE fires (0: limit / 8)
 * @low_fired: LOW_SPACE fired and not re-armed by an append
 * @event_lock: protects @state changes, @events, @low_fired
 * @events: queued events, a ring
 * @ev_head: first queued event
 * @ev_count: number of queued events
 * @event_wq: event waiters
 * @take_ns: how long each phase of the take lasted, nanoseconds, indexed
 *           by enum blksnap_take_phase (blksnap_ctl_lock)
 */
struct snapshot {
	struct list_head link;
	struct kref kref;
	uuid_t id;
	int state;
	int error;
	unsigned int chunk_shift;
	struct cow_dev *devs[BLKSNAP_MAX_SNAPSHOT_DEVICES];
	struct tracker *trackers[BLKSNAP_MAX_SNAPSHOT_DEVICES];
	unsigned int nr_devs;
	struct diff_storage storage;
	u64 low_space;
	bool low_fired;
	spinlock_t event_lock;		/* see above */
	struct blksnap_event events[SNAP_MAX_EVENTS];
	unsigned int ev_head;
	unsigned int ev_count;
	wait_queue_head_t event_wq;
	u64 take_ns[BLKSNAP_TAKE_PHASES];
};

int snapshot_create(struct blksnap_snapshot_create *in);
int snapshot_add(const u8 *id, dev_t dev);
int snapshot_take(const u8 *id);
int snapshot_destroy(const u8 *id);
int snapshot_append(const u8 *id, int fd, u64 limit);
int snapshot_list(u8 *ids, unsigned int max, unsigned int *total);
int snapshot_info(struct blksnap_snapshot_info *info,
		  struct blksnap_image *images);
int snapshot_wait_event(struct blksnap_event *ev);
int snapshot_take_times(struct blksnap_take_times *t);

#endif /* __BLKSNAP_SNAPSHOT_H */
