/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libblksnap: what the snapshot tools build on the control wrappers of
 * <blksnap/control.h>: opening difference storage the way the module
 * wants it, and reading a snapshot's whole description.
 *
 * Functions return 0 or -1 with a message (see <blksnap/error.h>).
 */
#ifndef BLKSNAP_SNAPSHOT_H
#define BLKSNAP_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <blksnap/uapi/linux/blksnap.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Difference storage opened for the module.
 * @fd: open read-write, close-on-exec
 * @whole_device: a block device, opened with O_EXCL (no storage limit)
 * @path: the path given
 * @unlink_path: a file this call created under its own name, to be removed
 *               once the module holds it (NULL otherwise)
 */
struct blksnap_storage {
	int fd;
	bool whole_device;
	char *path;
	char *unlink_path;
};

/*
 * Open difference storage at path:
 * - a directory: an anonymous file in it (O_TMPFILE, or a named file
 *   removed at once where the filesystem lacks O_TMPFILE); it disappears
 *   with the snapshot;
 * - a block device: opened exclusively and used whole; fails naming the
 *   device if it is mounted or otherwise in use;
 * - a name that does not exist: a new file, which
 *   blksnap_storage_release() removes (the module keeps its own reference);
 * - an existing regular file is refused: it is never overwritten.
 * Returns 0 or -1 with a message naming path and the reason.
 */
int blksnap_storage_open(const char *path, struct blksnap_storage *st);

/*
 * Close the descriptor (the module has its own reference by now) and
 * remove a file blksnap_storage_open() created. Safe on a zeroed or
 * released struct with fd -1.
 */
void blksnap_storage_release(struct blksnap_storage *st);

/*
 * What a storage block device holds, as libblkid finds it: writes to
 * what[size] a filesystem, RAID member, LVM physical volume, LUKS, swap
 * or partition table type with its label and UUID ("TYPE=ext4
 * LABEL=data UUID=..."), or what its blksnap storage header says, and
 * returns: 1 something that would be overwritten, 2 nothing else than a
 * blksnap storage header (blksnap-storage(5)), 0 nothing (zeroes, or
 * data no prober knows);
 * -1 with a message when the device cannot be read or probed. A file
 * storage returns 0: this call made it.
 */
int blksnap_storage_probe(const struct blksnap_storage *st, char *what,
			  size_t size);

/*
 * Read the state and the devices of snapshot id through control fd: fills
 * *info and sets *images to a malloc'd array of info->image_count entries
 * (free() it). Returns 0 or -1 with a message ("snapshot ID: ...").
 */
int blksnap_snapshot_describe(int fd, const uint8_t *id,
			      struct blksnap_snapshot_info *info,
			      struct blksnap_image **images);

/*
 * If path is a snapshot image (a disk with an "origin" link in sysfs),
 * store the CBT generation (36-character text and NUL) and the snapshot
 * number of the take it shows into generation[37] and *snapshot, and
 * return 1: a backup of the image is of that snapshot. Return 0 if path
 * is not a snapshot image (generation and *snapshot untouched), -1 with a
 * message if it is one but its origin's tracking cannot be read.
 */
int blksnap_image_cbt(const char *path, char generation[37], uint32_t *snapshot);

/* "created", "taken", "corrupted" or "unknown". */
const char *blksnap_snapshot_state_name(uint32_t state);

#ifdef __cplusplus
}
#endif
#endif
