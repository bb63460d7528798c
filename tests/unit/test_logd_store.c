/*
 * test_logd_store.c -- warp-logd's SQLite schema (creation, migration of a
 * database written by the original warp, dedupe by (connection_id, seq))
 * and the Slack formatter, notify filter, Retry-After and pacing logic.
 */
#include "unit.h"

#include <sqlite3.h>
#include <stdlib.h>

#include "../../warp-logd/logd.h"

static int
count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	int		 n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
test_schema_fresh(void **state)
{
	sqlite3	*db;
	char	 err[256];

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(logd_sqlite_migrate(db, err, sizeof(err)), 0);
	assert_int_equal(logd_sqlite_version(db), LOGD_SCHEMA_VERSION);
	/* the original columns exist, with their names */
	assert_int_equal(count(db, "SELECT count(*) FROM pragma_table_info('connections') WHERE name IN ('id','mail_from','mail_to','occurred_at','elapse')"), 5);
	assert_int_equal(count(db, "SELECT count(*) FROM pragma_table_info('communications') WHERE name IN ('id','connection_id','direction','data','occurred_at','seq')"), 6);
	assert_int_equal(count(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('connection_details','transactions','recipients')"), 3);
	assert_int_equal(count(db, "SELECT count(*) FROM pragma_table_info('recipients') WHERE name IN ('code','text','ms')"), 3);
	/* running it again is a no-op */
	assert_int_equal(logd_sqlite_migrate(db, err, sizeof(err)), 0);
	assert_int_equal(count(db, "SELECT count(*) FROM schema_version"),
	    LOGD_SCHEMA_VERSION);
	/* (connection_id, seq) is unique: a replay stores nothing */
	assert_int_equal(sqlite3_exec(db, "INSERT OR IGNORE INTO communications (id, connection_id, direction, data, occurred_at, seq) VALUES ('A','C','>|','x','t',1);"
	    "INSERT OR IGNORE INTO communications (id, connection_id, direction, data, occurred_at, seq) VALUES ('B','C','>|','x','t',1);"
	    "INSERT OR IGNORE INTO communications (id, connection_id, direction, data, occurred_at, seq) VALUES ('C','C','>|','x','t',2);",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(count(db, "SELECT count(*) FROM communications"), 2);
	sqlite3_close(db);
}

static void
test_schema_from_original(void **state)
{
	sqlite3	*db;
	char	 err[256];

	/* a database as the original warp left it */
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	    "CREATE TABLE connections (id varchar(26) PRIMARY KEY, mail_from TEXT, mail_to TEXT, occurred_at timestamp, elapse bigint);"
	    "CREATE TABLE communications (id varchar(26) PRIMARY KEY, connection_id varchar(26), direction varchar(2), data TEXT, occurred_at timestamp);"
	    "INSERT INTO connections VALUES ('01OLD','a@x','b@y','2024-01-01 00:00:00+00:00',12);"
	    "INSERT INTO communications VALUES ('01OLDC1','01OLD','>|','EHLO x','2024-01-01 00:00:00+00:00');"
	    "INSERT INTO communications VALUES ('01OLDC2','01OLD','<|','250 ok','2024-01-01 00:00:00+00:00');",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(logd_sqlite_migrate(db, err, sizeof(err)), 0);
	assert_int_equal(logd_sqlite_version(db), LOGD_SCHEMA_VERSION);
	assert_int_equal(count(db, "SELECT count(*) FROM communications WHERE seq IS NULL"), 2);
	assert_int_equal(count(db, "SELECT elapse FROM connections WHERE id = '01OLD'"), 12);
	sqlite3_close(db);
}

static void
test_schema_too_new(void **state)
{
	sqlite3	*db;
	char	 err[256];

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at timestamp); INSERT INTO schema_version VALUES (99, NULL);", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(logd_sqlite_migrate(db, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "newer"));
	sqlite3_close(db);
}

static void
conn_init(Warp__ConnEvent *c, Warp__Transaction *t, Warp__Transaction **tp,
    Warp__Recipient *r, Warp__Recipient **rp)
{
	warp__conn_event__init(c);
	warp__transaction__init(t);
	warp__recipient__init(r);
	c->connection_id = "01JDCONN";
	c->mail_from = "alice@example.org";
	c->mail_to = "bob@example.net,<carol>@example.net";
	c->orig_dst_addr = "192.0.2.25:25";
	c->destination_host = "mx.example.net";
	c->elapse_ms = 42;
	c->has_final_code = 1;
	c->final_code = 250;
	c->final_text = "2.0.0 Ok & queued";
	r->address = "bob@example.net";
	r->has_code = 1;
	r->code = 250;
	rp[0] = r;
	t->rcpts = rp;
	t->n_rcpts = 1;
	tp[0] = t;
	c->transactions = tp;
	c->n_transactions = 1;
}

static void
test_slack_text(void **state)
{
	Warp__ConnEvent		 c;
	Warp__Transaction	 t, *tp[1];
	Warp__Recipient		 r, *rp[1];
	struct logd_buf		 b = { NULL, 0, 0 }, p = { NULL, 0, 0 };

	conn_init(&c, &t, tp, &r, rp);
	slack_format_text(&b, &c);
	assert_string_equal(b.p, ":email: *alice@example.org* \xe2\x86\x92 "
	    "bob@example.net,&lt;carol&gt;@example.net via mx.example.net "
	    "(192.0.2.25:25)\nelapse 42 ms | reply 250 2.0.0 Ok &amp; queued"
	    " | connection 01JDCONN");
	slack_format_payload(&p, "C0TEST", b.p, b.len);
	assert_non_null(strstr(p.p, "{\"channel\":\"C0TEST\",\"text\":\":email: "));
	assert_non_null(strstr(p.p, "\\nelapse 42 ms"));
	p.len = 0;
	slack_format_payload(&p, NULL, "x", 1);
	assert_string_equal(p.p, "{\"text\":\"x\",\"unfurl_links\":false}");
	/* a null sender and bytes that are not UTF-8 */
	b.len = 0;
	c.mail_from = "";
	c.final_text = "5.7.1 \xff rejected";
	c.final_code = 554;
	slack_format_text(&b, &c);
	assert_non_null(strstr(b.p, ":no_entry: *&lt;&gt;*"));
	assert_non_null(strstr(b.p, "554 5.7.1 \xc3\xbf rejected"));
	logd_buf_free(&b);
	logd_buf_free(&p);
}

static void
test_slack_classify(void **state)
{
	Warp__ConnEvent		 c;
	Warp__Transaction	 t, *tp[1];
	Warp__Recipient		 r, *rp[1];
	char			*all[] = { "all", NULL };
	char			*some[] = { "reject", "Throttle", NULL };
	char			*bad[] = { "reject", "loud", NULL };
	unsigned		 m;

	conn_init(&c, &t, tp, &r, rp);
	assert_int_equal(slack_classify(&c), SLACK_NOTIFY_OK);
	c.final_code = 550;
	assert_int_equal(slack_classify(&c), SLACK_NOTIFY_REJECT);
	c.final_code = 451;
	c.final_text = "4.7.0 Try again later";
	assert_int_equal(slack_classify(&c),
	    SLACK_NOTIFY_DEFER | SLACK_NOTIFY_THROTTLE);
	c.final_code = 421;
	c.final_text = "closing";
	assert_true(slack_classify(&c) & SLACK_NOTIFY_THROTTLE);
	c.final_code = 250;
	c.elapse_ms = -1;
	assert_int_equal(slack_classify(&c), SLACK_NOTIFY_ERROR);
	c.elapse_ms = 5;
	c.verdict = "reject";
	assert_int_equal(slack_classify(&c), SLACK_NOTIFY_REJECT);
	c.verdict = NULL;
	r.code = 452;			/* a recipient deferred */
	assert_int_equal(slack_classify(&c), SLACK_NOTIFY_DEFER);

	assert_int_equal(slack_notify_parse(all, &m), 0);
	assert_int_equal(m, SLACK_NOTIFY_ALL);
	assert_int_equal(slack_notify_parse(some, &m), 0);
	assert_int_equal(m, SLACK_NOTIFY_REJECT | SLACK_NOTIFY_THROTTLE);
	assert_int_equal(slack_notify_parse(bad, &m), -1);
}

static void
test_slack_http(void **state)
{
	/* Retry-After: seconds, or an HTTP date (now = 2025-11-24 18:43:00) */
	int64_t	 now = 1764009780000000LL;

	assert_int_equal(slack_retry_after_ms("30", now), 30000);
	assert_int_equal(slack_retry_after_ms(" 2 ", now), 2000);
	assert_int_equal(slack_retry_after_ms("Mon, 24 Nov 2025 18:43:05 GMT", now), 5000);
	assert_int_equal(slack_retry_after_ms("Mon, 24 Nov 2025 18:40:00 GMT", now), 0);
	assert_int_equal(slack_retry_after_ms("999999", now), 3600000);
	assert_int_equal(slack_retry_after_ms("soon", now), -1);
	assert_int_equal(slack_retry_after_ms(NULL, now), -1);

	assert_true(slack_response_ok("{\"ok\":true,\"ts\":\"1\"}", 20, 0));
	assert_true(slack_response_ok("{ \"ok\" : true }", 16, 0));
	assert_false(slack_response_ok("{\"ok\":false,\"error\":\"invalid_auth\"}", 35, 0));
	assert_false(slack_response_ok("", 0, 0));
	assert_true(slack_response_ok("ok\n", 3, 1));
	assert_false(slack_response_ok("invalid_token", 13, 1));
}

static void
test_slack_pace(void **state)
{
	struct slack_pace	 p;
	int64_t			 t = 1000000;

	slack_pace_init(&p, 1000000);			/* 1 msg/s */
	assert_true(slack_pace_ready(&p, t));
	slack_pace_result(&p, t, SLACK_SENT, -1);
	assert_false(slack_pace_ready(&p, t + 999999));
	assert_true(slack_pace_ready(&p, t + 1000000));
	/* 429 with Retry-After: 30 -> nothing before 30 s */
	t += 1000000;
	slack_pace_result(&p, t, SLACK_THROTTLED, 30000);
	assert_false(slack_pace_ready(&p, t + 29999999));
	assert_true(slack_pace_ready(&p, t + 30000000));
	/* 429 without Retry-After: at least a second */
	slack_pace_result(&p, t, SLACK_THROTTLED, -1);
	assert_false(slack_pace_ready(&p, t + 999999));
	/* failures back off exponentially, capped at a minute */
	slack_pace_result(&p, t, SLACK_FAILED, -1);
	assert_int_equal(p.next_us - t, 1000000);
	slack_pace_result(&p, t, SLACK_FAILED, -1);
	assert_int_equal(p.next_us - t, 2000000);
	for (int i = 0; i < 20; i++)
		slack_pace_result(&p, t, SLACK_FAILED, -1);
	assert_int_equal(p.next_us - t, 60000000);
	slack_pace_result(&p, t, SLACK_SENT, -1);
	assert_int_equal(p.failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_fresh),
		cmocka_unit_test(test_schema_from_original),
		cmocka_unit_test(test_schema_too_new),
		cmocka_unit_test(test_slack_text),
		cmocka_unit_test(test_slack_classify),
		cmocka_unit_test(test_slack_http),
		cmocka_unit_test(test_slack_pace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
