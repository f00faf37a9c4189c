/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Archives on remote storage, through libcurl: file://, http:// and
 * https:// (PUT, WebDAV), s3://BUCKET/KEY (AWS Signature Version 4,
 * multipart upload) and sftp:// (key authentication).
 *
 * The seam is a file descriptor: an upload hands out the write end of a
 * pipe that a thread streams to the server as it fills, and a download
 * hands out the read end of one that a thread fills from the server.  Nothing is copied to local disk.  Credentials never appear in
 * a message, verbose ones included.
 */
#ifndef BLKSNAP_REMOTE_H
#define BLKSNAP_REMOTE_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct blksnap_remote_opts {
	/*
	 * S3 endpoint ("https://host:port"); NULL: $BLKSNAP_S3_ENDPOINT,
	 * then $AWS_ENDPOINT_URL, then https://s3.REGION.amazonaws.com.
	 */
	const char *s3_endpoint;
	/* NULL: $AWS_REGION, then $AWS_DEFAULT_REGION, then us-east-1. */
	const char *s3_region;
	/* Address buckets as ENDPOINT/BUCKET/KEY, not BUCKET.HOST/KEY. */
	bool s3_path_style;
	/* CA bundle to verify TLS servers with (NULL: the system's). */
	const char *cacert;
	/* Do not verify TLS certificates: only when asked explicitly. */
	bool insecure;
	/*
	 * Seconds allowed to connect, and for a transfer to stay below
	 * 1 KiB/s before it is given up (and retried); 0: 30.  A streamed
	 * http(s) or sftp upload has no stall limit: it waits for its data.
	 */
	long timeout;
	/*
	 * Further tries of a request that failed transiently (5xx, 429,
	 * reset or refused connection, timeout), after 0.25 s, 0.5 s, 1 s...;
	 * -1: 3.  A multipart upload retries the failed part only.
	 */
	int retries;
	/* sftp: private key (NULL: ~/.ssh/id_ed25519, else ~/.ssh/id_rsa). */
	const char *ssh_key;
	/* sftp: known_hosts file (NULL: ~/.ssh/known_hosts). */
	const char *ssh_known_hosts;
	/*
	 * Called with one line for each request (method, URL without its
	 * query, status) when set; never with a credential.
	 */
	void (*message)(void *ctx, const char *text);
	void *message_ctx;
};

/* Fills @o with the defaults above (everything from the environment). */
void blksnap_remote_opts_init(struct blksnap_remote_opts *o);

/*
 * True when @name is a URL ("scheme://...").  Names of unsupported
 * schemes are URLs too: opening them fails with "unsupported URL scheme".
 */
bool blksnap_is_url(const char *name);

/*
 * The options used where the library opens URLs by itself (the archive
 * reader: blksnap_archive_open() and everything built on it).  @o is
 * copied, not its strings, which must stay valid.  NULL: the defaults.
 */
void blksnap_remote_set_defaults(const struct blksnap_remote_opts *o);

struct blksnap_remote;

/*
 * Starts an upload to @url (NULL @o: the defaults) and gives in @fd the
 * descriptor to write the object's bytes to; do not close it.  Nothing
 * is visible under @url before blksnap_remote_commit() succeeds, except
 * over http(s), where a server may store what it received of a failed
 * PUT: the object is then deleted, if there was none before the upload.
 *   s3://    objects below 8 MiB in one PUT; larger ones by multipart
 *            upload, parts of 8 MiB doubling every 1,000 parts.
 *   http(s)  one streamed (chunked) PUT; not retried once data went out.
 *   sftp://  written to URL.part, renamed over URL by commit.
 *   file://  written to a temporary file renamed by commit.
 */
int blksnap_remote_create(const char *url, const struct blksnap_remote_opts *o,
			  struct blksnap_remote **r, int *fd);

/*
 * As blksnap_remote_create(), for an upload that an interrupted run may
 * have begun and that is kept when this one fails, to be continued by a
 * later run: s3:// only (others are refused by name).  The pending
 * multipart upload of @url (the latest, if several) is taken up: the
 * first part is sent again (it holds what differs between two runs: the
 * archive's UUID and time), every further part already uploaded is read
 * from the stream and compared with the MD5 sum S3 keeps of it (its
 * ETag) instead of being sent, and the upload goes on after them.  A
 * part that differs fails the upload with the part's number and keeps
 * it.  blksnap_remote_abort() of such an upload keeps what was sent.
 */
int blksnap_remote_create_resumable(const char *url,
				    const struct blksnap_remote_opts *o,
				    struct blksnap_remote **r, int *fd);

/*
 * Ends the upload: closes the descriptor, waits for the transfer and
 * returns 0 only when the server confirmed the whole object (S3: the
 * multipart upload completed).  On failure the partial object is removed
 * as for blksnap_remote_abort().  Either way @r is released.
 */
int blksnap_remote_commit(struct blksnap_remote *r);

/*
 * Cancels an upload and removes what it can of what it sent (S3: the
 * multipart upload is aborted; http: the object is deleted; sftp: the
 * partial file is removed), then releases @r.  Safe with NULL.
 */
void blksnap_remote_abort(struct blksnap_remote *r);

/*
 * Starts a download of @url and gives in @fd the descriptor to read it
 * from; do not close it.  The stream ends early when the transfer fails
 * for good (after retries, which resume where it stopped where the
 * server allows ranges): blksnap_remote_status() then says why.
 */
int blksnap_remote_open(const char *url, const struct blksnap_remote_opts *o,
			struct blksnap_remote **r, int *fd);

/*
 * 0 while the transfer has not failed, else -1 with the reason in
 * blksnap_error(), e.g. "URL: not found (HTTP 404)".  The reason is
 * recorded before the stream ends, so a reader that met an early end
 * of the stream learns here whether the transfer failed.
 */
int blksnap_remote_status(struct blksnap_remote *r);

/*
 * Stops a download (what was not read is not fetched), waits for its
 * thread and releases @r.  Returns blksnap_remote_status() from before
 * the stop.  Safe with NULL.
 */
int blksnap_remote_close(struct blksnap_remote *r);

#ifdef __cplusplus
}
#endif
#endif
