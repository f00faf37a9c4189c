// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blksnap-send: write a full or incremental image archive of a device or
 * file to standard output or a file.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blksnap/blksnap.h"
#include "blksnap/snapshot.h"
#include "cli.h"

static __attribute__((__noreturn__)) void usage(void)
{
	printf("Usage:\n"
	       " %1$s [options] --full SOURCE\n"
	       " %1$s [options] --base ARCHIVE SOURCE < RANGES\n"
	       "\n"
	       "Write an image archive of SOURCE (a block device, an image file, or\n"
	       "UUID=, LABEL=, PARTUUID=, PARTLABEL=) to standard output or a file: all of\n"
	       "it, or the ranges listed on standard input as an incremental over\n"
	       "ARCHIVE.\n"
	       "\n"
	       "Options:\n"
	       " -f, --full                 send the whole source\n"
	       " -b, --base ARCHIVE         send an incremental whose parent is ARCHIVE\n"
	       "                              (an archive or its manifest file)\n"
	       " -r, --ranges FILE          read the range list from FILE, not stdin\n"
	       " -o, --output FILE          write the archive to FILE, not stdout\n"
	       " -m, --manifest-out FILE    also write a manifest file (no image)\n"
	       " -c, --compress METHOD      zstd (default), gzip, xz, lz4 or none\n"
	       "     --level N              compression level (zstd 1-22, gzip/xz 0-9, lz4 1-9)\n"
	       " -T, --threads N            zstd and xz threads (default: all CPUs)\n"
	       " -B, --hash-block-size SIZE hash block (default 64K for a full archive;\n"
	       "                              an incremental's divides its base's, chosen\n"
	       "                              from the range list unless given)\n"
	       "     --cbt-generation UUID  record the CBT generation of the source\n"
	       "                              (found by itself for a snapshot image)\n"
	       "     --cbt-snapshot N       record the CBT snapshot number\n"
	       "     --other-filesystem     send an incremental even if SOURCE holds\n"
	       "                              another filesystem UUID than the base's\n"
	       "     --resume               keep what an interrupted send wrote, and\n"
	       "                              continue it (FILE.part, or an s3:// upload)\n"
	       "                              after checking it against SOURCE; -c zstd\n"
	       "                              or none\n",
	       program_invocation_short_name);
	cli_help_tail(27, CLI_HELP_REMOTE, "blksnap-send(8)");
}

enum { OPT_CBT_GENERATION = 256, OPT_CBT_SNAPSHOT, OPT_OTHER_FILESYSTEM, OPT_RESUME };

struct args {
	struct blksnap_send_opts o;
	bool full;
	const char *ranges_file;
	const char *output;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "full", no_argument, NULL, 'f' },
		{ "base", required_argument, NULL, 'b' },
		{ "ranges", required_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "manifest-out", required_argument, NULL, 'm' },
		CLI_COMPRESS_LONGOPTS,
		{ "hash-block-size", required_argument, NULL, 'B' },
		{ "cbt-generation", required_argument, NULL, OPT_CBT_GENERATION },
		{ "cbt-snapshot", required_argument, NULL, OPT_CBT_SNAPSHOT },
		{ "other-filesystem", no_argument, NULL, OPT_OTHER_FILESYSTEM },
		{ "resume", no_argument, NULL, OPT_RESUME },
		CLI_COMMON_LONGOPTS,
		CLI_REMOTE_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static const struct cli_alias aliases[] = {
		{ 'l', "-l", CLI_OPT_LEVEL },
		{ 0 }
	};
	static const cli_group_t exclusive[] = {
		{ 'f', 'b' },
		{ 0 }
	};
	struct cli_parser p = {
		.shortopts = ":fb:r:o:m:c:T:B:l:" CLI_COMMON_SHORTOPTS,
		.longopts = longopts, .aliases = aliases, .exclusive = exclusive,
		.remote = true, .usage = usage,
	};
	struct cli_compress cc;
	int c;
	uint64_t hbs;

	cli_compress_init(&cc, &a->o.compress);
	while ((c = cli_getopt(argc, argv, &p)) != -1) {
		switch (c) {
		case 'f': a->full = true; break;
		case 'b': a->o.base = optarg; break;
		case 'r': a->ranges_file = optarg; break;
		case 'o': a->output = optarg; break;
		case 'm': a->o.manifest_out = optarg; break;
		case 'c': case CLI_OPT_LEVEL: case 'T':
			cli_compress_option(c, optarg, &cc, &a->o.compress);
			break;
		case 'B':
			hbs = cli_parse_size(optarg, "--hash-block-size");
			if (hbs < BLKSNAP_MIN_HASH_BLOCK || hbs > BLKSNAP_MAX_HASH_BLOCK ||
			    (hbs & (hbs - 1)))
				cli_usage_error("--hash-block-size must be a power of two from 4K to 16M");
			a->o.hash_block_size = (uint32_t)hbs;
			break;
		case OPT_CBT_GENERATION:
			if (!blksnap_uuid_valid(optarg))
				cli_usage_error("--cbt-generation: not a UUID: '%s'", optarg);
			a->o.cbt_generation = optarg;
			break;
		case OPT_CBT_SNAPSHOT:
			a->o.cbt_snapshot = (uint32_t)cli_parse_long(optarg,
					"--cbt-snapshot", 0, UINT32_MAX);
			break;
		case OPT_OTHER_FILESYSTEM:
			a->o.other_filesystem = true;
			break;
		case OPT_RESUME:
			a->o.resume = true;
			break;
		}
	}
	if (optind + 1 != argc)
		cli_usage_error(optind == argc ? "no source given" :
				"only one source can be given");
	if (!a->full && !a->o.base)
		cli_usage_error("give either --full or --base ARCHIVE");
	if (a->ranges_file && !a->o.base)
		cli_usage_error("--ranges goes with --base");
	if (a->o.other_filesystem && !a->o.base)
		cli_usage_error("--other-filesystem goes with --base");
	if (a->o.manifest_out && blksnap_is_url(a->o.manifest_out))
		cli_usage_error("--manifest-out writes a local file, not a URL");
	if (a->o.resume && (!a->output || !strcmp(a->output, "-")))
		cli_usage_error("--resume needs --output FILE or an s3:// URL: what went to standard output (a pipe) cannot be taken back, so that send cannot be resumed");
	if (a->o.resume && strcmp(a->o.compress.method, "none") &&
	    strcmp(a->o.compress.method, "zstd"))
		cli_usage_error("--resume: a %s-compressed send cannot be resumed: use -c zstd or -c none",
				a->o.compress.method);
	cli_compress_finish(&cc, &a->o.compress);
	a->o.source = argv[optind];
}

static void read_ranges(const char *file, struct blksnap_ranges *r)
{
	FILE *in = stdin;
	const char *name = "standard input";

	if (file && strcmp(file, "-")) {
		in = fopen(file, "r");
		if (!in)
			cli_die("%s: cannot open: %m", file);
		name = file;
	} else if (isatty(STDIN_FILENO)) {
		cli_usage_error("the range list would be read from a terminal: pipe it in or use --ranges FILE");
	}
	if (blksnap_ranges_read(in, name, r))
		cli_die_lib();
	if (in != stdin)
		fclose(in);
}

/*
 * A snapshot image knows which take it shows: record its CBT generation
 * and snapshot number, so that the next CBT diff can start from here.
 */
static void record_image_cbt(struct args *a)
{
	static char generation[37];
	uint32_t snapshot;
	char *path;
	int ret;

	if (a->o.cbt_generation || blksnap_resolve(a->o.source, &path))
		return;
	ret = blksnap_image_cbt(path, generation, &snapshot);
	free(path);
	if (ret < 0)
		cli_die_lib();
	if (ret == 0)
		return;
	a->o.cbt_generation = generation;
	a->o.cbt_snapshot = snapshot;
	cli_info("%s: a snapshot image: CBT generation %s, snapshot %u",
		 a->o.source, generation, snapshot);
}

/*
 * A resumable send that failed: what it wrote stays for the next run
 * (blksnap_remote_abort() keeps a resumable upload).  The error is kept
 * for cli_die_lib().
 */
static void keep_partial(struct blksnap_output *out,
			 struct blksnap_remote *remote, const char *output,
			 bool uploaded)
{
	char *err = strdup(blksnap_error());

	if (out->tmp_path) {
		fprintf(stderr, "%s: %s\n", program_invocation_short_name,
			err ? err : "send failed");
		blksnap_output_keep(out);
		free(err);
		cli_die("%s.part is kept: run the same command with --resume to continue, or remove it to start over",
			output);
	}
	if (remote || uploaded) {
		fprintf(stderr, "%s: %s\n", program_invocation_short_name,
			err ? err : "send failed");
		blksnap_remote_abort(remote);
		free(err);
		cli_die("%s: the parts uploaded so far are kept (a pending multipart upload): run the same command with --resume to continue",
			output);
	}
	free(err);
}

int main(int argc, char **argv)
{
	struct args a = { .o.out_fd = STDOUT_FILENO };
	struct blksnap_ranges changed;
	struct blksnap_manifest m;
	struct cli_progress progress;
	struct blksnap_output out = { .fd = -1 };
	struct blksnap_remote *remote = NULL;
	char size[32], zero[32];
	uint64_t have = 0;

	cli_init();
	parse_args(argc, argv, &a);
	cli_remote_setup();
	record_image_cbt(&a);
	blksnap_ranges_init(&changed);
	if (a.o.base) {
		read_ranges(a.ranges_file, &changed);
		a.o.changed = &changed;
	}
	if (a.output && blksnap_is_url(a.output)) {
		if ((a.o.resume ? blksnap_remote_create_resumable :
		     blksnap_remote_create)(a.output, cli_remote_opts(), &remote,
					    &a.o.out_fd))
			cli_die_lib();
		a.o.out_name = a.output;
	} else if (a.output && strcmp(a.output, "-") && a.o.resume) {
		if (blksnap_output_resume(&out, a.output, &have))
			cli_die_lib();
		a.o.out_fd = out.fd;
		a.o.out_name = out.tmp_path;
		if (have)
			cli_info("%s: %llu bytes of an interrupted send: checking them against %s, then continuing",
				 out.tmp_path, (unsigned long long)have, a.o.source);
	} else if (a.output && strcmp(a.output, "-")) {
		if (blksnap_output_create(&out, a.output))
			cli_die_lib();
		a.o.out_fd = out.fd;
		a.o.out_name = a.output;
	} else {
		if (isatty(STDOUT_FILENO))
			cli_die("refusing to write an archive to a terminal: redirect standard output or use --output");
		a.o.out_name = "standard output";
	}
	cli_progress_start(&progress, a.o.source);
	a.o.progress = cli_progress_update;
	a.o.progress_ctx = &progress;
	if (blksnap_send(&a.o, &m)) {
		cli_progress_end(&progress);
		/* A failed upload explains a write error better than the error itself. */
		blksnap_remote_status(remote);
		if (a.o.resume)
			keep_partial(&out, remote, a.output, false);
		blksnap_output_abort(&out);
		blksnap_remote_abort(remote);
		cli_die_lib();
	}
	cli_progress_end(&progress);
	if (out.path && blksnap_output_commit(&out))
		cli_die_lib();
	if (remote && blksnap_remote_commit(remote)) {
		if (a.o.resume)
			keep_partial(&out, NULL, a.output, true);
		cli_die_lib();
	}
	if (!remote && out.fd < 0 && a.o.out_fd == STDOUT_FILENO && close(STDOUT_FILENO) < 0)
		cli_die("write error on standard output: %m");
	cli_info("%s archive %s of %s: %s of data in %llu ranges, %s of zeros in %llu ranges (not stored)",
		 m.incremental ? "incremental" : "full", m.uuid, a.o.source,
		 cli_human_size(m.data_bytes, size, sizeof(size)),
		 (unsigned long long)m.range_count,
		 cli_human_size(m.zero_bytes, zero, sizeof(zero)),
		 (unsigned long long)m.zero_range_count);
	blksnap_ranges_free(&changed);
	return EXIT_SUCCESS;
}
