/*
 * origdst.c -- where an intercepted connection was going, and whether
 * that is warp itself.
 *
 * Called by session.c for each accepted connection in transparent mode.
 * REDIRECT keeps the original destination in conntrack (SO_ORIGINAL_DST
 * for IPv4, IP6T_SO_ORIGINAL_DST for IPv6); TPROXY leaves it as the
 * socket's local address.  Security role: the loop guard.  A connection
 * made straight to warp's port (no REDIRECT) reports warp's own address
 * as its original destination; relaying it would connect warp to itself
 * until descriptors run out, so such connections are refused.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter_ipv4.h>

#include <errno.h>
#include <string.h>

#include "addr.h"
#include "proxyd.h"

#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST	80
#endif

int
origdst_get(int fd, int tproxy, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_storage	 local;
	socklen_t		 llen = sizeof(local);

	memset(ss, 0, sizeof(*ss));
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == -1)
		return -1;
	if (tproxy) {
		*ss = local;
		*len = llen;
		addr_unmap(ss, len);
		return 0;
	}
	*len = sizeof(*ss);
	if (local.ss_family == AF_INET6) {
		if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ss,
		    len) == 0) {
			addr_unmap(ss, len);
			return 0;
		}
		/* An IPv4 peer on a dual-stack socket: conntrack is IPv4. */
		*len = sizeof(struct sockaddr_in);
		if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ss, len) == 0)
			return 0;
		return -1;
	}
	*len = sizeof(struct sockaddr_in);
	return getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ss, len);
}

/*
 * Is orig (the original destination) one of our listeners?  Exact match,
 * or a wildcard listener on the same port when orig is the address the
 * connection actually arrived on (local): that is what a direct, not
 * redirected connection looks like.  Also orig == local on any port: the
 * connection was not redirected at all.
 */
int
origdst_is_loop(const struct sockaddr *orig, const struct sockaddr *local,
    const struct proxyd_listener *ls, size_t n)
{
	struct sockaddr_storage	 o, l;
	socklen_t		 olen, llen;
	size_t			 i;

	olen = addr_len(orig);
	memcpy(&o, orig, olen);
	addr_unmap(&o, &olen);
	if (local != NULL) {
		llen = addr_len(local);
		memcpy(&l, local, llen);
		addr_unmap(&l, &llen);
		if (addr_equal((struct sockaddr *)&o, (struct sockaddr *)&l))
			return 1;
	}
	for (i = 0; i < n; i++) {
		const struct sockaddr *la = (const struct sockaddr *)&ls[i].addr;

		if (addr_equal((struct sockaddr *)&o, la))
			return 1;
		if (addr_is_any(la) && addr_port(la) == addr_port(
		    (struct sockaddr *)&o)) {
			if (local == NULL)
				return 1;
			if (((struct sockaddr *)&l)->sa_family == o.ss_family) {
				struct sockaddr_storage t = l;

				addr_set_port((struct sockaddr *)&t,
				    addr_port((struct sockaddr *)&o));
				if (addr_equal((struct sockaddr *)&t,
				    (struct sockaddr *)&o))
					return 1;
			}
		}
	}
	return 0;
}
