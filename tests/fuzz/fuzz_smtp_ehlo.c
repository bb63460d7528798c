/*
 * fuzz_smtp_ehlo.c -- libFuzzer target for EHLO keyword editing
 * (common/smtp.c: smtp_ehlo_rewrite, smtp_ext_keyword, smtp_ehlo_size).
 *
 * The first two bytes choose the keywords to remove and the lines to
 * add; the rest is the EHLO reply as a destination might send it.  A
 * rewrite that succeeds must produce a valid 250 reply with exactly one
 * last line, without the removed keywords (the greeting excepted), with
 * the added lines at the end; rewriting that output again changes
 * nothing; and any smaller output buffer fails without overrunning.
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

static const char *const adds[] = { "STARTTLS", "SIZE 10240000", "X-WARP" };

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply	 r;
	struct smtp_reply_line	 rl;
	enum smtp_reply_state	 st = SMTP_REPLY_MORE;
	const char		*in;
	char			*out, *out2, *small;
	unsigned		 remove, seen, seen2, kw;
	size_t			 len, nadd, cap, off, n, eol, nlines = 0, i;
	ssize_t			 w, w2;

	if (size < 2)
		return 0;
	remove = (unsigned)data[0] | ((unsigned)(data[1] & 0x90) << 8);
	nadd = (data[1] & 0x3) % 4;
	if (nadd == 3)
		nadd = 0;
	in = (const char *)data + 2;
	len = size - 2;

	(void)smtp_ehlo_size(in, len);

	cap = 2 * len + 64;
	out = malloc(cap);
	out2 = malloc(cap);
	check(out != NULL && out2 != NULL);
	w = smtp_ehlo_rewrite(in, len, remove, adds, nadd, out, cap, &seen);
	if (w < 0) {
		check(w == -1);
		goto done;
	}
	check((size_t)w <= cap);

	/* A well-formed 250 reply, one last line, CRLF everywhere. */
	smtp_reply_init(&r);
	for (off = 0; off < (size_t)w; off += n) {
		check(st == SMTP_REPLY_MORE);
		n = smtp_line_end(out + off, (size_t)w - off, &eol);
		check(n > 0 && eol == 2);
		check(smtp_reply_line_parse(out + off, n - eol, &rl) == 0);
		check(rl.code == 250);
		nlines++;
		st = smtp_reply_feed(&r, out + off, n - eol);
	}
	check(st == SMTP_REPLY_DONE && r.code == 250);
	check(nlines >= 1 + nadd);

	/* Between the greeting and the added lines: no removed keyword. */
	for (off = 0, i = 0; i < nlines - nadd; off += n, i++) {
		n = smtp_line_end(out + off, (size_t)w - off, &eol);
		check(smtp_reply_line_parse(out + off, n - eol, &rl) == 0);
		kw = smtp_ext_keyword(rl.text, rl.text_len);
		check(i == 0 || (kw & remove) == 0);
		check(kw == 0 || i == 0 || (kw & seen) != 0);
	}
	/* The added lines are the last ones, in order. */
	for (i = 0; i < nadd; off += n, i++) {
		n = smtp_line_end(out + off, (size_t)w - off, &eol);
		check(n - eol == 4 + strlen(adds[i]));
		check(memcmp(out + off + 4, adds[i], strlen(adds[i])) == 0);
	}
	check(off == (size_t)w);

	/* Rewriting the result with nothing to do gives it back unchanged,
	 * and the removed keywords are gone (added lines excepted). */
	w2 = smtp_ehlo_rewrite(out, (size_t)w, 0, NULL, 0, out2, cap, &seen2);
	check(w2 == w && memcmp(out, out2, (size_t)w) == 0);
	if (nadd == 0) {
		check((seen2 & remove) == 0);
		check((seen2 | (seen & remove)) == seen);
	}

	/* Every buffer one byte short fails cleanly (ASan checks bounds). */
	small = malloc((size_t)w > 0 ? (size_t)w - 1 + 1 : 1);
	check(small != NULL);
	check(smtp_ehlo_rewrite(in, len, remove, adds, nadd, small,
	    (size_t)w - 1, NULL) == -1);
	free(small);
done:
	free(out);
	free(out2);
	return 0;
}
