/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Ingress: which destination a reply (or an ICMP error about a copy) comes from. */
#ifndef UDPC_BPF_LIB_REPLY_H
#define UDPC_BPF_LIB_REPLY_H

#include <linux/pkt_cls.h>

#include "addr.h"
#include "flow.h"
#include "maps.h"
#include "parse.h"

/* From linux/icmp.h and linux/icmpv6.h, which pull libc headers into a BPF build. */
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMPV6_DEST_UNREACH 1
#define ICMP_HDR_LEN 8 /* type, code, checksum, 4 bytes unused: both families */

/*
 * An ICMP or ICMPv6 "unreachable" error quoting a UDP packet: fill *inner with the
 * quoted packet's addresses and ports and return 1, else 0. "Fragmentation needed"
 * / "packet too big" is not one of them: path MTU discovery needs it.
 */
static __always_inline int parse_icmp_error(struct __sk_buff *skb, __u32 l2_len,
					    struct pkt *inner)
{
	struct {
		__u8 type, code;
	} icmp;
	__be16 ports[2];
	__u32 off;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, l2_len, &ip, sizeof(ip)) || ip.ihl != 5 ||
		    ip.protocol != IPPROTO_ICMP || (ip.frag_off & bpf_htons(IP_OFFSET | IP_MF)))
			return 0;
		off = l2_len + sizeof(ip);
		if (bpf_skb_load_bytes(skb, off, &icmp, sizeof(icmp)) ||
		    icmp.type != ICMP_DEST_UNREACH || icmp.code == ICMP_FRAG_NEEDED)
			return 0;
		off += ICMP_HDR_LEN;
		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) || ip.ihl != 5 ||
		    ip.protocol != IPPROTO_UDP)
			return 0;
		inner->family = UDPC_AF_INET;
		inner->saddr = (struct udpc_addr){ .w = { ip.saddr } };
		inner->daddr = (struct udpc_addr){ .w = { ip.daddr } };
		off += sizeof(ip);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, l2_len, &ip6, sizeof(ip6)) ||
		    ip6.nexthdr != IPPROTO_ICMPV6)
			return 0;
		off = l2_len + sizeof(ip6);
		if (bpf_skb_load_bytes(skb, off, &icmp, sizeof(icmp)) ||
		    icmp.type != ICMPV6_DEST_UNREACH)
			return 0;
		off += ICMP_HDR_LEN;
		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_UDP)
			return 0;
		inner->family = UDPC_AF_INET6;
		__builtin_memcpy(&inner->saddr, &ip6.saddr, sizeof(inner->saddr));
		__builtin_memcpy(&inner->daddr, &ip6.daddr, sizeof(inner->daddr));
		off += sizeof(ip6);
	} else {
		return 0;
	}
	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
		return 0;
	inner->sport = ports[0];
	inner->dport = ports[1];
	return 1;
}

/* Which destination a reply comes from: what reply_slot_at() is asked, and its
 * answer. Plain data, as for fanout_one(). */
struct reply_slot {
	struct udpc_addr saddr;	/* where the reply comes from */
	__u64 now;
	__be16 sport;
	__u8 family;
	__u8 _pad;
	__u32 ifindex;		/* the interface the reply came in by */
	__u32 attached;
	__u32 slot;		/* UDPC_MAX_DESTS: none */
};

/*
 * Is slot i the destination whose address and port the reply comes from? The same
 * HOST:PORT may be listed once per uplink: the reply belongs to the one whose
 * copies leave by the interface it came in by, so each uplink's counters tell of
 * that uplink. Returns 1 when r->slot is final. A global function, checked once by
 * the verifier: see fanout_one().
 */
__noinline int reply_slot_at(struct reply_slot *r, __u32 i)
{
	struct udpc_dest *d = bpf_map_lookup_elem(&udpc_dests, &i);
	struct udpc_uplink *up = bpf_map_lookup_elem(&udpc_uplinks, &i);
	const struct udpc_addr *a;
	struct udpc_addr buf;
	__u32 via;

	if (!r || !d || !up || d->port != r->sport)
		return 0;
	a = dest_addr(d, r->family, &buf);
	if (!a || !addr_eq(a, &r->saddr)) {
		/* Or its address before a change, for replies that were on their way. */
		struct udpc_prev *prev = bpf_map_lookup_elem(&udpc_prev, &i);

		if (!prev || (__s64)(prev->until_ns - r->now) <= 0)
			return 0;
		if (r->family == UDPC_AF_INET) {
			if (!(prev->flags & UDPC_DEST_V4) || prev->addr4 != r->saddr.w[0])
				return 0;
		} else if (!(prev->flags & UDPC_DEST_V6) || !addr_eq(&prev->addr6, &r->saddr)) {
			return 0;
		}
	}
	if (r->slot >= UDPC_MAX_DESTS)
		r->slot = i;
	via = up->flags & UDPC_UPLINK_VIA ? up->ifindex : r->attached;
	if (via != r->ifindex)
		return 0;
	r->slot = i;
	return 1;
}

/* The destination slot a packet from (p->saddr, p->sport) arriving by skb's
 * interface belongs to, or UDPC_MAX_DESTS. */
static __always_inline __u32 reply_slot_of(struct __sk_buff *skb, const struct udpc_config *cfg,
					   const struct pkt *p)
{
	struct reply_slot find = {
		.saddr = p->saddr,
		.now = bpf_ktime_get_ns(),
		.sport = p->sport,
		.family = p->family,
		.ifindex = skb->ifindex,
		.attached = cfg->ifindex,
		.slot = UDPC_MAX_DESTS,
	};
	__u32 i;

	for (i = 0; i < UDPC_MAX_DESTS; i++)
		if (reply_slot_at(&find, i))
			break;
	return find.slot;
}

/*
 * An "unreachable" error about one of our copies must not reach the client: its
 * connected socket would report ECONNREFUSED and fail its next send, for every
 * destination, because one of them is down. It is counted and dropped.
 */
static __always_inline int icmp_about_copy(struct __sk_buff *skb, const struct udpc_config *cfg,
					   __u32 l2_len)
{
	struct pkt inner = {}, from_dest = {};
	struct udpc_dest_stats *st;
	__u32 slot;

	if (!parse_icmp_error(skb, l2_len, &inner))
		return TC_ACT_OK;
	/* Seen from the destination, the quoted copy's target is where a reply comes from. */
	from_dest.family = inner.family;
	from_dest.saddr = inner.daddr;
	from_dest.sport = inner.dport;
	slot = reply_slot_of(skb, cfg, &from_dest);
	if (slot >= UDPC_MAX_DESTS)
		return TC_ACT_OK;
	if (!flow_lookup(&inner.saddr, inner.sport, inner.family))
		return TC_ACT_OK; /* not from one of our flows */
	st = bpf_map_lookup_elem(&udpc_dest_stats, &slot);
	if (st)
		st->icmp_errors++;
	return TC_ACT_SHOT;
}

/* Link-layer header length on the interface a reply came in by: the attached one
 * or an uplink; -1 if it is neither. */
static __always_inline int ingress_l2_len(struct __sk_buff *skb, const struct udpc_config *cfg)
{
	__u32 i;

	if (skb->ifindex == cfg->ifindex)
		return cfg->l2_len ? ETH_HLEN : 0;
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		/* A key of its own: with &i as the key, i lives on the stack, where the
		 * verifiers of 6.1 to 6.12 lose its value and call the loop infinite. */
		__u32 key = i;
		struct udpc_uplink *up = bpf_map_lookup_elem(&udpc_uplinks, &key);

		if (up && (up->flags & UDPC_UPLINK_VIA) && up->ifindex == skb->ifindex)
			return up->l2_len ? ETH_HLEN : 0;
	}
	return -1;
}

#endif /* UDPC_BPF_LIB_REPLY_H */
