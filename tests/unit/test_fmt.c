// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The one HOST:PORT formatter and the address formatters (user/fmt.c): what log
 * lines and `status` call a destination. IPv6 literals are always bracketed, the
 * uplink or table suffix follows, fixed arrays from map values need no NUL, and a
 * short buffer gets a NUL-terminated prefix and -ENOSPC.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "spec.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void test_dest_table(void **state)
{
	static const struct {
		const char *host;
		uint16_t port;
		const char *uplink;
		uint32_t table;
		const char *want;
	} cases[] = {
		{ "192.0.2.1", 9000, NULL, 0, "192.0.2.1:9000" },
		{ "2001:db8::1", 9000, NULL, 0, "[2001:db8::1]:9000" },
		{ "::ffff:192.0.2.1", 1, "", 0, "[::ffff:192.0.2.1]:1" },
		{ "vpn.example.org", 65535, "", 0, "vpn.example.org:65535" },
		{ "vpn.example.org.", 51820, NULL, 0, "vpn.example.org.:51820" },
		{ "vpn.example.org", 51820, "wwan0", 0, "vpn.example.org:51820@wwan0" },
		{ "2001:db8::7", 9002, "usb0", 0, "[2001:db8::7]:9002@usb0" },
		{ "198.51.100.7", 9001, NULL, 100, "198.51.100.7:9001@table=100" },
		{ "2001:db8::7", 9002, NULL, 4294967295U, "[2001:db8::7]:9002@table=4294967295" },
		/* a table is what the copy follows; a stale uplink name must not show */
		{ "192.0.2.1", 9000, "eth1", 7, "192.0.2.1:9000@table=7" },
	};
	char buf[UDPC_DEST_STR_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(udpc_fmt_dest(cases[i].host, cases[i].port, cases[i].uplink,
					       cases[i].table, buf, sizeof(buf)),
				 0);
		assert_string_equal(buf, cases[i].want);
	}
}

/* Through a parsed spec: the same string the user typed comes back. */
static void test_dest_spec(void **state)
{
	static const char *const items[] = {
		"192.0.2.1:9000", "[2001:db8::1]:9000", "vpn.example.org:51820@wwan0",
		"[2001:db8::7]:9002@table=100",
	};
	struct udpc_dest_spec s;
	char buf[UDPC_DEST_STR_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(items); i++) {
		assert_int_equal(udpc_parse_dest(items[i], &s, NULL, 0), 0);
		assert_int_equal(udpc_fmt_dest_spec(&s, buf, sizeof(buf)), 0);
		assert_string_equal(buf, items[i]);
	}
}

/* Map values: host[UDPC_HOST_MAX] and uplink[UDPC_IFNAME_MAX] may be full, no NUL. */
static void test_dest_unterminated(void **state)
{
	struct {
		char host[UDPC_HOST_MAX];
		char uplink[UDPC_IFNAME_MAX];
		char after[8];
	} v;
	char buf[UDPC_DEST_STR_MAX], want[UDPC_DEST_STR_MAX];

	memset(v.host, 'h', sizeof(v.host));
	memset(v.uplink, 'u', sizeof(v.uplink));
	memcpy(v.after, "NOTME", 6);
	assert_int_equal(udpc_fmt_dest(v.host, 65535, v.uplink, 0, buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "%.*s:65535@%.*s", UDPC_HOST_MAX, v.host, UDPC_IFNAME_MAX,
		 v.uplink);
	assert_string_equal(buf, want);
	assert_null(strstr(buf, "NOTME"));
}

/* UDPC_DEST_STR_MAX holds the longest host with the longest port and suffix. */
static void test_dest_max(void **state)
{
	char host[UDPC_HOST_MAX], buf[UDPC_DEST_STR_MAX];

	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	host[1] = ':'; /* bracketed, the longest form */
	assert_int_equal(udpc_fmt_dest(host, 65535, NULL, 4294967295U, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_int_equal(udpc_fmt_dest(host, 65535, NULL, 4294967295U, buf, sizeof(buf) - 1),
			 -ENOSPC);
}

static void test_dest_truncation(void **state)
{
	static const struct {
		size_t len;
		int ret;
		const char *want;
	} cases[] = {
		{ 1, -ENOSPC, "" },
		{ 5, -ENOSPC, "[200" },
		{ 18, -ENOSPC, "[2001:db8::1]:900" },	 /* cut in the port */
		{ 19, -ENOSPC, "[2001:db8::1]:9000" },	 /* no room for the suffix */
		{ 24, -ENOSPC, "[2001:db8::1]:9000@wwan" }, /* cut in the suffix */
		{ 25, 0, "[2001:db8::1]:9000@wwan0" },	 /* exactly fits */
	};
	char buf[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(udpc_fmt_dest("2001:db8::1", 9000, "wwan0", 0, buf, cases[i].len),
				 cases[i].ret);
		assert_string_equal(buf, cases[i].want);
		assert_int_equal(buf[cases[i].len], 'x'); /* nothing written past len */
	}
	/* len 0: nothing written at all */
	buf[0] = 'x';
	assert_int_equal(udpc_fmt_dest("192.0.2.1", 1, NULL, 0, buf, 0), -ENOSPC);
	assert_int_equal(buf[0], 'x');
}

static void test_addr_str(void **state)
{
	struct udpc_addr a4 = { .w = { htonl(0xc0000201) } }, a6;
	char buf[INET6_ADDRSTRLEN], small[4];

	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &a6), 1);
	assert_string_equal(udpc_addr_str(UDPC_AF_INET, &a4, buf, sizeof(buf)), "192.0.2.1");
	/* never bracketed on its own: brackets belong to HOST:PORT */
	assert_string_equal(udpc_addr_str(UDPC_AF_INET6, &a6, buf, sizeof(buf)), "2001:db8::1");
	assert_ptr_equal(udpc_addr_str(UDPC_AF_INET6, &a6, small, sizeof(small)), small);
	assert_string_equal(small, "?");
}

static void test_dest_addrs(void **state)
{
	struct udpc_dest d = { .addr4 = htonl(0xc6336407) };
	char buf[INET6_ADDRSTRLEN * 2 + 8];

	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &d.addr6), 1);
	assert_string_equal(udpc_dest_addrs(&d, ",", "-", buf, sizeof(buf)), "-");
	d.flags = UDPC_DEST_V4;
	assert_string_equal(udpc_dest_addrs(&d, ",", "-", buf, sizeof(buf)), "198.51.100.7");
	d.flags = UDPC_DEST_V6;
	assert_string_equal(udpc_dest_addrs(&d, ",", "-", buf, sizeof(buf)), "2001:db8::7");
	d.flags = UDPC_DEST_V4 | UDPC_DEST_V6;
	assert_string_equal(udpc_dest_addrs(&d, " and ", "no address", buf, sizeof(buf)),
			    "198.51.100.7 and 2001:db8::7");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dest_table),
		cmocka_unit_test(test_dest_spec),
		cmocka_unit_test(test_dest_unterminated),
		cmocka_unit_test(test_dest_max),
		cmocka_unit_test(test_dest_truncation),
		cmocka_unit_test(test_addr_str),
		cmocka_unit_test(test_dest_addrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
