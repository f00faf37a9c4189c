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
 *
 * Chunk slots begin BLKSNAP_STORAGE_RESERVED bytes into a segment and end
 * as far before its end: a copy of the origin's first or last chunk must
 * not make the storage probe as the origin's filesystem, RAID member or
 * partition table once the snapshot is gone (the UAPI header says why
 * that size). The start holds a header saying what the segment is.
 */
#include "blksnap.h"
#include <linux/blkdev.h>
#include <linux/crc32.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <uapi/linux/blksnap.h>
#include "compat.h"
#include "io.h"
#include "diff_storage.h"

#define DIFF_RESERVED	((u64)BLKSNAP_STORAGE_RESERVED)
/* The header's block: written whole, so a 4K-sector device accepts it. */
#define DIFF_HEADER_BLOCK	4096

static_assert(sizeof(struct blksnap_storage_header) ==
	      BLKSNAP_STORAGE_HEADER_SIZE);

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

/* Write @len bytes of a file at @pos, @size bytes of @buf over and over. */
static int diff_file_repeat(struct file *file, loff_t pos, u64 len, void *buf,
			    u32 size)
{
	ssize_t n;

	while (len) {
		n = kernel_write(file, buf, min_t(u64, len, size), &pos);
		if (n < 0)
			return n;
		if (!n)
			return -EIO;
		len -= n;
	}
	return 0;
}

/* Zero a segment's reserved areas (a file has no end yet: it grows). */
static int diff_segment_clear(struct diff_segment *seg, void *buf)
{
	sector_t nr = DIFF_RESERVED >> SECTOR_SHIFT;
	int ret;

	if (!seg->bdev)
		return diff_file_repeat(seg->file, 0, DIFF_RESERVED, buf,
					DIFF_HEADER_BLOCK);
	ret = blkdev_issue_zeroout(seg->bdev, 0, nr, GFP_KERNEL, 0);
	if (!ret)
		ret = blkdev_issue_zeroout(seg->bdev,
					   (seg->limit >> SECTOR_SHIFT) - nr,
					   nr, GFP_KERNEL, 0);
	return ret;
}

/**
 * diff_segment_mark() - write a segment's header
 * @seg: the segment
 * @state: enum blksnap_storage_state
 *
 * When the state is BLKSNAP_STORAGE_IN_USE, the reserved areas are zeroed
 * first, so nothing found there before (a filesystem the device held, a
 * previous snapshot's header) survives the header.
 * Context: process context, sleeps.
 * Return: 0 or a negative errno.
 */
static int diff_segment_mark(struct diff_segment *seg, u32 state)
{
	struct blksnap_storage_header *h;
	void *buf;
	int ret;

	buf = kvzalloc(DIFF_HEADER_BLOCK, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (state == BLKSNAP_STORAGE_IN_USE) {
		ret = diff_segment_clear(seg, buf);
		if (ret)
			goto out;
	}
	h = buf;
	strscpy(h->magic, BLKSNAP_STORAGE_MAGIC, sizeof(h->magic));
	h->version = cpu_to_le32(BLKSNAP_STORAGE_VERSION);
	h->state = cpu_to_le32(state);
	h->header_size = cpu_to_le32(BLKSNAP_STORAGE_HEADER_SIZE);
	h->reserved_size = cpu_to_le32(BLKSNAP_STORAGE_RESERVED);
	h->size = cpu_to_le64(seg->limit);
	h->time = cpu_to_le64(ktime_get_real_seconds());
	memcpy(h->snapshot_id, seg->owner, sizeof(h->snapshot_id));
	strscpy(h->description, BLKSNAP_STORAGE_DESCRIPTION,
		sizeof(h->description));
	h->checksum = cpu_to_le32(~blksnap_crc32c(~0u, buf, sizeof(*h)));
	if (seg->bdev) {
		ret = blksnap_bio_rw(seg->bdev, true, 0, buf, DIFF_HEADER_BLOCK);
		if (!ret)
			ret = blkdev_issue_flush(seg->bdev);
		/*
		 * The caller may have read the device through its page cache
		 * (to probe it): blkid must not find there what was erased.
		 */
		invalidate_bdev(seg->bdev);
	} else {
		ret = diff_file_repeat(seg->file, 0, DIFF_HEADER_BLOCK, buf,
				       DIFF_HEADER_BLOCK);
	}
out:
	kvfree(buf);
	return ret;
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
		if (seg->limit < 2 * DIFF_RESERVED)
			return -EINVAL;
		seg->allocated = seg->limit;
		seg->file = get_file(file);
		return 0;
	}
	if (!S_ISREG(inode->i_mode) || limit < 2 * DIFF_RESERVED)
		return -EINVAL;
	seg->file = dentry_open(&file->f_path, O_RDWR | O_LARGEFILE,
				current_cred());
	if (IS_ERR(seg->file))
		return PTR_ERR(seg->file);
	seg->limit = limit;
	seg->wb_err = filemap_sample_wb_err(seg->file->f_mapping);
	/* diff_segment_mark() writes the start of the file. */
	seg->allocated = DIFF_RESERVED;
	return 0;
}

/**
 * diff_segment_new() - a segment from a caller's file descriptor
 * @fd: a file descriptor open for reading and writing
 * @limit: bytes a regular file may grow to; zero for a block device
 * @owner: the snapshot's id, for the header
 *
 * The segment's reserved areas are zeroed and its header written.
 * Context: process context, may sleep.
 * Return: the segment or ERR_PTR(): -EBADF (bad or not read-write
 * descriptor), -EINVAL (neither a regular file with a limit of at least
 * twice BLKSNAP_STORAGE_RESERVED nor an O_EXCL block device of that size
 * without one), -ENOMEM or the error writing the header.
 */
struct diff_segment *diff_segment_new(int fd, u64 limit, const u8 *owner)
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
	memcpy(seg->owner, owner, sizeof(seg->owner));
	ret = diff_segment_open(seg, file, limit);
	if (!ret) {
		ret = diff_segment_mark(seg, BLKSNAP_STORAGE_IN_USE);
		if (ret) {
			pr_warn("difference storage: cannot write its header: %d\n",
				ret);
			fput(seg->file);
		}
	}
	if (ret) {
		kfree(seg);
		seg = ERR_PTR(ret);
	}
out:
	/* diff_segment_open() took its own reference to keep. */
	fput(file);
	return seg;
}

/*
 * Free a segment, its header saying it is released. Context: process
 * context, no I/O on it may be running or start.
 */
void diff_segment_free(struct diff_segment *seg)
{
	int ret = diff_segment_mark(seg, BLKSNAP_STORAGE_RELEASED);

	if (ret)
		pr_warn("difference storage: cannot mark it released: %d\n",
			ret);
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
	u64 slots, room, n, end;
	int ret = -ENOSPC;

	mutex_lock(&ds->lock);
	while (ds->cur < ds->nr_segs) {
		seg = ds->segs[ds->cur];
		/* A file that stopped growing early may not reach its end. */
		slots = seg->limit > 2 * DIFF_RESERVED ?
			(seg->limit - 2 * DIFF_RESERVED) >> shift : 0;
		room = slots - min(seg->next, slots);
		n = min_t(u64, want, room);
		if (!n) {
			ds->cur++;
			continue;
		}
		/* A file grows with its reserved end, zeroes from fallocate. */
		end = ((seg->next + n) << shift) + 2 * DIFF_RESERVED;
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
	*pos = DIFF_RESERVED +
	       ((loc & ((1ull << DIFF_LOC_SEG_SHIFT) - 1)) << shift) + offset;
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
