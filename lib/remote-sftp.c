// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sftp://[USER@]HOST[:PORT]/PATH, with a key: an upload writes PATH.part
 * and renames it over PATH once whole, so a failed one leaves the old
 * archive in place.
 */

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "remote-backend.h"

static char *sftp_quoted(const char *cmd, const char *a, const char *b)
{
	if (strchr(a, '"') || (b && strchr(b, '"'))) {
		bs_fail("sftp paths with '\"' are not supported");
		return NULL;
	}
	return b ? remote_asprintf("%s \"%s\" \"%s\"", cmd, a, b) :
		   remote_asprintf("%s \"%s\"", cmd, a);
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
		q.postquote = rcurl.slist_append(NULL, rm);
		q.postquote = rcurl.slist_append(q.postquote, mv);
		ret = remote_request(r, &q);
	} else {
		remote_set_error(r, "%s: %s", r->url, blksnap_error());
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
		q.quote = rcurl.slist_append(NULL, rm);
		remote_perform(r, &q);
		remote_say(r, "rm %s -> %s", r->part_path, rcurl.easy_strerror(q.rc));
	}
	free(rm);
	atomic_store(&r->cancel, cancelled);
	req_free(&q);
}

/* The upload; the part file is removed when it failed. */
static int sftp_upload_or_remove(struct blksnap_remote *r)
{
	int ret = sftp_upload(r);

	if (ret)
		sftp_remove_part(r);
	return ret;
}

static char *home_file(const char *name)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (!home || !*home) {
		pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : "/";
	}
	return remote_asprintf("%s/%s", home, name);
}

/* The ssh file names, chosen once and kept for the remote's lifetime. */
static char *ssh_key_default;
static char *ssh_known_default;

char *sftp_url_path(const char *url, const char *name)
{
	const char *p = strstr(url, "://"), *slash;
	char *path, *ret;

	p = p ? p + 3 : url;
	slash = strchr(p, '/');
	if (!slash || !slash[1]) {
		bs_fail("%s: an SFTP URL is sftp://[USER@]HOST[:PORT]/PATH", name);
		return NULL;
	}
	path = remote_url_decode(slash, strlen(slash));
	if (!path)
		return NULL;
	/* "/~/x" is relative to the login directory, as in libcurl. */
	ret = bs_strdup(!strncmp(path, "/~/", 3) ? path + 3 : path);
	free(path);
	return ret;
}

/* The key and known hosts files, by default those of ~/.ssh. */
static int ssh_files(struct blksnap_remote *r)
{
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
	return r->o.ssh_key && r->o.ssh_known_hosts ? 0 : -1;
}

static int sftp_setup(struct blksnap_remote *r, const char *url)
{
	if (remote_curl_start(r))
		return -1;
	r->path = sftp_url_path(url, r->url);
	if (!r->path || ssh_files(r))
		return -1;
	r->part_path = remote_asprintf("%s.part", r->path);
	r->target = bs_strdup(url);
	r->part_target = remote_asprintf("%s.part", url);
	return r->part_path && r->target && r->part_target ? 0 : -1;
}

static void sftp_options(struct blksnap_remote *r, CURL *c, struct req *q)
{
	rcurl.easy_setopt(c, CURLOPT_SSH_AUTH_TYPES, (long)CURLSSH_AUTH_PUBLICKEY);
	rcurl.easy_setopt(c, CURLOPT_SSH_PRIVATE_KEYFILE, r->o.ssh_key);
	rcurl.easy_setopt(c, CURLOPT_SSH_PUBLIC_KEYFILE, "");
	rcurl.easy_setopt(c, CURLOPT_SSH_KNOWNHOSTS, r->o.ssh_known_hosts);
	if (!strchr(r->target + 7, '@')) {
		struct passwd *pw = getpwuid(getuid());

		if (pw)
			rcurl.easy_setopt(c, CURLOPT_USERNAME, pw->pw_name);
	}
	rcurl.easy_setopt(c, CURLOPT_QUOTE, q->quote);
	rcurl.easy_setopt(c, CURLOPT_POSTQUOTE, q->postquote);
	if (q->postquote)
		rcurl.easy_setopt(c, CURLOPT_FTP_CREATE_MISSING_DIRS, 0L);
	if (q->download && r->received)
		rcurl.easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)r->received);
	else if (q->range_buf)
		remote_range_options(r, c, q);
}

/* No HTTP status: a transfer libcurl completed is a success. */
static bool sftp_succeeded(const struct req *q)
{
	(void)q;
	return true;
}

static int sftp_untrusted(struct blksnap_remote *r, const struct req *q)
{
	return remote_set_error(r, "%s: the server's host key is not in the known hosts file (%s)",
				r->url, q->errbuf);
}

static void sftp_release(struct blksnap_remote *r)
{
	remote_curl_release(r);
	free(r->path);
	free(r->part_path);
	free(r->part_target);
}

const struct remote_backend remote_sftp_backend = {
	.scheme = "sftp",
	.setup = sftp_setup,
	.create = remote_start_upload,
	.open = remote_start_download,
	.commit = remote_thread_commit,
	.abort = remote_thread_abort,
	.release = sftp_release,
	.upload = sftp_upload_or_remove,
	.options = sftp_options,
	.succeeded = sftp_succeeded,
	.untrusted = sftp_untrusted,
};
