/*
 * test_smtp.c -- table-driven tests of the SMTP parsers in common/smtp.c:
 * command lines, MAIL/RCPT paths and parameters, reply lines and
 * multi-line replies, enhanced status codes, EHLO rewriting, the DATA
 * end-of-data scanner (whole, byte by byte, every 2-way split), and
 * dot-stuffing.  RFC-violating and hostile input is part of every table.
 */
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"
#include "smtp.h"

/* A counted literal: keeps embedded NUL bytes. */
#define B(s)	{ (s), sizeof(s) - 1 }
struct bytes {
	const char	*p;
	size_t		 n;
};

/* ---- line splitting ------------------------------------------------------ */

static void
test_line_end(void **state)
{
	static const struct {
		struct bytes	in;
		size_t		ret, eol;
	} t[] = {
		{ B(""),		0, 0 },
		{ B("QUIT"),		0, 0 },
		{ B("QUIT\r"),		0, 0 },
		{ B("QUIT\r\n"),	6, 2 },
		{ B("QUIT\n"),		5, 1 },
		{ B("\n"),		1, 1 },
		{ B("\r\n"),		2, 2 },
		{ B("A\r\nB\r\n"),	3, 2 },
		{ B("A\nB\r\n"),	2, 1 },
		{ B("A\0B\r\n"),	5, 2 },
		{ B("A\r\r\n"),		4, 2 },
	};
	size_t i, eol;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(smtp_line_end(t[i].in.p, t[i].in.n, &eol),
		    t[i].ret);
		assert_int_equal(eol, t[i].eol);
	}
}

/* ---- commands ------------------------------------------------------------ */

static const struct cmd_case {
	struct bytes	 in;
	int		 ret;
	enum smtp_verb	 verb;
	const char	*arg;		/* NULL: not checked */
	unsigned	 flags;
} cmd_cases[] = {
	/* every verb, canonical */
	{ B("HELO client.example"), 0, SMTP_VERB_HELO, "client.example", 0 },
	{ B("EHLO client.example"), 0, SMTP_VERB_EHLO, "client.example", 0 },
	{ B("MAIL FROM:<a@b.example>"), 0, SMTP_VERB_MAIL, "<a@b.example>", 0 },
	{ B("RCPT TO:<c@d.example>"), 0, SMTP_VERB_RCPT, "<c@d.example>", 0 },
	{ B("DATA"), 0, SMTP_VERB_DATA, "", 0 },
	{ B("BDAT 100 LAST"), 0, SMTP_VERB_BDAT, "100 LAST", 0 },
	{ B("RSET"), 0, SMTP_VERB_RSET, "", 0 },
	{ B("NOOP"), 0, SMTP_VERB_NOOP, "", 0 },
	{ B("NOOP hello"), 0, SMTP_VERB_NOOP, "hello", 0 },
	{ B("QUIT"), 0, SMTP_VERB_QUIT, "", 0 },
	{ B("VRFY postmaster"), 0, SMTP_VERB_VRFY, "postmaster", 0 },
	{ B("EXPN list"), 0, SMTP_VERB_EXPN, "list", 0 },
	{ B("HELP"), 0, SMTP_VERB_HELP, "", 0 },
	{ B("STARTTLS"), 0, SMTP_VERB_STARTTLS, "", 0 },
	{ B("AUTH PLAIN AGFiAGM="), 0, SMTP_VERB_AUTH, "PLAIN AGFiAGM=", 0 },
	{ B("ETRN example.org"), 0, SMTP_VERB_ETRN, "example.org", 0 },
	{ B("XCLIENT ADDR=1.2.3.4"), 0, SMTP_VERB_XCLIENT, "ADDR=1.2.3.4", 0 },
	{ B("XFORWARD NAME=x"), 0, SMTP_VERB_XFORWARD, "NAME=x", 0 },
	/* case variants */
	{ B("ehlo x"), 0, SMTP_VERB_EHLO, "x", 0 },
	{ B("eHlO x"), 0, SMTP_VERB_EHLO, "x", 0 },
	{ B("quit"), 0, SMTP_VERB_QUIT, "", 0 },
	{ B("StartTLS"), 0, SMTP_VERB_STARTTLS, "", 0 },
	{ B("mail from:<a@b>"), 0, SMTP_VERB_MAIL, "<a@b>", 0 },
	{ B("Mail From:<a@b>"), 0, SMTP_VERB_MAIL, "<a@b>", 0 },
	{ B("rcpt to:<a@b>"), 0, SMTP_VERB_RCPT, "<a@b>", 0 },
	/* parameters stay in arg */
	{ B("MAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME"), 0, SMTP_VERB_MAIL,
	  "<a@b> SIZE=1000 BODY=8BITMIME", 0 },
	{ B("MAIL FROM:<>"), 0, SMTP_VERB_MAIL, "<>", 0 },
	/* bad spacing, tolerated and flagged */
	{ B("MAIL FROM: <a@b>"), 0, SMTP_VERB_MAIL, "<a@b>",
	  SMTP_CMD_BAD_SPACING },
	{ B("MAIL  FROM:<a@b>"), 0, SMTP_VERB_MAIL, "<a@b>",
	  SMTP_CMD_BAD_SPACING },
	{ B("MAIL FROM :<a@b>"), 0, SMTP_VERB_MAIL, "<a@b>",
	  SMTP_CMD_BAD_SPACING },
	{ B("MAIL\tFROM:<a@b>"), 0, SMTP_VERB_MAIL, "<a@b>",
	  SMTP_CMD_BAD_SPACING },
	{ B("RCPT TO:   <a@b>"), 0, SMTP_VERB_RCPT, "<a@b>",
	  SMTP_CMD_BAD_SPACING },
	{ B(" QUIT"), 0, SMTP_VERB_QUIT, "", SMTP_CMD_BAD_SPACING },
	{ B("EHLO  x"), 0, SMTP_VERB_EHLO, "x", SMTP_CMD_BAD_SPACING },
	/* trailing white space is dropped, not flagged */
	{ B("QUIT  "), 0, SMTP_VERB_QUIT, "", 0 },
	{ B("RCPT TO:<a@b>  \t"), 0, SMTP_VERB_RCPT, "<a@b>", 0 },
	{ B("DATA\r"), 0, SMTP_VERB_DATA, "", 0 },
	/* missing brackets */
	{ B("MAIL FROM:a@b"), 0, SMTP_VERB_MAIL, "a@b", SMTP_CMD_NO_BRACKETS },
	{ B("RCPT TO: a@b"), 0, SMTP_VERB_RCPT, "a@b",
	  SMTP_CMD_NO_BRACKETS | SMTP_CMD_BAD_SPACING },
	{ B("MAIL FROM:"), 0, SMTP_VERB_MAIL, "", 0 },
	/* MAIL/RCPT without FROM:/TO: */
	{ B("MAIL"), -1, SMTP_VERB_MAIL, NULL, 0 },
	{ B("MAIL TO:<a@b>"), -1, SMTP_VERB_MAIL, NULL, 0 },
	{ B("MAIL FROM <a@b>"), -1, SMTP_VERB_MAIL, NULL, SMTP_CMD_BAD_SPACING },
	{ B("RCPT FROM:<a@b>"), -1, SMTP_VERB_RCPT, NULL, 0 },
	{ B("RCPT TO"), -1, SMTP_VERB_RCPT, NULL, 0 },
	/* whole words only */
	{ B("MAILFROM:<a@b>"), 0, SMTP_VERB_UNKNOWN, "", 0 },
	{ B("DATAX"), 0, SMTP_VERB_UNKNOWN, "", 0 },
	{ B("QUI"), 0, SMTP_VERB_UNKNOWN, "", 0 },
	{ B("HELO2 x"), 0, SMTP_VERB_UNKNOWN, "x", 0 },
	{ B("STARTTLSX"), 0, SMTP_VERB_UNKNOWN, "", 0 },
	{ B("XYZZY plugh"), 0, SMTP_VERB_UNKNOWN, "plugh", 0 },
	{ B("GET / HTTP/1.0"), 0, SMTP_VERB_UNKNOWN, "/ HTTP/1.0", 0 },
	/* empty */
	{ B(""), -1, SMTP_VERB_UNKNOWN, NULL, 0 },
	{ B("   "), -1, SMTP_VERB_UNKNOWN, NULL, 0 },
	{ B("\r"), -1, SMTP_VERB_UNKNOWN, NULL, 0 },
	{ B("\t"), -1, SMTP_VERB_UNKNOWN, NULL, 0 },
	/* NUL bytes */
	{ B("QUIT\0"), 0, SMTP_VERB_UNKNOWN, NULL, SMTP_CMD_NUL },
	{ B("\0"), 0, SMTP_VERB_UNKNOWN, NULL, SMTP_CMD_NUL },
	{ B("HELO a\0b"), 0, SMTP_VERB_HELO, NULL, SMTP_CMD_NUL },
	{ B("MAIL FROM:<a\0@b>"), 0, SMTP_VERB_MAIL, NULL, SMTP_CMD_NUL },
	/* 8-bit */
	{ B("EHLO h\xc3\xa9llo"), 0, SMTP_VERB_EHLO, "h\xc3\xa9llo",
	  SMTP_CMD_8BIT },
	{ B("RCPT TO:<j\xc3\xb6rg@b>"), 0, SMTP_VERB_RCPT, NULL, SMTP_CMD_8BIT },
	{ B("\xff\xfe"), 0, SMTP_VERB_UNKNOWN, NULL, SMTP_CMD_8BIT },
};

static void
test_cmd_table(void **state)
{
	struct smtp_cmd	 cmd;
	size_t		 i;
	int		 rc;

	(void)state;
	for (i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *t = &cmd_cases[i];

		rc = smtp_cmd_parse(t->in.p, t->in.n, &cmd);
		if (rc != t->ret || cmd.verb != t->verb || cmd.flags != t->flags)
			print_error("case %zu: \"%s\": rc %d verb %d flags %#x\n",
			    i, t->in.p, rc, cmd.verb, cmd.flags);
		assert_int_equal(rc, t->ret);
		assert_int_equal(cmd.verb, t->verb);
		assert_int_equal(cmd.flags, t->flags);
		if (t->ret == 0 && t->arg != NULL)
			assert_mem_str(cmd.arg, cmd.arg_len, t->arg);
		/* Everything handed back lies inside the line. */
		assert_true(cmd.verb_str >= t->in.p &&
		    cmd.verb_str + cmd.verb_len <= t->in.p + t->in.n);
		assert_true(cmd.arg >= t->in.p &&
		    cmd.arg + cmd.arg_len <= t->in.p + t->in.n);
	}
}

static void
test_cmd_verb_str(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(smtp_cmd_parse("xyzzy foo", 9, &cmd), 0);
	assert_mem_str(cmd.verb_str, cmd.verb_len, "xyzzy");
	assert_int_equal(smtp_cmd_parse("  rset", 6, &cmd), 0);
	assert_mem_str(cmd.verb_str, cmd.verb_len, "rset");
	assert_int_equal(smtp_cmd_parse("MAIL TO:<a>", 11, &cmd), -1);
	assert_mem_str(cmd.verb_str, cmd.verb_len, "MAIL");
}

static void
test_cmd_long(void **state)
{
	struct smtp_cmd	 cmd;
	char		*line;
	size_t		 n;

	(void)state;
	/* 10,000 bytes: parsed, flagged. */
	n = 10000;
	line = malloc(n);
	assert_non_null(line);
	memcpy(line, "HELO ", 5);
	memset(line + 5, 'a', n - 5);
	assert_int_equal(smtp_cmd_parse(line, n, &cmd), 0);
	assert_int_equal(cmd.verb, SMTP_VERB_HELO);
	assert_int_equal(cmd.flags, SMTP_CMD_TOO_LONG);
	assert_int_equal(cmd.arg_len, n - 5);

	/* 998 bytes + CRLF = 1000 is the limit; 999 is over. */
	assert_int_equal(smtp_cmd_parse(line, SMTP_LINE_MAX - 2, &cmd), 0);
	assert_int_equal(cmd.flags, 0);
	assert_int_equal(smtp_cmd_parse(line, SMTP_LINE_MAX - 1, &cmd), 0);
	assert_int_equal(cmd.flags, SMTP_CMD_TOO_LONG);

	/* A long MAIL FROM with a NUL near the end. */
	memcpy(line, "MAIL FROM:<", 11);
	line[n - 2] = '\0';
	line[n - 1] = '>';
	assert_int_equal(smtp_cmd_parse(line, n, &cmd), 0);
	assert_int_equal(cmd.verb, SMTP_VERB_MAIL);
	assert_int_equal(cmd.flags, SMTP_CMD_TOO_LONG | SMTP_CMD_NUL);
	free(line);
}

/* PIPELINING: several commands in one read, cut with smtp_line_end(). */
static void
test_cmd_pipelined(void **state)
{
	static const char buf[] = "EHLO c.example\r\nMAIL FROM:<a@b>\r\n"
	    "RCPT TO:<c@d>\nrcpt to: <e@f>\r\nDATA\r\nQUI";
	static const struct {
		enum smtp_verb	 verb;
		size_t		 eol;
		const char	*arg;
		unsigned	 flags;
	} want[] = {
		{ SMTP_VERB_EHLO, 2, "c.example", 0 },
		{ SMTP_VERB_MAIL, 2, "<a@b>", 0 },
		{ SMTP_VERB_RCPT, 1, "<c@d>", 0 },
		{ SMTP_VERB_RCPT, 2, "<e@f>", SMTP_CMD_BAD_SPACING },
		{ SMTP_VERB_DATA, 2, "", 0 },
	};
	struct smtp_cmd	cmd;
	size_t		off = 0, n, eol, i = 0;

	(void)state;
	while ((n = smtp_line_end(buf + off, sizeof(buf) - 1 - off, &eol)) > 0) {
		assert_true(i < sizeof(want) / sizeof(want[0]));
		assert_int_equal(eol, want[i].eol);
		assert_int_equal(smtp_cmd_parse(buf + off, n - eol, &cmd), 0);
		assert_int_equal(cmd.verb, want[i].verb);
		assert_mem_str(cmd.arg, cmd.arg_len, want[i].arg);
		assert_int_equal(cmd.flags, want[i].flags);
		off += n;
		i++;
	}
	assert_int_equal(i, sizeof(want) / sizeof(want[0]));
	/* The incomplete "QUI" waits for more bytes. */
	assert_int_equal(sizeof(buf) - 1 - off, 3);
}

static void
test_verb_name(void **state)
{
	struct smtp_cmd	cmd;
	const char	*name;
	int		v;

	(void)state;
	for (v = SMTP_VERB_HELO; v < SMTP_VERB_COUNT; v++) {
		name = smtp_verb_name((enum smtp_verb)v);
		assert_non_null(name);
		/* The name parses back to the verb. */
		if (v == SMTP_VERB_MAIL)
			assert_int_equal(smtp_cmd_parse("MAIL FROM:<>", 12, &cmd), 0);
		else if (v == SMTP_VERB_RCPT)
			assert_int_equal(smtp_cmd_parse("RCPT TO:<>", 10, &cmd), 0);
		else
			assert_int_equal(smtp_cmd_parse(name, strlen(name), &cmd), 0);
		assert_int_equal(cmd.verb, v);
	}
	assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "UNKNOWN");
	assert_string_equal(smtp_verb_name(SMTP_VERB_COUNT), "UNKNOWN");
	assert_string_equal(smtp_verb_name((enum smtp_verb)-1), "UNKNOWN");
}

/* ---- paths and parameters ------------------------------------------------ */

static const struct path_case {
	struct bytes	 in;
	int		 ret;
	const char	*addr;
	unsigned	 flags;
	size_t		 nparams;
	const char	*params;	/* raw text */
} path_cases[] = {
	{ B("<a@b.example>"), 0, "a@b.example", 0, 0, "" },
	{ B("<>"), 0, "", 0, 0, "" },
	{ B("<> SIZE=0"), 0, "", 0, 1, "SIZE=0" },
	{ B("<a@b> SIZE=1000 BODY=8BITMIME"), 0, "a@b", 0, 2,
	  "SIZE=1000 BODY=8BITMIME" },
	{ B("<a@b> SMTPUTF8"), 0, "a@b", 0, 1, "SMTPUTF8" },
	{ B("<a@b>  SIZE=1   RET=HDRS  "), 0, "a@b", 0, 2, "SIZE=1   RET=HDRS" },
	{ B("<a@b>SIZE=1"), 0, "a@b", SMTP_CMD_BAD_SPACING, 1, "SIZE=1" },
	{ B(" <a@b>"), 0, "a@b", SMTP_CMD_BAD_SPACING, 0, "" },
	/* missing brackets: tolerated, flagged */
	{ B("a@b"), 0, "a@b", SMTP_CMD_NO_BRACKETS, 0, "" },
	{ B("a@b SIZE=5"), 0, "a@b", SMTP_CMD_NO_BRACKETS, 1, "SIZE=5" },
	{ B("a@b>"), 0, "a@b", SMTP_CMD_NO_BRACKETS, 0, "" },
	/* source routes are stripped */
	{ B("<@relay.example:a@b>"), 0, "a@b", 0, 0, "" },
	{ B("<@r1.example,@r2.example:a@b> SIZE=9"), 0, "a@b", 0, 1, "SIZE=9" },
	{ B("<@relay.example>"), -1, NULL, 0, 0, NULL },
	/* quoted local parts */
	{ B("<\"john doe\"@b>"), 0, "\"john doe\"@b", 0, 0, "" },
	{ B("<\"a>b\"@c> SIZE=1"), 0, "\"a>b\"@c", 0, 1, "SIZE=1" },
	{ B("<\"a\\\"> x\"@c>"), 0, "\"a\\\"> x\"@c", 0, 0, "" },
	{ B("\"a b\"@c SIZE=1"), 0, "\"a b\"@c", SMTP_CMD_NO_BRACKETS, 1,
	  "SIZE=1" },
	/* malformed */
	{ B(""), -1, NULL, 0, 0, NULL },
	{ B("   "), -1, NULL, 0, 0, NULL },
	{ B("<a@b"), -1, NULL, 0, 0, NULL },
	{ B("<\"a>b@c"), -1, NULL, 0, 0, NULL },
	{ B("<a@b> =x"), -1, NULL, 0, 0, NULL },
	/* up to SMTP_PARAMS_MAX parameters, not one more */
	{ B("<a@b> A B C D E F G H I J K L M N O P"), 0, "a@b", 0, 16, NULL },
	{ B("<a@b> A B C D E F G H I J K L M N O P Q"), -1, NULL, 0, 0, NULL },
};

static void
test_path_table(void **state)
{
	struct smtp_path	p;
	size_t			i;
	int			rc;

	(void)state;
	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *t = &path_cases[i];

		rc = smtp_path_parse(t->in.p, t->in.n, &p);
		if (rc != t->ret)
			print_error("case %zu: \"%s\": rc %d\n", i, t->in.p, rc);
		assert_int_equal(rc, t->ret);
		if (rc != 0)
			continue;
		assert_mem_str(p.addr, p.addr_len, t->addr);
		assert_int_equal(p.flags, t->flags);
		assert_int_equal(p.nparams, t->nparams);
		if (t->params != NULL)
			assert_mem_str(p.params, p.params_len, t->params);
	}
}

static void
test_path_params(void **state)
{
	const struct smtp_param	*sp;
	struct smtp_path	 p;
	const char		*arg = "<a@b> SIZE=1000 body=8BITMIME SMTPUTF8 "
				    "ENVID=x=y RET=";

	(void)state;
	assert_int_equal(smtp_path_parse(arg, strlen(arg), &p), 0);
	assert_int_equal(p.nparams, 5);
	sp = smtp_path_param(&p, "size");
	assert_non_null(sp);
	assert_mem_str(sp->key, sp->key_len, "SIZE");
	assert_mem_str(sp->value, sp->value_len, "1000");
	sp = smtp_path_param(&p, "BODY");
	assert_non_null(sp);
	assert_mem_str(sp->value, sp->value_len, "8BITMIME");
	sp = smtp_path_param(&p, "SMTPUTF8");
	assert_non_null(sp);
	assert_null(sp->value);
	assert_int_equal(sp->value_len, 0);
	sp = smtp_path_param(&p, "ENVID");
	assert_non_null(sp);
	assert_mem_str(sp->value, sp->value_len, "x=y");
	sp = smtp_path_param(&p, "RET");
	assert_non_null(sp);
	assert_non_null(sp->value);
	assert_int_equal(sp->value_len, 0);
	assert_null(smtp_path_param(&p, "SIZ"));
	/* 8-bit bytes compare equal to themselves (signed char pitfall). */
	assert_int_equal(smtp_path_parse("<a> \xea=1 X\xc3\xa9", 11, &p), 0);
	assert_non_null(smtp_path_param(&p, "\xea"));
	assert_non_null(smtp_path_param(&p, "x\xc3\xa9"));
	assert_null(smtp_path_param(&p, "\xca"));
	assert_int_equal(smtp_path_parse(arg, strlen(arg), &p), 0);
	assert_null(smtp_path_param(&p, "SIZE1"));
	assert_null(smtp_path_param(&p, "AUTH"));
}

/* The way proxyd uses the two together. */
static void
test_cmd_then_path(void **state)
{
	static const struct {
		const char	*line;
		const char	*addr;
		unsigned	 flags;	/* cmd | path */
	} t[] = {
		{ "MAIL FROM:<a@b> SIZE=10", "a@b", 0 },
		{ "mail from: <a@b> SIZE=10", "a@b", SMTP_CMD_BAD_SPACING },
		{ "MAIL FROM:a@b", "a@b", SMTP_CMD_NO_BRACKETS },
		{ "RCPT TO:<@x.example:c@d>", "c@d", 0 },
		{ "RCPT  TO:<\"a b\"@d> NOTIFY=NEVER", "\"a b\"@d",
		  SMTP_CMD_BAD_SPACING },
	};
	struct smtp_cmd		cmd;
	struct smtp_path	p;
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(smtp_cmd_parse(t[i].line, strlen(t[i].line),
		    &cmd), 0);
		assert_int_equal(smtp_path_parse(cmd.arg, cmd.arg_len, &p), 0);
		assert_mem_str(p.addr, p.addr_len, t[i].addr);
		assert_int_equal(cmd.flags | p.flags, t[i].flags);
	}
}

static void
test_addr_domain(void **state)
{
	static const struct {
		const char	*addr;
		const char	*domain;	/* NULL: none */
	} t[] = {
		{ "user@Example.COM", "Example.COM" },
		{ "\"a@b\"@c.example", "c.example" },
		{ "user@[192.0.2.1]", "[192.0.2.1]" },
		{ "postmaster", NULL },
		{ "user@", NULL },
		{ "", NULL },
		{ "@d", "d" },
	};
	const char	*d;
	size_t		 i, dlen;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		d = smtp_addr_domain(t[i].addr, strlen(t[i].addr), &dlen);
		if (t[i].domain == NULL) {
			assert_null(d);
			assert_int_equal(dlen, 0);
		} else
			assert_mem_str(d, dlen, t[i].domain);
	}
}

/* ---- replies ------------------------------------------------------------- */

static void
test_reply_line(void **state)
{
	static const struct {
		struct bytes	 in;
		int		 ret, code, last;
		const char	*text;
	} t[] = {
		{ B("250 OK"), 0, 250, 1, "OK" },
		{ B("250-PIPELINING"), 0, 250, 0, "PIPELINING" },
		{ B("250"), 0, 250, 1, "" },
		{ B("250 "), 0, 250, 1, "" },
		{ B("250-"), 0, 250, 0, "" },
		{ B("220 mx.example ESMTP"), 0, 220, 1, "mx.example ESMTP" },
		{ B("354 go ahead"), 0, 354, 1, "go ahead" },
		{ B("421 4.4.2 bye"), 0, 421, 1, "4.4.2 bye" },
		{ B("554 5.7.1 no"), 0, 554, 1, "5.7.1 no" },
		{ B("599 x"), 0, 599, 1, "x" },
		{ B("200 x"), 0, 200, 1, "x" },
		{ B("250 a\0b"), 0, 250, 1, NULL },
		{ B(""), -1, 0, 0, NULL },
		{ B("25"), -1, 0, 0, NULL },
		{ B("2500"), -1, 0, 0, NULL },
		{ B("250x"), -1, 0, 0, NULL },
		{ B("250\t"), -1, 0, 0, NULL },
		{ B("150 x"), -1, 0, 0, NULL },
		{ B("650 x"), -1, 0, 0, NULL },
		{ B("050 x"), -1, 0, 0, NULL },
		{ B("2a0 x"), -1, 0, 0, NULL },
		{ B("25a x"), -1, 0, 0, NULL },
		{ B(" 250 x"), -1, 0, 0, NULL },
		{ B("abc"), -1, 0, 0, NULL },
		{ B("\0\0\0"), -1, 0, 0, NULL },
	};
	struct smtp_reply_line	rl;
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(smtp_reply_line_parse(t[i].in.p, t[i].in.n,
		    &rl), t[i].ret);
		if (t[i].ret != 0)
			continue;
		assert_int_equal(rl.code, t[i].code);
		assert_int_equal(rl.last, t[i].last);
		if (t[i].text != NULL)
			assert_mem_str(rl.text, rl.text_len, t[i].text);
	}
}

/* A reply as its lines, each without CRLF; "" ends the list. */
static const struct reply_case {
	const char	*lines[6];
	/* result after each line: MORE until the last */
	int		 final;		/* DONE or ERROR */
	int		 at;		/* index of the line that gives final */
	int		 code;
	int		 nlines;
	const char	*enhanced;
	const char	*text;
} reply_cases[] = {
	{ { "250 OK", "" }, SMTP_REPLY_DONE, 0, 250, 1, "", "OK" },
	{ { "250", "" }, SMTP_REPLY_DONE, 0, 250, 1, "", "" },
	{ { "250 2.1.0 Ok", "" }, SMTP_REPLY_DONE, 0, 250, 1, "2.1.0", "Ok" },
	{ { "250-2.1.0 Ok", "250 2.1.0 more", "" }, SMTP_REPLY_DONE, 1, 250, 2,
	  "2.1.0", "Ok" },
	{ { "250-mx.example", "250-PIPELINING", "250-SIZE 100",
	    "250 STARTTLS", "" }, SMTP_REPLY_DONE, 3, 250, 4, "",
	  "mx.example" },
	{ { "550 5.7.1", "" }, SMTP_REPLY_DONE, 0, 550, 1, "5.7.1", "" },
	{ { "451 4.3.0 Try later", "" }, SMTP_REPLY_DONE, 0, 451, 1, "4.3.0",
	  "Try later" },
	{ { "550 5.1.1x no", "" }, SMTP_REPLY_DONE, 0, 550, 1, "",
	  "5.1.1x no" },
	{ { "220-", "220-", "220 ", "" }, SMTP_REPLY_DONE, 2, 220, 3, "", "" },
	/* control bytes in text are made harmless */
	{ { "250 a\tb\x01" "c", "" }, SMTP_REPLY_DONE, 0, 250, 1, "",
	  "a?b?c" },
	/* code mismatch */
	{ { "250-first", "251 second", "" }, SMTP_REPLY_ERROR, 1, 250, 1, "",
	  "first" },
	{ { "250-first", "550 second", "" }, SMTP_REPLY_ERROR, 1, 250, 1, "",
	  "first" },
	/* malformed lines */
	{ { "hello", "" }, SMTP_REPLY_ERROR, 0, 0, 0, "", "" },
	{ { "250-first", "garbage", "" }, SMTP_REPLY_ERROR, 1, 250, 1, "",
	  "first" },
	{ { "250-first", "", "" }, SMTP_REPLY_ERROR, 1, 250, 1, "", "first" },
	{ { "25", "" }, SMTP_REPLY_ERROR, 0, 0, 0, "", "" },
	{ { "250_x", "" }, SMTP_REPLY_ERROR, 0, 0, 0, "", "" },
};

static void
test_reply_feed(void **state)
{
	struct smtp_reply	r;
	size_t			i;
	int			j, rc;

	(void)state;
	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		const struct reply_case *t = &reply_cases[i];

		smtp_reply_init(&r);
		for (j = 0; j <= t->at; j++) {
			/* The empty string is an empty line here. */
			rc = smtp_reply_feed(&r, t->lines[j], strlen(t->lines[j]));
			if (j < t->at)
				assert_int_equal(rc, SMTP_REPLY_MORE);
			else {
				if (rc != t->final)
					print_error("case %zu line %d rc %d\n",
					    i, j, rc);
				assert_int_equal(rc, t->final);
			}
		}
		assert_int_equal(r.code, t->code);
		assert_int_equal(r.nlines, t->nlines);
		assert_string_equal(r.enhanced, t->enhanced);
		assert_string_equal(r.text, t->text);
		/* Nothing more once done or broken. */
		if (t->final == SMTP_REPLY_DONE)
			assert_int_equal(smtp_reply_feed(&r, "250 x", 5),
			    SMTP_REPLY_ERROR);
	}
}

static void
test_reply_limits(void **state)
{
	struct smtp_reply	 r;
	char			 line[4096];
	int			 i;

	(void)state;
	/* The first line's text is truncated, NUL-terminated. */
	memcpy(line, "250 ", 4);
	memset(line + 4, 'x', sizeof(line) - 4);
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_feed(&r, line, sizeof(line)),
	    SMTP_REPLY_DONE);
	assert_int_equal(strlen(r.text), sizeof(r.text) - 1);

	/* SMTP_REPLY_LINES_MAX lines are fine, one more is not. */
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_LINES_MAX - 1; i++)
		assert_int_equal(smtp_reply_feed(&r, "250-x", 5),
		    SMTP_REPLY_MORE);
	assert_int_equal(smtp_reply_feed(&r, "250 x", 5), SMTP_REPLY_DONE);
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
		assert_int_equal(smtp_reply_feed(&r, "250-x", 5),
		    SMTP_REPLY_MORE);
	assert_int_equal(smtp_reply_feed(&r, "250 x", 5), SMTP_REPLY_ERROR);
}

static void
test_enhanced(void **state)
{
	static const struct {
		struct bytes	 in;
		size_t		 ret;
		const char	*out;
	} t[] = {
		{ B("2.1.0 Ok"), 6, "2.1.0" },
		{ B("2.1.0"), 5, "2.1.0" },
		{ B("5.7.1 "), 6, "5.7.1" },
		{ B("4.4.2  x"), 6, "4.4.2" },
		{ B("5.123.456 x"), 10, "5.123.456" },
		{ B("5.999.999"), 9, "5.999.999" },
		{ B("3.1.0 x"), 0, "" },
		{ B("1.1.0"), 0, "" },
		{ B("2.1"), 0, "" },
		{ B("2.1."), 0, "" },
		{ B("2..0 x"), 0, "" },
		{ B("2.1.0x"), 0, "" },
		{ B("2.1.0-x"), 0, "" },
		{ B("2.1234.0 x"), 0, "" },
		{ B("2.1.1234 x"), 0, "" },
		{ B("2,1,0 x"), 0, "" },
		{ B("25.1.0"), 0, "" },
		{ B(".1.0 x"), 0, "" },
		{ B(""), 0, "" },
		{ B("2.1.0\0"), 0, "" },
		{ B("Ok"), 0, "" },
	};
	char	out[16];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(out, 'z', sizeof(out));
		assert_int_equal(smtp_enhanced_parse(t[i].in.p, t[i].in.n, out),
		    t[i].ret);
		assert_string_equal(out, t[i].out);
	}
}

/* ---- EHLO ---------------------------------------------------------------- */

#define GREET	"250-mx.example.com Hello client [192.0.2.1]\r\n"

static const char *const add_starttls[] = { "STARTTLS" };
static const char *const add_two[] = { "STARTTLS", "X-WARP" };

static const struct ehlo_case {
	const char		*name;
	const char		*in;
	unsigned		 remove;
	const char *const	*add;
	size_t			 nadd;
	const char		*out;		/* NULL: -1 expected */
	unsigned		 seen;
} ehlo_cases[] = {
	{ "starttls middle",
	  GREET "250-PIPELINING\r\n250-STARTTLS\r\n250 SIZE 1000\r\n",
	  SMTP_EXT_STARTTLS, NULL, 0,
	  GREET "250-PIPELINING\r\n250 SIZE 1000\r\n",
	  SMTP_EXT_PIPELINING | SMTP_EXT_STARTTLS | SMTP_EXT_SIZE },
	{ "starttls first",
	  GREET "250-STARTTLS\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
	  SMTP_EXT_STARTTLS, NULL, 0,
	  GREET "250-PIPELINING\r\n250 8BITMIME\r\n",
	  SMTP_EXT_PIPELINING | SMTP_EXT_STARTTLS | SMTP_EXT_8BITMIME },
	{ "starttls last",
	  GREET "250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n",
	  SMTP_EXT_STARTTLS, NULL, 0,
	  GREET "250-PIPELINING\r\n250 SIZE 1000\r\n",
	  SMTP_EXT_PIPELINING | SMTP_EXT_STARTTLS | SMTP_EXT_SIZE },
	{ "starttls lower case",
	  GREET "250-starttls\r\n250 DSN\r\n",
	  SMTP_EXT_STARTTLS, NULL, 0,
	  GREET "250 DSN\r\n", SMTP_EXT_STARTTLS | SMTP_EXT_DSN },
	{ "chunking and starttls",
	  GREET "250-CHUNKING\r\n250-STARTTLS\r\n250-BINARYMIME\r\n"
	  "250 ENHANCEDSTATUSCODES\r\n",
	  SMTP_EXT_STARTTLS | SMTP_EXT_CHUNKING | SMTP_EXT_BINARYMIME, NULL, 0,
	  GREET "250 ENHANCEDSTATUSCODES\r\n",
	  SMTP_EXT_CHUNKING | SMTP_EXT_STARTTLS | SMTP_EXT_BINARYMIME |
	  SMTP_EXT_ENHANCEDSTATUSCODES },
	{ "only extension removed",
	  "250-mx.example.com\r\n250 STARTTLS\r\n",
	  SMTP_EXT_STARTTLS, NULL, 0,
	  "250 mx.example.com\r\n", SMTP_EXT_STARTTLS },
	{ "all extensions removed",
	  "250-mx\r\n250-STARTTLS\r\n250 CHUNKING\r\n",
	  SMTP_EXT_STARTTLS | SMTP_EXT_CHUNKING, NULL, 0,
	  "250 mx\r\n", SMTP_EXT_STARTTLS | SMTP_EXT_CHUNKING },
	{ "greeting only",
	  "250 mx.example.com\r\n", SMTP_EXT_STARTTLS, NULL, 0,
	  "250 mx.example.com\r\n", 0 },
	{ "greeting never dropped",
	  "250-STARTTLS\r\n250 STARTTLS\r\n", SMTP_EXT_STARTTLS, NULL, 0,
	  "250 STARTTLS\r\n", SMTP_EXT_STARTTLS },
	{ "nothing to remove",
	  GREET "250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n250 XFOO\r\n",
	  SMTP_EXT_STARTTLS, NULL, 0,
	  GREET "250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n250 XFOO\r\n",
	  SMTP_EXT_AUTH | SMTP_EXT_OTHER },
	{ "add starttls",
	  GREET "250-STARTTLS\r\n250 PIPELINING\r\n",
	  SMTP_EXT_STARTTLS, add_starttls, 1,
	  GREET "250-PIPELINING\r\n250 STARTTLS\r\n",
	  SMTP_EXT_STARTTLS | SMTP_EXT_PIPELINING },
	{ "add to a greeting only",
	  "250 mx\r\n", 0, add_two, 2,
	  "250-mx\r\n250-STARTTLS\r\n250 X-WARP\r\n", 0 },
	{ "bare LF input",
	  "250-mx\n250-STARTTLS\n250-SIZE 10\n250 8BITMIME\n",
	  SMTP_EXT_STARTTLS, NULL, 0,
	  "250-mx\r\n250-SIZE 10\r\n250 8BITMIME\r\n",
	  SMTP_EXT_STARTTLS | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME },
	{ "mixed line ends, empty text",
	  "250-mx\r\n250-\n250 DSN\r\n", 0, NULL, 0,
	  "250-mx\r\n250-\r\n250 DSN\r\n", SMTP_EXT_DSN },
	{ "250 alone as last line",
	  "250-mx\r\n250-STARTTLS\r\n250\r\n", SMTP_EXT_STARTTLS, NULL, 0,
	  "250-mx\r\n250 \r\n", SMTP_EXT_STARTTLS },
	/* malformed */
	{ "empty", "", 0, NULL, 0, NULL, 0 },
	{ "no last line", "250-mx\r\n250-STARTTLS\r\n", 0, NULL, 0, NULL, 0 },
	{ "unterminated", "250-mx\r\n250 STARTTLS", 0, NULL, 0, NULL, 0 },
	{ "two last lines", "250 mx\r\n250 STARTTLS\r\n", 0, NULL, 0, NULL, 0 },
	{ "code mismatch", "250-mx\r\n251 STARTTLS\r\n", 0, NULL, 0, NULL, 0 },
	{ "not 250", "550 go away\r\n", 0, NULL, 0, NULL, 0 },
	{ "not 250 multi", "502-x\r\n502 no\r\n", 0, NULL, 0, NULL, 0 },
	{ "garbage", "hello there\r\n", 0, NULL, 0, NULL, 0 },
	{ "garbage line", "250-mx\r\nSTARTTLS\r\n250 X\r\n", 0, NULL, 0,
	  NULL, 0 },
	{ "empty line", "250-mx\r\n\r\n250 X\r\n", 0, NULL, 0, NULL, 0 },
};

static void
test_ehlo_rewrite(void **state)
{
	char		out[2048];
	unsigned	seen;
	ssize_t		n;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
		const struct ehlo_case *t = &ehlo_cases[i];

		seen = 0xdead;
		n = smtp_ehlo_rewrite(t->in, strlen(t->in), t->remove, t->add,
		    t->nadd, out, sizeof(out), &seen);
		if (t->out == NULL) {
			if (n != -1)
				print_error("%s: %zd\n", t->name, n);
			assert_int_equal(n, -1);
			continue;
		}
		if (n < 0 || (size_t)n != strlen(t->out) ||
		    memcmp(out, t->out, (size_t)n) != 0)
			print_error("%s: got %zd \"%.*s\"\n", t->name, n,
			    n < 0 ? 0 : (int)n, out);
		assert_mem_str(out, (size_t)n, t->out);
		assert_int_equal(seen, t->seen);
	}
}

/* Every output size below the needed one fails cleanly, never overruns. */
static void
test_ehlo_small_out(void **state)
{
	const char	*in = GREET "250-STARTTLS\r\n250-PIPELINING\r\n"
			    "250 SIZE 52428800\r\n";
	char		 ref[512], *out;
	ssize_t		 need, n;
	size_t		 sz;

	(void)state;
	need = smtp_ehlo_rewrite(in, strlen(in), SMTP_EXT_STARTTLS,
	    add_two, 2, ref, sizeof(ref), NULL);
	assert_true(need > 0);
	for (sz = 0; sz <= (size_t)need; sz++) {
		/* Exactly sz bytes on the heap so ASan catches overruns. */
		out = malloc(sz ? sz : 1);
		assert_non_null(out);
		n = smtp_ehlo_rewrite(in, strlen(in), SMTP_EXT_STARTTLS,
		    add_two, 2, out, sz, NULL);
		if (sz < (size_t)need)
			assert_int_equal(n, -1);
		else {
			assert_int_equal(n, need);
			assert_memory_equal(out, ref, (size_t)n);
		}
		free(out);
	}
}

static void
test_ehlo_bad_add(void **state)
{
	static const char *const bad[] = { "STARTTLS\r\n250 X" };
	static const char *const bad2[] = { NULL };
	char	out[256];

	(void)state;
	assert_int_equal(smtp_ehlo_rewrite("250 mx\r\n", 8, 0, bad, 1, out,
	    sizeof(out), NULL), -1);
	assert_int_equal(smtp_ehlo_rewrite("250 mx\r\n", 8, 0, bad2, 1, out,
	    sizeof(out), NULL), -1);
}

/* The output never has more lines than our own reply parser accepts. */
static void
test_ehlo_line_limit(void **state)
{
	struct smtp_reply	 r;
	char			 in[64 * 8], out[1024];
	size_t			 n = 0, i, off, eol, len;
	ssize_t			 w;
	int			 rc = SMTP_REPLY_MORE;

	(void)state;
	for (i = 0; i < SMTP_REPLY_LINES_MAX - 1; i++) {
		memcpy(in + n, i == SMTP_REPLY_LINES_MAX - 2 ? "250 X\r\n" :
		    "250-X\r\n", 7);
		n += 7;
	}
	/* 63 lines + 1 added = 64: fine, and it parses back. */
	w = smtp_ehlo_rewrite(in, n, 0, add_starttls, 1, out, sizeof(out),
	    NULL);
	assert_true(w > 0);
	smtp_reply_init(&r);
	for (off = 0; off < (size_t)w; off += len) {
		len = smtp_line_end(out + off, (size_t)w - off, &eol);
		assert_true(len > 0);
		rc = smtp_reply_feed(&r, out + off, len - eol);
		assert_int_not_equal(rc, SMTP_REPLY_ERROR);
	}
	assert_int_equal(rc, SMTP_REPLY_DONE);
	assert_int_equal(r.nlines, SMTP_REPLY_LINES_MAX);
	/* Two added lines would make 65. */
	assert_int_equal(smtp_ehlo_rewrite(in, n, 0, add_two, 2, out,
	    sizeof(out), NULL), -1);
	/* Unless a removed line makes room. */
	memmove(in + 21, in + 14, n - 14);
	memcpy(in + 7, "250-STARTTLS\r\n", 14);
	n += 7;
	assert_true(smtp_ehlo_rewrite(in, n, SMTP_EXT_STARTTLS, add_two, 2,
	    out, sizeof(out), NULL) > 0);
	/* 65 input lines are refused as such. */
	memcpy(in + n - 7, "250-X\r\n250-X\r\n250 Y\r\n", 21);
	n += 14;
	assert_int_equal(smtp_ehlo_rewrite(in, n, 0, NULL, 0, out,
	    sizeof(out), NULL), -1);
}

static void
test_ext_keyword(void **state)
{
	static const struct {
		const char	*text;
		unsigned	 kw;
	} t[] = {
		{ "STARTTLS", SMTP_EXT_STARTTLS },
		{ "starttls", SMTP_EXT_STARTTLS },
		{ "PIPELINING", SMTP_EXT_PIPELINING },
		{ "SIZE", SMTP_EXT_SIZE },
		{ "SIZE 10240000", SMTP_EXT_SIZE },
		{ "8BITMIME", SMTP_EXT_8BITMIME },
		{ "CHUNKING", SMTP_EXT_CHUNKING },
		{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
		{ "DSN", SMTP_EXT_DSN },
		{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
		{ "AUTH PLAIN LOGIN", SMTP_EXT_AUTH },
		{ "AUTH=PLAIN", SMTP_EXT_AUTH },
		{ "BINARYMIME", SMTP_EXT_BINARYMIME },
		{ "XCLIENT NAME ADDR", SMTP_EXT_XCLIENT },
		{ "XFORWARD NAME", SMTP_EXT_XFORWARD },
		{ "REQUIRETLS", SMTP_EXT_REQUIRETLS },
		{ "STARTTLSX", SMTP_EXT_OTHER },
		{ "SIZ", SMTP_EXT_OTHER },
		{ "VRFY", SMTP_EXT_OTHER },
		{ "", 0 },
		{ " SIZE", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(smtp_ext_keyword(t[i].text, strlen(t[i].text)),
		    t[i].kw);
}

static void
test_ehlo_size(void **state)
{
	static const struct {
		const char	*in;
		uint64_t	 size;
	} t[] = {
		{ GREET "250-SIZE 35882577\r\n250 HELP\r\n", 35882577 },
		{ GREET "250 size 1000\r\n", 1000 },
		{ GREET "250-SIZE\r\n250 HELP\r\n", 0 },
		{ GREET "250 HELP\r\n", 0 },
		{ "250-mx\n250 SIZE 42\n", 42 },
		{ "250-mx\r\n250 SIZE 42", 42 },
		{ "250-SIZE 7\r\n250 X\r\n", 0 },	/* greeting */
		{ GREET "250 SIZE 99999999999999999999999\r\n", 0 },
		{ GREET "250 SIZE 18446744073709551609\r\n",
		  UINT64_C(18446744073709551609) },
		{ "", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_true(smtp_ehlo_size(t[i].in, strlen(t[i].in)) ==
		    t[i].size);
}

/* ---- DATA scanner -------------------------------------------------------- */

/* What one scan of a message produced, however it was split. */
struct scan_out {
	int		 ended;
	size_t		 end;			/* offset after the terminator */
	uint64_t	 bytes, added, header_bytes;
	int		 in_headers;
	unsigned	 flags;
	size_t		 ninsert;
	char		 relayed[16384];	/* what the caller sends on */
	size_t		 relayed_len;
};

/*
 * Feed in[] to a fresh scanner in chunks: cut[] lists chunk ends (the last
 * must be len).  Acts like the relay: passes the used bytes on, then what
 * an INSERT asks for, and stops at the end of data.
 */
static void
scan_chunks(const char *in, size_t len, const size_t *cut, size_t ncut,
    struct scan_out *o)
{
	struct smtp_data	d;
	enum smtp_data_result	r;
	size_t			pos = 0, c, used, guard;

	memset(o, 0, sizeof(*o));
	smtp_data_init(&d);
	for (c = 0; c < ncut && !o->ended; c++) {
		for (guard = 0; pos < cut[c]; guard++) {
			assert_true(guard < 2 * len + 4);
			r = smtp_data_scan(&d, in + pos, cut[c] - pos, &used);
			assert_true(used <= cut[c] - pos);
			assert_true(o->relayed_len + used + 2 <=
			    sizeof(o->relayed));
			memcpy(o->relayed + o->relayed_len, in + pos, used);
			o->relayed_len += used;
			pos += used;
			if (r == SMTP_DATA_INSERT) {
				/* Only these, and only before these bytes. */
				assert_true(pos < cut[c]);
				if (d.insert_len == 1 && d.insert[0] == '.')
					assert_int_equal(in[pos], '.');
				else {
					assert_true((d.insert_len == 1 &&
					    d.insert[0] == '\r') ||
					    (d.insert_len == 2 &&
					    memcmp(d.insert, ".\r", 2) == 0));
					assert_int_equal(in[pos], '\n');
				}
				memcpy(o->relayed + o->relayed_len, d.insert,
				    d.insert_len);
				o->relayed_len += d.insert_len;
				o->ninsert++;
			} else if (r == SMTP_DATA_END) {
				o->ended = 1;
				o->end = pos;
				break;
			} else {
				assert_int_equal(r, SMTP_DATA_MORE);
				assert_int_equal(pos, cut[c]);
			}
		}
	}
	o->bytes = d.bytes;
	o->added = d.added;
	o->header_bytes = d.header_bytes;
	o->in_headers = d.in_headers;
	o->flags = d.flags;
	/* Everything relayed is what was used plus what was inserted. */
	assert_int_equal(o->relayed_len, pos + d.added);
	if (o->ended) {
		/* After the end, the scanner takes nothing more. */
		assert_int_equal(smtp_data_scan(&d, "x", 1, &used),
		    SMTP_DATA_END);
		assert_int_equal(used, 0);
	}
}

static void
assert_same_scan(const struct scan_out *a, const struct scan_out *b)
{
	assert_int_equal(a->ended, b->ended);
	assert_int_equal(a->end, b->end);
	assert_int_equal(a->bytes, b->bytes);
	assert_int_equal(a->added, b->added);
	assert_int_equal(a->header_bytes, b->header_bytes);
	assert_int_equal(a->in_headers, b->in_headers);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->ninsert, b->ninsert);
	assert_int_equal(a->relayed_len, b->relayed_len);
	assert_memory_equal(a->relayed, b->relayed, a->relayed_len);
}

#define NOEND	((size_t)-1)
#define F_LF	SMTP_DATA_F_BARE_LF
#define F_CR	SMTP_DATA_F_BARE_CR
#define F_NUL	SMTP_DATA_F_NUL
#define F_LONG	SMTP_DATA_F_LONG_LINE

static const struct data_case {
	const char	*name;
	struct bytes	 in;
	size_t		 end;		/* NOEND: not found */
	uint64_t	 bytes;
	uint64_t	 header_bytes;
	int		 in_headers;
	unsigned	 flags;
	struct bytes	 relayed;	/* { NULL }: the input up to end */
} data_cases[] = {
	{ "terminator at the start", B(".\r\n"), 3, 0, 0, 1, 0, { NULL, 0 } },
	{ "terminator at the start, then a command", B(".\r\nQUIT\r\n"),
	  3, 0, 0, 1, 0, B(".\r\n") },
	{ "plain message",
	  B("Subject: hi\r\nFrom: a@b\r\n\r\nbody\r\n.\r\n"), 35, 32, 24, 0, 0,
	  { NULL, 0 } },
	{ "headers only", B("Subject: hi\r\n.\r\n"), 16, 13, 0, 1, 0, { NULL, 0 } },
	{ "empty first line", B("\r\nbody\r\n.\r\n"), 11, 8, 0, 0, 0, { NULL, 0 } },
	{ "empty lines only", B("\r\n\r\n.\r\n"), 7, 4, 0, 0, 0, { NULL, 0 } },
	{ "stuffed dot is content", B("a\r\n..\r\n.\r\n"), 10, 7, 0, 1, 0,
	  { NULL, 0 } },
	{ "stuffed dot at the start", B("..\r\n.\r\n"), 7, 4, 0, 1, 0, { NULL, 0 } },
	{ "stuffed dot, no end", B("a\r\n..\r\nb"), NOEND, 8, 0, 1, 0,
	  B("a\r\n..\r\nb") },
	{ "stuffed lines untouched", B("..x\r\n...\r\n..\r\n.\r\n"), 17, 14, 0,
	  1, 0, { NULL, 0 } },
	{ "dot-text line", B("x\r\n.x\r\n.\r\n"), 10, 7, 0, 1, 0, { NULL, 0 } },
	{ "dot space is not the end", B("x\r\n. \r\n.\r\n"), 10, 7, 0, 1, 0,
	  { NULL, 0 } },
	{ "no end yet", B("Subject: x\r\n\r\nbody\r\n"), NOEND, 20, 12, 0, 0,
	  B("Subject: x\r\n\r\nbody\r\n") },
	/* a "." that may still be the end is not counted yet */
	{ "dot without LF", B("a\r\n.\r"), NOEND, 3, 0, 1, 0, B("a\r\n.\r") },
	{ "dot at the very end", B("a\r\n."), NOEND, 3, 0, 1, 0, B("a\r\n.") },
	{ "bytes after the end", B("a\r\n.\r\nMAIL FROM:<x@y>\r\n"), 6, 3, 0,
	  1, 0, B("a\r\n.\r\n") },
	/* bare LF: a line end after a CR is inserted, never the end of data */
	{ "the smuggling probe is content",
	  B("Subject: x\r\n\r\nhello\n.\r\nMAIL FROM:<evil@x>\r\n"
	    "RCPT TO:<v@y>\r\nDATA\r\n\r\nevil\r\n.\r\nQUIT\r\n"),
	  75, 72, 12, 0, F_LF,
	  B("Subject: x\r\n\r\nhello\r\n..\r\nMAIL FROM:<evil@x>\r\n"
	    "RCPT TO:<v@y>\r\nDATA\r\n\r\nevil\r\n.\r\n") },
	{ "<LF>.<CR><LF> is not the end", B("hello\n.\r\nQUIT\r\n"), NOEND,
	  15, 0, 1, F_LF, B("hello\r\n..\r\nQUIT\r\n") },
	{ "<LF>.<LF> is not the end", B("hello\n.\nQUIT\r\n"), NOEND, 14, 0,
	  1, F_LF, B("hello\r\n..\r\nQUIT\r\n") },
	{ "<CR><LF>.<LF> is content", B("hello\r\n.\nmore\r\n.\r\n"), 18, 15,
	  0, 1, F_LF, B("hello\r\n..\r\nmore\r\n.\r\n") },
	{ "<CR><LF>.<LF> at the end of a read", B("hello\r\n.\n"), NOEND, 9,
	  0, 1, F_LF, B("hello\r\n..\r\n") },
	{ ".<LF> at the start", B(".\n"), NOEND, 2, 0, 1, F_LF, B("..\r\n") },
	{ ".<LF> at the start, then .<CR><LF>", B(".\n.\r\n"), NOEND, 5, 0,
	  1, F_LF, B("..\r\n..\r\n") },
	{ "<LF>..x gets one more dot", B("a\n..x\r\n.\r\n"), 10, 7, 0, 1, F_LF,
	  B("a\r\n...x\r\n.\r\n") },
	{ "<LF>. then the real end", B("a\n.\r\n.\r\n"), 8, 5, 0, 1, F_LF,
	  B("a\r\n..\r\n.\r\n") },
	{ "dot after a bare LF at the very end", B("a\n."), NOEND, 3, 0, 1,
	  F_LF, B("a\r\n..") },
	{ "bare LF everywhere", B("a\n\nb\n.\n"), NOEND, 7, 2, 0, F_LF,
	  B("a\r\n\r\nb\r\n..\r\n") },
	{ "bare LF at the start", B("\nx\r\n.\r\n"), 7, 4, 0, 0, F_LF,
	  B("\r\nx\r\n.\r\n") },
	{ "bare LF then CRLF", B("a\n\r\nb\r\n.\r\n"), 10, 7, 2, 0, F_LF,
	  B("a\r\n\r\nb\r\n.\r\n") },
	/* bare CR: passed through, flagged, never a line end */
	{ "bare CR", B("a\rb\r\n.\r\n"), 8, 5, 0, 1, F_CR, { NULL, 0 } },
	{ "CR CR LF", B("a\r\r\n.\r\n"), 7, 4, 0, 1, F_CR, { NULL, 0 } },
	{ "<CR>.<CR> is not the end", B("a\r.\rb\r\n.\r\n"), 10, 7, 0, 1,
	  F_CR, { NULL, 0 } },
	{ ".<CR>x", B(".\rx\r\n.\r\n"), 8, 5, 0, 1, F_CR, { NULL, 0 } },
	{ ".<CR><CR><LF>", B(".\r\r\n.\r\n"), 7, 4, 0, 1, F_CR, { NULL, 0 } },
	{ "CR at the very end", B("abc\r"), NOEND, 4, 0, 1, 0, B("abc\r") },
	/* NUL */
	{ "NUL in body", B("a\0b\r\n.\r\n"), 8, 5, 0, 1, F_NUL, { NULL, 0 } },
	{ "NUL at line start", B("\0\r\n.\r\n"), 6, 3, 0, 1, F_NUL, { NULL, 0 } },
	{ "NUL after the end is not ours", B(".\r\n\0"), 3, 0, 0, 1, 0,
	  B(".\r\n") },
	{ "all at once", B("H: v\n\r\n\0.\r\r\n..\r\n.\n\r\n.\r\n"), 23, 20,
	  5, 0, F_LF | F_CR | F_NUL,
	  B("H: v\r\n\r\n\0.\r\r\n..\r\n..\r\n\r\n.\r\n") },
};

static void
check_data_case(const char *name, const char *in, size_t len, size_t end,
    uint64_t bytes, uint64_t header_bytes, int in_headers, unsigned flags,
    const char *relayed, size_t relayed_len)
{
	struct scan_out	 whole, part;
	size_t		*cut, k;

	cut = malloc((len + 1) * sizeof(*cut));
	assert_non_null(cut);

	/* (a) whole */
	cut[0] = len;
	scan_chunks(in, len, cut, 1, &whole);
	if (whole.ended != (end != NOEND) || (whole.ended && whole.end != end) ||
	    whole.bytes != bytes || whole.flags != flags ||
	    whole.header_bytes != header_bytes || whole.in_headers != in_headers)
		print_error("%s: ended %d end %zu bytes %llu hdr %llu/%d "
		    "flags %#x\n", name, whole.ended, whole.end,
		    (unsigned long long)whole.bytes,
		    (unsigned long long)whole.header_bytes, whole.in_headers,
		    whole.flags);
	assert_int_equal(whole.ended, end != NOEND);
	if (end != NOEND)
		assert_int_equal(whole.end, end);
	assert_int_equal(whole.bytes, bytes);
	assert_int_equal(whole.header_bytes, header_bytes);
	assert_int_equal(whole.in_headers, in_headers);
	assert_int_equal(whole.flags, flags);
	assert_int_equal(whole.relayed_len, relayed_len);
	assert_memory_equal(whole.relayed, relayed, relayed_len);

	/* (b) one byte at a time */
	for (k = 0; k < len; k++)
		cut[k] = k + 1;
	scan_chunks(in, len, cut, len, &part);
	assert_same_scan(&whole, &part);

	/* (c) every 2-way split */
	for (k = 0; k <= len; k++) {
		cut[0] = k;
		cut[1] = len;
		scan_chunks(in, len, cut, 2, &part);
		assert_same_scan(&whole, &part);
	}
	free(cut);
}

static void
test_data_table(void **state)
{
	const char	*rel;
	size_t		 i, rlen;

	(void)state;
	for (i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
		const struct data_case *t = &data_cases[i];

		if (t->relayed.p != NULL) {
			rel = t->relayed.p;
			rlen = t->relayed.n;
		} else {
			rel = t->in.p;
			rlen = t->end == NOEND ? t->in.n : t->end;
		}
		check_data_case(t->name, t->in.p, t->in.n, t->end, t->bytes,
		    t->header_bytes, t->in_headers, t->flags, rel, rlen);
	}
}

/* Lines of exactly SMTP_LINE_MAX (with CRLF) as relayed pass; one more is
 * flagged, however the line is split, with CRLF or bare LF, and with the
 * dot stuffed in after a bare LF counted. */
static void
test_data_long_lines(void **state)
{
	static const struct {
		const char	*lead;		/* before the long line */
		size_t		 content;	/* of the long line, as sent */
		const char	*eol;
		unsigned	 flags;
	} t[] = {
		{ "", SMTP_LINE_MAX - 2, "\r\n", 0 },
		{ "", SMTP_LINE_MAX - 1, "\r\n", F_LONG },
		{ "", SMTP_LINE_MAX - 2, "\n", F_LF },
		{ "", SMTP_LINE_MAX - 1, "\n", F_LF | F_LONG },
		{ "", 5000, "\r\n", F_LONG },
		{ "", SMTP_LINE_MAX - 3, "\r\r\n", F_CR },
		{ "", SMTP_LINE_MAX - 2, "\r\r\n", F_CR | F_LONG },
		{ "a\n", SMTP_LINE_MAX - 3, "\r\n", F_LF },
		{ "a\n", SMTP_LINE_MAX - 2, "\r\n", F_LF | F_LONG },
	};
	static const char tail[] = "z\r\n.\r\n";
	char	in[8192], rel[8192];
	size_t	i, n, rn, el, ll;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ll = strlen(t[i].lead);
		el = strlen(t[i].eol);
		n = rn = 0;
		memcpy(in, t[i].lead, ll);
		n += ll;
		if (ll > 0) {
			/* "a\n": relayed "a\r\n", the long line then starts
			 * with a dot that gets one more. */
			memcpy(rel, "a\r\n.", 4);
			rn = 4;
		}
		memset(in + n, ll > 0 ? '.' : 'x', 1);
		memset(in + n + 1, 'x', t[i].content - 1);
		memcpy(rel + rn, in + n, t[i].content);
		n += t[i].content;
		rn += t[i].content;
		memcpy(in + n, t[i].eol, el);
		n += el;
		if (strcmp(t[i].eol, "\n") == 0) {
			memcpy(rel + rn, "\r\n", 2);
			rn += 2;
		} else {
			memcpy(rel + rn, t[i].eol, el);
			rn += el;
		}
		memcpy(in + n, tail, sizeof(tail) - 1);
		n += sizeof(tail) - 1;
		memcpy(rel + rn, tail, sizeof(tail) - 1);
		rn += sizeof(tail) - 1;
		check_data_case("long", in, n, n, n - 3, 0, 1, t[i].flags,
		    rel, rn);
	}
	/* A long line that has not ended yet is flagged at once. */
	{
		struct smtp_data	d;
		size_t			used;

		memset(in, 'y', 2000);
		smtp_data_init(&d);
		assert_int_equal(smtp_data_scan(&d, in, 2000, &used),
		    SMTP_DATA_MORE);
		assert_int_equal(used, 2000);
		assert_true(d.flags & F_LONG);
	}
}

/* Step by step, the INSERT protocol as the relay sees it. */
static void
test_data_insert_sequence(void **state)
{
	struct smtp_data	d;
	const char		*buf = "hi\n.\r\nMAIL FROM:<x@y>\r\n";
	size_t			used, n = strlen(buf);

	(void)state;
	smtp_data_init(&d);
	assert_int_equal(smtp_data_scan(&d, buf, n, &used), SMTP_DATA_INSERT);
	assert_int_equal(used, 2);		/* relay "hi", then "\r" */
	assert_mem_str(d.insert, d.insert_len, "\r");
	assert_true(d.flags & F_LF);
	/* Called again from the LF: a line end; the "." after it is
	 * content the client did not stuff. */
	assert_int_equal(smtp_data_scan(&d, buf + 2, n - 2, &used),
	    SMTP_DATA_INSERT);
	assert_int_equal(used, 1);		/* relay "\n", then "." */
	assert_mem_str(d.insert, d.insert_len, ".");
	/* Called again from the ".": the rest is content, no end. */
	assert_int_equal(smtp_data_scan(&d, buf + 3, n - 3, &used),
	    SMTP_DATA_MORE);
	assert_int_equal(used, n - 3);
	assert_int_equal(d.bytes, n);
	assert_int_equal(d.added, 2);

	/* A bare LF at the start of a later read. */
	smtp_data_init(&d);
	assert_int_equal(smtp_data_scan(&d, "abc", 3, &used), SMTP_DATA_MORE);
	assert_int_equal(smtp_data_scan(&d, "\ndef", 4, &used),
	    SMTP_DATA_INSERT);
	assert_int_equal(used, 0);
	/* An empty read in between keeps the LF "fixed". */
	assert_int_equal(smtp_data_scan(&d, "", 0, &used), SMTP_DATA_MORE);
	assert_int_equal(smtp_data_scan(&d, "\ndef", 4, &used),
	    SMTP_DATA_MORE);
	assert_int_equal(used, 4);
	/* The next bare LF is reported again. */
	assert_int_equal(smtp_data_scan(&d, "\n", 1, &used),
	    SMTP_DATA_INSERT);
	assert_int_equal(used, 0);
	assert_int_equal(d.bytes, 7);
	assert_int_equal(d.added, 2);

	/* "<CR><LF>.<LF>": ".\r" before the LF, then it is content. */
	smtp_data_init(&d);
	assert_int_equal(smtp_data_scan(&d, "a\r\n.\n", 5, &used),
	    SMTP_DATA_INSERT);
	assert_int_equal(used, 4);
	assert_mem_str(d.insert, d.insert_len, ".\r");
	assert_int_equal(d.bytes, 3);		/* the "." is held back */
	assert_int_equal(smtp_data_scan(&d, "\n", 1, &used), SMTP_DATA_MORE);
	assert_int_equal(used, 1);
	assert_int_equal(d.bytes, 5);
	assert_int_equal(d.added, 2);
}

/* A large message in CRLF lines, fed in odd-sized reads. */
static void
test_data_large(void **state)
{
	struct smtp_data	d;
	enum smtp_data_result	r = SMTP_DATA_MORE;
	char			*msg;
	size_t			 n = 1 << 20, i, pos, used, chunk;
	const char		*line = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
				    "nopqrstuvwxyz0123456789+/ABCDEFGHIJKL\r\n";
	size_t			 ll = strlen(line);

	(void)state;
	msg = malloc(n + 3);
	assert_non_null(msg);
	memcpy(msg, "Subject: big\r\n\r\n", 16);
	for (i = 16; i + ll <= n; i += ll) {
		memcpy(msg + i, line, ll);
		if ((i / ll) % 7 == 0)
			msg[i] = '.';
	}
	n = i;
	memcpy(msg + n, ".\r\n", 3);
	smtp_data_init(&d);
	for (pos = 0, chunk = 1; pos < n + 3; pos += used,
	    chunk = chunk * 7 % 16381 + 1) {
		r = smtp_data_scan(&d, msg + pos,
		    chunk < n + 3 - pos ? chunk : n + 3 - pos, &used);
		assert_int_not_equal(r, SMTP_DATA_INSERT);
		if (r == SMTP_DATA_END) {
			pos += used;
			break;
		}
	}
	assert_int_equal(r, SMTP_DATA_END);
	assert_int_equal(pos, n + 3);
	assert_int_equal(d.bytes, n);
	assert_int_equal(d.header_bytes, 14);
	assert_int_equal(d.flags, 0);
	assert_int_equal(d.added, 0);
	free(msg);
}

/* ---- dot-stuffing -------------------------------------------------------- */

static void
test_stuff(void **state)
{
	static const struct {
		const char	*plain;
		const char	*stuffed;
	} t[] = {
		{ "", "" },
		{ "a\r\n", "a\r\n" },
		{ ".\r\n", "..\r\n" },
		{ ".a\r\n", "..a\r\n" },
		{ "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n" },
		{ "a.\r\n..\r\n", "a.\r\n...\r\n" },
		{ ".", ".." },
		{ "x\n.y\n", "x\n..y\n" },
		{ ".\r\n.\r\n.", "..\r\n..\r\n.." },
	};
	char	buf[64];
	size_t	i, n;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = smtp_stuff_len(t[i].plain, strlen(t[i].plain));
		assert_int_equal(n, strlen(t[i].stuffed));
		memset(buf, 0, sizeof(buf));
		assert_int_equal(smtp_stuff(t[i].plain, strlen(t[i].plain),
		    buf), n);
		assert_mem_str(buf, n, t[i].stuffed);
		n = smtp_unstuff(buf, n);
		assert_mem_str(buf, n, t[i].plain);
	}
}

static void
test_unstuff(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} t[] = {
		{ "..\r\n", ".\r\n" },
		{ "...x\r\n", "..x\r\n" },
		{ ".x\r\n", "x\r\n" },		/* RFC 5321 4.5.2 */
		{ ".\r\n", ".\r\n" },		/* "." alone stays */
		{ "a..\r\n", "a..\r\n" },
		{ "a\r\n..b", "a\r\n.b" },
		{ ".", "." },
		{ "", "" },
	};
	char	buf[64];
	size_t	i, n;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = strlen(t[i].in);
		memcpy(buf, t[i].in, n);
		n = smtp_unstuff(buf, n);
		assert_mem_str(buf, n, t[i].out);
	}
}

/* stuff, then scan as DATA with a terminator, then unstuff: identity. */
static void
test_stuff_scan_roundtrip(void **state)
{
	static const char *const msgs[] = {
		"Subject: x\r\n\r\n.\r\n..\r\n.x\r\n",
		".\r\n",
		"\r\n.\r\n",
		"a\r\n. \r\n",
	};
	struct smtp_data	d;
	char			buf[256];
	size_t			i, n, used;

	(void)state;
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		n = smtp_stuff(msgs[i], strlen(msgs[i]), buf);
		memcpy(buf + n, ".\r\n", 3);
		smtp_data_init(&d);
		assert_int_equal(smtp_data_scan(&d, buf, n + 3, &used),
		    SMTP_DATA_END);
		assert_int_equal(used, n + 3);
		assert_int_equal(d.bytes, n);
		n = smtp_unstuff(buf, (size_t)d.bytes);
		assert_mem_str(buf, n, msgs[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_end),
		cmocka_unit_test(test_cmd_table),
		cmocka_unit_test(test_cmd_verb_str),
		cmocka_unit_test(test_cmd_long),
		cmocka_unit_test(test_cmd_pipelined),
		cmocka_unit_test(test_verb_name),
		cmocka_unit_test(test_path_table),
		cmocka_unit_test(test_path_params),
		cmocka_unit_test(test_cmd_then_path),
		cmocka_unit_test(test_addr_domain),
		cmocka_unit_test(test_reply_line),
		cmocka_unit_test(test_reply_feed),
		cmocka_unit_test(test_reply_limits),
		cmocka_unit_test(test_enhanced),
		cmocka_unit_test(test_ehlo_rewrite),
		cmocka_unit_test(test_ehlo_small_out),
		cmocka_unit_test(test_ehlo_bad_add),
		cmocka_unit_test(test_ehlo_line_limit),
		cmocka_unit_test(test_ext_keyword),
		cmocka_unit_test(test_ehlo_size),
		cmocka_unit_test(test_data_table),
		cmocka_unit_test(test_data_long_lines),
		cmocka_unit_test(test_data_insert_sequence),
		cmocka_unit_test(test_data_large),
		cmocka_unit_test(test_stuff),
		cmocka_unit_test(test_unstuff),
		cmocka_unit_test(test_stuff_scan_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
