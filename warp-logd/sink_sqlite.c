/*
 * sink_sqlite.c -- warp-logd's embedded default store: SQLite in WAL mode,
 * prepared statements, one transaction per group of batches, committed
 * before the batches are acknowledged.
 *
 * Exactly once comes from the schema: communications has
 * UNIQUE (connection_id, seq) and a deterministic id, connections is keyed
 * by the connection id, and every insert is INSERT OR IGNORE, so a batch
 * replayed after a crash stores nothing new.  The extended rows of a
 * connection (details, transactions, recipients) are written only when its
 * connections row is new.  Runs in its own thread; owns its database
 * handle (SQLITE_OPEN_NOMUTEX).
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "logd.h"

enum {
	ST_COMM, ST_CONN, ST_DETAILS, ST_TXN, ST_RCPT, ST_BEGIN, ST_COMMIT,
	ST_ROLLBACK, ST_MAX
};

static const char *const sqlite_sql[ST_MAX] = {
	[ST_COMM] = "INSERT OR IGNORE INTO communications (id, connection_id,"
	    " direction, data, occurred_at, seq) VALUES (?,?,?,?,?,?)",
	[ST_CONN] = "INSERT OR IGNORE INTO connections (id, mail_from, mail_to,"
	    " occurred_at, elapse, seq) VALUES (?,?,?,?,?,?)",
	[ST_DETAILS] = "INSERT OR IGNORE INTO connection_details (connection_id,"
	    " client_addr, orig_dst_addr, outbound_addr, destination_host, helo,"
	    " message_count, bytes_total, tls_version, tls_cipher,"
	    " client_tls_version, client_tls_cipher, banner_ms, ehlo_ms, mail_ms,"
	    " rcpt_ms, data_ms, eod_ms, total_ms, final_code, final_text,"
	    " verdict, route_pool, route_reason, close_reason) VALUES"
	    " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_TXN] = "INSERT OR IGNORE INTO transactions (connection_id, idx,"
	    " mail_from, mail_params, rcpt_to, size, final_code, final_text,"
	    " verdict, data_ms, eod_ms, elapse_ms, message_id) VALUES"
	    " (?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_RCPT] = "INSERT OR IGNORE INTO recipients (connection_id, txn, idx,"
	    " address, code, text, ms) VALUES (?,?,?,?,?,?,?)",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

struct sqlite_sink {
	char		*path;
	sqlite3		*db;
	sqlite3_stmt	*st[ST_MAX];
	int		 full_sync;
	struct logd_buf	 data;		/* UTF-8-clean copy of comm data */
	struct logd_buf	 scratch;
	uint64_t	 stored, dups, errors;
};

static void
sq_close(struct sqlite_sink *q)
{
	int	 i;

	for (i = 0; i < ST_MAX; i++) {
		sqlite3_finalize(q->st[i]);
		q->st[i] = NULL;
	}
	if (q->db != NULL)
		sqlite3_close(q->db);
	q->db = NULL;
}

static int
sq_open(struct sqlite_sink *q)
{
	char	 err[256];
	char	*sql;
	int	 i;

	if (sqlite3_open_v2(q->path, &q->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("sqlite sink: %s: %s", q->path,
		    q->db ? sqlite3_errmsg(q->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(q->db, 5000);
	sql = xasprintf("PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
	    " PRAGMA foreign_keys=OFF;", q->full_sync ? "FULL" : "NORMAL");
	if (sqlite3_exec(q->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		free(sql);
		log_warnx("sqlite sink: %s: %s", q->path, sqlite3_errmsg(q->db));
		goto fail;
	}
	free(sql);
	if (logd_sqlite_migrate(q->db, err, sizeof(err)) == -1) {
		log_warnx("sqlite sink: %s: schema: %s", q->path, err);
		goto fail;
	}
	for (i = 0; i < ST_MAX; i++) {
		if (sqlite3_prepare_v3(q->db, sqlite_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL) != SQLITE_OK) {
			log_warnx("sqlite sink: prepare: %s",
			    sqlite3_errmsg(q->db));
			goto fail;
		}
	}
	return 0;
fail:
	sq_close(q);
	return -1;
}

static int
sqlite_sink_open(struct sink *s, const struct conf *cf)
{
	struct sqlite_sink	*q;

	q = xcalloc(1, sizeof(*q));
	q->path = xstrdup(logd_conf_str(cf, "sqlite_path"));
	q->full_sync = strcmp(conf_str(cf, "sqlite_synchronous"), "full") == 0;
	s->priv = q;
	if (sq_open(q) == -1)
		return -1;
	log_info("sqlite sink: %s (schema version %d)", q->path,
	    logd_sqlite_version(q->db));
	return 0;
}

/* ---- binding helpers ------------------------------------------------------------ */

/* Strings from the network: stored as valid UTF-8 (see logd_utf8_clean). */
static void
b_clean(struct sqlite_sink *q, sqlite3_stmt *st, int i, const char *s)
{
	const char	*p;

	if (s == NULL) {
		sqlite3_bind_null(st, i);
		return;
	}
	for (p = s; *p != '\0' && (unsigned char)*p < 0x80; p++)
		;
	if (*p == '\0') {
		sqlite3_bind_text(st, i, s, (int)(p - s), SQLITE_STATIC);
		return;
	}
	q->scratch.len = 0;
	logd_utf8_clean(&q->scratch, s, strlen(s));
	sqlite3_bind_text(st, i, q->scratch.p, (int)q->scratch.len,
	    SQLITE_TRANSIENT);
}

static void
b_i64(sqlite3_stmt *st, int i, int has, int64_t v)
{
	if (has)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static int
run(struct sqlite_sink *q, sqlite3_stmt *st)
{
	int	 rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warnx("sqlite sink: %s", sqlite3_errmsg(q->db));
		return -1;
	}
	return 0;
}

static int
put_comm(struct sqlite_sink *q, const Warp__CommEvent *c)
{
	sqlite3_stmt	*st = q->st[ST_COMM];
	char		 id[27], at[40];

	logd_event_ulid(c->connection_id, c->seq, c->occurred_at_us, id);
	logd_sqltime(c->occurred_at_us, at);
	q->data.len = 0;
	logd_utf8_clean(&q->data, c->data.data, c->data.len);
	sqlite3_bind_text(st, 1, id, 26, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->connection_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->direction, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, q->data.p ? q->data.p : "", (int)q->data.len,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 5, at, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, c->seq);
	if (run(q, st) == -1)
		return -1;
	if (sqlite3_changes(q->db) == 0)
		q->dups++;
	else
		q->stored++;
	return 0;
}

static int
put_conn(struct sqlite_sink *q, const Warp__ConnEvent *c)
{
	sqlite3_stmt	*st = q->st[ST_CONN];
	char		 at[40];
	size_t		 i, j;

	logd_sqltime(c->occurred_at_us, at);
	sqlite3_bind_text(st, 1, c->connection_id, -1, SQLITE_STATIC);
	b_clean(q, st, 2, c->mail_from ? c->mail_from : "");
	b_clean(q, st, 3, c->mail_to ? c->mail_to : "");
	sqlite3_bind_text(st, 4, at, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, c->elapse_ms);
	sqlite3_bind_int64(st, 6, c->seq);
	if (run(q, st) == -1)
		return -1;
	if (sqlite3_changes(q->db) == 0) {
		q->dups++;
		return 0;
	}
	q->stored++;

	st = q->st[ST_DETAILS];
	sqlite3_bind_text(st, 1, c->connection_id, -1, SQLITE_STATIC);
	b_clean(q, st, 2, c->client_addr);
	b_clean(q, st, 3, c->orig_dst_addr);
	b_clean(q, st, 4, c->outbound_addr);
	b_clean(q, st, 5, c->destination_host);
	b_clean(q, st, 6, c->helo);
	b_i64(st, 7, c->has_message_count, c->message_count);
	b_i64(st, 8, c->has_bytes_total, (int64_t)c->bytes_total);
	b_clean(q, st, 9, c->tls_version);
	b_clean(q, st, 10, c->tls_cipher);
	b_clean(q, st, 11, c->client_tls_version);
	b_clean(q, st, 12, c->client_tls_cipher);
	b_i64(st, 13, c->has_banner_ms, c->banner_ms);
	b_i64(st, 14, c->has_ehlo_ms, c->ehlo_ms);
	b_i64(st, 15, c->has_mail_ms, c->mail_ms);
	b_i64(st, 16, c->has_rcpt_ms, c->rcpt_ms);
	b_i64(st, 17, c->has_data_ms, c->data_ms);
	b_i64(st, 18, c->has_eod_ms, c->eod_ms);
	b_i64(st, 19, c->has_total_ms, c->total_ms);
	b_i64(st, 20, c->has_final_code, c->final_code);
	b_clean(q, st, 21, c->final_text);
	b_clean(q, st, 22, c->verdict);
	b_clean(q, st, 23, c->route_pool);
	b_clean(q, st, 24, c->route_reason);
	b_clean(q, st, 25, c->close_reason);
	if (run(q, st) == -1)
		return -1;

	for (i = 0; i < c->n_transactions; i++) {
		const Warp__Transaction *t = c->transactions[i];
		struct logd_buf rcpts = { NULL, 0, 0 };

		for (j = 0; j < t->n_rcpts; j++) {
			if (j)
				logd_buf_addc(&rcpts, ',');
			logd_buf_adds(&rcpts, t->rcpts[j]->address ?
			    t->rcpts[j]->address : "");
		}
		st = q->st[ST_TXN];
		sqlite3_bind_text(st, 1, c->connection_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		b_clean(q, st, 3, t->mail_from ? t->mail_from : "");
		b_clean(q, st, 4, t->mail_params);
		b_clean(q, st, 5, rcpts.p ? rcpts.p : "");
		b_i64(st, 6, t->has_size, (int64_t)t->size);
		b_i64(st, 7, t->has_final_code, t->final_code);
		b_clean(q, st, 8, t->final_text);
		b_clean(q, st, 9, t->verdict);
		b_i64(st, 10, t->has_data_ms, t->data_ms);
		b_i64(st, 11, t->has_eod_ms, t->eod_ms);
		b_i64(st, 12, t->has_elapse_ms, t->elapse_ms);
		b_clean(q, st, 13, t->message_id);
		/* rcpts is bound SQLITE_STATIC: free it after the step */
		if (run(q, st) == -1) {
			logd_buf_free(&rcpts);
			return -1;
		}
		logd_buf_free(&rcpts);
		for (j = 0; j < t->n_rcpts; j++) {
			const Warp__Recipient *r = t->rcpts[j];

			st = q->st[ST_RCPT];
			sqlite3_bind_text(st, 1, c->connection_id, -1,
			    SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, (int64_t)i);
			sqlite3_bind_int64(st, 3, (int64_t)j);
			b_clean(q, st, 4, r->address ? r->address : "");
			b_i64(st, 5, r->has_code, r->code);
			b_clean(q, st, 6, r->text);
			b_i64(st, 7, r->has_ms, r->ms);
			if (run(q, st) == -1)
				return -1;
		}
	}
	return 0;
}

static int
sq_store(struct sqlite_sink *q, struct logd_batch **group, size_t n)
{
	const Warp__EventBatch	*eb;
	size_t			 i, j;
	int			 rc = 0;

	if (q->db == NULL && sq_open(q) == -1)
		return -1;
	if (run(q, q->st[ST_BEGIN]) == -1)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		eb = &group[i]->eb;
		for (j = 0; j < eb->n_events && rc == 0; j++) {
			const Warp__Event *ev = eb->events[j];

			if (ev->kind_case == WARP__EVENT__KIND_COMM)
				rc = put_comm(q, ev->comm);
			else if (ev->kind_case == WARP__EVENT__KIND_CONN)
				rc = put_conn(q, ev->conn);
		}
	}
	if (rc == 0 && run(q, q->st[ST_COMMIT]) == 0)
		return 0;
	run(q, q->st[ST_ROLLBACK]);
	return -1;
}

static void
sqlite_sink_write(struct sink *s, struct logd_batch **group, size_t n)
{
	struct sqlite_sink	*q = s->priv;
	uint64_t		 stored = q->stored, dups = q->dups;
	int			 delay = 100;
	size_t			 i;

	/* Not acknowledged until committed: on a full disk or a locked
	 * database this sink retries and its queue fills (back-pressure). */
	while (sq_store(q, group, n) == -1) {
		q->stored = stored;
		q->dups = dups;
		q->errors++;
		if (sink_stopping(s)) {
			log_warnx("sqlite sink: stopping with %zu batches not "
			    "stored (not acknowledged; the sender keeps them)",
			    n);
			return;
		}
		log_warnx("sqlite sink: %s: transaction failed, retrying in "
		    "%d ms", q->path, delay);
		usleep((useconds_t)delay * 1000);
		delay = WARP_MIN(delay * 2, 5000);
		if (delay >= 1600) {
			sq_close(q);	/* reopen on the next attempt */
		}
	}
	for (i = 0; i < n; i++)
		logd_batch_done(group[i]);
}

static int
sqlite_sink_tick(struct sink *s)
{
	return -1;
}

static void
sqlite_sink_close(struct sink *s)
{
	struct sqlite_sink	*q = s->priv;

	if (q->db != NULL)
		sqlite3_exec(q->db, "PRAGMA wal_checkpoint(PASSIVE)", NULL, NULL,
		    NULL);
	sq_close(q);
	logd_buf_free(&q->data);
	logd_buf_free(&q->scratch);
	free(q->path);
	free(q);
	s->priv = NULL;
}

static void
sqlite_sink_stats(struct sink *s, char *out, size_t sz)
{
	struct sqlite_sink	*q = s->priv;

	if (q == NULL)
		return;
	snprintf(out, sz, "stored=%llu duplicates=%llu transaction_errors=%llu",
	    (unsigned long long)q->stored, (unsigned long long)q->dups,
	    (unsigned long long)q->errors);
}

const struct sink_ops sink_sqlite_ops = {
	.name = "sqlite",
	.durable = 1,
	.open = sqlite_sink_open,
	.write = sqlite_sink_write,
	.tick = sqlite_sink_tick,
	.close = sqlite_sink_close,
	.stats = sqlite_sink_stats,
};
