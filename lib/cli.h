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
#include <getopt.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#define EXIT_USAGE 2

struct blksnap_remote_opts;

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
 * An old spelling kept for one release so that scripts keep working:
 * getopt_long returns @old for it (a short letter in the optstring, or
 * the value of a long option not shown in --help), which is handled as
 * @now, with a note on stderr naming the new spelling.
 */
struct cli_alias {
	int old;
	const char *spelling;	/* as users typed it: "-t", "--timeout" */
	int now;
};

/* Options of one group exclude each other; a group ends with 0. */
#define CLI_GROUP_MAX 12	/* options in a group, and groups */
typedef int cli_group_t[CLI_GROUP_MAX];

/*
 * A tool's command line.  @shortopts starts with ':' (so that a missing
 * argument can be told from an unknown option) and ends with
 * CLI_COMMON_SHORTOPTS; @longopts holds CLI_COMMON_LONGOPTS and, with
 * @remote, CLI_REMOTE_LONGOPTS.  @aliases ends with { 0 }, @exclusive
 * with an empty group; either may be NULL.
 */
struct cli_parser {
	const char *shortopts;
	const struct option *longopts;
	const struct cli_alias *aliases;
	const cli_group_t *exclusive;
	bool remote;
	void (*usage)(void) __attribute__((__noreturn__));
	/* Parsing state. */
	int seen[CLI_GROUP_MAX];	/* per exclusive group: the option met */
	unsigned int aliases_used;	/* bit per alias, noted once at the end */
};

/*
 * getopt_long for the blksnap tools: returns the next option of the tool
 * itself (an alias as the option it stands for), or -1 at the end.  The
 * common options and the remote ones are handled here; a missing
 * argument, an unknown option and two options of one exclusive group
 * are usage errors (exit 2).
 */
int cli_getopt(int argc, char **argv, struct cli_parser *p);

/*
 * The end of every --help: the common options (in an option column
 * @width wide after the leading space, as the tool's own), the remote
 * storage options if @flags has CLI_HELP_REMOTE, "See @see." and exit 0.
 * CLI_HELP_QUICK: the tool has no progress to show.
 */
enum { CLI_HELP_REMOTE = 1, CLI_HELP_QUICK = 2 };
noreturn void cli_help_tail(int width, unsigned int flags, const char *see);

/*
 * The remote storage options of the tools that read or write archives
 * (send, restore, diff): add CLI_REMOTE_LONGOPTS to the tool's options,
 * set the parser's remote, and call cli_remote_setup() after parsing.
 */
enum {
	CLI_OPT_S3_ENDPOINT = 0x1000, CLI_OPT_S3_REGION, CLI_OPT_S3_PATH_STYLE,
	CLI_OPT_CACERT, CLI_OPT_INSECURE, CLI_OPT_TIMEOUT, CLI_OPT_RETRIES,
	CLI_OPT_SSH_KEY, CLI_OPT_SSH_KNOWN_HOSTS,
};
#define CLI_REMOTE_LONGOPTS						\
	{ "s3-endpoint", required_argument, NULL, CLI_OPT_S3_ENDPOINT },	\
	{ "s3-region", required_argument, NULL, CLI_OPT_S3_REGION },	\
	{ "s3-path-style", no_argument, NULL, CLI_OPT_S3_PATH_STYLE },	\
	{ "cacert", required_argument, NULL, CLI_OPT_CACERT },		\
	{ "insecure", no_argument, NULL, CLI_OPT_INSECURE },		\
	{ "timeout", required_argument, NULL, CLI_OPT_TIMEOUT },		\
	{ "retries", required_argument, NULL, CLI_OPT_RETRIES },		\
	{ "ssh-key", required_argument, NULL, CLI_OPT_SSH_KEY },		\
	{ "ssh-known-hosts", required_argument, NULL, CLI_OPT_SSH_KNOWN_HOSTS }
/* Makes the remote options the library's defaults (verbose: requests shown). */
void cli_remote_setup(void);

/* The remote options given, for blksnap_remote_create(). */
const struct blksnap_remote_opts *cli_remote_opts(void);

/*
 * The compression options of the tools that write archives (send,
 * merge): -c/--compress METHOD, --level N, -T/--threads N.  Add
 * CLI_COMPRESS_LONGOPTS and "c:T:" to the tool's options, start with
 * cli_compress_init(), hand each of the three to cli_compress_option()
 * and call cli_compress_finish() after parsing: it applies the level
 * and gives zstd and xz all CPUs unless --threads said otherwise.
 */
enum { CLI_OPT_LEVEL = 0x1100 };
#define CLI_COMPRESS_LONGOPTS						\
	{ "compress", required_argument, NULL, 'c' },			\
	{ "level", required_argument, NULL, CLI_OPT_LEVEL },		\
	{ "threads", required_argument, NULL, 'T' }
struct blksnap_compress;
struct cli_compress {
	int level;		/* -1: the method's default */
	int threads;		/* 0: all CPUs */
	bool given;		/* -c was given (else zstd, the default) */
};
void cli_compress_init(struct cli_compress *cc, struct blksnap_compress *c);
void cli_compress_option(int opt, const char *arg, struct cli_compress *cc,
			 struct blksnap_compress *c);
void cli_compress_finish(struct cli_compress *cc, struct blksnap_compress *c);

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

/*
 * The control device of the blksnap module, version-checked; exits 1
 * with the reason in words (module not loaded: how to load it; not root).
 */
int cli_open_control(void);

/*
 * Dies, naming the problem, unless @fd answers this project's VERSION
 * ioctl with its interface version: another release's module, or another
 * vendor's module of the same name (Veeam's blksnap.ko).
 */
void cli_check_control(int fd);

/*
 * The device number of a block device named by path, UUID=, LABEL=,
 * PARTUUID= or PARTLABEL=; *path receives the resolved path (malloc'd).
 * Exits 1 naming the device when it is missing or not a block device.
 */
dev_t cli_block_device(const char *spec, char **path);

/* Seconds since an arbitrary start, monotonic. */
double cli_now(void);

#endif
