// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libzstd is loaded when a zstd archive is first written or read at
 * random offsets, as libarchive is (lib/libarchive-load.c) and for the
 * same reason: a tool run that does not need it does not load it.
 */

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#include "dlopen-note.h"
#include "internal.h"
#include "zstd-load.h"

#define LIBZSTD_SONAME "libzstd.so.1"
/* zstd is the default compression of blksnap-send. */
BS_DLOPEN_NOTE(libzstd_note,
	"[{\"feature\":\"zstd\",\"description\":\"Seekable zstd archives: writing, random access\","
	"\"priority\":\"required\",\"soname\":[\"" LIBZSTD_SONAME "\"]}]");

struct libzstd_fns zs;
static pthread_once_t zs_once = PTHREAD_ONCE_INIT;
static bool zs_loaded;
static char zs_error[512];

static void zs_load(void)
{
	static const struct bs_dlsym syms[] = {
#define F(f) { "ZSTD_" #f, offsetof(struct libzstd_fns, f) },
		ZS_FUNCTIONS(F)
#undef F
	};

	zs_loaded = !bs_dlopen_table(LIBZSTD_SONAME, RTLD_LAZY | RTLD_LOCAL,
				     syms, BS_ARRAY_SIZE(syms), &zs, sizeof(zs),
				     "zstd archives need libzstd, which did not load (Debian: apt-get install libzstd1)",
				     zs_error, sizeof(zs_error));
}

int zs_ready(void)
{
	pthread_once(&zs_once, zs_load);
	return zs_loaded ? 0 : bs_fail("%s", zs_error);
}
