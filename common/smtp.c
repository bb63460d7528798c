/*
 * smtp.c -- SMTP parsing as pure functions over bytes (RFC 5321, 2920,
 * 3463, 5322 header/body split).
 *
 * Called by warp-proxyd for every command, reply and DATA byte it relays,
 * and by the unit tests and fuzz targets.  Everything here works on
 * counted byte strings that come straight from the network: nothing is
 * assumed NUL-terminated, nothing allocates, nothing does I/O or logs.
 * Pointers handed back always point into the caller's buffers.
 *
 * The tolerance policy (what is accepted and flagged, what is refused) is
 * written down in docs/smtp-parsing.md.
 */
#include <limits.h>
#include <string.h>

#include "smtp.h"

/* ---- small byte helpers -------------------------------------------------- */

static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Does the counted string s equal the C string word, ignoring case? */
static int
caseeq(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (word[i] == '\0' || lower((unsigned char)s[i]) !=
		    lower((unsigned char)word[i]))
			return 0;
	}
	return word[n] == '\0';
}

/* Does s (n bytes) start with the C string prefix, ignoring case? */
static int
caseprefix(const char *s, size_t n, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i] != '\0'; i++) {
		if (i >= n || lower((unsigned char)s[i]) !=
		    lower((unsigned char)prefix[i]))
			return 0;
	}
	return 1;
}

static size_t
skip_wsp(const char *s, size_t i, size_t n)
{
	while (i < n && is_wsp((unsigned char)s[i]))
		i++;
	return i;
}

/* Length of s without trailing space, tab and CR. */
static size_t
rtrim(const char *s, size_t n)
{
	while (n > 0 && (is_wsp((unsigned char)s[n - 1]) || s[n - 1] == '\r'))
		n--;
	return n;
}

/* ---- line splitting ------------------------------------------------------ */

size_t
smtp_line_end(const char *buf, size_t len, size_t *eol_len)
{
	const char	*lf;
	size_t		 pos;

	*eol_len = 0;
	if (len == 0 || (lf = memchr(buf, '\n', len)) == NULL)
		return 0;
	pos = (size_t)(lf - buf);
	*eol_len = (pos > 0 && buf[pos - 1] == '\r') ? 2 : 1;
	return pos + 1;
}

/* ---- commands ------------------------------------------------------------ */

static const char *const verb_names[SMTP_VERB_COUNT] = {
	[SMTP_VERB_UNKNOWN] = "UNKNOWN",
	[SMTP_VERB_HELO] = "HELO",
	[SMTP_VERB_EHLO] = "EHLO",
	[SMTP_VERB_MAIL] = "MAIL",
	[SMTP_VERB_RCPT] = "RCPT",
	[SMTP_VERB_DATA] = "DATA",
	[SMTP_VERB_BDAT] = "BDAT",
	[SMTP_VERB_RSET] = "RSET",
	[SMTP_VERB_NOOP] = "NOOP",
	[SMTP_VERB_QUIT] = "QUIT",
	[SMTP_VERB_VRFY] = "VRFY",
	[SMTP_VERB_EXPN] = "EXPN",
	[SMTP_VERB_HELP] = "HELP",
	[SMTP_VERB_STARTTLS] = "STARTTLS",
	[SMTP_VERB_AUTH] = "AUTH",
	[SMTP_VERB_ETRN] = "ETRN",
	[SMTP_VERB_XCLIENT] = "XCLIENT",
	[SMTP_VERB_XFORWARD] = "XFORWARD",
};

const char *
smtp_verb_name(enum smtp_verb verb)
{
	if ((unsigned)verb >= SMTP_VERB_COUNT)
		return verb_names[SMTP_VERB_UNKNOWN];
	return verb_names[verb];
}

static enum smtp_verb
verb_lookup(const char *s, size_t n)
{
	int v;

	for (v = SMTP_VERB_UNKNOWN + 1; v < SMTP_VERB_COUNT; v++)
		if (caseeq(s, n, verb_names[v]))
			return (enum smtp_verb)v;
	return SMTP_VERB_UNKNOWN;
}

static unsigned
line_flags(const char *line, size_t len)
{
	unsigned	flags = 0;
	size_t		i;

	if (memchr(line, '\0', len) != NULL)
		flags |= SMTP_CMD_NUL;
	if (len + 2 > SMTP_LINE_MAX)
		flags |= SMTP_CMD_TOO_LONG;
	for (i = 0; i < len; i++) {
		if ((unsigned char)line[i] >= 0x80) {
			flags |= SMTP_CMD_8BIT;
			break;
		}
	}
	return flags;
}

int
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	const char	*kw;
	size_t		 i, start, end, kwlen;

	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = SMTP_VERB_UNKNOWN;
	cmd->arg = line;
	cmd->verb_str = line;
	if (len == 0)
		return -1;
	cmd->flags = line_flags(line, len);

	end = rtrim(line, len);
	start = skip_wsp(line, 0, end);
	if (start == end)
		return -1;			/* empty or blank line */
	if (start > 0)
		cmd->flags |= SMTP_CMD_BAD_SPACING;

	for (i = start; i < end && !is_wsp((unsigned char)line[i]); i++)
		;
	cmd->verb_str = line + start;
	cmd->verb_len = i - start;
	cmd->verb = verb_lookup(cmd->verb_str, cmd->verb_len);

	/* Exactly one space separates verb and argument. */
	if (i < end) {
		if (line[i] != ' ' || (i + 1 < end && is_wsp((unsigned char)line[i + 1])))
			cmd->flags |= SMTP_CMD_BAD_SPACING;
		i = skip_wsp(line, i, end);
	}

	if (cmd->verb == SMTP_VERB_MAIL || cmd->verb == SMTP_VERB_RCPT) {
		kw = cmd->verb == SMTP_VERB_MAIL ? "FROM" : "TO";
		kwlen = strlen(kw);
		if (!caseprefix(line + i, end - i, kw))
			return -1;
		i += kwlen;
		if (i < end && is_wsp((unsigned char)line[i])) {
			cmd->flags |= SMTP_CMD_BAD_SPACING;	/* "FROM :" */
			i = skip_wsp(line, i, end);
		}
		if (i >= end || line[i] != ':')
			return -1;
		i++;
		if (i < end && is_wsp((unsigned char)line[i])) {
			cmd->flags |= SMTP_CMD_BAD_SPACING;	/* "FROM: <" */
			i = skip_wsp(line, i, end);
		}
		if (i < end && line[i] != '<')
			cmd->flags |= SMTP_CMD_NO_BRACKETS;
	}

	cmd->arg = line + i;
	cmd->arg_len = end - i;
	return 0;
}

/* ---- MAIL FROM / RCPT TO paths ------------------------------------------- */

/*
 * Index just past the end of an address that starts at s[i]: for a
 * bracketed path the index of the closing '>', otherwise the first white
 * space.  '>' and white space inside a quoted string ("a b>c"@d) do not
 * count; a backslash quotes the next byte inside quotes.
 */
static size_t
addr_end(const char *s, size_t i, size_t n, int bracketed)
{
	int quoted = 0;

	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (quoted) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '"')
				quoted = 0;
			continue;
		}
		if (c == '"')
			quoted = 1;
		else if (bracketed ? c == '>' : is_wsp(c))
			break;
	}
	return i;
}

int
smtp_path_parse(const char *arg, size_t len, struct smtp_path *path)
{
	const char		*colon;
	struct smtp_param	*p;
	size_t			 i, end, a, alen, k;

	memset(path, 0, sizeof(*path));
	path->addr = arg;
	path->params = arg;

	end = rtrim(arg, len);
	i = skip_wsp(arg, 0, end);
	if (i > 0)
		path->flags |= SMTP_CMD_BAD_SPACING;
	if (i >= end)
		return -1;

	if (arg[i] == '<') {
		a = i + 1;
		i = addr_end(arg, a, end, 1);
		if (i >= end)
			return -1;		/* no closing '>' */
		alen = i - a;
		i++;				/* past '>' */
		if (i < end && !is_wsp((unsigned char)arg[i]))
			path->flags |= SMTP_CMD_BAD_SPACING;	/* "<a>SIZE=1" */
	} else {
		path->flags |= SMTP_CMD_NO_BRACKETS;
		a = i;
		i = addr_end(arg, a, end, 0);
		alen = i - a;
		if (alen > 0 && arg[a + alen - 1] == '>')
			alen--;			/* "a@b>": half a bracket */
	}

	/* Source route "@a,@b:user@c": keep what follows the colon. */
	if (alen > 0 && arg[a] == '@') {
		colon = memchr(arg + a, ':', alen);
		if (colon == NULL)
			return -1;
		alen -= (size_t)(colon + 1 - (arg + a));
		a = (size_t)(colon + 1 - arg);
	}
	path->addr = arg + a;
	path->addr_len = alen;

	i = skip_wsp(arg, i, end);
	path->params = arg + i;
	path->params_len = end - i;

	while (i < end) {
		if (path->nparams == SMTP_PARAMS_MAX)
			return -1;
		p = &path->param[path->nparams++];
		p->key = arg + i;
		for (k = i; k < end && !is_wsp((unsigned char)arg[k]) &&
		    arg[k] != '='; k++)
			;
		p->key_len = k - i;
		if (p->key_len == 0)
			return -1;		/* "=value" */
		if (k < end && arg[k] == '=') {
			p->value = arg + k + 1;
			for (k++; k < end && !is_wsp((unsigned char)arg[k]); k++)
				;
			p->value_len = (size_t)(arg + k - p->value);
		}
		i = skip_wsp(arg, k, end);
	}
	return 0;
}

const struct smtp_param *
smtp_path_param(const struct smtp_path *path, const char *key)
{
	size_t i;

	for (i = 0; i < path->nparams; i++)
		if (caseeq(path->param[i].key, path->param[i].key_len, key))
			return &path->param[i];
	return NULL;
}

/* ---- replies ------------------------------------------------------------- */

int
smtp_reply_line_parse(const char *line, size_t len, struct smtp_reply_line *rl)
{
	memset(rl, 0, sizeof(*rl));
	rl->text = line;
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    !is_digit((unsigned char)line[1]) || !is_digit((unsigned char)line[2]))
		return -1;
	rl->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len == 3) {
		rl->text = line + 3;
		rl->last = 1;
		return 0;
	}
	if (line[3] == ' ')
		rl->last = 1;
	else if (line[3] != '-')
		return -1;
	rl->text = line + 4;
	rl->text_len = len - 4;
	return 0;
}

size_t
smtp_enhanced_parse(const char *text, size_t len, char out[16])
{
	size_t	i = 0, part, digits;

	out[0] = '\0';
	if (len < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') ||
	    text[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < len && is_digit((unsigned char)text[i]) &&
		    digits < 4; i++)
			digits++;
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0) {
			if (i >= len || text[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && text[i] != ' ')
		return 0;
	memcpy(out, text, i);			/* at most 9 bytes */
	out[i] = '\0';
	return i < len ? i + 1 : i;
}

void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* Copy reply text for logs and events: bounded, NUL-terminated, with
 * control bytes (including NUL) replaced so the text stays one line. */
static void
copy_text(char *dst, size_t dstsz, const char *src, size_t len)
{
	size_t i;

	if (len > dstsz - 1)
		len = dstsz - 1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[len] = '\0';
}

enum smtp_reply_state
smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len)
{
	struct smtp_reply_line	rl;
	size_t			used;

	if (r->done || smtp_reply_line_parse(line, len, &rl) == -1)
		return SMTP_REPLY_ERROR;
	if (r->nlines == 0) {
		r->code = rl.code;
		used = smtp_enhanced_parse(rl.text, rl.text_len, r->enhanced);
		copy_text(r->text, sizeof(r->text), rl.text + used,
		    rl.text_len - used);
	} else if (rl.code != r->code)
		return SMTP_REPLY_ERROR;
	if (r->nlines == SMTP_REPLY_LINES_MAX)
		return SMTP_REPLY_ERROR;
	r->nlines++;
	if (!rl.last)
		return SMTP_REPLY_MORE;
	r->done = 1;
	return SMTP_REPLY_DONE;
}

/* ---- EHLO keyword list --------------------------------------------------- */

static const struct {
	const char	*name;
	unsigned	 bit;
} ext_names[] = {
	{ "STARTTLS",		 SMTP_EXT_STARTTLS },
	{ "PIPELINING",		 SMTP_EXT_PIPELINING },
	{ "SIZE",		 SMTP_EXT_SIZE },
	{ "8BITMIME",		 SMTP_EXT_8BITMIME },
	{ "CHUNKING",		 SMTP_EXT_CHUNKING },
	{ "SMTPUTF8",		 SMTP_EXT_SMTPUTF8 },
	{ "DSN",		 SMTP_EXT_DSN },
	{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
	{ "AUTH",		 SMTP_EXT_AUTH },
	{ "BINARYMIME",		 SMTP_EXT_BINARYMIME },
	{ "XCLIENT",		 SMTP_EXT_XCLIENT },
	{ "XFORWARD",		 SMTP_EXT_XFORWARD },
	{ "REQUIRETLS",		 SMTP_EXT_REQUIRETLS },
};

unsigned
smtp_ext_keyword(const char *text, size_t len)
{
	size_t i, n;

	/* The keyword ends at a space; "AUTH=LOGIN" is the pre-RFC form. */
	for (n = 0; n < len && !is_wsp((unsigned char)text[n]) &&
	    text[n] != '='; n++)
		;
	if (n == 0)
		return 0;
	for (i = 0; i < sizeof(ext_names) / sizeof(ext_names[0]); i++)
		if (caseeq(text, n, ext_names[i].name))
			return ext_names[i].bit;
	return SMTP_EXT_OTHER;
}

/* The line of in[] that starts at off: its length without the line end
 * in *clen, and the offset of the next line returned; 0 when the line has
 * no LF yet. */
static size_t
next_line(const char *in, size_t len, size_t off, size_t *clen)
{
	size_t eol, n;

	n = smtp_line_end(in + off, len - off, &eol);
	if (n == 0)
		return 0;
	*clen = n - eol;
	return off + n;
}

static int
emit(char *out, size_t outsz, size_t *o, const char *s, size_t n)
{
	if (n > outsz - *o)
		return -1;
	memcpy(out + *o, s, n);
	*o += n;
	return 0;
}

static int
emit_line(char *out, size_t outsz, size_t *o, const char code[3], int last,
    const char *text, size_t n)
{
	if (emit(out, outsz, o, code, 3) == -1 ||
	    emit(out, outsz, o, last ? " " : "-", 1) == -1 ||
	    emit(out, outsz, o, text, n) == -1 ||
	    emit(out, outsz, o, "\r\n", 2) == -1)
		return -1;
	return 0;
}

ssize_t
smtp_ehlo_rewrite(const char *in, size_t len, unsigned remove_mask,
    const char *const *add, size_t nadd, char *out, size_t outsz,
    unsigned *seen)
{
	struct smtp_reply_line	 rl;
	const char		*pend_text = NULL;
	size_t			 off, next, clen, pend_len = 0, o = 0, i;
	size_t			 nkept = 0;
	int			 nlines = 0, have_pend = 0, last = 0;
	unsigned		 kw, found = 0;

	if (seen != NULL)
		*seen = 0;
	if (outsz > (size_t)SSIZE_MAX)
		outsz = (size_t)SSIZE_MAX;
	for (i = 0; i < nadd; i++)
		if (add[i] == NULL || strpbrk(add[i], "\r\n") != NULL)
			return -1;

	/*
	 * One line is held back (pend) so its marker can be chosen once we
	 * know whether anything follows it.
	 */
	for (off = 0; off < len; off = next) {
		if (last)
			return -1;		/* bytes after the last line */
		if ((next = next_line(in, len, off, &clen)) == 0)
			return -1;		/* unterminated line */
		if (smtp_reply_line_parse(in + off, clen, &rl) == -1 ||
		    rl.code != 250 || ++nlines > SMTP_REPLY_LINES_MAX)
			return -1;
		last = rl.last;
		if (nlines > 1) {
			kw = smtp_ext_keyword(rl.text, rl.text_len);
			found |= kw;
			if (kw & remove_mask)
				continue;
		}
		if (have_pend && emit_line(out, outsz, &o, "250", 0,
		    pend_text, pend_len) == -1)
			return -1;
		pend_text = rl.text;
		pend_len = rl.text_len;
		have_pend = 1;
		nkept++;
	}
	if (!last)
		return -1;			/* empty, or no final line */
	if (nkept + nadd > SMTP_REPLY_LINES_MAX)
		return -1;			/* our own parser would refuse it */
	for (i = 0; i < nadd; i++) {
		if (emit_line(out, outsz, &o, "250", 0, pend_text,
		    pend_len) == -1)
			return -1;
		pend_text = add[i];
		pend_len = strlen(add[i]);
	}
	if (emit_line(out, outsz, &o, "250", 1, pend_text, pend_len) == -1)
		return -1;
	if (seen != NULL)
		*seen = found;
	return (ssize_t)o;
}

uint64_t
smtp_ehlo_size(const char *in, size_t len)
{
	struct smtp_reply_line	 rl;
	size_t			 off, next, clen, i;
	uint64_t		 v;
	int			 first = 1;

	for (off = 0; off < len; off = next, first = 0) {
		if ((next = next_line(in, len, off, &clen)) == 0)
			next = len, clen = len - off;
		if (first || smtp_reply_line_parse(in + off, clen, &rl) == -1 ||
		    smtp_ext_keyword(rl.text, rl.text_len) != SMTP_EXT_SIZE)
			continue;
		i = skip_wsp(rl.text, 4, rl.text_len);
		for (v = 0; i < rl.text_len && is_digit((unsigned char)rl.text[i]);
		    i++) {
			if (v > (UINT64_MAX - 9) / 10)
				return 0;	/* absurd: treat as no limit */
			v = v * 10 + (uint64_t)(rl.text[i] - '0');
		}
		return v;
	}
	return 0;
}

/* ---- DATA ---------------------------------------------------------------- */

/*
 * Scanner states.  Only the first bytes of a line and CRs need per-byte
 * attention; the rest of a line is skipped with memchr().  D_DOT and
 * D_DOTCR only follow D_BOL: after a bare LF a line is never the end.
 */
enum {
	D_BOL = 0,	/* at the start of DATA or after a real CRLF */
	D_LFBOL,	/* at a line start after a (normalised) bare LF */
	D_DOT,		/* the line so far is "." (from D_BOL) */
	D_DOTCR,	/* the line so far is ".\r" (from D_BOL) */
	D_TEXT,		/* inside a line, last byte not CR */
	D_CR,		/* inside a line, last byte CR */
	D_DONE,		/* the terminator has been consumed */
};

/* Lines are only measured up to here: enough to flag them as long. */
#define DATA_LINE_CAP	((size_t)1 << 30)

void
smtp_data_init(struct smtp_data *d)
{
	memset(d, 0, sizeof(*d));
	d->state = D_BOL;
	d->in_headers = 1;
}

static void
data_line_grow(struct smtp_data *d, size_t n)
{
	d->line_len = n > DATA_LINE_CAP - d->line_len ? DATA_LINE_CAP :
	    d->line_len + n;
}

/* Flag the current line if it is already longer than SMTP_LINE_MAX
 * including the CRLF it will end with. */
static void
data_check_long(struct smtp_data *d)
{
	size_t content = d->line_len;

	if (d->state == D_CR || d->state == D_DOTCR)
		content--;		/* a pending CR may be the CRLF's */
	if (content + 2 > SMTP_LINE_MAX)
		d->flags |= SMTP_DATA_F_LONG_LINE;
}

/* Stop before the byte `at`: the caller relays s first.  The next call
 * takes that byte as fixed. */
static enum smtp_data_result
data_insert(struct smtp_data *d, const char *s, size_t n, char at)
{
	d->insert = s;
	d->insert_len = n;
	d->added += n;
	d->resume = (unsigned char)at;
	return SMTP_DATA_INSERT;
}

enum smtp_data_result
smtp_data_scan(struct smtp_data *d, const char *buf, size_t len, size_t *used)
{
	enum smtp_data_result	 res = SMTP_DATA_MORE;
	const char		*lf;
	size_t			 i = 0, end, seg;
	int			 crlf, fixed, next;

	if (d->state == D_DONE) {
		*used = 0;
		return SMTP_DATA_END;
	}
	/* buf[0] is the byte the last INSERT was for: do not stop again. */
	fixed = d->resume != 0 && len > 0 &&
	    (unsigned char)buf[0] == d->resume;
	if (len > 0)
		d->resume = 0;

	for (; i < len; fixed = 0) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\n') {
			if (d->state == D_DOTCR) {
				/* "." CR LF after a real line start. */
				d->state = D_DONE;
				i++;
				res = SMTP_DATA_END;
				break;
			}
			crlf = d->state == D_CR;
			if (!crlf && !fixed) {
				/* Bare LF: a line end once a CR is in front.
				 * A "." line ended so is content: stuff it. */
				d->flags |= SMTP_DATA_F_BARE_LF;
				res = d->state == D_DOT ?
				    data_insert(d, ".\r", 2, '\n') :
				    data_insert(d, "\r", 1, '\n');
				break;
			}
			if (d->state == D_DOT)
				d->bytes += d->line_len;  /* not the end */
			data_check_long(d);
			if (d->in_headers && d->line_len == (size_t)crlf) {
				/* The empty line that ends the header section. */
				d->header_bytes = d->bytes - d->line_len;
				d->in_headers = 0;
			}
			d->bytes++;
			d->line_len = 0;
			d->state = crlf ? D_BOL : D_LFBOL;
			i++;
			continue;
		}

		if (d->state == D_TEXT) {
			/* The fast path: the rest of the line in one go. */
			lf = memchr(buf + i, '\n', len - i);
			end = lf != NULL ? (size_t)(lf - buf) : len;
			seg = end - i;
			if (!(d->flags & SMTP_DATA_F_BARE_CR) && seg > 1 &&
			    memchr(buf + i, '\r', seg - 1) != NULL)
				d->flags |= SMTP_DATA_F_BARE_CR;
			if (buf[end - 1] == '\r')
				d->state = D_CR;
			data_line_grow(d, seg);
			d->bytes += seg;
			i = end;
			continue;
		}

		if (d->state == D_LFBOL && c == '.') {
			/* Content the client did not stuff: stuff it, so
			 * the destination un-stuffs it back. */
			if (!fixed) {
				res = data_insert(d, ".", 1, '.');
				break;
			}
			data_line_grow(d, 2);	/* as relayed, with the dot */
			d->bytes++;
			d->state = D_TEXT;
			i++;
			continue;
		}

		/* One byte at a line start, or after a CR. */
		if (d->state == D_CR || d->state == D_DOTCR)
			d->flags |= SMTP_DATA_F_BARE_CR;   /* CR not before LF */
		if (c == '\r')
			next = d->state == D_DOT ? D_DOTCR : D_CR;
		else if (c == '.' && d->state == D_BOL)
			next = D_DOT;
		else
			next = D_TEXT;
		if (next != D_DOT && next != D_DOTCR) {
			/* A "." or ".\r" held back as a possible end is
			 * content after all. */
			if (d->state == D_DOT || d->state == D_DOTCR)
				d->bytes += d->line_len;
			d->bytes++;
		}
		d->state = next;
		data_line_grow(d, 1);
		i++;
	}

	if (res == SMTP_DATA_MORE)
		data_check_long(d);
	if (!(d->flags & SMTP_DATA_F_NUL) && i > 0 &&
	    memchr(buf, '\0', i) != NULL)
		d->flags |= SMTP_DATA_F_NUL;
	*used = i;
	return res;
}

/* ---- dot-stuffing -------------------------------------------------------- */

size_t
smtp_unstuff(char *buf, size_t len)
{
	const char	*lf;
	size_t		 r = 0, w = 0, n;

	while (r < len) {
		/* r is at a line start.  RFC 5321 4.5.2: a leading dot is
		 * removed when other characters follow it on the line. */
		if (buf[r] == '.' && r + 1 < len && buf[r + 1] != '\r' &&
		    buf[r + 1] != '\n')
			r++;
		lf = memchr(buf + r, '\n', len - r);
		n = lf != NULL ? (size_t)(lf - (buf + r)) + 1 : len - r;
		if (w != r)
			memmove(buf + w, buf + r, n);
		w += n;
		r += n;
	}
	return w;
}

size_t
smtp_stuff_len(const char *buf, size_t len)
{
	const char	*lf;
	size_t		 r = 0, extra = 0;

	while (r < len) {
		if (buf[r] == '.')
			extra++;
		lf = memchr(buf + r, '\n', len - r);
		r = lf != NULL ? (size_t)(lf - buf) + 1 : len;
	}
	return len + extra;
}

size_t
smtp_stuff(const char *in, size_t len, char *out)
{
	const char	*lf;
	size_t		 r = 0, w = 0, n;

	while (r < len) {
		if (in[r] == '.')
			out[w++] = '.';
		lf = memchr(in + r, '\n', len - r);
		n = lf != NULL ? (size_t)(lf - (in + r)) + 1 : len - r;
		memcpy(out + w, in + r, n);
		w += n;
		r += n;
	}
	return w;
}

/* ---- helpers ------------------------------------------------------------- */

const char *
smtp_addr_domain(const char *addr, size_t len, size_t *dlen)
{
	size_t at;

	*dlen = 0;
	/* The last '@': a quoted local part may hold one ("a@b"@c). */
	for (at = len; at > 0 && addr[at - 1] != '@'; at--)
		;
	if (at == 0 || at == len)
		return NULL;
	*dlen = len - at;
	return addr + at;
}
