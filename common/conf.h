/*
 * conf.h -- Postfix main.cf-style configuration, driven by one table per
 * daemon.
 *
 * Syntax (SPEC §3): "name = value", '#' comments, a line starting with
 * white space continues the previous one, lists are comma or space
 * separated, durations take s/m/h/d suffixes (bare number = seconds, "ms"
 * allowed), sizes k/m/g (bare number = bytes).  A daemon reads
 * DIR/warp.conf (shared keys) and then DIR/<daemon>.conf; -o key=value
 * overrides come last.
 *
 * Every key has a type, default, range and one line of documentation in a
 * struct conf_key table.  Unknown keys and bad values are errors reported
 * as "file:line: message".  docs/configuration.md is generated from these
 * tables (conf_print_doc) and a test checks it is current.
 *
 * A file that sets a key flagged CONF_SECRET must not be readable or
 * writable by group "other"; such a file is refused.
 */
#ifndef WARP_CONF_H
#define WARP_CONF_H

#include <stdint.h>
#include <stdio.h>

enum conf_type {
	CONF_STR,		/* any string, may be empty */
	CONF_BOOL,		/* yes/no, true/false, on/off, 1/0 */
	CONF_INT,		/* integer within [min, max] */
	CONF_SIZE,		/* bytes, k/m/g suffix, within [min, max] */
	CONF_DURATION,		/* stored as milliseconds, within [min, max] ms */
	CONF_ENUM,		/* one of the '|'-separated words in .choices */
	CONF_LIST,		/* comma/space separated words */
	CONF_PATH,		/* a file system path (string, not checked) */
	CONF_ADDR,		/* "ip:port", "[ip6]:port", "host:port" or "*:port" */
};

#define CONF_SECRET	0x01	/* holds a credential: file must be 0600-ish */
#define CONF_SHARED	0x02	/* may appear in warp.conf (shared keys) */
#define CONF_RELOAD	0x04	/* takes effect on SIGHUP (else restart) */

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	const char	*def;		/* default, in config syntax */
	int64_t		 min, max;	/* INT/SIZE/DURATION (ms); 0,0 = none */
	const char	*choices;	/* ENUM: "none|may|encrypt|verify" */
	unsigned	 flags;
	const char	*doc;		/* one line */
};
#define CONF_KEY_END	{ NULL, 0, NULL, 0, 0, NULL, 0, NULL }

/* The keys every daemon understands (warp.conf): socket_dir, log_level,
 * syslog.  Each daemon's table adds its own, including "user". */
extern const struct conf_key conf_shared_keys[];

/* Diagnostics collected while loading: "file:line: message". */
struct conf_diag {
	char	**errors;
	size_t	  nerrors;
	char	**warnings;
	size_t	  nwarnings;
};
void	 conf_diag_error(struct conf_diag *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 conf_diag_warn(struct conf_diag *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 conf_diag_print(const struct conf_diag *, FILE *);
void	 conf_diag_free(struct conf_diag *);

struct conf;	/* opaque: the values of one daemon's keys */

/*
 * Load dir/warp.conf and dir/<daemon>.conf (a missing file is fine: the
 * defaults apply), then apply overrides ("key=value" strings).  Returns the
 * configuration, or NULL when diag->nerrors > 0.  Values are checked
 * against the tables; defaults are checked too.
 */
struct conf *conf_load(const struct conf_key *daemon_keys, const char *dir,
	    const char *daemon, char *const *overrides, size_t noverrides,
	    struct conf_diag *diag);

/* Parse one buffer as if it were a file with the given name (tests, fuzz). */
struct conf *conf_load_buffer(const struct conf_key *daemon_keys,
	    const char *name, const char *buf, size_t len,
	    struct conf_diag *diag);

void	 conf_free(struct conf *);

/*
 * Typed getters.  Asking for a key that is not in the tables, or with the
 * wrong type, is a programming error and aborts (fatalx).
 */
const char	*conf_str(const struct conf *, const char *key);
int		 conf_bool(const struct conf *, const char *key);
int64_t		 conf_int(const struct conf *, const char *key);
uint64_t	 conf_size(const struct conf *, const char *key);
int64_t		 conf_duration_ms(const struct conf *, const char *key);
/* List items, NULL-terminated; *n (optional) gets the count.  Works for
 * CONF_LIST and CONF_ADDR: an address key may hold several addresses
 * (comma/space separated, each checked); conf_str() gives its whole text.
 * conf_str() also reads CONF_PATH and CONF_ENUM (the table's spelling). */
char *const	*conf_list(const struct conf *, const char *key, size_t *n);
/* Where the value came from: "file:line", "-o", or "default". */
const char	*conf_origin(const struct conf *, const char *key);

/* Value parsers, exposed for tests and for -o checking.  0 ok, -1 bad,
 * with a message in err (errsz bytes). */
int	 conf_parse_bool(const char *, int *, char *err, size_t errsz);
int	 conf_parse_size(const char *, uint64_t *, char *err, size_t errsz);
int	 conf_parse_duration(const char *, int64_t *ms, char *err, size_t errsz);
int	 conf_parse_int(const char *, int64_t *, char *err, size_t errsz);

/* Markdown reference of a table (for docs/configuration.md). */
void	 conf_print_doc(FILE *, const char *daemon, const struct conf_key *);

#endif
