/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What blksnap-cbt's state file needs from the device and the filesystem
 * (lib/cbt-device.c, in lib/libcbtstate.la beside lib/cbt-state.c): the
 * device's identity, its fingerprint, the boot's id, and for the in-place
 * mode the physical extents of a state file kept on the tracked device
 * itself and the I/O through the block device at those extents.  Every
 * function returns 0 or -1 with cs_error() naming the thing and reason.
 */
#ifndef BLKSNAP_CBT_DEVICE_H
#define BLKSNAP_CBT_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cbt-state.h"

/*
 * The identity of the block device open as @fd (dev_t @dev, named @path
 * by the user): size, logical block size, kernel name (from sysfs), and
 * what libblkid finds on it (filesystem type, UUID, label; the PARTUUID
 * of a partition).  diskseq is left 0 (the module reports it).  Nothing
 * found by libblkid is not an error: those fields stay empty.
 */
/*
 * The kernel's name of block device dev under /dev, the DEVNAME of its
 * uevent ("sdb1", "dm-0"), into name; "" if unknown.
 */
void cd_kernel_name(dev_t dev, char *name, size_t size);

int cd_identity(int fd, const char *path, dev_t dev, struct cs_identity *id);

/* A piece of a file: @length bytes at @logical in it, at @physical on the device. */
struct cd_extent {
	uint64_t logical;
	uint64_t physical;
	uint64_t length;
};

/*
 * The XXH3-64 of the first and of the last *len bytes of the device
 * @dev (*len = min(CS_FP_LEN, @size)), read with O_DIRECT (never a stale
 * page cache).  The
 * bytes of the @count extents @skip (a state file kept on the device)
 * are hashed as zeroes, so that writing that file does not change the
 * fingerprint.
 */
int cd_fingerprint(const char *dev, uint64_t size,
		   const struct cd_extent *skip, size_t count, uint64_t *len,
		   uint64_t *head, uint64_t *tail);

/*
 * Whether writing to block device @upper writes to @lower: the same
 * device, a partition of it, or a device stacked on either (dm, md: the
 * slaves in sysfs, followed down).  What sysfs does not show (a loop
 * device over a file on @lower) is not seen.
 */
bool cd_dev_writes_to(dev_t upper, dev_t lower);

/* This boot's id, /proc/sys/kernel/random/boot_id. */
int cd_boot_id(uint8_t out[16]);

/*
 * Write requests in flight on device @dev (/sys/dev/block/M:m/inflight,
 * its second number); 0 if the kernel does not say.
 */
uint64_t cd_inflight_writes(dev_t dev);

/*
 * The physical extents covering the first @need bytes of the regular file
 * open as @fd (named @name), on the device it lives on, after syncing it
 * (FIEMAP_FLAG_SYNC).  Fails unless the file is on ext4 or xfs, is at
 * least @need bytes long, and those bytes are in plain extents: allocated
 * and written (no hole, no unwritten, delayed, encoded, encrypted,
 * inline, tail-packed, shared or unaligned extent), which the filesystem
 * will neither move nor rewrite behind a write through the device.
 * *ext is malloc'd.
 */
int cd_file_extents(int fd, const char *name, uint64_t need,
		    struct cd_extent **ext, size_t *count);

/*
 * Reads (@write false) or writes the first @len bytes of a file whose
 * extents are @ext, through the block device @dev with O_DIRECT; a write
 * is followed by fsync of the device.  @buf is aligned to CS_HEADER_SIZE and @len
 * is a multiple of it.
 */
int cd_extents_io(const char *dev, const struct cd_extent *ext,
		  size_t count, void *buf, uint64_t len, bool write);

/*
 * Creates @path (replacing what was there) at @size bytes, allocated and
 * zero-filled, fsynced with its directory, for the in-place mode: then
 * checks that it lies on the device @dev (its filesystem's st_dev) in
 * plain extents (cd_file_extents).  On failure the file is removed.
 */
int cd_reserve_file(const char *path, uint64_t size, dev_t dev);

/*
 * Writes @len bytes of @buf to @path durably: into a new temporary file
 * in the same directory, fsync, rename over @path, fsync the directory.
 */
int cd_write_file(const char *path, const void *buf, size_t len);

#endif
