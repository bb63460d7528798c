/*
 * client.c -- the client side of a session: reading SMTP commands from
 * the sender, relaying or answering them, and streaming DATA.
 *
 * Called from libevent (client_*cb) and from dest.c when a reply lets the
 * client side move on (client_resume, client_process).  Commands are cut
 * into lines with smtp_line_end() and parsed with smtp_cmd_parse(); each
 * verb has one handler in verb_table.  The message itself is never copied:
 * smtp_data_scan() finds its end across reads and the bytes are moved
 * between evbuffers.  Security role: everything here is untrusted input.
 * Lines are bounded (SMTP_CMD_LINE_MAX) without buffering more, bare LF
 * is normalised so the destination sees the lines warp saw, NUL bytes are
 * refused, the size limit is enforced on SIZE= and on the bytes, and AUTH
 * exchanges are not written to the event log.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "log.h"
#include "smtp.h"
#include "util.h"

#include "proxyd.h"

struct cmdline {
	char		 buf[SMTP_CMD_LINE_MAX + 1];
	size_t		 len;		/* without the line end */
	struct smtp_cmd	 cmd;
	int		 parsed;	/* smtp_cmd_parse() result */
};

typedef void (*verb_fn)(struct session *, struct cmdline *);

static void	cmd_relay(struct session *, struct cmdline *);
static void	cmd_helo(struct session *, struct cmdline *);
static void	cmd_mail(struct session *, struct cmdline *);
static void	cmd_rcpt(struct session *, struct cmdline *);
static void	cmd_data(struct session *, struct cmdline *);
static void	cmd_rset(struct session *, struct cmdline *);
static void	cmd_quit(struct session *, struct cmdline *);
static void	cmd_starttls(struct session *, struct cmdline *);
static void	cmd_auth(struct session *, struct cmdline *);
static void	cmd_notimpl(struct session *, struct cmdline *);
static void	headers_emit(struct session *);

/* Every verb and what warp does with it (only read in CS_COMMAND). */
static const struct {
	enum smtp_verb	 verb;
	verb_fn		 fn;
} verb_table[SMTP_VERB_COUNT] = {
	{ SMTP_VERB_UNKNOWN,	cmd_relay },
	{ SMTP_VERB_HELO,	cmd_helo },
	{ SMTP_VERB_EHLO,	cmd_helo },
	{ SMTP_VERB_MAIL,	cmd_mail },
	{ SMTP_VERB_RCPT,	cmd_rcpt },
	{ SMTP_VERB_DATA,	cmd_data },
	{ SMTP_VERB_BDAT,	cmd_notimpl },	/* CHUNKING is hidden */
	{ SMTP_VERB_RSET,	cmd_rset },
	{ SMTP_VERB_NOOP,	cmd_relay },
	{ SMTP_VERB_QUIT,	cmd_quit },
	{ SMTP_VERB_VRFY,	cmd_relay },
	{ SMTP_VERB_EXPN,	cmd_relay },
	{ SMTP_VERB_HELP,	cmd_relay },
	{ SMTP_VERB_STARTTLS,	cmd_starttls },
	{ SMTP_VERB_AUTH,	cmd_auth },
	{ SMTP_VERB_ETRN,	cmd_relay },
	{ SMTP_VERB_XCLIENT,	cmd_notimpl },	/* removed from EHLO */
	{ SMTP_VERB_XFORWARD,	cmd_notimpl },
};

static void
set_read_timeout(struct session *s, int ms)
{
	struct timeval	 rd, wr;

	if (s->client == NULL)
		return;
	rd = warp_tv_ms(ms);
	wr = warp_tv_ms(s->cfg->idle_timeout_ms);
	bufferevent_set_timeouts(s->client, &rd, &wr);
}

/* Queue warp's own reply; it is written when it reaches the head. */
static void
push_local(struct session *s, struct cmdline *cl, enum local_reply r)
{
	struct pending	*p;

	if (cl != NULL)
		session_comm(s, ">|", cl->buf, cl->len);
	p = fifo_push(&s->fifo);	/* caller checked fifo_full() */
	p->kind = PEND_LOCAL;
	p->verb = cl != NULL ? cl->cmd.verb : SMTP_VERB_UNKNOWN;
	p->arg = r;
	p->sent_us = warp_mono_us();
}

static struct pending *
push_relay(struct session *s, struct cmdline *cl, const char *logdata,
    size_t loglen)
{
	struct pending	*p;

	p = fifo_push(&s->fifo);
	p->kind = PEND_RELAY;
	p->verb = cl->cmd.verb;
	p->sent_us = warp_mono_us();
	if (logdata != NULL)
		session_comm(s, "->", logdata, loglen);
	dest_send(s, NULL, cl->buf, cl->len);
	return p;
}

/*
 * The destination leg is gone (closed after an oversized message, or
 * lost): QUIT gets a local 221, anything else a 421, and the session ends
 * once that is written.
 */
static int
dest_unavailable(struct session *s, struct cmdline *cl)
{
	if (s->dstate == DS_READY)
		return 0;
	if (cl->cmd.verb == SMTP_VERB_QUIT) {
		push_local(s, cl, LR_QUIT_221);
		s->close_reason = "quit";
	} else {
		push_local(s, cl, LR_GONE_421);
		if (s->close_reason == NULL)
			s->close_reason = "destination-gone";
	}
	session_enter_client(s, CS_WAIT);
	return 1;
}

static void
cmd_relay(struct session *s, struct cmdline *cl)
{
	if (dest_unavailable(s, cl))
		return;
	push_relay(s, cl, cl->buf, cl->len);
}

static void
cmd_notimpl(struct session *s, struct cmdline *cl)
{
	push_local(s, cl, LR_NOTIMPL_502);
}

static void
cmd_helo(struct session *s, struct cmdline *cl)
{
	struct pending	*p;
	size_t		 n = WARP_MIN(cl->cmd.arg_len, 255);

	if (dest_unavailable(s, cl))
		return;
	free(s->helo);
	s->helo = xstrndup(cl->cmd.arg != NULL ? cl->cmd.arg : "", n);
	s->cur = NULL;		/* EHLO/HELO reset the transaction */
	p = fifo_push(&s->fifo);
	p->kind = PEND_RELAY;
	p->verb = cl->cmd.verb;
	p->sent_us = warp_mono_us();
	if (cl->cmd.verb == SMTP_VERB_HELO)
		p->flags |= PF_CLIENT_HELO;
	/* Sync point: nothing after the greeting is read before its reply,
	 * so nothing can be sent ahead of a STARTTLS warp may insert. */
	session_enter_client(s, CS_WAIT);
	dest_greeting(s, p, cl->buf, cl->len);
}

static void
cmd_mail(struct session *s, struct cmdline *cl)
{
	struct smtp_path		 path;
	const struct smtp_param		*sz;
	struct pending			*p;
	struct txn			*t;

	if (dest_unavailable(s, cl))
		return;
	if (cl->parsed == -1) {
		push_local(s, cl, LR_SYNTAX_501);
		return;
	}
	if (smtp_path_parse(cl->cmd.arg, cl->cmd.arg_len, &path) == -1) {
		/* Not ours to judge: the destination answers it. */
		push_relay(s, cl, cl->buf, cl->len);
		return;
	}
	if ((sz = smtp_path_param(&path, "SIZE")) != NULL &&
	    sz->value != NULL) {
		char		 num[24];
		uint64_t	 v;

		snprintf(num, sizeof(num), "%.*s", (int)WARP_MIN(sz->value_len,
		    20), sz->value);
		v = strtoull(num, NULL, 10);
		if (v > s->cfg->size_limit) {
			push_local(s, cl, LR_SIZE_552);
			return;
		}
	}
	if ((path.flags | cl->cmd.flags) & (SMTP_CMD_BAD_SPACING |
	    SMTP_CMD_NO_BRACKETS))
		log_info("%s MAIL FROM breaks RFC 5321 syntax: %s", s->id,
		    log_printable(cl->buf, cl->len));
	if ((t = session_txn_new(s)) != NULL) {
		t->mail_from = xstrndup(path.addr, path.addr_len);
		if (path.params_len > 0)
			t->mail_params = xstrndup(path.params,
			    path.params_len);
		t->data_ms = t->elapse_ms = -1;
	}
	s->cur = t;
	p = push_relay(s, cl, cl->buf, cl->len);
	p->arg = t != NULL ? (uint32_t)(t - s->txns) : UINT32_MAX;
}

static void
cmd_rcpt(struct session *s, struct cmdline *cl)
{
	struct smtp_path	 path;
	struct pending		*p;
	struct txn		*t = s->cur;
	uint32_t		 idx = UINT32_MAX;

	if (dest_unavailable(s, cl))
		return;
	if (cl->parsed == -1) {
		push_local(s, cl, LR_SYNTAX_501);
		return;
	}
	if (smtp_path_parse(cl->cmd.arg, cl->cmd.arg_len, &path) == 0 &&
	    t != NULL && t->nrcpts < PROXYD_RCPT_MAX) {
		if ((path.flags | cl->cmd.flags) & (SMTP_CMD_BAD_SPACING |
		    SMTP_CMD_NO_BRACKETS))
			log_info("%s RCPT TO breaks RFC 5321 syntax: %s",
			    s->id, log_printable(cl->buf, cl->len));
		if (t->nrcpts == t->rcpts_size) {
			t->rcpts_size = t->rcpts_size ? t->rcpts_size * 2 : 4;
			t->rcpts = xreallocarray(t->rcpts, t->rcpts_size,
			    sizeof(*t->rcpts));
		}
		idx = (uint32_t)t->nrcpts;
		memset(&t->rcpts[idx], 0, sizeof(t->rcpts[idx]));
		t->rcpts[idx].addr = xstrndup(path.addr, path.addr_len);
		t->nrcpts++;
	}
	p = push_relay(s, cl, cl->buf, cl->len);
	p->arg = idx;
	p->txn = t != NULL ? (uint32_t)(t - s->txns) : UINT32_MAX;
}

static void
cmd_data(struct session *s, struct cmdline *cl)
{
	if (dest_unavailable(s, cl))
		return;
	if (s->cfg->filter) {
		/* warp answers DATA itself once the RCPT replies are in
		 * (client_flush_local), and holds the message. */
		push_local(s, cl, LR_FILTER_DATA);
		session_enter_client(s, CS_WAIT);
		return;
	}
	push_relay(s, cl, cl->buf, cl->len);
	/* Wait for the 354 without reading the message. */
	session_enter_client(s, CS_WAIT);
}

static void
cmd_rset(struct session *s, struct cmdline *cl)
{
	s->cur = NULL;
	cmd_relay(s, cl);
}

static void
cmd_quit(struct session *s, struct cmdline *cl)
{
	if (dest_unavailable(s, cl))
		return;
	s->quit_seen = 1;
	push_relay(s, cl, cl->buf, cl->len);
	session_enter_client(s, CS_WAIT);
}

static void
cmd_starttls(struct session *s, struct cmdline *cl)
{
	if (s->client_tls) {
		push_local(s, cl, LR_TLS_503);
		return;
	}
	if (!s->cfg->client_tls || proxyd->tls_in == NULL) {
		push_local(s, cl, LR_NOTLS_502);
		return;
	}
	push_local(s, cl, LR_TLS_220);
	session_enter_client(s, CS_WAIT);
}

/* AUTH goes through; its secrets stay out of the event log. */
static void
cmd_auth(struct session *s, struct cmdline *cl)
{
	char	 shown[64];
	size_t	 n = 0;

	if (dest_unavailable(s, cl))
		return;
	/* "AUTH PLAIN <initial response>": keep the mechanism only. */
	while (n < cl->cmd.arg_len && cl->cmd.arg[n] != ' ')
		n++;
	snprintf(shown, sizeof(shown), "AUTH %.*s%s", (int)WARP_MIN(n, 40),
	    cl->cmd.arg, n < cl->cmd.arg_len ? " <hidden>" : "");
	push_relay(s, cl, shown, strlen(shown));
}

/* ---- reading commands ------------------------------------------------------ */

/*
 * Take one command line off the input and handle it.  Returns 1 when a
 * line was consumed, 0 when more input is needed.
 */
static int
read_command(struct session *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->client);
	struct cmdline	 cl;
	size_t		 avail, want, n, eol;
	const char	*p;

	if ((avail = evbuffer_get_length(in)) == 0)
		return 0;
	want = WARP_MIN(avail, SMTP_CMD_LINE_MAX);
	if ((p = (const char *)evbuffer_pullup(in, want)) == NULL)
		return 0;
	if ((n = smtp_line_end(p, want, &eol)) == 0) {
		if (avail < SMTP_CMD_LINE_MAX)
			return 0;
		/* No line end within the limit: skip to the next LF. */
		evbuffer_drain(in, want);
		session_enter_client(s, CS_LONG_LINE);
		return 1;
	}
	cl.len = n - eol;
	memcpy(cl.buf, p, cl.len);
	cl.buf[cl.len] = '\0';
	evbuffer_drain(in, n);

	if (s->auth_pending) {
		/* A response to a 334 challenge: relay verbatim, log nothing
		 * of it. */
		s->auth_pending = 0;
		memset(&cl.cmd, 0, sizeof(cl.cmd));
		cl.parsed = 0;
		if (!dest_unavailable(s, &cl))
			push_relay(s, &cl, "<authentication data>", 21);
		return 1;
	}
	cl.parsed = smtp_cmd_parse(cl.buf, cl.len, &cl.cmd);
	if (eol == 1)
		cl.cmd.flags |= SMTP_CMD_BARE_LF;
	if (cl.cmd.flags & SMTP_CMD_NUL) {
		push_local(s, &cl, LR_NUL_500);
		return 1;
	}
	if ((unsigned)cl.cmd.verb >= SMTP_VERB_COUNT)
		cl.cmd.verb = SMTP_VERB_UNKNOWN;
	verb_table[cl.cmd.verb].fn(s, &cl);
	return 1;
}

/* Skip the rest of an over-long line, then answer it. */
static int
skip_long_line(struct session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->client);
	struct evbuffer_ptr	 ptr;

	ptr = evbuffer_search(in, "\n", 1, NULL);
	if (ptr.pos == -1) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return 0;
	}
	evbuffer_drain(in, (size_t)ptr.pos + 1);
	session_notef(s, "command line longer than %d bytes",
	    SMTP_CMD_LINE_MAX);
	push_local(s, NULL, LR_LINE_500);
	session_enter_client(s, CS_COMMAND);
	return 1;
}

/* ---- DATA ---------------------------------------------------------------------- */

static void
data_begin(struct session *s)
{
	smtp_data_init(&s->data);
	session_enter_client(s, CS_DATA);
	set_read_timeout(s, s->cfg->data_timeout_ms);
}

/* Over the limit: the destination must never deliver a truncated copy. */
static void
data_abort(struct session *s)
{
	log_info("%s message over message_size_limit (%llu bytes); "
	    "not relayed", s->id,
	    (unsigned long long)s->cfg->size_limit);
	session_notef(s, "message exceeds %llu bytes; destination "
	    "connection closed without end of data",
	    (unsigned long long)s->cfg->size_limit);
	if (s->cur != NULL)
		s->cur->aborted = 1;
	if (s->holding)
		filter_discard(s);	/* nothing reached the destination */
	else
		dest_close(s);
	session_enter_client(s, CS_DATA_DISCARD);
}

static void
data_end(struct session *s)
{
	struct pending	*p;
	struct txn	*t = s->cur;

	set_read_timeout(s, s->cfg->idle_timeout_ms);
	headers_emit(s);
	s->bytes_total += s->data.bytes;
	if (t != NULL)
		t->size = s->data.bytes;
	if (s->data.flags & SMTP_DATA_F_BARE_LF)
		session_notef(s, "message had bare LF line ends; relayed as "
		    "CRLF");
	if (s->cstate == CS_DATA_DISCARD) {
		session_comm(s, ">|", ".", 1);
		push_local(s, NULL, LR_DATA_552);
		session_enter_client(s, CS_COMMAND);
		return;
	}
	if (s->holding) {
		session_comm(s, ">|", ".", 1);
		filter_submit(s);
		return;
	}
	session_comm(s, "->", ".", 1);
	p = fifo_push(&s->fifo);	/* DATA's entry was popped: room */
	p->kind = PEND_RELAY;
	p->verb = PV_EOD;
	p->sent_us = warp_mono_us();
	p->txn = t != NULL ? (uint32_t)(t - s->txns) : UINT32_MAX;
	session_enter_client(s, CS_COMMAND);
}

/* log_headers: keep a copy of the header section (never the body). */
static void
headers_collect(struct session *s, const char *p, size_t n)
{
	size_t	 room;

	if (s->hdr_len >= PROXYD_HEADERS_MAX)
		return;
	if (s->hdr == NULL)
		s->hdr = xmalloc(PROXYD_HEADERS_MAX);
	room = PROXYD_HEADERS_MAX - s->hdr_len;
	n = WARP_MIN(n, room);
	memcpy(s->hdr + s->hdr_len, p, n);
	s->hdr_len += n;
}

static void
headers_emit(struct session *s)
{
	size_t		 len = s->hdr_len, i;
	char		*note;

	if (s->hdr == NULL)
		return;
	if (!s->data.in_headers && s->data.header_bytes < len)
		len = (size_t)s->data.header_bytes;
	/* Message-ID, for the transaction record. */
	for (i = 0; s->cur != NULL && i + 11 < len; i++) {
		if ((i == 0 || s->hdr[i - 1] == '\n') &&
		    warp_strncaseeq(s->hdr + i, 11, "message-id:")) {
			size_t b = i + 11, e;

			while (b < len && (s->hdr[b] == ' ' ||
			    s->hdr[b] == '\t'))
				b++;
			for (e = b; e < len && s->hdr[e] != '\r' &&
			    s->hdr[e] != '\n'; e++)
				;
			free(s->cur->message_id);
			s->cur->message_id = xstrndup(s->hdr + b,
			    WARP_MIN(e - b, 255));
			break;
		}
	}
	note = xmalloc(len + 8);
	memcpy(note, "header ", 7);
	memcpy(note + 7, s->hdr, len);
	session_comm(s, "--", note, len + 7);
	free(note);
	free(s->hdr);
	s->hdr = NULL;
	s->hdr_len = 0;
}

/* Message bytes toward the destination, or nowhere when discarding. */
static void
data_move(struct session *s, struct evbuffer *in, struct evbuffer *out,
    size_t n)
{
	if (s->cstate == CS_DATA)
		evbuffer_remove_buffer(in, out, n);
	else
		evbuffer_drain(in, n);
}

static void
data_emit(struct session *s, struct evbuffer *out, const char *p, size_t n)
{
	if (s->cstate == CS_DATA)
		evbuffer_add(out, p, n);
}

/*
 * Move message bytes from the client to the destination, chain by chain,
 * without copying them (evbuffer_remove_buffer moves whole chains).
 * Returns 1 when the state changed, 0 when more input is needed or the
 * destination must drain first.
 */
static int
data_pump(struct session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->client);
	struct evbuffer		*out = NULL;
	struct evbuffer_iovec	 v;
	enum smtp_data_result	 r;
	size_t			 used;
	int			 hdr_before;

	for (;;) {
		if (s->cstate == CS_DATA && s->holding)
			out = s->held;
		else if (s->cstate == CS_DATA) {
			if (s->dest == NULL) {
				data_abort(s);
				continue;
			}
			out = bufferevent_get_output(s->dest);
		}
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return 0;
		used = 0;
		hdr_before = s->data.in_headers;
		r = smtp_data_scan(&s->data, v.iov_base, v.iov_len, &used);
		if (hdr_before && s->cfg->log_headers)
			headers_collect(s, v.iov_base, used);
		data_move(s, in, out, used);
		if (r == SMTP_DATA_INSERT)
			data_emit(s, out, s->data.insert, s->data.insert_len);
		/* What the destination receives, normalisation included. */
		if (s->cstate == CS_DATA &&
		    s->data.bytes + s->data.added > s->cfg->size_limit)
			data_abort(s);
		else if (s->cstate == CS_DATA && s->holding &&
		    r != SMTP_DATA_END)
			filter_hold(s);
		if (r == SMTP_DATA_END) {
			data_end(s);
			return 1;
		}
		if (s->holding)
			continue;	/* bounded by filter_hold() */
		if (s->cstate == CS_DATA &&
		    evbuffer_get_length(out) > PROXYD_OUT_HIGH)
			session_flush_dest(s);
		if (s->cstate == CS_DATA && s->dest != NULL &&
		    evbuffer_get_length(out) > PROXYD_OUT_HIGH) {
			/* The destination is slower: pause the client. */
			s->client_throttled = 1;
			bufferevent_disable(s->client, EV_READ);
			return 0;
		}
	}
}

/* ---- driving the client side --------------------------------------------------- */

/* Write warp's own replies that have reached the head of the queue. */
void
client_flush_local(struct session *s)
{
	struct pending	*p;
	enum local_reply r;

	while ((p = fifo_head(&s->fifo)) != NULL && p->kind == PEND_LOCAL) {
		r = p->arg;
		fifo_pop(&s->fifo);
		if (r == LR_FILTER_DATA) {
			if (filter_data_go(s)) {
				session_reply_client(s, "<|",
				    local_reply_text(r));
				data_begin(s);
			} else {
				session_reply_client(s, "<|",
				    local_reply_text(LR_NORCPT_554));
				session_enter_client(s, CS_COMMAND);
			}
			continue;
		}
		session_reply_client(s, "<|", local_reply_text(r));
		switch (r) {
		case LR_TLS_220:
			if (client_starttls(s) == -1)
				return;
			break;
		case LR_QUIT_221:
			session_finish(s, "quit");
			return;
		case LR_GONE_421:
			session_finish(s, s->close_reason != NULL ?
			    s->close_reason : "destination-gone");
			return;
		default:
			break;
		}
	}
}

void
client_process(struct session *s)
{
	int	 progress;

	do {
		progress = 0;
		while (!s->closing && s->client != NULL) {
			if (s->cstate == CS_COMMAND) {
				if (fifo_full(&s->fifo) || !read_command(s))
					break;
			} else if (s->cstate == CS_LONG_LINE) {
				if (!skip_long_line(s))
					break;
			} else if (s->cstate == CS_DATA ||
			    s->cstate == CS_DATA_DISCARD) {
				if (!data_pump(s))
					break;
			} else
				break;
			progress = 1;
		}
		if (s->closing)
			return;
		client_flush_local(s);
	} while (progress && !s->closing && s->cstate == CS_COMMAND &&
	    !fifo_full(&s->fifo) && s->client != NULL &&
	    evbuffer_get_length(bufferevent_get_input(s->client)) > 0);
}

/* After a half-close: end once nothing the client sent is outstanding. */
void
client_eof_check(struct session *s)
{
	if (!s->client_eof || s->closing)
		return;
	if (fifo_has_relay(&s->fifo) || s->cstate == CS_WAIT ||
	    s->cstate == CS_TLS_FLUSH)
		return;
	session_finish(s, s->quit_seen ? "quit" : "client-eof");
}

/* The banner went to the client: start reading its commands. */
void
client_start(struct session *s)
{
	if (s->client == NULL || s->closing)
		return;
	session_enter_client(s, CS_COMMAND);
	if (!s->client_eof)
		bufferevent_enable(s->client, EV_READ);
	client_process(s);
}

/* The reply to a sync command arrived; continue with what is buffered. */
void
client_resume(struct session *s)
{
	if (s->closing || s->client == NULL)
		return;
	if (s->cstate == CS_WAIT)
		session_enter_client(s, CS_COMMAND);
	client_process(s);
}

/* The destination answered DATA. */
void
client_data_reply(struct session *s, int go)
{
	if (s->closing || s->client == NULL)
		return;
	if (go)
		data_begin(s);
	else
		session_enter_client(s, CS_COMMAND);
	client_process(s);
}

void
client_readcb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	if (s->closing)
		return;
	client_process(s);
	session_flush(s);
}

void
client_writecb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;
	size_t		 left = evbuffer_get_length(bufferevent_get_output(bev));

	if (s->closing) {
		if (left == 0)
			session_maybe_free(s);
		return;
	}
	if (s->cstate == CS_TLS_FLUSH && left == 0) {
		client_tls_switch(s);
		return;
	}
	session_write_idle(bev, s->client_fd);
	/* Destination replies were held back while we could not write. */
	if (s->dest_throttled && left <= PROXYD_OUT_LOW && s->dest != NULL) {
		s->dest_throttled = 0;
		bufferevent_enable(s->dest, EV_READ);
		dest_process(s);
		session_flush(s);
	}
}

static void	client_event(struct bufferevent *, short, struct session *);

void
client_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct session	*s = arg;

	client_event(bev, what, s);
	session_flush(s);
}

static void
client_event(struct bufferevent *bev, short what, struct session *s)
{

	if (s->closing) {
		/* The last words could not be written: give up on them
		 * (a socket bufferevent's output cannot be drained). */
		session_close_client(s);
		session_maybe_free(s);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		/* Our TLS handshake with the client completed. */
		tls_record(bev, &s->ctls_version, &s->ctls_cipher);
		s->client_tls = 1;
		session_notef(s, "client TLS established: %s %s",
		    s->ctls_version, s->ctls_cipher);
		/* RFC 3207 4.2: nothing said before TLS survives it. */
		s->cur = NULL;
		if (s->dest != NULL && s->dstate == DS_READY) {
			struct pending *p = fifo_push(&s->fifo);

			if (p != NULL) {
				p->kind = PEND_OWN;
				p->verb = SMTP_VERB_RSET;
				p->sent_us = warp_mono_us();
				dest_send(s, "|>", "RSET", 4);
			}
		}
		session_enter_client(s, CS_COMMAND);
		bufferevent_enable(bev, EV_READ);
		client_process(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && fifo_has_relay(&s->fifo)) {
			/* The destination's turn, not the client's. */
			if (!s->client_throttled)
				bufferevent_enable(bev, EV_READ);
			return;
		}
		log_info("%s client timeout in state %s", s->id,
		    session_cstate_name(s->cstate));
		session_reply_client(s, "<|", "421 4.4.2 Timeout exceeded");
		session_finish(s, (what & BEV_EVENT_READING) ?
		    "client-timeout" : "client-write-timeout");
		return;
	}
	if (s->cstate == CS_TLS_HANDSHAKE) {
		session_notef(s, "client TLS handshake failed: %s",
		    tls_error_string(bev));
		log_info("%s client TLS handshake failed: %s", s->id,
		    tls_error_string(bev));
		session_finish(s, "client-tls-failed");
		return;
	}
	/*
	 * A client may send everything and half-close: what it sent is
	 * still relayed and answered (it can read), then the session ends.
	 */
	if ((what & BEV_EVENT_EOF) && s->dstate == DS_READY &&
	    s->cstate != CS_DATA && s->cstate != CS_DATA_DISCARD &&
	    (fifo_has_relay(&s->fifo) || evbuffer_get_length(
	    bufferevent_get_input(bev)) > 0)) {
		s->client_eof = 1;
		bufferevent_disable(bev, EV_READ);
		client_process(s);
		client_eof_check(s);
		return;
	}
	/* EOF or error: the client is gone, and so is what it was owed. */
	session_close_client(s);
	session_finish(s, (what & BEV_EVENT_EOF) ? (s->quit_seen ? "quit" :
	    "client-eof") : "client-error");
}

/* ---- STARTTLS toward the client --------------------------------------------- */

/* Our 220 is queued: no client byte may have arrived after STARTTLS. */
int
client_starttls(struct session *s)
{
	if (evbuffer_get_length(bufferevent_get_input(s->client)) > 0) {
		log_warnx("%s client sent data after STARTTLS before the "
		    "handshake; closing", s->id);
		session_notef(s, "plaintext after client STARTTLS");
		session_finish(s, "starttls-injection");
		return -1;
	}
	bufferevent_disable(s->client, EV_READ);
	session_enter_client(s, CS_TLS_FLUSH);
	return 0;
}

/* The 220 is written: the same descriptor continues as TLS. */
void
client_tls_switch(struct session *s)
{
	struct bufferevent	*bev;
	struct timeval		 tv;

	bufferevent_disable(s->client, EV_READ | EV_WRITE);
	bufferevent_free(s->client);
	s->client = NULL;
	bev = tls_wrap(s, s->client_fd, 1, NULL, 0);
	if (bev == NULL) {
		session_finish(s, "client-tls-failed");
		return;
	}
	s->client_fd = -1;		/* owned by the TLS bufferevent */
	s->client = bev;
	bufferevent_setcb(bev, client_readcb, client_writecb, client_eventcb,
	    s);
	bufferevent_setwatermark(bev, EV_READ, 0, PROXYD_IN_HIGH);
	bufferevent_setwatermark(bev, EV_WRITE, PROXYD_OUT_LOW, 0);
	tv = warp_tv_ms(s->cfg->command_timeout_ms);
	bufferevent_set_timeouts(bev, &tv, &tv);
	session_enter_client(s, CS_TLS_HANDSHAKE);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}
