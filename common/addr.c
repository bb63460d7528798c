/*
 * addr.c -- socket addresses as operators write them in configuration and
 * as warp prints them in logs and events.
 *
 * Called from configuration checks (listen, destination, outbound_ip), from
 * warp-proxyd for peers and original destinations, and from warp-routed.
 * addr_parse()/addr_parse_ip() are pure and numeric: they never touch DNS,
 * so they are safe on the proxy path.  Only addr_resolve() may block, and
 * it is meant for configuration time.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "util.h"

/* "25" -> 25; port 0 is accepted (it asks the kernel for any port). */
static int
parse_port(const char *s, int *port)
{
	long	 v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

static int
set_ip(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/*
 * Split "host:port" / "[host]:port" into its parts.  host is written to
 * hbuf (hsz bytes); v6 says the host was bracketed.
 */
static int
split_hostport(const char *s, char *hbuf, size_t hsz, int *port, int *v6)
{
	const char	*colon, *end;
	size_t		 hlen;

	*v6 = 0;
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -1;
		s++;
		hlen = (size_t)(end - s);
		colon = end + 1;
		*v6 = 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		hlen = (size_t)(colon - s);
		/* An unbracketed IPv6 address is ambiguous: refuse it. */
		if (memchr(s, ':', hlen) != NULL)
			return -1;
	}
	if (hlen == 0 || hlen >= hsz)
		return -1;
	memcpy(hbuf, s, hlen);
	hbuf[hlen] = '\0';
	return parse_port(colon + 1, port);
}

int
addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char	 host[INET6_ADDRSTRLEN + 1];
	int	 port, v6;

	if (split_hostport(s, host, sizeof(host), &port, &v6) == -1)
		return -1;
	if (!v6 && strcmp(host, "*") == 0)
		return set_ip("0.0.0.0", port, ss, len);
	if (v6 && strchr(host, ':') == NULL)
		return -1;		/* "[1.2.3.4]:25" */
	return set_ip(host, port, ss, len);
}

int
addr_parse_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char	 host[INET6_ADDRSTRLEN + 1];
	size_t	 n = strlen(s);

	/* Tolerate "[::1]" as well as "::1". */
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		if (n - 2 >= sizeof(host))
			return -1;
		memcpy(host, s + 1, n - 2);
		host[n - 2] = '\0';
		if (strchr(host, ':') == NULL)
			return -1;
		s = host;
	}
	return set_ip(s, 0, ss, len);
}

int
addr_resolve(const char *s, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errsz)
{
	struct addrinfo	 hints, *res;
	char		 host[256], portstr[8];
	int		 port, v6, rv;

	if (addr_parse(s, ss, len) == 0)
		return 0;
	if (split_hostport(s, host, sizeof(host), &port, &v6) == -1) {
		snprintf(err, errsz, "'%s' is not host:port", s);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((rv = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		snprintf(err, errsz, "%s: %s", host, gai_strerror(rv));
		return -1;
	}
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		snprintf(err, errsz, "%s: address too long", host);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

const char *
addr_ip_str(const struct sockaddr *sa, char buf[ADDR_STRLEN])
{
	const void	*a;

	switch (sa->sa_family) {
	case AF_INET:
		a = &((const struct sockaddr_in *)sa)->sin_addr;
		break;
	case AF_INET6:
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		break;
	case AF_UNIX:
		warp_strlcpy(buf, "unix", ADDR_STRLEN);
		return buf;
	default:
		snprintf(buf, ADDR_STRLEN, "af%d", sa->sa_family);
		return buf;
	}
	if (sa->sa_family == AF_INET) {
		/* By hand: glibc's inet_ntop() formats IPv4 with sprintf(),
		 * and the relay formats a few addresses per connection. */
		const uint8_t	*b = a;
		char		*p = buf;
		int		 i;

		for (i = 0; i < 4; i++) {
			if (i > 0)
				*p++ = '.';
			p = warp_put_uint(p, b[i]);
		}
		*p = '\0';
		return buf;
	}
	if (inet_ntop(sa->sa_family, a, buf, ADDR_STRLEN) == NULL)
		warp_strlcpy(buf, "?", ADDR_STRLEN);
	return buf;
}

const char *
addr_str(const struct sockaddr *sa, char buf[ADDR_STRLEN])
{
	char	 ip[ADDR_STRLEN], *p = buf;
	size_t	 n;

	/* INET6_ADDRSTRLEN (46) + "[]:65535" always fits in ADDR_STRLEN. */
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return addr_ip_str(sa, buf);
	addr_ip_str(sa, ip);
	n = strnlen(ip, INET6_ADDRSTRLEN);
	if (sa->sa_family == AF_INET6)
		*p++ = '[';
	memcpy(p, ip, n);
	p += n;
	if (sa->sa_family == AF_INET6)
		*p++ = ']';
	*p++ = ':';
	p = warp_put_uint(p, (unsigned)addr_port(sa));
	*p = '\0';
	return buf;
}

void
addr_unmap(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;

	if (ss->ss_family != AF_INET6)
		return;
	memcpy(&sin6, ss, sizeof(sin6));
	if (!IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr))
		return;
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = sin6.sin6_port;
	memcpy(&sin->sin_addr, &sin6.sin6_addr.s6_addr[12], 4);
	if (len != NULL)
		*len = sizeof(*sin);
}

int
addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->sa_family != b->sa_family)
		return 0;
	switch (a->sa_family) {
	case AF_INET:
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	case AF_INET6:
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		return a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
	}
	return 0;
}

int
addr_port(const struct sockaddr *sa)
{
	switch (sa->sa_family) {
	case AF_INET:
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	case AF_INET6:
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	}
	return 0;
}

void
addr_set_port(struct sockaddr *sa, int port)
{
	switch (sa->sa_family) {
	case AF_INET:
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
		break;
	case AF_INET6:
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
		break;
	}
}

int
addr_is_any(const struct sockaddr *sa)
{
	switch (sa->sa_family) {
	case AF_INET:
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	case AF_INET6:
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr);
	}
	return 0;
}

socklen_t
addr_len(const struct sockaddr *sa)
{
	switch (sa->sa_family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	}
	return sizeof(struct sockaddr_storage);
}
