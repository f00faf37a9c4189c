// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The requests of the network schemes, through libcurl, tried again
 * after a transient failure; and the http(s) scheme, which is nothing
 * more than them.
 *
 * Facts of libcurl 7.88.1 this relies on: an upload of unknown length
 * is a chunked PUT (which S3 refuses: see lib/remote-s3.c).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dlfcn.h>

#include "dlopen-note.h"
#include "internal.h"
#include "remote-backend.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/*
 * libcurl is loaded when the first URL that needs it is opened, not
 * when a program linked with libblksnap starts: it brings some thirty
 * libraries (TLS, SSH, Kerberos, LDAP, ...) whose loading and
 * relocation cost every run of every tool about 10 ms, more than a 1%
 * incremental of a 2 GiB image takes otherwise.
 */
#define LIBCURL_SONAME "libcurl.so.4"
/* Only URLs need it: local archives do without. */
BS_DLOPEN_NOTE(libcurl_note,
	"[{\"feature\":\"remote\",\"description\":\"Archives at http(s)://, s3:// and sftp:// URLs\","
	"\"priority\":\"recommended\",\"soname\":[\"" LIBCURL_SONAME "\"]}]");
struct remote_curl rcurl;
static char curl_load_error[512];

static int curl_load(void)
{
	static const struct bs_dlsym syms[] = {
#define SYM(f) { "curl_" #f, offsetof(__typeof__(rcurl), f) }
		SYM(global_init), SYM(easy_init), SYM(easy_setopt),
		SYM(easy_perform), SYM(easy_getinfo), SYM(easy_reset),
		SYM(easy_cleanup), SYM(easy_strerror), SYM(slist_append),
		SYM(slist_free_all),
#undef SYM
	};

	return bs_dlopen_table(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL, syms,
			       BS_ARRAY_SIZE(syms), &rcurl, sizeof(rcurl),
			       "URLs need libcurl, which did not load (Debian: apt-get install libcurl4)",
			       curl_load_error, sizeof(curl_load_error));
}

static void curl_init(void)
{
	if (curl_load()) {
		curl_init_rc = CURLE_FAILED_INIT;
		return;
	}
	curl_init_rc = rcurl.global_init(CURL_GLOBAL_DEFAULT);
	if (curl_init_rc != CURLE_OK)
		snprintf(curl_load_error, sizeof(curl_load_error), "libcurl: %s",
			 rcurl.easy_strerror(curl_init_rc));
}

/*
 * Every call goes through the table: a handle or a list exists only once
 * libcurl was loaded, and the freeing calls take NULL before.
 */
void remote_slist_free(struct curl_slist *l)
{
	if (l)
		rcurl.slist_free_all(l);
}
int remote_curl_start(struct blksnap_remote *r)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return bs_fail("%s", curl_load_error);
	r->curl = rcurl.easy_init();
	if (!r->curl)
		return bs_fail("libcurl: cannot start a transfer");
	return 0;
}

void remote_curl_release(struct blksnap_remote *r)
{
	if (r->curl)
		rcurl.easy_cleanup(r->curl);
	remote_slist_free(r->base_headers);
	free(r->target);
}

/* ----------------------------------------------------------------------- */

void req_free(struct req *q)
{
	free(q->url);
	remote_slist_free(q->headers);
	remote_slist_free(q->quote);
	remote_slist_free(q->postquote);
	free(q->etag);
	free(q->resp.p);
	memset(q, 0, sizeof(*q));
}

static size_t read_buffer(char *p, size_t size, size_t n, void *ctx)
{
	struct req *q = ctx;
	size_t len = BS_MIN(size * n, q->body_len - q->body_pos);

	memcpy(p, q->body + q->body_pos, len);
	q->body_pos += len;
	return len;
}

static int seek_buffer(void *ctx, curl_off_t off, int origin)
{
	struct req *q = ctx;

	if (origin != SEEK_SET || off < 0 || (size_t)off > q->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	q->body_pos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

struct stream_ctx {
	struct blksnap_remote *r;
	struct req *q;
};

static size_t read_stream(char *p, size_t size, size_t n, void *ctx)
{
	struct stream_ctx *s = ctx;
	ssize_t got;

	do {
		got = read(s->r->fd, p, size * n);
	} while (got < 0 && errno == EINTR);
	if (got > 0) {
		s->q->consumed = true;
		return (size_t)got;
	}
	/* The end of the caller's stream is the end of the object, unless cancelled. */
	if (got < 0 || atomic_load(&s->r->cancel))
		return CURL_READFUNC_ABORT;
	return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct req *q = ctx;
	size_t len = size * n, v;

	if (len > 5 && !strncasecmp(p, "ETag:", 5)) {
		v = 5;
		while (v < len && (p[v] == ' ' || p[v] == '\t'))
			v++;
		while (len > v && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
				   p[len - 1] == ' '))
			len--;
		free(q->etag);
		q->etag = strndup(p + v, len - v);
	}
	return size * n;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct stream_ctx *s = ctx;
	struct req *q = s->q;
	struct blksnap_remote *r = s->r;
	size_t len = size * n;

	if (!q->status_checked) {
		q->status_checked = true;
		rcurl.easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &q->status);
		q->body_to_fd = (q->download || q->range_buf) &&
				r->be->succeeded(q);
		/* A server that ignored the range sends the whole object again. */
		if (q->body_to_fd && q->status == 200)
			q->skip = q->range_buf ? q->range_off : r->received;
	}
	if (!q->body_to_fd) {
		if (q->resp.len < RESPONSE_MAX && sbuf_add(&q->resp, p, len))
			return 0;
		return len;
	}
	if (q->skip) {
		size_t k = (size_t)BS_MIN((uint64_t)len, q->skip);

		q->skip -= k;
		p += k;
		len -= k;
	}
	if (q->range_buf) {
		/* What a server that ignored the range sends past it is dropped. */
		size_t k = BS_MIN(len, q->range_len - q->range_got);

		memcpy(q->range_buf + q->range_got, p, k);
		q->range_got += k;
		return size * n;
	}
	while (len) {
		ssize_t w = write(r->fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r->reader_gone = true;
			return 0;
		}
		p += w;
		len -= (size_t)w;
		r->received += (uint64_t)w;
	}
	return size * n;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct blksnap_remote *r = ctx;

	(void)dt; (void)dn; (void)ut; (void)un;
	return atomic_load(&r->cancel) ? 1 : 0;
}

/* Clears what a previous try of @q left. */
static void req_reset(struct req *q)
{
	q->status = 0;
	q->status_checked = false;
	q->body_to_fd = false;
	q->skip = 0;
	q->range_got = 0;
	q->resp.len = 0;
	q->errbuf[0] = '\0';
	free(q->etag);
	q->etag = NULL;
}

/* What every request of every scheme sets. */
static void common_options(struct blksnap_remote *r, CURL *c, struct req *q,
			   struct stream_ctx *s)
{
	long timeout = r->o.timeout > 0 ? r->o.timeout : 30;

	rcurl.easy_setopt(c, CURLOPT_URL, q->url);
	rcurl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rcurl.easy_setopt(c, CURLOPT_ERRORBUFFER, q->errbuf);
	rcurl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	/*
	 * A stall limit, except for a streamed upload: its data comes as
	 * fast as the archive is made, which may be slow for a while.
	 */
	if (!q->stream) {
		rcurl.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		rcurl.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout);
	}
	rcurl.easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	rcurl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,sftp");
#else
	rcurl.easy_setopt(c, CURLOPT_PROTOCOLS,
			  (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_SFTP));
#endif
	rcurl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	rcurl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	rcurl.easy_setopt(c, CURLOPT_XFERINFODATA, r);
	rcurl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	rcurl.easy_setopt(c, CURLOPT_WRITEDATA, s);
	rcurl.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	rcurl.easy_setopt(c, CURLOPT_HEADERDATA, q);
	if (r->o.cacert)
		rcurl.easy_setopt(c, CURLOPT_CAINFO, r->o.cacert);
	if (r->o.insecure) {
		rcurl.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		rcurl.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* The remote's base headers, then @q's own, in q->try_headers. */
static void join_headers(struct blksnap_remote *r, struct req *q)
{
	struct curl_slist *l;

	q->try_headers = r->base_headers;
	if (!q->headers)
		return;
	/* Both lists, base first: a copy for this try. */
	q->try_headers = NULL;
	for (l = r->base_headers; l; l = l->next)
		q->try_headers = rcurl.slist_append(q->try_headers, l->data);
	for (l = q->headers; l; l = l->next)
		q->try_headers = rcurl.slist_append(q->try_headers, l->data);
}

/* What @q sends: a buffer or the caller's stream, or nothing. */
static void method_options(CURL *c, struct req *q, struct stream_ctx *s)
{
	if (!strcmp(q->method, "PUT")) {
		rcurl.easy_setopt(c, CURLOPT_UPLOAD, 1L);
		if (q->stream) {
			rcurl.easy_setopt(c, CURLOPT_READFUNCTION, read_stream);
			rcurl.easy_setopt(c, CURLOPT_READDATA, s);
			return;
		}
		q->body_pos = 0;
		rcurl.easy_setopt(c, CURLOPT_READFUNCTION, read_buffer);
		rcurl.easy_setopt(c, CURLOPT_READDATA, q);
		rcurl.easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_buffer);
		rcurl.easy_setopt(c, CURLOPT_SEEKDATA, q);
		rcurl.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->body_len);
	} else if (!strcmp(q->method, "POST")) {
		rcurl.easy_setopt(c, CURLOPT_POST, 1L);
		rcurl.easy_setopt(c, CURLOPT_POSTFIELDS, q->body ? q->body : "");
		rcurl.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
	} else if (!strcmp(q->method, "HEAD")) {
		rcurl.easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "DELETE")) {
		rcurl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	} else if (!q->download && !q->listing && !q->range_buf) {
		rcurl.easy_setopt(c, CURLOPT_NOBODY, 1L);	/* sftp quote commands only */
	}
}

void remote_perform(struct blksnap_remote *r, struct req *q)
{
	struct stream_ctx s = { r, q };
	CURL *c = r->curl;

	rcurl.easy_reset(c);
	req_reset(q);
	common_options(r, c, q, &s);
	join_headers(r, q);
	method_options(c, q, &s);
	r->be->options(r, c, q);
	q->rc = rcurl.easy_perform(c);
	if (q->rc == CURLE_OK || q->rc == CURLE_WRITE_ERROR ||
	    q->rc == CURLE_HTTP_RETURNED_ERROR)
		rcurl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &q->status);
	if (q->try_headers != r->base_headers)
		remote_slist_free(q->try_headers);
	q->try_headers = NULL;
}

static bool transient(const struct req *q)
{
	switch (q->rc) {
	case CURLE_OK:
		return q->status >= 500 || q->status == 429 || q->status == 408;
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

static bool succeeded(const struct blksnap_remote *r, const struct req *q)
{
	return q->rc == CURLE_OK && r->be->succeeded(q);
}

/* What the server said in an HTTP error, after the status. */
static int http_error(struct blksnap_remote *r, struct req *q, const char *extra)
{
	char *code = s3_xml_value(q->resp.p, "Code");
	int ret;

	if (q->status == 404)
		ret = remote_set_error(r, "%s: not found (HTTP 404)%s", r->url, extra);
	else if (q->status == 401 || q->status == 403)
		ret = remote_set_error(r, "%s: access denied (HTTP %ld): check the credentials%s%s%s",
				       r->url, q->status, code ? " (" : "",
				       code ? code : "", code ? ")" : "");
	else
		ret = remote_set_error(r, "%s: %s %s failed (HTTP %ld%s%s)%s", r->url,
				       q->method, q->what ? q->what : "request",
				       q->status, code ? " " : "", code ? code : "",
				       extra);
	free(code);
	return ret;
}

/* The reason @q failed, as a message naming the caller's URL. */
static int req_error(struct blksnap_remote *r, struct req *q, int tries)
{
	char extra[160] = "";

	if (q->what || tries > 1)
		snprintf(extra, sizeof(extra), " (%s%s%d %s)",
			 q->what ? q->what : "", q->what ? ", " : "", tries,
			 tries > 1 ? "tries" : "try");
	switch (q->rc) {
	case CURLE_OK:
		return http_error(r, q, extra);
	case CURLE_PEER_FAILED_VERIFICATION:
		return r->be->untrusted(r, q);
	case CURLE_LOGIN_DENIED:
		return remote_set_error(r, "%s: access denied: check the user and the key", r->url);
	case CURLE_REMOTE_FILE_NOT_FOUND:
		return remote_set_error(r, "%s: not found", r->url);
	case CURLE_REMOTE_ACCESS_DENIED:
		return remote_set_error(r, "%s: access denied", r->url);
	default:
		return remote_set_error(r, "%s: %s%s", r->url,
					q->errbuf[0] ? q->errbuf : rcurl.easy_strerror(q->rc),
					extra);
	}
}

/* One line for the caller's log of requests. */
static void say_result(struct blksnap_remote *r, const struct req *q,
		       const char *shown)
{
	const char *sp = q->what ? " " : "", *what = q->what ? q->what : "";

	if (atomic_load(&r->cancel) || r->reader_gone)
		remote_say(r, "%s %s%s%s -> stopped early", q->method, shown, sp, what);
	else if (q->rc == CURLE_OK)
		remote_say(r, "%s %s%s%s -> %ld", q->method, shown, sp, what, q->status);
	else
		remote_say(r, "%s %s%s%s -> %s", q->method, shown, sp, what,
			   rcurl.easy_strerror(q->rc));
}

static void backoff(int tries)
{
	long ms = 250L << (tries - 1);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int remote_request(struct blksnap_remote *r, struct req *q)
{
	int retries = r->o.retries >= 0 ? r->o.retries : 3;
	int tries = 0;
	char shown[1024], *u = remote_shown_url(q->url);

	snprintf(shown, sizeof(shown), "%.1000s", u ? u : "?");
	free(u);
	for (;;) {
		tries++;
		remote_perform(r, q);
		say_result(r, q, shown);
		if (succeeded(r, q))
			return 0;
		if (atomic_load(&r->cancel) || r->reader_gone)
			return -1;
		if (!transient(q) || tries > retries || (q->stream && q->consumed))
			return req_error(r, q, tries);
		backoff(tries);
	}
}

/* @q on the object itself (r->target); the caller frees @q after. */
static int request_object(struct blksnap_remote *r, struct req *q)
{
	q->url = strdup(r->target);
	if (!q->url)
		return remote_set_error(r, "%s: out of memory", r->url);
	return remote_request(r, q);
}

int remote_download(struct blksnap_remote *r)
{
	struct req q = { .method = "GET", .download = true };
	int ret = request_object(r, &q);

	req_free(&q);
	return ret;
}

int remote_range_read(struct blksnap_remote *r, void *buf, size_t len,
		      uint64_t off)
{
	struct req q = { .method = "GET", .range_buf = buf, .range_len = len,
			 .range_off = off };
	int ret;

	if (!len)
		return 0;
	ret = request_object(r, &q);
	if (!ret && q.range_got != len)
		ret = remote_set_error(r, "%s: %zu bytes at byte %llu: only %zu came (the object is shorter)",
				       r->url, len, (unsigned long long)off,
				       q.range_got);
	req_free(&q);
	return ret;
}

int remote_object_size(struct blksnap_remote *r, uint64_t *size)
{
	struct req q = { .method = "HEAD" };
	curl_off_t len = -1;
	int ret = request_object(r, &q);

	req_free(&q);
	if (ret)
		return ret;
	if (rcurl.easy_getinfo(r->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
			       &len) != CURLE_OK || len < 0)
		return remote_set_error(r, "%s: the server did not say the object's size",
					r->url);
	*size = (uint64_t)len;
	return 0;
}

void remote_range_options(struct blksnap_remote *r, CURL *c, struct req *q)
{
	char range[48];

	if (q->range_buf)
		snprintf(range, sizeof(range), "%llu-%llu",
			 (unsigned long long)q->range_off,
			 (unsigned long long)(q->range_off + q->range_len - 1));
	else if (q->download && r->received)
		snprintf(range, sizeof(range), "%llu-",
			 (unsigned long long)r->received);
	else
		return;
	rcurl.easy_setopt(c, CURLOPT_RANGE, range);
}

/* ----------------------------------------------------------------------- */

void remote_http_options(struct blksnap_remote *r, CURL *c, struct req *q)
{
	rcurl.easy_setopt(c, CURLOPT_HTTPHEADER, q->try_headers);
	remote_range_options(r, c, q);
}

bool remote_http_succeeded(const struct req *q)
{
	return q->status >= 200 && q->status < 300;
}

int remote_tls_untrusted(struct blksnap_remote *r, const struct req *q)
{
	return remote_set_error(r, "%s: the server's certificate is not trusted (%s): name its CA with --cacert",
				r->url, q->errbuf[0] ? q->errbuf : rcurl.easy_strerror(q->rc));
}

static int http_setup(struct blksnap_remote *r, const char *url)
{
	if (remote_curl_start(r))
		return -1;
	r->target = bs_strdup(url);
	return r->target ? 0 : -1;
}

/* http(s): one streamed PUT; a new object is deleted again on failure. */
static int http_upload(struct blksnap_remote *r)
{
	struct req q = { .method = "HEAD" };
	int ret;

	q.url = strdup(r->target);
	if (!q.url)
		return remote_set_error(r, "%s: out of memory", r->url);
	remote_perform(r, &q);
	r->may_delete = q.rc == CURLE_OK && q.status == 404;
	q.method = "PUT";
	q.stream = true;
	q.headers = rcurl.slist_append(NULL, "Expect:");
	ret = remote_request(r, &q);
	req_free(&q);
	return ret;
}

static void http_delete(struct blksnap_remote *r)
{
	struct req q = { .method = "DELETE" };
	bool cancelled = atomic_exchange(&r->cancel, false);

	q.url = strdup(r->target);
	if (q.url) {
		remote_perform(r, &q);
		remote_say(r, "DELETE %s -> %ld", r->url, q.status);
	}
	atomic_store(&r->cancel, cancelled);
	req_free(&q);
}

/* A new object is deleted again when its upload failed. */
static int http_upload_or_delete(struct blksnap_remote *r)
{
	int ret = http_upload(r);

	if (ret && r->may_delete)
		http_delete(r);
	return ret;
}

const struct remote_backend remote_http_backend = {
	.scheme = "http",
	.alias = "https",
	.setup = http_setup,
	.create = remote_start_upload,
	.open = remote_start_download,
	.commit = remote_thread_commit,
	.abort = remote_thread_abort,
	.release = remote_curl_release,
	.upload = http_upload_or_delete,
	.options = remote_http_options,
	.succeeded = remote_http_succeeded,
	.untrusted = remote_tls_untrusted,
};
