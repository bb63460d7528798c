/*
 * fuzz_smtp_reply.c -- libFuzzer target for reply lines, the multi-line
 * reply accumulator and enhanced status codes (common/smtp.c).
 *
 * The input is cut into lines as warp-proxyd cuts a destination's
 * replies and fed to smtp_reply_feed(), starting a new reply after each
 * DONE or ERROR.  Each line is also checked on its own: what
 * smtp_reply_line_parse() accepts must really be three digits and a
 * separator, and the accumulator must agree with it line by line.
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
digit(char c)
{
	return c >= '0' && c <= '9';
}

static void
check_enhanced(const char *text, size_t len)
{
	char	out[16];
	size_t	n, sl;

	memset(out, 'z', sizeof(out));
	n = smtp_enhanced_parse(text, len, out);
	sl = strnlen(out, sizeof(out));
	check(sl < sizeof(out));
	if (n == 0) {
		check(sl == 0);
		return;
	}
	check(n <= len && sl >= 5 && sl <= 9);
	check(memcmp(out, text, sl) == 0);
	check(out[0] == '2' || out[0] == '4' || out[0] == '5');
	check(n == sl || (n == sl + 1 && text[sl] == ' '));
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*in = (const char *)data, *line;
	struct smtp_reply	 r;
	struct smtp_reply_line	 rl;
	enum smtp_reply_state	 st;
	size_t			 off = 0, n, eol, len, i;
	int			 rc, lines = 0, first_code = 0;

	smtp_reply_init(&r);
	while (off < size) {
		n = smtp_line_end(in + off, size - off, &eol);
		if (n == 0)
			n = size - off, eol = 0;
		line = in + off;
		len = n - eol;
		off += n;

		rc = smtp_reply_line_parse(line, len, &rl);
		if (rc == 0) {
			check(len >= 3 && line[0] >= '2' && line[0] <= '5' &&
			    digit(line[1]) && digit(line[2]));
			check(rl.code == (line[0] - '0') * 100 +
			    (line[1] - '0') * 10 + (line[2] - '0'));
			check(rl.last == (len == 3 || line[3] == ' '));
			check(len == 3 || line[3] == ' ' || line[3] == '-');
			check(rl.text == line + (len == 3 ? 3 : 4));
			check(rl.text_len == len - (len == 3 ? 3 : 4));
			check_enhanced(rl.text, rl.text_len);
		} else
			check(rc == -1 && (len < 4 || !(line[0] >= '2' &&
			    line[0] <= '5' && digit(line[1]) &&
			    digit(line[2]) && (line[3] == ' ' ||
			    line[3] == '-'))));

		st = smtp_reply_feed(&r, line, len);
		if (rc == -1 || (lines > 0 && rl.code != first_code) ||
		    lines == SMTP_REPLY_LINES_MAX)
			check(st == SMTP_REPLY_ERROR);
		else
			check(st == (rl.last ? SMTP_REPLY_DONE :
			    SMTP_REPLY_MORE));
		if (st != SMTP_REPLY_ERROR) {
			if (lines++ == 0)
				first_code = rl.code;
			check(r.code == first_code && r.nlines == lines);
		}
		/* The summary stays a clean, bounded C string. */
		check(strnlen(r.text, sizeof(r.text)) < sizeof(r.text));
		check(strnlen(r.enhanced, sizeof(r.enhanced)) <
		    sizeof(r.enhanced));
		for (i = 0; r.text[i] != '\0'; i++)
			check((unsigned char)r.text[i] >= 0x20 &&
			    r.text[i] != 0x7f);
		if (st != SMTP_REPLY_MORE) {
			smtp_reply_init(&r);
			lines = 0;
		}
	}
	check_enhanced(in, size);
	return 0;
}
