// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A third-party program: built against the installed headers alone (a
 * staged install, tests/Makemodule.am) with -std=c99 -pedantic-errors,
 * linked with the shared library, so it reaches only what that exports.
 */
#include <blksnap/control.h>
#include <blksnap/snapshot.h>
#include <blksnap/blksnap.h>
#include <errno.h>
#include "tap.h"

int main(void)
{
	struct blksnap_remote_opts o;
	struct blksnap_remote *r;
	struct blksnap_manifest m;
	struct blksnap_ranges ranges;
	struct blksnap_compress c;
	int fd;

	ok(blksnap_version() && *blksnap_version(), "version %s", blksnap_version());
	blksnap_ranges_init(&ranges);
	ok(!blksnap_ranges_append(&ranges, 0, 4096) &&
	   blksnap_ranges_bytes(&ranges) == 4096, "a range list");
	blksnap_ranges_free(&ranges);
	ok(!blksnap_compress_parse("zstd", &c) && !blksnap_compress_set_level(&c, 3),
	   "compression zstd, level 3");
	blksnap_remote_opts_init(&o);
	fails_with(blksnap_remote_open("gopher://h/x", &o, &r, &fd),
		   "unsupported URL scheme", "a URL of an unknown scheme");
	fails_with(blksnap_archive_read_manifest("/nonexistent/a.tar", &m),
		   "/nonexistent/a.tar: cannot open", "listing a missing archive");
	ok(blksnap_error_errno() == ENOENT, "its errno");
	ok(blksnap_uuid_valid("12345678-9abc-def0-0123-456789abcdef"), "a UUID");
	return tap_done();
}
