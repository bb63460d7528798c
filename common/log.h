/*
 * log.h -- logging to stderr and/or syslog (facility mail).
 *
 * In the OpenSMTPD sense: log_warn() appends strerror(errno), log_warnx()
 * does not; fatal()/fatalx() log and exit(1).  Text that came from the
 * network must pass through log_sanitize() (or the %s-safe helper
 * log_printable()) before it reaches a log line: it is made printable and
 * truncated, so a peer cannot forge log lines or flood the log.
 *
 * Logging never blocks on the network: syslog(3) over a datagram socket and
 * unbuffered stderr.
 */
#ifndef WARP_LOG_H
#define WARP_LOG_H

#include <stddef.h>
#include <syslog.h>

#include "util.h"

/* Levels are syslog's: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG. */
void	 log_init(const char *progname, int to_stderr, int to_syslog);
void	 log_setlevel(int level);
int	 log_getlevel(void);
int	 log_level_parse(const char *);		/* "info" -> LOG_INFO, -1 if bad */
const char *log_procname(void);

void	 log_warn(const char *, ...) WARP_PRINTF(1, 2);
void	 log_warnx(const char *, ...) WARP_PRINTF(1, 2);
void	 log_notice(const char *, ...) WARP_PRINTF(1, 2);
void	 log_info(const char *, ...) WARP_PRINTF(1, 2);
void	 log_debug(const char *, ...) WARP_PRINTF(1, 2);
void	 fatal(const char *, ...) WARP_PRINTF(1, 2) WARP_NORETURN;
void	 fatalx(const char *, ...) WARP_PRINTF(1, 2) WARP_NORETURN;

/*
 * Copy untrusted bytes into dst as printable ASCII: control bytes and bytes
 * >= 0x7f become \r \n \t or \xHH, backslash becomes \\.  Output is
 * truncated (ending in "...") to fit dstsz, always NUL-terminated.
 * Returns strlen(dst).
 */
size_t	 log_sanitize(char *dst, size_t dstsz, const void *src, size_t len);

/* Convenience: sanitize into one of a few rotating static buffers of
 * LOG_PRINTABLE_MAX bytes, for use as a printf argument. */
#define LOG_PRINTABLE_MAX 256
const char *log_printable(const void *src, size_t len);

#endif
