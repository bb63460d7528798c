/*
 * test_proxyd_origdst.c -- warp-proxyd's loop guard: a connection whose
 * original destination is one of warp's own listeners (exactly, through
 * a wildcard listener, IPv4-mapped, or simply not redirected) is refused;
 * redirected traffic to other hosts and ports is not.
 */
#include <string.h>

#include "unit.h"
#include "addr.h"
#include "../../warp-proxyd/proxyd.h"

static struct sockaddr_storage
sa(const char *s)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;

	assert_int_equal(addr_parse(s, &ss, &len), 0);
	return ss;
}

#define SA(x)	((struct sockaddr *)&(x))

static void
test_loop_guard(void **state)
{
	struct proxyd_listener	 l[3];
	struct sockaddr_storage	 o, loc;

	memset(l, 0, sizeof(l));
	l[0].addr = sa("127.0.0.1:10025");
	l[1].addr = sa("*:10026");
	l[2].addr = sa("[::]:10025");

	/* Redirected: original 192.0.2.7:25, arrived on 10.0.0.1:10025. */
	o = sa("192.0.2.7:25");
	loc = sa("10.0.0.1:10025");
	assert_false(origdst_is_loop(SA(o), SA(loc), l, 3));
	o = sa("[2001:db8::7]:25");
	loc = sa("[2001:db8::1]:10025");
	assert_false(origdst_is_loop(SA(o), SA(loc), l, 3));

	/* Direct connection: SO_ORIGINAL_DST reports our own address. */
	o = sa("127.0.0.1:10025");
	loc = sa("127.0.0.1:10025");
	assert_true(origdst_is_loop(SA(o), SA(loc), l, 3));
	o = sa("10.0.0.1:10026");
	loc = sa("10.0.0.1:10026");
	assert_true(origdst_is_loop(SA(o), SA(loc), l, 3));
	/* Exact listener match, even from another local address. */
	o = sa("127.0.0.1:10025");
	loc = sa("10.0.0.1:10025");
	assert_true(origdst_is_loop(SA(o), SA(loc), l, 3));
	/* IPv4-mapped original destination. */
	o = sa("[::ffff:127.0.0.1]:10025");
	loc = sa("127.0.0.1:10025");
	assert_true(origdst_is_loop(SA(o), SA(loc), l, 3));
	/* Same port as a wildcard listener on another host: not us. */
	o = sa("192.0.2.7:10026");
	loc = sa("10.0.0.1:10026");
	assert_false(origdst_is_loop(SA(o), SA(loc), l, 3));
	/* TPROXY (no local address to compare): listener port and a
	 * wildcard listener make it ours. */
	o = sa("192.0.2.7:25");
	assert_false(origdst_is_loop(SA(o), NULL, l, 3));
	o = sa("192.0.2.7:10026");
	assert_true(origdst_is_loop(SA(o), NULL, l, 3));
}

static void
test_outbound(void **state)
{
	static char	*one[] = { "192.0.2.10", NULL };
	static char	*two[] = { "192.0.2.10", "2001:db8::10", NULL };
	static char	*any[] = { "0.0.0.0", "::", NULL };
	static char	*dup4[] = { "192.0.2.10", "192.0.2.11", NULL };
	static char	*bad[] = { "mx.example.com", NULL };
	struct sockaddr_storage	 o4, o6;
	int			 h4, h6;
	char			 err[256];

	assert_int_equal(proxyd_parse_outbound(one, &o4, &h4, &o6, &h6, err,
	    sizeof(err)), 0);
	assert_true(h4);
	assert_false(h6);
	assert_int_equal(proxyd_parse_outbound(two, &o4, &h4, &o6, &h6, err,
	    sizeof(err)), 0);
	assert_true(h4 && h6);
	assert_int_equal(o6.ss_family, AF_INET6);
	assert_int_equal(proxyd_parse_outbound(any, &o4, &h4, &o6, &h6, err,
	    sizeof(err)), 0);
	assert_false(h4 || h6);
	assert_int_equal(proxyd_parse_outbound(dup4, &o4, &h4, &o6, &h6, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "more than one IPv4"));
	assert_int_equal(proxyd_parse_outbound(bad, &o4, &h4, &o6, &h6, err,
	    sizeof(err)), -1);
}

static void
test_config(void **state)
{
	static const struct {
		const char	*text;
		int		 ok;
	} t[] = {
		{ "destination = transparent\n", 1 },
		{ "destination = 127.0.0.1:2525\n", 1 },
		{ "destination = [::1]:2525\n", 1 },
		{ "destination = nowhere\n", 0 },
		{ "filter = yes\n", 1 },
		{ "filter_failure = sometimes\n", 0 },
		{ "connect_mode = late\n", 0 },
		{ "client_tls_cert = /x.pem\n", 0 },
		{ "outbound_ip = 192.0.2.1, 2001:db8::1\n", 1 },
		{ "outbound_ip = 192.0.2.1 192.0.2.2\n", 0 },
		{ "listen = 127.0.0.1:10025, [::1]:10025\n", 1 },
		{ "outbound_tls = sometimes\n", 0 },
	};
	size_t	 i;

	for (i = 0; i < WARP_NELEM(t); i++) {
		struct conf_diag	 d;
		struct conf		*cf;

		memset(&d, 0, sizeof(d));
		cf = conf_load_buffer(proxyd_keys, "t.conf", t[i].text,
		    strlen(t[i].text), &d);
		if (cf != NULL) {
			proxyd_check(cf, &d);
			if (d.nerrors == 0) {
				char err[256];
				struct proxyd_cfg *pc;

				pc = proxyd_cfg_new(cf, err, sizeof(err));
				assert_non_null(pc);
				proxyd_cfg_unref(pc);
			}
			conf_free(cf);
		}
		if ((d.nerrors == 0) != t[i].ok)
			fail_msg("%s: expected %s", t[i].text,
			    t[i].ok ? "ok" : "an error");
		conf_diag_free(&d);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_guard),
		cmocka_unit_test(test_outbound),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
