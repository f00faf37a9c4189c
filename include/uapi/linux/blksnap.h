/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * blksnap: block device change tracking and snapshots for stock kernels.
 *
 * Userspace interface of the control device /dev/blksnap-control. Every
 * ioctl requires CAP_SYS_ADMIN. All structures have a fixed size and
 * explicit padding; padding and reserved fields must be zero on input.
 * User-space buffers are passed as __u64 addresses.
 */
#ifndef _UAPI_LINUX_BLKSNAP_H
#define _UAPI_LINUX_BLKSNAP_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define BLKSNAP_CTL_NAME	"blksnap-control"
#define BLKSNAP_CTL_PATH	"/dev/" BLKSNAP_CTL_NAME

#define BLKSNAP_IOCTL_MAGIC	0xBE

/* Interface version. Incompatible changes bump the major number. */
#define BLKSNAP_VERSION_MAJOR	1
#define BLKSNAP_VERSION_MINOR	0

/* Bounds checked by the module. */
#define BLKSNAP_MAX_TRACKERS		4096	/* entries in one list call */
#define BLKSNAP_MAX_DIRTY_RANGES	65536	/* ranges in one mark call */
#define BLKSNAP_MAX_MAP_CHUNK		(64u << 20)	/* bytes in one map read */
#define BLKSNAP_UUID_SIZE		16

/**
 * struct blksnap_version - interface version (BLKSNAP_IOCTL_VERSION)
 * @major: BLKSNAP_VERSION_MAJOR of the module
 * @minor: BLKSNAP_VERSION_MINOR of the module
 * @revision: module revision
 * @reserved: zero
 * @features: bit mask of optional features, none defined yet (zero)
 */
struct blksnap_version {
	__u16 major;
	__u16 minor;
	__u16 revision;
	__u16 reserved;
	__u64 features;
};

/**
 * struct blksnap_dev - a block device number
 * @mj: major number
 * @mn: minor number
 */
struct blksnap_dev {
	__u32 mj;
	__u32 mn;
};

/**
 * struct blksnap_tracker_dev - attach or detach a tracker
 * @dev: the block device (a whole disk, a partition or any bio-based device)
 * @flags: zero
 * @reserved: zero
 */
struct blksnap_tracker_dev {
	struct blksnap_dev dev;
	__u32 flags;
	__u32 reserved;
};

/**
 * struct blksnap_tracker_list - list the tracked devices
 * @devs: address of an array of struct blksnap_dev (may be 0 when @count is 0)
 * @count: in: capacity of @devs, at most BLKSNAP_MAX_TRACKERS;
 *         out: number of tracked devices (may exceed the capacity: then only
 *         the first @count entries given on input were written)
 * @reserved: zero
 */
struct blksnap_tracker_list {
	__u64 devs;
	__u32 count;
	__u32 reserved;
};

/**
 * struct blksnap_cbt_info - change-tracking state of a tracked device
 * @dev: in: the device
 * @block_size: out: tracking block size in bytes (a power of two)
 * @block_count: out: number of tracking blocks (bytes in the map)
 * @device_capacity: out: device size in 512-byte sectors
 * @generation_id: out: changes whenever history is lost
 * @snap_number: out: current snapshot number (1..255); a block written now
 *               gets this value in the map
 * @reserved: zero
 */
struct blksnap_cbt_info {
	struct blksnap_dev dev;
	__u32 block_size;
	__u32 snap_number;
	__u64 block_count;
	__u64 device_capacity;
	__u8 generation_id[BLKSNAP_UUID_SIZE];
	__u64 reserved;
};

/* Read the map as it is now instead of as frozen at the last snapshot. */
#define BLKSNAP_CBT_MAP_CURRENT	(1u << 0)

/**
 * struct blksnap_cbt_map - read a range of the change-tracking map
 * @dev: in: the device
 * @flags: in: 0 for the map frozen at the last snapshot,
 *         BLKSNAP_CBT_MAP_CURRENT for the live map
 * @reserved: zero
 * @offset: in: first tracking block to read
 * @length: in: number of bytes (blocks) to read, at most
 *          BLKSNAP_MAX_MAP_CHUNK; offset + length must not exceed the count
 * @buff: in: address of a buffer of @length bytes
 * @generation_id: out: generation the map belongs to
 */
struct blksnap_cbt_map {
	struct blksnap_dev dev;
	__u32 flags;
	__u32 reserved;
	__u64 offset;
	__u64 length;
	__u64 buff;
	__u8 generation_id[BLKSNAP_UUID_SIZE];
};

/**
 * struct blksnap_sectors - a range of 512-byte sectors
 * @offset: first sector
 * @count: number of sectors (non-zero)
 */
struct blksnap_sectors {
	__u64 offset;
	__u64 count;
};

/**
 * struct blksnap_cbt_dirty - mark ranges as changed in the current interval
 * @dev: in: the device
 * @count: in: number of ranges, 1..BLKSNAP_MAX_DIRTY_RANGES
 * @reserved: zero
 * @ranges: in: address of an array of struct blksnap_sectors, each inside
 *          the device
 */
struct blksnap_cbt_dirty {
	struct blksnap_dev dev;
	__u32 count;
	__u32 reserved;
	__u64 ranges;
};

#define BLKSNAP_IOCTL_VERSION \
	_IOR(BLKSNAP_IOCTL_MAGIC, 0x00, struct blksnap_version)
#define BLKSNAP_IOCTL_TRACKER_ATTACH \
	_IOW(BLKSNAP_IOCTL_MAGIC, 0x01, struct blksnap_tracker_dev)
#define BLKSNAP_IOCTL_TRACKER_DETACH \
	_IOW(BLKSNAP_IOCTL_MAGIC, 0x02, struct blksnap_tracker_dev)
#define BLKSNAP_IOCTL_TRACKER_LIST \
	_IOWR(BLKSNAP_IOCTL_MAGIC, 0x03, struct blksnap_tracker_list)
#define BLKSNAP_IOCTL_CBT_INFO \
	_IOWR(BLKSNAP_IOCTL_MAGIC, 0x04, struct blksnap_cbt_info)
#define BLKSNAP_IOCTL_CBT_MAP \
	_IOWR(BLKSNAP_IOCTL_MAGIC, 0x05, struct blksnap_cbt_map)
#define BLKSNAP_IOCTL_CBT_DIRTY \
	_IOW(BLKSNAP_IOCTL_MAGIC, 0x06, struct blksnap_cbt_dirty)

#endif /* _UAPI_LINUX_BLKSNAP_H */
