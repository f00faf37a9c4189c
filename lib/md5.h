/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * MD5 (RFC 1321), only to compare a part already uploaded to S3 with
 * the bytes a resumed send makes again: S3 gives a part's MD5 as its
 * ETag.  Not for anything that must resist an adversary.  Not installed.
 */
#ifndef BLKSNAP_MD5_H
#define BLKSNAP_MD5_H

#include <stddef.h>
#include <stdint.h>

struct bs_md5 {
	uint32_t h[4];
	uint64_t len;		/* bytes so far */
	unsigned char buf[64];
};

void bs_md5_init(struct bs_md5 *c);
void bs_md5_update(struct bs_md5 *c, const void *data, size_t len);
/* The digest in lowercase hex, NUL-terminated. */
void bs_md5_hex(struct bs_md5 *c, char out[33]);

#endif
