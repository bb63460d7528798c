/*
 * arena.c -- a bump allocator for protobuf-c unpacking (see arena.h).
 *
 * Chunks are malloc'd; pieces are aligned to 16 bytes (what malloc
 * guarantees on the platforms we build for, and what any unpacked field
 * needs).  A request larger than the chunk size gets a chunk of its own.
 * At reset the arena keeps one chunk, sized to what the last round used
 * (up to ARENA_KEEP_MAX), so a steady stream of similar batches is served
 * from a single chunk without touching malloc at all.
 */
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "util.h"

#define ARENA_ALIGN	16
#define ARENA_KEEP_MAX	(4u * 1024 * 1024)

struct arena_chunk {
	struct arena_chunk	*next;
	size_t			 size, used;
	max_align_t		 data[];
};

struct arena {
	ProtobufCAllocator	 pa;
	struct arena_chunk	*head;
	size_t			 chunk;		/* size of a new chunk */
	size_t			 used;		/* since the last reset */
};

static struct arena_chunk *
chunk_new(size_t size)
{
	struct arena_chunk	*c;

	if (size > SIZE_MAX - sizeof(*c))
		return NULL;
	if ((c = malloc(sizeof(*c) + size)) == NULL)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

static void *
arena_alloc_cb(void *ad, size_t n)
{
	struct arena		*a = ad;
	struct arena_chunk	*c = a->head;
	void			*p;

	if (n > SIZE_MAX - ARENA_ALIGN)
		return NULL;
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n == 0)
		n = ARENA_ALIGN;
	if (c == NULL || c->size - c->used < n) {
		if ((c = chunk_new(n > a->chunk ? n : a->chunk)) == NULL)
			return NULL;
		c->next = a->head;
		a->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	a->used += n;
	return p;
}

static void
arena_free_cb(void *ad, void *p)
{
	/* released all at once by arena_reset() */
}

struct arena *
arena_new(size_t chunk)
{
	struct arena	*a;

	a = xcalloc(1, sizeof(*a));
	a->pa.alloc = arena_alloc_cb;
	a->pa.free = arena_free_cb;
	a->pa.allocator_data = a;
	a->chunk = chunk < 4096 ? 4096 : chunk;
	return a;
}

ProtobufCAllocator *
arena_allocator(struct arena *a)
{
	return &a->pa;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	return arena_alloc_cb(a, n);
}

void
arena_reset(struct arena *a)
{
	struct arena_chunk	*c, *next;

	if (a->head == NULL)
		return;
	if (a->head->next == NULL) {
		a->head->used = 0;
		a->used = 0;
		return;
	}
	/* Several chunks: release them and let the next round start with
	 * one chunk big enough for what this round needed. */
	if (a->used > a->chunk)
		a->chunk = a->used < ARENA_KEEP_MAX ? a->used : ARENA_KEEP_MAX;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
	a->used = 0;
}

void
arena_free(struct arena *a)
{
	if (a == NULL)
		return;
	arena_reset(a);
	free(a->head);
	free(a);
}

size_t
arena_used(const struct arena *a)
{
	return a->used;
}
