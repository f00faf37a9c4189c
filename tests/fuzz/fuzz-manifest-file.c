// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading just the manifest of an archive or manifest file, as
 * blksnap-send --base and blksnap-restore --list do: plain ustar
 * manifest files are read without libarchive, anything else with it.
 */

#include <string.h>
#include <unistd.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blksnap_manifest m;
	const char *chain[2];
	char path[32];
	int fd = fuzz_memfd(data, size, path);

	if (fd < 0)
		return 0;
	if (!blksnap_archive_read_manifest(path, &m)) {
		FUZZ_ASSERT(m.size && blksnap_uuid_valid(m.uuid));
		/* A chain of the file twice: a full cannot follow itself. */
		chain[0] = chain[1] = path;
		FUZZ_ASSERT(blksnap_chain_read_manifests(chain, 2,
			    (struct blksnap_manifest[2]){ 0 }) < 0);
	}
	close(fd);
	return 0;
}
