/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * blksnap: change tracking and snapshots of block devices of stock kernels.
 *
 * Layers. A file calls only the files below it; news goes up only through
 * callbacks that the upper layer hands down when it makes a lower object
 * (struct cow_ops), as dm-snap's exception store reports to dm-snap:
 *
 *   main.c          init and exit, module parameters, the control lock
 *   ctrl.c          the control device's ioctls -> snapshot, tracker, cbt,
 *                   hook
 *   snapshot.c      snapshots: create, add, take, destroy, events
 *                   -> tracker, cow, image, diff_storage, hook
 *   hook.c          the ftrace hook on submit_bio_noacct() -> tracker
 *   image.c         an image disk per device of a taken snapshot -> cow
 *   tracker.c       the tracked devices and the bio filter -> cbt, cow
 *   cbt.c           change-block-tracking maps
 *   cow.c           a device's copy-on-write state -> diff_storage, io
 *   diff_storage.c  the difference storage: segments, chunk slots -> io
 *   io.c            the module's own bios
 *   compat.h        what differs between kernel versions
 *
 * What a lower layer needs of a snapshot is handed down: its storage and
 * a pointer to its state when a device joins (cow_dev_create()), the chunk
 * shift and the device's size at the take (cow_dev_prepare()). The bio
 * path calls directly and reads plain fields: hook -> tracker_mark_bio(),
 * tracker_hold_bio() -> cow_hold_bio(), and an image bio -> its struct
 * cow_dev. Callbacks run
 * per storage allocation, per failure and per batch of released writes.
 *
 * Locks, outermost first; a lock is taken only under those above it in
 * its branch, and waiting for a work item (flush, cancel) counts as
 * taking the locks the work takes:
 *
 *   blksnap_ctl_lock (mutex)        the control ioctls (ctrl.c), so the
 *                                   trackers, the snapshots, their devices
 *                                   and their states set by ioctls
 *     tracker_lock (spinlock)       changes of the tracker hash table
 *     tr->cbt_lock (mutex)          replacing a tracker's map (resize) vs
 *                                   its users that may sleep
 *       cbt->lock (spinlock)        cbt_map_switch()
 *       cbt->fine's xa_lock (spinlock, irqsave)  the map's detail and
 *                                   the bytes of blocks marked in part;
 *                                   also taken by the bio filter
 *     cd->copy_lock (mutex)         a device's copiers: its COW worker and
 *                                   image writes; the copy buffer
 *       ds->lock (mutex)            storage allocation, growth, segments
 *       snap->event_lock (spinlock) events, low-space flag, state changes
 *       cd->readers_lock (spinlock, irqsave)  image reader generations
 *       cd->held_lock (spinlock, irqsave)     writes held for the copy
 *
 * Without locks: the bio filter finds trackers, their maps and their
 * copy-on-write state under RCU, and the hook's SRCU lets the take wait
 * for the filter calls in progress (hook_synchronize()).
 */
#ifndef __BLKSNAP_H
#define __BLKSNAP_H

#ifdef pr_fmt
#undef pr_fmt
#endif
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mutex.h>
#include <linux/types.h>

#define BLKSNAP_REVISION 1

/*
 * The control lock: serialises the control ioctls, and so attaching and
 * detaching trackers and every change of the list of snapshots, of a
 * snapshot's devices and of its state made by an ioctl.
 */
extern struct mutex blksnap_ctl_lock;

/* Module parameters, read when a tracker is attached or its map rebuilt. */
extern unsigned int tracking_block_minimum_shift;
extern unsigned int tracking_block_maximum_shift;
extern unsigned int tracking_block_maximum_count;
/* Read whenever a block changed in part needs a new entry of detail. */
extern unsigned int tracking_fine_limit;
/* Read when a device joins a snapshot. */
extern unsigned int chunk_minimum_shift;
extern unsigned int chunk_maximum_shift;
extern unsigned int chunk_maximum_count;
/* Read when a difference storage file grows. */
extern unsigned int diff_storage_grow_mib;

#endif /* __BLKSNAP_H */
