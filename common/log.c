/*
 * log.c -- the suite's logging: stderr and/or syslog(3) facility mail.
 *
 * Every daemon calls log_init() once at start-up (daemon.c does it); before
 * that, messages still reach stderr with the name "warp".  Lines look like
 * "warp-proxyd[1234]: warning: message" (levels fatal, error, warning,
 * notice, info, debug).  Under systemd (JOURNAL_STREAM set)
 * the journal adds its own time stamp, elsewhere one is prefixed.
 *
 * Security role: log_sanitize()/log_printable() are what stand between a
 * peer's bytes and the log; nothing from the network is logged without them.
 * Writes to stderr are single unbuffered write(2) calls so lines from
 * concurrent processes do not interleave mid-line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_name = "warp";
static int		 log_stderr = 1;
static int		 log_syslog;
static int		 log_stamp = 1;
static int		 log_level = LOG_INFO;

static const struct {
	const char	*name;
	int		 level;
} log_levels[] = {
	{ "error",	LOG_ERR },
	{ "warning",	LOG_WARNING },
	{ "notice",	LOG_NOTICE },
	{ "info",	LOG_INFO },
	{ "debug",	LOG_DEBUG },
};

void
log_init(const char *progname, int to_stderr, int to_syslog)
{
	if (log_syslog)
		closelog();
	log_name = progname != NULL ? progname : "warp";
	log_stderr = to_stderr;
	log_syslog = to_syslog;
	/* The journal stamps stderr lines itself. */
	log_stamp = getenv("JOURNAL_STREAM") == NULL;
	if (log_syslog)
		openlog(log_name, LOG_PID | LOG_NDELAY, LOG_MAIL);
	tzset();
}

void
log_setlevel(int level)
{
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

int
log_level_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < WARP_NELEM(log_levels); i++)
		if (strcasecmp(s, log_levels[i].name) == 0)
			return log_levels[i].level;
	return -1;
}

const char *
log_procname(void)
{
	return log_name;
}

/*
 * stderr names every level; syslog carries the level in the priority, so
 * there only the ones an operator greps for are spelled out (Postfix).
 */
static const char *
level_word(int level, int for_syslog)
{
	switch (level) {
	case LOG_CRIT:
		return "fatal: ";
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_NOTICE:
		return for_syslog ? "" : "notice: ";
	case LOG_INFO:
		return for_syslog ? "" : "info: ";
	default:
		return for_syslog ? "" : "debug: ";
	}
}

static void
log_emit(int level, const char *msg)
{
	char		 line[8192], stamp[32];
	struct tm	 tm;
	time_t		 now;
	int		 n;

	if (log_syslog)
		syslog(level, "%s%s", level_word(level, 1), msg);
	if (!log_stderr)
		return;
	stamp[0] = '\0';
	if (log_stamp) {
		now = time(NULL);
		if (localtime_r(&now, &tm) != NULL)
			strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S ", &tm);
	}
	n = snprintf(line, sizeof(line), "%s%s[%ld]: %s%s\n", stamp, log_name,
	    (long)getpid(), level_word(level, 0), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* Best effort: a broken stderr must not stop the daemon. */
	if (write(STDERR_FILENO, line, (size_t)n) == -1)
		return;
}

static void
log_vlog(int level, int with_errno, const char *fmt, va_list ap)
{
	char	 msg[4096];
	int	 saved = errno;
	size_t	 len;

	if (level > log_level && level != LOG_CRIT)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	}
	log_emit(level, msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_NOTICE, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * Each input byte becomes 1, 2 or 4 output bytes; an escape is never split.
 * When the whole input does not fit, output stops early enough to leave room
 * for "..." so a reader can tell the line was cut.
 */
static size_t
escape_byte(unsigned char c, char esc[4])
{
	static const char	 hex[] = "0123456789abcdef";

	switch (c) {
	case '\\':
		esc[0] = '\\'; esc[1] = '\\';
		return 2;
	case '\r':
		esc[0] = '\\'; esc[1] = 'r';
		return 2;
	case '\n':
		esc[0] = '\\'; esc[1] = 'n';
		return 2;
	case '\t':
		esc[0] = '\\'; esc[1] = 't';
		return 2;
	}
	if (c < 0x20 || c >= 0x7f) {
		esc[0] = '\\'; esc[1] = 'x';
		esc[2] = hex[c >> 4]; esc[3] = hex[c & 0xf];
		return 4;
	}
	esc[0] = (char)c;
	return 1;
}

size_t
log_sanitize(char *dst, size_t dstsz, const void *src, size_t len)
{
	const unsigned char	*s = src;
	char			 esc[4];
	size_t			 i, o, elen, total = 0, room;

	if (dstsz == 0)
		return 0;
	room = dstsz - 1;
	for (i = 0; i < len && total <= room; i++)
		total += escape_byte(s[i], esc);
	/* Will be cut: keep space for "..." (unless even that does not fit). */
	if (total > room && room >= 3)
		room -= 3;

	for (i = 0, o = 0; i < len; i++) {
		elen = escape_byte(s[i], esc);
		if (o + elen > room)
			break;
		memcpy(dst + o, esc, elen);
		o += elen;
	}
	if (i < len && dstsz - 1 >= 3) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return o;
}

const char *
log_printable(const void *src, size_t len)
{
	static char	 ring[4][LOG_PRINTABLE_MAX];
	static unsigned	 next;
	char		*buf;

	buf = ring[next++ % WARP_NELEM(ring)];
	log_sanitize(buf, LOG_PRINTABLE_MAX, src, len);
	return buf;
}
