/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libblksnap: send, scan and restore archives of block devices, list
 * them, on local files or remote storage; <blksnap/control.h> and
 * <blksnap/snapshot.h> drive the kernel module.
 */
#ifndef BLKSNAP_BLKSNAP_H
#define BLKSNAP_BLKSNAP_H

#include "error.h"
#include "ranges.h"
#include "source.h"
#include "manifest.h"
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
