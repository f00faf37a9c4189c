/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the fuzzing harnesses of tests/fuzz/ share.  Each fuzz-NAME.c
 * defines LLVMFuzzerTestOneInput for one parser of outside input; it is
 * linked with libFuzzer (configure --enable-fuzzing) into fuzz-NAME, and
 * with driver.c into replay-NAME, which make check runs on the corpus
 * and the past crash inputs.  A harness aborts when the parser breaks a
 * promise it can check (what is read back must write out the same);
 * the sanitizers catch the rest.
 */
#ifndef BLKSNAP_FUZZ_H
#define BLKSNAP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "blksnap/blksnap.h"
#include "internal.h"	/* the internal parsers under test */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A memory file holding @data, at offset 0, and its name in @path
 * (/proc/self/fd/N) for the functions that take a file name; -1 on
 * failure.  The caller closes it.
 */
int fuzz_memfd(const void *data, size_t size, char path[32]);

/* @data as a NUL-terminated string (cut at an inner NUL); free it. */
char *fuzz_string(const uint8_t *data, size_t size);

/*
 * Opens the archive in the file @path as blksnap-restore does and reads
 * it to the end: the image with its hash index, or a manifest file's
 * index.
 */
void fuzz_read_archive(const char *path);

/* Stops the run when a checked promise is broken: a finding. */
#define FUZZ_ASSERT(cond)						\
	do {								\
		if (!(cond))						\
			fuzz_abort(__FILE__, __LINE__, #cond);		\
	} while (0)
void fuzz_abort(const char *file, int line, const char *what)
	__attribute__((noreturn));

#endif
