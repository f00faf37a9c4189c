// SPDX-License-Identifier: LGPL-2.1-or-later
/* CBT dumps (blksnap-cbt(5)): writing, strict reading, changed ranges. */

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/*
 * Header layout; all numbers little-endian.  Version 1 ends with the
 * header's hash at 64 (72 bytes); version 2 puts the detail's fields
 * there and its header hash at 88 (96 bytes), then after the map come
 * fine_count entries of BLKSNAP_CBT_ENTRY_LEN bytes.
 */
#define OFF_MAGIC	0
#define OFF_VERSION	8
#define OFF_HEADER_LEN	12
#define OFF_GENERATION	16
#define OFF_SIZE	32
#define OFF_BLOCK	40
#define OFF_SNAPSHOT	44
#define OFF_COUNT	48
#define OFF_MAP_HASH	56
#define OFF_HDR_HASH	64	/* version 1 */
#define OFF_SUB_SIZE	64	/* version 2 */
#define OFF_RESERVED	68
#define OFF_FINE_COUNT	72
#define OFF_FINE_HASH	80
#define OFF_HDR_HASH_V2	88

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

unsigned int blksnap_cbt_subblocks(const struct blksnap_cbt *c, uint64_t block)
{
	uint64_t off = block * c->block_size, len;

	if (!c->sub_size || off >= c->device_size)
		return 1;
	len = BS_MIN((uint64_t)c->block_size, c->device_size - off);
	return (unsigned int)((len + c->sub_size - 1) / c->sub_size);
}

static int check_detail(const char *name, const struct blksnap_cbt *c)
{
	uint32_t ss = c->sub_size;
	uint64_t k;

	if (!ss) {
		if (c->fine_count)
			return bs_fail("%s: CBT detail of %llu entries without a sub-block size",
				       name, (unsigned long long)c->fine_count);
		return 0;
	}
	if (ss < 512 || (ss & (ss - 1)) || ss >= c->block_size ||
	    c->block_size / ss > BLKSNAP_CBT_SUBBLOCKS)
		return bs_fail("%s: CBT sub-block size %u is not a power of two of 512 or more dividing the block size %u in at most %u",
			       name, ss, c->block_size, BLKSNAP_CBT_SUBBLOCKS);
	if (c->fine_count > c->block_count)
		return bs_fail("%s: CBT detail of %llu entries for a map of %llu blocks",
			       name, (unsigned long long)c->fine_count,
			       (unsigned long long)c->block_count);
	if (c->fine_count && !c->fine)
		return bs_fail("%s: CBT detail of %llu entries missing", name,
			       (unsigned long long)c->fine_count);
	for (k = 0; k < c->fine_count; k++) {
		const struct blksnap_cbt_detail *e = &c->fine[k];
		unsigned int i, n;
		uint8_t top = 0;

		if (e->block >= c->block_count)
			return bs_fail("%s: CBT detail entry %llu: block %llu is past the map's %llu blocks",
				       name, (unsigned long long)k,
				       (unsigned long long)e->block,
				       (unsigned long long)c->block_count);
		if (k && e->block <= c->fine[k - 1].block)
			return bs_fail("%s: CBT detail entry %llu: block %llu is not after block %llu (entries must be sorted and unique)",
				       name, (unsigned long long)k,
				       (unsigned long long)e->block,
				       (unsigned long long)c->fine[k - 1].block);
		n = blksnap_cbt_subblocks(c, e->block);
		for (i = 0; i < BLKSNAP_CBT_SUBBLOCKS; i++) {
			if (i >= n && e->sub[i])
				return bs_fail("%s: CBT detail entry %llu: sub-block %u of block %llu is marked %u past the block's %u sub-blocks",
					       name, (unsigned long long)k, i,
					       (unsigned long long)e->block,
					       e->sub[i], n);
			if (e->sub[i] > top)
				top = e->sub[i];
		}
		if (top != c->map[e->block])
			return bs_fail("%s: CBT detail entry %llu: the largest mark of block %llu's sub-blocks, %u, is not its map byte %u",
				       name, (unsigned long long)k,
				       (unsigned long long)e->block, top,
				       c->map[e->block]);
	}
	return 0;
}

int blksnap_cbt_check(const char *name, const struct blksnap_cbt *c)
{
	if (check_geometry(name, c))
		return -1;
	if (!c->map)
		return bs_fail("%s: CBT map missing", name);
	return check_detail(name, c);
}

static void encode_entry(unsigned char *p, const struct blksnap_cbt_detail *e)
{
	put64(p, e->block);
	memcpy(p + 8, e->sub, BLKSNAP_CBT_SUBBLOCKS);
}

/* The detail as written, into a new buffer (NULL and a message on failure). */
static unsigned char *encode_detail(const char *name, const struct blksnap_cbt *c,
				    size_t *len)
{
	unsigned char *buf;
	uint64_t k;

	*len = (size_t)c->fine_count * BLKSNAP_CBT_ENTRY_LEN;
	buf = malloc(*len ? *len : 1);
	if (!buf) {
		bs_fail("%s: out of memory for %llu detail entries", name,
			(unsigned long long)c->fine_count);
		return NULL;
	}
	for (k = 0; k < c->fine_count; k++)
		encode_entry(buf + k * BLKSNAP_CBT_ENTRY_LEN, &c->fine[k]);
	return buf;
}

int blksnap_cbt_write(int fd, const char *name, const struct blksnap_cbt *c)
{
	unsigned char h[BLKSNAP_CBT_HEADER_LEN_V2] = { 0 };
	unsigned char *detail = NULL;
	size_t hlen = BLKSNAP_CBT_HEADER_LEN, dlen = 0;

	if (blksnap_cbt_check(name, c))
		return -1;
	memcpy(h + OFF_MAGIC, BLKSNAP_CBT_MAGIC, 8);
	memcpy(h + OFF_GENERATION, c->generation, 16);
	put64(h + OFF_SIZE, c->device_size);
	put32(h + OFF_BLOCK, c->block_size);
	put32(h + OFF_SNAPSHOT, c->snapshot);
	put64(h + OFF_COUNT, c->block_count);
	put64(h + OFF_MAP_HASH, blksnap_hash(c->map, (size_t)c->block_count));
	if (!c->sub_size) {
		put32(h + OFF_VERSION, 1);
		put32(h + OFF_HEADER_LEN, BLKSNAP_CBT_HEADER_LEN);
		put64(h + OFF_HDR_HASH, blksnap_hash(h, OFF_HDR_HASH));
	} else {
		detail = encode_detail(name, c, &dlen);
		if (!detail)
			return -1;
		hlen = BLKSNAP_CBT_HEADER_LEN_V2;
		put32(h + OFF_VERSION, 2);
		put32(h + OFF_HEADER_LEN, BLKSNAP_CBT_HEADER_LEN_V2);
		put32(h + OFF_SUB_SIZE, c->sub_size);
		put64(h + OFF_FINE_COUNT, c->fine_count);
		put64(h + OFF_FINE_HASH, blksnap_hash(detail, dlen));
		put64(h + OFF_HDR_HASH_V2, blksnap_hash(h, OFF_HDR_HASH_V2));
	}
	if (bs_write_all(fd, h, hlen) ||
	    bs_write_all(fd, c->map, (size_t)c->block_count) ||
	    (dlen && bs_write_all(fd, detail, dlen))) {
		int err = errno;

		free(detail);
		return bs_fail_errno(err, "%s: write error", name);
	}
	free(detail);
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

/*
 * The detail as it arrives, @c->fine_count entries (at most the block
 * count, checked before), hashed as read: the buffers grow with what
 * was read, as the map's do.
 */
static int read_detail(int fd, const char *name, struct blksnap_cbt *c,
		       uint64_t hash)
{
	size_t want = (size_t)c->fine_count * BLKSNAP_CBT_ENTRY_LEN, done = 0;
	size_t alloc = 0, ealloc = 0;
	unsigned char *raw = NULL;
	uint64_t k;

	while (done < want) {
		size_t n = BS_MIN(want - done, (size_t)BS_ZERO_CHUNK / BLKSNAP_CBT_ENTRY_LEN *
				  BLKSNAP_CBT_ENTRY_LEN);

		if (bs_grow((void **)&raw, &alloc, done + n, 1) ||
		    read_exact(fd, name, raw + done, n, "the detail", done, want)) {
			free(raw);
			return -1;
		}
		if (bs_grow((void **)&c->fine, &ealloc,
			    (done + n) / BLKSNAP_CBT_ENTRY_LEN, sizeof(*c->fine))) {
			free(raw);
			return -1;
		}
		done += n;
	}
	if (blksnap_hash(raw ? raw : (unsigned char *)"", want) != hash) {
		free(raw);
		return bs_fail("%s: CBT detail is corrupted (checksum mismatch)", name);
	}
	for (k = 0; k < c->fine_count; k++) {
		const unsigned char *p = raw + k * BLKSNAP_CBT_ENTRY_LEN;

		c->fine[k].block = get64(p);
		memcpy(c->fine[k].sub, p + 8, BLKSNAP_CBT_SUBBLOCKS);
	}
	free(raw);
	return 0;
}

int blksnap_cbt_read(int fd, const char *name, struct blksnap_cbt *c)
{
	unsigned char h[BLKSNAP_CBT_HEADER_LEN_V2];
	uint32_t version, hlen;
	char extra;

	memset(c, 0, sizeof(*c));
	if (read_exact(fd, name, h, BLKSNAP_CBT_HEADER_LEN, "the header", 0,
		       BLKSNAP_CBT_HEADER_LEN))
		return -1;
	if (memcmp(h + OFF_MAGIC, BLKSNAP_CBT_MAGIC, 8))
		return bs_fail("%s: not a CBT dump (bad magic)", name);
	version = get32(h + OFF_VERSION);
	if (version != 1 && version != 2)
		return bs_fail("%s: CBT dump version %u is not supported (this blksnap reads versions 1 and 2)",
			       name, version);
	hlen = version == 1 ? BLKSNAP_CBT_HEADER_LEN : BLKSNAP_CBT_HEADER_LEN_V2;
	if (get32(h + OFF_HEADER_LEN) != hlen)
		return bs_fail("%s: CBT dump header is corrupted", name);
	if (version == 2 &&
	    read_exact(fd, name, h + BLKSNAP_CBT_HEADER_LEN,
		       BLKSNAP_CBT_HEADER_LEN_V2 - BLKSNAP_CBT_HEADER_LEN, "the header",
		       BLKSNAP_CBT_HEADER_LEN, BLKSNAP_CBT_HEADER_LEN_V2))
		return -1;
	if (get64(h + hlen - 8) != blksnap_hash(h, hlen - 8))
		return bs_fail("%s: CBT dump header is corrupted", name);
	memcpy(c->generation, h + OFF_GENERATION, 16);
	c->device_size = get64(h + OFF_SIZE);
	c->block_size = get32(h + OFF_BLOCK);
	c->snapshot = get32(h + OFF_SNAPSHOT);
	c->block_count = get64(h + OFF_COUNT);
	if (check_geometry(name, c))
		return -1;
	if (version == 2) {
		uint32_t ss = get32(h + OFF_SUB_SIZE);

		c->fine_count = get64(h + OFF_FINE_COUNT);
		if (get32(h + OFF_RESERVED))
			return bs_fail("%s: CBT dump header: reserved field not zero", name);
		if (!ss)
			return bs_fail("%s: CBT dump of version 2 with a sub-block size of 0",
				       name);
		c->sub_size = ss;
		if (ss < 512 || (ss & (ss - 1)) || ss >= c->block_size ||
		    c->block_size / ss > BLKSNAP_CBT_SUBBLOCKS ||
		    c->fine_count > c->block_count) {
			/* Said by check_detail, before any allocation. */
			struct blksnap_cbt shape = *c;

			shape.fine = NULL;
			check_detail(name, &shape);
			c->fine_count = 0;
			c->sub_size = 0;
			return -1;
		}
	}
	if (read_map(fd, name, c))
		goto fail;
	if (blksnap_hash(c->map, (size_t)c->block_count) != get64(h + OFF_MAP_HASH)) {
		bs_fail("%s: CBT map is corrupted (checksum mismatch)", name);
		goto fail;
	}
	if (version == 2 && (read_detail(fd, name, c, get64(h + OFF_FINE_HASH)) ||
			     check_detail(name, c)))
		goto fail;
	if (read(fd, &extra, 1) > 0) {
		bs_fail("%s: unexpected data after the CBT %s", name,
			version == 2 ? "detail" : "map");
		goto fail;
	}
	return 0;
fail:
	blksnap_cbt_free(c);
	return -1;
}

void blksnap_cbt_free(struct blksnap_cbt *c)
{
	free(c->map);
	free(c->fine);
	c->map = NULL;
	c->fine = NULL;
	c->fine_count = 0;
}

int blksnap_cbt_changed(const struct blksnap_cbt *c, uint32_t since,
			struct blksnap_ranges *out)
{
	uint64_t b, k = 0;

	if (blksnap_cbt_check("CBT", c))
		return -1;
	out->device_size = c->device_size;
	for (b = 0; b < c->block_count; b++) {
		uint64_t off = b * c->block_size;
		uint64_t len = BS_MIN((uint64_t)c->block_size, c->device_size - off);
		const struct blksnap_cbt_detail *e;
		unsigned int i, n;

		if (c->map[b] <= since) {
			if (k < c->fine_count && c->fine[k].block == b)
				k++;	/* no sub-block is above the map byte */
			continue;
		}
		if (k >= c->fine_count || c->fine[k].block != b) {
			if (blksnap_ranges_append(out, off, len))
				return -1;
			continue;
		}
		e = &c->fine[k++];
		n = blksnap_cbt_subblocks(c, b);
		for (i = 0; i < n; i++) {
			uint64_t at = (uint64_t)i * c->sub_size;

			if (e->sub[i] > since &&
			    blksnap_ranges_append(out, off + at,
						  BS_MIN((uint64_t)c->sub_size, len - at)))
				return -1;
		}
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
