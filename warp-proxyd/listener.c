/*
 * listener.c -- the listening sockets of warp-proxyd and the accept loop's
 * protections.
 *
 * Called by proxyd.c: listener_open_all() runs as root before the
 * privilege drop (ports below 1024, IP_TRANSPARENT need it),
 * listener_start() afterwards.  Security role: it bounds the number of
 * sessions (max_connections: stop accepting at the limit, resume when one
 * closes) and survives descriptor exhaustion (EMFILE/ENFILE: pause
 * accepting for a moment instead of spinning on a ready listener).
 *
 * Worker processes share the listening sockets, and every worker waiting
 * on one is woken by a new connection.  A worker takes at most
 * ACCEPT_BATCH connections per wake-up and leaves the rest to the others:
 * accepting until EAGAIN handed a whole burst (an MTA opening 50
 * connections at once) to the first worker awake while the other CPUs'
 * workers got nothing.  Level-triggered readiness brings the worker back
 * for whatever is still queued.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#include "proxyd.h"

#define LISTEN_BACKLOG		1024
#define EMFILE_PAUSE_MS		250
#define ACCEPT_BATCH		4	/* connections per wake-up */

static int
listener_bind(struct proxyd_listener *l, int tproxy)
{
	char	 buf[ADDR_STRLEN];
	int	 fd, on = 1;

	addr_str((struct sockaddr *)&l->addr, buf);
	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("listen %s: socket", buf);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (l->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		log_warn("listen %s: IPV6_V6ONLY", buf);
	if (tproxy) {
		int r = l->addr.ss_family == AF_INET6 ?
		    setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on, sizeof(on)) :
		    setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof(on));
		if (r == -1) {
			log_warn("listen %s: IP_TRANSPARENT (tproxy = yes "
			    "needs CAP_NET_ADMIN)", buf);
			close(fd);
			return -1;
		}
	}
	if (bind(fd, (struct sockaddr *)&l->addr, l->len) == -1) {
		log_warn("listen %s: bind", buf);
		close(fd);
		return -1;
	}
	if (listen(fd, LISTEN_BACKLOG) == -1) {
		log_warn("listen %s: listen", buf);
		close(fd);
		return -1;
	}
	/* Port 0 (tests): learn the port the kernel chose. */
	l->len = sizeof(l->addr);
	(void)getsockname(fd, (struct sockaddr *)&l->addr, &l->len);
	l->fd = fd;
	log_info("listening on %s%s", addr_str((struct sockaddr *)&l->addr,
	    buf), tproxy ? " (tproxy)" : "");
	return 0;
}

int
listener_open_all(struct proxyd *p, const struct conf *cf)
{
	char *const	*list;
	size_t		 i, n;
	int		 tproxy = conf_bool(cf, "tproxy");

	list = conf_list(cf, "listen", &n);
	for (i = 0; i < n && i < PROXYD_LISTEN_MAX; i++) {
		struct proxyd_listener *l = &p->listeners[p->nlisteners];

		memset(l, 0, sizeof(*l));
		l->fd = -1;
		if (addr_parse(list[i], &l->addr, &l->len) == -1) {
			log_warnx("listen: bad address '%s'",
			    log_printable(list[i], strlen(list[i])));
			return -1;
		}
		if (listener_bind(l, tproxy) == -1)
			return -1;
		p->nlisteners++;
	}
	return 0;
}

static void
resume_cb(evutil_socket_t fd, short ev, void *arg)
{
	log_debug("resuming accepting connections");
	proxyd_accept_update();
}

static void
accept_error(struct proxyd *p, int e)
{
	struct timeval	 tv = { 0, EMFILE_PAUSE_MS * 1000 };

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		static int64_t	 last_log;
		static unsigned	 pauses;
		int64_t		 now = warp_mono_us();

		/* Once a minute, with the count, not every pause. */
		pauses++;
		if (last_log == 0 || now - last_log > 60 * 1000000LL) {
			log_warnx("accept: %s; pausing accepting for %d ms "
			    "(%d sessions, %u pauses)", strerror(e),
			    EMFILE_PAUSE_MS, p->nsessions, pauses);
			last_log = now;
			pauses = 0;
		}
		listener_set_enabled(p, 0);
		evtimer_add(p->ev_resume, &tv);
		return;
	}
	log_warnx("accept: %s", strerror(e));
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct proxyd		*p = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, i;

	/* p->accepting: max_connections may be reached on the way */
	for (i = 0; i < ACCEPT_BATCH && p->accepting; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
#if EAGAIN != EWOULDBLOCK
			case EWOULDBLOCK:
#endif
				return;		/* another worker took it */
			case EINTR:
			case ECONNABORTED:	/* reset while queued */
			case EPROTO:
				continue;
			default:
				accept_error(p, errno);
				return;
			}
		}
		p->accepted++;
		session_accept(p, fd, (struct sockaddr *)&ss, (int)len);
		proxyd_accept_update();
	}
}

void
listener_start(struct proxyd *p)
{
	size_t	 i;

	for (i = 0; i < p->nlisteners; i++) {
		struct proxyd_listener *l = &p->listeners[i];

		/* the socket already listens (bound as root) */
		l->ev = event_new(p->base, l->fd, EV_READ | EV_PERSIST,
		    accept_cb, p);
		if (l->ev == NULL)
			fatalx("event_new failed");
	}
	p->ev_resume = evtimer_new(p->base, resume_cb, p);
	p->accepting = 0;
}

void
listener_set_enabled(struct proxyd *p, int on)
{
	size_t	 i;

	if (p->accepting == on)
		return;
	for (i = 0; i < p->nlisteners; i++) {
		if (p->listeners[i].ev == NULL)
			continue;
		if (on)
			event_add(p->listeners[i].ev, NULL);
		else
			event_del(p->listeners[i].ev);
	}
	p->accepting = on;
}

void
listener_close_all(struct proxyd *p)
{
	size_t	 i;

	for (i = 0; i < p->nlisteners; i++) {
		if (p->listeners[i].ev != NULL)
			event_free(p->listeners[i].ev);
		if (p->listeners[i].fd != -1)
			close(p->listeners[i].fd);
		p->listeners[i].ev = NULL;
		p->listeners[i].fd = -1;
	}
	p->accepting = 0;
	if (p->ev_resume != NULL)
		evtimer_del(p->ev_resume);
}
