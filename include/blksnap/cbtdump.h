/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CBT dumps (blksnap-cbt(5)): a device's change-tracking map as frozen
 * at a snapshot, with the header that says how to read it.
 *
 * Map byte i holds the number of the snapshot in whose interval
 * tracking block i last changed (0: not since tracking began).  A write
 * after snapshot N was taken is marked N + 1 or more, so the blocks
 * changed since the backup of snapshot N are those marked above N.
 */
#ifndef BLKSNAP_CBTDUMP_H
#define BLKSNAP_CBTDUMP_H

#include <stdint.h>
#include <stddef.h>
#include "ranges.h"
#include "manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BLKSNAP_CBT_MAGIC	"BSNAPCBT"
#define BLKSNAP_CBT_VERSION	1
#define BLKSNAP_CBT_HEADER_LEN	72
/* A map longer than this is refused (a 64 EiB device at 64 KiB blocks). */
#define BLKSNAP_CBT_MAX_BLOCKS	(1ULL << 40)

struct blksnap_cbt {
	uint8_t generation[16];
	uint64_t device_size;
	uint32_t block_size;	/* a power of two */
	uint32_t snapshot;	/* the map is frozen at this snapshot */
	uint64_t block_count;	/* ceil(device_size / block_size) */
	uint8_t *map;		/* block_count bytes */
};

/* Writes the dump to @fd; messages name @name. */
int blksnap_cbt_write(int fd, const char *name, const struct blksnap_cbt *c);

/*
 * Reads and checks a dump from @fd (magic, version, checksums, field
 * consistency); the caller frees c->map.
 */
int blksnap_cbt_read(int fd, const char *name, struct blksnap_cbt *c);

/* The byte ranges of the blocks marked above @since, clamped to the size. */
int blksnap_cbt_changed(const struct blksnap_cbt *c, uint32_t since,
			struct blksnap_ranges *out);

/*
 * The ranges changed since the backup described by @base, from a dump
 * taken at a later snapshot of the same device.  Returns 0 with the
 * ranges in @out; 1 when the dump cannot say what changed (another
 * generation, a size change, a base without CBT, a dump not newer than
 * the base), with the reason in @why; -1 on error.
 */
int blksnap_cbt_diff(const struct blksnap_cbt *c,
		     const struct blksnap_manifest *base,
		     struct blksnap_ranges *out, char *why, size_t why_size);

/* The generation as text (36 characters and a NUL). */
void blksnap_cbt_generation_text(const struct blksnap_cbt *c, char out[37]);

#ifdef __cplusplus
}
#endif
#endif
