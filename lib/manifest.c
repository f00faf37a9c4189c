// SPDX-License-Identifier: LGPL-2.1-or-later
/* The manifest's text form (blksnap-archive(5)) and chain rules. */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define MANIFEST_MAX	(64u << 10)
#define CHECKSUM_KEY	"checksum"

void blksnap_manifest_init(struct blksnap_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->format_version = 1;	/* 2 once it has zero ranges */
	bs_uuid_random(m->uuid);
	m->created = (int64_t)time(NULL);
	snprintf(m->tool_version, sizeof(m->tool_version), "blksnap %s",
		 PACKAGE_VERSION);
	m->logical_block_size = 512;
	m->hash_block_size = BLKSNAP_DEFAULT_HASH_BLOCK;
	strcpy(m->compression, "none");
}

/* Text values keep to one line: backslash, newline and CR are escaped. */
static int put_escaped(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%s=", key);
	for (; *value; value++) {
		if (*value == '\\')
			fputs("\\\\", f);
		else if (*value == '\n')
			fputs("\\n", f);
		else if (*value == '\r')
			fputs("\\r", f);
		else
			fputc(*value, f);
	}
	return fputc('\n', f) == EOF ? -1 : 0;
}

static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*out++ = *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

int blksnap_manifest_format(const struct blksnap_manifest *m, char **text,
			    size_t *len)
{
	char created[32];
	struct tm tm;
	time_t t = (time_t)m->created;
	size_t size = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return bs_fail_errno(errno, "cannot build the manifest");
	/* A time past gmtime's years (a parsed manifest's) stays a number. */
	if (!gmtime_r(&t, &tm) ||
	    !strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(created, sizeof(created), "%" PRId64, m->created);
	fprintf(f, "format=blksnap-archive %u\n", m->format_version);
	fprintf(f, "uuid=%s\n", m->uuid);
	fprintf(f, "kind=%s\n", m->incremental ? "incremental" : "full");
	fprintf(f, "parent=%s\n", m->parent_uuid);
	fprintf(f, "sequence=%" PRIu32 "\n", m->sequence);
	fprintf(f, "size=%" PRIu64 "\n", m->size);
	fprintf(f, "logical_block_size=%" PRIu32 "\n", m->logical_block_size);
	put_escaped(f, "source", m->source);
	put_escaped(f, "fstype", m->id.fstype);
	put_escaped(f, "fsuuid", m->id.uuid);
	put_escaped(f, "label", m->id.label);
	fprintf(f, "cbt_generation=%s\n", m->cbt_generation);
	fprintf(f, "cbt_snapshot=%" PRIu32 "\n", m->cbt_snapshot);
	fprintf(f, "hash=xxh3-64\n");
	fprintf(f, "hash_block_size=%" PRIu32 "\n", m->hash_block_size);
	fprintf(f, "created=%s\n", created);
	fprintf(f, "created_epoch=%" PRId64 "\n", m->created);
	put_escaped(f, "tool", m->tool_version);
	put_escaped(f, "compression", m->compression);
	put_escaped(f, "image", m->image_name);
	fprintf(f, "data_bytes=%" PRIu64 "\n", m->data_bytes);
	fprintf(f, "ranges=%" PRIu64 "\n", m->range_count);
	if (m->format_version >= 2) {
		fprintf(f, "zero_bytes=%" PRIu64 "\n", m->zero_bytes);
		fprintf(f, "zero_ranges=%" PRIu64 "\n", m->zero_range_count);
	}
	if (fflush(f) || ferror(f)) {
		fclose(f);
		free(buf);
		return bs_fail_errno(ENOMEM, "cannot build the manifest");
	}
	/* The checksum covers every byte before its own line. */
	fprintf(f, CHECKSUM_KEY "=%016" PRIx64 "\n", blksnap_hash(buf, size));
	if (fclose(f)) {
		free(buf);
		return bs_fail_errno(ENOMEM, "cannot build the manifest");
	}
	*text = buf;
	*len = size;
	return 0;
}

struct parse_ctx {
	const char *archive;
	unsigned long seen;	/* bit per required key found */
};

/* Decimal digits only: strtoull alone takes blanks, a sign and wraps. */
static bool get_uint(const char *value, uint64_t max, uint64_t *out)
{
	char *end;

	if (value[0] < '0' || value[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(value, &end, 10);
	return !errno && !*end && *out <= max;
}

static int parse_uint(const struct parse_ctx *c, const char *key,
		      const char *value, uint64_t max, uint64_t *out)
{
	if (get_uint(value, max, out))
		return 0;
	return bs_fail("%s: manifest: bad value for %s: '%.40s'", c->archive,
		       key, value);
}

enum {
	K_FORMAT, K_UUID, K_KIND, K_PARENT, K_SEQUENCE, K_SIZE, K_LBS,
	K_HASH, K_HBS, K_CREATED, K_IMAGE, K_DATA, K_RANGES,
	K_ZERO_BYTES, K_ZERO_RANGES,	/* required from version 2 */
	K_OPTIONAL	/* not required: keys from here on */
};

static int parse_pair(struct parse_ctx *c, struct blksnap_manifest *m,
		      const char *key, const char *value)
{
	uint64_t v;

#define NUM(bit, max, field)						\
	do {								\
		if (parse_uint(c, key, value, (max), &v))		\
			return -1;					\
		m->field = v;						\
		c->seen |= 1ul << (bit);				\
	} while (0)

	if (!strcmp(key, "format")) {
		static const char name[] = "blksnap-archive ";

		if (strncmp(value, name, sizeof(name) - 1) ||
		    !get_uint(value + sizeof(name) - 1, UINT_MAX, &v))
			return bs_fail("%s: manifest: unknown format '%.40s'",
				       c->archive, value);
		m->format_version = (unsigned int)v;
		c->seen |= 1ul << K_FORMAT;
	} else if (!strcmp(key, "uuid")) {
		if (!blksnap_uuid_valid(value))
			return bs_fail("%s: manifest: bad uuid", c->archive);
		strcpy(m->uuid, value);
		c->seen |= 1ul << K_UUID;
	} else if (!strcmp(key, "kind")) {
		if (strcmp(value, "full") && strcmp(value, "incremental"))
			return bs_fail("%s: manifest: unknown kind '%.40s'",
				       c->archive, value);
		m->incremental = !strcmp(value, "incremental");
		c->seen |= 1ul << K_KIND;
	} else if (!strcmp(key, "parent")) {
		if (value[0] && !blksnap_uuid_valid(value))
			return bs_fail("%s: manifest: bad parent uuid", c->archive);
		strcpy(m->parent_uuid, value);
		c->seen |= 1ul << K_PARENT;
	} else if (!strcmp(key, "cbt_generation")) {
		if (value[0] && !blksnap_uuid_valid(value))
			return bs_fail("%s: manifest: bad CBT generation",
				       c->archive);
		strcpy(m->cbt_generation, value);
	} else if (!strcmp(key, "hash")) {
		if (strcmp(value, "xxh3-64"))
			return bs_fail("%s: manifest: unknown hash '%.40s'",
				       c->archive, value);
		c->seen |= 1ul << K_HASH;
	} else if (!strcmp(key, "sequence")) {
		NUM(K_SEQUENCE, UINT32_MAX, sequence);
	} else if (!strcmp(key, "size")) {
		NUM(K_SIZE, INT64_MAX, size);
	} else if (!strcmp(key, "logical_block_size")) {
		NUM(K_LBS, 1u << 20, logical_block_size);
	} else if (!strcmp(key, "hash_block_size")) {
		NUM(K_HBS, BLKSNAP_MAX_HASH_BLOCK, hash_block_size);
	} else if (!strcmp(key, "created_epoch")) {
		NUM(K_CREATED, INT64_MAX, created);
	} else if (!strcmp(key, "data_bytes")) {
		NUM(K_DATA, INT64_MAX, data_bytes);
	} else if (!strcmp(key, "ranges")) {
		NUM(K_RANGES, INT64_MAX, range_count);
	} else if (!strcmp(key, "zero_bytes")) {
		NUM(K_ZERO_BYTES, INT64_MAX, zero_bytes);
	} else if (!strcmp(key, "zero_ranges")) {
		NUM(K_ZERO_RANGES, INT64_MAX, zero_range_count);
	} else if (!strcmp(key, "cbt_snapshot")) {
		NUM(K_OPTIONAL, UINT32_MAX, cbt_snapshot);
	} else if (!strcmp(key, "image")) {
		bs_strlcpy(m->image_name, value, sizeof(m->image_name));
		c->seen |= 1ul << K_IMAGE;
	} else if (!strcmp(key, "source")) {
		bs_strlcpy(m->source, value, sizeof(m->source));
	} else if (!strcmp(key, "fstype")) {
		bs_strlcpy(m->id.fstype, value, sizeof(m->id.fstype));
	} else if (!strcmp(key, "fsuuid")) {
		bs_strlcpy(m->id.uuid, value, sizeof(m->id.uuid));
	} else if (!strcmp(key, "label")) {
		bs_strlcpy(m->id.label, value, sizeof(m->id.label));
	} else if (!strcmp(key, "tool")) {
		bs_strlcpy(m->tool_version, value, sizeof(m->tool_version));
	} else if (!strcmp(key, "compression")) {
		bs_strlcpy(m->compression, value, sizeof(m->compression));
	}
	/* Keys added by later releases of format 1 are ignored. */
	return 0;
#undef NUM
}

static int check_fields(const struct parse_ctx *c,
			const struct blksnap_manifest *m)
{
	static const char *const names[] = {
		"format", "uuid", "kind", "parent", "sequence", "size",
		"logical_block_size", "hash", "hash_block_size",
		"created_epoch", "image", "data_bytes", "ranges",
		"zero_bytes", "zero_ranges",
	};
	unsigned int k, required = K_ZERO_BYTES;
	uint32_t hbs = m->hash_block_size;

	if (c->seen & (1ul << K_FORMAT) &&
	    (m->format_version < 1 || m->format_version > BLKSNAP_FORMAT_VERSION))
		return bs_fail("%s: archive format version %u is not supported (this blksnap reads versions 1 to %u)",
			       c->archive, m->format_version,
			       BLKSNAP_FORMAT_VERSION);
	if (m->format_version >= 2)
		required = K_OPTIONAL;
	for (k = 0; k < required; k++)
		if (!(c->seen & (1ul << k)))
			return bs_fail("%s: manifest lacks the field '%s'",
				       c->archive, names[k]);
	/* Zero ranges in version 1 would be lost on an older reader. */
	if (m->format_version < 2 && (m->zero_bytes || m->zero_range_count))
		return bs_fail("%s: manifest: zero ranges in a version %u archive",
			       c->archive, m->format_version);
	if (hbs < BLKSNAP_MIN_HASH_BLOCK || (hbs & (hbs - 1)))
		return bs_fail("%s: manifest: bad hash block size %u",
			       c->archive, hbs);
	/*
	 * From version 2 a full archive may be a synthetic full of a later
	 * point of its chain (blksnap-merge(8)), with that point's number.
	 */
	if (m->incremental != (m->parent_uuid[0] != '\0') ||
	    (m->incremental && !m->sequence) ||
	    (!m->incremental && m->sequence && m->format_version < 2))
		return bs_fail("%s: manifest: kind, parent and sequence disagree",
			       c->archive);
	if (!m->size)
		return bs_fail("%s: manifest: image size is 0", c->archive);
	if (m->data_bytes > m->size || m->zero_bytes > m->size - m->data_bytes)
		return bs_fail("%s: manifest: more data than the image size",
			       c->archive);
	if (!m->zero_bytes != !m->zero_range_count ||
	    m->zero_range_count > m->zero_bytes)
		return bs_fail("%s: manifest: zero_bytes and zero_ranges disagree",
			       c->archive);
	return 0;
}

/* The checksum line, last: "checksum=" and 16 hex digits, newline-ended. */
static int check_sum(const char *text, size_t len, const char *archive,
		     size_t *body_len)
{
	const size_t line_len = sizeof(CHECKSUM_KEY "=") - 1 + 16 + 1;
	const char *line;
	uint64_t want = 0;
	size_t i;

	if (len < line_len)
		return bs_fail("%s: manifest has no checksum line", archive);
	line = text + len - line_len;
	if (text[len - 1] != '\n' ||
	    (line > text && line[-1] != '\n') ||
	    strncmp(line, CHECKSUM_KEY "=", sizeof(CHECKSUM_KEY)))
		return bs_fail("%s: manifest has no checksum line", archive);
	for (i = sizeof(CHECKSUM_KEY); i < line_len - 1; i++) {
		char c = line[i];
		int digit = c >= '0' && c <= '9' ? c - '0' :
			    c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (digit < 0)
			return bs_fail("%s: manifest has no checksum line", archive);
		want = want << 4 | (uint64_t)digit;
	}
	*body_len = (size_t)(line - text);
	if (blksnap_hash(text, *body_len) != want)
		return bs_fail("%s: manifest is corrupted (checksum mismatch)",
			       archive);
	return 0;
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A key given twice is refused, unknown ones too: which of the two
 * values counts would be a guess (the last one used to win).
 */
static int check_repeats(char **keys, size_t n, const char *archive)
{
	size_t i;

	qsort(keys, n, sizeof(*keys), compare_keys);
	for (i = 1; i < n; i++)
		if (!strcmp(keys[i - 1], keys[i]))
			return bs_fail("%s: manifest: the key '%.40s' appears more than once",
				       archive, keys[i]);
	return 0;
}

int blksnap_manifest_parse(const char *text, size_t len, const char *archive,
			   struct blksnap_manifest *m)
{
	struct parse_ctx c = { .archive = archive };
	char *copy, *line, *save = NULL, **keys;
	size_t body_len = 0, nkeys = 0;
	int ret = -1;

	if (len > MANIFEST_MAX || memchr(text, '\0', len))
		return bs_fail("%s: not a blksnap archive (bad manifest)", archive);
	if (check_sum(text, len, archive, &body_len))
		return -1;
	copy = bs_malloc(body_len + 1);
	/* At most a key a line, and a line has at least "=\n". */
	keys = bs_calloc(body_len / 2 + 1, sizeof(*keys));
	if (!copy || !keys)
		goto out;
	memcpy(copy, text, body_len);
	copy[body_len] = '\0';
	memset(m, 0, sizeof(*m));
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq) {
			bs_fail("%s: manifest: malformed line '%.40s'", archive,
				line);
			goto out;
		}
		*eq = '\0';
		unescape(eq + 1);
		if (parse_pair(&c, m, line, eq + 1))
			goto out;
		keys[nkeys++] = line;
	}
	if (!check_repeats(keys, nkeys, archive))
		ret = check_fields(&c, m);
out:
	free(keys);
	free(copy);
	return ret;
}

int blksnap_manifest_check_chain(const struct blksnap_manifest *prev,
				 const char *prev_name,
				 const struct blksnap_manifest *next,
				 const char *next_name)
{
	if (!prev) {
		if (next->incremental)
			return bs_fail("%s: an incremental archive (number %u of its chain) cannot start a chain: give its full archive first",
				       next_name, next->sequence);
		return 0;
	}
	if (!next->incremental)
		return bs_fail("%s: a full archive cannot follow %s: restore it on its own or as the first of a chain",
			       next_name, prev_name);
	/*
	 * A synthetic full holds the point of the incremental it was made
	 * from, under its UUID: that incremental may follow it, changing
	 * nothing (a fold cut short between its two steps leaves this).
	 */
	bool held = !prev->incremental && !strcmp(next->uuid, prev->uuid) &&
		    next->sequence == prev->sequence;

	if (!held && strcmp(next->parent_uuid, prev->uuid))
		return bs_fail("%s: out of order: its parent is archive %s (number %u of its chain), but it follows %s (%s, number %u)",
			       next_name, next->parent_uuid, next->sequence - 1,
			       prev_name, prev->uuid, prev->sequence);
	if (next->size != prev->size)
		return bs_fail("%s: image size %llu differs from its parent's %llu",
			       next_name, (unsigned long long)next->size,
			       (unsigned long long)prev->size);
	/*
	 * An incremental's hash block divides its parent's (both are
	 * powers of two): never larger, so a chain's blocks only get finer.
	 */
	if (next->hash_block_size > prev->hash_block_size)
		return bs_fail("%s: its hash block (%u bytes) is larger than that of %s (%u bytes): an incremental's hash block divides its parent's",
			       next_name, next->hash_block_size, prev_name,
			       prev->hash_block_size);
	return 0;
}
