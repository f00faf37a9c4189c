// SPDX-License-Identifier: GPL-2.0-only
/*
 * ktest: drive /dev/blksnap-control from the kernel tests in the VM.
 *
 *   ktest version | list
 *   ktest attach|detach|info|map DEV
 *   ktest mark DEV SECTOR COUNT
 *   ktest map DEV frozen            (the map frozen at the last snapshot)
 *   ktest fine DEV SINCE [frozen]   (the sub-blocks changed after snapshot
 *                                    SINCE, from the map and its detail:
 *                                    "SUB_SIZE" first, then one sub-block
 *                                    index a line, ascending)
 *   ktest cbt-state DEV             (the counts of BLKSNAP_IOCTL_CBT_STATE)
 *   ktest cbt-save DEV FILE         (the state and both maps, raw)
 *   ktest cbt-load DEV FILE [EXPECTED]  (load FILE; the writes the history
 *                                    accounts for: default the saved count)
 *   ktest cbt-load-hostile DEV FILE (malformed loads of FILE, a save of
 *                                    DEV, then a good one and a second)
 *   ktest pwrite DEV BS OFFSET...   (O_DIRECT writes of BS bytes)
 *   ktest hostile DEV               (bad arguments; DEV must be untracked)
 *   ktest nocap                     (calls without CAP_SYS_ADMIN)
 *   ktest snap-hostile DEV STORAGE  (bad snapshot calls; STORAGE a block
 *                                    device, neither in a snapshot)
 *
 * Snapshots (exit 1 with the errno text on error, 3 on an event timeout):
 *   ktest snap-create STORAGE LIMIT [LOW_SPACE]   (prints the id)
 *   ktest snap-add ID DEV | snap-take ID | snap-destroy ID | snap-list
 *   ktest snap-info ID | snap-image ID DEV | snap-append ID STORAGE LIMIT
 *   ktest snap-wait ID TIMEOUT_MS
 *
 * Data patterns for the snapshot tests (O_DIRECT, 512-byte sectors; every
 * sector of pattern SEED holds its own sector number, so a misplaced
 * sector is caught as well as a wrong one):
 *   ktest pattern-fill DEV SEED [BYTES]
 *   ktest pattern-write DEV SEED COUNT RNG REGION   (COUNT writes of mixed
 *         sizes at random sector offsets below REGION bytes, random
 *         sequence RNG; prints the sectors written)
 *   ktest pattern-verify DEV SEED [BYTES [SEED2 COUNT RNG REGION]]
 *         (DEV holds SEED, or SEED2 where pattern-write wrote)
 *   ktest seq-write DEV1 DEV2 COUNT   (write i = 1..COUNT in 4 KiB slots,
 *         odd i to DEV1, even to DEV2, one at a time, each completed
 *         before the next; stops early on SIGTERM)
 *   ktest seq-check DEV1 DEV2 COUNT  (the devices hold a prefix 1..k of
 *         that order; prints k)
 *
 * Exit status 0 on success; diagnostics go to stderr prefixed with "# ".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
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

/* The CBT info of @dev and its map, live or frozen; exits on error. */
static uint8_t *map_read(int fd, dev_t dev, bool frozen,
			 struct blksnap_cbt_info *info)
{
	uint8_t *map;

	check(blksnap_ctl_cbt_info(fd, dev, info), "cbt info");
	map = malloc(info->block_count);
	if (!map)
		exit(1);
	check(blksnap_ctl_cbt_read_map(fd, dev, frozen ? 0 : BLKSNAP_CBT_MAP_CURRENT,
				       0, map, info->block_count, NULL), "cbt read");
	return map;
}

static int cmd_map(int fd, dev_t dev, bool frozen)
{
	struct blksnap_cbt_info info;
	uint8_t *map = map_read(fd, dev, frozen, &info);
	uint64_t i;

	for (i = 0; i < info.block_count; i++)
		if (map[i])
			printf("%" PRIu64 " %u\n", i, map[i]);
	free(map);
	return 0;
}

/* Every entry of the detail, read in small calls to test the cursor. */
static struct blksnap_cbt_fine_entry *fine_read(int fd, dev_t dev,
						bool frozen, uint32_t *sub_size,
						uint32_t snap_number,
						uint64_t block_count,
						size_t *count)
{
	struct blksnap_cbt_fine_entry *all = NULL, chunk[7];
	struct blksnap_cbt_fine in;
	uint64_t prev = 0;
	size_t n = 0;
	uint32_t i;

	memset(&in, 0, sizeof(in));
	do {
		in.dev.mj = major(dev);
		in.dev.mn = minor(dev);
		in.flags = frozen ? 0 : BLKSNAP_CBT_MAP_CURRENT;
		in.count = 7;
		in.entries = (uintptr_t)chunk;
		if (ioctl(fd, BLKSNAP_IOCTL_CBT_FINE, &in)) {
			perror("# BLKSNAP_IOCTL_CBT_FINE");
			exit(1);
		}
		if (in.snap_number != snap_number) {
			fprintf(stderr, "# fine: a snapshot raced\n");
			exit(1);
		}
		all = realloc(all, (n + in.count) * sizeof(*all));
		if (!all)
			exit(1);
		for (i = 0; i < in.count; i++) {
			if ((n || i) && chunk[i].block <= prev) {
				fprintf(stderr, "# fine: entries out of order\n");
				exit(1);
			}
			prev = chunk[i].block;
			all[n++] = chunk[i];
		}
		if (in.next <= in.start && in.next != block_count) {
			fprintf(stderr, "# fine: the cursor went back\n");
			exit(1);
		}
		in.start = in.next;
	} while (in.next != block_count);
	*sub_size = in.sub_size;
	*count = n;
	return all;
}

static int cmd_fine(int fd, dev_t dev, unsigned int since, bool frozen)
{
	struct blksnap_cbt_fine_entry *fine;
	struct blksnap_cbt_info info;
	uint32_t sub_size, per, j;
	uint64_t i, subs;
	size_t count, k = 0;
	uint8_t *map;

	map = map_read(fd, dev, frozen, &info);
	fine = fine_read(fd, dev, frozen, &sub_size, info.snap_number,
			 info.block_count, &count);
	per = info.block_size / sub_size;
	subs = (info.device_capacity * 512 + sub_size - 1) / sub_size;
	printf("%u\n", sub_size);
	for (i = 0; i < info.block_count; i++) {
		uint8_t top = 0;

		if (k < count && fine[k].block == i) {
			for (j = 0; j < per; j++)
				top = fine[k].sub[j] > top ? fine[k].sub[j] : top;
			/*
			 * The live map was read before the detail: writes
			 * since may have raised a block's mark, never lowered.
			 */
			if (!frozen && top > map[i])
				map[i] = top;
			if (top != map[i]) {
				fprintf(stderr, "# fine: block %" PRIu64 " detail %u, map %u\n",
					i, top, map[i]);
				return 1;
			}
			for (j = 0; j < BLKSNAP_CBT_FINE_SUBBLOCKS; j++) {
				if ((j >= per || i * per + j >= subs) &&
				    fine[k].sub[j]) {
					fprintf(stderr, "# fine: block %" PRIu64 " marks sub-block %u past the end\n",
						i, j);
					return 1;
				}
				if (j < per && fine[k].sub[j] > since &&
				    i * per + j < subs)
					printf("%" PRIu64 "\n", i * per + j);
			}
			k++;
			continue;
		}
		for (j = 0; j < per && map[i] > since; j++)
			if (i * per + j < subs)
				printf("%" PRIu64 "\n", i * per + j);
	}
	free(fine);
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
		BLKSNAP_IOCTL_CBT_DIRTY, BLKSNAP_IOCTL_CBT_STATE,
		BLKSNAP_IOCTL_CBT_LOAD, BLKSNAP_IOCTL_CBT_FINE,
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

static void hostile_fine(int fd, dev_t dev, uint64_t count)
{
	static struct blksnap_cbt_fine_entry buf[4];
	struct blksnap_cbt_fine f;

	memset(&f, 0, sizeof(f));
	f.dev.mj = major(dev);
	f.dev.mn = minor(dev);
	f.entries = (uintptr_t)buf;
	expect(fd, BLKSNAP_IOCTL_CBT_FINE, &f, EINVAL, "fine zero count");
	f.count = BLKSNAP_MAX_FINE_ENTRIES + 1;
	expect(fd, BLKSNAP_IOCTL_CBT_FINE, &f, EINVAL, "fine huge count");
	f.count = 4;
	f.start = count + 1;
	expect(fd, BLKSNAP_IOCTL_CBT_FINE, &f, ERANGE, "fine start past end");
	f.start = ~(uint64_t)0;
	expect(fd, BLKSNAP_IOCTL_CBT_FINE, &f, ERANGE, "fine start overflow");
	f.start = 0;
	f.flags = 0x80;
	expect(fd, BLKSNAP_IOCTL_CBT_FINE, &f, EINVAL, "fine flags");
	f.flags = 0;
	f.reserved = 1;
	expect(fd, BLKSNAP_IOCTL_CBT_FINE, &f, EINVAL, "fine reserved");
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
		BLKSNAP_IOCTL_CBT_STATE, BLKSNAP_IOCTL_CBT_LOAD,
		BLKSNAP_IOCTL_CBT_FINE,
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
		if (ioctl(fd, cmds[i % 7], arg) == -1 && errno == ENOSYS)
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
	hostile_fine(fd, dev, info.block_count);
	hostile_dirty(fd, dev, info.device_capacity);
	hostile_fuzz(fd, dev);
	check(blksnap_ctl_tracker_detach(fd, dev), "detach");
	fprintf(stderr, "# hostile: %d failures\n", failures);
	return failures ? 1 : 0;
}

/*
 * Saved tracking state for the tests of BLKSNAP_IOCTL_CBT_LOAD, raw: the
 * struct blksnap_cbt_state, then the live map, then the frozen map.
 */
struct saved {
	struct blksnap_cbt_state st;
	uint8_t *map;
	uint8_t *snap_map;
};

static int cmd_cbt_state(int fd, dev_t dev)
{
	struct blksnap_cbt_state st;

	check(blksnap_ctl_cbt_state(fd, dev, &st), "cbt state");
	printf("writes_at_attach=%" PRIu64 " writes_now=%" PRIu64
	       " diskseq=%" PRIu64 " no_iostat=%d loaded=%d snap=%u\n",
	       (uint64_t)st.writes_at_attach, (uint64_t)st.writes_now,
	       (uint64_t)st.diskseq, !!(st.flags & BLKSNAP_CBT_STATE_NO_IOSTAT),
	       !!(st.flags & BLKSNAP_CBT_STATE_LOADED), st.info.snap_number);
	return 0;
}

static int cmd_cbt_save(int fd, dev_t dev, const char *path)
{
	struct blksnap_cbt_state st, after;
	uint64_t n;
	uint8_t *maps;
	FILE *f;

	check(blksnap_ctl_cbt_state(fd, dev, &st), "cbt state");
	n = st.info.block_count;
	maps = malloc(2 * n);
	if (!maps)
		return 1;
	check(blksnap_ctl_cbt_read_map(fd, dev, BLKSNAP_CBT_MAP_CURRENT, 0, maps,
				       n, NULL), "read live map");
	check(blksnap_ctl_cbt_read_map(fd, dev, 0, 0, maps + n, n, NULL),
	      "read frozen map");
	check(blksnap_ctl_cbt_state(fd, dev, &after), "cbt state");
	if (after.writes_now != st.writes_now) {
		fprintf(stderr, "# the device was written during the save\n");
		return 1;
	}
	f = fopen(path, "w");
	if (!f || fwrite(&st, sizeof(st), 1, f) != 1 ||
	    fwrite(maps, 2 * n, 1, f) != 1 || fclose(f)) {
		fprintf(stderr, "# %s: cannot write\n", path);
		return 1;
	}
	free(maps);
	return 0;
}

static void saved_read(const char *path, struct saved *sv)
{
	FILE *f = fopen(path, "r");
	uint64_t n;

	if (!f || fread(&sv->st, sizeof(sv->st), 1, f) != 1) {
		fprintf(stderr, "# %s: cannot read\n", path);
		exit(2);
	}
	n = sv->st.info.block_count;
	sv->map = malloc(n);
	sv->snap_map = malloc(n);
	if (!sv->map || !sv->snap_map || fread(sv->map, n, 1, f) != 1 ||
	    fread(sv->snap_map, n, 1, f) != 1) {
		fprintf(stderr, "# %s: truncated\n", path);
		exit(2);
	}
	fclose(f);
}

static void saved_load_arg(const struct saved *sv, dev_t dev,
			   struct blksnap_cbt_load *ld)
{
	memset(ld, 0, sizeof(*ld));
	ld->dev.mj = major(dev);
	ld->dev.mn = minor(dev);
	ld->block_size = sv->st.info.block_size;
	ld->snap_number = sv->st.info.snap_number;
	ld->block_count = sv->st.info.block_count;
	ld->device_capacity = sv->st.info.device_capacity;
	memcpy(ld->generation_id, sv->st.info.generation_id, BLKSNAP_UUID_SIZE);
	ld->writes_expected = sv->st.writes_now;
	ld->map = (uintptr_t)sv->map;
	ld->snap_map = (uintptr_t)sv->snap_map;
}

static int cmd_cbt_load(int fd, dev_t dev, const char *path,
			const char *expected)
{
	struct blksnap_cbt_load ld;
	struct saved sv;

	saved_read(path, &sv);
	saved_load_arg(&sv, dev, &ld);
	if (expected)
		ld.writes_expected = strtoull(expected, NULL, 0);
	return check(blksnap_ctl_cbt_load(fd, &ld), "cbt load");
}

/* One malformed load: the module must answer @want and change nothing. */
static void load_expect(int fd, struct blksnap_cbt_load *ld, int want,
			const char *what)
{
	int ret = ioctl(fd, BLKSNAP_IOCTL_CBT_LOAD, ld) ? -errno : 0;

	if (ret != -want)
		fail("# load %s: got %ld, want %ld\n", what, ret, -want);
}

static int cmd_cbt_load_hostile(int fd, dev_t dev, const char *path)
{
	struct blksnap_cbt_load good, ld;
	struct blksnap_cbt_state st;
	struct saved sv;
	uint64_t last;
	uint8_t keep;

	saved_read(path, &sv);
	saved_load_arg(&sv, dev, &good);
	last = good.block_count - 1;
#define TRY(change, want, what) \
	do { ld = good; change; load_expect(fd, &ld, want, what); } while (0)
	TRY(ld.flags = 1, EINVAL, "flags");
	TRY(ld.reserved = 1, EINVAL, "reserved");
	TRY(ld.reserved2[1] = 1, EINVAL, "reserved2");
	TRY(ld.snap_number = 0, EINVAL, "snapshot number 0");
	TRY(ld.snap_number = 256, EINVAL, "snapshot number 256");
	TRY(ld.block_count++, ERANGE, "block count + 1");
	TRY(ld.block_count = 1ull << 40, ERANGE, "block count 2^40");
	TRY(ld.device_capacity--, ERANGE, "capacity - 1");
	TRY(ld.block_size *= 2, ERANGE, "block size * 2");
	TRY(ld.map = 16, EFAULT, "map address");
	TRY(ld.snap_map = ~0ull, EFAULT, "frozen map address");
	TRY(ld.dev.mn++, ENOENT, "untracked device");
	TRY(ld.dev.mj = 1u << 31, EINVAL, "device number");
	TRY(ld.writes_expected++, ESTALE, "writes expected + 1");
	if (sv.st.writes_now)	/* the load after a reboot */
		TRY(ld.writes_expected = 0, ESTALE, "writes expected 0");
	/* Map values the saved snapshot number cannot have. */
	keep = sv.map[last];
	if (good.snap_number < 255) {
		sv.map[last] = (uint8_t)(good.snap_number + 1);
		TRY((void)0, EINVAL, "live map value");
		sv.map[last] = keep;
	}
	keep = sv.snap_map[0];
	sv.snap_map[0] = (uint8_t)good.snap_number;
	TRY((void)0, EINVAL, "frozen map value");
	sv.snap_map[0] = keep;
#undef TRY
	check(blksnap_ctl_cbt_state(fd, dev, &st), "cbt state");
	if (st.flags & BLKSNAP_CBT_STATE_LOADED)
		fail("# %s: %ld %ld\n", "loaded after refusals", 0, 0);
	if (!memcmp(st.info.generation_id, good.generation_id, BLKSNAP_UUID_SIZE))
		fail("# %s: %ld %ld\n", "generation taken by a refused load", 0, 0);
	load_expect(fd, &good, 0, "good");
	load_expect(fd, &good, EALREADY, "second");
	check(blksnap_ctl_cbt_state(fd, dev, &st), "cbt state");
	if (!(st.flags & BLKSNAP_CBT_STATE_LOADED) ||
	    memcmp(st.info.generation_id, good.generation_id, BLKSNAP_UUID_SIZE) ||
	    st.info.snap_number != good.snap_number)
		fail("# %s: %ld %ld\n", "state after the load", 0, 0);
	fprintf(stderr, "# cbt-load-hostile: %d failures\n", failures);
	return failures ? 1 : 0;
}

/*
 * Bad arguments to the snapshot calls (DEV: a device to add, STORAGE: a
 * block device for storage; neither in a snapshot).
 */
static void hostile_snap_pointers(int fd)
{
	static const unsigned long cmds[] = {
		BLKSNAP_IOCTL_SNAPSHOT_CREATE, BLKSNAP_IOCTL_SNAPSHOT_ADD,
		BLKSNAP_IOCTL_SNAPSHOT_TAKE, BLKSNAP_IOCTL_SNAPSHOT_DESTROY,
		BLKSNAP_IOCTL_SNAPSHOT_LIST, BLKSNAP_IOCTL_SNAPSHOT_INFO,
		BLKSNAP_IOCTL_SNAPSHOT_APPEND, BLKSNAP_IOCTL_SNAPSHOT_WAIT_EVENT,
	};
	static void *const ptrs[] = {
		NULL, (void *)1, (void *)0xffff888000000000ul,
		(void *)0xffffffffffffff00ul,
	};
	size_t c, p;

	for (c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		for (p = 0; p < sizeof(ptrs) / sizeof(ptrs[0]); p++)
			expect(fd, cmds[c], ptrs[p], EFAULT, "snapshot bad pointer");
}

static void hostile_snap_create(int fd, int sfd)
{
	struct blksnap_snapshot_create c;
	uint8_t id[BLKSNAP_UUID_SIZE];
	int i, n, ret, tmp = open("/tmp", O_TMPFILE | O_RDWR, 0600);

	memset(&c, 0, sizeof(c));
	c.storage_fd = -1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_CREATE, &c, EBADF, "create fd -1");
	c.storage_fd = 1000000;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_CREATE, &c, EBADF, "create closed fd");
	c.storage_fd = open("/dev/null", O_RDWR);
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_CREATE, &c, EINVAL, "create char dev");
	close(c.storage_fd);
	c.storage_fd = sfd;
	c.storage_limit = 1 << 20;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_CREATE, &c, EINVAL,
	       "create block device with a limit");
	c.storage_limit = 0;
	c.flags = 1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_CREATE, &c, EINVAL, "create flags");
	c.flags = 0;
	c.reserved[1] = 1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_CREATE, &c, EINVAL, "create reserved");
	if (tmp >= 0) {
		memset(&c, 0, sizeof(c));
		c.storage_fd = tmp;
		expect(fd, BLKSNAP_IOCTL_SNAPSHOT_CREATE, &c, EINVAL,
		       "create file without a limit");
		/*
		 * As many snapshots as allowed, then one more is refused;
		 * each storage file past the two reserved MiB.
		 */
		for (n = 0; n < BLKSNAP_MAX_SNAPSHOTS + 1; n++) {
			int f = open("/tmp", O_TMPFILE | O_RDWR, 0600);

			ret = blksnap_ctl_snapshot_create(fd, f, 4 << 20, 0, id);
			close(f);
			if (ret)
				break;
		}
		if (n != BLKSNAP_MAX_SNAPSHOTS || !ret)
			fail("# %s: %ld created, want %ld\n", "snapshot limit",
			     n, BLKSNAP_MAX_SNAPSHOTS);
		for (i = 0; i < 2; i++) {
			uint8_t ids[BLKSNAP_MAX_SNAPSHOTS][BLKSNAP_UUID_SIZE];
			unsigned int total, k;

			if (blksnap_ctl_snapshot_list(fd, ids, BLKSNAP_MAX_SNAPSHOTS,
						      &total)) {
				fail("# %s: %ld %ld\n", "list", 0, 0);
				break;
			}
			if (i == 1 && total)
				fail("# %s: %ld left, want %ld\n", "destroy all",
				     total, 0);
			for (k = 0; k < total && k < BLKSNAP_MAX_SNAPSHOTS; k++)
				if (blksnap_ctl_snapshot_destroy(fd, ids[k]))
					fail("# %s: %ld %ld\n", "destroy", k, 0);
		}
		close(tmp);
	}
}

static void hostile_snap_ids(int fd, dev_t dev, int sfd)
{
	struct blksnap_snapshot_id sid;
	struct blksnap_snapshot_add add;
	struct blksnap_snapshot_list l;
	struct blksnap_snapshot_info info;
	struct blksnap_snapshot_append app;
	struct blksnap_event ev;
	uint8_t id[BLKSNAP_UUID_SIZE];
	int ret;

	memset(&sid, 0, sizeof(sid));
	sid.id[0] = 0x42;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_TAKE, &sid, ENOENT, "take unknown");
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_DESTROY, &sid, ENOENT,
	       "destroy unknown");
	memset(&l, 0, sizeof(l));
	l.count = BLKSNAP_MAX_SNAPSHOTS + 1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_LIST, &l, EINVAL, "list count+1");
	l.count = 0;
	l.reserved = 1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_LIST, &l, EINVAL, "list reserved");

	check(blksnap_ctl_snapshot_create(fd, sfd, 0, 0, id), "create");
	memcpy(sid.id, id, sizeof(id));
	sid.reserved = 1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_TAKE, &sid, EINVAL, "take reserved");
	sid.reserved = 0;
	if (blksnap_ctl_snapshot_take(fd, id) == 0)
		fail("# %s: %ld %ld\n", "take without devices succeeded", 0, 0);
	memset(&add, 0, sizeof(add));
	memcpy(add.id, id, sizeof(id));
	add.dev.mj = 4000;
	add.dev.mn = 12345;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_ADD, &add, ENXIO, "add no device");
	add.dev.mj = major(dev);
	add.dev.mn = minor(dev);
	add.flags = 1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_ADD, &add, EINVAL, "add flags");
	add.flags = 0;
	add.reserved = 1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_ADD, &add, EINVAL, "add reserved");
	memset(&info, 0, sizeof(info));
	memcpy(info.id, id, sizeof(id));
	info.image_count = BLKSNAP_MAX_SNAPSHOT_DEVICES + 1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_INFO, &info, EINVAL, "info count+1");
	info.image_count = 1;
	info.images = 0xffff888000000000ul;
	check(blksnap_ctl_snapshot_add(fd, id, dev), "add");
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_INFO, &info, EFAULT,
	       "info kernel buffer");
	ret = blksnap_ctl_snapshot_add(fd, id, dev);
	if (ret != -EBUSY && ret != -EALREADY && ret != -EEXIST)
		fail("# %s: got %ld, want %ld (EBUSY/EALREADY/EEXIST)\n",
		     "add twice", ret, -EBUSY);
	memset(&app, 0, sizeof(app));
	memcpy(app.id, id, sizeof(id));
	app.storage_fd = -1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_APPEND, &app, EBADF, "append fd -1");
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.id, id, sizeof(id));
	ev.timeout_ms = 50;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_WAIT_EVENT, &ev, ETIMEDOUT,
	       "wait without events");
	ev.reserved[0] = 1;
	expect(fd, BLKSNAP_IOCTL_SNAPSHOT_WAIT_EVENT, &ev, EINVAL,
	       "wait reserved");
	check(blksnap_ctl_snapshot_take(fd, id), "take");
	ret = blksnap_ctl_snapshot_take(fd, id);
	if (ret != -EALREADY && ret != -EINVAL)
		fail("# %s: got %ld, want %ld (or EINVAL)\n", "take twice",
		     ret, -EALREADY);
	if (blksnap_ctl_snapshot_add(fd, id, dev) == 0)
		fail("# %s: %ld %ld\n", "add after take succeeded", 0, 0);
	check(blksnap_ctl_snapshot_destroy(fd, id), "destroy");
	if (blksnap_ctl_snapshot_destroy(fd, id) != -ENOENT)
		fail("# %s: %ld %ld\n", "destroy twice not ENOENT", 0, 0);
}

/* Random structures for every snapshot call but create. */
static void hostile_snap_fuzz(int fd)
{
	static const unsigned long cmds[] = {
		BLKSNAP_IOCTL_SNAPSHOT_ADD, BLKSNAP_IOCTL_SNAPSHOT_TAKE,
		BLKSNAP_IOCTL_SNAPSHOT_DESTROY, BLKSNAP_IOCTL_SNAPSHOT_LIST,
		BLKSNAP_IOCTL_SNAPSHOT_INFO, BLKSNAP_IOCTL_SNAPSHOT_APPEND,
		BLKSNAP_IOCTL_SNAPSHOT_WAIT_EVENT,
	};
	uint32_t arg[32];
	int i, j;

	srand(2);
	for (i = 0; i < 20000; i++) {
		for (j = 0; j < 32; j++)
			arg[j] = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
		if (ioctl(fd, cmds[i % 7], arg) == -1 && errno == ENOSYS)
			failures++;
	}
}

static int cmd_snap_hostile(int fd, dev_t dev, const char *storage)
{
	int sfd = open(storage, O_RDWR | O_EXCL);

	if (sfd < 0) {
		perror("# open storage");
		return 1;
	}
	hostile_snap_pointers(fd);
	hostile_snap_create(fd, sfd);
	hostile_snap_ids(fd, dev, sfd);
	hostile_snap_fuzz(fd);
	close(sfd);
	fprintf(stderr, "# snap-hostile: %d failures\n", failures);
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

/* Snapshot commands. */

static void parse_id(const char *text, uint8_t *id)
{
	if (blksnap_ctl_snapshot_id_parse(text, id)) {
		fprintf(stderr, "# %s: not a snapshot id\n", text);
		exit(2);
	}
}

/* A regular file (created if missing) or a block device opened O_EXCL. */
static int open_storage(const char *path)
{
	struct stat st;
	int fd;

	if (!stat(path, &st) && S_ISBLK(st.st_mode))
		fd = open(path, O_RDWR | O_EXCL | O_CLOEXEC);
	else
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "# open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static int cmd_snap_create(int fd, int argc, char **argv)
{
	uint8_t id[BLKSNAP_UUID_SIZE];
	char text[BLKSNAP_SNAPSHOT_ID_TEXT];
	int sfd = open_storage(argv[0]);

	check(blksnap_ctl_snapshot_create(fd, sfd, strtoull(argv[1], NULL, 0),
					  argc > 2 ? strtoull(argv[2], NULL, 0) : 0,
					  id), "snapshot create");
	close(sfd);
	printf("%s\n", blksnap_ctl_snapshot_id_format(id, text));
	return 0;
}

static int cmd_snap_append(int fd, char **argv)
{
	uint8_t id[BLKSNAP_UUID_SIZE];
	int sfd;

	parse_id(argv[0], id);
	sfd = open_storage(argv[1]);
	check(blksnap_ctl_snapshot_append(fd, id, sfd,
					  strtoull(argv[2], NULL, 0)),
	      "snapshot append");
	close(sfd);
	return 0;
}

static int cmd_snap_list(int fd)
{
	uint8_t ids[BLKSNAP_MAX_SNAPSHOTS][BLKSNAP_UUID_SIZE];
	char text[BLKSNAP_SNAPSHOT_ID_TEXT];
	unsigned int total, i;

	check(blksnap_ctl_snapshot_list(fd, ids, BLKSNAP_MAX_SNAPSHOTS, &total),
	      "snapshot list");
	for (i = 0; i < total && i < BLKSNAP_MAX_SNAPSHOTS; i++)
		printf("%s\n", blksnap_ctl_snapshot_id_format(ids[i], text));
	return 0;
}

static const char *state_name(uint32_t state)
{
	switch (state) {
	case BLKSNAP_SNAPSHOT_CREATED: return "created";
	case BLKSNAP_SNAPSHOT_TAKEN: return "taken";
	case BLKSNAP_SNAPSHOT_CORRUPTED: return "corrupted";
	}
	return "unknown";
}

static int cmd_snap_info(int fd, const char *text, const char *dev)
{
	struct blksnap_image images[BLKSNAP_MAX_SNAPSHOT_DEVICES];
	struct blksnap_snapshot_info info;
	uint8_t id[BLKSNAP_UUID_SIZE];
	unsigned int i, n;
	dev_t want = dev ? dev_of(dev) : 0;

	parse_id(text, id);
	check(blksnap_ctl_snapshot_info(fd, id, &info, images,
					BLKSNAP_MAX_SNAPSHOT_DEVICES),
	      "snapshot info");
	n = info.image_count < BLKSNAP_MAX_SNAPSHOT_DEVICES ?
	    info.image_count : BLKSNAP_MAX_SNAPSHOT_DEVICES;
	if (dev) {	/* snap-image */
		for (i = 0; i < n; i++)
			if (images[i].origin.mj == major(want) &&
			    images[i].origin.mn == minor(want))
				break;
		if (i == n || !images[i].name[0]) {
			fprintf(stderr, "# %s: no image of %s\n", text, dev);
			return 1;
		}
		printf("/dev/%s\n", images[i].name);
		return 0;
	}
	printf("state=%s error=%u chunk=%u used=%" PRIu64 " allocated=%"
	       PRIu64 " limit=%" PRIu64 " devices=%u\n", state_name(info.state),
	       info.error, info.chunk_size, (uint64_t)info.storage_used,
	       (uint64_t)info.storage_allocated, (uint64_t)info.storage_limit,
	       info.image_count);
	for (i = 0; i < n; i++)
		printf("%u:%u %u:%u %s\n", images[i].origin.mj,
		       images[i].origin.mn, images[i].image.mj,
		       images[i].image.mn, images[i].name[0] ?
		       images[i].name : "-");
	return 0;
}

static int cmd_snap_wait(int fd, const char *text, const char *tmo)
{
	struct blksnap_event ev;
	uint8_t id[BLKSNAP_UUID_SIZE];
	int ret;

	parse_id(text, id);
	ret = blksnap_ctl_snapshot_wait_event(fd, id,
					      (uint32_t)strtoul(tmo, NULL, 0),
					      &ev);
	if (ret == -ETIMEDOUT) {
		fprintf(stderr, "# no event in %s ms\n", tmo);
		return 3;
	}
	check(ret, "snapshot wait event");
	printf("event=%s error=%u dev=%u:%u used=%" PRIu64 " limit=%" PRIu64
	       "\n", ev.code == BLKSNAP_EVENT_LOW_SPACE ? "low-space" :
	       ev.code == BLKSNAP_EVENT_CORRUPTED ? "corrupted" : "unknown",
	       ev.error, ev.dev.mj, ev.dev.mn, (uint64_t)ev.storage_used,
	       (uint64_t)ev.storage_limit);
	return 0;
}

static int cmd_snap(int fd, const char *cmd, int argc, char **argv)
{
	uint8_t id[BLKSNAP_UUID_SIZE];

	if (!strcmp(cmd, "snap-create") && (argc == 2 || argc == 3))
		return cmd_snap_create(fd, argc, argv);
	if (!strcmp(cmd, "snap-append") && argc == 3)
		return cmd_snap_append(fd, argv);
	if (!strcmp(cmd, "snap-info") && argc == 1)
		return cmd_snap_info(fd, argv[0], NULL);
	if (!strcmp(cmd, "snap-image") && argc == 2)
		return cmd_snap_info(fd, argv[0], argv[1]);
	if (!strcmp(cmd, "snap-wait") && argc == 2)
		return cmd_snap_wait(fd, argv[0], argv[1]);
	if (argc < 1)
		return -1;
	parse_id(argv[0], id);
	if (!strcmp(cmd, "snap-add") && argc == 2)
		return check(blksnap_ctl_snapshot_add(fd, id, dev_of(argv[1])),
			     "snapshot add");
	if (!strcmp(cmd, "snap-take") && argc == 1)
		return check(blksnap_ctl_snapshot_take(fd, id), "snapshot take");
	if (!strcmp(cmd, "snap-destroy") && argc == 1)
		return check(blksnap_ctl_snapshot_destroy(fd, id),
			     "snapshot destroy");
	return -1;
}

/* Data patterns. */

#define SECTOR 512u
#define IO_MAX (1u << 20)

static void pattern_sector(uint64_t seed, uint64_t sector, uint64_t *w)
{
	unsigned int i;

	for (i = 0; i < SECTOR / 8; i++)
		w[i] = (seed * 0x9e3779b97f4a7c15ull) ^ (sector << 8 | i);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The COUNT writes of pattern-write: sector ranges below REGION. */
struct writes {
	uint64_t rng, region_sectors;
	unsigned long left;
};

static int next_write(struct writes *w, uint64_t *sector, uint32_t *count)
{
	static const uint32_t sizes[] = { 1, 8, 9, 64, 127, 128, 256, 2048 };
	uint32_t n;

	if (!w->left)
		return 0;
	w->left--;
	n = sizes[rng_next(&w->rng) % (sizeof(sizes) / sizeof(sizes[0]))];
	if (n > w->region_sectors)
		n = (uint32_t)w->region_sectors;
	*sector = rng_next(&w->rng) % (w->region_sectors - n + 1);
	/* Half of them 4 KiB aligned, as a filesystem would write. */
	if (rng_next(&w->rng) & 1)
		*sector &= ~(uint64_t)7;
	*count = n;
	return 1;
}

static void writes_init(struct writes *w, char **argv)
{
	w->left = strtoul(argv[0], NULL, 0);
	w->rng = strtoull(argv[1], NULL, 0) * 2654435761u + 1;
	w->region_sectors = strtoull(argv[2], NULL, 0) / SECTOR;
	if (!w->region_sectors) {
		fprintf(stderr, "# region too small\n");
		exit(2);
	}
}

static void *io_buffer(void)
{
	void *buf;

	if (posix_memalign(&buf, 4096, IO_MAX)) {
		fprintf(stderr, "# out of memory\n");
		exit(2);
	}
	return buf;
}

static int open_direct(const char *path, int flags)
{
	int fd = open(path, flags | O_DIRECT);

	if (fd < 0) {
		fprintf(stderr, "# open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static uint64_t device_bytes(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);

	return end < 0 ? 0 : (uint64_t)end;
}

static int write_pattern(int fd, uint64_t seed, uint64_t sector,
			 uint32_t count, uint8_t *buf)
{
	uint32_t i;

	for (i = 0; i < count; i++)
		pattern_sector(seed, sector + i, (uint64_t *)(buf + i * SECTOR));
	if (pwrite(fd, buf, (size_t)count * SECTOR, (off_t)(sector * SECTOR)) !=
	    (ssize_t)count * SECTOR) {
		fprintf(stderr, "# pwrite at sector %" PRIu64 ": %s\n", sector,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int cmd_pattern_fill(const char *path, int argc, char **argv)
{
	uint64_t seed = strtoull(argv[0], NULL, 0), bytes, s;
	uint8_t *buf = io_buffer();
	int fd = open_direct(path, O_WRONLY);

	bytes = argc > 1 ? strtoull(argv[1], NULL, 0) : device_bytes(fd);
	for (s = 0; s < bytes / SECTOR; s += IO_MAX / SECTOR) {
		uint64_t n = bytes / SECTOR - s;

		if (n > IO_MAX / SECTOR)
			n = IO_MAX / SECTOR;
		if (write_pattern(fd, seed, s, (uint32_t)n, buf))
			return 1;
	}
	return fsync(fd) || close(fd) ? 1 : 0;
}

static int cmd_pattern_write(const char *path, char **argv)
{
	uint64_t seed = strtoull(argv[0], NULL, 0), sector, total = 0;
	uint8_t *buf = io_buffer();
	int fd = open_direct(path, O_WRONLY);
	struct writes w;
	uint32_t count;

	writes_init(&w, argv + 1);
	while (next_write(&w, &sector, &count)) {
		if (write_pattern(fd, seed, sector, count, buf))
			return 1;
		total += count;
	}
	printf("%" PRIu64 "\n", total);
	return fsync(fd) || close(fd) ? 1 : 0;
}

/* Verify DEV: pattern SEED, or SEED2 in the sectors written by writes. */
static int cmd_pattern_verify(const char *path, int argc, char **argv)
{
	uint64_t seed = strtoull(argv[0], NULL, 0), seed2 = 0, bytes, s, i;
	uint64_t want[SECTOR / 8], bad = 0, sector;
	uint8_t *buf = io_buffer(), *written = NULL;
	int fd = open_direct(path, O_RDONLY);
	struct writes w;
	uint32_t count;

	bytes = argc > 1 ? strtoull(argv[1], NULL, 0) : device_bytes(fd);
	if (argc > 5) {
		seed2 = strtoull(argv[2], NULL, 0);
		writes_init(&w, argv + 3);
		written = calloc(bytes / SECTOR + 1, 1);
		if (!written)
			return 2;
		while (next_write(&w, &sector, &count))
			for (i = sector; i < sector + count; i++)
				if (i < bytes / SECTOR)
					written[i] = 1;
	}
	for (s = 0; s < bytes / SECTOR; s += IO_MAX / SECTOR) {
		uint64_t n = bytes / SECTOR - s;
		ssize_t got;

		if (n > IO_MAX / SECTOR)
			n = IO_MAX / SECTOR;
		got = pread(fd, buf, n * SECTOR, (off_t)(s * SECTOR));
		if (got != (ssize_t)(n * SECTOR)) {
			fprintf(stderr, "# %s: read at sector %" PRIu64 ": %s\n",
				path, s, got < 0 ? strerror(errno) : "short");
			return 1;
		}
		for (i = 0; i < n; i++) {
			pattern_sector(written && written[s + i] ? seed2 : seed,
				       s + i, want);
			if (memcmp(buf + i * SECTOR, want, SECTOR)) {
				if (bad < 10)
					fprintf(stderr, "# %s: sector %" PRIu64
						" differs (want the %s pattern)\n",
						path, s + i, written &&
						written[s + i] ? "new" : "old");
				bad++;
			}
		}
	}
	if (bad)
		fprintf(stderr, "# %s: %" PRIu64 " bad sectors of %" PRIu64 "\n",
			path, bad, bytes / SECTOR);
	return bad ? 1 : 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

#define SLOT 4096u

static int cmd_seq_write(char **argv)
{
	int fds[2] = { open_direct(argv[0], O_WRONLY),
		       open_direct(argv[1], O_WRONLY) };
	unsigned long count = strtoul(argv[2], NULL, 0), i;
	uint32_t *buf = (uint32_t *)io_buffer();
	unsigned int k;

	signal(SIGTERM, on_term);
	for (i = 1; i <= count && !stop; i++) {
		for (k = 0; k < SLOT / 4; k++)
			buf[k] = (uint32_t)i;
		if (pwrite(fds[!(i & 1)], buf, SLOT,
			   (off_t)((i - 1) / 2) * SLOT) != SLOT) {
			perror("# seq-write");
			return 1;
		}
	}
	printf("%lu\n", i - 1);
	return 0;
}

static int cmd_seq_check(char **argv)
{
	int fds[2] = { open_direct(argv[0], O_RDONLY),
		       open_direct(argv[1], O_RDONLY) };
	unsigned long count = strtoul(argv[2], NULL, 0), i, last = 0;
	unsigned long bad = 0;
	uint32_t *buf = (uint32_t *)io_buffer();
	unsigned int k;

	/* Every slot holds its own number (written) or zeroes (not yet). */
	for (i = 1; i <= count; i++) {
		int written;

		if (pread(fds[!(i & 1)], buf, SLOT,
			  (off_t)((i - 1) / 2) * SLOT) != SLOT) {
			perror("# seq-check");
			return 1;
		}
		written = buf[0] == (uint32_t)i;
		for (k = 0; k < SLOT / 4; k++)
			if (buf[k] != (written ? (uint32_t)i : 0))
				break;
		if (k < SLOT / 4) {
			if (bad++ < 10)
				fprintf(stderr, "# slot %lu: torn or foreign"
					" data\n", i);
			continue;
		}
		if (written && last != i - 1) {
			if (bad++ < 10)
				fprintf(stderr, "# write %lu present but write"
					" %lu missing\n", i, last + 1);
		}
		if (written)
			last = i;
	}
	printf("%lu\n", last);
	return bad ? 1 : 0;
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
	if (!strcmp(cmd, "pattern-fill") && (argc == 4 || argc == 5))
		return cmd_pattern_fill(argv[2], argc - 3, argv + 3);
	if (!strcmp(cmd, "pattern-write") && argc == 7)
		return cmd_pattern_write(argv[2], argv + 3);
	if (!strcmp(cmd, "pattern-verify") && (argc == 4 || argc == 5 ||
					       argc == 9))
		return cmd_pattern_verify(argv[2], argc - 3, argv + 3);
	if (!strcmp(cmd, "seq-write") && argc == 5)
		return cmd_seq_write(argv + 2);
	if (!strcmp(cmd, "seq-check") && argc == 5)
		return cmd_seq_check(argv + 2);
	fd = ctl();
	if (!strcmp(cmd, "version")) {
		check(blksnap_ctl_version(fd, &ver), "version");
		printf("%u.%u.%u\n", ver.major, ver.minor, ver.revision);
		return blksnap_ctl_check_version(fd) ? 1 : 0;
	}
	if (!strcmp(cmd, "list"))
		return cmd_list(fd);
	if (!strcmp(cmd, "snap-list"))
		return cmd_snap_list(fd);
	if (!strncmp(cmd, "snap-", 5) && strcmp(cmd, "snap-hostile")) {
		int ret = cmd_snap(fd, cmd, argc - 2, argv + 2);

		if (ret >= 0)
			return ret;
		fprintf(stderr, "# usage: see ktest.c\n");
		return 2;
	}
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
		return cmd_map(fd, dev_of(argv[2]), argc > 3 && !strcmp(argv[3], "frozen"));
	if (!strcmp(cmd, "fine") && (argc == 4 || argc == 5))
		return cmd_fine(fd, dev_of(argv[2]), atoi(argv[3]),
				argc > 4 && !strcmp(argv[4], "frozen"));
	if (!strcmp(cmd, "cbt-state"))
		return cmd_cbt_state(fd, dev_of(argv[2]));
	if (!strcmp(cmd, "cbt-save") && argc == 4)
		return cmd_cbt_save(fd, dev_of(argv[2]), argv[3]);
	if (!strcmp(cmd, "cbt-load") && (argc == 4 || argc == 5))
		return cmd_cbt_load(fd, dev_of(argv[2]), argv[3],
				    argc == 5 ? argv[4] : NULL);
	if (!strcmp(cmd, "cbt-load-hostile") && argc == 4)
		return cmd_cbt_load_hostile(fd, dev_of(argv[2]), argv[3]);
	if (!strcmp(cmd, "hostile"))
		return cmd_hostile(fd, dev_of(argv[2]));
	if (!strcmp(cmd, "snap-hostile") && argc == 4)
		return cmd_snap_hostile(fd, dev_of(argv[2]), argv[3]);
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
