// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ustar headers and pax records, written for uncompressed archives
 * (lib/writer.c) and read for the manifest of a manifest file
 * (lib/archive-read.c), both without libarchive.
 */

#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tar.h"

/* @v in octal, zero-padded to @digits digits, then @tail. */
static void put_octal(char *field, size_t digits, uint64_t v,
		      const char *tail, size_t tail_len)
{
	size_t i;

	for (i = digits; i-- > 0; v >>= 3)
		field[i] = (char)('0' + (v & 7));
	memcpy(field + digits, tail, tail_len);
}

void tar_header_format(unsigned char h[TAR_BLOCK], const char *name,
		       char type, uint64_t size, time_t mtime)
{
	unsigned int sum = 0;
	size_t i, len;

	memset(h, 0, TAR_BLOCK);
	/* A name that does not fit is cut to 99 bytes, as libarchive does. */
	len = strlen(name);
	memcpy(h, name, len <= TAR_NAME_MAX ? len : TAR_NAME_MAX - 1);
	put_octal((char *)h + 100, 6, 0644, " ", 2);	/* mode */
	put_octal((char *)h + 108, 6, 0, " ", 2);	/* uid */
	put_octal((char *)h + 116, 6, 0, " ", 2);	/* gid */
	/* A larger size is in the pax header (size=). */
	put_octal((char *)h + 124, 11, BS_MIN(size, USTAR_SIZE_MAX), " ", 1);
	put_octal((char *)h + 136, 11, (uint64_t)mtime, " ", 1);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar\0" "00", 8);
	put_octal((char *)h + 329, 6, 0, " ", 2);	/* devmajor */
	put_octal((char *)h + 337, 6, 0, " ", 2);	/* devminor */
	memset(h + 148, ' ', 8);
	for (i = 0; i < TAR_BLOCK; i++)
		sum += h[i];
	put_octal((char *)h + 148, 6, sum, "\0 ", 2);
}

int tar_pax_record(char *buf, size_t size, size_t *len, const char *key,
		      const char *value)
{
	size_t n = strlen(key) + strlen(value) + 3, digits = 1, t;
	int ret;

	/* LEN counts its own digits. */
	for (;;) {
		size_t d = 1;

		for (t = n + digits; t >= 10; t /= 10)
			d++;
		if (d == digits)
			break;
		digits = d;
	}
	ret = snprintf(buf + *len, size - *len, "%zu %s=%s\n", n + digits,
		       key, value);
	/* One byte is left for a terminating NUL. */
	if (ret < 0 || (size_t)ret >= size - *len)
		return bs_fail("internal error: pax header too long");
	*len += (size_t)ret;
	return 0;
}

/* A ustar header's octal field; false when it is not one. */
static bool get_octal(const unsigned char *field, size_t size, uint64_t *v)
{
	size_t i = 0;

	*v = 0;
	while (i < size && field[i] == ' ')
		i++;
	if (i == size || field[i] < '0' || field[i] > '7')
		return false;
	for (; i < size && field[i] >= '0' && field[i] <= '7'; i++)
		*v = *v << 3 | (uint64_t)(field[i] - '0');
	return i == size || field[i] == ' ' || field[i] == '\0';
}

bool tar_header_read(const unsigned char h[TAR_BLOCK], char *type,
		     uint64_t *size)
{
	uint64_t sum;
	unsigned int got = 0;
	size_t i;

	for (i = 0; i < TAR_BLOCK; i++)
		got += (i >= 148 && i < 156) ? ' ' : h[i];
	*type = (char)h[156];
	return get_octal(h + 148, 8, &sum) && sum == got &&
	       !memcmp(h + 257, "ustar", 5) && get_octal(h + 124, 12, size);
}

bool tar_plain_header(const unsigned char h[TAR_BLOCK], const char *name,
			 uint64_t *size)
{
	char type;

	return tar_header_read(h, &type, size) &&
	       (type == '0' || type == '\0') &&
	       strnlen((const char *)h, TAR_NAME_MAX) == strlen(name) &&
	       !memcmp(h, name, strlen(name));
}

