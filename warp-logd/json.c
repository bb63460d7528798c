/*
 * json.c -- byte buffers, UTF-8 repair, JSON encoding of events, time
 * formats and deterministic event ids for warp-logd.
 *
 * Pure functions, called from the sink threads (no shared state except the
 * per-thread time cache).  Everything an event carries came from the
 * network, so every string goes through logd_json_str(), which produces
 * valid JSON for any input bytes: ill-formed UTF-8 bytes become \u00XX
 * (their Latin-1 value), control characters are escaped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"
#include "logd.h"

/* ---- buffer ------------------------------------------------------------------ */

void
logd_buf_grow(struct logd_buf *b, size_t more)
{
	size_t	 need, cap;

	need = b->len + more + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void
logd_buf_add(struct logd_buf *b, const void *p, size_t n)
{
	logd_buf_grow(b, n);
	if (n > 0)		/* p may be NULL for empty data */
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
logd_buf_adds(struct logd_buf *b, const char *s)
{
	logd_buf_add(b, s, strlen(s));
}

void
logd_buf_addc(struct logd_buf *b, char c)
{
	logd_buf_grow(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

/* A decimal integer, without printf: one per JSON event at least. */
void
logd_buf_addi(struct logd_buf *b, int64_t v)
{
	char	 tmp[24], *e = tmp;

	if (v < 0)
		*e++ = '-';
	e = warp_put_uint(e, v < 0 ? -(uint64_t)v : (uint64_t)v);
	logd_buf_add(b, tmp, (size_t)(e - tmp));
}

void
logd_buf_addf(struct logd_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	logd_buf_grow(b, 64);
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		logd_buf_grow(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void
logd_buf_free(struct logd_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- UTF-8 ------------------------------------------------------------------- */

size_t
logd_utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t	 c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		if (n >= 2 && (p[1] & 0xc0) == 0x80)
			return 2;
		return 0;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0)		/* overlong */
			return 0;
		if (c == 0xed && p[1] >= 0xa0)		/* surrogate */
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90)		/* overlong */
			return 0;
		if (c == 0xf4 && p[1] >= 0x90)		/* > U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

void
logd_utf8_clean(struct logd_buf *b, const void *src, size_t n)
{
	const uint8_t	*p = src, *end = p + n, *run = p;
	size_t		 k;

	logd_buf_grow(b, n);
	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((k = logd_utf8_seq(p, (size_t)(end - p))) != 0) {
			p += k;
			continue;
		}
		logd_buf_add(b, run, (size_t)(p - run));
		/* U+0080..U+00FF in UTF-8 */
		logd_buf_addc(b, (char)(0xc0 | (*p >> 6)));
		logd_buf_addc(b, (char)(0x80 | (*p & 0x3f)));
		run = ++p;
	}
	logd_buf_add(b, run, (size_t)(end - run));
}

static const char hexdig[] = "0123456789abcdef";

void
logd_json_str(struct logd_buf *b, const void *src, size_t n)
{
	const uint8_t	*p = src, *end = p + n, *run;
	size_t		 k;
	char		 esc[6];

	/* Worst case is 6 bytes per input byte; reserve the common case. */
	logd_buf_grow(b, n + 2);
	b->p[b->len++] = '"';
	run = p;
	while (p < end) {
		uint8_t c = *p;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			p++;
			continue;
		}
		if (c >= 0x80 && (k = logd_utf8_seq(p, (size_t)(end - p))) != 0) {
			p += k;
			continue;
		}
		logd_buf_add(b, run, (size_t)(p - run));
		switch (c) {
		case '"':	logd_buf_add(b, "\\\"", 2); break;
		case '\\':	logd_buf_add(b, "\\\\", 2); break;
		case '\n':	logd_buf_add(b, "\\n", 2); break;
		case '\r':	logd_buf_add(b, "\\r", 2); break;
		case '\t':	logd_buf_add(b, "\\t", 2); break;
		default:
			/* other controls, and ill-formed bytes as their
			 * Latin-1 code point (DEL is valid JSON as-is) */
			esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
			esc[4] = hexdig[c >> 4];
			esc[5] = hexdig[c & 0xf];
			logd_buf_add(b, esc, 6);
			break;
		}
		run = ++p;
	}
	logd_buf_add(b, run, (size_t)(p - run));
	logd_buf_addc(b, '"');
}

static void
json_cstr(struct logd_buf *b, const char *s)
{
	logd_json_str(b, s, strlen(s));
}

/* ---- time -------------------------------------------------------------------- */

/* Broken-down time of the last second formatted, per thread: events come
 * in bursts within the same second. */
static __thread time_t	 tcache_sec = (time_t)-1;
static __thread char	 tcache_date[24];	/* "YYYY-MM-DDTHH:MM:SS" */

static void
time_split(int64_t us, time_t *sec, int *frac)
{
	*sec = (time_t)(us / 1000000);
	*frac = (int)(us % 1000000);
	if (*frac < 0) {
		*frac += 1000000;
		(*sec)--;
	}
}

static void
put_num(char *o, int v, int width)
{
	int	 i;

	for (i = width - 1; i >= 0; i--) {
		o[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

static const char *
time_date(time_t sec)
{
	struct tm	 tm;

	if (sec != tcache_sec) {
		if (gmtime_r(&sec, &tm) == NULL)
			memset(&tm, 0, sizeof(tm));
		put_num(tcache_date, (tm.tm_year + 1900) % 10000, 4);
		tcache_date[4] = '-';
		put_num(tcache_date + 5, tm.tm_mon + 1, 2);
		tcache_date[7] = '-';
		put_num(tcache_date + 8, tm.tm_mday, 2);
		tcache_date[10] = 'T';
		put_num(tcache_date + 11, tm.tm_hour, 2);
		tcache_date[13] = ':';
		put_num(tcache_date + 14, tm.tm_min, 2);
		tcache_date[16] = ':';
		put_num(tcache_date + 17, tm.tm_sec, 2);
		tcache_date[19] = '\0';
		tcache_sec = sec;
	}
	return tcache_date;
}

static void
put_frac(char *o, int frac)
{
	put_num(o, frac, 6);
}

void
logd_rfc3339(int64_t us, char out[32])
{
	time_t	 sec;
	int	 frac;

	time_split(us, &sec, &frac);
	memcpy(out, time_date(sec), 19);
	out[19] = '.';
	put_frac(out + 20, frac);
	out[26] = 'Z';
	out[27] = '\0';
}

void
logd_sqltime(int64_t us, char out[40])
{
	time_t	 sec;
	int	 frac;

	time_split(us, &sec, &frac);
	memcpy(out, time_date(sec), 19);
	out[10] = ' ';
	out[19] = '.';
	put_frac(out + 20, frac);
	memcpy(out + 26, "+00:00", 7);
}

/* ---- ids ----------------------------------------------------------------------- */

static uint64_t
mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

void
logd_event_ulid(const char *cid, uint32_t seq, int64_t at_us, char out[27])
{
	static const char crock[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	uint64_t	 h1 = 0xcbf29ce484222325ULL, h2, ms, r;
	const char	*s;
	int		 i;

	for (s = cid; *s != '\0'; s++) {
		h1 ^= (uint8_t)*s;
		h1 *= 0x100000001b3ULL;
	}
	h2 = mix64(h1 ^ (0x9e3779b97f4a7c15ULL * ((uint64_t)seq + 1)));
	h1 = mix64(h2 + seq);
	ms = at_us < 0 ? 0 : (uint64_t)(at_us / 1000);
	ms &= 0xffffffffffffULL;
	/* 10 chars of time (50 bits, top 2 zero), 16 chars of 80 hash bits */
	for (i = 9; i >= 0; i--) {
		out[i] = crock[ms & 31];
		ms >>= 5;
	}
	r = h1;
	for (i = 0; i < 12; i++) {
		out[10 + i] = crock[r & 31];
		r >>= 5;
	}
	r = h2;
	for (i = 0; i < 4; i++) {
		out[22 + i] = crock[r & 31];
		r >>= 5;
	}
	out[26] = '\0';
}

/* ---- events as JSON lines --------------------------------------------------------- */

static void
json_key(struct logd_buf *b, const char *key)
{
	logd_buf_addc(b, ',');
	logd_buf_addc(b, '"');
	logd_buf_adds(b, key);
	logd_buf_add(b, "\":", 2);
}

static void
json_opt_str(struct logd_buf *b, const char *key, const char *v)
{
	if (v == NULL)
		return;
	json_key(b, key);
	json_cstr(b, v);
}

static void
json_opt_i64(struct logd_buf *b, const char *key, int has, int64_t v)
{
	if (!has)
		return;
	json_key(b, key);
	logd_buf_addi(b, v);
}

static void
json_head(struct logd_buf *b, const char *type, int64_t at_us,
    const char *cid, uint32_t seq)
{
	char	 ts[32];

	logd_rfc3339(at_us, ts);
	logd_buf_add(b, "{\"type\":\"", 9);
	logd_buf_adds(b, type);
	logd_buf_add(b, "\",\"occurred_at\":\"", 17);
	logd_buf_add(b, ts, 27);
	logd_buf_add(b, "\",\"connection_id\":", 18);
	json_cstr(b, cid);
	logd_buf_add(b, ",\"seq\":", 7);
	logd_buf_addi(b, seq);
}

void
logd_json_comm(struct logd_buf *b, const Warp__CommEvent *c)
{
	logd_buf_grow(b, 128 + c->data.len);
	json_head(b, "comm", c->occurred_at_us, c->connection_id, c->seq);
	json_key(b, "direction");
	json_cstr(b, c->direction);
	json_key(b, "data");
	logd_json_str(b, c->data.data, c->data.len);
	logd_buf_add(b, "}\n", 2);
}

void
logd_json_conn(struct logd_buf *b, const Warp__ConnEvent *c)
{
	size_t	 i, j;

	json_head(b, "conn", c->occurred_at_us, c->connection_id, c->seq);
	json_key(b, "from");
	json_cstr(b, c->mail_from ? c->mail_from : "");
	json_key(b, "to");
	json_cstr(b, c->mail_to ? c->mail_to : "");
	json_key(b, "elapse");
	logd_buf_addi(b, c->elapse_ms);
	json_opt_str(b, "client_addr", c->client_addr);
	json_opt_str(b, "orig_dst_addr", c->orig_dst_addr);
	json_opt_str(b, "outbound_addr", c->outbound_addr);
	json_opt_str(b, "destination_host", c->destination_host);
	json_opt_str(b, "helo", c->helo);
	json_opt_i64(b, "message_count", c->has_message_count, c->message_count);
	json_opt_i64(b, "bytes_total", c->has_bytes_total, (int64_t)c->bytes_total);
	json_opt_str(b, "tls_version", c->tls_version);
	json_opt_str(b, "tls_cipher", c->tls_cipher);
	json_opt_str(b, "client_tls_version", c->client_tls_version);
	json_opt_str(b, "client_tls_cipher", c->client_tls_cipher);
	json_opt_i64(b, "banner_ms", c->has_banner_ms, c->banner_ms);
	json_opt_i64(b, "ehlo_ms", c->has_ehlo_ms, c->ehlo_ms);
	json_opt_i64(b, "mail_ms", c->has_mail_ms, c->mail_ms);
	json_opt_i64(b, "rcpt_ms", c->has_rcpt_ms, c->rcpt_ms);
	json_opt_i64(b, "data_ms", c->has_data_ms, c->data_ms);
	json_opt_i64(b, "eod_ms", c->has_eod_ms, c->eod_ms);
	json_opt_i64(b, "total_ms", c->has_total_ms, c->total_ms);
	json_opt_i64(b, "final_code", c->has_final_code, c->final_code);
	json_opt_str(b, "final_text", c->final_text);
	json_opt_str(b, "verdict", c->verdict);
	json_opt_str(b, "route_pool", c->route_pool);
	json_opt_str(b, "route_reason", c->route_reason);
	json_opt_str(b, "close_reason", c->close_reason);
	if (c->n_transactions > 0) {
		json_key(b, "transactions");
		logd_buf_addc(b, '[');
		for (i = 0; i < c->n_transactions; i++) {
			const Warp__Transaction *t = c->transactions[i];

			logd_buf_add(b, i ? ",{" : "{", i ? 2 : 1);
			logd_buf_add(b, "\"from\":", 7);
			json_cstr(b, t->mail_from ? t->mail_from : "");
			json_opt_str(b, "mail_params", t->mail_params);
			json_key(b, "rcpts");
			logd_buf_addc(b, '[');
			for (j = 0; j < t->n_rcpts; j++) {
				const Warp__Recipient *r = t->rcpts[j];

				logd_buf_add(b, j ? ",{" : "{", j ? 2 : 1);
				logd_buf_add(b, "\"address\":", 10);
				json_cstr(b, r->address ? r->address : "");
				json_opt_i64(b, "code", r->has_code, r->code);
				json_opt_str(b, "text", r->text);
				json_opt_i64(b, "ms", r->has_ms, r->ms);
				logd_buf_addc(b, '}');
			}
			logd_buf_addc(b, ']');
			json_opt_i64(b, "size", t->has_size, (int64_t)t->size);
			json_opt_i64(b, "final_code", t->has_final_code,
			    t->final_code);
			json_opt_str(b, "final_text", t->final_text);
			json_opt_str(b, "verdict", t->verdict);
			json_opt_i64(b, "data_ms", t->has_data_ms, t->data_ms);
			json_opt_i64(b, "eod_ms", t->has_eod_ms, t->eod_ms);
			json_opt_i64(b, "elapse_ms", t->has_elapse_ms,
			    t->elapse_ms);
			json_opt_str(b, "message_id", t->message_id);
			logd_buf_addc(b, '}');
		}
		logd_buf_addc(b, ']');
	}
	logd_buf_add(b, "}\n", 2);
}
