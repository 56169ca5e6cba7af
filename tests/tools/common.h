/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * What the test tools (tests/tools) and the benchmark tools (tests/bench) share:
 * exits on usage and system errors, integer options, the monotonic clock.
 * Each program defines `prog`, its name, which starts every message.
 */
#ifndef UDPC_TOOLS_COMMON_H
#define UDPC_TOOLS_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSEC 1000000000LL
#define EXIT_USAGE 2

extern const char *prog;

__attribute__((format(printf, 1, 2), noreturn)) static inline void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try '%s --help')\n", prog);
	exit(EXIT_USAGE);
}

/* "prog: what: strerror(errno)", exit status 1. */
__attribute__((format(printf, 1, 2), noreturn)) static inline void die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(e));
	exit(EXIT_FAILURE);
}

/* Decimal, min..max, or a usage error naming the option. */
static inline uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		die_usage("%s: '%s' is not an integer in %" PRIu64 "..%" PRIu64, opt, s, min, max);
	return v;
}

static inline int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

static inline int64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

#endif /* UDPC_TOOLS_COMMON_H */
