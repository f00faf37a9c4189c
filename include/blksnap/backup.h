/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engines behind the tools: send an archive, scan a source for
 * changes against a chain, restore or verify a chain, merge a chain.
 */
#ifndef BLKSNAP_BACKUP_H
#define BLKSNAP_BACKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "archive.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BLKSNAP_DEFAULT_HASH_BLOCK	65536u
#define BLKSNAP_MIN_HASH_BLOCK		4096u
#define BLKSNAP_MAX_HASH_BLOCK		(16u << 20)

/* Called now and then with the bytes processed out of @total. */
typedef void (*blksnap_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct blksnap_send_opts {
	const char *source;		/* device, file or tag */
	const char *base;		/* parent archive; NULL for a full */
	const struct blksnap_ranges *changed;	/* incremental: what to send */
	int out_fd;			/* the archive goes here */
	const char *out_name;		/* for messages */
	struct blksnap_compress compress;
	uint32_t hash_block_size;	/* full only; 0: default */
	const char *manifest_out;	/* NULL, or a manifest file to write */
	const char *cbt_generation;	/* NULL without CBT */
	uint32_t cbt_snapshot;
	blksnap_progress_fn progress;
	void *progress_ctx;
	bool other_filesystem;		/* incremental: send even if the
					   source's filesystem UUID is
					   not the base's */
	/*
	 * Continue an interrupted send (uncompressed only).  When @out_fd
	 * is a regular file opened read-write that holds the partial
	 * archive an earlier run left, the archive is made again from the
	 * start and every byte already there is compared with it, not
	 * written; writing goes on after them.  A partial file whose
	 * bytes differ (another source, or a source changed since) is
	 * refused by the byte's offset, and left as it is.  A partial
	 * file that does not hold the whole manifest yet is started
	 * over.  With any other @out_fd (an upload's pipe) the receiver
	 * resumes: see blksnap_remote_create_resumable().
	 */
	bool resume;
};

/*
 * Writes a full archive of the source, or an incremental one holding
 * the changed ranges (rounded out to hash blocks) over @base.  A full
 * archive of a regular file keeps its holes.  An incremental is refused
 * when the source and the base both name a filesystem UUID and they
 * differ (another device, or one formatted anew), unless
 * @other_filesystem.  @manifest, when not NULL, receives the manifest
 * written.
 */
int blksnap_send(const struct blksnap_send_opts *o,
		 struct blksnap_manifest *manifest);

/*
 * Compares every hash block of @source with the state a chain of
 * archives (or manifest files), full first, leaves it in, and puts the
 * blocks that differ into @changed (initialised, empty) with the
 * device size stated.
 */
int blksnap_scan(const char *source, const char *const *chain, size_t count,
		 struct blksnap_ranges *changed, blksnap_progress_fn progress,
		 void *progress_ctx);

struct blksnap_restore_opts {
	const char *const *chain;	/* full archive first */
	size_t count;
	const char *target;		/* NULL: verify only */
	blksnap_progress_fn progress;
	void *progress_ctx;
	void (*message)(void *ctx, const char *text);	/* notes; may be NULL */
	void *message_ctx;
};

/*
 * Restores the chain into a block device or an image file, or with no
 * target verifies it.  A file is written under a temporary name and
 * renamed when the whole chain verified; a device is only written after
 * a first pass verified the whole chain.
 */
int blksnap_restore(const struct blksnap_restore_opts *o);

struct blksnap_merge_opts {
	const char *const *chain;	/* full archive first */
	size_t count;			/* the archives merged */
	const char *output;		/* a local file: the merged archive */
	const char *manifest_out;	/* NULL, or a manifest file to write */
	struct blksnap_compress compress;
	blksnap_progress_fn progress;
	void *progress_ctx;
};

/*
 * Merges a chain (a full archive and its incrementals, in order; files
 * or URLs) into one full archive of the chain's last point: a synthetic
 * full.  It takes the identity of that point (UUID, sequence number,
 * source, CBT generation and snapshot), so that the incrementals made
 * after it apply to it as they did to the last archive merged; zero
 * ranges stay zero ranges.  Every block is checked against the members'
 * hash indexes; the result is written under a temporary name beside
 * @output, read back and checked, and only then renamed to @output (a
 * regular file; it may be one of the members).  On failure nothing is
 * left and @output is as it was.  The incrementals' data is kept in an
 * anonymous file in @output's directory while merging.  The result
 * takes the full archive's hash block; when the incrementals' are
 * smaller (blksnap-send(8)), a block of the result is built from their
 * pieces and hashed as built, each piece checked first.  Memory: 9 bytes
 * per hash block of the image and 9 per block of the chain's smallest
 * hash block.  @manifest, when not NULL, receives the
 * manifest written; @manifest_out is written after @output is in place.
 */
int blksnap_merge(const struct blksnap_merge_opts *o,
		  struct blksnap_manifest *manifest);

#ifdef __cplusplus
}
#endif
#endif
