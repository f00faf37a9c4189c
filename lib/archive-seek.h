/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside libblksnap (not installed).
 * Random access to an archive's bytes: reads at any offset of its
 * uncompressed tar stream, whatever the compression, from a local file
 * or a URL (lib/chain-map.c reads archives through it).
 *
 * Two layers:
 *   raw      the archive's bytes as stored: pread() of a local file or
 *            of a file:// URL, or one ranged request per read of an
 *            http(s)://, s3:// or sftp:// URL.
 *   backend  one entry per compression, over the raw layer: `none` reads
 *            the raw bytes as they are; a compression whose archive has
 *            an index of independent frames (zstd's seekable format)
 *            reads the frames that hold the range asked; the others,
 *            and a zstd archive without a seek table, are decompressed
 *            once into a cache file, read with pread() from then on.
 *
 * The cache file is made with O_TMPFILE in the cache directory (opts,
 * else $TMPDIR, else /var/tmp): it has no name, so nothing is left
 * behind when the process ends, however it ends; it takes the size of
 * the uncompressed archive.  With no_cache set, such an archive is
 * refused instead, naming it and why.
 */
#ifndef BLKSNAP_ARCHIVE_SEEK_H
#define BLKSNAP_ARCHIVE_SEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads exactly @len bytes at @off; 0, or -1 with blksnap_error() set. */
typedef int (*bs_pread_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* A compression's random access (one entry of the table in archive-seek.c). */
struct bs_seek_backend {
	const char *name;		/* the manifest's compression key */
	const unsigned char *magic;	/* the first bytes of such a stream */
	size_t magic_len;
	/*
	 * Opens a reader over the compressed bytes (@pread of @ctx, @size
	 * bytes).  0 with *h set; 1 when this stream cannot be read at
	 * offsets (no seek table): it is decompressed into the cache
	 * instead; -1 on an error (message set).  NULL: always 1.
	 */
	int (*open)(bs_pread_fn pread, void *ctx, uint64_t size,
		    const char *name, void **h);
	/* Exactly @len bytes at offset @off of the uncompressed stream. */
	int (*pread)(void *h, void *buf, size_t len, uint64_t off);
	void (*close)(void *h);
	bool thread_safe;	/* pread() may run on several threads at once */
};

struct bs_seek_opts {
	const char *cache_dir;	/* NULL: $TMPDIR, else /var/tmp */
	bool no_cache;		/* refuse what would need the cache */
};

struct bs_seekable;

/*
 * Opens @name (a path or a URL) for reads at offsets of its tar stream.
 * The compression is found from the first bytes, not the name.  Fails
 * naming @name: cannot open, unknown compression, no cache allowed.
 */
int bs_seekable_open(const char *name, const struct bs_seek_opts *o,
		     struct bs_seekable **sp);

/*
 * Reads exactly @len bytes at offset @off of the uncompressed stream;
 * safe on several threads at once (reads of one URL or of a backend
 * that is not thread-safe take turns).  0, or -1 with a message naming
 * the archive and the offset (an early end is an error).
 */
int bs_seekable_pread(struct bs_seekable *s, void *buf, size_t len,
		      uint64_t off);

/* The compression found ("none", "zstd", ...). */
const char *bs_seekable_compression(const struct bs_seekable *s);

/* How it is read: "direct", "seek table" or "cache file". */
const char *bs_seekable_access(const struct bs_seekable *s);

void bs_seekable_close(struct bs_seekable *s);

#endif
