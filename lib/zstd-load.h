/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libzstd, loaded when it is first needed (a zstd archive written, or
 * one read at random offsets: lib/zstd-seekable.c) and called through a
 * table: zs.compress2() is ZSTD_compress2().  As libarchive
 * (lib/libarchive-load.c), so that a tool that does not compress with
 * zstd does not pay for loading it.  Not installed.
 */
#ifndef BLKSNAP_ZSTD_LOAD_H
#define BLKSNAP_ZSTD_LOAD_H

#include <zstd.h>

/* The functions of libzstd in use, without their ZSTD_ prefix. */
#define ZS_FUNCTIONS(F) \
	F(createCCtx) F(freeCCtx) F(CCtx_setParameter) F(compress2) \
	F(compressBound) F(isError) F(getErrorName) \
	F(createDCtx) F(freeDCtx) F(decompressDCtx) F(decompressStream) \
	F(findFrameCompressedSize) F(getFrameContentSize)

struct libzstd_fns {
#define ZS_MEMBER(f) __typeof__(ZSTD_##f) *f;
	ZS_FUNCTIONS(ZS_MEMBER)
#undef ZS_MEMBER
};

/* Filled by zs_ready(); a context exists only once it is. */
extern struct libzstd_fns zs;

/* Loads libzstd once (concurrent callers wait for the first); 0 or -1. */
int zs_ready(void);

#endif
