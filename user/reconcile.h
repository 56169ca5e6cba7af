/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Reconcile: from the destinations as given, what the maps hold now and a fresh
 * resolution, compute what the maps should hold. Pure computation (the resolver
 * is passed in) so that dynamic DNS behaviour is unit-tested without a network.
 */
#ifndef UDPC_RECONCILE_H
#define UDPC_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include "udpclone.h"
#include "spec.h"

#define UDPC_RESOLVE_MAX 8	/* addresses kept per family from one resolution */

struct udpc_resolved {
	int error;		/* 0 on success, else a getaddrinfo() EAI_* code (non-zero) */
	int n4, n6;		/* number of addresses of each family found */
	uint32_t v4[UDPC_RESOLVE_MAX];		/* network byte order */
	struct udpc_addr v6[UDPC_RESOLVE_MAX];
};

/*
 * Fills *out (already zeroed by the caller) and returns 0, with a failed lookup
 * reported in out->error. A negative return (-errno: could not even ask) counts
 * as a failed resolution.
 */
typedef int (*udpc_resolver_fn)(const char *host, struct udpc_resolved *out, void *ctx);

#define UDPC_RC_DEST_CHANGED 1	/* the udpc_dests value differs: write it */
#define UDPC_RC_INFO_CHANGED 2	/* the udpc_dest_info value differs: write it */

/*
 * One slot. Returns a UDPC_RC_* bitmask that is exact (memcmp of the full,
 * zero-padded values), so the map is written only when the value truly changed.
 */
int udpc_reconcile_slot(const struct udpc_dest_spec *spec,
			const struct udpc_dest *cur, const struct udpc_dest_info *cur_info,
			const struct udpc_resolved *res, uint64_t now_unix,
			struct udpc_dest *next, struct udpc_dest_info *next_info);

/*
 * One round of lookups for specs[0..n), into res[0..n): once per distinct host
 * ("h:1,H.:2" is one name), so that two ports of one name never see two different
 * answers. The daemon runs it holding no lock: a lookup may wait for DNS timeouts.
 * A resolver that could not even ask (negative return) counts as a failed lookup.
 */
void udpc_resolve_all(const struct udpc_dest_spec *specs, int n, udpc_resolver_fn resolver,
		      void *ctx, struct udpc_resolved *res);

/*
 * All UDPC_MAX_DESTS slots: specs[0..n) are reconciled with their answers
 * res[0..n) (from udpc_resolve_all()), slots >= n become unused (zero dest, zero
 * info, state UDPC_STATE_UNUSED). changed[i] gets the bitmask for slot i.
 * Returns 0, or -EINVAL if n is out of 0..UDPC_MAX_DESTS.
 */
int udpc_reconcile_all(const struct udpc_dest_spec *specs, int n,
		       const struct udpc_dest *cur, const struct udpc_dest_info *cur_info,
		       const struct udpc_resolved *res, uint64_t now_unix,
		       struct udpc_dest *next, struct udpc_dest_info *next_info, int *changed);

/* Does the slot (cur, cur_info) hold spec's HOST:PORT? Then its addresses are
 * spec's too, whatever the uplink: a name keeps its address across a restart. */
bool udpc_slot_has_hostport(const struct udpc_dest_spec *spec, const struct udpc_dest *cur,
			    const struct udpc_dest_info *cur_info);
/* ... by the same uplink or table: the same destination, whose counters and next hop
 * carry over; otherwise the slot is being reused for another one. */
bool udpc_slot_is_dest(const struct udpc_dest_spec *spec, const struct udpc_dest *cur,
		       const struct udpc_dest_info *cur_info);

/* udpc_active as it follows from the destinations (dests[0..UDPC_MAX_DESTS)): per
 * family, the slots with an address of that family, in slot order. */
void udpc_active_of(const struct udpc_dest *dests, struct udpc_active *out);

#endif
