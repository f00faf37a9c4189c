// SPDX-License-Identifier: GPL-2.0-or-later
/* Hash indexes: what decodes encodes to an index that decodes the same. */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blksnap_hash_index ix, back;
	void *buf;
	size_t len;

	if (blksnap_hash_index_decode(data, size, "fuzz", &ix))
		return 0;
	FUZZ_ASSERT(!blksnap_hash_index_encode(&ix, &buf, &len) && len <= size);
	FUZZ_ASSERT(!blksnap_hash_index_decode(buf, len, "again", &back));
	FUZZ_ASSERT(back.count == ix.count && back.block_size == ix.block_size &&
		    back.image_size == ix.image_size &&
		    back.regions.count == ix.regions.count);
	FUZZ_ASSERT(!ix.count || !memcmp(back.hash, ix.hash, ix.count * 8));
	FUZZ_ASSERT(!ix.regions.count ||
		    !memcmp(back.regions.v, ix.regions.v,
			    ix.regions.count * sizeof(*ix.regions.v)));
	free(buf);
	blksnap_hash_index_free(&ix);
	blksnap_hash_index_free(&back);
	return 0;
}
