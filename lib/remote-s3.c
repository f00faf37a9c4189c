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

static int s3_put_part(struct blksnap_remote *r, const unsigned char *buf, size_t len)
{
	struct req q = { .method = "PUT", .body = (const char *)buf, .body_len = len };
	char what[32], *id = remote_url_encode(r->upload_id, false), *query;
	int ret = -1;
	size_t num = r->parts + 1;

	snprintf(what, sizeof(what), "part %zu", num);
	q.what = what;
	query = id ? remote_asprintf("partNumber=%zu&uploadId=%s", num, id) : NULL;
	q.url = query ? s3_url(r, query) : NULL;
	if (q.url && !remote_request(r, &q)) {
		if (!q.etag) {
			remote_set_error(r, "%s: the server gave no ETag for %s", r->url, what);
		} else if (!bs_grow((void **)&r->etags, &r->parts_alloc, num,
				    sizeof(char *))) {
			r->etags[r->parts++] = q.etag;
			q.etag = NULL;
			ret = 0;
		}
	}
	free(id);
	free(query);
	req_free(&q);
	return ret;
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
	if (!q.url || remote_request(r, &q))
		goto out;
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

static int s3_upload(struct blksnap_remote *r)
{
	size_t size = part_size(1);
	struct fill next;
	pthread_t filler;
	int cur = 0, err;
	bool more;
	ssize_t n;

	if (part_buffer(r, 0, size))
		return -1;
	n = read_full(r, r->part[0], size);
	if (n < 0 || atomic_load(&r->cancel))
		return -1;
	if ((size_t)n < size)
		return s3_put_object(r, r->part[0], (size_t)n);
	if (s3_create(r))
		return -1;
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
		err = s3_put_part(r, r->part[cur], (size_t)n);
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
	if (s3_complete(r))
		goto fail;
	return 0;
fail:
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
	if (r->target && !set_credentials(r, key, secret))
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
	free(r->region);
	if (r->userpwd) {
		memset(r->userpwd, 0, strlen(r->userpwd));
		free(r->userpwd);
	}
}

const struct remote_backend remote_s3_backend = {
	.scheme = "s3",
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
