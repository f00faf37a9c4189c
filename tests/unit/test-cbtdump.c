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
	ok(back.sub_size == 0 && back.fine_count == 0 && !back.fine,
	   "a dump without detail reads back without it");
	blksnap_cbt_free(&back);
	ok(!back.map && !back.fine, "blksnap_cbt_free clears what it frees");
	{
		uint32_t v;

		pread(fileno(f), &v, 4, 8);
		ok(le32toh(v) == 1, "a dump without detail is written as version 1");
	}
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

	v32 = htole32(1);
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

/* ---- Version 2: the sub-block detail ---- */

/*
 * Six blocks of 64 KiB, sub-blocks of 4 KiB, the last block cut to
 * 10000 bytes (3 sub-blocks, the last of 1808 bytes):
 *   block 0: one sub-block (5) marked 3;
 *   block 1: all 16 marked 2;
 *   block 2: every other one (0, 2, .., 14) marked 4;
 *   block 3: no entry, map byte 3 (changed as a whole);
 *   block 4: no entry, not changed;
 *   block 5: sub-block 0 marked 1, sub-block 2 marked 3.
 */
static struct blksnap_cbt_detail fine6[4];
static uint8_t map6[6];

static void sample_fine(struct blksnap_cbt *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	memset(fine6, 0, sizeof(fine6));
	memset(c->generation, 0xcd, 16);
	c->block_size = 65536;
	c->device_size = 5 * 65536 + 10000;
	c->block_count = 6;
	c->snapshot = 4;
	map6[0] = 3;
	map6[1] = 2;
	map6[2] = 4;
	map6[3] = 3;
	map6[4] = 0;
	map6[5] = 3;
	c->map = map6;
	c->sub_size = 4096;
	fine6[0].block = 0;
	fine6[0].sub[5] = 3;
	fine6[1].block = 1;
	memset(fine6[1].sub, 2, 16);
	fine6[2].block = 2;
	for (i = 0; i < 16; i += 2)
		fine6[2].sub[i] = 4;
	fine6[3].block = 5;
	fine6[3].sub[0] = 1;
	fine6[3].sub[2] = 3;
	c->fine = fine6;
	c->fine_count = 4;
}

/* The ranges as "OFFSET+LENGTH ..." for an exact comparison. */
static const char *ranges_text(const struct blksnap_ranges *r)
{
	static char buf[4096];
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < r->count && n < sizeof(buf) - 64; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%llu+%llu",
				      i ? " " : "",
				      (unsigned long long)r->v[i].offset,
				      (unsigned long long)r->v[i].length);
	return buf;
}

static void changed_is(const struct blksnap_cbt *c, uint32_t since,
		       const char *want, const char *what)
{
	struct blksnap_ranges r;
	int ret;

	blksnap_ranges_init(&r);
	ret = blksnap_cbt_changed(c, since, &r);
	ok(ret == 0 && !strcmp(ranges_text(&r), want) &&
	   r.device_size == c->device_size, "%s", what);
	if (ret || strcmp(ranges_text(&r), want))
		printf("# got:  %s\n# want: %s\n", ranges_text(&r), want);
	blksnap_ranges_free(&r);
}

static void test_fine_changed(void)
{
	struct blksnap_cbt c;

	sample_fine(&c);
	ok(blksnap_cbt_subblocks(&c, 0) == 16 && blksnap_cbt_subblocks(&c, 5) == 3,
	   "16 sub-blocks in a block, 3 in the cut last one");
	/* Block 1 (all of it) runs into sub-block 0 of block 2. */
	changed_is(&c, 0,
		   "20480+4096 65536+69632 139264+4096 147456+4096 155648+4096 "
		   "163840+4096 172032+4096 180224+4096 188416+4096 196608+65536 "
		   "327680+4096 335872+1808",
		   "since 0: one sub-block, a whole block of 16, every other one, "
		   "a block without entry, the cut last block");
	changed_is(&c, 1,
		   "20480+4096 65536+69632 139264+4096 147456+4096 155648+4096 "
		   "163840+4096 172032+4096 180224+4096 188416+4096 196608+65536 "
		   "335872+1808",
		   "since 1: the last block's sub-block marked 1 is left out");
	changed_is(&c, 2,
		   "20480+4096 131072+4096 139264+4096 147456+4096 155648+4096 "
		   "163840+4096 172032+4096 180224+4096 188416+4096 196608+65536 "
		   "335872+1808",
		   "since 2: the block marked 2 throughout is left out");
	changed_is(&c, 3,
		   "131072+4096 139264+4096 147456+4096 155648+4096 "
		   "163840+4096 172032+4096 180224+4096 188416+4096",
		   "since 3: only the sub-blocks marked 4");
	changed_is(&c, 4, "", "since 4: nothing");
	c.sub_size = 0;
	c.fine_count = 0;
	changed_is(&c, 2, "0+65536 131072+131072 327680+10000",
		   "without detail: whole blocks, as in version 1");
	sample_fine(&c);
	c.sub_size = 16384;	/* 4 sub-blocks of 16 KiB */
	memset(fine6[1].sub + 4, 0, 12);
	memset(fine6[2].sub, 0, 16);
	fine6[2].sub[1] = 4;
	fine6[2].sub[3] = 4;
	fine6[3].sub[0] = 3;
	fine6[3].sub[2] = 0;
	fine6[0].sub[5] = 0;
	fine6[0].sub[1] = 3;
	changed_is(&c, 2,
		   "16384+16384 147456+16384 180224+81920 327680+10000",
		   "sub-blocks of 16 KiB; the cut block's one sub-block of 10000 bytes");
}

/* Writes @c as a version 2 dump without any check, with correct checksums. */
static FILE *raw_v2(const struct blksnap_cbt *c, uint32_t version, uint32_t reserved)
{
	unsigned char h[BLKSNAP_CBT_HEADER_LEN_V2] = "BSNAPCBT";
	unsigned char *d = calloc(c->fine_count ? c->fine_count : 1, BLKSNAP_CBT_ENTRY_LEN);
	FILE *f = tmpfile();
	uint64_t v64, k;
	uint32_t v32;

#define P32(off, v) (v32 = htole32(v), memcpy(h + (off), &v32, 4))
#define P64(off, v) (v64 = htole64(v), memcpy(h + (off), &v64, 8))
	P32(8, version);
	P32(12, BLKSNAP_CBT_HEADER_LEN_V2);
	memcpy(h + 16, c->generation, 16);
	P64(32, c->device_size);
	P32(40, c->block_size);
	P32(44, c->snapshot);
	P64(48, c->block_count);
	P64(56, blksnap_hash(c->map, c->block_count));
	P32(64, c->sub_size);
	P32(68, reserved);
	P64(72, c->fine_count);
	for (k = 0; k < c->fine_count; k++) {
		v64 = htole64(c->fine[k].block);
		memcpy(d + k * BLKSNAP_CBT_ENTRY_LEN, &v64, 8);
		memcpy(d + k * BLKSNAP_CBT_ENTRY_LEN + 8, c->fine[k].sub, 16);
	}
	P64(80, blksnap_hash(d, c->fine_count * BLKSNAP_CBT_ENTRY_LEN));
	P64(88, blksnap_hash(h, 88));
#undef P32
#undef P64
	fwrite(h, 1, sizeof(h), f);
	fwrite(c->map, 1, c->block_count, f);
	fwrite(d, BLKSNAP_CBT_ENTRY_LEN, c->fine_count, f);
	fflush(f);
	free(d);
	return f;
}

/* A bad detail is refused by the writer and, written raw, by the reader. */
static void refused(const struct blksnap_cbt *c, const char *needle, const char *what)
{
	struct blksnap_cbt back;
	FILE *f = tmpfile();

	fails_with(blksnap_cbt_write(fileno(f), "t", c), needle, "write refuses %s", what);
	fclose(f);
	f = raw_v2(c, 2, 0);
	fails_with(reread(f, &back), needle, "read refuses %s", what);
	fclose(f);
}

static void test_fine_format(void)
{
	struct blksnap_cbt c, back;
	struct blksnap_ranges r;
	long len;
	FILE *f;
	uint32_t v;
	int i;

	sample_fine(&c);
	f = dump(&c, &len);
	ok(len == BLKSNAP_CBT_HEADER_LEN_V2 + 6 + 4 * BLKSNAP_CBT_ENTRY_LEN,
	   "version 2: header of 96 bytes, the map, 24 bytes an entry");
	pread(fileno(f), &v, 4, 8);
	ok(le32toh(v) == 2, "a dump with detail is written as version 2");
	ok(reread(f, &back) == 0 && back.block_count == 6 && back.sub_size == 4096 &&
	   back.fine_count == 4 && !memcmp(back.map, map6, 6) &&
	   !memcmp(back.fine, fine6, sizeof(fine6)), "version 2 reads back, detail and all");
	blksnap_ranges_init(&r);
	ok(blksnap_cbt_changed(&back, 2, &r) == 0 && r.count == 11,
	   "the read dump gives the sub-block ranges");
	blksnap_ranges_free(&r);
	blksnap_cbt_free(&back);
	{
		FILE *g = raw_v2(&c, 2, 0);
		unsigned char a[512], b[512];
		size_t n1, n2;

		n1 = (size_t)pread(fileno(f), a, sizeof(a), 0);
		n2 = (size_t)pread(fileno(g), b, sizeof(b), 0);
		ok(n1 == (size_t)len && n1 == n2 && !memcmp(a, b, n1),
		   "the layout is the one blksnap-cbt(5) describes");
		fclose(g);
	}
	flip(f, BLKSNAP_CBT_HEADER_LEN_V2 + 6 + 30);
	fails_with(reread(f, &back), "CBT detail is corrupted", "detail bit flip caught");
	flip(f, BLKSNAP_CBT_HEADER_LEN_V2 + 6 + 30);
	flip(f, 73);
	fails_with(reread(f, &back), "header is corrupted", "detail count bit flip caught");
	flip(f, 73);
	ftruncate(fileno(f), len - 5);
	fails_with(reread(f, &back), "the detail ends after 91 of 96 bytes",
		   "truncated detail caught");
	ftruncate(fileno(f), BLKSNAP_CBT_HEADER_LEN + 10);
	fails_with(reread(f, &back), "the header ends after 82 of 96 bytes",
		   "truncated version 2 header caught");
	fclose(f);
	f = raw_v2(&c, 2, 0);
	fputc(0, f);
	fflush(f);
	fails_with(reread(f, &back), "unexpected data after the CBT detail",
		   "data after the detail refused");
	fclose(f);
	f = raw_v2(&c, 3, 0);
	fails_with(reread(f, &back), "CBT dump version 3 is not supported (this blksnap reads versions 1 and 2)",
		   "version 3 refused by name");
	fclose(f);
	f = raw_v2(&c, 2, 1);
	fails_with(reread(f, &back), "reserved field not zero", "reserved field refused");
	fclose(f);

	/* Every rule of the detail, refused by name on write and on read. */
	sample_fine(&c);
	fine6[1].block = 0;
	refused(&c, "entry 1: block 0 is not after block 0 (entries must be sorted and unique)",
		"a duplicate block");
	sample_fine(&c);
	fine6[1].block = 3;
	fine6[2].block = 2;
	memcpy(fine6[1].sub, fine6[2].sub, 16);
	map6[3] = 4;
	refused(&c, "entry 2: block 2 is not after block 3", "unsorted entries");
	sample_fine(&c);
	fine6[3].block = 6;
	refused(&c, "entry 3: block 6 is past the map's 6 blocks", "a block past the map");
	sample_fine(&c);
	map6[2] = 5;
	refused(&c, "entry 2: the largest mark of block 2's sub-blocks, 4, is not its map byte 5",
		"sub-blocks below the map byte");
	sample_fine(&c);
	fine6[0].sub[15] = 7;
	refused(&c, "the largest mark of block 0's sub-blocks, 7, is not its map byte 3",
		"a sub-block above the map byte");
	sample_fine(&c);
	fine6[3].sub[3] = 3;
	refused(&c, "entry 3: sub-block 3 of block 5 is marked 3 past the block's 3 sub-blocks",
		"a mark past the cut last block");
	sample_fine(&c);
	c.sub_size = 8192;	/* 8 sub-blocks a block */
	fine6[1].sub[8] = 0;	/* 9 to 15 are 2 */
	refused(&c, "entry 1: sub-block 9 of block 1 is marked 2 past the block's 8 sub-blocks",
		"a mark past the block's sub-block count");
	sample_fine(&c);
	c.sub_size = 3000;
	refused(&c, "sub-block size 3000 is not a power of two", "a sub-block size not a power of two");
	sample_fine(&c);
	c.sub_size = 256;
	refused(&c, "sub-block size 256 is not a power of two of 512 or more",
		"a sub-block size below 512");
	sample_fine(&c);
	c.sub_size = 65536;
	refused(&c, "sub-block size 65536 is not a power of two of 512 or more dividing the block size 65536",
		"a sub-block size of the whole block");
	sample_fine(&c);
	c.sub_size = 2048;	/* 32 sub-blocks */
	refused(&c, "dividing the block size 65536 in at most 16", "more than 16 sub-blocks");
	sample_fine(&c);
	c.fine_count = 7;
	c.block_count = 6;
	{
		struct blksnap_cbt_detail many[7];

		memset(many, 0, sizeof(many));
		for (i = 0; i < 7; i++)
			many[i].block = (uint64_t)i;
		c.fine = many;
		fails_with(blksnap_cbt_write(fileno(stdout), "t", &c),
			   "CBT detail of 7 entries for a map of 6 blocks",
			   "write refuses more entries than blocks");
		f = raw_v2(&c, 2, 0);
		fails_with(reread(f, &back), "CBT detail of 7 entries for a map of 6 blocks",
			   "read refuses more entries than blocks, before reading them");
		fclose(f);
	}
	sample_fine(&c);
	c.sub_size = 0;
	fails_with(blksnap_cbt_write(fileno(stdout), "t", &c),
		   "CBT detail of 4 entries without a sub-block size",
		   "write refuses entries without a sub-block size");
	f = raw_v2(&c, 2, 0);
	fails_with(reread(f, &back), "version 2 with a sub-block size of 0",
		   "read refuses a version 2 dump with a sub-block size of 0");
	fclose(f);
	sample_fine(&c);
	map6[2] = 5;
	{
		struct blksnap_ranges none;

		blksnap_ranges_init(&none);
		fails_with(blksnap_cbt_changed(&c, 0, &none), "is not its map byte 5",
			   "blksnap_cbt_changed refuses an inconsistent detail");
		ok(none.count == 0, "and gives no ranges");
		blksnap_ranges_free(&none);
	}

	/* A version 2 dump with no entry: every block as a whole. */
	sample_fine(&c);
	c.fine_count = 0;
	f = dump(&c, &len);
	ok(len == BLKSNAP_CBT_HEADER_LEN_V2 + 6 && reread(f, &back) == 0 &&
	   back.sub_size == 4096 && back.fine_count == 0,
	   "version 2 without entries reads back");
	changed_is(&back, 2, "0+65536 131072+131072 327680+10000",
		   "and its ranges are whole blocks");
	blksnap_cbt_free(&back);
	fclose(f);
}

static void test_fine_diff(void)
{
	struct blksnap_manifest base;
	struct blksnap_ranges r;
	struct blksnap_cbt c;
	char why[512];

	sample_fine(&c);
	blksnap_manifest_init(&base);
	base.size = c.device_size;
	blksnap_cbt_generation_text(&c, base.cbt_generation);
	base.cbt_snapshot = 3;
	blksnap_ranges_init(&r);
	ok(blksnap_cbt_diff(&c, &base, &r, why, sizeof(why)) == 0 &&
	   !strcmp(ranges_text(&r), "131072+4096 139264+4096 147456+4096 155648+4096 "
		   "163840+4096 172032+4096 180224+4096 188416+4096"),
	   "diff over a base of snapshot 3: the 4 KiB sub-blocks marked 4");
	blksnap_ranges_free(&r);
}

int main(void)
{
	test_format();
	test_huge_header();
	test_diff();
	test_fine_changed();
	test_fine_format();
	test_fine_diff();
	return tap_done();
}
