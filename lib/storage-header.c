// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The header the module writes at the start of a difference storage
 * (struct blksnap_storage_header, blksnap-storage(5)), read back from a
 * device that may hold anything: every field is checked before use.
 */

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"
#include "internal.h"
#include "blksnap/control.h"

uint32_t bs_storage_header_checksum(const struct blksnap_storage_header *h)
{
	struct blksnap_storage_header copy = *h;

	copy.checksum = 0;
	return bs_crc32c(&copy, sizeof(copy));
}

/* Is the text field @s of @size bytes NUL-terminated? */
static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int bs_storage_header_parse(const void *buf, size_t len,
			    struct bs_storage_header *out)
{
	struct blksnap_storage_header h;
	uint32_t state;

	if (len < sizeof(h.magic) ||
	    memcmp(buf, BLKSNAP_STORAGE_MAGIC, sizeof(BLKSNAP_STORAGE_MAGIC)))
		return 0;
	if (len < sizeof(h))
		return bs_fail("a blksnap storage header cut short (%zu bytes)", len);
	memcpy(&h, buf, sizeof(h));
	/* A later version may change anything after the version field. */
	if (le32toh(h.version) != BLKSNAP_STORAGE_VERSION)
		return bs_fail("a blksnap storage header of version %u, not %u",
			       le32toh(h.version), BLKSNAP_STORAGE_VERSION);
	if (le32toh(h.checksum) != bs_storage_header_checksum(&h))
		return bs_fail("a blksnap storage header with a bad checksum");
	state = le32toh(h.state);
	if (le32toh(h.header_size) != sizeof(h) ||
	    (state != BLKSNAP_STORAGE_IN_USE && state != BLKSNAP_STORAGE_RELEASED) ||
	    !terminated(h.description, sizeof(h.description)))
		return bs_fail("a blksnap storage header with invalid fields");
	out->in_use = state == BLKSNAP_STORAGE_IN_USE;
	out->reserved_size = le32toh(h.reserved_size);
	out->size = le64toh(h.size);
	out->time = le64toh(h.time);
	blksnap_ctl_snapshot_id_format(h.snapshot_id, out->snapshot_id);
	bs_strlcpy(out->description, h.description, sizeof(out->description));
	return 1;
}
