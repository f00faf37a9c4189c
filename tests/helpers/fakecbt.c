// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fakecbt.so: a stand-in for the module's change tracking, preloaded
 * (LD_PRELOAD) into blksnap-cbt by tests/cbt-fine.sh, so that the tool's
 * reading of the map and its sub-block detail is tested without the
 * module.  open() of /dev/blksnap-control gives a descriptor of
 * /dev/null whose blksnap ioctls are answered from a CBT dump, as the
 * UAPI describes them: the dump's map is the frozen map (and the live
 * one), its detail the frozen detail, its snapshot number + 1 the
 * current one.  Set by the environment:
 *   FAKECBT_DUMP      the dump (version 1 or 2; its checksums are not read)
 *   FAKECBT_FEATURES  the VERSION ioctl's feature bits (default 4,
 *                     BLKSNAP_FEATURE_CBT_FINE; without it CBT_FINE is ENOTTY)
 *   FAKECBT_CHUNK     at most this many entries a CBT_FINE call
 *   FAKECBT_RACE      the first N CBT_FINE calls answer as if a snapshot
 *                     had been taken since the map was read
 *   FAKECBT_LIVE      BLOCK:SUB: the live detail has sub-block SUB of BLOCK
 *                     marked with the current number, the live map not (a
 *                     write between the map's read and the detail's)
 *   FAKECBT_BAD       the frozen detail's first entry marked 1 above its
 *                     block's map byte (a module breaking the contract)
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <blksnap/uapi/linux/blksnap.h>

static int ctl_fd = -1;
static int loaded, race_left;
static uint32_t block_size, snapshot, sub_size, chunk;
static uint64_t device_size, block_count, fine_count, features = BLKSNAP_FEATURE_CBT_FINE;
static uint8_t generation[16], *map;
static struct blksnap_cbt_fine_entry *fine, *live;

static uint64_t get(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static void die(const char *what)
{
	fprintf(stderr, "fakecbt: %s\n", what);
	exit(99);
}

static void load(void)
{
	const char *path = getenv("FAKECBT_DUMP"), *e;
	uint8_t h[96];
	uint64_t k;
	FILE *f;

	if (loaded++)
		return;
	if (!path || !(f = fopen(path, "re")) || fread(h, 1, 72, f) != 72)
		die("FAKECBT_DUMP: no dump");
	device_size = get(h + 32, 8);
	block_size = (uint32_t)get(h + 40, 4);
	snapshot = (uint32_t)get(h + 44, 4);
	block_count = get(h + 48, 8);
	memcpy(generation, h + 16, 16);
	sub_size = block_size;
	if (get(h + 8, 4) == 2) {
		if (fread(h + 72, 1, 24, f) != 24)
			die("short header");
		sub_size = (uint32_t)get(h + 64, 4);
		fine_count = get(h + 72, 8);
	}
	map = malloc(block_count);
	fine = calloc(fine_count + 1, sizeof(*fine));
	live = calloc(fine_count + 2, sizeof(*live));
	if (!map || !fine || !live || fread(map, 1, block_count, f) != block_count)
		die("short map");
	for (k = 0; k < fine_count; k++) {
		uint8_t raw[24];

		if (fread(raw, 1, 24, f) != 24)
			die("short detail");
		fine[k].block = get(raw, 8);
		memcpy(fine[k].sub, raw + 8, 16);
	}
	fclose(f);
	if ((e = getenv("FAKECBT_FEATURES")))
		features = strtoull(e, NULL, 0);
	if ((e = getenv("FAKECBT_CHUNK")))
		chunk = (uint32_t)strtoul(e, NULL, 0);
	if ((e = getenv("FAKECBT_RACE")))
		race_left = atoi(e);
	if (getenv("FAKECBT_BAD") && fine_count)
		fine[0].sub[0] = (uint8_t)(map[fine[0].block] + 1);
}

/* The live detail: the frozen one, with FAKECBT_LIVE's sub-block marked. */
static uint64_t live_detail(void)
{
	const char *e = getenv("FAKECBT_LIVE");
	unsigned long long b;
	unsigned int s;
	uint64_t k, n = 0;
	int done = 0;

	if (!e || sscanf(e, "%llu:%u", &b, &s) != 2)
		b = UINT64_MAX, s = 0;
	for (k = 0; k <= fine_count; k++) {
		if (!done && (k == fine_count || fine[k].block >= b) && b < block_count) {
			if (k < fine_count && fine[k].block == b) {
				live[n] = fine[k++];
			} else {
				memset(&live[n], 0, sizeof(live[n]));
				live[n].block = b;
				memset(live[n].sub, map[b], block_size / sub_size);
			}
			live[n++].sub[s] = (uint8_t)(snapshot + 1);
			done = 1;
		}
		if (k < fine_count)
			live[n++] = fine[k];
	}
	return n;
}

static int fake(unsigned long req, void *arg)
{
	load();
	switch (req) {
	case BLKSNAP_IOCTL_VERSION: {
		struct blksnap_version *v = arg;

		v->major = BLKSNAP_VERSION_MAJOR;
		v->minor = 4;
		v->features = features;
		return 0;
	}
	case BLKSNAP_IOCTL_CBT_INFO: {
		struct blksnap_cbt_info *i = arg;

		i->block_size = block_size;
		i->snap_number = snapshot + 1;
		i->block_count = block_count;
		i->device_capacity = device_size >> 9;
		memcpy(i->generation_id, generation, 16);
		return 0;
	}
	case BLKSNAP_IOCTL_CBT_MAP: {
		struct blksnap_cbt_map *m = arg;

		if (m->offset > block_count || m->length > block_count - m->offset) {
			errno = ERANGE;
			return -1;
		}
		memcpy((void *)(uintptr_t)m->buff, map + m->offset, m->length);
		memcpy(m->generation_id, generation, 16);
		return 0;
	}
	case BLKSNAP_IOCTL_CBT_FINE: {
		struct blksnap_cbt_fine *f = arg;
		struct blksnap_cbt_fine_entry *out = (void *)(uintptr_t)f->entries;
		const struct blksnap_cbt_fine_entry *src = fine;
		uint64_t n = fine_count, k;
		uint32_t got = 0;

		if (!(features & BLKSNAP_FEATURE_CBT_FINE)) {
			errno = ENOTTY;
			return -1;
		}
		if (!f->count || f->count > BLKSNAP_MAX_FINE_ENTRIES || f->reserved) {
			errno = EINVAL;
			return -1;
		}
		if (f->flags & BLKSNAP_CBT_MAP_CURRENT) {
			n = live_detail();
			src = live;
		}
		f->sub_size = sub_size;
		f->snap_number = snapshot + 1 + (race_left > 0);
		if (race_left > 0)
			race_left--;
		memcpy(f->generation_id, generation, 16);
		f->next = block_count;
		for (k = 0; k < n; k++) {
			if (src[k].block < f->start)
				continue;
			if (got == f->count || (chunk && got == chunk)) {
				f->next = src[k].block;
				break;
			}
			out[got++] = src[k];
		}
		f->count = got;
		return 0;
	}
	default:
		errno = ENOTTY;
		return -1;
	}
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd == ctl_fd && fd >= 0)
		return fake(req, arg);
	if (!real)
		real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	return real(fd, req, arg);
}

static int open_ctl(const char *path, int flags)
{
	static int (*real)(const char *, int, ...);

	if (!real)
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	if (strcmp(path, BLKSNAP_CTL_PATH))
		return -2;
	ctl_fd = real("/dev/null", flags);
	return ctl_fd;
}

#define OPEN_LIKE(name)							\
int name(const char *path, int flags, ...)				\
{									\
	static int (*real)(const char *, int, ...);			\
	mode_t mode = 0;						\
	va_list ap;							\
	int fd;								\
									\
	va_start(ap, flags);						\
	if (flags & (O_CREAT | O_TMPFILE))				\
		mode = va_arg(ap, mode_t);				\
	va_end(ap);							\
	fd = open_ctl(path, flags);					\
	if (fd != -2)							\
		return fd;						\
	if (!real)							\
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
	return real(path, flags, mode);					\
}

OPEN_LIKE(open)
OPEN_LIKE(open64)
