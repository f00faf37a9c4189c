// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blksnap-cbt: the change tracking of the blksnap module, from the
 * command line: attach and detach trackers, describe a device's tracking,
 * write its CBT dump, mark ranges as changed.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "blksnap/blksnap.h"
#include "blksnap/control.h"
#include "cli.h"

static __attribute__((__noreturn__)) void usage(void)
{
	printf("Usage:\n"
	       " %1$s [options] DEVICE > DUMP\n"
	       " %1$s --info [--since N] DEVICE\n"
	       " %1$s --mark-dirty DEVICE < RANGES\n"
	       " %1$s --attach DEVICE | --detach DEVICE | --list\n"
	       "\n"
	       "Change-block tracking of the blksnap module: write the CBT dump of a\n"
	       "tracked DEVICE (path, UUID=, LABEL=, PARTUUID=, PARTLABEL=) for\n"
	       "blksnap-diff, describe its tracking, mark ranges as changed, or start\n"
	       "and stop tracking devices.\n"
	       "\n"
	       "Options:\n"
	       " -o, --output FILE    write the dump to FILE, not standard output\n"
	       "     --current        the live map, not the one frozen at the last snapshot\n"
	       " -i, --info           describe DEVICE's change tracking\n"
	       "     --since N        with --info: count the blocks changed since snapshot N\n"
	       "     --mark-dirty     mark the ranges listed on standard input as changed\n"
	       " -a, --attach         start tracking DEVICE (a new, empty history)\n"
	       " -d, --detach         stop tracking DEVICE (its history is lost)\n"
	       " -l, --list           list the tracked devices\n",
	       program_invocation_short_name);
	cli_help_tail(21, CLI_HELP_QUICK, "blksnap-cbt(8) and blksnap-cbt(5)");
}

enum mode { MODE_DUMP, MODE_INFO, MODE_MARK, MODE_ATTACH, MODE_DETACH, MODE_LIST };

enum { OPT_CURRENT = 256, OPT_SINCE, OPT_MARK_DIRTY };

struct args {
	enum mode mode;
	bool current;
	long since;		/* -1: not asked */
	const char *output;
	const char *device;
};

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "current", no_argument, NULL, OPT_CURRENT },
		{ "info", no_argument, NULL, 'i' },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "mark-dirty", no_argument, NULL, OPT_MARK_DIRTY },
		{ "attach", no_argument, NULL, 'a' },
		{ "detach", no_argument, NULL, 'd' },
		{ "list", no_argument, NULL, 'l' },
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
		{ 'i', OPT_MARK_DIRTY, 'a', 'd', 'l' },
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
		case OPT_SINCE: a->since = cli_parse_long(optarg, "--since", 0, 255); break;
		case OPT_MARK_DIRTY: a->mode = MODE_MARK; break;
		case 'a': a->mode = MODE_ATTACH; break;
		case 'd': a->mode = MODE_DETACH; break;
		case 'l': a->mode = MODE_LIST; break;
		}
	}
	if (a->mode == MODE_LIST) {
		if (optind != argc)
			cli_usage_error("--list takes no device");
		return;
	}
	if (optind + 1 != argc)
		cli_usage_error(optind == argc ? "no device given" :
				"only one device can be given");
	if (a->since >= 0 && a->mode != MODE_INFO)
		cli_usage_error("--since goes with --info");
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

/*
 * Reads the info and the map until neither changed while reading: the
 * dump then never claims a snapshot number newer than its map.
 */
static void read_tracking(int fd, dev_t dev, const char *path, bool current,
			  struct blksnap_cbt_info *info, struct blksnap_cbt *c)
{
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
	cli_info("%s: dump of snapshot %" PRIu32 ", %" PRIu64 " blocks of %" PRIu32 " bytes",
		 path, c.snapshot, c.block_count, c.block_size);
	free(c.map);
	return EXIT_SUCCESS;
}

static int show_info(int fd, dev_t dev, const char *path, const struct args *a)
{
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
	printf("generation:      %s\n", gen);
	printf("snapshot number: %" PRIu32 " (blocks written now are marked %" PRIu32
	       "; the frozen map is of snapshot %" PRIu32 ")\n",
	       info.snap_number, info.snap_number, info.snap_number - 1);
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
	free(c.map);
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
		char sys[64], line[256], name[256] = "";
		FILE *f;

		snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/uevent",
			 major(devs[i]), minor(devs[i]));
		f = fopen(sys, "r");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "DEVNAME=%255s", name) == 1)
				break;
		if (f)
			fclose(f);
		printf("%u:%u\t%s%s\n", major(devs[i]), minor(devs[i]),
		       name[0] ? "/dev/" : "", name);
	}
	free(devs);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	struct args a = { .mode = MODE_DUMP, .since = -1 };
	char *path = NULL;
	dev_t dev = 0;
	int fd, ret;

	cli_init();
	parse_args(argc, argv, &a);
	if (a.mode != MODE_LIST)
		dev = cli_block_device(a.device, &path);
	fd = cli_open_control();
	switch (a.mode) {
	case MODE_LIST:
		return list_trackers(fd);
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
	case MODE_MARK:
		return mark_dirty(fd, dev, path);
	case MODE_DUMP:
	default:
		return write_dump(fd, dev, path, &a);
	}
}
