// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * s3://BUCKET/KEY: requests signed by libcurl (AWS Signature Version 4),
 * and a stream uploaded in parts, since S3 refuses the chunked PUT an
 * upload of unknown length is.
 *
 * Facts of libcurl 7.88.1 this relies on: CURLOPT_AWS_SIGV4 signs the
 * query string exactly as written (so it is built sorted, key=value) and
 * takes the payload hash from an x-amz-content-sha256 header, which is
 * therefore always sent (UNSIGNED-PAYLOAD).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "md5.h"
#include "remote-backend.h"

#define PART_MIN	(8ull << 20)	/* first part size of a multipart upload */
#define PART_MAX	(5ull << 30)	/* S3's largest part */
#define PARTS_PER_STEP	1000		/* parts before the size doubles */
#define PARTS_MAX	10000

/* Text between <tag> and </tag> in @xml, malloc'ed, or NULL. */
char *s3_xml_value(const char *xml, const char *tag)
{
	char open[64], close[64];
	const char *a, *b;
	char *v;

	if (!xml)
		return NULL;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = strstr(xml, open);
	if (!a)
		return NULL;
	a += strlen(open);
	b = strstr(a, close);
	if (!b)
		return NULL;
	v = malloc((size_t)(b - a) + 1);
	if (v) {
		memcpy(v, a, (size_t)(b - a));
		v[b - a] = '\0';
	}
	return v;
}

/* Undoes XML's five escapes in place. */
static void xml_unescape(char *s)
{
	static const struct {
		const char *esc;
		char c;
	} map[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		    { "&quot;", '"' }, { "&apos;", '\'' } };
	char *w = s;
	size_t i;

	while (*s) {
		for (i = 0; i < BS_ARRAY_SIZE(map); i++)
			if (!strncmp(s, map[i].esc, strlen(map[i].esc)))
				break;
		if (i < BS_ARRAY_SIZE(map)) {
			*w++ = map[i].c;
			s += strlen(map[i].esc);
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

/* The next <tag>...</tag> block of *pos, malloc'ed, advancing *pos. */
static char *xml_next_block(const char **pos, const char *tag)
{
	char open[64], close[64];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = *pos ? strstr(*pos, open) : NULL;
	b = a ? strstr(a, close) : NULL;
	if (!b)
		return NULL;
	*pos = b + strlen(close);
	return strndup(a, (size_t)(*pos - a));
}

static bool xml_true(const char *xml, const char *tag)
{
	char *v = s3_xml_value(xml, tag);
	bool t = v && !strcmp(v, "true");

	free(v);
	return t;
}

char *s3_uploads_find(const char *xml, const char *key, bool *truncated)
{
	const char *pos = xml;
	char *block, *id = NULL;

	*truncated = xml_true(xml, "IsTruncated");
	while ((block = xml_next_block(&pos, "Upload"))) {
		char *k = s3_xml_value(block, "Key");
		char *u = s3_xml_value(block, "UploadId");

		if (k)
			xml_unescape(k);
		/* Listed oldest first: the last one is the latest. */
		if (k && u && *u && !strcmp(k, key)) {
			free(id);
			id = u;
			u = NULL;
		}
		free(k);
		free(u);
		free(block);
	}
	return id;
}

int s3_parts_parse(const char *xml, struct s3_parts *ps, bool *truncated,
		   unsigned long *next_marker)
{
	const char *pos = xml;
	char *block, *m;

	*truncated = xml_true(xml, "IsTruncated");
	m = s3_xml_value(xml, "NextPartNumberMarker");
	*next_marker = m ? strtoul(m, NULL, 10) : 0;
	free(m);
	while ((block = xml_next_block(&pos, "Part"))) {
		char *num = s3_xml_value(block, "PartNumber");
		char *size = s3_xml_value(block, "Size");
		char *etag = s3_xml_value(block, "ETag");
		struct s3_part p = { 0 };
		char *end;
		int bad = !num || !size || !etag;

		if (!bad) {
			xml_unescape(etag);
			p.number = strtoul(num, &end, 10);
			bad |= *end || !p.number || p.number > PARTS_MAX;
			p.size = strtoull(size, &end, 10);
			bad |= *end != '\0';
			p.etag = etag;
			etag = NULL;
		}
		free(num);
		free(size);
		free(etag);
		free(block);
		if (bad) {
			free(p.etag);
			return -1;
		}
		if (bs_grow((void **)&ps->v, &ps->alloc, ps->count + 1,
			    sizeof(*ps->v))) {
			free(p.etag);
			return -1;
		}
		ps->v[ps->count++] = p;
	}
	return 0;
}

bool s3_complete_succeeded(const char *xml, char **code)
{
	/* S3 may answer 200 and put the error in the body. */
	*code = s3_xml_value(xml, "Code");
	return !*code && xml && strstr(xml, "CompleteMultipartUploadResult");
}

/* Fills @buf from the caller's stream; returns the count (short at the end). */
static ssize_t read_full(struct blksnap_remote *r, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(r->fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static char *s3_url(struct blksnap_remote *r, const char *query)
{
	return remote_asprintf("%s%s%s", r->target, query ? "?" : "", query ? query : "");
}

static int s3_put_object(struct blksnap_remote *r, const unsigned char *buf, size_t len)
{
	struct req q = { .method = "PUT", .body = (const char *)buf, .body_len = len };
	int ret;

	q.url = s3_url(r, NULL);
	ret = q.url ? remote_request(r, &q) : -1;
	req_free(&q);
	return ret;
}

static int s3_create(struct blksnap_remote *r)
{
	struct req q = { .method = "POST", .what = "CreateMultipartUpload" };
	int ret = -1;

	q.url = s3_url(r, "uploads=");
	if (q.url && !remote_request(r, &q)) {
		r->upload_id = s3_xml_value(q.resp.p, "UploadId");
		if (r->upload_id)
			ret = 0;
		else
			remote_set_error(r, "%s: the server gave no UploadId", r->url);
	}
	req_free(&q);
	return ret;
}

/* Uploads part @num (again, when it was): its ETag goes to r->etags. */
static int s3_put_part(struct blksnap_remote *r, size_t num,
		       const unsigned char *buf, size_t len)
{
	struct req q = { .method = "PUT", .body = (const char *)buf, .body_len = len };
	char what[32], *id = remote_url_encode(r->upload_id, false), *query;
	int ret = -1;
	size_t i;

	snprintf(what, sizeof(what), "part %zu", num);
	q.what = what;
	query = id ? remote_asprintf("partNumber=%zu&uploadId=%s", num, id) : NULL;
	q.url = query ? s3_url(r, query) : NULL;
	if (q.url && !remote_request(r, &q)) {
		if (!q.etag) {
			remote_set_error(r, "%s: the server gave no ETag for %s", r->url, what);
		} else if (!bs_grow((void **)&r->etags, &r->parts_alloc, num,
				    sizeof(char *))) {
			for (i = r->parts; i < num; i++)
				r->etags[i] = NULL;
			free(r->etags[num - 1]);
			r->etags[num - 1] = q.etag;
			q.etag = NULL;
			r->parts = BS_MAX(r->parts, num);
			ret = 0;
		}
	}
	free(id);
	free(query);
	req_free(&q);
	return ret;
}

/*
 * The ETag S3 gives an object made of parts: the MD5 of the parts' MD5
 * digests one after the other, a dash and the count.  Empty when a
 * part's ETag is not an MD5 (a server that does not follow that rule).
 */
static void multipart_etag(const struct blksnap_remote *r, char out[48])
{
	unsigned char digest[16];
	struct bs_md5 md5;
	char hex[33];
	size_t i, j;

	out[0] = '\0';
	bs_md5_init(&md5);
	for (i = 0; i < r->parts; i++) {
		const char *e = r->etags[i];

		if (e[0] == '"')
			e++;
		if (strlen(e) < 32 || (e[32] && strcmp(e + 32, "\"")))
			return;
		for (j = 0; j < 16; j++) {
			int hi = bs_hex_digit(e[2 * j]), lo = bs_hex_digit(e[2 * j + 1]);

			if (hi < 0 || lo < 0)
				return;
			digest[j] = (unsigned char)(hi << 4 | lo);
		}
		bs_md5_update(&md5, digest, sizeof(digest));
	}
	bs_md5_hex(&md5, hex);
	snprintf(out, 48, "%s-%zu", hex, r->parts);
}

/*
 * A CompleteMultipartUpload retried after a try that timed out finds the
 * upload gone (404 NoSuchUpload) when that try did complete it.  Then
 * the object is there with the ETag of exactly these parts: a HEAD
 * tells, and only that counts as done (the earlier error is dropped).
 */
static bool s3_completed_earlier(struct blksnap_remote *r, const struct req *failed)
{
	struct req q = { .method = "HEAD", .what = "the completed object" };
	char want[48], *code;
	const char *e;
	bool done = false;

	if (failed->rc != CURLE_OK || failed->status != 404)
		return false;
	code = s3_xml_value(failed->resp.p, "Code");
	done = code && !strcmp(code, "NoSuchUpload");
	free(code);
	multipart_etag(r, want);
	if (!done || !want[0])
		return false;
	done = false;
	q.url = s3_url(r, NULL);
	if (q.url && !remote_request(r, &q) && q.etag) {
		e = q.etag[0] == '"' ? q.etag + 1 : q.etag;
		done = !strncasecmp(e, want, strlen(want)) &&
		       (!e[strlen(want)] || !strcmp(e + strlen(want), "\""));
	}
	req_free(&q);
	if (done) {
		remote_say(r, "CompleteMultipartUpload: an earlier try completed the upload (the object's ETag is its parts' %s)",
			   want);
		pthread_mutex_lock(&r->lock);
		free(r->error);
		r->error = NULL;
		pthread_mutex_unlock(&r->lock);
	}
	return done;
}

static int s3_complete(struct blksnap_remote *r)
{
	struct req q = { .method = "POST", .what = "CompleteMultipartUpload" };
	struct sbuf body = { 0 };
	char *id = remote_url_encode(r->upload_id, false), *query = NULL, *err;
	int ret = -1;
	size_t i;

	if (sbuf_printf(&body, "<CompleteMultipartUpload>"))
		goto out;
	for (i = 0; i < r->parts; i++)
		if (sbuf_printf(&body, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
				i + 1, r->etags[i]))
			goto out;
	if (sbuf_printf(&body, "</CompleteMultipartUpload>"))
		goto out;
	q.body = body.p;
	q.body_len = body.len;
	q.headers = rcurl.slist_append(NULL, "Content-Type: application/xml");
	query = id ? remote_asprintf("uploadId=%s", id) : NULL;
	q.url = query ? s3_url(r, query) : NULL;
	if (!q.url)
		goto out;
	if (remote_request(r, &q)) {
		if (s3_completed_earlier(r, &q))
			ret = 0;
		goto out;
	}
	if (!s3_complete_succeeded(q.resp.p, &err)) {
		remote_set_error(r, "%s: CompleteMultipartUpload failed (%s)", r->url,
			  err ? err : "no result");
		free(err);
		goto out;
	}
	ret = 0;
out:
	free(body.p);
	free(id);
	free(query);
	req_free(&q);
	return ret;
}

static void s3_abort(struct blksnap_remote *r)
{
	struct req q = { .method = "DELETE", .what = "AbortMultipartUpload" };
	char *id = remote_url_encode(r->upload_id, false), *query;
	bool cancelled = atomic_exchange(&r->cancel, false);

	query = id ? remote_asprintf("uploadId=%s", id) : NULL;
	q.url = query ? s3_url(r, query) : NULL;
	if (q.url && remote_request(r, &q))
		remote_say(r, "could not abort the multipart upload of %s", r->url);
	atomic_store(&r->cancel, cancelled);
	free(id);
	free(query);
	req_free(&q);
}

static size_t part_size(size_t number)
{
	uint64_t size = PART_MIN << BS_MIN((number - 1) / PARTS_PER_STEP, 20u);

	return (size_t)BS_MIN(size, PART_MAX);
}

static int part_buffer(struct blksnap_remote *r, int i, size_t size)
{
	if (r->part_alloc[i] >= size)
		return 0;
	free(r->part[i]);
	r->part[i] = bs_malloc(size);
	r->part_alloc[i] = r->part[i] ? size : 0;
	return r->part[i] ? 0 : remote_set_error(r, "%s: out of memory", r->url);
}

/* Reads the next part from the caller's stream while one is uploaded. */
struct fill {
	struct blksnap_remote *r;
	unsigned char *buf;
	size_t size;
	ssize_t got;
};

static void *fill_thread(void *arg)
{
	struct fill *f = arg;

	f->got = read_full(f->r, f->buf, f->size);
	return NULL;
}

void s3_parts_free(struct s3_parts *ps)
{
	size_t i;

	for (i = 0; i < ps->count; i++)
		free(ps->v[i].etag);
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

/* GET of a listing (@query sorted): its answer in *xml, malloc'ed. */
static int s3_list(struct blksnap_remote *r, const char *base,
		   const char *query, const char *what, char **xml)
{
	struct req q = { .method = "GET", .what = what, .listing = true };
	int ret = -1;

	q.url = remote_asprintf("%s?%s", base, query);
	if (q.url && !remote_request(r, &q)) {
		*xml = q.resp.p ? q.resp.p : bs_strdup("");
		q.resp.p = NULL;
		ret = *xml ? 0 : -1;
	}
	req_free(&q);
	return ret;
}

/*
 * The latest pending upload of the object, in r->upload_id (NULL when
 * there is none), and the parts it holds, in @ps.
 */
static int s3_find_upload(struct blksnap_remote *r, struct s3_parts *ps)
{
	char *key = remote_url_encode(r->key, false), *id = NULL, *query, *xml;
	unsigned long marker = 0;
	bool more;
	int ret = -1;

	query = key ? remote_asprintf("max-uploads=100&prefix=%s&uploads=", key) : NULL;
	if (!query || s3_list(r, r->bucket_url, query, "ListMultipartUploads", &xml))
		goto out;
	r->upload_id = s3_uploads_find(xml, r->key, &more);
	free(xml);
	if (more && !r->upload_id) {
		remote_set_error(r, "%s: too many pending uploads under this key to find this one's",
				 r->url);
		goto out;
	}
	if (!r->upload_id) {
		ret = 0;
		goto out;
	}
	id = remote_url_encode(r->upload_id, false);
	do {
		free(query);
		query = id ? remote_asprintf("max-parts=200&part-number-marker=%lu&uploadId=%s",
					     marker, id) : NULL;
		if (!query || s3_list(r, r->target, query, "ListParts", &xml))
			goto out;
		if (s3_parts_parse(xml, ps, &more, &marker)) {
			free(xml);
			remote_set_error(r, "%s: the server's list of the parts of upload %s is malformed",
					 r->url, r->upload_id);
			goto out;
		}
		free(xml);
	} while (more && marker);
	remote_say(r, "taking up the multipart upload %s of %s: %zu parts uploaded",
		   r->upload_id, r->url, ps->count);
	ret = 0;
out:
	free(key);
	free(id);
	free(query);
	return ret;
}

/* The parts 1..N of @ps whose size is the one this upload gives them. */
static size_t parts_kept(const struct s3_parts *ps)
{
	size_t k = 0;

	while (k < ps->count && ps->v[k].number == k + 1 &&
	       ps->v[k].size == part_size(k + 1))
		k++;
	return k;
}

/* Whether S3's ETag of a part is the MD5 sum @hex. */
static bool etag_is(const char *etag, const char *hex)
{
	size_t n = strlen(etag);

	if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
		etag++;
		n -= 2;
	}
	return n == 32 && !strncasecmp(etag, hex, 32);
}

/*
 * Takes up an upload whose parts 1..@k are there: part 1, read into
 * r->part[0] (@n bytes), is sent again, after parts 2..@k, read from
 * the stream, are found to be the ones uploaded.
 */
static int s3_take_up(struct blksnap_remote *r, const struct s3_parts *ps,
		      size_t k, size_t n)
{
	struct bs_md5 md5;
	char hex[33];
	size_t i;
	ssize_t got;

	if (n < part_size(1))
		return remote_set_error(r, "%s: the archive made again is shorter (%zu bytes) than the part 1 already uploaded: the source changed since the interrupted send, or it is another source",
					r->url, n);
	for (i = 2; i <= k; i++) {
		size_t size = part_size(i);

		if (part_buffer(r, 1, size))
			return -1;
		got = read_full(r, r->part[1], size);
		if (got < 0 || atomic_load(&r->cancel))
			return -1;
		if ((size_t)got < size)
			return remote_set_error(r, "%s: the archive made again ends in part %zu, which is already uploaded whole: the source changed since the interrupted send, or it is another source",
						r->url, i);
		bs_md5_init(&md5);
		bs_md5_update(&md5, r->part[1], size);
		bs_md5_hex(&md5, hex);
		if (!etag_is(ps->v[i - 1].etag, hex))
			return remote_set_error(r, "%s: part %zu of the pending upload %s differs from the archive made again (ETag %s, MD5 %s): the source changed since the interrupted send, or it is another source, or another zstd level or libzstd, or the server's ETags are not MD5 sums",
						r->url, i, r->upload_id,
						ps->v[i - 1].etag, hex);
		if (bs_grow((void **)&r->etags, &r->parts_alloc, i, sizeof(char *)))
			return -1;
		r->etags[i - 1] = bs_strdup(ps->v[i - 1].etag);
		if (i == 2)
			r->etags[0] = NULL;
		r->parts = i;
		if (!r->etags[i - 1])
			return -1;
	}
	remote_say(r, "%s: parts 2 to %zu of the pending upload are the archive's: sending part 1 again, then part %zu on",
		   r->url, k, k + 1);
	return s3_put_part(r, 1, r->part[0], n);
}

static int s3_upload(struct blksnap_remote *r)
{
	size_t size = part_size(1), k = 0;
	struct s3_parts kept = { 0 };
	struct fill next;
	pthread_t filler;
	int cur = 0, err;
	bool more;
	ssize_t n;

	if (r->resume && s3_find_upload(r, &kept))
		goto fail;
	k = parts_kept(&kept);
	if (part_buffer(r, 0, size))
		goto fail;
	n = read_full(r, r->part[0], size);
	if (n < 0 || atomic_load(&r->cancel))
		goto fail;
	if ((size_t)n < size && !r->upload_id) {
		s3_parts_free(&kept);
		return s3_put_object(r, r->part[0], (size_t)n);
	}
	if (!r->upload_id && s3_create(r))
		goto fail;
	if (k) {
		if (s3_take_up(r, &kept, k, (size_t)n))
			goto fail;
		size = part_size(k + 1);
		if (part_buffer(r, 0, size))
			goto fail;
		n = read_full(r, r->part[0], size);
		if (n < 0 || atomic_load(&r->cancel))
			goto fail;
		if (n == 0)
			goto complete;
	}
	for (;;) {
		/* A full part may be followed by more: read it meanwhile. */
		more = (size_t)n == size;
		if (more && r->parts + 1 == PARTS_MAX) {
			remote_set_error(r, "%s: the stream is larger than 10,000 parts", r->url);
			goto fail;
		}
		if (more) {
			next = (struct fill){ r, NULL, part_size(r->parts + 2), -1 };
			if (part_buffer(r, !cur, next.size))
				goto fail;
			next.buf = r->part[!cur];
			err = pthread_create(&filler, NULL, fill_thread, &next);
			if (err) {
				remote_set_error(r, "%s: cannot start a thread: %s", r->url,
					  strerror(err));
				goto fail;
			}
		}
		err = s3_put_part(r, r->parts + 1, r->part[cur], (size_t)n);
		if (more)
			pthread_join(filler, NULL);
		if (err)
			goto fail;
		if (!more)
			break;
		if (next.got < 0 || atomic_load(&r->cancel))
			goto fail;
		if (next.got == 0)
			break;
		cur = !cur;
		n = next.got;
		size = next.size;
	}
complete:
	if (s3_complete(r))
		goto fail;
	s3_parts_free(&kept);
	return 0;
fail:
	s3_parts_free(&kept);
	/* A resumable upload stays for the next run to take up. */
	if (!r->resume && r->upload_id)
		s3_abort(r);
	return -1;
}

/* ----------------------------------------------------------------------- */

static const char *env(const char *a, const char *b)
{
	const char *v = getenv(a);

	if ((!v || !*v) && b)
		v = getenv(b);
	return v && *v ? v : NULL;
}

int s3_url_parse(const char *url, const char *name, char **bucket, char **key)
{
	const char *b = strstr(url, "://"), *slash;

	*bucket = *key = NULL;
	b = b ? b + 3 : url;
	slash = strchr(b, '/');
	if (!slash || slash == b || !slash[1])
		return bs_fail("%s: an S3 URL is s3://BUCKET/KEY", name);
	*bucket = strndup(b, (size_t)(slash - b));
	*key = remote_url_decode(slash + 1, strlen(slash + 1));
	if (*bucket && *key)
		return 0;
	free(*bucket);
	free(*key);
	*bucket = *key = NULL;
	return -1;
}

/* The object's URL, at @endpoint, in path or virtual-host style. */
static char *object_url(struct blksnap_remote *r, const char *endpoint,
			const char *bucket, const char *key)
{
	const char *sep = endpoint[strlen(endpoint) - 1] == '/' ? "" : "/";
	const char *host = strstr(endpoint, "://") + 3;
	char *ek = remote_url_encode(key, true), *u;

	if (!ek)
		return NULL;
	if (r->o.s3_path_style)
		u = remote_asprintf("%s%s%s/%s", endpoint, sep, bucket, ek);
	else
		u = remote_asprintf("%.*s%s.%s%s%s", (int)(host - endpoint),
				    endpoint, bucket, host, sep, ek);
	free(ek);
	return u;
}

/* The bucket's URL, for the listing of pending uploads. */
static char *bucket_url(struct blksnap_remote *r, const char *endpoint,
			const char *bucket)
{
	const char *sep = endpoint[strlen(endpoint) - 1] == '/' ? "" : "/";
	const char *host = strstr(endpoint, "://") + 3;

	if (r->o.s3_path_style)
		return remote_asprintf("%s%s%s/", endpoint, sep, bucket);
	return remote_asprintf("%.*s%s.%s%s", (int)(host - endpoint), endpoint,
			       bucket, host, sep);
}

/* The credentials, in libcurl's user name and in a header for a token. */
static int set_credentials(struct blksnap_remote *r, const char *key,
			   const char *secret)
{
	const char *token = env("AWS_SESSION_TOKEN", NULL);
	char *hdr;

	r->userpwd = remote_asprintf("%s:%s", key, secret);
	if (!r->userpwd)
		return -1;
	r->base_headers = rcurl.slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	if (token) {
		hdr = remote_asprintf("x-amz-security-token: %s", token);
		if (!hdr)
			return -1;
		r->base_headers = rcurl.slist_append(r->base_headers, hdr);
		free(hdr);
	}
	return 0;
}

static int s3_setup(struct blksnap_remote *r, const char *url)
{
	const char *endpoint = r->o.s3_endpoint ? r->o.s3_endpoint :
		env("BLKSNAP_S3_ENDPOINT", "AWS_ENDPOINT_URL");
	const char *region = r->o.s3_region ? r->o.s3_region :
		env("AWS_REGION", "AWS_DEFAULT_REGION");
	const char *key = env("AWS_ACCESS_KEY_ID", NULL);
	const char *secret = env("AWS_SECRET_ACCESS_KEY", NULL);
	char *b = NULL, *k = NULL, *def = NULL;
	int ret = -1;

	if (remote_curl_start(r) || s3_url_parse(url, r->url, &b, &k))
		return -1;
	if (!key || !secret) {
		bs_fail("%s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", r->url);
		goto out;
	}
	r->region = bs_strdup(region ? region : "us-east-1");
	if (!r->region)
		goto out;
	if (!endpoint) {
		def = remote_asprintf("https://s3.%s.amazonaws.com", r->region);
		endpoint = def;
		if (!def)
			goto out;
	}
	if (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8)) {
		bs_fail("S3 endpoint '%s': expected http://HOST[:PORT] or https://HOST[:PORT]",
			endpoint);
		goto out;
	}
	r->target = object_url(r, endpoint, b, k);
	r->bucket_url = bucket_url(r, endpoint, b);
	r->key = bs_strdup(k);
	if (r->target && r->bucket_url && r->key &&
	    !set_credentials(r, key, secret))
		ret = 0;
out:
	free(b);
	free(k);
	free(def);
	return ret;
}

static void s3_options(struct blksnap_remote *r, CURL *c, struct req *q)
{
	char sigv4[128];

	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", r->region);
	rcurl.easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
	rcurl.easy_setopt(c, CURLOPT_USERPWD, r->userpwd);
	remote_http_options(r, c, q);
}

static void s3_release(struct blksnap_remote *r)
{
	size_t i;

	remote_curl_release(r);
	for (i = 0; i < r->parts; i++)
		free(r->etags[i]);
	free(r->etags);
	free(r->part[0]);
	free(r->part[1]);
	free(r->upload_id);
	free(r->bucket_url);
	free(r->key);
	free(r->region);
	if (r->userpwd) {
		memset(r->userpwd, 0, strlen(r->userpwd));
		free(r->userpwd);
	}
}

const struct remote_backend remote_s3_backend = {
	.scheme = "s3",
	.resumable = true,
	.setup = s3_setup,
	.create = remote_start_upload,
	.open = remote_start_download,
	.commit = remote_thread_commit,
	.abort = remote_thread_abort,
	.release = s3_release,
	.upload = s3_upload,
	.options = s3_options,
	.succeeded = remote_http_succeeded,
	.untrusted = remote_tls_untrusted,
};
