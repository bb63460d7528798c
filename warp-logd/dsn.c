/*
 * dsn.c -- the original warp's DSN environment variable, in
 * go-sql-driver/mysql syntax:
 *
 *	[user[:password]@][tcp[(host[:port])]|unix(/path)]/dbname[?params]
 *
 * Anything else (no '/' after the address part) is not a MySQL DSN and is
 * taken as an SQLite path by the caller.  Pure function, unit-tested.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "logd.h"

static int
copy_n(char *dst, size_t dstsz, const char *src, size_t n)
{
	if (n >= dstsz)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int
logd_dsn_parse(const char *s, struct logd_dsn *d)
{
	const char	*at, *addr, *open, *close, *slash, *colon, *q;
	char		 port[8];
	char		*end;
	long		 p;

	memset(d, 0, sizeof(*d));
	/* the last '@' before the address part separates the credentials
	 * (passwords may contain '@') */
	open = strstr(s, "tcp(");
	if (open == NULL)
		open = strstr(s, "unix(");
	at = NULL;
	for (q = s; *q != '\0' && (open == NULL || q < open); q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		colon = memchr(s, ':', (size_t)(at - s));
		if (colon != NULL) {
			if (copy_n(d->user, sizeof(d->user), s,
			    (size_t)(colon - s)) == -1 ||
			    copy_n(d->password, sizeof(d->password), colon + 1,
			    (size_t)(at - colon - 1)) == -1)
				return -1;
		} else if (copy_n(d->user, sizeof(d->user), s,
		    (size_t)(at - s)) == -1)
			return -1;
		addr = at + 1;
	} else
		addr = s;

	if (strncmp(addr, "tcp(", 4) == 0 || strncmp(addr, "unix(", 5) == 0) {
		int unix_sock = addr[0] == 'u';

		open = addr + (unix_sock ? 5 : 4);
		if ((close = strchr(open, ')')) == NULL)
			return -1;
		if (unix_sock) {
			if (copy_n(d->socket, sizeof(d->socket), open,
			    (size_t)(close - open)) == -1 || d->socket[0] == '\0')
				return -1;
		} else {
			/* host, host:port, [v6]:port */
			const char *hend = close;

			colon = NULL;
			if (*open == '[') {
				const char *rb = memchr(open, ']',
				    (size_t)(close - open));

				if (rb == NULL)
					return -1;
				if (copy_n(d->host, sizeof(d->host), open + 1,
				    (size_t)(rb - open - 1)) == -1)
					return -1;
				if (rb + 1 < close && rb[1] == ':')
					colon = rb + 1;
			} else {
				colon = memchr(open, ':', (size_t)(close - open));
				if (colon != NULL)
					hend = colon;
				if (copy_n(d->host, sizeof(d->host), open,
				    (size_t)(hend - open)) == -1)
					return -1;
			}
			if (colon != NULL) {
				if (copy_n(port, sizeof(port), colon + 1,
				    (size_t)(close - colon - 1)) == -1)
					return -1;
				p = strtol(port, &end, 10);
				if (*end != '\0' || p < 1 || p > 65535)
					return -1;
				d->port = (int)p;
			}
		}
		slash = close + 1;
	} else if (strncmp(addr, "tcp/", 4) == 0 || *addr == '/') {
		/* "tcp" with the default address, or no address at all */
		slash = addr[0] == 't' ? addr + 3 : addr;
		if (at == NULL && *addr == '/')
			return -1;	/* a bare path: SQLite */
	} else
		return -1;

	if (*slash != '/')
		return -1;
	slash++;
	q = strchr(slash, '?');
	if (copy_n(d->database, sizeof(d->database), slash,
	    q ? (size_t)(q - slash) : strlen(slash)) == -1)
		return -1;
	return 0;
}
