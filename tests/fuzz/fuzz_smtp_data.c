/*
 * fuzz_smtp_data.c -- libFuzzer target for the DATA end-of-data scanner
 * and dot-stuffing (common/smtp.c).
 *
 * The input is scanned the way warp-proxyd scans it (relaying the used
 * bytes, then what each SMTP_DATA_INSERT asks for, stopping at the end of
 * data) three ways: whole, in pseudo-random pieces, and one byte at a
 * time.  All three must relay the same bytes and end at the same place,
 * and agree with a slow line-by-line reference.  What is relayed must
 * hold no bare LF and CRLF "." CRLF only as its own end; un-stuffed, it
 * must give back the client's content with bare LFs made CRLF; and
 * scanning it again must end at the same place with nothing to insert.
 * Dot-stuffing must round-trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

struct result {
	int		 ended;
	size_t		 end;
	uint64_t	 bytes, added, header_bytes;
	int		 in_headers;
	unsigned	 flags;
	size_t		 ninsert;
	char		*relayed;
	size_t		 relayed_len;
};

static void
check(int cond)
{
	if (!cond)
		abort();
}

static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* At most ".\r" is inserted before one LF: two bytes out per byte in. */
static void
result_init(struct result *r, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->relayed = malloc(2 * len + 2);
	check(r->relayed != NULL);
}

/* Scan in pieces: piece sizes from rnd (0 = whole, 1 = one byte). */
static void
scan(const char *in, size_t len, uint64_t rnd, int mode, struct result *r)
{
	struct smtp_data	 d;
	enum smtp_data_result	 res;
	size_t			 pos = 0, lim, used;

	result_init(r, len);
	smtp_data_init(&d);
	while (pos < len && !r->ended) {
		if (mode == 0)
			lim = len;
		else if (mode == 1)
			lim = pos + 1;
		else
			lim = pos + 1 + next_rand(&rnd) % 64;
		if (lim > len)
			lim = len;
		while (pos < lim) {
			res = smtp_data_scan(&d, in + pos, lim - pos, &used);
			check(used <= lim - pos);
			memcpy(r->relayed + r->relayed_len, in + pos, used);
			r->relayed_len += used;
			pos += used;
			if (res == SMTP_DATA_INSERT) {
				check(pos < lim);
				check((d.insert_len == 1 && d.insert[0] == '.' &&
				    in[pos] == '.') ||
				    (d.insert_len == 1 && d.insert[0] == '\r' &&
				    in[pos] == '\n') ||
				    (d.insert_len == 2 &&
				    memcmp(d.insert, ".\r", 2) == 0 &&
				    in[pos] == '\n'));
				check(r->ninsert < len);
				memcpy(r->relayed + r->relayed_len, d.insert,
				    d.insert_len);
				r->relayed_len += d.insert_len;
				r->ninsert++;
			} else if (res == SMTP_DATA_END) {
				r->ended = 1;
				r->end = pos;
				break;
			} else
				check(res == SMTP_DATA_MORE && pos == lim);
		}
	}
	check(r->relayed_len == pos + d.added);
	r->bytes = d.bytes;
	r->added = d.added;
	r->header_bytes = d.header_bytes;
	r->in_headers = d.in_headers;
	r->flags = d.flags;
}

static void
put(struct result *r, const char *p, size_t n)
{
	memcpy(r->relayed + r->relayed_len, p, n);
	r->relayed_len += n;
}

static void
flag_bytes(const char *in, size_t len, size_t from, size_t to,
    struct result *r)
{
	size_t	i;

	for (i = from; i < to; i++) {
		if (in[i] == '\0')
			r->flags |= SMTP_DATA_F_NUL;
		if (in[i] == '\r' && i + 1 < len && in[i + 1] != '\n')
			r->flags |= SMTP_DATA_F_BARE_CR;
	}
}

/* The slow, obvious version: split at LF, look at each line. */
static void
reference(const char *in, size_t len, struct result *r)
{
	size_t		start = 0, lf, content;
	int		real_bol = 1, bare, dotfix, dotline;

	result_init(r, len);
	r->in_headers = 1;
	while (start < len) {
		for (lf = start; lf < len && in[lf] != '\n'; lf++)
			;
		/* After a bare LF, a leading "." gets one more. */
		dotfix = !real_bol && in[start] == '.';
		if (lf == len) {
			content = len - start + dotfix;
			if (in[len - 1] == '\r')
				content--;	/* may still get its LF */
			flag_bytes(in, len, start, len, r);
			if (content + 2 > SMTP_LINE_MAX)
				r->flags |= SMTP_DATA_F_LONG_LINE;
			if (dotfix)
				put(r, ".", 1);
			put(r, in + start, len - start);
			r->added += dotfix;
			/* "." or ".\r" may still be the end: not counted */
			if (!(real_bol && in[start] == '.' &&
			    (len - start == 1 ||
			    (len - start == 2 && in[start + 1] == '\r'))))
				r->bytes += len - start;
			break;
		}
		bare = lf == start || in[lf - 1] != '\r';
		content = lf - start - (bare ? 0 : 1);
		if (real_bol && !bare && content == 1 && in[start] == '.') {
			put(r, ".\r\n", 3);
			r->ended = 1;
			r->end = lf + 1;
			break;
		}
		dotline = real_bol && bare && content == 1 && in[start] == '.';
		flag_bytes(in, len, start, lf, r);
		if (content + dotfix + 2 > SMTP_LINE_MAX)
			r->flags |= SMTP_DATA_F_LONG_LINE;
		if (bare)
			r->flags |= SMTP_DATA_F_BARE_LF;
		if (content == 0 && r->in_headers) {
			r->in_headers = 0;
			r->header_bytes = start;
		}
		if (dotfix)
			put(r, ".", 1);
		put(r, in + start, lf - start);
		if (dotline)
			put(r, ".\r", 2);
		else if (bare)
			put(r, "\r", 1);
		put(r, "\n", 1);
		r->added += dotfix + (dotline ? 2 : bare ? 1 : 0);
		r->bytes += lf + 1 - start;
		real_bol = !bare;
		start = lf + 1;
	}
}

static void
same(const struct result *a, const struct result *b, int inserts)
{
	check(a->ended == b->ended);
	check(a->end == b->end);
	check(a->bytes == b->bytes);
	check(a->added == b->added);
	check(a->header_bytes == b->header_bytes);
	check(a->in_headers == b->in_headers);
	check(a->flags == b->flags);
	if (inserts)
		check(a->ninsert == b->ninsert);
	check(a->relayed_len == b->relayed_len);
	check(memcmp(a->relayed, b->relayed, a->relayed_len) == 0);
}

static void
release(struct result *r)
{
	free(r->relayed);
}

/* Offset of the first CRLF "." CRLF in p, or n if there is none. */
static size_t
find_eod(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i + 5 <= n; i++)
		if (memcmp(p + i, "\r\n.\r\n", 5) == 0)
			return i;
	return n;
}

/*
 * What the client meant: its lines with the stuffing dot taken off where
 * it stuffs (after a real line start, RFC 5321 4.5.2, as smtp_unstuff()
 * reads it) and bare LFs made CRLF.  out must hold 2 * len bytes.
 */
static size_t
client_content(const char *in, size_t len, char *out)
{
	size_t	start = 0, lf, o = 0;
	int	real_bol = 1, bare;

	while (start < len) {
		for (lf = start; lf < len && in[lf] != '\n'; lf++)
			;
		bare = lf < len && (lf == start || in[lf - 1] != '\r');
		if (real_bol && in[start] == '.' && start + 1 < len &&
		    in[start + 1] != '\r' && in[start + 1] != '\n')
			start++;
		if (lf == len) {
			memcpy(out + o, in + start, len - start);
			o += len - start;
			break;
		}
		memcpy(out + o, in + start, lf - start);
		o += lf - start;
		if (bare)
			out[o++] = '\r';
		out[o++] = '\n';
		real_bol = !bare;
		start = lf + 1;
	}
	return o;
}

static void
relayed_checks(const char *in, size_t size, const struct result *w,
    uint64_t seed)
{
	struct result	 again;
	const char	*o = w->relayed;
	size_t		 n = w->relayed_len, i, clen, ulen, inlen;
	char		*c, *u;

	/* No bare LF reaches the destination. */
	for (i = 0; i < n; i++)
		if (o[i] == '\n')
			check(i > 0 && o[i - 1] == '\r');

	/* The destination sees the end once, exactly where warp did. */
	if (w->ended) {
		check(n >= 3 && memcmp(o + n - 3, ".\r\n", 3) == 0);
		if (n == 3)
			check(w->end == 3);
		else
			check(find_eod(o, n) == n - 5);
	} else {
		check(find_eod(o, n) == n);
		check(n < 3 || memcmp(o, ".\r\n", 3) != 0);
	}

	/* Un-stuffed, it is what the client meant. */
	inlen = w->ended ? w->end - 3 : size;
	ulen = w->ended ? n - 3 : n;
	u = malloc(ulen + 1);
	c = malloc(2 * inlen + 1);
	check(u != NULL && c != NULL);
	memcpy(u, o, ulen);
	ulen = smtp_unstuff(u, ulen);
	clen = client_content(in, inlen, c);
	check(ulen == clen && memcmp(u, c, clen) == 0);
	free(u);
	free(c);

	/* Scanned again, it needs nothing and ends at its end. */
	scan(o, n, seed, 2, &again);
	check(again.ninsert == 0 && again.added == 0);
	check(again.ended == w->ended);
	check(!again.ended || again.end == n);
	check(again.relayed_len == n && memcmp(again.relayed, o, n) == 0);
	check(again.bytes == w->bytes + w->added);
	check(again.flags == (w->flags & ~SMTP_DATA_F_BARE_LF));
	check(again.in_headers == w->in_headers);
	release(&again);
}

static void
stuffing(const char *in, size_t len)
{
	char	*st, *copy;
	size_t	 n, m;

	n = smtp_stuff_len(in, len);
	check(n >= len);
	st = malloc(n + 1);
	check(st != NULL);
	check(smtp_stuff(in, len, st) == n);
	m = smtp_unstuff(st, n);
	check(m == len && memcmp(st, in, len) == 0);
	free(st);

	/* unstuff never grows */
	copy = malloc(len + 1);
	check(copy != NULL);
	memcpy(copy, in, len);
	m = smtp_unstuff(copy, len);
	check(m <= len);
	free(copy);
}

/* FNV-1a over the first bytes: wraps by design. */
__attribute__((no_sanitize("integer")))
static uint64_t
seed_of(const uint8_t *data, size_t size)
{
	uint64_t	seed = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < size && i < 16; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ULL;
	return seed != 0 ? seed : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*in = (const char *)data;
	struct result	 whole, piece, bytes, ref;
	uint64_t	 seed = seed_of(data, size);

	scan(in, size, seed, 0, &whole);
	scan(in, size, seed, 2, &piece);
	same(&whole, &piece, 1);
	if (size <= 4096) {
		scan(in, size, seed, 1, &bytes);
		same(&whole, &bytes, 1);
		release(&bytes);
	}
	reference(in, size, &ref);
	same(&whole, &ref, 0);
	check(whole.bytes <= size);
	check(whole.header_bytes <= whole.bytes);
	relayed_checks(in, size, &whole, seed);

	release(&whole);
	release(&piece);
	release(&ref);

	stuffing(in, size);
	return 0;
}
