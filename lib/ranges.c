// SPDX-License-Identifier: LGPL-2.1-or-later
/* Range lists: building, strict parsing and writing (blksnap-ranges(5)). */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Longest range line accepted: two 20-digit numbers and generous spacing. */
#define RANGE_LINE_MAX 256

void blksnap_ranges_init(struct blksnap_ranges *r)
{
	memset(r, 0, sizeof(*r));
}

void blksnap_ranges_free(struct blksnap_ranges *r)
{
	free(r->v);
	blksnap_ranges_init(r);
}

int blksnap_ranges_append(struct blksnap_ranges *r, uint64_t offset,
			  uint64_t length)
{
	struct blksnap_range *last = r->count ? &r->v[r->count - 1] : NULL;

	if (!length)
		return 0;
	if (offset + length < offset)
		return bs_fail("range %llu+%llu wraps past 2^64",
			       (unsigned long long)offset,
			       (unsigned long long)length);
	if (last && offset < last->offset + last->length)
		return bs_fail("range %llu+%llu is not after %llu+%llu",
			       (unsigned long long)offset,
			       (unsigned long long)length,
			       (unsigned long long)last->offset,
			       (unsigned long long)last->length);
	if (last && offset == last->offset + last->length) {
		last->length += length;
		return 0;
	}
	if (bs_grow((void **)&r->v, &r->alloc, r->count + 1, sizeof(*r->v)))
		return -1;
	r->v[r->count].offset = offset;
	r->v[r->count].length = length;
	r->count++;
	return 0;
}

/* Parses one unsigned decimal number at *p; advances *p past it. */
static int parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
		s++;
	}
	*out = v;
	*p = s;
	return 0;
}

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* A "# size N" comment; returns 1 and sets *size when it is one. */
static int parse_size_comment(const char *line, uint64_t *size)
{
	const char *p = skip_blanks(line + 1);

	if (strncmp(p, "size", 4) || (p[4] != ' ' && p[4] != '\t'))
		return 0;
	p = skip_blanks(p + 4);
	if (parse_u64(&p, size))
		return -1;
	p = skip_blanks(p);
	return *p == '\0' ? 1 : -1;
}

static int parse_range_line(const char *line, uint64_t *off, uint64_t *len)
{
	const char *p = skip_blanks(line);
	int err;

	err = parse_u64(&p, off);
	if (err)
		return err;
	if (*p != ' ' && *p != '\t')
		return -1;
	p = skip_blanks(p);
	err = parse_u64(&p, len);
	if (err)
		return err;
	p = skip_blanks(p);
	return *p == '\0' ? 0 : -1;
}

/* Reads a line into *buf (getline), newline and CR removed. */
static int read_line(FILE *in, char **buf, size_t *size, const char *name,
		     unsigned long lineno)
{
	ssize_t n = getline(buf, size, in);

	if (n < 0) {
		if (ferror(in))
			return bs_fail_errno(errno, "%s: read error", name);
		return 0;
	}
	if (n && (*buf)[n - 1] == '\n')
		(*buf)[--n] = '\0';
	if (n && (*buf)[n - 1] == '\r')
		(*buf)[--n] = '\0';
	if (strlen(*buf) != (size_t)n)
		return bs_fail("%s:%lu: NUL byte in the line", name, lineno);
	return 1;
}

static int add_parsed(struct blksnap_ranges *r, const char *name,
		      unsigned long lineno, uint64_t off, uint64_t len)
{
	const struct blksnap_range *last = r->count ? &r->v[r->count - 1] : NULL;

	if (!len)
		return bs_fail("%s:%lu: empty range (length 0) at %llu", name,
			       lineno, (unsigned long long)off);
	if (off + len < off)
		return bs_fail("%s:%lu: range %llu+%llu wraps past 2^64", name,
			       lineno, (unsigned long long)off,
			       (unsigned long long)len);
	if (last && off < last->offset)
		return bs_fail("%s:%lu: ranges not sorted: %llu comes after %llu",
			       name, lineno, (unsigned long long)off,
			       (unsigned long long)last->offset);
	if (last && off < last->offset + last->length)
		return bs_fail("%s:%lu: range at %llu overlaps the previous one, which ends at %llu",
			       name, lineno, (unsigned long long)off,
			       (unsigned long long)(last->offset + last->length));
	if (r->device_size && off + len > r->device_size)
		return bs_fail("%s:%lu: range %llu+%llu ends past the stated size %llu",
			       name, lineno, (unsigned long long)off,
			       (unsigned long long)len,
			       (unsigned long long)r->device_size);
	return blksnap_ranges_append(r, off, len);
}

static int parse_line(struct blksnap_ranges *r, const char *name,
		      unsigned long lineno, const char *line)
{
	const char *p = skip_blanks(line);
	uint64_t off, len;
	int err;

	if (*p == '\0')
		return 0;
	if (*p == '#') {
		err = parse_size_comment(p, &off);
		if (err < 0)
			return bs_fail("%s:%lu: malformed size line (expected '# size BYTES')",
				       name, lineno);
		if (err && (r->count || r->device_size))
			return bs_fail("%s:%lu: the size line must come before any range",
				       name, lineno);
		if (err && !off)
			return bs_fail("%s:%lu: stated size is 0", name, lineno);
		if (err)
			r->device_size = off;
		return 0;
	}
	if (strlen(p) > RANGE_LINE_MAX)
		return bs_fail("%s:%lu: line too long", name, lineno);
	err = parse_range_line(p, &off, &len);
	if (err == -2)
		return bs_fail("%s:%lu: number too large", name, lineno);
	if (err)
		return bs_fail("%s:%lu: expected 'OFFSET LENGTH' (two unsigned decimal numbers), got '%.40s'",
			       name, lineno, line);
	return add_parsed(r, name, lineno, off, len);
}

int blksnap_ranges_read(FILE *in, const char *name, struct blksnap_ranges *r)
{
	char *line = NULL;
	size_t size = 0;
	unsigned long lineno = 0;
	int ret;

	while ((ret = read_line(in, &line, &size, name, ++lineno)) > 0)
		if (parse_line(r, name, lineno, line)) {
			ret = -1;
			break;
		}
	free(line);
	return ret;
}

int blksnap_ranges_write(FILE *out, const struct blksnap_ranges *r)
{
	size_t i;

	if (r->device_size)
		fprintf(out, "# size %llu\n", (unsigned long long)r->device_size);
	for (i = 0; i < r->count; i++)
		fprintf(out, "%llu %llu\n", (unsigned long long)r->v[i].offset,
			(unsigned long long)r->v[i].length);
	if (ferror(out))
		return bs_fail_errno(errno, "cannot write the range list");
	return 0;
}

int blksnap_ranges_check_size(const struct blksnap_ranges *r,
			      const char *name, uint64_t size)
{
	const struct blksnap_range *last = r->count ? &r->v[r->count - 1] : NULL;

	if (r->device_size && r->device_size != size)
		return bs_fail("%s: states a device size of %llu bytes, but the source has %llu",
			       name, (unsigned long long)r->device_size,
			       (unsigned long long)size);
	if (last && last->offset + last->length > size)
		return bs_fail("%s: range %llu+%llu ends past the end of the source (%llu bytes)",
			       name, (unsigned long long)last->offset,
			       (unsigned long long)last->length,
			       (unsigned long long)size);
	return 0;
}

uint32_t bs_ranges_grain(const struct blksnap_ranges *in, uint32_t max,
			 uint32_t least, uint64_t size)
{
	uint64_t bits = 0;	/* the OR of every offset and length */
	uint32_t g;
	size_t i;

	for (i = 0; i < in->count; i++) {
		uint64_t off = in->v[i].offset, len = in->v[i].length;

		bits |= off;
		/* The end of the image is a boundary of every block. */
		if (off + len != size)
			bits |= len;
	}
	g = max;
	while (g > least && (bits & (g - 1)))
		g >>= 1;
	return g;
}

int blksnap_ranges_align(const struct blksnap_ranges *in, uint32_t block,
			 uint64_t size, struct blksnap_ranges *out)
{
	uint64_t mask = (uint64_t)block - 1;
	size_t i;

	for (i = 0; i < in->count; i++) {
		uint64_t start = in->v[i].offset & ~mask;
		uint64_t end = in->v[i].offset + in->v[i].length;

		end = end > size - (size & mask) ? size : (end + mask) & ~mask;
		if (start >= end)
			continue;
		if (out->count) {
			struct blksnap_range *last = &out->v[out->count - 1];

			/* Rounding may make neighbours overlap: merge. */
			if (start < last->offset + last->length) {
				if (end > last->offset + last->length)
					last->length = end - last->offset;
				continue;
			}
		}
		if (blksnap_ranges_append(out, start, end - start))
			return -1;
	}
	out->device_size = size;
	return 0;
}

int bs_ranges_subtract(const struct blksnap_ranges *a,
		       const struct blksnap_ranges *b, struct blksnap_ranges *out)
{
	size_t i, j = 0;

	for (i = 0; i < a->count; i++) {
		uint64_t pos = a->v[i].offset;
		uint64_t end = pos + a->v[i].length;

		while (j < b->count && b->v[j].offset + b->v[j].length <= pos)
			j++;
		for (; j < b->count && b->v[j].offset < end; j++) {
			uint64_t bend = b->v[j].offset + b->v[j].length;

			if (b->v[j].offset > pos &&
			    blksnap_ranges_append(out, pos, b->v[j].offset - pos))
				return -1;
			if (bend > pos)
				pos = bend;
			if (bend > end)
				break;	/* it may cover the next range of @a too */
		}
		if (pos < end && blksnap_ranges_append(out, pos, end - pos))
			return -1;
	}
	out->device_size = a->device_size;
	return 0;
}

uint64_t blksnap_ranges_bytes(const struct blksnap_ranges *r)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < r->count; i++)
		sum += r->v[i].length;
	return sum;
}
