/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Archives (blksnap-archive(5)): a POSIX pax tar holding, in order, the
 * manifest, the image as one sparse entry of the device's logical size
 * whose data regions are the ranges sent, and the hash index.  A
 * "manifest file" holds the same manifest and hash index without the
 * image: it stands in for an archive wherever only those are needed.
 */
#ifndef BLKSNAP_ARCHIVE_H
#define BLKSNAP_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "ranges.h"
#include "manifest.h"
#include "hashindex.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BLKSNAP_ENTRY_MANIFEST	"blksnap.manifest"
#define BLKSNAP_ENTRY_HASHES	"blksnap.hashes"

struct blksnap_compress {
	char method[8];		/* "zstd", "gzip", "xz", "lz4" or "none" */
	int level;		/* -1: the method's default */
	int threads;		/* 0: the method's default */
};

/* Parses a method name ("zstd", "none", ...) into @c with defaults. */
int blksnap_compress_parse(const char *method, struct blksnap_compress *c);

/* Sets the level, failing when the method has no such level. */
int blksnap_compress_set_level(struct blksnap_compress *c, int level);

/* --- writing ----------------------------------------------------------- */

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

/* Output bytes so far (after compression). */
uint64_t blksnap_writer_bytes(const struct blksnap_writer *w);
void blksnap_writer_free(struct blksnap_writer *w);

/* --- reading ----------------------------------------------------------- */

struct blksnap_archive;

/*
 * Opens an archive or manifest file ("-": standard input) and reads its
 * manifest.  Fails, naming the file, when it is not a blksnap archive.
 */
int blksnap_archive_open(const char *name, struct blksnap_archive **ap);
const struct blksnap_manifest *
blksnap_archive_manifest(const struct blksnap_archive *a);
const char *blksnap_archive_name(const struct blksnap_archive *a);

/* True when the archive holds an image (false for a manifest file). */
bool blksnap_archive_has_image(const struct blksnap_archive *a);

/* Receives image data in ascending offsets; returns 0 or -1 to stop. */
typedef int (*blksnap_sink_fn)(void *ctx, uint64_t offset, const void *buf,
			       size_t len);

/*
 * Streams the image's data regions to @sink (may be NULL), hashing
 * every block, then reads the hash index into @ix (initialised here)
 * and checks every block against it and the end of the archive.  The
 * data reaches the sink before it is verified: a failure names the
 * archive and the offset, and the caller must discard what it wrote.
 */
int blksnap_archive_read_image(struct blksnap_archive *a, blksnap_sink_fn sink,
			       void *ctx, struct blksnap_hash_index *ix);

/* Reads the hash index without checking the image data against it. */
int blksnap_archive_read_index(struct blksnap_archive *a,
			       struct blksnap_hash_index *ix);

/* Bytes of the archive file consumed so far. */
uint64_t blksnap_archive_position(const struct blksnap_archive *a);

void blksnap_archive_close(struct blksnap_archive *a);

/*
 * Reads the manifests of a chain (full first, then its incrementals in
 * order) into @ms, which has room for @count, and checks the order.
 */
int blksnap_chain_read_manifests(const char *const *chain, size_t count,
				 struct blksnap_manifest *ms);

/* Reads just the manifest of an archive or manifest file. */
int blksnap_archive_read_manifest(const char *name, struct blksnap_manifest *m);

#ifdef __cplusplus
}
#endif
#endif
