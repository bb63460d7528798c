/*
 * workers.c -- warp-proxyd as a master and several worker processes.
 *
 * One event loop runs on one CPU.  With `workers` above 1 the process that
 * bound the listening sockets (and dropped privileges) forks that many
 * workers and stays as their master, in the way of Postfix's master and
 * nginx: every worker is a complete warp-proxyd event loop of its own
 * (sessions, event stream, warp-routed and warp-filterd clients) and
 * accepts from the same inherited listening sockets, so the kernel hands
 * each new connection to whichever worker is free.  Nothing else is
 * shared between workers.
 *
 * The master relays nothing.  It forwards SIGHUP (each worker reloads on
 * its own) and SIGTERM/SIGINT (each worker drains on its own), restarts a
 * worker that dies unexpectedly (at most once a second per slot), and
 * exits when the last worker has gone after a SIGTERM.  Workers ask the
 * kernel for SIGTERM if the master dies, so they never outlive it.
 *
 * max_connections is shared out: each worker takes max_connections /
 * workers of the slots (the first ones one more when it does not divide)
 * and stops accepting when its share is used, so the group never holds
 * more than max_connections and a worker with free slots takes what the
 * others cannot.  Nothing is shared between the processes at run time.
 *
 * Stopping: the master passes the first SIGTERM/SIGINT on as SIGUSR2
 * ("drain"), which a worker treats like its own first SIGTERM, once; a
 * second signal to the master is passed on as SIGTERM, which cuts the
 * workers' sessions at once.  So `kill` of the master, systemd
 * (KillMode=mixed) and a signal to every process of the group all give
 * one graceful drain.
 *
 * Event spools: worker 0 uses events.spool, worker i events-<i>.spool;
 * worker 0 adopts the spools of slots that no longer exist (after
 * `workers` was lowered), so no event is stranded.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "daemon.h"
#include "evstream.h"
#include "log.h"
#include "util.h"

#include "proxyd.h"

#define WORKERS_MAX		64
#define WORKERS_RESPAWN_MS	1000	/* least time between two starts */

struct worker_slot {
	pid_t		 pid;		/* 0: not running */
	int64_t		 started_us;	/* monotonic */
	struct event	*ev_respawn;
};

static int			 nworkers = 1;
static int			 self = 0;	/* slot; -1 in the master */
static pid_t			 master_pid;
static struct worker_slot	 slots[WORKERS_MAX];
static struct event		*ev_chld;
static struct event		*ev_drain;	/* a worker's SIGUSR2 */
static int			 stopping;

int
workers_configured(const struct conf *cf)
{
	long	 n = conf_int(cf, "workers");

	if (n == 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n < 1)
			n = 1;
	}
	return (int)WARP_MIN(n, WORKERS_MAX);
}

int
workers_is_master(void)
{
	return self == -1;
}

int
workers_index(void)
{
	return self;
}

int
workers_count(void)
{
	return nworkers;
}

/* This process's part of max_connections. */
int
workers_share(int max)
{
	if (self < 0 || nworkers <= 1)
		return max;
	return max / nworkers + (self < max % nworkers ? 1 : 0);
}

/* ---- in a new worker --------------------------------------------------------- */

/* The master asks for a graceful stop (its first SIGTERM/SIGINT). */
static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	daemon_shutdown(arg, "drain request from the master");
}

static void
become_worker(struct proxyd *p, int slot)
{
	int	 i;

	self = slot;
	/* Never outlive the master; it may have died before the prctl. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master_pid)
		_exit(0);
	if (event_reinit(p->base) == -1)
		fatalx("worker %d: event_reinit failed", slot);
	/* The master's own events are not the worker's business. */
	if (ev_chld != NULL) {
		event_free(ev_chld);
		ev_chld = NULL;
	}
	for (i = 0; i < WORKERS_MAX; i++) {
		if (slots[i].ev_respawn != NULL) {
			event_free(slots[i].ev_respawn);
			slots[i].ev_respawn = NULL;
		}
		slots[i].pid = 0;
	}
	ev_drain = evsignal_new(p->base, SIGUSR2, drain_cb, p->daemon);
	if (ev_drain == NULL || evsignal_add(ev_drain, NULL) == -1)
		fatalx("worker %d: cannot watch SIGUSR2", slot);
}

/* The event spool of slot i (worker 0: events.spool). */
static const char *
slot_spool_name(char *buf, size_t sz, int i)
{
	if (i == 0)
		return "events.spool";
	snprintf(buf, sz, "events-%d.spool", i);
	return buf;
}

/* Worker 0 takes over the spools of slots beyond the current count. */
void
workers_adopt_spools(const char *spool_dir)
{
	char	 name[64];
	int	 i;

	if (self > 0 || spool_dir == NULL || *spool_dir == '\0')
		return;
	for (i = nworkers; i < WORKERS_MAX; i++)	/* nworkers >= 1 */
		(void)evstream_spool_adopt(spool_dir,
		    slot_spool_name(name, sizeof(name), i),
		    slot_spool_name(NULL, 0, 0));
}

const char *
workers_spool_name(char *buf, size_t sz)
{
	if (self <= 0)
		return NULL;		/* evstream's default, events.spool */
	return slot_spool_name(buf, sz, self);
}

/* ---- the master --------------------------------------------------------------- */

/* fork() one worker into slot; 1 in the new worker, 0 in the master. */
static int
spawn(struct proxyd *p, int slot)
{
	pid_t	 pid;

	slots[slot].started_us = warp_mono_us();
	switch (pid = fork()) {
	case -1:
		log_warn("worker %d: fork", slot);
		return 0;
	case 0:
		become_worker(p, slot);
		return 1;
	default:
		slots[slot].pid = pid;
		log_info("worker %d started (pid %ld)", slot, (long)pid);
		return 0;
	}
}

static void
respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxyd	*p = proxyd;
	int		 slot = (int)(intptr_t)arg;

	if (stopping || slots[slot].pid != 0)
		return;
	if (spawn(p, slot) == 1)
		proxyd_worker_start(p);	/* this is the new worker now */
}

static int
running(void)
{
	int	 i, n = 0;

	for (i = 0; i < nworkers; i++)
		n += slots[i].pid != 0;
	return n;
}

static void
chld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;
	struct timeval	 tv;
	int64_t		 age_ms;
	pid_t		 pid;
	int		 status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nworkers && slots[i].pid != pid; i++)
			;
		if (i == nworkers)
			continue;
		slots[i].pid = 0;
		if (stopping) {
			log_info("worker %d (pid %ld) finished", i, (long)pid);
			continue;
		}
		if (WIFSIGNALED(status))
			log_warnx("worker %d (pid %ld) killed by signal %d; "
			    "restarting it", i, (long)pid, WTERMSIG(status));
		else
			log_warnx("worker %d (pid %ld) exited with status %d; "
			    "restarting it", i, (long)pid,
			    WEXITSTATUS(status));
		age_ms = (warp_mono_us() - slots[i].started_us) / 1000;
		age_ms = age_ms >= WORKERS_RESPAWN_MS ? 0 :
		    WORKERS_RESPAWN_MS - age_ms;
		tv = warp_tv_ms(age_ms);
		evtimer_add(slots[i].ev_respawn, &tv);
	}
	if (stopping && running() == 0) {
		log_info("all workers finished");
		daemon_exit(d, 0);
	}
}

/*
 * Called at the start of warp-proxyd's unprivileged set-up.  Returns 0 in
 * a worker (or the only process), which goes on to relay; 1 in the
 * master, which only supervises.
 */
int
workers_start(struct proxyd *p, const struct conf *cf)
{
	int	 i;

	nworkers = workers_configured(cf);
	if (nworkers <= 1) {
		nworkers = 1;
		self = 0;
		return 0;
	}
	master_pid = getpid();
	self = -1;
	for (i = 0; i < nworkers; i++)
		slots[i].ev_respawn = evtimer_new(p->base, respawn_cb,
		    (void *)(intptr_t)i);
	ev_chld = evsignal_new(p->base, SIGCHLD, chld_cb, p->daemon);
	if (ev_chld == NULL || evsignal_add(ev_chld, NULL) == -1)
		fatalx("workers: cannot watch SIGCHLD");
	for (i = 0; i < nworkers; i++)
		if (spawn(p, i) == 1)
			return 0;
	log_info("warp-proxyd master: %d workers", nworkers);
	return 1;
}

/* Master: pass a signal on to every running worker. */
void
workers_signal(int sig)
{
	int	 i;

	for (i = 0; i < nworkers; i++)
		if (slots[i].pid != 0 && kill(slots[i].pid, sig) == -1 &&
		    errno != ESRCH)
			log_warn("worker %d: kill", i);
}

/* Master: SIGTERM/SIGINT.  Workers drain; a second signal cuts them. */
void
workers_stop(struct daemon *d)
{
	int	 i;

	if (stopping) {
		log_notice("stopping again: cutting the workers' sessions");
		workers_signal(SIGTERM);
		return;
	}
	stopping = 1;
	for (i = 0; i < nworkers; i++)
		if (slots[i].ev_respawn != NULL)
			evtimer_del(slots[i].ev_respawn);
	if (running() == 0) {
		daemon_exit(d, 0);
		return;
	}
	log_info("stopping %d workers", running());
	workers_signal(SIGUSR2);
}

/* Worker: on the way out, a dying master must not signal us again. */
void
workers_leaving(void)
{
	if (self >= 0 && nworkers > 1)
		(void)prctl(PR_SET_PDEATHSIG, 0);
}
