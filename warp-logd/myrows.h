/*
 * myrows.h -- rows for multi-row prepared INSERTs (warp-logd's MySQL sink).
 *
 * The sink collects the rows of one table as MYSQL_BIND parameters, row
 * after row, and sends them with "INSERT IGNORE ... VALUES (?,..),(?,..)"
 * statements of 1, 2, 4, ... MYROWS_MAX_ROWS rows: a full chunk uses the
 * largest statement, a remainder is split into powers of two, so a handful
 * of prepared statements per table covers every count.  Values are only
 * ever bound, never written into SQL text.  A chunk is also capped by its
 * estimated packet size (max_allowed_packet).  Pure: no server calls,
 * only the MYSQL_BIND layout; unit-tested in tests/unit/test_logd_mysql.c.
 */
#ifndef WARP_LOGD_MYROWS_H
#define WARP_LOGD_MYROWS_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "logd.h"

#define MYROWS_MAX_ROWS		256	/* rows per INSERT, a power of two */
#define MYROWS_SIZES		9	/* statements of 1, 2, ... 256 rows */

struct myrows_table {
	const char		*name;
	const char *const	*cols;
	size_t			 ncols;
};

struct myrows {
	const struct myrows_table *t;
	size_t		 max_rows;	/* a power of two <= MYROWS_MAX_ROWS */
	size_t		 max_bytes;	/* packet estimate per chunk */

	MYSQL_BIND	*b;		/* parameters, row after row */
	my_bool		*isnull;
	unsigned long	*len;
	long long	*ival;
	size_t		*off;		/* strings: offset in str */
	size_t		 pcap, np;	/* parameters allocated / added */
	int		 fixed;		/* pointers in b are current */

	size_t		*row_str;	/* str.len where each row starts */
	size_t		*row_bytes;	/* packet estimate of each row */
	size_t		 rcap, nrows;	/* complete rows */
	size_t		 bytes;		/* sum of row_bytes */
	size_t		 open_bytes;	/* the row being added */

	struct logd_buf	 str;		/* string values (valid UTF-8) */
};

void	 myrows_init(struct myrows *, const struct myrows_table *,
	    size_t max_rows, size_t max_bytes);
void	 myrows_free(struct myrows *);
/* Forget every row (a failed transaction). */
void	 myrows_clear(struct myrows *);

/* Add one parameter to the open row.  myrows_str stores network bytes as
 * valid UTF-8 (logd_utf8_clean); myrows_cstr takes NULL as SQL NULL;
 * myrows_i64 is NULL unless has. */
void	 myrows_str(struct myrows *, const void *, size_t);
void	 myrows_cstr(struct myrows *, const char *);
void	 myrows_i64(struct myrows *, int has, int64_t);
void	 myrows_null(struct myrows *);
/* Close the open row.  Returns how many leading rows to send now: all of
 * them at max_rows; all but the last when it pushed the chunk over
 * max_bytes; else 0 (a single row over max_bytes goes alone). */
size_t	 myrows_end_row(struct myrows *);
/* Rows in the next statement for n waiting rows: the largest power of two
 * <= min(n, max_rows); 0 for n = 0. */
size_t	 myrows_chunk(size_t n, size_t max_rows);
/* Index of the statement for a chunk of k rows (log2 k). */
int	 myrows_size_index(size_t k);
/* The bind array starting at complete row `row` (pointers made current;
 * valid until the next myrows_* call that adds or removes rows). */
MYSQL_BIND *myrows_binds(struct myrows *, size_t row);
/* Drop the first n complete rows (sent), keeping the rest in order. */
void	 myrows_shift(struct myrows *, size_t n);
/* The statement text for k rows, replacing buf's contents (NUL-ended). */
void	 myrows_sql(struct logd_buf *, const struct myrows_table *, size_t k);

#endif
