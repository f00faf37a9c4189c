/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_H
#define __BLKSNAP_H

#ifdef pr_fmt
#undef pr_fmt
#endif
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/types.h>

#define BLKSNAP_REVISION 1

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
