/*
 * logd-feed -- load generator and bad-input peer for warp-logd.
 *
 *   logd-feed -s SOCK [-n events] [-b per-batch] [-w window] [-c comms-per-conn]
 *             [-d data-bytes] [-S seed] [-u] [-T timeout-s] [-q]
 *   logd-feed -s SOCK -m garbage|nohello|oversize|badproto|badevent|wrongkind
 *
 * Normal mode connects to log.sock through ipc.h, does the Hello, and sends
 * N events (per connection: C comm events with realistic SMTP lines, then
 * one conn event with several recipients) in EventBatch frames of B
 * events, keeping W batches in flight.  Events are a pure function of
 * (seed, index), so a batch that is not acknowledged (timeout, warp-logd
 * killed) is regenerated and sent again after the reconnect: the feeder is
 * an at-least-once client like warp-proxyd.  At the end it prints
 * "events=N batches=M resent=R seconds=S events_per_s=E".  -u puts invalid
 * UTF-8, NUL and control bytes into the data.
 *
 * The -m modes speak the wire protocol by hand with a blocking socket and
 * exit 0 when warp-logd reacted as it must (dropped the peer, or acked
 * only the valid events).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "util.h"

static const char	*sock_path;
static uint64_t		 nevents = 100000;
static unsigned		 per_batch = 500;
static unsigned		 window = 8;
static unsigned		 comms = 12;
static unsigned		 data_len = 60;
static unsigned		 seed = 1;
static int		 bad_utf8;
static int		 quiet;
static int		 timeout_s = 60;

static struct event_base *base;
static struct ipc_client *cli;
static uint64_t		 nbatches, next_batch, acked_batches, acked_events;
static uint64_t		 resent;
static uint64_t		*redo;		/* batch numbers to send again */
static size_t		 nredo;
static unsigned		 inflight;
static int64_t		 t_start, t_end;
static struct event	*retry_ev;
static unsigned char	*acked_map;

static const char *const dirs[] = { ">|", "|>", "|<", "<|", "->", "<-" };

/* ---- events as a function of their index --------------------------------- */

static void
conn_id(uint64_t conn, char out[27])
{
	snprintf(out, 27, "F%05X%020llu", seed & 0xfffff,
	    (unsigned long long)conn);
}

struct gen {
	Warp__Event		*ev;
	Warp__CommEvent		*comm;
	Warp__ConnEvent		*conn;
	Warp__Transaction	*txn, **tp;
	Warp__Recipient		*rc, **rcp;
	char			*strs;
	size_t			 stroff, strcap;
	Warp__Event		**evp;
};

static char *
gstr(struct gen *g, const char *s, size_t n)
{
	char	*p;

	if (g->stroff + n + 1 > g->strcap)
		abort();	/* sized generously below */
	p = g->strs + g->stroff;
	memcpy(p, s, n);
	p[n] = '\0';
	g->stroff += n + 1;
	return p;
}

static void
fill_data(char *buf, size_t *lenp, uint64_t i, unsigned seq)
{
	static const char *const lines[] = {
		"EHLO client.example.org",
		"250-mx.example.net Hello client.example.org\r\n250-PIPELINING\r\n250 8BITMIME",
		"MAIL FROM:<sender@example.org> SIZE=",
		"250 2.1.0 Ok",
		"RCPT TO:<rcpt@example.net> ",
		"250 2.1.5 Ok",
		"DATA",
		"354 End data with <CR><LF>.<CR><LF>",
		"250 2.0.0 Ok: queued as ",
		"QUIT",
		"221 2.0.0 Bye",
	};
	size_t	 n;

	n = (size_t)snprintf(buf, 512, "%s %llu", lines[seq % WARP_NELEM(lines)],
	    (unsigned long long)i);
	while (n < data_len && n < 400) {
		buf[n] = (char)('a' + (i + n) % 26);
		n++;
	}
	if (bad_utf8 && seq % 3 == 0) {
		static const char bad[] = "\xff\xfe\xc3\x28\x00\x01\x1b[31m\"\\\xe2\x82";
		memcpy(buf + n, bad, sizeof(bad) - 1);
		n += sizeof(bad) - 1;
	}
	*lenp = n;
}

/* Build batch k into g (arrays sized for per_batch events). */
static void
gen_batch(struct gen *g, uint64_t k, Warp__EventBatch *eb)
{
	uint64_t	 i, first = k * per_batch, last;
	size_t		 n = 0, nc = 0, nn = 0, len;
	char		 cid[27], buf[512], tmp[256];
	int64_t		 now = warp_now_us();

	last = WARP_MIN(first + per_batch, nevents);
	g->stroff = 0;
	for (i = first; i < last; i++, n++) {
		uint64_t conn = i / (comms + 1);
		unsigned p = (unsigned)(i % (comms + 1));

		conn_id(conn, cid);
		warp__event__init(&g->ev[n]);
		g->evp[n] = &g->ev[n];
		if (p < comms) {
			Warp__CommEvent *c = &g->comm[nc++];

			warp__comm_event__init(c);
			c->connection_id = gstr(g, cid, 26);
			c->seq = p + 1;
			c->occurred_at_us = now;
			c->direction = (char *)dirs[p % WARP_NELEM(dirs)];
			fill_data(buf, &len, conn, p);
			c->data.data = (uint8_t *)gstr(g, buf, len);
			c->data.len = len;
			g->ev[n].kind_case = WARP__EVENT__KIND_COMM;
			g->ev[n].comm = c;
		} else {
			Warp__ConnEvent *c = &g->conn[nn];
			Warp__Transaction *t = &g->txn[nn];
			Warp__Recipient **rp = &g->rcp[nn * 3];
			int r;

			warp__conn_event__init(c);
			warp__transaction__init(t);
			c->connection_id = gstr(g, cid, 26);
			c->seq = comms + 1;
			c->occurred_at_us = now - 1000;
			len = (size_t)snprintf(tmp, sizeof(tmp),
			    "sender%llu@example.org", (unsigned long long)conn);
			c->mail_from = t->mail_from = gstr(g, tmp, len);
			len = (size_t)snprintf(tmp, sizeof(tmp),
			    "rcpt%llu@example.net,a%llu@example.net,b%llu@example.net",
			    (unsigned long long)conn, (unsigned long long)conn,
			    (unsigned long long)conn);
			c->mail_to = gstr(g, tmp, len);
			c->elapse_ms = 10 + (int64_t)(conn % 90);
			c->client_addr = "127.0.0.1:40000";
			c->orig_dst_addr = "192.0.2.25:25";
			c->outbound_addr = "192.0.2.1";
			c->helo = "client.example.org";
			c->has_message_count = 1;
			c->message_count = 1;
			c->has_bytes_total = 1;
			c->bytes_total = 1234;
			c->has_final_code = 1;
			c->final_code = 250;
			c->final_text = "2.0.0 Ok: queued";
			c->close_reason = "quit";
			c->verdict = "relay";
			for (r = 0; r < 3; r++) {
				Warp__Recipient *rc = &g->rc[nn * 3 + r];

				warp__recipient__init(rc);
				len = (size_t)snprintf(tmp, sizeof(tmp),
				    "%s%llu@example.net", r == 0 ? "rcpt" :
				    r == 1 ? "a" : "b", (unsigned long long)conn);
				rc->address = gstr(g, tmp, len);
				rc->has_code = 1;
				rc->code = 250;
				rc->text = "2.1.5 Ok";
				rp[r] = rc;
			}
			t->rcpts = rp;
			t->n_rcpts = 3;
			t->has_size = 1;
			t->size = 1234;
			t->has_final_code = 1;
			t->final_code = 250;
			t->final_text = "2.0.0 Ok: queued";
			g->tp[nn] = t;
			c->transactions = &g->tp[nn];
			c->n_transactions = 1;
			g->ev[n].kind_case = WARP__EVENT__KIND_CONN;
			g->ev[n].conn = c;
			nn++;
		}
	}
	warp__event_batch__init(eb);
	eb->events = g->evp;
	eb->n_events = n;
}

static struct gen *
gen_new(void)
{
	struct gen	*g = xcalloc(1, sizeof(*g));

	g->ev = xcalloc(per_batch, sizeof(*g->ev));
	g->evp = xcalloc(per_batch, sizeof(*g->evp));
	g->comm = xcalloc(per_batch, sizeof(*g->comm));
	g->conn = xcalloc(per_batch, sizeof(*g->conn));
	g->txn = xcalloc(per_batch, sizeof(*g->txn));
	g->tp = xcalloc(per_batch, sizeof(*g->tp));
	g->rc = xcalloc(per_batch * 3, sizeof(*g->rc));
	g->rcp = xcalloc(per_batch * 3, sizeof(*g->rcp));
	g->strcap = (size_t)per_batch * 1024;
	g->strs = xmalloc(g->strcap);
	return g;
}

/* ---- normal mode ---------------------------------------------------------------- */

static struct gen *G;

static void	 pump(void);

static void
finish(void)
{
	t_end = warp_mono_us();
	event_base_loopexit(base, NULL);
}

static void
reply_cb(const Warp__Frame *r, void *arg)
{
	uint64_t	 k = (uint64_t)(uintptr_t)arg;

	inflight--;
	if (r != NULL && r->body_case == WARP__FRAME__BODY_ACK) {
		if (!acked_map[k]) {
			acked_map[k] = 1;
			acked_batches++;
			acked_events += r->ack->has_count ? r->ack->count : 0;
		}
	} else {
		/* lost, timed out or refused: send it again later */
		redo = xreallocarray(redo, nredo + 1, sizeof(*redo));
		redo[nredo++] = k;
		resent++;
		if (r != NULL && r->body_case == WARP__FRAME__BODY_ERROR &&
		    !quiet)
			fprintf(stderr, "logd-feed: batch %llu refused: %s\n",
			    (unsigned long long)k, r->error->text ?
			    r->error->text : "?");
	}
	if (acked_batches == nbatches) {
		finish();
		return;
	}
	pump();
}

static int
send_batch(uint64_t k)
{
	Warp__Frame		 f = WARP__FRAME__INIT;
	Warp__EventBatch	 eb;
	uint64_t		 id;

	gen_batch(G, k, &eb);
	f.body_case = WARP__FRAME__BODY_EVENTS;
	f.events = &eb;
	id = ipc_client_request(cli, &f, 10000, reply_cb,
	    (void *)(uintptr_t)k);
	if (id == 0)
		return -1;
	inflight++;
	return 0;
}

static void
pump(void)
{
	uint64_t	 k;
	struct timeval	 tv = { 0, 200000 };

	while (ipc_client_connected(cli) && inflight < window) {
		if (nredo > 0) {
			k = redo[0];
			if (acked_map[k]) {
				memmove(redo, redo + 1, --nredo * sizeof(*redo));
				continue;
			}
			if (send_batch(k) == -1)
				break;
			memmove(redo, redo + 1, --nredo * sizeof(*redo));
		} else if (next_batch < nbatches) {
			if (send_batch(next_batch) == -1)
				break;
			next_batch++;
		} else
			break;
	}
	if (nredo > 0 && inflight == 0)
		evtimer_add(retry_ev, &tv);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	pump();
}

static void
state_cb(struct ipc_client *c, int connected, void *arg)
{
	if (connected && t_start == 0)
		t_start = warp_mono_us();
	if (connected)
		pump();
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	fprintf(stderr, "logd-feed: timed out after %d s: %llu of %llu "
	    "batches acknowledged\n", timeout_s,
	    (unsigned long long)acked_batches, (unsigned long long)nbatches);
	exit(1);
}

static int
run_normal(void)
{
	struct ipc_client_cfg	 cfg;
	struct event		*deadline;
	struct timeval		 tv = { timeout_s, 0 };
	double			 secs;

	nbatches = (nevents + per_batch - 1) / per_batch;
	acked_map = xcalloc(nbatches + 1, 1);
	G = gen_new();
	base = event_base_new();
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = sock_path;
	cfg.name = "logd-feed";
	cfg.backoff_min_ms = 50;
	cfg.backoff_max_ms = 500;
	cfg.on_state = state_cb;
	cli = ipc_client_new(base, &cfg);
	retry_ev = evtimer_new(base, retry_cb, NULL);
	deadline = evtimer_new(base, deadline_cb, NULL);
	evtimer_add(deadline, &tv);
	if (nbatches == 0)
		return 0;
	event_base_dispatch(base);
	secs = (double)(t_end - t_start) / 1e6;
	if (secs <= 0)
		secs = 1e-6;
	printf("events=%llu batches=%llu acked_events=%llu resent=%llu "
	    "seconds=%.3f events_per_s=%.0f\n", (unsigned long long)nevents,
	    (unsigned long long)nbatches, (unsigned long long)acked_events,
	    (unsigned long long)resent, secs, (double)nevents / secs);
	ipc_client_free(cli);
	event_free(deadline);
	event_free(retry_ev);
	event_base_free(base);
	return 0;
}

/* ---- bad-input modes --------------------------------------------------------------- */

static int
raw_connect(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	warp_strlcpy(sun.sun_path, sock_path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("connect");
		exit(2);
	}
	return fd;
}

static void
raw_write(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n) {
		/* the daemon may already have dropped us: that is fine */
	}
}

static void
raw_frame(int fd, const Warp__Frame *f)
{
	size_t	 n;
	uint8_t	*p = ipc_encode_alloc(f, &n);

	raw_write(fd, p, n);
	free(p);
}

/* Read one frame (or EOF: NULL) within 5 s. */
static Warp__Frame *
raw_read(int fd)
{
	uint8_t		 buf[65536];
	size_t		 len = 0, used;
	Warp__Frame	*f;
	const char	*err;
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	ssize_t		 n;

	for (;;) {
		if (ipc_decode(buf, len, sizeof(buf), &f, &used, &err) ==
		    IPC_DECODE_FRAME)
			return f;
		if (poll(&pfd, 1, 5000) <= 0)
			return NULL;
		if ((n = read(fd, buf + len, sizeof(buf) - len)) <= 0)
			return NULL;
		len += (size_t)n;
	}
}

/* After the Hello, the daemon must end the conversation (Error + close). */
static int
expect_drop(int fd, const char *what)
{
	Warp__Frame	*f;
	int		 n = 0;

	while ((f = raw_read(fd)) != NULL) {
		if (f->body_case == WARP__FRAME__BODY_ACK) {
			fprintf(stderr, "%s: got an Ack, expected a drop\n", what);
			ipc_frame_free(f);
			return 1;
		}
		ipc_frame_free(f);
		if (++n > 3)
			break;
	}
	/* EOF: dropped */
	if (read(fd, &n, 1) > 0) {
		fprintf(stderr, "%s: connection still open\n", what);
		return 1;
	}
	printf("%s: dropped as expected\n", what);
	return 0;
}

static int
raw_hello(int fd)
{
	Warp__Frame	 f;
	Warp__Hello	 h;
	Warp__Frame	*r;

	ipc_hello_init(&f, &h, "logd-feed");
	raw_frame(fd, &f);
	if ((r = raw_read(fd)) == NULL || r->body_case !=
	    WARP__FRAME__BODY_HELLO) {
		fprintf(stderr, "no Hello from the daemon\n");
		return -1;
	}
	ipc_frame_free(r);
	return 0;
}

static int
run_bad(const char *mode)
{
	int	 fd = raw_connect();

	if (strcmp(mode, "garbage") == 0) {
		raw_write(fd, "\x00\x00\x00\x10GARBAGEGARBAGE!!", 20);
		return expect_drop(fd, mode);
	}
	if (strcmp(mode, "nohello") == 0) {
		Warp__Frame f = WARP__FRAME__INIT;
		Warp__EventBatch eb = WARP__EVENT_BATCH__INIT;

		f.body_case = WARP__FRAME__BODY_EVENTS;
		f.events = &eb;
		raw_frame(fd, &f);
		return expect_drop(fd, mode);
	}
	if (raw_hello(fd) == -1)
		return 1;
	if (strcmp(mode, "oversize") == 0) {
		uint8_t hdr[4] = { 0x7f, 0xff, 0xff, 0xff };

		raw_write(fd, hdr, 4);
		return expect_drop(fd, mode);
	}
	if (strcmp(mode, "badproto") == 0) {
		raw_write(fd, "\x00\x00\x00\x08\xff\xff\xff\xff\xff\xff\xff\xff",
		    12);
		return expect_drop(fd, mode);
	}
	if (strcmp(mode, "wrongkind") == 0) {
		Warp__Frame f = WARP__FRAME__INIT;
		Warp__RouteReply rr = WARP__ROUTE_REPLY__INIT;

		f.has_id = 1;
		f.id = 7;
		f.body_case = WARP__FRAME__BODY_ROUTE_REPLY;
		f.route_reply = &rr;
		raw_frame(fd, &f);
		return expect_drop(fd, mode);
	}
	if (strcmp(mode, "badevent") == 0) {
		/* one valid comm, one event without a kind, one with a bad id:
		 * the daemon must store the valid one and ack count=1 */
		Warp__Frame f = WARP__FRAME__INIT;
		Warp__EventBatch eb = WARP__EVENT_BATCH__INIT;
		Warp__Event e[3], *ep[3];
		Warp__CommEvent c[2];
		Warp__Frame *r;
		char cid[27];

		conn_id(999999, cid);
		warp__event__init(&e[0]);
		warp__event__init(&e[1]);
		warp__event__init(&e[2]);
		warp__comm_event__init(&c[0]);
		warp__comm_event__init(&c[1]);
		c[0].connection_id = cid;
		c[0].seq = 1;
		c[0].occurred_at_us = warp_now_us();
		c[0].direction = ">|";
		c[0].data.data = (uint8_t *)"NOOP";
		c[0].data.len = 4;
		c[1] = c[0];
		c[1].connection_id = "bad id\n{\"injected\":1}";
		e[0].kind_case = WARP__EVENT__KIND_COMM;
		e[0].comm = &c[0];
		e[2].kind_case = WARP__EVENT__KIND_COMM;
		e[2].comm = &c[1];
		ep[0] = &e[0]; ep[1] = &e[1]; ep[2] = &e[2];
		eb.events = ep;
		eb.n_events = 3;
		f.has_id = 1;
		f.id = 42;
		f.body_case = WARP__FRAME__BODY_EVENTS;
		f.events = &eb;
		raw_frame(fd, &f);
		if ((r = raw_read(fd)) == NULL ||
		    r->body_case != WARP__FRAME__BODY_ACK || r->id != 42 ||
		    !r->ack->has_count || r->ack->count != 1) {
			fprintf(stderr, "badevent: expected Ack id 42 count 1\n");
			return 1;
		}
		ipc_frame_free(r);
		printf("badevent: valid event acked, malformed ones dropped\n");
		return 0;
	}
	fprintf(stderr, "unknown mode %s\n", mode);
	return 2;
}

static void
usage(void)
{
	fprintf(stderr, "usage: logd-feed -s sock [-n events] [-b batch] "
	    "[-w window] [-c comms] [-d bytes] [-S seed] [-u] [-T secs] [-q]\n"
	    "       logd-feed -s sock -m garbage|nohello|oversize|badproto|"
	    "badevent|wrongkind\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char	*mode = NULL;
	int		 ch;

	/* warp-logd killed mid-stream (logd_restart) must be a reconnect,
	 * not a silent death by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	log_init("logd-feed", 1, 0);
	log_setlevel(LOG_WARNING);
	while ((ch = getopt(argc, argv, "s:n:b:w:c:d:S:uT:qm:")) != -1) {
		switch (ch) {
		case 's': sock_path = optarg; break;
		case 'n': nevents = strtoull(optarg, NULL, 10); break;
		case 'b': per_batch = (unsigned)atoi(optarg); break;
		case 'w': window = (unsigned)atoi(optarg); break;
		case 'c': comms = (unsigned)atoi(optarg); break;
		case 'd': data_len = (unsigned)atoi(optarg); break;
		case 'S': seed = (unsigned)atoi(optarg); break;
		case 'u': bad_utf8 = 1; break;
		case 'T': timeout_s = atoi(optarg); break;
		case 'q': quiet = 1; break;
		case 'm': mode = optarg; break;
		default: usage();
		}
	}
	if (sock_path == NULL || per_batch == 0 || window == 0 || data_len > 400)
		usage();
	if (mode != NULL)
		return run_bad(mode);
	return run_normal();
}
