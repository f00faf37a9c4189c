/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CBT state file, blksnap-cbt-state(5): a tracked device's history
 * (its live and frozen maps, generation, snapshot number) with what
 * identifies the device it was saved from, so that blksnap-cbt --load
 * gives it back to the module only for the same device, unwritten since.
 *
 * Not part of the installed library: the format belongs to blksnap-cbt
 * (a noinst convenience library, lib/libcbtstate.la, linked into the tool,
 * the unit tests and the fuzzing harness).  It keeps its own error
 * message (cs_error()), since it is linked beside the shared libblksnap.
 *
 * Layout (little-endian): a header of CS_HEADER_SIZE bytes with a CRC-32C
 * of itself, then the live map and the frozen map (block_count bytes
 * each) with an XXH3-64 of both, then zeroes up to a multiple of
 * CS_HEADER_SIZE (so that the file can be read and written with O_DIRECT
 * through the block device, the in-place mode).
 */
#ifndef BLKSNAP_CBT_STATE_H
#define BLKSNAP_CBT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_MAGIC "BSCBTST1"	/* 8 bytes, no NUL */
#define CS_VERSION 1
#define CS_HEADER_SIZE 4096

/* Header flags. */
#define CS_FLAG_USED 0x1	/* loaded once: never again */
#define CS_FLAG_IN_PLACE 0x2	/* on the device itself; fingerprint skips it */
#define CS_FLAG_FINGERPRINT 0x4	/* fp_* hold a fingerprint */
#define CS_FLAGS_KNOWN 0x7

/* Text fields: NUL-terminated in the file, every byte after the NUL zero. */
#define CS_KNAME_LEN 32
#define CS_PATH_LEN 256
#define CS_FSTYPE_LEN 32
#define CS_UUID_LEN 64
#define CS_LABEL_LEN 128

/* Bytes hashed at each end of the device for the fingerprint (at most). */
#define CS_FP_LEN (1u << 20)

/* What identifies the device (empty text: not known / not present). */
struct cs_identity {
	uint64_t dev;		/* major << 32 | minor, at the save */
	uint64_t size;		/* bytes */
	uint32_t logical_block;	/* bytes */
	uint64_t diskseq;
	char kname[CS_KNAME_LEN];	/* "sdb1" */
	char path[CS_PATH_LEN];		/* as given to the save */
	char fs_type[CS_FSTYPE_LEN];	/* libblkid TYPE */
	char fs_uuid[CS_UUID_LEN];	/* libblkid UUID */
	char fs_label[CS_LABEL_LEN];	/* libblkid LABEL */
	char partuuid[CS_UUID_LEN];	/* libblkid PART_ENTRY_UUID */
};

/* A state file, parsed or to be written. */
struct cs_state {
	uint32_t flags;		/* CS_FLAG_* */
	uint64_t save_time;	/* seconds since the epoch */
	uint8_t boot_id[16];	/* /proc/sys/kernel/random/boot_id at the save */
	struct cs_identity id;
	/* The tracking, as the module reported it. */
	uint32_t block_size;
	uint32_t snap_number;	/* 1..255 */
	uint64_t block_count;
	uint64_t capacity;	/* sectors */
	uint8_t generation[16];
	uint64_t writes_at_attach;
	uint64_t writes_now;	/* the device's write + discard count at the save */
	/* XXH3-64 of the first and last fp_len bytes of the device. */
	uint64_t fp_len;
	uint64_t fp_head;
	uint64_t fp_tail;
	/* block_count bytes each; owned by the struct after cs_parse(). */
	uint8_t *map;		/* live: each at most snap_number */
	uint8_t *snap_map;	/* frozen: each below snap_number */
};

/* The last failure of a cs_ function, in words ("" if none); per thread. */
const char *cs_error(void);

/* Records the message for cs_error() and returns -1 (lib/cbt-device.c too). */
int cs_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The size of the whole file for @block_count tracking blocks: header,
 * two maps, zeroes to a multiple of CS_HEADER_SIZE.  0 if it would not fit
 * in 63 bits.
 */
uint64_t cs_file_size(uint64_t block_count);

/*
 * Encodes @s into @buf of @len bytes (at least cs_file_size(), zeroed
 * past the maps), with both checksums.  Returns 0, or -1 if @len is too
 * small or a field is out of range (a text not terminated, a map value
 * past its bound, unknown flags, block_count 0).
 */
int cs_encode(const struct cs_state *s, void *buf, size_t len);

/*
 * Parses the @len bytes of a state file at @buf into *out (maps
 * allocated: cs_free() them).  Every field is checked before use: the
 * magic, the version (another one is refused as such, naming it), the
 * header's CRC-32C, the sizes (a file cut short is "truncated"), the
 * text fields, the flags, the maps' values and their XXH3-64.  Returns
 * 0, or -1 with cs_error() saying what is wrong in words that name the
 * problem, never the file (the caller names it).  A header of zeroes
 * (a reserved file never saved) fails as "holds no saved state".
 */
int cs_parse(const void *buf, size_t len, struct cs_state *out);

/*
 * Parses the header alone (the first CS_HEADER_SIZE bytes of @buf, @len
 * at least that): magic, version, CRC, fields; the maps are not read.
 * *out's maps are NULL.  Same returns and messages as cs_parse().
 */
int cs_parse_header(const void *buf, size_t len, struct cs_state *out);

/*
 * Sets CS_FLAG_USED in the encoded header @hdr (CS_HEADER_SIZE bytes,
 * already valid) and recomputes its CRC.
 */
void cs_mark_used(void *hdr);

/* Frees the maps of @s (either may be NULL). */
void cs_free(struct cs_state *s);

/* The CRC-32C of the encoded header @hdr with its CRC field taken as 0. */
uint32_t cs_header_crc(const void *hdr);

/*
 * Compares the saved identity @saved with the device's @now.  Returns
 * NULL when they may be the same device, else a static text naming the
 * first difference ("its size differs", "its filesystem UUID differs",
 * ...).  Size and logical block size must be equal; the filesystem type
 * and UUID and the PARTUUID must be equal where the saved one is known
 * (a saved UUID that the device no longer shows is a difference).  The
 * label, kernel name, path, dev_t and diskseq are not compared (they
 * change across boots or by renaming).
 */
const char *cs_identity_differs(const struct cs_identity *saved,
				const struct cs_identity *now);

/*
 * The file name under a state directory for a device of identity @id, into
 * @out of @size bytes: "uuid-FSUUID.cbt", else "partuuid-PARTUUID.cbt",
 * else "name-KNAME.cbt"; characters other than [A-Za-z0-9._-] become
 * '_'.  Returns 0, or -1 if no name could be made.
 */
int cs_file_name(const struct cs_identity *id, char *out, size_t size);

/* 16 bytes from a 36-character UUID text (either case); 0 or -1. */
int cs_uuid_parse(const char *text, uint8_t out[16]);

#endif
