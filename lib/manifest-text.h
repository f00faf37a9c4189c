/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manifest's text form, inside libblksnap (not installed). */
#ifndef BLKSNAP_MANIFEST_TEXT_H
#define BLKSNAP_MANIFEST_TEXT_H

#include <stddef.h>
#include "blksnap/manifest.h"

/* Fills a new manifest: fresh UUID, creation time, tool version. */
void blksnap_manifest_init(struct blksnap_manifest *m);

/*
 * The text form, "key=value" lines with a checksum line last.  Returns
 * a malloc'ed buffer and its length through @text and @len.
 */
int blksnap_manifest_format(const struct blksnap_manifest *m, char **text,
			    size_t *len);

/*
 * Parses and checks a manifest's text: checksum, format version, every
 * required key and its range.  Messages name @archive.
 */
int blksnap_manifest_parse(const char *text, size_t len, const char *archive,
			   struct blksnap_manifest *m);

/*
 * Checks that @next may follow @prev in a chain (prev NULL: @next must
 * be a full archive), naming the archives in the message.
 */
int blksnap_manifest_check_chain(const struct blksnap_manifest *prev,
				 const char *prev_name,
				 const struct blksnap_manifest *next,
				 const char *next_name);

#endif
