/*
 * test_logd_json.c -- warp-logd's pure encoders: JSON escaping of any
 * bytes, UTF-8 repair, time formats, deterministic event ids, event lines,
 * the dedupe memory and its recovery from a file's tail, the DSN parser.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "../../warp-logd/logd.h"

static void
json_of(const char *in, size_t n, const char *want)
{
	struct logd_buf	 b = { NULL, 0, 0 };

	logd_json_str(&b, in, n);
	assert_string_equal(b.p, want);
	logd_buf_free(&b);
}

static void
test_json_escaping(void **state)
{
	static const struct {
		const char	*in;
		size_t		 n;
		const char	*out;
	} t[] = {
		{ "", 0, "\"\"" },
		{ "MAIL FROM:<a@b>", 15, "\"MAIL FROM:<a@b>\"" },
		{ "a\"b\\c", 5, "\"a\\\"b\\\\c\"" },
		{ "\r\n\t", 3, "\"\\r\\n\\t\"" },
		{ "\x00\x01\x1f\x7f", 4, "\"\\u0000\\u0001\\u001f\x7f\"" },
		{ "\x1b[31m", 5, "\"\\u001b[31m\"" },
		/* valid UTF-8 passes through */
		{ "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x93\xa7", 14,
		  "\"caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x93\xa7\"" },
		/* ill-formed bytes become their Latin-1 code point */
		{ "\xff\xfe", 2, "\"\\u00ff\\u00fe\"" },
		{ "\xc3\x28", 2, "\"\\u00c3(\"" },			/* bad continuation */
		{ "\xc0\xaf", 2, "\"\\u00c0\\u00af\"" },		/* overlong */
		{ "\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\"" },	/* surrogate */
		{ "\xf4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\"" },
		{ "\xe2\x82", 2, "\"\\u00e2\\u0082\"" },		/* truncated */
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		json_of(t[i].in, t[i].n, t[i].out);
}

static void
test_utf8_clean(void **state)
{
	struct logd_buf	 b = { NULL, 0, 0 };

	logd_utf8_clean(&b, "ok \xc3\xa9 \xff!", 8);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.p, "ok \xc3\xa9 \xc3\xbf!", 9);
	logd_buf_free(&b);
	assert_int_equal(logd_utf8_seq((const uint8_t *)"\xe2\x86\x92", 3), 3);
	assert_int_equal(logd_utf8_seq((const uint8_t *)"\xe2\x86", 2), 0);
	assert_int_equal(logd_utf8_seq((const uint8_t *)"\xf0\x9f\x93\xa7", 4), 4);
}

static void
test_times(void **state)
{
	char	 a[32], b[40];

	logd_rfc3339(1764009780123456LL, a);
	assert_string_equal(a, "2025-11-24T18:43:00.123456Z");
	logd_sqltime(1764009780000001LL, b);
	assert_string_equal(b, "2025-11-24 18:43:00.000001+00:00");
	logd_rfc3339(0, a);
	assert_string_equal(a, "1970-01-01T00:00:00.000000Z");
}

static void
test_event_ulid(void **state)
{
	char	 a[27], b[27], c[27];

	logd_event_ulid("01JDCONNECTION0000000000AB", 1, 1764009780123456LL, a);
	logd_event_ulid("01JDCONNECTION0000000000AB", 1, 1764009780123456LL, b);
	logd_event_ulid("01JDCONNECTION0000000000AB", 2, 1764009780123456LL, c);
	assert_int_equal(strlen(a), 26);
	assert_string_equal(a, b);		/* deterministic */
	assert_string_not_equal(a, c);		/* seq matters */
	assert_memory_equal(a, c, 10);		/* same time prefix */
	assert_true(strspn(a, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") == 26);
}

static void
test_json_lines(void **state)
{
	Warp__CommEvent	 c = WARP__COMM_EVENT__INIT;
	Warp__ConnEvent	 k = WARP__CONN_EVENT__INIT;
	struct logd_buf	 b = { NULL, 0, 0 };

	c.connection_id = "01JDCONNECTION0000000000AB";
	c.seq = 3;
	c.occurred_at_us = 1764009780123456LL;
	c.direction = "|<";
	c.data.data = (uint8_t *)"250 ok\r\n";
	c.data.len = 8;
	logd_json_comm(&b, &c);
	assert_string_equal(b.p, "{\"type\":\"comm\",\"occurred_at\":"
	    "\"2025-11-24T18:43:00.123456Z\",\"connection_id\":"
	    "\"01JDCONNECTION0000000000AB\",\"seq\":3,\"direction\":\"|<\","
	    "\"data\":\"250 ok\\r\\n\"}\n");
	b.len = 0;
	k.connection_id = c.connection_id;
	k.seq = 9;
	k.occurred_at_us = c.occurred_at_us;
	k.mail_from = "a@example.org";
	k.mail_to = "b@example.net,c@example.net";
	k.elapse_ms = -1;
	k.helo = "x\"y";
	k.has_final_code = 1;
	k.final_code = 250;
	logd_json_conn(&b, &k);
	assert_string_equal(b.p, "{\"type\":\"conn\",\"occurred_at\":"
	    "\"2025-11-24T18:43:00.123456Z\",\"connection_id\":"
	    "\"01JDCONNECTION0000000000AB\",\"seq\":9,\"from\":\"a@example.org\","
	    "\"to\":\"b@example.net,c@example.net\",\"elapse\":-1,"
	    "\"helo\":\"x\\\"y\",\"final_code\":250}\n");

	/* a transaction: each recipient with its reply and its own time */
	{
		Warp__Transaction	 t = WARP__TRANSACTION__INIT, *tp[1];
		Warp__Recipient		 r = WARP__RECIPIENT__INIT, *rp[1];

		r.address = "b@example.net";
		r.has_code = 1;
		r.code = 250;
		r.text = "2.1.5 Ok";
		r.has_ms = 1;
		r.ms = 12;
		rp[0] = &r;
		t.mail_from = "a@example.org";
		t.rcpts = rp;
		t.n_rcpts = 1;
		tp[0] = &t;
		k.transactions = tp;
		k.n_transactions = 1;
		b.len = 0;
		logd_json_conn(&b, &k);
		assert_non_null(strstr(b.p, "\"rcpts\":[{\"address\":"
		    "\"b@example.net\",\"code\":250,\"text\":\"2.1.5 Ok\","
		    "\"ms\":12}]"));
		k.transactions = NULL;
		k.n_transactions = 0;
	}

	/* integers are written without printf: the extremes too */
	b.len = 0;
	logd_buf_addi(&b, 0);
	logd_buf_addc(&b, ' ');
	logd_buf_addi(&b, -7);
	logd_buf_addc(&b, ' ');
	logd_buf_addi(&b, INT64_MAX);
	logd_buf_addc(&b, ' ');
	logd_buf_addi(&b, INT64_MIN);
	logd_buf_addc(&b, ' ');
	logd_buf_addi(&b, UINT32_MAX);
	assert_string_equal(b.p, "0 -7 9223372036854775807 "
	    "-9223372036854775808 4294967295");
	logd_buf_free(&b);
}

static void
test_seen(void **state)
{
	struct logd_seen	*s = logd_seen_new(2);

	assert_int_equal(logd_seen_check(s, "A", 1), 0);
	assert_int_equal(logd_seen_check(s, "A", 1), 1);
	assert_int_equal(logd_seen_check(s, "A", 200), 0);
	assert_int_equal(logd_seen_check(s, "A", 200), 1);
	assert_int_equal(logd_seen_check(s, "B", 1), 0);
	assert_int_equal(logd_seen_check(s, "A", 2), 0);	/* A is newest */
	assert_int_equal(logd_seen_check(s, "C", 1), 0);	/* evicts B */
	assert_int_equal(logd_seen_count(s), 2);
	assert_int_equal(logd_seen_check(s, "A", 1), 1);
	assert_int_equal(logd_seen_check(s, "B", 1), 0);	/* forgotten */
	/* seqs beyond the tracked range are always stored */
	assert_int_equal(logd_seen_check(s, "A", LOGD_SEEN_MAX_SEQ), 0);
	assert_int_equal(logd_seen_check(s, "A", LOGD_SEEN_MAX_SEQ), 0);
	logd_seen_free(s);
}

static void
test_seen_scan(void **state)
{
	static const char tail[] =
	    "ion_id\":\"PARTIAL\",\"seq\":1,\"x\":1}\n"		/* cut first line */
	    "{\"type\":\"comm\",\"occurred_at\":\"t\",\"connection_id\":\"C1\",\"seq\":4,\"data\":\"\"}\n"
	    "garbage line\n"
	    "{\"type\":\"conn\",\"occurred_at\":\"t\",\"connection_id\":\"C2\",\"seq\":13}\n"
	    "{\"type\":\"comm\",\"occurred_at\":\"t\",\"connection_id\":\"C3\",\"seq\":5,";	/* torn */
	struct logd_seen	*s = logd_seen_new(100);

	assert_int_equal(logd_seen_scan_json(s, tail, sizeof(tail) - 1), 2);
	assert_int_equal(logd_seen_check(s, "C1", 4), 1);
	assert_int_equal(logd_seen_check(s, "C2", 13), 1);
	assert_int_equal(logd_seen_check(s, "C3", 5), 0);
	assert_int_equal(logd_seen_check(s, "PARTIAL", 1), 0);
	logd_seen_free(s);
}

static void
test_dsn(void **state)
{
	struct logd_dsn	 d;

	assert_int_equal(logd_dsn_parse("warp:s3cr@t@tcp(db.example:3307)/warp?parseTime=true", &d), 0);
	assert_string_equal(d.user, "warp");
	assert_string_equal(d.password, "s3cr@t");
	assert_string_equal(d.host, "db.example");
	assert_int_equal(d.port, 3307);
	assert_string_equal(d.database, "warp");
	assert_int_equal(logd_dsn_parse("root@unix(/run/mysqld/mysqld.sock)/mail", &d), 0);
	assert_string_equal(d.user, "root");
	assert_string_equal(d.password, "");
	assert_string_equal(d.socket, "/run/mysqld/mysqld.sock");
	assert_string_equal(d.database, "mail");
	assert_int_equal(logd_dsn_parse("u:p@tcp([::1]:3306)/x", &d), 0);
	assert_string_equal(d.host, "::1");
	assert_int_equal(logd_dsn_parse("u:p@/x", &d), 0);
	assert_string_equal(d.database, "x");
	/* SQLite paths are not MySQL DSNs */
	assert_int_equal(logd_dsn_parse("/var/lib/warp/warp.db", &d), -1);
	assert_int_equal(logd_dsn_parse("warp.db", &d), -1);
	assert_int_equal(logd_dsn_parse("u:p@tcp(h:99999)/x", &d), -1);
	assert_int_equal(logd_dsn_parse("u:p@tcp(h:1", &d), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_utf8_clean),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_event_ulid),
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test(test_seen),
		cmocka_unit_test(test_seen_scan),
		cmocka_unit_test(test_dsn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
