// SPDX-License-Identifier: GPL-2.0-or-later
/* Hash index: building, serialising, strict decoding. */

#include <stdlib.h>
#include "blksnap/blksnap.h"
#include "hashindex.h"
#include "tap.h"

#define BS 4096

static void build(struct blksnap_hash_index *ix)
{
	blksnap_hash_index_init(ix, BS, 10 * BS + 100);
	blksnap_hash_index_add(ix, 0, 1);
	blksnap_hash_index_add(ix, BS, 2);
	blksnap_hash_index_add(ix, 4 * BS, 3);
	blksnap_hash_index_add(ix, 10 * BS, 4);	/* the short last block */
}

int main(void)
{
	struct blksnap_hash_index ix, back;
	unsigned char *buf, *odd;
	size_t len, i;

	build(&ix);
	ok(ix.regions.count == 3 && ix.regions.v[0].length == 2 * BS &&
	   ix.regions.v[2].length == 100, "regions follow the blocks");
	fails_with(blksnap_hash_index_add(&ix, 5 * BS + 1, 5), "not a block",
		   "unaligned block refused");
	fails_with(blksnap_hash_index_add(&ix, 2 * BS, 5), "is not after",
		   "block out of order refused");
	ok(blksnap_hash_index_encode(&ix, (void **)&buf, &len) == 0, "encodes");
	ok(blksnap_hash_index_decode(buf, len, "a", &back) == 0, "decodes: %s",
	   blksnap_error());
	ok(back.count == 4 && back.hash[3] == 4 && back.regions.count == 3 &&
	   back.image_size == ix.image_size && back.block_size == BS, "same content");
	blksnap_hash_index_free(&back);
	buf[len / 2] ^= 0x10;
	fails_with(blksnap_hash_index_decode(buf, len, "a", &back),
		   "a: hash index is corrupted", "flipped bit caught");
	buf[len / 2] ^= 0x10;
	fails_with(blksnap_hash_index_decode(buf, len - 8, "a", &back),
		   "corrupted", "truncated index caught");
	fails_with(blksnap_hash_index_decode("BSNAPHI", 7, "a", &back),
		   "missing", "tiny input refused");
	/*
	 * Found by fuzzing: the checksum was loaded as a uint64_t from
	 * wherever the buffer ended (UBSan: misaligned load).  Decoded at
	 * every alignment, and with a length not a multiple of 8.
	 */
	odd = malloc(len + 8);
	for (i = 1; i < 8; i++) {
		memcpy(odd + i, buf, len);
		if (blksnap_hash_index_decode(odd + i, len, "a", &back))
			break;
		blksnap_hash_index_free(&back);
	}
	ok(i == 8, "decodes at any alignment: %s", i == 8 ? "" : blksnap_error());
	memcpy(odd + 1, buf, len);
	odd[len + 1] = 0;
	fails_with(blksnap_hash_index_decode(odd + 1, len + 1, "a", &back),
		   "a: hash index is corrupted", "a length not a multiple of 8 is refused");
	free(odd);
	free(buf);
	buf = calloc(1, BS);
	ok(blksnap_hash_zero(BS) == blksnap_hash(buf, BS),
	   "zero-block hash is the hash of zeros");
	free(buf);
	ok(blksnap_block_count(10 * BS + 1, BS) == 11 && blksnap_block_count(BS, BS) == 1,
	   "block count rounds up");
	blksnap_hash_index_free(&ix);
	return tap_done();
}
