/*
 * arena.h -- a bump allocator for protobuf-c unpacking.
 *
 * Unpacking a batch of events with the default allocator costs one
 * malloc per message, string and array, and as many frees; a daemon that
 * unpacks a batch, reads it once and throws it away pays for that on
 * every event.  An arena hands out pieces of a few large chunks and takes
 * them all back at once: arena_reset() after the unpacked message is no
 * longer used (never warp__*__free_unpacked() on such a message).
 *
 * One arena is used by one thread at a time.
 */
#ifndef WARP_ARENA_H
#define WARP_ARENA_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

struct arena;

struct arena		*arena_new(size_t chunk);
/* The allocator to pass to warp__*__unpack(). */
ProtobufCAllocator	*arena_allocator(struct arena *);
/* n bytes (16-byte aligned) that live until the next reset; NULL when
 * memory is short. */
void			*arena_alloc(struct arena *, size_t n);
/* Everything handed out is released; one chunk is kept for the next use. */
void			 arena_reset(struct arena *);
void			 arena_free(struct arena *);
/* Bytes handed out since the last reset (tests). */
size_t			 arena_used(const struct arena *);

#endif
