/*
 * fuzz_smtp_cmd.c -- libFuzzer target for command lines and MAIL/RCPT
 * paths (common/smtp.c).
 *
 * The input is cut into lines with smtp_line_end(), as warp-proxyd cuts a
 * client's pipelined commands; each line goes through smtp_cmd_parse()
 * and, for MAIL/RCPT, smtp_path_parse(), smtp_path_param() and
 * smtp_addr_domain().  Every pointer handed back must lie inside the
 * line, and every flag must match what the bytes say.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

static void
check(int cond)
{
	if (!cond)
		abort();
}

static int
inside(const char *p, size_t n, const char *base, size_t len)
{
	return p >= base && p <= base + len && n <= (size_t)(base + len - p);
}

static int
ws(char c)
{
	return c == ' ' || c == '\t';
}

static void
one_path(const char *arg, size_t len)
{
	const struct smtp_param	*sp;
	struct smtp_path	 p;
	const char		*dom;
	char			 key[64];
	size_t			 i, dlen;

	if (smtp_path_parse(arg, len, &p) == -1)
		return;
	check(inside(p.addr, p.addr_len, arg, len));
	check(inside(p.params, p.params_len, arg, len));
	check(p.nparams <= SMTP_PARAMS_MAX);
	check((p.flags & ~(SMTP_CMD_NO_BRACKETS | SMTP_CMD_BAD_SPACING)) == 0);
	for (i = 0; i < p.nparams; i++) {
		check(p.param[i].key_len > 0);
		check(inside(p.param[i].key, p.param[i].key_len, arg, len));
		check(memchr(p.param[i].key, '=', p.param[i].key_len) == NULL);
		if (p.param[i].value != NULL) {
			check(inside(p.param[i].value, p.param[i].value_len,
			    arg, len));
			check(p.param[i].value[-1] == '=');
		} else
			check(p.param[i].value_len == 0);
		/* Looking a key up finds a parameter of that name. */
		if (p.param[i].key_len < sizeof(key) &&
		    memchr(p.param[i].key, '\0', p.param[i].key_len) == NULL) {
			memcpy(key, p.param[i].key, p.param[i].key_len);
			key[p.param[i].key_len] = '\0';
			sp = smtp_path_param(&p, key);
			check(sp != NULL && sp <= &p.param[i] &&
			    sp->key_len == p.param[i].key_len);
		}
	}
	dom = smtp_addr_domain(p.addr, p.addr_len, &dlen);
	if (dom != NULL) {
		check(dlen > 0 && inside(dom, dlen, p.addr, p.addr_len));
		check(dom[-1] == '@' && memchr(dom, '@', dlen) == NULL);
	} else
		check(dlen == 0);
}

/*
 * Written the RFC 5321 way ("MAIL FROM:" + arg, or verb SP arg), the
 * command parses back to the same verb and argument, with no spacing
 * complaint.
 */
static void
canonical(const struct smtp_cmd *cmd)
{
	struct smtp_cmd	 again;
	const char	*name = smtp_verb_name(cmd->verb);
	char		*buf;
	size_t		 n = 0;

	buf = malloc(strlen(name) + 6 + cmd->arg_len + 1);
	check(buf != NULL);
	memcpy(buf, name, strlen(name));
	n = strlen(name);
	if (cmd->verb == SMTP_VERB_MAIL) {
		memcpy(buf + n, " FROM:", 6);
		n += 6;
	} else if (cmd->verb == SMTP_VERB_RCPT) {
		memcpy(buf + n, " TO:", 4);
		n += 4;
	} else if (cmd->arg_len > 0)
		buf[n++] = ' ';
	memcpy(buf + n, cmd->arg, cmd->arg_len);
	n += cmd->arg_len;
	check(smtp_cmd_parse(buf, n, &again) == 0);
	check(again.verb == cmd->verb);
	check(again.arg_len == cmd->arg_len &&
	    memcmp(again.arg, cmd->arg, cmd->arg_len) == 0);
	check((again.flags & SMTP_CMD_BAD_SPACING) == 0);
	check((again.flags & SMTP_CMD_NO_BRACKETS) ==
	    (cmd->flags & SMTP_CMD_NO_BRACKETS));
	free(buf);
}

static void
one_line(const char *line, size_t len)
{
	struct smtp_cmd	cmd;
	unsigned	want = 0;
	size_t		i;
	int		rc;

	rc = smtp_cmd_parse(line, len, &cmd);
	check(rc == 0 || rc == -1);
	check((unsigned)cmd.verb < SMTP_VERB_COUNT);
	check(smtp_verb_name(cmd.verb) != NULL);
	check(inside(cmd.verb_str, cmd.verb_len, line, len));
	check(inside(cmd.arg, cmd.arg_len, line, len));

	if (len > 0 && memchr(line, '\0', len) != NULL)
		want |= SMTP_CMD_NUL;
	if (len + 2 > SMTP_LINE_MAX)
		want |= SMTP_CMD_TOO_LONG;
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] >= 0x80)
			want |= SMTP_CMD_8BIT;
	if (len > 0)
		check((cmd.flags & (SMTP_CMD_NUL | SMTP_CMD_TOO_LONG |
		    SMTP_CMD_8BIT)) == want);
	check((cmd.flags & SMTP_CMD_BARE_LF) == 0);	/* the caller's */

	if (rc == -1) {
		check(cmd.verb == SMTP_VERB_UNKNOWN ||
		    cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT);
		return;
	}
	/* The verb is a whole word; the argument has no edge white space. */
	check(cmd.verb_len > 0 && !ws(cmd.verb_str[0]));
	check(memchr(cmd.verb_str, ' ', cmd.verb_len) == NULL);
	check(memchr(cmd.verb_str, '\t', cmd.verb_len) == NULL);
	if (cmd.arg_len > 0) {
		check(!ws(cmd.arg[0]) && !ws(cmd.arg[cmd.arg_len - 1]));
		check(cmd.arg[cmd.arg_len - 1] != '\r');
	}
	if (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT) {
		/* The argument starts after "FROM:" / "TO:". */
		check(cmd.arg > cmd.verb_str + cmd.verb_len);
		check(memchr(cmd.verb_str + cmd.verb_len, ':', (size_t)(cmd.arg -
		    (cmd.verb_str + cmd.verb_len))) != NULL);
		one_path(cmd.arg, cmd.arg_len);
	} else if (cmd.verb != SMTP_VERB_UNKNOWN)
		check(strlen(smtp_verb_name(cmd.verb)) == cmd.verb_len);
	if (cmd.verb != SMTP_VERB_UNKNOWN)
		canonical(&cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*in = (const char *)data;
	size_t		 off = 0, n, eol;

	while (off < size) {
		n = smtp_line_end(in + off, size - off, &eol);
		if (n == 0) {
			one_line(in + off, size - off);	/* unterminated */
			break;
		}
		check(eol == 1 || eol == 2);
		check(in[off + n - 1] == '\n');
		one_line(in + off, n - eol);
		off += n;
	}
	/* The whole input as one argument too (long, with CR/LF inside). */
	one_path(in, size);
	return 0;
}
