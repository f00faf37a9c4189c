// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * URLs as the archive reader and writer take them (lib/remote*.c): the
 * scheme, S3's bucket and key, an SFTP path, a file URL's path, and the
 * form shown in messages, which must not hold the password.  Nothing is
 * connected to.
 */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "internal.h"
#include "remote-backend.h"

/* The password of [scheme://]user:PASSWORD@host, or NULL. */
static char *password(const char *url)
{
	const char *auth = strstr(url, "://"), *at, *colon;
	size_t host_end;

	if (!auth)
		return NULL;
	auth += 3;
	host_end = strcspn(auth, "/?#");
	at = memchr(auth, '@', host_end);
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (!colon || at - colon < 2)
		return NULL;
	return strndup(colon, (size_t)(at - colon + 1));
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	struct blksnap_remote_opts o;
	struct blksnap_remote *r = NULL;
	char *url = fuzz_string(data, size), *secret, *path = NULL;

	if (!once) {
		/* S3 URLs need credentials to be set up; no server is asked. */
		setenv("AWS_ACCESS_KEY_ID", "fuzz", 1);
		setenv("AWS_SECRET_ACCESS_KEY", "fuzz", 1);
		setenv("HOME", "/nonexistent", 1);
		once = true;
	}
	if (!blksnap_is_url(url)) {
		free(url);
		return 0;
	}
	blksnap_remote_opts_init(&o);
	o.s3_path_style = data[0] & 1;
	bs_fail("%s", "");
	if (!remote_new(url, &o, false, &r) && !strncasecmp(url, "file:", 5))
		path = remote_file_path(url, r->url);
	/*
	 * The messages name the URL without its password: the text of
	 * ":PASSWORD@" is there once less than in the URL (the rest of the
	 * URL may hold the same text).
	 */
	secret = password(url);
	FUZZ_ASSERT(!secret || count(blksnap_error(), secret) < count(url, secret));
	free(secret);
	free(path);
	remote_free(r);
	free(url);
	return 0;
}
