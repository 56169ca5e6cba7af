// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* Listen and destination spec parsers: what is accepted, and what each rejection says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "spec.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Garbage the parsers must not leave in an output they rejected. */
#define POISON 0xa5

static char long_label[80];	/* "x" * 64 + ".example:9" */
static char name_253[300];	/* exactly 253 characters + ":9" */
static char name_254_dot[300];	/* 253 characters + "." + ":9" */
static char name_254[300];	/* 254 characters + ":9" */
static char name_1000[1100];	/* far too long, to check the echo is cut */
static char label_63[80];	/* "x" * 63 + ".example:9" */

/* Labels of 63 'a' separated by dots, total length len, then suffix. */
static void make_name(char *buf, size_t len, const char *suffix)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (i % 64 == 63) ? '.' : 'a';
	if (len && buf[len - 1] == '.')
		buf[len - 1] = 'a';
	strcpy(buf + len, suffix);
}

static int setup_names(void **state)
{
	memset(long_label, 'x', 64);
	strcpy(long_label + 64, ".example:9");
	memset(label_63, 'x', 63);
	strcpy(label_63 + 63, ".example:9");
	make_name(name_253, 253, ":9");
	make_name(name_254_dot, 253, ".:9");
	make_name(name_254, 254, ":9");
	make_name(name_1000, 1000, ":9");
	return 0;
}

static void assert_err(const char *input, int ret, const char *err, const char *want)
{
	if (ret != -EINVAL)
		fail_msg("'%s': expected -EINVAL, got %d", input, ret);
	if (!strstr(err, want))
		fail_msg("'%s': error \"%s\" does not contain \"%s\"", input, err, want);
	if (strchr(err, '\n'))
		fail_msg("'%s': error \"%s\" has a newline", input, err);
}

static struct udpc_addr addr_of(int family, const char *s)
{
	struct udpc_addr a;

	memset(&a, 0, sizeof(a));
	if (family == UDPC_AF_INET)
		assert_int_equal(inet_pton(AF_INET, s, &a.w[0]), 1);
	else if (family == UDPC_AF_INET6)
		assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

/* --- listen --- */

static const struct {
	const char *in;
	int family;
	const char *addr;
	uint16_t port;
} listen_ok[] = {
	{ "5743", 0, NULL, 5743 },
	{ "1", 0, NULL, 1 },
	{ "65535", 0, NULL, 65535 },
	{ "05743", 0, NULL, 5743 },
	{ "192.0.2.1:5743", UDPC_AF_INET, "192.0.2.1", 5743 },
	{ "127.0.0.1:1", UDPC_AF_INET, "127.0.0.1", 1 },
	{ "[2001:db8::1]:5743", UDPC_AF_INET6, "2001:db8::1", 5743 },
	{ "[2001:DB8:0::1]:53", UDPC_AF_INET6, "2001:db8::1", 53 },
	{ "[::1]:65535", UDPC_AF_INET6, "::1", 65535 },
	{ "[::ffff:192.0.2.1]:53", UDPC_AF_INET6, "::ffff:192.0.2.1", 53 },
};

static const struct {
	const char *in;
	const char *want;
} listen_bad[] = {
	{ "", "listen '': port is missing" },
	{ "abc", "listen 'abc': port must be a number from 1 to 65535" },
	{ "0", "listen '0': port 0 is out of range 1-65535" },
	{ "65536", "listen '65536': port 65536 is out of range 1-65535" },
	{ "99999999999999999999", "port 99999999999999999999 is out of range" },
	{ "+5", "listen '+5': port must be a number" },
	{ "-1", "port must be a number" },
	{ "5a", "listen '5a': port must be a number" },
	{ " 5", "listen ' 5': port must be a number" },
	{ "5 ", "port must be a number" },
	{ "0x10", "port must be a number" },
	{ "192.0.2.1", "listen '192.0.2.1': port is missing" },
	{ "192.0.2.1:", "listen '192.0.2.1:': port is missing" },
	{ "192.0.2.1:0", "port 0 is out of range 1-65535" },
	{ "192.0.2.1:x", "port must be a number" },
	{ "2001:db8::1:5743", "listen '2001:db8::1:5743': an IPv6 address needs brackets: [ADDR]:PORT" },
	{ "::1", "needs brackets" },
	{ "[2001:db8::1]", "listen '[2001:db8::1]': port is missing" },
	{ "[2001:db8::1]:", "port is missing" },
	{ "[2001:db8::1]5743", "expected ':' and a port after ']'" },
	{ "[2001:db8::1:5743", "missing ']'" },
	{ "[192.0.2.1]:5743", "brackets are only for IPv6 addresses: write 192.0.2.1:5743" },
	{ "[zz::1]:5743", "'zz::1' is not a valid IPv6 address" },
	{ "[]:5743", "empty address in brackets" },
	{ "[fe80::1%eth0]:5743", "listen '[fe80::1%eth0]:5743': IPv6 zone ids" },
	{ "fe80::1%eth0:5743", "IPv6 zone ids" },
	{ "localhost:5743", "'localhost' is not an IPv4 address or a bracketed IPv6 address" },
	{ "1.2.3:5743", "listen '1.2.3:5743': '1.2.3' is not a valid IPv4 address" },
	{ "256.1.1.1:5743", "'256.1.1.1' is not a valid IPv4 address" },
	{ ":5743", "listen ':5743': empty address" },
	{ "0.0.0.0:5743", "unspecified address" },
	{ "[::]:5743", "unspecified address" },
};

static void test_listen_valid(void **state)
{
	struct udpc_listen l;
	struct udpc_addr want;
	char err[256];
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(listen_ok); i++) {
		memset(&l, POISON, sizeof(l));
		err[0] = '\0';
		ret = udpc_parse_listen(listen_ok[i].in, &l, err, sizeof(err));
		if (ret)
			fail_msg("'%s': unexpected error %d: %s", listen_ok[i].in, ret, err);
		assert_int_equal(l.family, listen_ok[i].family);
		assert_int_equal(l.port, listen_ok[i].port);
		want = addr_of(listen_ok[i].family, listen_ok[i].addr);
		if (memcmp(&l.addr, &want, sizeof(want)))
			fail_msg("'%s': wrong address", listen_ok[i].in);
	}
}

static void test_listen_invalid(void **state)
{
	struct udpc_listen l, poison;
	char err[256];
	size_t i;

	memset(&poison, POISON, sizeof(poison));
	for (i = 0; i < ARRAY_SIZE(listen_bad); i++) {
		l = poison;
		err[0] = '\0';
		assert_err(listen_bad[i].in, udpc_parse_listen(listen_bad[i].in, &l, err, sizeof(err)),
			   err, listen_bad[i].want);
		if (memcmp(&l, &poison, sizeof(l)))
			fail_msg("'%s': output written on error", listen_bad[i].in);
	}
}

/* --- one destination --- */

static const struct {
	const char *in;
	const char *host;
	uint16_t port;
	const char *uplink;	/* NULL: none */
	uint32_t table;
} dest_ok[] = {
	{ "example.com:9000", "example.com", 9000 },
	{ "Example.COM.:9000", "Example.COM.", 9000 },
	{ "localhost:1", "localhost", 1 },
	{ "a:65535", "a", 65535 },
	{ "_sip._udp.example.com:5060", "_sip._udp.example.com", 5060 },
	{ "x-1.example:9", "x-1.example", 9 },
	{ "123abc:9", "123abc", 9 },
	{ "1.2.3.4a:9", "1.2.3.4a", 9 },
	{ "192.0.2.1:53", "192.0.2.1", 53 },
	{ "[2001:db8::1]:9000", "2001:db8::1", 9000 },
	{ "[2001:DB8:0::1]:9000", "2001:DB8:0::1", 9000 },
	{ "[::ffff:192.0.2.1]:9", "::ffff:192.0.2.1", 9 },
	{ "[::1]:00053", "::1", 53 },
	{ "vpn.example:9000@wwan0", "vpn.example", 9000, "wwan0" },
	{ "[2001:db8::1]:9000@eth1.100", "2001:db8::1", 9000, "eth1.100" },
	{ "192.0.2.1:9@abcdefghijklmno", "192.0.2.1", 9, "abcdefghijklmno" },
	{ "192.0.2.1:9@table=100", "192.0.2.1", 9, NULL, 100 },
	{ "a:9@table=4294967295", "a", 9, NULL, 4294967295U },
};

static const struct {
	const char *in;
	const char *want;
} dest_bad[] = {
	{ ":9000", "destination ':9000': empty host" },
	{ "a:9@", "destination 'a:9@': nothing after '@'" },
	{ "a:9@table=0", "routing table must be a number from 1 to 4294967295" },
	{ "a:9@table=4294967296", "routing table must be a number from 1 to 4294967295" },
	{ "a:9@table=x", "routing table must be a number" },
	{ "a:9@table=", "routing table must be a number" },
	{ "b\xc3\xbc" "cher.example:9", "xn-- (punycode) form" },
	{ "a\nb:9", "destination 'a\\x0ab:9': " },
	{ "a:9@abcdefghijklmnop", "interface name is longer than 15 characters" },
	{ "a:9@a/b", "'a/b' is not an interface name" },
	{ "a:9@..", "'..' is not an interface name" },
	{ "a:9@wlan 0", "'wlan 0' is not an interface name" },
	{ "a:9@x@y", "'x@y' is not an interface name" },
	{ "a:0@wwan0", "port 0 is out of range" },
	{ "@wwan0", "destination '@wwan0': port is missing" },
	{ "host", "destination 'host': port is missing" },
	{ "host:", "destination 'host:': port is missing" },
	{ "host:0", "destination 'host:0': port 0 is out of range 1-65535" },
	{ "host:65536", "port 65536 is out of range 1-65535" },
	{ "host:+5", "destination 'host:+5': port must be a number from 1 to 65535" },
	{ "host:5a", "port must be a number" },
	{ "host: 5", "port must be a number" },
	{ "host:-1", "port must be a number" },
	{ "2001:db8::1:9000",
	  "destination '2001:db8::1:9000': an IPv6 address needs brackets: [ADDR]:PORT, e.g. [2001:db8::1]:9000" },
	{ "2001:db8::1", "destination '2001:db8::1': an IPv6 address needs brackets: [ADDR]:PORT" },
	{ "::1", "an IPv6 address needs brackets" },
	{ "::1:x", "an IPv6 address needs brackets: [ADDR]:PORT" },
	{ "[2001:db8::1]", "destination '[2001:db8::1]': port is missing" },
	{ "[2001:db8::1]:", "port is missing" },
	{ "[2001:db8::1:9000", "missing ']'" },
	{ "[192.0.2.1]:9000", "brackets are only for IPv6 addresses" },
	{ "[example.com]:9000", "'example.com' is not a valid IPv6 address" },
	{ "[2001:db8::1::2]:9000", "'2001:db8::1::2' is not a valid IPv6 address" },
	{ "[fe80::1%eth0]:9000", "destination '[fe80::1%eth0]:9000': IPv6 zone ids" },
	{ "fe80::1%eth0:9000", "IPv6 zone ids" },
	{ "1.2.3:9000", "destination '1.2.3:9000': '1.2.3' is not a valid IPv4 address" },
	{ "256.1.1.1:9000", "'256.1.1.1' is not a valid IPv4 address" },
	{ "1.2.3.4.5:9000", "'1.2.3.4.5' is not a valid IPv4 address" },
	{ "1.2.3.4.:9000", "'1.2.3.4.' is not a valid IPv4 address" },
	{ "01.2.3.4:9000", "'01.2.3.4' is not a valid IPv4 address" },
	{ "123:9000", "'123' is not a valid IPv4 address" },
	{ "127.1:9000", "'127.1' is not a valid IPv4 address" },
	{ "0x7f000001:9000", "'0x7f000001' is not a valid IPv4 address" },
	{ "a..b:9000", "empty label in name 'a..b'" },
	{ ".a:9000", "empty label" },
	{ "a..:9000", "empty label" },
	{ ".:9000", "empty label" },
	{ "-a.example:9000", "label '-a' starts or ends with '-'" },
	{ "a.b-.example:9000", "label 'b-' starts or ends with '-'" },
	{ "exa mple:9000", "invalid character ' ' in name" },
	{ "exa!mple:9000", "invalid character '!' in name" },
	{ "exa/mple:9000", "invalid character '/'" },
	{ "caf\xc3\xa9.example:9", "invalid byte 0xc3 in name" },
	{ long_label, "is longer than 63 characters" },
	{ name_254, "name is longer than 253 characters" },
	{ name_1000, "name is longer than 253 characters" },
	{ "0.0.0.0:9000", "the unspecified address is not a destination" },
	{ "[::]:9000", "the unspecified address is not a destination" },
};

static void test_dest_valid(void **state)
{
	struct udpc_dest_spec d;
	char err[256];
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(dest_ok); i++) {
		memset(&d, POISON, sizeof(d));
		err[0] = '\0';
		ret = udpc_parse_dest(dest_ok[i].in, &d, err, sizeof(err));
		if (ret)
			fail_msg("'%s': unexpected error %d: %s", dest_ok[i].in, ret, err);
		assert_string_equal(d.host, dest_ok[i].host);
		assert_int_equal(d.port, dest_ok[i].port);
		assert_string_equal(d.uplink, dest_ok[i].uplink ? dest_ok[i].uplink : "");
		assert_int_equal(d.table, dest_ok[i].table);
	}
}

static void test_dest_name_lengths(void **state)
{
	struct udpc_dest_spec d;
	char err[256] = "";

	assert_int_equal(udpc_parse_dest(label_63, &d, err, sizeof(err)), 0);
	assert_int_equal(strlen(d.host), 63 + strlen(".example"));
	assert_int_equal(udpc_parse_dest(name_253, &d, err, sizeof(err)), 0);
	assert_int_equal(strlen(d.host), 253);
	assert_int_equal(d.port, 9);
	assert_int_equal(udpc_parse_dest(name_254_dot, &d, err, sizeof(err)), 0);
	assert_int_equal(strlen(d.host), 254);
	assert_int_equal(d.host[253], '.');
}

static void test_dest_invalid(void **state)
{
	struct udpc_dest_spec d, poison;
	char err[256];
	size_t i;

	memset(&poison, POISON, sizeof(poison));
	for (i = 0; i < ARRAY_SIZE(dest_bad); i++) {
		d = poison;
		err[0] = '\0';
		assert_err(dest_bad[i].in, udpc_parse_dest(dest_bad[i].in, &d, err, sizeof(err)), err,
			   dest_bad[i].want);
		if (memcmp(&d, &poison, sizeof(d)))
			fail_msg("'%s': output written on error", dest_bad[i].in);
	}
}

/* A huge item is echoed cut short, and tiny or absent buffers are safe. */
static void test_dest_error_buffers(void **state)
{
	struct udpc_dest_spec d;
	char err[512], small[8];

	assert_int_equal(udpc_parse_dest(name_1000, &d, err, sizeof(err)), -EINVAL);
	assert_true(strlen(err) < 200);
	assert_non_null(strstr(err, "...': name is longer"));

	memset(small, 'z', sizeof(small));
	assert_int_equal(udpc_parse_dest("host:0", &d, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "destina");

	assert_int_equal(udpc_parse_dest("host:0", &d, NULL, 0), -EINVAL);
	assert_int_equal(udpc_parse_dest("host:0", &d, small, 0), -EINVAL);
	assert_int_equal(udpc_parse_listen("x", &(struct udpc_listen){ 0 }, NULL, 0), -EINVAL);
	assert_int_equal(udpc_parse_dest(NULL, &d, err, sizeof(err)), -EINVAL);
}

/* --- destination lists --- */

static void test_dest_list_valid(void **state)
{
	struct udpc_dest_spec out[UDPC_MAX_DESTS];
	char err[256] = "", buf[UDPC_MAX_DESTS * 16];
	int n = -1, i, ret;

	ret = udpc_parse_dest_list("a.example:1", out, UDPC_MAX_DESTS, &n, err, sizeof(err));
	assert_int_equal(ret, 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].host, "a.example");
	assert_int_equal(out[0].port, 1);

	/* the same server by different uplinks: that is what uplinks are for */
	ret = udpc_parse_dest_list("a.example:1@u0,a.example:1@u1,a.example:1,a.example:1@table=9",
				   out, UDPC_MAX_DESTS, &n, err, sizeof(err));
	assert_int_equal(ret, 0);
	assert_int_equal(n, 4);
	assert_string_equal(out[1].uplink, "u1");
	assert_string_equal(out[2].uplink, "");
	assert_int_equal(out[3].table, 9);

	ret = udpc_parse_dest_list("a.example:1,192.0.2.1:2,[2001:db8::1]:3,a.example:4", out,
				   UDPC_MAX_DESTS, &n, err, sizeof(err));
	if (ret)
		fail_msg("unexpected error: %s", err);
	assert_int_equal(n, 4);
	assert_string_equal(out[1].host, "192.0.2.1");
	assert_int_equal(out[1].port, 2);
	assert_string_equal(out[2].host, "2001:db8::1");
	assert_int_equal(out[2].port, 3);
	/* same host on another port is another destination */
	assert_string_equal(out[3].host, "a.example");
	assert_int_equal(out[3].port, 4);

	/* exactly the limit */
	buf[0] = '\0';
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		sprintf(buf + strlen(buf), "%sh%d:%d", i ? "," : "", i, 1000 + i);
	ret = udpc_parse_dest_list(buf, out, UDPC_MAX_DESTS, &n, err, sizeof(err));
	if (ret)
		fail_msg("unexpected error: %s", err);
	assert_int_equal(n, UDPC_MAX_DESTS);
	sprintf(buf, "h%d", UDPC_MAX_DESTS - 1);
	assert_string_equal(out[UDPC_MAX_DESTS - 1].host, buf);
	assert_int_equal(out[UDPC_MAX_DESTS - 1].port, 1000 + UDPC_MAX_DESTS - 1);
}

static const struct {
	const char *in;
	const char *want;
} list_bad[] = {
	{ "", "no destinations given" },
	{ "a:1,,b:2", "destination list 'a:1,,b:2': item 2 is empty" },
	{ ",a:1", "item 1 is empty" },
	{ "a:1,", "item 2 is empty" },
	{ ",", "item 1 is empty" },
	{ "a:1,b:2,c", "destination 'c': port is missing" },
	{ "a:1,b:0", "destination 'b:0': port 0 is out of range 1-65535" },
	{ "a:1,A:1", "destination 'A:1': duplicate of item 1 'a:1'" },
	{ "x:9,a.example:1,A.EXAMPLE.:1", "destination 'A.EXAMPLE.:1': duplicate of item 2 'a.example:1'" },
	{ "[2001:db8::1]:9,[2001:DB8:0::1]:9", "duplicate of item 1 '[2001:db8::1]:9'" },
	{ "[2001:db8::1]:9,[2001:db8:0:0:0:0:0:1]:9", "duplicate of item 1" },
	{ "192.0.2.1:9,b:1,192.0.2.1:9", "destination '192.0.2.1:9': duplicate of item 1" },
	{ "a:1,b:2,a:01", "destination 'a:01': duplicate of item 1 'a:1'" },
	{ "a:1@u0,a:1@u1,A:1@u0", "destination 'A:1@u0': duplicate of item 1 'a:1@u0'" },
	{ "a:1@table=7,a:1@table=7", "duplicate of item 1" },
};

static void test_dest_list_invalid(void **state)
{
	struct udpc_dest_spec out[UDPC_MAX_DESTS];
	char err[256];
	size_t i;
	int n;

	for (i = 0; i < ARRAY_SIZE(list_bad); i++) {
		err[0] = '\0';
		n = -42;
		assert_err(list_bad[i].in,
			   udpc_parse_dest_list(list_bad[i].in, out, UDPC_MAX_DESTS, &n, err, sizeof(err)),
			   err, list_bad[i].want);
		assert_int_equal(n, -42);
	}
}

static void test_dest_list_limit(void **state)
{
	struct udpc_dest_spec out[UDPC_MAX_DESTS + 1];
	char err[256] = "", want[64], buf[(UDPC_MAX_DESTS + 1) * 16];
	int n = -42, i;

	buf[0] = '\0';
	for (i = 0; i < UDPC_MAX_DESTS + 1; i++)
		sprintf(buf + strlen(buf), "%sh%d:%d", i ? "," : "", i, 1000 + i);
	assert_int_equal(udpc_parse_dest_list(buf, out, UDPC_MAX_DESTS, &n, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "too many destinations: %d, the limit is %d",
		 UDPC_MAX_DESTS + 1, UDPC_MAX_DESTS);
	assert_string_equal(err, want);
	assert_int_equal(n, -42);

	/* the count wins over an invalid item beyond the limit */
	assert_int_equal(udpc_parse_dest_list("a:1,b:2,c", out, 2, &n, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "too many destinations: 3, the limit is 2");

	assert_int_equal(udpc_parse_dest_list("a:1", out, 0, &n, err, sizeof(err)), -EINVAL);
}

/* --- helpers --- */

static void test_host_literal(void **state)
{
	struct udpc_addr a, want;

	memset(&a, POISON, sizeof(a));
	assert_int_equal(udpc_host_literal("192.0.2.1", &a), UDPC_AF_INET);
	assert_int_equal(a.w[0], htonl(0xc0000201));
	assert_int_equal(a.w[1] | a.w[2] | a.w[3], 0);

	memset(&a, POISON, sizeof(a));
	assert_int_equal(udpc_host_literal("2001:DB8::1", &a), UDPC_AF_INET6);
	want = addr_of(UDPC_AF_INET6, "2001:db8::1");
	assert_memory_equal(&a, &want, sizeof(a));

	memset(&a, POISON, sizeof(a));
	memset(&want, POISON, sizeof(want));
	assert_int_equal(udpc_host_literal("example.com", &a), 0);
	assert_int_equal(udpc_host_literal("fe80::1%eth0", &a), 0);
	assert_int_equal(udpc_host_literal("1.2.3", &a), 0);
	assert_int_equal(udpc_host_literal("", &a), 0);
	assert_memory_equal(&a, &want, sizeof(a));
	assert_int_equal(udpc_host_literal("::1", NULL), UDPC_AF_INET6);
}

static const struct {
	const char *a, *b;
	bool equal;
} host_pairs[] = {
	{ "a.example", "a.example", true },
	{ "a.example", "A.Example.", true },
	{ "A.EXAMPLE.", "a.example", true },
	{ "a.example", "a.example..", false },
	{ "a.example", "b.example", false },
	{ "example", "example.com", false },
	{ "192.0.2.1", "192.0.2.1", true },
	{ "192.0.2.1", "192.0.2.2", false },
	{ "::ffff:192.0.2.1", "192.0.2.1", false },
	{ "2001:db8::1", "2001:DB8:0::1", true },
	{ "2001:db8::1", "2001:db8::2", false },
	{ "2001:db8::1", "2001-db8--1", false },
};

static void test_host_equal(void **state)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(host_pairs); i++) {
		if (udpc_host_equal(host_pairs[i].a, host_pairs[i].b) != host_pairs[i].equal)
			fail_msg("'%s' vs '%s': expected %s", host_pairs[i].a, host_pairs[i].b,
				 host_pairs[i].equal ? "equal" : "different");
		if (udpc_host_equal(host_pairs[i].b, host_pairs[i].a) != host_pairs[i].equal)
			fail_msg("'%s' vs '%s': not symmetric", host_pairs[i].b, host_pairs[i].a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_valid),
		cmocka_unit_test(test_listen_invalid),
		cmocka_unit_test(test_dest_valid),
		cmocka_unit_test(test_dest_name_lengths),
		cmocka_unit_test(test_dest_invalid),
		cmocka_unit_test(test_dest_error_buffers),
		cmocka_unit_test(test_dest_list_valid),
		cmocka_unit_test(test_dest_list_invalid),
		cmocka_unit_test(test_dest_list_limit),
		cmocka_unit_test(test_host_literal),
		cmocka_unit_test(test_host_equal),
	};

	return cmocka_run_group_tests(tests, setup_names, NULL);
}
