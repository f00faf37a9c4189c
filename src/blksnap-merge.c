// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blksnap-merge: merge a chain of archives into a synthetic full archive
 * of its last point, or fold the oldest incremental into the full.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blksnap/blksnap.h"
#include "cli.h"

static __attribute__((__noreturn__)) void usage(void)
{
	printf("Usage:\n"
	       " %1$s [options] --output FILE ARCHIVE...\n"
	       " %1$s [options] --fold FULL INCREMENTAL [LATER...]\n"
	       "\n"
	       "Merge a full archive and its incrementals, in order, into one full\n"
	       "archive of the chain's last point, without the source device; or\n"
	       "fold the first incremental into the full archive, then remove it.\n"
	       "\n"
	       "Options:\n"
	       " -o, --output FILE          write the merged archive to FILE\n"
	       "     --fold                 merge FULL and INCREMENTAL into a full\n"
	       "                              archive that replaces FULL, then remove\n"
	       "                              INCREMENTAL (LATER: checked to follow)\n"
	       " -m, --manifest-out FILE    also write a manifest file (no image)\n"
	       " -c, --compress METHOD      zstd (default), gzip, xz, lz4 or none\n"
	       "     --level N              compression level (zstd 1-22, gzip/xz 0-9, lz4 1-9)\n"
	       " -T, --threads N            zstd and xz threads (default: all CPUs)\n",
	       program_invocation_short_name);
	cli_help_tail(27, CLI_HELP_REMOTE, "blksnap-merge(8)");
}

enum { OPT_FOLD = 256 };

struct args {
	struct blksnap_merge_opts o;
	bool fold;
	const char *const *chain;
	size_t count;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "fold", no_argument, NULL, OPT_FOLD },
		{ "manifest-out", required_argument, NULL, 'm' },
		CLI_COMPRESS_LONGOPTS,
		CLI_COMMON_LONGOPTS,
		CLI_REMOTE_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static const cli_group_t exclusive[] = {
		{ 'o', OPT_FOLD },
		{ 0 }
	};
	struct cli_parser p = {
		.shortopts = ":o:m:c:T:" CLI_COMMON_SHORTOPTS,
		.longopts = longopts, .exclusive = exclusive,
		.remote = true, .usage = usage,
	};
	struct cli_compress cc;
	int c, i;

	cli_compress_init(&cc, &a->o.compress);
	while ((c = cli_getopt(argc, argv, &p)) != -1) {
		switch (c) {
		case 'o': a->o.output = optarg; break;
		case OPT_FOLD: a->fold = true; break;
		case 'm': a->o.manifest_out = optarg; break;
		case 'c': case CLI_OPT_LEVEL: case 'T':
			cli_compress_option(c, optarg, &cc, &a->o.compress);
			break;
		}
	}
	if (!a->o.output && !a->fold)
		cli_usage_error("give --output FILE or --fold");
	if (optind == argc)
		cli_usage_error("no archive given");
	if (a->fold && argc - optind < 2)
		cli_usage_error("--fold needs the full archive and its first incremental");
	for (i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "-"))
			cli_usage_error("the full archive is read twice: give files, not standard input");
		if (a->fold && i < optind + 2 && blksnap_is_url(argv[i]))
			cli_usage_error("--fold replaces and removes local files, not URLs: '%s'",
					argv[i]);
	}
	if (a->o.output && blksnap_is_url(a->o.output))
		cli_usage_error("--output writes a local file, not a URL");
	if (a->o.manifest_out && blksnap_is_url(a->o.manifest_out))
		cli_usage_error("--manifest-out writes a local file, not a URL");
	cli_compress_finish(&cc, &a->o.compress);
	a->chain = (const char *const *)argv + optind;
	a->count = (size_t)(argc - optind);
	a->o.chain = a->chain;
	a->o.count = a->fold ? 2 : a->count;
	if (a->fold)
		a->o.output = a->chain[0];
}

int main(int argc, char **argv)
{
	struct args a = { .fold = false };
	struct blksnap_manifest *ms, m;
	struct cli_progress p;

	cli_init();
	parse_args(argc, argv, &a);
	cli_remote_setup();
	/* With --fold, the incrementals after the two must still follow. */
	ms = calloc(a.count, sizeof(*ms));
	if (!ms)
		cli_die("%s", strerror(ENOMEM));
	if (blksnap_chain_read_manifests(a.chain, a.count, ms))
		cli_die_lib();
	free(ms);
	cli_progress_start(&p, a.o.output);
	a.o.progress = cli_progress_update;
	a.o.progress_ctx = &p;
	if (blksnap_merge(&a.o, &m)) {
		cli_progress_end(&p);
		cli_die_lib();
	}
	cli_progress_end(&p);
	if (a.fold) {
		if (unlink(a.chain[1]) < 0)
			cli_die("%s: folded into %s, but cannot be removed: %s (the chain restores with it or without it)",
				a.chain[1], a.chain[0], strerror(errno));
		cli_info("%s folded into %s, now a full archive of point %u of the chain",
			 a.chain[1], a.chain[0], m.sequence);
	} else {
		cli_info("%zu archive(s) merged into %s, a full archive of point %u of the chain",
			 a.count, a.o.output, m.sequence);
	}
	return EXIT_SUCCESS;
}
