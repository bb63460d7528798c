/*
 * test_addr.c -- parsing and printing socket addresses: IPv4, IPv6, any,
 * refused forms, IPv4-mapped unmapping and round trips through addr_str().
 */
#include <arpa/inet.h>

#include "unit.h"

#include "addr.h"

static const struct {
	const char	*in;
	int		 ok;
	int		 family;
	const char	*str;		/* addr_str() of the result */
	int		 any;
} parse_cases[] = {
	{ "1.2.3.4:25", 1, AF_INET, "1.2.3.4:25", 0 },
	{ "127.0.0.1:10025", 1, AF_INET, "127.0.0.1:10025", 0 },
	{ "0.0.0.0:1", 1, AF_INET, "0.0.0.0:1", 1 },
	{ "*:25", 1, AF_INET, "0.0.0.0:25", 1 },
	{ "[::1]:25", 1, AF_INET6, "[::1]:25", 0 },
	{ "[::]:25", 1, AF_INET6, "[::]:25", 1 },
	{ "[2001:DB8::1]:65535", 1, AF_INET6, "[2001:db8::1]:65535", 0 },
	{ "[::ffff:1.2.3.4]:25", 1, AF_INET6, "[::ffff:1.2.3.4]:25", 0 },
	{ "1.2.3.4:0", 1, AF_INET, "1.2.3.4:0", 0 },
	{ "255.255.255.255:65535", 1, AF_INET, "255.255.255.255:65535", 0 },
	{ "10.0.100.9:10025", 1, AF_INET, "10.0.100.9:10025", 0 },
	{ "[fe80::1:2]:9", 1, AF_INET6, "[fe80::1:2]:9", 0 },
	{ "1.2.3.4", 0, 0, NULL, 0 },
	{ "1.2.3.4:", 0, 0, NULL, 0 },
	{ "1.2.3.4:65536", 0, 0, NULL, 0 },
	{ "1.2.3.4:-1", 0, 0, NULL, 0 },
	{ "1.2.3.4:2x", 0, 0, NULL, 0 },
	{ "1.2.3.4:000025", 0, 0, NULL, 0 },
	{ "1.2.3:25", 0, 0, NULL, 0 },
	{ "256.1.1.1:25", 0, 0, NULL, 0 },
	{ "::1:25", 0, 0, NULL, 0 },
	{ "[::1]25", 0, 0, NULL, 0 },
	{ "[::1]:", 0, 0, NULL, 0 },
	{ "[1.2.3.4]:25", 0, 0, NULL, 0 },
	{ "[*]:25", 0, 0, NULL, 0 },
	{ "localhost:25", 0, 0, NULL, 0 },
	{ ":25", 0, 0, NULL, 0 },
	{ "", 0, 0, NULL, 0 },
};

static void
test_parse(void **state)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 buf[ADDR_STRLEN], again[ADDR_STRLEN];
	size_t			 i;
	int			 rv;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		len = 0;
		rv = addr_parse(parse_cases[i].in, &ss, &len);
		if (!parse_cases[i].ok) {
			if (rv != -1)
				fail_msg("row %zu '%s' accepted", i,
				    parse_cases[i].in);
			continue;
		}
		if (rv != 0)
			fail_msg("row %zu '%s' refused", i, parse_cases[i].in);
		assert_int_equal(ss.ss_family, parse_cases[i].family);
		assert_int_equal(len, addr_len((struct sockaddr *)&ss));
		assert_string_equal(addr_str((struct sockaddr *)&ss, buf),
		    parse_cases[i].str);
		assert_int_equal(addr_is_any((struct sockaddr *)&ss),
		    parse_cases[i].any);
		/* Round trip: what we print, we parse back to the same. */
		{
			struct sockaddr_storage	 ss2;
			socklen_t		 len2;

			assert_int_equal(addr_parse(buf, &ss2, &len2), 0);
			assert_true(addr_equal((struct sockaddr *)&ss,
			    (struct sockaddr *)&ss2));
			addr_str((struct sockaddr *)&ss2, again);
			assert_string_equal(buf, again);
		}
	}
}

static void
test_parse_ip(void **state)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 buf[ADDR_STRLEN];

	assert_int_equal(addr_parse_ip("10.0.0.1", &ss, &len), 0);
	assert_int_equal(addr_port((struct sockaddr *)&ss), 0);
	assert_string_equal(addr_ip_str((struct sockaddr *)&ss, buf),
	    "10.0.0.1");
	assert_int_equal(addr_parse_ip("2001:db8::2", &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_string_equal(addr_ip_str((struct sockaddr *)&ss, buf),
	    "2001:db8::2");
	assert_int_equal(addr_parse_ip("[::1]", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(addr_parse_ip("10.0.0.1:25", &ss, &len), -1);
	assert_int_equal(addr_parse_ip("[10.0.0.1]", &ss, &len), -1);
	assert_int_equal(addr_parse_ip("host", &ss, &len), -1);
	assert_int_equal(addr_parse_ip("", &ss, &len), -1);
}

static void
test_unmap(void **state)
{
	struct sockaddr_storage	 ss, v4;
	socklen_t		 len, len4;
	char			 buf[ADDR_STRLEN];

	assert_int_equal(addr_parse("[::ffff:192.0.2.7]:2525", &ss, &len), 0);
	addr_unmap(&ss, &len);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_string_equal(addr_str((struct sockaddr *)&ss, buf),
	    "192.0.2.7:2525");
	assert_int_equal(addr_parse("192.0.2.7:2525", &v4, &len4), 0);
	assert_true(addr_equal((struct sockaddr *)&ss,
	    (struct sockaddr *)&v4));

	/* Not mapped, or not IPv6: untouched. */
	assert_int_equal(addr_parse("[2001:db8::1]:25", &ss, &len), 0);
	addr_unmap(&ss, &len);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	addr_unmap(&v4, &len4);
	assert_string_equal(addr_str((struct sockaddr *)&v4, buf),
	    "192.0.2.7:2525");
}

static void
test_ports_and_equal(void **state)
{
	struct sockaddr_storage	 a, b;
	socklen_t		 la, lb;

	assert_int_equal(addr_parse("[::1]:25", &a, &la), 0);
	assert_int_equal(addr_parse("[::1]:26", &b, &lb), 0);
	assert_false(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	addr_set_port((struct sockaddr *)&b, 25);
	assert_int_equal(addr_port((struct sockaddr *)&b), 25);
	assert_true(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_int_equal(addr_parse("127.0.0.1:25", &b, &lb), 0);
	assert_false(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
}

static void
test_resolve(void **state)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 err[128], buf[ADDR_STRLEN];

	/* Numeric forms never reach the resolver. */
	assert_int_equal(addr_resolve("[::1]:587", &ss, &len, err,
	    sizeof(err)), 0);
	assert_string_equal(addr_str((struct sockaddr *)&ss, buf), "[::1]:587");
	/* "localhost" comes from /etc/hosts, no network needed. */
	assert_int_equal(addr_resolve("localhost:25", &ss, &len, err,
	    sizeof(err)), 0);
	assert_int_equal(addr_port((struct sockaddr *)&ss), 25);
	assert_int_equal(addr_resolve("no-port", &ss, &len, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "no-port"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_ip),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_ports_and_equal),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
