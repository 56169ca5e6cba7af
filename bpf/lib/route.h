/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* The next hop of a copy: bpf_fib_lookup() or what user space found. */
#ifndef UDPC_BPF_LIB_ROUTE_H
#define UDPC_BPF_LIB_ROUTE_H

#include "maps.h"
#include "parse.h"

enum route_result {
	ROUTE_OK,		/* L2 header set for the next hop */
	ROUTE_KEEP_L2,		/* next hop unknown: send with the original's L2 header */
	ROUTE_DROP,		/* no route (or too big for the route): the copy is dropped */
};

/* Destination and source MAC, contiguous at the start of the frame: one store. */
static __always_inline int set_l2(struct __sk_buff *skb, const __u8 *dmac, const __u8 *smac)
{
	__u8 l2[2 * ETH_ALEN];

	__builtin_memcpy(l2, dmac, ETH_ALEN);
	__builtin_memcpy(l2 + ETH_ALEN, smac, ETH_ALEN);
	return bpf_skb_store_bytes(skb, 0, l2, sizeof(l2), 0) ? ROUTE_DROP : ROUTE_OK;
}

/* Is the udpc_nexthops entry nh (maybe NULL) still about dst, for p's family? */
static __always_inline int nh_for(const struct udpc_nexthop *nh, const struct pkt *p,
				  const struct udpc_addr *dst)
{
	if (!nh)
		return 0;
	return p->family == UDPC_AF_INET ? nh->addr4 == dst->w[0] : addr_eq(&nh->addr6, dst);
}

/* The next hop user space found for a destination (nh, its udpc_nexthops entry),
 * if the entry is still about `dst`; counted when it has none. */
static __always_inline enum route_result route_by_user(struct __sk_buff *skb, const struct pkt *p,
						       const struct udpc_nexthop *nh,
						       const struct udpc_addr *dst,
						       struct udpc_dest_stats *st)
{
	int v4 = p->family == UDPC_AF_INET;
	enum route_result r = ROUTE_KEEP_L2;

	if (nh_for(nh, p, dst)) {
		if (nh->flags & (v4 ? UDPC_NH_V4_NOROUTE : UDPC_NH_V6_NOROUTE))
			r = ROUTE_DROP;
		else if (nh->flags & (v4 ? UDPC_NH_V4 : UDPC_NH_V6))
			r = set_l2(skb, v4 ? nh->dmac4 : nh->dmac6, nh->smac);
	}
	if (r == ROUTE_KEEP_L2)
		st->neigh_missing++;
	else if (r == ROUTE_DROP)
		st->fib_errors++;
	return r;
}

/* Has user space found that forwarding is off where dst's copies leave, so that
 * bpf_fib_lookup() would only refuse? Then its entry is all there is to know. */
static __always_inline int fib_refuses(const struct udpc_nexthop *nh, const struct pkt *p,
				       const struct udpc_addr *dst)
{
	return nh_for(nh, p, dst) &&
	       (nh->flags & (p->family == UDPC_AF_INET ? UDPC_NH_V4_NOFWD : UDPC_NH_V6_NOFWD));
}

/*
 * Find the copy's next hop as the stack would route it, and write its MAC into the
 * copy. bpf_fib_lookup() first: it follows route and neighbour changes at once, but
 * answers only where forwarding is enabled; elsewhere (a host, not a router) the
 * next hop comes from udpc_nexthops, which user space keeps from the same tables
 * and which says where forwarding is off, so that the lookup is not even tried.
 */
static __always_inline enum route_result route_copy(struct __sk_buff *skb, const struct pkt *p,
						    __u32 l2_len, __u32 slot,
						    const struct udpc_addr *src,
						    const struct udpc_addr *dst, __be16 dport,
						    __u32 table, __u32 *ifindex,
						    struct udpc_dest_stats *st)
{
	struct udpc_nexthop *nh = bpf_map_lookup_elem(&udpc_nexthops, &slot);
	struct bpf_fib_lookup fib = {};
	__u32 flags = BPF_FIB_LOOKUP_OUTPUT;
	long rc;

	if (l2_len && fib_refuses(nh, p, dst))
		return route_by_user(skb, p, nh, dst, st);

	fib.family = p->family;
	fib.l4_protocol = IPPROTO_UDP;
	fib.sport = p->sport;
	fib.dport = dport;
	/* GSO packets are segmented later: their length says nothing about the MTU. */
	fib.tot_len = skb->gso_size ? 0 : p->ip_len;
	fib.ifindex = *ifindex;
	if (p->family == UDPC_AF_INET) {
		fib.ipv4_src = src->w[0];
		fib.ipv4_dst = dst->w[0];
	} else {
		__builtin_memcpy(fib.ipv6_src, src->w, sizeof(fib.ipv6_src));
		__builtin_memcpy(fib.ipv6_dst, dst->w, sizeof(fib.ipv6_dst));
	}

	if (table) {
		/* HOST:PORT@table=N: that table, not the rules' choice. */
		flags |= BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID;
		fib.tbid = table;
	}
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), flags);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		*ifindex = fib.ifindex;
		return l2_len ? set_l2(skb, fib.dmac, fib.smac) : ROUTE_OK;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		st->fib_errors++;
		return ROUTE_DROP;
	default:
		/* FWD_DISABLED on hosts; NO_NEIGH until user space has it resolved. */
		if (!l2_len)
			return ROUTE_OK;
		return route_by_user(skb, p, nh, dst, st);
	}
}

#endif /* UDPC_BPF_LIB_ROUTE_H */
