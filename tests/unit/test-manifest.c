// SPDX-License-Identifier: GPL-2.0-or-later
/* Manifest text form, its checks, and the chain rules. */

#include <stdint.h>
#include <stdlib.h>
#include "blksnap/blksnap.h"
#include "hashindex.h"
#include "manifest-text.h"
#include "tap.h"

static void sample(struct blksnap_manifest *m)
{
	blksnap_manifest_init(m);
	m->size = 1 << 30;
	strcpy(m->source, "/dev/vdb");
	strcpy(m->id.fstype, "ext4");
	strcpy(m->id.label, "odd\nlabel\\x");
	strcpy(m->image_name, "vdb.img");
	m->data_bytes = 4096;
	m->range_count = 1;
}

static int reparse(const char *text, size_t len, struct blksnap_manifest *m)
{
	return blksnap_manifest_parse(text, len, "a.tar", m);
}

static void test_roundtrip(void)
{
	struct blksnap_manifest m, back;
	char *text;
	size_t len;

	sample(&m);
	ok(blksnap_manifest_format(&m, &text, &len) == 0, "formats");
	ok(reparse(text, len, &back) == 0, "parses back: %s", blksnap_error());
	ok(!strcmp(back.uuid, m.uuid) && back.size == m.size &&
	   back.hash_block_size == m.hash_block_size && !back.incremental,
	   "fields survive");
	ok(!strcmp(back.id.label, m.id.label), "newline and backslash in a label survive");
	text[10] ^= 1;
	fails_with(reparse(text, len, &back), "checksum mismatch", "a flipped bit is caught");
	text[10] ^= 1;
	fails_with(reparse(text, len - 20, &back), "no checksum line", "a cut manifest is caught");
	fails_with(reparse("garbage", 7, &back), "no checksum line", "garbage refused");
	free(text);
}

static void test_fields(void)
{
	struct blksnap_manifest m, back;
	char *text;
	size_t len;

	sample(&m);
	m.format_version = 3;
	blksnap_manifest_format(&m, &text, &len);
	fails_with(reparse(text, len, &back),
		   "format version 3 is not supported (this blksnap reads versions 1 to 2)",
		   "a newer format version is named");
	free(text);
	sample(&m);
	ok(m.format_version == 1, "a new manifest is of version 1");
	m.format_version = 2;
	m.zero_bytes = 1 << 20;
	m.zero_range_count = 3;
	ok(blksnap_manifest_format(&m, &text, &len) == 0 &&
	   strstr(text, "\nzero_bytes=1048576\nzero_ranges=3\n") &&
	   reparse(text, len, &back) == 0 && back.format_version == 2 &&
	   back.zero_bytes == 1 << 20 && back.zero_range_count == 3,
	   "version 2 carries its zero ranges: %s", blksnap_error());
	free(text);
	m.zero_range_count = 0;
	blksnap_manifest_format(&m, &text, &len);
	fails_with(reparse(text, len, &back), "zero_bytes and zero_ranges disagree",
		   "zero bytes without zero ranges refused");
	free(text);
	m.zero_range_count = 1;
	m.zero_bytes = m.size;
	blksnap_manifest_format(&m, &text, &len);
	fails_with(reparse(text, len, &back), "more data than the image size",
		   "data and zeros past the image size refused");
	free(text);
	sample(&m);
	m.hash_block_size = 1000;
	blksnap_manifest_format(&m, &text, &len);
	fails_with(reparse(text, len, &back), "bad hash block size", "bad hash block");
	free(text);
	sample(&m);
	m.incremental = true;	/* without a parent */
	blksnap_manifest_format(&m, &text, &len);
	fails_with(reparse(text, len, &back), "disagree", "incremental without parent");
	free(text);
	sample(&m);
	m.sequence = 4;		/* a full of a later point: version 2 only */
	blksnap_manifest_format(&m, &text, &len);
	fails_with(reparse(text, len, &back), "disagree",
		   "a version 1 full archive with a sequence number is refused");
	free(text);
	m.format_version = 2;
	blksnap_manifest_format(&m, &text, &len);
	ok(reparse(text, len, &back) == 0 && !back.incremental &&
	   back.sequence == 4, "a version 2 synthetic full keeps its sequence number");
	free(text);
}

/* @body (every line but the checksum) with its checksum line, parsed. */
static int parse_body(const char *body, struct blksnap_manifest *m)
{
	char text[8192];
	int n = snprintf(text, sizeof(text), "%schecksum=%016llx\n", body,
			 (unsigned long long)blksnap_hash(body, strlen(body)));

	return reparse(text, (size_t)n, m);
}

/* The formatted text of sample() without its checksum line, edited. */
static void sample_body(char *out, size_t size, const char *from, const char *to)
{
	struct blksnap_manifest m;
	char *text, *at, *sum;
	size_t len;

	sample(&m);
	blksnap_manifest_format(&m, &text, &len);
	sum = strstr(text, "checksum=");
	*sum = '\0';
	at = from[0] ? strstr(text, from) : NULL;
	if (at) {
		*at = '\0';
		snprintf(out, size, "%s%s%s", text, to, at + strlen(from));
	} else {
		snprintf(out, size, "%s%s", text, to);
	}
	free(text);
}

/* Found by fuzzing: what a parsed manifest held must format back the same. */
static void test_strict(void)
{
	static const char *const versions[] = {
		"4294967297", "-4294967295", " +1", "+1", "1 ", "1x", "",
	};
	struct blksnap_manifest m, back;
	char body[8192], from[64];
	char *text;
	size_t len, i;

	sample(&m);
	strcpy(m.compression, "z\nsize=5");
	ok(blksnap_manifest_format(&m, &text, &len) == 0 &&
	   reparse(text, len, &back) == 0 && back.size == m.size &&
	   !strcmp(back.compression, m.compression),
	   "a newline in the compression is escaped, adds no key: %s",
	   blksnap_error());
	free(text);
	sample_body(body, sizeof(body), "", "");
	ok(parse_body(body, &back) == 0, "the edited sample parses: %s",
	   blksnap_error());
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		sample_body(body, sizeof(body), "format=blksnap-archive 1\n", "");
		snprintf(from, sizeof(from), "format=blksnap-archive %s\n",
			 versions[i]);
		memmove(body + strlen(from), body, strlen(body) + 1);
		memcpy(body, from, strlen(from));
		fails_with(parse_body(body, &back), "unknown format",
			   "format version '%s' refused", versions[i]);
	}
	sample_body(body, sizeof(body), "format=blksnap-archive 1\n",
		    "format=blksnap-archive 2\n");
	fails_with(parse_body(body, &back), "lacks the field 'zero_bytes'",
		   "version 2 without its zero ranges refused");
	sample_body(body, sizeof(body), "", "zero_bytes=65536\nzero_ranges=1\n");
	fails_with(parse_body(body, &back), "zero ranges in a version 1 archive",
		   "zero ranges in version 1 refused");
	sample_body(body, sizeof(body), "", "size=5\n");
	fails_with(parse_body(body, &back),
		   "a.tar: manifest: the key 'size' appears more than once",
		   "a repeated key is refused by name");
	sample_body(body, sizeof(body), "", "future=1\nfuture=2\n");
	fails_with(parse_body(body, &back), "the key 'future' appears more than once",
		   "a repeated unknown key too");
	sample_body(body, sizeof(body), "", "future=1\n");
	ok(parse_body(body, &back) == 0, "an unknown key once is ignored: %s",
	   blksnap_error());
	fails_with(reparse("checksum=0\n", 11, &back), "no checksum line",
		   "a manifest shorter than its checksum line is refused");

	/* Past gmtime's years: the created line holds the number. */
	sample(&m);
	m.created = INT64_MAX;
	ok(blksnap_manifest_format(&m, &text, &len) == 0 &&
	   strstr(text, "\ncreated=9223372036854775807\n") &&
	   reparse(text, len, &back) == 0 && back.created == INT64_MAX,
	   "a creation time out of the calendar formats as a number");
	free(text);
}

static void test_chain(void)
{
	struct blksnap_manifest full, inc1, inc2, other, synth;

	sample(&full);
	sample(&other);
	inc1 = full;
	blksnap_manifest_init(&inc1);
	inc1.size = full.size;
	inc1.incremental = true;
	strcpy(inc1.parent_uuid, full.uuid);
	inc1.sequence = 1;
	inc2 = inc1;
	blksnap_manifest_init(&inc2);
	inc2.size = full.size;
	inc2.incremental = true;
	strcpy(inc2.parent_uuid, inc1.uuid);
	inc2.sequence = 2;
	ok(blksnap_manifest_check_chain(NULL, NULL, &full, "f") == 0, "full starts");
	ok(blksnap_manifest_check_chain(&full, "f", &inc1, "i1") == 0, "i1 after f");
	ok(blksnap_manifest_check_chain(&inc1, "i1", &inc2, "i2") == 0, "i2 after i1");
	fails_with(blksnap_manifest_check_chain(NULL, NULL, &inc1, "i1"),
		   "i1: an incremental archive", "incremental cannot start");
	fails_with(blksnap_manifest_check_chain(&full, "f", &inc2, "i2"),
		   "i2: out of order", "skipping one is named");
	fails_with(blksnap_manifest_check_chain(&other, "o", &inc1, "i1"),
		   "but it follows o", "wrong parent named");
	fails_with(blksnap_manifest_check_chain(&inc1, "i1", &full, "f"),
		   "a full archive cannot follow", "full after incremental");
	/* A synthetic full of point 1 (blksnap-merge), then the rest. */
	synth = full;
	strcpy(synth.uuid, inc1.uuid);
	synth.sequence = 1;
	synth.format_version = 2;
	ok(blksnap_manifest_check_chain(&synth, "s", &inc2, "i2") == 0,
	   "the incremental after point 1 follows its synthetic full");
	ok(blksnap_manifest_check_chain(&synth, "s", &inc1, "i1") == 0,
	   "the incremental of point 1 may follow the synthetic full of it");
	fails_with(blksnap_manifest_check_chain(&full, "f", &synth, "s"),
		   "a full archive cannot follow", "a synthetic full after its full");
	synth.sequence = 2;
	fails_with(blksnap_manifest_check_chain(&synth, "s", &inc1, "i1"),
		   "i1: out of order", "the same UUID at another point is refused");
	/* An incremental's hash block divides its parent's. */
	inc1.hash_block_size = full.hash_block_size / 16;
	ok(blksnap_manifest_check_chain(&full, "f", &inc1, "i1") == 0,
	   "a finer hash block follows a coarser one");
	inc2.hash_block_size = full.hash_block_size;
	fails_with(blksnap_manifest_check_chain(&inc1, "i1", &inc2, "i2"),
		   "i2: its hash block (65536 bytes) is larger than that of i1 (4096 bytes)",
		   "a coarser hash block after a finer one is named");
	inc1.hash_block_size = full.hash_block_size;
	inc1.size++;
	fails_with(blksnap_manifest_check_chain(&full, "f", &inc1, "i1"),
		   "differs from its parent", "size change");
}

int main(void)
{
	test_roundtrip();
	test_fields();
	test_strict();
	test_chain();
	return tap_done();
}
