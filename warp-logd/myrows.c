/*
 * myrows.c -- collects one table's rows as MYSQL_BIND parameters for the
 * MySQL sink's multi-row INSERTs, cuts them into chunks (rows and packet
 * bytes) and writes the statement text for a chunk size.  Called only by
 * sink_mysql.c, in the sink thread; touches nothing but its own memory.
 *
 * Parameters live in parallel arrays that grow as rows are added, and
 * string values in one buffer, so the pointers inside the MYSQL_BINDs are
 * set only when a chunk is about to be bound (myrows_binds).  Rows of one
 * chunk are contiguous, so a chunk's bind array is a slice of the whole.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "myrows.h"

/* What a parameter adds to a COM_STMT_EXECUTE packet, at most: two type
 * bytes, then a length prefix (up to 9 bytes) and the string, or 8. */
#define PARAM_OVERHEAD	11

void
myrows_init(struct myrows *r, const struct myrows_table *t,
    size_t max_rows, size_t max_bytes)
{
	memset(r, 0, sizeof(*r));
	r->t = t;
	r->max_rows = myrows_chunk(WARP_MAX(max_rows, 1), MYROWS_MAX_ROWS);
	r->max_bytes = max_bytes;
	logd_buf_grow(&r->str, 1);	/* so an empty string has a buffer */
}

void
myrows_free(struct myrows *r)
{
	free(r->b);
	free(r->isnull);
	free(r->len);
	free(r->ival);
	free(r->off);
	free(r->row_str);
	free(r->row_bytes);
	logd_buf_free(&r->str);
	memset(r, 0, sizeof(*r));
}

void
myrows_clear(struct myrows *r)
{
	r->np = 0;
	r->nrows = 0;
	r->bytes = 0;
	r->open_bytes = 0;
	r->str.len = 0;
	r->fixed = 0;
}

/* The next parameter of the open row, zeroed. */
static size_t
add_param(struct myrows *r)
{
	size_t	 i;

	if (r->np == r->pcap) {
		r->pcap = r->pcap ? r->pcap * 2 : r->t->ncols * 16;
		r->b = xreallocarray(r->b, r->pcap, sizeof(*r->b));
		r->isnull = xreallocarray(r->isnull, r->pcap,
		    sizeof(*r->isnull));
		r->len = xreallocarray(r->len, r->pcap, sizeof(*r->len));
		r->ival = xreallocarray(r->ival, r->pcap, sizeof(*r->ival));
		r->off = xreallocarray(r->off, r->pcap, sizeof(*r->off));
	}
	if (r->np == r->nrows * r->t->ncols) {
		/* first parameter of a row */
		if (r->nrows == r->rcap) {
			r->rcap = r->rcap ? r->rcap * 2 : 16;
			r->row_str = xreallocarray(r->row_str, r->rcap,
			    sizeof(*r->row_str));
			r->row_bytes = xreallocarray(r->row_bytes, r->rcap,
			    sizeof(*r->row_bytes));
		}
		r->row_str[r->nrows] = r->str.len;
		r->open_bytes = 0;
	}
	i = r->np++;
	memset(&r->b[i], 0, sizeof(r->b[i]));
	r->isnull[i] = 0;
	r->len[i] = 0;
	r->ival[i] = 0;
	r->off[i] = 0;
	r->fixed = 0;
	return i;
}

void
myrows_null(struct myrows *r)
{
	size_t	 i = add_param(r);

	r->b[i].buffer_type = MYSQL_TYPE_NULL;
	r->isnull[i] = 1;
	r->open_bytes += 2;
}

void
myrows_str(struct myrows *r, const void *s, size_t n)
{
	size_t	 i = add_param(r);

	r->off[i] = r->str.len;
	if (n > 0)		/* empty bytes fields arrive as NULL */
		logd_utf8_clean(&r->str, s, n);
	r->len[i] = r->str.len - r->off[i];
	r->b[i].buffer_type = MYSQL_TYPE_STRING;
	r->open_bytes += PARAM_OVERHEAD + r->len[i];
}

void
myrows_cstr(struct myrows *r, const char *s)
{
	if (s == NULL)
		myrows_null(r);
	else
		myrows_str(r, s, strlen(s));
}

void
myrows_i64(struct myrows *r, int has, int64_t v)
{
	size_t	 i;

	if (!has) {
		myrows_null(r);
		return;
	}
	i = add_param(r);
	r->ival[i] = v;
	r->b[i].buffer_type = MYSQL_TYPE_LONGLONG;
	r->open_bytes += PARAM_OVERHEAD;
}

size_t
myrows_end_row(struct myrows *r)
{
	if (r->np != (r->nrows + 1) * r->t->ncols)
		fatalx("myrows: %s: row with %zu of %zu values", r->t->name,
		    r->np - r->nrows * r->t->ncols, r->t->ncols);
	r->row_bytes[r->nrows++] = r->open_bytes;
	r->bytes += r->open_bytes;
	r->open_bytes = 0;
	if (r->nrows >= r->max_rows)
		return r->nrows;
	if (r->bytes > r->max_bytes)
		return r->nrows > 1 ? r->nrows - 1 : 1;
	return 0;
}

size_t
myrows_chunk(size_t n, size_t max_rows)
{
	size_t	 k = 1;

	n = WARP_MIN(n, max_rows);
	if (n == 0)
		return 0;
	while (k * 2 <= n)
		k *= 2;
	return k;
}

int
myrows_size_index(size_t k)
{
	int	 i = 0;

	while (k > 1) {
		k >>= 1;
		i++;
	}
	return i;
}

MYSQL_BIND *
myrows_binds(struct myrows *r, size_t row)
{
	size_t	 i, n = r->nrows * r->t->ncols;

	if (!r->fixed) {
		for (i = 0; i < n; i++) {
			MYSQL_BIND *b = &r->b[i];

			b->is_null = &r->isnull[i];
			switch (b->buffer_type) {
			case MYSQL_TYPE_STRING:
				b->buffer = r->str.p + r->off[i];
				b->buffer_length = r->len[i];
				b->length = &r->len[i];
				break;
			case MYSQL_TYPE_LONGLONG:
				b->buffer = &r->ival[i];
				break;
			default:
				break;
			}
		}
		r->fixed = 1;
	}
	return &r->b[row * r->t->ncols];
}

void
myrows_shift(struct myrows *r, size_t n)
{
	size_t	 ncols = r->t->ncols, first, rest, s0, i;

	if (r->np != r->nrows * ncols)
		fatalx("myrows: %s: shift with a row open", r->t->name);
	if (n >= r->nrows) {
		myrows_clear(r);
		return;
	}
	first = n * ncols;
	rest = r->np - first;
	s0 = r->row_str[n];
	memmove(r->b, r->b + first, rest * sizeof(*r->b));
	memmove(r->isnull, r->isnull + first, rest * sizeof(*r->isnull));
	memmove(r->len, r->len + first, rest * sizeof(*r->len));
	memmove(r->ival, r->ival + first, rest * sizeof(*r->ival));
	memmove(r->off, r->off + first, rest * sizeof(*r->off));
	for (i = 0; i < rest; i++)
		r->off[i] -= s0;
	memmove(r->str.p, r->str.p + s0, r->str.len - s0 + 1);
	r->str.len -= s0;
	for (i = 0; i < n; i++)
		r->bytes -= r->row_bytes[i];
	r->nrows -= n;
	for (i = 0; i < r->nrows; i++) {
		r->row_str[i] = r->row_str[i + n] - s0;
		r->row_bytes[i] = r->row_bytes[i + n];
	}
	r->np = rest;
	r->fixed = 0;
}

void
myrows_sql(struct logd_buf *buf, const struct myrows_table *t, size_t k)
{
	size_t	 i, j;

	buf->len = 0;
	logd_buf_addf(buf, "INSERT IGNORE INTO %s (", t->name);
	for (j = 0; j < t->ncols; j++)
		logd_buf_addf(buf, "%s%s", j ? ", " : "", t->cols[j]);
	logd_buf_adds(buf, ") VALUES ");
	for (i = 0; i < k; i++) {
		logd_buf_adds(buf, i ? ",(" : "(");
		for (j = 0; j < t->ncols; j++)
			logd_buf_adds(buf, j ? ",?" : "?");
		logd_buf_addc(buf, ')');
	}
}
