/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Range lists: sorted, non-overlapping byte ranges of a device.
 *
 * The text form (blksnap-ranges(5)) is one "OFFSET LENGTH" a line, in
 * decimal bytes, with '#' comments and an optional "# size N" line
 * before the first range stating the device size.
 */
#ifndef BLKSNAP_RANGES_H
#define BLKSNAP_RANGES_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct blksnap_range {
	uint64_t offset;
	uint64_t length;
};

struct blksnap_ranges {
	struct blksnap_range *v;
	size_t count;
	size_t alloc;
	uint64_t device_size;	/* 0: not stated */
};

void blksnap_ranges_init(struct blksnap_ranges *r);
void blksnap_ranges_free(struct blksnap_ranges *r);

/*
 * Appends [offset, offset + length).  It must start at or after the end
 * of the last range; a range touching the last one is merged into it.
 * A zero length appends nothing.  Fails on overlap, disorder, overflow
 * or lack of memory.
 */
int blksnap_ranges_append(struct blksnap_ranges *r, uint64_t offset,
			  uint64_t length);

/*
 * Parses a range list from @in, strictly: any line that is not a
 * comment, a blank line or two unsigned decimal numbers fails, as do a
 * zero length, unsorted or overlapping ranges and ranges past a stated
 * size.  Messages name @name and the line.  @r must be initialised.
 */
int blksnap_ranges_read(FILE *in, const char *name, struct blksnap_ranges *r);

/* Writes @r in the text form, with its "# size" line when known. */
int blksnap_ranges_write(FILE *out, const struct blksnap_ranges *r);

/*
 * Fails, naming @name, if a range ends past @size.  Also fails when
 * the list states a device size other than @size.
 */
int blksnap_ranges_check_size(const struct blksnap_ranges *r,
			      const char *name, uint64_t size);

/* The sum of the lengths. */
uint64_t blksnap_ranges_bytes(const struct blksnap_ranges *r);

#ifdef __cplusplus
}
#endif
#endif
