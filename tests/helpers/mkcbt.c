// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mkcbt: writes a CBT dump for the tool tests, as the module would:
 *   mkcbt GENERATION SNAPSHOT BLOCK_SIZE DEVICE_SIZE MARK [SUB_SIZE] < RANGES > DUMP
 * Blocks touched by RANGES are marked MARK, the others 0.  With SUB_SIZE,
 * a dump of version 2: a block that RANGES cover in part gets a detail
 * entry with its touched sub-blocks marked MARK; a block covered whole
 * gets none (it changed as a whole).
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

	if ((argc != 6 && argc != 7) || parse_uuid(argv[1], c.generation)) {
		fprintf(stderr, "usage: mkcbt GENERATION SNAPSHOT BLOCK_SIZE DEVICE_SIZE MARK [SUB_SIZE] < RANGES\n");
		return 2;
	}
	c.snapshot = (uint32_t)strtoul(argv[2], NULL, 10);
	c.block_size = (uint32_t)strtoul(argv[3], NULL, 10);
	c.device_size = strtoull(argv[4], NULL, 10);
	mark = strtoul(argv[5], NULL, 10);
	c.block_count = blksnap_block_count(c.device_size, c.block_size);
	c.map = calloc(c.block_count, 1);
	if (argc == 7) {
		c.sub_size = (uint32_t)strtoul(argv[6], NULL, 10);
		c.fine = calloc(c.block_count, sizeof(*c.fine));
		if (!c.fine || !c.sub_size)
			return 1;
	}
	blksnap_ranges_init(&r);
	if (!c.map || blksnap_ranges_read(stdin, "stdin", &r)) {
		fprintf(stderr, "mkcbt: %s\n", blksnap_error());
		return 1;
	}
	for (i = 0; i < r.count; i++) {
		uint64_t b = r.v[i].offset / c.block_size;
		uint64_t end = (r.v[i].offset + r.v[i].length - 1) / c.block_size;

		for (; b <= end; b++) {
			uint64_t off = b * c.block_size, len, first, last, s;
			uint64_t from = r.v[i].offset > off ? r.v[i].offset : off;
			uint64_t to = r.v[i].offset + r.v[i].length;
			struct blksnap_cbt_detail *e;

			c.map[b] = (uint8_t)mark;
			if (!c.sub_size)
				continue;
			len = c.device_size - off < c.block_size ? c.device_size - off :
								   c.block_size;
			if (to > off + len)
				to = off + len;
			e = c.fine_count && c.fine[c.fine_count - 1].block == b ?
			    &c.fine[c.fine_count - 1] : NULL;
			if (!e) {
				e = &c.fine[c.fine_count++];
				e->block = b;
			}
			first = (from - off) / c.sub_size;
			last = (to - off - 1) / c.sub_size;
			for (s = first; s <= last; s++)
				e->sub[s] = (uint8_t)mark;
		}
	}
	blksnap_ranges_free(&r);
	/* Blocks covered whole keep no entry. */
	if (c.sub_size) {
		uint64_t k, kept = 0;

		for (k = 0; k < c.fine_count; k++) {
			unsigned int s, n = blksnap_cbt_subblocks(&c, c.fine[k].block);

			for (s = 0; s < n && c.fine[k].sub[s]; s++)
				;
			if (s < n)
				c.fine[kept++] = c.fine[k];
		}
		c.fine_count = kept;
	}
	if (blksnap_cbt_write(STDOUT_FILENO, "stdout", &c)) {
		fprintf(stderr, "mkcbt: %s\n", blksnap_error());
		blksnap_cbt_free(&c);
		return 1;
	}
	blksnap_cbt_free(&c);
	return 0;
}
