/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Differences between kernel versions, selected by the feature probe
 * (probe.sh generates blksnap-features.h from the kernel headers).
 */
#ifndef __BLKSNAP_COMPAT_H
#define __BLKSNAP_COMPAT_H

#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/ftrace.h>
#include "blksnap-features.h"

#if !defined(CONFIG_FUNCTION_TRACER) || !defined(CONFIG_DYNAMIC_FTRACE)
#error "blksnap needs CONFIG_FUNCTION_TRACER and CONFIG_DYNAMIC_FTRACE"
#endif
#if !defined(CONFIG_DYNAMIC_FTRACE_WITH_REGS)
#error "blksnap needs CONFIG_DYNAMIC_FTRACE_WITH_REGS"
#endif

/* Redirect the traced function to @ip (renamed in 6.2). */
#ifdef ftrace_regs_set_instruction_pointer
#define blksnap_set_ip(fregs, ip) ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define blksnap_set_ip(fregs, ip) ftrace_instruction_pointer_set(fregs, ip)
#endif

/**
 * blksnap_dev_capacity() - size of a block device given by number
 * @dev: device number
 * @capacity: out: size in sectors
 *
 * Opens the device for reading (not exclusively) and closes it again.
 * Context: process context, may sleep.
 * Return: 0 or a negative errno (-ENXIO etc. when there is no such device).
 */
static inline int blksnap_dev_capacity(dev_t dev, u64 *capacity)
{
#if defined(BLKSNAP_HAVE_BDEV_FILE_OPEN_BY_DEV)
	struct file *file;

	file = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	if (IS_ERR(file))
		return PTR_ERR(file);
	*capacity = bdev_nr_sectors(file_bdev(file));
	fput(file);
#elif defined(BLKSNAP_HAVE_BDEV_OPEN_BY_DEV)
	struct bdev_handle *handle;

	handle = bdev_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	*capacity = bdev_nr_sectors(handle->bdev);
	bdev_release(handle);
#elif defined(BLKSNAP_HAVE_BLKDEV_GET_HOLDER_OPS)
	struct block_device *bdev;

	bdev = blkdev_get_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	*capacity = bdev_nr_sectors(bdev);
	blkdev_put(bdev, NULL);
#else
	struct block_device *bdev;

	bdev = blkdev_get_by_dev(dev, FMODE_READ, NULL);
	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	*capacity = bdev_nr_sectors(bdev);
	blkdev_put(bdev, FMODE_READ);
#endif
	return 0;
}

#endif /* __BLKSNAP_COMPAT_H */
