// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The CBT state file (lib/cbt-state.c, blksnap-cbt-state(5)), read from a
 * file that may hold anything: a truncated, damaged or hostile file is
 * refused with a message; what is accepted encodes back to the same
 * bytes, its maps within their bounds.
 */

#include <stdlib.h>
#include <string.h>

#include "cbt-state.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_state s, h;
	uint64_t len, i;
	uint8_t *again;
	int ret = cs_parse(data, size, &s);
	int hret = cs_parse_header(data, size, &h);

	FUZZ_ASSERT(ret == 0 || ret == -1);
	FUZZ_ASSERT(ret != 0 || hret == 0);
	FUZZ_ASSERT(ret == 0 || cs_error()[0]);
	if (ret)
		return 0;
	FUZZ_ASSERT(h.block_count == s.block_count && !h.map && !h.snap_map);
	len = cs_file_size(s.block_count);
	FUZZ_ASSERT(len && len <= size);
	for (i = 0; i < s.block_count; i++)
		FUZZ_ASSERT(s.map[i] <= s.snap_number && s.snap_map[i] < s.snap_number);
	again = malloc(len);
	FUZZ_ASSERT(again);
	FUZZ_ASSERT(cs_encode(&s, again, len) == 0);
	FUZZ_ASSERT(!memcmp(again, data, len));
	free(again);
	cs_free(&s);
	return 0;
}
