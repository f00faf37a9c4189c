/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_CBT_H
#define __BLKSNAP_CBT_H

#include <linux/blkdev.h>
#include <linux/types.h>
#include <linux/uuid.h>
#include <uapi/linux/blksnap.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

/* Sub-blocks per tracking block (BLKSNAP_CBT_FINE_SUBBLOCKS). */
#define CBT_SUBBLOCKS 16

/**
 * struct cbt_fine - where inside one tracking block it changed
 * @live: per sub-block, the snapshot number of the interval in which it
 *        last changed; the largest equals the block's byte in the map
 * @frozen: @live as it was at the last switch, saved by the first mark
 *          of the interval @frozen_at; until then @live holds it
 * @frozen_at: the snapshot number current when @frozen was saved
 */
struct cbt_fine {
	u8 live[CBT_SUBBLOCKS];
	u8 frozen[CBT_SUBBLOCKS];
	u8 frozen_at;
};

/**
 * struct cbt_map - change-block-tracking map of one device
 * @capacity: device size in sectors when the map was made
 * @blk_shift: log2 of the tracking block size in sectors
 * @blk_count: number of tracking blocks, bytes in @map and @snap_map
 * @map: live map: per block, the snapshot number of the interval in which
 *       the block last changed (0: not changed since the generation began)
 * @snap_map: @map as it was frozen when the last snapshot was taken
 * @snap_number: current snapshot number, 1..255
 * @generation: changes whenever history is lost
 * @lock: serialises cbt_map_switch() against itself; marking is lockless
 *        (single-byte stores of @snap_number)
 * @sub_shift: log2 of the sub-block size in sectors; equal to @blk_shift
 *             when the map keeps no detail (4 KiB tracking blocks)
 * @fine: the detail of blocks changed in part: block number to
 *        struct cbt_fine; its own lock (xa_lock, taken irqsave) guards the
 *        entries, their contents, @fine_count and the map bytes of blocks
 *        marked in part (see cbt_map_mark())
 * @fine_count: entries in @fine, at most tracking_fine_limit
 */
struct cbt_map {
	u64 capacity;
	unsigned int blk_shift;
	u64 blk_count;
	u8 *map;
	u8 *snap_map;
	u8 snap_number;
	uuid_t generation;
	spinlock_t lock;		/* see above */
	unsigned int sub_shift;
	struct xarray fine;
	unsigned int fine_count;
};

/**
 * struct cbt_history - a map's history saved by user space, to load
 * @capacity: device size in sectors
 * @block_size: tracking block size in bytes
 * @block_count: bytes in @map and @snap_map
 * @snap_number: current snapshot number, 1..255
 * @generation: the history's generation
 * @map: the live map
 * @snap_map: the map frozen at the last snapshot
 */
struct cbt_history {
	u64 capacity;
	u32 block_size;
	u64 block_count;
	u8 snap_number;
	uuid_t generation;
	const u8 *map;
	const u8 *snap_map;
};

struct cbt_map *cbt_map_create(u64 capacity);
int cbt_map_check_history(const struct cbt_map *cbt,
			  const struct cbt_history *h);
void cbt_map_restore(struct cbt_map *cbt, const struct cbt_history *h);
void cbt_map_merge(struct cbt_map *dst, const struct cbt_map *src);
void cbt_map_destroy(struct cbt_map *cbt);
void cbt_map_mark(struct cbt_map *cbt, u64 sector, u64 count);
void cbt_map_switch(struct cbt_map *cbt);
unsigned int cbt_map_read_fine(struct cbt_map *cbt, bool live, u64 start,
			       struct blksnap_cbt_fine_entry *out,
			       unsigned int room, u64 *next);
int cbt_init(void);
void cbt_exit(void);

static inline u32 cbt_map_block_bytes(const struct cbt_map *cbt)
{
	return 1u << (cbt->blk_shift + SECTOR_SHIFT);
}

static inline u32 cbt_map_sub_bytes(const struct cbt_map *cbt)
{
	return 1u << (cbt->sub_shift + SECTOR_SHIFT);
}

#endif /* __BLKSNAP_CBT_H */
