/*
 * addr.h -- socket address parsing and printing.
 *
 * "1.2.3.4:25", "[2001:db8::1]:25", "*:25" (any), "host:port" (resolved
 * with getaddrinfo only where the caller allows it; never on a hot path).
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are turned into plain IPv4
 * by addr_unmap(), because that is how dual-stack listeners report IPv4
 * peers.
 */
#ifndef WARP_ADDR_H
#define WARP_ADDR_H

#include <sys/socket.h>
#include <netinet/in.h>

#define ADDR_STRLEN	64	/* "[" INET6_ADDRSTRLEN "]:65535" fits */

/* Parse "ip:port" / "[ip6]:port" / "*:port" (numeric only).  0 or -1. */
int	 addr_parse(const char *, struct sockaddr_storage *, socklen_t *);
/* Parse a bare IP address (no port), port set to 0.  0 or -1. */
int	 addr_parse_ip(const char *, struct sockaddr_storage *, socklen_t *);
/* Like addr_parse but resolves a host name with getaddrinfo (blocking;
 * configuration time only).  0 or -1 with a message in err. */
int	 addr_resolve(const char *, struct sockaddr_storage *, socklen_t *,
	    char *err, size_t errsz);
/* "1.2.3.4:25" or "[::1]:25"; returns buf. */
const char *addr_str(const struct sockaddr *, char buf[ADDR_STRLEN]);
/* Just the IP, no port; returns buf. */
const char *addr_ip_str(const struct sockaddr *, char buf[ADDR_STRLEN]);
/* ::ffff:a.b.c.d -> a.b.c.d in place (len updated). */
void	 addr_unmap(struct sockaddr_storage *, socklen_t *);
/* Same family, address and port. */
int	 addr_equal(const struct sockaddr *, const struct sockaddr *);
int	 addr_port(const struct sockaddr *);
void	 addr_set_port(struct sockaddr *, int);
/* Is this the unspecified address (0.0.0.0 or ::)? */
int	 addr_is_any(const struct sockaddr *);
socklen_t addr_len(const struct sockaddr *);

#endif
