/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The archive writer, inside libblksnap (not installed). */
#ifndef BLKSNAP_WRITER_H
#define BLKSNAP_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "blksnap/archive.h"

struct blksnap_writer;

/*
 * Starts an archive on @fd (not closed by the writer); @name for messages.
 * A zstd archive's first frame, up to the end of the image's headers, is
 * stored, not compressed (blksnap-archive(5)).
 */
int blksnap_writer_open(int fd, const char *name,
			const struct blksnap_compress *c,
			struct blksnap_writer **wp);

/* Adds a small regular file entry. */
int blksnap_writer_add_file(struct blksnap_writer *w, const char *entry,
			    const void *data, size_t len);

/*
 * Starts the sparse image entry of logical @size whose data regions are
 * @regions (sorted, within @size, checked here).  The caller then feeds
 * the image's logical content from offset 0 to @size: the data of the
 * regions through blksnap_writer_image_data() and the holes between
 * them through blksnap_writer_image_hole().
 */
int blksnap_writer_begin_image(struct blksnap_writer *w, const char *entry,
			       uint64_t size,
			       const struct blksnap_ranges *regions);
int blksnap_writer_image_data(struct blksnap_writer *w, const void *buf,
			      size_t len);
int blksnap_writer_image_hole(struct blksnap_writer *w, uint64_t len);

/*
 * Ends the archive and flushes it.  Success means every byte was
 * accepted by write(2); the caller still fsyncs and closes the fd.
 */
int blksnap_writer_finish(struct blksnap_writer *w);

/*
 * A point where the output can be cut and resumed: every byte given so
 * far is in the output, a zstd archive's current frame is ended there
 * (its frames so far complete, compressed; the seek table only comes
 * with blksnap_writer_finish), and *@out_bytes (may be NULL) gets the
 * output's length.  Nothing to do for an uncompressed archive; fails
 * for gzip, xz and lz4, which libarchive's filters cannot end on
 * request.  Between entries or inside the image's data alike.
 */
int blksnap_writer_end_frame(struct blksnap_writer *w, uint64_t *out_bytes);

/* The modification time of every entry (default: when opened). */
void blksnap_writer_set_mtime(struct blksnap_writer *w, time_t mtime);

/*
 * Continuing an interrupted write (a resumed send): the start of the
 * output was written by an earlier run, which the caller expects this
 * one to reproduce.  The writer gives every byte before @have to
 * @check, in order, instead of writing it, and writes from there on.
 * @check returns 0 when the bytes are those already there, else -1
 * with blksnap_error() set: the write then fails.
 *
 * This is the writer's checkpoint, the place where it can take up the
 * work with its state as it was.  Uncompressed, the output is the tar
 * stream, so any byte is one: @have and @check's offsets are output
 * bytes, and the caller positions the descriptor at @have.  A zstd
 * archive is one at the end of any frame, its frames being independent
 * (lib/zstd-seekable.h): @frames are the @nframes frames kept
 * (zseek_writer_table()'s layout), as they are, holding the tar
 * stream's first @have bytes; @check gets tar bytes (offsets in the tar
 * stream) to compare with theirs, and the caller positions the
 * descriptor after the frames (at their compressed size), where the
 * next frame goes.  The seek table at the end covers them all.  gzip,
 * xz and lz4 (libarchive's filters) end no frame on request, so have no
 * checkpoint past byte 0: callers do not resume them.
 *
 * Set before the first byte is written: 0, or -1 (frames that are not
 * a seekable writer's).
 */
struct blksnap_writer_resume {
	uint64_t have;
	int (*check)(void *ctx, uint64_t off, const void *buf, size_t len);
	void *ctx;
	const uint32_t *frames;
	uint64_t nframes;
};
int blksnap_writer_set_resume(struct blksnap_writer *w,
			      const struct blksnap_writer_resume *r);

/*
 * Writes a manifest file (blksnap-archive(5)): the manifest @text and
 * the serialised hash @index of an archive, uncompressed, without its
 * image, to @path under a temporary name renamed into place.
 */
int blksnap_manifest_file_write(const char *path, const char *text,
				size_t text_len, const void *index,
				size_t index_len);

/* Output bytes so far (after compression). */
uint64_t blksnap_writer_bytes(const struct blksnap_writer *w);
void blksnap_writer_free(struct blksnap_writer *w);

#endif
