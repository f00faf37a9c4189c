// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Seekable zstd (lib/zstd-seekable.h): what the writer writes, the
 * reader reads back at any offset; frames end on request; damaged
 * frames and tables fail naming the frame; a file without a table is
 * told apart.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "xxh.h"
#include "zstd-seekable.h"
#include "tap.h"

struct mem {
	unsigned char *d;
	size_t n, cap;
	int fail_after;		/* writes before one fails; -1: never */
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;

	if (m->fail_after == 0)
		return bs_fail_errno(ENOSPC, "test: write error");
	if (m->fail_after > 0)
		m->fail_after--;
	if (m->n + len > m->cap) {
		m->cap = (m->n + len) * 2;
		m->d = realloc(m->d, m->cap);
		if (!m->d)
			abort();
	}
	memcpy(m->d + m->n, buf, len);
	m->n += len;
	return 0;
}

static ssize_t mem_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct mem *m = ctx;

	if (off >= m->n)
		return 0;
	if (len > m->n - off)
		len = m->n - off;
	memcpy(buf, m->d + off, len);
	return (ssize_t)len;
}

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Text-like, random and zero stretches, so frames compress unevenly. */
static unsigned char *make_data(size_t n)
{
	unsigned char *d = malloc(n);
	size_t i;

	if (!d)
		abort();
	for (i = 0; i < n; i++) {
		size_t part = i / 300000 % 3;

		d[i] = part == 0 ? (unsigned char)('a' + i % 7 + (i / 1000) % 5) :
		       part == 1 ? (unsigned char)rnd() : 0;
	}
	return d;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* The file @m with its seek table rewritten with checksums of @data. */
static struct mem with_checksums(const struct mem *m, const unsigned char *data,
				 bool wrong)
{
	uint32_t frames = le32(m->d + m->n - 9), i;
	size_t tlen = 8 + (size_t)frames * 8 + 9, at = 0;
	struct mem c = { .fail_after = -1 };
	unsigned char e[12], foot[9], head[8];

	mem_write(&c, m->d, m->n - tlen);
	put32(head, 0x184D2A5E);
	put32(head + 4, frames * 12 + 9);
	mem_write(&c, head, 8);
	for (i = 0; i < frames; i++) {
		const unsigned char *old = m->d + m->n - tlen + 8 + i * 8;
		uint32_t ds = le32(old + 4);

		memcpy(e, old, 8);
		put32(e + 8, (uint32_t)XXH64(data + at, ds, 0) ^ (wrong && i == 1));
		at += ds;
		mem_write(&c, e, 12);
	}
	memcpy(foot, m->d + m->n - 9, 9);
	foot[4] = 0x80;
	mem_write(&c, foot, 9);
	return c;
}

static bool read_matches(struct zseek_reader *r, const unsigned char *data,
			 uint64_t off, size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	bool same;

	if (!buf)
		abort();
	same = !zseek_reader_read(r, buf, len, off) &&
	       !memcmp(buf, data + off, len);
	free(buf);
	return same;
}

int main(void)
{
	const size_t size = 5 * ZSEEK_FRAME_SIZE + 123457;
	unsigned char *data = make_data(size);
	struct mem m = { .fail_after = -1 }, bad, cs;
	struct zseek_writer *w;
	struct zseek_reader *r;
	uint64_t out = 0, in = 0, off, out2 = 0;
	unsigned char foot[9];
	int i, bad_reads;
	bool all;

	/* Writer: a short frame of 100 bytes ended on request, then the rest. */
	ok(!zseek_writer_open("test", 1, 3, mem_write, &m, &w), "writer opens");
	ok(!zseek_writer_write(w, data, 100) &&
	   !zseek_writer_end_frame(w, &out, &in),
	   "a frame ends on request");
	ok(in == 100 && out == m.n && out > 0,
	   "after it, the output holds every byte given (%llu in, %llu out)",
	   (unsigned long long)in, (unsigned long long)out);
	ok(!zseek_writer_end_frame(w, &out2, NULL) && out2 == out,
	   "ending a frame again with nothing new writes nothing");
	ok(!zseek_writer_write(w, data + 100, 1) &&
	   !zseek_writer_write(w, data + 101, size - 101) &&
	   !zseek_writer_finish(w), "the rest is written and the table");
	zseek_writer_free(w);

	/* Reader. */
	ok(!zseek_reader_open(mem_pread, &m, m.n, "test", &r), "reader opens");
	/* 100 bytes, then the rest in whole frames and a short last one. */
	ok(zseek_reader_frames(r) == 1 + (size - 100 + ZSEEK_FRAME_SIZE - 1) / ZSEEK_FRAME_SIZE,
	   "frames: the one ended on request, then frames of %u bytes (%u)",
	   ZSEEK_FRAME_SIZE, zseek_reader_frames(r));
	ok(zseek_reader_size(r) == size, "uncompressed size %llu",
	   (unsigned long long)zseek_reader_size(r));
	ok(read_matches(r, data, 0, size), "the whole file reads back");
	all = true;
	for (i = 0; i < 1000; i++) {
		size_t len = (size_t)(rnd() % (i % 10 ? 70000 : 3 * ZSEEK_FRAME_SIZE));

		off = rnd() % (size - len + 1);
		if (!read_matches(r, data, off, len)) {
			all = false;
			printf("# read of %zu at %llu: %s\n", len,
			       (unsigned long long)off, blksnap_error());
			break;
		}
	}
	ok(all, "1000 reads at random offsets, 0 to 3 MiB long, read what was written");
	ok(read_matches(r, data, ZSEEK_FRAME_SIZE + 99, 2) &&
	   read_matches(r, data, 99, 2) && read_matches(r, data, size - 1, 1) &&
	   read_matches(r, data, size, 0),
	   "reads across frame boundaries, of the last byte, empty at the end");
	fails_with(zseek_reader_read(r, foot, 2, size - 1), "past the end",
		   "a read past the end fails");
	ok(blksnap_error_errno() == EINVAL, "with EINVAL");
	zseek_reader_close(r);

	/* The table with checksums (the format's option) is read too. */
	cs = with_checksums(&m, data, false);
	ok(!zseek_reader_open(mem_pread, &cs, cs.n, "sums", &r) &&
	   read_matches(r, data, 0, size), "a table with checksums is read and they match");
	zseek_reader_close(r);
	free(cs.d);
	cs = with_checksums(&m, data, true);
	ok(!zseek_reader_open(mem_pread, &cs, cs.n, "sums", &r), "a wrong checksum opens");
	fails_with(zseek_reader_read(r, foot, 1, 100), "frame 1 at byte",
		   "and fails the read of its frame, named");
	zseek_reader_close(r);
	free(cs.d);

	/* A damaged frame: reads of it fail with EIO, others succeed. */
	{
		uint32_t frames = le32(m.d + m.n - 9);
		const unsigned char *e = m.d + m.n - 9 - 8 * (size_t)frames;
		uint64_t at = (uint64_t)le32(e) + le32(e + 8);
		uint64_t d2 = (uint64_t)le32(e + 4) + le32(e + 12);

		bad = m;
		bad.d = malloc(m.n);
		memcpy(bad.d, m.d, m.n);
		bad.d[at + le32(e + 16) / 2] ^= 0x10;
		ok(!zseek_reader_open(mem_pread, &bad, bad.n, "bad", &r),
		   "a file with a damaged frame opens");
		fails_with(zseek_reader_read(r, foot, 4, d2 + 10), "damaged zstd frame 2 at byte",
			   "a read in the damaged frame fails, naming it and its place");
		ok(blksnap_error_errno() == EIO, "with EIO");
		bad_reads = 0;
		for (i = 0; i < (int)frames; i++) {
			uint64_t start = 0;
			int k;

			for (k = 0; k < i; k++)
				start += le32(e + 8 * k + 4);
			if (i != 2 && !read_matches(r, data, start, le32(e + 8 * i + 4)))
				bad_reads++;
		}
		ok(!bad_reads, "reads of every other frame succeed");
		zseek_reader_close(r);
		free(bad.d);
	}

	/* No table: the frames alone. */
	ok(zseek_reader_open(mem_pread, &m, m.n - 8 - 9 -
			     8 * (size_t)le32(m.d + m.n - 9), "plain", &r) == 1 &&
	   strstr(blksnap_error(), "no zstd seek table"),
	   "a zstd file without a table is told apart (1)");

	/* Damaged tables. */
	bad = m;
	bad.d = malloc(m.n);
	bad.n = m.n;
	memcpy(bad.d, m.d, m.n);
	bad.d[m.n - 5] = 0x04;
	fails_with(zseek_reader_open(mem_pread, &bad, bad.n, "bad", &r),
		   "reserved bits", "reserved bits in the descriptor fail");
	memcpy(bad.d, m.d, m.n);
	put32(bad.d + m.n - 9, 0x10000000);
	fails_with(zseek_reader_open(mem_pread, &bad, bad.n, "bad", &r),
		   "do not fit", "a frame count larger than the file fails");
	memcpy(bad.d, m.d, m.n);
	put32(bad.d + m.n - 9 - 8, le32(m.d + m.n - 9 - 8) + 1);
	fails_with(zseek_reader_open(mem_pread, &bad, bad.n, "bad", &r),
		   "add up", "sizes that do not add up to the file fail");
	free(bad.d);

	/* Resuming: a second writer preloads the first's frames at a checkpoint. */
	{
		struct mem a = { .fail_after = -1 }, b = { .fail_after = -1 };
		struct zseek_writer *w2;
		const uint32_t *tab;
		uint64_t n = 0, cut = 3 * ZSEEK_FRAME_SIZE / 2 + 17;
		uint32_t *copy;

		ok(!zseek_writer_open("first", 1, 2, mem_write, &a, &w) &&
		   !zseek_writer_write(w, data, (size_t)cut) &&
		   !zseek_writer_end_frame(w, &out, &in) && in == cut && out == a.n,
		   "a checkpoint ends a frame with everything written");
		tab = zseek_writer_table(w, &n);
		copy = malloc(n * 2 * sizeof(*copy));
		memcpy(copy, tab, n * 2 * sizeof(*copy));
		zseek_writer_free(w);	/* the first send stops there */
		ok(n == 2, "its table has the frames so far (%llu)", (unsigned long long)n);
		mem_write(&b, a.d, (size_t)out);
		ok(!zseek_writer_open("second", 1, 2, mem_write, &b, &w2) &&
		   !zseek_writer_preload(w2, copy, n) &&
		   !zseek_writer_write(w2, data + cut, size - cut) &&
		   !zseek_writer_finish(w2), "a second writer preloads them and goes on");
		zseek_writer_free(w2);
		ok(!zseek_reader_open(mem_pread, &b, b.n, "resumed", &r) &&
		   zseek_reader_size(r) == size && read_matches(r, data, 0, size) &&
		   read_matches(r, data, cut - 5, 10),
		   "the resumed file reads back whole, across the checkpoint");
		zseek_reader_close(r);
		free(copy);
		free(a.d);
		free(b.d);
	}

	/*
	 * A file cut short: a stored first frame, then whole frames, told
	 * from the file alone; the start read even inside the first frame.
	 */
	{
		struct mem c = { .fail_after = -1 };
		char path[] = "/tmp/test-zseek-XXXXXX";
		int fd = mkstemp(path);
		const size_t first = 150000;
		uint32_t *sizes = NULL, frames;
		uint64_t n = 0, cut;
		unsigned char head[200];
		size_t got = 0;

		ok(fd >= 0 && !zseek_writer_open("stored", 3, 2, mem_write, &c, &w) &&
		   !zseek_writer_write(w, data, first) &&
		   !zseek_writer_end_frame_stored(w, &out, &in) &&
		   in == first && out == c.n && out == first + 9 + 2 * 3 + 4,
		   "a frame ended stored is its data in two raw blocks, header and checksum (%llu)",
		   (unsigned long long)out);
		ok(!zseek_writer_write(w, data + first, size - first) &&
		   !zseek_writer_finish(w), "the rest follows, compressed");
		zseek_writer_free(w);
		ok(!zseek_reader_open(mem_pread, &c, c.n, "stored", &r) &&
		   read_matches(r, data, 0, size), "it reads back whole");
		zseek_reader_close(r);
		frames = le32(c.d + c.n - 9);
		cut = out + le32(c.d + c.n - 9 - 8 * (size_t)frames + 8) + 10;
		ok(bs_pwrite_all(fd, c.d, (size_t)cut, 0) == 0 &&
		   !zseek_partial_scan(fd, "cut", cut, ZSEEK_FRAME_SIZE, &sizes, &n) &&
		   n == 2 && sizes[0] == out && sizes[1] == first &&
		   sizes[3] == ZSEEK_FRAME_SIZE,
		   "cut 10 bytes into its third frame, the first two are found (%llu)",
		   (unsigned long long)n);
		ok(!zseek_reader_open_frames(fd, "cut", sizes, n, &r) &&
		   zseek_reader_size(r) == first + ZSEEK_FRAME_SIZE &&
		   read_matches(r, data, 0, first + ZSEEK_FRAME_SIZE),
		   "and read back");
		zseek_reader_close(r);
		free(sizes);
		ok(bs_pwrite_all(fd, c.d, c.n, 0) == 0 &&
		   !zseek_partial_scan(fd, "whole", c.n, ZSEEK_FRAME_SIZE, &sizes, &n) &&
		   n == frames - 1,
		   "whole, all frames but the short last one are found (%llu of %u)",
		   (unsigned long long)n, frames);
		free(sizes);
		ok(!zseek_partial_head(fd, "whole", head, sizeof(head), &got) &&
		   got == sizeof(head) && !memcmp(head, data, sizeof(head)),
		   "its first bytes are read");
		ok(ftruncate(fd, 100) == 0 &&
		   !zseek_partial_head(fd, "cut", head, sizeof(head), &got) &&
		   got == 100 - 9 - 3 && !memcmp(head, data, got),
		   "cut in its first frame, what it holds of it is read (%zu)", got);
		ok(bs_pwrite_all(fd, "not zstd", 8, 0) == 0 &&
		   !zseek_partial_scan(fd, "other", 100, ZSEEK_FRAME_SIZE, &sizes, &n) &&
		   n == 0, "a file that is not zstd has no frames");
		free(sizes);
		fails_with(zseek_partial_head(fd, "other", head, sizeof(head), &got),
			   "does not start as a zstd stream", "nor a start");
		if (fd >= 0)
			close(fd);
		unlink(path);
		free(c.d);
	}

	/* The output's failure is the writer's. */
	memset(&bad, 0, sizeof(bad));
	bad.fail_after = 1;
	ok(!zseek_writer_open("test", 3, 2, mem_write, &bad, &w), "writer opens");
	fails_with(zseek_writer_write(w, data, size) ||
		   zseek_writer_finish(w) ? -1 : 0, "write error",
		   "a write error of the output fails the writer with its message");
	fails_with(zseek_writer_write(w, data, 1), "failed before",
		   "and the writer refuses more");
	zseek_writer_free(w);
	free(bad.d);

	free(m.d);
	free(data);
	return tap_done();
}
