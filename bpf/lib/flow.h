/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Client flows, remembered on the way out for the replies. */
#ifndef UDPC_BPF_LIB_FLOW_H
#define UDPC_BPF_LIB_FLOW_H

#include "maps.h"
#include "parse.h"

/* A flow's last_seen_ns is rewritten at most this often: every packet would bounce
 * its cache line between CPUs, and idle timeouts are counted in seconds. */
#define FLOW_REFRESH_NS 100000000ULL

/* The flow that replies to (addr, port) of family belong to, or NULL. The key is
 * zeroed whole: its padding is hashed too. */
static __always_inline struct udpc_flow *flow_lookup(const struct udpc_addr *addr, __be16 port,
						     __u8 family)
{
	struct udpc_flow_key key = {};

	key.addr = *addr;
	key.port = port;
	key.family = family;
	return bpf_map_lookup_elem(&udpc_flows, &key);
}

/*
 * Remember that replies to (addr, port) of key_family belong to the client of
 * flow (its address, and where it sent to: of flow->family, which in peer mode
 * may be the other), in peer session `session` (0: not in peer mode). Refreshed
 * in place on every packet, rewritten only on change.
 */
static __always_inline void remember_flow(const struct pkt *flow, const struct udpc_addr *addr,
					  __u8 key_family, __u64 now, __u64 session)
{
	struct udpc_flow_key key = { .addr = *addr, .port = flow->sport, .family = key_family };
	struct udpc_flow *f = bpf_map_lookup_elem(&udpc_flows, &key);
	__u8 family = key_family == flow->family ? 0 : flow->family;
	struct udpc_global_stats *gs;

	if (f && f->orig_dport == flow->dport && addr_eq(&f->orig_daddr, &flow->daddr) &&
	    addr_eq(&f->client, &flow->saddr) && f->session == session && f->family == family) {
		if ((__s64)(now - f->last_seen_ns) > (__s64)FLOW_REFRESH_NS)
			f->last_seen_ns = now;
	} else {
		struct udpc_flow nf = { .orig_daddr = flow->daddr, .client = flow->saddr,
					.orig_dport = flow->dport, .family = family,
					.last_seen_ns = now, .session = session };
		long err = bpf_map_update_elem(&udpc_flows, &key, &nf, BPF_ANY);

		gs = global_stats();
		if (!gs)
			return;
		if (err)
			gs->flow_errors++;
		else if (!f)
			gs->flow_new++;
	}
}

#endif /* UDPC_BPF_LIB_FLOW_H */
