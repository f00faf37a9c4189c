// SPDX-License-Identifier: GPL-2.0-only
/*
 * Snapshot images: one bio-based disk per device of a taken snapshot,
 * named BLKSNAP_IMAGE_NAME_FMT after the origin's device number.
 *
 * A bio is cut at chunk boundaries and each piece mapped: a chunk copied
 * into the storage maps to its slot, an uncopied one (reads only) to the
 * origin. A read whose chunks all lie on block devices is sent from
 * submit_bio itself, gathered: bios read the pieces in the storage
 * wherever their slots follow each other, however far apart they lie in
 * the image. From a rotational origin, one bio reads the pieces of the
 * origin into the image bio's pages and a gap of copied chunks between
 * them into a bucket page whose content nobody reads, so a read that
 * alternates between origin and storage chunk by chunk costs two
 * requests, not one per chunk, and no seek; a non-rotational origin
 * reads each piece with its own bio rather than spend bandwidth on the
 * gaps. Pieces that are one stretch of the image bio on consecutive
 * sectors go as a clone sharing its vectors.
 *
 * Other bios go to a work item on an unbound workqueue, where pieces that
 * map to consecutive sectors of one device are merged into clones of the
 * image bio sharing its pages: a write first copies the chunks it touches
 * (cow_copy_range()), so image writes never reach the origin, and a
 * storage file is read or written through a bounce buffer. All the bios
 * of an image bio are in flight at once; it ends when the last one does.
 *
 * A read registers with the COW state before it looks chunks up and
 * leaves when its bios have completed (cow_read_begin(), see
 * cow.c), so no write over a chunk it found uncopied reaches the origin
 * meanwhile. Discard and write-zeroes are not supported (not advertised).
 * A corrupted or destroyed snapshot fails every image bio with an I/O
 * error, also one in flight when the snapshot became corrupted.
 *
 * The disk keeps a reference to its struct cow_dev and to the module until
 * the last opener is gone (.free_disk), so an image open when the snapshot
 * is destroyed stays safe to use (it fails all I/O).
 */
#include "blksnap.h"
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include "compat.h"
#include "io.h"
#include "diff_storage.h"
#include "cow.h"
#include "image.h"

/* Chunks whose mapping a gathered read remembers between its passes. */
#define IMAGE_GATHER_CHUNKS	64
/*
 * Largest gap a gathered read of a rotational device fills with the
 * bucket rather than split: reading it costs less than a seek there. A
 * non-rotational device gets one bio per piece instead, as reading the
 * gap only costs it bandwidth.
 */
#define IMAGE_GATHER_MAX_GAP	(256u << 10)
/* What a gathered read keeps of the image bio's flags. */
#define IMAGE_GATHER_FLAGS	(REQ_SYNC | REQ_META | REQ_PRIO | REQ_RAHEAD)

static int image_major;
/* Where gathered reads put the gaps' data: never read, shared by all. */
static struct page *image_bucket;
static unsigned int image_bucket_order;
static DEFINE_IDA(image_ida);
static struct workqueue_struct *image_wq;
static const struct block_device_operations image_fops;

/**
 * struct image_io - an image bio in progress
 * @work: for the bios that need process context
 * @group: the clones, ending the bio when the last one completes
 * @cd: the device's state
 * @bio: the image bio
 * @slot: reader generation of a read (cow_read_begin())
 * @reading: registered as a reader
 */
struct image_io {
	struct work_struct work;
	struct blksnap_io group;
	struct cow_dev *cd;
	struct bio *bio;
	unsigned int slot;
	bool reading;
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

/*
 * A piece of an image bio mapped to a device, growing while the next
 * pieces map to the sectors that follow.
 */
struct image_map {
	struct bvec_iter iter;	/* the part of the bio; empty: none */
	struct block_device *bdev;
	sector_t sector;
};

/* Send the mapped piece as a clone of @bio. */
static void image_map_flush(struct image_map *map, struct bio *bio,
			    struct blksnap_io *io)
{
	if (!map->iter.bi_size)
		return;
	blksnap_io_submit(io, blksnap_io_clone(bio, map->iter, map->bdev,
					       map->sector));
	map->iter.bi_size = 0;
}

/* Add @len bytes of @bio at @iter, mapped to @sector of @bdev. */
static void image_map_add(struct image_map *map, struct bio *bio,
			  struct blksnap_io *io, struct bvec_iter iter, u32 len,
			  struct block_device *bdev, sector_t sector)
{
	if (map->iter.bi_size && map->bdev == bdev &&
	    map->sector + (map->iter.bi_size >> SECTOR_SHIFT) == sector &&
	    map->iter.bi_size <= UINT_MAX - len) {
		map->iter.bi_size += len;
		return;
	}
	image_map_flush(map, bio, io);
	map->iter = iter;
	map->iter.bi_size = len;
	map->bdev = bdev;
	map->sector = sector;
}

/* A piece in a storage file: through a bounce buffer, synchronously. */
static int image_file_piece(struct cow_dev *cd, struct bio *bio,
			    struct bvec_iter iter, u64 loc, u32 off, u32 len,
			    void **bounce)
{
	bool write = op_is_write(bio_op(bio));
	int ret;

	if (!*bounce) {
		*bounce = kvmalloc(1u << cd->chunk_shift, GFP_NOIO);
		if (!*bounce)
			return -ENOMEM;
	}
	if (write)
		image_copy_bio(bio, iter, len, *bounce, false);
	ret = diff_storage_rw(cd->storage, cd->chunk_shift, loc, off, *bounce,
			      len, write);
	if (ret) {
		cow_corrupt(cd, -ret);
		return ret;
	}
	if (!write)
		image_copy_bio(bio, iter, len, *bounce, true);
	return 0;
}

/* Where a piece of chunk @c at byte @off lies; NULL bdev: a storage file. */
static struct block_device *image_map_piece(struct cow_dev *cd, u64 c,
					    u32 off, sector_t orig,
					    sector_t *sector, u64 *loc)
{
	void *entry = xa_load(&cd->chunks, c);

	if (!entry) {
		*sector = orig;
		return cd->origin.bdev;
	}
	*loc = xa_to_value(entry);
	return diff_storage_map(cd->storage, cd->chunk_shift, *loc, off, sector);
}

/* Does a piece of @bio lie in a storage file? Context: registered reader. */
static bool image_bio_in_file(struct cow_dev *cd, struct bio *bio)
{
	unsigned int sshift = cd->chunk_shift - SECTOR_SHIFT;
	u64 c, last = (bio_end_sector(bio) - 1) >> sshift;
	sector_t sector;
	u64 loc;

	if (!diff_storage_has_file(cd->storage))
		return false;
	for (c = bio->bi_iter.bi_sector >> sshift; c <= last; c++) {
		if (!image_map_piece(cd, c, 0, 0, &sector, &loc))
			return true;
	}
	return false;
}

/* Map every piece of @io's bio and start its clones. Context: the work. */
static int image_map_bio(struct image_io *io)
{
	struct cow_dev *cd = io->cd;
	struct bio *bio = io->bio;
	unsigned int shift = cd->chunk_shift;
	struct bvec_iter iter = bio->bi_iter;
	struct image_map map = { };
	struct block_device *bdev;
	u32 chunk = 1u << shift;
	void *bounce = NULL;
	sector_t sector;
	u32 off, len;
	u64 loc = 0;
	int ret = 0;

	while (iter.bi_size && !ret) {
		off = (iter.bi_sector << SECTOR_SHIFT) & (chunk - 1);
		len = min(iter.bi_size, chunk - off);
		bdev = image_map_piece(cd, iter.bi_sector >>
				       (shift - SECTOR_SHIFT), off,
				       iter.bi_sector, &sector, &loc);
		/* A write's chunks were all copied: never the origin. */
		if (bdev == cd->origin.bdev && op_is_write(bio_op(bio)))
			ret = -EIO;
		else if (bdev)
			image_map_add(&map, bio, &io->group, iter, len, bdev,
				      sector);
		else
			ret = image_file_piece(cd, bio, iter, loc, off, len,
					       &bounce);
		bio_advance_iter(bio, &iter, len);
	}
	image_map_flush(&map, bio, &io->group);
	/*
	 * A page read from a storage file may have come back from the disk
	 * after a failed writeback lost the copy: once per bio, which fails
	 * whole if so.
	 */
	if (bounce && !ret) {
		ret = diff_storage_check(cd->storage);
		if (ret)
			cow_corrupt(cd, -ret);
	}
	kvfree(bounce);
	return ret;
}

/*
 * The pieces of a read for one device, in image order and ascending on
 * the device, ending at sector @end. While they are one stretch of the
 * image bio on consecutive sectors (@head), they go as a clone sharing
 * its vectors; a gap, or a jump in the image, makes them a gathered bio
 * of their pages and, for the gaps, the bucket.
 */
struct image_gather {
	struct bio *src;	/* the image bio */
	struct blksnap_io *io;
	struct bio *bio;	/* NULL: just @head */
	struct bvec_iter head;	/* empty: no piece yet */
	struct block_device *bdev;
	sector_t sector;	/* of @head on @bdev */
	sector_t end;
};

static void image_gather_flush(struct image_gather *g)
{
	if (g->bio)
		blksnap_io_submit(g->io, g->bio);
	else if (g->head.bi_size)
		blksnap_io_submit(g->io, blksnap_io_clone(g->src, g->head,
							  g->bdev, g->sector));
	g->bio = NULL;
	g->head.bi_size = 0;
}

/* Vectors that the part of @bio at @iter needs, at most. */
static unsigned int image_gather_vecs(struct bio *bio, struct bvec_iter iter)
{
	unsigned int n = 0;
	struct bio_vec bv;
	struct bvec_iter i;

	__bio_for_each_segment(bv, bio, i, iter)
		n++;
	return n;
}

/* Vectors of the bucket for the gap up to @sector. */
static unsigned int image_gather_gap_vecs(struct image_gather *g,
					  sector_t sector)
{
	u64 gap = (u64)(sector - g->end) << SECTOR_SHIFT;

	return DIV_ROUND_UP(gap, PAGE_SIZE << image_bucket_order);
}

/*
 * Add the gap up to @sector and the image bio's part at @iter to the
 * gathered bio, whose room the caller counted.
 */
static void image_gather_put(struct image_gather *g, struct bvec_iter iter,
			     sector_t sector)
{
	u64 gap = (u64)(sector - g->end) << SECTOR_SHIFT;
	u32 bucket = PAGE_SIZE << image_bucket_order;
	struct bio_vec bv;
	struct bvec_iter i;
	u32 n;

	for (; gap; gap -= n) {
		n = min_t(u64, gap, bucket);
		if (WARN_ON_ONCE(bio_add_page(g->bio, image_bucket, n, 0) != n))
			return;
	}
	__bio_for_each_segment(bv, g->src, i, iter) {
		if (WARN_ON_ONCE(bio_add_page(g->bio, bv.bv_page, bv.bv_len,
					      bv.bv_offset) != bv.bv_len))
			return;
	}
	g->end = sector + (iter.bi_size >> SECTOR_SHIFT);
}

/* Make @head a gathered bio with room for @more vectors, if it fits. */
static bool image_gather_open(struct image_gather *g, unsigned int more)
{
	if (image_gather_vecs(g->src, g->head) + more > BIO_MAX_VECS)
		return false;
	g->bio = blksnap_io_gather(g->bdev, g->sector, REQ_OP_READ |
				   (g->src->bi_opf & IMAGE_GATHER_FLAGS));
	g->bio->bi_ioprio = g->src->bi_ioprio;
	g->end = g->sector;
	image_gather_put(g, g->head, g->sector);
	return true;
}

/* Is a gap of @gap sectors on @bdev read rather than split at? */
static bool image_gather_gap_ok(struct block_device *bdev, sector_t gap)
{
	if (!gap)
		return true;
	return blksnap_bdev_rotational(bdev) &&
	       gap <= (IMAGE_GATHER_MAX_GAP >> SECTOR_SHIFT);
}

/* Does the piece at @iter, on @sector of @bdev, join the pieces so far? */
static bool image_gather_join(struct image_gather *g, struct bvec_iter iter,
			      struct block_device *bdev, sector_t sector)
{
	unsigned int vecs;

	if (!g->head.bi_size || g->bdev != bdev || sector < g->end ||
	    !image_gather_gap_ok(bdev, sector - g->end))
		return false;
	if (!g->bio && sector == g->end &&
	    iter.bi_sector == bvec_iter_end_sector(g->head)) {
		/* Its size cannot overflow: it spans part of the image bio. */
		g->head.bi_size += iter.bi_size;
		g->end += iter.bi_size >> SECTOR_SHIFT;
		return true;
	}
	vecs = image_gather_vecs(g->src, iter) +
	       image_gather_gap_vecs(g, sector);
	if (!g->bio && !image_gather_open(g, vecs))
		return false;
	if (g->bio->bi_vcnt + vecs > g->bio->bi_max_vecs)
		return false;
	image_gather_put(g, iter, sector);
	return true;
}

/* Read @len bytes of the image bio at @iter from @sector of @bdev. */
static void image_gather_add(struct image_gather *g, struct bvec_iter iter,
			     u32 len, struct block_device *bdev,
			     sector_t sector)
{
	iter.bi_size = len;
	if (image_gather_join(g, iter, bdev, sector))
		return;
	image_gather_flush(g);
	g->head = iter;
	g->bdev = bdev;
	g->sector = sector;
	g->end = sector + (len >> SECTOR_SHIFT);
}

/*
 * One pass of a gathered read over @win: the origin's pieces (@origin,
 * noting their chunks in @on_origin) or the storage's (the chunks not
 * noted). A piece found in a storage file is read from the origin:
 * image_bio_in_file() found none after the read registered, so the chunk
 * was copied since, and its original data stays on the origin until the
 * read ends. A chunk the first pass found uncopied is read from the
 * origin even if it has been copied since; a copied one keeps its slot.
 */
static void image_gather_pass(struct image_io *io, struct bvec_iter win,
			      unsigned long *on_origin, bool origin)
{
	struct cow_dev *cd = io->cd;
	struct bio *bio = io->bio;
	unsigned int shift = cd->chunk_shift;
	u64 first = win.bi_sector >> (shift - SECTOR_SHIFT);
	struct image_gather g = { .src = bio, .io = &io->group };
	struct block_device *bdev;
	u32 chunk = 1u << shift;
	bool from_origin;
	sector_t sector;
	u32 off, len;
	u64 c, loc;

	while (win.bi_size) {
		off = (win.bi_sector << SECTOR_SHIFT) & (chunk - 1);
		len = min(win.bi_size, chunk - off);
		c = win.bi_sector >> (shift - SECTOR_SHIFT);
		if (origin || !test_bit(c - first, on_origin)) {
			bdev = image_map_piece(cd, c, off, win.bi_sector,
					       &sector, &loc);
			if (origin && bdev == cd->origin.bdev) {
				__set_bit(c - first, on_origin);
			} else if (origin && !bdev) {
				__set_bit(c - first, on_origin);
				bdev = cd->origin.bdev;
				sector = win.bi_sector;
			}
			from_origin = bdev == cd->origin.bdev;
			if (from_origin == origin)
				image_gather_add(&g, win, len, bdev, sector);
		}
		bio_advance_iter(bio, &win, len);
	}
	image_gather_flush(&g);
}

/*
 * Start the bios of a read whose pieces all lie on block devices, in
 * windows of IMAGE_GATHER_CHUNKS chunks. Context: the image disk's
 * submit_bio, registered reader.
 */
static void image_gather_read(struct image_io *io)
{
	DECLARE_BITMAP(on_origin, IMAGE_GATHER_CHUNKS);
	unsigned int shift = io->cd->chunk_shift;
	struct bvec_iter iter = io->bio->bi_iter;
	struct bvec_iter win;
	u64 start, end;

	while (iter.bi_size) {
		start = (u64)iter.bi_sector << SECTOR_SHIFT;
		end = (round_down(start, 1ull << shift) +
		       ((u64)IMAGE_GATHER_CHUNKS << shift));
		win = iter;
		win.bi_size = min_t(u64, iter.bi_size, end - start);
		bitmap_zero(on_origin, IMAGE_GATHER_CHUNKS);
		image_gather_pass(io, win, on_origin, true);
		image_gather_pass(io, win, on_origin, false);
		bio_advance_iter(io->bio, &iter, win.bi_size);
	}
}

/* The last clone has completed. Context: any, often an interrupt. */
static void image_io_end(struct blksnap_io *group)
{
	struct image_io *io = container_of(group, struct image_io, group);
	struct cow_dev *cd = io->cd;
	struct bio *bio = io->bio;

	if (io->reading)
		cow_read_end(cd, io->slot);
	/* A copy that failed meanwhile may have let a write through. */
	if (cow_state(cd) != SNAP_TAKEN)
		blksnap_io_error(group, BLK_STS_IOERR);
	bio->bi_status = group->status;
	kfree(io);
	bio_endio(bio);
	cow_io_put(cd);
}

static void image_io_start(struct image_io *io)
{
	blksnap_io_init(&io->group, image_io_end);
	io->reading = false;
	/* Corrupting takes a spinlock no interrupt may take: tasks only. */
	if (in_task() && cow_state(io->cd) == SNAP_TAKEN)
		cow_origin_gone(io->cd);
	if (cow_state(io->cd) != SNAP_TAKEN)
		blksnap_io_error(&io->group, BLK_STS_IOERR);
}

/* Context: the image workqueue. */
static void image_io_work(struct work_struct *work)
{
	struct image_io *io = container_of(work, struct image_io, work);
	unsigned int noio = memalloc_noio_save();
	struct cow_dev *cd = io->cd;
	struct bio *bio = io->bio;
	unsigned int sshift = cd->chunk_shift - SECTOR_SHIFT;
	int ret;

	image_io_start(io);
	if (io->group.status)
		goto finish;
	if (op_is_write(bio_op(bio))) {
		ret = cow_copy_range(cd, bio->bi_iter.bi_sector >> sshift,
				     (bio_end_sector(bio) - 1) >> sshift);
		if (ret) {
			cow_corrupt(cd, -ret);
			blksnap_io_error(&io->group, BLK_STS_IOERR);
			goto finish;
		}
	} else {
		io->slot = cow_read_begin(cd);
		io->reading = true;
	}
	if (image_map_bio(io))
		blksnap_io_error(&io->group, BLK_STS_IOERR);
finish:
	blksnap_io_finish(&io->group);
	memalloc_noio_restore(noio);
}

/* A read with every piece on a block device: sent from here. */
static bool image_read_in_submit(struct image_io *io)
{
	image_io_start(io);
	if (!io->group.status) {
		io->slot = cow_read_begin(io->cd);
		io->reading = true;
		if (image_bio_in_file(io->cd, io->bio)) {
			cow_read_end(io->cd, io->slot);
			return false;
		}
		image_gather_read(io);
	}
	blksnap_io_finish(&io->group);
	return true;
}

static void image_submit_bio(struct bio *bio)
{
	struct cow_dev *cd = bio->bi_bdev->bd_disk->private_data;
	struct image_io *io;

	if (!cow_io_get(cd)) {
		bio_io_error(bio);
		return;
	}
	switch (bio_op(bio)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		break;
	case REQ_OP_FLUSH:
		/* Image writes are as durable as the storage's. */
		break;
	default:
		bio->bi_status = BLK_STS_NOTSUPP;
	}
	if (bio->bi_status || !bio_sectors(bio)) {
		bio_endio(bio);
		cow_io_put(cd);
		return;
	}
	io = kmalloc(sizeof(*io), GFP_NOIO);
	if (!io) {
		cow_io_put(cd);
		bio->bi_status = BLK_STS_RESOURCE;
		bio_endio(bio);
		return;
	}
	io->cd = cd;
	io->bio = bio;
	if (bio_op(bio) == REQ_OP_READ && image_read_in_submit(io))
		return;
	INIT_WORK(&io->work, image_io_work);
	queue_work(image_wq, &io->work);
}

/* The last opener is gone after del_gendisk(): drop the references. */
static void image_free_disk(struct gendisk *disk)
{
	struct cow_dev *cd = disk->private_data;

	ida_free(&image_ida, disk->first_minor);
	cow_dev_put(cd);
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

/*
 * The origin's name, in the directory "blksnap" of the image disk, for
 * udev rules (the image's by-id link): unlike the "origin" link, made
 * after the disk is added, it exists before the disk's add event.
 */
static ssize_t origin_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct cow_dev *cd = dev_to_disk(dev)->private_data;

	return sysfs_emit(buf, "%pg\n", cd->origin.bdev);
}
static DEVICE_ATTR_RO(origin);

static struct attribute *image_attrs[] = {
	&dev_attr_origin.attr,
	NULL,
};

static const struct attribute_group image_group = {
	.name = "blksnap",
	.attrs = image_attrs,
};

static const struct attribute_group *image_groups[] = {
	&image_group,
	NULL,
};

static struct gendisk *image_alloc(struct cow_dev *cd)
{
	struct gendisk *disk;
	int minor;

	minor = ida_alloc_max(&image_ida, MINORMASK, GFP_KERNEL);
	if (minor < 0)
		return ERR_PTR(minor);
	disk = blksnap_alloc_disk(bdev_logical_block_size(cd->origin.bdev));
	if (IS_ERR(disk)) {
		ida_free(&image_ida, minor);
		return disk;
	}
	disk->major = image_major;
	disk->first_minor = minor;
	disk->minors = 1;
	disk->flags |= GENHD_FL_NO_PART;
	disk->fops = &image_fops;
	disk->private_data = cd;
	snprintf(disk->disk_name, DISK_NAME_LEN, BLKSNAP_IMAGE_NAME_FMT,
		 MAJOR(cd->dev), MINOR(cd->dev));
	set_capacity(disk, cd->capacity);
	return disk;
}

/**
 * image_create() - add the image disk of a device of a taken snapshot
 * @cd: the device's state
 *
 * Context: process context, blksnap_ctl_lock held; the snapshot is taken.
 * Return: 0 or a negative errno.
 */
int image_create(struct cow_dev *cd)
{
	struct gendisk *disk;
	int ret;

	disk = image_alloc(cd);
	if (IS_ERR(disk))
		return PTR_ERR(disk);
	ret = device_add_disk(NULL, disk, image_groups);
	if (ret) {
		/* Not added: .free_disk is not called. */
		ida_free(&image_ida, disk->first_minor);
		put_disk(disk);
		return ret;
	}
	kref_get(&cd->kref);
	__module_get(THIS_MODULE);
	if (sysfs_create_link(&disk_to_dev(disk)->kobj,
			      bdev_kobj(cd->origin.bdev), "origin"))
		pr_warn("%s: cannot create the origin link\n", disk->disk_name);
	cd->disk = disk;
	return 0;
}

/**
 * image_destroy() - remove an image disk
 * @cd: the device's state
 *
 * The disk goes away even if open; its I/O fails from then on. The caller
 * must still stop and drain the image I/O (cow_stop_io()).
 * Context: process context, blksnap_ctl_lock held.
 */
void image_destroy(struct cow_dev *cd)
{
	struct gendisk *disk = cd->disk;

	if (!disk)
		return;
	sysfs_remove_link(&disk_to_dev(disk)->kobj, "origin");
	del_gendisk(disk);
	put_disk(disk);
	cd->disk = NULL;
}

/* A 64 KiB bucket if memory allows, else as large as it does. */
static int image_bucket_alloc(void)
{
	unsigned int order = get_order(SZ_64K);

	for (;; order--) {
		image_bucket = alloc_pages(GFP_KERNEL | __GFP_NOWARN |
					   (order ? __GFP_NORETRY : 0), order);
		if (image_bucket || !order)
			break;
	}
	image_bucket_order = order;
	return image_bucket ? 0 : -ENOMEM;
}

int image_init(void)
{
	int ret;

	ret = image_bucket_alloc();
	if (ret)
		return ret;
	image_major = register_blkdev(0, "blksnap-image");
	if (image_major < 0) {
		ret = image_major;
		goto free_bucket;
	}
	image_wq = alloc_workqueue("blksnap-image",
				   WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!image_wq) {
		ret = -ENOMEM;
		goto unregister;
	}
	return 0;

unregister:
	unregister_blkdev(image_major, "blksnap-image");
free_bucket:
	__free_pages(image_bucket, image_bucket_order);
	return ret;
}

void image_exit(void)
{
	destroy_workqueue(image_wq);
	unregister_blkdev(image_major, "blksnap-image");
	__free_pages(image_bucket, image_bucket_order);
}
