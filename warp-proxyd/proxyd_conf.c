/*
 * proxyd_conf.c -- warp-proxyd's configuration table and the snapshot
 * (struct proxyd_cfg) every session reads its rules from.
 *
 * Called by the skeleton (the table, -t checks) and by proxyd.c at
 * start-up and on SIGHUP.  Security role: none beyond refusing values
 * that would make the relay misbehave (a destination we cannot parse, an
 * outbound address of the wrong kind, features this build lacks).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "util.h"

#include "proxyd.h"

#define MIN_MS	100
#define DAY_MS	(24LL * 3600 * 1000)

const struct conf_key proxyd_keys[] = {
	{ "user", CONF_STR, "warp-proxy", 0, 0, NULL, 0,
	  "account warp-proxyd runs as after binding (empty: keep the starting one)" },
	{ "listen", CONF_ADDR, "127.0.0.1:10025", 0, 0, NULL, 0,
	  "addresses to accept SMTP on, e.g. 0.0.0.0:10025 [::]:10025 (restart to change)" },
	{ "tproxy", CONF_BOOL, "no", 0, 0, NULL, 0,
	  "set IP_TRANSPARENT on listeners and read the destination with getsockname() (TPROXY)" },
	{ "destination", CONF_STR, "transparent", 0, 0, NULL, CONF_RELOAD,
	  "transparent (original destination of each connection) or host:port of a smarthost" },
	{ "outbound_ip", CONF_LIST, "0.0.0.0", 0, 0, NULL, CONF_RELOAD,
	  "source address of outbound connections: one IPv4 and/or one IPv6 address" },
	{ "outbound_mark", CONF_INT, "0", 0, 4294967295LL, NULL, CONF_RELOAD,
	  "SO_MARK put on outbound sockets so a mark rule can exclude them from REDIRECT (0 = none; needs CAP_NET_ADMIN)" },
	{ "message_size_limit", CONF_SIZE, "10240000", 1, 1LL << 40, NULL,
	  CONF_RELOAD,
	  "largest message in bytes; SIZE= above it and longer DATA get 552 5.3.4" },
	{ "outbound_tls", CONF_ENUM, "may", 0, 0, "none|may|encrypt|verify",
	  CONF_RELOAD,
	  "STARTTLS toward the destination: none, may (opportunistic), encrypt (required), verify (required and verified)" },
	{ "tls_ca_file", CONF_PATH, "/etc/ssl/certs/ca-certificates.crt", 0, 0,
	  NULL, 0, "CA bundle for outbound_tls = verify (restart to change)" },
	{ "client_tls_cert", CONF_PATH, "", 0, 0, NULL, 0,
	  "certificate (PEM chain) offered to clients with STARTTLS; empty: no STARTTLS toward clients" },
	{ "client_tls_key", CONF_PATH, "", 0, 0, NULL, 0,
	  "private key for client_tls_cert" },
	{ "connect_mode", CONF_ENUM, "early", 0, 0, "early|late", 0,
	  "early: connect to the destination on accept; late: not available in this version" },
	{ "connect_timeout", CONF_DURATION, "30s", MIN_MS, DAY_MS, NULL,
	  CONF_RELOAD, "how long to wait for the destination's TCP connect (421 4.4.2 after)" },
	{ "idle_timeout", CONF_DURATION, "5m", MIN_MS, DAY_MS, NULL,
	  CONF_RELOAD, "how long a client may stay silent when it is its turn to send a command" },
	{ "command_timeout", CONF_DURATION, "5m", MIN_MS, DAY_MS, NULL,
	  CONF_RELOAD, "how long to wait for the destination's reply to a command (and its banner)" },
	{ "data_timeout", CONF_DURATION, "10m", MIN_MS, DAY_MS, NULL,
	  CONF_RELOAD, "longest pause inside DATA, and longest wait for the reply to end-of-data" },
	{ "session_timeout", CONF_DURATION, "1h", MIN_MS, 7 * DAY_MS, NULL,
	  CONF_RELOAD, "cap on the life of one proxied connection" },
	{ "max_connections", CONF_INT, "10000", 1, 1000000, NULL, CONF_RELOAD,
	  "concurrent client connections; at the limit warp stops accepting until one closes" },
	{ "workers", CONF_INT, "0", 0, 64, NULL, 0,
	  "relaying processes sharing the listening sockets; 0: one per online CPU, 1: a single process without a master" },
	{ "shutdown_timeout", CONF_DURATION, "30s", 0, DAY_MS, NULL,
	  CONF_RELOAD, "on SIGTERM, how long live sessions may finish before they are cut" },
	{ "log_events", CONF_BOOL, "yes", 0, 0, NULL, CONF_RELOAD,
	  "send comm/conn events to warp-logd (log.sock in socket_dir)" },
	{ "log_headers", CONF_BOOL, "no", 0, 0, NULL, CONF_RELOAD,
	  "also send the message's header section as a comm event (never the body)" },
	{ "event_spool_dir", CONF_PATH, "/var/spool/warp/proxyd", 0, 0, NULL, 0,
	  "directory of the event spool used while warp-logd is unreachable" },
	{ "event_spool_max", CONF_SIZE, "256m", 0, 1LL << 40, NULL, 0,
	  "most bytes of events kept in the spool; past it events are dropped and counted" },
	{ "event_queue_max", CONF_SIZE, "8m", 64 * 1024, 1LL << 32, NULL, 0,
	  "most bytes of events queued in memory before they go to the spool" },
	{ "event_flush_interval", CONF_DURATION, "200ms", 1, 60 * 1000, NULL,
	  CONF_RELOAD, "longest an event waits before it is sent to warp-logd (a batch also leaves when it is full); longer means fewer, larger batches and less work for warp-logd per message" },
	{ "filter", CONF_BOOL, "no", 0, 0, NULL, CONF_RELOAD,
	  "hold each message and ask warp-filterd (filter.sock) for a verdict before relaying it" },
	{ "filter_failure", CONF_ENUM, "tempfail", 0, 0, "tempfail|relay",
	  CONF_RELOAD,
	  "when warp-filterd is unreachable or slow: tempfail (451) or relay" },
	{ "filter_timeout", CONF_DURATION, "30s", 100, 600000, NULL,
	  CONF_RELOAD, "how long to wait for warp-filterd's verdict" },
	{ "filter_hold_max", CONF_SIZE, "1m", 0, 1LL << 32, NULL, CONF_RELOAD,
	  "held messages larger than this go to a file in filter_spool_dir" },
	{ "filter_spool_dir", CONF_PATH, "/var/spool/warp/proxyd/hold", 0, 0,
	  NULL, 0, "directory of held messages above filter_hold_max (readable by warp-filterd's group)" },
	{ "route", CONF_BOOL, "no", 0, 0, NULL, CONF_RELOAD,
	  "ask warp-routed for the outbound address of each connection" },
	{ "route_timeout", CONF_DURATION, "200ms", 10, 60000, NULL, CONF_RELOAD,
	  "how long to wait for warp-routed before falling back to outbound_ip" },
	CONF_KEY_END
};

int
proxyd_parse_outbound(char *const *list, struct sockaddr_storage *o4,
    int *have4, struct sockaddr_storage *o6, int *have6, char *err,
    size_t errsz)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	size_t			 i;

	*have4 = *have6 = 0;
	memset(o4, 0, sizeof(*o4));
	memset(o6, 0, sizeof(*o6));
	for (i = 0; list != NULL && list[i] != NULL; i++) {
		if (addr_parse_ip(list[i], &ss, &sl) == -1) {
			snprintf(err, errsz, "outbound_ip: '%s' is not an IP "
			    "address", log_printable(list[i], strlen(list[i])));
			return -1;
		}
		addr_unmap(&ss, &sl);
		if (ss.ss_family == AF_INET) {
			if (*have4) {
				snprintf(err, errsz, "outbound_ip: more than "
				    "one IPv4 address");
				return -1;
			}
			*o4 = ss;
			*have4 = 1;
		} else {
			if (*have6) {
				snprintf(err, errsz, "outbound_ip: more than "
				    "one IPv6 address");
				return -1;
			}
			*o6 = ss;
			*have6 = 1;
		}
	}
	/* The unspecified address means "let the kernel choose". */
	if (*have4 && addr_is_any((struct sockaddr *)o4))
		*have4 = 0;
	if (*have6 && addr_is_any((struct sockaddr *)o6))
		*have6 = 0;
	return 0;
}

/* Split "host:port" of the destination key; resolve the host. */
static int
parse_destination(const char *s, struct proxyd_cfg *pc, char *err,
    size_t errsz)
{
	const char	*colon;
	char		 rerr[256];

	if (addr_parse(s, &pc->dest, &pc->dest_len) == 0) {
		addr_unmap(&pc->dest, &pc->dest_len);
		if (addr_is_any((struct sockaddr *)&pc->dest) ||
		    addr_port((struct sockaddr *)&pc->dest) == 0) {
			snprintf(err, errsz, "destination: '%s' needs an "
			    "address and a port", s);
			return -1;
		}
		return 0;
	}
	if ((colon = strrchr(s, ':')) == NULL || colon == s ||
	    colon[1] == '\0' || s[0] == '[') {
		snprintf(err, errsz, "destination: '%s' is neither "
		    "'transparent' nor host:port",
		    log_printable(s, strlen(s)));
		return -1;
	}
	if (addr_resolve(s, &pc->dest, &pc->dest_len, rerr,
	    sizeof(rerr)) == -1) {
		snprintf(err, errsz, "destination: %s", rerr);
		return -1;
	}
	addr_unmap(&pc->dest, &pc->dest_len);
	pc->dest_host = xstrndup(s, colon - s);
	return 0;
}

struct proxyd_cfg *
proxyd_cfg_new(const struct conf *cf, char *err, size_t errsz)
{
	struct proxyd_cfg	*pc;
	const char		*dst, *tls;

	pc = xcalloc(1, sizeof(*pc));
	pc->refcnt = 1;
	dst = conf_str(cf, "destination");
	if (strcmp(dst, "transparent") == 0)
		pc->transparent = 1;
	else if (parse_destination(dst, pc, err, errsz) == -1)
		goto bad;
	pc->tproxy = conf_bool(cf, "tproxy");
	if (proxyd_parse_outbound(conf_list(cf, "outbound_ip", NULL),
	    &pc->out4, &pc->have_out4, &pc->out6, &pc->have_out6, err,
	    errsz) == -1)
		goto bad;
	pc->mark = (uint32_t)conf_int(cf, "outbound_mark");
	pc->size_limit = conf_size(cf, "message_size_limit");
	tls = conf_str(cf, "outbound_tls");
	if (strcmp(tls, "none") == 0)
		pc->tls_mode = PROXYD_TLS_NONE;
	else if (strcmp(tls, "encrypt") == 0)
		pc->tls_mode = PROXYD_TLS_ENCRYPT;
	else if (strcmp(tls, "verify") == 0)
		pc->tls_mode = PROXYD_TLS_VERIFY;
	else
		pc->tls_mode = PROXYD_TLS_MAY;
	pc->client_tls = conf_str(cf, "client_tls_cert")[0] != '\0';
	pc->log_events = conf_bool(cf, "log_events");
	pc->log_headers = conf_bool(cf, "log_headers");
	pc->route = conf_bool(cf, "route");
	pc->filter = conf_bool(cf, "filter");
	pc->filter_relay_on_failure = strcmp(conf_str(cf, "filter_failure"),
	    "relay") == 0;
	pc->filter_timeout_ms = (int)conf_duration_ms(cf, "filter_timeout");
	pc->filter_hold_max = conf_size(cf, "filter_hold_max");
	pc->route_timeout_ms = (int)conf_duration_ms(cf, "route_timeout");
	pc->connect_timeout_ms = (int)conf_duration_ms(cf, "connect_timeout");
	pc->idle_timeout_ms = (int)conf_duration_ms(cf, "idle_timeout");
	pc->command_timeout_ms = (int)conf_duration_ms(cf, "command_timeout");
	pc->data_timeout_ms = (int)conf_duration_ms(cf, "data_timeout");
	pc->session_timeout_ms = (int)conf_duration_ms(cf, "session_timeout");
	pc->max_connections = (int)conf_int(cf, "max_connections");
	pc->shutdown_timeout_ms = (int)conf_duration_ms(cf, "shutdown_timeout");
	return pc;
bad:
	proxyd_cfg_unref(pc);
	return NULL;
}

void
proxyd_cfg_ref(struct proxyd_cfg *pc)
{
	pc->refcnt++;
}

void
proxyd_cfg_unref(struct proxyd_cfg *pc)
{
	if (pc == NULL || --pc->refcnt > 0)
		return;
	free(pc->dest_host);
	free(pc);
}

/* Cross-key rules, for -t, start-up and reload. */
void
proxyd_check(const struct conf *cf, struct conf_diag *diag)
{
	struct sockaddr_storage	 o4, o6, ss;
	socklen_t		 sl;
	int			 h4, h6;
	char			 err[512];
	char *const		*l;
	const char		*dst, *cert, *key;
	size_t			 i, n;

	if (proxyd_parse_outbound(conf_list(cf, "outbound_ip", NULL), &o4, &h4,
	    &o6, &h6, err, sizeof(err)) == -1)
		conf_diag_error(diag, "%s: %s", conf_origin(cf, "outbound_ip"),
		    err);
	dst = conf_str(cf, "destination");
	if (strcmp(dst, "transparent") != 0) {
		struct proxyd_cfg tmp;

		memset(&tmp, 0, sizeof(tmp));
		if (parse_destination(dst, &tmp, err, sizeof(err)) == -1)
			conf_diag_error(diag, "%s: %s",
			    conf_origin(cf, "destination"), err);
		free(tmp.dest_host);
	}
	l = conf_list(cf, "listen", &n);
	if (n == 0)
		conf_diag_error(diag, "%s: listen: no address",
		    conf_origin(cf, "listen"));
	if (n > PROXYD_LISTEN_MAX)
		conf_diag_error(diag, "%s: listen: more than %d addresses",
		    conf_origin(cf, "listen"), PROXYD_LISTEN_MAX);
	for (i = 0; i < n; i++)
		if (addr_parse(l[i], &ss, &sl) == -1)
			conf_diag_error(diag, "%s: listen: '%s' must be a "
			    "numeric ip:port, [ipv6]:port or *:port",
			    conf_origin(cf, "listen"),
			    log_printable(l[i], strlen(l[i])));
	cert = conf_str(cf, "client_tls_cert");
	key = conf_str(cf, "client_tls_key");
	if ((cert[0] == '\0') != (key[0] == '\0'))
		conf_diag_error(diag, "%s: client_tls_cert and client_tls_key "
		    "must be set together", conf_origin(cf, cert[0] != '\0' ?
		    "client_tls_cert" : "client_tls_key"));
	if (strcmp(conf_str(cf, "connect_mode"), "late") == 0)
		conf_diag_error(diag, "%s: connect_mode = late: not available "
		    "in this version", conf_origin(cf, "connect_mode"));
}
