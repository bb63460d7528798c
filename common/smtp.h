/*
 * smtp.h -- SMTP parsing as pure functions over bytes (RFC 5321, 2920).
 *
 * Nothing here does I/O or allocates (except where noted); the relay in
 * warp-proxyd calls these, and they are unit-tested with tables and fuzzed.
 * Input is never assumed NUL-terminated and may contain NUL bytes.
 */
#ifndef WARP_SMTP_H
#define WARP_SMTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SMTP_LINE_MAX		1000	/* RFC 5321 4.5.3.1.4, incl. CRLF */
#define SMTP_CMD_LINE_MAX	2048	/* what warp accepts before 500 */
#define SMTP_REPLY_LINE_MAX	2048
#define SMTP_REPLY_LINES_MAX	64
#define SMTP_PARAMS_MAX		16

/* ---- line splitting ------------------------------------------------------- */

/*
 * Find the end of the first line in buf.  Returns the length of the line
 * including its terminator, or 0 when no LF is present.  *eol_len gets 2
 * for CRLF, 1 for a bare LF (flag it: RFC 5321 forbids it).
 */
size_t	smtp_line_end(const char *buf, size_t len, size_t *eol_len);

/* ---- commands -------------------------------------------------------------- */

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_MAIL, SMTP_VERB_RCPT,
	SMTP_VERB_DATA, SMTP_VERB_BDAT, SMTP_VERB_RSET, SMTP_VERB_NOOP,
	SMTP_VERB_QUIT, SMTP_VERB_VRFY, SMTP_VERB_EXPN, SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS, SMTP_VERB_AUTH, SMTP_VERB_ETRN, SMTP_VERB_XCLIENT,
	SMTP_VERB_XFORWARD,
	SMTP_VERB_COUNT
};

/* Deviations from RFC 5321 that were tolerated (smtp_cmd.flags). */
#define SMTP_CMD_BAD_SPACING	0x01	/* "MAIL FROM: <a>", "MAIL  FROM:<a>" */
#define SMTP_CMD_NUL		0x02	/* NUL byte in the line */
#define SMTP_CMD_BARE_LF	0x04	/* set by the caller from eol_len */
#define SMTP_CMD_TOO_LONG	0x08	/* longer than SMTP_LINE_MAX */
#define SMTP_CMD_8BIT		0x10	/* bytes >= 0x80 */
#define SMTP_CMD_NO_BRACKETS	0x20	/* "MAIL FROM:a@b" without <> */

struct smtp_cmd {
	enum smtp_verb	 verb;
	const char	*verb_str;	/* points into the line */
	size_t		 verb_len;
	const char	*arg;		/* after the verb and one space; */
	size_t		 arg_len;	/* trailing white space removed */
	unsigned	 flags;
};

/*
 * Parse one command line (without its CRLF/LF).  Verbs are matched
 * case-insensitively as whole words.  For MAIL and RCPT, arg starts after
 * "FROM:" / "TO:" (white space around the colon tolerated, flagged).
 * Returns 0, or -1 for an empty/unparseable line (verb UNKNOWN).
 *
 * In detail: a non-empty line with a verb not in enum smtp_verb returns 0
 * with verb UNKNOWN (verb_str/arg still set: relay it or answer 500).  An
 * empty or all-blank line returns -1 with verb UNKNOWN.  MAIL/RCPT without
 * "FROM:"/"TO:" (e.g. "MAIL TO:<a>", "MAIL FROM <a>") returns -1 with verb
 * MAIL/RCPT kept, so the caller can answer 501.  flags are set in every
 * case; SMTP_CMD_NO_BRACKETS is set for MAIL/RCPT args without '<'.
 */
int	 smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *);
const char *smtp_verb_name(enum smtp_verb);

struct smtp_param {
	const char	*key;	size_t key_len;
	const char	*value;	size_t value_len;	/* NULL if no '=' */
};

/* A MAIL FROM / RCPT TO argument: path and ESMTP parameters. */
struct smtp_path {
	const char	*addr;		/* inside the <>, may be empty (<>) */
	size_t		 addr_len;
	const char	*params;	/* raw parameter text after the path */
	size_t		 params_len;
	struct smtp_param param[SMTP_PARAMS_MAX];
	size_t		 nparams;
	unsigned	 flags;		/* SMTP_CMD_NO_BRACKETS, _BAD_SPACING */
};

/* Parse the arg of a MAIL/RCPT command (as given by smtp_cmd_parse).
 * Source routes ("<@a,@b:user@c>") are stripped.  0 or -1. */
int	 smtp_path_parse(const char *arg, size_t len, struct smtp_path *);
/* Value of an ESMTP parameter (case-insensitive key), NULL if absent. */
const struct smtp_param *smtp_path_param(const struct smtp_path *,
	    const char *key);

/* ---- replies --------------------------------------------------------------- */

/* One reply line: "250-text" or "250 text" (or "250" alone). */
struct smtp_reply_line {
	int		 code;		/* 100..599 */
	int		 last;		/* space (or nothing) after the code */
	const char	*text;		/* after the separator */
	size_t		 text_len;
};
/* Parse one line without its CRLF.  0 or -1 (not a reply line: fewer
 * than 3 digits, first digit not 2..5, or a 4th byte not ' '/'-'). */
int	 smtp_reply_line_parse(const char *line, size_t len,
	    struct smtp_reply_line *);

/*
 * Incremental multi-line reply accumulator.  Feed it lines (without CRLF)
 * until it returns SMTP_REPLY_DONE.  A continuation line with a different
 * code, or a line that is not a reply, is SMTP_REPLY_ERROR; so is a reply
 * of more than SMTP_REPLY_LINES_MAX lines, and feeding after DONE (call
 * smtp_reply_init() for the next reply).
 */
enum smtp_reply_state {
	SMTP_REPLY_ERROR = -1,
	SMTP_REPLY_MORE = 0,
	SMTP_REPLY_DONE = 1,
};
struct smtp_reply {
	int		 code;
	int		 nlines;
	char		 enhanced[16];	/* "2.1.0" from the first line, or "" */
	char		 text[512];	/* first line's text (after enhanced
					   code), truncated, NUL-terminated,
					   control bytes replaced by '?' */
	int		 done;		/* private */
};
void	 smtp_reply_init(struct smtp_reply *);
enum smtp_reply_state smtp_reply_feed(struct smtp_reply *, const char *line,
	    size_t len);

/* Parse an enhanced status code ("5.7.1 ") at the start of text; returns
 * the bytes it used (including one space) or 0. */
size_t	 smtp_enhanced_parse(const char *text, size_t len, char out[16]);

/* ---- EHLO keyword list ------------------------------------------------------ */

#define SMTP_EXT_STARTTLS	0x0001
#define SMTP_EXT_PIPELINING	0x0002
#define SMTP_EXT_SIZE		0x0004
#define SMTP_EXT_8BITMIME	0x0008
#define SMTP_EXT_CHUNKING	0x0010
#define SMTP_EXT_SMTPUTF8	0x0020
#define SMTP_EXT_DSN		0x0040
#define SMTP_EXT_ENHANCEDSTATUSCODES 0x0080
#define SMTP_EXT_AUTH		0x0100
#define SMTP_EXT_BINARYMIME	0x0200
#define SMTP_EXT_XCLIENT	0x0400
#define SMTP_EXT_XFORWARD	0x0800
#define SMTP_EXT_REQUIRETLS	0x1000
#define SMTP_EXT_OTHER		0x8000	/* anything not listed above */

/* Keyword of one EHLO reply line's text ("SIZE 1000" -> SMTP_EXT_SIZE). */
unsigned smtp_ext_keyword(const char *text, size_t len);

/*
 * Rewrite a complete multi-line EHLO reply (all lines, with their CRLFs, as
 * received) into out: drop every line whose keyword is in remove_mask, then
 * append the lines in add[] (e.g. "STARTTLS"), and fix the "250-"/"250 "
 * markers so exactly the last line has a space.  The greeting line (first)
 * is never removed.  *seen gets the keywords present in the input.
 * Returns the length written, or -1 if out is too small or the input is
 * not a well-formed 250 reply.  Lines are re-terminated with CRLF.
 * Input lines may end in a bare LF.  The output never has more than
 * SMTP_REPLY_LINES_MAX lines (-1 otherwise).  add[] lines must not hold
 * CR or LF (-1).
 */
ssize_t	 smtp_ehlo_rewrite(const char *in, size_t len, unsigned remove_mask,
	    const char *const *add, size_t nadd, char *out, size_t outsz,
	    unsigned *seen);

/* Value of the SIZE keyword in an EHLO reply, 0 if none/unlimited.
 * Tolerant: lines that do not parse are skipped, the greeting is not
 * looked at, an unterminated last line is read. */
uint64_t smtp_ehlo_size(const char *in, size_t len);

/* ---- DATA -------------------------------------------------------------------- */

/*
 * Incremental end-of-data scanner for the DATA phase, fed raw bytes as
 * they arrive, in pieces of any size (down to one byte).  It also says
 * what the relay must add so the destination sees the message exactly as
 * warp does (RFC 5321 4.1.1.4; Postfix smtpd_forbid_bare_newline =
 * normalize):
 *
 *  - DATA ends only at a line "." that starts at the start of DATA or
 *    after a real CRLF and is itself ended by a real CRLF.  Nothing else
 *    ends it.
 *  - A bare LF (not preceded by CR) ends a line; "\r" is inserted before
 *    it, so the destination never sees a bare LF.
 *  - A line that starts after such a bare LF with "." is content: one
 *    more "." is inserted before it, so the destination un-stuffs it back
 *    to what the client sent and can never take "<LF>.<CR><LF>" as the end.
 *  - A "." line after a real line start ended by a bare LF
 *    ("<CR><LF>.<LF>") is content too: ".\r" is inserted before the LF
 *    (the destination reads "..<CR><LF>", the content line ".").
 *
 * smtp_data_scan() consumes bytes from buf and sets *used:
 *   SMTP_DATA_MORE:   all of buf is message content; need more.
 *   SMTP_DATA_INSERT: buf[0..*used) is content; the caller relays it,
 *                     then the d->insert_len bytes at d->insert (one of
 *                     "\r", ".", ".\r"), then calls again from
 *                     buf + *used.  That call takes the byte the scanner
 *                     stopped at as already fixed (an empty call in
 *                     between changes nothing).
 *   SMTP_DATA_END:    buf[0..*used) ends with the terminating ".\r\n";
 *                     the bytes after it belong to the next command.
 *                     Further calls return SMTP_DATA_END with *used 0.
 * It also counts bytes and tracks the header section.
 *
 * Every byte that is not an LF passes through a memchr()-driven fast path
 * once the first byte of its line has been seen, so normal messages cost
 * a few memchr calls per line.  A CR not followed by LF (SMTP_DATA_F_BARE_CR)
 * is passed through, flagged: the caller decides whether to refuse it.
 */
enum smtp_data_result {
	SMTP_DATA_MORE = 0,
	SMTP_DATA_INSERT = 1,
	SMTP_DATA_END = 2,
};
#define SMTP_DATA_F_BARE_LF	0x01	/* a bare LF was seen (normalised) */
#define SMTP_DATA_F_BARE_CR	0x02	/* a CR not followed by LF */
#define SMTP_DATA_F_NUL		0x04
#define SMTP_DATA_F_LONG_LINE	0x08	/* a line over SMTP_LINE_MAX, as
					   relayed (with an inserted dot) */
/* 0x10 was "the terminator was .<LF>": nothing ends DATA that way now. */

struct smtp_data {
	int		 state;		/* private */
	int		 resume;	/* private: byte the INSERT was for */
	size_t		 line_len;	/* private */
	const char	*insert;	/* SMTP_DATA_INSERT: what to relay */
	size_t		 insert_len;
	uint64_t	 bytes;		/* content bytes consumed, excl. the
					   terminator, as received; a "." or
					   ".\r" that may still be the
					   terminator is counted once it
					   turns out to be content */
	uint64_t	 added;		/* bytes inserted so far: the
					   destination gets bytes + added */
	uint64_t	 header_bytes;	/* length of the header section, set
					   once the empty line is seen: the
					   offset (as received) where that
					   empty line starts */
	int		 in_headers;	/* 1 until that empty line */
	unsigned	 flags;		/* SMTP_DATA_F_* seen so far */
};
void	 smtp_data_init(struct smtp_data *);
enum smtp_data_result smtp_data_scan(struct smtp_data *, const char *buf,
	    size_t len, size_t *used);

/*
 * Dot-stuffing.  smtp_unstuff() removes the leading dot of lines that
 * start with "..", in place on a complete message (no terminator); returns
 * the new length.  smtp_stuff_len()/smtp_stuff() do the reverse for a
 * message about to be sent (CRLF line ends assumed).
 *
 * Per RFC 5321 4.5.2, smtp_unstuff() removes the leading dot of any line
 * that starts with a dot and has more on it (".." is the usual case); a
 * line that is "." alone is left as is.  Lines are split at LF.  out of
 * smtp_stuff() must hold smtp_stuff_len() bytes;
 * smtp_unstuff(smtp_stuff(x)) == x for every x.
 */
size_t	 smtp_unstuff(char *buf, size_t len);
size_t	 smtp_stuff_len(const char *buf, size_t len);
size_t	 smtp_stuff(const char *in, size_t len, char *out);

/* ---- helpers ------------------------------------------------------------------- */

/* Reply classes. */
#define SMTP_IS_2XX(c)	((c) >= 200 && (c) < 300)
#define SMTP_IS_3XX(c)	((c) >= 300 && (c) < 400)
#define SMTP_IS_4XX(c)	((c) >= 400 && (c) < 500)
#define SMTP_IS_5XX(c)	((c) >= 500 && (c) < 600)

/* Domain part of an address ("user@Example.COM" -> "Example.COM"), after
 * the last '@'; NULL (and *dlen 0) when there is no '@' or nothing after. */
const char *smtp_addr_domain(const char *addr, size_t len, size_t *dlen);

#endif
