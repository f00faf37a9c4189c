// SPDX-License-Identifier: LGPL-2.1-or-later
/* Opening sources by path or tag, and what libblkid knows of them. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <blkid.h>

#include "internal.h"

bool is_tag(const char *spec)
{
	static const char *const tags[] = {
		"UUID=", "LABEL=", "PARTUUID=", "PARTLABEL=",
	};
	size_t i;

	for (i = 0; i < BS_ARRAY_SIZE(tags); i++)
		if (!strncmp(spec, tags[i], strlen(tags[i])))
			return true;
	return false;
}

int blksnap_resolve(const char *spec, char **path)
{
	char *found;

	if (!is_tag(spec)) {
		*path = bs_strdup(spec);
		return *path ? 0 : -1;
	}
	found = blkid_evaluate_tag(spec, NULL, NULL);
	if (!found)
		return bs_fail("%s: no such device (libblkid found no device with this tag)",
			       spec);
	*path = found;
	return 0;
}

static void copy_value(blkid_probe pr, const char *name, char *dst,
		       size_t size)
{
	const char *value;

	if (!blkid_probe_lookup_value(pr, name, &value, NULL))
		bs_strlcpy(dst, value, size);
}

/* Filesystem type, UUID and label; unknown content is not an error. */
static void probe_identity(struct blksnap_source *src)
{
	blkid_probe pr = blkid_new_probe();

	if (!pr)
		return;
	if (blkid_probe_set_device(pr, src->fd, 0, 0) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE |
						  BLKID_SUBLKS_UUID |
						  BLKID_SUBLKS_LABEL);
		if (blkid_do_safeprobe(pr) == 0) {
			copy_value(pr, "TYPE", src->id.fstype,
				   sizeof(src->id.fstype));
			copy_value(pr, "UUID", src->id.uuid, sizeof(src->id.uuid));
			copy_value(pr, "LABEL", src->id.label,
				   sizeof(src->id.label));
		}
	}
	blkid_free_probe(pr);
}

int blksnap_source_open(const char *spec, struct blksnap_source *src)
{
	int lbs = 512;

	memset(src, 0, sizeof(*src));
	src->fd = -1;
	if (blksnap_resolve(spec, &src->path))
		return -1;
	/* O_NONBLOCK: a FIFO must be refused, not waited on. */
	src->fd = open(src->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (src->fd < 0) {
		bs_fail_errno(errno, "%s: cannot open", src->path);
		goto fail;
	}
	if (bs_fd_size(src->fd, src->path, &src->size, &src->is_blockdev))
		goto fail;
	fcntl(src->fd, F_SETFL, fcntl(src->fd, F_GETFL) & ~O_NONBLOCK);
	if (src->is_blockdev && ioctl(src->fd, BLKSSZGET, &lbs) < 0) {
		bs_fail_errno(errno, "%s: cannot get the logical block size",
			      src->path);
		goto fail;
	}
	src->logical_block_size = (uint32_t)lbs;
	if (src->size)
		probe_identity(src);
	posix_fadvise(src->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
fail:
	blksnap_source_close(src);
	return -1;
}

void blksnap_source_close(struct blksnap_source *src)
{
	if (src->fd >= 0)
		close(src->fd);
	free(src->path);
	src->fd = -1;
	src->path = NULL;
}

int blksnap_source_map(const struct blksnap_source *src,
		       struct blksnap_ranges *map)
{
	off_t pos = 0, end = (off_t)src->size;

	map->device_size = src->size;
	if (src->is_blockdev)
		return blksnap_ranges_append(map, 0, src->size);
	while (pos < end) {
		off_t data = lseek(src->fd, pos, SEEK_DATA);
		off_t hole;

		if ((data < 0 && errno == ENXIO) || data >= end)
			break;		/* only a hole up to the end */
		if (data < 0 && errno == EINVAL) {
			/* No SEEK_DATA on this filesystem: all data. */
			return blksnap_ranges_append(map, 0, src->size);
		}
		if (data < 0)
			return bs_fail_errno(errno, "%s: cannot map its data",
					     src->path);
		hole = lseek(src->fd, data, SEEK_HOLE);
		if (hole < 0)
			return bs_fail_errno(errno, "%s: cannot map its holes",
					     src->path);
		if (hole > end)
			hole = end;
		if (blksnap_ranges_append(map, (uint64_t)data,
					  (uint64_t)(hole - data)))
			return -1;
		pos = hole;
	}
	return 0;
}

int bs_source_read(const struct blksnap_source *src, void *buf, size_t len,
		   uint64_t offset)
{
	ssize_t got = bs_pread_all(src->fd, buf, len, offset);

	if (got < 0)
		return bs_fail_errno(errno, "%s: read error at offset %llu",
				     src->path, (unsigned long long)offset);
	if ((size_t)got != len)
		return bs_fail("%s: ends at %llu, before its size of %llu bytes: did it shrink?",
			       src->path, (unsigned long long)(offset + (uint64_t)got),
			       (unsigned long long)src->size);
	return 0;
}
