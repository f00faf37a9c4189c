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
#include <blksnap/uapi/linux/blksnap.h>

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

/*
 * Fill *state for the tracked device dev (state->info.dev is set by the
 * function): the CBT info, the device's write and discard request counts
 * at the attach and now, and its diskseq (UAPI 1.2; struct
 * blksnap_cbt_state). Returns 0, -ENOENT if dev is not tracked, -ENOTTY
 * if the module predates UAPI 1.2, or another -errno.
 */
int blksnap_ctl_cbt_state(int fd, dev_t dev, struct blksnap_cbt_state *state);

/*
 * Give the tracker of load->dev back a saved history (UAPI 1.2; struct
 * blksnap_cbt_load says what each field holds and which -errno means
 * what: -ESTALE when the device was written while untracked, -ERANGE when
 * its size or tracking block differs). load->flags and the reserved
 * fields are zeroed by the function. Returns 0 or -errno.
 */
int blksnap_ctl_cbt_load(int fd, struct blksnap_cbt_load *load);

/*
 * Read every entry of dev's sub-block detail (UAPI 1.4, feature bit
 * BLKSNAP_FEATURE_CBT_FINE; struct blksnap_cbt_fine): the detail frozen at
 * the last snapshot, or with BLKSNAP_CBT_MAP_CURRENT in flags the live
 * one, in calls of at most BLKSNAP_MAX_FINE_ENTRIES entries that follow
 * the module's @next cursor up to block_count (from
 * blksnap_ctl_cbt_info()).  On success *entries (malloc'd, NULL when
 * none; free() it) holds *count entries in increasing block order, each
 * block below block_count, *sub_size the bytes per sub-block (the block
 * size when the module keeps no detail: then no entry), *snap_number the
 * current snapshot number and, if generation is not NULL, the generation
 * (BLKSNAP_UUID_SIZE bytes).  A reader that read the map with another
 * snap_number or generation raced with a snapshot and reads both again.
 * Returns 0; -EOPNOTSUPP if the module predates UAPI 1.4 (it answered
 * -ENOTTY: read the map alone, every block changed as a whole); -ESTALE
 * if the generation or the snapshot number changed between the calls
 * (read again); -EPROTO if the module's answer breaks the contract above
 * (an entry out of order or past the cursor, a cursor that does not
 * advance, a sub_size that is not a power of two); -ENOENT if dev is not
 * tracked; or another -errno.
 */
int blksnap_ctl_cbt_read_fine(int fd, dev_t dev, unsigned int flags,
			      uint64_t block_count, uint32_t *sub_size,
			      uint32_t *snap_number,
			      struct blksnap_cbt_fine_entry **entries,
			      size_t *count, uint8_t *generation);

/*
 * Snapshots (UAPI 1.1). A snapshot is named by its id, BLKSNAP_UUID_SIZE
 * bytes chosen by the module. Every function below that takes an id
 * returns -EINVAL for a NULL id without calling the module, and -ENOENT
 * when no snapshot has that id.
 */

/*
 * Create a snapshot whose difference storage is storage_fd, and store its
 * id in id[BLKSNAP_UUID_SIZE]. storage_fd must be open for reading and
 * writing and be either a regular file on a filesystem on none of the
 * snapshot's devices, grown on demand up to storage_limit bytes (which
 * must then be non-zero), or a block device opened with O_EXCL, used
 * whole (storage_limit must then be zero). low_space is the free storage
 * in bytes below which a BLKSNAP_EVENT_LOW_SPACE event fires; 0 asks for
 * the module's default (an eighth of the storage). The module keeps its
 * own reference: the caller may close storage_fd afterwards; the snapshot
 * lives until destroyed, even if fd is closed.
 *
 * Checked here before any ioctl: -EBADF for a negative storage_fd, -errno
 * of fstat(), -EINVAL for a NULL id, a descriptor that is neither a
 * regular file nor a block device, a regular file with storage_limit 0, a
 * block device with a non-zero storage_limit, or a regular file whose
 * low_space exceeds storage_limit. From the module: -EMFILE (or another
 * -errno) when BLKSNAP_MAX_SNAPSHOTS snapshots exist already, -EINVAL
 * for storage it cannot use. Returns 0 or -errno.
 */
int blksnap_ctl_snapshot_create(int fd, int storage_fd, uint64_t storage_limit,
				uint64_t low_space, uint8_t *id);

/*
 * Add the device dev (a whole disk, a partition or a bio-based device) to
 * the snapshot id, which must not be taken yet. The device gets a tracker
 * if it has none. Returns 0, -EBUSY if dev is in another snapshot already,
 * -EINVAL if dev holds the snapshot's storage or the snapshot is taken,
 * -ENXIO or -ENODEV if there is no such device, or another -errno.
 */
int blksnap_ctl_snapshot_add(int fd, const uint8_t *id, dev_t dev);

/*
 * Take the snapshot id: the filesystems on all its devices are frozen for
 * one instant, their change maps are switched (the map as of the take
 * becomes the readable one, see blksnap_ctl_cbt_read_map()), copy-on-write
 * starts and the image devices appear (see blksnap_ctl_snapshot_info()).
 * Returns 0, or -errno (a snapshot with no device, or one taken already,
 * is refused; on failure the snapshot stays as it was, not taken).
 */
int blksnap_ctl_snapshot_take(int fd, const uint8_t *id);

/*
 * Destroy the snapshot id in any state: its images disappear (an image
 * still open or mounted fails every later I/O), its storage is released.
 * The trackers stay. Returns 0 or -errno.
 */
int blksnap_ctl_snapshot_destroy(int fd, const uint8_t *id);

/*
 * List the snapshots: fills ids[0 .. min(max, *total) - 1] and sets *total
 * to the number of snapshots (which may exceed max). max may be 0 (ids
 * may then be NULL); max must not exceed BLKSNAP_MAX_SNAPSHOTS and ids
 * must not be NULL when max is not 0 (-EINVAL, before any ioctl).
 * Returns 0 or -errno.
 */
int blksnap_ctl_snapshot_list(int fd, uint8_t (*ids)[BLKSNAP_UUID_SIZE],
			      unsigned int max, unsigned int *total);

/*
 * Fill *info for the snapshot id (state, error, chunk size, storage
 * counters) and images[0 .. min(max, n) - 1] with its devices, where n,
 * the number of devices, is left in info->image_count (it may exceed
 * max). max may be 0 (images may then be NULL); max must not exceed
 * BLKSNAP_MAX_SNAPSHOT_DEVICES and images must not be NULL when max is
 * not 0 (-EINVAL, before any ioctl). info->id is set by the function,
 * info->images is left 0. An image's name is NUL-terminated, "" and its
 * device 0:0 before the take. Returns 0 or -errno.
 */
int blksnap_ctl_snapshot_info(int fd, const uint8_t *id,
			      struct blksnap_snapshot_info *info,
			      struct blksnap_image *images, unsigned int max);

/*
 * Fill *t with how long each phase of the take of snapshot id lasted, as
 * the module measured it (nanoseconds, indexed by enum blksnap_take_phase;
 * t->count entries filled, all zero before the take). Returns 0,
 * -EOPNOTSUPP if the module is older than interface 1.3 (no such
 * measurement), -ENOENT if there is no such snapshot, or -errno.
 */
int blksnap_ctl_snapshot_take_times(int fd, const uint8_t *id,
				    struct blksnap_take_times *t);

/*
 * Give the snapshot id more difference storage, used after what it has:
 * storage_fd and storage_limit as for blksnap_ctl_snapshot_create(), with
 * the same checks before the ioctl. Re-arms the low-space event.
 * Returns 0 or -errno.
 */
int blksnap_ctl_snapshot_append(int fd, const uint8_t *id, int storage_fd,
				uint64_t storage_limit);

/*
 * Wait up to timeout_ms milliseconds for the next event of the snapshot
 * id and store it in *ev (ev->id is set by the function). Each event is
 * returned once. Returns 0, -ETIMEDOUT when no event came in time,
 * -ENOENT if the snapshot does not exist or was destroyed during the
 * wait, -EINTR if a signal came, or another -errno. fd may be used by
 * other threads meanwhile: the wait does not block other calls.
 */
int blksnap_ctl_snapshot_wait_event(int fd, const uint8_t *id,
				    uint32_t timeout_ms,
				    struct blksnap_event *ev);

/*
 * Snapshot ids as text: 36 characters, lower-case hex in the UUID layout
 * 8-4-4-4-12. blksnap_ctl_snapshot_id_format() writes the text and its
 * NUL into buf[BLKSNAP_SNAPSHOT_ID_TEXT] and returns buf.
 * blksnap_ctl_snapshot_id_parse() accepts exactly that layout (either
 * case) and returns 0, or -EINVAL (id left unchanged).
 */
#define BLKSNAP_SNAPSHOT_ID_TEXT 37
char *blksnap_ctl_snapshot_id_format(const uint8_t *id, char *buf);
int blksnap_ctl_snapshot_id_parse(const char *text, uint8_t *id);

#ifdef __cplusplus
}
#endif

#endif /* BLKSNAP_CONTROL_H */
