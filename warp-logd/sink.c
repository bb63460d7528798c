/*
 * sink.c -- the thread and queue every warp-logd sink runs on.
 *
 * The event loop pushes batch references with sink_push(); the sink thread
 * takes everything queued at once (group commit: one write + fdatasync, or
 * one transaction, for all of it) and hands it to ops->write.  Between
 * groups, and whenever the wait it asked for passes, the thread calls
 * ops->tick (reconnects, spool drains, Slack sends).  A sink only ever
 * blocks its own thread, so a slow or broken sink never stalls the others;
 * its queue is bounded in bytes (sink_full) so it cannot eat all memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"
#include "logd.h"

#define SINK_GROUP_MAX	256	/* batches per write call */

struct sink *
sink_new(const struct sink_ops *ops, size_t qmax)
{
	struct sink		*s;
	pthread_condattr_t	 ca;

	s = xcalloc(1, sizeof(*s));
	s->ops = ops;
	s->qmax = qmax;
	s->qcap = 64;
	s->q = xcalloc(s->qcap, sizeof(*s->q));
	pthread_mutex_init(&s->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&s->qbytes, 0);
	atomic_init(&s->reopen_req, 0);
	return s;
}

static void
timed_wait(struct sink *s, int ms)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&s->cv, &s->mtx, &ts);
}

static void *
sink_thread(void *arg)
{
	struct sink		*s = arg;
	struct logd_batch	*group[SINK_GROUP_MAX];
	size_t			 n, i, bytes;
	int			 wait_ms = 0;
	int64_t			 next_tick = 0, now;

	pthread_mutex_lock(&s->mtx);
	for (;;) {
		if (s->qlen == 0) {
			if (s->stop)
				break;
			now = warp_mono_us();
			if ((s->ops->tick != NULL && next_tick <= now) || s->wake) {
				s->wake = 0;
				pthread_mutex_unlock(&s->mtx);
				if (atomic_exchange(&s->reopen_req, 0) &&
				    s->ops->reopen != NULL)
					s->ops->reopen(s);
				wait_ms = s->ops->tick ? s->ops->tick(s) : -1;
				pthread_mutex_lock(&s->mtx);
				now = warp_mono_us();
				next_tick = wait_ms < 0 ? INT64_MAX :
				    now + (int64_t)wait_ms * 1000;
				continue;
			}
			if (s->qlen == 0 && !s->stop && !s->wake) {
				if (s->ops->tick == NULL || next_tick == INT64_MAX)
					pthread_cond_wait(&s->cv, &s->mtx);
				else
					timed_wait(s, (int)WARP_MAX(1, WARP_MIN(
					    (next_tick - now) / 1000 + 1, 60000)));
			}
			continue;
		}
		n = WARP_MIN(s->qlen, SINK_GROUP_MAX);
		for (i = 0; i < n; i++) {
			group[i] = s->q[s->qhead];
			s->qhead = (s->qhead + 1) % s->qcap;
		}
		s->qlen -= n;
		pthread_mutex_unlock(&s->mtx);

		if (atomic_exchange(&s->reopen_req, 0) && s->ops->reopen != NULL)
			s->ops->reopen(s);
		bytes = 0;
		for (i = 0; i < n; i++)
			bytes += group[i]->mem;
		s->ops->write(s, group, n);
		atomic_fetch_sub(&s->qbytes, bytes);
		for (i = 0; i < n; i++)
			logd_batch_unref(group[i]);
		/* after work, let tick run soon (spool drains, sends) */
		next_tick = 0;

		pthread_mutex_lock(&s->mtx);
	}
	pthread_mutex_unlock(&s->mtx);
	if (s->ops->close != NULL)
		s->ops->close(s);
	return NULL;
}

int
sink_start(struct sink *s)
{
	int	 rc;

	if ((rc = pthread_create(&s->thread, NULL, sink_thread, s)) != 0) {
		errno = rc;
		log_warn("%s sink: pthread_create", s->ops->name);
		return -1;
	}
	s->started = 1;
	return 0;
}

void
sink_push(struct sink *s, struct logd_batch *b)
{
	atomic_fetch_add(&b->refs, 1);
	atomic_fetch_add(&s->qbytes, b->mem);
	pthread_mutex_lock(&s->mtx);
	if (s->qlen == s->qcap) {
		struct logd_batch **nq;
		size_t		   i;

		nq = xcalloc(s->qcap * 2, sizeof(*nq));
		for (i = 0; i < s->qlen; i++)
			nq[i] = s->q[(s->qhead + i) % s->qcap];
		free(s->q);
		s->q = nq;
		s->qhead = 0;
		s->qcap *= 2;
	}
	s->q[(s->qhead + s->qlen) % s->qcap] = b;
	s->qlen++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mtx);
}

int
sink_full(const struct sink *s)
{
	return s->qmax != 0 && atomic_load(&s->qbytes) >= s->qmax;
}

void
sink_request_reopen(struct sink *s)
{
	atomic_store(&s->reopen_req, 1);
	pthread_mutex_lock(&s->mtx);
	s->wake = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mtx);
}

int
sink_stopping(struct sink *s)
{
	int	 stop;

	pthread_mutex_lock(&s->mtx);
	stop = s->stop;
	pthread_mutex_unlock(&s->mtx);
	return stop;
}

void
sink_stop(struct sink *s)
{
	if (!s->started)
		return;
	pthread_mutex_lock(&s->mtx);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	pthread_join(s->thread, NULL);
	s->started = 0;
}

void
sink_free(struct sink *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->qlen; i++)
		logd_batch_unref(s->q[(s->qhead + i) % s->qcap]);
	free(s->q);
	pthread_mutex_destroy(&s->mtx);
	pthread_cond_destroy(&s->cv);
	free(s);
}
