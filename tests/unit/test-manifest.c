// SPDX-License-Identifier: GPL-2.0-or-later
/* Manifest text form, its checks, and the chain rules. */

#include <stdlib.h>
#include "blksnap/blksnap.h"
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
	m.format_version = 2;
	blksnap_manifest_format(&m, &text, &len);
	fails_with(reparse(text, len, &back), "format version 2 is not supported",
		   "a newer format version is named");
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
}

static void test_chain(void)
{
	struct blksnap_manifest full, inc1, inc2, other;

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
	inc1.size++;
	fails_with(blksnap_manifest_check_chain(&full, "f", &inc1, "i1"),
		   "differs from its parent", "size change");
}

int main(void)
{
	test_roundtrip();
	test_fields();
	test_chain();
	return tap_done();
}
