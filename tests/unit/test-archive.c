// SPDX-License-Identifier: GPL-2.0-or-later
/* Archive writer and reader: layout, sparse image, verification. */

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "blksnap/blksnap.h"
#include "archive-read.h"
#include "hashindex.h"
#include "internal.h"
#include "manifest-text.h"
#include "writer.h"
#include "tap.h"

#define HB 4096
#define SIZE (64 * HB + 123)

static unsigned char image[SIZE];
static unsigned char seen[SIZE];
static uint64_t seen_bytes;

static int sink(void *ctx, uint64_t off, const void *buf, size_t len)
{
	(void)ctx;
	memcpy(seen + off, buf, len);
	seen_bytes += len;
	return 0;
}

/* Regions 2 blocks at 4, 1 at 20, and the short last block. */
static void regions(struct blksnap_ranges *r)
{
	blksnap_ranges_init(r);
	blksnap_ranges_append(r, 4 * HB, 2 * HB);
	blksnap_ranges_append(r, 20 * HB, HB);
	blksnap_ranges_append(r, 64 * HB, 123);
}

static int write_archive(const char *path, const char *method, bool with_image)
{
	struct blksnap_compress c;
	struct blksnap_manifest m;
	struct blksnap_hash_index ix;
	struct blksnap_ranges r;
	struct blksnap_writer *w;
	char *text;
	void *index;
	size_t tlen, ilen, i;
	uint64_t pos = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	regions(&r);
	blksnap_manifest_init(&m);
	m.size = SIZE;
	m.hash_block_size = HB;
	strcpy(m.image_name, "t.img");
	m.data_bytes = blksnap_ranges_bytes(&r);
	m.range_count = r.count;
	blksnap_manifest_format(&m, &text, &tlen);
	blksnap_hash_index_init(&ix, HB, SIZE);
	for (i = 0; i < r.count; i++) {
		uint64_t off;

		for (off = r.v[i].offset; off < r.v[i].offset + r.v[i].length; off += HB)
			blksnap_hash_index_add(&ix, off, blksnap_hash(image + off,
				off + HB > SIZE ? SIZE - off : HB));
	}
	blksnap_hash_index_encode(&ix, &index, &ilen);
	blksnap_compress_parse(method, &c);
	if (blksnap_writer_open(fd, path, &c, &w) ||
	    blksnap_writer_add_file(w, BLKSNAP_ENTRY_MANIFEST, text, tlen))
		return -1;
	if (with_image) {
		if (blksnap_writer_begin_image(w, "t.img", SIZE, &r))
			return -1;
		for (i = 0; i < r.count; i++) {
			if (blksnap_writer_image_hole(w, r.v[i].offset - pos) ||
			    blksnap_writer_image_data(w, image + r.v[i].offset,
						      r.v[i].length))
				return -1;
			pos = r.v[i].offset + r.v[i].length;
		}
	}
	if (blksnap_writer_add_file(w, BLKSNAP_ENTRY_HASHES, index, ilen) ||
	    blksnap_writer_finish(w))
		return -1;
	blksnap_writer_free(w);
	free(text);
	free(index);
	blksnap_hash_index_free(&ix);
	blksnap_ranges_free(&r);
	return close(fd);
}

static int read_back(const char *path)
{
	struct blksnap_archive *a;
	struct blksnap_hash_index ix;
	int ret;

	memset(seen, 0, sizeof(seen));
	seen_bytes = 0;
	if (blksnap_archive_open(path, &a))
		return -1;
	ret = blksnap_archive_read_image(a, sink, NULL, &ix, NULL);
	if (!ret)
		blksnap_hash_index_free(&ix);
	blksnap_archive_close(a);
	return ret;
}

/*
 * A source of an archive's bytes for blksnap_archive_open_fill(): a
 * file, in pieces of at most @piece bytes, that fails at byte @fail_at.
 */
struct source {
	int fd;
	size_t piece;
	uint64_t pos, fail_at;
};

static ssize_t source_fill(void *ctx, void *buf, size_t len)
{
	struct source *s = ctx;
	ssize_t n;

	if (s->pos >= s->fail_at)
		return bs_fail("test source: fails at byte %llu",
			       (unsigned long long)s->pos);
	len = len < s->piece ? len : s->piece;
	len = len < s->fail_at - s->pos ? len : (size_t)(s->fail_at - s->pos);
	n = read(s->fd, buf, len);
	if (n > 0)
		s->pos += (uint64_t)n;
	return n;
}

static int read_back_fill(const char *path, size_t piece, uint64_t fail_at)
{
	struct source s = { .piece = piece, .fail_at = fail_at };
	struct blksnap_archive *a;
	struct blksnap_hash_index ix;
	int ret = -1;

	memset(seen, 0, sizeof(seen));
	seen_bytes = 0;
	s.fd = open(path, O_RDONLY);
	if (blksnap_archive_open_fill("fill-test", source_fill, &s, &a) == 0) {
		ret = blksnap_archive_read_image(a, sink, NULL, &ix, NULL);
		if (!ret)
			blksnap_hash_index_free(&ix);
		blksnap_archive_close(a);
	}
	close(s.fd);
	return ret;
}

static bool seen_matches(void)
{
	struct blksnap_ranges r;
	unsigned char want[SIZE] = { 0 };
	size_t i;

	regions(&r);
	for (i = 0; i < r.count; i++)
		memcpy(want + r.v[i].offset, image + r.v[i].offset, r.v[i].length);
	blksnap_ranges_free(&r);
	return !memcmp(want, seen, SIZE) && seen_bytes == 3 * HB + 123;
}

static void flip_byte(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	unsigned char b;

	pread(fd, &b, 1, at);
	b ^= 1;
	pwrite(fd, &b, 1, at);
	close(fd);
}

/* The offset in the file of a byte of image data (uncompressed archives). */
static off_t find(const char *path, const unsigned char *needle, size_t len)
{
	static unsigned char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf));
	ssize_t i;

	close(fd);
	for (i = 0; i + (ssize_t)len <= n; i++)
		if (!memcmp(buf + i, needle, len))
			return i;
	return -1;
}

int main(void)
{
	static const char *const methods[] = { "none", "zstd", "gzip", "xz", "lz4" };
	char path[] = "/tmp/blksnap-test-archive-XXXXXX";
	struct blksnap_archive *a;
	struct blksnap_hash_index ix;
	size_t i;
	off_t at;
	int fd = mkstemp(path);

	close(fd);
	for (i = 0; i < SIZE; i++)
		image[i] = (unsigned char)(rand() >> 7);
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		ok(write_archive(path, methods[i], true) == 0, "%s: written: %s",
		   methods[i], blksnap_error());
		ok(read_back(path) == 0 && seen_matches(), "%s: image regions read back and verified: %s",
		   methods[i], blksnap_error());
		ok(read_back_fill(path, 1000, UINT64_MAX) == 0 && seen_matches(),
		   "%s: the same through a source of bytes, 1000 at a time: %s",
		   methods[i], blksnap_error());
	}
	write_archive(path, "none", true);
	fails_with(read_back_fill(path, 1000, 100), "test source: fails at byte 100",
		   "a source that fails in the manifest fails the open with its message");
	fails_with(read_back_fill(path, 1000, 8000), "test source: fails at byte 8000",
		   "a source that fails in the image fails the read with its message");
	write_archive(path, "zstd", true);
	fails_with(read_back_fill(path, 1000, 2000), "test source: fails at byte 2000",
		   "... of a zstd archive too");
	write_archive(path, "none", true);
	at = find(path, image + 20 * HB + 100, 32);
	ok(at > 0, "image data found in the uncompressed archive");
	flip_byte(path, at);
	fails_with(read_back(path), "image data at offset 81920",
		   "a flipped bit in the image names the hash block's offset");
	fails_with(read_back_fill(path, 1000, UINT64_MAX), "fill-test: corrupted archive: image data at offset 81920",
		   "... read through a source of bytes, which names the archive");
	write_archive(path, "none", false);
	ok(blksnap_archive_open(path, &a) == 0 && !blksnap_archive_has_image(a),
	   "a manifest file opens, without image");
	fails_with(blksnap_archive_read_image(a, sink, NULL, &ix, NULL), "holds no image",
		   "reading an image from a manifest file is refused");
	blksnap_archive_close(a);
	ok(blksnap_archive_open(path, &a) == 0 && blksnap_archive_read_index(a, &ix) == 0 &&
	   ix.count == 4, "its hash index reads");
	blksnap_hash_index_free(&ix);
	blksnap_archive_close(a);
	fd = open(path, O_WRONLY | O_TRUNC);
	write(fd, "hello\n", 6);
	close(fd);
	fails_with(blksnap_archive_open(path, &a), "not a blksnap archive",
		   "a text file is not an archive");
	unlink(path);
	return tap_done();
}
