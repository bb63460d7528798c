/*
 * fuzz_smtp_data.c -- libFuzzer target for the DATA end-of-data scanner
 * and dot-stuffing (common/smtp.c).
 *
 * The input is scanned the way warp-proxyd scans it (inserting CR before
 * each reported bare LF, stopping at the end of data) three ways: whole,
 * in pseudo-random pieces, and one byte at a time.  All three must agree
 * with each other and with a slow line-by-line reference.  The relayed
 * bytes must hold no bare LF, and scanning them again must end at the
 * same place with nothing left to fix.  Dot-stuffing must round-trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

#define MAXBARE	4096

struct result {
	int		 ended;
	size_t		 end;
	uint64_t	 bytes, header_bytes;
	int		 in_headers;
	unsigned	 flags;
	size_t		 nbare;
	size_t		*bare;
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

/* Scan in pieces: piece sizes from rnd (0 = whole, 1 = one byte). */
static void
scan(const char *in, size_t len, uint64_t rnd, int mode, struct result *r)
{
	struct smtp_data	 d;
	enum smtp_data_result	 res;
	size_t			 pos = 0, lim, used;

	memset(r, 0, sizeof(*r));
	r->bare = calloc(len + 1, sizeof(*r->bare));
	r->relayed = malloc(2 * len + 1);
	check(r->bare != NULL && r->relayed != NULL);
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
			if (res == SMTP_DATA_BARE_LF) {
				check(in[pos] == '\n');
				check(r->nbare < len);
				r->bare[r->nbare++] = pos;
				r->relayed[r->relayed_len++] = '\r';
			} else if (res == SMTP_DATA_END) {
				r->ended = 1;
				r->end = pos;
				break;
			} else
				check(res == SMTP_DATA_MORE && pos == lim);
		}
	}
	r->bytes = d.bytes;
	r->header_bytes = d.header_bytes;
	r->in_headers = d.in_headers;
	r->flags = d.flags;
}

/* The slow, obvious version: split at LF, look at each line. */
static void
reference(const char *in, size_t len, struct result *r)
{
	size_t		start = 0, lf, content, i;
	int		bare;

	memset(r, 0, sizeof(*r));
	r->in_headers = 1;
	r->bare = calloc(len + 1, sizeof(*r->bare));
	check(r->bare != NULL);
	while (start < len) {
		for (lf = start; lf < len && in[lf] != '\n'; lf++)
			;
		bare = lf < len && (lf == start || in[lf - 1] != '\r');
		content = lf - start;
		if (lf < len && !bare)
			content--;
		else if (lf == len && content > 0 && in[len - 1] == '\r')
			content--;	/* a CR that may still get its LF */
		for (i = start; i < lf; i++) {
			if (in[i] == '\0')
				r->flags |= SMTP_DATA_F_NUL;
			if (in[i] == '\r' && i + 1 < len && in[i + 1] != '\n')
				r->flags |= SMTP_DATA_F_BARE_CR;
		}
		if (content + 2 > SMTP_LINE_MAX)
			r->flags |= SMTP_DATA_F_LONG_LINE;
		if (lf == len) {
			r->bytes += lf - start;
			break;
		}
		if (bare) {
			r->flags |= SMTP_DATA_F_BARE_LF;
			r->bare[r->nbare++] = lf;
		}
		if (content == 1 && in[start] == '.') {
			if (bare)
				r->flags |= SMTP_DATA_F_BARE_LF_END;
			r->ended = 1;
			r->end = lf + 1;
			return;
		}
		if (content == 0 && r->in_headers) {
			r->in_headers = 0;
			r->header_bytes = start;
		}
		r->bytes += lf + 1 - start;
		start = lf + 1;
	}
}

static void
same(const struct result *a, const struct result *b, int relayed)
{
	check(a->ended == b->ended);
	check(a->end == b->end);
	check(a->bytes == b->bytes);
	check(a->header_bytes == b->header_bytes);
	check(a->in_headers == b->in_headers);
	check(a->flags == b->flags);
	check(a->nbare == b->nbare);
	check(memcmp(a->bare, b->bare, a->nbare * sizeof(a->bare[0])) == 0);
	if (relayed) {
		check(a->relayed_len == b->relayed_len);
		check(memcmp(a->relayed, b->relayed, a->relayed_len) == 0);
	}
}

static void
release(struct result *r)
{
	free(r->bare);
	free(r->relayed);
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

	/* unstuff never grows, and a valid stuffed text re-stuffs to itself */
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
	struct result	 whole, piece, bytes, ref, again;
	uint64_t	 seed = seed_of(data, size);
	size_t		 i;

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

	/* What warp sends on has no bare LF, and ends where warp ended. */
	for (i = 0; i < whole.relayed_len; i++)
		if (whole.relayed[i] == '\n')
			check(i > 0 && whole.relayed[i - 1] == '\r');
	scan(whole.relayed, whole.relayed_len, seed, 2, &again);
	check(again.nbare == 0 && again.ended == whole.ended);
	check(!again.ended || again.end == whole.relayed_len);
	check(again.flags == (whole.flags &
	    ~(SMTP_DATA_F_BARE_LF | SMTP_DATA_F_BARE_LF_END)));
	/* every inserted CR is content, except one before the final LF */
	check(again.bytes == whole.bytes + whole.nbare -
	    (whole.flags & SMTP_DATA_F_BARE_LF_END ? 1 : 0));
	if (whole.ended)
		check(whole.relayed_len >= 3 && memcmp(whole.relayed +
		    whole.relayed_len - 3, ".\r\n", 3) == 0 &&
		    (whole.relayed_len == 3 || memcmp(whole.relayed +
		    whole.relayed_len - 5, "\r\n", 2) == 0));

	release(&whole);
	release(&piece);
	release(&ref);
	release(&again);

	stuffing(in, size);
	return 0;
}
