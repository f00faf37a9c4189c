/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The archive reader, inside libblksnap and its tests (not installed). */
#ifndef BLKSNAP_ARCHIVE_READ_H
#define BLKSNAP_ARCHIVE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "blksnap/archive.h"
#include "hashindex.h"

/*
 * A source of an archive's bytes, in order: puts the next ones, at most
 * @len, in @buf and returns how many (waiting for them as it needs),
 * 0 at the end of the archive, or -1 with blksnap_error() set.
 */
typedef ssize_t (*blksnap_fill_fn)(void *ctx, void *buf, size_t len);

/*
 * Opens an archive whose bytes come from @fill (called from the thread
 * that reads the archive, never after blksnap_archive_close()), named
 * @name in messages, and reads its manifest, as blksnap_archive_open()
 * does a file.  A failure of @fill fails the call that read, with
 * @fill's message as it is.
 */
int blksnap_archive_open_fill(const char *name, blksnap_fill_fn fill,
			      void *ctx, struct blksnap_archive **ap);

/* Receives image data in ascending offsets; returns 0 or -1 to stop. */
typedef int (*blksnap_sink_fn)(void *ctx, uint64_t offset, const void *buf,
			       size_t len);

/*
 * Streams the image's data regions to @sink (may be NULL), hashing
 * every block, then reads the hash index into @ix (initialised here)
 * and checks every block against it and the end of the archive.  The
 * data reaches the sink before it is verified: a failure names the
 * archive and the offset, and the caller must discard what it wrote.
 * On success, @zeros (may be NULL; not initialised by the caller) gets
 * the archive's zero ranges (format 2): blocks of the index that the
 * image holds as holes, checked to have the hash of zeros and to be
 * what the manifest counts; the caller frees it.
 */
int blksnap_archive_read_image(struct blksnap_archive *a, blksnap_sink_fn sink,
			       void *ctx, struct blksnap_hash_index *ix,
			       struct blksnap_ranges *zeros);

/* Reads the hash index without checking the image data against it. */
int blksnap_archive_read_index(struct blksnap_archive *a,
			       struct blksnap_hash_index *ix);

/*
 * The manifest of a manifest file (blksnap.manifest then blksnap.hashes,
 * uncompressed, in plain ustar headers, as blksnap-send writes it) from
 * its first @len bytes, and in *end where its end-of-archive blocks
 * start; false for anything else (blksnap_error() says why only when
 * the manifest itself did not parse).
 */
bool manifest_file_parse(const unsigned char *buf, size_t len, const char *name,
			 struct blksnap_manifest *m, uint64_t *end);

#endif
