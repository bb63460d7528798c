/*
 * daemon.h -- the one start-up skeleton every warp daemon runs (Postfix's
 * single_server/multi_server idea).
 *
 * A daemon's main() is:
 *
 *	int main(int argc, char **argv) {
 *		return daemon_main(&logd_spec, argc, argv);
 *	}
 *
 * daemon_main() then, in this fixed order:
 *   1. parses the common flags (-C dir, -o key=value, -t, -v/-verbose,
 *      -V/-version) plus the daemon's own legacy flags (spec->flags);
 *      -D prints the Markdown reference of the daemon's configuration
 *      table (conf_print_doc; scripts/gen-confdoc builds
 *      docs/configuration.md from it) and exits;
 *   2. loads the configuration (warp.conf + <daemon>.conf + overrides); with
 *      -t prints problems as "file:line: message" and exits 0/1; host facts
 *      (a missing user account) are warnings under -t, errors otherwise;
 *   3. sets up logging (stderr always in the foreground, syslog facility
 *      mail when syslog = yes);
 *   4. creates the event base and calls spec->init_root() while still
 *      privileged: bind listening sockets, open key files, create
 *      socket_dir;
 *   5. drops privileges to the configured user (OpenSMTPD order: setgroups,
 *      setresgid, setresuid, then verify that setuid(0) fails).  With
 *      "user =" empty it keeps the current account, warning if that is root;
 *      when not started as root it warns and carries on;
 *   6. calls spec->init() (unprivileged), installs SIGHUP (reload: the new
 *      configuration is loaded and checked, then given to spec->reload; a
 *      bad file keeps the old configuration and logs why), SIGTERM/SIGINT
 *      (spec->shutdown, which must eventually call daemon_exit), SIGPIPE
 *      ignored;
 *   7. runs the libevent loop until daemon_exit().
 */
#ifndef WARP_DAEMON_H
#define WARP_DAEMON_H

#include <sys/types.h>

#include "conf.h"

struct event_base;
struct daemon;

/* Extra command-line flags (the original Go warp's single-dash flags). */
struct daemon_flag {
	const char	*name;		/* without the dash: "outbound-ip" */
	int		 has_arg;
	const char	*help;
	/* Usually calls daemon_override(); return -1 to reject the value.
	 * NULL with key set: the flag is simply "-o key=value". */
	int		(*apply)(struct daemon *, const char *arg);
	const char	*key;
};

struct daemon_spec {
	const char		*name;		/* "warp-logd" */
	const char		*default_user;	/* "warp-log" */
	const struct conf_key	*keys;		/* daemon's table; includes "user" */
	const struct daemon_flag *flags;	/* NULL or { NULL }-terminated */

	/* After flags are parsed and before the configuration is loaded:
	 * combine legacy flags into overrides (e.g. -ip + -port -> listen). */
	void	(*flags_done)(struct daemon *);
	/* Extra semantic checks of a loaded configuration (cross-key rules);
	 * add to diag.  Called for -t, at start-up and on reload. */
	void	(*check)(const struct conf *, struct conf_diag *);
	/* Privileged set-up.  Return -1 (after logging why) to abort. */
	int	(*init_root)(struct daemon *);
	/* Unprivileged set-up, after the drop.  Return -1 to abort. */
	int	(*init)(struct daemon *);
	/* SIGHUP with a valid new configuration.  The daemon copies what it
	 * needs; the skeleton frees the old configuration afterwards.
	 * Return -1 to refuse the new configuration (old one stays). */
	int	(*reload)(struct daemon *, const struct conf *newconf);
	/* SIGTERM/SIGINT: stop accepting, finish, then daemon_exit(). */
	void	(*shutdown)(struct daemon *);
	/* A second SIGTERM/SIGINT; NULL: exit() at once. */
	void	(*shutdown_now)(struct daemon *);
};

struct daemon {
	const struct daemon_spec *spec;
	struct event_base	*base;
	struct conf		*conf;		/* current configuration */
	const char		*confdir;
	int			 verbose;
	int			 check_only;	/* -t */
	int			 shutting_down;
	int			 stop_signals;	/* SIGTERM/SIGINT received */
	uid_t			 uid;		/* after the drop */
	gid_t			 gid;
	void			*priv;		/* the daemon's own state */
	char			**overrides;	/* -o values, "key=value" */
	size_t			 noverrides;
	int			 exit_code;
};

int	 daemon_main(const struct daemon_spec *, int argc, char **argv);

/* Add a "key=value" override as if given with -o (for legacy flags). */
void	 daemon_override(struct daemon *, const char *key, const char *value);

/* What a first SIGTERM does (nothing if already shutting down). */
void	 daemon_shutdown(struct daemon *, const char *why);

/* Leave the event loop and exit with this code (after cleanup). */
void	 daemon_exit(struct daemon *, int code);

/* Resolve a user name to uid/gid; 0 or -1.  Used for allowed-peer lists. */
int	 daemon_lookup_user(const char *name, uid_t *, gid_t *);

/* Path of a socket in the configured socket_dir: "<socket_dir>/<name>". */
char	*daemon_socket_path(const struct conf *, const char *name);

#endif
