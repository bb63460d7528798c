/*
 * fuzz_frame.c -- libFuzzer target for the IPC frame decoder.
 *
 * Feeds arbitrary bytes to ipc_decode() frame after frame, as a server's
 * read callback would (with a small limit as well as the default one), and
 * checks that every decoded frame survives a round trip: encode it again,
 * decode that, and the second encoding equals the first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

static void
roundtrip(const Warp__Frame *f)
{
	Warp__Frame	*g;
	const char	*err;
	uint8_t		*a, *b;
	size_t		 alen, blen, used;

	a = ipc_encode_alloc(f, &alen);
	if (a == NULL)
		abort();	/* it came in under the limit */
	if (ipc_decode(a, alen, 0, &g, &used, &err) != IPC_DECODE_FRAME ||
	    used != alen)
		abort();
	b = ipc_encode_alloc(g, &blen);
	if (b == NULL || blen != alen || memcmp(a, b, alen) != 0)
		abort();
	if (g->body_case != f->body_case || g->id != f->id)
		abort();
	free(a);
	free(b);
	ipc_frame_free(g);
}

static void
scan(const uint8_t *data, size_t size, size_t max)
{
	Warp__Frame	*f;
	const char	*err;
	size_t		 used;
	int		 n = 0;

	while (n++ < 64) {
		switch (ipc_decode(data, size, max, &f, &used, &err)) {
		case IPC_DECODE_FRAME:
			if (used < IPC_HDR_LEN || used > size)
				abort();
			roundtrip(f);
			(void)ipc_hello_check(f, &err);
			ipc_frame_free(f);
			data += used;
			size -= used;
			break;
		case IPC_DECODE_BAD:
			if (err == NULL)
				abort();
			return;
		case IPC_DECODE_MORE:
			return;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	scan(data, size, 0);
	scan(data, size, 256);
	return 0;
}
