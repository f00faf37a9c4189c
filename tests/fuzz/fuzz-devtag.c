// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Device names: a tag (UUID=, LABEL=, PARTUUID=, PARTLABEL=) goes to
 * libblkid, anything else is a path taken as it is (lib/source.c).
 * No device is looked up: a tag libblkid parses must have the name
 * that made it one, and a path must come back unchanged.
 */

#include <stdlib.h>
#include <string.h>
#include <blkid.h>

#include "fuzz.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = fuzz_string(data, size), *name = NULL, *value = NULL;
	char *path;

	if (bs_is_device_tag(spec)) {
		/* libblkid may refuse it (UUID=" is unbalanced): not found. */
		if (!blkid_parse_tag_string(spec, &name, &value))
			FUZZ_ASSERT(name && !strncmp(spec, name, strlen(name)) &&
				    spec[strlen(name)] == '=');
		free(name);
		free(value);
	} else {
		FUZZ_ASSERT(!blksnap_resolve(spec, &path) && !strcmp(path, spec));
		free(path);
	}
	free(spec);
	return 0;
}
