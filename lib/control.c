// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libblksnap: C wrappers for the ioctls of /dev/blksnap-control.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <blksnap/control.h>
#include "internal.h"

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

int blksnap_ctl_cbt_state(int fd, dev_t dev, struct blksnap_cbt_state *state)
{
	memset(state, 0, sizeof(*state));
	to_blksnap_dev(dev, &state->info.dev);
	return ctl_ioctl(fd, BLKSNAP_IOCTL_CBT_STATE, state);
}

int blksnap_ctl_cbt_load(int fd, struct blksnap_cbt_load *load)
{
	load->flags = 0;
	load->reserved = 0;
	memset(load->reserved2, 0, sizeof(load->reserved2));
	return ctl_ioctl(fd, BLKSNAP_IOCTL_CBT_LOAD, load);
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

int blksnap_ctl_cbt_read_fine(int fd, dev_t dev, unsigned int flags,
			      uint64_t block_count, uint32_t *sub_size,
			      uint32_t *snap_number,
			      struct blksnap_cbt_fine_entry **entries,
			      size_t *count, uint8_t *generation)
{
	struct blksnap_cbt_fine_entry *v = NULL;
	uint8_t first[BLKSNAP_UUID_SIZE];
	struct blksnap_cbt_fine arg;
	uint64_t start = 0;
	size_t n = 0, alloc = 0;
	bool any = false;
	int ret = 0;

	*entries = NULL;
	*count = 0;
	do {
		size_t room = BLKSNAP_MAX_FINE_ENTRIES, i;
		struct blksnap_cbt_fine_entry *p;

		/* Room for a whole call past what is kept: the module fills it. */
		if (n + room > alloc) {
			size_t want = alloc ? alloc * 2 : room;

			while (want < n + room)
				want *= 2;
			p = realloc(v, want * sizeof(*v));
			if (!p) {
				ret = -ENOMEM;
				break;
			}
			v = p;
			alloc = want;
		}
		memset(&arg, 0, sizeof(arg));
		to_blksnap_dev(dev, &arg.dev);
		arg.flags = flags;
		arg.start = start;
		arg.count = (uint32_t)room;
		arg.entries = (uintptr_t)(v + n);
		ret = ctl_ioctl(fd, BLKSNAP_IOCTL_CBT_FINE, &arg);
		if (ret == -ENOTTY)
			ret = -EOPNOTSUPP;
		if (ret)
			break;
		if (!any) {
			memcpy(first, arg.generation_id, sizeof(first));
			*sub_size = arg.sub_size;
			*snap_number = arg.snap_number;
			any = true;
		} else if (memcmp(first, arg.generation_id, sizeof(first)) ||
			   *snap_number != arg.snap_number ||
			   *sub_size != arg.sub_size) {
			ret = -ESTALE;
			break;
		}
		if (arg.sub_size < 512 || (arg.sub_size & (arg.sub_size - 1)) ||
		    arg.count > room || arg.next > block_count ||
		    (arg.next <= start && block_count > 0)) {
			ret = -EPROTO;
			break;
		}
		for (i = 0; i < arg.count && !ret; i++) {
			const struct blksnap_cbt_fine_entry *e = &v[n + i];

			if (e->block < start || e->block >= arg.next ||
			    (n + i && e->block <= v[n + i - 1].block))
				ret = -EPROTO;
		}
		if (ret)
			break;
		n += arg.count;
		start = arg.next;
	} while (start < block_count);

	if (ret || !n) {
		free(v);
		if (ret)
			return ret;
		v = NULL;
	}
	*entries = v;
	*count = n;
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

/* The storage checks shared by create and append (see control.h). */
static int check_storage(int storage_fd, uint64_t limit, uint64_t low_space)
{
	struct stat st;

	if (storage_fd < 0)
		return -EBADF;
	if (fstat(storage_fd, &st))
		return -errno;
	if (S_ISREG(st.st_mode))
		return limit && low_space <= limit ? 0 : -EINVAL;
	if (S_ISBLK(st.st_mode))
		return limit ? -EINVAL : 0;
	return -EINVAL;
}

int blksnap_ctl_snapshot_create(int fd, int storage_fd, uint64_t storage_limit,
				uint64_t low_space, uint8_t *id)
{
	struct blksnap_snapshot_create arg;
	int ret;

	if (!id)
		return -EINVAL;
	ret = check_storage(storage_fd, storage_limit, low_space);
	if (ret)
		return ret;
	memset(&arg, 0, sizeof(arg));
	arg.storage_fd = storage_fd;
	arg.storage_limit = storage_limit;
	arg.low_space = low_space;
	ret = ctl_ioctl(fd, BLKSNAP_IOCTL_SNAPSHOT_CREATE, &arg);
	if (!ret)
		memcpy(id, arg.id, BLKSNAP_UUID_SIZE);
	return ret;
}

int blksnap_ctl_snapshot_add(int fd, const uint8_t *id, dev_t dev)
{
	struct blksnap_snapshot_add arg;

	if (!id)
		return -EINVAL;
	memset(&arg, 0, sizeof(arg));
	memcpy(arg.id, id, BLKSNAP_UUID_SIZE);
	to_blksnap_dev(dev, &arg.dev);
	return ctl_ioctl(fd, BLKSNAP_IOCTL_SNAPSHOT_ADD, &arg);
}

static int snapshot_id_cmd(int fd, unsigned long cmd, const uint8_t *id)
{
	struct blksnap_snapshot_id arg;

	if (!id)
		return -EINVAL;
	memset(&arg, 0, sizeof(arg));
	memcpy(arg.id, id, BLKSNAP_UUID_SIZE);
	return ctl_ioctl(fd, cmd, &arg);
}

int blksnap_ctl_snapshot_take(int fd, const uint8_t *id)
{
	return snapshot_id_cmd(fd, BLKSNAP_IOCTL_SNAPSHOT_TAKE, id);
}

int blksnap_ctl_snapshot_destroy(int fd, const uint8_t *id)
{
	return snapshot_id_cmd(fd, BLKSNAP_IOCTL_SNAPSHOT_DESTROY, id);
}

int blksnap_ctl_snapshot_list(int fd, uint8_t (*ids)[BLKSNAP_UUID_SIZE],
			      unsigned int max, unsigned int *total)
{
	struct blksnap_snapshot_list arg;
	int ret;

	if (max > BLKSNAP_MAX_SNAPSHOTS || (max && !ids) || !total)
		return -EINVAL;
	memset(&arg, 0, sizeof(arg));
	arg.ids = (uintptr_t)ids;
	arg.count = max;
	ret = ctl_ioctl(fd, BLKSNAP_IOCTL_SNAPSHOT_LIST, &arg);
	if (!ret)
		*total = arg.count;
	return ret;
}

int blksnap_ctl_snapshot_info(int fd, const uint8_t *id,
			      struct blksnap_snapshot_info *info,
			      struct blksnap_image *images, unsigned int max)
{
	int ret;

	if (!id || !info || max > BLKSNAP_MAX_SNAPSHOT_DEVICES ||
	    (max && !images))
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	memcpy(info->id, id, BLKSNAP_UUID_SIZE);
	info->images = (uintptr_t)images;
	info->image_count = max;
	ret = ctl_ioctl(fd, BLKSNAP_IOCTL_SNAPSHOT_INFO, info);
	info->images = 0;
	if (!ret) {
		unsigned int i, n = info->image_count < max ?
				    info->image_count : max;

		/* Never hand out an unterminated name. */
		for (i = 0; i < n; i++)
			images[i].name[BLKSNAP_IMAGE_NAME_SIZE - 1] = '\0';
	}
	return ret;
}

int blksnap_ctl_snapshot_take_times(int fd, const uint8_t *id,
				    struct blksnap_take_times *t)
{
	int ret;

	if (!id || !t)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	memcpy(t->id, id, BLKSNAP_UUID_SIZE);
	ret = ctl_ioctl(fd, BLKSNAP_IOCTL_SNAPSHOT_TAKE_TIMES, t);
	if (ret == -ENOTTY)
		return -EOPNOTSUPP;
	if (!ret && t->count > BLKSNAP_TAKE_MAX_PHASES)
		t->count = BLKSNAP_TAKE_MAX_PHASES;
	return ret;
}

int blksnap_ctl_snapshot_append(int fd, const uint8_t *id, int storage_fd,
				uint64_t storage_limit)
{
	struct blksnap_snapshot_append arg;
	int ret;

	if (!id)
		return -EINVAL;
	ret = check_storage(storage_fd, storage_limit, 0);
	if (ret)
		return ret;
	memset(&arg, 0, sizeof(arg));
	memcpy(arg.id, id, BLKSNAP_UUID_SIZE);
	arg.storage_fd = storage_fd;
	arg.storage_limit = storage_limit;
	return ctl_ioctl(fd, BLKSNAP_IOCTL_SNAPSHOT_APPEND, &arg);
}

int blksnap_ctl_snapshot_wait_event(int fd, const uint8_t *id,
				    uint32_t timeout_ms,
				    struct blksnap_event *ev)
{
	if (!id || !ev)
		return -EINVAL;
	memset(ev, 0, sizeof(*ev));
	memcpy(ev->id, id, BLKSNAP_UUID_SIZE);
	ev->timeout_ms = timeout_ms;
	return ctl_ioctl(fd, BLKSNAP_IOCTL_SNAPSHOT_WAIT_EVENT, ev);
}

char *blksnap_ctl_snapshot_id_format(const uint8_t *id, char *buf)
{
	bs_uuid_format(id, buf);
	return buf;
}

int blksnap_ctl_snapshot_id_parse(const char *text, uint8_t *id)
{
	uint8_t out[BLKSNAP_UUID_SIZE];
	int i, hi, lo;

	if (!text || strlen(text) != BLKSNAP_SNAPSHOT_ID_TEXT - 1)
		return -EINVAL;
	for (i = 0; i < BLKSNAP_UUID_SIZE; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			if (*text++ != '-')
				return -EINVAL;
		}
		hi = bs_hex_digit(text[0]);
		lo = bs_hex_digit(text[1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
		text += 2;
	}
	memcpy(id, out, sizeof(out));
	return 0;
}
