/*
 * test_proxyd_ehlo.c -- what warp-proxyd tells the client about the
 * destination's extensions: STARTTLS, CHUNKING, BINARYMIME, XCLIENT and
 * XFORWARD removed, SIZE capped at message_size_limit, STARTTLS added
 * only when warp offers its own; host names for SNI from banners; the
 * single-line answer for a HELO client.
 */
#include <string.h>

#include "unit.h"
#include "../../warp-proxyd/proxyd.h"

static const char sink[] =
    "250-mx.example.net\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 52428800\r\n"
    "250-STARTTLS\r\n"
    "250-CHUNKING\r\n"
    "250-BINARYMIME\r\n"
    "250-XCLIENT NAME\r\n"
    "250-XFORWARD NAME\r\n"
    "250-AUTH PLAIN LOGIN\r\n"
    "250 8BITMIME\r\n";

static void
test_rewrite(void **state)
{
	char		 out[1024];
	ssize_t		 n;
	unsigned	 seen = 0;

	n = ehlo_for_client(sink, strlen(sink), 10240000, 0, out,
	    sizeof(out), &seen);
	assert_true(n > 0);
	out[n] = '\0';
	assert_true(seen & SMTP_EXT_STARTTLS);
	assert_true(seen & SMTP_EXT_CHUNKING);
	assert_null(strstr(out, "STARTTLS"));
	assert_null(strstr(out, "CHUNKING"));
	assert_null(strstr(out, "BINARYMIME"));
	assert_null(strstr(out, "XCLIENT"));
	assert_null(strstr(out, "XFORWARD"));
	assert_non_null(strstr(out, "250-mx.example.net\r\n"));
	assert_non_null(strstr(out, "PIPELINING"));
	assert_non_null(strstr(out, "AUTH PLAIN LOGIN"));
	assert_non_null(strstr(out, "8BITMIME"));
	/* Our limit is smaller than the destination's. */
	assert_non_null(strstr(out, "SIZE 10240000"));
	assert_null(strstr(out, "52428800"));
	/* Exactly one last line. */
	assert_non_null(strstr(out, "\r\n250 "));
	assert_null(strstr(strstr(out, "\r\n250 ") + 2, "250-"));
}

static void
test_rewrite_tls_and_size(void **state)
{
	static const char small[] =
	    "250-mx\r\n250-SIZE 1000\r\n250 STARTTLS\r\n";
	static const char nosize[] = "250-mx\r\n250 PIPELINING\r\n";
	char		 out[512];
	ssize_t		 n;
	unsigned	 seen;

	n = ehlo_for_client(small, strlen(small), 5000, 1, out, sizeof(out),
	    &seen);
	assert_true(n > 0);
	out[n] = '\0';
	/* The destination's smaller SIZE wins; our STARTTLS is offered. */
	assert_non_null(strstr(out, "SIZE 1000\r\n"));
	assert_non_null(strstr(out, "STARTTLS"));
	n = ehlo_for_client(nosize, strlen(nosize), 5000, 0, out, sizeof(out),
	    &seen);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "SIZE 5000\r\n"));
	assert_false(seen & SMTP_EXT_STARTTLS);
	/* Not a 250 reply: refused, the caller relays it unchanged. */
	assert_true(ehlo_for_client("502 no\r\n", 8, 5000, 0, out,
	    sizeof(out), &seen) < 0);
}

static void
test_banner_host(void **state)
{
	static const struct {
		const char	*text;
		const char	*host;
	} t[] = {
		{ "mx.example.com ESMTP Postfix", "mx.example.com" },
		{ "mail-01.example.org", "mail-01.example.org" },
		{ "smtp-sink ESMTP", NULL },		/* no dot */
		{ "192.0.2.1 ESMTP", NULL },		/* an address */
		{ "[192.0.2.1] ESMTP", NULL },
		{ ".example.com x", NULL },
		{ "example.com. x", NULL },
		{ "evil\x01.example x", NULL },
		{ "", NULL },
		{ " ESMTP", NULL },
	};
	char	 out[256];
	size_t	 i, n;

	for (i = 0; i < WARP_NELEM(t); i++) {
		n = ehlo_banner_host(t[i].text, strlen(t[i].text), out,
		    sizeof(out));
		if (t[i].host == NULL)
			assert_int_equal(n, 0);
		else {
			assert_int_equal(n, strlen(t[i].host));
			assert_string_equal(out, t[i].host);
		}
	}
	/* Too long for the output buffer. */
	assert_int_equal(ehlo_banner_host("mx.example.com", 14, out, 5), 0);
}

static void
test_first_line(void **state)
{
	char	 out[128];
	size_t	 n;

	n = ehlo_first_line(sink, strlen(sink), out, sizeof(out));
	assert_mem_str(out, n, "250 mx.example.net\r\n");
	n = ehlo_first_line("250 solo", 8, out, sizeof(out));
	assert_mem_str(out, n, "250 solo\r\n");
	assert_int_equal(ehlo_first_line("garbage\r\n", 9, out, sizeof(out)),
	    0);
	assert_int_equal(ehlo_first_line(sink, strlen(sink), out, 8), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_rewrite_tls_and_size),
		cmocka_unit_test(test_banner_host),
		cmocka_unit_test(test_first_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
