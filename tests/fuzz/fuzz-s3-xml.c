// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The answers of an S3 server: the error code of a failed request, the
 * UploadId of CreateMultipartUpload, the outcome of
 * CompleteMultipartUpload, the pending upload and the parts a
 * resumed upload lists (lib/remote-s3.c).
 */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "internal.h"
#include "remote-backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = { "Code", "UploadId", "Message" };
	char *xml = fuzz_string(data, size), *v;
	size_t i;

	for (i = 0; i < BS_ARRAY_SIZE(tags); i++) {
		v = s3_xml_value(xml, tags[i]);
		/* What it finds is a part of the answer. */
		FUZZ_ASSERT(!v || strstr(xml, v));
		free(v);
	}
	/* A failure always has a reason; a success has none. */
	v = NULL;
	if (!s3_complete_succeeded(xml, &v))
		FUZZ_ASSERT(!v || strstr(xml, v));
	else
		FUZZ_ASSERT(!v);
	free(v);
	/* A pending upload found is one of the listing's. */
	{
		struct s3_parts ps = { 0 };
		unsigned long marker;
		bool more;

		v = s3_uploads_find(xml, "k", &more);
		FUZZ_ASSERT(!v || (*v && strstr(xml, v)));
		free(v);
		if (!s3_parts_parse(xml, &ps, &more, &marker))
			for (i = 0; i < ps.count; i++)
				FUZZ_ASSERT(ps.v[i].number >= 1 &&
					    ps.v[i].number <= 10000 && ps.v[i].etag);
		s3_parts_free(&ps);
	}
	free(xml);
	return 0;
}
