/*
 * logd.c -- warp-logd's event loop side: configuration table, log.sock,
 * batch intake, fan-out to the sinks and acknowledgements.
 *
 * Called by daemon_main() (main.c) through logd_spec.  Receives
 * EventBatch frames from warp-proxyd, drops malformed events (counted),
 * keeps the rest, as unpacked, in one read-only logd_batch shared by every
 * enabled sink thread, and sends the Ack once every durable sink (file, sqlite,
 * mysql) has committed it -- the at-least-once contract of docs/logd.md.
 * Holds no credentials itself; the MySQL password and Slack token are read
 * from the configuration by their sinks only.
 */
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <event2/event.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "conf.h"
#include "daemon.h"
#include "ipc.h"
#include "log.h"
#include "util.h"
#include "logd.h"

#define LOGD_STATS_INTERVAL	300	/* seconds between counter reports */

const struct conf_key logd_keys[] = {
	{ "user", CONF_STR, "warp-log", 0, 0, NULL, 0,
	  "account warp-logd runs as after start-up (empty: keep the starting account)" },
	{ "allow_users", CONF_LIST, "warp-proxy", 0, 0, NULL, CONF_RELOAD,
	  "accounts allowed on log.sock besides root and warp-logd's own" },
	{ "socket_group", CONF_STR, "", 0, 0, NULL, 0,
	  "group of log.sock, mode 0660 (empty: the primary group of user)" },
	{ "sinks", CONF_LIST, "sqlite", 0, 0, NULL, 0,
	  "where events are stored: file, sqlite, mysql, slack (legacy flag -plugins)" },
	{ "file_path", CONF_PATH, "/var/log/warp/events.jsonl", 0, 0, NULL, 0,
	  "JSON-lines event file of the file sink (environment FILE_PATH)" },
	{ "file_fsync", CONF_BOOL, "yes", 0, 0, NULL, 0,
	  "fdatasync the event file before a batch is acknowledged" },
	{ "file_dedupe_scan", CONF_SIZE, "32m", 0, 1024LL * 1024 * 1024, NULL, 0,
	  "tail of the event file read at start-up to learn which events it holds" },
	{ "dedupe_connections", CONF_INT, "100000", 100, 100000000, NULL, 0,
	  "connections remembered to drop replayed events (file and slack sinks)" },
	{ "file_queue_max", CONF_SIZE, "256m", 1024 * 1024, 64LL * 1024 * 1024 * 1024, NULL, 0,
	  "memory held by events queued for the file sink before new batches are refused" },
	{ "sqlite_path", CONF_PATH, "/var/lib/warp/warp.db", 0, 0, NULL, 0,
	  "SQLite database of the sqlite sink (environment DSN)" },
	{ "sqlite_synchronous", CONF_ENUM, "normal", 0, 0, "normal|full", 0,
	  "normal: committed events survive a crash of warp-logd; full: also power loss" },
	{ "sqlite_queue_max", CONF_SIZE, "256m", 1024 * 1024, 64LL * 1024 * 1024 * 1024, NULL, 0,
	  "memory held by events queued for the sqlite sink before new batches are refused" },
	{ "mysql_host", CONF_STR, "127.0.0.1", 0, 0, NULL, 0,
	  "MySQL/MariaDB server (environment DSN, go-sql-driver syntax)" },
	{ "mysql_port", CONF_INT, "3306", 1, 65535, NULL, 0,
	  "MySQL/MariaDB TCP port" },
	{ "mysql_socket", CONF_PATH, "", 0, 0, NULL, 0,
	  "MySQL/MariaDB Unix socket; when set, used instead of host and port" },
	{ "mysql_user", CONF_STR, "warp", 0, 0, NULL, 0,
	  "MySQL/MariaDB account" },
	{ "mysql_password", CONF_STR, "", 0, 0, NULL, CONF_SECRET,
	  "MySQL/MariaDB password (the file must not be readable by others)" },
	{ "mysql_database", CONF_STR, "warp", 0, 0, NULL, 0,
	  "MySQL/MariaDB database holding the tables of conf/mysql-schema.sql" },
	{ "mysql_connect_timeout", CONF_DURATION, "5s", 1000, 300000, NULL, 0,
	  "connect, read and write timeout toward the MySQL server" },
	{ "mysql_retry_max", CONF_DURATION, "30s", 1000, 3600000, NULL, 0,
	  "longest wait between reconnection attempts (exponential backoff)" },
	{ "mysql_queue_max", CONF_SIZE, "64m", 1024 * 1024, 64LL * 1024 * 1024 * 1024, NULL, 0,
	  "memory held by events queued for the mysql sink; above it batches go to its spool" },
	{ "mysql_spool_max", CONF_SIZE, "1g", 0, 1024LL * 1024 * 1024 * 1024, NULL, 0,
	  "bytes of events kept on disk while MySQL is unreachable; above it they are dropped and counted" },
	{ "spool_dir", CONF_PATH, "/var/spool/warp/logd", 0, 0, NULL, 0,
	  "directory of warp-logd's own spool (mysql sink)" },
	{ "slack_token", CONF_STR, "", 0, 0, NULL, CONF_SECRET,
	  "Slack bot token for chat.postMessage (environment SLACK_TOKEN)" },
	{ "slack_channel", CONF_STR, "", 0, 0, NULL, 0,
	  "Slack channel id or name (environment SLACK_CHANNEL)" },
	{ "slack_webhook_url", CONF_STR, "", 0, 0, NULL, CONF_SECRET,
	  "Slack incoming-webhook URL; when set, used instead of token and channel" },
	{ "slack_api_url", CONF_STR, "https://slack.com/api/chat.postMessage", 0, 0, NULL, 0,
	  "chat.postMessage endpoint (tests point it at a local server)" },
	{ "slack_notify", CONF_LIST, "all", 0, 0, NULL, 0,
	  "connections to notify: all, or any of reject, defer, throttle, error" },
	{ "slack_interval", CONF_DURATION, "1s", 0, 3600000, NULL, 0,
	  "minimum time between two Slack messages (Slack allows about 1/s per channel)" },
	{ "slack_timeout", CONF_DURATION, "10s", 100, 300000, NULL, 0,
	  "timeout of one HTTP request to Slack" },
	{ "slack_retries", CONF_INT, "8", 0, 1000, NULL, 0,
	  "attempts after network or 5xx errors before a notification is dropped (429 never drops)" },
	{ "slack_queue_max", CONF_INT, "10000", 1, 10000000, NULL, 0,
	  "notifications waiting to be sent; above it the oldest are dropped and counted" },
	{ "log_headers", CONF_BOOL, "no", 0, 0, NULL, 0,
	  "store the header-section events warp-proxyd sends when its own log_headers is on (\"--\" notes starting with \"header\")" },
	CONF_KEY_END
};

struct logd_peer {
	struct ipc_conn	*conn;		/* NULL once closed */
	int		 refs;
};

struct logd {
	struct daemon		*d;
	struct ipc_server	*srv;
	struct sink		*sinks[4];
	size_t			 nsinks;
	int			 ndurable;
	int			 log_headers;
	int			 efd;
	struct event		*done_ev;
	struct event		*stats_ev;
	pthread_mutex_t		 done_mtx;
	struct logd_batch	*done_head, *done_tail;
	uint64_t		 batches, events, invalid, refused, acked;
	uint64_t		 headers_dropped;
	int			 stopping;
};

static struct logd	*logd;		/* one per process */

/* ---- configuration helpers (environment variables of the original) -------- */

static int
is_default(const struct conf *cf, const char *key)
{
	return strcmp(conf_origin(cf, key), "default") == 0;
}

static const char *
env_nonempty(const char *name)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static int
sinks_has(const struct conf *cf, const char *name)
{
	char *const	*l = conf_list(cf, "sinks", NULL);

	for (; *l != NULL; l++)
		if (strcmp(*l, name) == 0)
			return 1;
	return 0;
}

/*
 * The value of a key, or of the original's environment variable when the
 * configuration leaves the key at its default: FILE_PATH, DSN (an SQLite
 * path, or a go-sql-driver MySQL DSN), SLACK_TOKEN, SLACK_CHANNEL.
 */
const char *
logd_conf_str(const struct conf *cf, const char *key)
{
	static __thread struct logd_dsn	 dsn;
	static __thread char		 port[16];
	const char			*env;

	if (!is_default(cf, key))
		return conf_str(cf, key);
	if (strcmp(key, "file_path") == 0 && (env = env_nonempty("FILE_PATH")))
		return env;
	if (strcmp(key, "slack_token") == 0 &&
	    (env = env_nonempty("SLACK_TOKEN")))
		return env;
	if (strcmp(key, "slack_channel") == 0 &&
	    (env = env_nonempty("SLACK_CHANNEL")))
		return env;
	if ((env = env_nonempty("DSN")) != NULL) {
		int mysql = logd_dsn_parse(env, &dsn) == 0;

		if (strcmp(key, "sqlite_path") == 0 && !mysql)
			return env;
		if (mysql && strncmp(key, "mysql_", 6) == 0) {
			if (strcmp(key, "mysql_user") == 0)
				return dsn.user;
			if (strcmp(key, "mysql_password") == 0)
				return dsn.password;
			if (strcmp(key, "mysql_host") == 0 && dsn.host[0])
				return dsn.host;
			if (strcmp(key, "mysql_socket") == 0 && dsn.socket[0])
				return dsn.socket;
			if (strcmp(key, "mysql_database") == 0 &&
			    dsn.database[0])
				return dsn.database;
			if (strcmp(key, "mysql_port") == 0 && dsn.port > 0) {
				snprintf(port, sizeof(port), "%d", dsn.port);
				return port;
			}
		}
	}
	if (strcmp(key, "mysql_port") == 0) {
		snprintf(port, sizeof(port), "%lld",
		    (long long)conf_int(cf, key));
		return port;
	}
	return conf_str(cf, key);
}

static void
logd_check(const struct conf *cf, struct conf_diag *diag)
{
	static const char *const known[] = { "file", "sqlite", "mysql",
	    "slack", NULL };
	char *const	*l;
	const char	*const *k;
	unsigned	 mask;
	size_t		 n;

	ipc_check_users(cf, "allow_users", diag);
	conf_list(cf, "sinks", &n);
	if (n == 0)
		conf_diag_error(diag, "%s: sinks: at least one sink is needed",
		    conf_origin(cf, "sinks"));
	for (l = conf_list(cf, "sinks", NULL); *l != NULL; l++) {
		for (k = known; *k != NULL && strcmp(*k, *l) != 0; k++)
			;
		if (*k == NULL)
			conf_diag_error(diag, "%s: sinks: unknown sink \"%s\" "
			    "(file, sqlite, mysql, slack)",
			    conf_origin(cf, "sinks"), log_printable(*l,
			    strlen(*l)));
	}
	if (slack_notify_parse(conf_list(cf, "slack_notify", NULL), &mask) == -1)
		conf_diag_error(diag, "%s: slack_notify: use all, or any of "
		    "reject, defer, throttle, error",
		    conf_origin(cf, "slack_notify"));
	if (sinks_has(cf, "slack") &&
	    *logd_conf_str(cf, "slack_webhook_url") == '\0' &&
	    (*logd_conf_str(cf, "slack_token") == '\0' ||
	    *logd_conf_str(cf, "slack_channel") == '\0'))
		conf_diag_error(diag, "%s: sinks: slack needs slack_token and "
		    "slack_channel, or slack_webhook_url",
		    conf_origin(cf, "sinks"));
	if (sinks_has(cf, "file") && *logd_conf_str(cf, "file_path") == '\0')
		conf_diag_error(diag, "%s: file_path: empty",
		    conf_origin(cf, "file_path"));
	if (sinks_has(cf, "sqlite") && *logd_conf_str(cf, "sqlite_path") == '\0')
		conf_diag_error(diag, "%s: sqlite_path: empty",
		    conf_origin(cf, "sqlite_path"));
}

static const struct daemon_flag logd_flags[] = {
	{ "plugins", 1, "sinks, comma separated (the original's flag)",
	  NULL, "sinks" },
	{ NULL, 0, NULL, NULL, NULL }
};

/* ---- batches ------------------------------------------------------------------ */

static void
peer_unref(struct logd_peer *p)
{
	if (p != NULL && --p->refs == 0)
		free(p);
}

void
logd_batch_unref(struct logd_batch *b)
{
	if (atomic_fetch_sub(&b->refs, 1) == 1) {
		ipc_frame_release(b->arena);
		free(b);
	}
}

void
logd_batch_done(struct logd_batch *b)
{
	uint64_t	 one = 1;

	if (atomic_fetch_sub(&b->pending, 1) != 1)
		return;
	pthread_mutex_lock(&logd->done_mtx);
	b->done_next = NULL;
	if (logd->done_tail)
		logd->done_tail->done_next = b;
	else
		logd->done_head = b;
	logd->done_tail = b;
	pthread_mutex_unlock(&logd->done_mtx);
	if (write(logd->efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("eventfd write");
}

static void
batch_ack(struct logd_batch *b)
{
	Warp__Frame	 f = WARP__FRAME__INIT;
	Warp__Ack	 a = WARP__ACK__INIT;

	if (b->peer != NULL && b->peer->conn != NULL && !logd->stopping) {
		a.has_count = 1;
		a.count = (uint32_t)b->eb.n_events;
		f.body_case = WARP__FRAME__BODY_ACK;
		f.ack = &a;
		if (ipc_reply(b->peer->conn, b->frame_id, &f) == 0)
			logd->acked++;
	}
	peer_unref(b->peer);
	b->peer = NULL;
	logd_batch_unref(b);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logd_batch	*b, *next;
	uint64_t		 n;

	if (read(logd->efd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("eventfd read");
	pthread_mutex_lock(&logd->done_mtx);
	b = logd->done_head;
	logd->done_head = logd->done_tail = NULL;
	pthread_mutex_unlock(&logd->done_mtx);
	for (; b != NULL; b = next) {
		next = b->done_next;
		batch_ack(b);
	}
}

static int
valid_cid(const char *s)
{
	size_t	 n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') ||
		    (s[n] >= 'A' && s[n] <= 'Z') ||
		    (s[n] >= 'a' && s[n] <= 'z') ||
		    s[n] == '-' || s[n] == '_' || s[n] == '.'))
			return 0;
	return n >= 1 && n <= 64;
}

static int
valid_direction(const char *s)
{
	size_t	 n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 4)
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return 0;
	return 1;
}

/* A header line sent by warp-proxyd when its log_headers is on. */
static int
is_header_event(const Warp__CommEvent *c)
{
	return c->data.len >= 6 && memcmp(c->data.data, "header", 6) == 0 &&
	    strcmp(c->direction, "--") == 0;
}

static int
event_ok(const Warp__Event *ev, const char **why)
{
	switch (ev->kind_case) {
	case WARP__EVENT__KIND_COMM:
		if (!valid_cid(ev->comm->connection_id)) {
			*why = "bad connection_id";
			return 0;
		}
		if (!valid_direction(ev->comm->direction)) {
			*why = "bad direction";
			return 0;
		}
		return 1;
	case WARP__EVENT__KIND_CONN:
		if (!valid_cid(ev->conn->connection_id)) {
			*why = "bad connection_id";
			return 0;
		}
		return 1;
	default:
		*why = "event of unknown kind";
		return 0;
	}
}

static void
handle_batch(struct ipc_conn *c, const Warp__Frame *f)
{
	const Warp__EventBatch	*in = f->events;
	struct logd_batch	*b;
	struct logd_peer	*peer = ipc_conn_data(c);
	const char		*why = NULL;
	size_t			 i, n = 0, bad = 0;

	logd->batches++;
	for (i = 0; i < logd->nsinks; i++) {
		if (logd->sinks[i]->ops->durable && sink_full(logd->sinks[i])) {
			logd->refused++;
			log_warnx("%s sink queue full: batch of %zu events "
			    "refused (the sender keeps it)",
			    logd->sinks[i]->ops->name, in->n_events);
			ipc_send_error(c, f->id, WARP__ERROR_CODE__ERR_UNAVAILABLE,
			    "sink queue full");
			return;
		}
	}
	/*
	 * Keep the frame as it was unpacked (no copy, no repack): the
	 * accepted events are compacted in place, and the sinks read them
	 * straight from the frame's arena.
	 */
	b = xcalloc(1, sizeof(*b));
	if ((b->arena = ipc_frame_keep(f)) == NULL) {
		/* not held in an arena (a nested frame): copy it into one */
		size_t		 len = warp__event_batch__get_packed_size(in);
		uint8_t		*buf = xmalloc(len ? len : 1);

		warp__event_batch__pack(in, buf);
		b->arena = arena_new(len * 2 + 4096);
		in = warp__event_batch__unpack(arena_allocator(b->arena), len,
		    buf);
		free(buf);
		if (in == NULL)
			fatalx("out of memory copying an event batch");
	}
	b->eb = *in;
	for (i = 0; i < in->n_events; i++) {
		Warp__Event *ev = in->events[i];

		if (!event_ok(ev, &why)) {
			if (bad++ == 0)
				log_warnx("%s: dropping malformed event: %s",
				    ipc_conn_peer(c), why);
			continue;
		}
		if (!logd->log_headers &&
		    ev->kind_case == WARP__EVENT__KIND_COMM &&
		    is_header_event(ev->comm)) {
			logd->headers_dropped++;
			continue;
		}
		b->eb.events[n++] = ev;
	}
	b->eb.n_events = n;
	b->mem = arena_used(b->arena);
	logd->invalid += bad;
	logd->events += n;
	if (bad > 1)
		log_warnx("%s: %zu malformed events dropped from one batch",
		    ipc_conn_peer(c), bad);

	b->frame_id = f->id;
	b->peer = peer;
	peer->refs++;
	atomic_init(&b->refs, 1);
	atomic_init(&b->pending, logd->ndurable + 1);
	if (n > 0)
		for (i = 0; i < logd->nsinks; i++)
			sink_push(logd->sinks[i], b);
	else
		atomic_store(&b->pending, 1);
	/* our own share of "pending": the batch may be done already */
	logd_batch_done(b);
}

static void
on_frame(struct ipc_conn *c, const Warp__Frame *f, void *arg)
{
	struct logd_peer	*p;

	if ((p = ipc_conn_data(c)) == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->conn = c;
		p->refs = 1;
		ipc_conn_set_data(c, p);
	}
	if (f->body_case == WARP__FRAME__BODY_EVENTS) {
		handle_batch(c, f);
		return;
	}
	log_warnx("%s: unexpected message (body %d), dropping peer",
	    ipc_conn_peer(c), (int)f->body_case);
	ipc_send_error(c, f->id, WARP__ERROR_CODE__ERR_PROTOCOL,
	    "warp-logd accepts only EventBatch");
	ipc_conn_close(c);
}

static void
on_close(struct ipc_conn *c, void *arg)
{
	struct logd_peer	*p = ipc_conn_data(c);

	if (p == NULL)
		return;
	p->conn = NULL;
	ipc_conn_set_data(c, NULL);
	peer_unref(p);
}

/* ---- start-up, reload, shutdown -------------------------------------------------- */

static void
stats_report(int level_info)
{
	char	 line[256];
	size_t	 i;

	for (i = 0; i < logd->nsinks; i++) {
		line[0] = '\0';
		if (logd->sinks[i]->ops->stats)
			logd->sinks[i]->ops->stats(logd->sinks[i], line,
			    sizeof(line));
		if (level_info)
			log_info("%s sink: %s", logd->sinks[i]->ops->name, line);
		else
			log_debug("%s sink: %s", logd->sinks[i]->ops->name, line);
	}
	log_info("batches=%llu events=%llu acked=%llu malformed=%llu "
	    "refused=%llu headers_dropped=%llu",
	    (unsigned long long)logd->batches, (unsigned long long)logd->events,
	    (unsigned long long)logd->acked, (unsigned long long)logd->invalid,
	    (unsigned long long)logd->refused,
	    (unsigned long long)logd->headers_dropped);
}

static void
stats_cb(evutil_socket_t fd, short what, void *arg)
{
	static uint64_t	 last = (uint64_t)-1;

	if (logd->batches != last)
		stats_report(1);
	last = logd->batches;
}

/* Create a missing directory for the sinks, owned by the daemon's user. */
static void
make_dir(const char *path, uid_t uid, gid_t gid)
{
	struct stat	 st;

	if (*path == '\0' || stat(path, &st) == 0)
		return;
	if (mkdir(path, 0750) == -1) {
		log_warn("mkdir %s", path);
		return;
	}
	if (geteuid() == 0 && uid != (uid_t)-1 && chown(path, uid, gid) == -1)
		log_warn("chown %s", path);
}

static void
make_parent_dir(const char *file, uid_t uid, gid_t gid)
{
	char	*copy = xstrdup(file);

	make_dir(dirname(copy), uid, gid);
	free(copy);
}

static int
logd_init_root(struct daemon *d)
{
	const struct conf	*cf = d->conf;
	struct ipc_server_cfg	 tmpl;
	uid_t			 uid = (uid_t)-1;
	gid_t			 gid = (gid_t)-1;
	const char		*user = conf_str(cf, "user");

	logd = xcalloc(1, sizeof(*logd));
	logd->d = d;
	logd->efd = -1;
	pthread_mutex_init(&logd->done_mtx, NULL);
	d->priv = logd;

	if (*user != '\0' && daemon_lookup_user(user, &uid, &gid) == -1) {
		uid = (uid_t)-1;
		gid = (gid_t)-1;
	}
	if (sinks_has(cf, "file"))
		make_parent_dir(logd_conf_str(cf, "file_path"), uid, gid);
	if (sinks_has(cf, "sqlite"))
		make_parent_dir(logd_conf_str(cf, "sqlite_path"), uid, gid);
	if (sinks_has(cf, "mysql"))
		make_dir(conf_str(cf, "spool_dir"), uid, gid);

	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.name = "warp-logd";
	tmpl.on_frame = on_frame;
	tmpl.on_close = on_close;
	tmpl.arg = logd;
	logd->srv = ipc_service_open(d->base, cf, "log.sock", &tmpl);
	return logd->srv == NULL ? -1 : 0;
}

static int
logd_init(struct daemon *d)
{
	static const struct sink_ops *const all[] = { &sink_file_ops,
	    &sink_sqlite_ops, &sink_mysql_ops, &sink_slack_ops };
	static const char *const qkeys[] = { "file_queue_max",
	    "sqlite_queue_max", "mysql_queue_max", NULL };
	const struct conf	*cf = d->conf;
	struct sink		*s;
	struct timeval		 tv = { LOGD_STATS_INTERVAL, 0 };
	size_t			 i;

	logd->log_headers = conf_bool(cf, "log_headers");
	for (i = 0; i < WARP_NELEM(all); i++) {
		if (!sinks_has(cf, all[i]->name))
			continue;
		s = sink_new(all[i], qkeys[i] ? (size_t)conf_size(cf, qkeys[i])
		    : 0);
		if (all[i]->open(s, cf) == -1) {
			log_warnx("%s sink: cannot start", all[i]->name);
			return -1;
		}
		logd->sinks[logd->nsinks++] = s;
		if (all[i]->durable)
			logd->ndurable++;
	}
	if ((logd->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("eventfd");
		return -1;
	}
	logd->done_ev = event_new(d->base, logd->efd, EV_READ | EV_PERSIST,
	    done_cb, logd);
	logd->stats_ev = event_new(d->base, -1, EV_PERSIST, stats_cb, logd);
	if (logd->done_ev == NULL || logd->stats_ev == NULL ||
	    event_add(logd->done_ev, NULL) == -1 ||
	    event_add(logd->stats_ev, &tv) == -1) {
		log_warnx("cannot set up events");
		return -1;
	}
	for (i = 0; i < logd->nsinks; i++)
		if (sink_start(logd->sinks[i]) == -1)
			return -1;
	{
		char names[64] = "";

		for (i = 0; i < logd->nsinks; i++) {
			if (i)
				warp_strlcat(names, ",", sizeof(names));
			warp_strlcat(names, logd->sinks[i]->ops->name,
			    sizeof(names));
		}
		log_info("ready: sinks %s", names);
	}
	return 0;
}

static int
logd_reload(struct daemon *d, const struct conf *newconf)
{
	size_t	 i;

	ipc_service_reload(logd->srv, newconf);
	for (i = 0; i < logd->nsinks; i++)
		sink_request_reopen(logd->sinks[i]);
	log_info("reloaded: files reopened (sink changes need a restart)");
	return 0;
}

static void
logd_shutdown(struct daemon *d)
{
	size_t	 i;

	log_info("shutting down");
	/* No more batches; what is queued is still committed by the sinks,
	 * but acks can no longer be sent: the sender replays those batches
	 * and the sinks drop them as duplicates. */
	ipc_server_free(logd->srv);
	logd->srv = NULL;
	logd->stopping = 1;
	stats_report(1);
	for (i = 0; i < logd->nsinks; i++)
		sink_stop(logd->sinks[i]);
	done_cb(-1, 0, NULL);
	for (i = 0; i < logd->nsinks; i++)
		sink_free(logd->sinks[i]);
	logd->nsinks = 0;
	event_free(logd->done_ev);
	event_free(logd->stats_ev);
	close(logd->efd);
	daemon_exit(d, 0);
}

const struct daemon_spec logd_spec = {
	.name = "warp-logd",
	.default_user = "warp-log",
	.keys = logd_keys,
	.flags = logd_flags,
	.check = logd_check,
	.init_root = logd_init_root,
	.init = logd_init,
	.reload = logd_reload,
	.shutdown = logd_shutdown,
};
