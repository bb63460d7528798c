/*
 * sink_slack.c -- warp-logd's Slack notifications: one message per
 * connection (conn event) that passes the slack_notify filter, POSTed with
 * libcurl to chat.postMessage (bot token + channel) or to an incoming
 * webhook.
 *
 * Best effort, never in the way: this sink is not durable, so it never
 * delays an Ack; its thread paces sends to one per slack_interval, obeys a
 * 429's Retry-After by waiting (the message stays first in line, nothing
 * is dropped for it), retries network and 5xx errors with backoff up to
 * slack_retries, and drops the oldest notifications (counted, logged) only
 * past slack_queue_max.  Pending notifications live in memory: a crash of
 * warp-logd loses them (docs/logd.md).  Holds the Slack token.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "logd.h"

#define SLACK_BODY_MAX	65536

struct note {
	char	*payload;
	size_t	 len;
	int	 attempts;
};

struct slack_sink {
	char		*token, *channel, *webhook, *api_url, *url;
	unsigned	 mask;
	long		 timeout_ms;
	int		 retries;
	size_t		 qmax;
	struct slack_pace pace;
	struct note	*q;		/* ring */
	size_t		 qcap, qhead, qlen;
	struct logd_seen *seen;
	CURL		*curl;
	struct curl_slist *hdrs;
	struct logd_buf	 body;
	char		 retry_after[64];
	struct logd_buf	 text, payload;
	uint64_t	 sent, throttled, failed, dropped, filtered;
	int64_t		 last_drop_log;
};

static void
note_push(struct slack_sink *k, char *payload, size_t len)
{
	if (k->qlen == k->qmax) {
		int64_t now = warp_mono_us();

		free(k->q[k->qhead].payload);
		k->qhead = (k->qhead + 1) % k->qcap;
		k->qlen--;
		k->dropped++;
		if (now - k->last_drop_log > 10000000LL) {
			log_warnx("slack sink: queue full (slack_queue_max "
			    "%zu): oldest notification dropped (%llu so far)",
			    k->qmax, (unsigned long long)k->dropped);
			k->last_drop_log = now;
		}
	}
	if (k->qlen == k->qcap) {
		struct note *nq = xcalloc(k->qcap * 2, sizeof(*nq));
		size_t	     i;

		for (i = 0; i < k->qlen; i++)
			nq[i] = k->q[(k->qhead + i) % k->qcap];
		free(k->q);
		k->q = nq;
		k->qhead = 0;
		k->qcap *= 2;
	}
	k->q[(k->qhead + k->qlen) % k->qcap] = (struct note){ payload, len, 0 };
	k->qlen++;
}

static void
note_pop(struct slack_sink *k)
{
	free(k->q[k->qhead].payload);
	k->qhead = (k->qhead + 1) % k->qcap;
	k->qlen--;
}

static int
slack_sink_open(struct sink *s, const struct conf *cf)
{
	struct slack_sink	*k;
	char			*auth;

	k = xcalloc(1, sizeof(*k));
	s->priv = k;
	k->token = xstrdup(logd_conf_str(cf, "slack_token"));
	k->channel = xstrdup(logd_conf_str(cf, "slack_channel"));
	k->webhook = xstrdup(logd_conf_str(cf, "slack_webhook_url"));
	k->api_url = xstrdup(conf_str(cf, "slack_api_url"));
	k->url = *k->webhook ? k->webhook : k->api_url;
	if (slack_notify_parse(conf_list(cf, "slack_notify", NULL),
	    &k->mask) == -1)
		return -1;
	k->timeout_ms = (long)conf_duration_ms(cf, "slack_timeout");
	k->retries = (int)conf_int(cf, "slack_retries");
	k->qmax = (size_t)conf_int(cf, "slack_queue_max");
	k->qcap = 64;
	k->q = xcalloc(k->qcap, sizeof(*k->q));
	k->seen = logd_seen_new((size_t)conf_int(cf, "dedupe_connections"));
	slack_pace_init(&k->pace, conf_duration_ms(cf, "slack_interval") * 1000);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (k->curl = curl_easy_init()) == NULL) {
		log_warnx("slack sink: cannot initialise libcurl");
		return -1;
	}
	k->hdrs = curl_slist_append(NULL,
	    "Content-Type: application/json; charset=utf-8");
	if (*k->webhook == '\0') {
		auth = xasprintf("Authorization: Bearer %s", k->token);
		k->hdrs = curl_slist_append(k->hdrs, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	log_info("slack sink: %s%s%s", *k->webhook ? "incoming webhook" :
	    "chat.postMessage to ", *k->webhook ? "" : k->channel,
	    *k->webhook ? "" : "");
	return 0;
}

static void
slack_sink_write(struct sink *s, struct logd_batch **group, size_t n)
{
	struct slack_sink	*k = s->priv;
	const Warp__EventBatch	*eb;
	size_t			 i, j;

	for (i = 0; i < n; i++) {
		eb = &group[i]->eb;
		for (j = 0; j < eb->n_events; j++) {
			const Warp__Event *ev = eb->events[j];

			if (ev->kind_case != WARP__EVENT__KIND_CONN)
				continue;
			if (logd_seen_check(k->seen, ev->conn->connection_id,
			    ev->conn->seq))
				continue;
			if ((slack_classify(ev->conn) & k->mask) == 0) {
				k->filtered++;
				continue;
			}
			k->text.len = 0;
			slack_format_text(&k->text, ev->conn);
			k->payload.len = 0;
			slack_format_payload(&k->payload, *k->webhook ? NULL :
			    k->channel, k->text.p, k->text.len);
			note_push(k, xmemdup(k->payload.p, k->payload.len + 1),
			    k->payload.len);
		}
	}
}

static size_t
body_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct slack_sink	*k = arg;
	size_t			 n = size * nmemb;

	if (k->body.len + n <= SLACK_BODY_MAX)
		logd_buf_add(&k->body, p, n);
	return n;
}

static size_t
header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct slack_sink	*k = arg;
	size_t			 n = size * nmemb, len;

	if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		len = WARP_MIN(n - 12, sizeof(k->retry_after) - 1);
		memcpy(k->retry_after, p + 12, len);
		k->retry_after[len] = '\0';
		k->retry_after[strcspn(k->retry_after, "\r\n")] = '\0';
	}
	return n;
}

/* One attempt at the first notification. */
static void
slack_send(struct slack_sink *k)
{
	struct note	*nt = &k->q[k->qhead];
	long		 status = 0;
	CURLcode	 rc;
	int64_t		 now, ra;
	int		 webhook = *k->webhook != '\0';

	k->body.len = 0;
	k->retry_after[0] = '\0';
	curl_easy_reset(k->curl);
	curl_easy_setopt(k->curl, CURLOPT_URL, k->url);
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, k->hdrs);
	curl_easy_setopt(k->curl, CURLOPT_POSTFIELDS, nt->payload);
	curl_easy_setopt(k->curl, CURLOPT_POSTFIELDSIZE, (long)nt->len);
	curl_easy_setopt(k->curl, CURLOPT_TIMEOUT_MS, k->timeout_ms);
	curl_easy_setopt(k->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(k->curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(k->curl, CURLOPT_HEADERDATA, k);
	curl_easy_setopt(k->curl, CURLOPT_USERAGENT, "warp-logd/" WARP_VERSION);
	curl_easy_setopt(k->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(k->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &status);
	now = warp_mono_us();

	if (rc == CURLE_OK && status == 429) {
		ra = slack_retry_after_ms(k->retry_after, warp_now_us());
		k->throttled++;
		log_info("slack sink: rate limited (429), waiting %lld ms "
		    "before the next message (%zu queued)",
		    (long long)(ra >= 0 ? ra : 1000), k->qlen);
		slack_pace_result(&k->pace, now, SLACK_THROTTLED, ra);
		return;
	}
	if (rc == CURLE_OK && status >= 200 && status < 300 &&
	    slack_response_ok(k->body.p ? k->body.p : "", k->body.len,
	    webhook)) {
		k->sent++;
		slack_pace_result(&k->pace, now, SLACK_SENT, -1);
		note_pop(k);
		return;
	}
	if (rc == CURLE_OK && status >= 200 && status < 500) {
		/* a definite "no" (bad token, unknown channel): no retry */
		k->failed++;
		log_warnx("slack sink: notification refused: HTTP %ld: %s",
		    status, log_printable(k->body.p ? k->body.p : "",
		    k->body.len));
		slack_pace_result(&k->pace, now, SLACK_SENT, -1);
		note_pop(k);
		return;
	}
	slack_pace_result(&k->pace, now, SLACK_FAILED, -1);
	if (++nt->attempts > k->retries) {
		k->failed++;
		log_warnx("slack sink: giving up on a notification after %d "
		    "attempts: %s", nt->attempts, rc != CURLE_OK ?
		    curl_easy_strerror(rc) : "server error");
		note_pop(k);
	} else
		log_warnx("slack sink: %s (attempt %d, retrying)",
		    rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP 5xx",
		    nt->attempts);
}

static int
slack_sink_tick(struct sink *s)
{
	struct slack_sink	*k = s->priv;
	int64_t			 now;

	if (k->qlen == 0)
		return -1;
	now = warp_mono_us();
	if (!slack_pace_ready(&k->pace, now))
		return (int)((k->pace.next_us - now) / 1000) + 1;
	slack_send(k);
	if (k->qlen == 0)
		return -1;
	now = warp_mono_us();
	return slack_pace_ready(&k->pace, now) ? 0 :
	    (int)((k->pace.next_us - now) / 1000) + 1;
}

static void
slack_sink_close(struct sink *s)
{
	struct slack_sink	*k = s->priv;

	if (k->qlen > 0)
		log_warnx("slack sink: %zu notifications not sent at shutdown",
		    k->qlen);
	while (k->qlen > 0)
		note_pop(k);
	free(k->q);
	logd_seen_free(k->seen);
	curl_slist_free_all(k->hdrs);
	if (k->curl)
		curl_easy_cleanup(k->curl);
	logd_buf_free(&k->body);
	logd_buf_free(&k->text);
	logd_buf_free(&k->payload);
	explicit_bzero(k->token, strlen(k->token));
	explicit_bzero(k->webhook, strlen(k->webhook));
	free(k->token);
	free(k->channel);
	free(k->webhook);
	free(k->api_url);
	free(k);
	s->priv = NULL;
}

static void
slack_sink_stats(struct sink *s, char *out, size_t sz)
{
	struct slack_sink	*k = s->priv;

	if (k == NULL)
		return;
	snprintf(out, sz, "sent=%llu queued=%zu throttled=%llu failed=%llu "
	    "dropped=%llu filtered=%llu", (unsigned long long)k->sent, k->qlen,
	    (unsigned long long)k->throttled, (unsigned long long)k->failed,
	    (unsigned long long)k->dropped, (unsigned long long)k->filtered);
}

const struct sink_ops sink_slack_ops = {
	.name = "slack",
	.durable = 0,
	.open = slack_sink_open,
	.write = slack_sink_write,
	.tick = slack_sink_tick,
	.close = slack_sink_close,
	.stats = slack_sink_stats,
};
