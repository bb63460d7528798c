/*
 * fifo.c -- the queue of client commands that still owe the client a
 * reply, in the order the client sent them.
 *
 * Called by client.c (push) and dest.c (pop on each complete destination
 * reply).  Relayed commands are answered by the destination; local
 * entries carry warp's own reply and are written when they reach the
 * head, so replies reach the client in command order even with
 * PIPELINING (RFC 2920).  Pure: no I/O, no allocation.
 */
#include <string.h>

#include "proxyd.h"

static const char *const local_replies[LR_COUNT] = {
	[LR_NONE] =		"451 4.3.0 Internal error",
	[LR_SIZE_552] =		"552 5.3.4 Message size exceeds fixed limit",
	[LR_DATA_552] =		"552 5.3.4 Message size exceeds fixed limit",
	[LR_LINE_500] =		"500 5.5.2 Line too long",
	[LR_NUL_500] =		"500 5.5.2 Invalid character in command",
	[LR_NOTIMPL_502] =	"502 5.5.1 Command not implemented",
	[LR_NOTLS_502] =	"502 5.5.1 STARTTLS not available",
	[LR_TLS_220] =		"220 2.0.0 Ready to start TLS",
	[LR_TLS_503] =		"503 5.5.1 TLS already active",
	[LR_GONE_421] =		"421 4.4.2 Connection to the destination was closed",
	[LR_QUIT_221] =		"221 2.0.0 Bye",
	[LR_SYNTAX_501] =	"501 5.5.4 Syntax error in parameters",
	[LR_FILTER_DATA] =	"354 End data with <CR><LF>.<CR><LF>",
	[LR_NORCPT_554] =	"554 5.5.1 Error: no valid recipients",
};

const char *
local_reply_text(enum local_reply r)
{
	if ((unsigned)r >= LR_COUNT || local_replies[r] == NULL)
		r = LR_NONE;
	return local_replies[r];
}

void
fifo_init(struct fifo *f)
{
	f->head = f->n = 0;
}

int
fifo_full(const struct fifo *f)
{
	return f->n >= PROXYD_FIFO_MAX;
}

int
fifo_empty(const struct fifo *f)
{
	return f->n == 0;
}

struct pending *
fifo_push(struct fifo *f)
{
	struct pending	*p;

	if (fifo_full(f))
		return NULL;
	p = &f->e[(f->head + f->n) % PROXYD_FIFO_MAX];
	f->n++;
	memset(p, 0, sizeof(*p));
	return p;
}

struct pending *
fifo_head(struct fifo *f)
{
	return f->n == 0 ? NULL : &f->e[f->head];
}

void
fifo_pop(struct fifo *f)
{
	if (f->n == 0)
		return;
	f->head = (f->head + 1) % PROXYD_FIFO_MAX;
	f->n--;
}

int
fifo_has_relay(const struct fifo *f)
{
	unsigned	 i;

	for (i = 0; i < f->n; i++)
		if (f->e[(f->head + i) % PROXYD_FIFO_MAX].kind == PEND_RELAY)
			return 1;
	return 0;
}
