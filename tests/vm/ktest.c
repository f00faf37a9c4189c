// SPDX-License-Identifier: GPL-2.0-only
/*
 * ktest: drive /dev/blksnap-control from the kernel tests in the VM.
 *
 *   ktest version | list
 *   ktest attach|detach|info|map DEV
 *   ktest mark DEV SECTOR COUNT
 *   ktest pwrite DEV BS OFFSET...   (O_DIRECT writes of BS bytes)
 *   ktest hostile DEV               (bad arguments; DEV must be untracked)
 *   ktest nocap                     (calls without CAP_SYS_ADMIN)
 *
 * Exit status 0 on success; diagnostics go to stderr prefixed with "# ".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <blksnap/control.h>

static int failures;

static void fail(const char *fmt, const char *what, long got, long want)
{
	fprintf(stderr, fmt, what, got, want);
	failures++;
}

static dev_t dev_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) || !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "# %s: not a block device\n", path);
		exit(2);
	}
	return st.st_rdev;
}

static int ctl(void)
{
	int fd = blksnap_ctl_open();

	if (fd < 0) {
		fprintf(stderr, "# open %s: %s\n", BLKSNAP_CTL_PATH,
			strerror(-fd));
		exit(2);
	}
	return fd;
}

static int check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "# %s: %s\n", what, strerror(-ret));
		exit(1);
	}
	return ret;
}

static int cmd_info(int fd, dev_t dev)
{
	struct blksnap_cbt_info info;
	int i;

	check(blksnap_ctl_cbt_info(fd, dev, &info), "cbt info");
	printf("block_size=%u block_count=%" PRIu64 " capacity=%" PRIu64
	       " snap=%u gen=", info.block_size, (uint64_t)info.block_count,
	       (uint64_t)info.device_capacity, info.snap_number);
	for (i = 0; i < BLKSNAP_UUID_SIZE; i++)
		printf("%02x", info.generation_id[i]);
	printf("\n");
	return 0;
}

static int cmd_map(int fd, dev_t dev)
{
	struct blksnap_cbt_info info;
	uint8_t *map;
	uint64_t i;

	check(blksnap_ctl_cbt_info(fd, dev, &info), "cbt info");
	map = malloc(info.block_count);
	if (!map)
		return 1;
	check(blksnap_ctl_cbt_read_map(fd, dev, BLKSNAP_CBT_MAP_CURRENT, 0, map,
			       info.block_count, NULL), "cbt read");
	for (i = 0; i < info.block_count; i++)
		if (map[i])
			printf("%" PRIu64 " %u\n", i, map[i]);
	free(map);
	return 0;
}

static int cmd_list(int fd)
{
	dev_t devs[BLKSNAP_MAX_TRACKERS];
	unsigned int total, i;

	check(blksnap_ctl_tracker_list(fd, devs, BLKSNAP_MAX_TRACKERS, &total),
	      "list");
	for (i = 0; i < total && i < BLKSNAP_MAX_TRACKERS; i++)
		printf("%u:%u\n", major(devs[i]), minor(devs[i]));
	return 0;
}

static int cmd_pwrite(const char *path, int argc, char **argv)
{
	size_t bs = strtoull(argv[0], NULL, 0);
	void *buf;
	int fd, i;

	fd = open(path, O_WRONLY | O_DIRECT);
	if (fd < 0 || posix_memalign(&buf, 4096, bs))
		return 1;
	memset(buf, 0xa5, bs);
	for (i = 1; i < argc; i++) {
		off_t off = strtoull(argv[i], NULL, 0);

		if (pwrite(fd, buf, bs, off) != (ssize_t)bs) {
			perror("# pwrite");
			return 1;
		}
	}
	free(buf);
	return close(fd) ? 1 : 0;
}

/* Expect ioctl(fd, cmd, arg) to fail with errno want. */
static void expect(int fd, unsigned long cmd, void *arg, int want,
		   const char *what)
{
	int ret = ioctl(fd, cmd, arg);

	if (ret != -1 || errno != want)
		fail("# %s: got errno %ld, want %ld\n", what,
		     ret == -1 ? (long)errno : 0L, want);
}

static void hostile_pointers(int fd)
{
	static const unsigned long cmds[] = {
		BLKSNAP_IOCTL_VERSION, BLKSNAP_IOCTL_TRACKER_ATTACH,
		BLKSNAP_IOCTL_TRACKER_DETACH, BLKSNAP_IOCTL_TRACKER_LIST,
		BLKSNAP_IOCTL_CBT_INFO, BLKSNAP_IOCTL_CBT_MAP,
		BLKSNAP_IOCTL_CBT_DIRTY,
	};
	static void *const ptrs[] = {
		NULL, (void *)1, (void *)0xffff888000000000ul,
		(void *)0xffffffffffffff00ul,
	};
	size_t c, p;

	for (c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		for (p = 0; p < sizeof(ptrs) / sizeof(ptrs[0]); p++)
			expect(fd, cmds[c], ptrs[p], EFAULT, "bad pointer");
}

static void hostile_cmds(int fd)
{
	struct blksnap_cbt_info info;

	memset(&info, 0, sizeof(info));
	expect(fd, _IO(BLKSNAP_IOCTL_MAGIC, 0x7f), &info, ENOTTY,
	       "unknown command");
	expect(fd, _IOWR(BLKSNAP_IOCTL_MAGIC, 0x04, uint64_t), &info, ENOTTY,
	       "short size");
	expect(fd, _IOC(_IOC_READ | _IOC_WRITE, BLKSNAP_IOCTL_MAGIC, 0x04,
			sizeof(info) + 8), &info, ENOTTY, "long size");
	expect(fd, _IOWR('X', 0x04, struct blksnap_cbt_info), &info, ENOTTY,
	       "wrong magic");
	expect(fd, BLKSNAP_IOCTL_CBT_INFO & ~(unsigned long)_IOC_DIRMASK
	       << _IOC_DIRSHIFT, &info, ENOTTY, "wrong direction");
}

static void hostile_devs(int fd, dev_t dev)
{
	struct blksnap_tracker_dev t;
	struct blksnap_cbt_info info;

	memset(&t, 0, sizeof(t));
	t.dev.mj = 1u << 20;
	expect(fd, BLKSNAP_IOCTL_TRACKER_ATTACH, &t, EINVAL, "huge major");
	t.dev.mj = 4000;
	t.dev.mn = 12345;
	expect(fd, BLKSNAP_IOCTL_TRACKER_ATTACH, &t, ENXIO, "no such device");
	t.dev.mj = major(dev);
	t.dev.mn = minor(dev);
	t.flags = 1;
	expect(fd, BLKSNAP_IOCTL_TRACKER_ATTACH, &t, EINVAL, "attach flags");
	t.flags = 0;
	t.reserved = 1;
	expect(fd, BLKSNAP_IOCTL_TRACKER_ATTACH, &t, EINVAL, "attach reserved");
	t.reserved = 0;
	expect(fd, BLKSNAP_IOCTL_TRACKER_DETACH, &t, ENOENT, "detach untracked");
	memset(&info, 0, sizeof(info));
	info.dev = t.dev;
	expect(fd, BLKSNAP_IOCTL_CBT_INFO, &info, ENOENT, "info untracked");
	info.reserved = 1;
	expect(fd, BLKSNAP_IOCTL_CBT_INFO, &info, EINVAL, "info reserved");
}

static void hostile_list(int fd)
{
	struct blksnap_tracker_list l;

	memset(&l, 0, sizeof(l));
	l.count = 0x80000000u;
	expect(fd, BLKSNAP_IOCTL_TRACKER_LIST, &l, EINVAL, "list huge count");
	l.count = BLKSNAP_MAX_TRACKERS + 1;
	expect(fd, BLKSNAP_IOCTL_TRACKER_LIST, &l, EINVAL, "list count+1");
	l.count = BLKSNAP_MAX_TRACKERS;
	l.devs = 1;
	expect(fd, BLKSNAP_IOCTL_TRACKER_LIST, &l, EFAULT, "list bad buffer");
	l.count = 1;
	l.reserved = 7;
	expect(fd, BLKSNAP_IOCTL_TRACKER_LIST, &l, EINVAL, "list reserved");
}

static void hostile_map(int fd, dev_t dev, uint64_t count)
{
	struct blksnap_cbt_map m;
	static uint8_t buf[4096];

	memset(&m, 0, sizeof(m));
	m.dev.mj = major(dev);
	m.dev.mn = minor(dev);
	m.buff = (uintptr_t)buf;
	m.length = (uint64_t)1 << 40;
	expect(fd, BLKSNAP_IOCTL_CBT_MAP, &m, EINVAL, "map huge length");
	m.length = 16;
	m.offset = count;
	expect(fd, BLKSNAP_IOCTL_CBT_MAP, &m, ERANGE, "map past end");
	m.offset = ~(uint64_t)0;
	m.length = 2;
	expect(fd, BLKSNAP_IOCTL_CBT_MAP, &m, ERANGE, "map offset overflow");
	m.offset = count - 1;
	expect(fd, BLKSNAP_IOCTL_CBT_MAP, &m, ERANGE, "map one past end");
	m.offset = 0;
	m.buff = 0xffff888000000000ul;
	expect(fd, BLKSNAP_IOCTL_CBT_MAP, &m, EFAULT, "map kernel buffer");
	m.buff = (uintptr_t)buf;
	m.flags = 0x80;
	expect(fd, BLKSNAP_IOCTL_CBT_MAP, &m, EINVAL, "map flags");
	m.flags = 0;
	m.reserved = 1;
	expect(fd, BLKSNAP_IOCTL_CBT_MAP, &m, EINVAL, "map reserved");
}

static void hostile_dirty(int fd, dev_t dev, uint64_t capacity)
{
	struct blksnap_sectors r[2] = { { 0, 8 }, { 0, 8 } };
	struct blksnap_cbt_dirty d;

	memset(&d, 0, sizeof(d));
	d.dev.mj = major(dev);
	d.dev.mn = minor(dev);
	d.ranges = (uintptr_t)r;
	expect(fd, BLKSNAP_IOCTL_CBT_DIRTY, &d, EINVAL, "dirty zero count");
	d.count = 0xffffffffu;
	expect(fd, BLKSNAP_IOCTL_CBT_DIRTY, &d, EINVAL, "dirty huge count");
	d.count = BLKSNAP_MAX_DIRTY_RANGES;
	expect(fd, BLKSNAP_IOCTL_CBT_DIRTY, &d, EFAULT, "dirty short array");
	d.count = 2;
	r[1].offset = capacity;
	expect(fd, BLKSNAP_IOCTL_CBT_DIRTY, &d, ERANGE, "dirty past end");
	r[1].offset = 1;
	r[1].count = ~(uint64_t)0;
	expect(fd, BLKSNAP_IOCTL_CBT_DIRTY, &d, ERANGE, "dirty overflow");
	r[1].count = 0;
	expect(fd, BLKSNAP_IOCTL_CBT_DIRTY, &d, ERANGE, "dirty empty range");
	d.ranges = 0xffff888000000000ul;
	expect(fd, BLKSNAP_IOCTL_CBT_DIRTY, &d, EFAULT, "dirty kernel ptr");
}

/* Random structures for the read-only and marking commands. */
static void hostile_fuzz(int fd, dev_t dev)
{
	static const unsigned long cmds[] = {
		BLKSNAP_IOCTL_TRACKER_LIST, BLKSNAP_IOCTL_CBT_INFO,
		BLKSNAP_IOCTL_CBT_MAP, BLKSNAP_IOCTL_CBT_DIRTY,
	};
	uint32_t arg[32];
	int i, j;

	srand(1);
	for (i = 0; i < 20000; i++) {
		for (j = 0; j < 32; j++)
			arg[j] = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
		if (i & 1) {	/* aim at the tracked device */
			arg[0] = major(dev);
			arg[1] = minor(dev);
		}
		if (ioctl(fd, cmds[i % 4], arg) == -1 && errno == ENOSYS)
			failures++;
	}
}

static int cmd_hostile(int fd, dev_t dev)
{
	struct blksnap_cbt_info info;

	hostile_pointers(fd);
	hostile_cmds(fd);
	hostile_devs(fd, dev);
	check(blksnap_ctl_tracker_attach(fd, dev), "attach");
	hostile_list(fd);
	if (blksnap_ctl_tracker_attach(fd, dev) != -EALREADY)
		fail("# %s: %ld %ld\n", "attach twice not EALREADY", 0, 0);
	check(blksnap_ctl_cbt_info(fd, dev, &info), "info");
	hostile_map(fd, dev, info.block_count);
	hostile_dirty(fd, dev, info.device_capacity);
	hostile_fuzz(fd, dev);
	check(blksnap_ctl_tracker_detach(fd, dev), "detach");
	fprintf(stderr, "# hostile: %d failures\n", failures);
	return failures ? 1 : 0;
}

static int drop_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[0].effective &= ~(1u << CAP_SYS_ADMIN);
	data[0].permitted &= ~(1u << CAP_SYS_ADMIN);
	data[0].inheritable &= ~(1u << CAP_SYS_ADMIN);
	return (int)syscall(SYS_capset, &hdr, data);
}

static int cmd_nocap(void)
{
	struct blksnap_version ver;
	int fd = ctl(), fd2;

	if (drop_sys_admin()) {
		perror("# capset");
		return 1;
	}
	fd2 = blksnap_ctl_open();
	if (fd2 != -EPERM)
		fail("# %s: got %ld want %ld\n", "open without CAP_SYS_ADMIN",
		     fd2, -EPERM);
	if (blksnap_ctl_version(fd, &ver) != -EPERM)
		fail("# %s: %ld %ld\n", "ioctl without CAP_SYS_ADMIN", 0, 0);
	expect(fd, BLKSNAP_IOCTL_TRACKER_LIST, NULL, EPERM, "list no cap");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	struct blksnap_version ver;
	int fd;

	if (!strcmp(cmd, "pwrite") && argc > 4)
		return cmd_pwrite(argv[2], argc - 3, argv + 3);
	if (!strcmp(cmd, "nocap"))
		return cmd_nocap();
	fd = ctl();
	if (!strcmp(cmd, "version")) {
		check(blksnap_ctl_version(fd, &ver), "version");
		printf("%u.%u.%u\n", ver.major, ver.minor, ver.revision);
		return blksnap_ctl_check_version(fd) ? 1 : 0;
	}
	if (!strcmp(cmd, "list"))
		return cmd_list(fd);
	if (argc < 3) {
		fprintf(stderr, "# usage: see ktest.c\n");
		return 2;
	}
	if (!strcmp(cmd, "attach"))
		return check(blksnap_ctl_tracker_attach(fd, dev_of(argv[2])), cmd);
	if (!strcmp(cmd, "detach"))
		return check(blksnap_ctl_tracker_detach(fd, dev_of(argv[2])), cmd);
	if (!strcmp(cmd, "info"))
		return cmd_info(fd, dev_of(argv[2]));
	if (!strcmp(cmd, "map"))
		return cmd_map(fd, dev_of(argv[2]));
	if (!strcmp(cmd, "hostile"))
		return cmd_hostile(fd, dev_of(argv[2]));
	if (!strcmp(cmd, "mark") && argc == 5) {
		struct blksnap_sectors r = {
			strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0)
		};

		return check(blksnap_ctl_cbt_mark_dirty(fd, dev_of(argv[2]), &r, 1),
			     cmd);
	}
	fprintf(stderr, "# unknown command %s\n", cmd);
	return 2;
}
