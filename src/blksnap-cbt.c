// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blksnap-cbt: the change tracking of the blksnap module, from the
 * command line: attach and detach trackers, describe a device's tracking,
 * write its CBT dump, mark ranges as changed, save a device's history to a
 * state file and load it back (blksnap-cbt-state(5)).
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "blksnap/blksnap.h"
#include "blksnap/control.h"
#include "cbt-device.h"
#include "cbt-state.h"
#include "cli.h"

/* Exit status of a load refused: the device is tracked, with a new generation. */
#define EXIT_REFUSED 3

#define STATE_DIR "/var/lib/blksnap/cbt"
#define CONFIG_FILE "/etc/blksnap/cbt.conf"

static __attribute__((__noreturn__)) void usage(void)
{
	printf("Usage:\n"
	       " %1$s [options] DEVICE > DUMP\n"
	       " %1$s --info [--since N] DEVICE\n"
	       " %1$s --ranges --since N [--current] DEVICE\n"
	       " %1$s --mark-dirty DEVICE < RANGES\n"
	       " %1$s --attach DEVICE | --detach DEVICE | --list\n"
	       " %1$s --save | --load | --reserve [--state-file FILE | --state-dir DIR]\n"
	       "      [--in-place] DEVICE\n"
	       " %1$s --save-all | --load-all [--config FILE] [--state-dir DIR]\n"
	       "\n"
	       "Change-block tracking of the blksnap module: write the CBT dump of a\n"
	       "tracked DEVICE (path, UUID=, LABEL=, PARTUUID=, PARTLABEL=) for\n"
	       "blksnap-diff, describe its tracking, mark ranges as changed, start\n"
	       "and stop tracking devices, keep a device's history across a module\n"
	       "reload or a reboot in a state file. A load that is refused leaves\n"
	       "DEVICE tracked with a new generation and exits with status 3.\n"
	       "\n"
	       "Options:\n"
	       " -o, --output FILE    write the dump to FILE, not standard output\n"
	       "     --current        the live map, not the one frozen at the last snapshot\n"
	       " -i, --info           describe DEVICE's change tracking\n"
	       "     --since N        with --info: count the bytes changed since snapshot N\n"
	       "     --ranges         with --since N: write the range list of the bytes changed\n"
	       "                      since snapshot N (at the sub-block size where the\n"
	       "                      module keeps the detail)\n"
	       "     --mark-dirty     mark the ranges listed on standard input as changed\n"
	       " -a, --attach         start tracking DEVICE (a new, empty history)\n"
	       " -d, --detach         stop tracking DEVICE (its history is lost)\n"
	       " -l, --list           list the tracked devices\n"
	       "     --save           save DEVICE's history to its state file\n"
	       "     --load           give DEVICE back the history of its state file\n"
	       "     --reserve        create DEVICE's state file on DEVICE itself, for --in-place\n"
	       "     --state-file FILE\n"
	       "                      the state file (default: named after DEVICE's identity\n"
	       "                      in the state directory)\n"
	       "     --state-dir DIR  the state directory (default " STATE_DIR ")\n"
	       "     --in-place       the state file is on DEVICE: read and write it through\n"
	       "                      DEVICE at the file's blocks (made by --reserve)\n"
	       "     --save-all       --save every device listed in the configuration\n"
	       "     --load-all       --load every device listed in the configuration\n"
	       "     --config FILE    the device list (default " CONFIG_FILE ")\n",
	       program_invocation_short_name);
	cli_help_tail(21, CLI_HELP_QUICK, "blksnap-cbt(8) and blksnap-cbt(5)");
}

enum mode {
	MODE_DUMP, MODE_INFO, MODE_RANGES, MODE_MARK, MODE_ATTACH, MODE_DETACH, MODE_LIST,
	MODE_SAVE, MODE_LOAD, MODE_RESERVE, MODE_SAVE_ALL, MODE_LOAD_ALL,
};

enum {
	OPT_CURRENT = 256, OPT_SINCE, OPT_MARK_DIRTY, OPT_SAVE, OPT_LOAD,
	OPT_RESERVE, OPT_STATE_FILE, OPT_STATE_DIR, OPT_IN_PLACE, OPT_SAVE_ALL,
	OPT_LOAD_ALL, OPT_CONFIG, OPT_RANGES,
};

struct args {
	enum mode mode;
	bool current;
	bool in_place;
	long since;		/* -1: not asked */
	const char *output;
	const char *device;
	const char *state_file;
	const char *state_dir;
	const char *config;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "current", no_argument, NULL, OPT_CURRENT },
		{ "info", no_argument, NULL, 'i' },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "ranges", no_argument, NULL, OPT_RANGES },
		{ "mark-dirty", no_argument, NULL, OPT_MARK_DIRTY },
		{ "attach", no_argument, NULL, 'a' },
		{ "detach", no_argument, NULL, 'd' },
		{ "list", no_argument, NULL, 'l' },
		{ "save", no_argument, NULL, OPT_SAVE },
		{ "load", no_argument, NULL, OPT_LOAD },
		{ "reserve", no_argument, NULL, OPT_RESERVE },
		{ "state-file", required_argument, NULL, OPT_STATE_FILE },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "in-place", no_argument, NULL, OPT_IN_PLACE },
		{ "save-all", no_argument, NULL, OPT_SAVE_ALL },
		{ "load-all", no_argument, NULL, OPT_LOAD_ALL },
		{ "config", required_argument, NULL, OPT_CONFIG },
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static const struct cli_alias aliases[] = {
		{ 'c', "-c", OPT_CURRENT },
		{ 's', "-s", OPT_SINCE },
		{ 'm', "-m", OPT_MARK_DIRTY },
		{ 0 }
	};
	static const cli_group_t exclusive[] = {
		{ 'i', OPT_RANGES, OPT_MARK_DIRTY, 'a', 'd', 'l', OPT_SAVE, OPT_LOAD,
		  OPT_RESERVE, OPT_SAVE_ALL, OPT_LOAD_ALL },
		{ OPT_STATE_FILE, OPT_STATE_DIR },
		{ 0 }
	};
	struct cli_parser p = {
		.shortopts = ":o:iadlcs:m" CLI_COMMON_SHORTOPTS,
		.longopts = longopts, .aliases = aliases, .exclusive = exclusive,
		.usage = usage,
	};
	int c;

	while ((c = cli_getopt(argc, argv, &p)) != -1) {
		switch (c) {
		case 'o': a->output = optarg; break;
		case OPT_CURRENT: a->current = true; break;
		case 'i': a->mode = MODE_INFO; break;
		case OPT_RANGES: a->mode = MODE_RANGES; break;
		case OPT_SINCE: a->since = cli_parse_long(optarg, "--since", 0, 255); break;
		case OPT_MARK_DIRTY: a->mode = MODE_MARK; break;
		case 'a': a->mode = MODE_ATTACH; break;
		case 'd': a->mode = MODE_DETACH; break;
		case 'l': a->mode = MODE_LIST; break;
		case OPT_SAVE: a->mode = MODE_SAVE; break;
		case OPT_LOAD: a->mode = MODE_LOAD; break;
		case OPT_RESERVE: a->mode = MODE_RESERVE; break;
		case OPT_SAVE_ALL: a->mode = MODE_SAVE_ALL; break;
		case OPT_LOAD_ALL: a->mode = MODE_LOAD_ALL; break;
		case OPT_STATE_FILE: a->state_file = optarg; break;
		case OPT_STATE_DIR: a->state_dir = optarg; break;
		case OPT_IN_PLACE: a->in_place = true; break;
		case OPT_CONFIG: a->config = optarg; break;
		}
	}
	if (a->in_place && a->mode != MODE_SAVE && a->mode != MODE_LOAD)
		cli_usage_error("--in-place goes with --save or --load");
	if ((a->state_file || a->state_dir) && a->mode != MODE_SAVE &&
	    a->mode != MODE_LOAD && a->mode != MODE_RESERVE &&
	    a->mode != MODE_SAVE_ALL && a->mode != MODE_LOAD_ALL)
		cli_usage_error("--state-file and --state-dir go with --save, --load or --reserve");
	if (a->config && a->mode != MODE_SAVE_ALL && a->mode != MODE_LOAD_ALL)
		cli_usage_error("--config goes with --save-all or --load-all");
	if (a->state_file && (a->mode == MODE_SAVE_ALL || a->mode == MODE_LOAD_ALL))
		cli_usage_error("--state-file names one device's file: use --state-dir with --save-all and --load-all");
	if (a->mode == MODE_LIST || a->mode == MODE_SAVE_ALL || a->mode == MODE_LOAD_ALL) {
		if (optind != argc)
			cli_usage_error("%s takes no device", a->mode == MODE_LIST ? "--list" :
					a->mode == MODE_SAVE_ALL ? "--save-all" : "--load-all");
		return;
	}
	if (optind + 1 != argc)
		cli_usage_error(optind == argc ? "no device given" :
				"only one device can be given");
	if (a->since >= 0 && a->mode != MODE_INFO && a->mode != MODE_RANGES)
		cli_usage_error("--since goes with --info or --ranges");
	if (a->mode == MODE_RANGES && a->since < 0)
		cli_usage_error("--ranges needs --since N");
	if (a->output && a->mode != MODE_DUMP)
		cli_usage_error("--output goes with writing a dump");
	a->device = argv[optind];
}

static noreturn void die_ioctl(const char *path, int err, const char *what)
{
	if (err == -ENOENT)
		cli_die("%s: not tracked: start tracking it with 'blksnap-cbt --attach %s'",
			path, path);
	if (err == -EPERM || err == -EACCES)
		cli_die("%s: %s: permission denied (needs CAP_SYS_ADMIN)", path, what);
	cli_die("%s: %s: %s", path, what, strerror(-err));
}

/* Whether the module reads the sub-block detail (UAPI 1.4). */
static bool module_has_fine(int fd)
{
	struct blksnap_version v;

	return !blksnap_ctl_version(fd, &v) && (v.features & BLKSNAP_FEATURE_CBT_FINE);
}

/*
 * Reads the detail of the map just read into @c (see read_tracking).
 * Returns 0 when read (c->sub_size 0 if the module keeps none), 1 when
 * it raced with a snapshot (read both again), and 2 when the module
 * predates UAPI 1.4.
 */
static int read_fine(int fd, dev_t dev, const char *path, bool current,
		     const struct blksnap_cbt_info *info, struct blksnap_cbt *c)
{
	struct blksnap_cbt_fine_entry *e;
	uint32_t sub = 0, snap = 0;
	uint8_t gen[BLKSNAP_UUID_SIZE];
	size_t n, i;
	int ret;

	free(c->fine);
	c->fine = NULL;
	c->fine_count = 0;
	c->sub_size = 0;
	ret = blksnap_ctl_cbt_read_fine(fd, dev, current ? BLKSNAP_CBT_MAP_CURRENT : 0,
					info->block_count, &sub, &snap, &e, &n, gen);
	if (ret == -EOPNOTSUPP)
		return 2;
	if (ret == -ESTALE)
		return 1;
	if (ret == -EPROTO)
		cli_die("%s: the module's sub-block detail breaks its interface (entries out of order or past the cursor, or a bad sub-block size)",
			path);
	if (ret)
		die_ioctl(path, ret, "cannot read the sub-block detail");
	if (snap != info->snap_number ||
	    memcmp(gen, c->generation, sizeof(gen))) {
		free(e);
		return 1;
	}
	if (sub >= info->block_size) {
		free(e);	/* no detail: every block changed as a whole */
		return 0;
	}
	if (info->block_size / sub > BLKSNAP_CBT_SUBBLOCKS) {
		free(e);
		cli_die("%s: the module's sub-block size %" PRIu32 " splits a block of %" PRIu32 " bytes in more than %d",
			path, sub, info->block_size, BLKSNAP_CBT_SUBBLOCKS);
	}
	c->fine = calloc(n ? n : 1, sizeof(*c->fine));
	if (!c->fine)
		cli_die("out of memory for %zu detail entries", n);
	for (i = 0; i < n; i++) {
		uint8_t top = 0;
		int j;

		c->fine[i].block = e[i].block;
		memcpy(c->fine[i].sub, e[i].sub, BLKSNAP_CBT_SUBBLOCKS);
		for (j = 0; j < BLKSNAP_CBT_SUBBLOCKS; j++)
			top = e[i].sub[j] > top ? e[i].sub[j] : top;
		/*
		 * The live map goes on changing: a write between the map's
		 * read and the detail's is in the detail only.  Raising the
		 * block's byte says more changed, never less.
		 */
		if (current && e[i].block < info->block_count && top > c->map[e[i].block])
			c->map[e[i].block] = top;
	}
	free(e);
	c->fine_count = n;
	c->sub_size = sub;
	return 0;
}

/*
 * Reads the info, the map and its sub-block detail until none changed
 * while reading: the dump then never claims a snapshot number newer than
 * its map, and the detail is the map's.
 */
static void read_tracking(int fd, dev_t dev, const char *path, bool current,
			  struct blksnap_cbt_info *info, struct blksnap_cbt *c)
{
	bool fine = module_has_fine(fd);
	int attempt, ret;

	for (attempt = 0; attempt < 5; attempt++) {
		struct blksnap_cbt_info after;

		ret = blksnap_ctl_cbt_info(fd, dev, info);
		if (ret)
			die_ioctl(path, ret, "cannot read the tracking state");
		free(c->map);
		c->map = malloc(info->block_count ? info->block_count : 1);
		if (!c->map)
			cli_die("out of memory for a map of %" PRIu64 " blocks",
				(uint64_t)info->block_count);
		ret = blksnap_ctl_cbt_read_map(fd, dev,
					       current ? BLKSNAP_CBT_MAP_CURRENT : 0,
					       0, c->map, info->block_count,
					       c->generation);
		if (ret == -ESTALE)
			continue;
		if (ret)
			die_ioctl(path, ret, "cannot read the change map");
		if (fine) {
			ret = read_fine(fd, dev, path, current, info, c);
			if (ret == 1)
				continue;
			if (ret == 2)
				fine = false;	/* every block as a whole */
		}
		ret = blksnap_ctl_cbt_info(fd, dev, &after);
		if (ret)
			die_ioctl(path, ret, "cannot read the tracking state");
		if (after.snap_number == info->snap_number &&
		    !memcmp(after.generation_id, c->generation, sizeof(c->generation)) &&
		    !memcmp(info->generation_id, c->generation, sizeof(c->generation)))
			break;
	}
	if (attempt == 5)
		cli_die("%s: the tracking state kept changing while being read", path);
	c->device_size = (uint64_t)info->device_capacity << 9;
	c->block_size = info->block_size;
	c->block_count = info->block_count;
	/* Blocks written now carry snap_number; the frozen map is older. */
	c->snapshot = current ? info->snap_number : info->snap_number - 1;
	if (blksnap_cbt_check(path, c))
		cli_die("the module's change map and its sub-block detail disagree: %s",
			blksnap_error());
}

static int write_dump(int fd, dev_t dev, const char *path, const struct args *a)
{
	struct blksnap_output out = { .fd = -1 };
	struct blksnap_cbt_info info;
	struct blksnap_cbt c = { .map = NULL };
	int out_fd = STDOUT_FILENO;
	const char *name = "standard output";

	read_tracking(fd, dev, path, a->current, &info, &c);
	if (a->output && strcmp(a->output, "-")) {
		if (blksnap_output_create(&out, a->output))
			cli_die_lib();
		out_fd = out.fd;
		name = a->output;
	} else if (isatty(STDOUT_FILENO)) {
		cli_die("refusing to write a CBT dump to a terminal: redirect standard output or use --output");
	}
	if (blksnap_cbt_write(out_fd, name, &c)) {
		blksnap_output_abort(&out);
		cli_die_lib();
	}
	if (out.path && blksnap_output_commit(&out))
		cli_die_lib();
	if (!out.path && close(STDOUT_FILENO) < 0)
		cli_die("write error on standard output: %m");
	if (c.sub_size)
		cli_info("%s: dump of snapshot %" PRIu32 ", %" PRIu64 " blocks of %" PRIu32 " bytes, detail in sub-blocks of %" PRIu32 " bytes for %" PRIu64 " of them",
			 path, c.snapshot, c.block_count, c.block_size, c.sub_size,
			 c.fine_count);
	else
		cli_info("%s: dump of snapshot %" PRIu32 ", %" PRIu64 " blocks of %" PRIu32 " bytes",
			 path, c.snapshot, c.block_count, c.block_size);
	blksnap_cbt_free(&c);
	return EXIT_SUCCESS;
}

static int show_info(int fd, dev_t dev, const char *path, const struct args *a)
{
	struct blksnap_cbt_state st;
	struct blksnap_cbt_info info;
	struct blksnap_cbt c = { .map = NULL };
	char gen[37], size[32];

	read_tracking(fd, dev, path, a->current, &info, &c);
	blksnap_cbt_generation_text(&c, gen);
	printf("device:          %s (%u:%u)\n", path, major(dev), minor(dev));
	printf("size:            %" PRIu64 " bytes (%s)\n", c.device_size,
	       cli_human_size(c.device_size, size, sizeof(size)));
	printf("tracking block:  %" PRIu32 " bytes, %" PRIu64 " blocks\n",
	       c.block_size, c.block_count);
	if (c.sub_size)
		printf("sub-blocks:      %" PRIu32 " bytes, detail for %" PRIu64 " blocks (the others changed as a whole)\n",
		       c.sub_size, c.fine_count);
	else
		printf("sub-blocks:      none: every block changed as a whole (%s)\n",
		       module_has_fine(fd) ? "the module keeps no detail" :
		       "the module predates interface 1.4");
	printf("generation:      %s\n", gen);
	printf("snapshot number: %" PRIu32 " (blocks written now are marked %" PRIu32
	       "; the frozen map is of snapshot %" PRIu32 ")\n",
	       info.snap_number, info.snap_number, info.snap_number - 1);
	/* UAPI 1.2; an older module says nothing of it. */
	if (!blksnap_ctl_cbt_state(fd, dev, &st)) {
		printf("writes:          %" PRIu64 " at the attach, %" PRIu64 " now (write and discard requests)\n",
		       (uint64_t)st.writes_at_attach, (uint64_t)st.writes_now);
		printf("history:         %s\n",
		       st.flags & BLKSNAP_CBT_STATE_LOADED ? "loaded from a state file" :
		       st.flags & BLKSNAP_CBT_STATE_NO_IOSTAT ?
		       "since the attach; cannot be saved (no I/O statistics)" :
		       "since the attach");
	}
	if (a->since >= 0) {
		struct blksnap_ranges r;

		blksnap_ranges_init(&r);
		if (blksnap_cbt_changed(&c, (uint32_t)a->since, &r))
			cli_die_lib();
		printf("changed since snapshot %ld: %s in %zu ranges (%s map)\n",
		       a->since,
		       cli_human_size(blksnap_ranges_bytes(&r), size, sizeof(size)),
		       r.count, a->current ? "live" : "frozen");
		blksnap_ranges_free(&r);
	}
	blksnap_cbt_free(&c);
	return EXIT_SUCCESS;
}

/* --ranges --since N: the changed bytes as a range list (blksnap-ranges(5)). */
static int write_ranges(int fd, dev_t dev, const char *path, const struct args *a)
{
	struct blksnap_cbt_info info;
	struct blksnap_cbt c = { .map = NULL };
	struct blksnap_ranges r;

	read_tracking(fd, dev, path, a->current, &info, &c);
	blksnap_ranges_init(&r);
	if (blksnap_cbt_changed(&c, (uint32_t)a->since, &r))
		cli_die_lib();
	if (blksnap_ranges_write(stdout, &r) || fflush(stdout) == EOF)
		cli_die("write error on standard output: %m");
	cli_info("%s: %zu ranges changed since snapshot %ld (%s map, %s)", path,
		 r.count, a->since, a->current ? "live" : "frozen",
		 c.sub_size ? "with sub-block detail" : "whole blocks");
	blksnap_ranges_free(&r);
	blksnap_cbt_free(&c);
	return EXIT_SUCCESS;
}

static int mark_dirty(int fd, dev_t dev, const char *path)
{
	struct blksnap_cbt_info info;
	struct blksnap_sectors *sec;
	struct blksnap_ranges r;
	size_t i;
	int ret;

	if (isatty(STDIN_FILENO))
		cli_usage_error("the range list would be read from a terminal: pipe it in");
	ret = blksnap_ctl_cbt_info(fd, dev, &info);
	if (ret)
		die_ioctl(path, ret, "cannot read the tracking state");
	blksnap_ranges_init(&r);
	if (blksnap_ranges_read(stdin, "standard input", &r) ||
	    blksnap_ranges_check_size(&r, "standard input",
				      (uint64_t)info.device_capacity << 9))
		cli_die_lib();
	sec = calloc(r.count ? r.count : 1, sizeof(*sec));
	if (!sec)
		cli_die("out of memory");
	/* Bytes to whole sectors, rounded outwards: never fewer marked. */
	for (i = 0; i < r.count; i++) {
		uint64_t first = r.v[i].offset >> 9;
		uint64_t end = (r.v[i].offset + r.v[i].length + 511) >> 9;

		sec[i].offset = first;
		sec[i].count = end - first;
	}
	ret = blksnap_ctl_cbt_mark_dirty(fd, dev, sec, r.count);
	if (ret)
		die_ioctl(path, ret, "cannot mark the ranges");
	cli_info("%s: %zu ranges marked as changed", path, r.count);
	free(sec);
	blksnap_ranges_free(&r);
	return EXIT_SUCCESS;
}

static int list_trackers(int fd)
{
	unsigned int total = 0, i;
	dev_t *devs;
	int ret = blksnap_ctl_tracker_list(fd, NULL, 0, &total);

	if (ret)
		cli_die("cannot list the tracked devices: %s", strerror(-ret));
	devs = calloc(total ? total : 1, sizeof(*devs));
	if (!devs)
		cli_die("out of memory");
	ret = blksnap_ctl_tracker_list(fd, devs, total, &total);
	if (ret)
		cli_die("cannot list the tracked devices: %s", strerror(-ret));
	for (i = 0; i < total; i++) {
		char name[256];

		cd_kernel_name(devs[i], name, sizeof(name));
		printf("%u:%u\t%s%s\n", major(devs[i]), minor(devs[i]),
		       name[0] ? "/dev/" : "", name);
	}
	free(devs);
	return EXIT_SUCCESS;
}

/* ---- State files (blksnap-cbt-state(5)) ---- */

/* The state file of the device of identity @id: --state-file, or under the directory. */
static char *state_path(const struct args *a, const struct cs_identity *id)
{
	const char *dir = a->state_dir ? a->state_dir : STATE_DIR;
	char name[160], *path;

	if (a->state_file)
		return strdup(a->state_file);
	if (cs_file_name(id, name, sizeof(name)))
		cli_die("%s: no name for its state file: %s: use --state-file", id->path,
			cs_error());
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		cli_die("out of memory");
	return path;
}

/* The state directory, with its parents, unless --state-file names the file. */
static void make_state_dir(const struct args *a)
{
	char *dir, *p;

	if (a->state_file)
		return;
	dir = strdup(a->state_dir ? a->state_dir : STATE_DIR);
	if (!dir)
		cli_die("out of memory");
	for (p = dir + 1; ; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			cli_die("%s: cannot create it: %m", dir);
		*p = c;
		if (!c)
			break;
	}
	free(dir);
}

static void identity_of(const char *path, dev_t dev, struct cs_identity *id)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		cli_die("%s: %m", path);
	if (cd_identity(fd, path, dev, id))
		cli_die("%s", cs_error());
	close(fd);
}

static void *aligned_alloc_or_die(uint64_t size)
{
	void *buf;

	if (size > SIZE_MAX || posix_memalign(&buf, CS_HEADER_SIZE, (size_t)size))
		cli_die("out of memory for a state file of %" PRIu64 " bytes", size);
	memset(buf, 0, (size_t)size);
	return buf;
}

/* The extents of an in-place state file @file, @need bytes of it. */
static void inplace_extents(const char *file, uint64_t need, struct cd_extent **ext,
			    size_t *count)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		cli_die("%s: %m%s", file, errno == ENOENT ?
			": the in-place mode needs a file made by 'blksnap-cbt --reserve'" : "");
	if (cd_file_extents(fd, file, need, ext, count))
		cli_die("%s", cs_error());
	close(fd);
}

/*
 * A save that fails must not leave an older state behind: it would load
 * at the next boot as if nothing had been written since.
 */
static void invalidate_old(const char *dev, const char *file, bool in_place,
			   const struct cd_extent *ext, size_t count)
{
	if (in_place && ext) {
		void *zero = aligned_alloc_or_die(CS_HEADER_SIZE);

		if (cd_extents_io(dev, ext, count, zero, CS_HEADER_SIZE, true))
			fprintf(stderr, "%s: %s\n", program_invocation_short_name, cs_error());
		free(zero);
	} else if (!in_place && unlink(file) < 0 && errno != ENOENT) {
		fprintf(stderr, "%s: %s: cannot remove the older state: %m\n",
			program_invocation_short_name, file);
	}
}

static int save_state(int ctl, dev_t dev, const char *path, const struct args *a)
{
	struct blksnap_cbt_state before, after;
	struct cd_extent *ext = NULL;
	struct cs_state s = { .flags = 0 };
	size_t count = 0;
	uint64_t size;
	char *file;
	void *buf;
	int attempt, ret;

	ret = blksnap_ctl_cbt_state(ctl, dev, &before);
	if (ret == -ENOTTY)
		cli_die("the loaded blksnap module cannot save a history (interface 1.2 needed): load the module of this release");
	if (ret)
		die_ioctl(path, ret, "cannot read the tracking state");
	if (before.flags & BLKSNAP_CBT_STATE_NO_IOSTAT)
		cli_die("%s: keeps no I/O statistics (queue/iostats is 0): its history cannot be saved, since an untracked write could not be told at the load",
			path);
	identity_of(path, dev, &s.id);
	file = state_path(a, &s.id);
	s.block_count = before.info.block_count;
	size = cs_file_size(s.block_count);
	if (!size)
		cli_die("%s: %" PRIu64 " tracking blocks: too many", path, s.block_count);
	if (a->in_place) {
		inplace_extents(file, size, &ext, &count);
		/* The save's own writes are changes: recorded before the maps are read. */
		struct blksnap_sectors *sec = calloc(count, sizeof(*sec));
		size_t i;

		if (!sec)
			cli_die("out of memory");
		for (i = 0; i < count; i++) {
			sec[i].offset = ext[i].physical >> 9;
			sec[i].count = (ext[i].length + 511) >> 9;
		}
		ret = blksnap_ctl_cbt_mark_dirty(ctl, dev, sec, count);
		free(sec);
		if (ret)
			die_ioctl(path, ret, "cannot mark the state file's blocks as changed");
	} else {
		struct stat st;
		char *dir = strdup(file), *slash;

		if (!dir)
			cli_die("out of memory");
		slash = strrchr(dir, '/');
		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		else
			strcpy(dir, ".");
		make_state_dir(a);
		if (stat(dir, &st) < 0)
			cli_die("%s: %m", dir);
		if (cd_dev_writes_to(st.st_dev, dev))
			cli_die("%s: on %s, or on a partition or device over it: writing it would change the device after its history was read; use 'blksnap-cbt --reserve' and --in-place",
				file, path);
		free(dir);
	}

	s.map = malloc(s.block_count ? s.block_count : 1);
	s.snap_map = malloc(s.block_count ? s.block_count : 1);
	if (!s.map || !s.snap_map)
		cli_die("out of memory for maps of %" PRIu64 " blocks", s.block_count);
	for (attempt = 0; attempt < 20; attempt++) {
		uint8_t gen1[16], gen2[16];

		if (attempt)
			usleep(100000);
		ret = blksnap_ctl_cbt_state(ctl, dev, &before);
		if (ret)
			die_ioctl(path, ret, "cannot read the tracking state");
		if (before.info.block_count != s.block_count)
			continue;
		if (cd_inflight_writes(dev))
			continue;
		ret = blksnap_ctl_cbt_read_map(ctl, dev, BLKSNAP_CBT_MAP_CURRENT, 0, s.map,
					       s.block_count, gen1);
		if (!ret)
			ret = blksnap_ctl_cbt_read_map(ctl, dev, 0, 0, s.snap_map,
						       s.block_count, gen2);
		if (ret == -ESTALE)
			continue;
		if (ret)
			die_ioctl(path, ret, "cannot read the change map");
		ret = blksnap_ctl_cbt_state(ctl, dev, &after);
		if (ret)
			die_ioctl(path, ret, "cannot read the tracking state");
		if (after.writes_now == before.writes_now &&
		    after.info.snap_number == before.info.snap_number &&
		    !memcmp(after.info.generation_id, before.info.generation_id, 16) &&
		    !memcmp(gen1, before.info.generation_id, 16) &&
		    !memcmp(gen2, before.info.generation_id, 16) &&
		    !cd_inflight_writes(dev))
			break;
	}
	if (attempt == 20) {
		invalidate_old(path, file, a->in_place, ext, count);
		cli_die("%s is being written: save it when it is unmounted or read-only", path);
	}
	s.id.diskseq = before.diskseq;
	s.save_time = (uint64_t)time(NULL);
	if (cd_boot_id(s.boot_id))
		cli_die("%s", cs_error());
	s.block_size = before.info.block_size;
	s.snap_number = before.info.snap_number;
	s.capacity = before.info.device_capacity;
	memcpy(s.generation, before.info.generation_id, 16);
	s.writes_at_attach = before.writes_at_attach;
	s.writes_now = before.writes_now;
	if (a->in_place)
		s.flags |= CS_FLAG_IN_PLACE;
	if (cd_fingerprint(path, s.id.size, ext, count, &s.fp_len, &s.fp_head,
			   &s.fp_tail)) {
		invalidate_old(path, file, a->in_place, ext, count);
		cli_die("%s", cs_error());
	}
	s.flags |= CS_FLAG_FINGERPRINT;
	buf = aligned_alloc_or_die(size);
	if (cs_encode(&s, buf, (size_t)size))
		cli_die("%s: cannot encode its state: %s", path, cs_error());
	ret = a->in_place ? cd_extents_io(path, ext, count, buf, size, true)
			  : cd_write_file(file, buf, (size_t)size);
	if (ret) {
		invalidate_old(path, file, a->in_place, ext, count);
		cli_die("%s", cs_error());
	}
	{
		char gen[37];

		blksnap_ctl_snapshot_id_format(s.generation, gen);
		cli_info("%s: history saved to %s%s (generation %s, snapshot number %u, %" PRIu64 " writes)",
			 path, file, a->in_place ? " in place" : "", gen, s.snap_number,
			 s.writes_now);
	}
	free(buf);
	free(ext);
	free(file);
	cs_free(&s);
	return EXIT_SUCCESS;
}

static int reserve_state(int ctl, dev_t dev, const char *path, const struct args *a)
{
	struct blksnap_cbt_info info;
	struct cs_identity id;
	char *file;
	int ret = blksnap_ctl_cbt_info(ctl, dev, &info);

	if (ret)
		die_ioctl(path, ret, "cannot read the tracking state");
	identity_of(path, dev, &id);
	file = state_path(a, &id);
	make_state_dir(a);
	if (cd_reserve_file(file, cs_file_size(info.block_count), dev))
		cli_die("%s", cs_error());
	cli_info("%s: state file %s reserved (%" PRIu64 " bytes)", path, file,
		 cs_file_size(info.block_count));
	free(file);
	return EXIT_SUCCESS;
}

/* Attaches @dev's tracker if it has none: a refused load leaves it tracked. */
static void ensure_tracked(int ctl, dev_t dev, const char *path)
{
	struct blksnap_cbt_info info;
	int ret = blksnap_ctl_cbt_info(ctl, dev, &info);

	if (ret == -ENOENT) {
		ret = blksnap_ctl_tracker_attach(ctl, dev);
		if (ret == -EALREADY)
			ret = 0;
	}
	if (ret)
		cli_die("%s: cannot start tracking: %s", path, strerror(-ret));
}

struct load_ctx {
	int ctl;
	dev_t dev;
	const char *path;
	const char *file;
	bool in_place;
	bool parsed;		/* the file is this device's: mark it used on refusal */
	void *hdr;		/* its header, CS_HEADER_SIZE bytes, aligned */
	struct cd_extent *ext;
	size_t count;
};

/* Marks the state file used, durably: it never loads again. */
static int mark_used(struct load_ctx *c)
{
	int fd;

	cs_mark_used(c->hdr);
	if (c->in_place) {
		if (cd_extents_io(c->path, c->ext, c->count, c->hdr, CS_HEADER_SIZE, true)) {
			fprintf(stderr, "%s: %s\n", program_invocation_short_name, cs_error());
			return -1;
		}
		return 0;
	}
	fd = open(c->file, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, c->hdr, CS_HEADER_SIZE, 0) != CS_HEADER_SIZE ||
	    fsync(fd) < 0) {
		fprintf(stderr, "%s: %s: cannot mark it used: %m\n",
			program_invocation_short_name, c->file);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static noreturn void refuse(struct load_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static noreturn void refuse(struct load_ctx *c, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (c->parsed)
		mark_used(c);
	ensure_tracked(c->ctl, c->dev, c->path);
	fprintf(stderr, "%s: history not kept: %s is tracked with a new generation; the next incremental falls back\n",
		program_invocation_short_name, c->path);
	exit(EXIT_REFUSED);
}

/* Reads the state file whole (header first, then what it says it holds). */
static void *read_state_file(struct load_ctx *c, size_t *len)
{
	struct cs_state h;
	uint64_t size;
	void *buf;

	c->hdr = aligned_alloc_or_die(CS_HEADER_SIZE);
	if (c->in_place) {
		int fd = open(c->file, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			refuse(c, "%s: no saved history: %m", c->file);
		if (cd_file_extents(fd, c->file, CS_HEADER_SIZE, &c->ext, &c->count))
			refuse(c, "%s", cs_error());
		close(fd);
		if (cd_extents_io(c->path, c->ext, c->count, c->hdr, CS_HEADER_SIZE, false))
			refuse(c, "%s", cs_error());
		if (cs_parse_header(c->hdr, CS_HEADER_SIZE, &h))
			refuse(c, "state file %s: %s", c->file, cs_error());
		size = cs_file_size(h.block_count);
		free(c->ext);
		c->ext = NULL;
		fd = open(c->file, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || cd_file_extents(fd, c->file, size, &c->ext, &c->count))
			refuse(c, "%s", fd < 0 ? strerror(errno) : cs_error());
		close(fd);
		buf = aligned_alloc_or_die(size);
		if (cd_extents_io(c->path, c->ext, c->count, buf, size, false))
			refuse(c, "%s", cs_error());
		*len = (size_t)size;
		return buf;
	} else {
		int fd = open(c->file, O_RDONLY | O_CLOEXEC);
		struct stat st;
		ssize_t r;

		if (fd < 0)
			refuse(c, "%s: no saved history: %m", c->file);
		if (fstat(fd, &st) < 0)
			cli_die("%s: %m", c->file);
		if (!S_ISREG(st.st_mode))
			refuse(c, "state file %s: not a regular file", c->file);
		/* Bounded by the header's own size check: read what is there. */
		if ((uint64_t)st.st_size > cs_file_size(UINT64_C(1) << 40))
			refuse(c, "state file %s: too large (%" PRIu64 " bytes)", c->file,
			       (uint64_t)st.st_size);
		buf = aligned_alloc_or_die((uint64_t)st.st_size + 1);
		r = pread(fd, buf, (size_t)st.st_size, 0);
		if (r < 0)
			cli_die("%s: %m", c->file);
		close(fd);
		memcpy(c->hdr, buf, (size_t)r < CS_HEADER_SIZE ? (size_t)r : CS_HEADER_SIZE);
		*len = (size_t)r;
		return buf;
	}
}

static int load_state(int ctl, dev_t dev, const char *path, const struct args *a)
{
	struct load_ctx c = { .ctl = ctl, .dev = dev, .path = path, .in_place = a->in_place };
	struct blksnap_cbt_state st;
	struct blksnap_cbt_load ld;
	struct cs_identity now;
	struct cs_state s;
	const char *diff;
	uint64_t fp_len, head, tail, expected;
	uint8_t boot_id[16];
	char *file, gen[37], when[64];
	size_t len;
	void *buf;
	time_t t;
	int ret;

	identity_of(path, dev, &now);
	file = state_path(a, &now);
	c.file = file;
	buf = read_state_file(&c, &len);
	if (cs_parse(buf, len, &s))
		refuse(&c, "state file %s: %s", file, cs_error());
	if (a->in_place && !(s.flags & CS_FLAG_IN_PLACE))
		refuse(&c, "state file %s: not saved in place (--in-place)", file);
	if (!a->in_place && (s.flags & CS_FLAG_IN_PLACE))
		refuse(&c, "state file %s: saved in place: load it with --in-place", file);
	t = (time_t)s.save_time;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	if (s.flags & CS_FLAG_USED)
		refuse(&c, "state file %s: loaded already (saved %s): a history is loaded once, so that a crash after a load never passes for a clean one",
		       file, when);
	diff = cs_identity_differs(&s.id, &now);
	if (diff)
		refuse(&c, "state file %s is of another device: %s (saved from %s, %s)",
		       file, diff, s.id.path, s.id.kname);
	c.parsed = true;
	if (s.flags & CS_FLAG_FINGERPRINT) {
		if (cd_fingerprint(path, now.size, c.ext, c.count, &fp_len, &head, &tail))
			refuse(&c, "%s", cs_error());
		if (fp_len != s.fp_len || head != s.fp_head || tail != s.fp_tail)
			refuse(&c, "%s was changed since its history was saved to %s (%s): its first or last MiB differ",
			       path, file, when);
	}
	ensure_tracked(ctl, dev, path);
	ret = blksnap_ctl_cbt_state(ctl, dev, &st);
	if (ret == -ENOTTY)
		cli_die("the loaded blksnap module cannot load a history (interface 1.2 needed): load the module of this release");
	if (ret)
		die_ioctl(path, ret, "cannot read the tracking state");
	if (st.flags & BLKSNAP_CBT_STATE_LOADED)
		cli_die("%s: a history was loaded already since its tracker was attached; %s is left as it is",
			path, file);
	if (st.flags & BLKSNAP_CBT_STATE_NO_IOSTAT)
		refuse(&c, "%s keeps no I/O statistics (queue/iostats is 0): an untracked write could not be told",
		       path);
	if (cd_boot_id(boot_id))
		cli_die("%s", cs_error());
	/* In the same boot, on the same disk: a reload; else a reboot. */
	expected = !memcmp(boot_id, s.boot_id, 16) && st.diskseq == s.id.diskseq ?
		   s.writes_now : 0;
	if (st.writes_at_attach != expected)
		refuse(&c, "%s was written while its history was not kept (%" PRIu64 " write requests before its tracker was attached, %" PRIu64 " expected by %s)",
		       path, (uint64_t)st.writes_at_attach, expected, file);
	if (st.info.block_size != s.block_size || st.info.block_count != s.block_count ||
	    st.info.device_capacity != s.capacity)
		refuse(&c, "%s is tracked in %u blocks of %u bytes, the state file %s in %" PRIu64 " of %u: resized, or other tracking_block_* parameters",
		       path, (unsigned int)st.info.block_count, st.info.block_size, file,
		       s.block_count, s.block_size);
	if (mark_used(&c))
		refuse(&c, "state file %s: cannot be marked used, so it is not loaded", file);
	c.parsed = false;	/* marked */
	memset(&ld, 0, sizeof(ld));
	ld.dev.mj = major(dev);
	ld.dev.mn = minor(dev);
	ld.block_size = s.block_size;
	ld.snap_number = s.snap_number;
	ld.block_count = s.block_count;
	ld.device_capacity = s.capacity;
	memcpy(ld.generation_id, s.generation, 16);
	ld.writes_expected = expected;
	ld.map = (uintptr_t)s.map;
	ld.snap_map = (uintptr_t)s.snap_map;
	ret = blksnap_ctl_cbt_load(ctl, &ld);
	switch (ret) {
	case 0:
		break;
	case -ESTALE:
		refuse(&c, "%s was written while its history was not kept (the module's count of writes at the attach is not the %" PRIu64 " the state file accounts for)",
		       path, expected);
	case -ERANGE:
		refuse(&c, "%s: its size or tracking block differs from the state file's", path);
	case -EBUSY:
		refuse(&c, "%s: in a snapshot, or one was taken since its tracker was attached", path);
	case -EALREADY:
		cli_die("%s: a history was loaded already", path);
	case -EOPNOTSUPP:
		refuse(&c, "%s keeps no I/O statistics (queue/iostats is 0)", path);
	case -ENOTTY:
		cli_die("the loaded blksnap module cannot load a history (interface 1.2 needed)");
	default:
		die_ioctl(path, ret, "cannot load the history");
	}
	blksnap_ctl_snapshot_id_format(s.generation, gen);
	cli_info("%s: history loaded from %s (generation %s, snapshot number %u, saved %s)",
		 path, file, gen, s.snap_number, when);
	cs_free(&s);
	free(buf);
	free(c.hdr);
	free(c.ext);
	free(file);
	return EXIT_SUCCESS;
}

/*
 * --save-all, --load-all: each device of the configuration (one a line,
 * a path or UUID= LABEL= PARTUUID= PARTLABEL=; '#' comments) in its own
 * process, so that one failing stops none of the others.  The status is
 * the worst: 1 for an error, else 3 for a refusal, else 0.
 */
static int for_all(const struct args *a)
{
	const char *conf = a->config ? a->config : CONFIG_FILE;
	char line[4096];
	int worst = EXIT_SUCCESS, n = 0;
	FILE *f = fopen(conf, "re");

	if (!f) {
		if (errno == ENOENT && !a->config) {
			cli_info("%s: no such file: no device to %s", conf,
				 a->mode == MODE_SAVE_ALL ? "save" : "load");
			return EXIT_SUCCESS;
		}
		cli_die("%s: %m", conf);
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t"), *end;
		struct args one = *a;
		pid_t pid;
		int status;

		end = p + strcspn(p, "#\n");
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		if (!*p)
			continue;
		n++;
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			cli_die("fork: %m");
		if (pid == 0) {
			char *path;
			dev_t dev = cli_block_device(p, &path);
			int ctl = cli_open_control();

			one.mode = a->mode == MODE_SAVE_ALL ? MODE_SAVE : MODE_LOAD;
			one.device = p;
			exit(one.mode == MODE_SAVE ? save_state(ctl, dev, path, &one)
						   : load_state(ctl, dev, path, &one));
		}
		if (waitpid(pid, &status, 0) < 0)
			cli_die("waitpid: %m");
		status = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_FAILURE;
		if (status == EXIT_FAILURE || status == EXIT_USAGE)
			worst = EXIT_FAILURE;
		else if (status == EXIT_REFUSED && worst == EXIT_SUCCESS)
			worst = EXIT_REFUSED;
	}
	fclose(f);
	cli_info("%s: %d devices", conf, n);
	return worst;
}

int main(int argc, char **argv)
{
	struct args a = { .mode = MODE_DUMP, .since = -1 };
	char *path = NULL;
	dev_t dev = 0;
	int fd, ret;

	cli_init();
	parse_args(argc, argv, &a);
	if (a.mode != MODE_LIST && a.mode != MODE_SAVE_ALL && a.mode != MODE_LOAD_ALL)
		dev = cli_block_device(a.device, &path);
	if (a.mode == MODE_SAVE_ALL || a.mode == MODE_LOAD_ALL)
		return for_all(&a);
	fd = cli_open_control();
	switch (a.mode) {
	case MODE_LIST:
		return list_trackers(fd);
	case MODE_SAVE:
		return save_state(fd, dev, path, &a);
	case MODE_LOAD:
		return load_state(fd, dev, path, &a);
	case MODE_RESERVE:
		return reserve_state(fd, dev, path, &a);
	case MODE_ATTACH:
		ret = blksnap_ctl_tracker_attach(fd, dev);
		if (ret == -EALREADY)
			cli_die("%s: already tracked", path);
		if (ret == -EFBIG)
			cli_die("%s: too large for the module's tracking_block_* parameters", path);
		if (ret)
			cli_die("%s: cannot start tracking: %s", path, strerror(-ret));
		cli_info("%s: tracked", path);
		return EXIT_SUCCESS;
	case MODE_DETACH:
		ret = blksnap_ctl_tracker_detach(fd, dev);
		if (ret)
			die_ioctl(path, ret, "cannot stop tracking");
		cli_info("%s: no longer tracked", path);
		return EXIT_SUCCESS;
	case MODE_INFO:
		return show_info(fd, dev, path, &a);
	case MODE_RANGES:
		return write_ranges(fd, dev, path, &a);
	case MODE_MARK:
		return mark_dirty(fd, dev, path);
	case MODE_DUMP:
	default:
		return write_dump(fd, dev, path, &a);
	}
}
