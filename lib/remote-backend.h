/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside the remote archives (lib/remote*.c, not installed): one table
 * of functions per URL scheme, which lib/remote.c looks up by the URL's
 * scheme and calls only through, and the libcurl requests the network
 * schemes share (lib/remote-curl.c).
 *
 *   remote.c       public API, pipes and transfer threads, file://
 *   remote-curl.c  the libcurl loader, requests with retries, http(s)
 *   remote-s3.c    S3: signed requests, multipart upload, XML answers
 *   remote-sftp.c  SFTP: write URL.part, then rename it over URL
 */
#ifndef BLKSNAP_REMOTE_BACKEND_H
#define BLKSNAP_REMOTE_BACKEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
/* libcurl is called through a table of pointers: no type-check macros. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "blksnap/output.h"
#include "blksnap/remote.h"

#define RESPONSE_MAX	(64u << 10)	/* kept of a response body */

struct sbuf {
	char *p;
	size_t len, alloc;
};

struct req;

struct remote_backend {
	const char *scheme;
	const char *alias;	/* another name of the scheme, or NULL */
	/* Has blksnap_remote_create_resumable(). */
	bool resumable;
	/* Fills what the scheme needs from @url; r->o and r->url are set. */
	int (*setup)(struct blksnap_remote *r, const char *url);
	/* Starts an upload or a download; *fd is the caller's end. */
	int (*create)(struct blksnap_remote *r, const char *url, int *fd);
	int (*open)(struct blksnap_remote *r, const char *url, int *fd);
	/* Ends an upload: makes the object whole (0), or drops it. */
	int (*commit)(struct blksnap_remote *r);
	void (*abort)(struct blksnap_remote *r);
	/* Frees what setup() made. */
	void (*release)(struct blksnap_remote *r);

	/* Network schemes only, called by the transfer thread. */
	/* Sends the caller's stream; removes what a failure left behind. */
	int (*upload)(struct blksnap_remote *r);
	/* libcurl options of one try of @q, besides the common ones. */
	void (*options)(struct blksnap_remote *r, CURL *c, struct req *q);
	/* Whether a transfer libcurl completed is a success (HTTP status). */
	bool (*succeeded)(const struct req *q);
	/* The message for a server libcurl could not verify. */
	int (*untrusted)(struct blksnap_remote *r, const struct req *q);
};

extern const struct remote_backend remote_http_backend;
extern const struct remote_backend remote_s3_backend;
extern const struct remote_backend remote_sftp_backend;

struct blksnap_remote {
	const struct remote_backend *be;
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
	bool resume;		/* taken up from an earlier run, kept on failure */
	char *bucket_url;	/* S3: the bucket's URL, for listing uploads */
	char *key;		/* S3: the object's key, decoded */
	char *upload_id;
	char **etags;
	size_t parts, parts_alloc;
	unsigned char *part[2];	/* one uploads while the other fills */
	size_t part_alloc[2];
	/* download */
	uint64_t received;
	bool reader_gone;
};

/* One request, tried once by remote_perform(), until done by remote_request(). */
struct req {
	const char *method;	/* GET PUT POST DELETE HEAD */
	char *url;		/* owned */
	struct curl_slist *headers;	/* owned, besides the base ones */
	const char *body;	/* PUT or POST of a buffer */
	size_t body_len;
	size_t body_pos;
	bool stream;		/* PUT the caller's stream, from r->fd */
	bool download;		/* GET into r->fd */
	bool listing;		/* GET of a short answer, into resp */
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
	/* A ranged read (remote_range_read): @range_len bytes at @range_off. */
	unsigned char *range_buf;
	size_t range_len, range_got;
	uint64_t range_off;
	struct curl_slist *try_headers;	/* base and own headers of one try */
};

/* lib/remote.c: messages, text, and the transfer threads' ends. */
void remote_say(struct blksnap_remote *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int remote_set_error(struct blksnap_remote *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int sbuf_add(struct sbuf *b, const void *p, size_t len);
int sbuf_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *remote_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *remote_url_encode(const char *s, bool keep_slash);
char *remote_url_decode(const char *s, size_t len);
/* @url for messages: no query (signed URLs), no password; malloc'ed. */
char *remote_shown_url(const char *url);
/* The table of @url's scheme, or NULL (blksnap_error() says why). */
const struct remote_backend *remote_backend_find(const char *url);
/*
 * Parses @url and sets up its scheme's state (credentials, paths; no
 * connection is made); @o NULL for the defaults.  0, or -1 with
 * blksnap_error() naming the URL without its password.
 */
int remote_new(const char *url, const struct blksnap_remote_opts *o,
	       bool upload, struct blksnap_remote **rp);
void remote_free(struct blksnap_remote *r);
/* file://[localhost]/PATH: the decoded PATH, malloc'ed, or NULL. */
char *remote_file_path(const char *url, const char *name);
/* create() and open() of the network schemes: a pipe and a thread. */
int remote_start_upload(struct blksnap_remote *r, const char *url, int *fd);
int remote_start_download(struct blksnap_remote *r, const char *url, int *fd);
int remote_thread_commit(struct blksnap_remote *r);
void remote_thread_abort(struct blksnap_remote *r);

/* lib/remote-curl.c */
/* Every call of libcurl goes through here, filled when it is loaded. */
struct remote_curl {
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
};
extern struct remote_curl rcurl;

/* Loads libcurl (once) and makes @r's handle: the first step of setup(). */
int remote_curl_start(struct blksnap_remote *r);
void remote_curl_release(struct blksnap_remote *r);
void remote_slist_free(struct curl_slist *l);
void req_free(struct req *q);
/* One try of @q. */
void remote_perform(struct blksnap_remote *r, struct req *q);
/* Runs @q, retrying transient failures with backoff; 0 when it succeeded. */
int remote_request(struct blksnap_remote *r, struct req *q);
/* The GET of a download, into r->fd. */
int remote_download(struct blksnap_remote *r);
/* GET of @len bytes at @off into @buf (a Range request); 0 when all came. */
int remote_range_read(struct blksnap_remote *r, void *buf, size_t len,
		      uint64_t off);
/* The object's size, by a HEAD request (sftp: a stat). */
int remote_object_size(struct blksnap_remote *r, uint64_t *size);
/* The range option of a download resumed or of a ranged read (http, s3, sftp). */
void remote_range_options(struct blksnap_remote *r, CURL *c, struct req *q);
/* options() and succeeded() of the http(s) requests, which S3 also makes. */
void remote_http_options(struct blksnap_remote *r, CURL *c, struct req *q);
bool remote_http_succeeded(const struct req *q);
int remote_tls_untrusted(struct blksnap_remote *r, const struct req *q);

/* lib/remote-s3.c: the parsers of what an S3 server answers. */
/* Text between <tag> and </tag> in @xml, malloc'ed, or NULL. */
char *s3_xml_value(const char *xml, const char *tag);
/* Whether a CompleteMultipartUpload answer is a success; else *code is
 * the error's Code (malloc'ed) or NULL. */
bool s3_complete_succeeded(const char *xml, char **code);
/*
 * The UploadId of the latest pending upload of @key in a
 * ListMultipartUploadsResult (malloc'ed), or NULL; *truncated when the
 * listing goes on in another page.
 */
char *s3_uploads_find(const char *xml, const char *key, bool *truncated);
/* The parts a ListPartsResult lists, appended to @ps. */
struct s3_part {
	unsigned long number;
	uint64_t size;
	char *etag;		/* unescaped, quotes kept */
};
struct s3_parts {
	struct s3_part *v;
	size_t count, alloc;
};
int s3_parts_parse(const char *xml, struct s3_parts *ps, bool *truncated,
		   unsigned long *next_marker);
void s3_parts_free(struct s3_parts *ps);
/* s3://BUCKET/KEY: BUCKET, and KEY decoded; both malloc'ed.  @name is
 * the URL as messages show it. */
int s3_url_parse(const char *url, const char *name, char **bucket, char **key);

/* lib/remote-sftp.c: sftp://[USER@]HOST[:PORT]/PATH: PATH decoded, as
 * the server's sftp commands take it, malloc'ed; @name as for S3. */
char *sftp_url_path(const char *url, const char *name);

#endif
