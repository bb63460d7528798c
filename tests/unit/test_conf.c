/*
 * test_conf.c -- the configuration parser: value types, ranges, syntax,
 * the warp.conf/<daemon>.conf rule, duplicates, -o overrides, the secret
 * file permission check, origins and the generated reference.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

#include "conf.h"
#include "util.h"

static const struct conf_key test_keys[] = {
	{ "user", CONF_STR, "warp-test", 0, 0, NULL, 0, "account" },
	{ "limit", CONF_SIZE, "10m", 1, 1024 * 1024 * 1024, NULL, 0, "size" },
	{ "timeout", CONF_DURATION, "30s", 100, 86400000, NULL, CONF_RELOAD,
	  "deadline" },
	{ "retries", CONF_INT, "3", 0, 10, NULL, 0, "tries" },
	{ "offset", CONF_INT, "-5", 0, 0, NULL, 0, "no range" },
	{ "tls", CONF_ENUM, "may", 0, 0, "none|may|encrypt|verify", 0, "tls" },
	{ "verbose", CONF_BOOL, "no", 0, 0, NULL, 0, "chatty" },
	{ "sinks", CONF_LIST, "file, sqlite", 0, 0, NULL, 0, "where" },
	{ "spool", CONF_PATH, "/var/spool/x", 0, 0, NULL, 0, "spool" },
	{ "listen", CONF_ADDR, "127.0.0.1:10025", 0, 0, NULL, 0, "listen" },
	{ "password", CONF_STR, "", 0, 0, NULL, CONF_SECRET, "secret" },
	CONF_KEY_END
};

static struct conf *
load(const char *name, const char *text, struct conf_diag *d)
{
	memset(d, 0, sizeof(*d));
	return conf_load_buffer(test_keys, name, text, strlen(text), d);
}

static void
test_defaults(void **state)
{
	struct conf_diag	 d;
	struct conf		*cf;
	size_t			 n;
	char *const		*l;

	cf = load("warp-test.conf", "", &d);
	assert_non_null(cf);
	assert_int_equal(d.nerrors, 0);
	assert_string_equal(conf_str(cf, "user"), "warp-test");
	assert_int_equal(conf_size(cf, "limit"), 10 * 1024 * 1024);
	assert_int_equal(conf_duration_ms(cf, "timeout"), 30000);
	assert_int_equal(conf_int(cf, "retries"), 3);
	assert_int_equal(conf_int(cf, "offset"), -5);
	assert_string_equal(conf_str(cf, "tls"), "may");
	assert_false(conf_bool(cf, "verbose"));
	l = conf_list(cf, "sinks", &n);
	assert_int_equal(n, 2);
	assert_string_equal(l[0], "file");
	assert_string_equal(l[1], "sqlite");
	assert_null(l[2]);
	assert_string_equal(conf_str(cf, "socket_dir"), "/run/warp");
	assert_string_equal(conf_str(cf, "log_level"), "info");
	assert_true(conf_bool(cf, "syslog"));
	assert_string_equal(conf_origin(cf, "user"), "default");
	conf_free(cf);
	conf_diag_free(&d);
}

/* One assignment per row: accepted (and read back) or refused. */
static const struct {
	const char	*line;
	int		 ok;
	const char	*key;
	const char	*want;	/* ok: value read back as text; else error */
} value_cases[] = {
	{ "verbose = yes", 1, "verbose", "1" },
	{ "verbose = On", 1, "verbose", "1" },
	{ "verbose = TRUE", 1, "verbose", "1" },
	{ "verbose = 1", 1, "verbose", "1" },
	{ "verbose = no", 1, "verbose", "0" },
	{ "verbose = off", 1, "verbose", "0" },
	{ "verbose = false", 1, "verbose", "0" },
	{ "verbose = 0", 1, "verbose", "0" },
	{ "verbose = maybe", 0, NULL, "test.conf:1: verbose: 'maybe' is not a boolean" },
	{ "verbose =", 0, NULL, "verbose: '' is not a boolean" },
	{ "limit = 1", 1, "limit", "1" },
	{ "limit = 10240000", 1, "limit", "10240000" },
	{ "limit = 2k", 1, "limit", "2048" },
	{ "limit = 2K", 1, "limit", "2048" },
	{ "limit = 3m", 1, "limit", "3145728" },
	{ "limit = 1g", 1, "limit", "1073741824" },
	{ "limit = 10x", 0, NULL, "test.conf:1: limit: '10x' is not a size (use k, m or g)" },
	{ "limit = k", 0, NULL, "is not a size" },
	{ "limit = 1kk", 0, NULL, "is not a size" },
	{ "limit = -1", 0, NULL, "is not a size" },
	{ "limit = 0", 0, NULL, "below the minimum 1" },
	{ "limit = 2g", 0, NULL, "above the maximum 1g" },
	{ "limit = 99999999999999999999999", 0, NULL, "too large" },
	{ "timeout = 5", 1, "timeout", "5000" },
	{ "timeout = 250ms", 1, "timeout", "250" },
	{ "timeout = 2s", 1, "timeout", "2000" },
	{ "timeout = 3m", 1, "timeout", "180000" },
	{ "timeout = 2h", 1, "timeout", "7200000" },
	{ "timeout = 1d", 1, "timeout", "86400000" },
	{ "timeout = 99ms", 0, NULL, "below the minimum 100ms" },
	{ "timeout = 2d", 0, NULL, "above the maximum 1d" },
	{ "timeout = 5w", 0, NULL, "'5w' is not a duration" },
	{ "timeout = 1.5s", 0, NULL, "is not a duration" },
	{ "retries = 0", 1, "retries", "0" },
	{ "retries = 10", 1, "retries", "10" },
	{ "retries = 11", 0, NULL, "retries: '11' is above the maximum 10" },
	{ "retries = -1", 0, NULL, "below the minimum 0" },
	{ "retries = ten", 0, NULL, "'ten' is not a whole number" },
	{ "offset = -9223372036854775808", 1, "offset", "-9223372036854775808" },
	{ "offset = 9223372036854775808", 0, NULL, "too large" },
	{ "tls = verify", 1, "tls", "verify" },
	{ "tls = ENCRYPT", 1, "tls", "encrypt" },
	{ "tls = sometimes", 0, NULL, "'sometimes' is not one of none, may, encrypt, verify" },
	{ "tls = ma", 0, NULL, "is not one of" },
	{ "sinks = file,sqlite , mysql slack", 1, "sinks", "file|sqlite|mysql|slack" },
	{ "sinks =", 1, "sinks", "" },
	{ "listen = [::1]:25, *:26 1.2.3.4:0 mx.example.net:25", 1, "listen",
	  "[::1]:25|*:26|1.2.3.4:0|mx.example.net:25" },
	{ "listen = 1.2.3.4", 0, NULL, "'1.2.3.4' is not an address" },
	{ "listen = ::1:25", 0, NULL, "is not an address" },
	{ "listen = 1.2.3.4:70000", 0, NULL, "is not an address" },
	{ "spool = relative/dir", 1, "spool", "relative/dir" },
	{ "user =", 1, "user", "" },
	{ "user = a b  c", 1, "user", "a b  c" },
	{ "log_level = debug", 1, "log_level", "debug" },
	{ "log_level = loud", 0, NULL, "log_level: 'loud' is not one of error, warning, notice, info, debug" },
	{ "syslog = no", 1, "syslog", "0" },
	{ "socket_dir = /tmp/x", 1, "socket_dir", "/tmp/x" },
	{ "nosuchkey = 1", 0, NULL, "test.conf:1: nosuchkey: unknown key" },
	{ "just words", 0, NULL, "test.conf:1: expected 'name = value'" },
	{ "= 5", 0, NULL, "missing key name" },
};

static void
value_text(const struct conf *cf, const char *key, char *buf, size_t sz)
{
	char *const	*l;
	size_t		 n, i;

	if (strcmp(key, "verbose") == 0 || strcmp(key, "syslog") == 0)
		snprintf(buf, sz, "%d", conf_bool(cf, key));
	else if (strcmp(key, "limit") == 0)
		snprintf(buf, sz, "%llu", (unsigned long long)conf_size(cf, key));
	else if (strcmp(key, "timeout") == 0)
		snprintf(buf, sz, "%lld", (long long)conf_duration_ms(cf, key));
	else if (strcmp(key, "retries") == 0 || strcmp(key, "offset") == 0)
		snprintf(buf, sz, "%lld", (long long)conf_int(cf, key));
	else if (strcmp(key, "sinks") == 0 || strcmp(key, "listen") == 0) {
		l = conf_list(cf, key, &n);
		buf[0] = '\0';
		for (i = 0; i < n; i++) {
			if (i > 0)
				warp_strlcat(buf, "|", sz);
			warp_strlcat(buf, l[i], sz);
		}
		assert_null(l[n]);
	} else
		warp_strlcpy(buf, conf_str(cf, key), sz);
}

static void
test_values(void **state)
{
	struct conf_diag	 d;
	struct conf		*cf;
	char			 got[512];
	size_t			 i;

	for (i = 0; i < WARP_NELEM(value_cases); i++) {
		cf = load("test.conf", value_cases[i].line, &d);
		if (value_cases[i].ok) {
			if (cf == NULL || d.nerrors != 0)
				fail_msg("row %zu '%s' refused: %s", i,
				    value_cases[i].line,
				    d.nerrors ? d.errors[0] : "?");
			value_text(cf, value_cases[i].key, got, sizeof(got));
			if (strcmp(got, value_cases[i].want) != 0)
				fail_msg("row %zu '%s': got '%s' want '%s'", i,
				    value_cases[i].line, got,
				    value_cases[i].want);
			assert_string_equal(conf_origin(cf,
			    value_cases[i].key), "test.conf:1");
		} else {
			if (cf != NULL || d.nerrors != 1)
				fail_msg("row %zu '%s' accepted (%zu errors)",
				    i, value_cases[i].line, d.nerrors);
			if (strstr(d.errors[0], value_cases[i].want) == NULL)
				fail_msg("row %zu: error '%s' lacks '%s'", i,
				    d.errors[0], value_cases[i].want);
		}
		conf_free(cf);
		conf_diag_free(&d);
	}
}

static void
test_parsers(void **state)
{
	char		 err[256];
	uint64_t	 u;
	int64_t		 v;
	int		 b;

	assert_int_equal(conf_parse_bool("Yes", &b, err, sizeof(err)), 0);
	assert_int_equal(b, 1);
	assert_int_equal(conf_parse_bool("nope", &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'nope'"));
	assert_int_equal(conf_parse_size("18446744073709551615", &u, err,
	    sizeof(err)), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(conf_parse_size("18446744073709551616", &u, err,
	    sizeof(err)), -1);
	assert_int_equal(conf_parse_size("17179869184g", &u, err,
	    sizeof(err)), -1);
	assert_int_equal(conf_parse_size("", &u, err, sizeof(err)), -1);
	assert_int_equal(conf_parse_duration("0", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(conf_parse_duration("10M", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 600000);
	assert_int_equal(conf_parse_duration("s", &v, err, sizeof(err)), -1);
	assert_int_equal(conf_parse_int("+7", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 7);
	assert_int_equal(conf_parse_int("", &v, err, sizeof(err)), -1);
	assert_int_equal(conf_parse_int("7 ", &v, err, sizeof(err)), -1);
}

static const struct {
	const char	*text;
	int		 ok;
	const char	*key, *value, *origin;
	const char	*error;		/* !ok: first error contains */
} syntax_cases[] = {
	{ "# comment\n\n   \nuser = a\n", 1, "user", "a", "t.conf:4", NULL },
	{ "  # indented comment\nuser = a\n", 1, "user", "a", "t.conf:2", NULL },
	{ "user=a", 1, "user", "a", "t.conf:1", NULL },
	{ "user  =   a b   \r\n", 1, "user", "a b", "t.conf:1", NULL },
	{ "user = a,\n  b\n\tc\n", 1, "user", "a, b c", "t.conf:1", NULL },
	{ "user = a\n# between\n  b\nretries = 1\n", 1, "user", "a b",
	  "t.conf:1", NULL },
	{ "user = a#b", 1, "user", "a#b", "t.conf:1", NULL },
	{ "user = a = b", 1, "user", "a = b", "t.conf:1", NULL },
	{ "  user = a\n", 0, NULL, NULL, NULL,
	  "t.conf:1: continuation line" },
	{ "\n\n limit = 10x\n", 0, NULL, NULL, NULL, "t.conf:3: continuation" },
	{ "user = a\nlimit = 10\n  x\n", 0, NULL, NULL, NULL,
	  "t.conf:2: limit: '10 x' is not a size" },
	{ "user = a\nbogus\n", 0, NULL, NULL, NULL,
	  "t.conf:2: expected 'name = value'" },
	{ "user = a\nUser = b\n", 0, NULL, NULL, NULL, "t.conf:2: User: unknown key" },
	{ "user = a\0b\n", 0, NULL, NULL, NULL, "t.conf:1: line holds a NUL" },
};

static void
test_syntax(void **state)
{
	struct conf_diag	 d;
	struct conf		*cf;
	size_t			 i, len;

	for (i = 0; i < WARP_NELEM(syntax_cases); i++) {
		memset(&d, 0, sizeof(d));
		len = strlen(syntax_cases[i].text);
		if (strstr(syntax_cases[i].error ? syntax_cases[i].error : "",
		    "NUL") != NULL)
			len = 12;
		cf = conf_load_buffer(test_keys, "t.conf",
		    syntax_cases[i].text, len, &d);
		if (syntax_cases[i].ok) {
			if (cf == NULL)
				fail_msg("row %zu refused: %s", i, d.errors[0]);
			assert_string_equal(conf_str(cf, syntax_cases[i].key),
			    syntax_cases[i].value);
			assert_string_equal(conf_origin(cf, syntax_cases[i].key),
			    syntax_cases[i].origin);
		} else {
			if (cf != NULL)
				fail_msg("row %zu accepted", i);
			if (strstr(d.errors[0], syntax_cases[i].error) == NULL)
				fail_msg("row %zu: '%s' lacks '%s'", i,
				    d.errors[0], syntax_cases[i].error);
		}
		conf_free(cf);
		conf_diag_free(&d);
	}
}

static void
test_multiple_errors_and_duplicates(void **state)
{
	struct conf_diag	 d;
	struct conf		*cf;

	cf = load("t.conf", "user = a\nuser = b\nretries = 99\nfoo = 1\n", &d);
	assert_null(cf);
	assert_int_equal(d.nerrors, 2);
	assert_non_null(strstr(d.errors[0], "t.conf:3: retries"));
	assert_non_null(strstr(d.errors[1], "t.conf:4: foo: unknown key"));
	assert_int_equal(d.nwarnings, 1);
	assert_non_null(strstr(d.warnings[0], "t.conf:2: user: set again "
	    "(line 1)"));
	conf_diag_free(&d);

	cf = load("t.conf", "user = a\nuser = b\n", &d);
	assert_non_null(cf);
	assert_int_equal(d.nwarnings, 1);
	assert_string_equal(conf_str(cf, "user"), "b");
	assert_string_equal(conf_origin(cf, "user"), "t.conf:2");
	conf_free(cf);
	conf_diag_free(&d);
}

/* ---- files on disk ------------------------------------------------------ */

static char tmpdir[64];

static void
write_file(const char *name, const char *text, mode_t mode)
{
	char	*path = xasprintf("%s/%s", tmpdir, name);
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
	free(path);
}

static void
remove_files(void)
{
	char	*p;

	p = xasprintf("%s/warp.conf", tmpdir);
	unlink(p);
	free(p);
	p = xasprintf("%s/warp-test.conf", tmpdir);
	unlink(p);
	free(p);
}

static int
setup_dir(void **state)
{
	warp_strlcpy(tmpdir, "/tmp/warp-test-conf.XXXXXX", sizeof(tmpdir));
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
	remove_files();
	rmdir(tmpdir);
	return 0;
}

static struct conf *
load_dir(char *const *ov, size_t nov, struct conf_diag *d)
{
	memset(d, 0, sizeof(*d));
	return conf_load(test_keys, tmpdir, "warp-test", ov, nov, d);
}

static void
test_missing_files(void **state)
{
	struct conf_diag	 d;
	struct conf		*cf;

	remove_files();
	cf = load_dir(NULL, 0, &d);
	assert_non_null(cf);
	assert_int_equal(d.nerrors + d.nwarnings, 0);
	assert_string_equal(conf_origin(cf, "user"), "default");
	conf_free(cf);

	cf = conf_load(test_keys, "/nonexistent/warp", "warp-test", NULL, 0,
	    &d);
	assert_non_null(cf);
	conf_free(cf);
}

static void
test_layers(void **state)
{
	struct conf_diag	 d;
	struct conf		*cf;
	char			*want;
	char			*ov[] = { "retries = 7", "log_level=warning" };

	remove_files();
	write_file("warp.conf", "log_level = debug\nsyslog = no\n"
	    "socket_dir = /tmp/s\n", 0644);
	write_file("warp-test.conf", "log_level = error\nretries = 2\n", 0644);
	cf = load_dir(NULL, 0, &d);
	assert_non_null(cf);
	assert_string_equal(conf_str(cf, "log_level"), "error");
	want = xasprintf("%s/warp-test.conf:1", tmpdir);
	assert_string_equal(conf_origin(cf, "log_level"), want);
	free(want);
	want = xasprintf("%s/warp.conf:2", tmpdir);
	assert_string_equal(conf_origin(cf, "syslog"), want);
	free(want);
	assert_false(conf_bool(cf, "syslog"));
	/* The same key in two files is layering, not a duplicate. */
	assert_int_equal(d.nwarnings, 0);
	conf_free(cf);

	cf = load_dir(ov, 2, &d);
	assert_non_null(cf);
	assert_int_equal(conf_int(cf, "retries"), 7);
	assert_string_equal(conf_origin(cf, "retries"), "-o");
	assert_string_equal(conf_str(cf, "log_level"), "warning");
	conf_free(cf);
	conf_diag_free(&d);
}

static void
test_shared_file_rule(void **state)
{
	struct conf_diag	 d;
	struct conf		*cf;
	char			*want;

	remove_files();
	write_file("warp.conf", "socket_dir = /tmp/s\nretries = 2\n", 0644);
	cf = load_dir(NULL, 0, &d);
	assert_null(cf);
	assert_int_equal(d.nerrors, 1);
	want = xasprintf("%s/warp.conf:2: retries: unknown key", tmpdir);
	assert_non_null(strstr(d.errors[0], want));
	free(want);
	conf_diag_free(&d);

	/* Also through conf_load_buffer, keyed on the file name. */
	cf = load("warp.conf", "user = x\n", &d);
	assert_null(cf);
	assert_non_null(strstr(d.errors[0], "warp.conf:1: user: unknown key"));
	conf_diag_free(&d);
}

static void
test_overrides(void **state)
{
	struct conf_diag	 d;
	struct conf		*cf;
	char			*bad[] = { "retries=99", "nokey=1", "novalue",
				    "limit = 5q" };

	remove_files();
	cf = load_dir(bad, WARP_NELEM(bad), &d);
	assert_null(cf);
	assert_int_equal(d.nerrors, 4);
	assert_non_null(strstr(d.errors[0], "-o retries: '99' is above"));
	assert_string_equal(d.errors[1], "-o nokey: unknown key");
	assert_string_equal(d.errors[2], "-o novalue: expected key=value");
	assert_non_null(strstr(d.errors[3], "-o limit: '5q' is not a size"));
	conf_diag_free(&d);
}

static void
test_secret_permissions(void **state)
{
	struct conf_diag	 d;
	struct conf		*cf;
	char			*want;

	remove_files();
	write_file("warp-test.conf", "password = hunter2\n", 0644);
	cf = load_dir(NULL, 0, &d);
	assert_null(cf);
	assert_int_equal(d.nerrors, 1);
	want = xasprintf("%s/warp-test.conf: holds secret key 'password' but "
	    "is accessible by others; chmod o-rwx", tmpdir);
	assert_string_equal(d.errors[0], want);
	free(want);
	conf_diag_free(&d);

	write_file("warp-test.conf", "password = hunter2\n", 0604);
	assert_null(load_dir(NULL, 0, &d));
	conf_diag_free(&d);

	write_file("warp-test.conf", "password = hunter2\n", 0640);
	cf = load_dir(NULL, 0, &d);
	assert_non_null(cf);
	assert_string_equal(conf_str(cf, "password"), "hunter2");
	conf_free(cf);

	write_file("warp-test.conf", "password = hunter2\n", 0600);
	cf = load_dir(NULL, 0, &d);
	assert_non_null(cf);
	conf_free(cf);

	/* A world-readable file without secrets is fine. */
	write_file("warp-test.conf", "user = x\npassword =\n", 0644);
	cf = load_dir(NULL, 0, &d);
	assert_non_null(cf);
	conf_free(cf);
	conf_diag_free(&d);
}

/* Programming errors end the process: check in a child. */
static int
exits_with_failure(void (*fn)(void))
{
	pid_t	 pid;
	int	 status;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		freopen("/dev/null", "w", stderr);
		fn();
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 1;
}

static void
read_unknown_key(void)
{
	struct conf_diag	 d = { 0 };
	struct conf		*cf = conf_load_buffer(test_keys, "x", "", 0, &d);

	conf_str(cf, "nope");
}

static void
read_wrong_type(void)
{
	struct conf_diag	 d = { 0 };
	struct conf		*cf = conf_load_buffer(test_keys, "x", "", 0, &d);

	conf_int(cf, "limit");
}

static void
load_bad_default(void)
{
	static const struct conf_key bad[] = {
		{ "n", CONF_INT, "12", 0, 10, NULL, 0, "n" },
		CONF_KEY_END
	};
	struct conf_diag	 d = { 0 };

	conf_load_buffer(bad, "x", "", 0, &d);
}

static void
test_programming_errors(void **state)
{
	assert_true(exits_with_failure(read_unknown_key));
	assert_true(exits_with_failure(read_wrong_type));
	assert_true(exits_with_failure(load_bad_default));
}

static void
test_print_doc(void **state)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	assert_non_null(fp = open_memstream(&buf, &len));
	conf_print_doc(fp, "warp-test", test_keys);
	conf_print_doc(fp, "warp", conf_shared_keys);
	fclose(fp);
	assert_non_null(strstr(buf, "## warp-test.conf\n\n| key | type | "
	    "default | range/choices | description |\n|---|---|---|---|---|\n"
	    "| `user` | string | `warp-test` |  | account |\n"));
	assert_non_null(strstr(buf, "| `limit` | size | `10m` | 1 to 1g | "));
	assert_non_null(strstr(buf, "| `timeout` | duration | `30s` | 100ms "
	    "to 1d | deadline (applied on SIGHUP) |"));
	assert_non_null(strstr(buf, "| none, may, encrypt, verify |"));
	assert_non_null(strstr(buf, "| `password` | string | (empty) |"));
	assert_non_null(strstr(buf, "## warp.conf\n"));
	assert_non_null(strstr(buf, "| `socket_dir` | path | `/run/warp` |"));
	/* Table order is kept. */
	assert_true(strstr(buf, "`user`") < strstr(buf, "`limit`"));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_multiple_errors_and_duplicates),
		cmocka_unit_test(test_missing_files),
		cmocka_unit_test(test_layers),
		cmocka_unit_test(test_shared_file_rule),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_secret_permissions),
		cmocka_unit_test(test_programming_errors),
		cmocka_unit_test(test_print_doc),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
