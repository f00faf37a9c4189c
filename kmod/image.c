// SPDX-License-Identifier: GPL-2.0-only
/*
 * Snapshot images: one bio-based disk per device of a taken snapshot,
 * named BLKSNAP_IMAGE_NAME_FMT after the origin's device number.
 *
 * Each image bio is processed by a work item on an unbound workqueue, so
 * several run in parallel. A bio is cut at chunk boundaries; each piece is
 * handled under the chunk's lock: a read takes the data from the storage
 * if the chunk was copied, else from the origin (the lock keeps the COW
 * worker from copying the chunk and releasing a write over it meanwhile);
 * a write first copies the chunk if needed, then writes into the stored
 * copy: image writes never reach the origin. Discard and write-zeroes are
 * not supported (not advertised). A corrupted or destroyed snapshot fails
 * every image bio with an I/O error.
 *
 * The disk keeps a reference to its struct snap_dev and to the module until
 * the last opener is gone (.free_disk), so an image open when the snapshot
 * is destroyed stays safe to use (it fails all I/O).
 */
#include "blksnap.h"
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include "compat.h"
#include "diff_storage.h"
#include "snapshot.h"
#include "cow.h"
#include "image.h"

static int image_major;
static DEFINE_IDA(image_ida);
static struct workqueue_struct *image_wq;
static const struct block_device_operations image_fops;

/* One image bio in a work item. */
struct image_io {
	struct work_struct work;
	struct snap_dev *sd;
	struct bio *bio;
};

/* Copy @len bytes between a bio's data at @start and @buf. */
static void image_copy_bio(struct bio *bio, struct bvec_iter start, u32 len,
			   u8 *buf, bool to_bio)
{
	struct bvec_iter iter;
	struct bio_vec bv;

	start.bi_size = len;
	__bio_for_each_segment(bv, bio, iter, start) {
		if (to_bio)
			memcpy_to_bvec(&bv, buf);
		else
			memcpy_from_bvec(buf, &bv);
		buf += bv.bv_len;
	}
}

/* Read @len bytes at byte @off of chunk @c into @buf. Chunk lock held. */
static int image_read_locked(struct snap_dev *sd, u64 c, u32 off, u32 len,
			     void *buf)
{
	struct snapshot *snap = sd->snap;
	unsigned int shift = snap->chunk_shift;
	void *loc = xa_load(&sd->chunks, c);

	if (loc)
		return diff_storage_rw(&snap->storage, shift, xa_to_value(loc),
				       off, buf, len, false);
	return blksnap_bio_rw(sd->origin.bdev, false,
			      (c << (shift - SECTOR_SHIFT)) +
			      (off >> SECTOR_SHIFT), buf, len);
}

/* Write @len bytes at byte @off of chunk @c from @buf. Chunk lock held. */
static int image_write_locked(struct snap_dev *sd, u64 c, u32 off, u32 len,
			      void *buf)
{
	struct snapshot *snap = sd->snap;

	return diff_storage_rw(&snap->storage, snap->chunk_shift,
			       xa_to_value(xa_load(&sd->chunks, c)), off, buf,
			       len, true);
}

/* One piece of a bio, inside chunk @c. */
static int image_piece(struct snap_dev *sd, struct bio *bio,
		       struct bvec_iter iter, u64 c, u32 off, u32 len,
		       void *buf)
{
	struct mutex *lock = snap_dev_chunk_lock(sd, c);
	bool write = op_is_write(bio_op(bio));
	int ret;

	if (write) {
		ret = snap_dev_copy_chunk(sd, c, buf);
		if (ret) {
			snapshot_corrupt(sd->snap, -ret, sd->dev);
			return ret;
		}
	}
	mutex_lock(lock);
	if (write) {
		image_copy_bio(bio, iter, len, buf, false);
		ret = image_write_locked(sd, c, off, len, buf);
	} else {
		ret = image_read_locked(sd, c, off, len, buf);
	}
	mutex_unlock(lock);
	if (!ret && !write)
		image_copy_bio(bio, iter, len, buf, true);
	return ret;
}

static blk_status_t image_rw(struct snap_dev *sd, struct bio *bio)
{
	struct snapshot *snap = sd->snap;
	unsigned int shift = snap->chunk_shift;
	struct bvec_iter iter = bio->bi_iter;
	u32 chunk = 1u << shift;
	u32 off, len;
	void *buf;
	u64 c;
	int ret = 0;

	buf = kvmalloc(chunk, GFP_KERNEL);
	if (!buf)
		return BLK_STS_RESOURCE;
	while (iter.bi_size && !ret) {
		if (READ_ONCE(snap->state) != SNAP_TAKEN) {
			ret = -EIO;
			break;
		}
		c = iter.bi_sector >> (shift - SECTOR_SHIFT);
		off = (iter.bi_sector << SECTOR_SHIFT) & (chunk - 1);
		len = min(iter.bi_size, chunk - off);
		ret = image_piece(sd, bio, iter, c, off, len, buf);
		bio_advance_iter(bio, &iter, len);
	}
	kvfree(buf);
	return ret ? BLK_STS_IOERR : BLK_STS_OK;
}

static void image_io_work(struct work_struct *work)
{
	struct image_io *io = container_of(work, struct image_io, work);
	unsigned int noio = memalloc_noio_save();
	struct snap_dev *sd = io->sd;
	struct bio *bio = io->bio;

	kfree(io);
	switch (bio_op(bio)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		bio->bi_status = image_rw(sd, bio);
		break;
	case REQ_OP_FLUSH:
		break;
	default:
		bio->bi_status = BLK_STS_NOTSUPP;
	}
	bio_endio(bio);
	snap_dev_io_put(sd);
	memalloc_noio_restore(noio);
}

static void image_submit_bio(struct bio *bio)
{
	struct snap_dev *sd = bio->bi_bdev->bd_disk->private_data;
	struct image_io *io;

	if (!snap_dev_io_get(sd)) {
		bio_io_error(bio);
		return;
	}
	io = kmalloc(sizeof(*io), GFP_NOIO);
	if (!io) {
		snap_dev_io_put(sd);
		bio->bi_status = BLK_STS_RESOURCE;
		bio_endio(bio);
		return;
	}
	INIT_WORK(&io->work, image_io_work);
	io->sd = sd;
	io->bio = bio;
	queue_work(image_wq, &io->work);
}

/* The last opener is gone after del_gendisk(): drop the references. */
static void image_free_disk(struct gendisk *disk)
{
	struct snap_dev *sd = disk->private_data;

	ida_free(&image_ida, disk->first_minor);
	snap_dev_put(sd);
	module_put(THIS_MODULE);
}

static const struct block_device_operations image_fops = {
	.owner = THIS_MODULE,
	.submit_bio = image_submit_bio,
	.free_disk = image_free_disk,
};

/* Is @bdev an image of this module? */
bool image_is_image(struct block_device *bdev)
{
	return bdev->bd_disk->fops == &image_fops;
}

static struct gendisk *image_alloc(struct snap_dev *sd)
{
	struct gendisk *disk;
	int minor;

	minor = ida_alloc_max(&image_ida, MINORMASK, GFP_KERNEL);
	if (minor < 0)
		return ERR_PTR(minor);
	disk = blksnap_alloc_disk(bdev_logical_block_size(sd->origin.bdev));
	if (IS_ERR(disk)) {
		ida_free(&image_ida, minor);
		return disk;
	}
	disk->major = image_major;
	disk->first_minor = minor;
	disk->minors = 1;
	disk->flags |= GENHD_FL_NO_PART;
	disk->fops = &image_fops;
	disk->private_data = sd;
	snprintf(disk->disk_name, DISK_NAME_LEN, BLKSNAP_IMAGE_NAME_FMT,
		 MAJOR(sd->dev), MINOR(sd->dev));
	set_capacity(disk, sd->capacity);
	return disk;
}

/**
 * image_create() - add the image disk of a device of a taken snapshot
 * @sd: the device's state
 *
 * Context: process context, tracker_mutex held; the snapshot is taken.
 * Return: 0 or a negative errno.
 */
int image_create(struct snap_dev *sd)
{
	struct gendisk *disk;
	int ret;

	disk = image_alloc(sd);
	if (IS_ERR(disk))
		return PTR_ERR(disk);
	ret = add_disk(disk);
	if (ret) {
		/* Not added: .free_disk is not called. */
		ida_free(&image_ida, disk->first_minor);
		put_disk(disk);
		return ret;
	}
	kref_get(&sd->kref);
	__module_get(THIS_MODULE);
	if (sysfs_create_link(&disk_to_dev(disk)->kobj,
			      bdev_kobj(sd->origin.bdev), "origin"))
		pr_warn("%s: cannot create the origin link\n", disk->disk_name);
	sd->disk = disk;
	return 0;
}

/**
 * image_destroy() - remove an image disk
 * @sd: the device's state
 *
 * The disk goes away even if open; its I/O fails from then on. The caller
 * must still stop and drain the image I/O (snap_dev_stop_io()).
 * Context: process context, tracker_mutex held.
 */
void image_destroy(struct snap_dev *sd)
{
	struct gendisk *disk = sd->disk;

	if (!disk)
		return;
	sysfs_remove_link(&disk_to_dev(disk)->kobj, "origin");
	del_gendisk(disk);
	put_disk(disk);
	sd->disk = NULL;
}

int image_init(void)
{
	image_major = register_blkdev(0, "blksnap-image");
	if (image_major < 0)
		return image_major;
	image_wq = alloc_workqueue("blksnap-image",
				   WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!image_wq) {
		unregister_blkdev(image_major, "blksnap-image");
		return -ENOMEM;
	}
	return 0;
}

void image_exit(void)
{
	destroy_workqueue(image_wq);
	unregister_blkdev(image_major, "blksnap-image");
}
