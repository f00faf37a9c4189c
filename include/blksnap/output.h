/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Output files that appear whole or not at all: written under a
 * temporary name beside the final one, renamed into place after fsync.
 */
#ifndef BLKSNAP_OUTPUT_H
#define BLKSNAP_OUTPUT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct blksnap_output {
	int fd;			/* write here */
	char *path;		/* the final name */
	char *tmp_path;		/* the temporary name, NULL once renamed */
};

/*
 * Creates the temporary file (mode 0666 less the umask) in the directory
 * of @path, or of the file a symlink @path names.  An existing device or
 * FIFO is opened in place for writing instead (no rename: it keeps what
 * was written even on failure); a directory is refused.
 */
int blksnap_output_create(struct blksnap_output *o, const char *path);

/*
 * Flushes the file to stable storage, renames it to its final name and
 * syncs the directory.  On failure the temporary file is removed.
 * Either way @o is released.
 */
int blksnap_output_commit(struct blksnap_output *o);

/* Removes the temporary file and releases @o; safe after commit. */
void blksnap_output_abort(struct blksnap_output *o);

/*
 * The output of a resumable write: the temporary file is @path.part,
 * opened read-write as an earlier, interrupted run left it (its size in
 * *have), or created empty (*have 0).  It is locked (flock) while open,
 * so a second writer is refused.  @path must be a regular file or not
 * exist.  blksnap_output_commit() renames it to @path as for
 * blksnap_output_create(); blksnap_output_keep() leaves it for a later
 * run.
 */
int blksnap_output_resume(struct blksnap_output *o, const char *path,
			  uint64_t *have);

/* Syncs and closes the temporary file and keeps it; releases @o. */
void blksnap_output_keep(struct blksnap_output *o);

#ifdef __cplusplus
}
#endif
#endif
