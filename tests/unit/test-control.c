// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The snapshot wrappers of libblksnap without the module: bad arguments
 * are refused before any ioctl. The control descriptor is /dev/null, so
 * a call that reaches the ioctl fails with -ENOTTY instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "blksnap/control.h"
#include "tap.h"

static const uint8_t sample_id[BLKSNAP_UUID_SIZE] = {
	0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
};

static void ids(void)
{
	char text[BLKSNAP_SNAPSHOT_ID_TEXT];
	uint8_t id[BLKSNAP_UUID_SIZE];

	blksnap_ctl_snapshot_id_format(sample_id, text);
	ok(!strcmp(text, "12345678-9abc-def0-0123-456789abcdef"),
	   "id formatted as a UUID: %s", text);
	ok(blksnap_ctl_snapshot_id_parse(text, id) == 0 &&
	   !memcmp(id, sample_id, sizeof(id)), "id parsed back");
	ok(blksnap_ctl_snapshot_id_parse("12345678-9ABC-DEF0-0123-456789ABCDEF",
				     id) == 0 && !memcmp(id, sample_id, sizeof(id)),
	   "upper case parsed");
	memset(id, 0, sizeof(id));
	ok(blksnap_ctl_snapshot_id_parse("12345678-9abc-def0-0123-456789abcde",
				     id) == -EINVAL, "short id refused");
	ok(blksnap_ctl_snapshot_id_parse("12345678-9abc-def0-0123-456789abcdef0",
				     id) == -EINVAL, "long id refused");
	ok(blksnap_ctl_snapshot_id_parse("123456789abc-def0-0123-456789abcdef-",
				     id) == -EINVAL, "misplaced dash refused");
	ok(blksnap_ctl_snapshot_id_parse("12345678-9abc-def0-0123-456789abcdeg",
				     id) == -EINVAL, "non-hex refused");
	ok(blksnap_ctl_snapshot_id_parse(NULL, id) == -EINVAL, "NULL refused");
	ok(id[0] == 0, "id untouched on failure");
}

static void storage(int ctl, int file, int null)
{
	uint8_t id[BLKSNAP_UUID_SIZE];

	ok(blksnap_ctl_snapshot_create(ctl, -1, 1 << 20, 0, id) == -EBADF,
	   "create: negative storage fd");
	ok(blksnap_ctl_snapshot_create(ctl, 1000000, 1 << 20, 0, id) == -EBADF,
	   "create: closed storage fd");
	ok(blksnap_ctl_snapshot_create(ctl, file, 0, 0, id) == -EINVAL,
	   "create: file without a limit");
	ok(blksnap_ctl_snapshot_create(ctl, file, 1 << 20, (1 << 20) + 1, id) ==
	   -EINVAL, "create: low_space above the limit");
	ok(blksnap_ctl_snapshot_create(ctl, null, 0, 0, id) == -EINVAL,
	   "create: character device as storage");
	ok(blksnap_ctl_snapshot_create(ctl, file, 1 << 20, 0, NULL) == -EINVAL,
	   "create: NULL id");
	ok(blksnap_ctl_snapshot_create(ctl, file, 1 << 20, 1 << 20, id) ==
	   -ENOTTY, "create: good arguments reach the ioctl");
	ok(blksnap_ctl_snapshot_append(ctl, sample_id, file, 0) == -EINVAL,
	   "append: file without a limit");
	ok(blksnap_ctl_snapshot_append(ctl, sample_id, -5, 1 << 20) == -EBADF,
	   "append: negative storage fd");
	ok(blksnap_ctl_snapshot_append(ctl, sample_id, null, 0) == -EINVAL,
	   "append: character device as storage");
	ok(blksnap_ctl_snapshot_append(ctl, NULL, file, 1 << 20) == -EINVAL,
	   "append: NULL id");
	ok(blksnap_ctl_snapshot_append(ctl, sample_id, file, 1 << 20) == -ENOTTY,
	   "append: good arguments reach the ioctl");
}

static void bounds(int ctl)
{
	static uint8_t list[BLKSNAP_MAX_SNAPSHOTS + 1][BLKSNAP_UUID_SIZE];
	static struct blksnap_image images[BLKSNAP_MAX_SNAPSHOT_DEVICES + 1];
	struct blksnap_snapshot_info info;
	struct blksnap_event ev;
	unsigned int total = 12345;

	ok(blksnap_ctl_snapshot_list(ctl, list, BLKSNAP_MAX_SNAPSHOTS + 1,
				 &total) == -EINVAL, "list: capacity over the maximum");
	ok(blksnap_ctl_snapshot_list(ctl, NULL, 1, &total) == -EINVAL,
	   "list: NULL array with a capacity");
	ok(blksnap_ctl_snapshot_list(ctl, list, 1, NULL) == -EINVAL,
	   "list: NULL total");
	ok(total == 12345, "list: total untouched on failure");
	ok(blksnap_ctl_snapshot_list(ctl, NULL, 0, &total) == -ENOTTY,
	   "list: capacity 0 without an array reaches the ioctl");
	ok(blksnap_ctl_snapshot_list(ctl, list, BLKSNAP_MAX_SNAPSHOTS, &total) ==
	   -ENOTTY, "list: maximum capacity reaches the ioctl");
	ok(blksnap_ctl_snapshot_info(ctl, sample_id, &info, images,
				 BLKSNAP_MAX_SNAPSHOT_DEVICES + 1) == -EINVAL,
	   "info: capacity over the maximum");
	ok(blksnap_ctl_snapshot_info(ctl, sample_id, &info, NULL, 1) == -EINVAL,
	   "info: NULL array with a capacity");
	ok(blksnap_ctl_snapshot_info(ctl, NULL, &info, images, 1) == -EINVAL,
	   "info: NULL id");
	ok(blksnap_ctl_snapshot_info(ctl, sample_id, &info, NULL, 0) == -ENOTTY,
	   "info: capacity 0 reaches the ioctl");
	ok(info.images == 0 && !memcmp(info.id, sample_id, BLKSNAP_UUID_SIZE),
	   "info: id set, no user pointer left behind");
	ok(blksnap_ctl_snapshot_add(ctl, NULL, 0) == -EINVAL, "add: NULL id");
	ok(blksnap_ctl_snapshot_take(ctl, NULL) == -EINVAL, "take: NULL id");
	ok(blksnap_ctl_snapshot_destroy(ctl, NULL) == -EINVAL, "destroy: NULL id");
	ok(blksnap_ctl_snapshot_wait_event(ctl, NULL, 10, &ev) == -EINVAL,
	   "wait: NULL id");
	ok(blksnap_ctl_snapshot_wait_event(ctl, sample_id, 10, NULL) == -EINVAL,
	   "wait: NULL event");
	ok(blksnap_ctl_snapshot_add(ctl, sample_id, 0) == -ENOTTY,
	   "add reaches the ioctl");
	ok(blksnap_ctl_snapshot_take(ctl, sample_id) == -ENOTTY,
	   "take reaches the ioctl");
	ok(blksnap_ctl_snapshot_destroy(ctl, sample_id) == -ENOTTY,
	   "destroy reaches the ioctl");
	ok(blksnap_ctl_snapshot_wait_event(ctl, sample_id, 10, &ev) == -ENOTTY,
	   "wait reaches the ioctl");
}

int main(void)
{
	int ctl = open("/dev/null", O_RDWR);
	FILE *tmp = tmpfile();

	if (ctl < 0 || !tmp) {
		printf("1..0 # SKIP no /dev/null or temporary file\n");
		return 0;
	}
	ids();
	storage(ctl, fileno(tmp), ctl);
	bounds(ctl);
	fclose(tmp);
	close(ctl);
	return tap_done();
}
