// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control device /dev/blksnap-control and its ioctls.
 *
 * Every ioctl needs CAP_SYS_ADMIN and runs under blksnap_ctl_lock, so the
 * trackers and snapshots it uses cannot go away meanwhile; only the event
 * wait runs without it (it takes it briefly to find the snapshot). Input
 * structures are copied in whole, reserved fields must be zero and every
 * count is bounded.
 */
#include "blksnap.h"
#include <linux/blkdev.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/blksnap.h>
#include "cbt.h"
#include "hook.h"
#include "snapshot.h"
#include "tracker.h"
#include "ctrl.h"

static int ctrl_dev(const struct blksnap_dev *d, dev_t *dev)
{
	if (d->mj >= (1u << (32 - MINORBITS)) || d->mn > MINORMASK)
		return -EINVAL;
	*dev = MKDEV(d->mj, d->mn);
	return 0;
}

static int ioctl_version(void __user *arg)
{
	struct blksnap_version v = {
		.major = BLKSNAP_VERSION_MAJOR,
		.minor = BLKSNAP_VERSION_MINOR,
		.revision = BLKSNAP_REVISION,
		.features = BLKSNAP_FEATURE_CBT_LOAD | BLKSNAP_FEATURE_TAKE_TIMES |
			    BLKSNAP_FEATURE_CBT_FINE,
	};

	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static int ioctl_tracker(void __user *arg, bool attach)
{
	struct blksnap_tracker_dev in;
	dev_t dev;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.flags || in.reserved)
		return -EINVAL;
	ret = ctrl_dev(&in.dev, &dev);
	if (ret)
		return ret;
	if (!attach)
		return tracker_detach(dev);
	ret = tracker_attach(dev);
	if (ret)
		return ret;
	/* The filter calls that missed the new tracker, then their writes. */
	hook_synchronize_attach();
	tracker_settle(tracker_find(dev));
	return 0;
}

static int list_copy_out(u64 uaddr, const dev_t *devs, unsigned int n)
{
	struct blksnap_dev __user *out = u64_to_user_ptr(uaddr);
	struct blksnap_dev d;
	unsigned int i;

	for (i = 0; i < n; i++) {
		d.mj = MAJOR(devs[i]);
		d.mn = MINOR(devs[i]);
		if (copy_to_user(out + i, &d, sizeof(d)))
			return -EFAULT;
	}
	return 0;
}

static int ioctl_tracker_list(void __user *arg)
{
	struct blksnap_tracker_list in;
	unsigned int total;
	dev_t *devs;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.reserved || in.count > BLKSNAP_MAX_TRACKERS)
		return -EINVAL;

	devs = kcalloc(max(in.count, 1u), sizeof(*devs), GFP_KERNEL);
	if (!devs)
		return -ENOMEM;
	tracker_list(devs, in.count, &total);
	ret = list_copy_out(in.devs, devs, min(in.count, total));
	kfree(devs);
	if (ret)
		return ret;
	in.count = total;
	return copy_to_user(arg, &in, sizeof(in)) ? -EFAULT : 0;
}

/* Find the tracker of @d and bring its map up to date with the size. */
static int ctrl_tracker(const struct blksnap_dev *d, struct tracker **trp)
{
	struct tracker *tr;
	dev_t dev;
	int ret;

	ret = ctrl_dev(d, &dev);
	if (ret)
		return ret;
	tr = tracker_find(dev);
	if (!tr)
		return -ENOENT;
	ret = tracker_refresh(tr);
	if (ret)
		return ret;
	*trp = tr;
	return 0;
}

static void cbt_info_fill(struct tracker *tr, struct blksnap_cbt_info *info)
{
	struct cbt_map *cbt = tracker_map_lock(tr);

	info->block_size = cbt_map_block_bytes(cbt);
	info->block_count = cbt->blk_count;
	info->device_capacity = cbt->capacity;
	info->snap_number = READ_ONCE(cbt->snap_number);
	memcpy(info->generation_id, &cbt->generation,
	       sizeof(info->generation_id));
	tracker_map_unlock(tr);
}

static int ioctl_cbt_state(void __user *arg)
{
	struct blksnap_cbt_state in;
	struct tracker_state st;
	struct tracker *tr;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.info.reserved || in.reserved ||
	    memchr_inv(in.reserved2, 0, sizeof(in.reserved2)))
		return -EINVAL;
	ret = ctrl_tracker(&in.info.dev, &tr);
	if (ret)
		return ret;
	ret = tracker_state(tr, &st);
	if (ret)
		return ret;
	cbt_info_fill(tr, &in.info);
	in.flags = (st.no_iostat ? BLKSNAP_CBT_STATE_NO_IOSTAT : 0) |
		   (st.loaded ? BLKSNAP_CBT_STATE_LOADED : 0);
	in.writes_at_attach = st.writes_at_attach;
	in.writes_now = st.writes_now;
	in.diskseq = st.diskseq;
	return copy_to_user(arg, &in, sizeof(in)) ? -EFAULT : 0;
}

/* Copy a saved map of @count bytes from user space. */
static u8 *cbt_map_copy_in(u64 uaddr, u64 count)
{
	u8 *map = kvmalloc(count, GFP_KERNEL);

	if (!map)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(map, u64_to_user_ptr(uaddr), count)) {
		kvfree(map);
		return ERR_PTR(-EFAULT);
	}
	return map;
}

static int ioctl_cbt_load(void __user *arg)
{
	struct blksnap_cbt_load in;
	struct cbt_history h;
	struct tracker *tr;
	u8 *map, *snap_map;
	u64 count;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.flags || in.reserved ||
	    memchr_inv(in.reserved2, 0, sizeof(in.reserved2)) ||
	    !in.snap_number || in.snap_number > 255)
		return -EINVAL;
	ret = ctrl_tracker(&in.dev, &tr);
	if (ret)
		return ret;
	/* Bound the copies by the tracker's own map before allocating. */
	count = tracker_map_lock(tr)->blk_count;
	tracker_map_unlock(tr);
	if (in.block_count != count)
		return -ERANGE;

	map = cbt_map_copy_in(in.map, count);
	if (IS_ERR(map))
		return PTR_ERR(map);
	snap_map = cbt_map_copy_in(in.snap_map, count);
	if (IS_ERR(snap_map)) {
		ret = PTR_ERR(snap_map);
		goto out_map;
	}
	h = (struct cbt_history) {
		.capacity = in.device_capacity,
		.block_size = in.block_size,
		.block_count = in.block_count,
		.snap_number = in.snap_number,
		.map = map,
		.snap_map = snap_map,
	};
	import_uuid(&h.generation, in.generation_id);
	ret = tracker_load(tr, &h, in.writes_expected);
	kvfree(snap_map);
out_map:
	kvfree(map);
	return ret;
}

static int ioctl_cbt_info(void __user *arg)
{
	struct blksnap_cbt_info in;
	struct tracker *tr;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.reserved)
		return -EINVAL;
	ret = ctrl_tracker(&in.dev, &tr);
	if (ret)
		return ret;
	cbt_info_fill(tr, &in);
	return copy_to_user(arg, &in, sizeof(in)) ? -EFAULT : 0;
}

/* Context: the tracker's map locked (tracker_map_lock()). */
static int cbt_map_copy_out(struct cbt_map *cbt, struct blksnap_cbt_map *in)
{
	const u8 *src;

	if (in->offset > cbt->blk_count ||
	    in->length > cbt->blk_count - in->offset)
		return -ERANGE;
	src = (in->flags & BLKSNAP_CBT_MAP_CURRENT) ? cbt->map : cbt->snap_map;
	if (copy_to_user(u64_to_user_ptr(in->buff), src + in->offset,
			 in->length))
		return -EFAULT;
	memcpy(in->generation_id, &cbt->generation,
	       sizeof(in->generation_id));
	return 0;
}

static int ioctl_cbt_map(void __user *arg)
{
	struct blksnap_cbt_map in;
	struct tracker *tr;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.reserved || (in.flags & ~BLKSNAP_CBT_MAP_CURRENT) ||
	    in.length > BLKSNAP_MAX_MAP_CHUNK)
		return -EINVAL;
	ret = ctrl_tracker(&in.dev, &tr);
	if (ret)
		return ret;

	ret = cbt_map_copy_out(tracker_map_lock(tr), &in);
	tracker_map_unlock(tr);
	if (ret)
		return ret;
	return copy_to_user(arg, &in, sizeof(in)) ? -EFAULT : 0;
}

static int ioctl_cbt_fine(void __user *arg)
{
	struct blksnap_cbt_fine in;
	struct blksnap_cbt_fine_entry *entries;
	struct cbt_map *cbt;
	struct tracker *tr;
	unsigned int filled;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.reserved || (in.flags & ~BLKSNAP_CBT_MAP_CURRENT) ||
	    !in.count || in.count > BLKSNAP_MAX_FINE_ENTRIES)
		return -EINVAL;
	ret = ctrl_tracker(&in.dev, &tr);
	if (ret)
		return ret;
	entries = kvcalloc(in.count, sizeof(*entries), GFP_KERNEL);
	if (!entries)
		return -ENOMEM;

	cbt = tracker_map_lock(tr);
	if (in.start > cbt->blk_count) {
		tracker_map_unlock(tr);
		ret = -ERANGE;
		goto out;
	}
	filled = cbt_map_read_fine(cbt, in.flags & BLKSNAP_CBT_MAP_CURRENT,
				   in.start, entries, in.count, &in.next);
	in.sub_size = cbt_map_sub_bytes(cbt);
	in.snap_number = READ_ONCE(cbt->snap_number);
	memcpy(in.generation_id, &cbt->generation, sizeof(in.generation_id));
	tracker_map_unlock(tr);

	in.count = filled;
	if (copy_to_user(u64_to_user_ptr(in.entries), entries,
			 array_size(filled, sizeof(*entries))) ||
	    copy_to_user(arg, &in, sizeof(in)))
		ret = -EFAULT;
out:
	kvfree(entries);
	return ret;
}

/* Validate all ranges, then mark them. Context: the map locked. */
static int cbt_mark_ranges(struct cbt_map *cbt,
			   const struct blksnap_sectors *r, u32 count)
{
	u32 i;

	for (i = 0; i < count; i++) {
		if (!r[i].count || r[i].offset >= cbt->capacity ||
		    r[i].count > cbt->capacity - r[i].offset)
			return -ERANGE;
	}
	for (i = 0; i < count; i++)
		cbt_map_mark(cbt, r[i].offset, r[i].count);
	return 0;
}

static int ioctl_cbt_dirty(void __user *arg)
{
	struct blksnap_cbt_dirty in;
	struct blksnap_sectors *ranges;
	struct tracker *tr;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.reserved || !in.count || in.count > BLKSNAP_MAX_DIRTY_RANGES)
		return -EINVAL;
	ret = ctrl_tracker(&in.dev, &tr);
	if (ret)
		return ret;

	ranges = kvmalloc_array(in.count, sizeof(*ranges), GFP_KERNEL);
	if (!ranges)
		return -ENOMEM;
	if (copy_from_user(ranges, u64_to_user_ptr(in.ranges),
			   array_size(in.count, sizeof(*ranges)))) {
		ret = -EFAULT;
		goto out;
	}
	ret = cbt_mark_ranges(tracker_map_lock(tr), ranges, in.count);
	tracker_map_unlock(tr);
out:
	kvfree(ranges);
	return ret;
}

static int ioctl_snapshot_create(void __user *arg)
{
	struct blksnap_snapshot_create in;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.flags || in.reserved[0] || in.reserved[1])
		return -EINVAL;
	ret = snapshot_create(&in);
	if (ret)
		return ret;
	if (copy_to_user(arg, &in, sizeof(in))) {
		snapshot_destroy(in.id);
		return -EFAULT;
	}
	return 0;
}

static int ioctl_snapshot_add(void __user *arg)
{
	struct blksnap_snapshot_add in;
	dev_t dev;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.flags || in.reserved)
		return -EINVAL;
	ret = ctrl_dev(&in.dev, &dev);
	if (ret)
		return ret;
	return snapshot_add(in.id, dev);
}

static int ioctl_snapshot_id(void __user *arg, bool take)
{
	struct blksnap_snapshot_id in;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.reserved)
		return -EINVAL;
	return take ? snapshot_take(in.id) : snapshot_destroy(in.id);
}

static int ioctl_snapshot_append(void __user *arg)
{
	struct blksnap_snapshot_append in;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.flags || in.reserved)
		return -EINVAL;
	return snapshot_append(in.id, in.storage_fd, in.storage_limit);
}

static int ioctl_snapshot_list(void __user *arg)
{
	struct blksnap_snapshot_list in;
	unsigned int total;
	u8 *ids;
	int ret = 0;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.reserved || in.count > BLKSNAP_MAX_SNAPSHOTS)
		return -EINVAL;
	ids = kcalloc(max(in.count, 1u), BLKSNAP_UUID_SIZE, GFP_KERNEL);
	if (!ids)
		return -ENOMEM;
	snapshot_list(ids, in.count, &total);
	if (copy_to_user(u64_to_user_ptr(in.ids), ids,
			 min(in.count, total) * BLKSNAP_UUID_SIZE))
		ret = -EFAULT;
	kfree(ids);
	if (ret)
		return ret;
	in.count = total;
	return copy_to_user(arg, &in, sizeof(in)) ? -EFAULT : 0;
}

static int ioctl_snapshot_info(void __user *arg)
{
	struct blksnap_snapshot_info in;
	struct blksnap_image *images;
	unsigned int cap;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.reserved[0] || in.reserved[1] ||
	    in.image_count > BLKSNAP_MAX_SNAPSHOT_DEVICES)
		return -EINVAL;
	cap = in.image_count;
	images = kcalloc(max(cap, 1u), sizeof(*images), GFP_KERNEL);
	if (!images)
		return -ENOMEM;
	ret = snapshot_info(&in, images);
	if (!ret && copy_to_user(u64_to_user_ptr(in.images), images,
				 min(cap, in.image_count) * sizeof(*images)))
		ret = -EFAULT;
	kfree(images);
	if (ret)
		return ret;
	return copy_to_user(arg, &in, sizeof(in)) ? -EFAULT : 0;
}

static int ioctl_take_times(void __user *arg)
{
	struct blksnap_take_times t;
	int ret;

	if (copy_from_user(&t, arg, sizeof(t)))
		return -EFAULT;
	if (t.flags)
		return -EINVAL;
	ret = snapshot_take_times(&t);
	if (ret)
		return ret;
	return copy_to_user(arg, &t, sizeof(t)) ? -EFAULT : 0;
}

/* Context: blksnap_ctl_lock not held. */
static int ioctl_snapshot_wait(void __user *arg)
{
	struct blksnap_event in;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.reserved0 || in.reserved[0] || in.reserved[1])
		return -EINVAL;
	ret = snapshot_wait_event(&in);
	if (ret)
		return ret;
	return copy_to_user(arg, &in, sizeof(in)) ? -EFAULT : 0;
}

static long ctrl_dispatch(unsigned int cmd, void __user *arg)
{
	switch (cmd) {
	case BLKSNAP_IOCTL_TRACKER_ATTACH:
		return ioctl_tracker(arg, true);
	case BLKSNAP_IOCTL_TRACKER_DETACH:
		return ioctl_tracker(arg, false);
	case BLKSNAP_IOCTL_TRACKER_LIST:
		return ioctl_tracker_list(arg);
	case BLKSNAP_IOCTL_CBT_INFO:
		return ioctl_cbt_info(arg);
	case BLKSNAP_IOCTL_CBT_MAP:
		return ioctl_cbt_map(arg);
	case BLKSNAP_IOCTL_CBT_DIRTY:
		return ioctl_cbt_dirty(arg);
	case BLKSNAP_IOCTL_CBT_STATE:
		return ioctl_cbt_state(arg);
	case BLKSNAP_IOCTL_CBT_LOAD:
		return ioctl_cbt_load(arg);
	case BLKSNAP_IOCTL_CBT_FINE:
		return ioctl_cbt_fine(arg);
	case BLKSNAP_IOCTL_SNAPSHOT_CREATE:
		return ioctl_snapshot_create(arg);
	case BLKSNAP_IOCTL_SNAPSHOT_ADD:
		return ioctl_snapshot_add(arg);
	case BLKSNAP_IOCTL_SNAPSHOT_TAKE:
		return ioctl_snapshot_id(arg, true);
	case BLKSNAP_IOCTL_SNAPSHOT_DESTROY:
		return ioctl_snapshot_id(arg, false);
	case BLKSNAP_IOCTL_SNAPSHOT_LIST:
		return ioctl_snapshot_list(arg);
	case BLKSNAP_IOCTL_SNAPSHOT_INFO:
		return ioctl_snapshot_info(arg);
	case BLKSNAP_IOCTL_SNAPSHOT_TAKE_TIMES:
		return ioctl_take_times(arg);
	case BLKSNAP_IOCTL_SNAPSHOT_APPEND:
		return ioctl_snapshot_append(arg);
	default:
		return -ENOTTY;
	}
}

static long ctrl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (cmd == BLKSNAP_IOCTL_VERSION)
		return ioctl_version(uarg);
	if (cmd == BLKSNAP_IOCTL_SNAPSHOT_WAIT_EVENT)
		return ioctl_snapshot_wait(uarg);

	mutex_lock(&blksnap_ctl_lock);
	ret = ctrl_dispatch(cmd, uarg);
	mutex_unlock(&blksnap_ctl_lock);
	return ret;
}

static int ctrl_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return nonseekable_open(inode, file);
}

static const struct file_operations ctrl_fops = {
	.owner = THIS_MODULE,
	.open = ctrl_open,
	.unlocked_ioctl = ctrl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice ctrl_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = BLKSNAP_CTL_NAME,
	.fops = &ctrl_fops,
	.mode = 0600,
};

int ctrl_register(void)
{
	/* The same layout for 32- and 64-bit callers: no implicit padding. */
	BUILD_BUG_ON(sizeof(struct blksnap_version) != 16);
	BUILD_BUG_ON(sizeof(struct blksnap_tracker_dev) != 16);
	BUILD_BUG_ON(sizeof(struct blksnap_tracker_list) != 16);
	BUILD_BUG_ON(sizeof(struct blksnap_cbt_info) != 56);
	BUILD_BUG_ON(sizeof(struct blksnap_cbt_map) != 56);
	BUILD_BUG_ON(sizeof(struct blksnap_sectors) != 16);
	BUILD_BUG_ON(sizeof(struct blksnap_cbt_dirty) != 24);
	BUILD_BUG_ON(sizeof(struct blksnap_cbt_state) != 112);
	BUILD_BUG_ON(sizeof(struct blksnap_cbt_load) != 96);
	BUILD_BUG_ON(sizeof(struct blksnap_snapshot_create) != 56);
	BUILD_BUG_ON(sizeof(struct blksnap_snapshot_append) != 40);
	BUILD_BUG_ON(sizeof(struct blksnap_snapshot_add) != 32);
	BUILD_BUG_ON(sizeof(struct blksnap_snapshot_id) != 24);
	BUILD_BUG_ON(sizeof(struct blksnap_snapshot_list) != 16);
	BUILD_BUG_ON(sizeof(struct blksnap_image) != 48);
	BUILD_BUG_ON(sizeof(struct blksnap_snapshot_info) != 80);
	BUILD_BUG_ON(sizeof(struct blksnap_take_times) != 152);
	BUILD_BUG_ON(sizeof(struct blksnap_event) != 80);
	return misc_register(&ctrl_misc);
}

void ctrl_unregister(void)
{
	misc_deregister(&ctrl_misc);
}
