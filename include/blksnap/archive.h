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
