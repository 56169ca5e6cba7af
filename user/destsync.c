// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The daemon's DNS rounds: resolve every destination (udpc_resolve_all(), once
 * per name), reconcile the answers with the maps (reconcile.c decides), write
 * what changed, keep the previous address of a destination that moved, and log
 * the transitions that matter.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "fmt.h"
#include "log.h"
#include "sys.h"

/* The slow part, done holding no lock: a lookup may wait for DNS timeouts. */
void resolve_all(const struct udpc_attach_opts *o, struct answers *a)
{
	udpc_resolve_all(o->dests, o->n_dests, o->resolver, o->resolver_ctx, a->res);
}

/* One line per event that matters; repeated failures stay at debug level. */
static void log_transition(const struct daemon *dm, const struct udpc_dest_spec *s,
			   const struct udpc_dest *cur, const struct udpc_dest_info *ci,
			   const struct udpc_dest *next, const struct udpc_dest_info *ni)
{
	char was[128], now[128], name[UDPC_DEST_STR_MAX];

	udpc_fmt_dest(s->host, s->port, NULL, 0, name, sizeof(name));
	udpc_dest_addrs(cur, " and ", "no address", was, sizeof(was));
	udpc_dest_addrs(next, " and ", "no address", now, sizeof(now));

	switch (ni->state) {
	case UDPC_STATE_ACTIVE:
		if (ci->state != UDPC_STATE_ACTIVE && ci->state != UDPC_STATE_STALE)
			pr_info("destination %s: active, sending to %s\n", name, now);
		else if (strcmp(was, now))
			pr_info("destination %s: address changed from %s to %s\n", name, was, now);
		else if (ci->state == UDPC_STATE_STALE)
			pr_info("destination %s: resolves again, still %s\n", name, now);
		break;
	case UDPC_STATE_STALE:
		if (ci->state != UDPC_STATE_STALE)
			pr_warn("destination %s: cannot resolve (%s); still sending to %s\n", name,
				gai_strerror(ni->last_error), now);
		else
			pr_debug("destination %s: still cannot resolve (%s)\n", name,
				 gai_strerror(ni->last_error));
		break;
	case UDPC_STATE_UNRESOLVED:
		if (ci->state != UDPC_STATE_UNRESOLVED || ci->last_error != ni->last_error)
			pr_warn("destination %s: cannot resolve (%s); it gets no copies until it does, retrying every %u s\n",
				name, gai_strerror(ni->last_error), dm->o->resolve_interval);
		else
			pr_debug("destination %s: still cannot resolve (%s)\n", name,
				 gai_strerror(ni->last_error));
		break;
	}
}

/* Does slot i hold another destination than spec (or none)? Then its counters and next
 * hop belong to something else: an adopted state from a run with another list. */
static bool slot_reused(const struct udpc_dest_spec *spec, const struct udpc_dest *cur,
			const struct udpc_dest_info *ci)
{
	return ci->state != UDPC_STATE_UNUSED && (!spec || !udpc_slot_is_dest(spec, cur, ci));
}

static void reset_slot(struct daemon *dm, __u32 i)
{
	int ncpu = libbpf_num_possible_cpus();
	struct udpc_nexthop nh = {};
	struct udpc_uplink up = {};
	struct udpc_prev prev = {};
	void *zero;

	zero = ncpu > 0 ? calloc(ncpu, sizeof(struct udpc_dest_stats)) : NULL;
	if (!zero || bpf_map_update_elem(dm->maps.dest_stats, &i, zero, BPF_ANY) ||
	    bpf_map_update_elem(dm->maps.nexthops, &i, &nh, BPF_ANY) ||
	    bpf_map_update_elem(dm->maps.uplinks, &i, &up, BPF_ANY) ||
	    bpf_map_update_elem(dm->maps.prev, &i, &prev, BPF_ANY))
		pr_warn("cannot reset the counters of destination slot %u\n", i);
	free(zero);
}

/* A destination's address changes: replies from the old one may be on their way.
 * Ingress keeps taking them for UDPC_PREV_GRACE_S seconds. */
static void remember_prev(struct daemon *dm, __u32 i, const struct udpc_dest *cur,
			  const struct udpc_dest *next, const struct udpc_dest_info *ci)
{
	struct udpc_prev prev = { .until_ns = udpc_mono_ns() + UDPC_PREV_GRACE_S * 1000000000ULL };

	if (ci->state == UDPC_STATE_UNUSED || (int)i >= dm->o->n_dests ||
	    slot_reused(&dm->o->dests[i], cur, ci))
		return;
	if ((cur->flags & UDPC_DEST_V4) && cur->addr4 != next->addr4) {
		prev.flags |= UDPC_DEST_V4;
		prev.addr4 = cur->addr4;
	}
	if ((cur->flags & UDPC_DEST_V6) && memcmp(&cur->addr6, &next->addr6, sizeof(cur->addr6))) {
		prev.flags |= UDPC_DEST_V6;
		prev.addr6 = cur->addr6;
	}
	if (prev.flags && bpf_map_update_elem(dm->maps.prev, &i, &prev, BPF_ANY))
		pr_warn("cannot remember the previous address of destination %u: %s\n", i,
			strerror(errno));
}

/* The list of active slots egress visits, from the destinations now in the map. */
static int write_active(struct daemon *dm, const struct udpc_dest *dests)
{
	struct udpc_active cur = {}, next;
	__u32 zero = 0;

	udpc_active_of(dests, &next);
	if (!bpf_map_lookup_elem(dm->maps.active, &zero, &cur) && !memcmp(&cur, &next, sizeof(cur)))
		return 0;
	if (bpf_map_update_elem(dm->maps.active, &zero, &next, BPF_ANY)) {
		int err = -errno;

		pr_warn("cannot update the list of active destinations: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

/* Apply a round of answers: write the slots that changed, and only those. */
int sync_dests(struct daemon *dm, const struct answers *a)
{
	struct udpc_dest cur[UDPC_MAX_DESTS] = {}, next[UDPC_MAX_DESTS] = {};
	struct udpc_dest_info ci[UDPC_MAX_DESTS] = {}, ni[UDPC_MAX_DESTS] = {};
	int changed[UDPC_MAX_DESTS] = {};
	__u32 i;
	int err;

	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		if (bpf_map_lookup_elem(dm->maps.dests, &i, &cur[i]) ||
		    bpf_map_lookup_elem(dm->maps.dest_info, &i, &ci[i]))
			return -errno;
	}
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		if (slot_reused((int)i < dm->o->n_dests ? &dm->o->dests[i] : NULL, &cur[i], &ci[i]))
			reset_slot(dm, i);
	udpc_reconcile_all(dm->o->dests, dm->o->n_dests, cur, ci, a->res, (uint64_t)time(NULL),
			   next, ni, changed);
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		if (!changed[i])
			continue;
		if (changed[i] & UDPC_RC_DEST_CHANGED)
			remember_prev(dm, i, &cur[i], &next[i], &ci[i]);
		/* The map value first: info describes what the data path uses. */
		if ((changed[i] & UDPC_RC_DEST_CHANGED) &&
		    bpf_map_update_elem(dm->maps.dests, &i, &next[i], BPF_ANY)) {
			err = -errno;
			pr_warn("cannot update destination %u: %s\n", i, strerror(-err));
			return err;
		}
		if ((changed[i] & UDPC_RC_INFO_CHANGED) &&
		    bpf_map_update_elem(dm->maps.dest_info, &i, &ni[i], BPF_ANY))
			return -errno;
		if ((int)i < dm->o->n_dests)
			log_transition(dm, &dm->o->dests[i], &cur[i], &ci[i], &next[i], &ni[i]);
	}
	memset(dm->states, 0, sizeof(dm->states));
	for (i = 0; i < (__u32)dm->o->n_dests; i++)
		if (ni[i].state <= UDPC_STATE_STALE)
			dm->states[ni[i].state]++;
	/* next[] is what the map holds now: every slot was written or left as it was. */
	return write_active(dm, next);
}
