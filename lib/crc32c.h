/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CRC-32C (Castagnoli), reflected, as the kernel's ~__crc32c_le(~0, ...):
 * the checksum of the module's storage header (blksnap-storage(5)) and of
 * the CBT state file's header (blksnap-cbt-state(5)).  Bitwise: it only
 * ever covers a few KiB.  Inline, so that both the library and the
 * tools' own convenience libraries carry it without an export.
 */
#ifndef BLKSNAP_CRC32C_H
#define BLKSNAP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t bs_crc32c(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = ~0u;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	return ~crc;
}

#endif
