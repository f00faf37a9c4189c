/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CBT dumps (blksnap-cbt(5)): a device's change-tracking map as frozen
 * at a snapshot, with the header that says how to read it.
 *
 * Map byte i holds the number of the snapshot in whose interval
 * tracking block i last changed (0: not since tracking began).  A write
 * after snapshot N was taken is marked N + 1 or more, so the blocks
 * changed since the backup of snapshot N are those marked above N.
 *
 * A dump of version 2 also says where inside a block it changed: for
 * some blocks, one such number per sub-block of sub_size bytes (the
 * module's BLKSNAP_IOCTL_CBT_FINE).  A block without an entry changed as
 * a whole: each of its sub-blocks carries the block's map byte.
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
/*
 * The newest version, read and written.  Version 1 (no detail) is still
 * read, and written for a dump without detail (sub_size 0).
 */
#define BLKSNAP_CBT_VERSION	2
#define BLKSNAP_CBT_HEADER_LEN	72	/* version 1 */
#define BLKSNAP_CBT_HEADER_LEN_V2	96
/* Sub-blocks of a tracking block at most, as the module's UAPI has them. */
#define BLKSNAP_CBT_SUBBLOCKS	16
/* Bytes of one detail entry in a dump: the block (64 bits) and the marks. */
#define BLKSNAP_CBT_ENTRY_LEN	(8 + BLKSNAP_CBT_SUBBLOCKS)
/* A map longer than this is refused (a 64 EiB device at 64 KiB blocks). */
#define BLKSNAP_CBT_MAX_BLOCKS	(1ULL << 40)

struct blksnap_cbt {
	uint8_t generation[16];
	uint64_t device_size;
	uint32_t block_size;	/* a power of two */
	uint32_t snapshot;	/* the map is frozen at this snapshot */
	uint64_t block_count;	/* ceil(device_size / block_size) */
	uint8_t *map;		/* block_count bytes */
	/*
	 * Version 2, where inside a block it changed (added in 0.2.0, at
	 * the end).  sub_size 0: no detail, every block changed as a whole
	 * (fine_count is then 0).  Else a power of two of 512 or more,
	 * smaller than block_size, with at most BLKSNAP_CBT_SUBBLOCKS
	 * sub-blocks in a block.
	 */
	uint32_t sub_size;
	uint64_t fine_count;	/* entries in fine[] */
	struct blksnap_cbt_detail *fine;
};

/*
 * Where inside tracking block @block it changed: sub[i] holds the number
 * of the snapshot in whose interval sub-block i last changed (a map
 * byte's meaning, at the finer size).  The largest equals the block's
 * map byte; sub-blocks past the block's count (block_size / sub_size,
 * fewer for a last block cut by the device's end) are 0.  Entries are
 * sorted by block, unique.
 */
struct blksnap_cbt_detail {
	uint64_t block;
	uint8_t sub[BLKSNAP_CBT_SUBBLOCKS];
};

/*
 * The sub-blocks of block @block of @c: block_size / sub_size, fewer for
 * the last block of a device whose size is not a multiple of the block
 * (those that hold a byte of the device); 1 without detail.
 */
unsigned int blksnap_cbt_subblocks(const struct blksnap_cbt *c, uint64_t block);

/*
 * Writes the dump to @fd; messages name @name.  Version 1 when @c has no
 * detail (sub_size 0), else version 2.  The detail is checked as the
 * reader checks it (blksnap_cbt_check): an inconsistent one is refused,
 * never written.
 */
int blksnap_cbt_write(int fd, const char *name, const struct blksnap_cbt *c);

/*
 * Reads and checks a dump of version 1 or 2 from @fd (magic, version,
 * checksums, field consistency, the detail as blksnap_cbt_check says);
 * a dump of another version is refused naming it.  Free it with
 * blksnap_cbt_free().  Returns 0 or -1 with blksnap_error() naming @name
 * and the reason.
 */
int blksnap_cbt_read(int fd, const char *name, struct blksnap_cbt *c);

/*
 * Checks @c as a reader would: geometry, and the detail: sub_size a power
 * of two of 512 or more dividing block_size in at most
 * BLKSNAP_CBT_SUBBLOCKS, entries sorted and unique, each block below
 * block_count, its largest sub-block mark equal to its map byte and the
 * marks past its sub-block count 0.  Returns 0, or -1 with
 * blksnap_error() naming @name and the entry.
 */
int blksnap_cbt_check(const char *name, const struct blksnap_cbt *c);

/* Frees c->map and c->fine and clears them (a zeroed @c is fine too). */
void blksnap_cbt_free(struct blksnap_cbt *c);

/*
 * The byte ranges changed since snapshot @since (marked above it),
 * sorted, adjacent ones coalesced, clamped to the device size: of a block
 * with a detail entry, its sub-blocks marked above @since; of another
 * block, the whole block if its map byte is above @since.  Checks @c
 * first (blksnap_cbt_check): -1 on an inconsistent one.
 */
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
