/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * What the two fuzzers (test_fuzz.c, test_fuzz_peer.c) share: the seeded PRNG
 * whose stream a seed reproduces, the report of one frame's failures, the
 * oracle's parser, a few helpers, and the start and end of main() (the seed and
 * frame count from the environment, the summary's last lines).
 *
 * Header-only, like env.h: include it after pkt.h. A fuzzer may define
 * FUZZ_REPORT_SIZE (the bytes one frame's report keeps) before including it.
 */
#ifndef UDPC_TEST_FUZZ_H
#define UDPC_TEST_FUZZ_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/pkt_cls.h>

#include "pkt.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef FUZZ_REPORT_SIZE
#define FUZZ_REPORT_SIZE 32768
#endif

/* ---- PRNG: splitmix64 ---- */

static uint64_t rng;

static inline uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint32_t rn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static inline bool chance(unsigned int pct)
{
	return rn(100) < pct;
}

static inline void rbytes(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)rnd();
}

/* ---- reporting: what went wrong with the frame at hand ---- */

static struct {
	char buf[FUZZ_REPORT_SIZE];
	size_t n;
} rep;

static inline void note(const char *fmt, ...)
{
	va_list ap;

	if (rep.n >= sizeof(rep.buf) - 1)
		return;
	va_start(ap, fmt);
	rep.n += (size_t)vsnprintf(rep.buf + rep.n, sizeof(rep.buf) - rep.n, fmt, ap);
	va_end(ap);
	if (rep.n > sizeof(rep.buf) - 1)
		rep.n = sizeof(rep.buf) - 1;
}

static inline void rep_reset(void)
{
	rep.n = 0;
	rep.buf[0] = '\0';
}

static inline const char *vname(uint32_t v)
{
	return v == TC_ACT_OK ? "OK" : v == TC_ACT_SHOT ? "SHOT" : "?";
}

/* ---- frames ---- */

static inline size_t alen(int family)
{
	return family == 6 ? 16 : 4;
}

/* What the IPv4 header checksum leaves over the header: 0 = valid. */
static inline uint16_t ip4_residual(const uint8_t *f)
{
	return pkt_csum_fold(pkt_csum_add(0, f + PKT_ETH_LEN, PKT_IP4_LEN));
}

/* The test run refuses frames shorter than an Ethernet header, and IP frames that
 * do not hold the IP header their ethertype promises: the program never sees them. */
static inline bool refusal_expected(const uint8_t *f, size_t len)
{
	if (len < PKT_ETH_LEN)
		return true;
	if (pkt_get16(f + 12) == 0x0800)
		return len < PKT_ETH_LEN + PKT_IP4_LEN;
	if (pkt_get16(f + 12) == 0x86dd)
		return len < PKT_ETH_LEN + PKT_IP6_LEN;
	return false;
}

/* ---- the oracle's parser, from the documented rules (test_fuzz_peer.c asks only
 * whether a frame is C_UDP: its programs take nothing else) ---- */

enum cls { C_OTHER, C_UNSUP, C_UDP };

struct parsed {
	enum cls c;
	int family;		/* 4 or 6 */
	size_t l4;		/* offset of the UDP header */
	size_t ip_len;
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
};

/* IPv6 whose first next header is not UDP: up to 4 hop-by-hop, routing,
 * destination-options or first-fragment headers before UDP make it "unsupported"
 * (counted when to the listen port); anything else is not ours. */
static inline struct parsed oracle_ext6(const uint8_t *f, size_t len, struct parsed p)
{
	const uint8_t *ip = f + PKT_ETH_LEN;
	size_t off = PKT_ETH_LEN + PKT_IP6_LEN;
	uint8_t next = ip[6];

	for (int i = 0; i < 4; i++) {
		if (off + 4 > len)
			return p;
		if (next == IPPROTO_UDP) {
			p.family = 6;
			memcpy(p.daddr, ip + 24, 16);
			p.dport = pkt_get16(f + off + 2);
			p.c = C_UNSUP;
			return p;
		}
		if (next == 44) {
			if (pkt_get16(f + off + 2) & 0xfff8)
				return p; /* a later fragment */
			next = f[off];
			off += 8;
		} else if (next == 0 || next == 43 || next == 60) {
			next = f[off];
			off += ((size_t)f[off + 1] + 1) * 8;
		} else {
			return p;
		}
	}
	return p;
}

/*
 * Ours: Ethernet + IPv4 without options and not a fragment (or IPv6 with UDP as
 * the first next header), IP length within the frame, UDP length within the IP
 * packet. IPv4 with options or a first fragment is "unsupported" (counted as
 * skipped when it is to the listen port); anything else is not ours.
 */
static inline struct parsed oracle_parse(const uint8_t *f, size_t len)
{
	struct parsed p;
	const uint8_t *ip = f + PKT_ETH_LEN;
	size_t hlen, ulen;
	uint16_t et;

	memset(&p, 0, sizeof(p));
	p.c = C_OTHER;
	if (len < PKT_ETH_LEN)
		return p;
	et = pkt_get16(f + 12);
	if (et == 0x0800) {
		uint16_t frag;

		if (len < PKT_ETH_LEN + PKT_IP4_LEN || ip[0] >> 4 != 4 || ip[9] != IPPROTO_UDP)
			return p;
		hlen = (size_t)(ip[0] & 0xf) * 4;
		p.ip_len = pkt_get16(ip + 2);
		if (hlen < PKT_IP4_LEN || p.ip_len < hlen + PKT_UDP_LEN ||
		    p.ip_len > len - PKT_ETH_LEN)
			return p;
		frag = pkt_get16(ip + 6);
		if (frag & 0x1fff)
			return p;
		p.family = 4;
		memcpy(p.saddr, ip + 12, 4);
		memcpy(p.daddr, ip + 16, 4);
		if (hlen != PKT_IP4_LEN || (frag & PKT_IP_MF)) {
			p.dport = pkt_get16(ip + hlen + 2);
			p.c = C_UNSUP;
			return p;
		}
		p.l4 = PKT_ETH_LEN + PKT_IP4_LEN;
	} else if (et == 0x86dd) {
		if (len < PKT_ETH_LEN + PKT_IP6_LEN || ip[0] >> 4 != 6)
			return p;
		p.ip_len = PKT_IP6_LEN + pkt_get16(ip + 4);
		if (p.ip_len < PKT_IP6_LEN + PKT_UDP_LEN || p.ip_len > len - PKT_ETH_LEN)
			return p;
		if (ip[6] != IPPROTO_UDP)
			return oracle_ext6(f, len, p);
		p.family = 6;
		memcpy(p.saddr, ip + 8, 16);
		memcpy(p.daddr, ip + 24, 16);
		p.l4 = PKT_ETH_LEN + PKT_IP6_LEN;
	} else {
		return p;
	}
	ulen = pkt_get16(f + p.l4 + 4);
	if (ulen < PKT_UDP_LEN || ulen > p.ip_len - (p.l4 - PKT_ETH_LEN))
		return p;
	p.sport = pkt_get16(f + p.l4);
	p.dport = pkt_get16(f + p.l4 + 2);
	p.c = C_UDP;
	return p;
}

/* ---- main ---- */

static inline uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	uint64_t v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "%s: '%s' is not a number\n", name, s);
		exit(2);
	}
	return v;
}

/*
 * The start of fuzzer `name`: UDPC_FUZZ_SEED and UDPC_FUZZ_FRAMES (or the
 * defaults) into *seed and *frames, and the line that names them. 0 to go on,
 * else the exit status: 77 (skip) without root, 2 for too many frames.
 */
static inline int fuzz_begin(const char *name, uint64_t def_seed, uint64_t def_frames,
			     uint64_t *seed, uint64_t *frames)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	*seed = env_u64("UDPC_FUZZ_SEED", def_seed);
	*frames = env_u64("UDPC_FUZZ_FRAMES", def_frames);
	if (geteuid() != 0) {
		printf("SKIP %s: needs root (network namespace, BPF)\n", name);
		return 77;
	}
	if (*frames > 10000000) {
		fprintf(stderr, "UDPC_FUZZ_FRAMES: at most 10000000\n");
		return 2;
	}
	printf("%s: seed 0x%" PRIx64 " (UDPC_FUZZ_SEED), %" PRIu64 " frames (UDPC_FUZZ_FRAMES)\n",
	       name, *seed, *frames);
	return 0;
}

/* The summary's line of frames by kind. */
static inline void fuzz_kinds(const char *name, const char *const *names, const uint64_t *kinds,
			      int n_kinds)
{
	int k;

	printf("%s: by kind:", name);
	for (k = 0; k < n_kinds; k++)
		printf("%s %s %" PRIu64, k ? "," : "", names[k], kinds[k]);
	printf("\n");
}

/* The verdict line; returns the exit status. */
static inline int fuzz_result(const char *name, uint64_t failures, uint64_t seed, uint64_t frames)
{
	if (failures) {
		printf("FAIL %s: %" PRIu64 " failure(s); reproduce with UDPC_FUZZ_SEED=0x%" PRIx64
		       " UDPC_FUZZ_FRAMES=%" PRIu64 "\n", name, failures, seed, frames);
		return 1;
	}
	printf("PASS %s\n", name);
	return 0;
}

#endif /* UDPC_TEST_FUZZ_H */
