/*
 * evstream.c -- warp-proxyd's event stream toward warp-logd (evstream.h).
 *
 * Called from warp-proxyd's relay path, so nothing here waits: an event is
 * packed at once (Warp__Event bytes behind a 4-byte big-endian length, the
 * same record format as the spool file) and queued in memory.  Batches go
 * to log.sock through the IPC client with a small window of requests in
 * flight; an Ack drops a batch's events, a failed request (timeout,
 * disconnect) puts the whole window back at the head of the stream, in
 * order, so delivery is at-least-once and ordered.
 *
 * The stream, oldest first, is: batches in flight, then the spool file's
 * unsent part, then the in-memory queue.  When memory passes mem_max the
 * OLDEST queued events are spilled (one append of whole records) to
 * <spool_dir>/events.spool, so everything in the spool is older than
 * everything in memory and "replay the spool, then memory" keeps the
 * order.  A batch taken from memory remembers the spool size when it left
 * (its mark): spool records before the mark are older than it, records
 * after it were spilled later.  The spool is truncated once all of it is
 * acknowledged; an existing spool is picked up at start-up.  Past
 * spool_max, and on a write error (full disk, EIO), events are dropped,
 * counted and reported at most once per EVSTREAM_DROP_LOG_SEC.
 *
 * Wire encoding: events are already packed, so an EventBatch is written by
 * hand (field 1, length-delimited, per event; field 2 = replay) and handed
 * to the IPC layer as an unknown field 20 of the Frame.  protobuf-c packs
 * unknown fields verbatim after the known ones (Frame.id, field 1), which
 * gives exactly the bytes protobuf-c would produce for Frame{id,
 * events=EventBatch{...}} -- tests/unit/test_evstream.c checks this byte
 * for byte and through warp__frame__unpack.  No unpack/repack per event.
 *
 * Touches: the log.sock client connection and one file under spool_dir
 * (locked with flock so two proxyd instances never share it).
 */
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "evstream.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#define EVSTREAM_WINDOW		4	/* batches in flight */
#define EVSTREAM_BATCH_BYTES	(1024 * 1024)	/* per frame, well under IPC_MAX_FRAME */
#define EVSTREAM_MAX_EVENT	(EVSTREAM_BATCH_BYTES - 64)
#define EVSTREAM_SPILL_SLACK	(256 * 1024)	/* most spilled per append */
#define EVSTREAM_DROP_LOG_SEC	10
#define EVSTREAM_SPOOL_NAME	"events.spool"
#define EVSTREAM_REC_HDR	4

#define DEF_MEM_MAX		(16u * 1024 * 1024)
#define DEF_BATCH_MAX		500
#define DEF_FLUSH_MS		50
#define DEF_ACK_TIMEOUT_MS	10000

#define FRAME_FIELD_EVENTS	20	/* Frame.events */
#define BATCH_TAG_EVENT		0x0a	/* EventBatch.events: field 1, wire type 2 */
#define BATCH_TAG_REPLAY	0x10	/* EventBatch.replay: field 2, varint */
#define LEN_ROOM		10	/* before a batch body: its length varint */

/* One queued event: data is the spool record, length header included. */
struct rec {
	struct rec	*next;
	uint32_t	 len;
	uint8_t		 data[];
};

struct recq {
	struct rec	*head, *tail;
	size_t		 n;
	size_t		 bytes;		/* memory they hold */
};

enum batch_kind { BATCH_MEM, BATCH_SPOOL };

struct batch {
	TAILQ_ENTRY(batch) entry;
	struct evstream	*es;
	enum batch_kind	 kind;
	int		 live;		/* 0: abandoned, waiting for its callback */
	size_t		 nevents;
	struct recq	 recs;		/* BATCH_MEM */
	uint64_t	 mark;		/* BATCH_MEM: spool size when it left memory */
	uint64_t	 start, end;	/* BATCH_SPOOL: byte range in the spool */
};
TAILQ_HEAD(batchq, batch);

struct evstream {
	struct event_base	*base;
	struct ipc_client	*cli;
	char			*sock_path;
	char			*name;
	uint64_t		 spool_max;
	size_t			 mem_max;
	size_t			 batch_max;
	int			 flush_ms;
	int			 ack_timeout_ms;

	struct recq		 memq;		/* not yet sent, newest last */
	struct batchq		 retry;		/* sent once, failed; oldest first */
	struct batchq		 inflight;	/* live requests, in send order */
	size_t			 nlive;
	size_t			 mem_bytes;	/* memq + retry + in flight */
	int			 flush_due;

	struct event		*flush_ev;
	struct event		*pump_ev;
	int			 backoff_ms;	/* after a refused batch */
	int64_t			 hold_until_us;	/* no sends before (monotonic) */
	struct event		*droplog_ev;

	/* spool */
	char			*spool_path;	/* NULL: no spool */
	int			 spool_fd;
	uint64_t		 spool_size;	/* bytes in the file */
	uint64_t		 spool_read;	/* next byte to send */
	uint64_t		 spool_bad_high;	/* bad records before: counted */
	int			 spool_failing;	/* last write failed (logged) */
	int64_t			 spool_retry_us;	/* next open attempt */

	/* drop reporting */
	uint64_t		 drops_unlogged;
	int64_t			 droplog_us;

	int			 was_connected;

	/* scratch */
	uint8_t			*wbuf;		/* batch encoding */
	size_t			 wcap;
	uint8_t			*rbuf;		/* spool reads, spills */
	size_t			 rcap;

	struct evstream_stats	 st;
};

static void	pump(struct evstream *);
static void	schedule_pump(struct evstream *);

/* ---- small helpers ------------------------------------------------------- */

static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t	 n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static void
grow(uint8_t **buf, size_t *cap, size_t need)
{
	size_t	 n;

	if (need <= *cap)
		return;
	n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	*buf = xrealloc(*buf, n);
	*cap = n;
}

static size_t
rec_cost(const struct rec *r)
{
	return sizeof(*r) + r->len;
}

static void
recq_push(struct recq *q, struct rec *r)
{
	r->next = NULL;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->n++;
	q->bytes += rec_cost(r);
}

static struct rec *
recq_pop(struct recq *q)
{
	struct rec	*r;

	if ((r = q->head) == NULL)
		return NULL;
	if ((q->head = r->next) == NULL)
		q->tail = NULL;
	r->next = NULL;
	q->n--;
	q->bytes -= rec_cost(r);
	return r;
}

static void
recq_free(struct recq *q)
{
	struct rec	*r;

	while ((r = recq_pop(q)) != NULL)
		free(r);
}

/* ---- drops ------------------------------------------------------------------ */

static void
droplog_flush(struct evstream *es)
{
	if (es->drops_unlogged == 0)
		return;
	log_warnx("event stream: dropped %" PRIu64 " events (%" PRIu64
	    " since start): warp-logd unreachable and %s", es->drops_unlogged,
	    es->st.dropped, es->spool_path == NULL ? "no spool configured" :
	    es->spool_failing ? "the spool cannot be written" :
	    "the spool is full (spool_max)");
	es->drops_unlogged = 0;
	es->droplog_us = warp_mono_us();
}

static void
droplog_cb(evutil_socket_t fd, short what, void *arg)
{
	droplog_flush(arg);
}

static void
note_drop(struct evstream *es, uint64_t n)
{
	int64_t		 now, next;
	struct timeval	 tv;

	if (n == 0)
		return;
	es->st.dropped += n;
	es->drops_unlogged += n;
	now = warp_mono_us();
	next = es->droplog_us + (int64_t)EVSTREAM_DROP_LOG_SEC * 1000000;
	if (es->droplog_us == 0 || now >= next) {
		droplog_flush(es);
		return;
	}
	if (!evtimer_pending(es->droplog_ev, NULL)) {
		tv = warp_tv_us(next - now);
		evtimer_add(es->droplog_ev, &tv);
	}
}

/* ---- spool file ------------------------------------------------------------ */

static int
spool_open(struct evstream *es)
{
	struct stat	 sb;
	char		*dir;
	int		 fd;

	if (es->spool_path == NULL)
		return -1;
	if (es->spool_fd != -1)
		return 0;
	if (es->spool_retry_us != 0 && warp_mono_us() < es->spool_retry_us)
		return -1;
	es->spool_retry_us = warp_mono_us() +
	    (int64_t)EVSTREAM_DROP_LOG_SEC * 1000000;

	dir = xstrdup(es->spool_path);
	*strrchr(dir, '/') = '\0';
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		log_warn("event spool: mkdir %s", dir);
	free(dir);

	fd = open(es->spool_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		log_warn("event spool: open %s", es->spool_path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_warn("event spool: %s is locked by another process",
		    es->spool_path);
		close(fd);
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		log_warn("event spool: fstat %s", es->spool_path);
		close(fd);
		return -1;
	}
	es->spool_fd = fd;
	es->spool_size = (uint64_t)sb.st_size;
	es->spool_read = 0;
	es->spool_retry_us = 0;
	if (es->spool_size > 0)
		log_notice("event spool: %s holds %" PRIu64 " bytes of events "
		    "from an earlier run; they are sent first",
		    es->spool_path, es->spool_size);
	return 0;
}

static void
spool_write_failed(struct evstream *es, const char *what)
{
	if (!es->spool_failing)
		log_warn("event spool: %s %s failed; events are dropped and "
		    "counted until it works again", what, es->spool_path);
	es->spool_failing = 1;
}

/*
 * Append whole records; all or nothing.  Returns 0, or -1 (nothing added,
 * a partial write is cut off again).
 */
static int
spool_append(struct evstream *es, const uint8_t *buf, size_t len)
{
	ssize_t	 n;

	if (len == 0)
		return 0;
	do
		n = write(es->spool_fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len) {
		es->spool_size += len;
		if (es->spool_failing)
			log_notice("event spool: %s is writable again",
			    es->spool_path);
		es->spool_failing = 0;
		return 0;
	}
	if (n >= 0)
		errno = ENOSPC;
	spool_write_failed(es, "write to");
	if (n > 0 && ftruncate(es->spool_fd, (off_t)es->spool_size) == -1)
		log_warn("event spool: ftruncate %s", es->spool_path);
	return -1;
}

/* Marks of batches from memory; after a truncation nothing is older. */
static void
reset_marks(struct evstream *es, uint64_t maxmark)
{
	struct batch	*b;

	TAILQ_FOREACH(b, &es->retry, entry)
		if (b->mark > maxmark)
			b->mark = maxmark;
	TAILQ_FOREACH(b, &es->inflight, entry)
		if (b->kind == BATCH_MEM && b->mark > maxmark)
			b->mark = maxmark;
}

/* Throw away everything from off on (a corrupt or cut-off record). */
static void
spool_cut(struct evstream *es, uint64_t off, const char *why)
{
	log_warnx("event spool: %s at offset %" PRIu64 ": discarding the "
	    "last %" PRIu64 " bytes", why, off, es->spool_size - off);
	if (ftruncate(es->spool_fd, (off_t)off) == -1)
		log_warn("event spool: ftruncate %s", es->spool_path);
	es->spool_size = off;
	if (es->spool_read > off)
		es->spool_read = off;
	reset_marks(es, off);
}

/* Once every spooled event is acknowledged the file starts again empty. */
static void
spool_maybe_truncate(struct evstream *es)
{
	struct batch	*b;

	if (es->spool_fd == -1 || es->spool_size == 0 ||
	    es->spool_read != es->spool_size)
		return;
	TAILQ_FOREACH(b, &es->inflight, entry)
		if (b->kind == BATCH_SPOOL)
			return;
	if (ftruncate(es->spool_fd, 0) == -1) {
		log_warn("event spool: ftruncate %s", es->spool_path);
		return;
	}
	log_info("event spool: all %" PRIu64 " spooled bytes delivered",
	    es->spool_size);
	es->spool_size = es->spool_read = es->spool_bad_high = 0;
	reset_marks(es, 0);
}

/*
 * Memory is over mem_max: move the oldest queued events to the spool in
 * one append (or drop and count them when there is no room).  This runs
 * on the caller's path, hence one write of at most EVSTREAM_SPILL_SLACK
 * bytes of whole records (or one record, if larger).
 */
static void
spill(struct evstream *es)
{
	struct recq	 out = { NULL, NULL, 0, 0 };
	struct rec	*r;
	size_t		 target, slack, len, fit;
	uint64_t	 room;

	slack = es->spool_path ? WARP_MIN(es->mem_max / 8,
	    (size_t)EVSTREAM_SPILL_SLACK) : 0;
	target = es->mem_max - slack;
	len = 0;
	while (es->mem_bytes > target && es->memq.n > 0 &&
	    (out.n == 0 || len + es->memq.head->len <= EVSTREAM_SPILL_SLACK)) {
		r = recq_pop(&es->memq);
		es->mem_bytes -= rec_cost(r);
		len += r->len;
		recq_push(&out, r);
	}
	if (out.n == 0)
		return;

	if (spool_open(es) == -1) {
		note_drop(es, out.n);
		recq_free(&out);
		return;
	}
	room = es->spool_size < es->spool_max ?
	    es->spool_max - es->spool_size : 0;
	grow(&es->rbuf, &es->rcap, len);
	len = fit = 0;
	for (r = out.head; r != NULL; r = r->next) {
		if (len + r->len > room)
			break;
		memcpy(es->rbuf + len, r->data, r->len);
		len += r->len;
		fit++;
	}
	if (fit > 0 && spool_append(es, es->rbuf, len) == 0)
		es->st.spooled += fit;
	else
		fit = 0;
	note_drop(es, out.n - fit);
	recq_free(&out);
}

/* ---- batches on the wire ------------------------------------------------------ */

static void
enc_event(uint8_t **buf, size_t *cap, size_t *off, const uint8_t *ev,
    size_t len)
{
	grow(buf, cap, *off + 1 + 10 + len + 2);
	(*buf)[(*off)++] = BATCH_TAG_EVENT;
	*off += put_varint(*buf + *off, len);
	memcpy(*buf + *off, ev, len);
	*off += len;
}

static void
enc_replay(uint8_t **buf, size_t *cap, size_t *off, int replay)
{
	if (!replay)
		return;
	grow(buf, cap, *off + 2);
	(*buf)[(*off)++] = BATCH_TAG_REPLAY;
	(*buf)[(*off)++] = 1;
}

/*
 * A Frame whose body is the EventBatch encoded at buf + LEN_ROOM (len
 * bytes).  protobuf-c keeps an unknown length-delimited field's length
 * prefix inside its data, so the varint goes in the room just before.
 */
static void
frame_wrap(Warp__Frame *f, ProtobufCMessageUnknownField *uf, uint8_t *buf,
    size_t len)
{
	uint8_t	 pfx[10];
	size_t	 n;

	n = put_varint(pfx, len);
	memcpy(buf + LEN_ROOM - n, pfx, n);
	warp__frame__init(f);
	uf->tag = FRAME_FIELD_EVENTS;
	uf->wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
	uf->len = n + len;
	uf->data = buf + LEN_ROOM - n;
	f->base.n_unknown_fields = 1;
	f->base.unknown_fields = uf;
}

static void	on_reply(const Warp__Frame *, void *);

static int
send_batch(struct evstream *es, struct batch *b, size_t len)
{
	Warp__Frame			 f;
	ProtobufCMessageUnknownField	 uf;

	frame_wrap(&f, &uf, es->wbuf, len);
	if (ipc_client_request(es->cli, &f, es->ack_timeout_ms, on_reply,
	    b) == 0)
		return -1;
	b->live = 1;
	TAILQ_INSERT_TAIL(&es->inflight, b, entry);
	es->nlive++;
	return 0;
}

static int
send_mem(struct evstream *es, struct batch *b)
{
	struct rec	*r;
	size_t		 len = LEN_ROOM;

	grow(&es->wbuf, &es->wcap, LEN_ROOM);
	for (r = b->recs.head; r != NULL; r = r->next)
		enc_event(&es->wbuf, &es->wcap, &len, r->data + EVSTREAM_REC_HDR,
		    r->len - EVSTREAM_REC_HDR);
	return send_batch(es, b, len - LEN_ROOM);
}

/* Cut the next batch out of the memory queue. */
static struct batch *
take_mem(struct evstream *es)
{
	struct batch	*b;
	size_t		 len = 0;

	b = xcalloc(1, sizeof(*b));
	b->es = es;
	b->kind = BATCH_MEM;
	b->mark = es->spool_size;
	while (es->memq.n > 0 && b->recs.n < es->batch_max &&
	    (b->recs.n == 0 ||
	    len + es->memq.head->len <= EVSTREAM_BATCH_BYTES)) {
		len += es->memq.head->len;
		recq_push(&b->recs, recq_pop(&es->memq));
	}
	b->nevents = b->recs.n;
	return b;
}

/* Give a batch that was not sent back to the head of the stream. */
static void
untake_mem(struct evstream *es, struct batch *b)
{
	TAILQ_INSERT_HEAD(&es->retry, b, entry);
}

/* Spool records are read back from disk: check each before sending it. */
static int
event_valid(const uint8_t *p, size_t len)
{
	Warp__Event	*e;
	int		 ok;

	if ((e = warp__event__unpack(NULL, len, p)) == NULL)
		return 0;
	ok = e->kind_case != WARP__EVENT__KIND__NOT_SET;
	warp__event__free_unpacked(e, NULL);
	return ok;
}

/*
 * Read the next records of the spool (up to limit) and send them as one
 * replay batch.  Returns 0 when a batch was sent or the spool was cut,
 * -1 when nothing can be sent now.
 */
static int
send_spool(struct evstream *es, uint64_t limit)
{
	struct batch	*b;
	const uint8_t	*ev;
	uint64_t	 start = es->spool_read, avail = limit - start;
	size_t		 want, got, off, len, n;
	ssize_t		 rd;
	uint32_t	 rlen;

	want = (size_t)WARP_MIN(avail, (uint64_t)EVSTREAM_BATCH_BYTES);
	for (;;) {
		grow(&es->rbuf, &es->rcap, want);
		do
			rd = pread(es->spool_fd, es->rbuf, want, (off_t)start);
		while (rd == -1 && errno == EINTR);
		if (rd == -1) {
			log_warn("event spool: read %s", es->spool_path);
			return -1;
		}
		got = (size_t)rd;
		if (got < EVSTREAM_REC_HDR) {
			spool_cut(es, start, "short record");
			return 0;
		}
		rlen = warp_get_be32(es->rbuf);
		if (rlen <= EVSTREAM_REC_HDR || rlen > EVSTREAM_MAX_EVENT) {
			spool_cut(es, start, "corrupt record");
			return 0;
		}
		if (rlen <= got)
			break;
		if (rlen > avail) {
			spool_cut(es, start, "cut-off record");
			return 0;
		}
		want = rlen;	/* one record larger than the chunk */
	}

	off = n = 0;
	len = LEN_ROOM;
	grow(&es->wbuf, &es->wcap, LEN_ROOM);
	while (n < es->batch_max && off + EVSTREAM_REC_HDR <= got) {
		rlen = warp_get_be32(es->rbuf + off);
		if (rlen <= EVSTREAM_REC_HDR || rlen > EVSTREAM_MAX_EVENT)
			break;		/* reported when it comes first */
		if (off + rlen > got)
			break;
		ev = es->rbuf + off + EVSTREAM_REC_HDR;
		if (!event_valid(ev, rlen - EVSTREAM_REC_HDR)) {
			/* One bad record must not block the stream:
			 * warp-logd would drop the connection on it. */
			if (start + off >= es->spool_bad_high) {
				log_warnx("event spool: undecodable event at "
				    "offset %" PRIu64 " skipped", start + off);
				note_drop(es, 1);
				es->spool_bad_high = start + off + rlen;
			}
			off += rlen;
			continue;
		}
		enc_event(&es->wbuf, &es->wcap, &len, ev,
		    rlen - EVSTREAM_REC_HDR);
		off += rlen;
		n++;
	}
	if (n == 0) {		/* only undecodable records */
		es->spool_read = start + off;
		spool_maybe_truncate(es);
		return 0;
	}
	enc_replay(&es->wbuf, &es->wcap, &len, 1);

	b = xcalloc(1, sizeof(*b));
	b->es = es;
	b->kind = BATCH_SPOOL;
	b->start = start;
	b->end = start + off;
	b->nevents = n;
	if (send_batch(es, b, len - LEN_ROOM) == -1) {
		free(b);
		return -1;
	}
	es->spool_read = b->end;
	return 0;
}

/* A new batch object taking over an abandoned batch's events. */
static struct batch *
batch_detach(struct batch *b)
{
	struct batch	*nb;

	nb = xcalloc(1, sizeof(*nb));
	nb->es = b->es;
	nb->kind = BATCH_MEM;
	nb->recs = b->recs;
	nb->mark = b->mark;
	nb->nevents = b->nevents;
	memset(&b->recs, 0, sizeof(b->recs));
	return nb;
}

/*
 * Abandon every live request and put its events back at the head of the
 * stream in their original order: memory batches before the retry list,
 * spool batches by rewinding the read offset.  Requests whose callback is
 * still due stay allocated (live = 0) until it comes; done is the one
 * whose callback is running now, freed by the caller.
 */
static void
abandon_window(struct evstream *es, struct batch *done)
{
	struct batchq	 back = TAILQ_HEAD_INITIALIZER(back);
	struct batch	*b, *nb;

	while ((b = TAILQ_FIRST(&es->inflight)) != NULL) {
		TAILQ_REMOVE(&es->inflight, b, entry);
		b->live = 0;
		if (b->kind == BATCH_SPOOL) {
			if (b->start < es->spool_read)
				es->spool_read = b->start;
		} else {
			nb = batch_detach(b);
			TAILQ_INSERT_TAIL(&back, nb, entry);
		}
		/* b != done: freed by its own callback, which is still due */
	}
	es->nlive = 0;
	while ((b = TAILQ_LAST(&back, batchq)) != NULL) {
		TAILQ_REMOVE(&back, b, entry);
		TAILQ_INSERT_HEAD(&es->retry, b, entry);
	}
}

static void
batch_free(struct batch *b)
{
	recq_free(&b->recs);
	free(b);
}

/*
 * warp-logd said "not now" (its sinks' queues are full) or did not answer:
 * resending at once would only add load where there is too much, so the
 * stream waits 50 ms, doubling up to 2 s, until the next Ack.
 */
static int
backoff_next(struct evstream *es)
{
	return es->backoff_ms == 0 ? 50 : WARP_MIN(es->backoff_ms * 2, 2000);
}

static void
hold_off(struct evstream *es)
{
	struct timeval	 tv;

	es->backoff_ms = backoff_next(es);
	es->hold_until_us = warp_mono_us() + (int64_t)es->backoff_ms * 1000;
	tv = warp_tv_ms(es->backoff_ms);
	evtimer_add(es->pump_ev, &tv);
}

static void
on_reply(const Warp__Frame *reply, void *arg)
{
	struct batch	*b = arg;
	struct evstream	*es = b->es;
	const char	*text;

	if (!b->live) {
		batch_free(b);
		return;
	}
	if (reply != NULL && reply->body_case == WARP__FRAME__BODY_ACK) {
		es->backoff_ms = 0;
		es->hold_until_us = 0;
		TAILQ_REMOVE(&es->inflight, b, entry);
		es->nlive--;
		es->st.acked += b->nevents;
		if (b->kind == BATCH_SPOOL)
			es->st.replayed += b->nevents;
		es->mem_bytes -= b->recs.bytes;
		batch_free(b);
		spool_maybe_truncate(es);
		schedule_pump(es);
		return;
	}
	if (reply != NULL && reply->body_case == WARP__FRAME__BODY_ERROR &&
	    reply->error->code != WARP__ERROR_CODE__ERR_UNAVAILABLE &&
	    reply->error->code != WARP__ERROR_CODE__ERR_INTERNAL) {
		/* Refused for good: resending the same bytes cannot help. */
		text = reply->error->text ? reply->error->text : "";
		log_warnx("event stream: warp-logd refused a batch of %zu "
		    "events (error %u: %s); dropping it", b->nevents,
		    reply->error->code, log_printable(text, strlen(text)));
		TAILQ_REMOVE(&es->inflight, b, entry);
		es->nlive--;
		es->mem_bytes -= b->recs.bytes;
		note_drop(es, b->nevents);
		batch_free(b);
		spool_maybe_truncate(es);
		schedule_pump(es);
		return;
	}
	if (reply == NULL)
		log_debug("event stream: batch of %zu events not acknowledged "
		    "(timeout or disconnect); resending", b->nevents);
	else if (reply->body_case == WARP__FRAME__BODY_ERROR)
		log_debug("event stream: warp-logd cannot take a batch now "
		    "(error %u); resending after %d ms", reply->error->code,
		    backoff_next(es));
	else
		log_warnx("event stream: unexpected reply to a batch; "
		    "resending");
	abandon_window(es, b);
	free(b);		/* its events moved to the retry list */
	hold_off(es);
}

/*
 * Send what can be sent, oldest first: retry batches once the spool
 * before their mark has gone, spool records, then the memory queue (full
 * batches at once, the rest when the flush timer said so).
 */
static void
pump(struct evstream *es)
{
	struct batch	*b;
	struct timeval	 tv;
	uint64_t	 limit;
	int64_t		 left;

	if (!ipc_client_connected(es->cli))
		return;
	if ((left = es->hold_until_us - warp_mono_us()) > 0) {
		/* Backing off.  Running pump_ev by hand cancelled its timer,
		 * so arm it again for what is left of the wait. */
		tv = warp_tv_us(left);
		evtimer_add(es->pump_ev, &tv);
		return;
	}
	while (es->nlive < EVSTREAM_WINDOW) {
		b = TAILQ_FIRST(&es->retry);
		if (b != NULL && es->spool_read >= b->mark) {
			TAILQ_REMOVE(&es->retry, b, entry);
			if (send_mem(es, b) == -1) {
				untake_mem(es, b);
				return;
			}
			continue;
		}
		limit = b != NULL ? b->mark : es->spool_size;
		if (es->spool_fd != -1 && es->spool_read < limit) {
			if (send_spool(es, limit) == -1)
				return;
			continue;
		}
		if (es->memq.n == 0) {
			es->flush_due = 0;
			return;
		}
		if (es->memq.n < es->batch_max && !es->flush_due)
			return;
		b = take_mem(es);
		if (send_mem(es, b) == -1) {
			untake_mem(es, b);
			return;
		}
	}
}

static void
pump_cb(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

/* Sends happen from the event loop, never from inside an IPC callback. */
static void
schedule_pump(struct evstream *es)
{
	event_active(es->pump_ev, EV_TIMEOUT, 0);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evstream	*es = arg;

	if (es->memq.n > 0) {
		es->flush_due = 1;
		pump(es);
	}
}

static void
on_state(struct ipc_client *cli, int connected, void *arg)
{
	struct evstream	*es = arg;

	if (connected) {
		log_info("event stream: connected to %s", es->sock_path);
		es->was_connected = 1;
		es->flush_due = 1;
		schedule_pump(es);
	} else if (es->was_connected) {
		log_warnx("event stream: lost %s; queueing events",
		    es->sock_path);
		es->was_connected = 0;
	}
}

/* ---- the relay's side ---------------------------------------------------------- */

static void
enqueue(struct evstream *es, struct rec *r)
{
	struct timeval	 tv;

	es->st.queued++;
	recq_push(&es->memq, r);
	es->mem_bytes += rec_cost(r);
	if (es->mem_bytes > es->mem_max) {
		spill(es);
		if (es->memq.n == 0)
			return;
	}
	if (es->memq.n >= es->batch_max)
		schedule_pump(es);
	else if (!evtimer_pending(es->flush_ev, NULL)) {
		tv = warp_tv_ms(es->flush_ms);
		evtimer_add(es->flush_ev, &tv);
	}
}

/* A record for an event of n packed bytes, or NULL (too large: dropped). */
static struct rec *
rec_new(struct evstream *es, size_t n)
{
	struct rec	*r;

	if (n + EVSTREAM_REC_HDR > EVSTREAM_MAX_EVENT) {
		log_warnx("event stream: event of %zu bytes is too large",
		    n);
		es->st.queued++;
		note_drop(es, 1);
		return NULL;
	}
	r = xmalloc(sizeof(*r) + EVSTREAM_REC_HDR + n);
	r->len = (uint32_t)(EVSTREAM_REC_HDR + n);
	warp_put_be32(r->data, r->len);
	return r;
}

static size_t
varint_len(uint64_t v)
{
	size_t	 n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* tag + length + bytes of a length-delimited field */
static size_t
put_lenfield(uint8_t *p, uint8_t tag, const void *v, size_t len)
{
	size_t	 n;

	p[0] = tag;
	n = 1 + put_varint(p + 1, len);
	if (len > 0)
		memcpy(p + n, v, len);
	return n + len;
}

#define EVENT_TAG_COMM		0x0a	/* Event.comm: field 1, wire type 2 */

size_t
evstream_pack_comm(uint8_t *out, const char *connection_id, uint32_t seq,
    int64_t occurred_at_us, const char *direction, const void *data,
    size_t len)
{
	size_t	 lc, ld, body, n;

	if (connection_id == NULL)	/* as protobuf-c packs a NULL string */
		connection_id = "";
	if (direction == NULL)
		direction = "";
	lc = strlen(connection_id);
	ld = strlen(direction);

	/* CommEvent: 1 connection_id, 2 seq, 3 occurred_at_us (an int64
	 * varint: ten bytes when negative), 4 direction, 5 data */
	body = 1 + varint_len(lc) + lc + 1 + varint_len(seq) +
	    1 + varint_len((uint64_t)occurred_at_us) +
	    1 + varint_len(ld) + ld + 1 + varint_len(len) + len;
	if (out == NULL)
		return 1 + varint_len(body) + body;
	out[0] = EVENT_TAG_COMM;
	n = 1 + put_varint(out + 1, body);
	n += put_lenfield(out + n, 0x0a, connection_id, lc);
	out[n++] = 0x10;
	n += put_varint(out + n, seq);
	out[n++] = 0x18;
	n += put_varint(out + n, (uint64_t)occurred_at_us);
	n += put_lenfield(out + n, 0x22, direction, ld);
	n += put_lenfield(out + n, 0x2a, data, len);
	return n;
}

void
evstream_comm(struct evstream *es, const char *connection_id, uint32_t seq,
    int64_t occurred_at_us, const char *direction, const void *data,
    size_t len)
{
	struct rec	*r;
	size_t		 n;

	n = evstream_pack_comm(NULL, connection_id, seq, occurred_at_us,
	    direction, data, len);
	if ((r = rec_new(es, n)) == NULL)
		return;
	evstream_pack_comm(r->data + EVSTREAM_REC_HDR, connection_id, seq,
	    occurred_at_us, direction, data, len);
	enqueue(es, r);
}

void
evstream_conn(struct evstream *es, const Warp__ConnEvent *conn)
{
	Warp__Event	 ev = WARP__EVENT__INIT;
	struct rec	*r;

	ev.kind_case = WARP__EVENT__KIND_CONN;
	ev.conn = (Warp__ConnEvent *)conn;
	if ((r = rec_new(es, warp__event__get_packed_size(&ev))) == NULL)
		return;
	warp__event__pack(&ev, r->data + EVSTREAM_REC_HDR);
	enqueue(es, r);
}

/* A reload may change the flush interval; the next timer uses it. */
void
evstream_set_flush_ms(struct evstream *es, int ms)
{
	if (ms > 0)
		es->flush_ms = ms;
}

void
evstream_stats(const struct evstream *es, struct evstream_stats *st)
{
	*st = es->st;
	st->mem_bytes = es->mem_bytes;
	st->spool_bytes = es->spool_size;
}

uint8_t *
evstream_encode_frame(uint64_t id, const uint8_t *const *events,
    const size_t *lens, size_t n, int replay, size_t *lenp)
{
	Warp__Frame			 f;
	ProtobufCMessageUnknownField	 uf;
	uint8_t				*body = NULL, *out;
	size_t				 cap = 0, len = LEN_ROOM, i;

	grow(&body, &cap, LEN_ROOM);
	for (i = 0; i < n; i++)
		enc_event(&body, &cap, &len, events[i], lens[i]);
	enc_replay(&body, &cap, &len, replay);
	frame_wrap(&f, &uf, body, len - LEN_ROOM);
	f.has_id = 1;
	f.id = id;
	out = ipc_encode_alloc(&f, lenp);
	free(body);
	return out;
}

/* ---- shutdown ---------------------------------------------------------------- */

static int
copy_range(int from, uint64_t start, uint64_t end, int to)
{
	char	 buf[65536];
	ssize_t	 n;
	size_t	 want;

	while (start < end) {
		want = (size_t)WARP_MIN(end - start, (uint64_t)sizeof(buf));
		n = pread(from, buf, want, (off_t)start);
		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (n == 0)
				errno = EIO;
			return -1;
		}
		if (write(to, buf, (size_t)n) != n)
			return -1;
		start += (uint64_t)n;
	}
	return 0;
}

long long
evstream_spool_adopt(const char *dir, const char *from, const char *into)
{
	struct stat	 sb;
	char		*fpath, *ipath;
	uint8_t		 hdr[EVSTREAM_REC_HDR];
	uint64_t	 off = 0;
	uint32_t	 n;
	long long	 moved = -1;
	int		 ffd, ifd = -1;

	fpath = xasprintf("%s/%s", dir, from);
	ipath = xasprintf("%s/%s", dir, into);
	if ((ffd = open(fpath, O_RDWR | O_CLOEXEC)) == -1) {
		moved = errno == ENOENT ? 0 : -1;
		if (moved == -1)
			log_warn("event spool: open %s", fpath);
		goto out;
	}
	if (flock(ffd, LOCK_EX | LOCK_NB) == -1) {
		moved = 0;		/* a live process owns it */
		goto out;
	}
	if (fstat(ffd, &sb) == -1) {
		log_warn("event spool: fstat %s", fpath);
		goto out;
	}
	/* whole records only */
	while ((uint64_t)sb.st_size - off >= EVSTREAM_REC_HDR &&
	    pread(ffd, hdr, sizeof(hdr), (off_t)off) == (ssize_t)sizeof(hdr)) {
		n = warp_get_be32(hdr);
		if (n < EVSTREAM_REC_HDR || n > (uint64_t)sb.st_size - off)
			break;
		off += n;
	}
	if (off > 0) {
		if ((ifd = open(ipath, O_WRONLY | O_CREAT | O_APPEND |
		    O_CLOEXEC, 0600)) == -1) {
			log_warn("event spool: open %s", ipath);
			goto out;
		}
		if (flock(ifd, LOCK_EX | LOCK_NB) == -1 ||
		    copy_range(ffd, 0, off, ifd) == -1 || fsync(ifd) == -1) {
			log_warn("event spool: appending %s to %s", fpath,
			    ipath);
			goto out;
		}
	}
	if (unlink(fpath) == -1) {
		log_warn("event spool: unlink %s", fpath);
		goto out;
	}
	if (off > 0)
		log_notice("event spool: %" PRIu64 " bytes of events left in "
		    "%s moved to %s", off, fpath, ipath);
	moved = (long long)off;
out:
	if (ifd != -1)
		close(ifd);
	if (ffd != -1)
		close(ffd);
	free(fpath);
	free(ipath);
	return moved;
}

/* Write records to fd within room bytes; counts what did not fit. */
static int
write_recs(struct evstream *es, int fd, struct recq *q, uint64_t *used,
    uint64_t *written)
{
	struct rec	*r;

	while ((r = recq_pop(q)) != NULL) {
		es->mem_bytes -= rec_cost(r);
		if (*used + r->len > es->spool_max) {
			note_drop(es, 1);
		} else if (write(fd, r->data, r->len) != (ssize_t)r->len) {
			free(r);
			return -1;
		} else {
			*used += r->len;
			(*written)++;
		}
		free(r);
	}
	return 0;
}

/* Shutdown could not spool: every event still in memory is lost, counted
 * and logged. */
static void
drop_unspooled(struct evstream *es)
{
	struct batch	*b;
	uint64_t	 lost = es->memq.n;

	while ((b = TAILQ_FIRST(&es->retry)) != NULL) {
		TAILQ_REMOVE(&es->retry, b, entry);
		lost += b->recs.n;
		es->mem_bytes -= b->recs.bytes;
		batch_free(b);
	}
	es->mem_bytes -= es->memq.bytes;
	recq_free(&es->memq);
	note_drop(es, lost);
	droplog_flush(es);
}

void
evstream_flush_to_spool(struct evstream *es)
{
	struct batch	*b;
	char		*tmp = NULL;
	uint64_t	 pos, mark, used, written = 0, lost;
	int		 fd, rewrite = 0;

	abandon_window(es, NULL);
	lost = es->memq.n;
	TAILQ_FOREACH(b, &es->retry, entry)
		lost += b->recs.n;
	if (lost == 0)
		return;

	if (spool_open(es) == -1) {
		drop_unspooled(es);
		return;
	}

	/*
	 * Appending keeps the order unless some spooled events are newer
	 * than a retry batch or the file starts with delivered events: then
	 * write a new file in stream order and rename it over the old one.
	 */
	if (es->spool_read > 0)
		rewrite = 1;
	TAILQ_FOREACH(b, &es->retry, entry)
		if (b->mark < es->spool_size)
			rewrite = 1;

	if (rewrite) {
		tmp = xasprintf("%s.tmp", es->spool_path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd == -1) {
			log_warn("event spool: open %s", tmp);
			free(tmp);
			tmp = NULL;
			fd = es->spool_fd;	/* fall back to appending */
			rewrite = 0;
		}
	} else
		fd = es->spool_fd;

	pos = rewrite ? es->spool_read : es->spool_size;
	used = rewrite ? 0 : es->spool_size;
	while ((b = TAILQ_FIRST(&es->retry)) != NULL) {
		TAILQ_REMOVE(&es->retry, b, entry);
		mark = WARP_MAX(WARP_MIN(b->mark, es->spool_size), pos);
		if (rewrite && mark > pos) {
			if (copy_range(es->spool_fd, pos, mark, fd) == -1)
				goto fail;
			used += mark - pos;
			pos = mark;
		}
		if (write_recs(es, fd, &b->recs, &used, &written) == -1) {
			batch_free(b);
			goto fail;
		}
		batch_free(b);
	}
	if (rewrite && es->spool_size > pos) {
		if (copy_range(es->spool_fd, pos, es->spool_size, fd) == -1)
			goto fail;
		used += es->spool_size - pos;
	}
	if (write_recs(es, fd, &es->memq, &used, &written) == -1)
		goto fail;

	if (rewrite) {
		if (rename(tmp, es->spool_path) == -1) {
			log_warn("event spool: rename %s", tmp);
			goto fail;
		}
		close(es->spool_fd);
		es->spool_fd = fd;	/* the new file; lock it too */
		if (flock(fd, LOCK_EX | LOCK_NB) == -1)
			log_warn("event spool: flock %s", es->spool_path);
		free(tmp);
	}
	es->spool_size = used;
	es->spool_read = es->spool_bad_high = 0;
	es->st.spooled += written;
	log_notice("event stream: %" PRIu64 " undelivered events written to "
	    "%s (%" PRIu64 " bytes)", written, es->spool_path, used);
	droplog_flush(es);
	return;

fail:
	spool_write_failed(es, rewrite ? "rewrite of" : "write to");
	if (rewrite) {
		close(fd);
		unlink(tmp);
		free(tmp);
	}
	drop_unspooled(es);
}

/* ---- life cycle ------------------------------------------------------------------ */

struct evstream *
evstream_new(struct event_base *base, const struct evstream_cfg *cfg)
{
	struct evstream		*es;
	struct ipc_client_cfg	 icfg;

	es = xcalloc(1, sizeof(*es));
	es->base = base;
	es->sock_path = xstrdup(cfg->sock_path);
	es->name = xstrdup(cfg->name ? cfg->name : "warp-proxyd");
	es->spool_max = cfg->spool_max;
	es->mem_max = cfg->mem_max ? cfg->mem_max : DEF_MEM_MAX;
	es->batch_max = cfg->batch_max ? cfg->batch_max : DEF_BATCH_MAX;
	es->flush_ms = cfg->flush_ms > 0 ? cfg->flush_ms : DEF_FLUSH_MS;
	es->ack_timeout_ms = cfg->ack_timeout_ms > 0 ? cfg->ack_timeout_ms :
	    DEF_ACK_TIMEOUT_MS;
	TAILQ_INIT(&es->retry);
	TAILQ_INIT(&es->inflight);
	es->spool_fd = -1;
	if (cfg->spool_dir != NULL && *cfg->spool_dir != '\0' &&
	    cfg->spool_max > 0) {
		es->spool_path = xasprintf("%s/%s", cfg->spool_dir,
		    cfg->spool_name != NULL ? cfg->spool_name :
		    EVSTREAM_SPOOL_NAME);
		(void)spool_open(es);
	}

	es->flush_ev = evtimer_new(base, flush_cb, es);
	es->pump_ev = evtimer_new(base, pump_cb, es);
	es->droplog_ev = evtimer_new(base, droplog_cb, es);
	if (es->flush_ev == NULL || es->pump_ev == NULL ||
	    es->droplog_ev == NULL)
		fatalx("evstream: cannot create timers");

	memset(&icfg, 0, sizeof(icfg));
	icfg.path = es->sock_path;
	icfg.name = es->name;
	icfg.backoff_min_ms = 100;
	icfg.backoff_max_ms = 1000;
	icfg.on_state = on_state;
	icfg.arg = es;
	if ((es->cli = ipc_client_new(base, &icfg)) == NULL) {
		log_warnx("event stream: cannot create the client for %s",
		    es->sock_path);
		evstream_free(es);
		return NULL;
	}
	return es;
}

void
evstream_free(struct evstream *es)
{
	struct batch	*b;
	size_t		 n;

	if (es == NULL)
		return;
	if (es->cli != NULL)
		ipc_client_free(es->cli);	/* live callbacks get NULL */
	abandon_window(es, NULL);
	n = es->memq.n;
	while ((b = TAILQ_FIRST(&es->retry)) != NULL) {
		TAILQ_REMOVE(&es->retry, b, entry);
		n += b->recs.n;
		batch_free(b);
	}
	recq_free(&es->memq);
	if (n > 0)
		log_warnx("event stream: %zu events neither delivered nor "
		    "spooled", n);
	droplog_flush(es);
	if (es->flush_ev)
		event_free(es->flush_ev);
	if (es->pump_ev)
		event_free(es->pump_ev);
	if (es->droplog_ev)
		event_free(es->droplog_ev);
	if (es->spool_fd != -1)
		close(es->spool_fd);
	free(es->spool_path);
	free(es->sock_path);
	free(es->name);
	free(es->wbuf);
	free(es->rbuf);
	free(es);
}
