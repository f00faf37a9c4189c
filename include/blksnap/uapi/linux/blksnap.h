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
#define BLKSNAP_VERSION_MINOR	4

/* Bounds checked by the module. */
#define BLKSNAP_MAX_TRACKERS		4096	/* entries in one list call */
#define BLKSNAP_MAX_DIRTY_RANGES	65536	/* ranges in one mark call */
#define BLKSNAP_MAX_MAP_CHUNK		(64u << 20)	/* bytes in one map read */
#define BLKSNAP_UUID_SIZE		16
#define BLKSNAP_MAX_SNAPSHOTS		64	/* live snapshots, ids in one list call */
#define BLKSNAP_MAX_SNAPSHOT_DEVICES	64	/* devices in one snapshot */
#define BLKSNAP_IMAGE_NAME_SIZE		32	/* bytes, NUL included */
#define BLKSNAP_CBT_FINE_SUBBLOCKS	16	/* sub-blocks of a tracking block */
#define BLKSNAP_MAX_FINE_ENTRIES	65536	/* entries in one fine read */

/*
 * The image of origin MAJ:MIN is the disk "blksnap-image-MAJ-MIN"
 * (/dev/blksnap-image-MAJ-MIN); its sysfs directory has a link "origin" to
 * the origin's device directory.
 */
#define BLKSNAP_IMAGE_NAME_FMT		"blksnap-image-%u-%u"

/**
 * struct blksnap_version - interface version (BLKSNAP_IOCTL_VERSION)
 * @major: BLKSNAP_VERSION_MAJOR of the module
 * @minor: BLKSNAP_VERSION_MINOR of the module
 * @revision: module revision
 * @reserved: zero
 * @features: bit mask of optional features (BLKSNAP_FEATURE_*)
 */
/* BLKSNAP_IOCTL_CBT_STATE and BLKSNAP_IOCTL_CBT_LOAD (minor version 2). */
#define BLKSNAP_FEATURE_CBT_LOAD	(1ull << 0)
/* BLKSNAP_IOCTL_SNAPSHOT_TAKE_TIMES (minor version 3). */
#define BLKSNAP_FEATURE_TAKE_TIMES	(1ull << 1)
/* BLKSNAP_IOCTL_CBT_FINE (minor version 4). */
#define BLKSNAP_FEATURE_CBT_FINE	(1ull << 2)

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
 * struct blksnap_cbt_fine_entry - where inside one tracking block it changed
 * @block: the tracking block
 * @sub: per sub-block, the snapshot number of the interval in which the
 *       sub-block last changed (the meaning of a map byte, at the finer
 *       size); the largest equals the block's map byte; entries past the
 *       block's sub-block count are zero
 */
struct blksnap_cbt_fine_entry {
	__u64 block;
	__u8 sub[BLKSNAP_CBT_FINE_SUBBLOCKS];
};

/**
 * struct blksnap_cbt_fine - read the sub-block detail of the map
 * @dev: in: the device
 * @flags: in: 0 for the detail frozen at the last snapshot (that of the
 *         frozen map), BLKSNAP_CBT_MAP_CURRENT for the live one
 * @sub_size: out: bytes per sub-block, a power of two; equal to the block
 *            size when the map keeps no detail (no entry is returned then)
 * @snap_number: out: the current snapshot number, as in
 *               struct blksnap_cbt_info: a reader that read the map with
 *               another number raced with a snapshot and reads both again
 * @start: in: the first tracking block to look at
 * @next: out: where to start the next call; @next equals the block count
 *        once every entry has been returned
 * @count: in: room in @entries, 1..BLKSNAP_MAX_FINE_ENTRIES;
 *         out: entries filled, in increasing @block order
 * @reserved: zero
 * @entries: in: address of an array of @count struct blksnap_cbt_fine_entry
 * @generation_id: out: generation the detail belongs to
 *
 * A tracking block without an entry changed as a whole: each of its
 * sub-blocks carries the block's map byte. The module keeps detail for a
 * bounded number of blocks (module parameter tracking_fine_limit); past
 * it, and after a history was loaded, blocks are tracked as a whole,
 * which only ever says more changed, never less.
 */
struct blksnap_cbt_fine {
	struct blksnap_dev dev;
	__u32 flags;
	__u32 sub_size;
	__u32 snap_number;
	__u32 count;
	__u64 start;
	__u64 next;
	__u64 reserved;
	__u64 entries;
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

/*
 * Keeping a device's history across a module reload or a reboot
 * (blksnap-cbt-state(5) is the file format of the tools). The module
 * cannot see writes made while it is not tracking the device, so it leans
 * on the kernel's own I/O statistics (the write and discard requests that
 * /sys/class/block/DEV/stat counts since the device appeared): when the
 * tracker is attached, after the writes already in flight have completed,
 * it notes that count. A saved history is loaded only if that count is
 * what the saved history accounts for: 0 after a reboot (the device was
 * not written before the tracker was attached), or the count at the save
 * for the same disk (diskseq) in the same boot (a module reload without a
 * write in between). Another disk taking a tracked device's number (a new
 * diskseq: a replaced disk, a loop device given another file) starts a
 * new generation at the next control call on it. Not seen: a write to a
 * tracked partition's sectors through its whole disk (counted and tracked
 * for the disk only), and a write made while the device was attached to
 * another system or another boot (the counts start at 0 with every boot).
 */

/* Flags of struct blksnap_cbt_state (out). */
/* The device keeps no I/O statistics (queue/iostats is 0): no load. */
#define BLKSNAP_CBT_STATE_NO_IOSTAT	(1u << 0)
/* A history was loaded since the tracker was attached. */
#define BLKSNAP_CBT_STATE_LOADED	(1u << 1)

/**
 * struct blksnap_cbt_state - what saving a tracker's history needs
 * @info: in: @info.dev, the device, the other fields zero;
 *        out: as BLKSNAP_IOCTL_CBT_INFO
 * @flags: out: BLKSNAP_CBT_STATE_*
 * @reserved: zero
 * @writes_at_attach: out: the device's count of write and discard requests
 *                    when the tracker was attached
 * @writes_now: out: the same count now; a history saved while it does not
 *              move (read it before and after the maps) is complete
 * @diskseq: out: the disk's sequence number, unique to one disk in one
 *           boot (/sys/block/DISK/diskseq)
 * @reserved2: zero
 */
struct blksnap_cbt_state {
	struct blksnap_cbt_info info;
	__u32 flags;
	__u32 reserved;
	__u64 writes_at_attach;
	__u64 writes_now;
	__u64 diskseq;
	__u64 reserved2[3];
};

/**
 * struct blksnap_cbt_load - give a tracker back its saved history
 * @dev: in: the device, tracked, in no snapshot, no snapshot taken since
 *       its tracker was attached, and no history loaded yet
 * @flags: in: zero
 * @block_size: in: the saved tracking block size in bytes
 * @snap_number: in: the saved current snapshot number (1..255)
 * @block_count: in: the saved number of tracking blocks
 * @device_capacity: in: the saved device size in sectors
 * @generation_id: in: the saved generation
 * @writes_expected: in: the count of write and discard requests the saved
 *                   history accounts for: 0 after a reboot, the saved
 *                   @writes_now of struct blksnap_cbt_state for the same
 *                   disk (@diskseq) in the same boot
 * @map: in: address of the saved live map, @block_count bytes, each at
 *       most @snap_number
 * @snap_map: in: address of the saved frozen map, @block_count bytes, each
 *            below @snap_number
 * @reserved: zero
 *
 * The three sizes must be those of the tracker (-ERANGE otherwise: the
 * device was resized or the module's tracking-block parameters differ).
 * If the tracker's count at attach is not @writes_expected, the device
 * was written while nobody tracked it: -ESTALE, and the tracker keeps the
 * new generation it started at the attach. On success the tracker takes
 * the saved generation, snapshot number and maps; the blocks written
 * since the attach are marked changed in the current interval.
 * Errors: -ENOENT (not tracked), -EBUSY (in a snapshot, or one was taken
 * since the attach), -EALREADY (loaded already), -EOPNOTSUPP (the device
 * keeps no I/O statistics), -ERANGE, -ESTALE, -EINVAL (a map value out of
 * range, non-zero flags or reserved fields), -EFAULT.
 */
struct blksnap_cbt_load {
	struct blksnap_dev dev;
	__u32 flags;
	__u32 block_size;
	__u32 snap_number;
	__u32 reserved;
	__u64 block_count;
	__u64 device_capacity;
	__u8 generation_id[BLKSNAP_UUID_SIZE];
	__u64 writes_expected;
	__u64 map;
	__u64 snap_map;
	__u64 reserved2[2];
};

/* Snapshot states (struct blksnap_snapshot_info.state). */
enum blksnap_snapshot_state {
	BLKSNAP_SNAPSHOT_CREATED = 1,	/* devices may be added, not taken yet */
	BLKSNAP_SNAPSHOT_TAKEN = 2,	/* copy-on-write running, images readable */
	BLKSNAP_SNAPSHOT_CORRUPTED = 3,	/* overflow or I/O error: images fail */
};

/*
 * Difference storage layout (blksnap-storage(5)). The module keeps the
 * first and the last BLKSNAP_STORAGE_RESERVED bytes of every block device
 * and file it is given as storage free of chunk copies, so that no prober
 * (blkid, udev, LVM, mdadm, a boot loader) finds there a signature of the
 * data copied: 1 MiB covers every signature location known to libblkid
 * (partition tables, LVM labels, LUKS headers, md 0.90, 1.0 and 1.2
 * superblocks, the backup GPT, btrfs' primary superblock at 64 KiB, ZFS'
 * 512 KiB of labels at either end). When a snapshot starts using it, the
 * module zeroes both areas and writes this header at offset 0; when the
 * snapshot goes, it rewrites the header with the state "released".
 * Integers are little-endian.
 */
#define BLKSNAP_STORAGE_RESERVED	(1u << 20)
#define BLKSNAP_STORAGE_MAGIC		"blksnap-storage"	/* NUL ends it */
#define BLKSNAP_STORAGE_VERSION		1
#define BLKSNAP_STORAGE_HEADER_SIZE	512
#define BLKSNAP_STORAGE_DESCRIPTION	"blksnap difference storage; see blksnap-storage(5)"

enum blksnap_storage_state {
	BLKSNAP_STORAGE_IN_USE = 1,	/* a snapshot holds it */
	BLKSNAP_STORAGE_RELEASED = 2,	/* no longer: its data is stale */
};

/**
 * struct blksnap_storage_header - the header at offset 0 of a storage
 * @magic: BLKSNAP_STORAGE_MAGIC and a NUL
 * @version: BLKSNAP_STORAGE_VERSION
 * @state: enum blksnap_storage_state
 * @header_size: BLKSNAP_STORAGE_HEADER_SIZE
 * @reserved_size: bytes kept free at the start and at the end
 * @size: bytes of the device, or the size a file may grow to
 * @time: when @state was written, in seconds since the epoch
 * @snapshot_id: the snapshot that uses or used the storage
 * @description: a NUL-terminated text saying what this is, for people
 *               who look at the device with a hex dump
 * @pad: zero
 * @checksum: CRC-32C (Castagnoli, as in iSCSI and ext4's metadata) of the
 *            header with this field zero
 */
struct blksnap_storage_header {
	char magic[16];
	__le32 version;
	__le32 state;
	__le32 header_size;
	__le32 reserved_size;
	__le64 size;
	__le64 time;
	__u8 snapshot_id[BLKSNAP_UUID_SIZE];
	char description[64];
	__u8 pad[380];
	__le32 checksum;
};

/**
 * struct blksnap_snapshot_create - create a snapshot with its difference storage
 * @id: out: the snapshot's id (a UUID)
 * @storage_fd: in: a file descriptor open for reading and writing: a regular
 *              file on a filesystem that is on none of the snapshot's devices
 *              (grown on demand with fallocate up to @storage_limit), or a
 *              block device opened with O_EXCL (all of it is used)
 * @flags: zero
 * @storage_limit: in: for a regular file, the size it may grow to in bytes
 *                 (non-zero); zero for a block device
 * @low_space: in: free storage in bytes below which a
 *             BLKSNAP_EVENT_LOW_SPACE event fires; zero for the module's
 *             default (an eighth of the storage)
 * @reserved: zero
 *
 * The module keeps its own reference to the storage; the caller may close
 * @storage_fd afterwards. A snapshot lives until destroyed, whether or not
 * the control device stays open.
 */
struct blksnap_snapshot_create {
	__u8 id[BLKSNAP_UUID_SIZE];
	__s32 storage_fd;
	__u32 flags;
	__u64 storage_limit;
	__u64 low_space;
	__u64 reserved[2];
};

/**
 * struct blksnap_snapshot_append - add difference storage to a snapshot
 * @id: in: the snapshot
 * @storage_fd: in: as in struct blksnap_snapshot_create
 * @flags: zero
 * @storage_limit: in: as in struct blksnap_snapshot_create
 * @reserved: zero
 *
 * Storage is used in the order it was given. Appending re-arms the
 * low-space event.
 */
struct blksnap_snapshot_append {
	__u8 id[BLKSNAP_UUID_SIZE];
	__s32 storage_fd;
	__u32 flags;
	__u64 storage_limit;
	__u64 reserved;
};

/**
 * struct blksnap_snapshot_add - add a device to a snapshot not taken yet
 * @id: in: the snapshot
 * @dev: in: a whole disk, a partition or a bio-based device; it gets a
 *       tracker if it has none; a device can be in one snapshot at a time
 * @flags: zero
 * @reserved: zero
 */
struct blksnap_snapshot_add {
	__u8 id[BLKSNAP_UUID_SIZE];
	struct blksnap_dev dev;
	__u32 flags;
	__u32 reserved;
};

/**
 * struct blksnap_snapshot_id - name a snapshot (take, destroy)
 * @id: in: the snapshot
 * @reserved: zero
 */
struct blksnap_snapshot_id {
	__u8 id[BLKSNAP_UUID_SIZE];
	__u64 reserved;
};

/**
 * struct blksnap_snapshot_list - list the snapshots
 * @ids: address of an array of @count ids of BLKSNAP_UUID_SIZE bytes
 *       (may be 0 when @count is 0)
 * @count: in: capacity of @ids, at most BLKSNAP_MAX_SNAPSHOTS;
 *         out: number of snapshots (only the first capacity ones written)
 * @reserved: zero
 */
struct blksnap_snapshot_list {
	__u64 ids;
	__u32 count;
	__u32 reserved;
};

/**
 * struct blksnap_image - one device of a snapshot
 * @origin: the snapshotted device
 * @image: the image device (0:0 before the snapshot is taken)
 * @name: the image's disk name, NUL-terminated ("" before the take)
 */
struct blksnap_image {
	struct blksnap_dev origin;
	struct blksnap_dev image;
	char name[BLKSNAP_IMAGE_NAME_SIZE];
};

/**
 * struct blksnap_snapshot_info - state of a snapshot
 * @id: in: the snapshot
 * @images: in: address of an array of struct blksnap_image (may be 0
 *          when @image_count is 0)
 * @image_count: in: capacity of @images, at most
 *               BLKSNAP_MAX_SNAPSHOT_DEVICES; out: number of devices
 * @state: out: enum blksnap_snapshot_state
 * @error: out: for a corrupted snapshot, the positive errno that caused it
 *         (ENOSPC for an overflow), else zero
 * @chunk_size: out: copy-on-write chunk size in bytes (a power of two)
 * @storage_used: out: bytes of difference storage holding chunks
 * @storage_allocated: out: bytes of difference storage available now
 *                     (a file counts as far as it has been grown)
 * @storage_limit: out: bytes the storage may reach
 * @reserved: zero
 */
struct blksnap_snapshot_info {
	__u8 id[BLKSNAP_UUID_SIZE];
	__u64 images;
	__u32 image_count;
	__u32 state;
	__u32 error;
	__u32 chunk_size;
	__u64 storage_used;
	__u64 storage_allocated;
	__u64 storage_limit;
	__u64 reserved[2];
};

/* Event codes (struct blksnap_event.code). */
enum blksnap_event_code {
	BLKSNAP_EVENT_LOW_SPACE = 1,	/* free storage fell below low_space */
	BLKSNAP_EVENT_CORRUPTED = 2,	/* the snapshot is corrupted; see error */
};

/**
 * struct blksnap_event - wait for the next event of a snapshot
 * @id: in: the snapshot
 * @timeout_ms: in: how long to wait; the ioctl fails with ETIMEDOUT when
 *              no event came
 * @code: out: enum blksnap_event_code
 * @error: out: for BLKSNAP_EVENT_CORRUPTED, the positive errno (ENOSPC:
 *         the storage overflowed, EIO: a copy failed, ENODEV: the disk of
 *         a device was deleted)
 * @dev: out: the device whose copy-on-write raised the event (0:0 if none)
 * @storage_used: out: bytes used when the event was raised
 * @storage_limit: out: bytes the storage could reach then
 * @time_ns: out: CLOCK_REALTIME when the event was raised
 * @reserved: zero
 *
 * Events are queued per snapshot and each is returned once. A snapshot
 * destroyed during the wait ends it with ENOENT.
 */
struct blksnap_event {
	__u8 id[BLKSNAP_UUID_SIZE];
	__u32 timeout_ms;
	__u32 code;
	__u32 error;
	struct blksnap_dev dev;
	__u32 reserved0;
	__u64 storage_used;
	__u64 storage_limit;
	__u64 time_ns;
	__u64 reserved[2];
};

/**
 * enum blksnap_take_phase - the phases of a take, in struct
 * blksnap_take_times
 * @BLKSNAP_TAKE_TOTAL: the whole take ioctl
 * @BLKSNAP_TAKE_PREPARE: checks and sizing before the freeze
 * @BLKSNAP_TAKE_FREEZE: freezing the filesystems (their cost: they write
 *                       back their dirty data)
 * @BLKSNAP_TAKE_HOLD: writes held: from the snapshot's instant until the
 *                     change maps are switched (the next three phases)
 * @BLKSNAP_TAKE_GRACE: waiting for the bio filter calls in progress
 * @BLKSNAP_TAKE_DRAIN: draining the devices' queues
 * @BLKSNAP_TAKE_MAP: switching the change maps
 * @BLKSNAP_TAKE_THAW: thawing the filesystems
 * @BLKSNAP_TAKE_IMAGES: creating the image disks
 * @BLKSNAP_TAKE_PHASES: number of phases
 */
enum blksnap_take_phase {
	BLKSNAP_TAKE_TOTAL,
	BLKSNAP_TAKE_PREPARE,
	BLKSNAP_TAKE_FREEZE,
	BLKSNAP_TAKE_HOLD,
	BLKSNAP_TAKE_GRACE,
	BLKSNAP_TAKE_DRAIN,
	BLKSNAP_TAKE_MAP,
	BLKSNAP_TAKE_THAW,
	BLKSNAP_TAKE_IMAGES,
	BLKSNAP_TAKE_PHASES
};

#define BLKSNAP_TAKE_MAX_PHASES		16	/* room in the struct */

/**
 * struct blksnap_take_times - how long each phase of a snapshot's take
 * lasted, measured in the module (BLKSNAP_IOCTL_SNAPSHOT_TAKE_TIMES,
 * BLKSNAP_FEATURE_TAKE_TIMES)
 * @id: in: the snapshot
 * @flags: in: zero
 * @count: out: number of entries of @ns filled (BLKSNAP_TAKE_PHASES of the
 *         module; a newer module may fill more, an older fewer)
 * @ns: out: nanoseconds per phase, indexed by enum blksnap_take_phase; all
 *      zero before the take
 */
struct blksnap_take_times {
	__u8 id[BLKSNAP_UUID_SIZE];
	__u32 flags;
	__u32 count;
	__u64 ns[BLKSNAP_TAKE_MAX_PHASES];
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
#define BLKSNAP_IOCTL_CBT_STATE \
	_IOWR(BLKSNAP_IOCTL_MAGIC, 0x07, struct blksnap_cbt_state)
#define BLKSNAP_IOCTL_CBT_LOAD \
	_IOW(BLKSNAP_IOCTL_MAGIC, 0x08, struct blksnap_cbt_load)
#define BLKSNAP_IOCTL_CBT_FINE \
	_IOWR(BLKSNAP_IOCTL_MAGIC, 0x09, struct blksnap_cbt_fine)
#define BLKSNAP_IOCTL_SNAPSHOT_CREATE \
	_IOWR(BLKSNAP_IOCTL_MAGIC, 0x10, struct blksnap_snapshot_create)
#define BLKSNAP_IOCTL_SNAPSHOT_ADD \
	_IOW(BLKSNAP_IOCTL_MAGIC, 0x11, struct blksnap_snapshot_add)
#define BLKSNAP_IOCTL_SNAPSHOT_TAKE \
	_IOW(BLKSNAP_IOCTL_MAGIC, 0x12, struct blksnap_snapshot_id)
#define BLKSNAP_IOCTL_SNAPSHOT_DESTROY \
	_IOW(BLKSNAP_IOCTL_MAGIC, 0x13, struct blksnap_snapshot_id)
#define BLKSNAP_IOCTL_SNAPSHOT_LIST \
	_IOWR(BLKSNAP_IOCTL_MAGIC, 0x14, struct blksnap_snapshot_list)
#define BLKSNAP_IOCTL_SNAPSHOT_INFO \
	_IOWR(BLKSNAP_IOCTL_MAGIC, 0x15, struct blksnap_snapshot_info)
#define BLKSNAP_IOCTL_SNAPSHOT_APPEND \
	_IOW(BLKSNAP_IOCTL_MAGIC, 0x16, struct blksnap_snapshot_append)
#define BLKSNAP_IOCTL_SNAPSHOT_WAIT_EVENT \
	_IOWR(BLKSNAP_IOCTL_MAGIC, 0x17, struct blksnap_event)
#define BLKSNAP_IOCTL_SNAPSHOT_TAKE_TIMES \
	_IOWR(BLKSNAP_IOCTL_MAGIC, 0x18, struct blksnap_take_times)

#endif /* _UAPI_LINUX_BLKSNAP_H */
