/*
 * dest.c -- the destination side of a session: the outbound connection,
 * the replies of the destination, and warp's own exchanges with it
 * (STARTTLS, EHLO again over TLS, QUIT).
 *
 * Called from libevent (dest_*cb), from client.c (dest_send,
 * dest_greeting) and session.c (dest_connect, closing).  Replies are cut
 * into lines with smtp_line_end() and assembled with smtp_reply_feed()
 * while they stay in the input buffer; a complete reply is matched with
 * the oldest pending command (RFC 2920 order) and then moved to the
 * client as is, or rewritten (EHLO), or consumed by warp.  Security role:
 * the destination is untrusted too: reply lines and replies are bounded,
 * a malformed reply ends the session, and no plaintext byte may follow a
 * 220 to STARTTLS (it would be injected into the TLS session otherwise).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "addr.h"
#include "log.h"
#include "smtp.h"
#include "util.h"

#include "proxyd.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND		78
#endif

static int	mark_warned;

/* Read timeout: the shorter of the command and DATA timeouts; the longer
 * one is honoured in dest_eventcb by re-arming. */
static void
dest_set_timeouts(struct session *s)
{
	struct timeval	 rd, wr;

	rd = warp_tv_ms(WARP_MIN(s->cfg->command_timeout_ms,
	    s->cfg->data_timeout_ms));
	wr = warp_tv_ms(s->cfg->idle_timeout_ms);
	bufferevent_set_timeouts(s->dest, &rd, &wr);
}

static void
dest_setup_bev(struct session *s, struct bufferevent *bev)
{
	bufferevent_setcb(bev, dest_readcb, dest_writecb, dest_eventcb, s);
	bufferevent_setwatermark(bev, EV_READ, 0, PROXYD_IN_HIGH);
	bufferevent_setwatermark(bev, EV_WRITE, PROXYD_OUT_LOW, 0);
}

int
dest_connect(struct session *s, const struct sockaddr *dst, socklen_t len,
    const struct sockaddr *src)
{
	struct timeval	 tv;
	char		 buf[ADDR_STRLEN];
	int		 fd, on = 1;

	fd = socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("%s socket", s->id);
		return -1;
	}
	if (s->cfg->mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK,
	    &s->cfg->mark, sizeof(s->cfg->mark)) == -1 && !mark_warned) {
		mark_warned = 1;
		log_warn("outbound_mark: SO_MARK %u not set (needs "
		    "CAP_NET_ADMIN); exclude warp's traffic by owner instead",
		    s->cfg->mark);
	}
	if (src != NULL && src->sa_family == dst->sa_family) {
		struct sockaddr_storage	 ss;

		memcpy(&ss, src, addr_len(src));
		addr_set_port((struct sockaddr *)&ss, 0);
		/* A pool address may be bound before it is configured. */
		if (src->sa_family == AF_INET)
			(void)setsockopt(fd, SOL_IP, IP_FREEBIND, &on,
			    sizeof(on));
		else
			(void)setsockopt(fd, SOL_IPV6, IPV6_FREEBIND, &on,
			    sizeof(on));
		/* Choose the port at connect(): 4-tuple, not 2-tuple. */
		(void)setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &on,
		    sizeof(on));
		if (bind(fd, (struct sockaddr *)&ss, addr_len(src)) == -1) {
			log_warn("%s bind %s", s->id, addr_str(src, buf));
			close(fd);
			return -1;
		}
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	s->dest_fd = fd;
	s->dest = bufferevent_socket_new(proxyd->base, fd, 0);
	if (s->dest == NULL) {
		close(fd);
		s->dest_fd = -1;
		return -1;
	}
	dest_setup_bev(s, s->dest);
	tv = warp_tv_ms(s->cfg->connect_timeout_ms);
	bufferevent_set_timeouts(s->dest, NULL, &tv);
	session_enter_dest(s, DS_CONNECTING);
	s->connect_mono = warp_mono_us();
	if (bufferevent_socket_connect(s->dest, dst, (int)len) == -1) {
		log_info("%s connect to %s: %s", s->id, addr_str(dst, buf),
		    strerror(errno));
		dest_close(s);
		return -1;
	}
	return 0;
}

void
dest_release(struct session *s)
{
	if (s->dest != NULL) {
		bufferevent_free(s->dest);
		s->dest = NULL;
	}
	if (s->dest_fd != -1) {
		close(s->dest_fd);
		s->dest_fd = -1;
	}
	session_enter_dest(s, DS_CLOSED);
}

void
dest_close(struct session *s)
{
	dest_release(s);
	session_maybe_free(s);
}

/* Client gone between transactions: say goodbye, then close. */
void
dest_quit_and_close(struct session *s)
{
	struct timeval	 tv;

	dest_send(s, "|>", "QUIT", 4);
	session_enter_dest(s, DS_QUIT);
	bufferevent_disable(s->dest, EV_READ);
	tv = warp_tv_ms(PROXYD_FLUSH_TIMEOUT_MS);
	bufferevent_set_timeouts(s->dest, NULL, &tv);
	session_flush_dest(s);
	if (s->dest != NULL && evbuffer_get_length(
	    bufferevent_get_output(s->dest)) == 0)
		dest_close(s);
}

/* Write one command line (CRLF added: a bare LF from the client is
 * normalised).  dir NULL: the caller logged it. */
void
dest_send(struct session *s, const char *dir, const char *line, size_t len)
{
	struct evbuffer	*out;

	if (dir != NULL)
		session_comm(s, dir, line, len);
	if (s->dest == NULL)
		return;
	out = bufferevent_get_output(s->dest);
	evbuffer_add(out, line, len);
	evbuffer_add(out, "\r\n", 2);
}

/* ---- replies ----------------------------------------------------------------- */

/* Move the reply (len bytes at the head of the input) to the client. */
static void
relay_reply(struct session *s, const char *dir, const char *buf, size_t len)
{
	struct evbuffer	*in = bufferevent_get_input(s->dest);

	session_comm(s, dir, buf, len);
	if (s->client != NULL && s->cstate != CS_CLOSED)
		evbuffer_remove_buffer(in, bufferevent_get_output(s->client),
		    len);
	else
		evbuffer_drain(in, len);
}

static void
consume_reply(struct session *s, const char *buf, size_t len)
{
	session_comm(s, "|<", buf, len);
	evbuffer_drain(bufferevent_get_input(s->dest), len);
}

/* Send the client our rewritten EHLO reply (or a HELO's single line). */
static void
answer_greeting(struct session *s, struct pending *p, const char *buf,
    size_t len)
{
	char		*out;
	size_t		 outsz = len + 128;
	ssize_t		 n;
	unsigned	 seen;
	int		 offer;

	out = xmalloc(outsz);
	if (p->flags & PF_CLIENT_HELO)
		n = (ssize_t)ehlo_first_line(buf, len, out, outsz);
	else {
		offer = s->cfg->client_tls && proxyd->tls_in != NULL &&
		    !s->client_tls;
		n = ehlo_for_client(buf, len, s->cfg->size_limit, offer, out,
		    outsz, &seen);
	}
	if (n <= 0) {
		/* Not a well-formed 250 reply: pass it unchanged. */
		memcpy(out, buf, len);
		n = (ssize_t)len;
	}
	session_comm(s, "<|", out, (size_t)n);
	if (s->client != NULL && s->cstate != CS_CLOSED)
		evbuffer_add(bufferevent_get_output(s->client), out,
		    (size_t)n);
	free(out);
}

void
dest_greeting(struct session *s, struct pending *p, const char *line,
    size_t len)
{
	char	 ehlo[300];
	int	 n;

	if (s->cfg->tls_mode == PROXYD_TLS_NONE || s->tls_tried ||
	    s->dest_tls) {
		dest_send(s, "->", line, len);
		return;
	}
	/* Probe with EHLO to learn whether STARTTLS is offered. */
	p->flags |= PF_TLS_PROBE;
	if (p->flags & PF_CLIENT_HELO) {
		session_comm(s, ">|", line, len);
		n = snprintf(ehlo, sizeof(ehlo), "EHLO %s", s->helo);
		dest_send(s, "|>", ehlo, (size_t)n);
	} else
		dest_send(s, "->", line, len);
}

/* TLS is required and cannot be had: 421 to the client, QUIT. */
static void
tls_refuse(struct session *s, const char *why)
{
	log_info("%s outbound TLS required (outbound_tls): %s", s->id, why);
	session_notef(s, "TLS required: %s", why);
	session_reply_client(s, "<|", "421 4.7.0 TLS required but not "
	    "available at the destination");
	if (s->dest != NULL && s->dstate == DS_READY)
		dest_quit_and_close(s);
	else
		dest_close(s);
	session_finish(s, "tls-required");
}

static void
greeting_done(struct session *s)
{
	fifo_pop(&s->fifo);
	session_enter_dest(s, DS_READY);
	client_flush_local(s);
	client_resume(s);
}

static void
dest_tls_start(struct session *s)
{
	struct bufferevent	*bev;
	int			 verify = s->cfg->tls_mode == PROXYD_TLS_VERIFY;

	bufferevent_disable(s->dest, EV_READ | EV_WRITE);
	bufferevent_free(s->dest);
	s->dest = NULL;
	bev = tls_wrap(s, s->dest_fd, 0, s->sni, verify);
	if (bev == NULL) {
		session_notef(s, "TLS set-up failed");
		session_reply_client(s, "<|", "421 4.7.0 TLS negotiation "
		    "failed");
		session_finish(s, "tls-failed");
		return;
	}
	s->dest_fd = -1;	/* owned by the TLS bufferevent now */
	s->dest = bev;
	dest_setup_bev(s, bev);
	dest_set_timeouts(s);
	session_enter_dest(s, DS_TLS_HANDSHAKE);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* A reply to the client's EHLO/HELO (or to warp's stand-ins for it). */
static int
greeting_reply(struct session *s, struct pending *p, const char *buf,
    size_t len)
{
	unsigned	 seen = 0;
	char		*tmp, cmd[300];
	ssize_t		 n;
	int		 code = s->reply.code;

	if (!(p->flags & PF_TLS_PROBE)) {
		if (s->dstate == DS_EHLO2) {
			answer_greeting(s, p, buf, len);
			evbuffer_drain(bufferevent_get_input(s->dest), len);
		} else if (code == 250 && !(p->flags & PF_CLIENT_HELO)) {
			answer_greeting(s, p, buf, len);
			evbuffer_drain(bufferevent_get_input(s->dest), len);
		} else
			relay_reply(s, "<-", buf, len);
		if (s->ehlo_ms < 0)
			s->ehlo_ms = session_ms_since(p->sent_us);
		greeting_done(s);
		return 0;
	}

	switch (s->dstate) {
	case DS_READY:		/* reply to the probing EHLO */
		s->ehlo_ms = session_ms_since(p->sent_us);
		if (code == 250) {
			tmp = xmalloc(len + 128);
			n = ehlo_for_client(buf, len, s->cfg->size_limit, 0, tmp,
			    len + 128, &seen);
			free(tmp);
			if (n > 0 && (seen & SMTP_EXT_STARTTLS)) {
				/* Keep it in case STARTTLS is refused. */
				free(s->probe_reply);
				s->probe_reply = xmemdup(buf, len);
				s->probe_len = len;
				consume_reply(s, buf, len);
				dest_send(s, "|>", "STARTTLS", 8);
				p->sent_us = warp_mono_us();
				session_enter_dest(s, DS_STARTTLS);
				return 0;
			}
		}
		s->tls_tried = 1;
		if (s->cfg->tls_mode >= PROXYD_TLS_ENCRYPT) {
			consume_reply(s, buf, len);
			tls_refuse(s, "STARTTLS not offered");
			return -1;
		}
		if (code == 250) {
			answer_greeting(s, p, buf, len);
			evbuffer_drain(bufferevent_get_input(s->dest), len);
		} else if (p->flags & PF_CLIENT_HELO) {
			/* EHLO refused; the client wanted HELO anyway. */
			consume_reply(s, buf, len);
			n = snprintf(cmd, sizeof(cmd), "HELO %s", s->helo);
			dest_send(s, "|>", cmd, (size_t)n);
			p->flags &= ~PF_TLS_PROBE;
			p->sent_us = warp_mono_us();
			return 0;
		} else
			relay_reply(s, "<-", buf, len);
		greeting_done(s);
		return 0;

	case DS_STARTTLS:
		consume_reply(s, buf, len);
		s->tls_tried = 1;
		if (code == 220) {
			if (evbuffer_get_length(bufferevent_get_input(
			    s->dest)) > 0) {
				log_warnx("%s destination sent data after its "
				    "220 to STARTTLS; closing", s->id);
				session_notef(s, "plaintext after STARTTLS "
				    "220");
				session_reply_client(s, "<|", "421 4.7.0 TLS "
				    "negotiation failed");
				session_finish(s, "starttls-injection");
				return -1;
			}
			dest_tls_start(s);
			return -1;	/* the input buffer is gone */
		}
		if (s->cfg->tls_mode >= PROXYD_TLS_ENCRYPT) {
			tls_refuse(s, "STARTTLS refused");
			return -1;
		}
		answer_greeting(s, p, s->probe_reply, s->probe_len);
		greeting_done(s);
		return 0;

	default:
		relay_reply(s, "<-", buf, len);
		greeting_done(s);
		return 0;
	}
}

static void
record_text(char **dst, const struct smtp_reply *r)
{
	size_t	 e, t;

	free(*dst);
	/* "<enhanced> <text>", put together without the printf machinery:
	 * this runs for every reply the session records. */
	e = strlen(r->enhanced);
	t = strlen(r->text);
	*dst = xmalloc(e + 1 + t + 1);
	memcpy(*dst, r->enhanced, e);
	if (e > 0)
		(*dst)[e++] = ' ';
	memcpy(*dst + e, r->text, t + 1);
}

/*
 * One complete reply of len bytes at the head of the input.  Returns -1
 * when the input must not be read further (TLS switch, session ending).
 */
/* The reply to DATA: its time, and for a 354 the original's "elapse"
 * (accept -> first 354) and the transaction's own figures. */
static void
note_data_reply(struct session *s, int code, int64_t ms)
{
	int64_t	 e;

	if (s->data_ms < 0)
		s->data_ms = ms;
	if (code != 354)
		return;
	e = session_ms_since(s->accept_mono);
	if (s->elapse_ms < 0)
		s->elapse_ms = e;
	if (s->cur != NULL) {
		s->cur->data_ms = ms;
		s->cur->elapse_ms = e;
	}
}

static int
handle_reply(struct session *s, const char *buf, size_t len)
{
	struct pending	*p = fifo_head(&s->fifo);
	struct txn	*t;
	int		 code = s->reply.code, was_eod;
	int64_t		 ms;

	s->final_code = (uint16_t)code;
	record_text(&s->final_text, &s->reply);
	if (p != NULL && p->kind == PEND_OWN) {
		/* Warp's own command (RSET after a verdict): consumed. */
		consume_reply(s, buf, len);
		fifo_pop(&s->fifo);
		client_flush_local(s);
		return 0;
	}
	if (p == NULL || p->kind != PEND_RELAY) {
		/* Unsolicited.  A 421 before closing is the one reply a
		 * server may send unasked (RFC 5321 3.8): pass it on.
		 * Anything else would pair every later reply with the wrong
		 * command: keep it out of the client's stream, logged. */
		if (code == 421) {
			relay_reply(s, "<-", buf, len);
			s->last_code_close = 1;
		} else {
			session_notef(s, "unsolicited reply from the "
			    "destination dropped");
			consume_reply(s, buf, len);
		}
		return 0;
	}
	ms = session_ms_since(p->sent_us);
	switch (p->verb) {
	case PV_BANNER:
		s->banner_ms = ms;
		if (s->sni == NULL && code == 220) {
			char host[256];

			if (ehlo_banner_host(s->reply.text,
			    strlen(s->reply.text), host, sizeof(host)) > 0)
				s->sni = xstrdup(host);
		}
		relay_reply(s, "<-", buf, len);
		fifo_pop(&s->fifo);
		if (code == 421)
			s->last_code_close = 1;
		session_enter_dest(s, DS_READY);
		client_start(s);
		return 0;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		return greeting_reply(s, p, buf, len);
	case SMTP_VERB_MAIL:
		if (s->mail_ms < 0)
			s->mail_ms = ms;
		if (p->arg != UINT32_MAX && p->arg < s->ntxns &&
		    !SMTP_IS_2XX(code)) {
			/* Refused: not a transaction. */
			t = &s->txns[p->arg];
			free(t->mail_from);
			t->mail_from = NULL;
			if (s->cur == t)
				s->cur = NULL;
		}
		break;
	case SMTP_VERB_RCPT:
		s->rcpt_ms = (s->rcpt_ms < 0 ? 0 : s->rcpt_ms) + ms;
		if (p->txn < s->ntxns && p->arg < s->txns[p->txn].nrcpts) {
			t = &s->txns[p->txn];
			t->rcpts[p->arg].code = (uint16_t)code;
			t->rcpts[p->arg].ms = ms;
			record_text(&t->rcpts[p->arg].text, &s->reply);
		}
		break;
	case SMTP_VERB_DATA:
		relay_reply(s, "<-", buf, len);
		fifo_pop(&s->fifo);
		note_data_reply(s, code, ms);
		client_data_reply(s, code == 354);
		return 0;
	case PV_FDATA:
		fifo_pop(&s->fifo);
		note_data_reply(s, code, ms);
		if (code == 354) {
			consume_reply(s, buf, len);
			filter_dest_reply(s, p, code);
			return 0;
		}
		/* Refused: that is the client's answer. */
		relay_reply(s, "<-", buf, len);
		filter_dest_reply(s, p, code);
		client_resume(s);
		return 0;
	case PV_EOD:
		s->eod_ms = ms;
		if (SMTP_IS_2XX(code))
			s->messages++;
		/* Not s->cur: the next MAIL may be pipelined behind the
		 * end of data (RFC 2920). */
		t = p->txn < s->ntxns ? &s->txns[p->txn] : NULL;
		if (t != NULL) {
			t->final_code = (uint16_t)code;
			t->eod_ms = ms;
			record_text(&t->final_text, &s->reply);
		}
		if (s->cur == t)
			s->cur = NULL;
		break;
	case SMTP_VERB_QUIT:
		relay_reply(s, "<-", buf, len);
		fifo_pop(&s->fifo);
		session_finish(s, "quit");
		return -1;
	default:
		if (code == 334)
			s->auth_pending = 1;
		break;
	}
	was_eod = p->verb == PV_EOD;
	relay_reply(s, "<-", buf, len);
	fifo_pop(&s->fifo);
	if (code == 421)
		s->last_code_close = 1;
	client_flush_local(s);
	if (was_eod && s->filtering) {
		/* The held message's final reply: the client may go on. */
		s->filtering = 0;
		client_resume(s);
	}
	return 0;
}

static void
dest_protocol_error(struct session *s, const char *why)
{
	log_info("%s destination protocol error: %s", s->id, why);
	session_notef(s, "destination protocol error: %s", why);
	session_reply_client(s, "<|", "421 4.4.2 Destination protocol error");
	dest_close(s);
	session_finish(s, "dest-protocol-error");
}

/* Assemble replies in the input buffer; handle each complete one. */
void
dest_process(struct session *s)
{
	struct evbuffer		*in;
	size_t			 avail, want, n, eol;
	const char		*p;
	enum smtp_reply_state	 st;
	int			 was_full;

	while (!s->closing && s->dest != NULL && !s->dest_throttled) {
		in = bufferevent_get_input(s->dest);
		avail = evbuffer_get_length(in);
		if (avail <= s->rscan)
			return;
		want = WARP_MIN(avail, s->rscan + SMTP_REPLY_LINE_MAX + 2);
		if ((p = (const char *)evbuffer_pullup(in, want)) == NULL)
			return;
		if ((n = smtp_line_end(p + s->rscan, want - s->rscan,
		    &eol)) == 0) {
			if (want - s->rscan > SMTP_REPLY_LINE_MAX)
				dest_protocol_error(s, "reply line too long");
			return;
		}
		st = smtp_reply_feed(&s->reply, p + s->rscan, n - eol);
		s->rscan += n;
		if (st == SMTP_REPLY_ERROR) {
			dest_protocol_error(s, log_printable(p + s->rscan - n,
			    n - eol));
			return;
		}
		if (st == SMTP_REPLY_MORE) {
			if (s->rscan > PROXYD_REPLY_MAX)
				dest_protocol_error(s, "reply too long");
			continue;
		}
		n = s->rscan;
		s->rscan = 0;
		was_full = fifo_full(&s->fifo);
		if (handle_reply(s, p, n) == -1) {
			smtp_reply_init(&s->reply);
			return;
		}
		smtp_reply_init(&s->reply);
		if (s->closing)
			return;
		if (was_full && s->cstate == CS_COMMAND)
			client_process(s);
		client_eof_check(s);
		if (s->closing)
			return;
		if (s->client != NULL && evbuffer_get_length(
		    bufferevent_get_output(s->client)) > PROXYD_OUT_HIGH)
			session_flush_client(s);
		if (s->client != NULL && evbuffer_get_length(
		    bufferevent_get_output(s->client)) > PROXYD_OUT_HIGH) {
			/* The client reads slower than we receive. */
			s->dest_throttled = 1;
			bufferevent_disable(s->dest, EV_READ);
		}
	}
}

void
dest_readcb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	if (s->closing) {
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	dest_process(s);
	session_flush(s);
}

void
dest_writecb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;
	size_t		 left = evbuffer_get_length(bufferevent_get_output(bev));

	if (s->dstate == DS_QUIT || s->closing) {
		if (left == 0 && (s->closing || s->dstate == DS_QUIT))
			dest_close(s);
		return;
	}
	session_write_idle(bev, s->dest_fd);
	if (s->client_throttled && left <= PROXYD_OUT_LOW &&
	    s->client != NULL) {
		s->client_throttled = 0;
		if (!s->client_eof)
			bufferevent_enable(s->client, EV_READ);
		client_process(s);
		session_flush(s);
	}
}

static void
dest_connected(struct session *s)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	struct pending		*p;
	char			 a1[ADDR_STRLEN], a2[ADDR_STRLEN];

	if (getsockname(s->dest_fd, (struct sockaddr *)&ss, &sl) == 0) {
		addr_unmap(&ss, &sl);
		s->out_addr = ss;
		s->have_out_addr = 1;
	}
	session_notef(s, "connected to %s from %s",
	    addr_str((struct sockaddr *)&s->orig_dst, a1),
	    s->have_out_addr ? addr_str((struct sockaddr *)&s->out_addr, a2) :
	    "?");
	dest_set_timeouts(s);
	p = fifo_push(&s->fifo);
	p->kind = PEND_RELAY;
	p->verb = PV_BANNER;
	p->sent_us = s->connect_mono;
	session_enter_dest(s, DS_BANNER);
	bufferevent_disable(s->dest, EV_WRITE);
	bufferevent_enable(s->dest, EV_READ);
}

static void
dest_tls_connected(struct session *s)
{
	struct pending	*p = fifo_head(&s->fifo);
	char		 cmd[300];
	int		 n;

	tls_record(s->dest, &s->tls_version, &s->tls_cipher);
	s->dest_tls = 1;
	session_notef(s, "TLS established with %s: %s %s%s",
	    s->sni != NULL ? s->sni : "destination", s->tls_version,
	    s->tls_cipher, s->cfg->tls_mode == PROXYD_TLS_VERIFY ?
	    " (verified)" : "");
	n = snprintf(cmd, sizeof(cmd), "%s %s", p != NULL &&
	    (p->flags & PF_CLIENT_HELO) ? "HELO" : "EHLO", s->helo);
	if (p != NULL) {
		p->flags &= ~PF_TLS_PROBE;
		p->sent_us = warp_mono_us();
	}
	session_enter_dest(s, DS_EHLO2);
	dest_send(s, "|>", cmd, (size_t)n);
}

static void	dest_event(struct bufferevent *, short, struct session *);

void
dest_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct session	*s = arg;

	dest_event(bev, what, s);
	session_flush(s);
}

static void
dest_event(struct bufferevent *bev, short what, struct session *s)
{
	struct pending	*p;
	char		 buf[ADDR_STRLEN];
	int		 limit;

	if (s->closing) {
		dest_close(s);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		if (s->dstate == DS_CONNECTING)
			dest_connected(s);
		else if (s->dstate == DS_TLS_HANDSHAKE)
			dest_tls_connected(s);
		return;
	}
	if (s->dstate == DS_CONNECTING) {
		int timeout = (what & BEV_EVENT_TIMEOUT) != 0;
		int err = EVUTIL_SOCKET_ERROR();

		s->elapse_ms = -2;
		log_info("%s connect to %s: %s", s->id,
		    addr_str((struct sockaddr *)&s->orig_dst, buf),
		    timeout ? "timed out" : evutil_socket_error_to_string(err));
		session_notef(s, "cannot connect to %s: %s", buf, timeout ?
		    "timed out" : evutil_socket_error_to_string(err));
		session_reply_client(s, "<|", timeout ? "421 4.4.2 Timeout "
		    "connecting to the destination" : "421 4.4.1 Cannot "
		    "connect to the destination");
		dest_close(s);
		session_finish(s, timeout ? "connect-timeout" :
		    "connect-failed");
		return;
	}
	if (s->dstate == DS_TLS_HANDSHAKE) {
		const char *e = tls_error_string(bev);

		log_info("%s outbound TLS handshake with %s failed: %s", s->id,
		    s->sni != NULL ? s->sni : addr_str((struct sockaddr *)
		    &s->orig_dst, buf), e);
		session_notef(s, "TLS handshake failed: %s", e);
		session_reply_client(s, "<|", "421 4.7.0 TLS negotiation "
		    "with the destination failed");
		dest_close(s);
		session_finish(s, "tls-failed");
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING)) {
		p = fifo_head(&s->fifo);
		if (p == NULL || !fifo_has_relay(&s->fifo)) {
			/* Nothing asked: the client's turn, not ours. */
			bufferevent_enable(bev, EV_READ);
			return;
		}
		limit = p->verb == PV_EOD ? s->cfg->data_timeout_ms :
		    s->cfg->command_timeout_ms;
		if (session_ms_since(p->sent_us) < limit) {
			bufferevent_enable(bev, EV_READ);
			return;
		}
		log_info("%s destination did not answer within %d ms "
		    "(state %s)", s->id, limit, session_dstate_name(s->dstate));
		session_notef(s, "destination timeout");
		session_reply_client(s, "<|", "421 4.4.2 Timeout waiting for "
		    "the destination");
		dest_close(s);
		session_finish(s, "dest-timeout");
		return;
	}
	/* EOF, error or a write timeout: the destination is gone. */
	if (s->dstate == DS_QUIT) {
		dest_close(s);
		return;
	}
	session_notef(s, "destination closed the connection");
	if (!s->last_code_close && s->cstate != CS_DATA_DISCARD)
		session_reply_client(s, "<|", "421 4.4.2 Connection to the "
		    "destination was lost");
	dest_close(s);
	session_finish(s, s->last_code_close ? "dest-closed" : "dest-eof");
}
