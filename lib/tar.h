/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tar headers blksnap writes and reads without libarchive: ustar
 * headers and pax records as libarchive's pax writer makes them
 * (blksnap-archive(5)).  Not installed.
 */
#ifndef BLKSNAP_TAR_H
#define BLKSNAP_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TAR_BLOCK	512u
#define TAR_NAME_MAX	100u
/* Largest size a ustar header holds: 11 octal digits. */
#define USTAR_SIZE_MAX	077777777777ull

/* @len rounded up to whole blocks. */
static inline uint64_t tar_blocks(uint64_t len)
{
	return (len + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
}

/* Fills @h with a ustar header as libarchive's pax writer fills it. */
void tar_header_format(unsigned char h[TAR_BLOCK], const char *name,
		       char type, uint64_t size, time_t mtime);

/* Appends the pax record "LEN KEY=VALUE\n" to @buf (of @size) at *len. */
int tar_pax_record(char *buf, size_t size, size_t *len, const char *key,
		   const char *value);

/*
 * Whether @h is a ustar header with a right checksum; its type flag in
 * *type and the size of its data in *size (a pax record may override it).
 */
bool tar_header_read(const unsigned char h[TAR_BLOCK], char *type,
		     uint64_t *size);

/*
 * Whether @h is a plain ustar header (right checksum, no pax or GNU
 * extension) of a regular file named @name; its size in *size.
 */
bool tar_plain_header(const unsigned char h[TAR_BLOCK], const char *name,
		      uint64_t *size);

#endif
