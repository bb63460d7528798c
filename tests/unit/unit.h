/*
 * unit.h -- what every cmocka unit test includes.
 */
#ifndef WARP_UNIT_H
#define WARP_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

/* Compare a counted byte string with a C string. */
#define assert_mem_str(p, n, s) do {					\
	assert_int_equal((n), strlen(s));				\
	assert_memory_equal((p), (s), (n));				\
} while (0)

#endif
