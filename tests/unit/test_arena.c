/*
 * test_arena.c -- the bump allocator used to unpack event batches: pieces
 * are aligned and disjoint, a reset gives the memory back, a round that
 * needed several chunks leaves one big enough for the next, and a batch
 * unpacked through it reads back exactly what was packed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"

#include "arena.h"
#include "warp.pb-c.h"

static void
test_arena_align_disjoint(void **state)
{
	struct arena		*a = arena_new(4096);
	ProtobufCAllocator	*pa = arena_allocator(a);
	uint8_t			*p[64];
	size_t			 i;

	for (i = 0; i < 64; i++) {
		p[i] = pa->alloc(pa->allocator_data, i + 1);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 16, 0);
		memset(p[i], (int)i, i + 1);
	}
	/* nothing overwrote an earlier piece */
	for (i = 0; i < 64; i++) {
		size_t j;

		for (j = 0; j <= i; j++)
			assert_int_equal(p[i][j], (uint8_t)i);
	}
	pa->free(pa->allocator_data, p[3]);	/* a no-op, never a crash */
	/* arena_alloc() hands out from the same chunks */
	assert_int_equal((uintptr_t)arena_alloc(a, 5) % 16, 0);
	/* 64 pieces of 1..64 bytes, 16 each of 16, 32, 48, 64; then 16 */
	assert_int_equal(arena_used(a), 16 * (16 + 32 + 48 + 64) + 16);
	assert_null(arena_alloc(a, SIZE_MAX));
	arena_free(a);
}

static void
test_arena_reset_and_grow(void **state)
{
	struct arena		*a = arena_new(4096);
	ProtobufCAllocator	*pa = arena_allocator(a);
	void			*first, *again, *big;
	size_t			 i;

	first = pa->alloc(pa->allocator_data, 100);
	assert_int_equal(arena_used(a), 112);
	arena_reset(a);
	assert_int_equal(arena_used(a), 0);
	again = pa->alloc(pa->allocator_data, 100);
	assert_ptr_equal(first, again);		/* the chunk is reused */

	/* a piece larger than a chunk gets one of its own */
	big = pa->alloc(pa->allocator_data, 100000);
	assert_non_null(big);
	memset(big, 0xa5, 100000);
	/* many chunks' worth, then a reset: the next round fits in one */
	for (i = 0; i < 100; i++)
		assert_non_null(pa->alloc(pa->allocator_data, 1000));
	arena_reset(a);
	for (i = 0; i < 200; i++)
		assert_non_null(pa->alloc(pa->allocator_data, 1000));
	assert_int_equal(arena_used(a), 200 * 1008);
	/* absurd sizes fail cleanly */
	assert_null(pa->alloc(pa->allocator_data, SIZE_MAX));
	assert_null(pa->alloc(pa->allocator_data, SIZE_MAX - 8));
	arena_free(a);
	arena_free(NULL);
}

static void
test_arena_unpack_batch(void **state)
{
	Warp__EventBatch	 eb = WARP__EVENT_BATCH__INIT, *out;
	Warp__Event		 ev[300], *evp[300];
	Warp__CommEvent		 c[300];
	char			 cid[300][32], data[300][64];
	struct arena		*a = arena_new(4096);
	uint8_t			*buf;
	size_t			 len, i;
	int			 round;

	for (i = 0; i < 300; i++) {
		warp__event__init(&ev[i]);
		warp__comm_event__init(&c[i]);
		snprintf(cid[i], sizeof(cid[i]), "01ARENATEST%015zu", i);
		snprintf(data[i], sizeof(data[i]), "RCPT TO:<user%zu@example.org>", i);
		c[i].connection_id = cid[i];
		c[i].seq = (uint32_t)i + 1;
		c[i].occurred_at_us = 1700000000000000LL + (int64_t)i;
		c[i].direction = (char *)"->";
		c[i].data.data = (uint8_t *)data[i];
		c[i].data.len = strlen(data[i]);
		ev[i].kind_case = WARP__EVENT__KIND_COMM;
		ev[i].comm = &c[i];
		evp[i] = &ev[i];
	}
	eb.events = evp;
	eb.n_events = 300;
	len = warp__event_batch__get_packed_size(&eb);
	buf = malloc(len);
	assert_non_null(buf);
	warp__event_batch__pack(&eb, buf);

	for (round = 0; round < 3; round++) {
		arena_reset(a);
		out = warp__event_batch__unpack(arena_allocator(a), len, buf);
		assert_non_null(out);
		assert_int_equal(out->n_events, 300);
		for (i = 0; i < 300; i++) {
			const Warp__CommEvent *o = out->events[i]->comm;

			assert_int_equal(out->events[i]->kind_case,
			    WARP__EVENT__KIND_COMM);
			assert_string_equal(o->connection_id, cid[i]);
			assert_int_equal(o->seq, i + 1);
			assert_string_equal(o->direction, "->");
			assert_mem_str(o->data.data, o->data.len, data[i]);
		}
		assert_true(arena_used(a) > 300 * sizeof(Warp__CommEvent));
	}
	/* a truncated batch does not unpack, and the arena survives it */
	arena_reset(a);
	assert_null(warp__event_batch__unpack(arena_allocator(a), len - 3, buf));
	arena_reset(a);
	free(buf);
	arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_align_disjoint),
		cmocka_unit_test(test_arena_reset_and_grow),
		cmocka_unit_test(test_arena_unpack_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
