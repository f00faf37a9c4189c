// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libarchive is loaded when it is first needed, not when a program
 * linked with libblksnap starts, as libcurl is (lib/remote-curl.c):
 * Debian's brings libxml2, ICU, libstdc++, nettle and the compressors,
 * which took 2 ms of every run of every tool to load, relocate and
 * unload, a fifth of a 1% incremental of a 2 GiB image.  An uncompressed
 * send from a manifest file does not need it at all (lib/writer.c's
 * native entries, read_manifest_file() in lib/archive-read.c).
 */

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#include "dlopen-note.h"
#include "internal.h"
#include "libarchive-load.h"

#define LIBARCHIVE_SONAME "libarchive.so.13"
/* Every compressed archive, and every archive read, needs it. */
BS_DLOPEN_NOTE(libarchive_note,
	"[{\"feature\":\"archive\",\"description\":\"Image archives: tar, compression\","
	"\"priority\":\"required\",\"soname\":[\"" LIBARCHIVE_SONAME "\"]}]");

struct libarchive_fns la;
static pthread_once_t la_once = PTHREAD_ONCE_INIT;
static bool la_loaded;
static char la_error[512];

static void la_load(void)
{
	static const struct bs_dlsym syms[] = {
#define F(f) { "archive_" #f, offsetof(struct libarchive_fns, f) },
		LA_FUNCTIONS(F)
#undef F
		{ "archive_errno", offsetof(struct libarchive_fns, error_number) },
	};

	/* Lazy binding, as when it was loaded with the program. */
	la_loaded = !bs_dlopen_table(LIBARCHIVE_SONAME, RTLD_LAZY | RTLD_LOCAL,
				     syms, BS_ARRAY_SIZE(syms), &la, sizeof(la),
				     "archives need libarchive, which did not load (Debian: apt-get install libarchive13)",
				     la_error, sizeof(la_error));
}

int la_ready(void)
{
	pthread_once(&la_once, la_load);
	return la_loaded ? 0 : bs_fail("%s", la_error);
}
