/*
 * util.c -- allocation, bounded strings, clocks and connection ids.
 *
 * Linked into every warp daemon and tool.  The x*() allocators are the one
 * out-of-memory policy of the suite: they never return NULL, they end the
 * process through fatalx(), so callers need no error paths for memory.
 * warp_ulid() draws its randomness from getrandom(2); the ids it makes are
 * visible to operators (logs, event stores) but carry no secret.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		fatalx("out of memory");
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if ((p = calloc(nmemb, size)) == NULL)
		fatalx("out of memory");
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void	*p;

	if ((p = realloc(old, n == 0 ? 1 : n)) == NULL)
		fatalx("out of memory");
	return p;
}

void *
xreallocarray(void *old, size_t nmemb, size_t size)
{
	void	*p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		fatalx("out of memory (%zu * %zu overflows)", nmemb, size);
	if ((p = realloc(old, nmemb * size == 0 ? 1 : nmemb * size)) == NULL)
		fatalx("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatalx("out of memory");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		fatalx("out of memory");
	return p;
}

void *
xmemdup(const void *src, size_t n)
{
	void	*p;

	p = xmalloc(n);
	if (n > 0)
		memcpy(p, src, n);
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char	*s;

	if (vasprintf(&s, fmt, ap) == -1)
		fatalx("out of memory");
	return s;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

size_t
warp_strlcpy(char *dst, const char *src, size_t dstsz)
{
	size_t	 len = strlen(src);

	if (dstsz > 0) {
		size_t	 n = len < dstsz - 1 ? len : dstsz - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t
warp_strlcat(char *dst, const char *src, size_t dstsz)
{
	size_t	 dlen = strnlen(dst, dstsz);

	if (dlen == dstsz)
		return dstsz + strlen(src);
	return dlen + warp_strlcpy(dst + dlen, src, dstsz - dlen);
}

int
warp_strncaseeq(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && strncasecmp(p, s, n) == 0;
}

int64_t
warp_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
warp_mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
fill_random(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		p += n;
		len -= (size_t)n;
	}
}

/*
 * 48 bits of milliseconds then 80 random bits, 26 characters of Crockford
 * base32 (the first character carries only 3 bits).  Within one process the
 * ids sort in creation order: a second id in the same millisecond (or after
 * the clock stepped back) reuses the last time and adds one to the random
 * part, as the ULID specification asks.
 */
void
warp_ulid(char out[WARP_ULID_LEN + 1])
{
	static const char	 alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	static uint64_t		 last_ms;
	static unsigned char	 last_rand[10];
	unsigned char		 bytes[16];
	uint64_t		 ms;
	int			 i, bit;

	ms = (uint64_t)(warp_now_us() / 1000) & 0xffffffffffffULL;
	if (ms <= last_ms && last_ms != 0) {
		ms = last_ms;
		for (i = 9; i >= 0; i--)
			if (++last_rand[i] != 0)
				break;
		if (i < 0) {
			/* 2^80 ids in one millisecond: move time on. */
			ms = ++last_ms;
			fill_random(last_rand, sizeof(last_rand));
		}
	} else
		fill_random(last_rand, sizeof(last_rand));
	last_ms = ms;

	for (i = 0; i < 6; i++)
		bytes[i] = (unsigned char)(ms >> (8 * (5 - i)));
	memcpy(bytes + 6, last_rand, 10);

	/* 128 bits, most significant first; pad two zero bits on the left. */
	for (i = 0; i < WARP_ULID_LEN; i++) {
		unsigned	 v = 0;
		int		 j;

		for (j = 0; j < 5; j++) {
			bit = i * 5 + j - 2;
			v <<= 1;
			if (bit >= 0)
				v |= (bytes[bit / 8] >> (7 - bit % 8)) & 1;
		}
		out[i] = alphabet[v];
	}
	out[WARP_ULID_LEN] = '\0';
}

char *
warp_put_uint(char *p, uint64_t v)
{
	char	 tmp[20];
	int	 n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

void
warp_time_rfc3339(int64_t us, char out[32])
{
	struct tm	 tm;
	time_t		 sec;
	int64_t		 frac;
	char		 tmp[96];	/* room for any int the compiler imagines */

	sec = (time_t)(us / 1000000);
	frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	if (gmtime_r(&sec, &tm) == NULL) {
		warp_strlcpy(out, "1970-01-01T00:00:00.000000Z", 32);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
	warp_strlcpy(out, tmp, 32);
}

/*
 * Read at most max bytes of a regular file; a longer file is refused with
 * EFBIG rather than silently cut, since callers parse what they get.
 */
char *
util_read_file(const char *path, size_t max, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0, cap;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	cap = S_ISREG(st.st_mode) && (size_t)st.st_size < max ?
	    (size_t)st.st_size + 1 : 4096;
	buf = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				errno = EFBIG;
				goto fail;
			}
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

int
warp_set_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	if ((fl = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1)
		return -1;
	return 0;
}
