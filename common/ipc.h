/*
 * ipc.h -- framed, versioned, strict messaging between warp's daemons.
 *
 * Wire format (docs/PROTOCOL.md): a 4-byte big-endian length, then that
 * many bytes of one protobuf-c Warp__Frame (proto/warp.proto).  The length
 * is checked against the hard limit before anything is allocated.
 *
 * Conversation: the client sends Hello{protocol="warp", version, peer};
 * the server checks it and answers with its own Hello, or with Error and a
 * close.  Anything before the Hello exchange, a frame whose body is not
 * set, a frame that does not unpack, or an oversized frame drops that peer;
 * the daemon keeps running.  Requests carry a non-zero Frame.id; replies
 * carry the same id.  Every request has a deadline.
 *
 * Server side: a Unix stream socket created with restrictive permissions
 * (stale socket files are replaced); SO_PEERCRED decides who may connect
 * (root, the daemon's own uid, and an allowed-uid list).
 *
 * Client side: connects in the background and reconnects with exponential
 * backoff (with jitter) after any failure; pending requests fail (their
 * callback gets NULL) when the connection drops or their deadline passes.
 *
 * Both sides use libevent bufferevents with watermarks; ipc_*_outq()
 * reports bytes not yet written so producers can apply back-pressure.
 * The process must ignore SIGPIPE (daemon_main does).  on_close is called
 * only for connections that completed the Hello exchange, also when this
 * side closed them; callbacks may close, send, or free the server/client.
 */
#ifndef WARP_IPC_H
#define WARP_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "warp.pb-c.h"

struct conf;
struct conf_diag;
struct event_base;
struct evbuffer;

#define IPC_PROTOCOL	"warp"
#define IPC_VERSION	1
#define IPC_HDR_LEN	4
#define IPC_MAX_FRAME	(16u * 1024 * 1024)	/* hard limit, bytes */

/* ---- pure framing (no I/O; fuzzed) -------------------------------------- */

enum ipc_decode_result {
	IPC_DECODE_BAD = -1,	/* *err says why; drop the peer */
	IPC_DECODE_MORE = 0,	/* need more bytes */
	IPC_DECODE_FRAME = 1,	/* *out holds a frame, *consumed bytes used */
};

/*
 * Look for one frame at the start of buf.  Oversized lengths are rejected
 * from the 4-byte header alone.  A frame that unpacks but has no body set
 * is IPC_DECODE_BAD ("unknown message type").
 */
enum ipc_decode_result ipc_decode(const uint8_t *buf, size_t len,
	    size_t max_frame, Warp__Frame **out, size_t *consumed,
	    const char **err);
/* The same, unpacking with a given allocator (an arena: never
 * ipc_frame_free() the result, reset the arena instead). */
enum ipc_decode_result ipc_decode_with(const uint8_t *buf, size_t len,
	    size_t max_frame, ProtobufCAllocator *, Warp__Frame **out,
	    size_t *consumed, const char **err);

/* Append header + packed frame to an evbuffer.  0, or -1 if too large. */
int	 ipc_encode(struct evbuffer *, const Warp__Frame *);
/* Same into a fresh malloc'ed buffer (spool files, tests). */
uint8_t	*ipc_encode_alloc(const Warp__Frame *, size_t *lenp);

void	 ipc_frame_free(Warp__Frame *);

struct arena;
/*
 * Inside an on_frame callback: take the frame out of the IPC layer's
 * hands, so it outlives the callback without a copy.  Returns the arena
 * it was unpacked into (give it back with ipc_frame_release() when done
 * with the frame), or NULL when f is not an arena-held frame (then copy
 * what is needed before returning).
 */
struct arena *ipc_frame_keep(const Warp__Frame *f);
/* Done with a kept frame (any thread): its arena is reused or freed. */
void	 ipc_frame_release(struct arena *);

/* Fill a Hello frame with our protocol, version, name and pid. */
void	 ipc_hello_init(Warp__Frame *, Warp__Hello *, const char *peer);
/* Check a received Hello: 0 ok, -1 with a reason. */
int	 ipc_hello_check(const Warp__Frame *, const char **why);

/* ---- connections ----------------------------------------------------------- */

struct ipc_conn;
struct ipc_server;
struct ipc_client;

/* A frame from the peer, after the Hello exchange.  The frame is freed when
 * the callback returns; copy what must outlive it. */
typedef void	(*ipc_frame_cb)(struct ipc_conn *, const Warp__Frame *,
		    void *arg);
/* The connection is gone (peer closed, error, or dropped for bad input). */
typedef void	(*ipc_close_cb)(struct ipc_conn *, void *arg);

int	 ipc_send(struct ipc_conn *, const Warp__Frame *);   /* 0 / -1 */
/* Send frame as the reply to request id. */
int	 ipc_reply(struct ipc_conn *, uint64_t id, Warp__Frame *);
/* Send Error{code,text} (with id when answering a request) */
int	 ipc_send_error(struct ipc_conn *, uint64_t id, Warp__ErrorCode,
	    const char *text);
void	 ipc_conn_close(struct ipc_conn *);	/* after pending output */
size_t	 ipc_conn_outq(const struct ipc_conn *);
const char *ipc_conn_peer(const struct ipc_conn *);	/* Hello.peer */
uid_t	 ipc_conn_uid(const struct ipc_conn *);
pid_t	 ipc_conn_pid(const struct ipc_conn *);
void	 ipc_conn_set_data(struct ipc_conn *, void *);
void	*ipc_conn_data(const struct ipc_conn *);

/* ---- server ------------------------------------------------------------------ */

struct ipc_server_cfg {
	const char	*path;		/* socket file */
	mode_t		 mode;		/* e.g. 0660 */
	gid_t		 gid;		/* chown group, (gid_t)-1 to keep */
	const uid_t	*allowed_uids;	/* besides root and our own uid */
	size_t		 nallowed;
	const char	*name;		/* our Hello.peer */
	size_t		 max_frame;	/* 0 = IPC_MAX_FRAME */
	ipc_frame_cb	 on_frame;
	ipc_close_cb	 on_close;	/* may be NULL */
	void		*arg;
};

struct ipc_server *ipc_server_new(struct event_base *,
	    const struct ipc_server_cfg *);	/* NULL + log on failure */
void	 ipc_server_free(struct ipc_server *);	/* closes peers, unlinks */
size_t	 ipc_server_npeers(const struct ipc_server *);
/* Replace the allowed-uid list (SIGHUP); peers already connected stay. */
void	 ipc_server_set_allowed(struct ipc_server *, const uid_t *, size_t);

/*
 * For the service daemons (logd, filterd, routed), called from init_root:
 * listen on <socket_dir>/sockname (socket_dir created 0755 when missing)
 * with mode 0660 (unless tmpl->mode says otherwise), the group of
 * socket_group or else the primary group of user when running as root,
 * and the uids of allow_users as allowed peers.  The daemon's table must
 * have the keys socket_dir, user, socket_group and allow_users; tmpl
 * gives the name, callbacks and argument.
 */
struct ipc_server *ipc_service_open(struct event_base *, const struct conf *,
	    const char *sockname, const struct ipc_server_cfg *tmpl);
/* SIGHUP: take allow_users from the new configuration. */
void	 ipc_service_reload(struct ipc_server *, const struct conf *);
/* User names to uids; unknown names are skipped (debug log: the daemon's
 * check hook warns about them, for -t, start-up and reload alike).
 * Returns the count; *uidsp is malloc'ed (free it). */
size_t	 ipc_resolve_users(char *const *names, uid_t **uidsp);
/* For a daemon's check hook (-t, start-up, reload): a warning in diag for
 * every name in list key that is not a user account. */
void	 ipc_check_users(const struct conf *, const char *key,
	    struct conf_diag *);
/* Group of a service socket: group when not empty, else the primary group
 * of user when running as root, else (gid_t)-1 (keep).  0, or -1 + log. */
int	 ipc_socket_gid(const char *group, const char *user, gid_t *gidp);

/* ---- client ------------------------------------------------------------------ */

/* Called with connected=1 once the Hello exchange succeeded, and with
 * connected=0 when the connection is lost (a reconnect is scheduled). */
typedef void	(*ipc_state_cb)(struct ipc_client *, int connected, void *arg);
/* Reply to a request, or NULL on timeout / disconnect / cancel-free. */
typedef void	(*ipc_reply_cb)(const Warp__Frame *reply, void *arg);

struct ipc_client_cfg {
	const char	*path;
	const char	*name;		/* our Hello.peer */
	int		 backoff_min_ms;	/* 0 = 100 */
	int		 backoff_max_ms;	/* 0 = 5000 */
	size_t		 max_frame;	/* 0 = IPC_MAX_FRAME */
	ipc_state_cb	 on_state;	/* may be NULL */
	ipc_frame_cb	 on_frame;	/* unsolicited frames; may be NULL */
	void		*arg;
};

struct ipc_client *ipc_client_new(struct event_base *,
	    const struct ipc_client_cfg *);
void	 ipc_client_free(struct ipc_client *);	/* pending cbs get NULL */
int	 ipc_client_connected(const struct ipc_client *);

/*
 * Send a request; req->id is assigned here.  Returns the id, or 0 when not
 * connected (the callback is then never called).  Exactly one callback per
 * accepted request: the reply, or NULL on timeout or disconnect.
 */
uint64_t ipc_client_request(struct ipc_client *, Warp__Frame *req,
	    int timeout_ms, ipc_reply_cb, void *arg);
/* Forget a pending request; its callback will not be called. */
void	 ipc_client_cancel(struct ipc_client *, uint64_t id);
/* Fire and forget.  0 / -1 (not connected). */
int	 ipc_client_send(struct ipc_client *, const Warp__Frame *);
size_t	 ipc_client_outq(const struct ipc_client *);
/* Drop the connection now and reconnect after the backoff (tests). */
void	 ipc_client_reset(struct ipc_client *);

#endif
