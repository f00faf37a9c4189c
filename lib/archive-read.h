/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The archive reader's parsers, for lib/ and its tests (not installed). */
#ifndef BLKSNAP_ARCHIVE_READ_H
#define BLKSNAP_ARCHIVE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "blksnap/manifest.h"

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
