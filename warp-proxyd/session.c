/*
 * session.c -- one proxied connection: accept, find the destination,
 * events and measurements, timers, and an orderly close of both legs.
 *
 * Called by listener.c (session_accept), client.c and dest.c (events,
 * state changes, finish), proxyd.c (shutdown).  The client side lives in
 * client.c and the destination side in dest.c; this file owns what they
 * share.  Security role: the loop guard runs here before anything is
 * relayed, untrusted text only reaches the log through log_printable(),
 * and every session is capped in time (session_timeout) and ends by
 * releasing both descriptors.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "addr.h"
#include "evstream.h"
#include "log.h"
#include "util.h"
#include "warp.pb-c.h"

#include "proxyd.h"

static const char *const cstate_names[] = {
	[CS_WAIT_BANNER] = "wait-banner",
	[CS_COMMAND] = "command",
	[CS_WAIT] = "wait-reply",
	[CS_DATA] = "data",
	[CS_DATA_DISCARD] = "data-discard",
	[CS_LONG_LINE] = "long-line",
	[CS_TLS_FLUSH] = "tls-flush",
	[CS_TLS_HANDSHAKE] = "tls-handshake",
	[CS_CLOSED] = "closed",
};

static const char *const dstate_names[] = {
	[DS_NONE] = "none",
	[DS_CONNECTING] = "connecting",
	[DS_BANNER] = "banner",
	[DS_READY] = "ready",
	[DS_STARTTLS] = "starttls",
	[DS_TLS_HANDSHAKE] = "tls-handshake",
	[DS_EHLO2] = "ehlo-after-tls",
	[DS_QUIT] = "quit",
	[DS_CLOSED] = "closed",
};

const char *
session_cstate_name(int st)
{
	if (st < 0 || (size_t)st >= WARP_NELEM(cstate_names))
		return "?";
	return cstate_names[st];
}

const char *
session_dstate_name(int st)
{
	if (st < 0 || (size_t)st >= WARP_NELEM(dstate_names))
		return "?";
	return dstate_names[st];
}

void
session_enter_client(struct session *s, enum client_state st)
{
	if (s->cstate == st)
		return;
	if (log_getlevel() >= LOG_DEBUG)
		log_debug("%s client %s -> %s", s->id,
		    session_cstate_name(s->cstate), session_cstate_name(st));
	s->cstate = st;
}

void
session_enter_dest(struct session *s, enum dest_state st)
{
	if (s->dstate == st)
		return;
	if (log_getlevel() >= LOG_DEBUG)
		log_debug("%s destination %s -> %s", s->id,
		    session_dstate_name(s->dstate), session_dstate_name(st));
	s->dstate = st;
}

int64_t
session_ms_since(int64_t mono_us)
{
	return (warp_mono_us() - mono_us) / 1000;
}

/* ---- writing ------------------------------------------------------------- */

/*
 * Speculative write: try the socket at once instead of arming EV_WRITE,
 * which would cost two epoll_ctl() calls and a loop iteration per reply.
 * Only when bytes remain is the bufferevent's write event enabled (its
 * callback then handles back-pressure and the last words before close).
 * TLS bufferevents (fd -1) always write through libevent.
 */
static void
flush_side(struct bufferevent *bev, int fd)
{
	struct evbuffer	*out;

	if (bev == NULL)
		return;
	out = bufferevent_get_output(bev);
	if (evbuffer_get_length(out) == 0)
		return;
	if (fd != -1) {
		int n;

		/* A socket bufferevent keeps the start of its output frozen
		 * so only it drains it; do as its write callback does. */
		evbuffer_unfreeze(out, 1);
		n = evbuffer_write(out, fd);
		evbuffer_freeze(out, 1);
		if (n >= 0 && evbuffer_get_length(out) == 0)
			return;
	}
	/* Not all written, or an error the bufferevent will report. */
	bufferevent_enable(bev, EV_WRITE);
}

void
session_flush_client(struct session *s)
{
	flush_side(s->client, s->client_fd);
	/* Our 220 to STARTTLS is out: the descriptor continues as TLS. */
	if (s->cstate == CS_TLS_FLUSH && s->client != NULL &&
	    evbuffer_get_length(bufferevent_get_output(s->client)) == 0)
		client_tls_switch(s);
}

void
session_flush_dest(struct session *s)
{
	flush_side(s->dest, s->dest_fd);
}

void
session_flush(struct session *s)
{
	flush_side(s->dest, s->dest_fd);
	session_flush_client(s);
}

/* A write callback found the output drained: stop watching for it. */
void
session_write_idle(struct bufferevent *bev, int fd)
{
	if (fd != -1 && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_disable(bev, EV_WRITE);
}

/* ---- events ------------------------------------------------------------- */

void
session_comm(struct session *s, const char *dir, const void *data,
    size_t len)
{
	const char	*p = data;

	/* The event holds the line(s) without the final line end. */
	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (proxyd->events != NULL && s->cfg->log_events)
		evstream_comm(proxyd->events, s->id, ++s->seq, warp_now_us(),
		    dir, data, len);
	if (log_getlevel() >= LOG_DEBUG)
		log_debug("%s %s %s", s->id, dir, log_printable(data, len));
}

void
session_notef(struct session *s, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	session_comm(s, "--", buf, (size_t)n);
}

void
session_reply_client(struct session *s, const char *dir, const char *line)
{
	size_t	 len = strlen(line);

	session_comm(s, dir, line, len);
	if (s->client == NULL || s->cstate == CS_CLOSED)
		return;
	evbuffer_add(bufferevent_get_output(s->client), line, len);
	evbuffer_add(bufferevent_get_output(s->client), "\r\n", 2);
}

struct txn *
session_txn_new(struct session *s)
{
	struct txn	*t;

	if (s->ntxns >= PROXYD_TXN_MAX)
		return NULL;
	if (s->ntxns == s->txns_size) {
		s->txns_size = s->txns_size == 0 ? 2 : s->txns_size * 2;
		s->txns = xreallocarray(s->txns, s->txns_size,
		    sizeof(*s->txns));
	}
	t = &s->txns[s->ntxns++];
	memset(t, 0, sizeof(*t));
	return t;
}

static void
txn_free(struct txn *t)
{
	size_t	 i;

	free(t->mail_from);
	free(t->mail_params);
	for (i = 0; i < t->nrcpts; i++) {
		free(t->rcpts[i].addr);
		free(t->rcpts[i].text);
	}
	free(t->rcpts);
	free(t->final_text);
	free(t->message_id);
	free(t->verdict);
}

/* The conn event (SPEC §6): one per connection, at close. */
static void
session_conn_event(struct session *s)
{
	Warp__ConnEvent		 ce = WARP__CONN_EVENT__INIT;
	Warp__Transaction	*tv = NULL, **tp = NULL;
	Warp__Recipient		*rv = NULL, **rp = NULL;
	char			 caddr[ADDR_STRLEN], daddr[ADDR_STRLEN];
	char			 oaddr[ADDR_STRLEN], *mail_to = NULL;
	size_t			 i, j, nt = 0, nr = 0, tot = 0, mlen = 0;

	if (proxyd->events == NULL || !s->cfg->log_events)
		return;
	ce.connection_id = s->id;
	ce.seq = ++s->seq;
	ce.occurred_at_us = s->accept_us;
	ce.elapse_ms = s->elapse_ms;
	ce.client_addr = (char *)addr_str((struct sockaddr *)&s->client_addr,
	    caddr);
	if (s->orig_dst.ss_family != 0)
		ce.orig_dst_addr = (char *)addr_str(
		    (struct sockaddr *)&s->orig_dst, daddr);
	if (s->have_out_addr)
		ce.outbound_addr = (char *)addr_str(
		    (struct sockaddr *)&s->out_addr, oaddr);
	ce.helo = s->helo;
	ce.has_message_count = 1;
	ce.message_count = s->messages;
	ce.has_bytes_total = 1;
	ce.bytes_total = s->bytes_total;
	ce.tls_version = s->tls_version;
	ce.tls_cipher = s->tls_cipher;
	ce.client_tls_version = s->ctls_version;
	ce.client_tls_cipher = s->ctls_cipher;
#define PHASE(f) do { if (s->f >= 0) { ce.has_##f = 1; ce.f = s->f; } } while (0)
	PHASE(banner_ms);
	PHASE(ehlo_ms);
	PHASE(mail_ms);
	PHASE(rcpt_ms);
	PHASE(data_ms);
	PHASE(eod_ms);
#undef PHASE
	ce.has_total_ms = 1;
	ce.total_ms = session_ms_since(s->accept_mono);
	if (s->final_code != 0) {
		ce.has_final_code = 1;
		ce.final_code = s->final_code;
		ce.final_text = s->final_text;
	}
	ce.verdict = s->verdict;
	ce.route_pool = s->route_pool;
	ce.route_reason = s->route_reason;
	ce.close_reason = (char *)s->close_reason;
	ce.destination_host = s->sni;

	for (i = 0; i < s->ntxns; i++)
		if (s->txns[i].mail_from != NULL) {
			nt++;
			nr += s->txns[i].nrcpts;
			for (j = 0; j < s->txns[i].nrcpts; j++)
				tot += strlen(s->txns[i].rcpts[j].addr) + 1;
		}
	if (nt > 0) {
		tv = xcalloc(nt, sizeof(*tv));
		tp = xcalloc(nt, sizeof(*tp));
		rv = xcalloc(nr + 1, sizeof(*rv));
		rp = xcalloc(nr + 1, sizeof(*rp));
		mail_to = xcalloc(1, tot + 1);
	}
	nt = nr = 0;
	for (i = 0; i < s->ntxns; i++) {
		struct txn		*t = &s->txns[i];
		Warp__Transaction	*w;

		if (t->mail_from == NULL)
			continue;
		w = &tv[nt];
		warp__transaction__init(w);
		tp[nt++] = w;
		if (ce.mail_from == NULL)
			ce.mail_from = t->mail_from;
		w->mail_from = t->mail_from;
		w->mail_params = t->mail_params;
		w->rcpts = &rp[nr];
		for (j = 0; j < t->nrcpts; j++) {
			Warp__Recipient *r = &rv[nr];

			warp__recipient__init(r);
			r->address = t->rcpts[j].addr;
			if (t->rcpts[j].code != 0) {
				r->has_code = 1;
				r->code = t->rcpts[j].code;
				r->text = t->rcpts[j].text;
				r->has_ms = 1;
				r->ms = t->rcpts[j].ms;
			}
			rp[nr++] = r;
			w->n_rcpts++;
			if (mlen > 0)
				mail_to[mlen++] = ',';
			mlen += warp_strlcpy(mail_to + mlen, r->address,
			    tot + 1 - mlen);
		}
		if (t->size > 0 || t->final_code != 0) {
			w->has_size = 1;
			w->size = t->size;
		}
		if (t->final_code != 0) {
			w->has_final_code = 1;
			w->final_code = t->final_code;
			w->final_text = t->final_text;
		}
		if (t->aborted)
			w->verdict = "size-limit";
		else
			w->verdict = t->verdict;
		w->message_id = t->message_id;
		if (t->data_ms >= 0 && t->elapse_ms >= 0) {
			w->has_data_ms = 1;
			w->data_ms = t->data_ms;
			w->has_elapse_ms = 1;
			w->elapse_ms = t->elapse_ms;
		}
		if (t->final_code != 0) {
			w->has_eod_ms = 1;
			w->eod_ms = t->eod_ms;
		}
	}
	ce.n_transactions = nt;
	ce.transactions = tp;
	ce.mail_to = mail_to;
	evstream_conn(proxyd->events, &ce);
	free(tv);
	free(tp);
	free(rv);
	free(rp);
	free(mail_to);
}

/* ---- life cycle ---------------------------------------------------------- */

static void
session_free(struct session *s)
{
	char	 caddr[ADDR_STRLEN], daddr[ADDR_STRLEN];
	size_t	 i, nrcpt = 0;

	for (i = 0; i < s->ntxns; i++)
		nrcpt += s->txns[i].nrcpts;
	log_info("%s client=%s dest=%s helo=%s msgs=%u rcpts=%zu "
	    "bytes=%llu elapse=%lld tls=%s reason=%s", s->id,
	    addr_str((struct sockaddr *)&s->client_addr, caddr),
	    s->orig_dst.ss_family ? addr_str((struct sockaddr *)&s->orig_dst,
	    daddr) : "-", s->helo ? log_printable(s->helo, strlen(s->helo)) :
	    "-", s->messages, nrcpt, (unsigned long long)s->bytes_total,
	    (long long)s->elapse_ms, s->tls_version ? s->tls_version : "-",
	    s->close_reason ? s->close_reason : "-");
	session_conn_event(s);
	route_report(s, s->elapse_ms == -2);
	/* Whatever is still open (flush deadline passed) goes now. */
	session_close_client(s);
	dest_release(s);
	event_del(&s->ev_timer);
	TAILQ_REMOVE(&proxyd->sessions, s, entry);
	proxyd->nsessions--;
	for (i = 0; i < s->ntxns; i++)
		txn_free(&s->txns[i]);
	free(s->txns);
	free(s->helo);
	free(s->sni);
	free(s->probe_reply);
	free(s->hdr);
	filter_cleanup(s);
	free(s->verdict);
	free(s->final_text);
	free(s->tls_version);
	free(s->tls_cipher);
	free(s->ctls_version);
	free(s->ctls_cipher);
	free(s->route_pool);
	free(s->route_reason);
	proxyd_cfg_unref(s->cfg);
	free(s);
	proxyd_session_gone();
}

static void
session_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct session	*s = arg;

	if (s->closing) {
		session_free(s);
		return;
	}
	log_info("%s session_timeout reached", s->id);
	session_reply_client(s, "<|", "421 4.4.2 Session time limit "
	    "exceeded");
	session_finish(s, "session-timeout");
	session_flush(s);
}

void
session_close_client(struct session *s)
{
	if (s->client != NULL) {
		bufferevent_free(s->client);
		s->client = NULL;
	}
	if (s->client_fd != -1) {
		close(s->client_fd);
		s->client_fd = -1;
	}
	session_enter_client(s, CS_CLOSED);
}

void
session_maybe_free(struct session *s)
{
	if (!s->closing)
		return;
	if ((s->client != NULL && s->cstate == CS_CLOSED &&
	    evbuffer_get_length(bufferevent_get_output(s->client)) == 0) ||
	    (s->client == NULL && s->client_fd != -1))
		session_close_client(s);
	if (s->client != NULL || s->dest != NULL)
		return;
	/* Free from the event loop, never from inside a callback chain. */
	event_del(&s->ev_timer);
	event_active(&s->ev_timer, EV_TIMEOUT, 1);
}

/*
 * End the session.  What is already queued toward either side is still
 * written (a 421, a QUIT), with a short deadline; then both descriptors
 * are closed and the session is freed from the event loop.
 */
void
session_finish(struct session *s, const char *reason)
{
	struct timeval	 tv;

	if (s->closing)
		return;
	s->closing = 1;
	if (s->close_reason == NULL)
		s->close_reason = reason;
	route_cancel(s);
	s->filter_req = 0;	/* a late verdict finds no session */
	/* The session cap must not fire during the last words; this is
	 * their hard deadline instead. */
	tv = warp_tv_ms(PROXYD_FLUSH_TIMEOUT_MS + 1000);
	event_del(&s->ev_timer);
	evtimer_add(&s->ev_timer, &tv);
	tv = warp_tv_ms(PROXYD_FLUSH_TIMEOUT_MS);

	/* Destination: a polite QUIT between transactions, else just close. */
	if (s->dest != NULL) {
		if (s->dstate == DS_READY && !s->quit_seen &&
		    !fifo_has_relay(&s->fifo) && s->cstate != CS_DATA &&
		    s->cstate != CS_DATA_DISCARD)
			dest_quit_and_close(s);
		else if (s->dstate != DS_QUIT)
			dest_close(s);
	}
	if (s->client != NULL) {
		bufferevent_disable(s->client, EV_READ);
		bufferevent_set_timeouts(s->client, NULL, &tv);
		flush_side(s->client, s->client_fd);
	}
	session_enter_client(s, CS_CLOSED);
	session_maybe_free(s);
}

void
session_kill_all(struct proxyd *p, const char *reason)
{
	struct session	*s, *t;

	for (s = TAILQ_FIRST(&p->sessions); s != NULL; s = t) {
		t = TAILQ_NEXT(s, entry);
		if (s->closing)
			continue;
		session_reply_client(s, "<|", "421 4.3.2 Service shutting "
		    "down");
		session_finish(s, reason);
		session_flush(s);
	}
}

/* Connect to the destination, from src or outbound_ip. */
void
session_connect(struct session *s, const struct sockaddr *src)
{
	const struct sockaddr	*dst = (struct sockaddr *)&s->orig_dst;

	if (src == NULL) {
		if (dst->sa_family == AF_INET && s->cfg->have_out4)
			src = (struct sockaddr *)&s->cfg->out4;
		else if (dst->sa_family == AF_INET6 && s->cfg->have_out6)
			src = (struct sockaddr *)&s->cfg->out6;
	}
	if (dest_connect(s, dst, s->orig_dst_len, src) == -1 &&
	    !s->closing) {
		s->elapse_ms = -2;
		session_reply_client(s, "<|", "421 4.4.1 Cannot connect to "
		    "the destination");
		session_finish(s, "connect-failed");
	}
}

void
session_accept(struct proxyd *p, int fd, struct sockaddr *sa, int salen)
{
	struct session		*s;
	struct sockaddr_storage	 local;
	socklen_t		 llen = sizeof(local);
	struct timeval		 tv;
	char			 a1[ADDR_STRLEN], a2[ADDR_STRLEN];
	int			 on = 1;

	s = xcalloc(1, sizeof(*s));
	s->cfg = p->cfg;
	proxyd_cfg_ref(s->cfg);
	warp_ulid(s->id);
	s->accept_us = warp_now_us();
	s->accept_mono = warp_mono_us();
	s->elapse_ms = -1;
	s->banner_ms = s->ehlo_ms = s->mail_ms = s->rcpt_ms = -1;
	s->data_ms = s->eod_ms = -1;
	s->client_fd = fd;
	s->dest_fd = -1;
	s->hold_fd = -1;
	memcpy(&s->client_addr, sa, WARP_MIN((size_t)salen,
	    sizeof(s->client_addr)));
	llen = (socklen_t)salen;
	addr_unmap(&s->client_addr, &llen);
	fifo_init(&s->fifo);
	smtp_reply_init(&s->reply);
	evtimer_assign(&s->ev_timer, p->base, session_timer_cb, s);
	TAILQ_INSERT_TAIL(&p->sessions, s, entry);
	p->nsessions++;

	s->client = bufferevent_socket_new(p->base, fd, 0);
	if (s->client == NULL) {
		log_warnx("bufferevent_socket_new failed");
		session_finish(s, "internal-error");
		return;
	}
	bufferevent_setcb(s->client, client_readcb, client_writecb,
	    client_eventcb, s);
	bufferevent_disable(s->client, EV_WRITE);	/* see flush_side() */
	bufferevent_setwatermark(s->client, EV_READ, 0, PROXYD_IN_HIGH);
	bufferevent_setwatermark(s->client, EV_WRITE, PROXYD_OUT_LOW, 0);
	tv = warp_tv_ms(s->cfg->idle_timeout_ms);
	bufferevent_set_timeouts(s->client, &tv, &tv);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	tv = warp_tv_ms(s->cfg->session_timeout_ms);
	evtimer_add(&s->ev_timer, &tv);

	/* Where was it going? */
	if (s->cfg->transparent) {
		llen = sizeof(local);
		if (getsockname(fd, (struct sockaddr *)&local, &llen) == -1 ||
		    origdst_get(fd, s->cfg->tproxy, &s->orig_dst,
		    &s->orig_dst_len) == -1) {
			log_warn("%s from %s: cannot read the original "
			    "destination", s->id, addr_str(sa, a1));
			session_notef(s, "no original destination");
			session_reply_client(s, "<|", "421 4.3.0 Cannot "
			    "determine the destination");
			session_finish(s, "no-destination");
			session_flush(s);
			return;
		}
		if (origdst_is_loop((struct sockaddr *)&s->orig_dst,
		    s->cfg->tproxy ? NULL : (struct sockaddr *)&local,
		    p->listeners, p->nlisteners)) {
			p->refused_loop++;
			log_warnx("%s loop guard: connection from %s to %s is "
			    "addressed to warp itself; refused", s->id,
			    addr_str((struct sockaddr *)&s->client_addr, a1),
			    addr_str((struct sockaddr *)&s->orig_dst, a2));
			session_notef(s, "loop guard: original destination %s "
			    "is this proxy", a2);
			session_reply_client(s, "<|", "421 4.4.0 Connection "
			    "addressed to the proxy itself refused");
			session_finish(s, "loop-guard");
			session_flush(s);
			return;
		}
	} else {
		memcpy(&s->orig_dst, &s->cfg->dest, s->cfg->dest_len);
		s->orig_dst_len = s->cfg->dest_len;
		if (s->cfg->dest_host != NULL)
			s->sni = xstrdup(s->cfg->dest_host);
	}
	if (log_getlevel() >= LOG_DEBUG)
		log_debug("%s accepted %s -> %s", s->id,
		    addr_str((struct sockaddr *)&s->client_addr, a1),
		    addr_str((struct sockaddr *)&s->orig_dst, a2));
	if (s->cfg->route && route_request(s))
		return;		/* route.c calls session_connect() */
	session_connect(s, NULL);
	session_flush(s);
}
