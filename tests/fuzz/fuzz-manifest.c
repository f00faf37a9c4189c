// SPDX-License-Identifier: GPL-2.0-or-later
/* Manifests' text form: what parses formats back to the same manifest. */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blksnap_manifest m, back;
	char *text;
	size_t len;

	if (blksnap_manifest_parse((const char *)data, size, "fuzz", &m))
		return 0;
	FUZZ_ASSERT(!blksnap_manifest_format(&m, &text, &len));
	FUZZ_ASSERT(!blksnap_manifest_parse(text, len, "again", &back));
	/* Both were zeroed first, then filled the same way. */
	FUZZ_ASSERT(!memcmp(&m, &back, sizeof(m)));
	free(text);
	return 0;
}
