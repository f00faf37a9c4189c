/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Error reporting of libblksnap.
 *
 * A function that fails returns -1 (or NULL) and leaves a message for
 * the calling thread that names the thing and the reason, ready to be
 * printed after the program's name.  The message stays until the next
 * failure in the same thread.
 */
#ifndef BLKSNAP_ERROR_H
#define BLKSNAP_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* The message of the last failure in this thread ("" if none). */
const char *blksnap_error(void);

/* The errno value behind the last failure (0 when not a system error). */
int blksnap_error_errno(void);

#ifdef __cplusplus
}
#endif
#endif
