/*
 * test_logd_mysql.c -- the MySQL sink's multi-row INSERT builder
 * (warp-logd/myrows.c): statement text per chunk size, chunking by rows
 * and by packet bytes, bound values byte-exact (no escaping anywhere) and
 * rows kept in order when the sent ones are dropped.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "../../warp-logd/myrows.h"

static const char *const cols3[] = { "id", "data", "n" };
static const struct myrows_table t3 = { "things", cols3, 3 };

static size_t
count_char(const char *s, char c)
{
	size_t	 n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* Row i: id "r<i>", data as given, n = i (NULL when i is odd). */
static size_t
add_row(struct myrows *r, int i, const void *data, size_t len)
{
	char	 id[16];

	snprintf(id, sizeof(id), "r%d", i);
	myrows_cstr(r, id);
	myrows_str(r, data, len);
	myrows_i64(r, i % 2 == 0, i);
	return myrows_end_row(r);
}

/* The bound row at b (3 parameters) is row i with that data. */
static void
check_row(const MYSQL_BIND *b, int i, const void *data, size_t len)
{
	char	 id[16];

	snprintf(id, sizeof(id), "r%d", i);
	assert_int_equal(b[0].buffer_type, MYSQL_TYPE_STRING);
	assert_int_equal(*b[0].length, strlen(id));
	assert_memory_equal(b[0].buffer, id, strlen(id));
	assert_false(*b[0].is_null);
	assert_int_equal(b[1].buffer_type, MYSQL_TYPE_STRING);
	assert_int_equal(*b[1].length, len);
	assert_int_equal(b[1].buffer_length, len);
	if (len > 0)
		assert_memory_equal(b[1].buffer, data, len);
	if (i % 2 == 0) {
		assert_int_equal(b[2].buffer_type, MYSQL_TYPE_LONGLONG);
		assert_int_equal(*(const long long *)b[2].buffer, i);
		assert_false(*b[2].is_null);
	} else {
		assert_int_equal(b[2].buffer_type, MYSQL_TYPE_NULL);
		assert_true(*b[2].is_null);
	}
}

static void
test_sql(void **state)
{
	struct logd_buf	 b = { NULL, 0, 0 };

	myrows_sql(&b, &t3, 1);
	assert_string_equal(b.p,
	    "INSERT IGNORE INTO things (id, data, n) VALUES (?,?,?)");
	myrows_sql(&b, &t3, 3);
	assert_string_equal(b.p, "INSERT IGNORE INTO things (id, data, n) "
	    "VALUES (?,?,?),(?,?,?),(?,?,?)");
	myrows_sql(&b, &t3, MYROWS_MAX_ROWS);
	assert_int_equal(count_char(b.p, '?'), 3 * MYROWS_MAX_ROWS);
	assert_int_equal(count_char(b.p, '('), 1 + MYROWS_MAX_ROWS);
	logd_buf_free(&b);
}

static void
test_chunks(void **state)
{
	static const struct {
		size_t	 n, max, want;
	} cases[] = {
		{ 0, 256, 0 }, { 1, 256, 1 }, { 2, 256, 2 }, { 3, 256, 2 },
		{ 255, 256, 128 }, { 256, 256, 256 }, { 257, 256, 256 },
		{ 100000, 256, 256 }, { 7, 4, 4 }, { 3, 1, 1 },
	};
	size_t	 i, n, k, stmts;

	for (i = 0; i < WARP_NELEM(cases); i++)
		assert_int_equal(myrows_chunk(cases[i].n, cases[i].max),
		    cases[i].want);
	assert_int_equal(myrows_size_index(1), 0);
	assert_int_equal(myrows_size_index(2), 1);
	assert_int_equal(myrows_size_index(MYROWS_MAX_ROWS), MYROWS_SIZES - 1);
	/* every count is covered by the statement sizes, in few executes */
	for (n = 1; n <= 3 * MYROWS_MAX_ROWS; n++) {
		size_t left = n;

		stmts = 0;
		while (left > 0) {
			k = myrows_chunk(left, MYROWS_MAX_ROWS);
			assert_true(k >= 1 && k <= left);
			assert_true((k & (k - 1)) == 0);
			assert_true(myrows_size_index(k) < MYROWS_SIZES);
			left -= k;
			stmts++;
		}
		assert_true(stmts <= n / MYROWS_MAX_ROWS + MYROWS_SIZES - 1);
	}
	/* 462 rows (one 500-event batch's comm rows): 6 statements */
	for (n = 462, stmts = 0; n > 0; n -= myrows_chunk(n, 256))
		stmts++;
	assert_int_equal(stmts, 6);
}

static void
test_values_exact(void **state)
{
	/* NUL, quotes, backslash, a comma and parenthesis, invalid UTF-8 */
	static const char awkward[] = "it's \"x\"\\n\0 NUL),(?; DROP \xff\xc3(";
	static const char valid[] = "caf\xc3\xa9 \xe2\x82\xac";
	struct logd_buf	 want = { NULL, 0, 0 };
	struct myrows	 r;
	MYSQL_BIND	*b;
	char		*big;

	myrows_init(&r, &t3, 256, 1u << 30);
	assert_int_equal(add_row(&r, 0, awkward, sizeof(awkward) - 1), 0);
	assert_int_equal(add_row(&r, 1, valid, sizeof(valid) - 1), 0);
	assert_int_equal(add_row(&r, 2, "", 0), 0);
	big = malloc(65536);
	memset(big, 'a', 65536);
	big[100] = '\0';
	big[200] = '\'';
	assert_int_equal(add_row(&r, 3, big, 65536), 0);
	assert_int_equal(r.nrows, 4);

	b = myrows_binds(&r, 0);
	/* stored as logd_utf8_clean makes it: the same bytes SQLite gets */
	logd_utf8_clean(&want, awkward, sizeof(awkward) - 1);
	assert_true(want.len > sizeof(awkward) - 1);	/* 0xff, 0xc3 mapped */
	check_row(b, 0, want.p, want.len);
	check_row(b + 3, 1, valid, sizeof(valid) - 1);
	check_row(b + 6, 2, "", 0);
	check_row(b + 9, 3, big, 65536);
	/* a chunk starting at row 2 is a slice of the same array */
	assert_ptr_equal(myrows_binds(&r, 2), b + 6);
	free(big);
	logd_buf_free(&want);
	myrows_free(&r);
}

static void
test_row_limit(void **state)
{
	struct myrows	 r;
	MYSQL_BIND	*b;
	int		 i;

	myrows_init(&r, &t3, 4, 1u << 30);
	for (i = 0; i < 3; i++)
		assert_int_equal(add_row(&r, i, "x", 1), 0);
	assert_int_equal(add_row(&r, 3, "y", 1), 4);	/* full chunk */
	myrows_shift(&r, 4);
	assert_int_equal(r.nrows, 0);
	assert_int_equal(r.bytes, 0);
	/* the fourth row after a flush fills the next chunk */
	for (i = 10; i < 14; i++)
		assert_int_equal(add_row(&r, i, "z", 1), i == 13 ? 4 : 0);
	/* after sending 2 of them, the other two come first, intact */
	myrows_shift(&r, 2);
	assert_int_equal(r.nrows, 2);
	b = myrows_binds(&r, 0);
	check_row(b, 12, "z", 1);
	check_row(b + 3, 13, "z", 1);
	myrows_free(&r);
}

static void
test_byte_limit(void **state)
{
	struct myrows	 r;
	MYSQL_BIND	*b;
	char		 data[300];
	size_t		 n;
	int		 i;

	/* each row is 300 bytes and some: four fit in 1400, five do not */
	myrows_init(&r, &t3, 256, 1400);
	for (i = 0; i < 4; i++) {
		memset(data, 'a' + i, sizeof(data));
		assert_int_equal(add_row(&r, i, data, sizeof(data)), 0);
	}
	memset(data, 'e', sizeof(data));
	n = add_row(&r, 4, data, sizeof(data));
	assert_int_equal(n, 4);		/* all but the row that overflowed */
	assert_true(r.bytes > 1400);
	myrows_shift(&r, n);
	assert_int_equal(r.nrows, 1);
	assert_true(r.bytes < 400);
	b = myrows_binds(&r, 0);
	check_row(b, 4, data, sizeof(data));
	myrows_free(&r);

	/* a row bigger than the cap alone goes alone */
	myrows_init(&r, &t3, 256, 100);
	assert_int_equal(add_row(&r, 0, data, sizeof(data)), 1);
	myrows_free(&r);
}

static void
test_shift_order(void **state)
{
	struct myrows	 r;
	MYSQL_BIND	*b;
	char		 data[64];
	int		 i;

	myrows_init(&r, &t3, 256, 1u << 30);
	for (i = 0; i < 40; i++) {
		snprintf(data, sizeof(data), "value %d %.*s", i, i, "##########"
		    "##############################");
		add_row(&r, i, data, strlen(data));
	}
	myrows_shift(&r, 7);
	/* rows added after a shift land after the kept ones */
	snprintf(data, sizeof(data), "value %d", 40);
	add_row(&r, 40, data, strlen(data));
	assert_int_equal(r.nrows, 34);
	b = myrows_binds(&r, 0);
	for (i = 7; i <= 40; i++) {
		if (i < 40)
			snprintf(data, sizeof(data), "value %d %.*s", i, i,
			    "########################################");
		else
			snprintf(data, sizeof(data), "value %d", i);
		check_row(b + 3 * (i - 7), i, data, strlen(data));
	}
	myrows_clear(&r);
	assert_int_equal(r.nrows, 0);
	add_row(&r, 2, "again", 5);
	check_row(myrows_binds(&r, 0), 2, "again", 5);
	myrows_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sql),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_values_exact),
		cmocka_unit_test(test_row_limit),
		cmocka_unit_test(test_byte_limit),
		cmocka_unit_test(test_shift_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
