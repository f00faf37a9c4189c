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

static inline u32 cbt_map_block_bytes(const struct cbt_map *cbt)
{
	return 1u << (cbt->blk_shift + SECTOR_SHIFT);
}

#endif /* __BLKSNAP_CBT_H */
