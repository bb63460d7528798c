/*
 * ipc.c -- framing, the Hello exchange, and the server and client ends of
 * warp's inter-process protocol (docs/PROTOCOL.md).
 *
 * Used by every daemon: warp-proxyd is the client of log.sock, filter.sock
 * and route.sock; warp-logd, warp-filterd and warp-routed serve them.
 *
 * Security role: every byte read here comes from another local process and
 * is untrusted.  The length header is checked against the limit before
 * anything is allocated, a frame that does not decode drops that peer only,
 * SO_PEERCRED decides who may connect at all, and the work done per read
 * callback is capped so that one busy peer cannot starve the others.
 *
 * Lifetime rule: user callbacks may close connections, free the server or
 * free the client.  Objects are therefore detached at once but released
 * only when no callback of theirs is on the stack ("busy" counters).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>

#include "arena.h"
#include "conf.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#define IPC_FRAMES_PER_CB	64	/* then yield to other peers */
#define IPC_HELLO_WAIT_MS	10000	/* server: the peer must say Hello */
#define IPC_HELLO_REPLY_MS	5000	/* client: the server must answer */
#define IPC_LINGER_MS		2000	/* flushing output before a close */
#define IPC_DEFAULT_TIMEOUT_MS	10000	/* request without a deadline */
#define IPC_BACKOFF_MIN_MS	100
#define IPC_BACKOFF_MAX_MS	5000
#define IPC_EMFILE_PAUSE_MS	1000
#define IPC_BACKLOG		128
#define IPC_PEER_MAX		64
#define IPC_SNIPPET		32	/* bytes of bad input shown in logs */

static const char ipc_err_too_large[] = "frame too large";

/* ---- connections ----------------------------------------------------------- */

struct ipc_conn {
	struct bufferevent	*bev;
	struct event		*more_ev;	/* resume after the per-cb cap */
	struct ipc_server	*srv;		/* exactly one of srv / cli */
	struct ipc_client	*cli;
	TAILQ_ENTRY(ipc_conn)	 entry;
	size_t			 max_frame;
	int			 hello_done;
	int			 closing;	/* flushing, then drop */
	int			 paused;	/* reading stopped: outq full */
	int			 busy;		/* callbacks on the stack */
	int			 dead;		/* detached; freed when !busy */
	uid_t			 uid;
	pid_t			 pid;
	char			 peer[IPC_PEER_MAX];
	void			*data;
};

struct ipc_server {
	struct event_base	*base;
	struct evconnlistener	*lev;
	struct event		*resume_ev;	/* re-enable accept after EMFILE */
	char			*path;
	dev_t			 dev;		/* the socket file we created */
	ino_t			 ino;
	uid_t			*allowed;
	size_t			 nallowed;
	char			*name;
	size_t			 max_frame;
	ipc_frame_cb		 on_frame;
	ipc_close_cb		 on_close;
	void			*arg;
	TAILQ_HEAD(, ipc_conn)	 conns;
	size_t			 npeers;
};

struct ipc_pending {
	LIST_ENTRY(ipc_pending)	 entry;
	struct ipc_client	*cli;
	uint64_t		 id;
	struct event		 timer;
	ipc_reply_cb		 cb;
	void			*arg;
};
LIST_HEAD(ipc_pending_list, ipc_pending);

struct ipc_client {
	struct event_base	*base;
	char			*path;
	char			*name;
	int			 backoff_min;
	int			 backoff_max;
	int			 backoff;	/* next delay, before jitter */
	size_t			 max_frame;
	ipc_state_cb		 on_state;
	ipc_frame_cb		 on_frame;
	void			*arg;
	struct ipc_conn		*conn;
	int			 connected;	/* Hello exchange done */
	int			 failing;	/* first failure already logged */
	struct event		*retry_ev;
	uint64_t		 next_id;
	struct ipc_pending_list	*buckets;
	size_t			 nbuckets;	/* power of two */
	size_t			 npending;
	int			 last_timeout_ms;
	const struct timeval	*last_tv;	/* common timeout for it */
	int			 busy;
	int			 doomed;	/* freed when !busy */
};

static void	 conn_drop(struct ipc_conn *, const char *);
static void	 conn_process(struct ipc_conn *);
static void	 server_detach(struct ipc_server *, struct ipc_conn *,
		    const char *);
static void	 server_frame(struct ipc_server *, struct ipc_conn *,
		    const Warp__Frame *);
static void	 client_detach(struct ipc_client *, struct ipc_conn *,
		    const char *);
static void	 client_frame(struct ipc_client *, struct ipc_conn *,
		    const Warp__Frame *);
static void	 client_release(struct ipc_client *);

/* ---- pure framing --------------------------------------------------------- */

static size_t
frame_limit(size_t max)
{
	if (max == 0 || max > IPC_MAX_FRAME)
		return IPC_MAX_FRAME;
	return max;
}

enum ipc_decode_result
ipc_decode(const uint8_t *buf, size_t len, size_t max_frame,
    Warp__Frame **out, size_t *consumed, const char **err)
{
	return ipc_decode_with(buf, len, max_frame, NULL, out, consumed, err);
}

enum ipc_decode_result
ipc_decode_with(const uint8_t *buf, size_t len, size_t max_frame,
    ProtobufCAllocator *alloc, Warp__Frame **out, size_t *consumed,
    const char **err)
{
	Warp__Frame	*f;
	const char	*dummy;
	size_t		 n;

	if (err == NULL)
		err = &dummy;
	*out = NULL;
	if (len < IPC_HDR_LEN)
		return IPC_DECODE_MORE;
	n = warp_get_be32(buf);
	if (n > frame_limit(max_frame)) {
		*err = ipc_err_too_large;
		return IPC_DECODE_BAD;
	}
	if (len - IPC_HDR_LEN < n)
		return IPC_DECODE_MORE;
	f = warp__frame__unpack(alloc, n, buf + IPC_HDR_LEN);
	if (f == NULL) {
		*err = "malformed frame";
		return IPC_DECODE_BAD;
	}
	if (f->body_case == WARP__FRAME__BODY__NOT_SET) {
		warp__frame__free_unpacked(f, alloc);
		*err = "unknown message type";
		return IPC_DECODE_BAD;
	}
	/*
	 * Only canonical encodings are accepted: the frame must pack back to
	 * exactly the size it arrived in.  protobuf-c hands string fields to
	 * C as NUL-terminated, so "warp\0evil" would otherwise reach the
	 * daemons silently cut short; the same check refuses a field sent
	 * twice, over-long varints and other bytes that would not survive a
	 * round trip (a spooled or forwarded frame must mean the same thing).
	 */
	if (warp__frame__get_packed_size(f) != n) {
		warp__frame__free_unpacked(f, alloc);
		*err = "non-canonical frame (NUL byte in a string, repeated "
		    "field or over-long encoding)";
		return IPC_DECODE_BAD;
	}
	*out = f;
	*consumed = IPC_HDR_LEN + n;
	return IPC_DECODE_FRAME;
}

int
ipc_encode(struct evbuffer *out, const Warp__Frame *f)
{
	struct evbuffer_iovec	 v;
	size_t			 n;
	uint8_t			*p;

	n = warp__frame__get_packed_size(f);
	if (n > IPC_MAX_FRAME)
		return -1;
	if (evbuffer_reserve_space(out, IPC_HDR_LEN + n, &v, 1) != 1)
		return -1;
	p = v.iov_base;
	warp_put_be32(p, n);
	warp__frame__pack(f, p + IPC_HDR_LEN);
	v.iov_len = IPC_HDR_LEN + n;
	return evbuffer_commit_space(out, &v, 1) == 0 ? 0 : -1;
}

uint8_t *
ipc_encode_alloc(const Warp__Frame *f, size_t *lenp)
{
	size_t	 n;
	uint8_t	*p;

	n = warp__frame__get_packed_size(f);
	if (n > IPC_MAX_FRAME)
		return NULL;
	p = xmalloc(IPC_HDR_LEN + n);
	warp_put_be32(p, n);
	warp__frame__pack(f, p + IPC_HDR_LEN);
	*lenp = IPC_HDR_LEN + n;
	return p;
}

void
ipc_frame_free(Warp__Frame *f)
{
	if (f != NULL)
		warp__frame__free_unpacked(f, NULL);
}

void
ipc_hello_init(Warp__Frame *f, Warp__Hello *h, const char *peer)
{
	warp__frame__init(f);
	warp__hello__init(h);
	h->protocol = (char *)IPC_PROTOCOL;
	h->version = IPC_VERSION;
	h->peer = (char *)(peer != NULL ? peer : "");
	h->has_pid = 1;
	h->pid = (uint32_t)getpid();
	f->body_case = WARP__FRAME__BODY_HELLO;
	f->hello = h;
}

/* 0 when f is an acceptable Hello, else the Error code to answer with. */
static int
hello_verdict(const Warp__Frame *f, const char **why)
{
	const Warp__Hello *h;

	if (f->body_case != WARP__FRAME__BODY_HELLO || f->hello == NULL) {
		*why = "expected Hello";
		return WARP__ERROR_CODE__ERR_PROTOCOL;
	}
	h = f->hello;
	if (h->protocol == NULL || strcmp(h->protocol, IPC_PROTOCOL) != 0) {
		*why = "not the warp protocol";
		return WARP__ERROR_CODE__ERR_PROTOCOL;
	}
	if (h->version != IPC_VERSION) {
		*why = "unsupported protocol version";
		return WARP__ERROR_CODE__ERR_VERSION;
	}
	if (h->peer == NULL) {
		*why = "Hello without a peer name";
		return WARP__ERROR_CODE__ERR_PROTOCOL;
	}
	return 0;
}

int
ipc_hello_check(const Warp__Frame *f, const char **why)
{
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	return hello_verdict(f, why) == 0 ? 0 : -1;
}

/* ---- connections ----------------------------------------------------------- */

/* "warp-filterd: peer warp-proxyd uid 1000 pid 42" and the like. */
static const char *
conn_who(const struct ipc_conn *c, char *buf, size_t sz)
{
	if (c->srv != NULL)
		snprintf(buf, sz, "%s: peer %s uid %u pid %d", c->srv->name,
		    c->peer[0] != '\0' ? c->peer : "(no hello)",
		    (unsigned)c->uid, (int)c->pid);
	else if (c->cli != NULL)
		snprintf(buf, sz, "%s: %s", c->cli->name, c->cli->path);
	else
		snprintf(buf, sz, "ipc");
	return buf;
}

static void
conn_release(struct ipc_conn *c)
{
	if (c->dead && c->busy == 0)
		free(c);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void
conn_more_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_process(arg);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct ipc_conn *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (c->closing) {
		conn_drop(c, "closed");
		return;
	}
	if (c->paused) {
		c->paused = 0;
		bufferevent_enable(c->bev, EV_READ);
		event_active(c->more_ev, EV_TIMEOUT, 0);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ipc_conn	*c = arg;
	char		 who[160], why[128];

	if (what & BEV_EVENT_TIMEOUT) {
		if (c->closing)
			warp_strlcpy(why, "timed out flushing output",
			    sizeof(why));
		else
			warp_strlcpy(why, "no Hello in time", sizeof(why));
		if (c->srv != NULL && !c->closing)
			log_warnx("%s: %s, dropping", conn_who(c, who,
			    sizeof(who)), why);
	} else if (what & BEV_EVENT_EOF)
		warp_strlcpy(why, "closed by peer", sizeof(why));
	else
		snprintf(why, sizeof(why), "%s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_drop(c, why);
}

static struct ipc_conn *
conn_new(struct event_base *base, int fd, size_t max_frame)
{
	struct ipc_conn *c;

	c = xcalloc(1, sizeof(*c));
	c->max_frame = frame_limit(max_frame);
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->more_ev = event_new(base, -1, 0, conn_more_cb, c);
	if (c->bev == NULL || c->more_ev == NULL)
		fatalx("ipc: out of memory for a connection");
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	/* Room for two whole frames; beyond that the peer waits. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    2 * (c->max_frame + IPC_HDR_LEN));
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

/* Detach from the owner at once (its callbacks run now); free later. */
static void
conn_drop(struct ipc_conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	c->busy++;
	bufferevent_free(c->bev);
	c->bev = NULL;
	event_free(c->more_ev);
	c->more_ev = NULL;
	if (c->srv != NULL)
		server_detach(c->srv, c, why);
	else if (c->cli != NULL)
		client_detach(c->cli, c, why);
	c->busy--;
	conn_release(c);
}

/* The peer broke the protocol: say why (best effort) and drop it. */
static void
conn_bad(struct ipc_conn *c, const char *err, const uint8_t *body,
    size_t len)
{
	char	 who[160];
	int	 code;

	log_warnx("%s: %s (%zu bytes: \"%s\"), dropping",
	    conn_who(c, who, sizeof(who)), err, len,
	    log_printable(body, WARP_MIN(len, IPC_SNIPPET)));
	code = err == ipc_err_too_large ? WARP__ERROR_CODE__ERR_TOO_LARGE :
	    WARP__ERROR_CODE__ERR_PROTOCOL;
	ipc_send_error(c, 0, code, err);
	ipc_conn_close(c);
}

/*
 * Received frames are unpacked into one arena per process (the event
 * loop's thread is the only one doing IPC): a frame lives only while its
 * callback runs, so there is nothing to free piece by piece afterwards.
 * A frame received while another one's callback is still on the stack
 * (not expected, but possible if a callback ran the loop) falls back to
 * malloc.  A callback that wants to keep its frame takes the whole arena
 * (ipc_frame_keep); the next frame gets a new one, sized by what the
 * last one needed.
 */
#define IPC_ARENA_CHUNK		(64 * 1024)
#define IPC_ARENA_CHUNK_MAX	(4 * 1024 * 1024)

#define IPC_ARENA_SPARE		8	/* given back, kept for reuse */

static struct arena	*frame_arena;
static int		 frame_arena_busy;
static const Warp__Frame *frame_in_arena;	/* the callback's frame */
static size_t		 frame_chunk = IPC_ARENA_CHUNK;
/* Kept arenas come back from any thread (ipc_frame_release); reusing
 * them spares a fresh mapping, and its page faults, per kept frame. */
static pthread_mutex_t	 spare_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct arena	*spare[IPC_ARENA_SPARE];
static int		 nspare;

static ProtobufCAllocator *
frame_arena_take(void)
{
	if (frame_arena_busy)
		return NULL;
	if (frame_arena == NULL) {
		pthread_mutex_lock(&spare_mtx);
		if (nspare > 0)
			frame_arena = spare[--nspare];
		pthread_mutex_unlock(&spare_mtx);
	}
	if (frame_arena == NULL)
		frame_arena = arena_new(frame_chunk);
	frame_arena_busy = 1;
	return arena_allocator(frame_arena);
}

static void
frame_arena_give(ProtobufCAllocator *alloc, Warp__Frame *f)
{
	if (alloc == NULL) {
		ipc_frame_free(f);
		return;
	}
	if (frame_arena != NULL)	/* NULL: the callback kept it */
		arena_reset(frame_arena);
	frame_in_arena = NULL;
	frame_arena_busy = 0;
}

struct arena *
ipc_frame_keep(const Warp__Frame *f)
{
	struct arena	*a = frame_arena;
	size_t		 used;

	if (f == NULL || f != frame_in_arena || a == NULL)
		return NULL;
	used = arena_used(a);
	frame_chunk = WARP_MIN(WARP_MAX(used, IPC_ARENA_CHUNK),
	    IPC_ARENA_CHUNK_MAX);
	frame_arena = NULL;
	frame_in_arena = NULL;
	return a;
}

void
ipc_frame_release(struct arena *a)
{
	if (a == NULL)
		return;
	arena_reset(a);
	pthread_mutex_lock(&spare_mtx);
	if (nspare < IPC_ARENA_SPARE) {
		spare[nspare++] = a;
		a = NULL;
	}
	pthread_mutex_unlock(&spare_mtx);
	arena_free(a);
}

static void
conn_process(struct ipc_conn *c)
{
	ProtobufCAllocator *alloc;
	struct evbuffer	*in;
	Warp__Frame	*f;
	const char	*err = NULL;
	uint8_t		 hdr[IPC_HDR_LEN], *p;
	size_t		 avail, need, used;
	uint32_t	 n;
	int		 count = 0;

	c->busy++;
	while (!c->dead && !c->closing && !c->paused) {
		in = bufferevent_get_input(c->bev);
		avail = evbuffer_get_length(in);
		if (avail < IPC_HDR_LEN)
			break;
		if (count == IPC_FRAMES_PER_CB) {
			event_active(c->more_ev, EV_TIMEOUT, 0);
			break;
		}
		evbuffer_copyout(in, hdr, sizeof(hdr));
		n = warp_get_be32(hdr);
		if (n > c->max_frame) {
			conn_bad(c, ipc_err_too_large, hdr, sizeof(hdr));
			break;
		}
		need = IPC_HDR_LEN + (size_t)n;
		if (avail < need)
			break;
		p = evbuffer_pullup(in, need);
		alloc = frame_arena_take();
		if (ipc_decode_with(p, need, c->max_frame, alloc, &f, &used,
		    &err) != IPC_DECODE_FRAME) {
			frame_arena_give(alloc, NULL);
			conn_bad(c, err, p + IPC_HDR_LEN, n);
			break;
		}
		evbuffer_drain(in, used);
		if (alloc != NULL)
			frame_in_arena = f;
		count++;
		if (c->srv != NULL)
			server_frame(c->srv, c, f);
		else if (c->cli != NULL)
			client_frame(c->cli, c, f);
		frame_arena_give(alloc, f);
		/* Back-pressure: a client that does not read its replies
		 * stops being read until it catches up.  Server side only:
		 * if clients paused too, two full queues would wait on each
		 * other forever; producers use ipc_client_outq() instead. */
		if (c->srv != NULL && !c->dead && !c->closing &&
		    ipc_conn_outq(c) > c->max_frame) {
			c->paused = 1;
			bufferevent_disable(c->bev, EV_READ);
		}
	}
	c->busy--;
	conn_release(c);
}

int
ipc_send(struct ipc_conn *c, const Warp__Frame *f)
{
	char who[160];

	if (c == NULL || c->dead || c->closing)
		return -1;
	if (ipc_encode(bufferevent_get_output(c->bev), f) == -1) {
		log_warnx("%s: frame of %zu bytes not sent: above the limit",
		    conn_who(c, who, sizeof(who)),
		    warp__frame__get_packed_size(f));
		return -1;
	}
	return 0;
}

int
ipc_reply(struct ipc_conn *c, uint64_t id, Warp__Frame *f)
{
	f->has_id = id != 0;
	f->id = id;
	return ipc_send(c, f);
}

int
ipc_send_error(struct ipc_conn *c, uint64_t id, Warp__ErrorCode code,
    const char *text)
{
	Warp__Frame	f = WARP__FRAME__INIT;
	Warp__Error	e = WARP__ERROR__INIT;

	e.code = code;
	e.text = (char *)text;
	f.body_case = WARP__FRAME__BODY_ERROR;
	f.error = &e;
	return ipc_reply(c, id, &f);
}

void
ipc_conn_close(struct ipc_conn *c)
{
	struct timeval tv;

	if (c == NULL || c->dead || c->closing)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_drop(c, "closed");
		return;
	}
	tv = warp_tv_ms(IPC_LINGER_MS);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
}

size_t
ipc_conn_outq(const struct ipc_conn *c)
{
	if (c == NULL || c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

const char *
ipc_conn_peer(const struct ipc_conn *c)
{
	return c->peer;
}

uid_t
ipc_conn_uid(const struct ipc_conn *c)
{
	return c->uid;
}

pid_t
ipc_conn_pid(const struct ipc_conn *c)
{
	return c->pid;
}

void
ipc_conn_set_data(struct ipc_conn *c, void *data)
{
	c->data = data;
}

void *
ipc_conn_data(const struct ipc_conn *c)
{
	return c->data;
}

/* ---- server ------------------------------------------------------------------ */

static int
server_uid_allowed(const struct ipc_server *srv, uid_t uid)
{
	size_t i;

	if (uid == 0 || uid == geteuid())
		return 1;
	for (i = 0; i < srv->nallowed; i++)
		if (srv->allowed[i] == uid)
			return 1;
	return 0;
}

static void
server_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ipc_server	*srv = arg;
	struct ipc_conn		*c;
	struct ucred		 uc;
	struct timeval		 tv;
	socklen_t		 len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1) {
		log_warn("%s: SO_PEERCRED", srv->name);
		close(fd);
		return;
	}
	if (!server_uid_allowed(srv, uc.uid)) {
		log_warnx("%s: refusing connection from uid %u pid %d: "
		    "not in allow list", srv->name, (unsigned)uc.uid,
		    (int)uc.pid);
		close(fd);
		return;
	}
	c = conn_new(srv->base, fd, srv->max_frame);
	c->srv = srv;
	c->uid = uc.uid;
	c->pid = uc.pid;
	tv = warp_tv_ms(IPC_HELLO_WAIT_MS);
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->npeers++;
	log_debug("%s: connection from uid %u pid %d", srv->name,
	    (unsigned)uc.uid, (int)uc.pid);
}

static void
server_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_server *srv = arg;

	evconnlistener_enable(srv->lev);
}

static void
server_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct ipc_server	*srv = arg;
	struct timeval		 tv;
	int			 err = EVUTIL_SOCKET_ERROR();

	log_warnx("%s: accept: %s", srv->name,
	    evutil_socket_error_to_string(err));
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		/* Out of descriptors: stop accepting for a while instead
		 * of spinning on a listener that stays readable. */
		evconnlistener_disable(srv->lev);
		tv = warp_tv_ms(IPC_EMFILE_PAUSE_MS);
		evtimer_add(srv->resume_ev, &tv);
	}
}

static void
server_detach(struct ipc_server *srv, struct ipc_conn *c, const char *why)
{
	char who[160];

	log_debug("%s: gone: %s", conn_who(c, who, sizeof(who)), why);
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->npeers--;
	c->srv = NULL;
	if (c->hello_done && srv->on_close != NULL)
		srv->on_close(c, srv->arg);
}

static void
server_frame(struct ipc_server *srv, struct ipc_conn *c,
    const Warp__Frame *f)
{
	Warp__Frame	 hf;
	Warp__Hello	 hh;
	const char	*why;
	char		 who[160], text[128];
	int		 code;

	if (!c->hello_done) {
		if ((code = hello_verdict(f, &why)) != 0) {
			if (code == WARP__ERROR_CODE__ERR_VERSION) {
				snprintf(text, sizeof(text), "%s %u (this "
				    "server speaks %d)", why,
				    (unsigned)f->hello->version, IPC_VERSION);
				why = text;
			}
			log_warnx("%s: %s, dropping",
			    conn_who(c, who, sizeof(who)), why);
			ipc_send_error(c, f->has_id ? f->id : 0, code, why);
			ipc_conn_close(c);
			return;
		}
		log_sanitize(c->peer, sizeof(c->peer), f->hello->peer,
		    strlen(f->hello->peer));
		c->hello_done = 1;
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		ipc_hello_init(&hf, &hh, srv->name);
		ipc_send(c, &hf);
		log_debug("%s: hello", conn_who(c, who, sizeof(who)));
		return;
	}
	if (f->body_case == WARP__FRAME__BODY_HELLO) {
		log_warnx("%s: second Hello, dropping",
		    conn_who(c, who, sizeof(who)));
		ipc_send_error(c, 0, WARP__ERROR_CODE__ERR_PROTOCOL,
		    "unexpected Hello");
		ipc_conn_close(c);
		return;
	}
	/* May free srv: nothing here touches it afterwards. */
	srv->on_frame(c, f, srv->arg);
}

/* Is something listening on this socket file right now? */
static int
socket_in_use(const struct sockaddr_un *sun)
{
	int fd, r, err;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return 0;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	err = errno;
	close(fd);
	return r == 0 || err == EAGAIN;
}

struct ipc_server *
ipc_server_new(struct event_base *base, const struct ipc_server_cfg *cfg)
{
	struct ipc_server	*srv;
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 omask;
	int			 fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (cfg->path == NULL || warp_strlcpy(sun.sun_path, cfg->path,
	    sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		log_warnx("%s: socket path too long",
		    cfg->path != NULL ? cfg->path : "(null)");
		return NULL;
	}
	if (lstat(cfg->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("%s: exists and is not a socket; not "
			    "replacing it", cfg->path);
			return NULL;
		}
		if (socket_in_use(&sun)) {
			log_warnx("%s: another process is serving this "
			    "socket", cfg->path);
			return NULL;
		}
		if (unlink(cfg->path) == -1) {
			log_warn("unlink %s", cfg->path);
			return NULL;
		}
		log_debug("%s: removed stale socket", cfg->path);
	} else if (errno != ENOENT) {
		log_warn("%s", cfg->path);
		return NULL;
	}

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("socket");
		return NULL;
	}
	/* Never visible with looser permissions than asked for. */
	omask = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(omask);
	if (r == -1) {
		log_warn("bind %s", cfg->path);
		close(fd);
		return NULL;
	}
	if (chmod(cfg->path, cfg->mode != 0 ? cfg->mode : 0600) == -1) {
		log_warn("chmod %s", cfg->path);
		goto fail;
	}
	if (cfg->gid != (gid_t)-1 && chown(cfg->path, (uid_t)-1,
	    cfg->gid) == -1) {
		log_warn("chown %s to group %u", cfg->path,
		    (unsigned)cfg->gid);
		goto fail;
	}
	if (listen(fd, IPC_BACKLOG) == -1) {
		log_warn("listen %s", cfg->path);
		goto fail;
	}
	if (stat(cfg->path, &st) == -1) {
		log_warn("stat %s", cfg->path);
		goto fail;
	}

	srv = xcalloc(1, sizeof(*srv));
	srv->base = base;
	srv->path = xstrdup(cfg->path);
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	srv->name = xstrdup(cfg->name != NULL ? cfg->name : "warp");
	srv->max_frame = frame_limit(cfg->max_frame);
	srv->on_frame = cfg->on_frame;
	srv->on_close = cfg->on_close;
	srv->arg = cfg->arg;
	TAILQ_INIT(&srv->conns);
	ipc_server_set_allowed(srv, cfg->allowed_uids, cfg->nallowed);
	srv->resume_ev = evtimer_new(base, server_resume_cb, srv);
	srv->lev = evconnlistener_new(base, server_accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (srv->lev == NULL || srv->resume_ev == NULL)
		fatalx("ipc: cannot set up listener for %s", cfg->path);
	evconnlistener_set_error_cb(srv->lev, server_accept_error_cb);
	log_debug("%s: listening on %s", srv->name, srv->path);
	return srv;

fail:
	close(fd);
	unlink(cfg->path);
	return NULL;
}

void
ipc_server_free(struct ipc_server *srv)
{
	struct ipc_conn	*c;
	struct stat	 st;

	if (srv == NULL)
		return;
	evconnlistener_free(srv->lev);
	event_free(srv->resume_ev);
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_drop(c, "server shutting down");
	/* Only remove the file if it is still the one we created. */
	if (lstat(srv->path, &st) == 0 && st.st_dev == srv->dev &&
	    st.st_ino == srv->ino && unlink(srv->path) == -1)
		log_debug("unlink %s: %s", srv->path, strerror(errno));
	free(srv->allowed);
	free(srv->path);
	free(srv->name);
	free(srv);
}

size_t
ipc_server_npeers(const struct ipc_server *srv)
{
	return srv->npeers;
}

void
ipc_server_set_allowed(struct ipc_server *srv, const uid_t *uids, size_t n)
{
	free(srv->allowed);
	srv->allowed = NULL;
	srv->nallowed = 0;
	if (n > 0) {
		srv->allowed = xreallocarray(NULL, n, sizeof(*uids));
		memcpy(srv->allowed, uids, n * sizeof(*uids));
		srv->nallowed = n;
	}
}

size_t
ipc_resolve_users(char *const *names, uid_t **uidsp)
{
	struct passwd	*pw;
	uid_t		*uids;
	size_t		 n = 0, i;

	for (i = 0; names != NULL && names[i] != NULL; i++)
		;
	uids = xcalloc(i + 1, sizeof(*uids));
	for (i = 0; names != NULL && names[i] != NULL; i++) {
		if ((pw = getpwnam(names[i])) == NULL) {
			log_debug("allow_users: no such user \"%s\", skipped",
			    names[i]);
			continue;
		}
		uids[n++] = pw->pw_uid;
	}
	*uidsp = uids;
	return n;
}

void
ipc_check_users(const struct conf *cf, const char *key,
    struct conf_diag *diag)
{
	char *const *u;

	for (u = conf_list(cf, key, NULL); *u != NULL; u++)
		if (getpwnam(*u) == NULL)
			conf_diag_warn(diag, "%s: %s: no such user '%s' "
			    "(skipped)", conf_origin(cf, key), key, *u);
}

int
ipc_socket_gid(const char *group, const char *user, gid_t *gidp)
{
	struct group	*gr;
	struct passwd	*pw;

	*gidp = (gid_t)-1;
	if (group != NULL && *group != '\0') {
		if ((gr = getgrnam(group)) == NULL) {
			log_warnx("socket_group: no such group \"%s\"", group);
			return -1;
		}
		*gidp = gr->gr_gid;
	} else if (geteuid() == 0 && user != NULL && *user != '\0' &&
	    (pw = getpwnam(user)) != NULL)
		*gidp = pw->pw_gid;
	return 0;
}

struct ipc_server *
ipc_service_open(struct event_base *base, const struct conf *cf,
    const char *sockname, const struct ipc_server_cfg *tmpl)
{
	struct ipc_server_cfg	 cfg = *tmpl;
	struct ipc_server	*srv;
	struct stat		 st;
	const char		*dir = conf_str(cf, "socket_dir");
	uid_t			*uids;
	char			*path;

	if (stat(dir, &st) == -1) {
		if (errno != ENOENT || mkdir(dir, 0755) == -1) {
			log_warn("socket_dir %s", dir);
			return NULL;
		}
		log_info("created socket_dir %s", dir);
	} else if (!S_ISDIR(st.st_mode)) {
		log_warnx("socket_dir %s: not a directory", dir);
		return NULL;
	}
	if (cfg.mode == 0)
		cfg.mode = 0660;
	if (ipc_socket_gid(conf_str(cf, "socket_group"), conf_str(cf, "user"),
	    &cfg.gid) == -1)
		return NULL;
	path = xasprintf("%s/%s", dir, sockname);
	cfg.path = path;
	cfg.nallowed = ipc_resolve_users(conf_list(cf, "allow_users", NULL),
	    &uids);
	cfg.allowed_uids = uids;
	srv = ipc_server_new(base, &cfg);
	free(uids);
	free(path);
	if (srv != NULL)
		log_info("listening on %s/%s", dir, sockname);
	return srv;
}

void
ipc_service_reload(struct ipc_server *srv, const struct conf *cf)
{
	uid_t	*uids;
	size_t	 n;

	n = ipc_resolve_users(conf_list(cf, "allow_users", NULL), &uids);
	ipc_server_set_allowed(srv, uids, n);
	free(uids);
}

/* ---- client: pending requests ---------------------------------------------------- */

static struct ipc_pending_list *
pending_bucket(const struct ipc_client *cli, uint64_t id)
{
	return &cli->buckets[id & (cli->nbuckets - 1)];
}

static void
pending_grow(struct ipc_client *cli)
{
	struct ipc_pending_list	*old = cli->buckets;
	struct ipc_pending	*p;
	size_t			 i, oldn = cli->nbuckets;

	cli->nbuckets = oldn * 2;
	cli->buckets = xcalloc(cli->nbuckets, sizeof(*cli->buckets));
	for (i = 0; i < cli->nbuckets; i++)
		LIST_INIT(&cli->buckets[i]);
	for (i = 0; i < oldn; i++)
		while ((p = LIST_FIRST(&old[i])) != NULL) {
			LIST_REMOVE(p, entry);
			LIST_INSERT_HEAD(pending_bucket(cli, p->id), p, entry);
		}
	free(old);
}

static struct ipc_pending *
pending_find(const struct ipc_client *cli, uint64_t id)
{
	struct ipc_pending *p;

	LIST_FOREACH(p, pending_bucket(cli, id), entry)
		if (p->id == id)
			return p;
	return NULL;
}

/* Unlink p from the table and stop its timer; the caller frees it. */
static void
pending_take(struct ipc_client *cli, struct ipc_pending *p)
{
	LIST_REMOVE(p, entry);
	cli->npending--;
	evtimer_del(&p->timer);
}

static struct ipc_pending *
pending_any(const struct ipc_client *cli)
{
	size_t i;

	if (cli->npending == 0)
		return NULL;
	for (i = 0; i < cli->nbuckets; i++)
		if (!LIST_EMPTY(&cli->buckets[i]))
			return LIST_FIRST(&cli->buckets[i]);
	return NULL;
}

/* Every pending request gets its one callback, with NULL. */
static void
pending_fail_all(struct ipc_client *cli)
{
	struct ipc_pending *p;

	while ((p = pending_any(cli)) != NULL) {
		pending_take(cli, p);
		p->cb(NULL, p->arg);
		free(p);
	}
}

static void
pending_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_pending	*p = arg;
	struct ipc_client	*cli = p->cli;

	log_debug("%s: request %" PRIu64 " to %s timed out", cli->name, p->id,
	    cli->path);
	cli->busy++;
	pending_take(cli, p);
	p->cb(NULL, p->arg);
	free(p);
	cli->busy--;
	client_release(cli);
}

/* ---- client: connection ---------------------------------------------------------- */

static int
quiet_errno(int err)
{
	return err == ECONNREFUSED || err == ENOENT || err == EAGAIN;
}

/* Log the first failure of a streak, keep the rest at debug level. */
static void
client_failure(struct ipc_client *cli, const char *what, int loud)
{
	if (!cli->failing) {
		cli->failing = 1;
		if (loud)
			log_warnx("%s: %s: %s; will retry", cli->name,
			    cli->path, what);
		else
			log_notice("%s: %s: %s; will retry", cli->name,
			    cli->path, what);
	} else
		log_debug("%s: %s: %s", cli->name, cli->path, what);
}

static void
client_schedule(struct ipc_client *cli)
{
	struct timeval	tv;
	int		ms;

	/* Jitter of +-20% keeps restarted clients from arriving together. */
	ms = (int)((int64_t)cli->backoff * (80 + arc4random_uniform(41)) /
	    100);
	cli->backoff = cli->backoff >= cli->backoff_max / 2 ?
	    cli->backoff_max : cli->backoff * 2;
	tv = warp_tv_ms(ms);
	evtimer_add(cli->retry_ev, &tv);
}

static void
client_connect(struct ipc_client *cli)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv;
	Warp__Frame		 f;
	Warp__Hello		 h;
	int			 fd, err;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	warp_strlcpy(sun.sun_path, cli->path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		err = errno;
		client_failure(cli, strerror(err), 1);
		client_schedule(cli);
		return;
	}
	/* A Unix stream connect completes or fails at once (EAGAIN: the
	 * server's backlog is full). */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		err = errno;
		close(fd);
		client_failure(cli, strerror(err), !quiet_errno(err));
		client_schedule(cli);
		return;
	}
	cli->conn = conn_new(cli->base, fd, cli->max_frame);
	cli->conn->cli = cli;
	tv = warp_tv_ms(IPC_HELLO_REPLY_MS);
	bufferevent_set_timeouts(cli->conn->bev, &tv, NULL);
	ipc_hello_init(&f, &h, cli->name);
	ipc_send(cli->conn, &f);
}

static void
client_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_client *cli = arg;

	if (cli->conn == NULL && !cli->doomed)
		client_connect(cli);
}

static void
client_detach(struct ipc_client *cli, struct ipc_conn *c, const char *why)
{
	int was = cli->connected;

	cli->busy++;
	cli->conn = NULL;
	cli->connected = 0;
	c->cli = NULL;
	if (!cli->doomed) {
		if (was) {
			log_notice("%s: lost connection to %s: %s; will "
			    "reconnect", cli->name, cli->path, why);
			cli->failing = 1;
		} else
			client_failure(cli, why, 0);
		client_schedule(cli);
	}
	pending_fail_all(cli);
	if (was && !cli->doomed && cli->on_state != NULL)
		cli->on_state(cli, 0, cli->arg);
	cli->busy--;
	client_release(cli);
}

static void
client_hello(struct ipc_client *cli, struct ipc_conn *c,
    const Warp__Frame *f)
{
	const char	*why;
	char		 text[128];

	if (f->body_case == WARP__FRAME__BODY_ERROR) {
		snprintf(text, sizeof(text), "refused by the server: %s (%u)",
		    f->error->text != NULL ? log_printable(f->error->text,
		    strlen(f->error->text)) : "no reason",
		    (unsigned)f->error->code);
		client_failure(cli, text, 1);
		conn_drop(c, text);
		return;
	}
	if (hello_verdict(f, &why) != 0) {
		snprintf(text, sizeof(text), "bad Hello from the server: %s",
		    why);
		client_failure(cli, text, 1);
		conn_drop(c, text);
		return;
	}
	log_sanitize(c->peer, sizeof(c->peer), f->hello->peer,
	    strlen(f->hello->peer));
	c->hello_done = 1;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	cli->connected = 1;
	cli->backoff = cli->backoff_min;
	if (cli->failing) {
		log_info("%s: connected to %s (%s) again", cli->name,
		    cli->path, c->peer);
		cli->failing = 0;
	} else
		log_debug("%s: connected to %s (%s)", cli->name, cli->path,
		    c->peer);
	if (cli->on_state != NULL)
		cli->on_state(cli, 1, cli->arg);
}

static void
client_frame(struct ipc_client *cli, struct ipc_conn *c,
    const Warp__Frame *f)
{
	struct ipc_pending *p;

	cli->busy++;
	if (!c->hello_done)
		client_hello(cli, c, f);
	else if (f->has_id && f->id != 0) {
		if ((p = pending_find(cli, f->id)) == NULL)
			log_debug("%s: reply to unknown request %" PRIu64
			    " (timed out or cancelled), ignored", cli->name,
			    f->id);
		else {
			pending_take(cli, p);
			p->cb(f, p->arg);
			free(p);
		}
	} else if (f->body_case == WARP__FRAME__BODY_HELLO) {
		log_warnx("%s: %s: unexpected Hello, reconnecting", cli->name,
		    cli->path);
		conn_drop(c, "unexpected Hello");
	} else {
		if (f->body_case == WARP__FRAME__BODY_ERROR)
			log_warnx("%s: error from %s: %s (%u)", cli->name,
			    cli->path, f->error->text != NULL ?
			    log_printable(f->error->text,
			    strlen(f->error->text)) : "no reason",
			    (unsigned)f->error->code);
		if (cli->on_frame != NULL)
			cli->on_frame(c, f, cli->arg);
	}
	cli->busy--;
	client_release(cli);
}

struct ipc_client *
ipc_client_new(struct event_base *base, const struct ipc_client_cfg *cfg)
{
	struct ipc_client	*cli;
	struct sockaddr_un	 sun;
	struct timeval		 tv = { 0, 0 };
	size_t			 i;

	if (cfg->path == NULL || strlen(cfg->path) >= sizeof(sun.sun_path)) {
		log_warnx("%s: socket path too long",
		    cfg->path != NULL ? cfg->path : "(null)");
		return NULL;
	}
	cli = xcalloc(1, sizeof(*cli));
	cli->base = base;
	cli->path = xstrdup(cfg->path);
	cli->name = xstrdup(cfg->name != NULL ? cfg->name : "warp");
	cli->backoff_min = cfg->backoff_min_ms > 0 ? cfg->backoff_min_ms :
	    IPC_BACKOFF_MIN_MS;
	cli->backoff_max = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms :
	    IPC_BACKOFF_MAX_MS;
	if (cli->backoff_max < cli->backoff_min)
		cli->backoff_max = cli->backoff_min;
	cli->backoff = cli->backoff_min;
	cli->max_frame = frame_limit(cfg->max_frame);
	cli->on_state = cfg->on_state;
	cli->on_frame = cfg->on_frame;
	cli->arg = cfg->arg;
	cli->nbuckets = 64;
	cli->buckets = xcalloc(cli->nbuckets, sizeof(*cli->buckets));
	for (i = 0; i < cli->nbuckets; i++)
		LIST_INIT(&cli->buckets[i]);
	if ((cli->retry_ev = evtimer_new(base, client_retry_cb, cli)) == NULL)
		fatalx("ipc: out of memory for a client");
	/* First attempt from the event loop, never inside this call. */
	evtimer_add(cli->retry_ev, &tv);
	return cli;
}

static void
client_release(struct ipc_client *cli)
{
	if (!cli->doomed || cli->busy > 0)
		return;
	event_free(cli->retry_ev);
	free(cli->buckets);
	free(cli->path);
	free(cli->name);
	free(cli);
}

void
ipc_client_free(struct ipc_client *cli)
{
	if (cli == NULL || cli->doomed)
		return;
	cli->doomed = 1;
	cli->busy++;
	evtimer_del(cli->retry_ev);
	if (cli->conn != NULL)
		conn_drop(cli->conn, "client shutting down");
	pending_fail_all(cli);
	cli->busy--;
	client_release(cli);
}

int
ipc_client_connected(const struct ipc_client *cli)
{
	return cli->connected;
}

static const struct timeval *
client_timeout_tv(struct ipc_client *cli, int ms, struct timeval *tv)
{
	*tv = warp_tv_ms(ms);
	/* Requests mostly share one deadline: libevent's common timeouts
	 * keep them in a queue instead of the heap. */
	if (ms != cli->last_timeout_ms || cli->last_tv == NULL) {
		cli->last_timeout_ms = ms;
		cli->last_tv = event_base_init_common_timeout(cli->base, tv);
	}
	return cli->last_tv != NULL ? cli->last_tv : tv;
}

uint64_t
ipc_client_request(struct ipc_client *cli, Warp__Frame *req, int timeout_ms,
    ipc_reply_cb cb, void *arg)
{
	struct ipc_pending	*p;
	struct timeval		 tv;
	uint64_t		 id;

	if (!cli->connected || cli->doomed || cli->conn == NULL ||
	    cli->conn->closing)
		return 0;
	if ((id = ++cli->next_id) == 0)
		id = ++cli->next_id;
	req->has_id = 1;
	req->id = id;
	if (ipc_send(cli->conn, req) == -1)
		return 0;
	p = xcalloc(1, sizeof(*p));
	p->cli = cli;
	p->id = id;
	p->cb = cb;
	p->arg = arg;
	evtimer_assign(&p->timer, cli->base, pending_timeout_cb, p);
	evtimer_add(&p->timer, client_timeout_tv(cli, timeout_ms > 0 ?
	    timeout_ms : IPC_DEFAULT_TIMEOUT_MS, &tv));
	if (cli->npending >= 2 * cli->nbuckets)
		pending_grow(cli);
	LIST_INSERT_HEAD(pending_bucket(cli, id), p, entry);
	cli->npending++;
	return id;
}

void
ipc_client_cancel(struct ipc_client *cli, uint64_t id)
{
	struct ipc_pending *p;

	if ((p = pending_find(cli, id)) != NULL) {
		pending_take(cli, p);
		free(p);
	}
}

int
ipc_client_send(struct ipc_client *cli, const Warp__Frame *f)
{
	if (!cli->connected || cli->doomed)
		return -1;
	return ipc_send(cli->conn, f);
}

size_t
ipc_client_outq(const struct ipc_client *cli)
{
	return ipc_conn_outq(cli->conn);
}

void
ipc_client_reset(struct ipc_client *cli)
{
	if (cli->conn != NULL && !cli->doomed)
		conn_drop(cli->conn, "reset");
}
