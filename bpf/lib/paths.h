/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Peer mode, server egress: one copy of a reply for each live path of its session. */
#ifndef UDPC_BPF_LIB_PATHS_H
#define UDPC_BPF_LIB_PATHS_H

#include <linux/pkt_cls.h>

#include "encap.h"
#include "family.h"
#include "fanout.h"
#include "rewrite.h"

/* What udpc_serve_egress hands to serve_copy_one() for each copy: plain data, as
 * for fanout_one(). */
struct path_fanout {
	struct pkt p;			/* the reply, with its peer header by now */
	struct udpc_peer_hdr h;		/* that header (path set per copy) */
	struct udpc_addr cur_saddr;	/* the packet's addresses now */
	struct udpc_addr cur_daddr;
	__be16 cur_dport;
	__u16 _pad;
	__u32 remaining;		/* copies still to make, this one included */
	__s32 verdict;
	__u8 paths[UDPC_MAX_DESTS];	/* the live path ids, in order */
};

/* The struct path_fanout of a reply, per CPU: see udpc_fanout_scratch. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_fanout);
} udpc_paths_scratch SEC(".maps");

/* The paths of s heard from within the path timeout, of either family. Fills
 * paths[] and returns how many. */
static __always_inline __u32 live_paths(const struct udpc_session *s, __u64 now, __u64 timeout_ns,
					__u8 *paths)
{
	__u32 i, n = 0;

	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		const struct udpc_peer_path *pp = &s->path[i];

		if ((pp->flags & UDPC_PATH_SEEN) &&
		    (__s64)(now - pp->last_rx_ns) < (__s64)timeout_ns && n < UDPC_MAX_DESTS)
			paths[n++] = i;
	}
	return n;
}

/*
 * The i-th live path: address the packet to where that path reaches the client,
 * from our address it used, fill in the path id and the outer checksum, and send
 * a clone, or let the packet itself go as the last copy. Returns 0 for the next
 * copy, 1 when f->verdict is final. A global function, as fanout_one().
 */
__noinline int serve_copy_one(struct __sk_buff *skb, struct path_fanout *f,
			      struct udpc_session *s, __u32 *guard, __u32 i)
{
	struct udpc_peer_path *pp;
	struct udpc_addr src, dst;
	__be16 dport;
	__u32 id;

	if (!f || !s || !guard || i >= UDPC_MAX_DESTS)
		return 1;
	id = f->paths[i];
	if (id >= UDPC_MAX_DESTS)
		return 1;
	f->remaining--;
	pp = &s->path[id];
	if (pp->family != f->p.family) {
		/* A path of the other family: the packet changes family (addresses
		 * zero until set below). Paths come in slot order, so a session with
		 * both kinds may change back and forth: rare, and each change exact. */
		struct udpc_addr none = {};
		__u32 mtu = 0;

		/* IPv6's header is 20 bytes longer: the copy must still fit (peer_out
		 * checked the reply's own family). */
		if (pp->family == UDPC_AF_INET6 &&
		    bpf_check_mtu(skb, 0, &mtu, sizeof(struct ipv6hdr) - sizeof(struct iphdr), 0)) {
			struct udpc_peer_stats *ps = peer_stats();

			if (ps)
				ps->tx_too_big++;
			if (f->remaining)
				return 0;
			f->verdict = TC_ACT_SHOT; /* nothing left to be the last copy */
			return 1;
		}
		if (set_family(skb, &f->p, pp->family, &none, &none)) {
			f->verdict = TC_ACT_SHOT;
			return 1;
		}
		f->cur_saddr = none;
		f->cur_daddr = none;
	}
	src = pp->local;
	dst = pp->addr;
	dport = pp->port;
	f->h.path = id;
	if (rewrite_addr(skb, &f->p, saddr_off(&f->p), &f->cur_saddr, &src) ||
	    rewrite_dst(skb, &f->p, &f->cur_daddr, &dst, f->cur_dport, dport) ||
	    peer_outer_csum(skb, &f->p, &src, &dst, f->p.sport, dport, &f->h)) {
		f->verdict = TC_ACT_SHOT; /* possibly half rewritten */
		return 1;
	}
	f->cur_saddr = src;
	f->cur_daddr = dst;
	f->cur_dport = dport;
	__sync_fetch_and_add(&pp->tx_packets, 1);
	if (!f->remaining) {
		f->verdict = TC_ACT_OK;
		return 1;
	}
	clone_out(skb, skb->ifindex, guard);
	return 0;
}

#endif /* UDPC_BPF_LIB_PATHS_H */
