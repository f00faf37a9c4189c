/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A minimal TAP producer for the C unit tests. */
#ifndef BLKSNAP_TAP_H
#define BLKSNAP_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count, tap_failed;

#define ok(cond, ...)							\
	do {								\
		int tap_ok_ = !!(cond);					\
		tap_count++;						\
		if (!tap_ok_)						\
			tap_failed++;					\
		printf("%sok %d - ", tap_ok_ ? "" : "not ", tap_count);\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		if (!tap_ok_)						\
			printf("# failed at %s:%d: %s\n", __FILE__,	\
			       __LINE__, #cond);			\
	} while (0)

/* Passes when @call fails and the library's message contains @needle. */
#define fails_with(call, needle, ...)					\
	do {								\
		int tap_r_ = (call);					\
		const char *tap_m_ = blksnap_error();			\
		ok(tap_r_ < 0 && strstr(tap_m_, (needle)), __VA_ARGS__);\
		if (tap_r_ >= 0 || !strstr(tap_m_, (needle)))		\
			printf("# returned %d, message: %s\n", tap_r_,	\
			       tap_m_);					\
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
