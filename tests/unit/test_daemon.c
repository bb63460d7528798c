/*
 * test_daemon.c -- the start-up skeleton, driven the way an operator
 * drives a daemon: each case runs daemon_main() in a child process with a
 * small test spec and checks its exit status and output.  Covers -V, -D,
 * -D -D, usage errors, legacy flags becoming overrides, -t, start-up
 * failures, SIGHUP reload (good and bad files) and SIGTERM shutdown.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

#include "daemon.h"
#include "log.h"
#include "util.h"

static const struct conf_key td_keys[] = {
	{ "user", CONF_STR, "", 0, 0, NULL, 0, "account" },
	{ "retries", CONF_INT, "3", 0, 10, NULL, CONF_RELOAD, "tries" },
	{ "mode", CONF_ENUM, "plain", 0, 0, "plain|fancy", 0, "mode" },
	CONF_KEY_END
};

static char	 dir[64];
static int	 shutdown_mode;		/* 0 none, 1 exit 3, 2 ignore */

static int
flag_tries(struct daemon *d, const char *arg)
{
	if (strcmp(arg, "many") == 0)
		return -1;
	daemon_override(d, "retries", arg);
	return 0;
}

static int
flag_fancy(struct daemon *d, const char *arg)
{
	daemon_override(d, "mode", "fancy");
	return 0;
}

static const struct daemon_flag td_flags[] = {
	{ "tries", 1, "retry count", flag_tries, NULL },
	{ "fancy", 0, "be fancy", flag_fancy, NULL },
	{ "outbound-tries", 1, "starts like -o", flag_tries, NULL },
	{ "style", 1, "= -o mode=...", NULL, "mode" },
	{ NULL, 0, NULL, NULL, NULL }
};

/* Cross-key rule: fancy mode needs at least 2 retries. */
static void
td_check(const struct conf *cf, struct conf_diag *diag)
{
	if (strcmp(conf_str(cf, "mode"), "fancy") == 0 &&
	    conf_int(cf, "retries") < 2)
		conf_diag_error(diag, "%s: fancy mode needs retries >= 2",
		    conf_origin(cf, "mode"));
}

static int
td_init(struct daemon *d)
{
	char	*p = xasprintf("%s/ready", dir);
	FILE	*fp;

	if ((fp = fopen(p, "w")) != NULL)
		fclose(fp);
	free(p);
	p = daemon_socket_path(d->conf, "td.sock");
	log_info("socket %s", p);
	free(p);
	return 0;
}

static int
td_reload(struct daemon *d, const struct conf *cf)
{
	if (conf_int(cf, "retries") == 9)
		return -1;
	log_info("reload retries=%lld", (long long)conf_int(cf, "retries"));
	return 0;
}

static void
td_shutdown(struct daemon *d)
{
	if (shutdown_mode == 1)
		daemon_exit(d, 3);
	/* 2: never finishes; a second signal must end it. */
}

static struct daemon_spec td_spec = {
	"warp-td", "warp-td", td_keys, td_flags, NULL, td_check, NULL,
	td_init, td_reload, NULL, NULL
};

/* Output of the last child. */
static char	 out[8192], err[8192];

static void
slurp(const char *name, char *buf, size_t sz)
{
	char	*p = xasprintf("%s/%s", dir, name), *s;
	size_t	 len;

	buf[0] = '\0';
	if ((s = util_read_file(p, sz - 1, &len)) != NULL) {
		memcpy(buf, s, len + 1);
		free(s);
	}
	free(p);
}

static pid_t
spawn(char **argv)
{
	char	*o = xasprintf("%s/out", dir), *e = xasprintf("%s/err", dir);
	int	 argc;
	pid_t	 pid;

	for (argc = 0; argv[argc] != NULL; argc++)
		;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (freopen(o, "w", stdout) == NULL ||
		    freopen(e, "w", stderr) == NULL)
			_exit(99);
		setvbuf(stderr, NULL, _IONBF, 0);
		td_spec.shutdown = shutdown_mode ? td_shutdown : NULL;
		exit(daemon_main(&td_spec, argc, argv));
	}
	free(o);
	free(e);
	assert_true(pid > 0);
	return pid;
}

static int
finish(pid_t pid)
{
	int	 status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

#define RUN(...) finish(spawn((char *[]){ "warp-td", __VA_ARGS__, NULL }))

static void
write_conf(const char *name, const char *text)
{
	char	*p = xasprintf("%s/%s", dir, name);
	FILE	*fp;

	assert_non_null(fp = fopen(p, "w"));
	fputs(text, fp);
	fclose(fp);
	chmod(p, 0600);
	free(p);
}

static void
test_version_and_doc(void **state)
{
	assert_int_equal(RUN("-V"), 0);
	assert_string_equal(out, "warp-td " WARP_VERSION "\n");
	assert_int_equal(RUN("--version"), 0);
	assert_string_equal(out, "warp-td " WARP_VERSION "\n");
	assert_int_equal(RUN("-D"), 0);
	assert_non_null(strstr(out, "## warp-td.conf\n"));
	assert_non_null(strstr(out, "| `mode` | enum | `plain` | plain, fancy |"));
	assert_null(strstr(out, "socket_dir"));
	assert_int_equal(RUN("-D", "-D"), 0);
	assert_non_null(strstr(out, "## warp.conf\n"));
	assert_non_null(strstr(out, "`socket_dir`"));
	assert_int_equal(RUN("-h"), 0);
	assert_non_null(strstr(out, "usage: warp-td"));
	assert_non_null(strstr(out, "-tries"));
}

static void
test_usage_errors(void **state)
{
	assert_int_equal(RUN("-x"), 2);
	assert_non_null(strstr(err, "unknown flag -x"));
	assert_non_null(strstr(err, "usage: warp-td"));
	assert_int_equal(RUN("-C"), 2);
	assert_int_equal(RUN("-o"), 2);
	assert_int_equal(RUN("-tries"), 2);
	assert_non_null(strstr(err, "-tries needs a value"));
	assert_int_equal(RUN("-fancy=1"), 2);
	assert_int_equal(RUN("-tries=many"), 2);
	assert_non_null(strstr(err, "invalid value for -tries: many"));
	assert_int_equal(RUN("extra"), 2);
}

static void
test_check_only(void **state)
{
	write_conf("warp.conf", "syslog = no\n");
	write_conf("warp-td.conf", "user =\nretries = 4\n");
	assert_int_equal(RUN("-C", dir, "-t"), 0);
	assert_string_equal(out, "warp-td: configuration OK\n");
	assert_string_equal(err, "");

	/* Legacy flags are overrides, in every spelling; the last wins. */
	assert_int_equal(RUN("-C", dir, "-t", "-tries", "11"), 1);
	assert_non_null(strstr(err, "-o retries: '11' is above the maximum"));
	assert_int_equal(RUN("-C", dir, "-t", "--tries=12"), 1);
	assert_int_equal(RUN("-C", dir, "-t", "-tries=6", "-o", "retries=5"), 0);
	/* The daemon's check hook runs under -t. */
	assert_int_equal(RUN("-C", dir, "-t", "-fancy", "-tries=1"), 1);
	assert_non_null(strstr(err, "-o: fancy mode needs retries >= 2"));
	assert_int_equal(RUN("-C", dir, "-t", "--fancy"), 0);
	/* A daemon flag beginning with "o" is not "-o" with a value. */
	assert_int_equal(RUN("-C", dir, "-t", "-outbound-tries", "11"), 1);
	assert_non_null(strstr(err, "-o retries: '11' is above"));
	assert_int_equal(RUN("-C", dir, "-t", "-outbound-tries=5"), 0);
	/* A flag with only a key is "-o key=value", checked like one. */
	assert_int_equal(RUN("-C", dir, "-t", "-style", "weird"), 1);
	assert_non_null(strstr(err, "-o mode:"));
	assert_int_equal(RUN("-C", dir, "-t", "-style=fancy", "-tries=1"), 1);
	assert_non_null(strstr(err, "fancy mode needs retries >= 2"));
	assert_int_equal(RUN("-C", dir, "-t", "--style", "plain"), 0);
	/* Attached values: -Cdir and -okey=value. */
	{
		char	*cdir = xasprintf("-C%s", dir);

		assert_int_equal(RUN(cdir, "-t", "-oretries=11"), 1);
		assert_non_null(strstr(err, "-o retries: '11' is above"));
		assert_int_equal(RUN(cdir, "-t", "-oretries=1"), 0);
		free(cdir);
	}
	assert_int_equal(RUN("-C", dir, "-t", "-ofoo"), 2);

	write_conf("warp-td.conf", "user =\nretries = x\nbogus = 1\n");
	assert_int_equal(RUN("-C", dir, "-t"), 1);
	assert_non_null(strstr(err, "/warp-td.conf:2: retries: 'x' is not"));
	assert_non_null(strstr(err, "/warp-td.conf:3: bogus: unknown key"));
	assert_string_equal(out, "");

	/* A user that does not exist: a warning for -t. */
	write_conf("warp-td.conf", "user = no-such-user-here\n");
	assert_int_equal(RUN("-C", dir, "-t"), 0);
	assert_non_null(strstr(err, "warning: "));
	assert_non_null(strstr(err, "user 'no-such-user-here' does not exist"));
}

static void
test_startup_failure(void **state)
{
	write_conf("warp-td.conf", "user =\nretries = 99\n");
	assert_int_equal(RUN("-C", dir), 1);
	assert_non_null(strstr(err, "/warp-td.conf:2: retries:"));
	assert_non_null(strstr(err, "bad configuration"));
}

static int
wait_ready(void)
{
	char		*p = xasprintf("%s/ready", dir);
	struct stat	 st;
	int		 i, rv = -1;

	for (i = 0; i < 500; i++) {
		if (stat(p, &st) == 0) {
			rv = 0;
			break;
		}
		usleep(10000);
	}
	unlink(p);
	free(p);
	return rv;
}

/* Wait until the child's stderr holds s. */
static int
wait_log(const char *s)
{
	int	 i;

	for (i = 0; i < 500; i++) {
		slurp("err", err, sizeof(err));
		if (strstr(err, s) != NULL)
			return 0;
		usleep(10000);
	}
	return -1;
}

static void
test_run_reload_term(void **state)
{
	pid_t	 pid;
	char	 sock[128];

	write_conf("warp.conf", "syslog = no\n");
	{
		char	*t = xasprintf("user =\nsocket_dir = %s\n", dir);

		write_conf("warp-td.conf", t);
		free(t);
	}
	shutdown_mode = 0;
	pid = spawn((char *[]){ "warp-td", "-C", dir, NULL });
	assert_int_equal(wait_ready(), 0);
	snprintf(sock, sizeof(sock), "socket %s/td.sock", dir);
	assert_int_equal(wait_log(sock), 0);

	/* A good new file: reload hook sees it. */
	write_conf("warp-td.conf", "user =\nretries = 7\n");
	kill(pid, SIGHUP);
	assert_int_equal(wait_log("reload retries=7"), 0);
	assert_int_equal(wait_log("configuration reloaded"), 0);

	/* A bad file: logged, old configuration kept, still running. */
	write_conf("warp-td.conf", "user =\nretries = 70\n");
	kill(pid, SIGHUP);
	assert_int_equal(wait_log("keeping the current configuration"), 0);
	assert_non_null(strstr(err, "/warp-td.conf:2: retries:"));

	/* Refused by the daemon's reload hook. */
	write_conf("warp-td.conf", "user =\nretries = 9\n");
	kill(pid, SIGHUP);
	assert_int_equal(wait_log("reload refused"), 0);
	assert_int_equal(kill(pid, 0), 0);

	kill(pid, SIGTERM);
	assert_int_equal(finish(pid), 0);
	assert_non_null(strstr(err, "SIGTERM: shutting down"));
}

static void
test_shutdown_hook(void **state)
{
	pid_t	 pid;

	write_conf("warp-td.conf", "user =\n");
	shutdown_mode = 1;
	pid = spawn((char *[]){ "warp-td", "-C", dir, NULL });
	assert_int_equal(wait_ready(), 0);
	kill(pid, SIGINT);
	assert_int_equal(finish(pid), 3);

	/* A shutdown that never ends: the second signal ends the process. */
	shutdown_mode = 2;
	pid = spawn((char *[]){ "warp-td", "-C", dir, NULL });
	assert_int_equal(wait_ready(), 0);
	kill(pid, SIGTERM);
	assert_int_equal(wait_log("SIGTERM: shutting down"), 0);
	kill(pid, SIGTERM);
	assert_int_equal(finish(pid), 0);
	assert_non_null(strstr(err, "SIGTERM again: exiting now"));
	shutdown_mode = 0;
}

static void
test_lookup_user(void **state)
{
	uid_t	 uid;
	gid_t	 gid;

	assert_int_equal(daemon_lookup_user("root", &uid, &gid), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(daemon_lookup_user("no-such-user-here", &uid, &gid),
	    -1);
}

static int
setup(void **state)
{
	warp_strlcpy(dir, "/tmp/warp-test-daemon.XXXXXX", sizeof(dir));
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	const char	*names[] = { "warp.conf", "warp-td.conf", "out", "err",
			    "ready" };
	size_t		 i;
	char		*p;

	for (i = 0; i < WARP_NELEM(names); i++) {
		p = xasprintf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_and_doc),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_check_only),
		cmocka_unit_test(test_startup_failure),
		cmocka_unit_test(test_run_reload_term),
		cmocka_unit_test(test_shutdown_hook),
		cmocka_unit_test(test_lookup_user),
	};

	unsetenv("WARP_CONFIG_DIR");
	return cmocka_run_group_tests(tests, setup, teardown);
}
