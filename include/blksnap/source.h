/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sources and targets: block devices and image files, named by path or
 * by a libblkid tag (UUID=, LABEL=, PARTUUID=, PARTLABEL=).
 */
#ifndef BLKSNAP_SOURCE_H
#define BLKSNAP_SOURCE_H

#ifdef __cplusplus
extern "C" {
#endif

/* What libblkid says of the content; empty strings when unknown. */
struct blksnap_identity {
	char fstype[32];
	char uuid[64];
	char label[256];
};

/*
 * Resolves a device specification: a tag NAME=VALUE known to libblkid
 * gives the device's path; anything else is returned as a copy.  The
 * caller frees *path.
 */
int blksnap_resolve(const char *spec, char **path);

#ifdef __cplusplus
}
#endif
#endif
