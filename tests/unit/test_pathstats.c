// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * A peer-mode path's first-arrival share and loss (user/pathstats.c), as `status`
 * shows them: the plain cases, "unknown" (-1) before anything came or with the
 * sequence numbers out of order, duplicates that would make the loss negative, and
 * the extremes of 64-bit sequence numbers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pathstats.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void assert_near(double got, double want, const char *what)
{
	double d = got - want;

	if (d > 1e-9 || d < -1e-9)
		fail_msg("%s: got %.12f, want %.12f", what, got, want);
}

static void test_first_share(void **state)
{
	static const struct {
		uint64_t first, packets;
		double want;
	} cases[] = {
		{ 0, 0, -1 },		/* nothing came: unknown, not 0 % */
		{ 5, 0, -1 },
		{ 0, 10, 0 },		/* always beaten by another path */
		{ 10, 10, 1 },		/* always the fastest */
		{ 1, 4, 0.25 },
		{ 2, 3, 2.0 / 3 },
		{ 11, 10, 1 },		/* counters read a moment apart: never above 1 */
		{ UINT64_MAX / 2, UINT64_MAX, 0.5 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_near(udpc_path_first_share(cases[i].first, cases[i].packets), cases[i].want,
			    "first share");
}

static void test_loss(void **state)
{
	static const struct {
		uint64_t packets, seq_first, seq_last;
		double want;
	} cases[] = {
		{ 0, 0, 0, -1 },	/* nothing came */
		{ 0, 1, 100, -1 },
		{ 3, 10, 5, -1 },	/* last below first: not a span */
		{ 1, 7, 7, 0 },		/* one datagram, one sequence number */
		{ 100, 1, 100, 0 },
		{ 50, 1, 100, 0.5 },
		{ 99, 2, 101, 0.01 },
		{ 120, 1, 100, 0 },	/* duplicates on the path: no negative loss */
		{ 1, 0, UINT64_MAX, 1.0 - 1.0 / 18446744073709551616.0 }, /* span 2^64: no overflow */
		{ 2, UINT64_MAX - 3, UINT64_MAX, 0.5 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_near(udpc_path_loss(cases[i].packets, cases[i].seq_first, cases[i].seq_last),
			    cases[i].want, "loss");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_share),
		cmocka_unit_test(test_loss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
