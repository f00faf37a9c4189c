// SPDX-License-Identifier: GPL-2.0-or-later
/* CBT dumps: write, read back, reject damage; changed ranges; diff rules. */

#include <endian.h>
#include <stdlib.h>
#include <unistd.h>
#include "blksnap/blksnap.h"
#include "hashindex.h"
#include "manifest-text.h"
#include "tap.h"

static void sample(struct blksnap_cbt *c)
{
	static uint8_t map[5] = { 0, 3, 2, 4, 1 };

	memset(c, 0, sizeof(*c));
	memset(c->generation, 0xab, 16);
	c->block_size = 65536;
	c->device_size = 4 * 65536 + 1000;
	c->block_count = 5;
	c->snapshot = 4;
	c->map = map;
}

static FILE *dump(const struct blksnap_cbt *c, long *len)
{
	FILE *f = tmpfile();

	blksnap_cbt_write(fileno(f), "t", c);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	return f;
}

static int reread(FILE *f, struct blksnap_cbt *out)
{
	lseek(fileno(f), 0, SEEK_SET);
	return blksnap_cbt_read(fileno(f), "dump", out);
}

static void flip(FILE *f, long at)
{
	unsigned char b;

	pread(fileno(f), &b, 1, at);
	b ^= 4;
	pwrite(fileno(f), &b, 1, at);
}

static void test_format(void)
{
	struct blksnap_cbt c, back;
	long len;
	FILE *f;

	sample(&c);
	f = dump(&c, &len);
	ok(len == BLKSNAP_CBT_HEADER_LEN + 5, "dump is header + one byte a block");
	ok(reread(f, &back) == 0 && back.block_count == 5 && back.snapshot == 4 &&
	   !memcmp(back.map, c.map, 5), "reads back");
	free(back.map);
	flip(f, BLKSNAP_CBT_HEADER_LEN + 2);
	fails_with(reread(f, &back), "map is corrupted", "map bit flip caught");
	flip(f, BLKSNAP_CBT_HEADER_LEN + 2);
	flip(f, 33);
	fails_with(reread(f, &back), "header is corrupted", "header bit flip caught");
	flip(f, 33);
	ftruncate(fileno(f), len - 1);
	fails_with(reread(f, &back), "truncated CBT dump", "truncation caught");
	fclose(f);
	f = tmpfile();
	fputs("not a dump at all, just some text that is long enough to fill a header......", f);
	fflush(f);
	fails_with(reread(f, &back), "not a CBT dump", "wrong file refused");
	fclose(f);
	c.block_count = 7;
	f = tmpfile();
	fails_with(blksnap_cbt_write(fileno(f), "t", &c), "does not fit",
		   "inconsistent geometry refused on write");
	fclose(f);
}

static void test_diff(void)
{
	struct blksnap_manifest base;
	struct blksnap_ranges r;
	struct blksnap_cbt c;
	char why[512];

	sample(&c);
	blksnap_ranges_init(&r);
	ok(blksnap_cbt_changed(&c, 2, &r) == 0 && r.count == 2 &&
	   r.v[0].offset == 65536 && r.v[0].length == 65536 &&
	   r.v[1].offset == 3 * 65536 && r.v[1].length == 65536,
	   "blocks marked above 2");
	blksnap_ranges_free(&r);
	ok(blksnap_cbt_changed(&c, 0, &r) == 0 && r.count == 1 &&
	   r.v[0].offset == 65536 && r.v[0].length == 3 * 65536 + 1000,
	   "last block clamped to the device size");
	blksnap_ranges_free(&r);

	blksnap_manifest_init(&base);
	base.size = c.device_size;
	blksnap_cbt_generation_text(&c, base.cbt_generation);
	base.cbt_snapshot = 2;
	ok(blksnap_cbt_diff(&c, &base, &r, why, sizeof(why)) == 0 && r.count == 2,
	   "same generation, newer dump: the changed ranges");
	blksnap_ranges_free(&r);
	base.cbt_snapshot = 4;
	ok(blksnap_cbt_diff(&c, &base, &r, why, sizeof(why)) == 1 &&
	   strstr(why, "not newer"), "dump not newer than the base: no ranges");
	base.cbt_snapshot = 2;
	base.cbt_generation[0] = base.cbt_generation[0] == 'a' ? 'b' : 'a';
	ok(blksnap_cbt_diff(&c, &base, &r, why, sizeof(why)) == 1 &&
	   strstr(why, "generation changed"), "another generation: no ranges");
	blksnap_cbt_generation_text(&c, base.cbt_generation);
	base.size++;
	ok(blksnap_cbt_diff(&c, &base, &r, why, sizeof(why)) == 1 &&
	   strstr(why, "size changed"), "another size: no ranges");
	base.cbt_generation[0] = '\0';
	ok(blksnap_cbt_diff(&c, &base, &r, why, sizeof(why)) == 1 &&
	   strstr(why, "no CBT generation"), "a base without CBT: no ranges");
	ok(r.count == 0, "no short list was produced on any mismatch");
}

/*
 * Found by fuzzing: a valid 72-byte header stating a map of 2^40 blocks
 * had the whole map allocated before a byte of it was read.  The read
 * now fails on the short map, having allocated only what arrived.
 */
static void test_huge_header(void)
{
	unsigned char h[BLKSNAP_CBT_HEADER_LEN + 10] = "BSNAPCBT";
	uint64_t v64, sum;
	uint32_t v32;
	struct blksnap_cbt back;
	FILE *f = tmpfile();

	v32 = htole32(BLKSNAP_CBT_VERSION);
	memcpy(h + 8, &v32, 4);
	v32 = htole32(BLKSNAP_CBT_HEADER_LEN);
	memcpy(h + 12, &v32, 4);
	v64 = htole64(BLKSNAP_CBT_MAX_BLOCKS * 512);	/* device size */
	memcpy(h + 32, &v64, 8);
	v32 = htole32(512);
	memcpy(h + 40, &v32, 4);
	v64 = htole64(BLKSNAP_CBT_MAX_BLOCKS);		/* block count */
	memcpy(h + 48, &v64, 8);
	sum = htole64(blksnap_hash(h, 64));
	memcpy(h + 64, &sum, 8);
	fwrite(h, 1, sizeof(h), f);
	fflush(f);
	fails_with(reread(f, &back),
		   "dump: truncated CBT dump: the map ends after 10 of 1099511627776 bytes",
		   "a short map of a huge device fails as truncated, not out of memory");
	fclose(f);
}

int main(void)
{
	test_format();
	test_huge_header();
	test_diff();
	return tap_done();
}
