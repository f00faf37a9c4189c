// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blksnap-diff: the range list of what changed since a backup, from a
 * CBT dump or by hashing the source (--scan).
 */

#include <fcntl.h>
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
	       " %1$s [options] ARCHIVE... < CBT-DUMP\n"
	       " %1$s [options] --scan SOURCE ARCHIVE...\n"
	       "\n"
	       "Write the range list of what changed since the last of a chain of\n"
	       "archives (full first; manifest files do as well): from a CBT dump\n"
	       "made by blksnap-cbt, or by comparing every block of SOURCE with\n"
	       "the chain's hash indexes.\n"
	       "\n"
	       "Options:\n"
	       "     --scan SOURCE          hash SOURCE and compare it with the chain\n"
	       "     --cbt FILE             read the CBT dump from FILE, not stdin\n"
	       " -F, --fallback MODE        when the dump cannot tell what changed:\n"
	       "                              'full' (default) lists the whole device,\n"
	       "                              'scan' hashes --source, 'fail' exits 1\n"
	       " -S, --source SOURCE        the source to hash for --fallback=scan\n",
	       program_invocation_short_name);
	cli_help_tail(27, CLI_HELP_REMOTE, "blksnap-diff(8) and blksnap-ranges(5)");
}

enum { OPT_SCAN = 256, OPT_CBT };

enum fallback { FALLBACK_FULL, FALLBACK_SCAN, FALLBACK_FAIL };

struct args {
	const char *scan;
	const char *cbt_file;
	const char *source;
	enum fallback fallback;
	const char *const *chain;
	size_t count;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "scan", required_argument, NULL, OPT_SCAN },
		{ "cbt", required_argument, NULL, OPT_CBT },
		{ "fallback", required_argument, NULL, 'F' },
		{ "source", required_argument, NULL, 'S' },
		CLI_COMMON_LONGOPTS,
		CLI_REMOTE_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static const struct cli_alias aliases[] = {
		{ 's', "-s", OPT_SCAN },
		{ 'c', "-c", OPT_CBT },
		{ 0 }
	};
	/* A scan needs no CBT dump, so nothing to fall back from. */
	static const cli_group_t exclusive[] = {
		{ OPT_SCAN, OPT_CBT },
		{ OPT_SCAN, 'F' },
		{ OPT_SCAN, 'S' },
		{ 0 }
	};
	struct cli_parser p = {
		.shortopts = ":F:S:s:c:" CLI_COMMON_SHORTOPTS,
		.longopts = longopts, .aliases = aliases, .exclusive = exclusive,
		.remote = true, .usage = usage,
	};
	int c;

	while ((c = cli_getopt(argc, argv, &p)) != -1) {
		switch (c) {
		case OPT_SCAN: a->scan = optarg; break;
		case OPT_CBT: a->cbt_file = optarg; break;
		case 'S': a->source = optarg; break;
		case 'F':
			if (!strcmp(optarg, "full"))
				a->fallback = FALLBACK_FULL;
			else if (!strcmp(optarg, "scan"))
				a->fallback = FALLBACK_SCAN;
			else if (!strcmp(optarg, "fail"))
				a->fallback = FALLBACK_FAIL;
			else
				cli_usage_error("--fallback: expected full, scan or fail, got '%s'",
						optarg);
			break;
		}
	}
	if (optind == argc)
		cli_usage_error("no base archive given");
	if (a->fallback == FALLBACK_SCAN && !a->source)
		cli_usage_error("--fallback=scan needs --source SOURCE");
	a->chain = (const char *const *)argv + optind;
	a->count = (size_t)(argc - optind);
}

static void scan(const char *source, const struct args *a,
		 struct blksnap_ranges *out)
{
	struct cli_progress p;

	cli_progress_start(&p, source);
	if (blksnap_scan(source, a->chain, a->count, out, cli_progress_update, &p)) {
		cli_progress_end(&p);
		cli_die_lib();
	}
	cli_progress_end(&p);
}

/* The chain's order is checked from the manifests; the last is the base. */
static void read_base(const struct args *a, struct blksnap_manifest *base)
{
	struct blksnap_manifest *ms = calloc(a->count, sizeof(*ms));

	if (!ms)
		cli_die("out of memory");
	if (blksnap_chain_read_manifests(a->chain, a->count, ms))
		cli_die_lib();
	*base = ms[a->count - 1];
	free(ms);
}

static void from_cbt(const struct args *a, struct blksnap_ranges *out)
{
	struct blksnap_manifest base;
	struct blksnap_cbt cbt;
	const char *name = "standard input";
	char why[512];
	int fd = STDIN_FILENO, ret;

	read_base(a, &base);
	if (a->cbt_file && strcmp(a->cbt_file, "-")) {
		fd = open(a->cbt_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			cli_die("%s: cannot open: %m", a->cbt_file);
		name = a->cbt_file;
	} else if (isatty(STDIN_FILENO)) {
		cli_usage_error("the CBT dump would be read from a terminal: pipe it in, use --cbt FILE or --scan");
	}
	if (blksnap_cbt_read(fd, name, &cbt))
		cli_die_lib();
	ret = blksnap_cbt_diff(&cbt, &base, out, why, sizeof(why));
	blksnap_cbt_free(&cbt);
	if (ret < 0)
		cli_die_lib();
	if (ret == 0)
		return;
	if (a->fallback == FALLBACK_FAIL)
		cli_die("%s: %s", name, why);
	if (!cli_quiet)
		fprintf(stderr, "%s: %s: %s; %s\n", program_invocation_short_name,
			name, why, a->fallback == FALLBACK_SCAN ?
			"scanning the source instead" : "listing the whole device");
	if (a->fallback == FALLBACK_SCAN) {
		scan(a->source, a, out);
		return;
	}
	out->device_size = base.size;
	if (blksnap_ranges_append(out, 0, base.size))
		cli_die_lib();
}

int main(int argc, char **argv)
{
	struct args a = { .fallback = FALLBACK_FULL };
	struct blksnap_ranges out;
	char size[32];

	cli_init();
	parse_args(argc, argv, &a);
	cli_remote_setup();
	blksnap_ranges_init(&out);
	if (a.scan)
		scan(a.scan, &a, &out);
	else
		from_cbt(&a, &out);
	if (blksnap_ranges_write(stdout, &out))
		cli_die_lib();
	cli_info("%s changed in %zu ranges",
		 cli_human_size(blksnap_ranges_bytes(&out), size, sizeof(size)),
		 out.count);
	blksnap_ranges_free(&out);
	return EXIT_SUCCESS;
}
