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
#include "internal.h"
#include "md5.h"
#include "remote-backend.h"
#include "tap.h"

/* MD5 (a resumed S3 upload compares parts by it) and the listings. */
static void test_resume_parts(void)
{
	static const struct {
		const char *in, *hex;
	} v[] = {	/* RFC 1321's test suite */
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	const char *uploads =
		"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
		"<Upload><Key>a&amp;b</Key><UploadId>old</UploadId></Upload>"
		"<Upload><Key>a&amp;b.tar</Key><UploadId>other</UploadId></Upload>"
		"<Upload><Key>a&amp;b</Key><UploadId>new</UploadId></Upload>"
		"</ListMultipartUploadsResult>";
	const char *parts =
		"<ListPartsResult><IsTruncated>true</IsTruncated>"
		"<NextPartNumberMarker>2</NextPartNumberMarker>"
		"<Part><PartNumber>1</PartNumber><ETag>&quot;x&quot;</ETag><Size>8388608</Size></Part>"
		"<Part><PartNumber>2</PartNumber><ETag>\"y\"</ETag><Size>5</Size></Part>"
		"</ListPartsResult>";
	struct s3_parts ps = { 0 };
	unsigned long marker;
	struct bs_md5 c;
	char hex[33], *id;
	bool more;
	size_t i, j;

	for (i = 0; i < BS_ARRAY_SIZE(v); i++) {
		size_t len = strlen(v[i].in), first = len < 7 ? len : 7;

		bs_md5_init(&c);
		/* Seven bytes, then one at a time. */
		bs_md5_update(&c, v[i].in, first);
		for (j = first; j < len; j++)
			bs_md5_update(&c, v[i].in + j, 1);
		bs_md5_hex(&c, hex);
		ok(!strcmp(hex, v[i].hex), "MD5 of \"%.20s\": %s", v[i].in, hex);
	}
	id = s3_uploads_find(uploads, "a&b", &more);
	ok(id && !strcmp(id, "new") && !more,
	   "the latest pending upload of the key, not of a longer one: %s", id);
	free(id);
	id = s3_uploads_find(uploads, "a", &more);
	ok(!id, "no upload of a key that only begins the listed ones");
	ok(!s3_parts_parse(parts, &ps, &more, &marker) && ps.count == 2 && more &&
	   marker == 2 && ps.v[0].number == 1 && ps.v[0].size == 8388608 &&
	   !strcmp(ps.v[0].etag, "\"x\"") && !strcmp(ps.v[1].etag, "\"y\""),
	   "the parts listed, their ETags unescaped, and the next page");
	s3_parts_free(&ps);
	ok(s3_parts_parse("<Part><PartNumber>0</PartNumber><ETag>x</ETag><Size>1</Size></Part>",
			  &ps, &more, &marker) == -1,
	   "a part numbered 0 is malformed");
	s3_parts_free(&ps);
}

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
	test_resume_parts();
	return tap_done();
}
