/* SPDX-License-Identifier: GPL-2.0-only */
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
/* Read when a device joins a snapshot. */
extern unsigned int chunk_minimum_shift;
extern unsigned int chunk_maximum_shift;
extern unsigned int chunk_maximum_count;
/* Read when a difference storage file grows. */
extern unsigned int diff_storage_grow_mib;

#endif /* __BLKSNAP_H */
