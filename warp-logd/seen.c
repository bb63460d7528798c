/*
 * seen.c -- warp-logd's memory of which events it already stored, for the
 * sinks that have no database constraint to lean on (the JSON file, Slack).
 *
 * A hash table keyed by connection_id; each entry holds a bitmap of the
 * seqs stored for that connection.  Entries are kept in least-recently-used
 * order and the oldest is forgotten past max_conns, so memory stays
 * bounded (about 100 bytes per connection).  Used by one sink thread at a
 * time; no locking.  logd_seen_scan_json() rebuilds the memory from the
 * tail of an existing event file at start-up.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "logd.h"

#define SEEN_CID_MAX	64

struct seen_ent {
	struct seen_ent	*hnext;			/* hash chain */
	struct seen_ent	*prev, *next;		/* LRU list, head = newest */
	uint64_t	*bits;
	uint32_t	 nwords;
	uint32_t	 hash;
	char		 cid[SEEN_CID_MAX + 1];
};

struct logd_seen {
	struct seen_ent	**tab;
	size_t		  nbuckets;
	size_t		  count, max;
	struct seen_ent	 *head, *tail;
};

static uint32_t
seen_hash(const char *s)
{
	uint32_t	 h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

struct logd_seen *
logd_seen_new(size_t max_conns)
{
	struct logd_seen	*s;

	s = xcalloc(1, sizeof(*s));
	s->max = max_conns ? max_conns : 1;
	s->nbuckets = 64;
	while (s->nbuckets < s->max)
		s->nbuckets *= 2;
	s->tab = xcalloc(s->nbuckets, sizeof(*s->tab));
	return s;
}

static void
lru_unlink(struct logd_seen *s, struct seen_ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct logd_seen *s, struct seen_ent *e)
{
	e->prev = NULL;
	e->next = s->head;
	if (s->head)
		s->head->prev = e;
	s->head = e;
	if (s->tail == NULL)
		s->tail = e;
}

static void
seen_evict(struct logd_seen *s)
{
	struct seen_ent	 *e = s->tail, **pp;

	lru_unlink(s, e);
	for (pp = &s->tab[e->hash & (s->nbuckets - 1)]; *pp != e;
	    pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	free(e->bits);
	free(e);
	s->count--;
}

static struct seen_ent *
seen_get(struct logd_seen *s, const char *cid)
{
	struct seen_ent	*e;
	uint32_t	 h = seen_hash(cid);
	size_t		 b = h & (s->nbuckets - 1);

	for (e = s->tab[b]; e != NULL; e = e->hnext)
		if (e->hash == h && strcmp(e->cid, cid) == 0)
			break;
	if (e != NULL) {
		if (s->head != e) {
			lru_unlink(s, e);
			lru_push(s, e);
		}
		return e;
	}
	if (s->count >= s->max)
		seen_evict(s);
	e = xcalloc(1, sizeof(*e));
	warp_strlcpy(e->cid, cid, sizeof(e->cid));
	e->hash = h;
	e->hnext = s->tab[b];
	s->tab[b] = e;
	lru_push(s, e);
	s->count++;
	return e;
}

static int
seen_mark(struct logd_seen *s, const char *cid, uint32_t seq, int ask)
{
	struct seen_ent	*e;
	uint32_t	 w;

	if (seq >= LOGD_SEEN_MAX_SEQ || strlen(cid) > SEEN_CID_MAX)
		return 0;	/* not tracked: always stored */
	e = seen_get(s, cid);
	w = seq / 64;
	if (w >= e->nwords) {
		uint32_t n = e->nwords ? e->nwords : 1;

		while (n <= w)
			n *= 2;
		e->bits = xreallocarray(e->bits, n, sizeof(*e->bits));
		memset(e->bits + e->nwords, 0,
		    (n - e->nwords) * sizeof(*e->bits));
		e->nwords = n;
	}
	if (ask && (e->bits[w] & (1ULL << (seq % 64))))
		return 1;
	e->bits[w] |= 1ULL << (seq % 64);
	return 0;
}

int
logd_seen_check(struct logd_seen *s, const char *cid, uint32_t seq)
{
	return seen_mark(s, cid, seq, 1);
}

void
logd_seen_add(struct logd_seen *s, const char *cid, uint32_t seq)
{
	seen_mark(s, cid, seq, 0);
}

size_t
logd_seen_count(const struct logd_seen *s)
{
	return s->count;
}

void
logd_seen_free(struct logd_seen *s)
{
	while (s != NULL && s->tail != NULL)
		seen_evict(s);
	if (s != NULL) {
		free(s->tab);
		free(s);
	}
}

/*
 * Lines written by logd_json_comm/conn start with
 *   {"type":"...","occurred_at":"...","connection_id":"<cid>","seq":<n>
 * Only lines of that exact shape count; anything else (a partial first
 * line, a line some other program appended) is skipped.
 */
size_t
logd_seen_scan_json(struct logd_seen *s, const char *buf, size_t len)
{
	static const char kcid[] = "\"connection_id\":\"";
	static const char kseq[] = "\",\"seq\":";
	const char	*p = buf, *end = buf + len, *nl, *c, *q;
	char		 cid[SEEN_CID_MAX + 1];
	size_t		 added = 0, n;
	unsigned long	 seq;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;		/* a torn last line is not stored */
		if (nl - p < 16 || memcmp(p, "{\"type\":\"", 9) != 0)
			continue;
		if ((c = memmem(p, (size_t)(nl - p), kcid, sizeof(kcid) - 1))
		    == NULL)
			continue;
		c += sizeof(kcid) - 1;
		if ((q = memchr(c, '"', (size_t)(nl - c))) == NULL ||
		    (n = (size_t)(q - c)) == 0 || n > SEEN_CID_MAX)
			continue;
		if ((size_t)(nl - q) < sizeof(kseq) ||
		    memcmp(q, kseq, sizeof(kseq) - 1) != 0)
			continue;
		q += sizeof(kseq) - 1;
		seq = 0;
		while (q < nl && *q >= '0' && *q <= '9' && seq < LOGD_SEEN_MAX_SEQ)
			seq = seq * 10 + (unsigned long)(*q++ - '0');
		if (q == nl || (*q != ',' && *q != '}'))
			continue;
		memcpy(cid, c, n);
		cid[n] = '\0';
		logd_seen_add(s, cid, (uint32_t)seq);
		added++;
	}
	return added;
}
