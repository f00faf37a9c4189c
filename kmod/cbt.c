// SPDX-License-Identifier: GPL-2.0-only
/*
 * Change-block-tracking map: one byte per tracking block.
 */
#include "blksnap.h"
#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "cbt.h"

#define CBT_SHIFT_MIN 12	/* 4 KiB */
#define CBT_SHIFT_MAX 30	/* 1 GiB */

static u64 cbt_blocks(u64 capacity, unsigned int shift)
{
	unsigned int sshift = shift - SECTOR_SHIFT;

	return (capacity + (1ull << sshift) - 1) >> sshift;
}

/* Smallest block shift >= minimum whose block count fits the maximum. */
static int cbt_choose_shift(u64 capacity, unsigned int *shift)
{
	unsigned int min = clamp(tracking_block_minimum_shift,
				 CBT_SHIFT_MIN, CBT_SHIFT_MAX);
	unsigned int max = clamp(tracking_block_maximum_shift,
				 min, CBT_SHIFT_MAX);
	u64 limit = max_t(u64, tracking_block_maximum_count, 1);
	unsigned int s;

	for (s = min; s <= max; s++) {
		if (cbt_blocks(capacity, s) <= limit) {
			*shift = s;
			return 0;
		}
	}
	return -EFBIG;
}

/**
 * cbt_map_create() - allocate an empty map with a new generation
 * @capacity: device size in sectors
 *
 * Context: process context, may sleep.
 * Return: the map or an ERR_PTR().
 */
struct cbt_map *cbt_map_create(u64 capacity)
{
	struct cbt_map *cbt;
	unsigned int shift;
	int ret;

	ret = cbt_choose_shift(capacity, &shift);
	if (ret)
		return ERR_PTR(ret);

	cbt = kzalloc(sizeof(*cbt), GFP_KERNEL);
	if (!cbt)
		return ERR_PTR(-ENOMEM);

	cbt->capacity = capacity;
	cbt->blk_shift = shift - SECTOR_SHIFT;
	cbt->blk_count = max_t(u64, cbt_blocks(capacity, shift), 1);
	cbt->snap_number = 1;
	spin_lock_init(&cbt->lock);
	uuid_gen(&cbt->generation);

	cbt->map = vzalloc(cbt->blk_count);
	if (!cbt->map)
		goto fail;
	cbt->snap_map = vzalloc(cbt->blk_count);
	if (!cbt->snap_map)
		goto fail_map;
	return cbt;

fail_map:
	vfree(cbt->map);
fail:
	kfree(cbt);
	return ERR_PTR(-ENOMEM);
}

/**
 * cbt_map_check_history() - can @cbt take on a saved history?
 * @cbt: a map of the device
 * @h: the history
 *
 * Return: 0; -ERANGE if the sizes differ (the device was resized, or the
 * tracking-block parameters differ); -EINVAL if the snapshot number or a
 * map value is out of range (a live value above the snapshot number, a
 * frozen one not below it).
 */
int cbt_map_check_history(const struct cbt_map *cbt,
			  const struct cbt_history *h)
{
	u64 i;

	if (h->capacity != cbt->capacity || h->block_count != cbt->blk_count ||
	    h->block_size != cbt_map_block_bytes(cbt))
		return -ERANGE;
	if (!h->snap_number)
		return -EINVAL;
	for (i = 0; i < h->block_count; i++) {
		if (h->map[i] > h->snap_number ||
		    h->snap_map[i] >= h->snap_number)
			return -EINVAL;
	}
	return 0;
}

/**
 * cbt_map_restore() - give a new map a saved history
 * @cbt: a map no filter can see yet
 * @h: the history, checked with cbt_map_check_history()
 */
void cbt_map_restore(struct cbt_map *cbt, const struct cbt_history *h)
{
	memcpy(cbt->map, h->map, cbt->blk_count);
	memcpy(cbt->snap_map, h->snap_map, cbt->blk_count);
	cbt->snap_number = h->snap_number;
	uuid_copy(&cbt->generation, &h->generation);
}

/**
 * cbt_map_merge() - carry the changes of one map into another
 * @dst: the map to mark
 * @src: a map of the same device and size
 *
 * Every block changed in @src's history is marked changed in @dst's
 * current interval.
 * Context: any, does not sleep.
 */
void cbt_map_merge(struct cbt_map *dst, const struct cbt_map *src)
{
	u8 number = READ_ONCE(dst->snap_number);
	u64 i;

	for (i = 0; i < dst->blk_count && i < src->blk_count; i++) {
		if (READ_ONCE(src->map[i]))
			dst->map[i] = number;
	}
}

void cbt_map_destroy(struct cbt_map *cbt)
{
	if (!cbt)
		return;
	vfree(cbt->snap_map);
	vfree(cbt->map);
	kfree(cbt);
}

/**
 * cbt_map_mark() - record a change of a sector range
 * @cbt: the map
 * @sector: first sector
 * @count: number of sectors; a zero count marks nothing
 *
 * The range is clipped to the map. Context: any, does not sleep.
 */
void cbt_map_mark(struct cbt_map *cbt, u64 sector, u64 count)
{
	u64 first, last;

	if (!count || sector >= cbt->capacity)
		return;
	if (count > cbt->capacity - sector)
		count = cbt->capacity - sector;

	first = sector >> cbt->blk_shift;
	last = (sector + count - 1) >> cbt->blk_shift;
	/* Racing writers store the same value; a byte is never torn. */
	memset(cbt->map + first, READ_ONCE(cbt->snap_number),
	       last - first + 1);
}

/**
 * cbt_map_switch() - freeze the map for a new snapshot
 * @cbt: the map
 *
 * Copies the live map to the frozen one and advances the snapshot number.
 * Past 255 the history is lost: both maps are cleared, the number restarts
 * at 1 and a new generation begins. For the snapshot code; writes racing
 * with the switch land in either interval, which errs on the safe side
 * only if the caller has quiesced the device (it freezes it).
 *
 * Context: any, does not sleep.
 */
void cbt_map_switch(struct cbt_map *cbt)
{
	spin_lock(&cbt->lock);
	if (cbt->snap_number == 255) {
		memset(cbt->map, 0, cbt->blk_count);
		memset(cbt->snap_map, 0, cbt->blk_count);
		uuid_gen(&cbt->generation);
		WRITE_ONCE(cbt->snap_number, 1);
	} else {
		memcpy(cbt->snap_map, cbt->map, cbt->blk_count);
		WRITE_ONCE(cbt->snap_number, cbt->snap_number + 1);
	}
	spin_unlock(&cbt->lock);
}
