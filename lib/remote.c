// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Remote archives (see blksnap/remote.h): the public calls, the pipes
 * and threads between the caller and a transfer, and file:// URLs.  Each
 * scheme is a table of functions (lib/remote-backend.h) found by the
 * URL's scheme; nothing here knows more of a scheme than its table.
 *
 * One thread per transfer moves bytes between a pipe and the server, so
 * the archive writer and reader keep working on a plain descriptor.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "internal.h"
#include "remote-backend.h"

#define PIPE_SIZE	(1 << 20)

static struct blksnap_remote_opts defaults;
static bool defaults_set;

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

static const struct remote_backend remote_file_backend;

static const struct remote_backend *const backends[] = {
	&remote_file_backend, &remote_http_backend, &remote_s3_backend,
	&remote_sftp_backend,
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

static bool scheme_is(const char *url, size_t n, const char *name)
{
	return name && strlen(name) == n && !strncasecmp(url, name, n);
}

const struct remote_backend *remote_backend_find(const char *url)
{
	size_t n = strcspn(url, ":");

	for (size_t i = 0; i < BS_ARRAY_SIZE(backends); i++)
		if (scheme_is(url, n, backends[i]->scheme) ||
		    scheme_is(url, n, backends[i]->alias))
			return backends[i];
	/* The scheme alone: the rest may hold a password. */
	bs_fail("%.*s://...: unsupported URL scheme (use file, http, https, s3 or sftp)",
		(int)BS_MIN(n, (size_t)40), url);
	return NULL;
}

/* ----------------------------------------------------------------------- */

int sbuf_add(struct sbuf *b, const void *p, size_t len)
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

int sbuf_printf(struct sbuf *b, const char *fmt, ...)
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

char *remote_asprintf(const char *fmt, ...)
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
char *remote_url_encode(const char *s, bool keep_slash)
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

char *remote_url_decode(const char *s, size_t len)
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

/* ----------------------------------------------------------------------- */

void remote_say(struct blksnap_remote *r, const char *fmt, ...)
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
int remote_set_error(struct blksnap_remote *r, const char *fmt, ...)
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

/* @url for messages: no query (signed URLs), no password. */
char *remote_shown_url(const char *url)
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


/* ----------------------------------------------------------------------- */

static void block_sigpipe(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *upload_thread(void *arg)
{
	struct blksnap_remote *r = arg;
	int ret;

	block_sigpipe();
	ret = r->be->upload(r);
	if (ret && !r->error && !atomic_load(&r->cancel))
		remote_set_error(r, "%s: upload failed", r->url);
	r->done_ok = ret == 0;
	/* The writer sees the failure as a broken pipe. */
	close(r->fd);
	r->fd = -1;
	return NULL;
}

static void *download_thread(void *arg)
{
	struct blksnap_remote *r = arg;

	block_sigpipe();
	if (!remote_download(r))
		r->done_ok = true;
	else if (!r->error && !atomic_load(&r->cancel) && !r->reader_gone)
		remote_set_error(r, "%s: download failed", r->url);
	/* The reader sees the end of the stream: truncation if it failed. */
	close(r->fd);
	r->fd = -1;
	return NULL;
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

int remote_start_upload(struct blksnap_remote *r, const char *url, int *fd)
{
	(void)url;
	return start(r, upload_thread, fd);
}

int remote_start_download(struct blksnap_remote *r, const char *url, int *fd)
{
	(void)url;
	return start(r, download_thread, fd);
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

int remote_thread_commit(struct blksnap_remote *r)
{
	finish(r);
	if (r->done_ok)
		return 0;
	if (!blksnap_remote_status(r))
		bs_fail("%s: upload failed", r->url);
	return -1;
}

void remote_thread_abort(struct blksnap_remote *r)
{
	atomic_store(&r->cancel, true);
	finish(r);
}

/* ----------------------------------------------------------------------- */

char *remote_file_path(const char *url, const char *name)
{
	const char *p = url + strcspn(url, ":");

	if (strncmp(p, "://", 3)) {
		bs_fail("%s: a file URL is file:///PATH", name);
		return NULL;
	}
	p += 3;
	if (!strncasecmp(p, "localhost/", 10))
		p += 9;
	if (*p != '/') {
		bs_fail("%s: a file URL is file:///PATH", name);
		return NULL;
	}
	return remote_url_decode(p, strcspn(p, "?#"));
}

static int file_setup(struct blksnap_remote *r, const char *url)
{
	(void)r;
	(void)url;
	return 0;
}

static int file_create(struct blksnap_remote *r, const char *url, int *fd)
{
	char *path = remote_file_path(url, r->url);
	int ret = path ? blksnap_output_create(&r->out, path) : -1;

	free(path);
	if (!ret)
		*fd = r->out.fd;
	return ret;
}

static int file_open(struct blksnap_remote *r, const char *url, int *fd)
{
	char *path = remote_file_path(url, r->url);

	if (path) {
		r->user_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (r->user_fd < 0)
			bs_fail_errno(errno, "%s: cannot open", r->url);
	}
	free(path);
	*fd = r->user_fd;
	return r->user_fd < 0 ? -1 : 0;
}

static int file_commit(struct blksnap_remote *r)
{
	return blksnap_output_commit(&r->out);
}

static void file_abort(struct blksnap_remote *r)
{
	blksnap_output_abort(&r->out);
}

static void file_release(struct blksnap_remote *r)
{
	(void)r;
}

static const struct remote_backend remote_file_backend = {
	.scheme = "file",
	.setup = file_setup,
	.create = file_create,
	.open = file_open,
	.commit = file_commit,
	.abort = file_abort,
	.release = file_release,
};

/* ----------------------------------------------------------------------- */

void remote_free(struct blksnap_remote *r)
{
	if (!r)
		return;
	if (r->be)
		r->be->release(r);
	if (r->fd >= 0)
		close(r->fd);
	if (r->user_fd >= 0)
		close(r->user_fd);
	free(r->url);
	free(r->error);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int remote_new(const char *url, const struct blksnap_remote_opts *o,
	       bool upload, struct blksnap_remote **rp)
{
	const struct remote_backend *be = remote_backend_find(url);
	struct blksnap_remote *r;

	if (!be)
		return -1;
	r = bs_calloc(1, sizeof(*r));
	if (!r)
		return -1;
	pthread_mutex_init(&r->lock, NULL);
	r->fd = r->user_fd = -1;
	r->out.fd = -1;
	r->upload = upload;
	if (o)
		r->o = *o;
	else if (defaults_set)
		r->o = defaults;
	else
		blksnap_remote_opts_init(&r->o);
	r->url = remote_shown_url(url);
	if (!r->url)
		goto fail;
	/* Set only now: release() frees what setup() made, even half of it. */
	r->be = be;
	if (be->setup(r, url))
		goto fail;
	*rp = r;
	return 0;
fail:
	remote_free(r);
	return -1;
}

int blksnap_remote_create(const char *url, const struct blksnap_remote_opts *o,
			  struct blksnap_remote **rp, int *fd)
{
	struct blksnap_remote *r;

	if (remote_new(url, o, true, &r))
		return -1;
	if (r->be->create(r, url, fd)) {
		remote_free(r);
		return -1;
	}
	*rp = r;
	return 0;
}

int blksnap_remote_create_resumable(const char *url,
				    const struct blksnap_remote_opts *o,
				    struct blksnap_remote **rp, int *fd)
{
	struct blksnap_remote *r;

	if (remote_new(url, o, true, &r))
		return -1;
	if (!r->be->resumable) {
		bs_fail("%s: an upload over %s:// cannot be resumed (s3:// and local files can)",
			r->url, r->be->scheme);
		remote_free(r);
		return -1;
	}
	r->resume = true;
	if (r->be->create(r, url, fd)) {
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

	if (remote_new(url, o, false, &r))
		return -1;
	if (r->be->open(r, url, fd)) {
		remote_free(r);
		return -1;
	}
	*rp = r;
	return 0;
}

int bs_remote_open_ranged(const char *url, struct blksnap_remote **rp,
			  int *fd, uint64_t *size)
{
	struct blksnap_remote *r;
	struct stat st;

	if (remote_new(url, NULL, false, &r))
		return -1;
	*fd = -1;
	if (!r->be->upload) {
		/* file://: the file itself, read with pread(). */
		if (r->be->open(r, url, fd))
			goto fail;
		if (fstat(*fd, &st) || !S_ISREG(st.st_mode)) {
			bs_fail("%s: not a regular file", r->url);
			goto fail;
		}
		*size = (uint64_t)st.st_size;
	} else if (remote_object_size(r, size)) {
		blksnap_remote_status(r);
		goto fail;
	}
	*rp = r;
	return 0;
fail:
	remote_free(r);
	return -1;
}

int bs_remote_pread(struct blksnap_remote *r, void *buf, size_t len,
		    uint64_t off)
{
	int ret = remote_range_read(r, buf, len, off);

	if (ret) {
		/* Said once, then forgotten: the next read may succeed. */
		blksnap_remote_status(r);
		pthread_mutex_lock(&r->lock);
		free(r->error);
		r->error = NULL;
		pthread_mutex_unlock(&r->lock);
	}
	return ret;
}

void bs_remote_close_ranged(struct blksnap_remote *r)
{
	remote_free(r);
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

int blksnap_remote_commit(struct blksnap_remote *r)
{
	int ret = r->be->commit(r);

	remote_free(r);
	return ret;
}

void blksnap_remote_abort(struct blksnap_remote *r)
{
	if (!r)
		return;
	r->be->abort(r);
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
