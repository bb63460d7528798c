/*
 * filterd.c -- warp-filterd: configuration table, the filter.sock server
 * and the verdict.  At this stage every FilterRequest gets default_action
 * (relay unless configured otherwise); rules come later.
 *
 * Called by the skeleton (daemon.c) through filterd_spec.  Security role:
 * runs as its own account; reads only IPC frames from peers that
 * SO_PEERCRED allows (root, itself, allow_users); a peer that breaks the
 * protocol is dropped by ipc.c, never the daemon.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "daemon.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#define FILTERD_SOCK	"filter.sock"

static const struct conf_key filterd_keys[] = {
	{ "user", CONF_STR, "warp-filter", 0, 0, NULL, 0,
	  "account warp-filterd runs as after start-up (empty: keep the starting one)" },
	{ "allow_users", CONF_LIST, "warp-proxy", 0, 0, NULL, CONF_RELOAD,
	  "accounts allowed to connect to filter.sock besides root and user" },
	{ "socket_group", CONF_STR, "", 0, 0, NULL, 0,
	  "group of filter.sock, mode 0660 (empty: the primary group of user)" },
	{ "default_action", CONF_ENUM, "relay", 0, 0, "relay|tempfail|reject",
	  CONF_RELOAD, "verdict for every message: relay, tempfail (451 4.7.1) or reject (550 5.7.1)" },
	CONF_KEY_END
};

struct filterd {
	struct ipc_server	*srv;
	Warp__FilterAction	 action;
};

static Warp__FilterAction
action_of(const struct conf *cf)
{
	const char *a = conf_str(cf, "default_action");

	if (strcmp(a, "tempfail") == 0)
		return WARP__FILTER_ACTION__FILTER_TEMPFAIL;
	if (strcmp(a, "reject") == 0)
		return WARP__FILTER_ACTION__FILTER_REJECT;
	return WARP__FILTER_ACTION__FILTER_RELAY;
}

static void
filterd_request(struct filterd *fd, struct ipc_conn *c, const Warp__Frame *f)
{
	const Warp__FilterRequest	*req = f->filter_request;
	Warp__Frame			 r = WARP__FRAME__INIT;
	Warp__FilterVerdict		 v = WARP__FILTER_VERDICT__INIT;

	v.action = fd->action;
	v.rule = "default";
	switch (v.action) {
	case WARP__FILTER_ACTION__FILTER_TEMPFAIL:
		v.has_code = 1;
		v.code = 451;
		v.enhanced = "4.7.1";
		v.text = "Message deferred by policy, try again later";
		break;
	case WARP__FILTER_ACTION__FILTER_REJECT:
		v.has_code = 1;
		v.code = 550;
		v.enhanced = "5.7.1";
		v.text = "Message rejected by policy";
		break;
	default:
		break;
	}
	r.body_case = WARP__FRAME__BODY_FILTER_VERDICT;
	r.filter_verdict = &v;
	ipc_reply(c, f->id, &r);
	log_debug("filter %s from %s: %s", log_printable(req->connection_id,
	    strlen(req->connection_id)), ipc_conn_peer(c),
	    v.action == WARP__FILTER_ACTION__FILTER_RELAY ? "relay" :
	    v.action == WARP__FILTER_ACTION__FILTER_REJECT ? "reject" :
	    "tempfail");
}

static void
filterd_frame(struct ipc_conn *c, const Warp__Frame *f, void *arg)
{
	struct filterd *fd = arg;

	if (f->body_case != WARP__FRAME__BODY_FILTER_REQUEST) {
		/* Well-formed but not ours: answer, keep the connection. */
		log_warnx("%s: unexpected message type %d on %s",
		    ipc_conn_peer(c), (int)f->body_case, FILTERD_SOCK);
		ipc_send_error(c, f->id, WARP__ERROR_CODE__ERR_PROTOCOL,
		    "unexpected message type on " FILTERD_SOCK);
		return;
	}
	if (f->id == 0) {
		ipc_send_error(c, 0, WARP__ERROR_CODE__ERR_PROTOCOL,
		    "FilterRequest without an id");
		return;
	}
	filterd_request(fd, c, f);
}

static void
filterd_check(const struct conf *cf, struct conf_diag *diag)
{
	ipc_check_users(cf, "allow_users", diag);
}

static int
filterd_init_root(struct daemon *d)
{
	struct filterd		*fd;
	struct ipc_server_cfg	 cfg;

	fd = d->priv = xcalloc(1, sizeof(*fd));
	fd->action = action_of(d->conf);
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = d->spec->name;
	cfg.on_frame = filterd_frame;
	cfg.arg = fd;
	fd->srv = ipc_service_open(d->base, d->conf, FILTERD_SOCK, &cfg);
	if (fd->srv == NULL)
		return -1;
	log_info("default action %s", conf_str(d->conf, "default_action"));
	return 0;
}

static int
filterd_reload(struct daemon *d, const struct conf *cf)
{
	struct filterd	*fd = d->priv;

	fd->action = action_of(cf);
	ipc_service_reload(fd->srv, cf);
	return 0;
}

static void
filterd_shutdown(struct daemon *d)
{
	struct filterd *fd = d->priv;

	ipc_server_free(fd->srv);
	fd->srv = NULL;
	daemon_exit(d, 0);
}

const struct daemon_spec filterd_spec = {
	.name = "warp-filterd",
	.default_user = "warp-filter",
	.keys = filterd_keys,
	.check = filterd_check,
	.init_root = filterd_init_root,
	.reload = filterd_reload,
	.shutdown = filterd_shutdown,
};
