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
 * block device I/O uses the module's own bios (io.c).
 */
#include "blksnap.h"
#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/pagemap.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include "compat.h"
#include "io.h"
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
	seg->wb_err = filemap_sample_wb_err(seg->file->f_mapping);
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
	if ((file->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE)) {
		seg = ERR_PTR(-EBADF);
		goto out;
	}
	seg = kzalloc(sizeof(*seg), GFP_KERNEL);
	if (!seg) {
		seg = ERR_PTR(-ENOMEM);
		goto out;
	}
	ret = diff_segment_open(seg, file, limit);
	if (ret) {
		kfree(seg);
		seg = ERR_PTR(ret);
	}
out:
	/* diff_segment_open() took its own reference to keep. */
	fput(file);
	return seg;
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

/*
 * Grow a file segment so that @end bytes are available.
 * Context: ds->lock.
 * Return: 0, -ENOSPC when the segment ends short of @end, or another
 * negative errno (the filesystem failed).
 */
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
		/* Out of room, the segment ends here; an I/O error is reported. */
		if (ret != -ENOSPC && ret != -EDQUOT && ret != -EFBIG)
			return ret;
		WRITE_ONCE(ds->limit, ds->limit - (seg->limit - seg->allocated));
		seg->limit = seg->allocated;
		return -ENOSPC;
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
 * Return: the number of slots allocated, -ENOSPC when every segment is
 * full, or another negative errno when a file could not be grown.
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
		if (end > seg->allocated) {
			ret = diff_segment_grow(ds, seg, end);
			/* The segment now ends where its file stopped. */
			if (ret == -ENOSPC)
				continue;
			if (ret)
				break;
		}
		*loc = ((u64)ds->cur << DIFF_LOC_SEG_SHIFT) | seg->next;
		seg->next += n;
		WRITE_ONCE(ds->used, ds->used + (n << shift));
		ret = n;
		break;
	}
	mutex_unlock(&ds->lock);
	return ret;
}

/**
 * diff_storage_check() - has a storage file lost data written to it?
 * @ds: the storage
 *
 * A write to a file lands in the page cache and reaches the disk at
 * writeback, after the write returned; when that fails, the copy of a
 * chunk may be gone with its page. The file's writeback error sequence,
 * sampled when the segment was opened, tells whether a writeback failed
 * since.
 * Context: process context; takes @ds->lock.
 * Return: 0, or the negative errno of a failed writeback.
 */
int diff_storage_check(struct diff_storage *ds)
{
	struct diff_segment *seg;
	unsigned int i;
	int ret = 0;

	if (!READ_ONCE(ds->has_file))
		return 0;
	mutex_lock(&ds->lock);
	for (i = 0; i < ds->nr_segs && !ret; i++) {
		seg = ds->segs[i];
		if (!seg->bdev)
			ret = filemap_check_wb_err(seg->file->f_mapping,
						   seg->wb_err);
	}
	mutex_unlock(&ds->lock);
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
