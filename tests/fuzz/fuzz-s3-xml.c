// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The answers of an S3 server: the error code of a failed request, the
 * UploadId of CreateMultipartUpload, the outcome of
 * CompleteMultipartUpload (lib/remote-s3.c).
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
	free(xml);
	return 0;
}
