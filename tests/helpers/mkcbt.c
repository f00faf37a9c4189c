// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mkcbt: writes a CBT dump for the tool tests, as the module would:
 *   mkcbt GENERATION SNAPSHOT BLOCK_SIZE DEVICE_SIZE MARK < RANGES > DUMP
 * Blocks touched by RANGES are marked MARK, the others 0.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "blksnap/blksnap.h"
#include "hashindex.h"

static int parse_uuid(const char *s, uint8_t out[16])
{
	int i;

	for (i = 0; i < 16; i++) {
		if (*s == '-')
			s++;
		if (sscanf(s, "%2hhx", &out[i]) != 1)
			return -1;
		s += 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct blksnap_ranges r;
	struct blksnap_cbt c = { 0 };
	unsigned long mark;
	size_t i;

	if (argc != 6 || parse_uuid(argv[1], c.generation)) {
		fprintf(stderr, "usage: mkcbt GENERATION SNAPSHOT BLOCK_SIZE DEVICE_SIZE MARK < RANGES\n");
		return 2;
	}
	c.snapshot = (uint32_t)strtoul(argv[2], NULL, 10);
	c.block_size = (uint32_t)strtoul(argv[3], NULL, 10);
	c.device_size = strtoull(argv[4], NULL, 10);
	mark = strtoul(argv[5], NULL, 10);
	c.block_count = blksnap_block_count(c.device_size, c.block_size);
	c.map = calloc(c.block_count, 1);
	blksnap_ranges_init(&r);
	if (!c.map || blksnap_ranges_read(stdin, "stdin", &r)) {
		fprintf(stderr, "mkcbt: %s\n", blksnap_error());
		return 1;
	}
	for (i = 0; i < r.count; i++) {
		uint64_t b = r.v[i].offset / c.block_size;
		uint64_t end = (r.v[i].offset + r.v[i].length - 1) / c.block_size;

		for (; b <= end; b++)
			c.map[b] = (uint8_t)mark;
	}
	blksnap_ranges_free(&r);
	if (blksnap_cbt_write(STDOUT_FILENO, "stdout", &c)) {
		fprintf(stderr, "mkcbt: %s\n", blksnap_error());
		free(c.map);
		return 1;
	}
	free(c.map);
	return 0;
}
