// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * serve's --listen PORT and --to PORT (user/spec.c: udpc_parse_port and
 * udpc_parse_serve_ports): digits only, 1..65535, the two ports different; each
 * error names the option and the value, and the outputs are written only on success.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "spec.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void test_valid(void **state)
{
	static const struct {
		const char *listen, *to;
		uint16_t l, t;
	} cases[] = {
		{ "5743", "9000", 5743, 9000 },
		{ "1", "65535", 1, 65535 },
		{ "65535", "1", 65535, 1 },
		{ "05743", "9000", 5743, 9000 }, /* leading zeros are digits */
	};
	char err[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint16_t l = 0, t = 0;

		if (udpc_parse_serve_ports(cases[i].listen, cases[i].to, &l, &t, err, sizeof(err)))
			fail_msg("'%s' '%s': rejected: %s", cases[i].listen, cases[i].to, err);
		assert_int_equal(l, cases[i].l);
		assert_int_equal(t, cases[i].t);
	}
}

static void test_invalid(void **state)
{
	static const struct {
		const char *listen, *to, *want;
	} cases[] = {
		{ "5743", "5743", "to '5743': must differ from the --listen port" },
		{ "5743", "05743", "to '05743': must differ from the --listen port" },
		{ "0", "9000", "listen '0': port 0 is out of range 1-65535" },
		{ "65536", "9000", "listen '65536': port 65536 is out of range 1-65535" },
		{ "5743", "0", "to '0': port 0 is out of range 1-65535" },
		{ "5743", "99999999999999999999", "to '99999999999999999999': port 99999999999999999999 is out of range" },
		{ "abc", "9000", "listen 'abc': port must be a number from 1 to 65535" },
		{ "+5743", "9000", "listen '+5743': port must be a number" },
		{ " 5743", "9000", "listen ' 5743': port must be a number" },
		{ "192.0.2.1:5743", "9000", "listen '192.0.2.1:5743': port must be a number" },
		{ "5743", "-1", "to '-1': port must be a number" },
		{ "", "9000", "listen '': port is missing" },
		{ "5743", "", "to '': port is missing" },
	};
	char err[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint16_t l = 7, t = 7;

		memset(err, 0, sizeof(err));
		if (udpc_parse_serve_ports(cases[i].listen, cases[i].to, &l, &t, err, sizeof(err)) !=
		    -EINVAL)
			fail_msg("'%s' '%s': accepted", cases[i].listen, cases[i].to);
		if (!strstr(err, cases[i].want))
			fail_msg("'%s' '%s': error \"%s\" lacks \"%s\"", cases[i].listen, cases[i].to,
				 err, cases[i].want);
		assert_int_equal(l, 7); /* untouched on failure */
		assert_int_equal(t, 7);
	}
}

static void test_port_alone(void **state)
{
	char err[64];
	uint16_t p = 0;

	assert_int_equal(udpc_parse_port("to", "9000", &p, err, sizeof(err)), 0);
	assert_int_equal(p, 9000);
	assert_int_equal(udpc_parse_port("to", NULL, &p, err, sizeof(err)), -EINVAL);
	/* no room for a message: still refused, nothing written past the buffer */
	assert_int_equal(udpc_parse_port("to", "x", &p, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_port_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
