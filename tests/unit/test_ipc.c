/*
 * test_ipc.c -- unit tests for common/ipc.c: the pure frame decoder
 * (round trip, size limit before allocation, truncation, garbage, missing
 * body, Hello checks) and a real server and client on a Unix socket in a
 * private directory, driven by one event_base.
 */
#include "unit.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "arena.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

/* ---- pure framing ------------------------------------------------------------- */

static uint8_t *
sample_frame(size_t *lenp)
{
	Warp__Frame		 f = WARP__FRAME__INIT;
	Warp__FilterRequest	 r = WARP__FILTER_REQUEST__INIT;
	char			*rcpts[] = { "a@example.org", "b@example.net" };

	r.connection_id = "01HZZZZZZZZZZZZZZZZZZZZZZZ";
	r.helo = "mx.example.com";
	r.mail_from = "sender@example.com";
	r.n_rcpt_to = 2;
	r.rcpt_to = rcpts;
	r.has_size = 1;
	r.size = 12345;
	f.has_id = 1;
	f.id = 77;
	f.body_case = WARP__FRAME__BODY_FILTER_REQUEST;
	f.filter_request = &r;
	return ipc_encode_alloc(&f, lenp);
}

static void
test_roundtrip(void **state)
{
	Warp__Frame	*out;
	struct evbuffer	*eb;
	const char	*err = NULL;
	uint8_t		*buf;
	size_t		 len, used = 0;

	buf = sample_frame(&len);
	assert_non_null(buf);
	assert_int_equal(ipc_decode(buf, len, 0, &out, &used, &err),
	    IPC_DECODE_FRAME);
	assert_int_equal(used, len);
	assert_int_equal(out->id, 77);
	assert_int_equal(out->body_case, WARP__FRAME__BODY_FILTER_REQUEST);
	assert_string_equal(out->filter_request->mail_from,
	    "sender@example.com");
	assert_int_equal(out->filter_request->n_rcpt_to, 2);
	assert_string_equal(out->filter_request->rcpt_to[1], "b@example.net");
	assert_int_equal(out->filter_request->size, 12345);

	/* The evbuffer encoder writes the same bytes. */
	eb = evbuffer_new();
	assert_int_equal(ipc_encode(eb, out), 0);
	assert_int_equal(evbuffer_get_length(eb), len);
	assert_memory_equal(evbuffer_pullup(eb, -1), buf, len);
	evbuffer_free(eb);
	ipc_frame_free(out);

	/* Two frames back to back: the first is consumed alone. */
	buf = xrealloc(buf, 2 * len);
	memcpy(buf + len, buf, len);
	assert_int_equal(ipc_decode(buf, 2 * len, 0, &out, &used, &err),
	    IPC_DECODE_FRAME);
	assert_int_equal(used, len);
	ipc_frame_free(out);
	free(buf);
}

static void
test_oversized(void **state)
{
	/* Header says 4 GB; only the header is present.  The answer must
	 * be BAD at once (not MORE: nothing is waited for or allocated). */
	uint8_t		 huge[4] = { 0xff, 0xff, 0xff, 0xff };
	uint8_t		 over[4] = { 0x01, 0x00, 0x00, 0x01 };	/* 16M+1 */
	uint8_t		 small[4] = { 0x00, 0x00, 0x00, 0x65 };	/* 101 */
	Warp__Frame	*out = (Warp__Frame *)1;
	const char	*err = NULL;
	size_t		 used = 0;

	assert_int_equal(ipc_decode(huge, 4, 0, &out, &used, &err),
	    IPC_DECODE_BAD);
	assert_null(out);
	assert_string_equal(err, "frame too large");
	assert_int_equal(ipc_decode(over, 4, 0, &out, &used, &err),
	    IPC_DECODE_BAD);
	/* A caller's smaller limit applies too. */
	assert_int_equal(ipc_decode(small, 4, 100, &out, &used, &err),
	    IPC_DECODE_BAD);
	assert_int_equal(ipc_decode(small, 4, 101, &out, &used, &err),
	    IPC_DECODE_MORE);
}

static void
test_truncated(void **state)
{
	Warp__Frame	*out;
	const char	*err;
	uint8_t		*buf;
	size_t		 len, i, used;

	buf = sample_frame(&len);
	for (i = 0; i < len; i++)
		assert_int_equal(ipc_decode(buf, i, 0, &out, &used, &err),
		    IPC_DECODE_MORE);
	free(buf);
}

static void
test_garbage(void **state)
{
	static const struct {
		const char	*name;
		uint8_t		 bytes[16];
		size_t		 len;
	} cases[] = {
		{ "all ones", { 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff }, 12 },
		{ "truncated varint", { 0, 0, 0, 2, 0x08, 0x80 }, 6 },
		{ "field 0", { 0, 0, 0, 2, 0x00, 0x01 }, 6 },
		{ "length past end", { 0, 0, 0, 3, 0x52, 0x7f, 0x0a }, 7 },
		/* Hello without its required fields. */
		{ "empty hello", { 0, 0, 0, 2, 0x52, 0x00 }, 6 },
		{ "text", { 0, 0, 0, 4, 'E', 'H', 'L', 'O' }, 8 },
	};
	Warp__Frame	*out;
	const char	*err;
	size_t		 i, used;

	for (i = 0; i < WARP_NELEM(cases); i++) {
		err = NULL;
		if (ipc_decode(cases[i].bytes, cases[i].len, 0, &out, &used,
		    &err) != IPC_DECODE_BAD)
			fail_msg("%s: not rejected", cases[i].name);
		assert_non_null(err);
	}
}

static void
test_no_body(void **state)
{
	Warp__Frame	 f = WARP__FRAME__INIT, *out;
	uint8_t		 empty[4] = { 0, 0, 0, 0 };
	uint8_t		 unknown[] = { 0, 0, 0, 3, 0xfa, 0x06, 0x00 };
	const char	*err;
	uint8_t		*buf;
	size_t		 len, used;

	f.has_id = 1;
	f.id = 5;
	buf = ipc_encode_alloc(&f, &len);
	assert_int_equal(ipc_decode(buf, len, 0, &out, &used, &err),
	    IPC_DECODE_BAD);
	assert_string_equal(err, "unknown message type");
	free(buf);
	/* A zero-length frame, and one with only an unknown field 111
	 * (a newer peer's message type). */
	assert_int_equal(ipc_decode(empty, 4, 0, &out, &used, &err),
	    IPC_DECODE_BAD);
	assert_string_equal(err, "unknown message type");
	assert_int_equal(ipc_decode(unknown, sizeof(unknown), 0, &out, &used,
	    &err), IPC_DECODE_BAD);
	assert_string_equal(err, "unknown message type");
}

/*
 * Only canonical encodings pass: a string with a NUL byte (protobuf-c would
 * hand C a silently shortened "peer"), and a field sent twice, both decode
 * in protobuf-c but do not pack back to the same bytes.
 */
static void
test_non_canonical(void **state)
{
	/* Hello{protocol "warp", version 1, peer "ab\0cd"} */
	static const uint8_t nul[] = { 0, 0, 0, 17, 0x52, 15,
	    0x0a, 4, 'w', 'a', 'r', 'p', 0x10, 1, 0x1a, 5, 'a', 'b', 0, 'c',
	    'd' };
	/* the same with version sent twice */
	static const uint8_t twice[] = { 0, 0, 0, 15, 0x52, 13,
	    0x0a, 4, 'w', 'a', 'r', 'p', 0x10, 1, 0x10, 1, 0x1a, 1, 'x' };
	/* and a correct one, which must still pass */
	static const uint8_t good[] = { 0, 0, 0, 13, 0x52, 11,
	    0x0a, 4, 'w', 'a', 'r', 'p', 0x10, 1, 0x1a, 1, 'x' };
	Warp__Frame	*out;
	const char	*err;
	size_t		 used;

	assert_int_equal(ipc_decode(nul, sizeof(nul), 0, &out, &used, &err),
	    IPC_DECODE_BAD);
	assert_non_null(strstr(err, "non-canonical"));
	assert_int_equal(ipc_decode(twice, sizeof(twice), 0, &out, &used,
	    &err), IPC_DECODE_BAD);
	assert_non_null(strstr(err, "non-canonical"));
	assert_int_equal(ipc_decode(good, sizeof(good), 0, &out, &used, &err),
	    IPC_DECODE_FRAME);
	assert_int_equal(used, sizeof(good));
	assert_string_equal(out->hello->peer, "x");
	ipc_frame_free(out);
}

static void
test_hello_check(void **state)
{
	Warp__Frame	 f;
	Warp__Hello	 h;
	Warp__Ack	 a = WARP__ACK__INIT;
	const char	*why;

	ipc_hello_init(&f, &h, "warp-test");
	assert_string_equal(h.protocol, IPC_PROTOCOL);
	assert_int_equal(h.version, IPC_VERSION);
	assert_int_equal(h.pid, getpid());
	assert_int_equal(ipc_hello_check(&f, &why), 0);

	h.version = IPC_VERSION + 1;
	assert_int_equal(ipc_hello_check(&f, &why), -1);
	assert_non_null(strstr(why, "version"));
	h.version = IPC_VERSION;
	h.protocol = "smtp";
	assert_int_equal(ipc_hello_check(&f, &why), -1);
	assert_non_null(strstr(why, "protocol"));

	f.body_case = WARP__FRAME__BODY_ACK;
	f.ack = &a;
	assert_int_equal(ipc_hello_check(&f, &why), -1);
}

/* ---- server and client on a real socket ------------------------------------------ */

struct world {
	struct event_base	*base;
	char			 dir[64];
	char			 path[128];
	struct ipc_server	*srv;
	struct ipc_client	*cli;
	int			 up, downs;	/* client state changes */
	int			 closes;	/* server on_close calls */
	int			 replies, nulls;
	uint64_t		 last_id;
	struct arena		*kept[4];	/* frames kept by srv_frame */
	const Warp__Frame	*kept_f[4];
	int			 nkept;
};

/* The server answers FilterRequest with a verdict naming the request id,
 * and never answers RouteRequest (for the timeout test). */
static void
srv_frame(struct ipc_conn *c, const Warp__Frame *f, void *arg)
{
	Warp__Frame		 r = WARP__FRAME__INIT;
	Warp__FilterVerdict	 v = WARP__FILTER_VERDICT__INIT;
	char			 rule[32];

	struct world		*w = arg;

	if (f->body_case != WARP__FRAME__BODY_FILTER_REQUEST)
		return;
	/* A request for connection "keep..." is kept past the callback. */
	if (strncmp(f->filter_request->connection_id, "keep", 4) == 0 &&
	    w->nkept < (int)WARP_NELEM(w->kept)) {
		w->kept[w->nkept] = ipc_frame_keep(f);
		assert_non_null(w->kept[w->nkept]);
		assert_null(ipc_frame_keep(f));		/* only once */
		w->kept_f[w->nkept++] = f;
	}
	snprintf(rule, sizeof(rule), "id%llu", (unsigned long long)f->id);
	v.action = WARP__FILTER_ACTION__FILTER_RELAY;
	v.rule = rule;
	r.body_case = WARP__FRAME__BODY_FILTER_VERDICT;
	r.filter_verdict = &v;
	assert_int_equal(ipc_reply(c, f->id, &r), 0);
	assert_string_equal(ipc_conn_peer(c), "test-client");
	assert_int_equal(ipc_conn_uid(c), geteuid());
	assert_int_equal(ipc_conn_pid(c), getpid());
}

static void
srv_close(struct ipc_conn *c, void *arg)
{
	struct world *w = arg;

	w->closes++;
}

static void
cli_state(struct ipc_client *cli, int connected, void *arg)
{
	struct world *w = arg;

	if (connected)
		w->up++;
	else
		w->downs++;
}

static void
on_reply(const Warp__Frame *reply, void *arg)
{
	struct world	*w = arg;
	char		 rule[32];

	if (reply == NULL) {
		w->nulls++;
		return;
	}
	assert_int_equal(reply->body_case, WARP__FRAME__BODY_FILTER_VERDICT);
	snprintf(rule, sizeof(rule), "id%llu", (unsigned long long)reply->id);
	assert_string_equal(reply->filter_verdict->rule, rule);
	w->last_id = reply->id;
	w->replies++;
}

static void
server_start(struct world *w)
{
	struct ipc_server_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = w->path;
	cfg.mode = 0600;
	cfg.gid = (gid_t)-1;
	cfg.name = "test-server";
	cfg.on_frame = srv_frame;
	cfg.on_close = srv_close;
	cfg.arg = w;
	w->srv = ipc_server_new(w->base, &cfg);
	assert_non_null(w->srv);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until *value >= want or ms pass; returns 1 if reached. */
static int
run_until(struct world *w, const int *value, int want, int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event	*ev;
	int		 expired = 0;

	ev = evtimer_new(w->base, stop_cb, &expired);
	evtimer_add(ev, &tv);
	while (!expired && (value == NULL || *value < want))
		event_base_loop(w->base, EVLOOP_ONCE);
	event_free(ev);
	return value != NULL && *value >= want;
}

static int
world_setup(void **state)
{
	struct world		*w;
	struct ipc_client_cfg	 cc;

	w = xcalloc(1, sizeof(*w));
	w->base = event_base_new();
	warp_strlcpy(w->dir, "/tmp/warp-ipc-test.XXXXXX", sizeof(w->dir));
	assert_non_null(mkdtemp(w->dir));
	snprintf(w->path, sizeof(w->path), "%s/test.sock", w->dir);
	server_start(w);
	memset(&cc, 0, sizeof(cc));
	cc.path = w->path;
	cc.name = "test-client";
	cc.backoff_min_ms = 20;
	cc.backoff_max_ms = 200;
	cc.on_state = cli_state;
	cc.arg = w;
	w->cli = ipc_client_new(w->base, &cc);
	assert_non_null(w->cli);
	assert_true(run_until(w, &w->up, 1, 2000));
	assert_true(ipc_client_connected(w->cli));
	*state = w;
	return 0;
}

static int
world_teardown(void **state)
{
	struct world *w = *state;

	ipc_client_free(w->cli);
	ipc_server_free(w->srv);
	event_base_free(w->base);
	unlink(w->path);
	rmdir(w->dir);
	free(w);
	return 0;
}

static uint64_t
send_filter(struct world *w, int timeout_ms)
{
	Warp__Frame		 f = WARP__FRAME__INIT;
	Warp__FilterRequest	 r = WARP__FILTER_REQUEST__INIT;

	r.connection_id = "c1";
	f.body_case = WARP__FRAME__BODY_FILTER_REQUEST;
	f.filter_request = &r;
	return ipc_client_request(w->cli, &f, timeout_ms, on_reply, w);
}

static void
test_request_reply(void **state)
{
	struct world	*w = *state;
	uint64_t	 id1, id2, id3;

	assert_int_equal(ipc_server_npeers(w->srv), 1);
	id1 = send_filter(w, 1000);
	id2 = send_filter(w, 1000);
	id3 = send_filter(w, 1000);
	assert_true(id1 != 0 && id2 > id1 && id3 > id2);
	assert_true(run_until(w, &w->replies, 3, 2000));
	assert_int_equal(w->last_id, id3);
	assert_int_equal(w->nulls, 0);

	/* More frames than one read callback handles: none is lost. */
	for (int i = 0; i < 300; i++)
		assert_true(send_filter(w, 5000) != 0);
	assert_true(run_until(w, &w->replies, 303, 5000));
	assert_int_equal(w->nulls, 0);

	/* A cancelled request gets no callback at all. */
	id1 = send_filter(w, 1000);
	ipc_client_cancel(w->cli, id1);
	run_until(w, NULL, 0, 100);
	assert_int_equal(w->replies, 303);
	assert_int_equal(w->nulls, 0);
}

/* A kept frame outlives its callback, untouched by the frames after it. */
static void
test_frame_keep(void **state)
{
	struct world		*w = *state;
	Warp__Frame		 f = WARP__FRAME__INIT;
	Warp__FilterRequest	 r = WARP__FILTER_REQUEST__INIT;
	char			 cid[16];
	int			 i;

	f.body_case = WARP__FRAME__BODY_FILTER_REQUEST;
	f.filter_request = &r;
	for (i = 0; i < 3; i++) {
		snprintf(cid, sizeof(cid), "keep%d", i);
		r.connection_id = cid;
		assert_true(ipc_client_request(w->cli, &f, 2000, on_reply, w));
		assert_true(send_filter(w, 2000) != 0);	/* not kept */
	}
	assert_true(run_until(w, &w->replies, 6, 3000));
	assert_int_equal(w->nkept, 3);
	for (i = 0; i < 3; i++) {
		snprintf(cid, sizeof(cid), "keep%d", i);
		assert_string_equal(w->kept_f[i]->filter_request->connection_id,
		    cid);
		/* outside its callback a frame cannot be taken */
		assert_null(ipc_frame_keep(w->kept_f[i]));
		ipc_frame_release(w->kept[i]);
	}
}

static void
test_timeout(void **state)
{
	struct world		*w = *state;
	Warp__Frame		 f = WARP__FRAME__INIT;
	Warp__RouteRequest	 r = WARP__ROUTE_REQUEST__INIT;

	r.connection_id = "c2";
	f.body_case = WARP__FRAME__BODY_ROUTE_REQUEST;
	f.route_request = &r;
	assert_true(ipc_client_request(w->cli, &f, 100, on_reply, w) != 0);
	assert_false(run_until(w, &w->nulls, 1, 50));
	assert_true(run_until(w, &w->nulls, 1, 1000));
	/* The connection survives a timeout. */
	assert_true(ipc_client_connected(w->cli));
	send_filter(w, 1000);
	assert_true(run_until(w, &w->replies, 1, 1000));
}

static void
test_server_restart(void **state)
{
	struct world	*w = *state;
	int		 i;

	/* A request the server never answers is pending when it goes. */
	for (i = 0; i < 5; i++)
		assert_true(send_filter(w, 5000) != 0);
	ipc_server_free(w->srv);
	w->srv = NULL;
	assert_int_equal(access(w->path, F_OK), -1);
	assert_true(run_until(w, &w->downs, 1, 2000));
	assert_int_equal(w->nulls + w->replies, 5);
	assert_false(ipc_client_connected(w->cli));
	assert_int_equal(send_filter(w, 1000), 0);	/* refused, no cb */

	/* Let it fail a few reconnects, then bring a server back. */
	run_until(w, NULL, 0, 150);
	server_start(w);
	assert_true(run_until(w, &w->up, 2, 2000));
	w->replies = w->nulls = 0;
	send_filter(w, 1000);
	assert_true(run_until(w, &w->replies, 1, 1000));
	assert_int_equal(w->nulls, 0);

	/* A reset drops and re-establishes the connection. */
	send_filter(w, 5000);
	ipc_client_reset(w->cli);
	assert_int_equal(w->nulls, 1);
	assert_true(run_until(w, &w->up, 3, 2000));
}

static void
test_client_free_pending(void **state)
{
	struct world *w = *state;

	send_filter(w, 5000);
	send_filter(w, 5000);
	ipc_client_free(w->cli);
	w->cli = NULL;
	assert_int_equal(w->nulls, 2);
	assert_int_equal(w->replies, 0);
	/* The server notices the peer leaving. */
	assert_true(run_until(w, &w->closes, 1, 1000));
	assert_int_equal(ipc_server_npeers(w->srv), 0);
}

/* ---- hostile peers on raw sockets ------------------------------------------------- */

static int
raw_connect(struct world *w)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	warp_strlcpy(sun.sun_path, w->path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void
raw_write(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* Drive the loop until the server closes fd; return what it sent. */
static size_t
raw_drain(struct world *w, int fd, uint8_t *buf, size_t sz)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	size_t		 got = 0;
	ssize_t		 n;
	int		 rounds;

	for (rounds = 0; rounds < 200; rounds++) {
		run_until(w, NULL, 0, 10);
		while (poll(&pfd, 1, 0) == 1) {
			n = read(fd, buf + got, sz - got);
			if (n <= 0)
				return got;
			got += n;
		}
	}
	fail_msg("server did not close the connection");
	return got;
}

static void
expect_error(const uint8_t *buf, size_t len, uint32_t code)
{
	Warp__Frame	*f;
	const char	*err;
	size_t		 used;

	assert_int_equal(ipc_decode(buf, len, 0, &f, &used, &err),
	    IPC_DECODE_FRAME);
	assert_int_equal(f->body_case, WARP__FRAME__BODY_ERROR);
	assert_int_equal(f->error->code, code);
	ipc_frame_free(f);
}

static uint8_t *
hello_bytes(const char *protocol, uint32_t version, size_t *lenp)
{
	Warp__Frame	f;
	Warp__Hello	h;

	ipc_hello_init(&f, &h, "raw");
	h.protocol = (char *)protocol;
	h.version = version;
	return ipc_encode_alloc(&f, lenp);
}

static void
test_hostile_peers(void **state)
{
	struct world	*w = *state;
	uint8_t		 buf[4096], *p;
	size_t		 n, len;
	int		 fd;
	static const uint8_t garbage[] = "GET / HTTP/1.0\r\n\r\n";
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xf0, 1, 2, 3 };

	/* Garbage before any Hello. */
	fd = raw_connect(w);
	raw_write(fd, garbage, sizeof(garbage) - 1);
	n = raw_drain(w, fd, buf, sizeof(buf));
	close(fd);
	assert_true(n > 0);
	expect_error(buf, n, WARP__ERROR_CODE__ERR_TOO_LARGE);

	/* Wrong version, wrong protocol. */
	fd = raw_connect(w);
	p = hello_bytes(IPC_PROTOCOL, 99, &len);
	raw_write(fd, p, len);
	free(p);
	n = raw_drain(w, fd, buf, sizeof(buf));
	close(fd);
	expect_error(buf, n, WARP__ERROR_CODE__ERR_VERSION);
	fd = raw_connect(w);
	p = hello_bytes("smtp", IPC_VERSION, &len);
	raw_write(fd, p, len);
	free(p);
	n = raw_drain(w, fd, buf, sizeof(buf));
	close(fd);
	expect_error(buf, n, WARP__ERROR_CODE__ERR_PROTOCOL);

	/* A request before the Hello. */
	fd = raw_connect(w);
	p = sample_frame(&len);
	raw_write(fd, p, len);
	free(p);
	n = raw_drain(w, fd, buf, sizeof(buf));
	close(fd);
	expect_error(buf, n, WARP__ERROR_CODE__ERR_PROTOCOL);

	/* A good Hello, then an oversized header. */
	fd = raw_connect(w);
	p = hello_bytes(IPC_PROTOCOL, IPC_VERSION, &len);
	raw_write(fd, p, len);
	free(p);
	raw_write(fd, huge, sizeof(huge));
	n = raw_drain(w, fd, buf, sizeof(buf));
	close(fd);
	assert_true(n > 0);	/* Hello, then Error */

	/* Through all that, the real client was served. */
	assert_true(ipc_client_connected(w->cli));
	send_filter(w, 1000);
	assert_true(run_until(w, &w->replies, 1, 1000));
	assert_int_equal(ipc_server_npeers(w->srv), 1);
}

static void
test_stale_socket(void **state)
{
	struct world		*w = *state;
	struct ipc_server_cfg	 cfg;
	char			 path[160];
	int			 fd;

	/* The live server's socket is not stolen by a second one. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = w->path;
	cfg.gid = (gid_t)-1;
	cfg.on_frame = srv_frame;
	assert_null(ipc_server_new(w->base, &cfg));
	/* A regular file in the way is not removed. */
	snprintf(path, sizeof(path), "%s/file", w->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	cfg.path = path;
	assert_null(ipc_server_new(w->base, &cfg));
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
}

/* As uid 65534: connect, say Hello, and report what the server did:
 * 0 answered Hello, 1 closed without a word, 2 could not connect. */
static int
foreign_peer(struct world *w, const char *path)
{
	pid_t	 pid;
	int	 status, fd, n;
	uint8_t	*p, buf[256];
	size_t	 len;

	if ((pid = fork()) == 0) {
		struct sockaddr_un sun;

		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(3);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		warp_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			_exit(2);
		p = hello_bytes(IPC_PROTOCOL, IPC_VERSION, &len);
		(void)write(fd, p, len);
		n = read(fd, buf, sizeof(buf));
		_exit(n > 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	while (waitpid(pid, &status, WNOHANG) == 0)
		run_until(w, NULL, 0, 10);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_peercred(void **state)
{
	struct world		*w = *state;
	struct ipc_server_cfg	 cfg;
	struct ipc_server	*srv;
	char			 path[160];
	uid_t			 nobody = 65534;

	if (geteuid() != 0) {
		skip();
		return;
	}
	/* Reachable by file permissions, so only SO_PEERCRED decides. */
	assert_int_equal(chmod(w->dir, 0711), 0);
	snprintf(path, sizeof(path), "%s/open.sock", w->dir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = path;
	cfg.mode = 0666;
	cfg.gid = (gid_t)-1;
	cfg.on_frame = srv_frame;
	srv = ipc_server_new(w->base, &cfg);
	assert_non_null(srv);
	assert_int_equal(foreign_peer(w, path), 1);
	ipc_server_set_allowed(srv, &nobody, 1);
	assert_int_equal(foreign_peer(w, path), 0);
	ipc_server_free(srv);

	/* Mode 0660 root-owned: the kernel refuses before we even look. */
	cfg.mode = 0660;
	srv = ipc_server_new(w->base, &cfg);
	assert_non_null(srv);
	assert_int_equal(foreign_peer(w, path), 2);
	ipc_server_free(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_non_canonical),
		cmocka_unit_test(test_hello_check),
		cmocka_unit_test_setup_teardown(test_request_reply,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_frame_keep,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_timeout,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_server_restart,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_client_free_pending,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_peers,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_peercred,
		    world_setup, world_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_ipc", 1, 0);
	log_setlevel(getenv("WARP_TEST_DEBUG") != NULL ? LOG_DEBUG :
	    LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
