/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared inside libblksnap; not installed. */
#ifndef BLKSNAP_INTERNAL_H
#define BLKSNAP_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "blksnap/blksnap.h"
#include "blksnap/control.h"
#include "archive-read.h"
#include "hashindex.h"
#include "manifest-text.h"
#include "source-open.h"
#include "writer.h"

#define BS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BS_MAX(a, b) ((a) > (b) ? (a) : (b))

/*
 * Size of a buffer copied through on its way elsewhere (an archive's
 * data decompressed into a cache file): small enough to stay in the
 * CPU's cache.  A source's reads have their own sizes (source-read.c).
 */
#define BS_IO_CHUNK (128u << 10)

/* Size of the shared zero buffer that feeds holes and zeroes devices. */
#define BS_ZERO_CHUNK (1u << 20)

/*
 * Record a failure message for blksnap_error() and return -1.  The
 * _errno variant appends ": strerror(err)".
 */
int bs_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int bs_fail_errno(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records @msg as it is, with @err for blksnap_error_errno(); returns -1. */
int bs_fail_with(int err, const char *msg);

/* Allocation that records a message on failure. */
void *bs_malloc(size_t size);
void *bs_calloc(size_t n, size_t size);
/* Grows *v (of *alloc elements of @size) to hold @need; -1 on failure. */
int bs_grow(void **v, size_t *alloc, size_t need, size_t size);
char *bs_strdup(const char *s);

/*
 * 16 bytes as UUID text, lower-case 8-4-4-4-12, NUL-terminated, into
 * @out[37]. Inline: lib/control.c is also built alone into test tools.
 */
static inline void bs_uuid_format(const uint8_t *uuid, char *out)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*out++ = '-';
		*out++ = hex[uuid[i] >> 4];
		*out++ = hex[uuid[i] & 15];
	}
	*out = '\0';
}

/* The value of a hexadecimal digit (either case), or -1. Inline like the above. */
static inline int bs_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copies @src into @dst of @size bytes, truncating, always terminated. */
void bs_strlcpy(char *dst, const char *src, size_t size);

/* A function that bs_dlopen_table() looks up, and where its pointer goes. */
struct bs_dlsym {
	const char *name;
	size_t at;		/* offset of the pointer in the table */
};

/*
 * Loads @soname with dlopen(@flags) and stores the address of each of the
 * @count functions @syms names into @table (@table_size bytes).  On
 * failure it returns -1 with @table zeroed and the reason in @err (@err_size
 * bytes): "@missing: <dlerror>" when the library does not load, or the
 * function it lacks.  The library stays loaded for good.
 */
int bs_dlopen_table(const char *soname, int flags, const struct bs_dlsym *syms,
		    size_t count, void *table, size_t table_size,
		    const char *missing, char *err, size_t err_size);

/*
 * pread/write until done.  pread: a short count means end of file and
 * is returned as is; -1 with errno on error.  bs_write_all: 0 or -1.
 */
ssize_t bs_pread_all(int fd, void *buf, size_t len, uint64_t offset);
int bs_write_all(int fd, const void *buf, size_t len);
int bs_pwrite_all(int fd, const void *buf, size_t len, uint64_t offset);

/* (blksnap/ranges.h) */
/*
 * Rounds every range of @in out to multiples of @block (a power of
 * two), clamps them to @size and merges what then touches, into @out
 * (initialised, empty).
 */
int blksnap_ranges_align(const struct blksnap_ranges *in, uint32_t block,
			 uint64_t size, struct blksnap_ranges *out);

/*
 * The hash block an incremental sending @in takes (blksnap-send(8)):
 * the largest power of two from @least to @max (both powers of two,
 * @least <= @max) to which every range's start and length are aligned,
 * a range ending at @size (the image's end) counting as aligned there;
 * @least when none is.  @max for an empty list: nothing is rounded.
 */
uint32_t bs_ranges_grain(const struct blksnap_ranges *in, uint32_t max,
			 uint32_t least, uint64_t size);

/*
 * Appends to @out (initialised, empty) the parts of @a that no range of
 * @b covers; both sorted and non-overlapping.  -1 only for lack of memory.
 */
int bs_ranges_subtract(const struct blksnap_ranges *a,
		       const struct blksnap_ranges *b, struct blksnap_ranges *out);

/*
 * Reads exactly @len bytes of @src at @offset; a read error or an early
 * end (the source shrank) fails with a message naming the offset.
 */
int bs_source_read(const struct blksnap_source *src, void *buf, size_t len,
		   uint64_t offset);

/*
 * Reads @regions of @src (sorted, non-overlapping, inside the source) in
 * pieces of at most BS_IO_CHUNK bytes rounded down to a multiple of
 * @block (one block when @block is larger): each region is
 * cut from its start, so a piece never spans two regions and, in a
 * region aligned to hash blocks, holds whole hash blocks (the last one
 * of the image may be short).  Each piece's blocks of @block bytes are
 * hashed (blksnap_hash) and the piece goes to @deliver with those
 * hashes, in order of offset, one call at a time (not always from the
 * caller's thread: @deliver must not rely on thread-local state other
 * than libblksnap's error message, which is carried over).  Reading and
 * hashing run on up to as many threads as there are CPUs (at most 4;
 * only the caller's for less than 64 MiB); signals are only delivered to
 * the caller's threads.
 *
 * Returns 0 once every piece was delivered; -1 with the message of the
 * first failure in order of offset: a read error or early end
 * (bs_source_read's message, naming the offset), or @deliver's own.
 * After a failure no later piece is delivered.
 */
typedef int (*bs_deliver_fn)(void *ctx, const void *buf, size_t len,
			     uint64_t offset, const uint64_t *hashes);
int bs_read_hashed(const struct blksnap_source *src,
		   const struct blksnap_ranges *regions, uint32_t block,
		   bs_deliver_fn deliver, void *ctx);

/*
 * Finds the hash blocks of @regions (aligned to @block, as for
 * bs_read_hashed) that hold only zero bytes and appends them, merged,
 * to @zeros (initialised, empty).  Cheap for blocks of data: only the
 * first 4 KiB of a block is read when it holds some.  Same threads and
 * failures as bs_read_hashed.  @progress (may be NULL) is called after
 * each piece with the bytes of zero blocks found so far.
 */
typedef void (*bs_zero_progress_fn)(void *ctx, uint64_t zero_bytes);
int bs_find_zero_blocks(const struct blksnap_source *src,
			const struct blksnap_ranges *regions, uint32_t block,
			struct blksnap_ranges *zeros, bs_zero_progress_fn progress,
			void *ctx);

/* True when the @len bytes at @buf are all zero. */
bool bs_is_zero(const void *buf, size_t len);

/* A zero-filled buffer of BS_ZERO_CHUNK bytes, shared, never written. */
const void *bs_zeroes(void);

/*
 * An anonymous file (O_TMPFILE, or a named one removed at once) in
 * @dir, read-write, gone when closed; -1 with errno.
 */
int bs_open_anonymous(const char *dir);

/* Random UUID in text form. */
void bs_uuid_random(char out[BLKSNAP_UUID_LEN + 1]);

/* Size of an open block device or file. */
int bs_fd_size(int fd, const char *name, uint64_t *size, bool *is_blockdev);

/* A difference storage header (lib/storage-header.c), as read. */
struct bs_storage_header {
	bool in_use;
	uint32_t reserved_size;
	uint64_t size;
	uint64_t time;
	char snapshot_id[BLKSNAP_SNAPSHOT_ID_TEXT];
	char description[64];
};

/*
 * Reads the first @len bytes of a storage: 1 and *out filled for a valid
 * header; 0 when they do not begin with the magic; -1 with a message for
 * a header that does but is cut short, of another version, damaged or
 * inconsistent.
 */
int bs_storage_header_parse(const void *buf, size_t len,
			    struct bs_storage_header *out);
/* The CRC-32C of @h with its checksum field taken as zero. */
uint32_t bs_storage_header_checksum(const struct blksnap_storage_header *h);

/*
 * Reads of an object at offsets, for random access to archives
 * (lib/archive-seek.c).  bs_remote_open_ranged() parses @url (the
 * default remote options) and finds the object's size; for file:// it
 * opens the file and gives its descriptor in *fd (read it with pread;
 * closed by bs_remote_close_ranged), else *fd is -1 and each
 * bs_remote_pread() is one GET with a Range (http, s3) or a ranged
 * sftp read, retried as any request; it fails naming the URL, and
 * fails when fewer than @len bytes came.  One read at a time per @r.
 */
int bs_remote_open_ranged(const char *url, struct blksnap_remote **r,
			  int *fd, uint64_t *size);
int bs_remote_pread(struct blksnap_remote *r, void *buf, size_t len,
		    uint64_t off);
void bs_remote_close_ranged(struct blksnap_remote *r);

/* Bytes of @ix in its serialised form (blksnap_hash_index_encode). */
uint64_t bs_hash_index_len(const struct blksnap_hash_index *ix);

/*
 * Manifests and hash indexes of a whole chain, full first, in blocks of
 * @block_size: the chain's smallest hash block.  A block whose newest
 * archive hashed it in larger blocks (an incremental's hash block divides
 * its parent's) holds the hash of that larger block, aligned on its own
 * size, which @shift (when kept) says: that block is block_size << shift.
 * Such a hash of zeros is kept, where @shift is, as the hash of the
 * zeros of the small block itself, shift 0.
 */
struct bs_chain_state {
	uint32_t block_size;
	uint64_t size;
	uint64_t *hash;		/* one per block of the image */
	uint8_t *shift;		/* NULL, or one per block */
	uint64_t blocks;
};
/* Fails, naming @src, when the chain's image is not of @src's size. */
int bs_chain_load(const char *const *chain, size_t count,
		  const struct blksnap_source *src, struct bs_chain_state *st,
		  struct blksnap_manifest *last);
void bs_chain_free(struct bs_chain_state *st);
/*
 * The steps of bs_chain_load(), for a reader of the chain's archives
 * other than blksnap_archive_open() (lib/chain-map.c): the state of a
 * chain starting with the full archive of @m, in blocks of @block (0:
 * the full's; else a power of two dividing it), every block the hash of
 * zeros (its holes), with @shift kept when @shifts; then one archive's
 * index (in blocks a multiple of the state's) folded over it, in order,
 * and @id stored for each of its blocks in @src (NULL: not kept).
 */
int bs_chain_start(struct bs_chain_state *st, const struct blksnap_manifest *m,
		   uint32_t block, bool shifts);
void bs_chain_apply(struct bs_chain_state *st,
		    const struct blksnap_hash_index *ix, uint16_t *src,
		    uint16_t id);

#endif
