// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The CBT state file (lib/cbt-state.c, lib/cbt-device.c): encode, parse
 * back, refuse every damage by name; identity rules; file names; the
 * durable write and the in-place reservation on the filesystem of the
 * build directory (skipped unless it is ext4 or xfs).
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>

#include "cbt-device.h"
#include "cbt-state.h"
#include "tap.h"
#include "xxh.h"

#define BLOCKS 300

static uint8_t live[BLOCKS], frozen[BLOCKS];

static void sample(struct cs_state *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->flags = CS_FLAG_FINGERPRINT;
	s->save_time = 1764700000;
	memset(s->boot_id, 0x11, 16);
	s->id.dev = (UINT64_C(7) << 32) | 3;
	s->block_size = 65536;
	s->capacity = (uint64_t)(BLOCKS - 1) * 128 + 8;	/* last block short */
	s->id.size = s->capacity << 9;
	s->id.logical_block = 512;
	s->id.diskseq = 42;
	strcpy(s->id.kname, "loop3");
	strcpy(s->id.path, "/dev/loop3");
	strcpy(s->id.fs_type, "ext4");
	strcpy(s->id.fs_uuid, "2f0e7c1a-0000-4000-8000-0123456789ab");
	strcpy(s->id.fs_label, "data");
	s->block_count = BLOCKS;
	s->snap_number = 4;
	memset(s->generation, 0xab, 16);
	s->writes_at_attach = 0;
	s->writes_now = 1234;
	s->fp_len = CS_FP_LEN;
	s->fp_head = 0x1111;
	s->fp_tail = 0x2222;
	for (i = 0; i < BLOCKS; i++) {
		live[i] = (uint8_t)(i % 5);
		frozen[i] = (uint8_t)(i % 4);
	}
	s->map = live;
	s->snap_map = frozen;
}

static uint8_t *encoded(size_t *len)
{
	struct cs_state s;
	uint8_t *buf;

	sample(&s);
	*len = (size_t)cs_file_size(BLOCKS);
	buf = malloc(*len);
	if (!buf || cs_encode(&s, buf, *len))
		abort();
	return buf;
}

/* Parses @buf, expecting a failure whose message holds @needle. */
static void refused(const uint8_t *buf, size_t len, const char *needle, const char *what)
{
	struct cs_state out;
	int r = cs_parse(buf, len, &out);

	ok(r < 0 && strstr(cs_error(), needle), "%s: refused (%s)", what, cs_error());
	if (!r)
		cs_free(&out);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

/* After editing the maps: their hash and the header's CRC made right again. */
static void reseal(uint8_t *buf)
{
	XXH3_state_t *st = XXH3_createState();

	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, buf + CS_HEADER_SIZE, BLOCKS);
	XXH3_64bits_update(st, buf + CS_HEADER_SIZE + BLOCKS, BLOCKS);
	put_le64(buf + 152, XXH3_64bits_digest(st));
	XXH3_freeState(st);
	put_le32(buf + 20, cs_header_crc(buf));
}

static void test_roundtrip(void)
{
	struct cs_state s, back;
	uint8_t *buf, *again;
	size_t len;

	buf = encoded(&len);
	ok(len == 8192, "a file of 300 blocks is one header and one block of maps (%zu)", len);
	ok(!memcmp(buf, CS_MAGIC, 8), "it starts with the magic");
	ok(cs_parse(buf, len, &back) == 0, "it parses back (%s)", cs_error());
	sample(&s);
	ok(back.block_count == BLOCKS && back.snap_number == 4 &&
	   back.block_size == 65536 && back.capacity == s.capacity &&
	   back.writes_now == 1234 && back.id.diskseq == 42 &&
	   !memcmp(back.generation, s.generation, 16) &&
	   !memcmp(back.boot_id, s.boot_id, 16), "numbers read back");
	ok(!strcmp(back.id.fs_uuid, s.id.fs_uuid) && !strcmp(back.id.kname, "loop3") &&
	   !strcmp(back.id.fs_label, "data") && !back.id.partuuid[0], "texts read back");
	ok(!memcmp(back.map, live, BLOCKS) && !memcmp(back.snap_map, frozen, BLOCKS),
	   "maps read back");
	again = malloc(len);
	ok(again && cs_encode(&back, again, len) == 0 && !memcmp(again, buf, len),
	   "what is read back encodes to the same bytes");
	cs_free(&back);
	ok(cs_parse(buf, len + 0, &back) == 0 && !(back.flags & CS_FLAG_USED), "not used");
	cs_free(&back);
	cs_mark_used(buf);
	ok(cs_parse(buf, len, &back) == 0 && (back.flags & CS_FLAG_USED),
	   "marked used: still valid, with the flag");
	cs_free(&back);
	free(again);
	free(buf);
}

static void test_damage(void)
{
	uint8_t *buf, *copy;
	size_t len, cut[] = { 0, 5, 10, 100, 4095, 4096, 4700, 8191 };
	char what[64];
	unsigned int i;

	buf = encoded(&len);
	copy = malloc(len);
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		snprintf(what, sizeof(what), "cut to %zu bytes", cut[i]);
		refused(buf, cut[i], cut[i] == 0 ? "empty" : "truncated", what);
	}
	memcpy(copy, buf, len);
	copy[300] ^= 1;
	refused(copy, len, "bad header checksum", "a header byte flipped");
	memcpy(copy, buf, len);
	copy[CS_HEADER_SIZE + 7] ^= 1;
	refused(copy, len, "bad map checksum", "a map byte flipped");
	memcpy(copy, buf, len);
	put_le32(copy + 8, 2);
	refused(copy, len, "of version 2", "version 2");
	memcpy(copy, buf, len);
	memcpy(copy, "BSCBTSTX", 8);
	refused(copy, len, "not a blksnap CBT state file", "another magic");
	memset(copy, 0, len);
	refused(copy, len, "holds no saved state", "a reserved file never saved");
	memcpy(copy, buf, len);
	copy[len - 1] = 1;
	reseal(copy);
	refused(copy, len, "padding", "garbage after the maps");
	memcpy(copy, buf, len);
	copy[CS_HEADER_SIZE + 10] = 5;	/* live above snap_number 4 */
	reseal(copy);
	refused(copy, len, "live map value 5", "a live map value past the snapshot number");
	memcpy(copy, buf, len);
	copy[CS_HEADER_SIZE + BLOCKS + 10] = 4;	/* frozen not below 4 */
	reseal(copy);
	refused(copy, len, "frozen map value 4", "a frozen map value not below it");
	memcpy(copy, buf, len);
	put_le64(copy + 104, BLOCKS + 1);	/* block_count */
	reseal(copy);
	refused(copy, len, "tracking blocks", "a block count that does not fit the capacity");
	memcpy(copy, buf, len);
	put_le32(copy + 96, 0);		/* snap_number */
	reseal(copy);
	refused(copy, len, "snapshot number of 0", "snapshot number 0");
	memcpy(copy, buf, len);
	put_le32(copy + 68, 1000);	/* block_size */
	reseal(copy);
	refused(copy, len, "block size of 1000", "a tracking block not a power of two");
	memcpy(copy, buf, len);
	memset(copy + 192, 'x', CS_KNAME_LEN);	/* kname unterminated */
	reseal(copy);
	refused(copy, len, "not terminated", "a text field without its NUL");
	memcpy(copy, buf, len);
	put_le32(copy + 16, 0x80);	/* flags */
	reseal(copy);
	refused(copy, len, "unknown flags", "unknown flags");
	memcpy(copy, buf, len);
	copy[2000] = 1;			/* reserved part of the header */
	reseal(copy);
	refused(copy, len, "reserved", "non-zero reserved bytes");
	memcpy(copy, buf, len);
	put_le64(copy + 56, 4096);	/* size != capacity */
	reseal(copy);
	refused(copy, len, "device size", "a size that is not the capacity");
	free(copy);
	free(buf);
}

static void test_encode_refuses(void)
{
	struct cs_state s;
	uint8_t buf[8192];

	sample(&s);
	ok(cs_encode(&s, buf, 4096) < 0, "a buffer too small");
	sample(&s);
	live[3] = 9;
	ok(cs_encode(&s, buf, sizeof(buf)) < 0 && strstr(cs_error(), "live map"),
	   "a map value out of range is not written");
	sample(&s);
	memset(s.id.path, 'p', sizeof(s.id.path));
	ok(cs_encode(&s, buf, sizeof(buf)) < 0, "a text that does not fit");
	ok(cs_file_size(0) == 4096 && cs_file_size(2048) == 8192 &&
	   cs_file_size(2049) == 12288, "file sizes are whole 4 KiB blocks");
}

static void test_identity(void)
{
	struct cs_state s;
	struct cs_identity a, b;
	char name[128];

	sample(&s);
	a = s.id;
	b = a;
	ok(!cs_identity_differs(&a, &b), "the same identity");
	b.dev = 99;
	strcpy(b.kname, "sdz");
	strcpy(b.path, "/dev/sdz");
	b.diskseq = 7;
	strcpy(b.fs_label, "renamed");
	ok(!cs_identity_differs(&a, &b), "name, path, dev_t, diskseq and label may change");
	b = a;
	b.size += 512;
	ok(cs_identity_differs(&a, &b) && strstr(cs_identity_differs(&a, &b), "size"),
	   "another size");
	b = a;
	b.fs_uuid[0] = '3';
	ok(cs_identity_differs(&a, &b) && strstr(cs_identity_differs(&a, &b), "UUID"),
	   "another filesystem UUID");
	b = a;
	b.fs_uuid[0] = '\0';
	ok(cs_identity_differs(&a, &b) != NULL, "a filesystem UUID gone");
	b = a;
	strcpy(b.fs_type, "xfs");
	ok(cs_identity_differs(&a, &b) != NULL, "another filesystem type");
	b = a;
	strcpy(b.partuuid, "abc");
	ok(!cs_identity_differs(&a, &b), "a PARTUUID unknown at the save is not compared");
	a.partuuid[0] = 'x';
	ok(cs_identity_differs(&a, &b) != NULL, "another PARTUUID");

	ok(cs_file_name(&s.id, name, sizeof(name)) == 0 &&
	   !strcmp(name, "uuid-2f0e7c1a-0000-4000-8000-0123456789ab.cbt"),
	   "named after the filesystem UUID: %s", name);
	a = s.id;
	a.fs_uuid[0] = '\0';
	strcpy(a.partuuid, "1234/..");
	ok(cs_file_name(&a, name, sizeof(name)) == 0 && !strcmp(name, "partuuid-1234_...cbt"),
	   "then the PARTUUID, no slash kept: %s", name);
	a.partuuid[0] = '\0';
	ok(cs_file_name(&a, name, sizeof(name)) == 0 && !strcmp(name, "name-loop3.cbt"),
	   "then the kernel name: %s", name);
	a.kname[0] = '\0';
	ok(cs_file_name(&a, name, sizeof(name)) < 0, "nothing to name it after");
}

static void test_uuid(void)
{
	uint8_t u[16];

	ok(cs_uuid_parse("0123abcd-4567-89EF-0123-456789abcdef\n", u) == 0 &&
	   u[0] == 0x01 && u[7] == 0xef && u[15] == 0xef, "a boot id parses");
	ok(cs_uuid_parse("0123abcd-4567-89ef-0123-456789abcde", u) < 0, "short");
	ok(cs_uuid_parse("0123abcd+4567-89ef-0123-456789abcdef", u) < 0, "no dash");
	ok(cd_boot_id(u) == 0, "this boot's id reads (%s)", cs_error());
}

static void test_files(void)
{
	char dir[] = "/tmp/cbt-state-XXXXXX", path[64], big[80];
	struct cd_extent *ext;
	struct statfs sfs;
	struct stat st;
	size_t count;
	uint8_t *buf, back[8192];
	size_t len;
	int fd;

	buf = encoded(&len);
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/a.cbt", dir);
	ok(cd_write_file(path, buf, len) == 0, "written durably (%s)", cs_error());
	fd = open(path, O_RDONLY);
	ok(fd >= 0 && read(fd, back, sizeof(back)) == (ssize_t)len && !memcmp(back, buf, len),
	   "read back whole");
	ok(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600");
	if (fd >= 0)
		close(fd);
	ok(cd_write_file("/nonexistent/dir/a.cbt", buf, len) < 0 &&
	   strstr(cs_error(), "/nonexistent/dir/a.cbt"), "a failure names the file");

	/* The in-place reservation needs ext4 or xfs under the build directory. */
	snprintf(big, sizeof(big), "cbt-reserve-%d.tmp", (int)getpid());
	if (statfs(".", &sfs) < 0 || (sfs.f_type != 0xEF53 && sfs.f_type != 0x58465342) ||
	    stat(".", &st) < 0) {
		printf("ok %d - # SKIP the build directory is not on ext4 or xfs\n", ++tap_count);
	} else {
		ok(cd_reserve_file(big, 3 * 4096 + 5000, st.st_dev + 1) < 0 &&
		   strstr(cs_error(), "not on the device"),
		   "a reservation for another device is refused");
		ok(access(big, F_OK) < 0, "and leaves no file");
		ok(cd_reserve_file(big, 5 * 4096, st.st_dev) == 0,
		   "reserved on this filesystem (%s)", cs_error());
		fd = open(big, O_RDONLY);
		ok(fd >= 0 && cd_file_extents(fd, big, 5 * 4096, &ext, &count) == 0 &&
		   count >= 1 && ext[0].logical == 0, "its extents are plain (%s)", cs_error());
		if (fd >= 0 && count)
			free(ext);
		ok(fd >= 0 && cd_file_extents(fd, big, 6 * 4096, &ext, &count) < 0 &&
		   strstr(cs_error(), "needed"), "more than it holds is refused");
		if (fd >= 0)
			close(fd);
		unlink(big);
	}
	unlink(path);
	rmdir(dir);
	free(buf);
}

static void test_stacking(void)
{
	char sys[96], line[32];
	unsigned int mj, mn;
	struct stat st;
	FILE *f;

	if (stat(".", &st) < 0)
		abort();
	ok(cd_dev_writes_to(st.st_dev, st.st_dev), "a device writes to itself");
	ok(!cd_dev_writes_to(st.st_dev, makedev(1, 3)), "not to /dev/null's number");
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/../dev", major(st.st_dev),
		 minor(st.st_dev));
	f = fopen(sys, "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "%u:%u", &mj, &mn) != 2 ||
	    access(sys, F_OK) || (snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/partition",
					   major(st.st_dev), minor(st.st_dev)), access(sys, F_OK))) {
		printf("ok %d - # SKIP the build directory is not on a partition\n", ++tap_count);
	} else {
		ok(cd_dev_writes_to(st.st_dev, makedev(mj, mn)),
		   "a partition writes to its disk (%u:%u)", mj, mn);
	}
	if (f)
		fclose(f);
}

int main(void)
{
	test_roundtrip();
	test_damage();
	test_encode_refuses();
	test_identity();
	test_uuid();
	test_files();
	test_stacking();
	return tap_done();
}
