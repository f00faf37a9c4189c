/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libblksnap: C wrappers for the ioctls of /dev/blksnap-control.
 *
 * Every function returns 0 (or a non-negative value where stated) on
 * success and a negative errno value on failure; errno itself is left as
 * the failing system call set it. None of them prints anything. All of
 * them need CAP_SYS_ADMIN (the module refuses others with -EPERM) and a
 * loaded blksnap module (-ENOENT from blksnap_ctl_open() otherwise).
 */
#ifndef BLKSNAP_CONTROL_H
#define BLKSNAP_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/blksnap.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Open the control device (BLKSNAP_CTL_PATH) read-write, close-on-exec.
 * Returns the file descriptor (>= 0) or -errno.
 */
int blksnap_ctl_open(void);

/* Close a descriptor from blksnap_ctl_open(). Returns 0 or -errno. */
int blksnap_ctl_close(int fd);

/*
 * Fetch the module's interface version into *ver. Returns 0 or -errno.
 * A caller built against another major version should refuse to go on:
 * see blksnap_ctl_check_version().
 */
int blksnap_ctl_version(int fd, struct blksnap_version *ver);

/*
 * Returns 0 if the module speaks BLKSNAP_VERSION_MAJOR of this header,
 * -EPROTO if it speaks another one, or -errno if it cannot be asked.
 */
int blksnap_ctl_check_version(int fd);

/*
 * Start tracking the block device dev (a whole disk, a partition or a
 * device-mapper device). The change map starts empty with a new
 * generation. Returns 0, -EALREADY if it is tracked already, -ENXIO or
 * -ENODEV if there is no such device, -EFBIG if the device is too large
 * for the module's tracking_block_* parameters, or another -errno.
 */
int blksnap_ctl_tracker_attach(int fd, dev_t dev);

/*
 * Stop tracking dev and drop its history. Returns 0, -ENOENT if dev is
 * not tracked, or another -errno.
 */
int blksnap_ctl_tracker_detach(int fd, dev_t dev);

/*
 * List the tracked devices: fills devs[0 .. min(max, *total) - 1] and sets
 * *total to the number of tracked devices (which may exceed max; call
 * again with a larger array then). max may be 0 (devs may then be NULL);
 * max must not exceed BLKSNAP_MAX_TRACKERS (-EINVAL). Returns 0 or -errno.
 */
int blksnap_ctl_tracker_list(int fd, dev_t *devs, unsigned int max,
			 unsigned int *total);

/*
 * Fill *info for the tracked device dev (info->dev is set by the
 * function). If the device was resized, a new generation starts first.
 * Returns 0, -ENOENT if dev is not tracked, or another -errno.
 */
int blksnap_ctl_cbt_info(int fd, dev_t dev, struct blksnap_cbt_info *info);

/*
 * Read len bytes of the change map of dev, starting at tracking block
 * offset, into buf: the map frozen at the last snapshot, or with
 * BLKSNAP_CBT_MAP_CURRENT in flags the live map. Large reads are split
 * into several ioctls; if generation is not NULL it receives the
 * generation UUID (BLKSNAP_UUID_SIZE bytes) and the function fails with
 * -ESTALE if the generation changed between the pieces. Returns 0,
 * -ERANGE if the range passes the end of the map, -ENOENT if dev is not
 * tracked, or another -errno.
 */
int blksnap_ctl_cbt_read_map(int fd, dev_t dev, unsigned int flags, uint64_t offset,
		     void *buf, size_t len, uint8_t *generation);

/*
 * Mark count sector ranges of dev as changed in the current interval.
 * Every range must be non-empty and inside the device (-ERANGE; then no
 * range of that ioctl is marked). More than BLKSNAP_MAX_DIRTY_RANGES
 * ranges are sent in several ioctls. count 0 is a no-op. Returns 0 or
 * -errno.
 */
int blksnap_ctl_cbt_mark_dirty(int fd, dev_t dev,
			   const struct blksnap_sectors *ranges, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* BLKSNAP_CONTROL_H */
