/*
 * sink_mysql.c -- warp-logd's MySQL/MariaDB sink (libmariadb): the same
 * schema as SQLite (conf/mysql-schema.sql), multi-row prepared INSERT
 * IGNORE statements (myrows.c: up to 256 rows each, values bound, never
 * spliced into SQL), one transaction per group of batches.
 *
 * A down, slow or unreachable server never holds up acknowledgements: when
 * the server is not connected, when the spool already holds events (to
 * keep order), or when this sink's queue is past mysql_queue_max, the
 * batches are appended to logd's own spool file (spool_dir/mysql.spool,
 * fdatasync'ed) and acknowledged from there.  The thread reconnects with
 * exponential backoff and drains the spool in order; the read position is
 * kept in the file's header, and since every insert is idempotent a
 * position lost in a crash only means some rows are offered twice and
 * ignored.  Past mysql_spool_max, or when the disk is full, batches are
 * dropped for this sink only, counted and logged.  Holds the MySQL
 * password (from warp-logd's 0600 configuration) and nothing else.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "conf.h"
#include "log.h"
#include "util.h"
#include "logd.h"
#include "myrows.h"

#define SPOOL_MAGIC		"WLSPOOL1"
#define SPOOL_HDR		16	/* magic + 8-byte read offset */
#define SPOOL_DRAIN_BYTES	(4u * 1024 * 1024)
#define SPOOL_DRAIN_BATCHES	256
#define MY_DRAIN_ARENA_CHUNK	(256 * 1024)
#define SPOOL_RECORD_MAX	(64u * 1024 * 1024)

enum { MT_COMM, MT_CONN, MT_DETAILS, MT_TXN, MT_RCPT, MT_MAX };

static const char *const comm_cols[] = { "id", "connection_id",
	"direction", "data", "occurred_at", "seq" };
static const char *const conn_cols[] = { "id", "mail_from", "mail_to",
	"occurred_at", "elapse", "seq" };
static const char *const details_cols[] = { "connection_id", "client_addr",
	"orig_dst_addr", "outbound_addr", "destination_host", "helo",
	"message_count", "bytes_total", "tls_version", "tls_cipher",
	"client_tls_version", "client_tls_cipher", "banner_ms", "ehlo_ms",
	"mail_ms", "rcpt_ms", "data_ms", "eod_ms", "total_ms", "final_code",
	"final_text", "verdict", "route_pool", "route_reason", "close_reason" };
static const char *const txn_cols[] = { "connection_id", "idx", "mail_from",
	"mail_params", "rcpt_to", "size", "final_code", "final_text",
	"verdict", "data_ms", "eod_ms", "elapse_ms", "message_id" };
static const char *const rcpt_cols[] = { "connection_id", "txn", "idx",
	"address", "code", "text", "ms" };

static const struct myrows_table my_tables[MT_MAX] = {
	[MT_COMM] = { "communications", comm_cols, WARP_NELEM(comm_cols) },
	[MT_CONN] = { "connections", conn_cols, WARP_NELEM(conn_cols) },
	[MT_DETAILS] = { "connection_details", details_cols,
	    WARP_NELEM(details_cols) },
	[MT_TXN] = { "transactions", txn_cols, WARP_NELEM(txn_cols) },
	[MT_RCPT] = { "recipients", rcpt_cols, WARP_NELEM(rcpt_cols) },
};

/* Packet estimate per INSERT: at most this, and at most half the server's
 * max_allowed_packet (asked at connect). */
#define MY_CHUNK_BYTES		(1024u * 1024)

struct mysql_sink {
	char		*host, *socket, *user, *password, *database;
	unsigned	 port;
	unsigned	 timeout_s;
	int64_t		 retry_max_us;
	size_t		 qmax;
	uint64_t	 spool_max;
	char		*spool_path;
	struct arena	*drain_arena;	/* spooled batches, unpacked */

	MYSQL		*my;
	/* per table, statements of 1, 2, 4, ... MYROWS_MAX_ROWS rows,
	 * prepared when first needed on this connection */
	MYSQL_STMT	*st[MT_MAX][MYROWS_SIZES];
	int		 connected;
	int64_t		 next_try;	/* monotonic us */
	int64_t		 backoff_us;
	int		 down_logged;

	int		 spool_fd;
	uint64_t	 spool_rd;	/* next record to drain */
	uint64_t	 spool_end;

	struct myrows	 rows[MT_MAX];	/* rows waiting for an INSERT */
	size_t		 chunk_bytes;
	struct logd_buf	 sql;
	struct logd_buf	 tmp;
	uint64_t	 stored, dups, spooled, drained, dropped, errors;
	uint64_t	 inserts;	/* INSERT statements executed */
	int64_t		 last_drop_log;
};

/* ---- spool ------------------------------------------------------------------ */

static void
put_u64(uint8_t *p, uint64_t v)
{
	int	 i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	int	 i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static int
spool_open(struct mysql_sink *m)
{
	uint8_t		 hdr[SPOOL_HDR], lenb[4];
	struct stat	 st;
	uint64_t	 off;
	uint32_t	 len;

	m->spool_fd = open(m->spool_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->spool_fd == -1) {
		log_warn("mysql sink: spool %s", m->spool_path);
		return -1;
	}
	if (fstat(m->spool_fd, &st) == -1)
		return -1;
	if (st.st_size < SPOOL_HDR || pread(m->spool_fd, hdr, SPOOL_HDR, 0) !=
	    SPOOL_HDR || memcmp(hdr, SPOOL_MAGIC, 8) != 0) {
		if (st.st_size > 0)
			log_warnx("mysql sink: %s is not a spool file, "
			    "starting a new one", m->spool_path);
		memcpy(hdr, SPOOL_MAGIC, 8);
		put_u64(hdr + 8, SPOOL_HDR);
		if (ftruncate(m->spool_fd, 0) == -1 ||
		    pwrite(m->spool_fd, hdr, SPOOL_HDR, 0) != SPOOL_HDR) {
			log_warn("mysql sink: spool %s", m->spool_path);
			return -1;
		}
		st.st_size = SPOOL_HDR;
	}
	m->spool_rd = get_u64(hdr + 8);
	if (m->spool_rd < SPOOL_HDR || m->spool_rd > (uint64_t)st.st_size)
		m->spool_rd = SPOOL_HDR;
	/* walk the records: a torn one at the end was never acknowledged */
	for (off = m->spool_rd; off + 4 <= (uint64_t)st.st_size; off += 4 + len) {
		if (pread(m->spool_fd, lenb, 4, (off_t)off) != 4)
			break;
		len = (uint32_t)lenb[0] << 24 | (uint32_t)lenb[1] << 16 |
		    (uint32_t)lenb[2] << 8 | lenb[3];
		if (off + 4 + len > (uint64_t)st.st_size || len > SPOOL_RECORD_MAX)
			break;
	}
	if (off != (uint64_t)st.st_size) {
		log_warnx("mysql sink: %s: cutting a torn record at %llu",
		    m->spool_path, (unsigned long long)off);
		if (ftruncate(m->spool_fd, (off_t)off) == -1)
			log_warn("mysql sink: ftruncate");
	}
	m->spool_end = off;
	if (m->spool_end > m->spool_rd)
		log_info("mysql sink: %llu bytes of events waiting in %s",
		    (unsigned long long)(m->spool_end - m->spool_rd),
		    m->spool_path);
	return 0;
}

static void
spool_drop(struct mysql_sink *m, size_t events, const char *why)
{
	int64_t	 now = warp_mono_us();

	m->dropped += events;
	if (now - m->last_drop_log > 10 * 1000000LL || m->last_drop_log == 0) {
		log_warnx("mysql sink: %s: %zu events dropped for MySQL "
		    "(%llu dropped so far; the other sinks have them)", why,
		    events, (unsigned long long)m->dropped);
		m->last_drop_log = now;
	}
}

/* Append a group of batches (one write, one fdatasync). */
static void
spool_append(struct mysql_sink *m, struct logd_batch **group, size_t n)
{
	size_t		 i, events = 0, total = 0, done;
	ssize_t		 w = 0;

	m->tmp.len = 0;
	for (i = 0; i < n; i++) {
		size_t	 len = warp__event_batch__get_packed_size(&group[i]->eb);
		uint8_t	 lenb[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
		    (uint8_t)(len >> 8), (uint8_t)len };

		logd_buf_add(&m->tmp, lenb, 4);
		logd_buf_grow(&m->tmp, len);
		warp__event_batch__pack(&group[i]->eb,
		    (uint8_t *)m->tmp.p + m->tmp.len);
		m->tmp.len += len;
		events += group[i]->eb.n_events;
	}
	total = m->tmp.len;
	if (m->spool_fd == -1) {
		spool_drop(m, events, "no spool file");
		return;
	}
	if (m->spool_max > 0 && m->spool_end + total > m->spool_max) {
		spool_drop(m, events, "spool full (mysql_spool_max)");
		return;
	}
	for (done = 0; done < total; done += (size_t)w) {
		w = pwrite(m->spool_fd, m->tmp.p + done, total - done,
		    (off_t)(m->spool_end + done));
		if (w <= 0)
			break;
	}
	if (done < total || fdatasync(m->spool_fd) == -1) {
		char why[160];

		snprintf(why, sizeof(why), "spool write %s: %s", m->spool_path,
		    w == 0 ? "no progress" : strerror(errno));
		if (ftruncate(m->spool_fd, (off_t)m->spool_end) == -1)
			log_warn("mysql sink: ftruncate");
		spool_drop(m, events, why);
		return;
	}
	m->spool_end += total;
	m->spooled += events;
}

static void
spool_set_rd(struct mysql_sink *m, uint64_t rd)
{
	uint8_t	 b[8];

	m->spool_rd = rd;
	if (m->spool_rd >= m->spool_end) {
		/* drained: start over */
		if (ftruncate(m->spool_fd, SPOOL_HDR) == -1)
			log_warn("mysql sink: ftruncate spool");
		m->spool_rd = m->spool_end = SPOOL_HDR;
	}
	put_u64(b, m->spool_rd);
	if (pwrite(m->spool_fd, b, 8, 8) != 8)
		log_warn("mysql sink: spool header");
}

/* ---- connection ------------------------------------------------------------------ */

static void
my_disconnect(struct mysql_sink *m)
{
	int	 t, k;

	for (t = 0; t < MT_MAX; t++)
		for (k = 0; k < MYROWS_SIZES; k++) {
			if (m->st[t][k] != NULL)
				mysql_stmt_close(m->st[t][k]);
			m->st[t][k] = NULL;
		}
	if (m->my != NULL)
		mysql_close(m->my);
	m->my = NULL;
	m->connected = 0;
}

static int
my_query(struct mysql_sink *m, const char *sql)
{
	if (mysql_real_query(m->my, sql, strlen(sql)) != 0) {
		log_warnx("mysql sink: %s: %s", log_printable(sql,
		    WARP_MIN(strlen(sql), 60)), mysql_error(m->my));
		return -1;
	}
	return 0;
}

static int
my_migrate(struct mysql_sink *m)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	char		*copy, *stmt, *save, *sql;
	size_t		 i;
	int		 v = 0, rc;

	if (my_query(m, "CREATE TABLE IF NOT EXISTS schema_version ("
	    "version INT NOT NULL, applied_at timestamp(6) NULL)") == -1 ||
	    my_query(m, "SELECT max(version) FROM schema_version") == -1)
		return -1;
	if ((res = mysql_store_result(m->my)) != NULL) {
		if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL)
			v = atoi(row[0]);
		mysql_free_result(res);
	}
	if (v > LOGD_SCHEMA_VERSION) {
		log_warnx("mysql sink: schema version %d is newer than this "
		    "warp-logd (%d)", v, LOGD_SCHEMA_VERSION);
		return -1;
	}
	for (i = 0; i < logd_schema_nsteps; i++) {
		if (logd_schema[i].version <= v)
			continue;
		copy = xstrdup(logd_schema[i].mysql);
		rc = 0;
		for (stmt = strtok_r(copy, ";", &save); stmt != NULL && rc == 0;
		    stmt = strtok_r(NULL, ";", &save))
			if (stmt[strspn(stmt, " \t\n")] != '\0')
				rc = my_query(m, stmt);
		free(copy);
		if (rc == -1)
			return -1;
		sql = xasprintf("INSERT INTO schema_version VALUES (%d, "
		    "CURRENT_TIMESTAMP(6))", logd_schema[i].version);
		rc = my_query(m, sql);
		free(sql);
		if (rc == -1 || my_query(m, "COMMIT") == -1)
			return -1;
		log_info("mysql sink: schema migrated to version %d",
		    logd_schema[i].version);
	}
	return 0;
}

static int
my_connect(struct mysql_sink *m)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	unsigned long long packet = 0;
	unsigned int	 proto;
	int		 t;

	if ((m->my = mysql_init(NULL)) == NULL)
		return -1;
	mysql_options(m->my, MYSQL_OPT_CONNECT_TIMEOUT, &m->timeout_s);
	mysql_options(m->my, MYSQL_OPT_READ_TIMEOUT, &m->timeout_s);
	mysql_options(m->my, MYSQL_OPT_WRITE_TIMEOUT, &m->timeout_s);
	mysql_options(m->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m->my, MYSQL_INIT_COMMAND,
	    "SET time_zone = '+00:00', autocommit = 0");
	if (*m->socket != '\0') {
		proto = MYSQL_PROTOCOL_SOCKET;
		mysql_options(m->my, MYSQL_OPT_PROTOCOL, &proto);
	}
	if (mysql_real_connect(m->my, *m->socket ? NULL : m->host, m->user,
	    m->password, m->database, m->port,
	    *m->socket ? m->socket : NULL, 0) == NULL) {
		if (!m->down_logged)
			log_warnx("mysql sink: connect %s: %s (events are "
			    "spooled in %s until it answers)",
			    *m->socket ? m->socket : m->host,
			    mysql_error(m->my), m->spool_path);
		m->down_logged = 1;
		my_disconnect(m);
		return -1;
	}
	if (my_migrate(m) == -1)
		goto fail;
	/* a chunk must fit in one packet */
	if (my_query(m, "SELECT @@max_allowed_packet") == -1)
		goto fail;
	if ((res = mysql_store_result(m->my)) != NULL) {
		if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL)
			packet = strtoull(row[0], NULL, 10);
		mysql_free_result(res);
	}
	m->chunk_bytes = MY_CHUNK_BYTES;
	if (packet > 0 && packet / 2 < m->chunk_bytes)
		m->chunk_bytes = (size_t)WARP_MAX(packet / 2, 1024);
	for (t = 0; t < MT_MAX; t++)
		m->rows[t].max_bytes = m->chunk_bytes;
	m->connected = 1;
	m->down_logged = 0;
	m->backoff_us = 500000;
	log_info("mysql sink: connected to %s, database %s",
	    *m->socket ? m->socket : m->host, m->database);
	return 0;
fail:
	my_disconnect(m);
	return -1;
}

static void
my_schedule_retry(struct mysql_sink *m)
{
	m->next_try = warp_mono_us() + m->backoff_us;
	m->backoff_us = WARP_MIN(m->backoff_us * 2, m->retry_max_us);
}

/* ---- inserts ----------------------------------------------------------------------- */

/* The prepared INSERT of table t for k rows (k a power of two). */
static MYSQL_STMT *
my_stmt(struct mysql_sink *m, int t, size_t k)
{
	MYSQL_STMT	**stp = &m->st[t][myrows_size_index(k)];

	if (*stp != NULL)
		return *stp;
	myrows_sql(&m->sql, &my_tables[t], k);
	if ((*stp = mysql_stmt_init(m->my)) == NULL ||
	    mysql_stmt_prepare(*stp, m->sql.p, m->sql.len) != 0) {
		log_warnx("mysql sink: prepare %s (%zu rows): %s",
		    my_tables[t].name, k, *stp != NULL ?
		    mysql_stmt_error(*stp) : mysql_error(m->my));
		if (*stp != NULL)
			mysql_stmt_close(*stp);
		*stp = NULL;
	}
	return *stp;
}

/* Insert the first n waiting rows of table t, in chunks.  0 / -1. */
static int
my_send(struct mysql_sink *m, int t, size_t n)
{
	struct myrows	*r = &m->rows[t];
	MYSQL_STMT	*st;
	size_t		 row, k;
	my_ulonglong	 added;

	for (row = 0; row < n; row += k) {
		k = myrows_chunk(n - row, r->max_rows);
		if ((st = my_stmt(m, t, k)) == NULL)
			return -1;
		if (mysql_stmt_bind_param(st, myrows_binds(r, row)) != 0 ||
		    mysql_stmt_execute(st) != 0) {
			log_warnx("mysql sink: insert into %s: %s",
			    my_tables[t].name, mysql_stmt_error(st));
			return -1;
		}
		m->inserts++;
		if (t == MT_COMM || t == MT_CONN) {
			/* INSERT IGNORE: rows already there are not counted */
			added = mysql_stmt_affected_rows(st);
			if (added > k)
				added = k;
			m->stored += added;
			m->dups += k - added;
		}
	}
	myrows_shift(r, n);
	return 0;
}

/* A row of table t is complete: send what is ready. */
static int
my_end_row(struct mysql_sink *m, int t)
{
	size_t	 n = myrows_end_row(&m->rows[t]);

	return n > 0 ? my_send(m, t, n) : 0;
}

static int
my_comm(struct mysql_sink *m, const Warp__CommEvent *c)
{
	struct myrows	*r = &m->rows[MT_COMM];
	char		 id[27], at[40];

	logd_event_ulid(c->connection_id, c->seq, c->occurred_at_us, id);
	logd_sqltime(c->occurred_at_us, at);
	at[26] = '\0';		/* MySQL takes no zone suffix: session is UTC */
	myrows_str(r, id, 26);
	myrows_cstr(r, c->connection_id);
	myrows_cstr(r, c->direction);
	myrows_str(r, c->data.data, c->data.len);
	myrows_cstr(r, at);
	myrows_i64(r, 1, c->seq);
	return my_end_row(m, MT_COMM);
}

/*
 * A conn event: its connections row and the extended rows.  The extended
 * tables have their own keys (connection, transaction, recipient index),
 * so INSERT IGNORE keeps them exactly-once too; unlike the single-row
 * SQLite sink we cannot see which connections rows of a multi-row INSERT
 * were new, so they are always offered.
 */
static int
my_conn(struct mysql_sink *m, const Warp__ConnEvent *c)
{
	struct myrows	*r;
	char		 at[40];
	size_t		 i, j;

	logd_sqltime(c->occurred_at_us, at);
	at[26] = '\0';
	r = &m->rows[MT_CONN];
	myrows_cstr(r, c->connection_id);
	myrows_cstr(r, c->mail_from ? c->mail_from : "");
	myrows_cstr(r, c->mail_to ? c->mail_to : "");
	myrows_cstr(r, at);
	myrows_i64(r, 1, c->elapse_ms);
	myrows_i64(r, 1, c->seq);
	if (my_end_row(m, MT_CONN) == -1)
		return -1;

	r = &m->rows[MT_DETAILS];
	myrows_cstr(r, c->connection_id);
	myrows_cstr(r, c->client_addr);
	myrows_cstr(r, c->orig_dst_addr);
	myrows_cstr(r, c->outbound_addr);
	myrows_cstr(r, c->destination_host);
	myrows_cstr(r, c->helo);
	myrows_i64(r, c->has_message_count, c->message_count);
	myrows_i64(r, c->has_bytes_total, (int64_t)c->bytes_total);
	myrows_cstr(r, c->tls_version);
	myrows_cstr(r, c->tls_cipher);
	myrows_cstr(r, c->client_tls_version);
	myrows_cstr(r, c->client_tls_cipher);
	myrows_i64(r, c->has_banner_ms, c->banner_ms);
	myrows_i64(r, c->has_ehlo_ms, c->ehlo_ms);
	myrows_i64(r, c->has_mail_ms, c->mail_ms);
	myrows_i64(r, c->has_rcpt_ms, c->rcpt_ms);
	myrows_i64(r, c->has_data_ms, c->data_ms);
	myrows_i64(r, c->has_eod_ms, c->eod_ms);
	myrows_i64(r, c->has_total_ms, c->total_ms);
	myrows_i64(r, c->has_final_code, c->final_code);
	myrows_cstr(r, c->final_text);
	myrows_cstr(r, c->verdict);
	myrows_cstr(r, c->route_pool);
	myrows_cstr(r, c->route_reason);
	myrows_cstr(r, c->close_reason);
	if (my_end_row(m, MT_DETAILS) == -1)
		return -1;

	for (i = 0; i < c->n_transactions; i++) {
		const Warp__Transaction *t = c->transactions[i];

		m->tmp.len = 0;
		logd_buf_grow(&m->tmp, 1);
		for (j = 0; j < t->n_rcpts; j++) {
			if (j)
				logd_buf_addc(&m->tmp, ',');
			logd_buf_adds(&m->tmp, t->rcpts[j]->address ?
			    t->rcpts[j]->address : "");
		}
		r = &m->rows[MT_TXN];
		myrows_cstr(r, c->connection_id);
		myrows_i64(r, 1, (int64_t)i);
		myrows_cstr(r, t->mail_from ? t->mail_from : "");
		myrows_cstr(r, t->mail_params);
		myrows_str(r, m->tmp.p, m->tmp.len);
		myrows_i64(r, t->has_size, (int64_t)t->size);
		myrows_i64(r, t->has_final_code, t->final_code);
		myrows_cstr(r, t->final_text);
		myrows_cstr(r, t->verdict);
		myrows_i64(r, t->has_data_ms, t->data_ms);
		myrows_i64(r, t->has_eod_ms, t->eod_ms);
		myrows_i64(r, t->has_elapse_ms, t->elapse_ms);
		myrows_cstr(r, t->message_id);
		if (my_end_row(m, MT_TXN) == -1)
			return -1;
		r = &m->rows[MT_RCPT];
		for (j = 0; j < t->n_rcpts; j++) {
			const Warp__Recipient *rc = t->rcpts[j];

			myrows_cstr(r, c->connection_id);
			myrows_i64(r, 1, (int64_t)i);
			myrows_i64(r, 1, (int64_t)j);
			myrows_cstr(r, rc->address ? rc->address : "");
			myrows_i64(r, rc->has_code, rc->code);
			myrows_cstr(r, rc->text);
			myrows_i64(r, rc->has_ms, rc->ms);
			if (my_end_row(m, MT_RCPT) == -1)
				return -1;
		}
	}
	return 0;
}

/* Store batches in one transaction.  0, or -1 (then disconnected). */
static int
my_store(struct mysql_sink *m, const Warp__EventBatch *const *ebs, size_t n)
{
	uint64_t		 stored = m->stored, dups = m->dups;
	size_t			 i, j;
	int			 rc = 0, t;

	for (i = 0; i < n && rc == 0; i++) {
		for (j = 0; j < ebs[i]->n_events && rc == 0; j++) {
			const Warp__Event *ev = ebs[i]->events[j];

			if (ev->kind_case == WARP__EVENT__KIND_COMM)
				rc = my_comm(m, ev->comm);
			else if (ev->kind_case == WARP__EVENT__KIND_CONN)
				rc = my_conn(m, ev->conn);
		}
	}
	/* what did not fill a whole chunk */
	for (t = 0; t < MT_MAX && rc == 0; t++)
		rc = my_send(m, t, m->rows[t].nrows);
	if (rc == 0 && mysql_commit(m->my) == 0)
		return 0;
	log_warnx("mysql sink: transaction failed: %s", mysql_error(m->my));
	mysql_rollback(m->my);
	for (t = 0; t < MT_MAX; t++)
		myrows_clear(&m->rows[t]);
	m->stored = stored;
	m->dups = dups;
	m->errors++;
	my_disconnect(m);
	my_schedule_retry(m);
	return -1;
}

/* ---- sink ops ------------------------------------------------------------------------ */

static int
mysql_sink_open(struct sink *s, const struct conf *cf)
{
	struct mysql_sink	*m;
	int			 t;

	m = xcalloc(1, sizeof(*m));
	s->priv = m;
	m->host = xstrdup(logd_conf_str(cf, "mysql_host"));
	m->socket = xstrdup(logd_conf_str(cf, "mysql_socket"));
	m->user = xstrdup(logd_conf_str(cf, "mysql_user"));
	m->password = xstrdup(logd_conf_str(cf, "mysql_password"));
	m->database = xstrdup(logd_conf_str(cf, "mysql_database"));
	m->port = (unsigned)atoi(logd_conf_str(cf, "mysql_port"));
	m->timeout_s = (unsigned)WARP_MAX(1,
	    conf_duration_ms(cf, "mysql_connect_timeout") / 1000);
	m->retry_max_us = conf_duration_ms(cf, "mysql_retry_max") * 1000;
	m->qmax = (size_t)conf_size(cf, "mysql_queue_max");
	s->qmax = 0;		/* never refuse: past qmax we spool */
	m->spool_max = conf_size(cf, "mysql_spool_max");
	m->spool_path = xasprintf("%s/mysql.spool", conf_str(cf, "spool_dir"));
	m->backoff_us = 500000;
	m->spool_fd = -1;
	m->chunk_bytes = MY_CHUNK_BYTES;
	for (t = 0; t < MT_MAX; t++)
		myrows_init(&m->rows[t], &my_tables[t], MYROWS_MAX_ROWS,
		    m->chunk_bytes);
	if (mysql_library_init(0, NULL, NULL) != 0) {
		log_warnx("mysql sink: mysql_library_init failed");
		return -1;
	}
	if (spool_open(m) == -1)
		return -1;
	return 0;
}

static void
mysql_sink_write(struct sink *s, struct logd_batch **group, size_t n)
{
	struct mysql_sink	*m = s->priv;
	const Warp__EventBatch	*ebs[256] = { NULL };
	size_t			 i;

	if (m->connected && m->spool_end == m->spool_rd &&
	    atomic_load(&s->qbytes) <= m->qmax) {
		for (i = 0; i < n && i < WARP_NELEM(ebs); i++)
			ebs[i] = &group[i]->eb;
		if (my_store(m, ebs, i) == 0)
			goto done;
	}
	spool_append(m, group, n);
done:
	for (i = 0; i < n; i++)
		logd_batch_done(group[i]);
}

/* Drain up to a few MB of the spool in one transaction. */
static int
spool_drain(struct mysql_sink *m)
{
	const Warp__EventBatch *ebs[SPOOL_DRAIN_BATCHES];
	uint8_t		*data, *p;
	const uint8_t	*bufs[SPOOL_DRAIN_BATCHES];
	size_t		 lens[SPOOL_DRAIN_BATCHES], n = 0, nebs = 0, i;
	size_t		 avail, len;
	uint64_t	 want, off;
	int		 rc;

	want = WARP_MIN(m->spool_end - m->spool_rd, SPOOL_DRAIN_BYTES);
	data = xmalloc((size_t)want);
	if (pread(m->spool_fd, data, (size_t)want, (off_t)m->spool_rd) !=
	    (ssize_t)want) {
		log_warn("mysql sink: read spool");
		free(data);
		return -1;
	}
	p = data;
	avail = (size_t)want;
	while (n < SPOOL_DRAIN_BATCHES && avail >= 4) {
		len = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
		    (size_t)p[2] << 8 | p[3];
		if (4 + len > avail)
			break;
		bufs[n] = p + 4;
		lens[n++] = len;
		p += 4 + len;
		avail -= 4 + len;
	}
	if (n == 0) {
		/* one record larger than the drain buffer */
		len = (size_t)data[0] << 24 | (size_t)data[1] << 16 |
		    (size_t)data[2] << 8 | data[3];
		free(data);
		data = xmalloc(len + 4);
		if (pread(m->spool_fd, data, len + 4, (off_t)m->spool_rd) !=
		    (ssize_t)(len + 4)) {
			free(data);
			return -1;
		}
		bufs[0] = data + 4;
		lens[0] = len;
		n = 1;
		p = data + 4 + len;
	}
	off = m->spool_rd + (uint64_t)(p - data);
	/* unpacked into one arena for the whole transaction */
	if (m->drain_arena == NULL)
		m->drain_arena = arena_new(MY_DRAIN_ARENA_CHUNK);
	for (i = 0; i < n; i++) {
		ebs[nebs] = warp__event_batch__unpack(
		    arena_allocator(m->drain_arena), lens[i], bufs[i]);
		if (ebs[nebs] == NULL)
			log_warnx("mysql sink: a spooled batch does not unpack, "
			    "skipped");
		else
			nebs++;
	}
	rc = my_store(m, ebs, nebs);
	arena_reset(m->drain_arena);
	free(data);
	if (rc == -1)
		return -1;
	m->drained += n;
	spool_set_rd(m, off);
	if (m->spool_rd == SPOOL_HDR)
		log_info("mysql sink: spool drained");
	return 0;
}

static int
mysql_sink_tick(struct sink *s)
{
	struct mysql_sink	*m = s->priv;
	int64_t			 now = warp_mono_us();

	if (!m->connected) {
		if (now < m->next_try)
			return (int)((m->next_try - now) / 1000) + 1;
		if (my_connect(m) == -1) {
			my_schedule_retry(m);
			return (int)(m->backoff_us / 1000);
		}
	}
	if (m->spool_fd != -1 && m->spool_end > m->spool_rd) {
		if (spool_drain(m) == -1)
			return m->connected ? 1000 :
			    (int)((m->next_try - warp_mono_us()) / 1000) + 1;
		return 0;	/* more, soon (new batches interleave) */
	}
	/* idle: check the connection now and then so a restart is noticed */
	if (mysql_ping(m->my) != 0) {
		log_warnx("mysql sink: server gone: %s", mysql_error(m->my));
		my_disconnect(m);
		my_schedule_retry(m);
		return 500;
	}
	return 5000;
}

static void
mysql_sink_close(struct sink *s)
{
	struct mysql_sink	*m = s->priv;
	int			 t;

	my_disconnect(m);
	if (m->spool_fd != -1)
		close(m->spool_fd);
	for (t = 0; t < MT_MAX; t++)
		myrows_free(&m->rows[t]);
	logd_buf_free(&m->sql);
	logd_buf_free(&m->tmp);
	arena_free(m->drain_arena);
	explicit_bzero(m->password, strlen(m->password));
	free(m->host);
	free(m->socket);
	free(m->user);
	free(m->password);
	free(m->database);
	free(m->spool_path);
	free(m);
	s->priv = NULL;
	mysql_thread_end();
}

static void
mysql_sink_stats(struct sink *s, char *out, size_t sz)
{
	struct mysql_sink	*m = s->priv;

	if (m == NULL)
		return;
	snprintf(out, sz, "connected=%d stored=%llu duplicates=%llu "
	    "spooled=%llu spool_bytes=%llu dropped=%llu transaction_errors=%llu "
	    "inserts=%llu",
	    m->connected, (unsigned long long)m->stored,
	    (unsigned long long)m->dups, (unsigned long long)m->spooled,
	    (unsigned long long)(m->spool_end - m->spool_rd),
	    (unsigned long long)m->dropped, (unsigned long long)m->errors,
	    (unsigned long long)m->inserts);
}

const struct sink_ops sink_mysql_ops = {
	.name = "mysql",
	.durable = 1,
	.open = mysql_sink_open,
	.write = mysql_sink_write,
	.tick = mysql_sink_tick,
	.close = mysql_sink_close,
	.stats = mysql_sink_stats,
};
