// SPDX-License-Identifier: GPL-2.0-only
/*
 * Change-block-tracking map: one byte per tracking block, and for blocks
 * changed in part a second level saying which of their 16 sub-blocks
 * changed (4 KiB ones in a 64 KiB block), so that scattered small writes
 * give incrementals of about their own size.
 *
 * The second level is kept only for blocks written in part, up to
 * tracking_fine_limit of them per map; a block without detail changed as
 * a whole, which only ever says more changed, never less. Its frozen
 * view is saved lazily: the switch for a snapshot costs nothing, and the
 * first mark of an entry in a new interval copies @live to @frozen.
 *
 * Why the detail stays exact under racing writers: a write covering a
 * whole block stores the map byte first, then (after a full barrier)
 * looks for an entry to update; a write covering part of a block creates
 * its entry, then (after a full barrier) reads the map byte the entry
 * starts from, and stores the map byte only under the xarray's lock. So
 * either the whole-block writer finds the entry and updates it under
 * that lock, or the new entry starts from the byte it stored. A partial
 * write that skips the lock (its block already marked in this interval
 * and without an entry) reads the map byte with acquire before looking
 * for an entry: the byte of a partial mark is stored after its entry.
 */
#include "blksnap.h"
#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "cbt.h"

#define CBT_SHIFT_MIN 12	/* 4 KiB */
#define CBT_SHIFT_MAX 30	/* 1 GiB */
#define CBT_SUB_SHIFT_MIN (12 - SECTOR_SHIFT)	/* 4 KiB, in sectors */
/* Entries looked at per hold of the xarray's lock when reading. */
#define CBT_READ_BATCH 256

static struct kmem_cache *cbt_fine_cache;
/* Entries allocated: none may be left at the unload (cbt_exit()). */
static atomic_long_t cbt_fine_allocated = ATOMIC_LONG_INIT(0);

static void cbt_fine_free(struct cbt_fine *f)
{
	atomic_long_dec(&cbt_fine_allocated);
	kmem_cache_free(cbt_fine_cache, f);
}

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
	cbt->sub_shift = max_t(unsigned int, CBT_SUB_SHIFT_MIN,
			       cbt->blk_shift - ilog2(CBT_SUBBLOCKS));
	cbt->sub_shift = min(cbt->sub_shift, cbt->blk_shift);
	xa_init_flags(&cbt->fine, XA_FLAGS_LOCK_IRQ);

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
	u64 count = min(dst->blk_count, src->blk_count);
	u64 i, run;

	for (i = 0; i < count; i += run) {
		for (run = 0; i + run < count && READ_ONCE(src->map[i + run]);)
			run++;
		if (!run) {
			run = 1;
			continue;
		}
		/* As whole blocks, so that an entry of @dst cannot say less. */
		cbt_map_mark(dst, i << dst->blk_shift, run << dst->blk_shift);
	}
}

/* Free every entry of the detail. Context: any, @cbt->fine unlocked. */
static void cbt_fine_clear(struct cbt_map *cbt)
{
	struct cbt_fine *f;
	unsigned long index, flags;

	xa_lock_irqsave(&cbt->fine, flags);
	xa_for_each(&cbt->fine, index, f) {
		__xa_erase(&cbt->fine, index);
		cbt_fine_free(f);
	}
	cbt->fine_count = 0;
	xa_unlock_irqrestore(&cbt->fine, flags);
}

void cbt_map_destroy(struct cbt_map *cbt)
{
	if (!cbt)
		return;
	cbt_fine_clear(cbt);
	xa_destroy(&cbt->fine);
	vfree(cbt->snap_map);
	vfree(cbt->map);
	kfree(cbt);
}

static bool cbt_has_detail(const struct cbt_map *cbt)
{
	return cbt->sub_shift != cbt->blk_shift;
}

/* Do the first @count sub-blocks hold one value? Two loads when 16. */
static bool cbt_fine_uniform(const u8 *sub, unsigned int count)
{
	u64 lo, hi;

	if (count != CBT_SUBBLOCKS)
		return !memchr_inv(sub, sub[0], count);
	memcpy(&lo, sub, sizeof(lo));
	memcpy(&hi, sub + sizeof(lo), sizeof(hi));
	return lo == hi && lo == sub[0] * 0x0101010101010101ull;
}

/*
 * Number of sub-blocks of @block that hold device sectors: all of them
 * but in a last block cut by the device's end. Those past it stay zero.
 */
static unsigned int cbt_subblocks(const struct cbt_map *cbt, u64 block)
{
	u64 start = block << cbt->blk_shift;
	u64 left = cbt->capacity - start;
	unsigned int count = 1u << (cbt->blk_shift - cbt->sub_shift);

	if (left >= (1ull << cbt->blk_shift))
		return count;
	return DIV_ROUND_UP_ULL(left, 1ull << cbt->sub_shift);
}

/*
 * The entry of @block, created if it has none and the limit allows.
 * Context: @cbt->fine locked.
 */
static struct cbt_fine *cbt_fine_get(struct cbt_map *cbt, u64 block,
				     u8 number)
{
	struct cbt_fine *f = xa_load(&cbt->fine, block);
	unsigned int count;
	u8 old;

	if (f)
		return f;
	if (cbt->fine_count >= READ_ONCE(tracking_fine_limit))
		return NULL;
	f = kmem_cache_alloc(cbt_fine_cache, GFP_NOWAIT | __GFP_NOWARN);
	if (!f)
		return NULL;
	atomic_long_inc(&cbt_fine_allocated);
	if (xa_is_err(__xa_store(&cbt->fine, block, f,
				 GFP_NOWAIT | __GFP_NOWARN))) {
		cbt_fine_free(f);
		return NULL;
	}
	cbt->fine_count++;
	/* Pairs with the barrier of a whole-block mark: see the top. */
	smp_mb();
	old = READ_ONCE(cbt->map[block]);
	memset(f->live, old, CBT_SUBBLOCKS);
	memset(f->frozen, cbt->snap_map[block], CBT_SUBBLOCKS);
	count = cbt_subblocks(cbt, block);
	memset(f->live + count, 0, CBT_SUBBLOCKS - count);
	memset(f->frozen + count, 0, CBT_SUBBLOCKS - count);
	f->frozen_at = number;
	return f;
}

/*
 * Mark sub-blocks [@first, @last] of the block @block's entry @f with
 * @number; drop the entry once it says no more than the maps would.
 * Context: @cbt->fine locked.
 */
static void cbt_fine_set(struct cbt_map *cbt, u64 block, struct cbt_fine *f,
			 unsigned int first, unsigned int last, u8 number)
{
	unsigned int count = cbt_subblocks(cbt, block);

	if (f->frozen_at != number) {
		memcpy(f->frozen, f->live, CBT_SUBBLOCKS);
		f->frozen_at = number;
	}
	memset(f->live + first, number, last - first + 1);
	if (cbt_fine_uniform(f->live, count) &&
	    cbt_fine_uniform(f->frozen, count)) {
		__xa_erase(&cbt->fine, block);
		cbt->fine_count--;
		cbt_fine_free(f);
	}
}

/*
 * Mark the sectors of [@start, @end) inside the block @block, which they
 * cover only in part. Context: @cbt->fine locked.
 */
static void cbt_fine_mark_part(struct cbt_map *cbt, u64 block, u64 start,
			       u64 end, u8 number)
{
	u64 base = block << cbt->blk_shift;
	u64 limit = base + (1ull << cbt->blk_shift);
	struct cbt_fine *f = cbt_fine_get(cbt, block, number);

	start = max(start, base);
	end = min(end, limit);
	if (f)
		cbt_fine_set(cbt, block, f, (start - base) >> cbt->sub_shift,
			     (end - 1 - base) >> cbt->sub_shift, number);
	WRITE_ONCE(cbt->map[block], number);
}

/* Does [@start, @end) cover the whole of @block? */
static bool cbt_covers(const struct cbt_map *cbt, u64 block, u64 start,
		       u64 end)
{
	u64 first = block << cbt->blk_shift;
	u64 last = min(first + (1ull << cbt->blk_shift), cbt->capacity);

	return start <= first && end >= last;
}

/*
 * Does a write to part of @block need its detail? Not when the block has
 * no entry and changed in this interval already: without an entry it
 * counts as changed whole. Lockless, the common case of a block written
 * again: an entry made meanwhile starts from the map byte, @number.
 */
static bool cbt_fine_needed(struct cbt_map *cbt, u64 block, u8 number)
{
	/*
	 * Acquire: a map byte stored by a partial mark is stored after its
	 * entry (cbt_fine_get()'s barrier); seeing the byte, see the entry.
	 */
	return smp_load_acquire(&cbt->map[block]) != number ||
	       xa_load(&cbt->fine, block);
}

/*
 * The detail of a mark of the sectors [@start, @end), spanning the blocks
 * [@first, @last] and covering the first (@head) or the last (@tail) in
 * part only; the map bytes of the blocks covered whole are stored
 * already.
 */
static void cbt_fine_mark(struct cbt_map *cbt, u64 start, u64 end,
			  u64 first, u64 last, bool head, bool tail,
			  u8 number)
{
	/* The blocks covered whole: [whole_first, whole_last], maybe none. */
	u64 whole_first = first + head, whole_last = last - tail;
	bool whole = whole_first <= whole_last;
	struct cbt_fine *f;
	unsigned long index, flags;

	if (whole) {
		/* After the whole blocks' bytes: pairs with cbt_fine_get(). */
		smp_mb();
	}
	head = head && cbt_fine_needed(cbt, first, number);
	tail = tail && cbt_fine_needed(cbt, last, number);
	if (!head && !tail && (!whole || xa_empty(&cbt->fine)))
		return;

	xa_lock_irqsave(&cbt->fine, flags);
	if (head)
		cbt_fine_mark_part(cbt, first, start, end, number);
	if (tail)
		cbt_fine_mark_part(cbt, last, start, end, number);
	if (whole) {
		xa_for_each_range(&cbt->fine, index, f, whole_first,
				  whole_last)
			cbt_fine_set(cbt, index, f, 0,
				     cbt_subblocks(cbt, index) - 1, number);
	}
	xa_unlock_irqrestore(&cbt->fine, flags);
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
	u64 first, last, end;
	bool head, tail;
	u8 number;

	if (!count || sector >= cbt->capacity)
		return;
	if (count > cbt->capacity - sector)
		count = cbt->capacity - sector;

	number = READ_ONCE(cbt->snap_number);
	end = sector + count;
	first = sector >> cbt->blk_shift;
	last = (end - 1) >> cbt->blk_shift;
	if (!cbt_has_detail(cbt)) {
		/* Racing writers store the same value; a byte is never torn. */
		memset(cbt->map + first, number, last - first + 1);
		return;
	}
	/* A block covered in part gets its byte under the detail's lock. */
	head = !cbt_covers(cbt, first, sector, end);
	tail = last != first && !cbt_covers(cbt, last, sector, end);
	if (first + head <= last - tail)
		memset(cbt->map + first + head, number,
		       last - tail - first - head + 1);
	cbt_fine_mark(cbt, sector, end, first, last, head, tail, number);
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
	bool wrapped = false;

	spin_lock(&cbt->lock);
	if (cbt->snap_number == 255) {
		memset(cbt->map, 0, cbt->blk_count);
		memset(cbt->snap_map, 0, cbt->blk_count);
		uuid_gen(&cbt->generation);
		WRITE_ONCE(cbt->snap_number, 1);
		wrapped = true;
	} else {
		memcpy(cbt->snap_map, cbt->map, cbt->blk_count);
		WRITE_ONCE(cbt->snap_number, cbt->snap_number + 1);
	}
	spin_unlock(&cbt->lock);
	/* The detail's frozen views need nothing: see cbt_fine_set(). */
	if (wrapped)
		cbt_fine_clear(cbt);
}

/*
 * Copy the view of @f for the block @block to @out; false if it says no
 * more than the map byte @byte (uniform), or disagrees with it (a
 * writer between the map byte and its entry: the block counts as whole).
 */
static bool cbt_fine_copy(const struct cbt_map *cbt, const struct cbt_fine *f,
			  u64 block, bool live, u8 number, u8 byte,
			  struct blksnap_cbt_fine_entry *out)
{
	const u8 *sub = (live || f->frozen_at != number) ? f->live : f->frozen;
	unsigned int count = cbt_subblocks(cbt, block);
	u8 top = 0;
	unsigned int i;

	if (cbt_fine_uniform(sub, count))
		return false;
	for (i = 0; i < count; i++)
		top = max(top, sub[i]);
	if (top != byte)
		return false;
	out->block = block;
	memcpy(out->sub, sub, CBT_SUBBLOCKS);
	return true;
}

/**
 * cbt_map_read_fine() - copy out the detail from a block on
 * @cbt: the map
 * @live: the live detail rather than the one frozen at the last switch
 * @start: the first block to look at
 * @out: room for @room entries
 * @room: at least 1
 * @next: where the next call starts; the block count once all is read
 *
 * Entries that say no more than the map are left out.
 * Context: process context, the map locked (tracker_map_lock()).
 * Return: the number of entries filled, in increasing block order.
 */
unsigned int cbt_map_read_fine(struct cbt_map *cbt, bool live, u64 start,
			       struct blksnap_cbt_fine_entry *out,
			       unsigned int room, u64 *next)
{
	u8 number = READ_ONCE(cbt->snap_number);
	unsigned long index = start, flags;
	unsigned int filled = 0, batch;
	struct cbt_fine *f = NULL;
	u8 byte;

	*next = cbt->blk_count;
	if (!cbt_has_detail(cbt) || start >= cbt->blk_count)
		return 0;
	do {
		xa_lock_irqsave(&cbt->fine, flags);
		for (batch = 0; batch < CBT_READ_BATCH; batch++) {
			f = xa_find(&cbt->fine, &index, cbt->blk_count - 1,
				    XA_PRESENT);
			if (!f || filled == room)
				break;
			byte = live ? READ_ONCE(cbt->map[index]) :
				cbt->snap_map[index];
			if (cbt_fine_copy(cbt, f, index, live, number, byte,
					  &out[filled]))
				filled++;
			if (index == cbt->blk_count - 1) {
				f = NULL;
				break;
			}
			index++;
		}
		xa_unlock_irqrestore(&cbt->fine, flags);
		cond_resched();
	} while (f && filled < room);
	if (f)
		*next = index;
	return filled;
}

int cbt_init(void)
{
	BUILD_BUG_ON(CBT_SUBBLOCKS != BLKSNAP_CBT_FINE_SUBBLOCKS);
	BUILD_BUG_ON(CBT_SUBBLOCKS != 2 * sizeof(u64));
	cbt_fine_cache = KMEM_CACHE(cbt_fine, 0);
	return cbt_fine_cache ? 0 : -ENOMEM;
}

void cbt_exit(void)
{
	WARN(atomic_long_read(&cbt_fine_allocated),
	     "%ld change map detail entries leaked\n",
	     atomic_long_read(&cbt_fine_allocated));
	kmem_cache_destroy(cbt_fine_cache);
}
