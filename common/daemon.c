/*
 * daemon.c -- the start-up skeleton every warp daemon runs.
 *
 * Each daemon's main.c hands daemon_main() its spec (name, configuration
 * table, hooks); this file owns everything they have in common: command
 * line, configuration load and -t, logging set-up, the privileged hook, the
 * privilege drop, the unprivileged hook, signals and the event loop.
 *
 * Security role: this is the one place where a daemon stops being root.
 * The order follows OpenSMTPD: what needs root is opened in init_root(),
 * then supplementary groups, gid and uid are replaced and we verify that
 * root cannot be regained before any input from the network is read.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#ifndef WARP_VERSION
#define WARP_VERSION	"unknown"
#endif
#ifndef WARP_SYSCONFDIR
#define WARP_SYSCONFDIR	"/etc/warp"
#endif

static struct event	*ev_hup, *ev_term, *ev_int;
/*
 * The running daemon stays allocated until the process ends: its hooks'
 * state (d->priv, events on d->base) may still point into it, and a leak
 * checker must see all of that as reachable.
 */
static struct daemon *volatile daemon_running;

static void
usage(const struct daemon_spec *spec, FILE *fp)
{
	const struct daemon_flag	*f;

	fprintf(fp, "usage: %s [-tvVD] [-C dir] [-o key=value]", spec->name);
	for (f = spec->flags; f != NULL && f->name != NULL; f++)
		fprintf(fp, " [-%s%s]", f->name, f->has_arg ? " value" : "");
	fprintf(fp, "\n"
	    "  -C dir          configuration directory (default $WARP_CONFIG_DIR"
	    " or %s)\n"
	    "  -o key=value    override a configuration key (repeatable)\n"
	    "  -t              check the configuration and exit\n"
	    "  -v, -verbose    log debug messages\n"
	    "  -V, -version    print the version and exit\n"
	    "  -D              print the configuration reference (Markdown); "
	    "twice: the shared keys\n", WARP_SYSCONFDIR);
	for (f = spec->flags; f != NULL && f->name != NULL; f++)
		fprintf(fp, "  -%-14s %s\n", f->name,
		    f->help != NULL ? f->help : "");
}

static void usage_error(const struct daemon_spec *, const char *, ...)
    WARP_PRINTF(2, 3) WARP_NORETURN;

static void
usage_error(const struct daemon_spec *spec, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", spec->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage(spec, stderr);
	exit(2);
}

void
daemon_override(struct daemon *d, const char *key, const char *value)
{
	d->overrides = xreallocarray(d->overrides, d->noverrides + 1,
	    sizeof(*d->overrides));
	d->overrides[d->noverrides++] = xasprintf("%s=%s", key, value);
}

static void
add_override(struct daemon *d, const char *kv)
{
	d->overrides = xreallocarray(d->overrides, d->noverrides + 1,
	    sizeof(*d->overrides));
	d->overrides[d->noverrides++] = xstrdup(kv);
}

/* One of the daemon's own flags: -name, --name, -name=value, --name=value. */
static int
daemon_flag(struct daemon *d, int argc, char **argv, int *ip)
{
	const struct daemon_flag	*f;
	const char			*arg = argv[*ip], *name, *value, *eq;
	size_t				 len;

	name = arg + 1;
	if (*name == '-')
		name++;
	eq = strchr(name, '=');
	len = eq != NULL ? (size_t)(eq - name) : strlen(name);
	for (f = d->spec->flags; f != NULL && f->name != NULL; f++) {
		if (strlen(f->name) != len || strncmp(f->name, name, len) != 0)
			continue;
		if (!f->has_arg) {
			if (eq != NULL)
				usage_error(d->spec, "-%s takes no value",
				    f->name);
			value = NULL;
		} else if (eq != NULL)
			value = eq + 1;
		else if (*ip + 1 < argc)
			value = argv[++*ip];
		else
			usage_error(d->spec, "-%s needs a value", f->name);
		if (f->apply == NULL && f->key != NULL && value != NULL)
			daemon_override(d, f->key, value);
		if (f->apply != NULL && f->apply(d, value) == -1) {
			fprintf(stderr, "%s: invalid value for -%s: %s\n",
			    d->spec->name, f->name, value != NULL ? value : "");
			exit(2);
		}
		return 1;
	}
	return 0;
}

static int
is_flag(const char *arg, const char *name)
{
	/* "-verbose" and "--verbose" alike. */
	if (arg[0] == '-' && arg[1] == '-' && arg[2] != '\0')
		arg++;
	return strcmp(arg, name) == 0;
}

/* Returns how many times -D was given. */
static int
parse_flags(struct daemon *d, int argc, char **argv, const char **confdir)
{
	const char	*arg;
	int		 i, ndoc = 0, version = 0;

	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		if (strcmp(arg, "-C") == 0) {
			if (i + 1 >= argc)
				usage_error(d->spec, "-C needs a directory");
			*confdir = argv[++i];
		} else if (strcmp(arg, "-o") == 0) {
			if (i + 1 >= argc)
				usage_error(d->spec, "-o needs key=value");
			add_override(d, argv[++i]);
		} else if (strcmp(arg, "-t") == 0)
			d->check_only = 1;
		else if (strcmp(arg, "-v") == 0 || is_flag(arg, "-verbose"))
			d->verbose = 1;
		else if (strcmp(arg, "-V") == 0 || is_flag(arg, "-version"))
			version = 1;
		else if (strcmp(arg, "-D") == 0)
			ndoc++;
		else if (strcmp(arg, "-h") == 0 || is_flag(arg, "-help")) {
			usage(d->spec, stdout);
			exit(0);
		} else if (daemon_flag(d, argc, argv, &i))
			continue;
		/*
		 * Attached values ("-Cdir", "-okey=value") only after the
		 * daemon's own flags had their chance: "-outbound-ip" is a
		 * flag of warp-proxyd, not "-o utbound-ip".
		 */
		else if (arg[1] == 'C')
			*confdir = arg + 2;
		else if (arg[1] == 'o' && strchr(arg, '=') != NULL)
			add_override(d, arg + 2);
		else
			usage_error(d->spec, "unknown flag %s", arg);
	}
	if (i < argc)
		usage_error(d->spec, "unexpected argument %s", argv[i]);
	if (version) {
		printf("%s %s\n", d->spec->name, WARP_VERSION);
		exit(0);
	}
	return ndoc;
}

static int
spec_has_key(const struct daemon_spec *spec, const char *name)
{
	const struct conf_key	*k;

	for (k = spec->keys; k != NULL && k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return 1;
	return 0;
}

static const char *
configured_user(const struct daemon *d, const struct conf *cf)
{
	return spec_has_key(d->spec, "user") ? conf_str(cf, "user") : "";
}

/*
 * What depends on this machine rather than on the file.  A missing account
 * only matters when we will switch to it (started as root); -t reports it
 * as a warning so a configuration can be checked before the package's
 * accounts exist.
 */
static void
host_checks(const struct daemon *d, const struct conf *cf,
    struct conf_diag *diag, int fatal_errors)
{
	const char	*user = configured_user(d, cf);
	uid_t		 uid;
	gid_t		 gid;
	const char	*origin;
	char		 where[512];

	if (*user == '\0' || daemon_lookup_user(user, &uid, &gid) == 0)
		return;
	/* "file:line: " when a file set it; nothing for the default. */
	origin = conf_origin(cf, "user");
	snprintf(where, sizeof(where), "%s: ", origin);
	if (strcmp(origin, "default") == 0)
		where[0] = '\0';
	if (fatal_errors && geteuid() == 0)
		conf_diag_error(diag, "%suser '%s' does not exist", where,
		    user);
	else
		conf_diag_warn(diag, "%suser '%s' does not exist (create it "
		    "before starting as root)", where, user);
}

static struct conf *
load_config(struct daemon *d, struct conf_diag *diag, int startup)
{
	struct conf	*cf;

	cf = conf_load(d->spec->keys, d->confdir, d->spec->name,
	    d->overrides, d->noverrides, diag);
	if (cf == NULL)
		return NULL;
	if (d->spec->check != NULL)
		d->spec->check(cf, diag);
	host_checks(d, cf, diag, startup);
	if (diag->nerrors > 0) {
		conf_free(cf);
		return NULL;
	}
	return cf;
}

static void
apply_logging(struct daemon *d, const struct conf *cf)
{
	int	 level;

	log_init(d->spec->name, 1, conf_bool(cf, "syslog"));
	level = log_level_parse(conf_str(cf, "log_level"));
	log_setlevel(d->verbose ? LOG_DEBUG : (level == -1 ? LOG_INFO : level));
}

static void
drop_privileges(struct daemon *d)
{
	const char	*user = configured_user(d, d->conf);
	struct passwd	*pw;

	if (geteuid() != 0) {
		d->uid = getuid();
		d->gid = getgid();
		pw = getpwuid(d->uid);
		if (*user != '\0' && (pw == NULL || strcmp(pw->pw_name, user)))
			log_warnx("not started as root: keeping the current "
			    "account instead of switching to '%s'", user);
		return;
	}
	if (*user == '\0') {
		log_warnx("user is empty: keeping running as root");
		d->uid = 0;
		d->gid = getegid();
		return;
	}
	if ((pw = getpwnam(user)) == NULL)
		fatalx("user '%s' does not exist", user);
	if (pw->pw_uid == 0)
		fatalx("user '%s' is root; refusing to run as it", user);
	d->uid = pw->pw_uid;
	d->gid = pw->pw_gid;
	if (initgroups(pw->pw_name, d->gid) == -1)
		fatal("initgroups %s", user);
	if (setresgid(d->gid, d->gid, d->gid) == -1)
		fatal("setresgid %u", (unsigned)d->gid);
	if (setresuid(d->uid, d->uid, d->uid) == -1)
		fatal("setresuid %u", (unsigned)d->uid);
	/* Trust but verify: the drop must be irreversible. */
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1)
		fatalx("could regain root after switching to '%s'", user);
	log_info("running as %s (uid %u, gid %u)", user, (unsigned)d->uid,
	    (unsigned)d->gid);
}

static void
on_sighup(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon		*d = arg;
	struct conf_diag	 diag;
	struct conf		*cf, *old;
	size_t			 i;

	memset(&diag, 0, sizeof(diag));
	log_info("SIGHUP: reloading the configuration from %s", d->confdir);
	if ((cf = load_config(d, &diag, 0)) == NULL) {
		for (i = 0; i < diag.nerrors; i++)
			log_warnx("reload: %s", diag.errors[i]);
		log_warnx("reload failed; keeping the current configuration");
		conf_diag_free(&diag);
		return;
	}
	for (i = 0; i < diag.nwarnings; i++)
		log_warnx("reload: %s", diag.warnings[i]);
	conf_diag_free(&diag);
	if (strcmp(configured_user(d, cf), configured_user(d, d->conf)) != 0)
		log_warnx("reload: a new user takes effect only after a "
		    "restart");
	if (d->spec->reload != NULL && d->spec->reload(d, cf) == -1) {
		log_warnx("reload refused; keeping the current configuration");
		conf_free(cf);
		return;
	}
	old = d->conf;
	d->conf = cf;
	conf_free(old);
	apply_logging(d, d->conf);
	log_info("configuration reloaded");
}

static void
on_sigterm(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon	*d = arg;
	const char	*name = sig == SIGTERM ? "SIGTERM" : "SIGINT";

	/* Counted apart from shutting_down: a stop requested another way
	 * (a worker told by its master) is not the operator's first signal. */
	if (d->stop_signals++ > 0) {
		if (d->spec->shutdown_now != NULL) {
			log_warnx("%s again: stopping now", name);
			d->spec->shutdown_now(d);
			return;
		}
		log_warnx("%s again: exiting now", name);
		exit(d->exit_code);
	}
	daemon_shutdown(d, name);
}

void
daemon_shutdown(struct daemon *d, const char *why)
{
	if (d->shutting_down)
		return;
	d->shutting_down = 1;
	log_info("%s: shutting down", why);
	if (d->spec->shutdown != NULL)
		d->spec->shutdown(d);
	else
		daemon_exit(d, 0);
}

static void
install_signals(struct daemon *d)
{
	signal(SIGPIPE, SIG_IGN);
	ev_hup = evsignal_new(d->base, SIGHUP, on_sighup, d);
	ev_term = evsignal_new(d->base, SIGTERM, on_sigterm, d);
	ev_int = evsignal_new(d->base, SIGINT, on_sigterm, d);
	if (ev_hup == NULL || ev_term == NULL || ev_int == NULL ||
	    evsignal_add(ev_hup, NULL) == -1 ||
	    evsignal_add(ev_term, NULL) == -1 ||
	    evsignal_add(ev_int, NULL) == -1)
		fatalx("cannot install signal handlers");
}

/* -t and -D: nothing was started; leave no allocation behind. */
static int
daemon_done(struct daemon *d, int code)
{
	size_t	 i;

	conf_free(d->conf);
	for (i = 0; i < d->noverrides; i++)
		free(d->overrides[i]);
	free(d->overrides);
	free(d);
	return code;
}
/*
 * The event loop.  With the epoll change list, libevent applies the
 * changes of one loop iteration together: an fd whose events are removed
 * and added again (a connect completing, a leg switching from writing to
 * reading) costs one epoll_ctl() instead of two.  warp never dup()s a
 * descriptor watched by the loop, the one case the change list gets
 * wrong.
 */
static struct event_base *
new_event_base(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		fatalx("event_config_new failed");
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base == NULL && (base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	return base;
}


int
daemon_main(const struct daemon_spec *spec, int argc, char **argv)
{
	struct daemon		*d;
	struct conf_diag	 diag;
	const char		*confdir = NULL;
	size_t			 i;
	int			 ndoc;

	log_init(spec->name, 1, 0);
	d = xcalloc(1, sizeof(*d));
	d->spec = spec;

	ndoc = parse_flags(d, argc, argv, &confdir);
	if (ndoc > 0) {
		if (ndoc == 1)
			conf_print_doc(stdout, spec->name, spec->keys);
		else
			conf_print_doc(stdout, "warp", conf_shared_keys);
		return daemon_done(d, fflush(stdout) == 0 ? 0 : 1);
	}
	if (spec->flags_done != NULL)
		spec->flags_done(d);
	if (confdir == NULL && (confdir = getenv("WARP_CONFIG_DIR")) == NULL)
		confdir = WARP_SYSCONFDIR;
	d->confdir = confdir;

	memset(&diag, 0, sizeof(diag));
	d->conf = load_config(d, &diag, !d->check_only);
	if (d->check_only) {
		conf_diag_print(&diag, stderr);
		i = diag.nerrors;
		conf_diag_free(&diag);
		if (i > 0)
			return daemon_done(d, 1);
		printf("%s: configuration OK\n", spec->name);
		return daemon_done(d, 0);
	}
	if (d->conf == NULL) {
		conf_diag_print(&diag, stderr);
		fatalx("bad configuration in %s (%zu error%s)", confdir,
		    diag.nerrors, diag.nerrors == 1 ? "" : "s");
	}

	apply_logging(d, d->conf);
	for (i = 0; i < diag.nwarnings; i++)
		log_warnx("%s", diag.warnings[i]);
	conf_diag_free(&diag);
	log_info("starting %s %s (configuration %s)", spec->name,
	    WARP_VERSION, confdir);

	d->base = new_event_base();
	if (spec->init_root != NULL && spec->init_root(d) == -1)
		fatalx("privileged set-up failed");
	/*
	 * No chdir("/"): development and test configurations name sockets,
	 * spools and databases relative to the directory the daemon was
	 * started in, and warp never creates core files that would need a
	 * safe working directory.
	 */
	drop_privileges(d);
	if (spec->init != NULL && spec->init(d) == -1)
		fatalx("set-up failed");
	install_signals(d);

	daemon_running = d;
	event_base_dispatch(d->base);
	log_info("exiting (%d)", d->exit_code);
	return d->exit_code;
}

void
daemon_exit(struct daemon *d, int code)
{
	d->exit_code = code;
	if (d->base == NULL)
		exit(code);
	event_base_loopexit(d->base, NULL);
}

int
daemon_lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL)
		return -1;
	if (uid != NULL)
		*uid = pw->pw_uid;
	if (gid != NULL)
		*gid = pw->pw_gid;
	return 0;
}

char *
daemon_socket_path(const struct conf *cf, const char *name)
{
	return xasprintf("%s/%s", conf_str(cf, "socket_dir"), name);
}
