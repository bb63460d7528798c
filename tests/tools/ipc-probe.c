/*
 * ipc-probe.c -- test client for warp's service sockets (log.sock,
 * filter.sock, route.sock), used by the integration scenarios and by
 * hand.
 *
 *   ipc-probe -s SOCK [-k KIND] [-n N] [-t MS]      N requests, print replies
 *   ipc-probe -s SOCK [-k KIND] -d SECS [-i MS]     one request every MS for
 *                                                   SECS, across restarts
 *   ipc-probe -s SOCK -m MODE                       misbehave, watch the drop
 *   ipc-probe -x PEER                               hex of a Hello frame
 *
 * KIND: filter, route, report, events, wrong (a frame no server expects;
 * the answer must be Error{ERR_PROTOCOL} on a connection that stays up).
 * MODE: garbage, oversize, truncated, badversion, badproto, nohello,
 * nobody, emptyframe, text.
 *
 * The good paths use the real ipc_client (reconnects included); the bad
 * ones use a raw socket.  Exit status: 0 as expected, 1 usage or internal
 * error, 2 cannot connect, 3 missing, late or wrong reply, 4 the server
 * kept a misbehaving connection open, 5 no reply after a reconnect.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "log.h"
#include "util.h"

#define EX_OK		0
#define EX_USAGE	1
#define EX_CONNECT	2
#define EX_REPLY	3
#define EX_KEPT		4
#define EX_NORECOVER	5

static const char	*sock_path;
static const char	*kind = "filter";
static int		 count = 1;
static int		 timeout_ms = 2000;
static int		 duration_s;
static int		 interval_ms = 100;
static int		 quiet;

/* ---- requests of each kind -------------------------------------------------------- */

struct request {
	Warp__Frame		 f;
	Warp__FilterRequest	 filter;
	Warp__RouteRequest	 route;
	Warp__DeliveryReport	 report;
	Warp__EventBatch	 batch;
	Warp__Event		 ev;
	Warp__Event		*evp;
	Warp__CommEvent		 comm;
	Warp__Ack		 ack;
	char			*rcpts[1];
	uint8_t			 data[16];
};

static int
build_request(struct request *r, const char *k, uint32_t seq)
{
	memset(r, 0, sizeof(*r));
	warp__frame__init(&r->f);
	r->rcpts[0] = "probe@example.org";
	if (strcmp(k, "filter") == 0) {
		warp__filter_request__init(&r->filter);
		r->filter.connection_id = "01PROBE0000000000000000000";
		r->filter.client_addr = "192.0.2.1:40000";
		r->filter.helo = "probe.example.com";
		r->filter.mail_from = "sender@example.com";
		r->filter.n_rcpt_to = 1;
		r->filter.rcpt_to = r->rcpts;
		r->filter.has_message = 1;
		r->filter.message.data = (uint8_t *)"Subject: probe\r\n\r\nhi\r\n";
		r->filter.message.len = strlen((char *)r->filter.message.data);
		r->f.body_case = WARP__FRAME__BODY_FILTER_REQUEST;
		r->f.filter_request = &r->filter;
	} else if (strcmp(k, "route") == 0) {
		warp__route_request__init(&r->route);
		r->route.connection_id = "01PROBE0000000000000000000";
		r->route.client_addr = "192.0.2.1:40000";
		r->route.dest_addr = "198.51.100.25";
		r->route.has_dest_port = 1;
		r->route.dest_port = 25;
		r->f.body_case = WARP__FRAME__BODY_ROUTE_REQUEST;
		r->f.route_request = &r->route;
	} else if (strcmp(k, "report") == 0) {
		warp__delivery_report__init(&r->report);
		r->report.connection_id = "01PROBE0000000000000000000";
		r->report.dest_addr = "198.51.100.25:25";
		r->f.body_case = WARP__FRAME__BODY_DELIVERY_REPORT;
		r->f.delivery_report = &r->report;
	} else if (strcmp(k, "events") == 0) {
		warp__comm_event__init(&r->comm);
		r->comm.connection_id = "01PROBE0000000000000000000";
		r->comm.seq = seq;
		r->comm.occurred_at_us = warp_now_us();
		r->comm.direction = "--";
		memcpy(r->data, "ipc-probe", 9);
		r->comm.data.data = r->data;
		r->comm.data.len = 9;
		warp__event__init(&r->ev);
		r->ev.kind_case = WARP__EVENT__KIND_COMM;
		r->ev.comm = &r->comm;
		r->evp = &r->ev;
		warp__event_batch__init(&r->batch);
		r->batch.n_events = 1;
		r->batch.events = &r->evp;
		r->f.body_case = WARP__FRAME__BODY_EVENTS;
		r->f.events = &r->batch;
	} else if (strcmp(k, "wrong") == 0) {
		warp__ack__init(&r->ack);
		r->f.body_case = WARP__FRAME__BODY_ACK;
		r->f.ack = &r->ack;
	} else
		return -1;
	return 0;
}

/* Is this the reply the kind asks for?  Prints it. */
static int
check_reply(const char *k, const Warp__Frame *f)
{
	int ok;

	switch (f->body_case) {
	case WARP__FRAME__BODY_FILTER_VERDICT:
		ok = strcmp(k, "filter") == 0 && f->filter_verdict->action >=
		    WARP__FILTER_ACTION__FILTER_RELAY &&
		    f->filter_verdict->action <=
		    WARP__FILTER_ACTION__FILTER_ADD_HEADER;
		if (!quiet)
			printf("reply %llu: FilterVerdict action=%d code=%u "
			    "rule=%s\n", (unsigned long long)f->id,
			    (int)f->filter_verdict->action,
			    (unsigned)f->filter_verdict->code,
			    f->filter_verdict->rule != NULL ?
			    f->filter_verdict->rule : "");
		return ok;
	case WARP__FRAME__BODY_ROUTE_REPLY:
		if (!quiet)
			printf("reply %llu: RouteReply source=%s pool=%s "
			    "reason=%s\n", (unsigned long long)f->id,
			    f->route_reply->source_addr != NULL ?
			    f->route_reply->source_addr : "",
			    f->route_reply->pool != NULL ?
			    f->route_reply->pool : "",
			    f->route_reply->reason != NULL ?
			    f->route_reply->reason : "");
		return strcmp(k, "route") == 0;
	case WARP__FRAME__BODY_ACK:
		if (!quiet)
			printf("reply %llu: Ack count=%u\n",
			    (unsigned long long)f->id,
			    (unsigned)f->ack->count);
		return strcmp(k, "report") == 0 || strcmp(k, "events") == 0;
	case WARP__FRAME__BODY_ERROR:
		if (!quiet)
			printf("reply %llu: Error code=%u text=%s\n",
			    (unsigned long long)f->id,
			    (unsigned)f->error->code, f->error->text != NULL ?
			    f->error->text : "");
		return strcmp(k, "wrong") == 0 && f->error->code ==
		    WARP__ERROR_CODE__ERR_PROTOCOL;
	default:
		if (!quiet)
			printf("reply %llu: unexpected body %d\n",
			    (unsigned long long)f->id, (int)f->body_case);
		return 0;
	}
}

/* ---- good paths: the real client ---------------------------------------------------- */

struct run {
	struct event_base	*base;
	struct ipc_client	*cli;
	struct event		*tick;
	int			 connects, disconnects;
	int			 sent, replies, bad, failed;
	int			 after_reconnect;	/* replies while connects > 1 */
	int			 outstanding;
	uint32_t		 seq;
};

static void
on_state(struct ipc_client *cli, int up, void *arg)
{
	struct run *r = arg;

	if (up)
		r->connects++;
	else
		r->disconnects++;
	if (!quiet)
		printf("%s\n", up ? "connected" : "disconnected");
	fflush(stdout);
	if (up && duration_s == 0)
		event_base_loopbreak(r->base);
}

static void
on_reply(const Warp__Frame *f, void *arg)
{
	struct run *r = arg;

	r->outstanding--;
	if (f == NULL)
		r->failed++;
	else if (!check_reply(kind, f))
		r->bad++;
	else {
		r->replies++;
		if (r->connects > 1)
			r->after_reconnect++;
	}
	if (duration_s == 0 && r->outstanding == 0)
		event_base_loopbreak(r->base);
}

static int
send_one(struct run *r)
{
	struct request req;

	build_request(&req, kind, ++r->seq);
	if (ipc_client_request(r->cli, &req.f, timeout_ms, on_reply, r) == 0)
		return -1;
	r->sent++;
	r->outstanding++;
	return 0;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	send_one(arg);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static int
run_client(void)
{
	struct ipc_client_cfg	 cfg;
	struct run		 r;
	struct event		*deadline;
	struct timeval		 tv;
	int			 i, rc;

	memset(&r, 0, sizeof(r));
	r.base = event_base_new();
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = sock_path;
	cfg.name = "ipc-probe";
	cfg.backoff_min_ms = 50;
	cfg.backoff_max_ms = 500;
	cfg.on_state = on_state;
	cfg.arg = &r;
	if ((r.cli = ipc_client_new(r.base, &cfg)) == NULL)
		return EX_USAGE;
	deadline = evtimer_new(r.base, on_deadline, r.base);

	if (duration_s > 0) {
		tv.tv_sec = interval_ms / 1000;
		tv.tv_usec = (interval_ms % 1000) * 1000;
		r.tick = event_new(r.base, -1, EV_PERSIST, on_tick, &r);
		event_add(r.tick, &tv);
		tv.tv_sec = duration_s;
		tv.tv_usec = 0;
		evtimer_add(deadline, &tv);
		event_base_dispatch(r.base);
		event_free(r.tick);
	} else {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		evtimer_add(deadline, &tv);
		event_base_dispatch(r.base);
		if (!ipc_client_connected(r.cli)) {
			fprintf(stderr, "ipc-probe: cannot connect to %s\n",
			    sock_path);
			return EX_CONNECT;
		}
		for (i = 0; i < count; i++)
			if (send_one(&r) == -1)
				break;
		evtimer_add(deadline, &tv);
		if (r.outstanding > 0)
			event_base_dispatch(r.base);
	}
	event_free(deadline);
	ipc_client_free(r.cli);		/* anything pending counts as failed */
	printf("sent=%d replies=%d bad=%d failed=%d connects=%d "
	    "disconnects=%d after_reconnect=%d\n", r.sent, r.replies, r.bad,
	    r.failed, r.connects, r.disconnects, r.after_reconnect);
	event_base_free(r.base);

	if (r.connects == 0)
		rc = EX_CONNECT;
	else if (r.bad > 0 || r.replies == 0)
		rc = EX_REPLY;
	else if (duration_s == 0 && (r.replies != count ||
	    r.disconnects > 0))
		rc = EX_REPLY;
	else if (duration_s > 0 && r.connects > 1 && r.after_reconnect == 0)
		rc = EX_NORECOVER;
	else
		rc = EX_OK;
	return rc;
}

/* ---- bad paths: a raw socket --------------------------------------------------------- */

static int
raw_connect(void)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	warp_strlcpy(sun.sun_path, sock_path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
raw_write(int fd, const void *p, size_t n)
{
	return write(fd, p, n) == (ssize_t)n ? 0 : -1;
}

static int
raw_frame(int fd, const Warp__Frame *f)
{
	uint8_t	*p;
	size_t	 n;
	int	 rc;

	p = ipc_encode_alloc(f, &n);
	rc = raw_write(fd, p, n);
	free(p);
	return rc;
}

static int
raw_hello(int fd, const char *protocol, uint32_t version)
{
	Warp__Frame	f;
	Warp__Hello	h;

	ipc_hello_init(&f, &h, "ipc-probe");
	h.protocol = (char *)protocol;
	h.version = version;
	return raw_frame(fd, &f);
}

/*
 * Read what the server says until it closes or timeout_ms pass.  Returns
 * 1 when it closed; *errcode gets the code of an Error frame seen (0 if
 * none), *hello whether its Hello came.
 */
static int
raw_watch(int fd, uint32_t *errcode, int *hello)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	static uint8_t	 buf[65536];
	Warp__Frame	*f;
	const char	*err;
	size_t		 have = 0, used;
	int64_t		 end = warp_mono_us() + (int64_t)timeout_ms * 1000;
	ssize_t		 n;
	int		 left;

	*errcode = 0;
	*hello = 0;
	for (;;) {
		left = (int)((end - warp_mono_us()) / 1000);
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return 0;
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			return 1;
		have += n;
		while (ipc_decode(buf, have, 0, &f, &used, &err) ==
		    IPC_DECODE_FRAME) {
			if (f->body_case == WARP__FRAME__BODY_HELLO)
				*hello = 1;
			else if (f->body_case == WARP__FRAME__BODY_ERROR) {
				*errcode = f->error->code;
				if (!quiet)
					printf("server: Error code=%u text=%s\n",
					    (unsigned)f->error->code,
					    f->error->text != NULL ?
					    f->error->text : "");
			}
			ipc_frame_free(f);
			memmove(buf, buf + used, have - used);
			have -= used;
		}
	}
}

static int
run_bad(const char *mode)
{
	static const uint8_t garbage[] = {
		0x00, 0x00, 0x00, 0x10, 0xff, 0xfe, 0x13, 0x37, 0x00, 0x0a,
		0x8f, 0x8f, 0x8f, 0x8f, 0x8f, 0x8f, 0x8f, 0x8f, 0x8f, 0x8f
	};
	static const uint8_t oversize[] = { 0x7f, 0xff, 0xff, 0xff, 1, 2, 3 };
	static const uint8_t truncated[] = { 0x00, 0x00, 0x00, 0x64, 0x52,
		0x10, 0x0a, 0x04, 'w', 'a', 'r', 'p' };
	static const uint8_t empty[] = { 0, 0, 0, 0 };
	static const char text[] = "EHLO probe.example.com\r\n";
	Warp__Frame	 f = WARP__FRAME__INIT;
	struct request	 req;
	uint32_t	 want = WARP__ERROR_CODE__ERR_PROTOCOL, got;
	int		 fd, closed, hello, rc = 0;

	if ((fd = raw_connect()) == -1) {
		fprintf(stderr, "ipc-probe: %s: %s\n", sock_path,
		    strerror(errno));
		return EX_CONNECT;
	}
	if (strcmp(mode, "badversion") == 0) {
		rc = raw_hello(fd, IPC_PROTOCOL, IPC_VERSION + 98);
		want = WARP__ERROR_CODE__ERR_VERSION;
	} else if (strcmp(mode, "badproto") == 0)
		rc = raw_hello(fd, "smtp", IPC_VERSION);
	else if (strcmp(mode, "nohello") == 0) {
		build_request(&req, "filter", 1);
		req.f.has_id = 1;
		req.f.id = 1;
		rc = raw_frame(fd, &req.f);
	} else if (strcmp(mode, "text") == 0) {
		rc = raw_write(fd, text, sizeof(text) - 1);
		want = WARP__ERROR_CODE__ERR_TOO_LARGE;
	} else {
		rc = raw_hello(fd, IPC_PROTOCOL, IPC_VERSION);
		if (rc == 0 && strcmp(mode, "garbage") == 0)
			rc = raw_write(fd, garbage, sizeof(garbage));
		else if (rc == 0 && strcmp(mode, "oversize") == 0) {
			rc = raw_write(fd, oversize, sizeof(oversize));
			want = WARP__ERROR_CODE__ERR_TOO_LARGE;
		} else if (rc == 0 && strcmp(mode, "nobody") == 0) {
			f.has_id = 1;
			f.id = 9;
			rc = raw_frame(fd, &f);
		} else if (rc == 0 && strcmp(mode, "emptyframe") == 0)
			rc = raw_write(fd, empty, sizeof(empty));
		else if (rc == 0 && strcmp(mode, "truncated") == 0) {
			/* Promise 100 bytes, send 8, hang up. */
			rc = raw_write(fd, truncated, sizeof(truncated));
			close(fd);
			printf("sent a truncated frame and closed\n");
			return rc == 0 ? EX_OK : EX_CONNECT;
		} else if (rc == 0) {
			fprintf(stderr, "ipc-probe: unknown mode %s\n", mode);
			close(fd);
			return EX_USAGE;
		}
	}
	if (rc == -1) {
		fprintf(stderr, "ipc-probe: write: %s\n", strerror(errno));
		close(fd);
		return EX_CONNECT;
	}
	closed = raw_watch(fd, &got, &hello);
	close(fd);
	if (!closed) {
		printf("%s: the server kept the connection open\n", mode);
		return EX_KEPT;
	}
	printf("%s: dropped by the server after Error code=%u (want %u)\n",
	    mode, (unsigned)got, (unsigned)want);
	return got == want ? EX_OK : EX_REPLY;
}

/* ---- Hello in hex, for docs/PROTOCOL.md ------------------------------------------------ */

static int
print_hello(const char *peer)
{
	Warp__Frame	 f;
	Warp__Hello	 h;
	uint8_t		*p;
	size_t		 n, i;

	ipc_hello_init(&f, &h, peer);
	h.pid = 1234;
	p = ipc_encode_alloc(&f, &n);
	for (i = 0; i < n; i++)
		printf("%02x%s", p[i], (i + 1) % 16 == 0 || i + 1 == n ?
		    "\n" : " ");
	free(p);
	return EX_OK;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ipc-probe -s socket [-k filter|route|report|"
	    "events|wrong] [-n count] [-t ms] [-d seconds] [-i ms] [-q] "
	    "[-v]\n"
	    "       ipc-probe -s socket -m garbage|oversize|truncated|"
	    "badversion|badproto|nohello|nobody|emptyframe|text\n"
	    "       ipc-probe -x peer\n");
	exit(EX_USAGE);
}

int
main(int argc, char **argv)
{
	struct request	 req;
	const char	*mode = NULL;
	int		 ch, verbose = 0;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "s:k:n:t:d:i:m:x:qv")) != -1) {
		switch (ch) {
		case 's': sock_path = optarg; break;
		case 'k': kind = optarg; break;
		case 'n': count = atoi(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		case 'd': duration_s = atoi(optarg); break;
		case 'i': interval_ms = atoi(optarg); break;
		case 'm': mode = optarg; break;
		case 'x': return print_hello(optarg);
		case 'q': quiet = 1; break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (sock_path == NULL || count < 1 || timeout_ms < 1 ||
	    interval_ms < 1 || build_request(&req, kind, 0) == -1)
		usage();
	log_init("ipc-probe", 1, 0);
	log_setlevel(verbose ? LOG_DEBUG : LOG_WARNING);
	if (mode != NULL)
		return run_bad(mode);
	return run_client();
}
