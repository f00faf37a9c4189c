// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libblksnap: C wrappers for the ioctls of /dev/blksnap-control.
 */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <blksnap/control.h>

static int ctl_ioctl(int fd, unsigned long cmd, void *arg)
{
	if (ioctl(fd, cmd, arg) < 0)
		return -errno;
	return 0;
}

static void to_blksnap_dev(dev_t dev, struct blksnap_dev *out)
{
	out->mj = major(dev);
	out->mn = minor(dev);
}

int blksnap_ctl_open(void)
{
	int fd = open(BLKSNAP_CTL_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int blksnap_ctl_close(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

int blksnap_ctl_version(int fd, struct blksnap_version *ver)
{
	memset(ver, 0, sizeof(*ver));
	return ctl_ioctl(fd, BLKSNAP_IOCTL_VERSION, ver);
}

int blksnap_ctl_check_version(int fd)
{
	struct blksnap_version ver;
	int ret = blksnap_ctl_version(fd, &ver);

	if (ret)
		return ret;
	return ver.major == BLKSNAP_VERSION_MAJOR ? 0 : -EPROTO;
}

static int tracker_cmd(int fd, unsigned long cmd, dev_t dev)
{
	struct blksnap_tracker_dev arg;

	memset(&arg, 0, sizeof(arg));
	to_blksnap_dev(dev, &arg.dev);
	return ctl_ioctl(fd, cmd, &arg);
}

int blksnap_ctl_tracker_attach(int fd, dev_t dev)
{
	return tracker_cmd(fd, BLKSNAP_IOCTL_TRACKER_ATTACH, dev);
}

int blksnap_ctl_tracker_detach(int fd, dev_t dev)
{
	return tracker_cmd(fd, BLKSNAP_IOCTL_TRACKER_DETACH, dev);
}

int blksnap_ctl_tracker_list(int fd, dev_t *devs, unsigned int max,
			 unsigned int *total)
{
	struct blksnap_dev raw[256];
	struct blksnap_tracker_list arg;
	struct blksnap_dev *buf = raw;
	unsigned int i, n;
	int ret;

	if (max > BLKSNAP_MAX_TRACKERS)
		return -EINVAL;
	if (max > sizeof(raw) / sizeof(raw[0])) {
		buf = calloc(max, sizeof(*buf));
		if (!buf)
			return -ENOMEM;
	}
	memset(&arg, 0, sizeof(arg));
	arg.devs = (uintptr_t)buf;
	arg.count = max;
	ret = ctl_ioctl(fd, BLKSNAP_IOCTL_TRACKER_LIST, &arg);
	if (!ret) {
		n = arg.count < max ? arg.count : max;
		for (i = 0; i < n; i++)
			devs[i] = makedev(buf[i].mj, buf[i].mn);
		*total = arg.count;
	}
	if (buf != raw)
		free(buf);
	return ret;
}

int blksnap_ctl_cbt_info(int fd, dev_t dev, struct blksnap_cbt_info *info)
{
	memset(info, 0, sizeof(*info));
	to_blksnap_dev(dev, &info->dev);
	return ctl_ioctl(fd, BLKSNAP_IOCTL_CBT_INFO, info);
}

int blksnap_ctl_cbt_read_map(int fd, dev_t dev, unsigned int flags, uint64_t offset,
		     void *buf, size_t len, uint8_t *generation)
{
	struct blksnap_cbt_map arg;
	uint8_t first[BLKSNAP_UUID_SIZE];
	size_t done = 0;
	int ret;

	do {
		size_t chunk = len - done;

		if (chunk > BLKSNAP_MAX_MAP_CHUNK)
			chunk = BLKSNAP_MAX_MAP_CHUNK;
		memset(&arg, 0, sizeof(arg));
		to_blksnap_dev(dev, &arg.dev);
		arg.flags = flags;
		arg.offset = offset + done;
		arg.length = chunk;
		arg.buff = (uintptr_t)((uint8_t *)buf + done);
		ret = ctl_ioctl(fd, BLKSNAP_IOCTL_CBT_MAP, &arg);
		if (ret)
			return ret;
		if (done == 0)
			memcpy(first, arg.generation_id, sizeof(first));
		else if (memcmp(first, arg.generation_id, sizeof(first)))
			return -ESTALE;
		done += chunk;
	} while (done < len);

	if (generation)
		memcpy(generation, first, sizeof(first));
	return 0;
}

int blksnap_ctl_cbt_mark_dirty(int fd, dev_t dev,
			   const struct blksnap_sectors *ranges, size_t count)
{
	struct blksnap_cbt_dirty arg;
	size_t done = 0;
	int ret;

	while (done < count) {
		size_t chunk = count - done;

		if (chunk > BLKSNAP_MAX_DIRTY_RANGES)
			chunk = BLKSNAP_MAX_DIRTY_RANGES;
		memset(&arg, 0, sizeof(arg));
		to_blksnap_dev(dev, &arg.dev);
		arg.count = (uint32_t)chunk;
		arg.ranges = (uintptr_t)(ranges + done);
		ret = ctl_ioctl(fd, BLKSNAP_IOCTL_CBT_DIRTY, &arg);
		if (ret)
			return ret;
		done += chunk;
	}
	return 0;
}
