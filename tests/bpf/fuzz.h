/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * What the two fuzzers (test_fuzz.c, test_fuzz_peer.c) share: the seeded PRNG
 * whose stream a seed reproduces, the report of one frame's failures, a few
 * helpers, and the start and end of main() (the seed and frame count from the
 * environment, the summary's last lines).
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
