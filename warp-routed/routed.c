/*
 * routed.c -- warp-routed: configuration table, the route.sock server and
 * the routing answer.  At this stage every RouteRequest gets the same
 * answer (default_source, pool "default") and DeliveryReports are only
 * acknowledged; pools, rules and reputation come later.
 *
 * Called by the skeleton (daemon.c) through routed_spec.  Security role:
 * runs as its own account; reads only IPC frames from peers that
 * SO_PEERCRED allows (root, itself, allow_users); a peer that breaks the
 * protocol is dropped by ipc.c, never the daemon.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "daemon.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#define ROUTED_SOCK	"route.sock"

static const struct conf_key routed_keys[] = {
	{ "user", CONF_STR, "warp-route", 0, 0, NULL, 0,
	  "account warp-routed runs as after start-up (empty: keep the starting one)" },
	{ "allow_users", CONF_LIST, "warp-proxy", 0, 0, NULL, CONF_RELOAD,
	  "accounts allowed to connect to route.sock besides root and user" },
	{ "socket_group", CONF_STR, "", 0, 0, NULL, 0,
	  "group of route.sock, mode 0660 (empty: the primary group of user)" },
	{ "default_source", CONF_STR, "", 0, 0, NULL, CONF_RELOAD,
	  "source address answered to every route request (empty: warp-proxyd uses its outbound_ip)" },
	CONF_KEY_END
};

struct routed {
	struct ipc_server	*srv;
	char			*source;	/* "" = let proxyd choose */
	uint64_t		 reports;
};

static void
routed_route(struct routed *rd, struct ipc_conn *c, const Warp__Frame *f)
{
	const Warp__RouteRequest	*req = f->route_request;
	Warp__Frame			 r = WARP__FRAME__INIT;
	Warp__RouteReply		 rr = WARP__ROUTE_REPLY__INIT;

	if (*rd->source != '\0')
		rr.source_addr = rd->source;
	rr.pool = "default";
	rr.reason = "default";
	r.body_case = WARP__FRAME__BODY_ROUTE_REPLY;
	r.route_reply = &rr;
	ipc_reply(c, f->id, &r);
	log_debug("route %s to %s: %s", log_printable(req->connection_id,
	    strlen(req->connection_id)), req->dest_addr != NULL ?
	    log_printable(req->dest_addr, strlen(req->dest_addr)) : "?",
	    *rd->source != '\0' ? rd->source : "outbound_ip");
}

static void
routed_report(struct routed *rd, struct ipc_conn *c, const Warp__Frame *f)
{
	Warp__Frame	r = WARP__FRAME__INIT;
	Warp__Ack	a = WARP__ACK__INIT;

	rd->reports++;
	/* With an id it is a request and gets an Ack; without, a notice. */
	if (f->id != 0) {
		r.body_case = WARP__FRAME__BODY_ACK;
		r.ack = &a;
		ipc_reply(c, f->id, &r);
	}
}

static void
routed_frame(struct ipc_conn *c, const Warp__Frame *f, void *arg)
{
	struct routed *rd = arg;

	switch (f->body_case) {
	case WARP__FRAME__BODY_ROUTE_REQUEST:
		if (f->id == 0) {
			ipc_send_error(c, 0, WARP__ERROR_CODE__ERR_PROTOCOL,
			    "RouteRequest without an id");
			return;
		}
		routed_route(rd, c, f);
		break;
	case WARP__FRAME__BODY_DELIVERY_REPORT:
		routed_report(rd, c, f);
		break;
	default:
		/* Well-formed but not ours: answer, keep the connection. */
		log_warnx("%s: unexpected message type %d on %s",
		    ipc_conn_peer(c), (int)f->body_case, ROUTED_SOCK);
		ipc_send_error(c, f->id, WARP__ERROR_CODE__ERR_PROTOCOL,
		    "unexpected message type on " ROUTED_SOCK);
		break;
	}
}

static void
routed_check(const struct conf *cf, struct conf_diag *diag)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*src = conf_str(cf, "default_source");

	if (*src != '\0' && addr_parse_ip(src, &ss, &len) == -1)
		conf_diag_error(diag, "%s: default_source: '%s' is not an IP "
		    "address", conf_origin(cf, "default_source"), src);
	ipc_check_users(cf, "allow_users", diag);
}

static int
routed_init_root(struct daemon *d)
{
	struct routed		*rd;
	struct ipc_server_cfg	 cfg;

	rd = d->priv = xcalloc(1, sizeof(*rd));
	rd->source = xstrdup(conf_str(d->conf, "default_source"));
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = d->spec->name;
	cfg.on_frame = routed_frame;
	cfg.arg = rd;
	rd->srv = ipc_service_open(d->base, d->conf, ROUTED_SOCK, &cfg);
	if (rd->srv == NULL)
		return -1;
	log_info("default source %s",
	    *rd->source != '\0' ? rd->source : "(proxyd's outbound_ip)");
	return 0;
}

static int
routed_reload(struct daemon *d, const struct conf *cf)
{
	struct routed	*rd = d->priv;

	free(rd->source);
	rd->source = xstrdup(conf_str(cf, "default_source"));
	ipc_service_reload(rd->srv, cf);
	return 0;
}

static void
routed_shutdown(struct daemon *d)
{
	struct routed *rd = d->priv;

	log_info("%llu delivery reports received",
	    (unsigned long long)rd->reports);
	ipc_server_free(rd->srv);
	rd->srv = NULL;
	daemon_exit(d, 0);
}

const struct daemon_spec routed_spec = {
	.name = "warp-routed",
	.default_user = "warp-route",
	.keys = routed_keys,
	.check = routed_check,
	.init_root = routed_init_root,
	.reload = routed_reload,
	.shutdown = routed_shutdown,
};
