/*
 * filter.c -- holding a message for warp-filterd (filter = yes).
 *
 * Called by client.c (warp's own 354, each chunk of DATA, the end of
 * data), dest.c (the destination's replies to warp's DATA and RSET) and
 * proxyd.c (the filter.sock client).  The message is kept in an evbuffer
 * up to filter_hold_max, beyond that in a file under filter_spool_dir;
 * at the end of data warp-filterd gets a FilterRequest and answers with a
 * verdict: relay / add-header (warp then sends DATA to the destination and
 * streams the held message), reject or tempfail (the client gets the
 * verdict's reply, the destination an RSET).  No verdict in time:
 * filter_failure (tempfail: 451, nothing lost; relay).  Security role:
 * headers added by a verdict are cut at CR/LF so a filter cannot inject
 * SMTP; spool files are private to warp and removed when done.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "addr.h"
#include "conf.h"
#include "daemon.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#include "proxyd.h"

#define TERMINATOR	".\r\n"

void
filter_init(struct proxyd *p, const struct conf *cf)
{
	struct ipc_client_cfg	 cc;
	char			*path;

	free(p->hold_dir);
	p->hold_dir = xstrdup(conf_str(cf, "filter_spool_dir"));
	if (p->filterd != NULL || !conf_bool(cf, "filter"))
		return;
	if (mkdir(p->hold_dir, 0700) == -1 && errno != EEXIST)
		log_warn("filter_spool_dir %s", p->hold_dir);
	path = daemon_socket_path(cf, "filter.sock");
	memset(&cc, 0, sizeof(cc));
	cc.path = path;
	cc.name = "warp-proxyd";
	p->filterd = ipc_client_new(p->base, &cc);
	if (p->filterd == NULL)
		log_warnx("filter: cannot set up the client for %s", path);
	free(path);
}

void
filter_free(struct proxyd *p)
{
	if (p->filterd != NULL)
		ipc_client_free(p->filterd);
	p->filterd = NULL;
	free(p->hold_dir);
	p->hold_dir = NULL;
}

void
filter_cleanup(struct session *s)
{
	if (s->held != NULL)
		evbuffer_free(s->held);
	s->held = NULL;
	if (s->hold_fd != -1)
		close(s->hold_fd);
	s->hold_fd = -1;
	if (s->hold_path != NULL) {
		(void)unlink(s->hold_path);
		free(s->hold_path);
		s->hold_path = NULL;
	}
	s->hold_len = 0;
	s->holding = 0;
}

/* Queue warp's own command whose reply is consumed. */
static void
own_command(struct session *s, const char *cmd, int verb)
{
	struct pending	*p;

	if (s->dest == NULL || s->dstate != DS_READY)
		return;
	p = fifo_push(&s->fifo);
	if (p == NULL)
		return;
	p->kind = verb == PV_FDATA ? PEND_RELAY : PEND_OWN;
	p->verb = (uint8_t)verb;
	p->sent_us = warp_mono_us();
	dest_send(s, "|>", cmd, strlen(cmd));
}

/*
 * The client's DATA reached the head of the queue: every earlier reply is
 * known.  With an accepted recipient warp gives its own 354 and holds the
 * message; without one the client gets 554.
 */
int
filter_data_go(struct session *s)
{
	size_t	 i;
	int	 ok = 0;

	if (s->cur != NULL)
		for (i = 0; i < s->cur->nrcpts; i++)
			if (SMTP_IS_2XX(s->cur->rcpts[i].code))
				ok = 1;
	if (!ok)
		return 0;
	filter_cleanup(s);
	s->held = evbuffer_new();
	s->holding = 1;
	return 1;
}

/* Past filter_hold_max the message goes to a file. */
void
filter_hold(struct session *s)
{
	char	*path;
	int	 fd;

	if (s->held == NULL)
		return;
	if (s->hold_fd == -1) {
		if (evbuffer_get_length(s->held) <= s->cfg->filter_hold_max)
			return;
		path = xasprintf("%s/%s.msg", proxyd->hold_dir, s->id);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0640);
		if (fd == -1) {
			/* Keep it in memory (bounded by message_size_limit). */
			log_warn("%s filter spool %s", s->id, path);
			free(path);
			return;
		}
		s->hold_fd = fd;
		s->hold_path = path;
	}
	while (evbuffer_get_length(s->held) > 0) {
		int n = evbuffer_write(s->held, s->hold_fd);

		if (n <= 0) {
			log_warn("%s filter spool write", s->id);
			break;
		}
		s->hold_len += (uint64_t)n;
	}
}

/* Over the size limit while holding: nothing reached the destination. */
void
filter_discard(struct session *s)
{
	filter_cleanup(s);
	own_command(s, "RSET", SMTP_VERB_RSET);
}

static void
verdict_reply(struct session *s, const Warp__FilterVerdict *v, int dflt,
    const char *dflt_enh, const char *dflt_text)
{
	char		 line[512];
	int		 code = dflt;
	const char	*enh = dflt_enh, *text = dflt_text;

	if (v != NULL) {
		if (v->has_code && v->code >= 400 && v->code < 600 &&
		    (v->code / 100) == (unsigned)(dflt / 100))
			code = (int)v->code;
		if (v->enhanced != NULL && v->enhanced[0] != '\0')
			enh = v->enhanced;
		if (v->text != NULL && v->text[0] != '\0')
			text = v->text;
	}
	/* One line, printable: the filter cannot add SMTP lines. */
	snprintf(line, sizeof(line), "%03d %s %s", code, log_printable(enh,
	    strlen(enh)), log_printable(text, strlen(text)));
	session_reply_client(s, "<|", line);
}

/* Relay: DATA to the destination; the message follows its 354. */
static void
filter_relay(struct session *s, const Warp__FilterVerdict *v)
{
	struct evbuffer	*hdrs;
	size_t		 i;

	hdrs = evbuffer_new();
	for (i = 0; v != NULL && i < v->n_add_headers; i++) {
		const char *n = v->add_headers[i]->name;
		const char *val = v->add_headers[i]->value;

		evbuffer_add_printf(hdrs, "%.*s: %.*s\r\n",
		    (int)strcspn(n, "\r\n: "), n, (int)strcspn(val, "\r\n"),
		    val);
	}
	/* They go first; in file mode held keeps only them. */
	if (evbuffer_get_length(hdrs) > 0 && s->held != NULL)
		evbuffer_prepend_buffer(s->held, hdrs);
	evbuffer_free(hdrs);
	own_command(s, "DATA", PV_FDATA);
}

static struct session *
filter_find(uint64_t id)
{
	struct session	*s;

	TAILQ_FOREACH(s, &proxyd->sessions, entry)
		if (s->filter_req == id)
			return s;
	return NULL;
}

struct filter_wait {
	uint64_t	 id;
};

static void
filter_verdict(struct session *s, const Warp__FilterVerdict *v)
{
	const char	*name = "relay";

	if (v == NULL) {
		if (!s->cfg->filter_relay_on_failure) {
			session_notef(s, "filter: no verdict; tempfail");
			free(s->verdict);
			s->verdict = xstrdup("filter-unavailable");
			verdict_reply(s, NULL, 451, "4.3.0", "Message filter "
			    "unavailable, try again later");
			filter_cleanup(s);
			own_command(s, "RSET", SMTP_VERB_RSET);
			s->filtering = 0;
			client_resume(s);
			return;
		}
		session_notef(s, "filter: no verdict; relaying");
		name = "relay-unfiltered";
	} else {
		switch (v->action) {
		case WARP__FILTER_ACTION__FILTER_REJECT:
			name = "reject";
			break;
		case WARP__FILTER_ACTION__FILTER_TEMPFAIL:
			name = "tempfail";
			break;
		case WARP__FILTER_ACTION__FILTER_ADD_HEADER:
			name = "add-header";
			break;
		default:
			name = "relay";
			break;
		}
		session_notef(s, "filter: %s%s%s", name, v->rule ? " rule " :
		    "", v->rule ? log_printable(v->rule, strlen(v->rule)) :
		    "");
	}
	free(s->verdict);
	s->verdict = xstrdup(name);
	if (s->cur != NULL) {
		free(s->cur->verdict);
		s->cur->verdict = xstrdup(name);
	}
	if (strcmp(name, "reject") == 0 || strcmp(name, "tempfail") == 0) {
		if (strcmp(name, "reject") == 0)
			verdict_reply(s, v, 550, "5.7.1", "Message rejected");
		else
			verdict_reply(s, v, 451, "4.7.1", "Message deferred, "
			    "try again later");
		filter_cleanup(s);
		own_command(s, "RSET", SMTP_VERB_RSET);
		s->filtering = 0;
		s->cur = NULL;
		client_resume(s);
		return;
	}
	filter_relay(s, v);
}

static void
filter_reply_cb(const Warp__Frame *f, void *arg)
{
	struct filter_wait	*w = arg;
	struct session		*s = filter_find(w->id);

	free(w);
	if (s == NULL || s->closing)
		return;
	s->filter_req = 0;
	filter_verdict(s, f != NULL && f->body_case ==
	    WARP__FRAME__BODY_FILTER_VERDICT ? f->filter_verdict : NULL);
	session_flush(s);
}

/* End of data while holding: ask warp-filterd. */
void
filter_submit(struct session *s)
{
	Warp__Frame		 f = WARP__FRAME__INIT;
	Warp__FilterRequest	 rq = WARP__FILTER_REQUEST__INIT;
	struct filter_wait	*w;
	struct txn		*t = s->cur;
	char			 caddr[ADDR_STRLEN], daddr[ADDR_STRLEN];
	char			**rcpts = NULL, *msg = NULL;
	size_t			 i, n = 0, len;
	uint64_t		 id = 0;

	s->holding = 0;
	s->filtering = 1;
	session_enter_client(s, CS_WAIT);
	if (s->hold_fd != -1) {
		filter_hold(s);		/* the rest, then drop the ".\r\n" */
		if (s->hold_len >= 3 && ftruncate(s->hold_fd,
		    (off_t)(s->hold_len - 3)) == 0)
			s->hold_len -= 3;
	}
	rq.connection_id = s->id;
	rq.client_addr = (char *)addr_str((struct sockaddr *)&s->client_addr,
	    caddr);
	rq.orig_dst_addr = (char *)addr_str((struct sockaddr *)&s->orig_dst,
	    daddr);
	rq.helo = s->helo;
	rq.has_tls = 1;
	rq.tls = s->client_tls;
	if (t != NULL) {
		rq.mail_from = t->mail_from;
		rq.mail_params = t->mail_params;
		rcpts = xcalloc(t->nrcpts + 1, sizeof(*rcpts));
		for (i = 0; i < t->nrcpts; i++)
			if (SMTP_IS_2XX(t->rcpts[i].code))
				rcpts[n++] = t->rcpts[i].addr;
		rq.n_rcpt_to = n;
		rq.rcpt_to = rcpts;
	}
	rq.has_size = 1;
	rq.size = s->data.bytes;
	if (s->hold_fd != -1)
		rq.message_path = s->hold_path;
	else if (s->held != NULL) {
		len = evbuffer_get_length(s->held);
		len = len >= 3 ? len - 3 : 0;
		msg = xmalloc(len + 1);
		evbuffer_copyout(s->held, msg, len);
		rq.has_message = 1;
		rq.message.data = (uint8_t *)msg;
		rq.message.len = smtp_unstuff(msg, len);
	}
	f.body_case = WARP__FRAME__BODY_FILTER_REQUEST;
	f.filter_request = &rq;
	if (proxyd->filterd != NULL && ipc_client_connected(proxyd->filterd)) {
		w = xcalloc(1, sizeof(*w));
		id = ipc_client_request(proxyd->filterd, &f,
		    s->cfg->filter_timeout_ms, filter_reply_cb, w);
		if (id == 0)
			free(w);
		else
			w->id = id;
	}
	free(rcpts);
	free(msg);
	if (id == 0) {
		filter_verdict(s, NULL);
		return;
	}
	s->filter_req = id;
}

/*
 * The destination answered warp's DATA: on 354 the held message follows
 * (headers first), its end-of-data reply goes to the client.  Anything
 * else is the client's answer.
 */
void
filter_dest_reply(struct session *s, struct pending *p, int code)
{
	struct evbuffer	*out;
	struct pending	*e;

	if (code != 354 || s->dest == NULL) {
		s->filtering = 0;
		filter_cleanup(s);
		return;			/* the caller relays the reply */
	}
	out = bufferevent_get_output(s->dest);
	if (s->held != NULL)
		evbuffer_add_buffer(out, s->held);	/* moves, no copy */
	if (s->hold_fd != -1) {
		/* The file (without ".\r\n") then the terminator. */
		if (evbuffer_add_file(out, s->hold_fd, 0,
		    (ev_off_t)s->hold_len) == 0)
			s->hold_fd = -1;	/* owned by the evbuffer */
		evbuffer_add(out, TERMINATOR, 3);
	}
	session_comm(s, "|>", ".", 1);
	filter_cleanup(s);
	e = fifo_push(&s->fifo);	/* DATA's entry was popped */
	e->kind = PEND_RELAY;
	e->verb = PV_EOD;
	e->sent_us = warp_mono_us();
	e->txn = s->cur != NULL ? (uint32_t)(s->cur - s->txns) : UINT32_MAX;
}
