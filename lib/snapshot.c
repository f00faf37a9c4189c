// SPDX-License-Identifier: LGPL-2.1-or-later
/* Difference storage and snapshot descriptions for the snapshot tools. */

#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "internal.h"
#include "blksnap/control.h"
#include "blksnap/snapshot.h"

static int open_in_directory(const char *dir, struct blksnap_storage *st)
{
	int fd = bs_open_anonymous(dir);

	if (fd < 0)
		return bs_fail_errno(errno, "%s: cannot create difference storage in this directory",
				     dir);
	st->fd = fd;
	return 0;
}

static int open_device(const char *path, struct blksnap_storage *st)
{
	int fd = open(path, O_RDWR | O_EXCL | O_CLOEXEC);

	if (fd < 0 && errno == EBUSY)
		return bs_fail("%s: in use (mounted, or open by another program): a storage device must be free",
			       path);
	if (fd < 0)
		return bs_fail_errno(errno, "%s", path);
	st->fd = fd;
	st->whole_device = true;
	return 0;
}

static int create_file(const char *path, struct blksnap_storage *st)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return bs_fail_errno(errno, "%s: cannot create difference storage", path);
	st->unlink_path = bs_strdup(path);
	if (!st->unlink_path) {
		close(fd);
		unlink(path);
		return -1;
	}
	st->fd = fd;
	return 0;
}

int blksnap_storage_open(const char *path, struct blksnap_storage *st)
{
	struct stat sb;
	int ret;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	if (stat(path, &sb) < 0) {
		if (errno != ENOENT)
			return bs_fail_errno(errno, "%s", path);
		ret = create_file(path, st);
	} else if (S_ISDIR(sb.st_mode)) {
		ret = open_in_directory(path, st);
	} else if (S_ISBLK(sb.st_mode)) {
		ret = open_device(path, st);
	} else if (S_ISREG(sb.st_mode)) {
		return bs_fail("%s: exists: an existing file is never overwritten; name a directory, a new file or a block device",
			       path);
	} else {
		return bs_fail("%s: neither a directory, a file nor a block device", path);
	}
	if (ret)
		return ret;
	st->path = bs_strdup(path);
	if (!st->path) {
		blksnap_storage_release(st);
		return -1;
	}
	return 0;
}

void blksnap_storage_release(struct blksnap_storage *st)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	if (st->unlink_path)
		unlink(st->unlink_path);
	free(st->unlink_path);
	free(st->path);
	st->unlink_path = NULL;
	st->path = NULL;
}

/* Appends " NAME=value" for each probed value of @names that is set. */
static void probe_append(blkid_probe pr, const char *const *names,
			 char *what, size_t size)
{
	const char *value;
	size_t n;

	for (; *names; names++) {
		if (blkid_probe_lookup_value(pr, *names, &value, NULL))
			continue;
		n = strlen(what);
		snprintf(what + n, size - n, "%s%s=%s", n ? " " : "", *names, value);
	}
}

/* 1 and @what when libblkid finds a signature, 0 when none, or -1. */
static int probe_signature(const struct blksnap_storage *st, char *what,
			   size_t size)
{
	static const char *const names[] = {
		"TYPE", "PTTYPE", "LABEL", "UUID", NULL
	};
	blkid_probe pr = blkid_new_probe();
	int ret = -1;

	if (!pr)
		return bs_fail("%s: cannot probe: out of memory", st->path);
	if (blkid_probe_set_device(pr, st->fd, 0, 0)) {
		bs_fail_errno(errno, "%s: cannot probe", st->path);
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE |
					  BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID);
	blkid_probe_enable_partitions(pr, 1);
	/* -2: two signatures, which libblkid will not choose between. */
	ret = blkid_do_safeprobe(pr);
	if (ret == -2) {
		snprintf(what, size, "signatures of more than one kind");
		ret = 1;
	} else if (ret == 0) {
		probe_append(pr, names, what, size);
		ret = 1;
	} else if (ret == 1) {
		ret = 0;
	} else {
		bs_fail("%s: libblkid cannot probe it", st->path);
	}
out:
	blkid_free_probe(pr);
	return ret;
}

int blksnap_storage_probe(const struct blksnap_storage *st, char *what,
			  size_t size)
{
	struct blksnap_storage_header buf;
	struct bs_storage_header h;
	ssize_t n;
	int ret;

	if (size)
		what[0] = '\0';
	if (!st->whole_device)
		return 0;
	/*
	 * Probed first: pvcreate, for one, leaves sector 0 as it was, and
	 * so a header of ours before the label it writes.
	 */
	ret = probe_signature(st, what, size);
	if (ret)
		return ret;
	n = bs_pread_all(st->fd, &buf, sizeof(buf), 0);
	if (n < 0)
		return bs_fail_errno(errno, "%s: cannot read", st->path);
	/* A damaged header of ours is nothing. */
	if (bs_storage_header_parse(&buf, (size_t)n, &h) <= 0)
		return 0;
	snprintf(what, size, "blksnap difference storage of snapshot %s, %s",
		 h.snapshot_id, h.in_use ? "marked in use" : "released");
	return 2;
}

int blksnap_snapshot_describe(int fd, const uint8_t *id,
			      struct blksnap_snapshot_info *info,
			      struct blksnap_image **images)
{
	char text[BLKSNAP_SNAPSHOT_ID_TEXT];
	struct blksnap_image *v = NULL;
	unsigned int n = 0;
	int ret;

	blksnap_ctl_snapshot_id_format(id, text);
	/* The device count is fixed once taken; retry if devices came meanwhile. */
	for (;;) {
		ret = blksnap_ctl_snapshot_info(fd, id, info, v, n);
		if (ret)
			break;
		if (info->image_count <= n)
			break;
		free(v);
		n = info->image_count;
		v = bs_calloc(n, sizeof(*v));
		if (!v)
			return -1;
	}
	if (ret == -ENOENT) {
		free(v);
		return bs_fail("snapshot %s: no such snapshot", text);
	}
	if (ret) {
		free(v);
		return bs_fail_errno(-ret, "snapshot %s: cannot read its state", text);
	}
	if (!v) {
		v = bs_calloc(1, sizeof(*v));
		if (!v)
			return -1;
	}
	*images = v;
	return 0;
}

const char *blksnap_snapshot_state_name(uint32_t state)
{
	switch (state) {
	case BLKSNAP_SNAPSHOT_CREATED:
		return "created";
	case BLKSNAP_SNAPSHOT_TAKEN:
		return "taken";
	case BLKSNAP_SNAPSHOT_CORRUPTED:
		return "corrupted";
	default:
		return "unknown";
	}
}

/* The origin's device number from /sys/dev/block/MAJ:MIN/origin/dev. */
static int image_origin(dev_t image, dev_t *origin)
{
	unsigned int mj, mn;
	char sys[96];
	FILE *f;
	int n;

	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/origin/dev",
		 major(image), minor(image));
	f = fopen(sys, "r");
	if (!f)
		return 0;
	n = fscanf(f, "%u:%u", &mj, &mn);
	fclose(f);
	if (n != 2)
		return bs_fail("%s: unreadable", sys);
	*origin = makedev(mj, mn);
	return 1;
}

int blksnap_image_cbt(const char *path, char generation[37], uint32_t *snapshot)
{
	struct blksnap_cbt_info info;
	struct stat st;
	dev_t origin = 0;
	int fd, ret;

	if (stat(path, &st) < 0 || !S_ISBLK(st.st_mode))
		return 0;
	ret = image_origin(st.st_rdev, &origin);
	if (ret <= 0)
		return ret;
	fd = blksnap_ctl_open();
	if (fd < 0)
		return bs_fail_errno(-fd, "%s: a snapshot image, but its change tracking cannot be read: %s",
				     path, BLKSNAP_CTL_PATH);
	ret = blksnap_ctl_cbt_info(fd, origin, &info);
	blksnap_ctl_close(fd);
	if (ret)
		return bs_fail_errno(-ret, "%s: the change tracking of its origin %u:%u",
				     path, major(origin), minor(origin));
	/*
	 * The take advanced the number: the map frozen then, and this
	 * image, are of the number before.
	 */
	*snapshot = info.snap_number - 1;
	blksnap_ctl_snapshot_id_format(info.generation_id, generation);
	return 1;
}
