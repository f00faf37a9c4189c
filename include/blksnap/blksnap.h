/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libblksnap: everything the blksnap tools are made of. */
#ifndef BLKSNAP_BLKSNAP_H
#define BLKSNAP_BLKSNAP_H

#include "error.h"
#include "ranges.h"
#include "source.h"
#include "manifest.h"
#include "hashindex.h"
#include "archive.h"
#include "backup.h"
#include "cbtdump.h"
#include "output.h"
#include "remote.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *blksnap_version(void);

#ifdef __cplusplus
}
#endif
#endif
