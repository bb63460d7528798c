/*
 * logd.h -- warp-logd's internal interfaces: batches, sink threads, JSON
 * encoding, dedupe memory, the SQL schema and the Slack formatter.
 *
 * Flow: the libevent thread (logd.c) receives EventBatch frames on
 * log.sock, validates the events, keeps the unpacked frame as one
 * read-only batch (struct logd_batch) and hands a reference to every
 * enabled sink.  Each
 * sink runs in its own thread (sink.c) with its own bounded queue.  A
 * durable sink (file, sqlite, mysql) calls logd_batch_done() once the batch
 * is committed (or, for mysql, safely in logd's own on-disk spool); when
 * every durable sink is done the event loop sends the Ack.  Slack never
 * delays an Ack.  Nothing here is visible outside warp-logd.
 */
#ifndef WARP_LOGD_H
#define WARP_LOGD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "warp.pb-c.h"

struct daemon_spec;
struct logd_peer;

/* ---- the daemon (logd.c) ------------------------------------------------------ */

extern const struct conf_key logd_keys[];
extern const struct daemon_spec logd_spec;
/* A key's value, or the original's environment variable (FILE_PATH, DSN,
 * SLACK_TOKEN, SLACK_CHANNEL) when the key is left at its default. */
const char	*logd_conf_str(const struct conf *, const char *key);

/* ---- batches --------------------------------------------------------------- */

/*
 * A batch is the EventBatch as warp-logd received it, unpacked once by
 * the event loop (into the arena the IPC layer unpacked the frame into)
 * and then only read, by every sink's thread at the same time: no sink
 * unpacks or copies it again.  It goes away with its last reference.
 */
struct logd_batch {
	struct arena		*arena;		/* holds everything eb points to */
	Warp__EventBatch	 eb;		/* the accepted events */
	size_t			 mem;		/* bytes held (queue bounds) */
	uint64_t		 frame_id;	/* Ack goes back with this id */
	struct logd_peer	*peer;		/* owned by the event loop */
	atomic_int		 pending;	/* durable sinks not done yet */
	atomic_int		 refs;
	struct logd_batch	*done_next;	/* completion list link */
};

/* A durable sink has committed the batch (any thread). */
void	 logd_batch_done(struct logd_batch *);
void	 logd_batch_unref(struct logd_batch *);

/* ---- growable byte buffer (json.c) ------------------------------------------- */

struct logd_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

void	 logd_buf_grow(struct logd_buf *, size_t more);
void	 logd_buf_add(struct logd_buf *, const void *, size_t);
void	 logd_buf_adds(struct logd_buf *, const char *);
void	 logd_buf_addc(struct logd_buf *, char);
void	 logd_buf_addi(struct logd_buf *, int64_t);
void	 logd_buf_addf(struct logd_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 logd_buf_free(struct logd_buf *);

/* ---- UTF-8 and JSON (json.c) ------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 if p starts
 * an ill-formed one (overlong, surrogate, > U+10FFFF, truncated). */
size_t	 logd_utf8_seq(const uint8_t *p, size_t n);
/* Append src as valid UTF-8: well-formed sequences unchanged, every byte
 * of an ill-formed one as the character U+0000+byte (its Latin-1 value). */
void	 logd_utf8_clean(struct logd_buf *, const void *src, size_t n);
/* Append src as a JSON string (with the quotes): ", \ and every control
 * character escaped, ill-formed bytes as \u00XX.  Always valid JSON. */
void	 logd_json_str(struct logd_buf *, const void *src, size_t n);
/* Time in microseconds as RFC 3339 UTC with microseconds; out[32]. */
void	 logd_rfc3339(int64_t us, char out[32]);
/* The original's SQL format "YYYY-MM-DD HH:MM:SS.uuuuuu+00:00"; out[40]. */
void	 logd_sqltime(int64_t us, char out[40]);
/* One JSON line (with "\n") per event. */
void	 logd_json_comm(struct logd_buf *, const Warp__CommEvent *);
void	 logd_json_conn(struct logd_buf *, const Warp__ConnEvent *);

/* Deterministic 26-char ULID of an event: time part = occurred_at in ms,
 * random part = 80 bits of a hash of (connection_id, seq). */
void	 logd_event_ulid(const char *cid, uint32_t seq, int64_t at_us,
	    char out[27]);

/* ---- dedupe memory (seen.c) --------------------------------------------------- */

/* Which (connection_id, seq) pairs were stored, for the most recent
 * max_conns connections (least recently used are forgotten). */
struct logd_seen;
struct logd_seen *logd_seen_new(size_t max_conns);
void	 logd_seen_free(struct logd_seen *);
/* 1 if already seen, else records it and returns 0. */
int	 logd_seen_check(struct logd_seen *, const char *cid, uint32_t seq);
/* Record without asking (start-up recovery). */
void	 logd_seen_add(struct logd_seen *, const char *cid, uint32_t seq);
size_t	 logd_seen_count(const struct logd_seen *);
#define LOGD_SEEN_MAX_SEQ	(1u << 20)	/* larger seqs are not tracked */

/* Recover the (connection_id, seq) pairs of JSON lines in buf (the tail of
 * an event file): returns how many pairs were added. */
size_t	 logd_seen_scan_json(struct logd_seen *, const char *buf, size_t len);

/* ---- sinks (sink.c and sink_*.c) ------------------------------------------------ */

struct sink;

struct sink_ops {
	const char	*name;
	int		 durable;
	/* In the event-loop thread before the sink thread starts.  -1 aborts
	 * start-up (after logging why). */
	int		(*open)(struct sink *, const struct conf *);
	/* Sink thread: store a group of batches; call logd_batch_done() for
	 * each one that is safe (durable sinks). */
	void		(*write)(struct sink *, struct logd_batch **, size_t n);
	/* Sink thread, when idle or when the wait it asked for has passed:
	 * reconnect, drain a spool, send notifications.  Returns how long to
	 * sleep at most (ms), or -1 for "until work arrives". */
	int		(*tick)(struct sink *);
	/* Event-loop thread, SIGHUP (may be NULL). */
	void		(*reopen)(struct sink *);
	/* Sink thread, last thing before it exits. */
	void		(*close)(struct sink *);
	/* One line of counters for the periodic report. */
	void		(*stats)(struct sink *, char *, size_t);
};

struct sink {
	const struct sink_ops	*ops;
	void			*priv;
	pthread_t		 thread;
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cv;
	struct logd_batch	**q;		/* ring of queued batches */
	size_t			 qcap, qhead, qlen;
	atomic_size_t		 qbytes;
	size_t			 qmax;		/* bytes; above: refuse batches */
	int			 stop;
	int			 wake;		/* reopen/tick requested */
	atomic_int		 reopen_req;
	int			 started;
};

struct sink	*sink_new(const struct sink_ops *, size_t qmax);
int		 sink_start(struct sink *);
/* Enqueue (takes a reference). */
void		 sink_push(struct sink *, struct logd_batch *);
int		 sink_full(const struct sink *);
void		 sink_request_reopen(struct sink *);
/* Ask the thread to finish its queue and exit, and wait for it. */
void		 sink_stop(struct sink *);
void		 sink_free(struct sink *);
/* For sinks that wait: sleep up to ms unless stopping (sink thread). */
int		 sink_stopping(struct sink *);

extern const struct sink_ops sink_file_ops;
extern const struct sink_ops sink_sqlite_ops;
extern const struct sink_ops sink_mysql_ops;
extern const struct sink_ops sink_slack_ops;

/* ---- SQL (schema.c) ----------------------------------------------------------------- */

/* The schema, as a list of versioned steps shared by SQLite and MySQL. */
struct logd_schema_step {
	int		 version;
	const char	*sqlite;	/* statements separated by ';' */
	const char	*mysql;
};
extern const struct logd_schema_step logd_schema[];
extern const size_t logd_schema_nsteps;
#define LOGD_SCHEMA_VERSION 4

/* SQLite schema creation/migration on an open handle.  0 / -1 (errbuf). */
struct sqlite3;
int	 logd_sqlite_migrate(struct sqlite3 *, char *err, size_t errsz);
int	 logd_sqlite_version(struct sqlite3 *);

/* ---- DSN (dsn.c) ----------------------------------------------------------------------- */

/* The original's DSN: go-sql-driver style "user:pass@tcp(host:port)/db"
 * or "user:pass@unix(/path)/db"; returns 0, or -1 when it is not one (then
 * it is an SQLite path). */
struct logd_dsn {
	char	user[128];
	char	password[256];
	char	host[256];
	int	port;
	char	socket[256];
	char	database[128];
};
int	 logd_dsn_parse(const char *, struct logd_dsn *);

/* ---- Slack (slack.c: pure formatting and pacing) -------------------------------- */

#define SLACK_NOTIFY_REJECT	0x01
#define SLACK_NOTIFY_DEFER	0x02
#define SLACK_NOTIFY_THROTTLE	0x04
#define SLACK_NOTIFY_ERROR	0x08
#define SLACK_NOTIFY_OK		0x10
#define SLACK_NOTIFY_ALL	0x1f

/* Parse the slack_notify list; -1 on an unknown word. */
int	 slack_notify_parse(char *const *words, unsigned *mask);
/* The classes a connection belongs to (one or more SLACK_NOTIFY_*). */
unsigned slack_classify(const Warp__ConnEvent *);
/* The message text (Slack mrkdwn, &<> escaped). */
void	 slack_format_text(struct logd_buf *, const Warp__ConnEvent *);
/* The JSON body: {"channel":..., "text":...} (channel omitted if NULL). */
void	 slack_format_payload(struct logd_buf *, const char *channel,
	    const char *text, size_t textlen);
/* Retry-After header value (seconds or HTTP date) → ms; -1 if unusable. */
int64_t	 slack_retry_after_ms(const char *value, int64_t now_us);
/* Did the API accept it?  webhook: "ok"; chat.postMessage: "ok":true. */
int	 slack_response_ok(const char *body, size_t len, int webhook);

/* Pacing of one channel: at most one message per interval; a 429 pushes
 * the next send out by Retry-After; failures back off exponentially. */
struct slack_pace {
	int64_t	 interval_us;
	int64_t	 next_us;	/* earliest next attempt */
	int	 failures;	/* consecutive, for the backoff */
};
enum slack_outcome { SLACK_SENT, SLACK_THROTTLED, SLACK_FAILED };
void	 slack_pace_init(struct slack_pace *, int64_t interval_us);
int	 slack_pace_ready(const struct slack_pace *, int64_t now_us);
/* Record an attempt's outcome; retry_after_ms < 0 when none was given. */
void	 slack_pace_result(struct slack_pace *, int64_t now_us,
	    enum slack_outcome, int64_t retry_after_ms);

#endif
