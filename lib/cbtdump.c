// SPDX-License-Identifier: LGPL-2.1-or-later
/* CBT dumps (blksnap-cbt(5)): writing, strict reading, changed ranges. */

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Header layout; all numbers little-endian. */
#define OFF_MAGIC	0
#define OFF_VERSION	8
#define OFF_HEADER_LEN	12
#define OFF_GENERATION	16
#define OFF_SIZE	32
#define OFF_BLOCK	40
#define OFF_SNAPSHOT	44
#define OFF_COUNT	48
#define OFF_MAP_HASH	56
#define OFF_HDR_HASH	64

static void put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static int check_geometry(const char *name, const struct blksnap_cbt *c)
{
	uint32_t bs = c->block_size;

	if (bs < 512 || (bs & (bs - 1)))
		return bs_fail("%s: CBT block size %u is not a power of two of 512 or more",
			       name, bs);
	if (!c->device_size ||
	    c->block_count != blksnap_block_count(c->device_size, bs))
		return bs_fail("%s: CBT block count %llu does not fit a device of %llu bytes in blocks of %u",
			       name, (unsigned long long)c->block_count,
			       (unsigned long long)c->device_size, bs);
	if (c->block_count > BLKSNAP_CBT_MAX_BLOCKS)
		return bs_fail("%s: CBT map of %llu blocks is too large", name,
			       (unsigned long long)c->block_count);
	return 0;
}

int blksnap_cbt_write(int fd, const char *name, const struct blksnap_cbt *c)
{
	unsigned char h[BLKSNAP_CBT_HEADER_LEN] = { 0 };

	if (check_geometry(name, c))
		return -1;
	memcpy(h + OFF_MAGIC, BLKSNAP_CBT_MAGIC, 8);
	put32(h + OFF_VERSION, BLKSNAP_CBT_VERSION);
	put32(h + OFF_HEADER_LEN, BLKSNAP_CBT_HEADER_LEN);
	memcpy(h + OFF_GENERATION, c->generation, 16);
	put64(h + OFF_SIZE, c->device_size);
	put32(h + OFF_BLOCK, c->block_size);
	put32(h + OFF_SNAPSHOT, c->snapshot);
	put64(h + OFF_COUNT, c->block_count);
	put64(h + OFF_MAP_HASH, blksnap_hash(c->map, (size_t)c->block_count));
	put64(h + OFF_HDR_HASH, blksnap_hash(h, OFF_HDR_HASH));
	if (bs_write_all(fd, h, sizeof(h)) ||
	    bs_write_all(fd, c->map, (size_t)c->block_count))
		return bs_fail_errno(errno, "%s: write error", name);
	return 0;
}

/* @len bytes of @what, which has @total bytes of which @before were read. */
static int read_exact(int fd, const char *name, void *buf, size_t len,
		      const char *what, size_t before, size_t total)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bs_fail_errno(errno, "%s: read error", name);
		if (n == 0)
			return bs_fail("%s: truncated CBT dump: %s ends after %zu of %zu bytes",
				       name, what, before + done, total);
		done += (size_t)n;
	}
	return 0;
}

/*
 * The map as it arrives: its buffer grows with what was read, so a
 * header stating a huge map costs no memory before the data is there.
 */
static int read_map(int fd, const char *name, struct blksnap_cbt *c)
{
	size_t want = (size_t)c->block_count, done = 0, alloc = 0;

	while (done < want) {
		size_t n = BS_MIN(want - done, (size_t)BS_ZERO_CHUNK);

		if (bs_grow((void **)&c->map, &alloc, done + n, 1))
			return -1;
		if (read_exact(fd, name, c->map + done, n, "the map", done, want))
			return -1;
		done += n;
	}
	return 0;
}

int blksnap_cbt_read(int fd, const char *name, struct blksnap_cbt *c)
{
	unsigned char h[BLKSNAP_CBT_HEADER_LEN];
	char extra;

	memset(c, 0, sizeof(*c));
	if (read_exact(fd, name, h, sizeof(h), "the header", 0, sizeof(h)))
		return -1;
	if (memcmp(h + OFF_MAGIC, BLKSNAP_CBT_MAGIC, 8))
		return bs_fail("%s: not a CBT dump (bad magic)", name);
	if (get32(h + OFF_VERSION) != BLKSNAP_CBT_VERSION)
		return bs_fail("%s: CBT dump version %u is not supported (this blksnap reads version %u)",
			       name, get32(h + OFF_VERSION), BLKSNAP_CBT_VERSION);
	if (get32(h + OFF_HEADER_LEN) != BLKSNAP_CBT_HEADER_LEN ||
	    get64(h + OFF_HDR_HASH) != blksnap_hash(h, OFF_HDR_HASH))
		return bs_fail("%s: CBT dump header is corrupted", name);
	memcpy(c->generation, h + OFF_GENERATION, 16);
	c->device_size = get64(h + OFF_SIZE);
	c->block_size = get32(h + OFF_BLOCK);
	c->snapshot = get32(h + OFF_SNAPSHOT);
	c->block_count = get64(h + OFF_COUNT);
	if (check_geometry(name, c))
		return -1;
	if (read_map(fd, name, c))
		goto fail;
	if (blksnap_hash(c->map, (size_t)c->block_count) != get64(h + OFF_MAP_HASH)) {
		bs_fail("%s: CBT map is corrupted (checksum mismatch)", name);
		goto fail;
	}
	if (read(fd, &extra, 1) > 0) {
		bs_fail("%s: unexpected data after the CBT map", name);
		goto fail;
	}
	return 0;
fail:
	free(c->map);
	c->map = NULL;
	return -1;
}

int blksnap_cbt_changed(const struct blksnap_cbt *c, uint32_t since,
			struct blksnap_ranges *out)
{
	uint64_t b;

	out->device_size = c->device_size;
	for (b = 0; b < c->block_count; b++) {
		uint64_t off = b * c->block_size;

		if (c->map[b] > since &&
		    blksnap_ranges_append(out, off,
					  BS_MIN((uint64_t)c->block_size,
						 c->device_size - off)))
			return -1;
	}
	return 0;
}

void blksnap_cbt_generation_text(const struct blksnap_cbt *c, char out[37])
{
	bs_uuid_format(c->generation, out);
}

int blksnap_cbt_diff(const struct blksnap_cbt *c,
		     const struct blksnap_manifest *base,
		     struct blksnap_ranges *out, char *why, size_t why_size)
{
	char gen[37];

	blksnap_cbt_generation_text(c, gen);
	if (!base->cbt_generation[0]) {
		snprintf(why, why_size, "the base was not backed up from a tracked snapshot (it records no CBT generation)");
		return 1;
	}
	if (strcmp(gen, base->cbt_generation)) {
		snprintf(why, why_size, "the CBT generation changed since the base (%s then, %s now): the change history was lost (module reloaded, map reset or device resized)",
			 base->cbt_generation, gen);
		return 1;
	}
	if (c->device_size != base->size) {
		snprintf(why, why_size, "the device size changed since the base (%llu then, %llu now)",
			 (unsigned long long)base->size,
			 (unsigned long long)c->device_size);
		return 1;
	}
	if (c->snapshot <= base->cbt_snapshot) {
		snprintf(why, why_size, "the CBT dump is of snapshot %u, not newer than the base's snapshot %u",
			 c->snapshot, base->cbt_snapshot);
		return 1;
	}
	return blksnap_cbt_changed(c, base->cbt_snapshot, out);
}
