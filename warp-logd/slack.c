/*
 * slack.c -- what warp-logd says to Slack and when: the notify filter,
 * message text and JSON body of a connection's notification, Retry-After
 * parsing and the pacing of one channel.  Pure functions (no I/O, no
 * clock of their own) so they are unit-tested; sink_slack.c does the HTTP.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util.h"
#include "logd.h"

#define SLACK_TEXT_MAX		300	/* bytes of a reply text quoted */
#define SLACK_BACKOFF_MAX_US	(60LL * 1000000)
#define SLACK_RETRY_AFTER_MAX	(3600LL * 1000)

int
slack_notify_parse(char *const *words, unsigned *mask)
{
	static const struct {
		const char	*word;
		unsigned	 bits;
	} names[] = {
		{ "all", SLACK_NOTIFY_ALL },
		{ "reject", SLACK_NOTIFY_REJECT },
		{ "defer", SLACK_NOTIFY_DEFER },
		{ "throttle", SLACK_NOTIFY_THROTTLE },
		{ "error", SLACK_NOTIFY_ERROR },
	};
	size_t	 i;

	*mask = 0;
	for (; words != NULL && *words != NULL; words++) {
		for (i = 0; i < WARP_NELEM(names); i++)
			if (strcasecmp(*words, names[i].word) == 0)
				break;
		if (i == WARP_NELEM(names))
			return -1;
		*mask |= names[i].bits;
	}
	if (*mask == 0)
		*mask = SLACK_NOTIFY_ALL;
	return 0;
}

static int
text_throttles(const char *t)
{
	static const char *const phrases[] = { "throttl", "rate limit",
	    "rate-limit", "ratelimit", "too many", "try again later",
	    "temporarily deferred", "limit exceeded", "slow down", NULL };
	const char *const *p;

	if (t == NULL)
		return 0;
	for (p = phrases; *p != NULL; p++)
		if (strcasestr(t, *p) != NULL)
			return 1;
	return 0;
}

static unsigned
code_class(uint32_t code, const char *text, const char *verdict)
{
	unsigned	 c = 0;

	if (code >= 500 && code < 600)
		c |= SLACK_NOTIFY_REJECT;
	if (code >= 400 && code < 500)
		c |= SLACK_NOTIFY_DEFER;
	if (code >= 400 && code < 600 && (code == 421 || text_throttles(text)))
		c |= SLACK_NOTIFY_THROTTLE;
	if (verdict != NULL) {
		if (strcasecmp(verdict, "reject") == 0)
			c |= SLACK_NOTIFY_REJECT;
		else if (strcasecmp(verdict, "tempfail") == 0)
			c |= SLACK_NOTIFY_DEFER;
	}
	return c;
}

unsigned
slack_classify(const Warp__ConnEvent *c)
{
	unsigned	 cls = 0;
	size_t		 i, j;

	if (c->has_final_code)
		cls |= code_class(c->final_code, c->final_text, c->verdict);
	else if (c->verdict != NULL)
		cls |= code_class(0, NULL, c->verdict);
	for (i = 0; i < c->n_transactions; i++) {
		const Warp__Transaction *t = c->transactions[i];

		cls |= code_class(t->has_final_code ? t->final_code : 0,
		    t->final_text, t->verdict);
		for (j = 0; j < t->n_rcpts; j++)
			if (t->rcpts[j]->has_code)
				cls |= code_class(t->rcpts[j]->code,
				    t->rcpts[j]->text, NULL);
	}
	if (c->elapse_ms < 0)
		cls |= SLACK_NOTIFY_ERROR;
	if (c->close_reason != NULL && (strcasestr(c->close_reason, "error") ||
	    strcasestr(c->close_reason, "timeout") ||
	    strcasestr(c->close_reason, "fail") ||
	    strcasestr(c->close_reason, "unreachable")))
		cls |= SLACK_NOTIFY_ERROR;
	if (cls == 0)
		cls = SLACK_NOTIFY_OK;
	return cls;
}

/* Slack's mrkdwn needs &, < and > escaped; the rest is valid UTF-8. */
static void
slack_escape(struct logd_buf *b, const char *s, size_t max)
{
	struct logd_buf	 u = { NULL, 0, 0 };
	size_t		 i, n = strlen(s);
	int		 cut = 0;

	if (n > max) {
		n = max;
		cut = 1;
	}
	logd_utf8_clean(&u, s, n);
	for (i = 0; i < u.len; i++) {
		switch (u.p[i]) {
		case '&':	logd_buf_adds(b, "&amp;"); break;
		case '<':	logd_buf_adds(b, "&lt;"); break;
		case '>':	logd_buf_adds(b, "&gt;"); break;
		case '\r':
		case '\n':	logd_buf_addc(b, ' '); break;
		default:	logd_buf_addc(b, u.p[i]); break;
		}
	}
	if (cut)
		logd_buf_adds(b, "...");
	logd_buf_free(&u);
}

void
slack_format_text(struct logd_buf *b, const Warp__ConnEvent *c)
{
	unsigned	 cls = slack_classify(c);
	const char	*dest;

	if (cls & SLACK_NOTIFY_ERROR)
		logd_buf_adds(b, ":x: ");
	else if (cls & SLACK_NOTIFY_REJECT)
		logd_buf_adds(b, ":no_entry: ");
	else if (cls & SLACK_NOTIFY_THROTTLE)
		logd_buf_adds(b, ":snail: ");
	else if (cls & SLACK_NOTIFY_DEFER)
		logd_buf_adds(b, ":hourglass: ");
	else
		logd_buf_adds(b, ":email: ");
	logd_buf_adds(b, "*");
	slack_escape(b, c->mail_from && *c->mail_from ? c->mail_from : "<>",
	    SLACK_TEXT_MAX);
	logd_buf_adds(b, "* \xe2\x86\x92 ");	/* → */
	slack_escape(b, c->mail_to && *c->mail_to ? c->mail_to : "(no recipients)",
	    SLACK_TEXT_MAX * 3);
	dest = c->destination_host && *c->destination_host ?
	    c->destination_host : c->orig_dst_addr;
	if (dest != NULL && *dest != '\0') {
		logd_buf_adds(b, " via ");
		slack_escape(b, dest, SLACK_TEXT_MAX);
		if (c->destination_host && *c->destination_host &&
		    c->orig_dst_addr && *c->orig_dst_addr) {
			logd_buf_adds(b, " (");
			slack_escape(b, c->orig_dst_addr, SLACK_TEXT_MAX);
			logd_buf_adds(b, ")");
		}
	}
	logd_buf_addf(b, "\nelapse %lld ms", (long long)c->elapse_ms);
	if (c->has_final_code) {
		logd_buf_addf(b, " | reply %u", c->final_code);
		if (c->final_text && *c->final_text) {
			logd_buf_addc(b, ' ');
			slack_escape(b, c->final_text, SLACK_TEXT_MAX);
		}
	}
	if (c->verdict && *c->verdict) {
		logd_buf_adds(b, " | verdict ");
		slack_escape(b, c->verdict, 64);
	}
	if (c->has_message_count)
		logd_buf_addf(b, " | %u message%s", c->message_count,
		    c->message_count == 1 ? "" : "s");
	logd_buf_adds(b, " | connection ");
	slack_escape(b, c->connection_id, 64);
}

void
slack_format_payload(struct logd_buf *b, const char *channel,
    const char *text, size_t textlen)
{
	logd_buf_addc(b, '{');
	if (channel != NULL && *channel != '\0') {
		logd_buf_adds(b, "\"channel\":");
		logd_json_str(b, channel, strlen(channel));
		logd_buf_addc(b, ',');
	}
	logd_buf_adds(b, "\"text\":");
	logd_json_str(b, text, textlen);
	logd_buf_adds(b, ",\"unfurl_links\":false}");
}

int64_t
slack_retry_after_ms(const char *v, int64_t now_us)
{
	struct tm	 tm;
	char		*end;
	long long	 secs;
	time_t		 t;

	if (v == NULL)
		return -1;
	while (isspace((unsigned char)*v))
		v++;
	if (isdigit((unsigned char)*v)) {
		secs = strtoll(v, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (*end != '\0' || secs < 0)
			return -1;
		return WARP_MIN(secs * 1000, SLACK_RETRY_AFTER_MAX);
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL)
		return -1;
	t = timegm(&tm);
	secs = (long long)t - now_us / 1000000;
	if (secs < 0)
		secs = 0;
	return WARP_MIN(secs * 1000, SLACK_RETRY_AFTER_MAX);
}

int
slack_response_ok(const char *body, size_t len, int webhook)
{
	const char	*p, *end = body + len;

	if (webhook) {
		while (len > 0 && isspace((unsigned char)body[len - 1]))
			len--;
		while (len > 0 && isspace((unsigned char)*body)) {
			body++;
			len--;
		}
		return len == 2 && memcmp(body, "ok", 2) == 0;
	}
	for (p = body; p + 4 <= end; p++) {
		if (memcmp(p, "\"ok\"", 4) != 0)
			continue;
		p += 4;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p >= end || *p != ':')
			return 0;
		p++;
		while (p < end && isspace((unsigned char)*p))
			p++;
		return end - p >= 4 && memcmp(p, "true", 4) == 0;
	}
	return 0;
}

void
slack_pace_init(struct slack_pace *p, int64_t interval_us)
{
	p->interval_us = interval_us;
	p->next_us = 0;
	p->failures = 0;
}

int
slack_pace_ready(const struct slack_pace *p, int64_t now_us)
{
	return now_us >= p->next_us;
}

void
slack_pace_result(struct slack_pace *p, int64_t now_us, enum slack_outcome o,
    int64_t retry_after_ms)
{
	int64_t	 wait;

	switch (o) {
	case SLACK_SENT:
		p->failures = 0;
		p->next_us = now_us + p->interval_us;
		break;
	case SLACK_THROTTLED:
		/* Slack said when: obey it; else at least a second */
		wait = retry_after_ms >= 0 ? retry_after_ms * 1000 :
		    WARP_MAX(p->interval_us, 1000000);
		p->next_us = now_us + WARP_MAX(wait, p->interval_us);
		break;
	case SLACK_FAILED:
		p->failures++;
		wait = 500000LL << WARP_MIN(p->failures, 10);
		wait = WARP_MIN(wait, SLACK_BACKOFF_MAX_US);
		p->next_us = now_us + WARP_MAX(wait, p->interval_us);
		break;
	}
}
