/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_IMAGE_H
#define __BLKSNAP_IMAGE_H

#include <linux/types.h>

struct cow_dev;
struct block_device;

int image_init(void);
void image_exit(void);
int image_create(struct cow_dev *cd);
void image_destroy(struct cow_dev *cd);
bool image_is_image(struct block_device *bdev);

#endif /* __BLKSNAP_IMAGE_H */
