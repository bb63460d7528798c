/*
 * conf.c -- table-driven configuration in the style of Postfix main.cf.
 *
 * Every daemon hands conf_load() its table of keys; the values of the
 * shared table (conf_shared_keys) and of the daemon's table are read from
 * warp.conf, then <daemon>.conf, then -o overrides, each layer replacing
 * the one before.  Every value is checked against its key's type and range
 * when it is read, so a daemon only ever sees valid values; problems are
 * collected as "file:line: message" for -t and for start-up.
 *
 * Called by daemon.c at start-up and on SIGHUP, by unit tests and the
 * fuzzer through conf_load_buffer().  Security role: it refuses files that
 * hold a secret (CONF_SECRET key) yet are open to "other", and it never
 * echoes raw bytes of a file into a message without making them printable.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "util.h"

#define CONF_FILE_MAX	(1024 * 1024)	/* a config file larger is a mistake */

const struct conf_key conf_shared_keys[] = {
	{ "socket_dir", CONF_PATH, "/run/warp", 0, 0, NULL, CONF_SHARED,
	  "directory holding the daemons' Unix sockets" },
	{ "log_level", CONF_ENUM, "info", 0, 0,
	  "error|warning|notice|info|debug", CONF_SHARED | CONF_RELOAD,
	  "least important messages that are still logged" },
	{ "syslog", CONF_BOOL, "yes", 0, 0, NULL, CONF_SHARED,
	  "also log to syslog, facility mail" },
	CONF_KEY_END
};

struct conf_value {
	const struct conf_key	*key;
	int			 shared;	/* name is in conf_shared_keys */
	char			*raw;		/* as written, trimmed */
	char			*origin;	/* "file:line", "-o", "default" */
	int			 b;
	int64_t			 i;		/* INT, DURATION (ms) */
	uint64_t		 u;		/* SIZE */
	char			**list;		/* LIST, ADDR: NULL-terminated */
	size_t			 nlist;
	/* Where this file last set the key, for the duplicate warning. */
	const char		*set_file;
	size_t			 set_line;
};

struct conf {
	struct conf_value	*v;
	size_t			 n;
};

/* ---- diagnostics ---------------------------------------------------- */

static void
diag_add(char ***arr, size_t *n, const char *fmt, va_list ap)
{
	*arr = xreallocarray(*arr, *n + 1, sizeof(**arr));
	(*arr)[(*n)++] = xvasprintf(fmt, ap);
}

void
conf_diag_error(struct conf_diag *d, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	diag_add(&d->errors, &d->nerrors, fmt, ap);
	va_end(ap);
}

void
conf_diag_warn(struct conf_diag *d, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	diag_add(&d->warnings, &d->nwarnings, fmt, ap);
	va_end(ap);
}

void
conf_diag_print(const struct conf_diag *d, FILE *fp)
{
	size_t	 i;

	for (i = 0; i < d->nerrors; i++)
		fprintf(fp, "%s\n", d->errors[i]);
	for (i = 0; i < d->nwarnings; i++)
		fprintf(fp, "warning: %s\n", d->warnings[i]);
	fflush(fp);
}

void
conf_diag_free(struct conf_diag *d)
{
	size_t	 i;

	for (i = 0; i < d->nerrors; i++)
		free(d->errors[i]);
	for (i = 0; i < d->nwarnings; i++)
		free(d->warnings[i]);
	free(d->errors);
	free(d->warnings);
	memset(d, 0, sizeof(*d));
}

/* ---- value parsers ---------------------------------------------------- */

/* Parse leading decimal digits of s into *v; returns the rest or NULL. */
static const char *
parse_digits(const char *s, uint64_t *v, int *overflow)
{
	uint64_t	 n = 0;
	const char	*p = s;

	*overflow = 0;
	while (*p >= '0' && *p <= '9') {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			*overflow = 1;
		else
			n = n * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p == s)
		return NULL;
	*v = n;
	return p;
}

int
conf_parse_bool(const char *s, int *v, char *err, size_t errsz)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t	 i;

	for (i = 0; i < WARP_NELEM(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = 0;
			return 0;
		}
	}
	snprintf(err, errsz, "'%s' is not a boolean (use yes or no)",
	    log_printable(s, strlen(s)));
	return -1;
}

int
conf_parse_int(const char *s, int64_t *v, char *err, size_t errsz)
{
	const char	*p = s, *rest;
	uint64_t	 u;
	int		 neg = 0, overflow;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if ((rest = parse_digits(p, &u, &overflow)) == NULL || *rest != '\0') {
		snprintf(err, errsz, "'%s' is not a whole number",
		    log_printable(s, strlen(s)));
		return -1;
	}
	if (overflow || u > (uint64_t)INT64_MAX + (neg ? 1 : 0)) {
		snprintf(err, errsz, "'%s' is too large",
		    log_printable(s, strlen(s)));
		return -1;
	}
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

int
conf_parse_size(const char *s, uint64_t *v, char *err, size_t errsz)
{
	const char	*rest;
	uint64_t	 n, mult = 1;
	int		 overflow;

	if ((rest = parse_digits(s, &n, &overflow)) == NULL)
		goto bad;
	if (*rest != '\0') {
		switch (*rest) {
		case 'k': case 'K':
			mult = 1024;
			break;
		case 'm': case 'M':
			mult = 1024 * 1024;
			break;
		case 'g': case 'G':
			mult = 1024 * 1024 * 1024;
			break;
		default:
			goto bad;
		}
		if (rest[1] != '\0')
			goto bad;
	}
	if (overflow || n > UINT64_MAX / mult) {
		snprintf(err, errsz, "'%s' is too large",
		    log_printable(s, strlen(s)));
		return -1;
	}
	*v = n * mult;
	return 0;
bad:
	snprintf(err, errsz, "'%s' is not a size (use k, m or g)",
	    log_printable(s, strlen(s)));
	return -1;
}

int
conf_parse_duration(const char *s, int64_t *ms, char *err, size_t errsz)
{
	static const struct {
		const char	*suffix;
		uint64_t	 ms;
	} units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	const char	*rest;
	uint64_t	 n;
	size_t		 i;
	int		 overflow;

	if ((rest = parse_digits(s, &n, &overflow)) == NULL)
		goto bad;
	for (i = 0; i < WARP_NELEM(units); i++)
		if (strcasecmp(rest, units[i].suffix) == 0)
			break;
	if (i == WARP_NELEM(units))
		goto bad;
	if (overflow || n > (uint64_t)INT64_MAX / units[i].ms) {
		snprintf(err, errsz, "'%s' is too large",
		    log_printable(s, strlen(s)));
		return -1;
	}
	*ms = (int64_t)(n * units[i].ms);
	return 0;
bad:
	snprintf(err, errsz, "'%s' is not a duration (use ms, s, m, h or d)",
	    log_printable(s, strlen(s)));
	return -1;
}

/* Words of a list: separated by commas and/or white space. */
static char **
split_list(const char *s, size_t *np)
{
	char		**list = NULL;
	size_t		  n = 0, len;
	const char	 *sep = ", \t\r\n";

	for (;;) {
		s += strspn(s, sep);
		if (*s == '\0')
			break;
		len = strcspn(s, sep);
		list = xreallocarray(list, n + 2, sizeof(*list));
		list[n++] = xstrndup(s, len);
		s += len;
	}
	if (list == NULL)
		list = xcalloc(1, sizeof(*list));
	list[n] = NULL;
	*np = n;
	return list;
}

static void
free_list(char **list)
{
	size_t	 i;

	if (list == NULL)
		return;
	for (i = 0; list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

/* "host:port" without resolving: host is a plausible DNS name. */
static int
plausible_hostport(const char *s)
{
	const char	*colon, *p;
	char		*end;
	long		 port;

	if ((colon = strrchr(s, ':')) == NULL || colon == s)
		return 0;
	for (p = s; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_'))
			return 0;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return colon[1] != '\0' && *end == '\0' && errno == 0 &&
	    port >= 0 && port <= 65535;
}

/* Print a size or duration in the largest unit that divides it. */
static void
fmt_size(char *buf, size_t sz, uint64_t v)
{
	if (v != 0 && v % (uint64_t)(1024 * 1024 * 1024) == 0)
		snprintf(buf, sz, "%" PRIu64 "g", v / (uint64_t)(1024 * 1024 * 1024));
	else if (v != 0 && v % (1024 * 1024) == 0)
		snprintf(buf, sz, "%" PRIu64 "m", v / (1024 * 1024));
	else if (v != 0 && v % 1024 == 0)
		snprintf(buf, sz, "%" PRIu64 "k", v / 1024);
	else
		snprintf(buf, sz, "%" PRIu64, v);
}

static void
fmt_duration(char *buf, size_t sz, int64_t ms)
{
	if (ms != 0 && ms % 86400000 == 0)
		snprintf(buf, sz, "%" PRId64 "d", ms / 86400000);
	else if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, sz, "%" PRId64 "h", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, sz, "%" PRId64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, sz, "%" PRId64 "s", ms / 1000);
	else
		snprintf(buf, sz, "%" PRId64 "ms", ms);
}

static void
fmt_bound(const struct conf_key *k, int64_t v, char *buf, size_t sz)
{
	switch (k->type) {
	case CONF_SIZE:
		fmt_size(buf, sz, (uint64_t)v);
		break;
	case CONF_DURATION:
		fmt_duration(buf, sz, v);
		break;
	default:
		snprintf(buf, sz, "%" PRId64, v);
	}
}

static int
has_range(const struct conf_key *k)
{
	return k->min != 0 || k->max != 0;
}

static int
check_range(const struct conf_key *k, const char *s, int64_t v, int is_u,
    uint64_t u, char *err, size_t errsz)
{
	char	 lo[32], hi[32];

	if (!has_range(k))
		return 0;
	fmt_bound(k, k->min, lo, sizeof(lo));
	fmt_bound(k, k->max, hi, sizeof(hi));
	if (is_u ? (k->min > 0 && u < (uint64_t)k->min) : v < k->min) {
		snprintf(err, errsz, "'%s' is below the minimum %s (range %s "
		    "to %s)", s, lo, lo, hi);
		return -1;
	}
	if (is_u ? (k->max >= 0 && u > (uint64_t)k->max) : v > k->max) {
		snprintf(err, errsz, "'%s' is above the maximum %s (range %s "
		    "to %s)", s, hi, lo, hi);
		return -1;
	}
	return 0;
}

/* Does word appear in the '|'-separated choices?  Returns its length. */
static const char *
enum_match(const char *choices, const char *word, size_t *lenp)
{
	const char	*p = choices;
	size_t		 len;

	while (*p != '\0') {
		len = strcspn(p, "|");
		if (len > 0 && warp_strncaseeq(p, len, word)) {
			*lenp = len;
			return p;
		}
		p += len;
		if (*p == '|')
			p++;
	}
	return NULL;
}

/* "a|b|c" -> "a, b, c" (allocated). */
static char *
enum_words(const char *choices)
{
	char	*out, *o;

	o = out = xmalloc(strlen(choices) * 2 + 1);
	for (; *choices != '\0'; choices++) {
		if (*choices == '|') {
			*o++ = ',';
			*o++ = ' ';
		} else
			*o++ = *choices;
	}
	*o = '\0';
	return out;
}

/*
 * Check s against the key and, when valid, store it in val (replacing what
 * was there).  On error val is untouched and err says why.
 */
static int
value_set(struct conf_value *val, const char *s, const char *origin,
    char *err, size_t errsz)
{
	const struct conf_key	*k = val->key;
	struct conf_value	 nv;
	const char		*p;
	char			 shown[LOG_PRINTABLE_MAX], *choices;
	size_t			 i, len;

	memset(&nv, 0, sizeof(nv));
	log_sanitize(shown, sizeof(shown), s, strlen(s));

	switch (k->type) {
	case CONF_STR:
	case CONF_PATH:
		break;
	case CONF_BOOL:
		if (conf_parse_bool(s, &nv.b, err, errsz) == -1)
			return -1;
		break;
	case CONF_INT:
		if (conf_parse_int(s, &nv.i, err, errsz) == -1 ||
		    check_range(k, shown, nv.i, 0, 0, err, errsz) == -1)
			return -1;
		break;
	case CONF_SIZE:
		if (conf_parse_size(s, &nv.u, err, errsz) == -1 ||
		    check_range(k, shown, 0, 1, nv.u, err, errsz) == -1)
			return -1;
		break;
	case CONF_DURATION:
		if (conf_parse_duration(s, &nv.i, err, errsz) == -1 ||
		    check_range(k, shown, nv.i, 0, 0, err, errsz) == -1)
			return -1;
		break;
	case CONF_ENUM:
		if ((p = enum_match(k->choices, s, &len)) == NULL) {
			choices = enum_words(k->choices);
			snprintf(err, errsz, "'%s' is not one of %s", shown,
			    choices);
			free(choices);
			return -1;
		}
		/* Store the table's spelling, whatever case was written. */
		nv.raw = xstrndup(p, len);
		break;
	case CONF_LIST:
		nv.list = split_list(s, &nv.nlist);
		break;
	case CONF_ADDR:
		nv.list = split_list(s, &nv.nlist);
		for (i = 0; i < nv.nlist; i++) {
			struct sockaddr_storage	 ss;
			socklen_t		 sl;

			if (addr_parse(nv.list[i], &ss, &sl) == 0 ||
			    plausible_hostport(nv.list[i]))
				continue;
			snprintf(err, errsz, "'%s' is not an address (use "
			    "ip:port, [ipv6]:port, host:port or *:port)",
			    log_printable(nv.list[i], strlen(nv.list[i])));
			free_list(nv.list);
			return -1;
		}
		break;
	default:
		snprintf(err, errsz, "key has an unknown type %d", k->type);
		return -1;
	}

	free(val->raw);
	free(val->origin);
	free_list(val->list);
	val->raw = nv.raw != NULL ? nv.raw : xstrdup(s);
	val->origin = xstrdup(origin);
	val->b = nv.b;
	val->i = nv.i;
	val->u = nv.u;
	val->list = nv.list;
	val->nlist = nv.nlist;
	return 0;
}

/* ---- the table ------------------------------------------------------- */

static struct conf_value *
conf_find(const struct conf *cf, const char *name)
{
	size_t	 i;

	for (i = 0; i < cf->n; i++)
		if (strcmp(cf->v[i].key->name, name) == 0)
			return &cf->v[i];
	return NULL;
}

static void
conf_add_keys(struct conf *cf, const struct conf_key *keys, int shared)
{
	struct conf_value	*val;

	for (; keys != NULL && keys->name != NULL; keys++) {
		/* A daemon may redefine a shared key (another default). */
		if ((val = conf_find(cf, keys->name)) != NULL) {
			val->key = keys;
			continue;
		}
		cf->v = xreallocarray(cf->v, cf->n + 1, sizeof(*cf->v));
		val = &cf->v[cf->n++];
		memset(val, 0, sizeof(*val));
		val->key = keys;
		val->shared = shared;
	}
}

static struct conf *
conf_new(const struct conf_key *daemon_keys)
{
	struct conf	*cf;
	char		 err[512];
	size_t		 i;

	cf = xcalloc(1, sizeof(*cf));
	conf_add_keys(cf, conf_shared_keys, 1);
	conf_add_keys(cf, daemon_keys, 0);
	for (i = 0; i < cf->n; i++) {
		const struct conf_key *k = cf->v[i].key;

		if (k->type == CONF_ENUM && k->choices == NULL)
			fatalx("conf: %s: enum without choices", k->name);
		if (value_set(&cf->v[i], k->def != NULL ? k->def : "",
		    "default", err, sizeof(err)) == -1)
			fatalx("conf: %s: bad default: %s", k->name, err);
	}
	return cf;
}

void
conf_free(struct conf *cf)
{
	size_t	 i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->n; i++) {
		free(cf->v[i].raw);
		free(cf->v[i].origin);
		free_list(cf->v[i].list);
	}
	free(cf->v);
	free(cf);
}

/* ---- files ------------------------------------------------------------ */

struct parse_ctx {
	struct conf		*cf;
	struct conf_diag	*diag;
	const char		*path;		/* as shown in messages */
	int			 shared_only;	/* warp.conf */
	int			 secret_set;	/* a CONF_SECRET key was set */
	const char		*secret_name;
};

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void
shared_names(char *buf, size_t sz)
{
	const struct conf_key	*k;

	buf[0] = '\0';
	for (k = conf_shared_keys; k->name != NULL; k++) {
		if (buf[0] != '\0')
			warp_strlcat(buf, ", ", sz);
		warp_strlcat(buf, k->name, sz);
	}
}

/* One logical line "name = value" (already joined and trimmed). */
static void
parse_assignment(struct parse_ctx *pc, char *line, size_t lineno)
{
	struct conf_value	*val;
	char			*eq, *name, *value, *end, err[512];
	char			 origin[PATH_MAX + 32], names[256];

	if ((eq = strchr(line, '=')) == NULL) {
		conf_diag_error(pc->diag, "%s:%zu: expected 'name = value', "
		    "got '%s'", pc->path, lineno,
		    log_printable(line, strlen(line)));
		return;
	}
	*eq = '\0';
	name = line;
	end = eq;
	while (end > name && is_space(end[-1]))
		*--end = '\0';
	value = eq + 1;
	while (is_space(*value))
		value++;
	end = value + strlen(value);
	while (end > value && is_space(end[-1]))
		*--end = '\0';

	if (*name == '\0') {
		conf_diag_error(pc->diag, "%s:%zu: missing key name before '='",
		    pc->path, lineno);
		return;
	}
	if ((val = conf_find(pc->cf, name)) == NULL) {
		conf_diag_error(pc->diag, "%s:%zu: %s: unknown key", pc->path,
		    lineno, log_printable(name, strlen(name)));
		return;
	}
	if (pc->shared_only && !val->shared) {
		shared_names(names, sizeof(names));
		conf_diag_error(pc->diag, "%s:%zu: %s: unknown key (warp.conf "
		    "holds only the shared keys %s; set it in the daemon's "
		    "own file)", pc->path, lineno, name, names);
		return;
	}
	if (val->set_file == pc->path)
		conf_diag_warn(pc->diag, "%s:%zu: %s: set again (line %zu); "
		    "the last setting wins", pc->path, lineno, name,
		    val->set_line);

	snprintf(origin, sizeof(origin), "%s:%zu", pc->path, lineno);
	if (value_set(val, value, origin, err, sizeof(err)) == -1) {
		conf_diag_error(pc->diag, "%s:%zu: %s: %s", pc->path, lineno,
		    name, err);
		return;
	}
	val->set_file = pc->path;
	val->set_line = lineno;
	if ((val->key->flags & CONF_SECRET) && *value != '\0' &&
	    !pc->secret_set) {
		pc->secret_set = 1;
		pc->secret_name = val->key->name;
	}
}

/*
 * Split buf into logical lines: blank lines and lines whose first
 * non-blank character is '#' are skipped; a line starting with white space
 * continues the previous logical line (joined with one space).  Errors are
 * reported at the line where the logical line starts.
 */
static void
parse_buffer(struct parse_ctx *pc, const char *buf, size_t len)
{
	char		*logical = NULL;
	size_t		 loglen = 0, logline = 0, lineno = 0, i;
	const char	*p = buf, *end = buf + len, *nl, *s, *e;

	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		e = nl != NULL ? nl : end;
		s = p;
		p = nl != NULL ? nl + 1 : end;

		if (memchr(s, '\0', (size_t)(e - s)) != NULL) {
			conf_diag_error(pc->diag, "%s:%zu: line holds a NUL "
			    "byte", pc->path, lineno);
			continue;
		}
		while (e > s && is_space(e[-1]))
			e--;
		for (i = 0; s + i < e && is_space(s[i]); i++)
			;
		if (s + i == e || s[i] == '#')
			continue;		/* blank or comment */
		if (i > 0) {			/* continuation */
			if (logical == NULL) {
				conf_diag_error(pc->diag, "%s:%zu: continuation "
				    "line (starts with white space) without a "
				    "'name = value' line before it", pc->path,
				    lineno);
				continue;
			}
			logical = xrealloc(logical, loglen + 1 +
			    (size_t)(e - s - i) + 1);
			logical[loglen++] = ' ';
			memcpy(logical + loglen, s + i, (size_t)(e - s - i));
			loglen += (size_t)(e - s - i);
			logical[loglen] = '\0';
			continue;
		}
		if (logical != NULL) {
			parse_assignment(pc, logical, logline);
			free(logical);
		}
		logical = xstrndup(s, (size_t)(e - s));
		loglen = (size_t)(e - s);
		logline = lineno;
	}
	if (logical != NULL) {
		parse_assignment(pc, logical, logline);
		free(logical);
	}
}

static int
is_warp_conf(const char *path)
{
	const char	*base = strrchr(path, '/');

	return strcmp(base != NULL ? base + 1 : path, "warp.conf") == 0;
}

static void
parse_file(struct conf *cf, const char *path, struct conf_diag *diag)
{
	struct parse_ctx	 pc;
	struct stat		 st;
	char			*buf;
	size_t			 len;

	if ((buf = util_read_file(path, CONF_FILE_MAX, &len)) == NULL) {
		if (errno != ENOENT)
			conf_diag_error(diag, "%s: cannot read: %s", path,
			    errno == EFBIG ? "file too large" :
			    strerror(errno));
		return;
	}
	memset(&pc, 0, sizeof(pc));
	pc.cf = cf;
	pc.diag = diag;
	pc.path = path;
	pc.shared_only = is_warp_conf(path);
	parse_buffer(&pc, buf, len);
	free(buf);

	/*
	 * stat after reading: a file replaced in between is caught on the next
	 * reload at worst, and a secret is only refused, never leaked, here.
	 */
	if (pc.secret_set && stat(path, &st) == 0 && (st.st_mode & 0007))
		conf_diag_error(diag, "%s: holds secret key '%s' but is "
		    "accessible by others; chmod o-rwx", path, pc.secret_name);
}

static void
apply_overrides(struct conf *cf, char *const *ov, size_t n,
    struct conf_diag *diag)
{
	struct conf_value	*val;
	const char		*eq, *value;
	char			*name, *end, err[512];
	size_t			 i;

	for (i = 0; i < n; i++) {
		if ((eq = strchr(ov[i], '=')) == NULL) {
			conf_diag_error(diag, "-o %s: expected key=value",
			    log_printable(ov[i], strlen(ov[i])));
			continue;
		}
		name = xstrndup(ov[i], (size_t)(eq - ov[i]));
		for (end = name + strlen(name); end > name && is_space(end[-1]);)
			*--end = '\0';
		for (value = eq + 1; is_space(*value); value++)
			;
		if ((val = conf_find(cf, name)) == NULL)
			conf_diag_error(diag, "-o %s: unknown key",
			    log_printable(name, strlen(name)));
		else if (value_set(val, value, "-o", err, sizeof(err)) == -1)
			conf_diag_error(diag, "-o %s: %s", name, err);
		free(name);
	}
}

struct conf *
conf_load(const struct conf_key *daemon_keys, const char *dir,
    const char *daemon, char *const *overrides, size_t noverrides,
    struct conf_diag *diag)
{
	struct conf	*cf;
	char		*shared_path, *daemon_path;
	size_t		 nerr = diag->nerrors;

	cf = conf_new(daemon_keys);
	shared_path = xasprintf("%s/warp.conf", dir);
	daemon_path = xasprintf("%s/%s.conf", dir, daemon);
	parse_file(cf, shared_path, diag);
	parse_file(cf, daemon_path, diag);
	apply_overrides(cf, overrides, noverrides, diag);
	/* set_file points into these paths; forget it with them. */
	for (size_t i = 0; i < cf->n; i++)
		cf->v[i].set_file = NULL;
	free(shared_path);
	free(daemon_path);
	if (diag->nerrors > nerr) {
		conf_free(cf);
		return NULL;
	}
	return cf;
}

struct conf *
conf_load_buffer(const struct conf_key *daemon_keys, const char *name,
    const char *buf, size_t len, struct conf_diag *diag)
{
	struct conf		*cf;
	struct parse_ctx	 pc;
	size_t			 nerr = diag->nerrors, i;

	cf = conf_new(daemon_keys);
	memset(&pc, 0, sizeof(pc));
	pc.cf = cf;
	pc.diag = diag;
	pc.path = name;
	pc.shared_only = is_warp_conf(name);
	parse_buffer(&pc, buf, len);
	for (i = 0; i < cf->n; i++)
		cf->v[i].set_file = NULL;
	if (diag->nerrors > nerr) {
		conf_free(cf);
		return NULL;
	}
	return cf;
}

/* ---- getters ----------------------------------------------------------- */

static const struct conf_value *
getter(const struct conf *cf, const char *key, const char *want, int ok)
{
	const struct conf_value	*val;

	if ((val = conf_find(cf, key)) == NULL)
		fatalx("conf: no such key '%s'", key);
	if (!ok)
		fatalx("conf: key '%s' read as %s", key, want);
	return val;
}

static enum conf_type
key_type(const struct conf *cf, const char *key)
{
	const struct conf_value	*val = conf_find(cf, key);

	return val != NULL ? val->key->type : (enum conf_type)-1;
}

const char *
conf_str(const struct conf *cf, const char *key)
{
	enum conf_type	 t = key_type(cf, key);

	return getter(cf, key, "a string", t == CONF_STR || t == CONF_PATH ||
	    t == CONF_ENUM || t == CONF_ADDR)->raw;
}

int
conf_bool(const struct conf *cf, const char *key)
{
	return getter(cf, key, "a boolean",
	    key_type(cf, key) == CONF_BOOL)->b;
}

int64_t
conf_int(const struct conf *cf, const char *key)
{
	return getter(cf, key, "an integer", key_type(cf, key) == CONF_INT)->i;
}

uint64_t
conf_size(const struct conf *cf, const char *key)
{
	return getter(cf, key, "a size", key_type(cf, key) == CONF_SIZE)->u;
}

int64_t
conf_duration_ms(const struct conf *cf, const char *key)
{
	return getter(cf, key, "a duration",
	    key_type(cf, key) == CONF_DURATION)->i;
}

char *const *
conf_list(const struct conf *cf, const char *key, size_t *n)
{
	const struct conf_value	*val;
	enum conf_type		 t = key_type(cf, key);

	val = getter(cf, key, "a list", t == CONF_LIST || t == CONF_ADDR);
	if (n != NULL)
		*n = val->nlist;
	return val->list;
}

const char *
conf_origin(const struct conf *cf, const char *key)
{
	return getter(cf, key, "anything", 1)->origin;
}

/* ---- documentation ----------------------------------------------------- */

static const char *
type_name(enum conf_type t)
{
	switch (t) {
	case CONF_STR:		return "string";
	case CONF_BOOL:		return "bool";
	case CONF_INT:		return "integer";
	case CONF_SIZE:		return "size";
	case CONF_DURATION:	return "duration";
	case CONF_ENUM:		return "enum";
	case CONF_LIST:		return "list";
	case CONF_PATH:		return "path";
	case CONF_ADDR:		return "address";
	}
	return "?";
}

/* Markdown table cells: '|' must be escaped, newlines cannot appear. */
static void
print_cell(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputs("\\|", fp);
		else if (*s == '\n')
			fputc(' ', fp);
		else
			fputc(*s, fp);
	}
}

void
conf_print_doc(FILE *fp, const char *daemon, const struct conf_key *keys)
{
	const struct conf_key	*k;
	char			 lo[32], hi[32], *words;

	fprintf(fp, "## %s.conf\n\n", daemon);
	fprintf(fp, "| key | type | default | range/choices | description |\n");
	fprintf(fp, "|---|---|---|---|---|\n");
	for (k = keys; k != NULL && k->name != NULL; k++) {
		fprintf(fp, "| `%s` | %s | ", k->name, type_name(k->type));
		if (k->def == NULL || *k->def == '\0')
			fputs("(empty)", fp);
		else {
			fputc('`', fp);
			print_cell(fp, k->def);
			fputc('`', fp);
		}
		fputs(" | ", fp);
		if (k->type == CONF_ENUM && k->choices != NULL) {
			words = enum_words(k->choices);
			fputs(words, fp);
			free(words);
		} else if (has_range(k)) {
			fmt_bound(k, k->min, lo, sizeof(lo));
			fmt_bound(k, k->max, hi, sizeof(hi));
			fprintf(fp, "%s to %s", lo, hi);
		}
		fputs(" | ", fp);
		print_cell(fp, k->doc != NULL ? k->doc : "");
		if (k->flags & CONF_SECRET)
			fputs(" (secret: the file must not be accessible by "
			    "others)", fp);
		if (k->flags & CONF_RELOAD)
			fputs(" (applied on SIGHUP)", fp);
		fputs(" |\n", fp);
	}
}
