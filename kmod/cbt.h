/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_CBT_H
#define __BLKSNAP_CBT_H

#include <linux/types.h>
#include <linux/uuid.h>
#include <linux/spinlock.h>

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
};

struct cbt_map *cbt_map_create(u64 capacity);
void cbt_map_destroy(struct cbt_map *cbt);
void cbt_map_mark(struct cbt_map *cbt, u64 sector, u64 count);
void cbt_map_switch(struct cbt_map *cbt);

static inline u32 cbt_map_block_bytes(const struct cbt_map *cbt)
{
	return 1u << (cbt->blk_shift + SECTOR_SHIFT);
}

#endif /* __BLKSNAP_CBT_H */
