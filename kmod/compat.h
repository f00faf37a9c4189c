/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Differences between kernel versions, selected by the feature probe
 * (probe.sh generates blksnap-features.h from the kernel headers).
 */
#ifndef __BLKSNAP_COMPAT_H
#define __BLKSNAP_COMPAT_H

#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/crc32.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/ftrace.h>
#include <linux/part_stat.h>
#include <linux/percpu-refcount.h>
#include "blksnap-features.h"

#if !defined(CONFIG_FUNCTION_TRACER) || !defined(CONFIG_DYNAMIC_FTRACE)
#error "blksnap needs CONFIG_FUNCTION_TRACER and CONFIG_DYNAMIC_FTRACE"
#endif
#if !defined(CONFIG_DYNAMIC_FTRACE_WITH_REGS) && \
	!defined(CONFIG_DYNAMIC_FTRACE_WITH_ARGS)
#error "blksnap needs CONFIG_DYNAMIC_FTRACE_WITH_REGS or _WITH_ARGS"
#endif

/*
 * Flags of the hook besides IPMODIFY. Where ftrace passes its argument
 * frame with an instruction pointer a callback may change (WITH_ARGS, as
 * live patching relies on), the lighter trampoline that saves only that
 * frame does; elsewhere the hook needs the full register set.
 */
#ifdef CONFIG_DYNAMIC_FTRACE_WITH_ARGS
#define BLKSNAP_FTRACE_FLAGS 0
#else
#define BLKSNAP_FTRACE_FLAGS FTRACE_OPS_FL_SAVE_REGS
#endif

/* Redirect the traced function to @ip (renamed in 6.2). */
#ifdef ftrace_regs_set_instruction_pointer
#define blksnap_set_ip(fregs, ip) ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define blksnap_set_ip(fregs, ip) ftrace_instruction_pointer_set(fregs, ip)
#endif

/**
 * struct blksnap_bdev - a block device held open by the module
 * @bdev: the device
 * @file: (6.9+) the file the device is open through
 * @handle: (6.7, 6.8) the handle the device is open through
 */
struct blksnap_bdev {
	struct block_device *bdev;
#if defined(BLKSNAP_HAVE_BDEV_FILE_OPEN_BY_DEV)
	struct file *file;
#elif defined(BLKSNAP_HAVE_BDEV_OPEN_BY_DEV)
	struct bdev_handle *handle;
#endif
};

/**
 * blksnap_bdev_open() - open a block device for reading, not exclusively
 * @dev: device number
 * @b: out: the open device
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno.
 */
static inline int blksnap_bdev_open(dev_t dev, struct blksnap_bdev *b)
{
#if defined(BLKSNAP_HAVE_BDEV_FILE_OPEN_BY_DEV)
	b->file = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	if (IS_ERR(b->file))
		return PTR_ERR(b->file);
	b->bdev = file_bdev(b->file);
#elif defined(BLKSNAP_HAVE_BDEV_OPEN_BY_DEV)
	b->handle = bdev_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	if (IS_ERR(b->handle))
		return PTR_ERR(b->handle);
	b->bdev = b->handle->bdev;
#elif defined(BLKSNAP_HAVE_BLKDEV_GET_HOLDER_OPS)
	b->bdev = blkdev_get_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	if (IS_ERR(b->bdev))
		return PTR_ERR(b->bdev);
#else
	b->bdev = blkdev_get_by_dev(dev, FMODE_READ, NULL);
	if (IS_ERR(b->bdev))
		return PTR_ERR(b->bdev);
#endif
	return 0;
}

/* Close a device opened with blksnap_bdev_open(). Context: may sleep. */
static inline void blksnap_bdev_close(struct blksnap_bdev *b)
{
#if defined(BLKSNAP_HAVE_BDEV_FILE_OPEN_BY_DEV)
	fput(b->file);
#elif defined(BLKSNAP_HAVE_BDEV_OPEN_BY_DEV)
	bdev_release(b->handle);
#elif defined(BLKSNAP_HAVE_BLKDEV_GET_HOLDER_OPS)
	blkdev_put(b->bdev, NULL);
#else
	blkdev_put(b->bdev, FMODE_READ);
#endif
	b->bdev = NULL;
}

/**
 * blksnap_dev_identity() - size and disk sequence number of a device
 * @dev: device number
 * @capacity: out: size in sectors
 * @diskseq: out: the sequence number of its disk, which changes when
 *           another disk (or, for a loop device, another file) takes
 *           the device number
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno (-ENXIO etc. when there is no such device).
 */
static inline int blksnap_dev_identity(dev_t dev, u64 *capacity, u64 *diskseq)
{
	struct blksnap_bdev b;
	int ret;

	ret = blksnap_bdev_open(dev, &b);
	if (ret)
		return ret;
	*capacity = bdev_nr_sectors(b.bdev);
	*diskseq = b.bdev->bd_disk->diskseq;
	blksnap_bdev_close(&b);
	return 0;
}

/*
 * Was the block device file opened with O_EXCL? The open clears O_EXCL from
 * f_flags; 6.1 keeps FMODE_EXCL, 6.5+ the holder in private_data.
 */
static inline bool blksnap_bdev_file_excl(struct file *file)
{
#ifdef FMODE_EXCL
	return file->f_mode & FMODE_EXCL;
#else
	return file->private_data;
#endif
}

/* Freeze the filesystem on @bdev, if any (renamed in 6.8). */
static inline int blksnap_freeze(struct block_device *bdev)
{
#ifdef BLKSNAP_HAVE_BDEV_FREEZE
	return bdev_freeze(bdev);
#else
	return freeze_bdev(bdev);
#endif
}

static inline int blksnap_thaw(struct block_device *bdev)
{
#ifdef BLKSNAP_HAVE_BDEV_FREEZE
	return bdev_thaw(bdev);
#else
	return thaw_bdev(bdev);
#endif
}

/**
 * blksnap_alloc_disk() - allocate a bio-based disk
 * @lbs: logical block size in bytes
 *
 * Context: process context, may sleep.
 * Return: the disk or an ERR_PTR().
 */
static inline struct gendisk *blksnap_alloc_disk(unsigned int lbs)
{
#ifdef BLKSNAP_HAVE_BLK_ALLOC_DISK_LIMITS
	struct queue_limits lim = {
		.logical_block_size = lbs,
		.physical_block_size = lbs,
		.max_hw_sectors = 2048,
	};

	return blk_alloc_disk(&lim, NUMA_NO_NODE);
#else
	struct gendisk *disk = blk_alloc_disk(NUMA_NO_NODE);

	if (!disk)
		return ERR_PTR(-ENOMEM);
	blk_queue_logical_block_size(disk->queue, lbs);
	blk_queue_physical_block_size(disk->queue, lbs);
	blk_queue_max_hw_sectors(disk->queue, 2048);
	return disk;
#endif
}

/* Does @bdev say it is rotational (a disk that seeks)? */
static inline bool blksnap_bdev_rotational(struct block_device *bdev)
{
#ifdef BLKSNAP_HAVE_BDEV_ROT
	return bdev_rot(bdev);
#else
	return !bdev_nonrot(bdev);
#endif
}

/* CRC-32C of @len bytes at @p from @crc, without pre- or post-inversion. */
static inline u32 blksnap_crc32c(u32 crc, const void *p, size_t len)
{
#ifdef BLKSNAP_HAVE_CRC32C
	return crc32c(crc, p, len);
#else
	return __crc32c_le(crc, p, len);
#endif
}

/*
 * A take drains its devices' queues while it holds their writes, so the
 * drain must be short. A freeze kills the queue's usage counter, and a
 * counter in per-cpu mode needs an RCU grace period (milliseconds) to
 * switch to atomic mode before its count can be seen to reach zero. So a
 * device joining a snapshot has its counter put in atomic mode while the
 * writes still flow (blksnap_queue_count_atomic(); the take makes sure
 * with blksnap_queue_count_atomic_wait()), the take freezes all the
 * queues before waiting for any, and the counters go back to per-cpu
 * mode after it (blksnap_queue_count_percpu()). The block layer keeps
 * the forced atomic mode across a freeze and an unfreeze.
 * Context of all: process context; the waits sleep.
 */
static inline void blksnap_queue_count_atomic(struct request_queue *q)
{
	percpu_ref_switch_to_atomic(&q->q_usage_counter, NULL);
}

static inline void blksnap_queue_count_atomic_wait(struct request_queue *q)
{
	percpu_ref_switch_to_atomic_sync(&q->q_usage_counter);
}

static inline void blksnap_queue_count_percpu(struct request_queue *q)
{
	percpu_ref_switch_to_percpu(&q->q_usage_counter);
}

/* Stop new requests entering @q; its old ones go on. */
static inline void blksnap_queue_freeze_start(struct request_queue *q)
{
	blk_freeze_queue_start(q);
}

/* Wait until no request entered before the freeze is left on @q. */
static inline void blksnap_queue_freeze_wait(struct request_queue *q)
{
	blk_mq_freeze_queue_wait(q);
}

static inline void blksnap_queue_unfreeze(struct request_queue *q)
{
#ifdef BLKSNAP_HAVE_FREEZE_MEMFLAGS
	blk_mq_unfreeze_queue_nomemrestore(q);
#else
	blk_mq_unfreeze_queue(q);
#endif
}

/**
 * blksnap_queue_drain() - wait for the requests in flight on a queue
 * @q: the queue
 *
 * Freezes @q, which waits for every request entered before, and
 * unfreezes it at once.  A request-based queue's requests hold its usage
 * count until they end; a bio-based one holds it only while a bio is
 * being submitted.
 * Context: process context, may sleep.
 */
static inline void blksnap_queue_drain(struct request_queue *q)
{
	blksnap_queue_freeze_start(q);
	blksnap_queue_freeze_wait(q);
	blksnap_queue_unfreeze(q);
}

/*
 * The write and discard requests the block layer counted for @bdev (for
 * a whole disk, its partitions' too) since it appeared: the second and
 * the twelfth field of /sys/class/block/DEV/stat.
 */
static inline u64 blksnap_bdev_writes(struct block_device *bdev)
{
	return part_stat_read(bdev, ios[STAT_WRITE]) +
	       part_stat_read(bdev, ios[STAT_DISCARD]);
}

/* Writes in flight on a bio-based device (request-based ones count 0). */
static inline long blksnap_bdev_writes_in_flight(struct block_device *bdev)
{
	long n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += part_stat_local_read_cpu(bdev, in_flight[WRITE], cpu);
	return n;
}

#endif /* __BLKSNAP_COMPAT_H */
