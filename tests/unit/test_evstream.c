/*
 * test_evstream.c -- unit tests for common/evstream.c: the hand-built
 * EventBatch frame against protobuf-c, and the stream itself against an
 * in-process stand-in for warp-logd's wire side (the real ipc server on a
 * Unix socket in a private directory; both ends are the real IPC code).
 * The stand-in acks, stays silent, or closes, and records every event it
 * sees so the tests can check order, at-least-once redelivery, the spool
 * while it is absent, spool_max drop counting and restart pick-up.
 */
#include "unit.h"

#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "evstream.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#define CONN_ID		"01JABCDEFGHJKMNPQRSTVWXYZ0"

/* ---- the hand-built frame ----------------------------------------------------- */

static uint8_t *
pack_comm(uint32_t seq, const char *data, size_t *lenp)
{
	Warp__CommEvent	 c = WARP__COMM_EVENT__INIT;
	Warp__Event	 e = WARP__EVENT__INIT;
	uint8_t		*p;

	c.connection_id = CONN_ID;
	c.seq = seq;
	c.occurred_at_us = 1700000000000000LL + seq;
	c.direction = ">|";
	c.data.data = (uint8_t *)data;
	c.data.len = strlen(data);
	e.kind_case = WARP__EVENT__KIND_COMM;
	e.comm = &c;
	*lenp = warp__event__get_packed_size(&e);
	p = xmalloc(*lenp);
	warp__event__pack(&e, p);
	return p;
}

static void
check_frame(size_t n, int replay)
{
	Warp__Frame	 f = WARP__FRAME__INIT, *out;
	Warp__EventBatch b = WARP__EVENT_BATCH__INIT;
	Warp__Event	*evs[8];
	uint8_t		*packed[8], *mine, *ref;
	size_t		 lens[8], mlen, rlen, i;
	char		 data[400];

	for (i = 0; i < n; i++) {
		/* one event above 127 bytes: two-byte length varint */
		memset(data, 'x', sizeof(data));
		data[i == 1 ? 300 : 10 + i] = '\0';
		packed[i] = pack_comm((uint32_t)i + 1, data, &lens[i]);
		evs[i] = warp__event__unpack(NULL, lens[i], packed[i]);
		assert_non_null(evs[i]);
	}
	mine = evstream_encode_frame(42, (const uint8_t *const *)packed,
	    lens, n, replay, &mlen);
	assert_non_null(mine);

	/* What protobuf-c itself makes of the same Frame. */
	b.n_events = n;
	b.events = evs;
	b.has_replay = replay;
	b.replay = replay;
	f.has_id = 1;
	f.id = 42;
	f.body_case = WARP__FRAME__BODY_EVENTS;
	f.events = &b;
	ref = ipc_encode_alloc(&f, &rlen);
	assert_int_equal(mlen, rlen);
	assert_memory_equal(mine, ref, rlen);

	/* And it decodes back through protobuf-c. */
	out = warp__frame__unpack(NULL, mlen - IPC_HDR_LEN, mine + IPC_HDR_LEN);
	assert_non_null(out);
	assert_int_equal(out->id, 42);
	assert_int_equal(out->body_case, WARP__FRAME__BODY_EVENTS);
	assert_int_equal(out->events->n_events, n);
	assert_int_equal(out->events->replay, replay);
	for (i = 0; i < n; i++) {
		assert_int_equal(out->events->events[i]->kind_case,
		    WARP__EVENT__KIND_COMM);
		assert_int_equal(out->events->events[i]->comm->seq, i + 1);
		assert_string_equal(out->events->events[i]->comm->connection_id,
		    CONN_ID);
		assert_int_equal(out->events->events[i]->comm->data.len,
		    i == 1 ? 300 : 10 + i);
		warp__event__free_unpacked(evs[i], NULL);
		free(packed[i]);
	}
	warp__frame__free_unpacked(out, NULL);
	free(mine);
	free(ref);
}

static void
test_frame_bytes(void **state)
{
	check_frame(0, 0);
	check_frame(1, 0);
	check_frame(3, 0);
	check_frame(5, 1);
}

/* The hand-written CommEvent encoding is protobuf-c's, byte for byte. */
static void
check_comm(const char *cid, uint32_t seq, int64_t at, const char *dir,
    size_t len)
{
	Warp__CommEvent	 c = WARP__COMM_EVENT__INIT;
	Warp__Event	 ev = WARP__EVENT__INIT;
	uint8_t		*data, *ref, *mine;
	size_t		 n, i;

	data = xmalloc(len + 1);
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 7);
	c.connection_id = (char *)cid;
	c.seq = seq;
	c.occurred_at_us = at;
	c.direction = (char *)dir;
	c.data.data = data;
	c.data.len = len;
	ev.kind_case = WARP__EVENT__KIND_COMM;
	ev.comm = &c;
	n = warp__event__get_packed_size(&ev);
	ref = xmalloc(n);
	assert_int_equal(warp__event__pack(&ev, ref), n);
	assert_int_equal(evstream_pack_comm(NULL, cid, seq, at, dir, data,
	    len), n);
	mine = xmalloc(n);
	assert_int_equal(evstream_pack_comm(mine, cid, seq, at, dir, data,
	    len), n);
	assert_memory_equal(mine, ref, n);
	free(mine);
	free(ref);
	free(data);
}

static void
test_comm_bytes(void **state)
{
	check_comm("01JDCONNECTION0000000000AB", 1, 1764009780123456LL, "|<",
	    14);
	check_comm("", 0, 0, "", 0);				/* all empty */
	check_comm("c", UINT32_MAX, -1, "--", 127);		/* 10-byte int64 */
	check_comm("c", 128, INT64_MIN, ">|", 128);
	check_comm("c", 300, INT64_MAX, "<-", 16384);		/* 3-byte length */
	check_comm("c", 7, 1, "->", 100000);
}

/* ---- a stand-in for warp-logd ---------------------------------------------------- */

enum srv_mode {
	SRV_ACK,		/* ack every batch */
	SRV_CLOSE,		/* close instead of acking the next `misbehave` */
	SRV_SILENT,		/* never answer the next `misbehave` batches */
	SRV_BUSY,		/* answer ERR_UNAVAILABLE until `misbehave` 0 */
};

struct world {
	struct event_base	*base;
	struct ipc_server	*srv;
	char			 dir[64];
	char			 sock[128];
	char			 spool_dir[128];
	char			 spool_file[160];
	enum srv_mode		 mode;
	int			 misbehave;
	uint32_t		*seen;		/* every seq in arrival order */
	size_t			 nseen, cap;
	int			 frames;
	int			 replay_frames;
	int			 conn_events;
	struct evstream		*es;
};

static void
srv_frame(struct ipc_conn *c, const Warp__Frame *f, void *arg)
{
	struct world	*w = arg;
	Warp__Frame	 r = WARP__FRAME__INIT;
	Warp__Ack	 a = WARP__ACK__INIT;
	size_t		 i;

	assert_int_equal(f->body_case, WARP__FRAME__BODY_EVENTS);
	w->frames++;
	if (f->events->replay)
		w->replay_frames++;
	for (i = 0; i < f->events->n_events; i++) {
		const Warp__Event *e = f->events->events[i];

		if (w->nseen == w->cap) {
			w->cap = w->cap ? 2 * w->cap : 1024;
			w->seen = xreallocarray(w->seen, w->cap,
			    sizeof(*w->seen));
		}
		if (e->kind_case == WARP__EVENT__KIND_CONN) {
			w->conn_events++;
			w->seen[w->nseen++] = e->conn->seq;
			continue;
		}
		assert_int_equal(e->kind_case, WARP__EVENT__KIND_COMM);
		assert_string_equal(e->comm->connection_id, CONN_ID);
		w->seen[w->nseen++] = e->comm->seq;
	}
	if (w->misbehave > 0 && w->mode != SRV_ACK) {
		w->misbehave--;
		if (w->mode == SRV_CLOSE)
			ipc_conn_close(c);
		if (w->mode == SRV_BUSY)
			ipc_send_error(c, f->id, WARP__ERROR_CODE__ERR_UNAVAILABLE,
			    "sink queues full");
		return;
	}
	a.has_count = 1;
	a.count = (uint32_t)f->events->n_events;
	r.body_case = WARP__FRAME__BODY_ACK;
	r.ack = &a;
	ipc_reply(c, f->id, &r);
}

static void
server_start(struct world *w)
{
	struct ipc_server_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = w->sock;
	cfg.mode = 0600;
	cfg.gid = (gid_t)-1;
	cfg.name = "warp-logd";
	cfg.on_frame = srv_frame;
	cfg.arg = w;
	w->srv = ipc_server_new(w->base, &cfg);
	assert_non_null(w->srv);
}

static void
server_stop(struct world *w)
{
	ipc_server_free(w->srv);
	w->srv = NULL;
}

static struct evstream *
stream_new(struct world *w, size_t mem_max, uint64_t spool_max,
    size_t batch_max, int ack_timeout_ms)
{
	struct evstream_cfg	 cfg;
	struct evstream		*es;

	memset(&cfg, 0, sizeof(cfg));
	cfg.sock_path = w->sock;
	cfg.spool_dir = w->spool_dir;
	cfg.spool_max = spool_max;
	cfg.mem_max = mem_max;
	cfg.batch_max = batch_max;
	cfg.flush_ms = 5;
	cfg.ack_timeout_ms = ack_timeout_ms;
	cfg.name = "warp-proxyd";
	es = evstream_new(w->base, &cfg);
	assert_non_null(es);
	return es;
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until the stream has `acked` events acknowledged (or for
 * ms when acked is 0).  Returns 1 if reached. */
static int
run_acked(struct world *w, struct evstream *es, uint64_t acked, int ms)
{
	struct timeval		 tv = { ms / 1000, (ms % 1000) * 1000 };
	struct evstream_stats	 st;
	struct event		*ev;
	int			 expired = 0;

	ev = evtimer_new(w->base, stop_cb, &expired);
	evtimer_add(ev, &tv);
	for (;;) {
		evstream_stats(es, &st);
		if (expired || (acked > 0 && st.acked >= acked))
			break;
		event_base_loop(w->base, EVLOOP_ONCE);
	}
	event_free(ev);
	return acked > 0 && st.acked >= acked;
}

static void
send_events(struct evstream *es, uint32_t from, uint32_t to)
{
	char		 line[64];
	uint32_t	 seq;

	for (seq = from; seq <= to; seq++) {
		snprintf(line, sizeof(line), "RCPT TO:<user%u@example.org>",
		    seq);
		evstream_comm(es, CONN_ID, seq, warp_now_us(), ">|", line,
		    strlen(line));
	}
}

/*
 * Every seq in [1, n] except those in skip arrived at least once, and the
 * first arrivals are in increasing order.  Returns the duplicates.
 */
static size_t
check_order(struct world *w, uint32_t n, size_t expect_missing)
{
	uint8_t		*got;
	uint32_t	 last = 0;
	size_t		 i, dups = 0, missing = 0;

	got = xcalloc(n + 1, 1);
	for (i = 0; i < w->nseen; i++) {
		uint32_t s = w->seen[i];

		assert_true(s >= 1 && s <= n);
		if (got[s]) {
			dups++;
			continue;
		}
		got[s] = 1;
		if (s < last)
			fail_msg("seq %u arrived after %u", s, last);
		last = s;
	}
	for (i = 1; i <= n; i++)
		if (!got[i])
			missing++;
	assert_int_equal(missing, expect_missing);
	free(got);
	return dups;
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		return -1;
	return sb.st_size;
}

static int
world_setup(void **state)
{
	struct world	*w;

	w = xcalloc(1, sizeof(*w));
	w->base = event_base_new();
	warp_strlcpy(w->dir, "/tmp/warp-evstream-test.XXXXXX",
	    sizeof(w->dir));
	assert_non_null(mkdtemp(w->dir));
	snprintf(w->sock, sizeof(w->sock), "%s/log.sock", w->dir);
	snprintf(w->spool_dir, sizeof(w->spool_dir), "%s/spool", w->dir);
	snprintf(w->spool_file, sizeof(w->spool_file), "%s/events.spool",
	    w->spool_dir);
	*state = w;
	return 0;
}

static int
world_teardown(void **state)
{
	struct world	*w = *state;
	char		*cmd;

	evstream_free(w->es);
	if (w->srv)
		server_stop(w);
	event_base_free(w->base);
	cmd = xasprintf("rm -rf '%s'", w->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", w->dir);
	free(cmd);
	free(w->seen);
	free(w);
	return 0;
}

/* ---- the stream ------------------------------------------------------------------ */

static void
test_order_acked(void **state)
{
	struct world		*w = *state;
	struct evstream_stats	 st;
	Warp__ConnEvent		 ce = WARP__CONN_EVENT__INIT;

	server_start(w);
	w->es = stream_new(w, 1 << 20, 1 << 20, 100, 2000);
	send_events(w->es, 1, 4999);
	ce.connection_id = CONN_ID;
	ce.seq = 5000;
	ce.occurred_at_us = warp_now_us();
	ce.elapse_ms = -1;
	evstream_conn(w->es, &ce);
	assert_true(run_acked(w, w->es, 5000, 5000));
	assert_int_equal(check_order(w, 5000, 0), 0);
	assert_int_equal(w->nseen, 5000);
	assert_int_equal(w->conn_events, 1);
	assert_int_equal(w->replay_frames, 0);
	assert_true(w->frames >= 50);	/* batches, not one frame each */
	evstream_stats(w->es, &st);
	assert_int_equal(st.queued, 5000);
	assert_int_equal(st.mem_bytes, 0);
	assert_int_equal(st.spooled, 0);
	assert_int_equal(st.dropped, 0);
	/* Below batch_max: the flush timer sends it. */
	send_events(w->es, 5001, 5003);
	assert_true(run_acked(w, w->es, 5003, 1000));
}

static void
test_redeliver_after_close(void **state)
{
	struct world		*w = *state;
	struct evstream_stats	 st;
	size_t			 dups;

	server_start(w);
	w->mode = SRV_CLOSE;
	w->misbehave = 3;
	w->es = stream_new(w, 1 << 20, 1 << 20, 50, 2000);
	send_events(w->es, 1, 1000);
	assert_true(run_acked(w, w->es, 1000, 8000));
	dups = check_order(w, 1000, 0);
	assert_true(dups > 0);		/* the unacked batches came again */
	evstream_stats(w->es, &st);
	assert_int_equal(st.acked, 1000);
	assert_int_equal(st.dropped, 0);
}

/*
 * warp-logd answering "unavailable" (its sinks' queues are full) makes the
 * stream back off instead of resending at once: over about 400 ms of
 * refusals only a handful of batches are offered, and afterwards every
 * event arrives, in order.
 */
static void
test_backoff_when_busy(void **state)
{
	struct world		*w = *state;
	struct evstream_stats	 st;

	server_start(w);
	w->mode = SRV_BUSY;
	w->misbehave = 1000000;
	w->es = stream_new(w, 1 << 20, 1 << 20, 50, 2000);
	send_events(w->es, 1, 200);
	run_acked(w, w->es, 0, 400);
	/* 50, 100, 200 ms waits: the first window and three retries, each
	 * of at most EVSTREAM_WINDOW batches (a tight loop sends thousands). */
	assert_true(w->frames <= 5 * 4);
	assert_true(w->frames >= 2);
	w->misbehave = 0;
	assert_true(run_acked(w, w->es, 200, 8000));
	w->nseen = 0;			/* the refused copies do not count */
	evstream_stats(w->es, &st);
	assert_int_equal(st.acked, 200);
	assert_int_equal(st.dropped, 0);
}

static void
test_redeliver_after_timeout(void **state)
{
	struct world		*w = *state;
	struct evstream_stats	 st;

	server_start(w);
	w->mode = SRV_SILENT;
	w->misbehave = 4;
	/* Small memory: events spill to the spool while the first window
	 * waits for acks that never come, then everything is resent in
	 * order around the spilled part. */
	w->es = stream_new(w, 4096, 1 << 20, 20, 300);
	send_events(w->es, 1, 100);
	run_acked(w, w->es, 0, 50);
	send_events(w->es, 101, 1500);
	assert_true(run_acked(w, w->es, 1500, 8000));
	check_order(w, 1500, 0);
	evstream_stats(w->es, &st);
	assert_true(st.spooled > 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.spool_bytes, 0);
	assert_int_equal(file_size(w->spool_file), 0);
}

static void
test_spool_then_replay(void **state)
{
	struct world		*w = *state;
	struct evstream_stats	 st;

	/* warp-logd is not there yet. */
	w->es = stream_new(w, 4096, 1 << 20, 64, 2000);
	send_events(w->es, 1, 2000);
	run_acked(w, w->es, 0, 100);
	evstream_stats(w->es, &st);
	assert_int_equal(st.queued, 2000);
	assert_true(st.spooled > 1500);
	assert_true(st.mem_bytes <= 4096);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(file_size(w->spool_file), (off_t)st.spool_bytes);

	server_start(w);
	assert_true(run_acked(w, w->es, 2000, 5000));
	assert_int_equal(check_order(w, 2000, 0), 0);
	assert_true(w->replay_frames > 0);
	evstream_stats(w->es, &st);
	assert_int_equal(st.replayed, st.spooled);
	assert_int_equal(st.spool_bytes, 0);
	assert_int_equal(file_size(w->spool_file), 0);
}

static void
test_spool_max_drops(void **state)
{
	struct world		*w = *state;
	struct evstream_stats	 st;

	w->es = stream_new(w, 2048, 8192, 64, 2000);
	send_events(w->es, 1, 2000);
	run_acked(w, w->es, 0, 50);
	evstream_stats(w->es, &st);
	assert_int_equal(st.queued, 2000);
	assert_true(st.dropped > 0);
	assert_true(st.spool_bytes <= 8192);
	assert_true(st.spool_bytes > 8192 - 200);
	assert_true(st.mem_bytes <= 2048);
	assert_true(file_size(w->spool_file) <= 8192);

	/* What was kept arrives, in order; only the drops are missing. */
	server_start(w);
	assert_true(run_acked(w, w->es, 2000 - st.dropped, 5000));
	check_order(w, 2000, st.dropped);
}

static void
test_restart_pickup(void **state)
{
	struct world		*w = *state;
	struct evstream_stats	 st;

	/* Older events spilled to the spool, newer ones in memory: a
	 * shutdown writes the memory part after them. */
	w->es = stream_new(w, 8192, 1 << 20, 64, 2000);
	send_events(w->es, 1, 600);
	run_acked(w, w->es, 0, 50);
	evstream_stats(w->es, &st);
	assert_true(st.spooled > 0 && st.mem_bytes > 0);
	evstream_flush_to_spool(w->es);
	evstream_stats(w->es, &st);
	assert_int_equal(st.spooled, 600);
	assert_int_equal(st.mem_bytes, 0);
	evstream_free(w->es);
	assert_int_equal(file_size(w->spool_file), (off_t)st.spool_bytes);

	/* The next proxyd picks the file up and sends it before anything
	 * new. */
	server_start(w);
	w->es = stream_new(w, 1 << 20, 1 << 20, 64, 2000);
	send_events(w->es, 601, 700);
	assert_true(run_acked(w, w->es, 700, 5000));
	assert_int_equal(check_order(w, 700, 0), 0);
	assert_true(w->replay_frames > 0);
	evstream_stats(w->es, &st);
	assert_int_equal(st.replayed, 600);
	assert_int_equal(file_size(w->spool_file), 0);
}

static void
test_flush_while_connected(void **state)
{
	struct world		*w = *state;
	struct evstream_stats	 st;

	/* Batches in flight that will never be acked, a shutdown: they
	 * go to the spool and come back on the next start. */
	server_start(w);
	w->mode = SRV_SILENT;
	w->misbehave = 1000;
	w->es = stream_new(w, 1 << 20, 1 << 20, 10, 60000);
	send_events(w->es, 1, 100);
	run_acked(w, w->es, 0, 100);
	assert_true(w->frames >= 4);
	evstream_flush_to_spool(w->es);
	evstream_stats(w->es, &st);
	assert_int_equal(st.spooled, 100);
	evstream_free(w->es);
	w->mode = SRV_ACK;
	w->nseen = 0;
	w->es = stream_new(w, 1 << 20, 1 << 20, 10, 2000);
	assert_true(run_acked(w, w->es, 100, 5000));
	assert_int_equal(check_order(w, 100, 0), 0);
}

static void
append_record(FILE *f, const uint8_t *ev, size_t len, size_t claim)
{
	uint8_t	 hdr[4];
	uint32_t n = (uint32_t)(claim ? claim : len + 4);

	hdr[0] = n >> 24;
	hdr[1] = n >> 16;
	hdr[2] = n >> 8;
	hdr[3] = n;
	assert_int_equal(fwrite(hdr, 1, 4, f), 4);
	assert_int_equal(fwrite(ev, 1, len, f), len);
}

static void
test_corrupt_spool(void **state)
{
	struct world		*w = *state;
	struct evstream_stats	 st;
	uint8_t			*ev, junk[40];
	size_t			 len;
	FILE			*f;

	/* A spool left by a crash: good, undecodable, good, cut off. */
	assert_int_equal(mkdir(w->spool_dir, 0700), 0);
	assert_non_null(f = fopen(w->spool_file, "w"));
	ev = pack_comm(1, "EHLO a", &len);
	append_record(f, ev, len, 0);
	free(ev);
	memset(junk, 0xff, sizeof(junk));
	append_record(f, junk, sizeof(junk), 0);
	ev = pack_comm(2, "EHLO b", &len);
	append_record(f, ev, len, 0);
	append_record(f, ev, len / 2, len + 4);
	free(ev);
	fclose(f);

	server_start(w);
	w->es = stream_new(w, 1 << 20, 1 << 20, 64, 2000);
	send_events(w->es, 3, 10);
	assert_true(run_acked(w, w->es, 10, 5000));
	assert_int_equal(check_order(w, 10, 0), 0);
	evstream_stats(w->es, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.replayed, 2);
	assert_int_equal(file_size(w->spool_file), 0);
}

static void
test_disk_full(void **state)
{
	struct world		*w = *state;
	struct evstream_stats	 st;

	if (access("/dev/full", W_OK) == -1)
		skip();
	assert_int_equal(mkdir(w->spool_dir, 0700), 0);
	assert_int_equal(symlink("/dev/full", w->spool_file), 0);
	w->es = stream_new(w, 2048, 1 << 20, 64, 2000);
	send_events(w->es, 1, 500);
	run_acked(w, w->es, 0, 20);
	evstream_stats(w->es, &st);
	assert_int_equal(st.spooled, 0);
	assert_true(st.dropped > 0);
	assert_true(st.mem_bytes <= 2048);
	/* Still running: what stayed in memory is delivered. */
	server_start(w);
	assert_true(run_acked(w, w->es, 500 - st.dropped, 5000));
	check_order(w, 500, st.dropped);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_bytes),
		cmocka_unit_test(test_comm_bytes),
		cmocka_unit_test_setup_teardown(test_order_acked,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_redeliver_after_close,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_backoff_when_busy,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_redeliver_after_timeout,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_spool_then_replay,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_spool_max_drops,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_restart_pickup,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_flush_while_connected,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_spool,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_disk_full,
		    world_setup, world_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_evstream", 1, 0);
	log_setlevel(getenv("WARP_TEST_DEBUG") != NULL ? LOG_DEBUG :
	    LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
