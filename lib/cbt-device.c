// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The device and filesystem side of the CBT state file
 * (lib/cbt-device.h): identity, fingerprint, boot id, and the in-place
 * mode's extents and I/O through the block device.
 */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <blkid.h>

#include "cbt-device.h"
#include "xxh.h"

#define EXT4_MAGIC 0xEF53
#define XFS_MAGIC 0x58465342

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void cd_kernel_name(dev_t dev, char *name, size_t size)
{
	char sys[96], line[256];
	FILE *f;

	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/uevent", major(dev), minor(dev));
	name[0] = '\0';
	f = fopen(sys, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "DEVNAME=", 8)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(name, size, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

int cd_identity(int fd, const char *path, dev_t dev, struct cs_identity *id)
{
	const char *v;
	blkid_probe pr;
	uint64_t size;
	int lbs;

	memset(id, 0, sizeof(*id));
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		return cs_fail("%s: cannot read its size: %s", path, strerror(errno));
	if (ioctl(fd, BLKSSZGET, &lbs) < 0)
		return cs_fail("%s: cannot read its logical block size: %s", path,
			       strerror(errno));
	id->dev = (uint64_t)major(dev) << 32 | minor(dev);
	id->size = size;
	id->logical_block = (uint32_t)lbs;
	copy_text(id->path, sizeof(id->path), path);
	cd_kernel_name(dev, id->kname, sizeof(id->kname));

	pr = blkid_new_probe();
	if (!pr || blkid_probe_set_device(pr, fd, 0, 0)) {
		if (pr)
			blkid_free_probe(pr);
		return cs_fail("%s: cannot probe it with libblkid", path);
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
					  BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	if (blkid_do_safeprobe(pr) == 0) {
		if (!blkid_probe_lookup_value(pr, "TYPE", &v, NULL))
			copy_text(id->fs_type, sizeof(id->fs_type), v);
		if (!blkid_probe_lookup_value(pr, "UUID", &v, NULL))
			copy_text(id->fs_uuid, sizeof(id->fs_uuid), v);
		if (!blkid_probe_lookup_value(pr, "LABEL", &v, NULL))
			copy_text(id->fs_label, sizeof(id->fs_label), v);
		if (!blkid_probe_lookup_value(pr, "PART_ENTRY_UUID", &v, NULL))
			copy_text(id->partuuid, sizeof(id->partuuid), v);
	}
	blkid_free_probe(pr);
	return 0;
}

/* Zeroes the bytes of @buf (@len at @offset of the device) that @skip covers. */
static void blank(uint8_t *buf, uint64_t offset, uint64_t len,
		  const struct cd_extent *skip, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		uint64_t a = skip[i].physical, b = a + skip[i].length;

		if (a < offset)
			a = offset;
		if (b > offset + len)
			b = offset + len;
		if (a < b)
			memset(buf + (a - offset), 0, b - a);
	}
}

static int open_direct(const char *dev, int flags)
{
	int fd = open(dev, flags | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		cs_fail("%s: cannot open it: %s", dev, strerror(errno));
	return fd;
}

int cd_fingerprint(const char *dev, uint64_t size,
		   const struct cd_extent *skip, size_t count, uint64_t *len,
		   uint64_t *head, uint64_t *tail)
{
	uint64_t n = size < CS_FP_LEN ? size : CS_FP_LEN;
	uint64_t at[2] = { 0, size - n }, *out[2] = { head, tail };
	void *buf;
	int fd, i, ret = 0;

	if (!n)
		return cs_fail("%s: empty device", dev);
	fd = open_direct(dev, O_RDONLY);
	if (fd < 0)
		return -1;
	if (posix_memalign(&buf, CS_HEADER_SIZE, n)) {
		close(fd);
		return cs_fail("out of memory");
	}
	for (i = 0; i < 2 && !ret; i++) {
		ssize_t r = pread(fd, buf, n, (off_t)at[i]);

		if (r != (ssize_t)n) {
			ret = cs_fail("%s: cannot read %" PRIu64 " bytes at %" PRIu64 ": %s",
				      dev, n, at[i], r < 0 ? strerror(errno) : "short read");
			break;
		}
		blank(buf, at[i], n, skip, count);
		*out[i] = XXH3_64bits(buf, n);
	}
	*len = n;
	free(buf);
	close(fd);
	return ret;
}

/* The sysfs directory of block device @dev, resolved, into @out (PATH_MAX). */
static bool sys_dir(dev_t dev, char *out)
{
	char link[64];

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	return realpath(link, out) != NULL;
}

static bool writes_to(const char *upper, const char *lower, int depth)
{
	size_t n = strlen(lower);
	char slaves[PATH_MAX + 16], next[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;

	/* The same device, or a partition of it (a subdirectory in sysfs). */
	if (!strncmp(upper, lower, n) && (upper[n] == '\0' || upper[n] == '/'))
		return true;
	if (depth > 8)
		return false;
	snprintf(slaves, sizeof(slaves), "%s/slaves", upper);
	d = opendir(slaves);
	while (d && !found && (e = readdir(d))) {
		char path[PATH_MAX + 300];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", slaves, e->d_name);
		if (realpath(path, next))
			found = writes_to(next, lower, depth + 1);
	}
	if (d)
		closedir(d);
	return found;
}

bool cd_dev_writes_to(dev_t upper, dev_t lower)
{
	char u[PATH_MAX], l[PATH_MAX];

	if (upper == lower)
		return true;
	if (!sys_dir(upper, u) || !sys_dir(lower, l))
		return false;
	return writes_to(u, l, 0);
}

int cd_boot_id(uint8_t out[16])
{
	char text[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	if (!f || !fgets(text, sizeof(text), f)) {
		if (f)
			fclose(f);
		return cs_fail("cannot read /proc/sys/kernel/random/boot_id");
	}
	fclose(f);
	if (cs_uuid_parse(text, out))
		return cs_fail("/proc/sys/kernel/random/boot_id is not a UUID");
	return 0;
}

uint64_t cd_inflight_writes(dev_t dev)
{
	char sys[96];
	unsigned long long r = 0, w = 0;
	FILE *f;

	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/inflight", major(dev), minor(dev));
	f = fopen(sys, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &r, &w) != 2)
		w = 0;
	fclose(f);
	return w;
}

/* Extent flags that a write through the device would not survive. */
#define BAD_EXTENT (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |		\
		    FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED |	\
		    FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE |	\
		    FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_UNWRITTEN |		\
		    FIEMAP_EXTENT_SHARED)

int cd_file_extents(int fd, const char *name, uint64_t need,
		    struct cd_extent **ext, size_t *count)
{
	enum { MAX = 256 };
	struct fiemap *fm;
	struct statfs sfs;
	struct stat st;
	uint64_t next = 0;
	size_t n = 0;
	unsigned int i;

	*ext = NULL;
	*count = 0;
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0)
		return cs_fail("%s: %s", name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return cs_fail("%s: not a regular file", name);
	if (sfs.f_type != EXT4_MAGIC && sfs.f_type != XFS_MAGIC)
		return cs_fail("%s: on a filesystem other than ext4 or xfs (the in-place mode writes through the device at the file's blocks)",
			       name);
	if ((uint64_t)st.st_size < need)
		return cs_fail("%s: %" PRIu64 " bytes, %" PRIu64 " needed: reserve it again (blksnap-cbt --reserve)",
			       name, (uint64_t)st.st_size, need);
	fm = calloc(1, sizeof(*fm) + MAX * sizeof(struct fiemap_extent));
	*ext = calloc(MAX, sizeof(**ext));
	if (!fm || !*ext) {
		free(fm);
		free(*ext);
		*ext = NULL;
		return cs_fail("out of memory");
	}
	while (next < need) {
		fm->fm_start = next;
		fm->fm_length = need - next;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = MAX;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			cs_fail("%s: cannot map its blocks (FIEMAP): %s", name,
				strerror(errno));
			goto fail;
		}
		if (!fm->fm_mapped_extents) {
			cs_fail("%s: a hole at %" PRIu64 ": reserve it again", name, next);
			goto fail;
		}
		for (i = 0; i < fm->fm_mapped_extents && next < need; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];
			uint64_t skip;

			if (e->fe_flags & BAD_EXTENT) {
				cs_fail("%s: an extent that is not plain (FIEMAP flags 0x%x): reserve it again",
					name, e->fe_flags);
				goto fail;
			}
			if (e->fe_logical > next || e->fe_logical + e->fe_length <= next) {
				cs_fail("%s: a hole at %" PRIu64 ": reserve it again", name, next);
				goto fail;
			}
			if (n == MAX) {
				cs_fail("%s: in more than %d pieces: reserve it again", name, MAX);
				goto fail;
			}
			skip = next - e->fe_logical;
			(*ext)[n].logical = next;
			(*ext)[n].physical = e->fe_physical + skip;
			(*ext)[n].length = e->fe_length - skip;
			if ((*ext)[n].length > need - next)
				(*ext)[n].length = need - next;
			next += (*ext)[n].length;
			n++;
		}
	}
	free(fm);
	*count = n;
	return 0;
fail:
	free(fm);
	free(*ext);
	*ext = NULL;
	return -1;
}

int cd_extents_io(const char *dev, const struct cd_extent *ext,
		  size_t count, void *buf, uint64_t len, bool write)
{
	uint64_t done = 0;
	size_t i;
	int fd = open_direct(dev, write ? O_RDWR : O_RDONLY);

	if (fd < 0)
		return -1;
	for (i = 0; i < count && done < len; i++) {
		uint64_t n = ext[i].length < len - done ? ext[i].length : len - done;
		ssize_t r = write ? pwrite(fd, (uint8_t *)buf + done, n, (off_t)ext[i].physical)
				  : pread(fd, (uint8_t *)buf + done, n, (off_t)ext[i].physical);

		if (r != (ssize_t)n) {
			cs_fail("%s: cannot %s %" PRIu64 " bytes at %" PRIu64 ": %s", dev,
				write ? "write" : "read", n, ext[i].physical,
				r < 0 ? strerror(errno) : "short");
			close(fd);
			return -1;
		}
		done += n;
	}
	if (done < len) {
		close(fd);
		return cs_fail("%s: the file's extents hold %" PRIu64 " bytes, not %" PRIu64,
			       dev, done, len);
	}
	if (write && fsync(fd) < 0) {
		cs_fail("%s: cannot flush it: %s", dev, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) < 0 && write)
		return cs_fail("%s: %s", dev, strerror(errno));
	return 0;
}

static int sync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, ret = 0;

	if (!copy)
		return cs_fail("out of memory");
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		ret = cs_fail("%s: cannot sync its directory: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

int cd_reserve_file(const char *path, uint64_t size, dev_t dev)
{
	struct cd_extent *ext;
	struct stat st;
	size_t count;
	void *zero;
	uint64_t done;
	int fd;

	if (unlink(path) < 0 && errno != ENOENT)
		return cs_fail("%s: cannot replace it: %s", path, strerror(errno));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cs_fail("%s: cannot create it: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_dev != dev) {
		cs_fail("%s: not on the device it is for (%u:%u): the in-place mode keeps a device's state on itself",
			path, major(dev), minor(dev));
		goto fail;
	}
	if (posix_fallocate(fd, 0, (off_t)size)) {
		cs_fail("%s: cannot allocate %" PRIu64 " bytes", path, size);
		goto fail;
	}
	zero = calloc(1, 1 << 20);
	if (!zero) {
		cs_fail("out of memory");
		goto fail;
	}
	/* Written, not only allocated: unwritten extents read as zeroes
	 * whatever a write through the device puts there. */
	for (done = 0; done < size; ) {
		size_t n = size - done < (1u << 20) ? size - done : (1u << 20);
		ssize_t r = pwrite(fd, zero, n, (off_t)done);

		if (r <= 0) {
			cs_fail("%s: cannot write it: %s", path, r < 0 ? strerror(errno) : "short");
			free(zero);
			goto fail;
		}
		done += (uint64_t)r;
	}
	free(zero);
	if (fsync(fd) < 0) {
		cs_fail("%s: cannot sync it: %s", path, strerror(errno));
		goto fail;
	}
	if (cd_file_extents(fd, path, size, &ext, &count))
		goto fail;
	free(ext);
	close(fd);
	return sync_dir_of(path);
fail:
	close(fd);
	unlink(path);
	return -1;
}

int cd_write_file(const char *path, const void *buf, size_t len)
{
	size_t plen = strlen(path), done;
	char *tmp = malloc(plen + 16);
	ssize_t r = 0;
	int fd;

	if (!tmp)
		return cs_fail("out of memory");
	snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0) {
		cs_fail("%s: cannot create a temporary file beside it: %s", path,
			strerror(errno));
		free(tmp);
		return -1;
	}
	for (done = 0; done < len; done += (size_t)r) {
		r = write(fd, (const uint8_t *)buf + done, len - done);
		if (r <= 0)
			break;
	}
	if (done < len || fsync(fd) < 0) {
		cs_fail("%s: cannot write it: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		cs_fail("%s: cannot write it: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		cs_fail("%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
		goto fail;
	}
	free(tmp);
	return sync_dir_of(path);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}
