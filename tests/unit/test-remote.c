// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Remote storage without a server: URL recognition, refused URLs and
 * settings, and the file:// upload and download through the same calls
 * as the network schemes.  tests/remote-*.sh cover the servers.
 */

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "blksnap/blksnap.h"
#include "tap.h"

static int read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len && (n = read(fd, buf + got, len - got)) > 0)
		got += (size_t)n;
	return (int)got;
}

int main(void)
{
	struct blksnap_remote_opts o;
	struct blksnap_remote *r;
	char dir[] = "/tmp/blksnap-remote-XXXXXX", url[PATH_MAX + 16], buf[64];
	char path[PATH_MAX];
	int fd;

	ok(blksnap_is_url("s3://bucket/key"), "s3:// is a URL");
	ok(blksnap_is_url("HTTPS://host/x"), "schemes are case-insensitive");
	ok(blksnap_is_url("gopher://host/x"), "an unknown scheme is a URL too");
	ok(!blksnap_is_url("/var/backups/a.tar"), "an absolute path is not a URL");
	ok(!blksnap_is_url("dir/s3:/x"), "a relative path with a colon is not a URL");
	ok(!blksnap_is_url("-"), "standard input is not a URL");
	ok(!blksnap_is_url("://x"), "no scheme, no URL");

	blksnap_remote_opts_init(&o);
	fails_with(blksnap_remote_open("gopher://h/x", &o, &r, &fd),
		   "unsupported URL scheme", "an unsupported scheme is refused");
	/* Found by fuzzing: this message was the only one with the password. */
	fails_with(blksnap_remote_open("s6://user:secret@h/x", &o, &r, &fd),
		   "s6://...: unsupported URL scheme", "an unsupported scheme is named");
	ok(!strstr(blksnap_error(), "secret"),
	   "without the password of the URL: %s", blksnap_error());
	unsetenv("AWS_ACCESS_KEY_ID");
	fails_with(blksnap_remote_open("s3://bucket/key", &o, &r, &fd),
		   "AWS_ACCESS_KEY_ID", "S3 without credentials is refused");
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	fails_with(blksnap_remote_open("s3://bucket", &o, &r, &fd),
		   "s3://BUCKET/KEY", "an S3 URL needs a key");
	o.s3_endpoint = "ftp://example";
	fails_with(blksnap_remote_create("s3://bucket/key", &o, &r, &fd),
		   "S3 endpoint", "an endpoint that is not http(s) is refused");
	o.s3_endpoint = NULL;
	fails_with(blksnap_remote_open("sftp://host", &o, &r, &fd),
		   "sftp://", "an SFTP URL needs a path");
	fails_with(blksnap_remote_open("file://host/x", &o, &r, &fd),
		   "file:///PATH", "a file URL names no host");

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	snprintf(path, sizeof(path), "%s/a b.tar", dir);
	snprintf(url, sizeof(url), "file://%s/a%%20b.tar", dir);
	ok(!blksnap_remote_create(url, &o, &r, &fd) && write(fd, "hello", 5) == 5,
	   "file:// upload takes data");
	ok(access(path, F_OK) != 0, "nothing under the final name before commit");
	ok(!blksnap_remote_commit(r), "commit succeeds");
	ok(access(path, F_OK) == 0, "the file is there after commit (%%20 decoded)");
	ok(!blksnap_remote_open(url, &o, &r, &fd), "file:// download opens");
	ok(read_all(fd, buf, sizeof(buf)) == 5 && !memcmp(buf, "hello", 5),
	   "it reads what was written");
	ok(!blksnap_remote_status(r) && !blksnap_remote_close(r), "status and close: no error");
	snprintf(url, sizeof(url), "file://%s/b.tar", dir);
	snprintf(path, sizeof(path), "%s/b.tar", dir);
	ok(!blksnap_remote_create(url, &o, &r, &fd) && write(fd, "x", 1) == 1,
	   "a second upload starts");
	blksnap_remote_abort(r);
	ok(access(path, F_OK) != 0, "an aborted upload leaves nothing");
	blksnap_remote_abort(NULL);
	ok(blksnap_remote_close(NULL) == 0, "NULL is safe");

	snprintf(path, sizeof(path), "%s/a b.tar", dir);
	unlink(path);
	rmdir(dir);
	return tap_done();
}
