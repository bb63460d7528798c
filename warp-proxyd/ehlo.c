/*
 * ehlo.c -- what the client is told about the destination's extensions.
 *
 * Called by dest.c when a reply to EHLO/HELO reaches the client.  Pure
 * functions over bytes: the keyword list itself is edited by
 * smtp_ehlo_rewrite() in common/smtp.c; this file only decides what to
 * remove and add.  Security role: it hides STARTTLS (warp terminates TLS
 * itself) and extensions warp cannot relay (CHUNKING/BDAT, BINARYMIME,
 * XCLIENT, XFORWARD), and advertises warp's own size limit.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proxyd.h"

ssize_t
ehlo_for_client(const char *in, size_t len, uint64_t size_limit,
    int offer_tls, char *out, size_t outsz, unsigned *seen)
{
	char		 sizekw[40];
	const char	*add[2];
	size_t		 nadd = 0;
	uint64_t	 dsize;

	dsize = smtp_ehlo_size(in, len);
	if (dsize == 0 || dsize > size_limit)
		dsize = size_limit;
	snprintf(sizekw, sizeof(sizekw), "SIZE %" PRIu64, dsize);
	add[nadd++] = sizekw;
	if (offer_tls)
		add[nadd++] = "STARTTLS";
	return smtp_ehlo_rewrite(in, len, EHLO_REMOVE, add, nadd, out, outsz,
	    seen);
}

/*
 * A 220 banner usually starts with the server's host name ("220
 * mx.example.com ESMTP ...").  Take it for SNI only when it looks like a
 * DNS name with at least one dot and no address literal.
 */
size_t
ehlo_banner_host(const char *text, size_t len, char *out, size_t outsz)
{
	size_t	 i, dots = 0;
	int	 alpha = 0;

	for (i = 0; i < len && text[i] != ' '; i++) {
		unsigned char c = text[i];

		if (c == '.')
			dots++;
		else if (isalpha(c))
			alpha = 1;
		else if (!isdigit(c) && c != '-')
			return 0;
	}
	if (i == 0 || i >= outsz || dots == 0 || !alpha ||
	    text[0] == '.' || text[i - 1] == '.' || i > 253)
		return 0;
	memcpy(out, text, i);
	out[i] = '\0';
	return i;
}

size_t
ehlo_first_line(const char *in, size_t len, char *out, size_t outsz)
{
	size_t	 n, eol;
	struct smtp_reply_line rl;
	int	 w;

	if ((n = smtp_line_end(in, len, &eol)) == 0)
		n = len, eol = 0;
	if (smtp_reply_line_parse(in, n - eol, &rl) == -1)
		return 0;
	w = snprintf(out, outsz, "%03d %.*s\r\n", rl.code, (int)rl.text_len,
	    rl.text);
	if (w < 0 || (size_t)w >= outsz)
		return 0;
	return (size_t)w;
}
