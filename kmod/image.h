/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_IMAGE_H
#define __BLKSNAP_IMAGE_H

#include <linux/types.h>

struct snap_dev;
struct block_device;

int image_init(void);
void image_exit(void);
int image_create(struct snap_dev *sd);
void image_destroy(struct snap_dev *sd);
bool image_is_image(struct block_device *bdev);

#endif /* __BLKSNAP_IMAGE_H */
