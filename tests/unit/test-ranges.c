// SPDX-License-Identifier: GPL-2.0-or-later
/* Range lists: parsing (strict), writing, aligning. */

#include "blksnap/blksnap.h"
#include "internal.h"
#include "tap.h"

static int parse_len(const char *text, size_t len, struct blksnap_ranges *r)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int ret;

	blksnap_ranges_init(r);
	ret = blksnap_ranges_read(f, "list", r);
	fclose(f);
	return ret;
}

static int parse(const char *text, struct blksnap_ranges *r)
{
	return parse_len(text, strlen(text), r);
}

static void bad(const char *text, const char *needle, const char *what)
{
	struct blksnap_ranges r;

	fails_with(parse(text, &r), needle, "refused: %s", what);
	blksnap_ranges_free(&r);
}

static void test_good(void)
{
	struct blksnap_ranges r;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	ok(parse("# a comment\n# size 1048576\n\n0 4096\n4096 4096\n"
		 "  65536\t512  \n1048064 512\r\n", &r) == 0, "well-formed list parses");
	ok(r.device_size == 1048576, "size line read");
	ok(r.count == 3 && r.v[0].offset == 0 && r.v[0].length == 8192,
	   "touching ranges merge");
	ok(r.v[1].offset == 65536 && r.v[1].length == 512, "blanks and tabs accepted");
	ok(blksnap_ranges_bytes(&r) == 8192 + 512 + 512, "byte count");
	f = open_memstream(&out, &len);
	blksnap_ranges_write(f, &r);
	fclose(f);
	ok(!strcmp(out, "# size 1048576\n0 8192\n65536 512\n1048064 512\n"),
	   "written back in canonical form");
	free(out);
	ok(blksnap_ranges_check_size(&r, "list", 1048576) == 0, "fits its device");
	fails_with(blksnap_ranges_check_size(&r, "list", 2097152), "states a device size",
		   "size mismatch with the source named");
	blksnap_ranges_free(&r);
	ok(parse("", &r) == 0 && r.count == 0, "empty list is valid");
	blksnap_ranges_free(&r);
	ok(parse("100 5", &r) == 0 && r.count == 1, "last line without newline");
	fails_with(blksnap_ranges_check_size(&r, "list", 104), "ends past the end",
		   "range past the source's end");
	blksnap_ranges_free(&r);
}

static void test_bad(void)
{
	bad("0 4096\n0 4096\n", "list:2: range at 0 overlaps", "duplicate");
	bad("8192 4096\n0 4096\n", "list:2: ranges not sorted", "unsorted");
	bad("0 8192\n4096 4096\n", "overlaps the previous one", "overlapping");
	bad("-1 4096\n", "list:1: expected 'OFFSET LENGTH'", "negative");
	bad("+1 4096\n", "expected 'OFFSET LENGTH'", "plus sign");
	bad("hello world\n", "got 'hello world'", "garbage text");
	bad("1 2 3\n", "expected", "three fields");
	bad("12\n", "expected", "one field");
	bad("0x10 16\n", "expected", "hexadecimal");
	bad("1.5 16\n", "expected", "fraction");
	bad("0 0\n", "empty range", "zero length");
	bad("99999999999999999999999 1\n", "number too large", "overflowing number");
	bad("18446744073709551615 2\n", "wraps", "range wrapping past 2^64");
	bad("# size 8192\n4096 8192\n", "ends past the stated size", "past the stated end");
	bad("0 4096\n# size 8192\n", "size line must come before", "late size line");
	bad("# size 12x\n", "malformed size line", "bad size line");
	bad("# size 0\n", "stated size is 0", "zero size");
	{
		static const char nul[] = "0 4096\0\n";
		struct blksnap_ranges r;

		fails_with(parse_len(nul, sizeof(nul) - 1, &r), "NUL",
			   "refused: NUL byte");
		blksnap_ranges_free(&r);
	}
}

static void test_align(void)
{
	struct blksnap_ranges in, out;

	parse("100 10\n4000 200\n70000 1\n100000 5000\n", &in);
	blksnap_ranges_init(&out);
	ok(blksnap_ranges_align(&in, 4096, 102400, &out) == 0, "align succeeds");
	ok(out.count == 3 && out.v[0].offset == 0 && out.v[0].length == 8192,
	   "neighbours rounded out and merged");
	ok(out.v[1].offset == 69632 && out.v[1].length == 4096, "single byte -> block");
	ok(out.v[2].offset == 98304 && out.v[2].length == 102400 - 98304,
	   "clamped to an unaligned end");
	blksnap_ranges_free(&in);
	blksnap_ranges_free(&out);
}

/* The hash block an incremental takes from its range list. */
static void test_grain(void)
{
	struct blksnap_ranges in;
	const uint64_t size = 1 << 20;

	parse("0 65536\n131072 131072\n", &in);
	ok(bs_ranges_grain(&in, 65536, 4096, size) == 65536,
	   "a 64 KiB list keeps the base's 64 KiB");
	ok(bs_ranges_grain(&in, 16384, 4096, size) == 16384,
	   "never above the base's block");
	blksnap_ranges_free(&in);
	parse("0 65536\n139264 8192\n", &in);
	ok(bs_ranges_grain(&in, 65536, 4096, size) == 8192,
	   "one range on 8 KiB: 8 KiB");
	blksnap_ranges_free(&in);
	parse("4096 4096\n65536 12288\n", &in);
	ok(bs_ranges_grain(&in, 65536, 4096, size) == 4096,
	   "4 KiB ranges: 4 KiB");
	blksnap_ranges_free(&in);
	parse("1000 10\n", &in);
	ok(bs_ranges_grain(&in, 65536, 4096, size) == 4096,
	   "finer than 4 KiB: the floor, 4 KiB");
	ok(bs_ranges_grain(&in, 65536, 8192, size) == 8192,
	   "finer than the floor: the floor");
	blksnap_ranges_free(&in);
	/* The end of an image that is not a multiple of any block. */
	parse("65536 65536\n983040 1000\n", &in);
	ok(bs_ranges_grain(&in, 65536, 4096, 984040) == 65536,
	   "a last range ending at the image's end counts as aligned");
	ok(bs_ranges_grain(&in, 65536, 4096, 1 << 20) == 4096,
	   "the same range short of the end does not");
	blksnap_ranges_free(&in);
	parse("", &in);
	ok(bs_ranges_grain(&in, 65536, 4096, size) == 65536,
	   "an empty list keeps the base's block");
	blksnap_ranges_free(&in);
}

int main(void)
{
	test_good();
	test_bad();
	test_align();
	test_grain();
	return tap_done();
}
