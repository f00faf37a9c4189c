/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every blksnap tool shares on its command line: messages, exit
 * codes, number parsing, progress on stderr and the final check of
 * standard output.  Not part of the installed library.
 */
#ifndef BLKSNAP_CLI_H
#define BLKSNAP_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>

#define EXIT_USAGE 2

extern int cli_verbose;		/* -v: count */
extern bool cli_quiet;		/* -q */
extern bool cli_progress_wanted;	/* --progress */

/*
 * Call first: ignores SIGPIPE so that a closed pipe is reported as a
 * write error, and arranges for standard output to be flushed and
 * checked at exit (a failure turns the exit status into 1).
 */
void cli_init(void);

/* The options every tool has: --progress, --quiet, --verbose, --help, --version. */
#define CLI_COMMON_SHORTOPTS "pqvhV"
#define CLI_COMMON_LONGOPTS					\
	{ "progress", no_argument, NULL, 'p' },			\
	{ "quiet", no_argument, NULL, 'q' },			\
	{ "verbose", no_argument, NULL, 'v' },			\
	{ "help", no_argument, NULL, 'h' },			\
	{ "version", no_argument, NULL, 'V' }

/*
 * Handles an option getopt_long returned that the tool does not know
 * itself: the common ones (-h calls @usage, which exits), else a usage
 * error.
 */
void cli_common_option(int c, void (*usage)(void));

/* "PROG (blksnap) VERSION" and exit 0. */
noreturn void cli_version(void);

/* "PROG: MESSAGE" and exit 1; _lib adds the library's last error. */
noreturn void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void cli_die_lib(void);

/* "PROG: MESSAGE", then a hint to --help, and exit 2. */
noreturn void cli_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* "PROG: MESSAGE" when -v was given. */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A size with an optional binary suffix (K, M, G, T; "KiB" also); exits 2 if bad. */
uint64_t cli_parse_size(const char *arg, const char *option);

/* A decimal integer in [min, max]; exits 2 if bad. */
long cli_parse_long(const char *arg, const char *option, long min, long max);

/* Progress on stderr: shown when stderr is a terminal or --progress. */
struct cli_progress {
	bool shown;
	const char *label;
	double start;
	double last;
	uint64_t done;
};

void cli_progress_start(struct cli_progress *p, const char *label);
void cli_progress_update(void *ctx, uint64_t done, uint64_t total);
void cli_progress_end(struct cli_progress *p);

/* "1.50 GiB" into @buf. */
const char *cli_human_size(uint64_t bytes, char *buf, size_t size);

/* Seconds since an arbitrary start, monotonic. */
double cli_now(void);

#endif
