// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * A peer-mode path's figures (user/pathstats.c), as `status` shows them: first-arrival
 * share and loss (the plain cases, "unknown" (-1) before anything came or with the
 * sequence numbers out of order, duplicates that would make the loss negative, the
 * extremes of 64-bit sequence numbers), duplicates dropped, RTT in ms and ages.
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

static void test_duplicates(void **state)
{
	static const struct {
		uint64_t packets, first, late, want;
	} cases[] = {
		{ 0, 0, 0, 0 },
		{ 10, 10, 0, 0 },	/* every copy was the first */
		{ 10, 4, 1, 5 },
		{ 10, 0, 10, 0 },	/* all late */
		{ 10, 8, 3, 0 },	/* read a moment apart: never below 0 */
		{ 5, UINT64_MAX, 2, 0 }, /* first + late wraps: still 0, not huge */
		{ UINT64_MAX, 1, 1, UINT64_MAX - 2 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(udpc_path_duplicates(cases[i].packets, cases[i].first, cases[i].late),
				 cases[i].want);
}

/* Loss towards the other end is the same arithmetic on what it reported: one case
 * from each side, to hold the two to one formula. */
static void test_loss_both_ways(void **state)
{
	/* This end got 90 of seq 11..110 by the path; the other end 100 of 1..200. */
	assert_near(udpc_path_loss(90, 11, 110), 0.1, "loss towards this end");
	assert_near(udpc_path_loss(100, 1, 200), 0.5, "loss towards the other end");
	assert_near(udpc_path_first_share(25, 100), 0.25, "the other end's first share");
}

static void test_rtt_ms(void **state)
{
	assert_near(udpc_ns_to_ms(0), -1, "no sample");
	assert_near(udpc_ns_to_ms(1), 1e-6, "1 ns");
	assert_near(udpc_ns_to_ms(12345678), 12.345678, "12.3 ms");
	assert_near(udpc_ns_to_ms(60ULL * 1000000000ULL), 60000, "the largest sample");
}

static void test_age(void **state)
{
	assert_near(udpc_age_s(0, 5000000000ULL), -1, "never");
	assert_near(udpc_age_s(1000000000ULL, 3500000000ULL), 2.5, "2.5 s");
	assert_near(udpc_age_s(4000000000ULL, 3000000000ULL), 0, "stamped after now was read");
	assert_near(udpc_age_s(7, 7), 0, "now");
	assert_near(udpc_elapsed_s(0, 5000000000ULL), 5, "elapsed: a zero stamp is a time like any");
	assert_near(udpc_elapsed_s(1000000000ULL, 3500000000ULL), 2.5, "elapsed: 2.5 s");
	assert_near(udpc_elapsed_s(4000000000ULL, 3000000000ULL), 0, "elapsed: stamped after now");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_share),
		cmocka_unit_test(test_loss),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_loss_both_ways),
		cmocka_unit_test(test_rtt_ms),
		cmocka_unit_test(test_age),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
