// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Remote archives through libcurl (see blksnap/remote.h).
 *
 * One thread per transfer moves bytes between a pipe and the server, so
 * the archive writer and reader keep working on a plain descriptor.
 * Facts of libcurl 7.88.1 this relies on: CURLOPT_AWS_SIGV4 signs the
 * query string exactly as written (so it is built sorted, key=value) and
 * takes the payload hash from an x-amz-content-sha256 header, which is
 * therefore always sent (UNSIGNED-PAYLOAD); an upload of unknown length
 * is a chunked PUT, which S3 refuses, hence multipart upload for streams.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dlfcn.h>
/* The functions below are reached through pointers: no type-check macros. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "internal.h"
#include "blksnap/output.h"
#include "blksnap/remote.h"

#define PART_MIN	(8ull << 20)	/* first part size of a multipart upload */
#define PART_MAX	(5ull << 30)	/* S3's largest part */
#define PARTS_PER_STEP	1000		/* parts before the size doubles */
#define PARTS_MAX	10000
#define RESPONSE_MAX	(64u << 10)	/* kept of a response body */
#define PIPE_SIZE	(1 << 20)

enum scheme { SCHEME_FILE, SCHEME_HTTP, SCHEME_S3, SCHEME_SFTP };

struct sbuf {
	char *p;
	size_t len, alloc;
};

struct blksnap_remote {
	enum scheme scheme;
	bool upload;
	struct blksnap_remote_opts o;
	char *url;		/* as given, query removed: for messages */
	char *target;		/* what libcurl is given */
	char *region;
	char *userpwd;		/* S3: KEY:SECRET, never printed */
	struct curl_slist *base_headers;
	CURL *curl;
	int fd;			/* the thread's end */
	int user_fd;		/* the caller's end */
	pthread_t thread;
	bool started;
	atomic_bool cancel;	/* abort or early close by the caller */
	pthread_mutex_t lock;
	char *error;		/* set by the thread before it closes @fd */
	bool done_ok;
	/* file:// */
	struct blksnap_output out;
	/* http: the object did not exist before, so it may be deleted */
	bool may_delete;
	/* sftp: paths for the quote commands */
	char *path, *part_path, *part_target;
	/* S3 multipart */
	char *upload_id;
	char **etags;
	size_t parts, parts_alloc;
	unsigned char *part[2];	/* one uploads while the other fills */
	size_t part_alloc[2];
	/* download */
	uint64_t received;
	bool reader_gone;
};

static char *shown_url(const char *url);

static struct blksnap_remote_opts defaults;
static bool defaults_set;
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
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_reset)(CURL *c);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
} lc;
static char curl_load_error[512];

static int curl_load(void)
{
	static const struct bs_dlsym syms[] = {
#define SYM(f) { "curl_" #f, offsetof(__typeof__(lc), f) }
		SYM(global_init), SYM(easy_init), SYM(easy_setopt),
		SYM(easy_perform), SYM(easy_getinfo), SYM(easy_reset),
		SYM(easy_cleanup), SYM(easy_strerror), SYM(slist_append),
		SYM(slist_free_all),
#undef SYM
	};

	return bs_dlopen_table(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL, syms,
			       BS_ARRAY_SIZE(syms), &lc, sizeof(lc),
			       "URLs need libcurl, which did not load (Debian: apt-get install libcurl4)",
			       curl_load_error, sizeof(curl_load_error));
}

static void curl_init(void)
{
	if (curl_load()) {
		curl_init_rc = CURLE_FAILED_INIT;
		return;
	}
	curl_init_rc = lc.global_init(CURL_GLOBAL_DEFAULT);
	if (curl_init_rc != CURLE_OK)
		snprintf(curl_load_error, sizeof(curl_load_error), "libcurl: %s",
			 lc.easy_strerror(curl_init_rc));
}

/*
 * Every call below goes through the table: a handle or a list exists
 * only once libcurl was loaded, and the freeing calls take NULL before.
 */
static void slist_free_all(struct curl_slist *l)
{
	if (l)
		lc.slist_free_all(l);
}
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_init lc.easy_init
#define curl_easy_setopt lc.easy_setopt
#define curl_easy_perform lc.easy_perform
#define curl_easy_getinfo lc.easy_getinfo
#define curl_easy_reset lc.easy_reset
#define curl_easy_cleanup lc.easy_cleanup
#define curl_easy_strerror lc.easy_strerror
#define curl_slist_append lc.slist_append
#define curl_slist_free_all slist_free_all

void blksnap_remote_opts_init(struct blksnap_remote_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->retries = -1;
}

void blksnap_remote_set_defaults(const struct blksnap_remote_opts *o)
{
	if (o) {
		defaults = *o;
		defaults_set = true;
	} else {
		defaults_set = false;
	}
}

static const char *const schemes[] = {
	[SCHEME_FILE] = "file", [SCHEME_HTTP] = "http", [SCHEME_S3] = "s3",
	[SCHEME_SFTP] = "sftp",
};

bool blksnap_is_url(const char *name)
{
	const char *p = name;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	       (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
		p++;
	return !strncmp(p, "://", 3);
}

static int parse_scheme(const char *url, enum scheme *s)
{
	size_t n = strcspn(url, ":");

	if (n == 5 && !strncasecmp(url, "https", 5)) {
		*s = SCHEME_HTTP;
		return 0;
	}
	for (size_t i = 0; i < BS_ARRAY_SIZE(schemes); i++) {
		if (strlen(schemes[i]) == n && !strncasecmp(url, schemes[i], n)) {
			*s = (enum scheme)i;
			return 0;
		}
	}
	/* The scheme alone: the rest may hold a password. */
	return bs_fail("%.*s://...: unsupported URL scheme (use file, http, https, s3 or sftp)",
		       (int)BS_MIN(n, (size_t)40), url);
}

/* ----------------------------------------------------------------------- */

static int sbuf_add(struct sbuf *b, const void *p, size_t len)
{
	if (b->len + len + 1 > b->alloc) {
		size_t n = b->alloc ? b->alloc : 256;
		char *q;

		while (n < b->len + len + 1)
			n *= 2;
		q = realloc(b->p, n);
		if (!q)
			return -1;
		b->p = q;
		b->alloc = n;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

static int sbuf_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	return sbuf_add(b, tmp, (size_t)n);
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		bs_fail_errno(ENOMEM, "out of memory");
		return NULL;
	}
	return s;
}

/* Percent-encodes all but unreserved characters (and '/' if @keep_slash). */
static char *url_encode(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = bs_malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		    c == '~' || (keep_slash && c == '/')) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

static char *url_decode(const char *s, size_t len)
{
	char *out = bs_malloc(len + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && bs_hex_digit(s[i + 1]) >= 0 &&
		    bs_hex_digit(s[i + 2]) >= 0) {
			*o++ = (char)(bs_hex_digit(s[i + 1]) * 16 + bs_hex_digit(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* Text between <tag> and </tag> in @xml, malloc'ed, or NULL. */
char *xml_value(const char *xml, const char *tag)
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

/* ----------------------------------------------------------------------- */

static void say(struct blksnap_remote *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct blksnap_remote *r, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (!r->o.message)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	r->o.message(r->o.message_ctx, text);
}

/* Records the transfer's failure (the first one) for blksnap_remote_status. */
static int set_error(struct blksnap_remote *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int set_error(struct blksnap_remote *r, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	pthread_mutex_lock(&r->lock);
	if (!r->error)
		r->error = s;
	else
		free(s);
	pthread_mutex_unlock(&r->lock);
	return -1;
}

struct req {
	const char *method;	/* GET PUT POST DELETE HEAD */
	char *url;		/* owned */
	struct curl_slist *headers;	/* owned, besides the base ones */
	const char *body;	/* PUT or POST of a buffer */
	size_t body_len;
	size_t body_pos;
	bool stream;		/* PUT the caller's stream, from r->fd */
	bool download;		/* GET into r->fd */
	struct curl_slist *quote, *postquote;	/* sftp commands, owned */
	const char *what;	/* "part 3", for messages */
	/* results */
	CURLcode rc;
	long status;
	char *etag;
	struct sbuf resp;
	char errbuf[CURL_ERROR_SIZE];
	bool consumed;		/* the stream gave data: no retry */
	uint64_t skip;		/* download: bytes to drop (resume without range) */
	bool status_checked;
	bool body_to_fd;
};

static void req_free(struct req *q)
{
	free(q->url);
	curl_slist_free_all(q->headers);
	curl_slist_free_all(q->quote);
	curl_slist_free_all(q->postquote);
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
		curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &q->status);
		q->body_to_fd = q->download &&
			(r->scheme == SCHEME_SFTP || (q->status >= 200 && q->status < 300));
		/* A server that ignored the range sends the whole object again. */
		if (q->body_to_fd && q->status == 200 && r->received)
			q->skip = r->received;
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

/* One try of @q. */
static void perform(struct blksnap_remote *r, struct req *q)
{
	struct stream_ctx s = { r, q };
	struct curl_slist *h;
	CURL *c = r->curl;
	long timeout = r->o.timeout > 0 ? r->o.timeout : 30;

	curl_easy_reset(c);
	q->status = 0;
	q->status_checked = false;
	q->body_to_fd = false;
	q->skip = 0;
	q->resp.len = 0;
	q->errbuf[0] = '\0';
	free(q->etag);
	q->etag = NULL;
	curl_easy_setopt(c, CURLOPT_URL, q->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	/*
	 * A stall limit, except for a streamed upload: its data comes as
	 * fast as the archive is made, which may be slow for a while.
	 */
	if (!q->stream) {
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout);
	}
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,sftp");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_SFTP));
#endif
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
	if (r->o.cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, r->o.cacert);
	if (r->o.insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (r->scheme == SCHEME_S3) {
		char sigv4[128];

		snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", r->region);
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, r->userpwd);
	}
	if (r->scheme == SCHEME_SFTP) {
		curl_easy_setopt(c, CURLOPT_SSH_AUTH_TYPES, (long)CURLSSH_AUTH_PUBLICKEY);
		curl_easy_setopt(c, CURLOPT_SSH_PRIVATE_KEYFILE, r->o.ssh_key);
		curl_easy_setopt(c, CURLOPT_SSH_PUBLIC_KEYFILE, "");
		curl_easy_setopt(c, CURLOPT_SSH_KNOWNHOSTS, r->o.ssh_known_hosts);
		if (!strchr(r->target + 7, '@')) {
			struct passwd *pw = getpwuid(getuid());

			if (pw)
				curl_easy_setopt(c, CURLOPT_USERNAME, pw->pw_name);
		}
		curl_easy_setopt(c, CURLOPT_QUOTE, q->quote);
		curl_easy_setopt(c, CURLOPT_POSTQUOTE, q->postquote);
		if (q->postquote)
			curl_easy_setopt(c, CURLOPT_FTP_CREATE_MISSING_DIRS, 0L);
	}
	h = r->base_headers;
	if (q->headers) {
		struct curl_slist *l;

		/* Both lists, base first: a copy for this try. */
		h = NULL;
		for (l = r->base_headers; l; l = l->next)
			h = curl_slist_append(h, l->data);
		for (l = q->headers; l; l = l->next)
			h = curl_slist_append(h, l->data);
	}
	if (r->scheme != SCHEME_SFTP)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);

	if (!strcmp(q->method, "PUT")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		if (q->stream) {
			curl_easy_setopt(c, CURLOPT_READFUNCTION, read_stream);
			curl_easy_setopt(c, CURLOPT_READDATA, &s);
		} else {
			q->body_pos = 0;
			curl_easy_setopt(c, CURLOPT_READFUNCTION, read_buffer);
			curl_easy_setopt(c, CURLOPT_READDATA, q);
			curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_buffer);
			curl_easy_setopt(c, CURLOPT_SEEKDATA, q);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
					 (curl_off_t)q->body_len);
		}
	} else if (!strcmp(q->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body ? q->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
	} else if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "DELETE")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	} else if (q->download && r->received) {
		if (r->scheme == SCHEME_SFTP) {
			curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE,
					 (curl_off_t)r->received);
		} else {
			char range[48];

			snprintf(range, sizeof(range), "%llu-",
				 (unsigned long long)r->received);
			curl_easy_setopt(c, CURLOPT_RANGE, range);
		}
	} else if (!q->download) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);	/* sftp quote commands only */
	}

	q->rc = curl_easy_perform(c);
	if (q->rc == CURLE_OK || q->rc == CURLE_WRITE_ERROR ||
	    q->rc == CURLE_HTTP_RETURNED_ERROR)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &q->status);
	if (h != r->base_headers)
		curl_slist_free_all(h);
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

static bool http_ok(const struct blksnap_remote *r, const struct req *q)
{
	if (q->rc != CURLE_OK)
		return false;
	return r->scheme == SCHEME_SFTP || (q->status >= 200 && q->status < 300);
}

/* The reason @q failed, as a message naming the caller's URL. */
static int req_error(struct blksnap_remote *r, struct req *q, int tries)
{
	char extra[160] = "";
	char *code = xml_value(q->resp.p, "Code");

	if (q->what || tries > 1)
		snprintf(extra, sizeof(extra), " (%s%s%d %s)",
			 q->what ? q->what : "", q->what ? ", " : "", tries,
			 tries > 1 ? "tries" : "try");
	if (q->rc == CURLE_OK) {
		int ret;

		if (q->status == 404)
			ret = set_error(r, "%s: not found (HTTP 404)%s", r->url, extra);
		else if (q->status == 401 || q->status == 403)
			ret = set_error(r, "%s: access denied (HTTP %ld): check the credentials%s%s%s",
					r->url, q->status, code ? " (" : "",
					code ? code : "", code ? ")" : "");
		else
			ret = set_error(r, "%s: %s %s failed (HTTP %ld%s%s)%s", r->url,
					q->method, q->what ? q->what : "request",
					q->status, code ? " " : "", code ? code : "",
					extra);
		free(code);
		return ret;
	}
	free(code);
	switch (q->rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		if (r->scheme == SCHEME_SFTP)
			return set_error(r, "%s: the server's host key is not in the known hosts file (%s)",
					 r->url, q->errbuf);
		return set_error(r, "%s: the server's certificate is not trusted (%s): name its CA with --cacert",
				 r->url, q->errbuf[0] ? q->errbuf : curl_easy_strerror(q->rc));
	case CURLE_LOGIN_DENIED:
		return set_error(r, "%s: access denied: check the user and the key", r->url);
	case CURLE_REMOTE_FILE_NOT_FOUND:
		return set_error(r, "%s: not found", r->url);
	case CURLE_REMOTE_ACCESS_DENIED:
		return set_error(r, "%s: access denied", r->url);
	default:
		return set_error(r, "%s: %s%s", r->url,
				 q->errbuf[0] ? q->errbuf : curl_easy_strerror(q->rc),
				 extra);
	}
}

/* Runs @q, retrying transient failures with backoff; 0 when it succeeded. */
static int request(struct blksnap_remote *r, struct req *q)
{
	int retries = r->o.retries >= 0 ? r->o.retries : 3;
	int tries = 0;
	char shown[1024], *u = shown_url(q->url);

	snprintf(shown, sizeof(shown), "%.1000s", u ? u : "?");
	free(u);
	for (;;) {
		tries++;
		perform(r, q);
		if (atomic_load(&r->cancel) || r->reader_gone)
			say(r, "%s %s%s%s -> stopped early", q->method, shown,
			    q->what ? " " : "", q->what ? q->what : "");
		else if (q->rc == CURLE_OK)
			say(r, "%s %s%s%s -> %ld", q->method, shown,
			    q->what ? " " : "", q->what ? q->what : "", q->status);
		else
			say(r, "%s %s%s%s -> %s", q->method, shown,
			    q->what ? " " : "", q->what ? q->what : "",
			    curl_easy_strerror(q->rc));
		if (http_ok(r, q))
			return 0;
		if (atomic_load(&r->cancel) || r->reader_gone)
			return -1;
		if (!transient(q) || tries > retries || (q->stream && q->consumed))
			return req_error(r, q, tries);
		{
			long ms = 250L << (tries - 1);
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
}

/* ----------------------------------------------------------------------- */

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
	return xasprintf("%s%s%s", r->target, query ? "?" : "", query ? query : "");
}

static int s3_put_object(struct blksnap_remote *r, const unsigned char *buf, size_t len)
{
	struct req q = { .method = "PUT", .body = (const char *)buf, .body_len = len };
	int ret;

	q.url = s3_url(r, NULL);
	ret = q.url ? request(r, &q) : -1;
	req_free(&q);
	return ret;
}

static int s3_create(struct blksnap_remote *r)
{
	struct req q = { .method = "POST", .what = "CreateMultipartUpload" };
	int ret = -1;

	q.url = s3_url(r, "uploads=");
	if (q.url && !request(r, &q)) {
		r->upload_id = xml_value(q.resp.p, "UploadId");
		if (r->upload_id)
			ret = 0;
		else
			set_error(r, "%s: the server gave no UploadId", r->url);
	}
	req_free(&q);
	return ret;
}

static int s3_put_part(struct blksnap_remote *r, const unsigned char *buf, size_t len)
{
	struct req q = { .method = "PUT", .body = (const char *)buf, .body_len = len };
	char what[32], *id = url_encode(r->upload_id, false), *query;
	int ret = -1;
	size_t num = r->parts + 1;

	snprintf(what, sizeof(what), "part %zu", num);
	q.what = what;
	query = id ? xasprintf("partNumber=%zu&uploadId=%s", num, id) : NULL;
	q.url = query ? s3_url(r, query) : NULL;
	if (q.url && !request(r, &q)) {
		if (!q.etag) {
			set_error(r, "%s: the server gave no ETag for %s", r->url, what);
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
	char *id = url_encode(r->upload_id, false), *query = NULL, *err;
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
	q.headers = curl_slist_append(NULL, "Content-Type: application/xml");
	query = id ? xasprintf("uploadId=%s", id) : NULL;
	q.url = query ? s3_url(r, query) : NULL;
	if (!q.url || request(r, &q))
		goto out;
	/* S3 may answer 200 and put the error in the body. */
	err = xml_value(q.resp.p, "Code");
	if (err || !q.resp.p || !strstr(q.resp.p, "CompleteMultipartUploadResult")) {
		set_error(r, "%s: CompleteMultipartUpload failed (%s)", r->url,
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
	char *id = url_encode(r->upload_id, false), *query;
	bool cancelled = atomic_exchange(&r->cancel, false);

	query = id ? xasprintf("uploadId=%s", id) : NULL;
	q.url = query ? s3_url(r, query) : NULL;
	if (q.url && request(r, &q))
		say(r, "could not abort the multipart upload of %s", r->url);
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
	return r->part[i] ? 0 : set_error(r, "%s: out of memory", r->url);
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
			set_error(r, "%s: the stream is larger than 10,000 parts", r->url);
			goto fail;
		}
		if (more) {
			next = (struct fill){ r, NULL, part_size(r->parts + 2), -1 };
			if (part_buffer(r, !cur, next.size))
				goto fail;
			next.buf = r->part[!cur];
			err = pthread_create(&filler, NULL, fill_thread, &next);
			if (err) {
				set_error(r, "%s: cannot start a thread: %s", r->url,
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

/* http(s): one streamed PUT; a new object is deleted again on failure. */
static int http_upload(struct blksnap_remote *r)
{
	struct req q = { .method = "HEAD" };
	int ret;

	q.url = strdup(r->target);
	if (!q.url)
		return set_error(r, "%s: out of memory", r->url);
	perform(r, &q);
	r->may_delete = q.rc == CURLE_OK && q.status == 404;
	q.method = "PUT";
	q.stream = true;
	q.headers = curl_slist_append(NULL, "Expect:");
	ret = request(r, &q);
	req_free(&q);
	return ret;
}

static void http_delete(struct blksnap_remote *r)
{
	struct req q = { .method = "DELETE" };
	bool cancelled = atomic_exchange(&r->cancel, false);

	q.url = strdup(r->target);
	if (q.url) {
		perform(r, &q);
		say(r, "DELETE %s -> %ld", r->url, q.status);
	}
	atomic_store(&r->cancel, cancelled);
	req_free(&q);
}

static char *sftp_quoted(const char *cmd, const char *a, const char *b)
{
	if (strchr(a, '"') || (b && strchr(b, '"'))) {
		bs_fail("sftp paths with '\"' are not supported");
		return NULL;
	}
	return b ? xasprintf("%s \"%s\" \"%s\"", cmd, a, b) :
		   xasprintf("%s \"%s\"", cmd, a);
}

/* sftp: write URL.part, then remove URL and rename URL.part over it. */
static int sftp_upload(struct blksnap_remote *r)
{
	struct req q = { .method = "PUT", .stream = true };
	char *rm = sftp_quoted("*rm", r->path, NULL);
	char *mv = sftp_quoted("rename", r->part_path, r->path);
	int ret = -1;

	q.url = strdup(r->part_target);
	if (rm && mv && q.url) {
		q.postquote = curl_slist_append(NULL, rm);
		q.postquote = curl_slist_append(q.postquote, mv);
		ret = request(r, &q);
	} else {
		set_error(r, "%s: %s", r->url, blksnap_error());
	}
	free(rm);
	free(mv);
	req_free(&q);
	return ret;
}

static void sftp_remove_part(struct blksnap_remote *r)
{
	struct req q = { .method = "QUOTE" };
	char *rm = sftp_quoted("rm", r->part_path, NULL);
	bool cancelled = atomic_exchange(&r->cancel, false);
	char *slash;

	q.url = strdup(r->part_target);
	if (rm && q.url) {
		/* Commands only: the URL names the directory. */
		slash = strrchr(q.url, '/');
		if (slash)
			slash[1] = '\0';
		q.quote = curl_slist_append(NULL, rm);
		perform(r, &q);
		say(r, "rm %s -> %s", r->part_path, curl_easy_strerror(q.rc));
	}
	free(rm);
	atomic_store(&r->cancel, cancelled);
	req_free(&q);
}

static void *upload_thread(void *arg)
{
	struct blksnap_remote *r = arg;
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	switch (r->scheme) {
	case SCHEME_S3:
		ret = s3_upload(r);
		break;
	case SCHEME_SFTP:
		ret = sftp_upload(r);
		if (ret)
			sftp_remove_part(r);
		break;
	default:
		ret = http_upload(r);
		if (ret && r->may_delete)
			http_delete(r);
		break;
	}
	if (ret && !r->error && !atomic_load(&r->cancel))
		set_error(r, "%s: upload failed", r->url);
	r->done_ok = ret == 0;
	/* The writer sees the failure as a broken pipe. */
	close(r->fd);
	r->fd = -1;
	return NULL;
}

static void *download_thread(void *arg)
{
	struct blksnap_remote *r = arg;
	struct req q = { .method = "GET", .download = true };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	q.url = strdup(r->target);
	if (!q.url)
		set_error(r, "%s: out of memory", r->url);
	else if (!request(r, &q))
		r->done_ok = true;
	else if (!r->error && !atomic_load(&r->cancel) && !r->reader_gone)
		set_error(r, "%s: download failed", r->url);
	req_free(&q);
	/* The reader sees the end of the stream: truncation if it failed. */
	close(r->fd);
	r->fd = -1;
	return NULL;
}

/* ----------------------------------------------------------------------- */

void remote_free(struct blksnap_remote *r)
{
	size_t i;

	if (!r)
		return;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	curl_slist_free_all(r->base_headers);
	if (r->fd >= 0)
		close(r->fd);
	if (r->user_fd >= 0)
		close(r->user_fd);
	for (i = 0; i < r->parts; i++)
		free(r->etags[i]);
	free(r->etags);
	free(r->part[0]);
	free(r->part[1]);
	free(r->upload_id);
	free(r->url);
	free(r->target);
	free(r->region);
	if (r->userpwd) {
		memset(r->userpwd, 0, strlen(r->userpwd));
		free(r->userpwd);
	}
	free(r->path);
	free(r->part_path);
	free(r->part_target);
	free(r->error);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static const char *env(const char *a, const char *b)
{
	const char *v = getenv(a);

	if ((!v || !*v) && b)
		v = getenv(b);
	return v && *v ? v : NULL;
}

static char *home_file(const char *name)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (!home || !*home) {
		pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : "/";
	}
	return xasprintf("%s/%s", home, name);
}

/* The ssh file names, chosen once and kept for the remote's lifetime. */
static char *ssh_key_default;
static char *ssh_known_default;

static int setup_s3(struct blksnap_remote *r, const char *url)
{
	const char *endpoint = r->o.s3_endpoint ? r->o.s3_endpoint :
		env("BLKSNAP_S3_ENDPOINT", "AWS_ENDPOINT_URL");
	const char *region = r->o.s3_region ? r->o.s3_region :
		env("AWS_REGION", "AWS_DEFAULT_REGION");
	const char *key = env("AWS_ACCESS_KEY_ID", NULL);
	const char *secret = env("AWS_SECRET_ACCESS_KEY", NULL);
	const char *token = env("AWS_SESSION_TOKEN", NULL);
	const char *bucket = url + 5, *slash = strchr(bucket, '/');
	char *b = NULL, *k = NULL, *ek = NULL, *def = NULL, *hdr;
	const char *sep, *host;
	int ret = -1;

	if (!slash || slash == bucket || !slash[1])
		return bs_fail("%s: an S3 URL is s3://BUCKET/KEY", r->url);
	if (!key || !secret)
		return bs_fail("%s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", r->url);
	r->region = bs_strdup(region ? region : "us-east-1");
	b = strndup(bucket, (size_t)(slash - bucket));
	k = url_decode(slash + 1, strlen(slash + 1));
	ek = k ? url_encode(k, true) : NULL;
	if (!r->region || !b || !ek)
		goto out;
	if (!endpoint) {
		def = xasprintf("https://s3.%s.amazonaws.com", r->region);
		endpoint = def;
		if (!def)
			goto out;
	}
	if (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8)) {
		bs_fail("S3 endpoint '%s': expected http://HOST[:PORT] or https://HOST[:PORT]",
			endpoint);
		goto out;
	}
	sep = endpoint[strlen(endpoint) - 1] == '/' ? "" : "/";
	if (r->o.s3_path_style) {
		r->target = xasprintf("%s%s%s/%s", endpoint, sep, b, ek);
	} else {
		host = strstr(endpoint, "://") + 3;
		r->target = xasprintf("%.*s%s.%s%s%s", (int)(host - endpoint),
				      endpoint, b, host, sep, ek);
	}
	r->userpwd = xasprintf("%s:%s", key, secret);
	if (!r->target || !r->userpwd)
		goto out;
	r->base_headers = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	if (token) {
		hdr = xasprintf("x-amz-security-token: %s", token);
		if (!hdr)
			goto out;
		r->base_headers = curl_slist_append(r->base_headers, hdr);
		free(hdr);
	}
	ret = 0;
out:
	free(b);
	free(k);
	free(ek);
	free(def);
	return ret;
}

static int setup_sftp(struct blksnap_remote *r, const char *url)
{
	const char *p = url + 7, *slash = strchr(p, '/');
	char *path;

	if (!slash || !slash[1])
		return bs_fail("%s: an SFTP URL is sftp://[USER@]HOST[:PORT]/PATH", r->url);
	if (!r->o.ssh_key) {
		if (!ssh_key_default) {
			ssh_key_default = home_file(".ssh/id_ed25519");
			if (ssh_key_default && access(ssh_key_default, R_OK)) {
				free(ssh_key_default);
				ssh_key_default = home_file(".ssh/id_rsa");
			}
		}
		r->o.ssh_key = ssh_key_default;
	}
	if (!r->o.ssh_known_hosts) {
		if (!ssh_known_default)
			ssh_known_default = home_file(".ssh/known_hosts");
		r->o.ssh_known_hosts = ssh_known_default;
	}
	if (!r->o.ssh_key || !r->o.ssh_known_hosts)
		return -1;
	path = url_decode(slash, strlen(slash));
	if (!path)
		return -1;
	/* "/~/x" is relative to the login directory, as in libcurl. */
	r->path = bs_strdup(!strncmp(path, "/~/", 3) ? path + 3 : path);
	free(path);
	r->part_path = r->path ? xasprintf("%s.part", r->path) : NULL;
	r->target = bs_strdup(url);
	r->part_target = xasprintf("%s.part", url);
	return r->part_path && r->target && r->part_target ? 0 : -1;
}

/* @url for messages: no query (signed URLs), no password. */
static char *shown_url(const char *url)
{
	char *u = strndup(url, strcspn(url, "?#")), *auth, *at, *colon;

	if (!u) {
		bs_fail_errno(ENOMEM, "out of memory");
		return NULL;
	}
	auth = strstr(u, "://");
	if (!auth)
		return u;
	auth += 3;
	at = strchr(auth, '@');
	if (at && at < auth + strcspn(auth, "/")) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon)
			memmove(colon, at, strlen(at) + 1);
	}
	return u;
}

int remote_new(const char *url, const struct blksnap_remote_opts *o,
		      bool upload, struct blksnap_remote **rp)
{
	struct blksnap_remote *r;
	enum scheme s = SCHEME_FILE;

	if (parse_scheme(url, &s))
		return -1;
	r = bs_calloc(1, sizeof(*r));
	if (!r)
		return -1;
	pthread_mutex_init(&r->lock, NULL);
	r->fd = r->user_fd = -1;
	r->out.fd = -1;
	r->scheme = s;
	r->upload = upload;
	if (o)
		r->o = *o;
	else if (defaults_set)
		r->o = defaults;
	else
		blksnap_remote_opts_init(&r->o);
	r->url = shown_url(url);
	if (!r->url)
		goto fail;
	if (s == SCHEME_FILE) {
		*rp = r;
		return 0;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		bs_fail("%s", curl_load_error);
		goto fail;
	}
	r->curl = curl_easy_init();
	if (!r->curl) {
		bs_fail("libcurl: cannot start a transfer");
		goto fail;
	}
	if (s == SCHEME_S3 ? setup_s3(r, url) :
	    s == SCHEME_SFTP ? setup_sftp(r, url) :
	    !(r->target = bs_strdup(url)))
		goto fail;
	*rp = r;
	return 0;
fail:
	remote_free(r);
	return -1;
}

/* file://[localhost]/PATH */
char *file_path(struct blksnap_remote *r, const char *url)
{
	const char *p = url + 7;

	if (!strncasecmp(p, "localhost/", 10))
		p += 9;
	if (*p != '/') {
		bs_fail("%s: a file URL is file:///PATH", r->url);
		return NULL;
	}
	return url_decode(p, strcspn(p, "?#"));
}

static int start(struct blksnap_remote *r, void *(*fn)(void *), int *fd)
{
	int p[2], err;

	if (pipe2(p, O_CLOEXEC))
		return bs_fail_errno(errno, "%s: pipe", r->url);
	fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE);
	r->fd = r->upload ? p[0] : p[1];
	r->user_fd = r->upload ? p[1] : p[0];
	err = pthread_create(&r->thread, NULL, fn, r);
	if (err)
		return bs_fail_errno(err, "%s: cannot start a thread", r->url);
	r->started = true;
	*fd = r->user_fd;
	return 0;
}

int blksnap_remote_create(const char *url, const struct blksnap_remote_opts *o,
			  struct blksnap_remote **rp, int *fd)
{
	struct blksnap_remote *r;
	char *path;

	if (remote_new(url, o, true, &r))
		return -1;
	if (r->scheme == SCHEME_FILE) {
		path = file_path(r, url);
		if (!path || blksnap_output_create(&r->out, path)) {
			free(path);
			remote_free(r);
			return -1;
		}
		free(path);
		*fd = r->out.fd;
		*rp = r;
		return 0;
	}
	if (start(r, upload_thread, fd)) {
		remote_free(r);
		return -1;
	}
	*rp = r;
	return 0;
}

int blksnap_remote_open(const char *url, const struct blksnap_remote_opts *o,
			struct blksnap_remote **rp, int *fd)
{
	struct blksnap_remote *r;
	char *path;

	if (remote_new(url, o, false, &r))
		return -1;
	if (r->scheme == SCHEME_FILE) {
		path = file_path(r, url);
		if (path) {
			r->user_fd = open(path, O_RDONLY | O_CLOEXEC);
			if (r->user_fd < 0)
				bs_fail_errno(errno, "%s: cannot open", r->url);
		}
		free(path);
		if (r->user_fd < 0) {
			remote_free(r);
			return -1;
		}
		*fd = r->user_fd;
		*rp = r;
		return 0;
	}
	if (start(r, download_thread, fd)) {
		remote_free(r);
		return -1;
	}
	*rp = r;
	return 0;
}

int blksnap_remote_status(struct blksnap_remote *r)
{
	char *msg;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	msg = r->error ? strdup(r->error) : NULL;
	pthread_mutex_unlock(&r->lock);
	if (!msg)
		return 0;
	bs_fail("%s", msg);
	free(msg);
	return -1;
}

static void finish(struct blksnap_remote *r)
{
	if (r->user_fd >= 0) {
		close(r->user_fd);
		r->user_fd = -1;
	}
	if (r->started) {
		pthread_join(r->thread, NULL);
		r->started = false;
	}
}

int blksnap_remote_commit(struct blksnap_remote *r)
{
	int ret;

	if (r->scheme == SCHEME_FILE)
		ret = blksnap_output_commit(&r->out);
	else {
		finish(r);
		ret = r->done_ok ? 0 : -1;
		if (ret && !blksnap_remote_status(r))
			bs_fail("%s: upload failed", r->url);
	}
	remote_free(r);
	return ret;
}

void blksnap_remote_abort(struct blksnap_remote *r)
{
	if (!r)
		return;
	if (r->scheme == SCHEME_FILE) {
		blksnap_output_abort(&r->out);
	} else {
		atomic_store(&r->cancel, true);
		finish(r);
	}
	remote_free(r);
}

int blksnap_remote_close(struct blksnap_remote *r)
{
	int ret;

	if (!r)
		return 0;
	ret = blksnap_remote_status(r);
	atomic_store(&r->cancel, true);
	finish(r);
	remote_free(r);
	return ret;
}
