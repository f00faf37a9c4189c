// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The CBT state file, blksnap-cbt-state(5): encoding and parsing, no I/O.
 * A state file comes from disk, maybe damaged, maybe from another release
 * or another machine: every field is checked before it is used.
 */

#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbt-state.h"
#include "crc32c.h"
#include "internal.h"
#include "xxh.h"

/* Offsets in the header (blksnap-cbt-state(5)). */
enum {
	O_MAGIC = 0, O_VERSION = 8, O_HEADER_SIZE = 12, O_FLAGS = 16,
	O_CRC = 20, O_TIME = 24, O_BOOT_ID = 32, O_DEV = 48, O_SIZE = 56,
	O_LOGICAL = 64, O_BLOCK_SIZE = 68, O_DISKSEQ = 72,
	O_WRITES_ATTACH = 80, O_WRITES_NOW = 88, O_SNAP_NUMBER = 96,
	O_RESERVED = 100, O_BLOCK_COUNT = 104, O_CAPACITY = 112,
	O_GENERATION = 120, O_MAPS_OFFSET = 136, O_MAPS_LEN = 144,
	O_MAPS_HASH = 152, O_FILE_SIZE = 160, O_FP_LEN = 168, O_FP_HEAD = 176,
	O_FP_TAIL = 184, O_KNAME = 192, O_PATH = 224, O_FSTYPE = 480,
	O_FSUUID = 512, O_LABEL = 576, O_PARTUUID = 704, O_END = 768,
};

static __thread char error_text[256];

const char *cs_error(void)
{
	return error_text;
}

int cs_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error_text, sizeof(error_text), fmt, ap);
	va_end(ap);
	return -1;
}

static void put32(uint8_t *h, size_t at, uint32_t v)
{
	v = htole32(v);
	memcpy(h + at, &v, 4);
}

static void put64(uint8_t *h, size_t at, uint64_t v)
{
	v = htole64(v);
	memcpy(h + at, &v, 8);
}

static uint32_t get32(const uint8_t *h, size_t at)
{
	uint32_t v;

	memcpy(&v, h + at, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *h, size_t at)
{
	uint64_t v;

	memcpy(&v, h + at, 8);
	return le64toh(v);
}

uint32_t cs_header_crc(const void *hdr)
{
	uint8_t copy[CS_HEADER_SIZE];

	memcpy(copy, hdr, sizeof(copy));
	memset(copy + O_CRC, 0, 4);
	return bs_crc32c(copy, sizeof(copy));
}

uint64_t cs_file_size(uint64_t block_count)
{
	uint64_t size;

	if (block_count > (UINT64_C(1) << 60))
		return 0;
	size = CS_HEADER_SIZE + 2 * block_count;
	return (size + CS_HEADER_SIZE - 1) / CS_HEADER_SIZE * CS_HEADER_SIZE;
}

static uint64_t maps_hash(const uint8_t *map, const uint8_t *snap_map,
			  uint64_t count)
{
	XXH3_state_t *st = XXH3_createState();
	uint64_t h;

	if (!st)
		return 0;
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, map, count);
	XXH3_64bits_update(st, snap_map, count);
	h = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return h;
}

/* A text field of @size bytes: terminated, and only zeroes after the NUL. */
static bool text_ok(const uint8_t *h, size_t at, size_t size)
{
	const uint8_t *nul = memchr(h + at, 0, size);
	const uint8_t *p;

	if (!nul)
		return false;
	for (p = nul; p < h + at + size; p++)
		if (*p)
			return false;
	return true;
}

static bool put_text(uint8_t *h, size_t at, size_t size, const char *s)
{
	size_t n = strnlen(s, size);

	if (n == size)
		return false;
	memcpy(h + at, s, n);
	return true;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

/* The checks of the tracking fields, shared by the encoder and the parser. */
static int check_tracking(const struct cs_state *s)
{
	uint64_t blocks;

	if (s->block_size < 512 || (s->block_size & (s->block_size - 1)))
		return cs_fail("a tracking block size of %u bytes", s->block_size);
	if (s->snap_number < 1 || s->snap_number > 255)
		return cs_fail("a snapshot number of %u (1 to 255)", s->snap_number);
	if (!s->capacity || s->capacity > (UINT64_MAX >> 9))
		return cs_fail("a device capacity of %llu sectors",
			    (unsigned long long)s->capacity);
	blocks = ((s->capacity << 9) + s->block_size - 1) / s->block_size;
	if (s->block_count != blocks)
		return cs_fail("%llu tracking blocks for a device of %llu sectors in blocks of %u bytes",
			    (unsigned long long)s->block_count,
			    (unsigned long long)s->capacity, s->block_size);
	if (s->id.size != s->capacity << 9)
		return cs_fail("a device size of %llu bytes but a capacity of %llu sectors",
			    (unsigned long long)s->id.size,
			    (unsigned long long)s->capacity);
	if (s->flags & ~CS_FLAGS_KNOWN)
		return cs_fail("unknown flags 0x%x", s->flags & ~CS_FLAGS_KNOWN);
	if (s->flags & CS_FLAG_FINGERPRINT) {
		if (!s->fp_len || s->fp_len > CS_FP_LEN || s->fp_len > s->id.size)
			return cs_fail("a fingerprint of %llu bytes",
				    (unsigned long long)s->fp_len);
	} else if (s->fp_len || s->fp_head || s->fp_tail) {
		return cs_fail("a fingerprint without its flag");
	}
	return 0;
}

static int check_maps(const struct cs_state *s)
{
	uint64_t i;

	for (i = 0; i < s->block_count; i++) {
		if (s->map[i] > s->snap_number)
			return cs_fail("live map value %u at block %llu past snapshot number %u",
				    s->map[i], (unsigned long long)i, s->snap_number);
		if (s->snap_map[i] >= s->snap_number)
			return cs_fail("frozen map value %u at block %llu not below snapshot number %u",
				    s->snap_map[i], (unsigned long long)i,
				    s->snap_number);
	}
	return 0;
}

int cs_encode(const struct cs_state *s, void *buf, size_t len)
{
	uint64_t size = cs_file_size(s->block_count);
	uint8_t *h = buf;

	if (check_tracking(s) || check_maps(s))
		return -1;
	if (!size || len < size)
		return cs_fail("a buffer of %zu bytes for a file of %llu", len,
			    (unsigned long long)size);
	memset(h, 0, size);
	memcpy(h + O_MAGIC, CS_MAGIC, 8);
	put32(h, O_VERSION, CS_VERSION);
	put32(h, O_HEADER_SIZE, CS_HEADER_SIZE);
	put32(h, O_FLAGS, s->flags);
	put64(h, O_TIME, s->save_time);
	memcpy(h + O_BOOT_ID, s->boot_id, 16);
	put64(h, O_DEV, s->id.dev);
	put64(h, O_SIZE, s->id.size);
	put32(h, O_LOGICAL, s->id.logical_block);
	put32(h, O_BLOCK_SIZE, s->block_size);
	put64(h, O_DISKSEQ, s->id.diskseq);
	put64(h, O_WRITES_ATTACH, s->writes_at_attach);
	put64(h, O_WRITES_NOW, s->writes_now);
	put32(h, O_SNAP_NUMBER, s->snap_number);
	put64(h, O_BLOCK_COUNT, s->block_count);
	put64(h, O_CAPACITY, s->capacity);
	memcpy(h + O_GENERATION, s->generation, 16);
	put64(h, O_MAPS_OFFSET, CS_HEADER_SIZE);
	put64(h, O_MAPS_LEN, 2 * s->block_count);
	put64(h, O_MAPS_HASH, maps_hash(s->map, s->snap_map, s->block_count));
	put64(h, O_FILE_SIZE, size);
	put64(h, O_FP_LEN, s->fp_len);
	put64(h, O_FP_HEAD, s->fp_head);
	put64(h, O_FP_TAIL, s->fp_tail);
	if (!put_text(h, O_KNAME, CS_KNAME_LEN, s->id.kname) ||
	    !put_text(h, O_PATH, CS_PATH_LEN, s->id.path) ||
	    !put_text(h, O_FSTYPE, CS_FSTYPE_LEN, s->id.fs_type) ||
	    !put_text(h, O_FSUUID, CS_UUID_LEN, s->id.fs_uuid) ||
	    !put_text(h, O_LABEL, CS_LABEL_LEN, s->id.fs_label) ||
	    !put_text(h, O_PARTUUID, CS_UUID_LEN, s->id.partuuid))
		return cs_fail("a text field too long");
	memcpy(h + CS_HEADER_SIZE, s->map, s->block_count);
	memcpy(h + CS_HEADER_SIZE + s->block_count, s->snap_map, s->block_count);
	put32(h, O_CRC, cs_header_crc(h));
	return 0;
}

int cs_parse_header(const void *buf, size_t len, struct cs_state *out)
{
	const uint8_t *h = buf;
	uint32_t version;
	uint64_t size;

	memset(out, 0, sizeof(*out));
	if (!len)
		return cs_fail("empty (0 bytes)");
	if (len < 8 || memcmp(h, CS_MAGIC, 8)) {
		if (len >= 8 && all_zero(h, len < CS_HEADER_SIZE ? len : CS_HEADER_SIZE))
			return cs_fail("holds no saved state (reserved, never saved)");
		if (len < 8 && !memcmp(h, CS_MAGIC, len))
			return cs_fail("truncated (%zu bytes)", len);
		return cs_fail("not a blksnap CBT state file (bad magic)");
	}
	if (len < O_VERSION + 4)
		return cs_fail("truncated (%zu bytes)", len);
	version = get32(h, O_VERSION);
	/* A later version may change anything after its version field. */
	if (version != CS_VERSION)
		return cs_fail("of version %u, not %u (another blksnap release)",
			    version, CS_VERSION);
	if (len < CS_HEADER_SIZE)
		return cs_fail("truncated (%zu bytes, its header alone is %u)", len,
			    CS_HEADER_SIZE);
	if (get32(h, O_HEADER_SIZE) != CS_HEADER_SIZE)
		return cs_fail("a header size of %u, not %u", get32(h, O_HEADER_SIZE),
			    CS_HEADER_SIZE);
	if (get32(h, O_CRC) != cs_header_crc(h))
		return cs_fail("a bad header checksum (damaged)");
	if (get32(h, O_RESERVED) || !all_zero(h + O_END, CS_HEADER_SIZE - O_END))
		return cs_fail("non-zero reserved fields");
	if (!text_ok(h, O_KNAME, CS_KNAME_LEN) || !text_ok(h, O_PATH, CS_PATH_LEN) ||
	    !text_ok(h, O_FSTYPE, CS_FSTYPE_LEN) || !text_ok(h, O_FSUUID, CS_UUID_LEN) ||
	    !text_ok(h, O_LABEL, CS_LABEL_LEN) || !text_ok(h, O_PARTUUID, CS_UUID_LEN))
		return cs_fail("a text field not terminated");
	out->flags = get32(h, O_FLAGS);
	out->save_time = get64(h, O_TIME);
	memcpy(out->boot_id, h + O_BOOT_ID, 16);
	out->id.dev = get64(h, O_DEV);
	out->id.size = get64(h, O_SIZE);
	out->id.logical_block = get32(h, O_LOGICAL);
	out->id.diskseq = get64(h, O_DISKSEQ);
	memcpy(out->id.kname, h + O_KNAME, CS_KNAME_LEN);
	memcpy(out->id.path, h + O_PATH, CS_PATH_LEN);
	memcpy(out->id.fs_type, h + O_FSTYPE, CS_FSTYPE_LEN);
	memcpy(out->id.fs_uuid, h + O_FSUUID, CS_UUID_LEN);
	memcpy(out->id.fs_label, h + O_LABEL, CS_LABEL_LEN);
	memcpy(out->id.partuuid, h + O_PARTUUID, CS_UUID_LEN);
	out->block_size = get32(h, O_BLOCK_SIZE);
	out->snap_number = get32(h, O_SNAP_NUMBER);
	out->block_count = get64(h, O_BLOCK_COUNT);
	out->capacity = get64(h, O_CAPACITY);
	memcpy(out->generation, h + O_GENERATION, 16);
	out->writes_at_attach = get64(h, O_WRITES_ATTACH);
	out->writes_now = get64(h, O_WRITES_NOW);
	out->fp_len = get64(h, O_FP_LEN);
	out->fp_head = get64(h, O_FP_HEAD);
	out->fp_tail = get64(h, O_FP_TAIL);
	if (check_tracking(out))
		return -1;
	if (out->id.logical_block < 512 || out->id.logical_block > 65536 ||
	    (out->id.logical_block & (out->id.logical_block - 1)))
		return cs_fail("a logical block size of %u bytes", out->id.logical_block);
	size = cs_file_size(out->block_count);
	if (get64(h, O_MAPS_OFFSET) != CS_HEADER_SIZE ||
	    get64(h, O_MAPS_LEN) != 2 * out->block_count ||
	    get64(h, O_FILE_SIZE) != size)
		return cs_fail("map offset, length or file size inconsistent with %llu blocks",
			    (unsigned long long)out->block_count);
	return 0;
}

int cs_parse(const void *buf, size_t len, struct cs_state *out)
{
	const uint8_t *h = buf;
	uint64_t size;

	if (cs_parse_header(buf, len, out))
		return -1;
	size = cs_file_size(out->block_count);
	if (len < size)
		return cs_fail("truncated (%zu bytes of %llu)", len,
			    (unsigned long long)size);
	if (!all_zero(h + CS_HEADER_SIZE + 2 * out->block_count,
		      size - CS_HEADER_SIZE - 2 * out->block_count))
		return cs_fail("non-zero padding after the maps");
	if (maps_hash(h + CS_HEADER_SIZE, h + CS_HEADER_SIZE + out->block_count,
		      out->block_count) != get64(h, O_MAPS_HASH))
		return cs_fail("a bad map checksum (damaged)");
	out->map = malloc(out->block_count);
	out->snap_map = malloc(out->block_count);
	if (!out->map || !out->snap_map) {
		cs_free(out);
		return cs_fail("out of memory for maps of %llu blocks",
			    (unsigned long long)out->block_count);
	}
	memcpy(out->map, h + CS_HEADER_SIZE, out->block_count);
	memcpy(out->snap_map, h + CS_HEADER_SIZE + out->block_count,
	       out->block_count);
	if (check_maps(out)) {
		cs_free(out);
		return -1;
	}
	return 0;
}

void cs_mark_used(void *hdr)
{
	uint8_t *h = hdr;

	put32(h, O_FLAGS, get32(h, O_FLAGS) | CS_FLAG_USED);
	put32(h, O_CRC, cs_header_crc(h));
}

void cs_free(struct cs_state *s)
{
	free(s->map);
	free(s->snap_map);
	s->map = NULL;
	s->snap_map = NULL;
}

const char *cs_identity_differs(const struct cs_identity *saved,
				const struct cs_identity *now)
{
	if (saved->size != now->size)
		return "its size differs";
	if (saved->logical_block != now->logical_block)
		return "its logical block size differs";
	if (saved->fs_type[0] && strcmp(saved->fs_type, now->fs_type))
		return "its filesystem type differs";
	if (saved->fs_uuid[0] && strcmp(saved->fs_uuid, now->fs_uuid))
		return "its filesystem UUID differs";
	if (saved->partuuid[0] && strcmp(saved->partuuid, now->partuuid))
		return "its PARTUUID differs";
	return NULL;
}

static int name_from(const char *prefix, const char *value, char *out,
		     size_t size)
{
	size_t i, n;
	int len = snprintf(out, size, "%s-%s.cbt", prefix, value);

	if (len < 0 || (size_t)len >= size)
		return -1;
	n = strlen(prefix) + 1;
	for (i = n; i < n + strlen(value); i++) {
		char c = out[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			out[i] = '_';
	}
	return 0;
}

int cs_file_name(const struct cs_identity *id, char *out, size_t size)
{
	if (id->fs_uuid[0])
		return name_from("uuid", id->fs_uuid, out, size);
	if (id->partuuid[0])
		return name_from("partuuid", id->partuuid, out, size);
	if (id->kname[0])
		return name_from("name", id->kname, out, size);
	return cs_fail("the device has no filesystem UUID, PARTUUID or name");
}

int cs_uuid_parse(const char *text, uint8_t out[16])
{
	int i, hi, lo;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			if (*text != '-')
				return -1;
			text++;
		}
		hi = bs_hex_digit(text[0]);
		lo = hi < 0 ? -1 : bs_hex_digit(text[1]);
		if (lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
		text += 2;
	}
	return *text && *text != '\n' ? -1 : 0;
}
