/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The archive writer, inside libblksnap (not installed). */
#ifndef BLKSNAP_WRITER_H
#define BLKSNAP_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include "blksnap/archive.h"

struct blksnap_writer;

/* Starts an archive on @fd (not closed by the writer); @name for messages. */
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
