/*
 * test_proxyd_fifo.c -- the pending-command queue of warp-proxyd: replies
 * are matched to commands in the order the client sent them (RFC 2920),
 * warp's own replies wait their turn, and the queue is bounded.
 */
#include "unit.h"
#include "../../warp-proxyd/proxyd.h"

static void
test_order(void **state)
{
	struct fifo	 f;
	struct pending	*p;
	int		 i;

	fifo_init(&f);
	assert_true(fifo_empty(&f));
	assert_null(fifo_head(&f));
	/* MAIL, RCPT (relayed), a local 552, DATA (relayed). */
	p = fifo_push(&f); p->kind = PEND_RELAY; p->verb = SMTP_VERB_MAIL;
	p = fifo_push(&f); p->kind = PEND_RELAY; p->verb = SMTP_VERB_RCPT;
	p->arg = 7;
	p = fifo_push(&f); p->kind = PEND_LOCAL; p->arg = LR_SIZE_552;
	p = fifo_push(&f); p->kind = PEND_RELAY; p->verb = SMTP_VERB_DATA;
	assert_true(fifo_has_relay(&f));
	assert_int_equal(fifo_head(&f)->verb, SMTP_VERB_MAIL);
	fifo_pop(&f);
	assert_int_equal(fifo_head(&f)->verb, SMTP_VERB_RCPT);
	assert_int_equal(fifo_head(&f)->arg, 7);
	fifo_pop(&f);
	assert_int_equal(fifo_head(&f)->kind, PEND_LOCAL);
	assert_string_equal(local_reply_text(fifo_head(&f)->arg),
	    "552 5.3.4 Message size exceeds fixed limit");
	fifo_pop(&f);
	assert_int_equal(fifo_head(&f)->verb, SMTP_VERB_DATA);
	fifo_pop(&f);
	assert_true(fifo_empty(&f));
	assert_false(fifo_has_relay(&f));
	fifo_pop(&f);		/* popping empty is harmless */
	assert_true(fifo_empty(&f));

	/* Wrap around many times. */
	for (i = 0; i < 10 * PROXYD_FIFO_MAX; i++) {
		p = fifo_push(&f);
		assert_non_null(p);
		p->arg = (uint32_t)i;
		if (i % 3 == 2) {
			assert_int_equal(fifo_head(&f)->arg, (uint32_t)i - 2);
			fifo_pop(&f);
			fifo_pop(&f);
			fifo_pop(&f);
		}
	}
}

static void
test_bounded(void **state)
{
	struct fifo	 f;
	int		 i;

	fifo_init(&f);
	for (i = 0; i < PROXYD_FIFO_MAX; i++)
		assert_non_null(fifo_push(&f));
	assert_true(fifo_full(&f));
	assert_null(fifo_push(&f));
	fifo_pop(&f);
	assert_false(fifo_full(&f));
	assert_non_null(fifo_push(&f));
}

static void
test_local_only(void **state)
{
	struct fifo	 f;
	struct pending	*p;

	fifo_init(&f);
	p = fifo_push(&f); p->kind = PEND_LOCAL; p->arg = LR_NOTIMPL_502;
	assert_false(fifo_has_relay(&f));
	/* Every local reply is a complete SMTP reply line. */
	for (int r = 0; r < LR_COUNT; r++) {
		const char *t = local_reply_text(r);

		assert_true(t[0] >= '2' && t[0] <= '5');
		assert_true(t[3] == ' ');
	}
	assert_string_equal(local_reply_text(LR_COUNT + 5),
	    local_reply_text(LR_NONE));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_local_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
