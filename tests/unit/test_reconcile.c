// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Reconcile: dynamic DNS against a scripted resolver. A fake "map" is written
 * only for slots the returned bitmask flags, then compared with what reconcile
 * computed, so a change that goes unreported shows up as a stale map.
 */
#define _GNU_SOURCE	/* EAI_NODATA */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "reconcile.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ANSWERS 8
#define MAX_ADDRS 8
#define BOTH (UDPC_RC_DEST_CHANGED | UDPC_RC_INFO_CHANGED)

/* Script: HOST("a.example", OK("192.0.2.1"), ERR(EAI_AGAIN), ...) */
#define HOST(name, ...) { .host = (name), .answers = { __VA_ARGS__ } }
#define OK(...) { .addrs = { __VA_ARGS__ } }
#define ERR(e) { .error = (e) }

/* One scripted answer: an EAI_* error, or addresses of either family as literals. */
struct answer {
	int error;
	const char *addrs[MAX_ADDRS];
};

/* Call k of the resolver for host gets answers[k]; the last one repeats. */
struct fake_host {
	const char *host;
	struct answer answers[MAX_ANSWERS];
	int calls;
};

struct fake {
	struct fake_host *hosts;
	int n;
	int calls;
	int ret;	/* what the resolver returns (0, or a -errno) */
};

static int fake_resolver(const char *host, struct udpc_resolved *out, void *ctx)
{
	struct fake *f = ctx;
	const struct answer *a;
	int i, k, last;

	f->calls++;
	for (i = 0; i < f->n; i++)
		if (udpc_host_equal(f->hosts[i].host, host))	/* DNS is case-insensitive */
			break;
	if (i == f->n)
		fail_msg("resolver asked for unscripted host '%s'", host);
	for (last = 0; last + 1 < MAX_ANSWERS; last++)
		if (!f->hosts[i].answers[last + 1].error && !f->hosts[i].answers[last + 1].addrs[0])
			break;
	k = f->hosts[i].calls++;
	a = &f->hosts[i].answers[k < last ? k : last];

	out->error = a->error;
	for (k = 0; k < MAX_ADDRS && a->addrs[k]; k++) {
		if (inet_pton(AF_INET, a->addrs[k], &out->v4[out->n4]) == 1)
			out->n4++;
		else if (inet_pton(AF_INET6, a->addrs[k], &out->v6[out->n6]) == 1)
			out->n6++;
		else
			fail_msg("bad literal '%s' in the script", a->addrs[k]);
	}
	return f->ret;
}

/* The pinned maps as the daemon would see them. */
struct maps {
	struct udpc_dest dest[UDPC_MAX_DESTS];
	struct udpc_dest_info info[UDPC_MAX_DESTS];
	struct udpc_dest_spec specs[UDPC_MAX_DESTS];
	int n;
	int changed[UDPC_MAX_DESTS];
};

static void set_specs(struct maps *m, const char *list)
{
	char err[256] = "";

	if (udpc_parse_dest_list(list, m->specs, UDPC_MAX_DESTS, &m->n, err, sizeof(err)))
		fail_msg("bad spec list '%s': %s", list, err);
}

/* One pass: reconcile, then write only the flagged slots, as the daemon does. */
static void step(struct maps *m, struct fake *f, uint64_t now)
{
	struct udpc_dest next[UDPC_MAX_DESTS];
	struct udpc_dest_info next_info[UDPC_MAX_DESTS];
	int i;

	struct udpc_resolved res[UDPC_MAX_DESTS];

	memset(m->changed, 0xff, sizeof(m->changed));
	udpc_resolve_all(m->specs, m->n, fake_resolver, f, res);
	assert_int_equal(udpc_reconcile_all(m->specs, m->n, m->dest, m->info, res, now,
					    next, next_info, m->changed), 0);
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		assert_int_equal(m->changed[i] & ~BOTH, 0);
		if (m->changed[i] & UDPC_RC_DEST_CHANGED)
			m->dest[i] = next[i];
		if (m->changed[i] & UDPC_RC_INFO_CHANGED)
			m->info[i] = next_info[i];
		if (memcmp(&m->dest[i], &next[i], sizeof(next[i])))
			fail_msg("slot %d: dest changed but not reported", i);
		if (memcmp(&m->info[i], &next_info[i], sizeof(next_info[i])))
			fail_msg("slot %d: info changed but not reported", i);
	}
}

static uint32_t v4(const char *s)
{
	uint32_t a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static struct udpc_addr v6(const char *s)
{
	struct udpc_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static void assert_v4(const struct udpc_dest *d, const char *addr)
{
	assert_true(d->flags & UDPC_DEST_V4);
	assert_int_equal(d->addr4, v4(addr));
}

static void assert_v6(const struct udpc_dest *d, const char *addr)
{
	struct udpc_addr want = v6(addr);

	assert_true(d->flags & UDPC_DEST_V6);
	assert_memory_equal(&d->addr6, &want, sizeof(want));
}

static void assert_no_v4(const struct udpc_dest *d)
{
	assert_false(d->flags & UDPC_DEST_V4);
	assert_int_equal(d->addr4, 0);
}

static void assert_no_v6(const struct udpc_dest *d)
{
	struct udpc_addr zero = { 0 };

	assert_false(d->flags & UDPC_DEST_V6);
	assert_memory_equal(&d->addr6, &zero, sizeof(zero));
}

static void assert_unused(const struct maps *m, int from)
{
	struct udpc_dest zd = { 0 };
	struct udpc_dest_info zi = { 0 };
	int i;

	for (i = from; i < UDPC_MAX_DESTS; i++) {
		assert_memory_equal(&m->dest[i], &zd, sizeof(zd));
		assert_memory_equal(&m->info[i], &zi, sizeof(zi));
		assert_int_equal(m->info[i].state, UDPC_STATE_UNUSED);
	}
}

/* First resolution fills the slot; a repeat with the same answer only refreshes info. */
static void test_resolution_succeeds(void **state)
{
	struct fake_host hosts[] = {
		HOST("a.example", OK("192.0.2.10")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };
	int i;

	set_specs(&m, "a.example:9000");
	step(&m, &f, 100);
	assert_int_equal(m.changed[0], BOTH);
	for (i = 1; i < UDPC_MAX_DESTS; i++)
		assert_int_equal(m.changed[i], 0);
	assert_int_equal(m.dest[0].flags, UDPC_DEST_V4);
	assert_int_equal(m.dest[0].port, htons(9000));
	assert_v4(&m.dest[0], "192.0.2.10");
	assert_no_v6(&m.dest[0]);
	assert_string_equal(m.info[0].host, "a.example");
	assert_int_equal(m.info[0].state, UDPC_STATE_ACTIVE);
	assert_int_equal(m.info[0].last_error, 0);
	assert_int_equal(m.info[0].last_resolved, 100);
	assert_int_equal(m.info[0].last_changed, 100);
	assert_unused(&m, 1);

	step(&m, &f, 200);
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_v4(&m.dest[0], "192.0.2.10");
	assert_int_equal(m.info[0].last_resolved, 200);
	assert_int_equal(m.info[0].last_changed, 100);
	assert_int_equal(f.calls, 2);
}

/* Unresolved while the name does not resolve, active once it does. */
static void test_fail_then_succeed(void **state)
{
	struct fake_host hosts[] = {
		HOST("late.example", ERR(EAI_AGAIN), ERR(EAI_AGAIN), OK("192.0.2.20")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };

	set_specs(&m, "late.example:53");
	step(&m, &f, 10);
	assert_int_equal(m.changed[0], BOTH);	/* the port is set even without an address */
	assert_int_equal(m.dest[0].flags, 0);
	assert_int_equal(m.dest[0].addr4, 0);
	assert_int_equal(m.dest[0].port, htons(53));
	assert_int_equal(m.info[0].state, UDPC_STATE_UNRESOLVED);
	assert_int_equal(m.info[0].last_error, EAI_AGAIN);
	assert_int_equal(m.info[0].last_resolved, 0);
	assert_int_equal(m.info[0].last_changed, 0);
	assert_string_equal(m.info[0].host, "late.example");

	step(&m, &f, 20);	/* same failure: nothing to write */
	assert_int_equal(m.changed[0], 0);

	step(&m, &f, 30);
	assert_int_equal(m.changed[0], BOTH);
	assert_int_equal(m.dest[0].flags, UDPC_DEST_V4);
	assert_v4(&m.dest[0], "192.0.2.20");
	assert_int_equal(m.info[0].state, UDPC_STATE_ACTIVE);
	assert_int_equal(m.info[0].last_error, 0);
	assert_int_equal(m.info[0].last_resolved, 30);
	assert_int_equal(m.info[0].last_changed, 30);
}

/* One name moves: only its slot's dest is reported, the others only refresh info. */
static void test_address_change_one_slot(void **state)
{
	struct fake_host hosts[] = {
		HOST("a.example", OK("192.0.2.1")),
		HOST("b.example", OK("192.0.2.2"), OK("198.51.100.2")),
		HOST("c.example", OK("2001:db8::3")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };

	set_specs(&m, "a.example:1,b.example:2,c.example:3");
	step(&m, &f, 1000);
	assert_int_equal(m.changed[0], BOTH);
	assert_int_equal(m.changed[1], BOTH);
	assert_int_equal(m.changed[2], BOTH);
	assert_int_equal(m.changed[3], 0);
	assert_v4(&m.dest[1], "192.0.2.2");

	step(&m, &f, 1060);
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_int_equal(m.changed[1], BOTH);
	assert_int_equal(m.changed[2], UDPC_RC_INFO_CHANGED);
	assert_int_equal(m.changed[3], 0);
	assert_v4(&m.dest[0], "192.0.2.1");
	assert_v4(&m.dest[1], "198.51.100.2");
	assert_int_equal(m.dest[1].port, htons(2));
	assert_v6(&m.dest[2], "2001:db8::3");
	assert_int_equal(m.info[0].last_changed, 1000);
	assert_int_equal(m.info[1].last_changed, 1060);
	assert_int_equal(m.info[1].last_resolved, 1060);
	assert_int_equal(m.info[2].last_changed, 1000);
}

/* Round-robin A records: the address in use is kept while it is still offered. */
static void test_rotating_records(void **state)
{
	struct fake_host hosts[] = {
		HOST("rr.example", OK("192.0.2.1", "192.0.2.2", "192.0.2.3"),
		     OK("192.0.2.2", "192.0.2.3", "192.0.2.1"),
		     OK("192.0.2.3", "192.0.2.1", "192.0.2.2"),
		     OK("192.0.2.3", "192.0.2.2")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };

	set_specs(&m, "rr.example:9000");
	step(&m, &f, 1);
	assert_v4(&m.dest[0], "192.0.2.1");
	step(&m, &f, 2);
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_v4(&m.dest[0], "192.0.2.1");
	step(&m, &f, 3);
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_v4(&m.dest[0], "192.0.2.1");
	assert_int_equal(m.info[0].last_changed, 1);

	/* .1 withdrawn: move to the first one offered */
	step(&m, &f, 4);
	assert_int_equal(m.changed[0], BOTH);
	assert_v4(&m.dest[0], "192.0.2.3");
	assert_int_equal(m.info[0].last_changed, 4);

	step(&m, &f, 5);
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_v4(&m.dest[0], "192.0.2.3");
}

/* A resolver outage after success keeps the last good address, marked stale. */
static void test_failure_after_success(void **state)
{
	struct fake_host hosts[] = {
		HOST("a.example", OK("192.0.2.1", "2001:db8::1"),
		     ERR(EAI_FAIL),
		     ERR(EAI_AGAIN),
		     ERR(EAI_AGAIN),
		     OK("2001:db8::1", "192.0.2.1")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };
	struct udpc_dest good;

	set_specs(&m, "a.example:9000");
	step(&m, &f, 100);
	good = m.dest[0];
	assert_int_equal(good.flags, UDPC_DEST_V4 | UDPC_DEST_V6);

	step(&m, &f, 200);	/* SERVFAIL */
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_memory_equal(&m.dest[0], &good, sizeof(good));
	assert_int_equal(m.info[0].state, UDPC_STATE_STALE);
	assert_int_equal(m.info[0].last_error, EAI_FAIL);
	assert_int_equal(m.info[0].last_resolved, 100);
	assert_int_equal(m.info[0].last_changed, 100);

	step(&m, &f, 300);	/* another error code: info only */
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_memory_equal(&m.dest[0], &good, sizeof(good));
	assert_int_equal(m.info[0].state, UDPC_STATE_STALE);
	assert_int_equal(m.info[0].last_error, EAI_AGAIN);

	step(&m, &f, 350);	/* same error again: nothing to write */
	assert_int_equal(m.changed[0], 0);

	step(&m, &f, 400);	/* back, same addresses: the data path never noticed */
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_memory_equal(&m.dest[0], &good, sizeof(good));
	assert_int_equal(m.info[0].state, UDPC_STATE_ACTIVE);
	assert_int_equal(m.info[0].last_error, 0);
	assert_int_equal(m.info[0].last_resolved, 400);
	assert_int_equal(m.info[0].last_changed, 100);
}

/* Zero addresses is a failure too; then back to active without a dest write. */
static void test_empty_answer_is_failure(void **state)
{
	struct udpc_dest_spec spec = { .host = "a.example", .port = 9000 };
	struct udpc_dest cur = { 0 }, next;
	struct udpc_dest_info info = { 0 }, next_info;
	struct udpc_resolved ok = { 0 }, empty = { 0 };
	int ret;

	ok.n4 = 1;
	ok.v4[0] = v4("192.0.2.1");
	ret = udpc_reconcile_slot(&spec, &cur, &info, &ok, 10, &next, &next_info);
	assert_int_equal(ret, BOTH);
	cur = next;
	info = next_info;

	ret = udpc_reconcile_slot(&spec, &cur, &info, &empty, 20, &next, &next_info);
	assert_int_equal(ret, UDPC_RC_INFO_CHANGED);
	assert_memory_equal(&next, &cur, sizeof(cur));
	assert_int_equal(next_info.state, UDPC_STATE_STALE);
	assert_int_equal(next_info.last_error, EAI_NODATA);
	assert_int_equal(next_info.last_resolved, 10);
	info = next_info;

	ret = udpc_reconcile_slot(&spec, &cur, &info, &ok, 30, &next, &next_info);
	assert_int_equal(ret, UDPC_RC_INFO_CHANGED);
	assert_int_equal(next_info.state, UDPC_STATE_ACTIVE);
	assert_int_equal(next_info.last_error, 0);
	assert_int_equal(next_info.last_resolved, 30);
	assert_int_equal(next_info.last_changed, 10);

	/* never resolved and an empty answer: unresolved, not stale */
	memset(&cur, 0, sizeof(cur));
	memset(&info, 0, sizeof(info));
	ret = udpc_reconcile_slot(&spec, &cur, &info, &empty, 40, &next, &next_info);
	assert_int_equal(ret, BOTH);
	assert_int_equal(next.flags, 0);
	assert_int_equal(next_info.state, UDPC_STATE_UNRESOLVED);
	assert_int_equal(next_info.last_error, EAI_NODATA);
}

static void test_v6_only(void **state)
{
	struct fake_host hosts[] = {
		HOST("six.example", OK("2001:db8::10", "2001:db8::11"),
		     OK("2001:db8::11", "2001:db8::10"),
		     OK("2001:db8::12")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };

	set_specs(&m, "six.example:5000");
	step(&m, &f, 1);
	assert_int_equal(m.dest[0].flags, UDPC_DEST_V6);
	assert_v6(&m.dest[0], "2001:db8::10");
	assert_no_v4(&m.dest[0]);
	assert_int_equal(m.info[0].state, UDPC_STATE_ACTIVE);

	step(&m, &f, 2);	/* reordered: kept */
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_v6(&m.dest[0], "2001:db8::10");

	step(&m, &f, 3);
	assert_int_equal(m.changed[0], BOTH);
	assert_v6(&m.dest[0], "2001:db8::12");
	assert_no_v4(&m.dest[0]);
}

/* Each family is kept, replaced or dropped on its own. */
static void test_both_families(void **state)
{
	struct fake_host hosts[] = {
		HOST("dual.example", OK("2001:db8::1", "192.0.2.1"),
		     OK("192.0.2.1"),			/* v6 gone */
		     OK("192.0.2.2", "192.0.2.1", "2001:db8::2"), /* v6 back, v4 kept */
		     OK("2001:db8::2"),			/* v4 gone */
		     OK("198.51.100.1", "2001:db8::3", "2001:db8::2")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };

	set_specs(&m, "dual.example:9");
	step(&m, &f, 1);
	assert_int_equal(m.dest[0].flags, UDPC_DEST_V4 | UDPC_DEST_V6);
	assert_v4(&m.dest[0], "192.0.2.1");
	assert_v6(&m.dest[0], "2001:db8::1");

	step(&m, &f, 2);
	assert_int_equal(m.changed[0], BOTH);
	assert_int_equal(m.dest[0].flags, UDPC_DEST_V4);
	assert_v4(&m.dest[0], "192.0.2.1");
	assert_no_v6(&m.dest[0]);
	assert_int_equal(m.info[0].last_changed, 2);

	step(&m, &f, 3);
	assert_int_equal(m.changed[0], BOTH);
	assert_int_equal(m.dest[0].flags, UDPC_DEST_V4 | UDPC_DEST_V6);
	assert_v4(&m.dest[0], "192.0.2.1");
	assert_v6(&m.dest[0], "2001:db8::2");

	step(&m, &f, 4);
	assert_int_equal(m.changed[0], BOTH);
	assert_int_equal(m.dest[0].flags, UDPC_DEST_V6);
	assert_no_v4(&m.dest[0]);
	assert_v6(&m.dest[0], "2001:db8::2");

	step(&m, &f, 5);
	assert_int_equal(m.changed[0], BOTH);
	assert_int_equal(m.dest[0].flags, UDPC_DEST_V4 | UDPC_DEST_V6);
	assert_v4(&m.dest[0], "198.51.100.1");
	assert_v6(&m.dest[0], "2001:db8::2");
	assert_int_equal(m.info[0].last_changed, 5);
}

/* Pinned state adopted by a daemon started with another list: no address carries over. */
static void test_slot_reuse(void **state)
{
	struct fake_host hosts[] = {
		HOST("old.example", OK("192.0.2.1")),
		HOST("keep.example", OK("192.0.2.2")),
		HOST("new.example", ERR(EAI_NONAME), OK("192.0.2.1")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };

	set_specs(&m, "old.example:9000,keep.example:9000,keep.example:7000");
	step(&m, &f, 100);
	assert_int_equal(m.info[0].state, UDPC_STATE_ACTIVE);
	assert_int_equal(m.info[2].state, UDPC_STATE_ACTIVE);

	/* slot 0: other host; slot 1: same host, other case; slot 2: same host, other port */
	set_specs(&m, "new.example:9000,KEEP.example.:9000,keep.example:7001");
	step(&m, &f, 200);
	assert_int_equal(m.changed[0], BOTH);
	assert_int_equal(m.dest[0].flags, 0);
	assert_no_v4(&m.dest[0]);
	assert_int_equal(m.info[0].state, UDPC_STATE_UNRESOLVED);
	assert_int_equal(m.info[0].last_error, EAI_NONAME);
	assert_int_equal(m.info[0].last_resolved, 0);
	assert_int_equal(m.info[0].last_changed, 0);
	assert_string_equal(m.info[0].host, "new.example");

	assert_int_equal(m.changed[1], UDPC_RC_INFO_CHANGED);	/* same destination */
	assert_v4(&m.dest[1], "192.0.2.2");
	assert_string_equal(m.info[1].host, "KEEP.example.");
	assert_int_equal(m.info[1].last_changed, 100);

	assert_int_equal(m.changed[2], BOTH);
	assert_int_equal(m.dest[2].port, htons(7001));
	assert_v4(&m.dest[2], "192.0.2.2");
	assert_int_equal(m.info[2].last_changed, 200);	/* a new destination */

	/* new.example resolves to the address old.example had: a fresh start all the same */
	step(&m, &f, 300);
	assert_int_equal(m.changed[0], BOTH);
	assert_v4(&m.dest[0], "192.0.2.1");
	assert_int_equal(m.info[0].last_changed, 300);
	assert_int_equal(m.info[0].state, UDPC_STATE_ACTIVE);
}

/* A shorter list clears the slots it no longer uses, and only those are reported. */
static void test_slots_beyond_n(void **state)
{
	struct fake_host hosts[] = {
		HOST("a", OK("192.0.2.1")),
		HOST("b", OK("192.0.2.2")),
		HOST("c", OK("192.0.2.3")),
		HOST("d", OK("192.0.2.4")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };
	int i;

	set_specs(&m, "a:1,b:2,c:3,d:4");
	step(&m, &f, 1);
	set_specs(&m, "a:1,b:2");
	step(&m, &f, 2);
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_int_equal(m.changed[1], UDPC_RC_INFO_CHANGED);
	assert_int_equal(m.changed[2], BOTH);
	assert_int_equal(m.changed[3], BOTH);
	for (i = 4; i < UDPC_MAX_DESTS; i++)
		assert_int_equal(m.changed[i], 0);
	assert_unused(&m, 2);
	assert_int_equal(hosts[2].calls, 1);	/* dropped names are not looked up */

	/* no destinations at all */
	m.n = 0;
	step(&m, &f, 3);
	assert_int_equal(m.changed[0], BOTH);
	assert_int_equal(m.changed[1], BOTH);
	assert_unused(&m, 0);
	step(&m, &f, 4);
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		assert_int_equal(m.changed[i], 0);
}

/* "h:1,h:2" resolves h once per pass; both slots see the same answer. */
static void test_one_lookup_per_host(void **state)
{
	struct fake_host hosts[] = {
		HOST("h.example", OK("192.0.2.1"), OK("192.0.2.9")),
		HOST("192.0.2.50", OK("192.0.2.50")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };

	set_specs(&m, "h.example:1,192.0.2.50:5,H.EXAMPLE.:2");
	step(&m, &f, 1);
	assert_int_equal(f.calls, 2);
	assert_v4(&m.dest[0], "192.0.2.1");
	assert_v4(&m.dest[1], "192.0.2.50");
	assert_v4(&m.dest[2], "192.0.2.1");
	step(&m, &f, 2);
	assert_int_equal(f.calls, 4);
	assert_v4(&m.dest[0], "192.0.2.9");
	assert_v4(&m.dest[2], "192.0.2.9");
	assert_int_equal(m.dest[2].port, htons(2));
}

/* A resolver that could not even ask counts as a failure, never as "no change". */
static void test_resolver_error_return(void **state)
{
	struct fake_host hosts[] = {
		HOST("a.example", OK("192.0.2.1")),
	};
	struct fake f = { .hosts = hosts, .n = ARRAY_SIZE(hosts) };
	struct maps m = { 0 };

	set_specs(&m, "a.example:1");
	f.ret = -ENOMEM;
	step(&m, &f, 1);
	assert_int_equal(m.dest[0].flags, 0);
	assert_int_equal(m.info[0].state, UDPC_STATE_UNRESOLVED);
	assert_int_equal(m.info[0].last_error, EAI_SYSTEM);
	f.ret = 0;
	step(&m, &f, 2);
	assert_int_equal(m.info[0].state, UDPC_STATE_ACTIVE);
	f.ret = -EIO;
	step(&m, &f, 3);
	assert_int_equal(m.changed[0], UDPC_RC_INFO_CHANGED);
	assert_int_equal(m.info[0].state, UDPC_STATE_STALE);
	assert_v4(&m.dest[0], "192.0.2.1");
}

/* Exactness of the bitmask: padding and unknown flags in the map count as differences. */
static void test_slot_exact_compare(void **state)
{
	struct udpc_dest_spec spec = { .host = "a.example", .port = 9000 };
	struct udpc_dest cur, next;
	struct udpc_dest_info info, next_info;
	struct udpc_resolved res = { 0 };
	int ret;

	res.n4 = 1;
	res.v4[0] = v4("192.0.2.1");
	memset(&cur, 0, sizeof(cur));
	memset(&info, 0, sizeof(info));
	udpc_reconcile_slot(&spec, &cur, &info, &res, 5, &cur, &info);	/* next aliases cur */
	assert_v4(&cur, "192.0.2.1");
	assert_int_equal(info.state, UDPC_STATE_ACTIVE);

	ret = udpc_reconcile_slot(&spec, &cur, &info, &res, 5, &next, &next_info);
	assert_int_equal(ret, 0);	/* same time, same answer: truly nothing */

	cur._pad0 = 0xdead;
	ret = udpc_reconcile_slot(&spec, &cur, &info, &res, 5, &next, &next_info);
	assert_int_equal(ret, UDPC_RC_DEST_CHANGED);
	assert_int_equal(next._pad0, 0);
	cur._pad0 = 0;

	cur.flags |= 0x80;
	ret = udpc_reconcile_slot(&spec, &cur, &info, &res, 5, &next, &next_info);
	assert_int_equal(ret, UDPC_RC_DEST_CHANGED);
	assert_int_equal(next.flags, UDPC_DEST_V4);

	/* an address under a cleared flag is not "the current address" */
	cur.flags = 0;
	ret = udpc_reconcile_slot(&spec, &cur, &info, &res, 6, &next, &next_info);
	assert_int_equal(ret, UDPC_RC_DEST_CHANGED | UDPC_RC_INFO_CHANGED);
	assert_int_equal(next_info.last_changed, 6);
	cur.flags = UDPC_DEST_V4;

	/* the uplink and table are the info's: a new uplink leaves the map value alone */
	strcpy(spec.uplink, "wwan0");
	spec.table = 100;
	ret = udpc_reconcile_slot(&spec, &cur, &info, &res, 5, &next, &next_info);
	assert_int_equal(ret, UDPC_RC_INFO_CHANGED);
	assert_string_equal(next_info.uplink, "wwan0");
	assert_int_equal(next_info.table, 100);
	spec.uplink[0] = '\0';
	spec.table = 0;

	/* garbage after the host's NUL in the pinned info */
	info.host[sizeof(info.host) - 1] = 'x';
	ret = udpc_reconcile_slot(&spec, &cur, &info, &res, 5, &next, &next_info);
	assert_int_equal(ret, UDPC_RC_INFO_CHANGED);
	assert_int_equal(next_info.host[sizeof(next_info.host) - 1], '\0');
	assert_v4(&next, "192.0.2.1");
}

/* More than UDPC_RESOLVE_MAX claimed, or negative counts: no overrun, no address invented. */
static void test_counts_clamped(void **state)
{
	struct udpc_dest_spec spec = { .host = "a.example", .port = 9000 };
	struct udpc_dest cur = { 0 }, next;
	struct udpc_dest_info info = { 0 }, next_info;
	struct udpc_resolved res = { 0 };

	res.n4 = 1000;
	res.n6 = -3;
	res.v4[0] = v4("192.0.2.1");
	udpc_reconcile_slot(&spec, &cur, &info, &res, 1, &next, &next_info);
	assert_int_equal(next.flags, UDPC_DEST_V4);
	assert_v4(&next, "192.0.2.1");
	assert_no_v6(&next);

	assert_int_equal(udpc_reconcile_all(&spec, UDPC_MAX_DESTS + 1, NULL, NULL, NULL, 0, NULL,
					    NULL, NULL), -EINVAL);
	assert_int_equal(udpc_reconcile_all(&spec, -1, NULL, NULL, NULL, 0, NULL, NULL, NULL),
			 -EINVAL);
}

/* The two questions about a slot: same HOST:PORT (its addresses carry over), and the
 * same destination, by the same uplink or table (its counters carry over too). */
static void test_slot_is_dest(void **state)
{
	struct udpc_dest cur = { .port = htons(9000) };
	struct udpc_dest_info info = { .state = UDPC_STATE_ACTIVE };
	struct maps m = { 0 };

	strcpy(info.host, "Vpn.Example.");
	set_specs(&m, "vpn.example:9000@wwan0,vpn.example:9000@table=7,vpn.example:9001");
	strcpy(info.uplink, "wwan0");
	assert_true(udpc_slot_has_hostport(&m.specs[0], &cur, &info));
	assert_true(udpc_slot_is_dest(&m.specs[0], &cur, &info));
	/* another uplink or a table: the same address, another destination */
	assert_true(udpc_slot_has_hostport(&m.specs[1], &cur, &info));
	assert_false(udpc_slot_is_dest(&m.specs[1], &cur, &info));
	info.uplink[0] = '\0';
	info.table = 7;
	assert_true(udpc_slot_is_dest(&m.specs[1], &cur, &info));
	assert_false(udpc_slot_is_dest(&m.specs[0], &cur, &info));
	/* another port */
	assert_false(udpc_slot_has_hostport(&m.specs[2], &cur, &info));
	/* an unused slot holds nothing, whatever is left in it */
	info.state = UDPC_STATE_UNUSED;
	assert_false(udpc_slot_has_hostport(&m.specs[1], &cur, &info));
	assert_false(udpc_slot_is_dest(&m.specs[1], &cur, &info));
	/* a pinned host with no terminating NUL is compared within its bounds */
	info.state = UDPC_STATE_ACTIVE;
	memset(info.host, 'a', sizeof(info.host));
	assert_false(udpc_slot_is_dest(&m.specs[1], &cur, &info));
}

/* The list egress visits: per family, the slots with an address of it, in slot order. */
static void test_active_of(void **state)
{
	struct udpc_dest d[UDPC_MAX_DESTS];
	struct udpc_active a;

	(void)state;
	memset(d, 0, sizeof(d));
	memset(&a, 0xee, sizeof(a));
	udpc_active_of(d, &a);
	assert_int_equal(a.n[UDPC_ACTIVE_V4], 0);
	assert_int_equal(a.n[UDPC_ACTIVE_V6], 0);
	assert_int_equal(a.slot[UDPC_ACTIVE_V4][0], 0); /* zeroed, padding and all */

	d[0].flags = UDPC_DEST_V4;
	d[2].flags = UDPC_DEST_V6;
	d[5].flags = UDPC_DEST_V4 | UDPC_DEST_V6;
	d[7].port = htons(9000); /* a port but no address: unresolved, not active */
	d[UDPC_MAX_DESTS - 1].flags = UDPC_DEST_V4;
	udpc_active_of(d, &a);
	assert_int_equal(a.n[UDPC_ACTIVE_V4], 3);
	assert_int_equal(a.slot[UDPC_ACTIVE_V4][0], 0);
	assert_int_equal(a.slot[UDPC_ACTIVE_V4][1], 5);
	assert_int_equal(a.slot[UDPC_ACTIVE_V4][2], UDPC_MAX_DESTS - 1);
	assert_int_equal(a.slot[UDPC_ACTIVE_V4][3], 0);
	assert_int_equal(a.n[UDPC_ACTIVE_V6], 2);
	assert_int_equal(a.slot[UDPC_ACTIVE_V6][0], 2);
	assert_int_equal(a.slot[UDPC_ACTIVE_V6][1], 5);

	for (int i = 0; i < UDPC_MAX_DESTS; i++)
		d[i].flags = UDPC_DEST_V4 | UDPC_DEST_V6;
	udpc_active_of(d, &a);
	assert_int_equal(a.n[UDPC_ACTIVE_V4], UDPC_MAX_DESTS);
	assert_int_equal(a.n[UDPC_ACTIVE_V6], UDPC_MAX_DESTS);
	assert_int_equal(a.slot[UDPC_ACTIVE_V6][UDPC_MAX_DESTS - 1], UDPC_MAX_DESTS - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolution_succeeds),
		cmocka_unit_test(test_fail_then_succeed),
		cmocka_unit_test(test_address_change_one_slot),
		cmocka_unit_test(test_rotating_records),
		cmocka_unit_test(test_failure_after_success),
		cmocka_unit_test(test_empty_answer_is_failure),
		cmocka_unit_test(test_v6_only),
		cmocka_unit_test(test_both_families),
		cmocka_unit_test(test_slot_reuse),
		cmocka_unit_test(test_slots_beyond_n),
		cmocka_unit_test(test_one_lookup_per_host),
		cmocka_unit_test(test_resolver_error_return),
		cmocka_unit_test(test_slot_exact_compare),
		cmocka_unit_test(test_counts_clamped),
		cmocka_unit_test(test_active_of),
		cmocka_unit_test(test_slot_is_dest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
