// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blksnap-restore: restore a chain of archives into a device or an image
 * file, verify it, or list what the archives hold.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blksnap/blksnap.h"
#include "cli.h"

static __attribute__((__noreturn__)) void usage(void)
{
	printf("Usage:\n"
	       " %1$s [options] --output TARGET ARCHIVE...\n"
	       " %1$s [options] --verify ARCHIVE...\n"
	       " %1$s --list ARCHIVE...\n"
	       "\n"
	       "Restore a full archive and its incrementals, in order, into a block\n"
	       "device or an image file, checking every byte against the archives'\n"
	       "hashes; or only verify the chain; or list what each archive holds.\n"
	       "An ARCHIVE of - is read from standard input.  Archives that arrive on\n"
	       "pipes are read once: into a device, they are written while verified.\n"
	       "\n"
	       "Options:\n"
	       " -o, --output TARGET    the device or image file to restore into\n"
	       "                          (also UUID=, LABEL=, PARTUUID=, PARTLABEL=)\n"
	       "     --verify           read and check the whole chain, write nothing\n"
	       " -l, --list             describe each archive from its manifest\n",
	       program_invocation_short_name);
	cli_help_tail(23, CLI_HELP_REMOTE, "blksnap-restore(8)");
}

enum mode { MODE_NONE, MODE_RESTORE, MODE_VERIFY, MODE_LIST };

enum { OPT_VERIFY = 256 };

struct args {
	enum mode mode;
	const char *target;
	const char *const *chain;
	size_t count;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "list", no_argument, NULL, 'l' },
		CLI_COMMON_LONGOPTS,
		CLI_REMOTE_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static const struct cli_alias aliases[] = {
		{ 't', "-t", OPT_VERIFY },
		{ 0 }
	};
	static const cli_group_t exclusive[] = {
		{ 'o', OPT_VERIFY, 'l' },
		{ 0 }
	};
	struct cli_parser p = {
		.shortopts = ":o:lt" CLI_COMMON_SHORTOPTS,
		.longopts = longopts, .aliases = aliases, .exclusive = exclusive,
		.remote = true, .usage = usage,
	};
	int c, stdin_seen = 0;

	while ((c = cli_getopt(argc, argv, &p)) != -1) {
		switch (c) {
		case 'o': a->mode = MODE_RESTORE; a->target = optarg; break;
		case OPT_VERIFY: a->mode = MODE_VERIFY; break;
		case 'l': a->mode = MODE_LIST; break;
		}
	}
	if (a->mode == MODE_NONE)
		cli_usage_error("give --output TARGET, --verify or --list");
	if (optind == argc)
		cli_usage_error("no archive given");
	for (c = optind; c < argc; c++) {
		if (strcmp(argv[c], "-"))
			continue;
		if (stdin_seen++)
			cli_usage_error("standard input (-) can hold only one archive of the chain");
		if (isatty(STDIN_FILENO))
			cli_usage_error("the archive would be read from a terminal: pipe it in");
	}
	a->chain = (const char *const *)argv + optind;
	a->count = (size_t)(argc - optind);
}

static void list_one(const char *name, const struct blksnap_manifest *m)
{
	char when[48], size[32], data[32], zero[32];
	time_t t = (time_t)m->created;
	struct tm tm;

	/* A time past gmtime's years is shown as the number it is. */
	if (!gmtime_r(&t, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(when, sizeof(when), "%" PRId64 " seconds after 1970",
			 m->created);
	printf("%s:\n", name);
	if (m->incremental)
		printf("  kind:        incremental, number %" PRIu32 " of its chain\n"
		       "  parent:      %s\n", m->sequence, m->parent_uuid);
	else if (m->sequence)
		printf("  kind:        full, synthetic: point %" PRIu32 " of its chain\n",
		       m->sequence);
	else
		printf("  kind:        full\n");
	printf("  uuid:        %s\n", m->uuid);
	printf("  created:     %s by %s\n", when, m->tool_version);
	printf("  source:      %s", m->source);
	if (m->id.fstype[0])
		printf(" (%s%s%s%s%s)", m->id.fstype,
		       m->id.uuid[0] ? ", UUID " : "", m->id.uuid,
		       m->id.label[0] ? ", label " : "", m->id.label);
	printf("\n  size:        %" PRIu64 " bytes (%s)\n", m->size,
	       cli_human_size(m->size, size, sizeof(size)));
	printf("  data:        %" PRIu64 " bytes (%s) in %" PRIu64 " ranges\n",
	       m->data_bytes, cli_human_size(m->data_bytes, data, sizeof(data)),
	       m->range_count);
	if (m->format_version >= 2)
		printf("  zeros:       %" PRIu64 " bytes (%s) in %" PRIu64 " ranges, not stored\n",
		       m->zero_bytes,
		       cli_human_size(m->zero_bytes, zero, sizeof(zero)),
		       m->zero_range_count);
	printf("  image entry: %s\n", m->image_name);
	printf("  hash block:  %" PRIu32 " bytes, xxh3-64\n", m->hash_block_size);
	printf("  compression: %s\n", m->compression);
	if (m->cbt_generation[0])
		printf("  cbt:         generation %s, snapshot %" PRIu32 "\n",
		       m->cbt_generation, m->cbt_snapshot);
}

static int list(const struct args *a)
{
	int status = EXIT_SUCCESS;
	size_t i;

	for (i = 0; i < a->count; i++) {
		struct blksnap_manifest m;

		if (blksnap_archive_read_manifest(a->chain[i], &m)) {
			fprintf(stderr, "%s: %s\n", program_invocation_short_name,
				blksnap_error());
			status = EXIT_FAILURE;
			continue;
		}
		list_one(a->chain[i], &m);
	}
	return status;
}

static void message(void *ctx, const char *text)
{
	(void)ctx;
	cli_info("%s", text);
}

int main(int argc, char **argv)
{
	struct args a = { .mode = MODE_NONE };
	struct blksnap_restore_opts o = { .message = message };
	struct cli_progress p;

	cli_init();
	parse_args(argc, argv, &a);
	cli_remote_setup();
	if (a.mode == MODE_LIST)
		return list(&a);
	o.chain = a.chain;
	o.count = a.count;
	o.target = a.target;
	cli_progress_start(&p, a.mode == MODE_VERIFY ? "verify" : a.target);
	o.progress = cli_progress_update;
	o.progress_ctx = &p;
	if (blksnap_restore(&o)) {
		cli_progress_end(&p);
		cli_die_lib();
	}
	cli_progress_end(&p);
	if (a.mode == MODE_VERIFY)
		cli_info("%zu archive(s) verified", a.count);
	else
		cli_info("%zu archive(s) restored into %s", a.count, a.target);
	return EXIT_SUCCESS;
}
