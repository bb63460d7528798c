/*
 * test_util.c -- ULIDs, RFC 3339 time stamps, bounded string copies,
 * util_read_file() and the allocators.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

#include "util.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The 48-bit millisecond time back out of a ULID's first 10 characters. */
static uint64_t
ulid_time(const char *u)
{
	uint64_t	 t = 0;
	int		 i;

	for (i = 0; i < 10; i++)
		t = t * 32 + (uint64_t)(strchr(crockford, u[i]) - crockford);
	return t;
}

static void
test_ulid_format(void **state)
{
	char		 u[WARP_ULID_LEN + 1];
	uint64_t	 before, after, t;
	size_t		 i;

	before = (uint64_t)(warp_now_us() / 1000);
	warp_ulid(u);
	after = (uint64_t)(warp_now_us() / 1000);
	assert_int_equal(strlen(u), 26);
	for (i = 0; i < 26; i++)
		assert_non_null(strchr(crockford, u[i]));
	/* 128 bits in 130: the first character holds only 3 bits. */
	assert_true(u[0] <= '7');
	t = ulid_time(u);
	assert_true(t >= before && t <= after);
}

static void
test_ulid_monotonic(void **state)
{
	char	 prev[WARP_ULID_LEN + 1], cur[WARP_ULID_LEN + 1];
	int	 i, same_ms = 0;

	warp_ulid(prev);
	for (i = 0; i < 20000; i++) {
		warp_ulid(cur);
		if (strcmp(prev, cur) >= 0)
			fail_msg("not increasing: %s then %s", prev, cur);
		if (memcmp(prev, cur, 10) == 0)
			same_ms++;
		memcpy(prev, cur, sizeof(cur));
	}
	/* 20000 ids take far less than 20000 ms: many share a millisecond. */
	assert_true(same_ms > 0);
}

static const struct {
	int64_t		 us;
	const char	*want;
} time_cases[] = {
	{ 0, "1970-01-01T00:00:00.000000Z" },
	{ 1, "1970-01-01T00:00:00.000001Z" },
	{ 1700000000123456LL, "2023-11-14T22:13:20.123456Z" },
	{ 951782400000000LL, "2000-02-29T00:00:00.000000Z" },
	{ 1798761599999999LL, "2026-12-31T23:59:59.999999Z" },
	{ -1, "1969-12-31T23:59:59.999999Z" },
};

static void
test_rfc3339(void **state)
{
	char	 out[32];
	size_t	 i;

	for (i = 0; i < WARP_NELEM(time_cases); i++) {
		warp_time_rfc3339(time_cases[i].us, out);
		assert_string_equal(out, time_cases[i].want);
	}
}

static void
test_put_uint(void **state)
{
	char	 buf[32], *e;

	e = warp_put_uint(buf, 0);
	*e = '\0';
	assert_string_equal(buf, "0");
	e = warp_put_uint(buf, 65535);
	*e = '\0';
	assert_string_equal(buf, "65535");
	e = warp_put_uint(buf, UINT64_MAX);
	assert_int_equal(e - buf, 20);
	*e = '\0';
	assert_string_equal(buf, "18446744073709551615");
}

static void
test_strlcpy(void **state)
{
	char	 buf[8];

	assert_int_equal(warp_strlcpy(buf, "abc", sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(warp_strlcpy(buf, "abcdefghij", sizeof(buf)), 10);
	assert_string_equal(buf, "abcdefg");
	assert_int_equal(warp_strlcpy(buf, "xyz", 1), 3);
	assert_string_equal(buf, "");
	buf[0] = 'q';
	assert_int_equal(warp_strlcpy(buf, "xyz", 0), 3);
	assert_int_equal(buf[0], 'q');

	warp_strlcpy(buf, "ab", sizeof(buf));
	assert_int_equal(warp_strlcat(buf, "cd", sizeof(buf)), 4);
	assert_string_equal(buf, "abcd");
	assert_int_equal(warp_strlcat(buf, "efghij", sizeof(buf)), 10);
	assert_string_equal(buf, "abcdefg");
	assert_int_equal(warp_strlcat(buf, "z", 3), 3 + 1);
}

static void
test_strncaseeq(void **state)
{
	assert_true(warp_strncaseeq("EHLO x", 4, "ehlo"));
	assert_false(warp_strncaseeq("EHLO x", 4, "ehl"));
	assert_false(warp_strncaseeq("EHL", 3, "ehlo"));
	assert_true(warp_strncaseeq("", 0, ""));
}

static void
test_alloc(void **state)
{
	char	*s;
	int	*a;

	s = xasprintf("%s-%d", "x", 42);
	assert_string_equal(s, "x-42");
	free(s);
	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = xmemdup("a\0b", 3);
	assert_memory_equal(s, "a\0b", 3);
	free(s);
	a = xcalloc(4, sizeof(*a));
	assert_int_equal(a[3], 0);
	a = xreallocarray(a, 100, sizeof(*a));
	a[99] = 1;
	free(a);
	assert_true(warp_mono_us() > 0);
}

static void
test_read_file(void **state)
{
	char	 path[] = "/tmp/warp-test-util.XXXXXX", *buf;
	size_t	 len;
	int	 fd;

	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, "hello\0world", 11), 11);
	close(fd);
	buf = util_read_file(path, 100, &len);
	assert_non_null(buf);
	assert_int_equal(len, 11);
	assert_memory_equal(buf, "hello\0world", 11);
	assert_int_equal(buf[11], '\0');
	free(buf);
	errno = 0;
	assert_null(util_read_file(path, 10, &len));
	assert_int_equal(errno, EFBIG);
	buf = util_read_file(path, 11, NULL);
	assert_non_null(buf);
	free(buf);
	unlink(path);
	assert_null(util_read_file(path, 10, &len));
	assert_int_equal(errno, ENOENT);
	assert_null(util_read_file("/tmp", 10, &len));
	/* Not regular, no size known: read until EOF within the bound. */
	buf = util_read_file("/dev/null", 10, &len);
	assert_non_null(buf);
	assert_int_equal(len, 0);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ulid_format),
		cmocka_unit_test(test_ulid_monotonic),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_put_uint),
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_strncaseeq),
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_read_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
