/*
 * test_log.c -- log_sanitize()/log_printable(): what a peer's bytes look
 * like by the time they reach a log line, and log level parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

#include "log.h"

static const struct {
	const char	*in;
	size_t		 inlen;
	size_t		 dstsz;
	const char	*want;
} sanitize_cases[] = {
	{ "plain text", 10, 64, "plain text" },
	{ "", 0, 64, "" },
	{ "a\r\nb", 4, 64, "a\\r\\nb" },
	{ "tab\there", 8, 64, "tab\\there" },
	{ "back\\slash", 10, 64, "back\\\\slash" },
	{ "nul\0byte", 8, 64, "nul\\x00byte" },
	{ "\x01\x1f\x7f", 3, 64, "\\x01\\x1f\\x7f" },
	{ "\xc3\xa9t\xc3\xa9", 5, 64, "\\xc3\\xa9t\\xc3\\xa9" },
	{ "\xff", 1, 64, "\\xff" },
	/* Exactly fits: 9 characters in 10 bytes, no "...". */
	{ "123456789", 9, 10, "123456789" },
	/* One too many: cut, and the cut is marked. */
	{ "1234567890", 10, 10, "123456..." },
	{ "abcdefghijklmnop", 16, 8, "abcd..." },
	/* An escape is never split by the cut. */
	{ "abc\x01xyzzy", 9, 10, "abc..." },
	{ "ab\ncdefgh", 9, 10, "ab\\ncd..." },
	/* Tiny buffers. */
	{ "abcdef", 6, 4, "..." },
	{ "abcdef", 6, 3, "ab" },
	{ "abcdef", 6, 1, "" },
	{ "a", 1, 2, "a" },
	{ "\n", 1, 2, "" },
};

static void
test_sanitize(void **state)
{
	char	 buf[128];
	size_t	 i, n;

	for (i = 0; i < WARP_NELEM(sanitize_cases); i++) {
		memset(buf, 'Z', sizeof(buf));
		n = log_sanitize(buf, sanitize_cases[i].dstsz,
		    sanitize_cases[i].in, sanitize_cases[i].inlen);
		if (strcmp(buf, sanitize_cases[i].want) != 0)
			fail_msg("row %zu: got '%s' want '%s'", i, buf,
			    sanitize_cases[i].want);
		assert_int_equal(n, strlen(buf));
		assert_true(n < sanitize_cases[i].dstsz);
		/* Nothing written past dstsz. */
		assert_int_equal(buf[sanitize_cases[i].dstsz], 'Z');
	}
	assert_int_equal(log_sanitize(buf, 0, "abc", 3), 0);
}

/* Every byte value, long input: output is printable and bounded. */
static void
test_sanitize_all_bytes(void **state)
{
	unsigned char	 in[2048];
	char		 out[LOG_PRINTABLE_MAX];
	size_t		 i, n;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	n = log_sanitize(out, sizeof(out), in, sizeof(in));
	assert_true(n <= sizeof(out) - 1);
	for (i = 0; i < n; i++)
		assert_true(out[i] >= 0x20 && out[i] < 0x7f);
	assert_string_equal(out + n - 3, "...");
}

static void
test_printable_ring(void **state)
{
	const char	*a, *b;
	char		 big[1000];

	a = log_printable("one\r\n", 5);
	b = log_printable("two", 3);
	/* Both usable in one printf call. */
	assert_string_equal(a, "one\\r\\n");
	assert_string_equal(b, "two");
	assert_ptr_not_equal(a, b);
	memset(big, 'x', sizeof(big));
	a = log_printable(big, sizeof(big));
	assert_int_equal(strlen(a), LOG_PRINTABLE_MAX - 1);
	assert_string_equal(a + strlen(a) - 3, "...");
}

static void
test_levels(void **state)
{
	int	 old = log_getlevel();

	assert_int_equal(log_level_parse("error"), LOG_ERR);
	assert_int_equal(log_level_parse("warning"), LOG_WARNING);
	assert_int_equal(log_level_parse("notice"), LOG_NOTICE);
	assert_int_equal(log_level_parse("info"), LOG_INFO);
	assert_int_equal(log_level_parse("DEBUG"), LOG_DEBUG);
	assert_int_equal(log_level_parse("loud"), -1);
	log_setlevel(LOG_DEBUG);
	assert_int_equal(log_getlevel(), LOG_DEBUG);
	log_setlevel(old);
	log_init("warp-test", 1, 0);
	assert_string_equal(log_procname(), "warp-test");
}

/* Capture what the logger writes to stderr. */
static void
test_stderr_lines(void **state)
{
	char	 path[] = "/tmp/warp-test-log.XXXXXX", want[128], *buf;
	int	 fd, saved, old = log_getlevel();

	assert_true((fd = mkstemp(path)) != -1);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	setenv("JOURNAL_STREAM", "1:1", 1);	/* no time stamp */
	log_init("warp-test", 1, 0);
	log_setlevel(LOG_INFO);
	log_info("hello %d", 42);
	log_debug("not shown");
	log_setlevel(LOG_DEBUG);
	log_debug("shown");
	errno = ENOENT;
	log_warn("open %s", "x");
	log_warnx("plain");
	log_notice("note");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	unsetenv("JOURNAL_STREAM");
	log_setlevel(old);

	assert_non_null(buf = util_read_file(path, 4096, NULL));
	unlink(path);
	snprintf(want, sizeof(want), "warp-test[%ld]: info: hello 42\n"
	    "warp-test[%ld]: debug: shown\n", (long)getpid(), (long)getpid());
	assert_int_equal(strncmp(buf, want, strlen(want)), 0);
	assert_null(strstr(buf, "not shown"));
	assert_non_null(strstr(buf, "]: warning: open x: No such file or "
	    "directory\n"));
	assert_non_null(strstr(buf, "]: warning: plain\n"));
	assert_non_null(strstr(buf, "]: notice: note\n"));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_sanitize_all_bytes),
		cmocka_unit_test(test_printable_ring),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_stderr_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
