/*
 * util.h -- memory, strings, time and ids shared by every warp daemon.
 *
 * One out-of-memory policy: the x*() allocators abort through fatalx(), so
 * call sites never check for NULL.  Nothing here does I/O except
 * util_read_file().
 */
#ifndef WARP_UTIL_H
#define WARP_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#define WARP_NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define WARP_MIN(a, b)	((a) < (b) ? (a) : (b))
#define WARP_MAX(a, b)	((a) > (b) ? (a) : (b))

#define WARP_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define WARP_NORETURN		__attribute__((noreturn))

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
char	*xasprintf(const char *, ...) WARP_PRINTF(1, 2);
char	*xvasprintf(const char *, va_list) WARP_PRINTF(1, 0);

/* Bounded copy/append; return strlen of what they tried to create. */
size_t	 warp_strlcpy(char *, const char *, size_t);
size_t	 warp_strlcat(char *, const char *, size_t);

/* Case-insensitive compare of a counted byte string with a C string. */
int	 warp_strncaseeq(const char *, size_t, const char *);

/* Wall clock in microseconds since the epoch; monotonic in microseconds. */
int64_t	 warp_now_us(void);
int64_t	 warp_mono_us(void);

/*
 * A ULID (26 Crockford base32 characters + NUL): 48-bit millisecond time
 * and 80 random bits, monotonic within one process.  Connection ids.
 */
#define WARP_ULID_LEN	26
void	 warp_ulid(char out[WARP_ULID_LEN + 1]);

/* Format a time in microseconds as RFC 3339 UTC with microseconds,
 * "2026-11-24T18:43:00.123456Z"; out must hold 32 bytes. */
void	 warp_time_rfc3339(int64_t us, char out[32]);
/* The decimal digits of v at p (no NUL, at most 20); returns the end.
 * For hot paths where printf's machinery costs more than the work. */
char	*warp_put_uint(char *p, uint64_t v);

/* Timeouts for libevent: ms milliseconds or us microseconds as a timeval. */
static inline struct timeval
warp_tv_ms(int64_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

static inline struct timeval
warp_tv_us(int64_t us)
{
	struct timeval	 tv;

	tv.tv_sec = us / 1000000;
	tv.tv_usec = us % 1000000;
	return tv;
}

/* Big-endian 32-bit values (frame and spool record lengths). */
static inline void
warp_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline uint32_t
warp_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Read a whole small file; NULL with errno on failure. */
char	*util_read_file(const char *path, size_t max, size_t *lenp);

/* Set O_NONBLOCK and FD_CLOEXEC. */
int	 warp_set_nonblock(int fd);

#endif
