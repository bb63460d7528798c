/*
 * route.c -- asking warp-routed for the outbound address, and telling it
 * how each delivery attempt went.
 *
 * Called by proxyd.c (client set-up), session.c (a request before
 * connecting, a DeliveryReport at close).  The request has a short
 * deadline (route_timeout); when warp-routed is down, slow or says
 * nothing useful, the connection goes out from outbound_ip (SPEC §5:
 * routing never holds mail).  Security role: the reply is treated as
 * untrusted: only a parseable IP address of the destination's family is
 * used.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "daemon.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#include "proxyd.h"

void
route_init(struct proxyd *p, const struct conf *cf)
{
	struct ipc_client_cfg	 cc;
	char			*path;

	if (p->routed != NULL || !conf_bool(cf, "route"))
		return;
	path = daemon_socket_path(cf, "route.sock");
	memset(&cc, 0, sizeof(cc));
	cc.path = path;
	cc.name = "warp-proxyd";
	p->routed = ipc_client_new(p->base, &cc);
	if (p->routed == NULL)
		log_warnx("route: cannot set up the client for %s; using "
		    "outbound_ip", path);
	free(path);
}

void
route_free(struct proxyd *p)
{
	if (p->routed != NULL)
		ipc_client_free(p->routed);
	p->routed = NULL;
}

static struct session *
route_find(uint64_t id)
{
	struct session	*s;

	TAILQ_FOREACH(s, &proxyd->sessions, entry)
		if (s->route_req == id)
			return s;
	return NULL;
}

struct route_wait {
	uint64_t	 id;
};

static void
route_reply_cb(const Warp__Frame *f, void *arg)
{
	struct route_wait	*w = arg;
	struct session		*s = route_find(w->id);
	struct sockaddr_storage	 src;
	socklen_t		 sl;
	const Warp__RouteReply	*r;
	int			 use = 0;

	free(w);
	if (s == NULL || s->closing)
		return;
	s->route_req = 0;
	if (f == NULL || f->body_case != WARP__FRAME__BODY_ROUTE_REPLY) {
		session_notef(s, "route: no answer from warp-routed; using "
		    "outbound_ip");
		session_connect(s, NULL);
		session_flush(s);
		return;
	}
	r = f->route_reply;
	if (r->pool != NULL && r->pool[0] != '\0')
		s->route_pool = xstrdup(r->pool);
	if (r->reason != NULL && r->reason[0] != '\0')
		s->route_reason = xstrdup(r->reason);
	if (r->source_addr != NULL && r->source_addr[0] != '\0') {
		if (addr_parse_ip(r->source_addr, &src, &sl) == 0) {
			addr_unmap(&src, &sl);
			use = src.ss_family == s->orig_dst.ss_family;
		}
		if (!use)
			log_info("%s route: unusable source '%s'; using "
			    "outbound_ip", s->id, log_printable(r->source_addr,
			    strlen(r->source_addr)));
	}
	session_notef(s, "route: source %s pool %s", use ? r->source_addr :
	    "outbound_ip", s->route_pool != NULL ? s->route_pool : "-");
	session_connect(s, use ? (struct sockaddr *)&src : NULL);
	session_flush(s);
}

int
route_request(struct session *s)
{
	Warp__Frame		 f = WARP__FRAME__INIT;
	Warp__RouteRequest	 rq = WARP__ROUTE_REQUEST__INIT;
	struct route_wait	*w;
	char			 caddr[ADDR_STRLEN], daddr[ADDR_STRLEN];
	uint64_t		 id;

	if (proxyd->routed == NULL || !ipc_client_connected(proxyd->routed))
		return 0;
	rq.connection_id = s->id;
	rq.client_addr = (char *)addr_str((struct sockaddr *)&s->client_addr,
	    caddr);
	rq.dest_addr = (char *)addr_ip_str((struct sockaddr *)&s->orig_dst,
	    daddr);
	rq.has_dest_port = 1;
	rq.dest_port = (uint32_t)addr_port((struct sockaddr *)&s->orig_dst);
	rq.dest_host = s->sni;
	f.body_case = WARP__FRAME__BODY_ROUTE_REQUEST;
	f.route_request = &rq;
	w = xcalloc(1, sizeof(*w));
	id = ipc_client_request(proxyd->routed, &f, s->cfg->route_timeout_ms,
	    route_reply_cb, w);
	if (id == 0) {
		free(w);
		return 0;
	}
	w->id = id;
	s->route_req = id;
	return 1;
}

void
route_cancel(struct session *s)
{
	/* The pending callback finds no session for its id and returns. */
	s->route_req = 0;
}

static void
add_phase(Warp__Phase **pp, Warp__Phase *pv, size_t *n, const char *name,
    int64_t ms)
{
	if (ms < 0)
		return;
	warp__phase__init(&pv[*n]);
	pv[*n].name = (char *)name;
	pv[*n].has_ms = 1;
	pv[*n].ms = ms;
	pp[*n] = &pv[*n];
	(*n)++;
}

void
route_report(struct session *s, int connect_failed)
{
	Warp__Frame		 f = WARP__FRAME__INIT;
	Warp__DeliveryReport	 dr = WARP__DELIVERY_REPORT__INIT;
	Warp__Phase		 pv[7], *pp[7];
	char			 src[ADDR_STRLEN], dst[ADDR_STRLEN];
	size_t			 n = 0, i, rcpts = 0;

	if (!s->cfg->route || proxyd->routed == NULL ||
	    !ipc_client_connected(proxyd->routed))
		return;
	dr.connection_id = s->id;
	if (s->have_out_addr)
		dr.source_addr = (char *)addr_ip_str(
		    (struct sockaddr *)&s->out_addr, src);
	dr.dest_addr = (char *)addr_str((struct sockaddr *)&s->orig_dst, dst);
	dr.dest_host = s->sni;
	dr.pool = s->route_pool;
	add_phase(pp, pv, &n, "banner", s->banner_ms);
	add_phase(pp, pv, &n, "ehlo", s->ehlo_ms);
	add_phase(pp, pv, &n, "mail", s->mail_ms);
	add_phase(pp, pv, &n, "rcpt", s->rcpt_ms);
	add_phase(pp, pv, &n, "data", s->data_ms);
	add_phase(pp, pv, &n, "eod", s->eod_ms);
	if (n > 0 && s->final_code != 0) {
		pv[n - 1].has_code = 1;
		pv[n - 1].code = s->final_code;
		pv[n - 1].text = s->final_text;
	}
	dr.n_phases = n;
	dr.phases = pp;
	dr.tls_version = s->tls_version;
	dr.tls_cipher = s->tls_cipher;
	dr.has_elapse_ms = 1;
	dr.elapse_ms = s->elapse_ms;
	dr.has_messages = 1;
	dr.messages = s->messages;
	for (i = 0; i < s->ntxns; i++)
		rcpts += s->txns[i].nrcpts;
	dr.has_rcpts = 1;
	dr.rcpts = (uint32_t)rcpts;
	dr.has_connect_failed = 1;
	dr.connect_failed = connect_failed;
	f.body_case = WARP__FRAME__BODY_DELIVERY_REPORT;
	f.delivery_report = &dr;
	(void)ipc_client_send(proxyd->routed, &f);
}
