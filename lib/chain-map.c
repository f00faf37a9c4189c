// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Random access to a chain's image (lib/chain-map.h): the archives'
 * layouts read from their tar headers, sparse maps and hash indexes
 * through lib/archive-seek.c, folded into one map of hash blocks.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "archive-seek.h"
#include "chain-map.h"
#include "manifest-text.h"
#include "tar.h"

#define NO_SOURCE	UINT16_MAX
#define PAX_MAX		(64u << 10)	/* largest pax header read */
#define MANIFEST_MAX	65536u
#define MAP_CHUNK	(64u << 10)	/* reads of a sparse map's text */
#define RUN_MAX		(4u << 20)	/* one read of whole blocks */
#define CACHE_BYTES	(16u << 20)

/* A data region of an image: where its bytes are in the tar stream. */
struct data_region {
	uint64_t offset, length;	/* in the image */
	uint64_t stream;		/* in the tar stream */
};

struct map_archive {
	const char *name;
	struct bs_seekable *s;
	struct blksnap_manifest m;
	struct data_region *reg;
	size_t nreg;
};

struct cache_slot {
	pthread_mutex_t lock;
	uint64_t block;		/* UINT64_MAX: empty */
	unsigned char *data;
};

struct bs_chain_map {
	struct map_archive *a;
	size_t count;
	struct bs_chain_state st;
	uint16_t *src;		/* newest archive holding each block */
	uint64_t zero_hash, zero_hash_last;
	struct cache_slot *slot;
	size_t slots;
};

/* One tar entry as its headers (pax, then ustar) describe it. */
struct tar_entry {
	char name[256];
	uint64_t size;		/* bytes of data in the stream */
	uint64_t data;		/* where they start */
	bool sparse;		/* GNU sparse 1.0 */
	uint64_t realsize;
	bool has_realsize;
};

static bool parse_u64(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (!len || len > 20)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return true;
}

/* The records of a pax header that matter here, into @e. */
static int pax_records(const char *p, size_t len, const char *name,
		       struct tar_entry *e, bool *has_size)
{
	while (len) {
		const char *sp = memchr(p, ' ', BS_MIN(len, (size_t)20));
		const char *eq, *val;
		uint64_t n;
		size_t klen, vlen;

		if (!sp || !parse_u64(p, (size_t)(sp - p), &n) || n > len ||
		    n < (uint64_t)(sp - p) + 3 || p[n - 1] != '\n')
			return bs_fail("%s: damaged archive: bad pax record", name);
		eq = memchr(sp + 1, '=', (size_t)(p + n - 1 - (sp + 1)));
		if (!eq)
			return bs_fail("%s: damaged archive: bad pax record", name);
		klen = (size_t)(eq - sp - 1);
		val = eq + 1;
		vlen = (size_t)(p + n - 1 - val);
#define KEY(k) (klen == strlen(k) && !memcmp(sp + 1, k, klen))
		if ((KEY("path") || KEY("GNU.sparse.name")) &&
		    vlen < sizeof(e->name)) {
			memcpy(e->name, val, vlen);
			e->name[vlen] = '\0';
		} else if (KEY("size")) {
			if (!parse_u64(val, vlen, &e->size))
				return bs_fail("%s: damaged archive: bad pax size", name);
			*has_size = true;
		} else if (KEY("GNU.sparse.major")) {
			e->sparse = vlen == 1 && val[0] == '1';
		} else if (KEY("GNU.sparse.realsize")) {
			if (!parse_u64(val, vlen, &e->realsize))
				return bs_fail("%s: damaged archive: bad pax realsize", name);
			e->has_realsize = true;
		}
#undef KEY
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The entry whose first header is at *@at; *@at then follows its data. */
static int read_entry(struct map_archive *a, uint64_t *at, const char *expect,
		      struct tar_entry *e)
{
	unsigned char h[TAR_BLOCK];
	bool has_size = false;
	char type;

	memset(e, 0, sizeof(*e));
	for (;;) {
		uint64_t size;

		if (bs_seekable_pread(a->s, h, sizeof(h), *at))
			return -1;
		if (!memcmp(h, bs_zeroes(), sizeof(h)))
			return bs_fail("%s: truncated archive: it ends before its %s at byte %llu",
				       a->name, expect, (unsigned long long)*at);
		if (!tar_header_read(h, &type, &size))
			return bs_fail("%s: damaged archive: bad tar header at byte %llu of its tar stream",
				       a->name, (unsigned long long)*at);
		*at += TAR_BLOCK;
		if (type == 'x' || type == 'g') {
			char *p;
			int ret;

			if (size > PAX_MAX)
				return bs_fail("%s: damaged archive: pax header of %llu bytes",
					       a->name, (unsigned long long)size);
			p = bs_malloc((size_t)size + 1);
			if (!p)
				return -1;
			ret = bs_seekable_pread(a->s, p, (size_t)size, *at);
			if (!ret && type == 'x')
				ret = pax_records(p, (size_t)size, a->name, e, &has_size);
			free(p);
			if (ret)
				return -1;
			*at += tar_blocks(size);
			continue;
		}
		if (type != '0' && type != '\0')
			return bs_fail("%s: damaged archive: its %s is not a regular file entry",
				       a->name, expect);
		if (!e->name[0])
			memcpy(e->name, h, TAR_NAME_MAX);
		if (!has_size)
			e->size = size;
		e->data = *at;
		*at += tar_blocks(e->size);
		return 0;
	}
}

/* Reads a small entry's data into a malloc'ed, NUL-terminated buffer. */
static int read_data(struct map_archive *a, const struct tar_entry *e,
		     uint64_t max, char **buf)
{
	char *p;

	if (e->size > max)
		return bs_fail("%s: entry %s has an implausible size", a->name,
			       e->name);
	p = bs_malloc((size_t)e->size + 1);
	if (!p)
		return -1;
	if (bs_seekable_pread(a->s, p, (size_t)e->size, e->data)) {
		free(p);
		return -1;
	}
	p[e->size] = '\0';
	*buf = p;
	return 0;
}

/* The next decimal number of a sparse map's text, read in chunks. */
struct map_text {
	struct map_archive *a;
	const struct tar_entry *e;
	char buf[MAP_CHUNK];
	size_t len, pos;
	uint64_t next;		/* offset in the entry of buf's end */
};

static int map_number(struct map_text *t, uint64_t *v)
{
	char digits[24];
	size_t n = 0;

	for (;;) {
		char c;

		if (t->pos == t->len) {
			size_t want = (size_t)BS_MIN((uint64_t)MAP_CHUNK,
						     t->e->size - t->next);

			if (!want)
				return bs_fail("%s: damaged archive: the sparse map runs past its entry",
					       t->a->name);
			if (bs_seekable_pread(t->a->s, t->buf, want,
					      t->e->data + t->next))
				return -1;
			t->next += want;
			t->len = want;
			t->pos = 0;
		}
		c = t->buf[t->pos++];
		if (c == '\n')
			break;
		if (n == sizeof(digits))
			return bs_fail("%s: damaged archive: bad sparse map", t->a->name);
		digits[n++] = c;
	}
	if (!parse_u64(digits, n, v))
		return bs_fail("%s: damaged archive: bad sparse map", t->a->name);
	return 0;
}

/* The data regions of the image entry @e, with their places in the stream. */
static int read_regions(struct map_archive *a, const struct tar_entry *e)
{
	const struct blksnap_manifest *m = &a->m;
	struct map_text *t;
	uint64_t count, i, stream, sum = 0;
	size_t alloc = 0;
	int ret = -1;

	if (!e->sparse) {
		/* A plain entry: the whole image, in one region. */
		a->reg = bs_calloc(1, sizeof(*a->reg));
		if (!a->reg)
			return -1;
		a->reg[0] = (struct data_region){ 0, m->size, e->data };
		a->nreg = 1;
		return e->size == m->size ? 0 :
		       bs_fail("%s: damaged archive: the image entry is not a file of %llu bytes",
			       a->name, (unsigned long long)m->size);
	}
	if (!e->has_realsize || e->realsize != m->size)
		return bs_fail("%s: damaged archive: the image entry is not a file of %llu bytes",
			       a->name, (unsigned long long)m->size);
	t = bs_calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->a = a;
	t->e = e;
	if (map_number(t, &count))
		goto out;
	if (count > m->size / 512 + 1) {
		bs_fail("%s: damaged archive: bad sparse map", a->name);
		goto out;
	}
	for (i = 0; i < count; i++) {
		uint64_t off, len;

		if (map_number(t, &off) || map_number(t, &len))
			goto out;
		if (!len)
			continue;	/* the empty region of an image without data */
		if (off > m->size || len > m->size - off ||
		    (a->nreg && off < a->reg[a->nreg - 1].offset + a->reg[a->nreg - 1].length) ||
		    off % m->hash_block_size ||
		    ((off + len) % m->hash_block_size && off + len != m->size)) {
			bs_fail("%s: damaged archive: data region %llu+%llu of its sparse map is out of order or not on hash blocks",
				a->name, (unsigned long long)off,
				(unsigned long long)len);
			goto out;
		}
		if (bs_grow((void **)&a->reg, &alloc, a->nreg + 1, sizeof(*a->reg)))
			goto out;
		a->reg[a->nreg++] = (struct data_region){ off, len, 0 };
		sum += len;
	}
	/* The data follows the map, padded to whole tar blocks. */
	stream = tar_blocks(t->next - (t->len - t->pos));
	if (stream > e->size || e->size - stream != sum || sum != m->data_bytes) {
		bs_fail("%s: damaged archive: its sparse map (%llu bytes of data) does not match its entry or its manifest (%llu bytes)",
			a->name, (unsigned long long)sum,
			(unsigned long long)m->data_bytes);
		goto out;
	}
	stream += e->data;
	for (i = 0; i < a->nreg; i++) {
		a->reg[i].stream = stream;
		stream += a->reg[i].length;
	}
	ret = 0;
out:
	free(t);
	return ret;
}

/* Every data region lies inside the hash index's regions. */
static int check_covered(struct map_archive *a,
			 const struct blksnap_hash_index *ix)
{
	struct blksnap_ranges data, out;
	size_t i;
	int ret = 0;

	blksnap_ranges_init(&data);
	blksnap_ranges_init(&out);
	for (i = 0; i < a->nreg && !ret; i++)
		ret = blksnap_ranges_append(&data, a->reg[i].offset,
					    a->reg[i].length);
	if (!ret)
		ret = bs_ranges_subtract(&data, &ix->regions, &out);
	if (!ret && out.count)
		ret = bs_fail("%s: damaged archive: image data at offset %llu is not in its hash index",
			      a->name, (unsigned long long)out.v[0].offset);
	blksnap_ranges_free(&data);
	blksnap_ranges_free(&out);
	return ret;
}

/* Reads archive @a's manifest, sparse map and hash index. */
static int read_layout(struct map_archive *a, struct blksnap_hash_index *ix)
{
	uint64_t at = 0, blocks;
	struct tar_entry e;
	char *text;
	int ret;

	if (read_entry(a, &at, "manifest", &e))
		return -1;
	if (strcmp(e.name, BLKSNAP_ENTRY_MANIFEST))
		return bs_fail("%s: not a blksnap archive (its first entry is '%.60s', not %s)",
			       a->name, e.name, BLKSNAP_ENTRY_MANIFEST);
	if (read_data(a, &e, MANIFEST_MAX, &text))
		return -1;
	ret = blksnap_manifest_parse(text, (size_t)e.size, a->name, &a->m);
	free(text);
	if (ret || read_entry(a, &at, "image", &e))
		return -1;
	if (!strcmp(e.name, BLKSNAP_ENTRY_HASHES))
		return bs_fail("%s: this is a manifest file: it holds no image data to serve",
			       a->name);
	if (strcmp(e.name, a->m.image_name))
		return bs_fail("%s: damaged archive: expected the image entry '%s', found '%.60s'",
			       a->name, a->m.image_name, e.name);
	if (read_regions(a, &e) || read_entry(a, &at, "hash index", &e))
		return -1;
	if (strcmp(e.name, BLKSNAP_ENTRY_HASHES))
		return bs_fail("%s: damaged archive: expected the hash index, found '%.60s'",
			       a->name, e.name);
	blocks = blksnap_block_count(a->m.size, a->m.hash_block_size);
	if (read_data(a, &e, 64 + blocks * 24, &text))
		return -1;
	ret = blksnap_hash_index_decode(text, (size_t)e.size, a->name, ix);
	free(text);
	if (ret)
		return -1;
	if (ix->block_size != a->m.hash_block_size || ix->image_size != a->m.size)
		ret = bs_fail("%s: hash index does not match the manifest", a->name);
	if (!ret)
		ret = check_covered(a, ix);
	if (ret)
		blksnap_hash_index_free(ix);
	return ret;
}

static int open_cache(struct bs_chain_map *m)
{
	size_t i;

	m->slots = BS_MIN((size_t)256, CACHE_BYTES / m->st.block_size);
	if (m->slots < 4)
		m->slots = 4;
	m->slot = bs_calloc(m->slots, sizeof(*m->slot));
	if (!m->slot)
		return -1;
	for (i = 0; i < m->slots; i++) {
		pthread_mutex_init(&m->slot[i].lock, NULL);
		m->slot[i].block = UINT64_MAX;
	}
	return 0;
}

int bs_chain_map_open(const char *const *chain, size_t count,
		      const struct bs_seek_opts *o, struct bs_chain_map **mp)
{
	struct blksnap_hash_index *ix = NULL;
	struct bs_chain_map *m;
	size_t i, nix = 0;
	uint32_t fine = 0;
	uint64_t b;

	if (!count)
		return bs_fail("no archive given");
	if (count >= NO_SOURCE)
		return bs_fail("a chain of %zu archives is too long to serve", count);
	m = bs_calloc(1, sizeof(*m));
	if (!m)
		return -1;
	m->a = bs_calloc(count, sizeof(*m->a));
	if (!m->a)
		goto fail;
	m->count = count;
	ix = bs_calloc(count, sizeof(*ix));
	if (!ix)
		goto fail;
	for (i = 0; i < count; i++) {
		struct map_archive *a = &m->a[i];

		a->name = chain[i];
		if (bs_seekable_open(chain[i], o, &a->s) || read_layout(a, &ix[i]))
			goto fail;
		nix = i + 1;
		if (blksnap_manifest_check_chain(i ? &m->a[i - 1].m : NULL,
						 i ? chain[i - 1] : NULL,
						 &a->m, chain[i]))
			goto fail;
		/* Each divides the one before: the last is the smallest. */
		fine = a->m.hash_block_size;
	}
	if (bs_chain_start(&m->st, &m->a[0].m, fine, false))
		goto fail;
	m->src = bs_malloc((size_t)m->st.blocks * sizeof(*m->src));
	if (!m->src)
		goto fail;
	for (b = 0; b < m->st.blocks; b++)
		m->src[b] = NO_SOURCE;
	for (i = 0; i < count; i++)
		bs_chain_apply(&m->st, &ix[i], m->src, (uint16_t)i);
	for (i = 0; i < nix; i++)
		blksnap_hash_index_free(&ix[i]);
	free(ix);
	ix = NULL;
	m->zero_hash = blksnap_hash_zero(BS_MIN((uint64_t)m->st.block_size,
						m->st.size));
	m->zero_hash_last = blksnap_hash_zero((size_t)(m->st.size -
				(m->st.blocks - 1) * m->st.block_size));
	if (open_cache(m))
		goto fail;
	*mp = m;
	return 0;
fail:
	for (i = 0; ix && i < nix; i++)
		blksnap_hash_index_free(&ix[i]);
	free(ix);
	bs_chain_map_close(m);
	return -1;
}

uint64_t bs_chain_map_size(const struct bs_chain_map *m)
{
	return m->st.size;
}

uint32_t bs_chain_map_block_size(const struct bs_chain_map *m)
{
	return m->st.block_size;
}

const struct blksnap_manifest *
bs_chain_map_manifest(const struct bs_chain_map *m)
{
	return &m->a[m->count - 1].m;
}

const char *bs_chain_map_access(const struct bs_chain_map *m, size_t i,
				const char **compression)
{
	*compression = bs_seekable_compression(m->a[i].s);
	return bs_seekable_access(m->a[i].s);
}

/* The data region of @a holding image offset @off, or NULL (zeros). */
static const struct data_region *find_region(const struct map_archive *a,
					     uint64_t off)
{
	size_t lo = 0, hi = a->nreg;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct data_region *r = &a->reg[mid];

		if (off < r->offset)
			hi = mid;
		else if (off >= r->offset + r->length)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static uint64_t block_len(const struct bs_chain_map *m, uint64_t b)
{
	return BS_MIN((uint64_t)m->st.block_size, m->st.size - b * m->st.block_size);
}

/* Block @b, or the larger block of its archive at @off, @len bytes. */
static int mismatch_at(const struct bs_chain_map *m, uint64_t b,
		       const struct data_region *r, uint64_t off, uint64_t len)
{
	uint16_t s = m->src[b];

	if (s == NO_SOURCE)
		return bs_fail_errno(EIO, "%s: corrupted archive: the hole at offset %llu of the image is not zeros in its hash index",
				     m->a[0].name, (unsigned long long)off);
	if (!r)
		return bs_fail_errno(EIO, "%s: corrupted archive: the zero block at offset %llu of the image does not have the hash of zeros",
				     m->a[s].name, (unsigned long long)off);
	return bs_fail_errno(EIO, "%s: corrupted archive: image data at offset %llu (hash block of %llu bytes, at byte %llu of its tar stream) does not match its hash",
			     m->a[s].name, (unsigned long long)off,
			     (unsigned long long)len,
			     (unsigned long long)(r->stream + off - r->offset));
}

static int mismatch(const struct bs_chain_map *m, uint64_t b,
		    const struct data_region *r)
{
	return mismatch_at(m, b, r, b * m->st.block_size, block_len(m, b));
}

/*
 * read_blocks() for block @b whose archive hashed it in a larger block
 * (an incremental's hash block divides its parent's): that block read
 * whole and checked, then the blocks from @b inside it that come from
 * that archive (at most @max bytes, at least block @b) copied out.
 */
static int64_t read_coarse(struct bs_chain_map *m, uint64_t b, void *buf,
			   uint64_t max)
{
	uint64_t off = b * m->st.block_size, n = block_len(m, b);
	uint16_t s = m->src[b];
	uint64_t big = m->a[s].m.hash_block_size;
	uint64_t start = off & ~(big - 1);
	uint64_t len = BS_MIN(big, m->st.size - start);
	const struct data_region *r = find_region(&m->a[s], start);
	char *whole;

	while (off + n < start + len && n + m->st.block_size <= max &&
	       m->src[b + n / m->st.block_size] == s)
		n += block_len(m, b + n / m->st.block_size);
	if (!r) {
		if (m->st.hash[b] != blksnap_hash_zero((size_t)len))
			return mismatch_at(m, b, r, start, len);
		memset(buf, 0, (size_t)n);
		return (int64_t)n;
	}
	whole = bs_malloc((size_t)len);
	if (!whole)
		return -1;
	if (bs_seekable_pread(m->a[s].s, whole, (size_t)len,
			      r->stream + start - r->offset)) {
		free(whole);
		return -1;
	}
	if (blksnap_hash(whole, (size_t)len) != m->st.hash[b]) {
		free(whole);
		return mismatch_at(m, b, r, start, len);
	}
	memcpy(buf, whole + (off - start), (size_t)n);
	free(whole);
	return (int64_t)n;
}

/*
 * Reads blocks @b.. (at most @max bytes, whole blocks) into @buf, checked:
 * one read for a run of blocks of one data region of one archive.  The
 * bytes read, or -1.
 */
static int64_t read_blocks(struct bs_chain_map *m, uint64_t b, void *buf,
			   uint64_t max)
{
	uint64_t off = b * m->st.block_size, len = block_len(m, b), n, k;
	uint16_t s = m->src[b];
	const struct data_region *r;

	if (s != NO_SOURCE && m->a[s].m.hash_block_size > m->st.block_size)
		return read_coarse(m, b, buf, max);
	r = s == NO_SOURCE ? NULL : find_region(&m->a[s], off);
	if (!r) {
		uint64_t want = b == m->st.blocks - 1 ? m->zero_hash_last :
			       m->zero_hash;

		if (m->st.hash[b] != want)
			return mismatch(m, b, r);
		memset(buf, 0, (size_t)len);
		return (int64_t)len;
	}
	/* Whole blocks after it, from the same region of the same archive. */
	n = len;
	while (n + m->st.block_size <= max && off + n < r->offset + r->length &&
	       m->src[b + n / m->st.block_size] == s)
		n += block_len(m, b + n / m->st.block_size);
	if (n > max)
		n = len;
	if (bs_seekable_pread(m->a[s].s, buf, (size_t)n,
			      r->stream + off - r->offset))
		return -1;
	for (k = 0; k < n; k += m->st.block_size) {
		uint64_t blk = b + k / m->st.block_size;

		if (blksnap_hash((char *)buf + k, (size_t)block_len(m, blk)) !=
		    m->st.hash[blk])
			return mismatch(m, blk, r);
	}
	return (int64_t)n;
}

/* Part of block @b, through the cache of verified blocks. */
static int read_part(struct bs_chain_map *m, uint64_t b, void *buf,
		     size_t len, size_t at)
{
	struct cache_slot *c = &m->slot[b % m->slots];
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	if (c->block != b) {
		c->block = UINT64_MAX;
		if (!c->data)
			c->data = bs_malloc(m->st.block_size);
		if (!c->data ||
		    read_blocks(m, b, c->data, block_len(m, b)) < 0)
			ret = -1;
		else
			c->block = b;
	}
	if (!ret)
		memcpy(buf, c->data + at, len);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int bs_chain_map_read(struct bs_chain_map *m, void *buf, size_t len,
		      uint64_t off)
{
	char *p = buf;

	if (off > m->st.size || len > m->st.size - off)
		return bs_fail_errno(EINVAL, "read of %zu bytes at %llu past the end of the image",
				     len, (unsigned long long)off);
	while (len) {
		uint64_t b = off / m->st.block_size;
		size_t at = (size_t)(off - b * m->st.block_size);
		uint64_t blen = block_len(m, b);

		if (!at && len >= blen) {
			int64_t n = read_blocks(m, b, p,
						BS_MIN((uint64_t)len, (uint64_t)RUN_MAX));

			if (n < 0)
				return -1;
			p += n;
			off += (uint64_t)n;
			len -= (size_t)n;
		} else {
			size_t n = (size_t)BS_MIN((uint64_t)len, blen - at);

			if (read_part(m, b, p, n, at))
				return -1;
			p += n;
			off += n;
			len -= n;
		}
	}
	return 0;
}

void bs_chain_map_close(struct bs_chain_map *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; m->a && i < m->count; i++) {
		bs_seekable_close(m->a[i].s);
		free(m->a[i].reg);
	}
	for (i = 0; m->slot && i < m->slots; i++) {
		pthread_mutex_destroy(&m->slot[i].lock);
		free(m->slot[i].data);
	}
	free(m->slot);
	free(m->a);
	free(m->src);
	bs_chain_free(&m->st);
	free(m);
}
