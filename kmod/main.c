// SPDX-License-Identifier: GPL-2.0-only
/*
 * blksnap: change tracking for block devices of stock kernels.
 */
#include "blksnap.h"
#include <linux/module.h>
#include <linux/moduleparam.h>
#include "cbt.h"
#include "hook.h"
#include "ctrl.h"
#include "cow.h"
#include "io.h"
#include "image.h"
#include "tracker.h"

/* The control lock: see blksnap.h. */
DEFINE_MUTEX(blksnap_ctl_lock);

unsigned int tracking_block_minimum_shift = 16;
module_param(tracking_block_minimum_shift, uint, 0644);
MODULE_PARM_DESC(tracking_block_minimum_shift,
		 "log2 of the smallest tracking block size in bytes (12..30, default 16)");

unsigned int tracking_block_maximum_shift = 26;
module_param(tracking_block_maximum_shift, uint, 0644);
MODULE_PARM_DESC(tracking_block_maximum_shift,
		 "log2 of the largest tracking block size in bytes (12..30, default 26)");

unsigned int tracking_block_maximum_count = 2097152;
module_param(tracking_block_maximum_count, uint, 0644);
MODULE_PARM_DESC(tracking_block_maximum_count,
		 "largest number of tracking blocks per device (default 2097152)");

unsigned int tracking_fine_limit = 131072;
module_param(tracking_fine_limit, uint, 0644);
MODULE_PARM_DESC(tracking_fine_limit,
		 "largest number of tracking blocks per device whose 4 KiB sub-blocks are tracked (default 131072, 0: none)");

unsigned int chunk_minimum_shift = 16;
module_param(chunk_minimum_shift, uint, 0644);
MODULE_PARM_DESC(chunk_minimum_shift,
		 "log2 of the smallest copy-on-write chunk size in bytes (12..26, default 16)");

unsigned int chunk_maximum_shift = 24;
module_param(chunk_maximum_shift, uint, 0644);
MODULE_PARM_DESC(chunk_maximum_shift,
		 "log2 of the largest copy-on-write chunk size in bytes (12..26, default 24)");

unsigned int chunk_maximum_count = 2097152;
module_param(chunk_maximum_count, uint, 0644);
MODULE_PARM_DESC(chunk_maximum_count,
		 "largest number of chunks per snapshot device (default 2097152)");

unsigned int diff_storage_grow_mib = 64;
module_param(diff_storage_grow_mib, uint, 0644);
MODULE_PARM_DESC(diff_storage_grow_mib,
		 "step in MiB by which a difference storage file grows (default 64)");

static int __init blksnap_init(void)
{
	int ret;

	ret = blksnap_io_setup();
	if (ret)
		return ret;
	ret = cbt_init();
	if (ret)
		goto fail_io;
	ret = cow_init();
	if (ret)
		goto fail_cbt;
	ret = image_init();
	if (ret)
		goto fail_cow;
	ret = hook_register();
	if (ret)
		goto fail_image;
	ret = ctrl_register();
	if (ret)
		goto fail_hook;
	pr_info("loaded\n");
	return 0;

fail_hook:
	hook_unregister();
fail_image:
	image_exit();
fail_cow:
	cow_exit();
fail_cbt:
	cbt_exit();
fail_io:
	blksnap_io_teardown();
	return ret;
}

static void __exit blksnap_exit(void)
{
	/* No new ioctls, then no new bios in module code, then no trackers. */
	ctrl_unregister();
	hook_unregister();
	tracker_detach_all();
	image_exit();
	cow_exit();
	cbt_exit();
	blksnap_io_teardown();
	pr_info("unloaded\n");
}

module_init(blksnap_init);
module_exit(blksnap_exit);
MODULE_DESCRIPTION("Block device change tracking and snapshots for stock kernels");
MODULE_LICENSE("GPL");
MODULE_VERSION(BLKSNAP_MODULE_VERSION);
