/*
 * proxyd.c -- warp-proxyd's life cycle: the skeleton's hooks (bind as
 * root, start after the drop, reload, graceful shutdown), the original
 * project's command-line flags, and the process-wide state.
 *
 * Called by the skeleton (common/daemon.c) through proxyd_spec.  Security
 * role: everything that needs root (binding, reading the TLS key, raising
 * RLIMIT_NOFILE) happens in proxyd_init_root(); the rest runs as the
 * unprivileged user.
 */
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conf.h"
#include "daemon.h"
#include "evstream.h"
#include "log.h"
#include "util.h"

#include "proxyd.h"

struct proxyd	*proxyd;

static char	*flag_ip, *flag_port;

static int
flag_ip_cb(struct daemon *d, const char *arg)
{
	free(flag_ip);
	flag_ip = xstrdup(arg);
	return 0;
}

static int
flag_port_cb(struct daemon *d, const char *arg)
{
	char	*end;
	long	 v = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < 0 || v > 65535)
		return -1;
	free(flag_port);
	flag_port = xstrdup(arg);
	return 0;
}

static const struct daemon_flag proxyd_flags[] = {
	{ "ip", 1, "listen address (original warp flag; with -port)",
	  flag_ip_cb, NULL },
	{ "port", 1, "listen port (original warp flag; with -ip)",
	  flag_port_cb, NULL },
	{ "outbound-ip", 1, "source address toward destinations "
	  "(= outbound_ip)", NULL, "outbound_ip" },
	{ "message-size-limit", 1, "largest message in bytes "
	  "(= message_size_limit)", NULL, "message_size_limit" },
	{ NULL, 0, NULL, NULL, NULL }
};

/* -ip and -port combine into one listen address, as in the original. */
static void
proxyd_flags_done(struct daemon *d)
{
	const char	*ip = flag_ip != NULL ? flag_ip : "127.0.0.1";
	const char	*port = flag_port != NULL ? flag_port : "10025";
	char		*v;

	if (flag_ip == NULL && flag_port == NULL)
		return;
	if (strchr(ip, ':') != NULL && ip[0] != '[')
		v = xasprintf("[%s]:%s", ip, port);
	else
		v = xasprintf("%s:%s", ip, port);
	daemon_override(d, "listen", v);
	free(v);
}

static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit(RLIMIT_NOFILE)");
	}
	log_debug("descriptor limit %llu", (unsigned long long)rl.rlim_cur);
}

static int
proxyd_init_root(struct daemon *d)
{
	char	 err[512];

	proxyd = xcalloc(1, sizeof(*proxyd));
	proxyd->daemon = d;
	proxyd->base = d->base;
	TAILQ_INIT(&proxyd->sessions);
	d->priv = proxyd;
	raise_nofile();
	if ((proxyd->cfg = proxyd_cfg_new(d->conf, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return -1;
	}
	if (listener_open_all(proxyd, d->conf) == -1)
		return -1;
	if (tls_init(proxyd, d->conf) == -1)
		return -1;
	return 0;
}

static void
events_start(struct proxyd *p, const struct conf *cf)
{
	struct evstream_cfg	 ec;
	char			*sock, spool_name[64];

	if (p->events != NULL) {
		evstream_set_flush_ms(p->events,
		    (int)conf_duration_ms(cf, "event_flush_interval"));
		return;
	}
	if (!conf_bool(cf, "log_events"))
		return;
	sock = daemon_socket_path(cf, "log.sock");
	memset(&ec, 0, sizeof(ec));
	ec.sock_path = sock;
	ec.spool_dir = conf_str(cf, "event_spool_dir");
	ec.spool_max = conf_size(cf, "event_spool_max");
	ec.mem_max = conf_size(cf, "event_queue_max");
	ec.batch_max = PROXYD_EVENT_BATCH;
	ec.flush_ms = (int)conf_duration_ms(cf, "event_flush_interval");
	ec.ack_timeout_ms = 5000;
	ec.name = "warp-proxyd";
	ec.spool_name = workers_spool_name(spool_name, sizeof(spool_name));
	if (ec.spool_max > 0)
		workers_adopt_spools(ec.spool_dir);
	p->events = evstream_new(p->base, &ec);
	if (p->events == NULL)
		log_warnx("event stream to %s not available; events are "
		    "not recorded", sock);
	free(sock);
}

/* Put a new settings snapshot (if any) and the services of cf in place:
 * a worker starting, or a reload. */
static void
use_settings(struct proxyd *p, struct proxyd_cfg *pc, const struct conf *cf)
{
	if (pc != NULL) {
		/* TLS toward clients needs the key read at start-up. */
		if (pc->client_tls && p->tls_in == NULL)
			pc->client_tls = 0;
		proxyd_cfg_unref(p->cfg);
		p->cfg = pc;
	}
	events_start(p, cf);
	route_init(p, cf);
	filter_init(p, cf);
}

/* Everything a relaying process sets up (the only process, or a worker). */
void
proxyd_worker_start(struct proxyd *p)
{
	const struct conf	*cf = p->daemon->conf;
	struct proxyd_cfg	*pc = NULL;
	char			 w[32] = "", err[512];

	/* A worker restarted by the master runs with its newest settings. */
	if (p->cfg != NULL && workers_count() > 1)
		pc = proxyd_cfg_new(cf, err, sizeof(err));
	use_settings(p, pc, cf);
	listener_start(p);
	proxyd_accept_update();
	if (workers_count() > 1)
		snprintf(w, sizeof(w), " (worker %d of %d)", workers_index(),
		    workers_count());
	log_info("warp-proxyd %s ready%s: %s, outbound_tls %s, "
	    "message_size_limit %llu", WARP_VERSION, w,
	    p->cfg->transparent ? "transparent" : conf_str(cf,
	    "destination"), conf_str(cf, "outbound_tls"),
	    (unsigned long long)p->cfg->size_limit);
}

static int
proxyd_init(struct daemon *d)
{
	struct proxyd	*p = d->priv;

	if (workers_start(p, d->conf) == 1)
		return 0;		/* the master: supervises only */
	proxyd_worker_start(p);
	return 0;
}

static int
proxyd_reload(struct daemon *d, const struct conf *nc)
{
	struct proxyd		*p = d->priv;
	struct proxyd_cfg	*pc;
	char			 err[512];
	static const char *const restart_keys[] = { "listen",
	    "client_tls_cert", "client_tls_key", "tls_ca_file",
	    "event_spool_dir", "connect_mode", "filter_spool_dir", NULL };
	size_t			 i;

	if ((pc = proxyd_cfg_new(nc, err, sizeof(err))) == NULL) {
		log_warnx("reload refused: %s", err);
		return -1;
	}
	if (workers_is_master()) {
		/* Each worker reads the files and reloads on its own. */
		proxyd_cfg_unref(pc);
		if (workers_configured(nc) != workers_count())
			log_warnx("reload: workers changed; it takes effect "
			    "after a restart");
		workers_signal(SIGHUP);
		return 0;
	}
	for (i = 0; restart_keys[i] != NULL; i++)
		if (strcmp(conf_str(nc, restart_keys[i]),
		    conf_str(d->conf, restart_keys[i])) != 0)
			log_warnx("reload: %s changed; it takes effect after "
			    "a restart", restart_keys[i]);
	if (conf_bool(nc, "tproxy") != conf_bool(d->conf, "tproxy"))
		log_warnx("reload: tproxy changed; it takes effect after a "
		    "restart");
	use_settings(p, pc, nc);
	proxyd_accept_update();
	log_info("configuration reloaded; %d live sessions keep their "
	    "settings", p->nsessions);
	return 0;
}

static void
proxyd_finish(struct proxyd *p)
{
	if (p->ev_shutdown != NULL)
		evtimer_del(p->ev_shutdown);
	if (p->events != NULL) {
		evstream_flush_to_spool(p->events);
		evstream_free(p->events);
		p->events = NULL;
	}
	route_free(p);
	filter_free(p);
	tls_free(p);
	log_info("stopped after %llu connections",
	    (unsigned long long)p->accepted);
	daemon_exit(p->daemon, 0);
}

static void
shutdown_deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct proxyd	*p = arg;

	log_notice("shutdown: cutting %d live sessions", p->nsessions);
	session_kill_all(p, "shutdown");
	if (p->nsessions == 0)
		proxyd_finish(p);
}

static void
proxyd_shutdown(struct daemon *d)
{
	struct proxyd	*p = d->priv;
	struct timeval	 tv;

	if (p == NULL) {
		daemon_exit(d, 0);
		return;
	}
	if (workers_is_master()) {
		workers_stop(d);
		return;
	}
	workers_leaving();
	if (p->ev_shutdown != NULL) {	/* second signal: cut now */
		shutdown_deadline_cb(-1, 0, p);
		return;
	}
	listener_close_all(p);
	log_info("shutting down: %d live sessions, waiting up to %d ms",
	    p->nsessions, p->cfg->shutdown_timeout_ms);
	if (p->nsessions == 0) {
		proxyd_finish(p);
		return;
	}
	p->ev_shutdown = evtimer_new(p->base, shutdown_deadline_cb, p);
	tv = warp_tv_ms(p->cfg->shutdown_timeout_ms);
	evtimer_add(p->ev_shutdown, &tv);
}

void
proxyd_session_gone(void)
{
	struct proxyd	*p = proxyd;

	if (p->daemon->shutting_down || p->ev_shutdown != NULL) {
		if (p->nsessions == 0)
			proxyd_finish(p);
		return;
	}
	proxyd_accept_update();
}

/* Accept while below max_connections and not paused after EMFILE. */
void
proxyd_accept_update(void)
{
	struct proxyd	*p = proxyd;
	int		 want, max;

	if (p == NULL || p->ev_resume == NULL)
		return;
	/* With workers, each has its share of the limit (workers.c). */
	max = workers_share(p->cfg->max_connections);
	want = p->ev_shutdown == NULL && p->nsessions < max &&
	    !evtimer_pending(p->ev_resume, NULL);
	if (!want && p->accepting && p->nsessions >= max)
		log_notice("max_connections (%d) reached; not accepting",
		    p->cfg->max_connections);
	listener_set_enabled(p, want);
}

/* A second SIGTERM: the master cuts its workers; a worker exits. */
static void
proxyd_shutdown_now(struct daemon *d)
{
	if (workers_is_master()) {
		workers_stop(d);
		return;
	}
	exit(d->exit_code);
}

const struct daemon_spec proxyd_spec = {
	.name = "warp-proxyd",
	.default_user = "warp-proxy",
	.keys = proxyd_keys,
	.flags = proxyd_flags,
	.flags_done = proxyd_flags_done,
	.check = proxyd_check,
	.init_root = proxyd_init_root,
	.init = proxyd_init,
	.reload = proxyd_reload,
	.shutdown = proxyd_shutdown,
	.shutdown_now = proxyd_shutdown_now,
};
