// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blksnap-take: snapshots of the blksnap module from the command line:
 * take one of several devices at one instant, describe, list and destroy
 * snapshots, and watch a snapshot's events, growing its storage in time.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/sysmacros.h>

#include "blksnap/blksnap.h"
#include "blksnap/control.h"
#include "blksnap/snapshot.h"
#include "cli.h"

static __attribute__((__noreturn__)) void usage(void)
{
	printf("Usage:\n"
	       " %1$s --storage PATH [--limit SIZE] [options] DEVICE...\n"
	       " %1$s --image ID DEVICE\n"
	       " %1$s --info ID | --destroy ID | --list\n"
	       " %1$s --wait-events ID [--auto-extend SIZE --storage DIR]\n"
	       "\n"
	       "Take a snapshot of one or more block devices (path, UUID=, LABEL=,\n"
	       "PARTUUID=, PARTLABEL=) at one instant through the blksnap module and\n"
	       "print its id; each device gets a read-write image device showing it as\n"
	       "it was. Changed blocks are copied to the difference storage first.\n"
	       "\n"
	       "Options:\n"
	       " -s, --storage PATH     difference storage: a directory (an anonymous file\n"
	       "                          in it), a new file name, or a whole block device\n"
	       " -L, --limit SIZE       how large a storage file may grow (K, M, G, T)\n"
	       "     --low-space SIZE   free storage under which a low-space event fires\n"
	       "                          (default: an eighth of the storage)\n"
	       "     --force            use a storage device even if it holds a filesystem,\n"
	       "                          RAID, LVM, LUKS, swap or a partition table\n"
	       " -j, --json             print the result as JSON\n"
	       " -I, --image ID         print the image device of DEVICE in snapshot ID\n"
	       " -i, --info ID          describe snapshot ID\n"
	       "     --destroy ID       destroy snapshot ID (its images disappear)\n"
	       " -l, --list             list the snapshots\n"
	       " -w, --wait-events ID   print snapshot ID's events until it is destroyed\n"
	       "     --auto-extend SIZE with --wait-events: on low space, add SIZE of\n"
	       "                          storage in the --storage directory\n"
	       "     --wait-timeout SECONDS\n"
	       "                        with --wait-events: stop after SECONDS\n",
	       program_invocation_short_name);
	cli_help_tail(23, CLI_HELP_QUICK, "blksnap-take(8) and blksnap(7)");
}

enum mode { MODE_TAKE, MODE_IMAGE, MODE_INFO, MODE_DESTROY, MODE_LIST, MODE_WAIT };

enum {
	OPT_LOW_SPACE = 0x100, OPT_DESTROY, OPT_AUTO_EXTEND, OPT_WAIT_TIMEOUT,
	OPT_OLD_TIMEOUT, OPT_FORCE,
};

struct args {
	enum mode mode;
	bool json;
	bool force;
	const char *storage;
	uint64_t limit;
	uint64_t low_space;
	uint64_t auto_extend;
	long timeout;		/* seconds, -1: none */
	uint8_t id[BLKSNAP_UUID_SIZE];
	char **devices;
	int device_count;
};

static void parse_id(struct args *a, const char *id)
{
	if (blksnap_ctl_snapshot_id_parse(id, a->id))
		cli_usage_error("'%s' is not a snapshot id (a UUID as blksnap-take printed it)",
				id);
}

static void check_args(struct args *a)
{
	bool takes_devices = a->mode == MODE_TAKE || a->mode == MODE_IMAGE;

	if (!takes_devices && a->device_count)
		cli_usage_error("devices go with taking a snapshot or --image");
	if (a->mode == MODE_TAKE && !a->device_count)
		cli_usage_error("no device given");
	if (a->mode == MODE_IMAGE && a->device_count != 1)
		cli_usage_error("--image takes one device");
	if (a->mode == MODE_TAKE && !a->storage)
		cli_usage_error("--storage is needed to take a snapshot");
	if ((a->limit || a->low_space || a->force) && a->mode != MODE_TAKE)
		cli_usage_error("--limit, --low-space and --force go with taking a snapshot");
	if ((a->auto_extend || a->timeout >= 0) && a->mode != MODE_WAIT)
		cli_usage_error("--auto-extend and --wait-timeout go with --wait-events");
	if (a->auto_extend && !a->storage)
		cli_usage_error("--auto-extend needs --storage DIR for the new storage");
	if (a->storage && a->mode != MODE_TAKE && !a->auto_extend)
		cli_usage_error("--storage goes with taking a snapshot or --auto-extend");
	if (a->json && (a->mode == MODE_DESTROY || a->mode == MODE_WAIT))
		cli_usage_error("--json goes with taking, --image, --info and --list");
}

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "storage", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'L' },
		{ "low-space", required_argument, NULL, OPT_LOW_SPACE },
		/* No -f: it is blksnap-send's --full. */
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "json", no_argument, NULL, 'j' },
		{ "image", required_argument, NULL, 'I' },
		{ "info", required_argument, NULL, 'i' },
		{ "destroy", required_argument, NULL, OPT_DESTROY },
		{ "list", no_argument, NULL, 'l' },
		{ "wait-events", required_argument, NULL, 'w' },
		{ "auto-extend", required_argument, NULL, OPT_AUTO_EXTEND },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		/* Not --timeout: the other tools' is a network timeout. */
		{ "timeout", required_argument, NULL, OPT_OLD_TIMEOUT },
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static const struct cli_alias aliases[] = {
		{ 'd', "-d", OPT_DESTROY },
		{ 'a', "-a", OPT_AUTO_EXTEND },
		{ 't', "-t", OPT_WAIT_TIMEOUT },
		{ OPT_OLD_TIMEOUT, "--timeout", OPT_WAIT_TIMEOUT },
		{ 0 }
	};
	static const cli_group_t exclusive[] = {
		{ 'I', 'i', OPT_DESTROY, 'l', 'w' },
		{ 0 }
	};
	struct cli_parser p = {
		.shortopts = ":s:L:jI:i:lw:d:a:t:" CLI_COMMON_SHORTOPTS,
		.longopts = longopts, .aliases = aliases, .exclusive = exclusive,
		.usage = usage,
	};
	int c;

	while ((c = cli_getopt(argc, argv, &p)) != -1) {
		switch (c) {
		case 's': a->storage = optarg; break;
		case 'L': a->limit = cli_parse_size(optarg, "--limit"); break;
		case OPT_LOW_SPACE:
			a->low_space = cli_parse_size(optarg, "--low-space");
			break;
		case OPT_FORCE: a->force = true; break;
		case 'j': a->json = true; break;
		case 'I': a->mode = MODE_IMAGE; parse_id(a, optarg); break;
		case 'i': a->mode = MODE_INFO; parse_id(a, optarg); break;
		case OPT_DESTROY: a->mode = MODE_DESTROY; parse_id(a, optarg); break;
		case 'l': a->mode = MODE_LIST; break;
		case 'w': a->mode = MODE_WAIT; parse_id(a, optarg); break;
		case OPT_AUTO_EXTEND:
			a->auto_extend = cli_parse_size(optarg, "--auto-extend");
			break;
		case OPT_WAIT_TIMEOUT:
			a->timeout = cli_parse_long(optarg, "--wait-timeout", 0, 365L * 86400);
			break;
		}
	}
	a->devices = argv + optind;
	a->device_count = argc - optind;
	check_args(a);
}

static const char *id_text(const uint8_t *id)
{
	static char text[BLKSNAP_SNAPSHOT_ID_TEXT];

	return blksnap_ctl_snapshot_id_format(id, text);
}

static noreturn void die_snapshot(const uint8_t *id, int err, const char *what)
{
	if (err == -ENOENT)
		cli_die("snapshot %s: no such snapshot (see blksnap-take --list)",
			id_text(id));
	cli_die("snapshot %s: %s: %s", id_text(id), what, strerror(-err));
}

/*
 * A storage device's old content is overwritten, from its first MiB on:
 * refuse one that holds something a prober recognises, unless forced.
 */
static void check_storage(const char *path, struct blksnap_storage *st,
			  bool force)
{
	char what[256];
	int ret = blksnap_storage_probe(st, what, sizeof(what));

	if (ret < 0) {
		blksnap_storage_release(st);
		cli_die_lib();
	}
	if (ret == 2)
		cli_info("%s: was %s", path, what);
	if (ret != 1)
		return;
	if (force) {
		cli_info("%s: holds %s: overwritten (--force)", path, what);
		return;
	}
	blksnap_storage_release(st);
	cli_die("%s: holds %s: not used as difference storage without --force (wipefs -a clears it)",
		path, what);
}

/* The storage for a snapshot or its extension, checked against --limit. */
static void open_storage(const char *path, uint64_t limit, bool force,
			 struct blksnap_storage *st)
{
	if (blksnap_storage_open(path, st))
		cli_die_lib();
	check_storage(path, st, force);
	if (st->whole_device && limit)
		cli_usage_error("%s: a block device is used whole: --limit goes with a storage file",
				path);
	if (!st->whole_device && !limit) {
		blksnap_storage_release(st);
		cli_usage_error("%s: a storage file needs --limit (how large it may grow)",
				path);
	}
}

static noreturn void die_add(int fd, const uint8_t *id, const char *path, int err)
{
	blksnap_ctl_snapshot_destroy(fd, id);
	if (err == -EBUSY)
		cli_die("%s: already in another snapshot (see blksnap-take --list)", path);
	if (err == -EINVAL)
		cli_die("%s: cannot be snapshotted with this storage (the storage may not live on a device of the snapshot)",
			path);
	if (err == -EFBIG)
		cli_die("%s: too large for the module's chunk and tracking parameters", path);
	if (err == -E2BIG)
		cli_die("%s: a snapshot holds at most %d devices", path,
			BLKSNAP_MAX_SNAPSHOT_DEVICES);
	cli_die("%s: cannot add to the snapshot: %s", path, strerror(-err));
}

static void print_images(const struct blksnap_image *v, unsigned int n, bool json)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (json)
			printf("%s\n    {\"origin\": \"%u:%u\", \"image\": \"%s%s\", \"image_dev\": \"%u:%u\"}",
			       i ? "," : "", v[i].origin.mj, v[i].origin.mn,
			       v[i].name[0] ? "/dev/" : "", v[i].name,
			       v[i].image.mj, v[i].image.mn);
		else
			printf("  %u:%u\t%s%s\n", v[i].origin.mj, v[i].origin.mn,
			       v[i].name[0] ? "/dev/" : "", v[i].name);
	}
}

static void print_info(const uint8_t *id, const struct blksnap_snapshot_info *info,
		       const struct blksnap_image *v, bool json)
{
	char used[32], alloc[32], limit[32];

	if (json) {
		printf("{\n  \"id\": \"%s\",\n  \"state\": \"%s\",\n  \"error\": %" PRIu32
		       ",\n  \"chunk_size\": %" PRIu32 ",\n  \"storage_used\": %" PRIu64
		       ",\n  \"storage_allocated\": %" PRIu64 ",\n  \"storage_limit\": %" PRIu64
		       ",\n  \"images\": [",
		       id_text(id), blksnap_snapshot_state_name(info->state), info->error,
		       info->chunk_size, (uint64_t)info->storage_used,
		       (uint64_t)info->storage_allocated, (uint64_t)info->storage_limit);
		print_images(v, info->image_count, true);
		printf("\n  ]\n}\n");
		return;
	}
	printf("snapshot %s\n", id_text(id));
	printf("  state:   %s", blksnap_snapshot_state_name(info->state));
	if (info->state == BLKSNAP_SNAPSHOT_CORRUPTED)
		printf(" (%s)", info->error == ENOSPC ?
		       "the difference storage overflowed" : strerror(info->error));
	printf("\n  chunk:   %" PRIu32 " bytes\n", info->chunk_size);
	printf("  storage: %s used, %s allocated, limit %s\n",
	       cli_human_size(info->storage_used, used, sizeof(used)),
	       cli_human_size(info->storage_allocated, alloc, sizeof(alloc)),
	       cli_human_size(info->storage_limit, limit, sizeof(limit)));
	print_images(v, info->image_count, false);
}

/* Create, add every device, take; on any failure nothing is left behind. */
/* --verbose: how long the module's phases of the take lasted. */
static void print_take_times(int fd, const uint8_t *id)
{
	static const char *const names[BLKSNAP_TAKE_PHASES] = {
		[BLKSNAP_TAKE_TOTAL] = "total",
		[BLKSNAP_TAKE_PREPARE] = "prepare",
		[BLKSNAP_TAKE_FREEZE] = "filesystem freeze",
		[BLKSNAP_TAKE_HOLD] = "writes held",
		[BLKSNAP_TAKE_GRACE] = "  filter grace period",
		[BLKSNAP_TAKE_DRAIN] = "  queue drain",
		[BLKSNAP_TAKE_MAP] = "  change map switch",
		[BLKSNAP_TAKE_THAW] = "filesystem thaw",
		[BLKSNAP_TAKE_IMAGES] = "image creation",
	};
	struct blksnap_take_times t;
	unsigned int i;
	int ret;

	if (!cli_verbose)
		return;
	ret = blksnap_ctl_snapshot_take_times(fd, id, &t);
	if (ret) {
		cli_info("snapshot %s: no take times from the module: %s",
			 id_text(id), strerror(-ret));
		return;
	}
	for (i = 0; i < t.count && i < BLKSNAP_TAKE_PHASES; i++)
		cli_info("take: %-22s %10.3f ms", names[i], t.ns[i] / 1e6);
}

static int take(const struct args *a)
{
	struct blksnap_snapshot_info info;
	struct blksnap_storage st;
	struct blksnap_image *v;
	uint8_t id[BLKSNAP_UUID_SIZE];
	dev_t devs[BLKSNAP_MAX_SNAPSHOT_DEVICES];
	char *paths[BLKSNAP_MAX_SNAPSHOT_DEVICES];
	unsigned int i;
	int fd, ret;

	if (a->device_count > BLKSNAP_MAX_SNAPSHOT_DEVICES)
		cli_usage_error("a snapshot holds at most %d devices",
				BLKSNAP_MAX_SNAPSHOT_DEVICES);
	for (i = 0; i < (unsigned int)a->device_count; i++)
		devs[i] = cli_block_device(a->devices[i], &paths[i]);
	fd = cli_open_control();
	open_storage(a->storage, a->limit, a->force, &st);
	ret = blksnap_ctl_snapshot_create(fd, st.fd, a->limit, a->low_space, id);
	if (ret) {
		blksnap_storage_release(&st);
		if (ret == -EINVAL)
			cli_die("%s: the module refused it as difference storage (on a filesystem it can write to, not on a device being snapshotted?)",
				a->storage);
		cli_die("%s: cannot create a snapshot: %s", a->storage, strerror(-ret));
	}
	/* The module holds the storage now. */
	blksnap_storage_release(&st);
	for (i = 0; i < (unsigned int)a->device_count; i++) {
		ret = blksnap_ctl_snapshot_add(fd, id, devs[i]);
		if (ret)
			die_add(fd, id, paths[i], ret);
		cli_info("%s: added to snapshot %s", paths[i], id_text(id));
	}
	ret = blksnap_ctl_snapshot_take(fd, id);
	if (ret) {
		blksnap_ctl_snapshot_destroy(fd, id);
		cli_die("cannot take the snapshot of %s%s: %s", paths[0],
			a->device_count > 1 ? " and the other devices" : "",
			strerror(-ret));
	}
	print_take_times(fd, id);
	if (blksnap_snapshot_describe(fd, id, &info, &v))
		cli_die_lib();
	if (a->json) {
		print_info(id, &info, v, true);
	} else {
		printf("%s\n", id_text(id));
		for (i = 0; i < info.image_count; i++)
			if (!cli_quiet)
				fprintf(stderr, "%s: %s: image /dev/%s\n",
					program_invocation_short_name, paths[i], v[i].name);
	}
	for (i = 0; i < (unsigned int)a->device_count; i++)
		free(paths[i]);
	free(v);
	return EXIT_SUCCESS;
}

static int show_image(const struct args *a)
{
	struct blksnap_snapshot_info info;
	struct blksnap_image *v;
	char *path;
	dev_t dev = cli_block_device(a->devices[0], &path);
	int fd = cli_open_control();
	unsigned int i;

	if (blksnap_snapshot_describe(fd, a->id, &info, &v))
		cli_die_lib();
	for (i = 0; i < info.image_count; i++) {
		if (v[i].origin.mj != major(dev) || v[i].origin.mn != minor(dev))
			continue;
		if (!v[i].name[0])
			cli_die("%s: snapshot %s is not taken yet: no image", path,
				id_text(a->id));
		if (a->json)
			printf("{\"origin\": \"%u:%u\", \"image\": \"/dev/%s\"}\n",
			       major(dev), minor(dev), v[i].name);
		else
			printf("/dev/%s\n", v[i].name);
		free(v);
		free(path);
		return EXIT_SUCCESS;
	}
	cli_die("%s: not in snapshot %s", path, id_text(a->id));
}

static int show_info(int fd, const struct args *a)
{
	struct blksnap_snapshot_info info;
	struct blksnap_image *v;

	if (blksnap_snapshot_describe(fd, a->id, &info, &v))
		cli_die_lib();
	print_info(a->id, &info, v, a->json);
	free(v);
	return EXIT_SUCCESS;
}

static int list_snapshots(int fd, bool json)
{
	uint8_t ids[BLKSNAP_MAX_SNAPSHOTS][BLKSNAP_UUID_SIZE];
	unsigned int total = 0, shown = 0, i;
	int ret = blksnap_ctl_snapshot_list(fd, ids, BLKSNAP_MAX_SNAPSHOTS, &total);

	if (ret)
		cli_die("cannot list the snapshots: %s", strerror(-ret));
	if (json)
		printf("[");
	for (i = 0; i < total && i < BLKSNAP_MAX_SNAPSHOTS; i++) {
		struct blksnap_snapshot_info info;
		struct blksnap_image *v;

		/* One destroyed between the list and now is no longer listed. */
		if (blksnap_snapshot_describe(fd, ids[i], &info, &v))
			continue;
		if (json) {
			printf("%s\n", shown++ ? "," : "");
			print_info(ids[i], &info, v, true);
		} else {
			printf("%s\t%s\n", id_text(ids[i]),
			       blksnap_snapshot_state_name(info.state));
			print_images(v, info.image_count, false);
		}
		free(v);
	}
	if (json)
		printf("]\n");
	return EXIT_SUCCESS;
}

static void log_event(const struct blksnap_event *ev)
{
	char used[32], limit[32], when[32];
	time_t t = (time_t)(ev->time_ns / 1000000000u);
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", localtime_r(&t, &tm));
	cli_human_size(ev->storage_used, used, sizeof(used));
	cli_human_size(ev->storage_limit, limit, sizeof(limit));
	if (ev->code == BLKSNAP_EVENT_LOW_SPACE)
		printf("%s low-space: %s of %s used\n", when, used, limit);
	else if (ev->code == BLKSNAP_EVENT_CORRUPTED && !ev->dev.mj && !ev->dev.mn)
		printf("%s corrupted: %s (the difference storage; %s of %s used)\n",
		       when, strerror(ev->error), used, limit);
	else if (ev->code == BLKSNAP_EVENT_CORRUPTED)
		printf("%s corrupted: %s (device %u:%u; %s of %s used)\n", when,
		       ev->error == ENOSPC ? "the difference storage overflowed" :
		       strerror(ev->error), ev->dev.mj, ev->dev.mn, used, limit);
	else
		printf("%s event %" PRIu32 "\n", when, ev->code);
	fflush(stdout);
}

static void extend(int fd, const struct args *a)
{
	struct blksnap_storage st;
	char size[32];
	int ret;

	open_storage(a->storage, a->auto_extend, false, &st);
	ret = blksnap_ctl_snapshot_append(fd, a->id, st.fd,
					  st.whole_device ? 0 : a->auto_extend);
	blksnap_storage_release(&st);
	if (ret)
		die_snapshot(a->id, ret, "cannot add storage");
	printf("extended: %s more storage in %s\n",
	       cli_human_size(a->auto_extend, size, sizeof(size)), a->storage);
	fflush(stdout);
}

/* Until the snapshot is destroyed (exit 0), corrupted (exit 1) or --wait-timeout. */
static int wait_events(int fd, const struct args *a)
{
	double end = a->timeout >= 0 ? cli_now() + a->timeout : 0;
	struct blksnap_event ev;
	int ret;

	for (;;) {
		uint32_t ms = 1000;

		if (a->timeout >= 0) {
			double left = end - cli_now();

			if (left <= 0)
				return EXIT_SUCCESS;
			if (left < 1)
				ms = (uint32_t)(left * 1000) + 1;
		}
		ret = blksnap_ctl_snapshot_wait_event(fd, a->id, ms, &ev);
		if (ret == -ETIMEDOUT || ret == -EINTR)
			continue;
		if (ret == -ENOENT) {
			cli_info("snapshot %s: destroyed", id_text(a->id));
			return EXIT_SUCCESS;
		}
		if (ret)
			die_snapshot(a->id, ret, "cannot wait for events");
		log_event(&ev);
		if (ev.code == BLKSNAP_EVENT_CORRUPTED)
			cli_die("snapshot %s is corrupted: its images can no longer be read",
				id_text(a->id));
		if (ev.code == BLKSNAP_EVENT_LOW_SPACE && a->auto_extend)
			extend(fd, a);
	}
}

int main(int argc, char **argv)
{
	struct args a = { .mode = MODE_TAKE, .timeout = -1 };
	int fd, ret;

	cli_init();
	parse_args(argc, argv, &a);
	/* Devices are checked before the module: the first error is theirs. */
	if (a.mode == MODE_TAKE)
		return take(&a);
	if (a.mode == MODE_IMAGE)
		return show_image(&a);
	fd = cli_open_control();
	switch (a.mode) {
	case MODE_INFO:
		return show_info(fd, &a);
	case MODE_LIST:
		return list_snapshots(fd, a.json);
	case MODE_WAIT:
		return wait_events(fd, &a);
	case MODE_DESTROY:
		ret = blksnap_ctl_snapshot_destroy(fd, a.id);
		if (ret)
			die_snapshot(a.id, ret, "cannot destroy");
		cli_info("snapshot %s: destroyed", id_text(a.id));
		return EXIT_SUCCESS;
	default:
		return EXIT_USAGE;
	}
}
