// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The keepalive frame (user/kaframe.c), checked against the protocol independently:
 * every header field at its offset, the IPv4 header checksum, and the UDP checksum
 * verified the way a receiver does, an RFC 1071 sum over pseudo-header and the whole
 * datagram that must come to 0xffff. IPv4 and IPv6.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "kaframe.h"

/* The RFC 1071 sum, written here again: the test does not trust the code's. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t acc)
{
	size_t i;

	for (i = 0; i < len; i += 2)
		acc += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static const struct udpc_ka_spec base = {
	.sport = 40000, .dport = 5743, .path = 7, .seq = 0x01020304,
	.session = 0x1122334455667788ULL, .stamp_ns = 123456789012ULL, .rtt_ns = 2500000,
	.rx_packets = 1000, .rx_first = 600, .seq_first = 3, .seq_last = 1010,
};

/* The UDP part at udp (len bytes) and the peer header and payload in it. */
static void check_l4(const uint8_t *udp, size_t len, uint32_t pseudo)
{
	const struct udpc_ka_spec *s = &base;
	uint8_t session[8];

	assert_int_equal(len, 8 + 16 + 48);
	assert_int_equal(get16(udp), s->sport);
	assert_int_equal(get16(udp + 2), s->dport);
	assert_int_equal(get16(udp + 4), len);
	assert_int_not_equal(get16(udp + 6), 0);
	/* The receiver's check: all of it, checksum field included, sums to 0xffff. */
	assert_int_equal(fold(sum16(udp, len, pseudo + 17 + len)), 0xffff);

	assert_int_equal(udp[8], 0x12); /* version 1, keepalive */
	assert_int_equal(udp[9], s->path);
	assert_int_equal((uint32_t)get16(udp + 10) << 16 | get16(udp + 12), s->seq);
	memcpy(session, &s->session, 8);
	assert_memory_equal(udp + 14, session, 8); /* opaque: as in memory */
	assert_int_equal(get16(udp + 22), 0);	   /* no carried checksum */
	assert_int_equal(get64(udp + 24), s->stamp_ns);
	assert_int_equal(get64(udp + 32), s->rtt_ns);
	assert_int_equal(get64(udp + 40), s->rx_packets);
	assert_int_equal(get64(udp + 48), s->rx_first);
	assert_int_equal(get64(udp + 56), s->seq_first);
	assert_int_equal(get64(udp + 64), s->seq_last);
}

static void test_v4(void **state)
{
	struct udpc_ka_spec s = base;
	uint8_t f[UDPC_KA_FRAME_MAX + 8];
	static const uint8_t src[4] = { 192, 0, 2, 1 }, dst[4] = { 203, 0, 113, 201 };
	size_t n;

	s.family = UDPC_AF_INET;
	memcpy(s.src.w, src, 4);
	memcpy(s.dst.w, dst, 4);
	n = udpc_ka_frame(&s, f);
	assert_int_equal(n, 20 + 72);
	assert_int_equal(f[0], 0x45);
	assert_int_equal(get16(f + 2), n);
	assert_int_equal(f[9], 17);
	assert_int_not_equal(f[8], 0);
	assert_memory_equal(f + 12, src, 4);
	assert_memory_equal(f + 16, dst, 4);
	assert_int_equal(fold(sum16(f, 20, 0)), 0xffff); /* the header checksum */
	check_l4(f + 20, n - 20, sum16(f + 12, 8, 0));
}

static void test_v6(void **state)
{
	struct udpc_ka_spec s = base;
	uint8_t f[UDPC_KA_FRAME_MAX + 8];
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
			     dst[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 0x42 };
	size_t n;

	s.family = UDPC_AF_INET6;
	memcpy(s.src.w, src, 16);
	memcpy(s.dst.w, dst, 16);
	n = udpc_ka_frame(&s, f);
	assert_int_equal(n, 40 + 72);
	assert_int_equal(f[0] >> 4, 6);
	assert_int_equal(get16(f + 4), 72);
	assert_int_equal(f[6], 17);
	assert_int_not_equal(f[7], 0);
	assert_memory_equal(f + 8, src, 16);
	assert_memory_equal(f + 24, dst, 16);
	check_l4(f + 40, n - 40, sum16(f + 8, 32, 0));
}

/* A sum that folds to 0 is sent as 0xffff (0 means "none" in UDP over IPv4): find
 * a stamp that makes it so, by adjusting the stamp's low 16 bits. */
static void test_zero_sum_is_ffff(void **state)
{
	struct udpc_ka_spec s = base;
	uint8_t f[UDPC_KA_FRAME_MAX];
	uint16_t ck;

	s.family = UDPC_AF_INET;
	s.stamp_ns &= ~0xffffULL;
	udpc_ka_frame(&s, f);
	ck = get16(f + 26);
	/* The stamp's low 16 bits add to the sum: make it come to 0xffff before
	 * inversion, that is a checksum of 0. */
	s.stamp_ns += ck;
	udpc_ka_frame(&s, f);
	assert_int_equal(get16(f + 26), 0xffff);
	assert_int_equal(fold(sum16(f + 20, 72, sum16(f + 12, 8, 0) + 17 + 72)), 0xffff);
}

static void test_unknown_family(void **state)
{
	struct udpc_ka_spec s = base;
	uint8_t f[UDPC_KA_FRAME_MAX];

	s.family = 0;
	assert_int_equal(udpc_ka_frame(&s, f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4),
		cmocka_unit_test(test_v6),
		cmocka_unit_test(test_zero_sum_is_ffff),
		cmocka_unit_test(test_unknown_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
