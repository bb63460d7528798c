/*
 * proxyd.h -- warp-proxyd's internal interfaces: the configuration
 * snapshot, the session (one client connection and its destination leg),
 * the pending-command FIFO and the hooks between the client side
 * (client.c) and the destination side (dest.c).
 *
 * Included only by the warp-proxyd sources and their unit tests.  Nothing here is
 * exported to the other daemons.
 */
#ifndef WARP_PROXYD_H
#define WARP_PROXYD_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "addr.h"
#include "conf.h"
#include "smtp.h"
#include "util.h"

struct bufferevent;
struct evbuffer;
struct evstream;
struct ipc_client;
struct daemon;
struct conf;
struct conf_diag;
typedef struct ssl_ctx_st SSL_CTX;

/* ---- limits that are not configuration ----------------------------------- */

#define PROXYD_FIFO_MAX		32		/* commands awaiting a reply */
#define PROXYD_REPLY_MAX	(32 * 1024)	/* one (multi-line) reply */
#define PROXYD_IN_HIGH		(64 * 1024)	/* read watermark, each side */
#define PROXYD_OUT_HIGH		(256 * 1024)	/* stop reading the other side */
#define PROXYD_OUT_LOW		(64 * 1024)	/* resume below this */
#define PROXYD_TXN_MAX		1000		/* transactions recorded */
#define PROXYD_RCPT_MAX		1000		/* recipients recorded per txn */
#define PROXYD_LISTEN_MAX	16
#define PROXYD_FLUSH_TIMEOUT_MS	10000		/* last words before close */
#define PROXYD_HEADERS_MAX	(16 * 1024)	/* log_headers: bytes kept */
#define PROXYD_EVENT_BATCH	2048		/* events per frame to warp-logd */

/* ---- configuration snapshot (proxyd_conf.c) ------------------------------- */

enum proxyd_tls_mode {
	PROXYD_TLS_NONE, PROXYD_TLS_MAY, PROXYD_TLS_ENCRYPT, PROXYD_TLS_VERIFY,
};

/*
 * Everything a session reads from the configuration, parsed once.  A
 * session keeps a reference to the snapshot it started with, so SIGHUP
 * never changes the rules under a live session.
 */
struct proxyd_cfg {
	int			 refcnt;
	int			 transparent;
	int			 tproxy;
	struct sockaddr_storage	 dest;		/* smarthost address */
	socklen_t		 dest_len;
	char			*dest_host;	/* smarthost name, NULL if IP */
	struct sockaddr_storage	 out4, out6;	/* outbound_ip per family */
	int			 have_out4, have_out6;
	uint32_t		 mark;		/* outbound_mark, 0 = none */
	uint64_t		 size_limit;
	enum proxyd_tls_mode	 tls_mode;
	int			 client_tls;	/* we offer STARTTLS */
	int			 log_events;
	int			 log_headers;
	int			 route;
	int			 route_timeout_ms;
	int			 filter;
	int			 filter_relay_on_failure;
	int			 filter_timeout_ms;
	uint64_t		 filter_hold_max;
	int			 connect_timeout_ms;
	int			 idle_timeout_ms;
	int			 command_timeout_ms;
	int			 data_timeout_ms;
	int			 session_timeout_ms;
	int			 max_connections;
	int			 shutdown_timeout_ms;
};

extern const struct conf_key proxyd_keys[];
void	 proxyd_check(const struct conf *, struct conf_diag *);
struct proxyd_cfg *proxyd_cfg_new(const struct conf *, char *err, size_t);
void	 proxyd_cfg_ref(struct proxyd_cfg *);
void	 proxyd_cfg_unref(struct proxyd_cfg *);
int	 proxyd_parse_outbound(char *const *list, struct sockaddr_storage *o4,
	    int *have4, struct sockaddr_storage *o6, int *have6,
	    char *err, size_t errsz);

/* ---- the process (proxyd.c) ----------------------------------------------- */

struct proxyd_listener {
	struct sockaddr_storage	 addr;
	socklen_t		 len;
	int			 fd;
	struct event		*ev;		/* readable: accept */
};

TAILQ_HEAD(session_list, session);

struct proxyd {
	struct daemon		*daemon;
	struct event_base	*base;
	struct proxyd_cfg	*cfg;		/* for new sessions */
	struct proxyd_listener	 listeners[PROXYD_LISTEN_MAX];
	size_t			 nlisteners;
	int			 accepting;	/* listeners enabled */
	struct event		*ev_resume;	/* after EMFILE */
	struct event		*ev_shutdown;	/* shutdown deadline */
	struct session_list	 sessions;
	int			 nsessions;
	uint64_t		 accepted, refused_loop, refused_limit;
	SSL_CTX			*tls_out;	/* outbound (client role) */
	SSL_CTX			*tls_in;	/* client leg (server role) */
	struct evstream		*events;
	struct ipc_client	*routed;
	struct ipc_client	*filterd;
	char			*hold_dir;	/* filter_spool_dir */
};

extern struct proxyd *proxyd;
struct daemon_spec;
extern const struct daemon_spec proxyd_spec;

void	 proxyd_accept_update(void);	/* enable/disable listeners */
void	 proxyd_worker_start(struct proxyd *);	/* relay set-up */
void	 proxyd_session_gone(void);	/* shutdown bookkeeping */

/* ---- worker processes (workers.c) --------------------------------------------- */

int	 workers_configured(const struct conf *);
int	 workers_start(struct proxyd *, const struct conf *);
int	 workers_is_master(void);
int	 workers_index(void);
int	 workers_count(void);
void	 workers_signal(int);
void	 workers_stop(struct daemon *);
int	 workers_share(int max_connections);
void	 workers_leaving(void);
void	 workers_adopt_spools(const char *spool_dir);
const char *workers_spool_name(char *, size_t);

/* listener.c */
int	 listener_open_all(struct proxyd *, const struct conf *);
void	 listener_start(struct proxyd *);
void	 listener_set_enabled(struct proxyd *, int);
void	 listener_close_all(struct proxyd *);

/* origdst.c (pure, unit-tested) */
int	 origdst_is_loop(const struct sockaddr *orig,
	    const struct sockaddr *local, const struct proxyd_listener *,
	    size_t nlisteners);
int	 origdst_get(int fd, int tproxy, struct sockaddr_storage *,
	    socklen_t *);

/* ---- pending commands (fifo.c, pure) --------------------------------------- */

/* What a FIFO entry is waiting for. */
enum pend_kind {
	PEND_RELAY,	/* client command relayed; the reply is relayed */
	PEND_LOCAL,	/* answered by warp when it reaches the head */
	PEND_OWN,	/* warp's own command; the reply is consumed */
};

/* Pseudo-verbs beyond enum smtp_verb for things that get a reply. */
#define PV_BANNER	(SMTP_VERB_COUNT + 1)
#define PV_EOD		(SMTP_VERB_COUNT + 2)
#define PV_FDATA	(SMTP_VERB_COUNT + 3)	/* DATA after a verdict */

/* Local replies (fifo.c: local_reply_text). */
enum local_reply {
	LR_NONE,
	LR_SIZE_552,		/* SIZE= above message_size_limit */
	LR_DATA_552,		/* DATA bytes above message_size_limit */
	LR_LINE_500,		/* command line too long */
	LR_NUL_500,		/* NUL byte in a command */
	LR_NOTIMPL_502,		/* BDAT, XCLIENT, XFORWARD */
	LR_NOTLS_502,		/* STARTTLS when we do not offer it */
	LR_TLS_220,		/* our STARTTLS toward the client */
	LR_TLS_503,		/* STARTTLS again on a TLS client leg */
	LR_GONE_421,		/* destination leg closed */
	LR_QUIT_221,		/* QUIT answered by warp */
	LR_SYNTAX_501,		/* MAIL/RCPT without FROM:/TO: */
	LR_FILTER_DATA,		/* filter: warp's own 354 (decided at head) */
	LR_NORCPT_554,		/* filter: DATA without an accepted RCPT */
	LR_COUNT
};
const char *local_reply_text(enum local_reply);

struct pending {
	uint8_t		 kind;		/* enum pend_kind */
	uint8_t		 verb;		/* enum smtp_verb or PV_* */
	uint16_t	 flags;
	uint32_t	 arg;		/* rcpt index, enum local_reply */
	uint32_t	 txn;		/* RCPT, end of data: its transaction */
	int64_t		 sent_us;	/* monotonic */
};
#define PF_TLS_PROBE	0x01	/* greeting: warp's EHLO to try STARTTLS */
#define PF_CLIENT_HELO	0x02	/* the client said HELO, not EHLO */

struct fifo {
	struct pending	 e[PROXYD_FIFO_MAX];
	uint8_t		 head, n;
};
void		 fifo_init(struct fifo *);
int		 fifo_full(const struct fifo *);
int		 fifo_empty(const struct fifo *);
struct pending	*fifo_push(struct fifo *);	/* NULL when full */
struct pending	*fifo_head(struct fifo *);	/* NULL when empty */
void		 fifo_pop(struct fifo *);
/* Is there a relayed entry (one the destination must answer)? */
int		 fifo_has_relay(const struct fifo *);

/* ---- EHLO decisions (ehlo.c, pure) ------------------------------------------ */

/* Keywords removed from the EHLO reply shown to the client. */
#define EHLO_REMOVE	(SMTP_EXT_STARTTLS | SMTP_EXT_CHUNKING | \
			 SMTP_EXT_BINARYMIME | SMTP_EXT_XCLIENT | \
			 SMTP_EXT_XFORWARD | SMTP_EXT_SIZE)

/*
 * Rewrite the destination's EHLO reply for the client into out (outsz
 * bytes): drop what warp cannot pass, advertise SIZE as the smaller of the
 * destination's and size_limit, and STARTTLS when offer_tls.  Returns the
 * length or -1 (not a well-formed 250 reply).
 */
ssize_t	 ehlo_for_client(const char *in, size_t len, uint64_t size_limit,
	    int offer_tls, char *out, size_t outsz, unsigned *seen);
/* A host name for SNI from a 220 banner's first word, or 0 (not one). */
size_t	 ehlo_banner_host(const char *text, size_t len, char *out,
	    size_t outsz);
/* "250 <text of the first line>\r\n" from a multi-line 250 reply, for a
 * client that said HELO while warp probed with EHLO. */
size_t	 ehlo_first_line(const char *in, size_t len, char *out, size_t outsz);

/* ---- session (session.c) ---------------------------------------------------- */

enum client_state {
	CS_WAIT_BANNER,		/* not reading until the banner is relayed */
	CS_COMMAND,		/* reading command lines */
	CS_WAIT,		/* a sync command (EHLO, DATA, STARTTLS, QUIT)
				   awaits its reply; input stays buffered */
	CS_DATA,		/* streaming the message */
	CS_DATA_DISCARD,	/* over the size limit: skipping to the end */
	CS_LONG_LINE,		/* skipping a too long command line */
	CS_TLS_FLUSH,		/* our 220 to STARTTLS is being written */
	CS_TLS_HANDSHAKE,
	CS_CLOSED,
};

enum dest_state {
	DS_NONE,
	DS_CONNECTING,
	DS_BANNER,		/* connected, waiting for the 220 */
	DS_READY,		/* relaying commands and replies */
	DS_STARTTLS,		/* warp sent STARTTLS */
	DS_TLS_HANDSHAKE,
	DS_EHLO2,		/* warp re-sent EHLO/HELO over TLS */
	DS_QUIT,		/* warp sent QUIT: only waiting to close */
	DS_CLOSED,
};

struct rcpt {
	char		*addr;
	uint16_t	 code;
	char		*text;
	int64_t		 ms;		/* RCPT sent -> its reply */
};

struct txn {
	char		*mail_from;
	char		*mail_params;
	struct rcpt	*rcpts;
	size_t		 nrcpts, rcpts_size;
	uint64_t	 size;
	uint16_t	 final_code;
	char		*final_text;
	int64_t		 data_ms, eod_ms, elapse_ms;
	int		 aborted;	/* over the size limit */
	char		*message_id;
	char		*verdict;	/* filter verdict */
};

struct session {
	TAILQ_ENTRY(session)	 entry;
	struct proxyd_cfg	*cfg;
	char			 id[WARP_ULID_LEN + 1];
	uint8_t			 cstate;	/* enum client_state */
	uint8_t			 dstate;	/* enum dest_state */
	uint8_t			 closing;
	uint8_t			 client_tls;	/* client leg is TLS */
	uint8_t			 dest_tls;	/* destination leg is TLS */
	uint8_t			 tls_tried;	/* outbound STARTTLS decided */
	uint8_t			 client_throttled, dest_throttled;
	uint8_t			 quit_seen;	/* client QUIT relayed */
	uint8_t			 last_code_close; /* last relayed: 221/421 */
	uint8_t			 dest_eof;
	uint8_t			 auth_pending;	/* next line answers a 334 */
	uint8_t			 client_eof;	/* half-closed; finish the rest */
	uint8_t			 holding;	/* filter: DATA goes to held */
	uint8_t			 filtering;	/* filter: verdict or relay owed */
	struct evbuffer		*held;		/* filter: the message */
	int			 hold_fd;	/* filter: spooled beyond max */
	char			*hold_path;
	uint64_t		 hold_len;	/* bytes in the file */
	uint64_t		 filter_req;
	char			*verdict;
	char			*hdr;		/* log_headers: header section */
	size_t			 hdr_len;
	int			 client_fd, dest_fd;
	struct bufferevent	*client, *dest;
	struct event		 ev_timer;	/* session cap, deferred free */
	struct fifo		 fifo;
	/* destination reply being assembled in dest's input buffer */
	size_t			 rscan;
	struct smtp_reply	 reply;
	struct smtp_data	 data;
	/* recorded */
	char			*helo;
	char			*sni;		/* host name for SNI */
	char			*probe_reply;	/* EHLO reply before STARTTLS */
	size_t			 probe_len;
	struct txn		*txns;
	size_t			 ntxns, txns_size;
	struct txn		*cur;		/* open transaction or NULL */
	uint32_t		 seq;		/* events sent */
	uint32_t		 messages;
	uint64_t		 bytes_total;
	int64_t			 accept_us;	/* wall clock */
	int64_t			 accept_mono;
	int64_t			 connect_mono;
	int64_t			 elapse_ms;	/* -1 / -2 until the first 354 */
	int64_t			 banner_ms, ehlo_ms, mail_ms, rcpt_ms;
	int64_t			 data_ms, eod_ms;
	uint16_t		 final_code;
	char			*final_text;
	const char		*close_reason;
	char			*tls_version, *tls_cipher;
	char			*ctls_version, *ctls_cipher;
	char			*route_pool, *route_reason;
	uint64_t		 route_req;
	struct sockaddr_storage	 client_addr;
	struct sockaddr_storage	 orig_dst;	/* where we connect */
	struct sockaddr_storage	 out_addr;	/* source we used */
	socklen_t		 orig_dst_len;
	uint8_t			 have_out_addr;
};

/* session.c */
void	 session_accept(struct proxyd *, int fd, struct sockaddr *, int len);
void	 session_finish(struct session *, const char *reason);
void	 session_comm(struct session *, const char *dir, const void *,
	    size_t);
void	 session_notef(struct session *, const char *, ...) WARP_PRINTF(2, 3);
void	 session_reply_client(struct session *, const char *dir,
	    const char *line);	/* one line without CRLF, from warp */
void	 session_maybe_free(struct session *);
void	 session_close_client(struct session *);
void	 session_flush(struct session *);
void	 session_flush_client(struct session *);
void	 session_flush_dest(struct session *);
void	 session_write_idle(struct bufferevent *, int fd);
void	 session_kill_all(struct proxyd *, const char *reason);
int64_t	 session_ms_since(int64_t mono_us);
struct txn *session_txn_new(struct session *);
void	 session_enter_client(struct session *, enum client_state);
void	 session_enter_dest(struct session *, enum dest_state);
const char *session_cstate_name(int);
const char *session_dstate_name(int);

/* client.c */
void	 client_start(struct session *);
void	 client_process(struct session *);
void	 client_resume(struct session *);	/* leave CS_WAIT */
void	 client_readcb(struct bufferevent *, void *);
void	 client_writecb(struct bufferevent *, void *);
void	 client_eventcb(struct bufferevent *, short, void *);
void	 client_flush_local(struct session *);
int	 client_starttls(struct session *);
void	 client_tls_switch(struct session *);
void	 client_data_reply(struct session *, int go);
void	 client_eof_check(struct session *);

/* dest.c */
int	 dest_connect(struct session *, const struct sockaddr *, socklen_t,
	    const struct sockaddr *src);
void	 dest_send(struct session *, const char *dir, const char *line,
	    size_t len);		/* adds CRLF */
void	 dest_close(struct session *);
/* Free the destination leg without touching the session (session_free). */
void	 dest_release(struct session *);
void	 dest_quit_and_close(struct session *);
void	 dest_readcb(struct bufferevent *, void *);
void	 dest_writecb(struct bufferevent *, void *);
void	 dest_eventcb(struct bufferevent *, short, void *);
void	 dest_greeting(struct session *, struct pending *, const char *line,
	    size_t len);
void	 dest_process(struct session *);

/* route.c */
void	 route_init(struct proxyd *, const struct conf *);
void	 route_free(struct proxyd *);
int	 route_request(struct session *);	/* 1 = asked, wait */
void	 route_cancel(struct session *);
void	 route_report(struct session *, int connect_failed);
void	 session_connect(struct session *, const struct sockaddr *src);

/* filter.c */
void	 filter_init(struct proxyd *, const struct conf *);
void	 filter_free(struct proxyd *);
int	 filter_data_go(struct session *);	/* 1: 354 given */
void	 filter_hold(struct session *);	/* after each chunk */
void	 filter_submit(struct session *);	/* end of data */
void	 filter_discard(struct session *);
void	 filter_dest_reply(struct session *, struct pending *, int code);
void	 filter_cleanup(struct session *);

/* tls.c */
int	 tls_init(struct proxyd *, const struct conf *);
void	 tls_free(struct proxyd *);
struct bufferevent *tls_wrap(struct session *, int fd, int server_role,
	    const char *sni, int verify);
void	 tls_record(struct bufferevent *, char **version, char **cipher);
const char *tls_error_string(struct bufferevent *);

#endif
