/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Seekable zstd (zstd's contrib/seekable_format, version 0.1.0): a
 * sequence of independent zstd frames followed by a seek table in a
 * skippable frame.  The whole is an ordinary zstd stream: zstd -d,
 * zstd -t, tar --zstd and libarchive read it as one and skip the table;
 * a reader that finds the table decompresses only the frames a range
 * needs.  blksnap-archive(5) says how blksnap uses it.  Inside
 * libblksnap, not installed; libzstd is loaded on first use
 * (lib/zstd-load.c).
 *
 * The seek table, at the very end of the file, little-endian:
 *   u32 0x184D2A5E (skippable frame magic), u32 size of what follows,
 *   per frame: u32 compressed size, u32 decompressed size
 *              [, u32 low 32 bits of XXH64(decompressed, seed 0)],
 *   u32 number of frames, u8 descriptor (bit 7: entries have the
 *   checksum; bits 2-6 reserved, 0), u32 0x8F92EAB1.
 * The frames start at byte 0 of the file and follow each other.
 */
#ifndef BLKSNAP_ZSTD_SEEKABLE_H
#define BLKSNAP_ZSTD_SEEKABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ZSEEK_SKIPPABLE_MAGIC	0x184D2A5Eu
#define ZSEEK_SEEKABLE_MAGIC	0x8F92EAB1u
#define ZSEEK_FOOTER_SIZE	9u
#define ZSEEK_CHECKSUM_FLAG	0x80u
#define ZSEEK_RESERVED_BITS	0x7Cu

/* Uncompressed bytes of a frame that the writer closes when full. */
#define ZSEEK_FRAME_SIZE	(1u << 20)
/*
 * Largest frame the reader accepts (decompressed; the reader holds one
 * whole): blksnap writes ZSEEK_FRAME_SIZE, other writers may write more.
 */
#define ZSEEK_MAX_FRAME		(256u << 20)

/* ---- Writer ------------------------------------------------------------ */

/*
 * Where the writer's output goes, in order, always from the caller's
 * thread (the one calling zseek_writer_*): 0, or -1 with a message
 * recorded (bs_fail) that the writer's call then returns.
 */
typedef int (*zseek_write_fn)(void *ctx, const void *buf, size_t len);

struct zseek_writer;

/*
 * A writer of frames of zstd @level (1 to 22; -1: zstd's default) and
 * ZSEEK_FRAME_SIZE uncompressed bytes, compressed by @threads threads
 * (0: one per CPU) while the caller goes on giving data; each frame
 * carries zstd's content checksum and its content size, the seek table
 * no checksums.  @name is for messages.  Nothing is written before the
 * first frame is full.
 */
int zseek_writer_open(const char *name, int level, int threads,
		      zseek_write_fn out, void *ctx, struct zseek_writer **wp);

/* Gives @len bytes of uncompressed data; copied, @buf is free on return. */
int zseek_writer_write(struct zseek_writer *w, const void *buf, size_t len);

/*
 * Ends the current frame here (a shorter one; none when nothing was
 * given since the last frame) and waits until every frame so far went
 * to the output: on success, the output ends at a frame boundary and
 * holds every byte given so far.  *@out_bytes (may be NULL) gets the
 * output's length, *@in_bytes (may be NULL) the uncompressed length.
 * A resumable send can restart from such a point: the frames before it
 * stay valid, and the seek table is written only by zseek_writer_finish.
 */
int zseek_writer_end_frame(struct zseek_writer *w, uint64_t *out_bytes,
			   uint64_t *in_bytes);

/*
 * As zseek_writer_end_frame(), but the frame ended is stored, in raw
 * zstd blocks, not compressed: its size depends only on its length.
 * For data that differs from one run to the next in content but not in
 * length, so that the frames after it stay where they were.
 */
int zseek_writer_end_frame_stored(struct zseek_writer *w,
				  uint64_t *out_bytes, uint64_t *in_bytes);

/*
 * The seek table so far, for a checkpoint: *@n frames, entry i being
 * the compressed size at [2 i] and the uncompressed one at [2 i + 1].
 * After zseek_writer_end_frame() it covers the whole output; valid until
 * the next call on @w.
 */
const uint32_t *zseek_writer_table(const struct zseek_writer *w, uint64_t *n);

/*
 * Resuming from a checkpoint: before any data is given, takes @n frames
 * already in the output (@sizes as zseek_writer_table() gave them) as
 * written, so that the output given next follows them and the seek
 * table at the end covers them all.  The caller positions the output
 * after them (at their total compressed size).
 */
int zseek_writer_preload(struct zseek_writer *w, const uint32_t *sizes,
			 uint64_t n);

/* Ends the last frame and writes the seek table: the file is complete. */
int zseek_writer_finish(struct zseek_writer *w);

/* Stops the threads and frees everything; any state. */
void zseek_writer_free(struct zseek_writer *w);

/* ---- Reader ------------------------------------------------------------ */

/*
 * Reads @len bytes of the compressed file at @offset into @buf: the
 * count read, short only at the end of the file, or -1 with errno set.
 */
typedef ssize_t (*zseek_pread_fn)(void *ctx, void *buf, size_t len,
				  uint64_t offset);

struct zseek_reader;

/*
 * Opens a seekable zstd file of @size bytes read through @pread (and
 * @ctx, kept until zseek_reader_close) and reads its seek table: the
 * table must describe the whole file, frames from byte 0 to the table,
 * none larger than ZSEEK_MAX_FRAME decompressed.  @name is for messages.
 *
 * Returns 0 with *@rp set; 1 when the file does not end with a seek
 * table (a single-stream zstd file, as blksnap wrote before 0.2.0, or
 * not zstd at all: read it sequentially); -1 for a read error or a
 * damaged table.  1 and -1 record a message naming @name.
 */
int zseek_reader_open(zseek_pread_fn pread, void *ctx, uint64_t size,
		      const char *name, struct zseek_reader **rp);

/* The same over an open file descriptor (not closed by the reader). */
int zseek_reader_open_fd(int fd, const char *name, struct zseek_reader **rp);

/* Uncompressed size of the whole file. */
uint64_t zseek_reader_size(const struct zseek_reader *r);

/* Number of frames in the seek table. */
uint32_t zseek_reader_frames(const struct zseek_reader *r);

/*
 * Copies the @len uncompressed bytes at @offset into @buf, decompressing
 * only the frames that hold them (the last frame decompressed is kept,
 * so sequential small reads decompress each frame once).  Every frame
 * decompressed is checked: zstd's content checksum when the frame has
 * one, its size against the table, the table's checksum when it has
 * them.  0, or -1 with a message naming the file, the frame and its
 * byte offset in the file (errno EIO for damaged data, that of the
 * read for a read error).  A range past the end fails (EINVAL).
 *
 * A reader is for one thread at a time: open one per thread, or lock.
 */
int zseek_reader_read(struct zseek_reader *r, void *buf, size_t len,
		      uint64_t offset);

void zseek_reader_close(struct zseek_reader *r);

/* ---- A file cut short ---------------------------------------------------- */

/*
 * What a writer's output cut short holds (the partial file of an
 * interrupted send, @size bytes on @fd, no seek table): its leading
 * frames that are whole and of @frame_size uncompressed bytes each (the
 * first of any size up to @frame_size: ended early, stored), in
 * *@sizes (malloc'ed, zseek_writer_table()'s layout: compressed, then
 * uncompressed size) and *@n.  The scan stops at the first frame cut
 * short, of another size (the last of a whole stream) or not a zstd
 * frame at all (the seek table): from there on the writer makes the
 * output again.  Frames are told by their headers and block headers
 * only: they are decompressed, and checked, when read.  0, or -1 for a
 * read error.
 */
int zseek_partial_scan(int fd, const char *name, uint64_t size,
		       uint32_t frame_size, uint32_t **sizes, uint64_t *n);

/*
 * A reader of the @n frames of @sizes (as zseek_partial_scan gave them)
 * at the start of the file on @fd (not closed by the reader), which has
 * no seek table of its own; read with zseek_reader_read().
 */
int zseek_reader_open_frames(int fd, const char *name, const uint32_t *sizes,
			     uint64_t n, struct zseek_reader **rp);

/*
 * The first uncompressed bytes of the file on @fd, even when its first
 * frame is cut short: up to @len of them into @buf, *@got the count
 * (fewer when the file stops before).  -1 when the file does not start
 * as zstd or its data is damaged, naming @name.
 */
int zseek_partial_head(int fd, const char *name, void *buf, size_t len,
		       size_t *got);

#endif
