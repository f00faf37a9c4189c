// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blksnap_ctl_cbt_read_fine() against a fake module: this program's own
 * ioctl() answers BLKSNAP_IOCTL_CBT_FINE the way the UAPI describes it
 * (entries from @start on, at most @count, the @next cursor), so the
 * chunking, the cursor and every refusal are tested without the module.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include "blksnap/control.h"
#include "tap.h"

static struct {
	bool enotty;		/* an older module */
	uint64_t blocks;	/* the map's block count */
	uint32_t sub_size;
	uint32_t chunk;		/* the module returns at most this many a call */
	unsigned int calls, max_count, bad_flags;
	unsigned int snap_bump_at, gen_bump_at;	/* call numbers, 0: never */
	bool disorder, stuck, past;
	uint32_t flags;
	struct blksnap_cbt_fine_entry *e;
	size_t n;
} fk;

int ioctl(int fd, unsigned long req, ...)
{
	struct blksnap_cbt_fine *a;
	struct blksnap_cbt_fine_entry *out;
	size_t i, k = 0;
	va_list ap;

	(void)fd;
	va_start(ap, req);
	a = va_arg(ap, struct blksnap_cbt_fine *);
	va_end(ap);
	if (req != BLKSNAP_IOCTL_CBT_FINE || fk.enotty) {
		errno = ENOTTY;
		return -1;
	}
	fk.calls++;
	if (a->count > fk.max_count)
		fk.max_count = a->count;
	if (a->reserved || a->dev.mj != 7 || a->dev.mn != 3 || a->flags != fk.flags)
		fk.bad_flags++;
	if (!a->count || a->count > BLKSNAP_MAX_FINE_ENTRIES) {
		errno = EINVAL;
		return -1;
	}
	out = (struct blksnap_cbt_fine_entry *)(uintptr_t)a->entries;
	a->sub_size = fk.sub_size;
	a->snap_number = 5 + (fk.snap_bump_at && fk.calls >= fk.snap_bump_at);
	memset(a->generation_id, 0x11, BLKSNAP_UUID_SIZE);
	if (fk.gen_bump_at && fk.calls >= fk.gen_bump_at)
		a->generation_id[0] = 0x22;
	a->next = fk.blocks;
	for (i = 0; i < fk.n; i++) {
		if (fk.e[i].block < a->start)
			continue;
		if (k == a->count || k == fk.chunk) {
			a->next = fk.e[i].block;
			break;
		}
		out[k++] = fk.e[i];
	}
	a->count = (uint32_t)k;
	if (fk.disorder && k > 1) {
		struct blksnap_cbt_fine_entry t = out[0];

		out[0] = out[1];
		out[1] = t;
	}
	if (fk.stuck)
		a->next = a->start;
	if (fk.past)
		a->next = fk.blocks + 1;
	return 0;
}

static void setup(uint64_t blocks, size_t n, uint64_t stride)
{
	size_t i;

	free(fk.e);
	memset(&fk, 0, sizeof(fk));
	fk.blocks = blocks;
	fk.sub_size = 4096;
	fk.chunk = UINT32_MAX;
	fk.n = n;
	fk.e = calloc(n ? n : 1, sizeof(*fk.e));
	for (i = 0; i < n; i++) {
		fk.e[i].block = i * stride + 1;
		fk.e[i].sub[i % 16] = (uint8_t)(1 + i % 200);
	}
}

static int run(struct blksnap_cbt_fine_entry **e, size_t *n, uint32_t *sub,
	       uint32_t *snap, uint8_t *gen)
{
	return blksnap_ctl_cbt_read_fine(-1, makedev(7, 3), fk.flags, fk.blocks,
					 sub, snap, e, n, gen);
}

static bool same_entries(const struct blksnap_cbt_fine_entry *e, size_t n)
{
	return n == fk.n && (!n || !memcmp(e, fk.e, n * sizeof(*e)));
}

int main(void)
{
	struct blksnap_cbt_fine_entry *e;
	uint8_t gen[BLKSNAP_UUID_SIZE];
	uint32_t sub, snap;
	size_t n;
	int ret;

	/* 150000 entries: three calls of at most BLKSNAP_MAX_FINE_ENTRIES. */
	setup(300001, 150000, 2);
	ret = run(&e, &n, &sub, &snap, gen);
	ok(ret == 0 && same_entries(e, n), "every entry, in order, over %u calls", fk.calls);
	ok(fk.calls == 3 && fk.max_count == BLKSNAP_MAX_FINE_ENTRIES,
	   "chunked by BLKSNAP_MAX_FINE_ENTRIES along the cursor");
	ok(sub == 4096 && snap == 5 && gen[0] == 0x11, "sub-block size, snapshot number, generation");
	ok(!fk.bad_flags, "device, flags and reserved passed as the UAPI says");
	free(e);

	/* A module that returns fewer than asked: the cursor still leads. */
	setup(1000, 300, 3);
	fk.chunk = 7;
	fk.flags = BLKSNAP_CBT_MAP_CURRENT;
	ret = run(&e, &n, &sub, &snap, NULL);
	ok(ret == 0 && same_entries(e, n) && fk.calls == 43,
	   "short answers followed by the cursor (%u calls)", fk.calls);
	ok(!fk.bad_flags, "BLKSNAP_CBT_MAP_CURRENT passed on");
	free(e);

	/* No detail kept: sub_size is the block size, no entry. */
	setup(1000, 0, 1);
	fk.sub_size = 65536;
	e = (void *)1;
	ret = run(&e, &n, &sub, &snap, gen);
	ok(ret == 0 && !e && n == 0 && sub == 65536 && fk.calls == 1,
	   "no detail: no entry, the block size as sub-block size");

	setup(100, 10, 5);
	fk.enotty = true;
	ok(run(&e, &n, &sub, &snap, gen) == -EOPNOTSUPP && !e && !n,
	   "an older module (ENOTTY) is -EOPNOTSUPP, nothing returned");

	setup(300001, 150000, 2);
	fk.snap_bump_at = 2;
	ok(run(&e, &n, &sub, &snap, gen) == -ESTALE && !e,
	   "a snapshot between two calls is -ESTALE");
	setup(300001, 150000, 2);
	fk.gen_bump_at = 3;
	ok(run(&e, &n, &sub, &snap, gen) == -ESTALE && !e,
	   "a new generation between two calls is -ESTALE");

	setup(100, 10, 5);
	fk.disorder = true;
	ok(run(&e, &n, &sub, &snap, gen) == -EPROTO && !e,
	   "entries out of order are -EPROTO");
	setup(100, 10, 5);
	fk.chunk = 3;
	fk.stuck = true;
	ok(run(&e, &n, &sub, &snap, gen) == -EPROTO && fk.calls == 1,
	   "a cursor that does not advance is -EPROTO, not a loop");
	setup(100, 10, 5);
	fk.past = true;
	ok(run(&e, &n, &sub, &snap, gen) == -EPROTO, "a cursor past the map is -EPROTO");
	setup(30, 10, 5);	/* blocks 1, 6, .., 46: past a map of 30 */
	ok(run(&e, &n, &sub, &snap, gen) == -EPROTO, "an entry past the map is -EPROTO");
	setup(100, 10, 5);
	fk.sub_size = 3000;
	ok(run(&e, &n, &sub, &snap, gen) == -EPROTO, "a sub-block size not a power of two is -EPROTO");
	free(fk.e);
	return tap_done();
}
