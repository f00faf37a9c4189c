/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside libblksnap (not installed): random access to the image of a
 * chain at its last point, for serving it (the nbdkit plugin).
 *
 * Opening reads, of each archive, only its manifest, the sparse map of
 * its image entry and its hash index (through lib/archive-seek.h, so a
 * local file or a URL, any compression): never the image data.  It
 * checks what blksnap-restore checks before reading data: each
 * manifest's checksum, the order of the chain (every archive follows the
 * one before it, same size, a hash block dividing its), each hash index's checksum
 * and that it matches its manifest; and that each image's data regions
 * start and end on hash blocks, lie inside its hash index and add up to
 * its manifest's data_bytes.  It then knows, for every hash block of the
 * image, the newest archive whose index holds it and the hash it has
 * there.
 *
 * A read returns what blksnap-restore would have written at those
 * offsets: the block from the newest archive that holds it, zeros for a
 * zero range (format 2) of that archive or a hole of the full archive
 * that no incremental covers.  Every hash block a read touches is read
 * whole and checked against its hash, data and zeros alike, before any
 * byte of it is returned: a block that does not match fails the read,
 * with a message naming the archive, the block's offset in the image and
 * its offset in the archive's tar stream.  Verified blocks are kept in a
 * small cache for reads of parts of a block; a block read again after it
 * left the cache is checked again.
 *
 * The map is kept in the chain's smallest hash block (the last
 * archive's); a block whose archive hashed it in a larger block holds
 * that block's hash, and a read of it reads that larger block whole
 * from that archive and checks it before returning any part of it.
 *
 * Reads are safe on several threads at once.  Memory: 10 bytes per
 * block of the chain's smallest hash block (the newest hash and archive
 * of each: 160 MiB for 1 TiB in 64 KiB blocks, 2.5 GiB in 4 KiB), the
 * archives' sparse maps, and the cache.
 */
#ifndef BLKSNAP_CHAIN_MAP_H
#define BLKSNAP_CHAIN_MAP_H

#include <stddef.h>
#include <stdint.h>
#include "archive-seek.h"

struct bs_chain_map;

/*
 * Opens the chain @chain[0..@count) (full first) for reads; @o may be
 * NULL (lib/archive-seek.h: the cache of compressed archives).  0, or
 * -1 with blksnap_error() naming the archive and what is wrong.
 */
int bs_chain_map_open(const char *const *chain, size_t count,
		      const struct bs_seek_opts *o, struct bs_chain_map **mp);

/* The image's size in bytes, and its hash block size. */
uint64_t bs_chain_map_size(const struct bs_chain_map *m);
uint32_t bs_chain_map_block_size(const struct bs_chain_map *m);

/* The manifest of the last archive: the point served. */
const struct blksnap_manifest *
bs_chain_map_manifest(const struct bs_chain_map *m);

/* How archive @i is read (bs_seekable_compression, bs_seekable_access). */
const char *bs_chain_map_access(const struct bs_chain_map *m, size_t i,
				const char **compression);

/*
 * Reads @len bytes at @off of the image (inside it).  0, or -1 with
 * blksnap_error() saying why: a block that does not match its hash
 * (naming the archive and offsets) or a read error of an archive.
 */
int bs_chain_map_read(struct bs_chain_map *m, void *buf, size_t len,
		      uint64_t off);

void bs_chain_map_close(struct bs_chain_map *m);

#endif
