// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The difference storage header (lib/storage-header.c), read from
 * whatever a storage device holds. A header is accepted only whole, of
 * this version, with its checksum and with fields that make sense; what
 * does not begin with the magic is not a header at all.
 */

#include <endian.h>
#include <string.h>

#include "fuzz.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blksnap_storage_header raw;
	struct bs_storage_header h;
	int ret = bs_storage_header_parse(data, size, &h);
	bool magic = size >= sizeof(BLKSNAP_STORAGE_MAGIC) &&
		     !memcmp(data, BLKSNAP_STORAGE_MAGIC,
			     sizeof(BLKSNAP_STORAGE_MAGIC));

	FUZZ_ASSERT(magic || ret == 0);
	FUZZ_ASSERT(ret >= -1 && ret <= 1);
	if (ret != 1)
		return 0;
	FUZZ_ASSERT(size >= sizeof(raw));
	memcpy(&raw, data, sizeof(raw));
	FUZZ_ASSERT(le32toh(raw.checksum) == bs_storage_header_checksum(&raw));
	FUZZ_ASSERT(strlen(h.snapshot_id) == BLKSNAP_SNAPSHOT_ID_TEXT - 1);
	FUZZ_ASSERT(strlen(h.description) < sizeof(raw.description));
	FUZZ_ASSERT(h.in_use == (le32toh(raw.state) == BLKSNAP_STORAGE_IN_USE));
	return 0;
}
