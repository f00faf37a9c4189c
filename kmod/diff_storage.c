// SPDX-License-Identifier: GPL-2.0-only
/*
 * Difference storage: where copy-on-write puts the original data of the
 * chunks overwritten after a snapshot was taken.
 *
 * A storage is a list of segments used in order, each a regular file or a
 * whole block device. Chunks are allocated sequentially in chunk-size
 * slots. A regular file is grown with fallocate in steps of
 * diff_storage_grow_mib up to its limit, only when a chunk needs the
 * space; when growing fails the segment is full and allocation moves on.
 * A block device is used whole; the caller must have opened it with
 * O_EXCL, and the module keeps that file (and so the claim) until the
 * snapshot is destroyed.
 *
 * File I/O goes through a file of the module's own, opened on the same
 * path, so that the caller's flags (O_DIRECT, O_APPEND) do not apply;
 * block device I/O uses the module's own bios.
 */
#include "blksnap.h"
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "compat.h"
#include "diff_storage.h"

void diff_storage_init(struct diff_storage *ds)
{
	memset(ds, 0, sizeof(*ds));
	mutex_init(&ds->lock);
}

/* Context: process context; no I/O on @ds may be running or start. */
void diff_storage_free(struct diff_storage *ds)
{
	unsigned int i;

	for (i = 0; i < ds->nr_segs; i++) {
		diff_segment_free(ds->segs[i]);
		ds->segs[i] = NULL;
	}
	ds->nr_segs = 0;
}

/**
 * diff_segment_disk() - the disk a segment's data ends up on
 * @seg: the segment
 *
 * Return: the disk, or NULL when unknown (a filesystem without a block
 * device, such as tmpfs).
 */
struct gendisk *diff_segment_disk(const struct diff_segment *seg)
{
	struct super_block *sb;

	if (seg->bdev)
		return seg->bdev->bd_disk;
	sb = file_inode(seg->file)->i_sb;
	return sb->s_bdev ? sb->s_bdev->bd_disk : NULL;
}

static int diff_segment_open(struct diff_segment *seg, struct file *file,
			     u64 limit)
{
	struct inode *inode = file_inode(file);

	if (S_ISBLK(inode->i_mode)) {
		if (limit || !blksnap_bdev_file_excl(file))
			return -EINVAL;
		seg->bdev = I_BDEV(file->f_mapping->host);
		seg->limit = bdev_nr_bytes(seg->bdev);
		seg->allocated = seg->limit;
		seg->file = get_file(file);
		return 0;
	}
	if (!S_ISREG(inode->i_mode) || !limit)
		return -EINVAL;
	seg->file = dentry_open(&file->f_path, O_RDWR | O_LARGEFILE,
				current_cred());
	if (IS_ERR(seg->file))
		return PTR_ERR(seg->file);
	seg->limit = limit;
	return 0;
}

/**
 * diff_segment_new() - a segment from a caller's file descriptor
 * @fd: a file descriptor open for reading and writing
 * @limit: bytes a regular file may grow to; zero for a block device
 *
 * Context: process context, may sleep.
 * Return: the segment or ERR_PTR(): -EBADF (bad or not read-write
 * descriptor), -EINVAL (neither a regular file with a limit nor an O_EXCL
 * block device without one) or -ENOMEM.
 */
struct diff_segment *diff_segment_new(int fd, u64 limit)
{
	struct diff_segment *seg;
	struct file *file;
	int ret;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	ret = -EBADF;
	if ((file->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE))
		goto out;
	ret = -ENOMEM;
	seg = kzalloc(sizeof(*seg), GFP_KERNEL);
	if (!seg)
		goto out;
	ret = diff_segment_open(seg, file, limit);
	if (ret)
		kfree(seg);
out:
	fput(file);
	return ret ? ERR_PTR(ret) : seg;
}

/* Free a segment not added to a storage. */
void diff_segment_free(struct diff_segment *seg)
{
	fput(seg->file);
	kfree(seg);
}

/**
 * diff_storage_add() - add a segment at the end of a storage
 * @ds: the storage
 * @seg: the segment; owned by @ds on success
 *
 * Context: process context; takes @ds->lock.
 * Return: 0 or -E2BIG (too many segments).
 */
int diff_storage_add(struct diff_storage *ds, struct diff_segment *seg)
{
	int ret = 0;

	mutex_lock(&ds->lock);
	if (ds->nr_segs < DIFF_MAX_SEGMENTS) {
		ds->segs[ds->nr_segs] = seg;
		ds->nr_segs++;
		if (!seg->bdev)
			WRITE_ONCE(ds->has_file, true);
		WRITE_ONCE(ds->limit, ds->limit + seg->limit);
		WRITE_ONCE(ds->allocated, ds->allocated + seg->allocated);
	} else {
		ret = -E2BIG;
	}
	mutex_unlock(&ds->lock);
	return ret;
}

/* Grow a file segment so that @end bytes are available. Context: ds->lock. */
static int diff_segment_grow(struct diff_storage *ds, struct diff_segment *seg,
			     u64 end)
{
	u64 step = max_t(u64, (u64)diff_storage_grow_mib << 20,
			 end - seg->allocated);
	u64 size = min(seg->allocated + step, seg->limit);
	int ret;

	ret = vfs_fallocate(seg->file, 0, seg->allocated,
			    size - seg->allocated);
	/* A filesystem short of a whole step may still hold what is needed. */
	if (ret == -ENOSPC && size > end) {
		size = end;
		ret = vfs_fallocate(seg->file, 0, seg->allocated,
				    size - seg->allocated);
	}
	if (ret) {
		pr_warn("difference storage: cannot grow a file to %llu bytes: %d\n",
			size, ret);
		/* The segment ends here. */
		WRITE_ONCE(ds->limit, ds->limit - (seg->limit - seg->allocated));
		seg->limit = seg->allocated;
		return ret;
	}
	WRITE_ONCE(ds->allocated, ds->allocated + (size - seg->allocated));
	seg->allocated = size;
	return 0;
}

/**
 * diff_storage_alloc() - allocate consecutive chunk slots
 * @ds: the storage
 * @shift: log2 of the chunk size in bytes
 * @want: number of slots wanted, at least 1
 * @loc: out: the location of the first, for diff_storage_rw(); the
 *       others follow it in the same segment
 *
 * Fewer slots than @want are allocated when a segment ends; the caller
 * asks again for the rest.
 * Context: process context, may sleep (grows files); takes @ds->lock.
 * Return: the number of slots allocated, or -ENOSPC when every segment
 * is full.
 */
int diff_storage_alloc(struct diff_storage *ds, unsigned int shift, u32 want,
		       u64 *loc)
{
	struct diff_segment *seg;
	u64 room, n, end;
	int ret = -ENOSPC;

	mutex_lock(&ds->lock);
	while (ds->cur < ds->nr_segs) {
		seg = ds->segs[ds->cur];
		room = (seg->limit >> shift) - min(seg->next,
						   seg->limit >> shift);
		n = min_t(u64, want, room);
		if (!n) {
			ds->cur++;
			continue;
		}
		end = (seg->next + n) << shift;
		/* On failure the segment now ends where its file stopped. */
		if (end > seg->allocated && diff_segment_grow(ds, seg, end))
			continue;
		*loc = ((u64)ds->cur << DIFF_LOC_SEG_SHIFT) | seg->next;
		seg->next += n;
		WRITE_ONCE(ds->used, ds->used + (n << shift));
		ret = n;
		break;
	}
	mutex_unlock(&ds->lock);
	return ret;
}

static struct bio_set blksnap_bio_set;
/*
 * Clones of image bios, and the reads gathered from their pages.
 * Allocated inside the image disk's submit_bio, where earlier bios wait on
 * current->bio_list until it returns: the rescuer submits them if the pool
 * runs dry, so allocation cannot wait for bios that are never sent.
 */
static struct bio_set blksnap_clone_set;

/* Context: module init. Return: 0 or -ENOMEM. */
int blksnap_io_setup(void)
{
	int ret;

	ret = bioset_init(&blksnap_bio_set, BIO_POOL_SIZE, 0,
			  BIOSET_NEED_BVECS);
	if (ret)
		return ret;
	ret = bioset_init(&blksnap_clone_set, BIO_POOL_SIZE, 0,
			  BIOSET_NEED_BVECS | BIOSET_NEED_RESCUER);
	if (ret)
		bioset_exit(&blksnap_bio_set);
	return ret;
}

/* Context: module exit, no bio of the module in flight. */
void blksnap_io_teardown(void)
{
	bioset_exit(&blksnap_clone_set);
	bioset_exit(&blksnap_bio_set);
}

/**
 * blksnap_io_init() - start a group of bios
 * @io: the group; counts one reference of its own until
 *      blksnap_io_wait() or blksnap_io_finish()
 * @end: NULL to wait with blksnap_io_wait(), or called (in any context,
 *       often an interrupt) when the last bio has completed after
 *       blksnap_io_finish()
 */
void blksnap_io_init(struct blksnap_io *io, void (*end)(struct blksnap_io *))
{
	atomic_set(&io->pending, 1);
	io->status = BLK_STS_OK;
	io->end = end;
	if (!end)
		init_completion(&io->done);
}

static void blksnap_io_put(struct blksnap_io *io)
{
	if (!atomic_dec_and_test(&io->pending))
		return;
	if (io->end)
		io->end(io);
	else
		complete(&io->done);
}

/* Note an error of the group; the first one is kept. Context: any. */
void blksnap_io_error(struct blksnap_io *io, blk_status_t status)
{
	if (status)
		cmpxchg(&io->status, BLK_STS_OK, status);
}

/* Completion of a bio of a group. Context: any (often an interrupt). */
static void blksnap_io_endio(struct bio *bio)
{
	struct blksnap_io *io = bio->bi_private;

	blksnap_io_error(io, bio->bi_status);
	bio_put(bio);
	blksnap_io_put(io);
}

/**
 * blksnap_io_submit() - submit a bio as part of a group
 * @io: the group
 * @bio: a bio of the module, complete but for its end_io and private
 *
 * Its end_io lies in this module, so the hook lets it through unfiltered.
 * Context: process context.
 */
void blksnap_io_submit(struct blksnap_io *io, struct bio *bio)
{
	atomic_inc(&io->pending);
	bio->bi_end_io = blksnap_io_endio;
	bio->bi_private = io;
	submit_bio_noacct(bio);
}

/**
 * blksnap_io_clone() - a clone of part of a bio, for another device
 * @bio: the bio whose pages the clone shares
 * @iter: the part of @bio
 * @bdev: the device the clone goes to
 * @sector: the clone's first sector on @bdev
 *
 * Context: process context, also a disk's submit_bio; allocates from the
 * module's pool of clones, so it does not fail, but the caller must
 * submit each clone before asking for the next one.
 * Return: the clone, for blksnap_io_submit().
 */
struct bio *blksnap_io_clone(struct bio *bio, struct bvec_iter iter,
			     struct block_device *bdev, sector_t sector)
{
	struct bio *clone;

	clone = bio_alloc_clone(bdev, bio, GFP_NOIO, &blksnap_clone_set);
	clone->bi_iter = iter;
	clone->bi_iter.bi_sector = sector;
	return clone;
}

/**
 * blksnap_io_gather() - an empty read bio for pages of another bio
 * @bdev: the device it reads
 * @sector: its first sector
 * @opf: its operation and flags
 *
 * It has room for BIO_MAX_VECS vectors (bio_add_page()).
 * Context: as blksnap_io_clone(), with the same rule.
 * Return: the bio, for blksnap_io_submit().
 */
struct bio *blksnap_io_gather(struct block_device *bdev, sector_t sector,
			      blk_opf_t opf)
{
	struct bio *bio;

	bio = bio_alloc_bioset(bdev, BIO_MAX_VECS, opf, GFP_NOIO,
			       &blksnap_clone_set);
	bio->bi_iter.bi_sector = sector;
	return bio;
}

/* No more bios for an asynchronous group: its end runs once they are done. */
void blksnap_io_finish(struct blksnap_io *io)
{
	blksnap_io_put(io);
}

/* Wait for every bio of the group. Return: 0 or a negative errno. */
int blksnap_io_wait(struct blksnap_io *io)
{
	blksnap_io_put(io);
	wait_for_completion_io(&io->done);
	return blk_status_to_errno(READ_ONCE(io->status));
}

static struct page *blksnap_buf_page(void *p)
{
	return is_vmalloc_addr(p) ? vmalloc_to_page(p) : virt_to_page(p);
}

/**
 * blksnap_io_buf() - read or write a buffer as part of a group
 * @io: the group
 * @bdev: the device
 * @write: write instead of read
 * @sector: first sector
 * @buf: page-aligned buffer from kvmalloc()
 * @len: bytes, a multiple of 512
 *
 * A vmalloc buffer is flushed before a write here; after a read the
 * caller invalidates it (blksnap_buf_read_done()) once the group is done.
 * Context: process context; submits one bio at a time from the module's
 * pool.
 */
void blksnap_io_buf(struct blksnap_io *io, struct block_device *bdev,
		    bool write, sector_t sector, void *buf, u32 len)
{
	blk_opf_t opf = write ? REQ_OP_WRITE : REQ_OP_READ;
	u8 *p = buf;
	unsigned int nr, n;
	struct bio *bio;
	u32 done;

	if (write && is_vmalloc_addr(buf))
		flush_kernel_vmap_range(buf, len);
	while (len) {
		nr = min_t(u32, DIV_ROUND_UP(len, PAGE_SIZE), BIO_MAX_VECS);
		bio = bio_alloc_bioset(bdev, nr, opf, GFP_NOIO,
				       &blksnap_bio_set);
		bio->bi_iter.bi_sector = sector;
		for (done = 0; done < len && bio->bi_vcnt < nr; done += n) {
			n = min_t(u32, PAGE_SIZE, len - done);
			if (bio_add_page(bio, blksnap_buf_page(p + done), n,
					 0) != n)
				break;
		}
		blksnap_io_submit(io, bio);
		p += done;
		len -= done;
		sector += done >> SECTOR_SHIFT;
	}
}

/* After a group that read into @buf has completed. */
void blksnap_buf_read_done(void *buf, u32 len)
{
	if (is_vmalloc_addr(buf))
		invalidate_kernel_vmap_range(buf, len);
}

/**
 * blksnap_bio_rw() - read or write a buffer with the module's own bios
 * @bdev: the device
 * @write: write instead of read
 * @sector: first sector
 * @buf: page-aligned buffer from kvmalloc()
 * @len: bytes, a multiple of 512
 *
 * Context: process context, sleeps until the I/O is done.
 * Return: 0 or a negative errno.
 */
int blksnap_bio_rw(struct block_device *bdev, bool write, sector_t sector,
		   void *buf, u32 len)
{
	struct blksnap_io io;
	int ret;

	blksnap_io_init(&io, NULL);
	blksnap_io_buf(&io, bdev, write, sector, buf, len);
	ret = blksnap_io_wait(&io);
	if (!write)
		blksnap_buf_read_done(buf, len);
	return ret;
}

static int diff_file_rw(struct file *file, loff_t pos, void *buf, u32 len,
			bool write)
{
	ssize_t n;

	while (len) {
		if (write)
			n = kernel_write(file, buf, len, &pos);
		else
			n = kernel_read(file, buf, len, &pos);
		if (n < 0)
			return n;
		if (!n)
			return -EIO;
		buf = (u8 *)buf + n;
		len -= n;
	}
	return 0;
}

static struct diff_segment *diff_storage_seg(struct diff_storage *ds,
					     unsigned int shift, u64 loc,
					     u32 offset, u64 *pos)
{
	*pos = ((loc & ((1ull << DIFF_LOC_SEG_SHIFT) - 1)) << shift) + offset;
	return ds->segs[loc >> DIFF_LOC_SEG_SHIFT];
}

/**
 * diff_storage_map() - where stored data lies on a block device
 * @ds: the storage
 * @shift: log2 of the chunk size in bytes
 * @loc: a location from diff_storage_alloc()
 * @offset: byte offset from there
 * @sector: out: the sector on the returned device
 *
 * Return: the device, or NULL when the segment is a file (use
 * diff_storage_rw()).
 */
struct block_device *diff_storage_map(struct diff_storage *ds,
				      unsigned int shift, u64 loc, u32 offset,
				      sector_t *sector)
{
	struct diff_segment *seg;
	u64 pos;

	seg = diff_storage_seg(ds, shift, loc, offset, &pos);
	*sector = pos >> SECTOR_SHIFT;
	return seg->bdev;
}

/**
 * diff_storage_submit() - read or write stored chunks as part of a group
 * @ds: the storage
 * @shift: log2 of the chunk size in bytes
 * @loc: a location from diff_storage_alloc()
 * @offset: byte offset from there
 * @buf: buffer from kvmalloc()
 * @len: bytes, a multiple of 512, within the slots allocated at @loc
 * @write: write instead of read
 * @io: the group the bios of a block device segment join
 *
 * A file segment is read or written before this returns.
 * Context: process context, may sleep.
 * Return: 0 or a negative errno of the file I/O.
 */
int diff_storage_submit(struct diff_storage *ds, unsigned int shift, u64 loc,
			u32 offset, void *buf, u32 len, bool write,
			struct blksnap_io *io)
{
	struct diff_segment *seg;
	u64 pos;

	seg = diff_storage_seg(ds, shift, loc, offset, &pos);
	if (!seg->bdev)
		return diff_file_rw(seg->file, pos, buf, len, write);
	blksnap_io_buf(io, seg->bdev, write, pos >> SECTOR_SHIFT, buf, len);
	return 0;
}

/**
 * diff_storage_rw() - read or write stored chunks
 * @ds: the storage
 * @shift: log2 of the chunk size in bytes
 * @loc: a location from diff_storage_alloc()
 * @offset: byte offset from there
 * @buf: buffer from kvmalloc()
 * @len: bytes, a multiple of 512, within the slots allocated at @loc
 * @write: write instead of read
 *
 * Context: process context, sleeps.
 * Return: 0 or a negative errno.
 */
int diff_storage_rw(struct diff_storage *ds, unsigned int shift, u64 loc,
		    u32 offset, void *buf, u32 len, bool write)
{
	struct blksnap_io io;
	int ret, err;

	blksnap_io_init(&io, NULL);
	ret = diff_storage_submit(ds, shift, loc, offset, buf, len, write,
				  &io);
	err = blksnap_io_wait(&io);
	if (!write)
		blksnap_buf_read_done(buf, len);
	return ret ?: err;
}
