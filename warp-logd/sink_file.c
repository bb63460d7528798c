/*
 * sink_file.c -- warp-logd's JSON-lines sink (the original's "file"
 * plugin): one object per event, one write(2) and one fdatasync(2) per
 * group of batches, then the batches are acknowledged.
 *
 * Exactly once: every stored (connection_id, seq) is remembered in a
 * logd_seen table (the most recent dedupe_connections connections); at
 * start-up that table is rebuilt from the last file_dedupe_scan bytes of
 * the file, and a torn last line (a write cut by a full disk or a crash)
 * is cut off.  Reopens the file on SIGHUP and when the path no longer
 * names the open file (logrotate without copytruncate), checked once a
 * second.  Runs in its own thread (sink.c); touches only its own file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "logd.h"

struct file_sink {
	char		*path;
	int		 fd;
	dev_t		 dev;
	ino_t		 ino;
	int		 fsync;
	uint64_t	 scan;
	struct logd_seen *seen;
	struct logd_buf	 buf;
	uint64_t	 written, dups, errors;
	int64_t		 last_check;
};

static int
file_open(struct file_sink *f)
{
	struct stat	 st;
	int		 fd;

	fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("file sink: open %s", f->path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("file sink: fstat %s", f->path);
		close(fd);
		return -1;
	}
	if (f->fd != -1)
		close(f->fd);
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	return 0;
}

/* Read the tail of the file: cut a torn last line, learn what is stored. */
static int
file_recover(struct file_sink *f)
{
	struct stat	 st;
	off_t		 off, end;
	size_t		 len, got = 0;
	ssize_t		 n;
	char		*buf, *nl;
	int		 fd;

	if ((fd = open(f->path, O_RDWR | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1 || st.st_size == 0) {
		close(fd);
		return 0;
	}
	end = st.st_size;
	off = end > (off_t)f->scan ? end - (off_t)f->scan : 0;
	len = (size_t)(end - off);
	buf = xmalloc(len + 1);
	while (got < len) {
		n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	len = got;
	if (len > 0 && buf[len - 1] != '\n') {
		nl = memrchr(buf, '\n', len);
		len = nl ? (size_t)(nl - buf) + 1 : 0;
		if (nl != NULL || off == 0) {
			log_warnx("file sink: %s: cutting a torn last line "
			    "(%lld bytes)", f->path,
			    (long long)(end - off - (off_t)len));
			if (ftruncate(fd, off + (off_t)len) == -1)
				log_warn("file sink: ftruncate %s", f->path);
		}
	}
	/* the first line may be partial when we did not start at 0 */
	log_info("file sink: %s: %zu stored events remembered from the last "
	    "%zu bytes", f->path, logd_seen_scan_json(f->seen, buf, len), len);
	free(buf);
	close(fd);
	return 0;
}

static int
file_sink_open(struct sink *s, const struct conf *cf)
{
	struct file_sink	*f;

	f = xcalloc(1, sizeof(*f));
	f->path = xstrdup(conf_str(cf, "file_path"));
	f->fd = -1;
	f->fsync = conf_bool(cf, "file_fsync");
	f->scan = conf_size(cf, "file_dedupe_scan");
	f->seen = logd_seen_new((size_t)conf_int(cf, "dedupe_connections"));
	s->priv = f;
	if (file_recover(f) == -1) {
		log_warn("file sink: %s", f->path);
		return -1;
	}
	return file_open(f);
}

/* Write all of buf at the end, or nothing (a partial write is cut off). */
static int
file_append(struct file_sink *f, const char *p, size_t len)
{
	struct stat	 st;
	off_t		 start = -1;
	size_t		 done = 0;
	ssize_t		 n;

	if (fstat(f->fd, &st) == 0)
		start = st.st_size;
	while (done < len) {
		n = write(f->fd, p + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			int save = errno;

			if (done > 0 && start >= 0 &&
			    ftruncate(f->fd, start) == -1)
				log_warn("file sink: ftruncate %s", f->path);
			errno = save;
			return -1;
		}
		done += (size_t)n;
	}
	if (f->fsync && fdatasync(f->fd) == -1)
		return -1;
	return 0;
}

static void	file_follow_path(struct file_sink *);

static void
file_sink_write(struct sink *s, struct logd_batch **group, size_t n)
{
	struct file_sink	*f = s->priv;
	const Warp__EventBatch	*eb;
	size_t			 i, j, events = 0;
	int			 delay = 100;

	f->buf.len = 0;
	for (i = 0; i < n; i++) {
		eb = &group[i]->eb;
		for (j = 0; j < eb->n_events; j++) {
			const Warp__Event *ev = eb->events[j];

			if (ev->kind_case == WARP__EVENT__KIND_COMM) {
				if (logd_seen_check(f->seen,
				    ev->comm->connection_id, ev->comm->seq)) {
					f->dups++;
					continue;
				}
				logd_json_comm(&f->buf, ev->comm);
			} else if (ev->kind_case == WARP__EVENT__KIND_CONN) {
				if (logd_seen_check(f->seen,
				    ev->conn->connection_id, ev->conn->seq)) {
					f->dups++;
					continue;
				}
				logd_json_conn(&f->buf, ev->conn);
			} else
				continue;
			events++;
		}
	}
	/* One stat per write group (not per event): after a logrotate move,
	 * nothing more is written to the moved file. */
	if (f->buf.len > 0)
		file_follow_path(f);
	/* Until the bytes are on disk the batches are not acknowledged:
	 * on a full disk this sink stalls (its queue fills, warp-logd answers
	 * "unavailable", warp-proxyd keeps the events in its own spool). */
	while (f->buf.len > 0 && (f->fd == -1 ||
	    file_append(f, f->buf.p, f->buf.len) == -1)) {
		f->errors++;
		if (f->fd == -1)
			log_warnx("file sink: %s is not open, retrying", f->path);
		else
			log_warn("file sink: write %s (%zu events held, "
			    "retrying)", f->path, events);
		if (sink_stopping(s)) {
			log_warnx("file sink: stopping with %zu events "
			    "unwritten (not acknowledged; the sender keeps "
			    "them)", events);
			return;
		}
		usleep((useconds_t)delay * 1000);
		delay = WARP_MIN(delay * 2, 5000);
		if (file_open(f) == -1)
			continue;
	}
	f->written += events;
	for (i = 0; i < n; i++)
		logd_batch_done(group[i]);
}

static void
file_sink_reopen(struct sink *s)
{
	struct file_sink	*f = s->priv;

	if (file_open(f) == 0)
		log_info("file sink: reopened %s", f->path);
}

/* The path names another file, or none: logrotate moved ours away. */
static void
file_follow_path(struct file_sink *f)
{
	struct stat	 st;

	if (stat(f->path, &st) == -1 || st.st_ino != f->ino ||
	    st.st_dev != f->dev) {
		if (file_open(f) == 0)
			log_info("file sink: %s was moved or removed, "
			    "reopened", f->path);
	}
}

static int
file_sink_tick(struct sink *s)
{
	file_follow_path(s->priv);
	return 1000;
}

static void
file_sink_close(struct sink *s)
{
	struct file_sink	*f = s->priv;

	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	logd_seen_free(f->seen);
	logd_buf_free(&f->buf);
	free(f->path);
	free(f);
	s->priv = NULL;
}

static void
file_sink_stats(struct sink *s, char *out, size_t sz)
{
	struct file_sink	*f = s->priv;

	if (f == NULL)
		return;
	snprintf(out, sz, "written=%llu duplicates=%llu write_errors=%llu",
	    (unsigned long long)f->written, (unsigned long long)f->dups,
	    (unsigned long long)f->errors);
}

const struct sink_ops sink_file_ops = {
	.name = "file",
	.durable = 1,
	.open = file_sink_open,
	.write = file_sink_write,
	.tick = file_sink_tick,
	.reopen = file_sink_reopen,
	.close = file_sink_close,
	.stats = file_sink_stats,
};
