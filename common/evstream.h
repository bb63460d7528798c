/*
 * evstream.h -- warp-proxyd's event stream toward warp-logd.
 *
 * The relay calls evstream_comm()/evstream_conn() and never waits: each
 * event is packed at once into a bounded in-memory queue and sent to
 * log.sock in batches (EventBatch, answered by Ack).  While warp-logd is
 * down or slow, events that do not fit in memory go to an append-only
 * spool file under spool_dir (up to spool_max bytes); when warp-logd
 * returns, the spool is replayed in order before new events.  Delivery is
 * at-least-once; (connection_id, seq) is the event id warp-logd uses to
 * store each event exactly once.  Events dropped past the spool limit are
 * counted and logged with the count.
 */
#ifndef WARP_EVSTREAM_H
#define WARP_EVSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "warp.pb-c.h"

struct event_base;
struct evstream;

struct evstream_cfg {
	const char	*sock_path;	/* log.sock */
	const char	*spool_dir;	/* event_spool_dir */
	uint64_t	 spool_max;	/* bytes on disk, 0 = no spool */
	size_t		 mem_max;	/* bytes queued in memory */
	size_t		 batch_max;	/* events per frame */
	int		 flush_ms;	/* longest an event waits to be sent */
	int		 ack_timeout_ms;
	const char	*name;		/* Hello.peer */
	const char	*spool_name;	/* file in spool_dir; NULL: events.spool */
};

struct evstream_stats {
	uint64_t	 queued;	/* accepted from the relay */
	uint64_t	 acked;		/* confirmed stored by warp-logd */
	uint64_t	 spooled;	/* written to the spool file */
	uint64_t	 replayed;	/* read back from the spool */
	uint64_t	 dropped;	/* lost past spool_max (counted, logged) */
	size_t		 mem_bytes;	/* in memory now */
	uint64_t	 spool_bytes;	/* on disk now */
};

struct evstream *evstream_new(struct event_base *, const struct evstream_cfg *);

void	 evstream_comm(struct evstream *, const char *connection_id,
	    uint32_t seq, int64_t occurred_at_us, const char *direction,
	    const void *data, size_t len);
void	 evstream_conn(struct evstream *, const Warp__ConnEvent *);

void	 evstream_set_flush_ms(struct evstream *, int);
/*
 * Move the whole records of spool file `from` (in dir) to the end of
 * `into`, then remove `from`: a process that no longer exists left events
 * behind, and the caller will replay them with its own.  A record cut
 * short at the end of `from` is dropped (it was never acknowledged as
 * written).  Nothing happens if `from` is missing or locked by a live
 * process.  Returns the bytes moved, or -1.
 */
long long evstream_spool_adopt(const char *dir, const char *from,
	    const char *into);
void	 evstream_stats(const struct evstream *, struct evstream_stats *);
/* Shutdown: move everything not yet acknowledged to the spool. */
void	 evstream_flush_to_spool(struct evstream *);
void	 evstream_free(struct evstream *);

/*
 * The wire bytes (4-byte length + Frame{id, events}) the stream sends for
 * these packed Warp__Event messages, built by hand the way the stream
 * builds them (see evstream.c).  Malloc'ed, *lenp gets the length; NULL
 * if too large.  For tests and tools.
 */
uint8_t	*evstream_encode_frame(uint64_t id, const uint8_t *const *events,
	    const size_t *lens, size_t n, int replay, size_t *lenp);

/*
 * The packed bytes of Warp__Event{comm = CommEvent{...}}, written by hand
 * (the relay records about fifteen per message): the same bytes as
 * warp__event__pack(), which tests/unit/test_evstream.c checks.  Returns
 * the length; with out NULL only computes it.
 */
size_t	 evstream_pack_comm(uint8_t *out, const char *connection_id,
	    uint32_t seq, int64_t occurred_at_us, const char *direction,
	    const void *data, size_t len);

#endif
