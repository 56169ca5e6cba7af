// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpclone-bpf data path: two TC programs on one interface.
 *
 *   udpc_egress   clones each UDP packet sent to the listen port once per active
 *                 destination, rewriting destination address, port and L2 header.
 *   udpc_ingress  rewrites the source of replies from a destination back to the
 *                 address the client sent to, so connected sockets and conntrack
 *                 see one ordinary conversation.
 *
 * Map layouts and limits are in include/udpclone.h; user/ fills the maps.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "udpclone.h"

/* A flow's last_seen_ns is rewritten at most this often: every packet would bounce
 * its cache line between CPUs, and idle timeouts are counted in seconds. */
#define FLOW_REFRESH_NS 100000000ULL

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
/* IPv6 extension headers (linux/in6.h names), and how many parse() looks through. */
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60
#define IP6_OFFSET 0xfff8	/* fragment header: offset, in 8-byte units << 3 */
#define IPV6_EXT_MAX 4
/* From linux/icmp.h and linux/icmpv6.h, which pull libc headers into a BPF build. */
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMPV6_DEST_UNREACH 1
#define ICMP_HDR_LEN 8 /* type, code, checksum, 4 bytes unused: both families */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* All maps are pinned by name, so a new `attach` adopts the running state and the
 * replaced programs keep counting into the same counters. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udpc_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_dest);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_dests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udpc_active);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_active SEC(".maps");

/* Control plane only; defined here so that it is created and pinned with the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_dest_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_dest_info SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_dest_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_dest_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_nexthop);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_nexthops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_prev);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_prev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_uplink);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_uplinks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udpc_global_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_global SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UDPC_MAX_FLOWS);
	__type(key, struct udpc_flow_key);
	__type(value, struct udpc_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_flows SEC(".maps");

/*
 * Recursion guard. bpf_clone_redirect() to an egress device transmits the clone
 * synchronously (dev_queue_xmit), which runs this interface's egress hook again on
 * the clone before the helper returns. The guard is set around the call, so the
 * nested run sees it and lets our own copy through, whatever its port. The CPU
 * cannot switch to another packet meanwhile: TC runs with bottom halves disabled.
 * Pinned so that a program replaced mid-flight shares it with its successor.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_guard SEC(".maps");

/* What the parser learned of one UDP packet; offsets are from skb->data. */
struct pkt {
	__u32 l3_off;
	__u32 l4_off;
	__u32 ip_len;		/* IP total length, header included */
	__u8 family;
	struct udpc_addr saddr;
	struct udpc_addr daddr;
	__be16 sport;
	__be16 dport;
};

enum parse_result {
	PARSE_UDP,		/* a whole, unfragmented UDP packet: p is filled in */
	PARSE_OTHER,		/* not ours to look at */
	PARSE_UDP_UNSUPPORTED,	/* UDP we cannot rewrite safely (IPv4 options, fragment) */
};

static __always_inline struct udpc_global_stats *global_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&udpc_global, &zero);
}

/*
 * IPv6 with extension headers before UDP (hop-by-hop, routing, destination options,
 * a first fragment): not rewritten, but its destination port is read, so that one
 * to the listen port is counted as skipped, as IPv4 options and fragments are.
 * `next` is the IPv6 header's next header, `off` the offset after that header.
 */
static __always_inline enum parse_result parse_ipv6_ext(struct __sk_buff *skb, __u8 next,
							__u32 off, struct pkt *p)
{
	int i;

#pragma unroll
	for (i = 0; i < IPV6_EXT_MAX; i++) {
		__u8 h[4];

		if (next == IPPROTO_UDP) {
			if (bpf_skb_load_bytes(skb, off + offsetof(struct udphdr, dest), &p->dport,
					       sizeof(p->dport)))
				return PARSE_OTHER;
			return PARSE_UDP_UNSUPPORTED;
		}
		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)))
			return PARSE_OTHER;
		if (next == NEXTHDR_FRAGMENT) {
			if (bpf_ntohs(*(__be16 *)&h[2]) & IP6_OFFSET)
				return PARSE_OTHER; /* a later fragment: no UDP header */
			off += 8;
		} else if (next == NEXTHDR_HOP || next == NEXTHDR_ROUTING || next == NEXTHDR_DEST) {
			off += ((__u32)h[1] + 1) * 8;
		} else {
			return PARSE_OTHER;
		}
		next = h[0];
	}
	return PARSE_OTHER;
}

/*
 * Parse L2/L3/L4 headers. Anything short, malformed or not plain UDP is
 * PARSE_OTHER and passes untouched. UDP behind IPv4 options, IPv6 extension
 * headers or in a first fragment is PARSE_UDP_UNSUPPORTED (p->family, daddr and
 * dport filled in): it passes untouched too, but is counted when it was ours.
 */
static __always_inline enum parse_result parse(struct __sk_buff *skb, __u32 l2_len,
					       struct pkt *p)
{
	__u32 need = l2_len + sizeof(struct ipv6hdr) + sizeof(struct udphdr);
	void *data, *data_end;
	struct udphdr *udp;
	__be16 proto;

	/* Headers of locally built packets are linear; forwarded ones may not be. */
	if ((void *)(long)skb->data + need > (void *)(long)skb->data_end)
		bpf_skb_pull_data(skb, need);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;

	if (l2_len) {
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > data_end)
			return PARSE_OTHER;
		proto = eth->h_proto;
	} else {
		proto = skb->protocol;
	}
	p->l3_off = l2_len;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = data + l2_len;
		__u32 hlen;

		if ((void *)(iph + 1) > data_end || iph->version != 4 ||
		    iph->protocol != IPPROTO_UDP)
			return PARSE_OTHER;
		hlen = iph->ihl * 4;
		p->ip_len = bpf_ntohs(iph->tot_len);
		if (hlen < sizeof(*iph) || p->ip_len < hlen + sizeof(*udp) ||
		    p->ip_len > skb->len - l2_len)
			return PARSE_OTHER;
		if (iph->frag_off & bpf_htons(IP_OFFSET))
			return PARSE_OTHER; /* a later fragment: no UDP header */
		if (hlen != sizeof(*iph) || (iph->frag_off & bpf_htons(IP_MF))) {
			p->family = UDPC_AF_INET;
			p->daddr = (struct udpc_addr){ .w = { iph->daddr } };
			/* Read the port only to tell whether it was meant for us. */
			if (bpf_skb_load_bytes(skb, l2_len + hlen + offsetof(struct udphdr, dest),
					       &p->dport, sizeof(p->dport)))
				return PARSE_OTHER;
			return PARSE_UDP_UNSUPPORTED;
		}
		p->family = UDPC_AF_INET;
		p->saddr = (struct udpc_addr){ .w = { iph->saddr } };
		p->daddr = (struct udpc_addr){ .w = { iph->daddr } };
		p->l4_off = l2_len + sizeof(*iph);
		udp = (void *)(iph + 1);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = data + l2_len;

		if ((void *)(ip6h + 1) > data_end || ip6h->version != 6)
			return PARSE_OTHER;
		/* payload_len 0 is a jumbogram: not ours. */
		p->ip_len = sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len);
		if (p->ip_len < sizeof(*ip6h) + sizeof(*udp) || p->ip_len > skb->len - l2_len)
			return PARSE_OTHER;
		if (ip6h->nexthdr != IPPROTO_UDP) {
			p->family = UDPC_AF_INET6;
			__builtin_memcpy(&p->daddr, &ip6h->daddr, sizeof(p->daddr));
			return parse_ipv6_ext(skb, ip6h->nexthdr, l2_len + sizeof(*ip6h), p);
		}
		p->family = UDPC_AF_INET6;
		__builtin_memcpy(&p->saddr, &ip6h->saddr, sizeof(p->saddr));
		__builtin_memcpy(&p->daddr, &ip6h->daddr, sizeof(p->daddr));
		p->l4_off = l2_len + sizeof(*ip6h);
		udp = (void *)(ip6h + 1);
	} else {
		return PARSE_OTHER;
	}

	if ((void *)(udp + 1) > data_end)
		return PARSE_OTHER;
	if (bpf_ntohs(udp->len) < sizeof(*udp) || bpf_ntohs(udp->len) > p->ip_len - (p->l4_off - l2_len))
		return PARSE_OTHER;
	p->sport = udp->source;
	p->dport = udp->dest;
	return PARSE_UDP;
}

static __always_inline int addr_eq(const struct udpc_addr *a, const struct udpc_addr *b)
{
	return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2] &&
	       a->w[3] == b->w[3];
}

static __always_inline int listen_match(const struct udpc_config *cfg, const struct pkt *p)
{
	if (p->dport != cfg->listen_port)
		return 0;
	if (!(cfg->flags & UDPC_CFG_LISTEN_ADDR))
		return 1;
	return p->family == cfg->listen_family && addr_eq(&p->daddr, &cfg->listen_addr);
}

/* The destination's address for the packet's family, or NULL if it has none. */
static __always_inline const struct udpc_addr *dest_addr(const struct udpc_dest *d, __u8 family,
							 struct udpc_addr *buf)
{
	if (family == UDPC_AF_INET) {
		if (!(d->flags & UDPC_DEST_V4))
			return NULL;
		*buf = (struct udpc_addr){ .w = { d->addr4 } };
		return buf;
	}
	if (!(d->flags & UDPC_DEST_V6))
		return NULL;
	return &d->addr6;
}

/*
 * Replace one address (source or destination: addr_off says which) and fix the
 * checksums incrementally. The UDP checksum covers the address through the
 * pseudo-header (BPF_F_PSEUDO_HDR, which also keeps CHECKSUM_PARTIAL packets
 * right); BPF_F_MARK_MANGLED_0 leaves a disabled (zero) IPv4 UDP checksum zero
 * and writes a computed zero as 0xffff.
 */
static __always_inline int csum_addr(struct __sk_buff *skb, const struct pkt *p,
				     const struct udpc_addr *from, const struct udpc_addr *to)
{
	__u32 csum_off = p->l4_off + offsetof(struct udphdr, check);
	__s64 diff;

	if (p->family == UDPC_AF_INET) {
		if (bpf_l4_csum_replace(skb, csum_off, from->w[0], to->w[0],
					BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | sizeof(__be32)))
			return -1;
		return bpf_l3_csum_replace(skb, p->l3_off + offsetof(struct iphdr, check),
					   from->w[0], to->w[0], sizeof(__be32)) ? -1 : 0;
	}
	diff = bpf_csum_diff((__be32 *)from->w, sizeof(*from), (__be32 *)to->w, sizeof(*to), 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, diff,
					    BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
		return -1;
	return 0;
}

/* The checksum part of replacing a port: not in the pseudo-header, so no
 * BPF_F_PSEUDO_HDR (a CHECKSUM_PARTIAL packet's checksum field stays as it is). */
static __always_inline int csum_port(struct __sk_buff *skb, const struct pkt *p, __be16 from,
				     __be16 to)
{
	return bpf_l4_csum_replace(skb, p->l4_off + offsetof(struct udphdr, check), from, to,
				   BPF_F_MARK_MANGLED_0 | sizeof(__be16)) ? -1 : 0;
}

/* Are two addresses of p's family the same (IPv4: word 0 only)? */
static __always_inline int addr_same(const struct pkt *p, const struct udpc_addr *a,
				     const struct udpc_addr *b)
{
	return p->family == UDPC_AF_INET ? a->w[0] == b->w[0] : addr_eq(a, b);
}

static __always_inline int rewrite_addr(struct __sk_buff *skb, const struct pkt *p, __u32 addr_off,
					const struct udpc_addr *from, const struct udpc_addr *to)
{
	if (addr_same(p, from, to))
		return 0;
	if (csum_addr(skb, p, from, to))
		return -1;
	if (p->family == UDPC_AF_INET)
		return bpf_skb_store_bytes(skb, addr_off, &to->w[0], sizeof(__be32), 0) ? -1 : 0;
	return bpf_skb_store_bytes(skb, addr_off, to->w, sizeof(*to), 0) ? -1 : 0;
}

/* Replace one port. */
static __always_inline int rewrite_port(struct __sk_buff *skb, const struct pkt *p, __u32 port_off,
					__be16 from, __be16 to)
{
	if (from == to)
		return 0;
	if (csum_port(skb, p, from, to))
		return -1;
	return bpf_skb_store_bytes(skb, port_off, &to, sizeof(to), 0) ? -1 : 0;
}

static __always_inline __u32 daddr_off(const struct pkt *p)
{
	return p->family == UDPC_AF_INET ? p->l3_off + offsetof(struct iphdr, daddr)
					 : p->l3_off + offsetof(struct ipv6hdr, daddr);
}

static __always_inline __u32 saddr_off(const struct pkt *p)
{
	return p->family == UDPC_AF_INET ? p->l3_off + offsetof(struct iphdr, saddr)
					 : p->l3_off + offsetof(struct ipv6hdr, saddr);
}

/*
 * Replace destination address and port, fixing the checksums incrementally, with
 * one store: parse() takes no IPv4 options and no IPv6 extension headers, so the
 * UDP header follows the destination address and address, source port and
 * destination port are contiguous.
 */
static __always_inline int rewrite_dst(struct __sk_buff *skb, const struct pkt *p,
				       const struct udpc_addr *from, const struct udpc_addr *to,
				       __be16 from_port, __be16 to_port)
{
	int same = addr_same(p, from, to);

	if (same && from_port == to_port)
		return 0;
	if (!same && csum_addr(skb, p, from, to))
		return -1;
	if (from_port != to_port && csum_port(skb, p, from_port, to_port))
		return -1;
	if (p->family == UDPC_AF_INET) {
		struct { __be32 addr; __be16 sport, dport; } v4 = { to->w[0], p->sport, to_port };

		return bpf_skb_store_bytes(skb, daddr_off(p), &v4, sizeof(v4), 0) ? -1 : 0;
	} else {
		struct { struct udpc_addr addr; __be16 sport, dport; } v6 = { *to, p->sport, to_port };

		return bpf_skb_store_bytes(skb, daddr_off(p), &v6, sizeof(v6), 0) ? -1 : 0;
	}
}

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

/*
 * Remember that replies to (addr, port) belong to the client of p, who sent to
 * p's destination. Refreshed in place on every packet, rewritten only on change.
 */
static __always_inline void remember_flow(const struct pkt *p, const struct udpc_addr *addr,
					  __u64 now)
{
	struct udpc_flow_key key = { .addr = *addr, .port = p->sport, .family = p->family };
	struct udpc_flow *flow = bpf_map_lookup_elem(&udpc_flows, &key);
	struct udpc_global_stats *gs;

	if (flow && flow->orig_dport == p->dport && addr_eq(&flow->orig_daddr, &p->daddr) &&
	    addr_eq(&flow->client, &p->saddr)) {
		if ((__s64)(now - flow->last_seen_ns) > (__s64)FLOW_REFRESH_NS)
			flow->last_seen_ns = now;
	} else {
		struct udpc_flow nf = { .orig_daddr = p->daddr, .client = p->saddr,
					.orig_dport = p->dport, .last_seen_ns = now };
		long err = bpf_map_update_elem(&udpc_flows, &key, &nf, BPF_ANY);

		gs = global_stats();
		if (!gs)
			return;
		if (err)
			gs->flow_errors++;
		else if (!flow)
			gs->flow_new++;
	}
}

/*
 * What the egress program hands to fanout_one() for each copy. Plain data only:
 * fanout_one() is a global function, which sees this as memory of unknown
 * contents, so a pointer kept here would come back as a number.
 */
struct fanout {
	struct pkt p;
	struct udpc_addr cur_daddr;	/* what the packet's destination is now */
	struct udpc_addr cur_saddr;	/* and its source: an uplink's address, or the client's */
	__u64 now;
	__be16 cur_dport;
	__u16 l2_len;
	__u32 ifindex;			/* the attached interface */
	__u32 remaining;		/* copies still to make, this one included */
	__u32 tried;			/* destinations visited that had an address */
	__u8 slots[UDPC_MAX_DESTS];	/* the slots to visit, in order: udpc_active's */
	__s32 verdict;
	__u8 orig_l2[12];		/* the original's MACs, for copies with no next hop */
};

/* Clone the packet out of ifindex, with the recursion guard set around the call. */
static __always_inline long clone_out(struct __sk_buff *skb, __u32 ifindex)
{
	__u32 zero = 0, *guard = bpf_map_lookup_elem(&udpc_guard, &zero);
	long err;

	if (!guard)
		return -1;
	*guard = 1;
	err = bpf_clone_redirect(skb, ifindex, 0);
	*guard = 0;
	return err;
}

/*
 * The i-th active destination: rewrite the packet in place from its current
 * destination to that one, then send a clone of it, or, for the last copy, let the
 * packet itself go. Returns 0 for the next copy, 1 when f->verdict is final.
 *
 * A global function (not inlined, not static): the verifier checks it once, on its
 * own, whatever the number of copies, and the loop that calls it in udpc_egress
 * stays a few instructions per iteration. Every kernel treats a global function
 * alike, where a bpf_loop() callback is verified once on older kernels and as a
 * loop, state by state, on newer ones (hundreds of thousands of instructions here).
 */
__noinline int fanout_one(struct __sk_buff *skb, struct fanout *f, __u32 i)
{
	const struct udpc_addr *dst, *src;
	struct udpc_dest_stats *st;
	enum route_result route;
	struct udpc_uplink *up;
	struct udpc_addr buf, sbuf;
	struct udpc_dest *d;
	__u32 ifindex, l2_len, slot;
	__be16 dport;

	if (!f || i >= UDPC_MAX_DESTS)
		return 1;
	src = &f->p.saddr;
	ifindex = f->ifindex;
	l2_len = f->l2_len;
	slot = f->slots[i];
	f->remaining--;
	d = bpf_map_lookup_elem(&udpc_dests, &slot);
	st = bpf_map_lookup_elem(&udpc_dest_stats, &slot);
	up = bpf_map_lookup_elem(&udpc_uplinks, &slot);
	if (!d || !st || !up)
		goto skip;
	dst = dest_addr(d, f->p.family, &buf);
	if (!dst) {
		/* Cleared by user space, which updates udpc_active just after. */
		if (!f->remaining && !f->tried) {
			struct udpc_global_stats *gs = global_stats();

			if (gs)
				gs->no_dest++;
		}
		goto skip;
	}
	f->tried++;
	dport = d->port;

	if (up->flags & UDPC_UPLINK_VIA) {
		/* HOST:PORT@IFACE: leave by that uplink, from its own address, so that
		 * the replies come back by it too. */
		__u32 need = f->p.family == UDPC_AF_INET ? UDPC_UPLINK_SRC4 : UDPC_UPLINK_SRC6;

		if ((up->flags & (UDPC_UPLINK_UP | need)) != (UDPC_UPLINK_UP | need)) {
			st->down_drops++;
			goto skip;
		}
		if (!skb->gso_size && f->p.ip_len > up->mtu) {
			st->mtu_errors++;
			goto skip;
		}
		if (up->l2_len && !f->l2_len) {
			/* No Ethernet header to give it: raw-IP attached, Ethernet uplink. */
			st->tx_errors++;
			goto skip;
		}
		ifindex = up->ifindex;
		l2_len = up->l2_len ? ETH_HLEN : 0;
		if (f->p.family == UDPC_AF_INET)
			sbuf = (struct udpc_addr){ .w = { up->src4 } };
		else
			sbuf = up->src6;
		src = &sbuf;
		remember_flow(&f->p, src, f->now);
	}

	if (rewrite_addr(skb, &f->p, saddr_off(&f->p), &f->cur_saddr, src) ||
	    rewrite_dst(skb, &f->p, &f->cur_daddr, dst, f->cur_dport, dport)) {
		/* A failed rewrite may have left the packet half changed. */
		st->tx_errors++;
		f->verdict = TC_ACT_SHOT;
		return 1;
	}
	f->cur_saddr = *src;
	f->cur_daddr = *dst;
	f->cur_dport = dport;

	route = route_copy(skb, &f->p, l2_len, slot, src, dst, dport,
			   up->flags & UDPC_UPLINK_VIA ? up->table : 0, &ifindex, st);
	if (route == ROUTE_DROP)
		goto skip;
	/* The packet carries the previous copy's MACs by now: put the original's back.
	 * (A raw-IP uplink needs none: the kernel strips them on the way to it.) */
	if (route == ROUTE_KEEP_L2 && l2_len &&
	    bpf_skb_store_bytes(skb, 0, f->orig_l2, sizeof(f->orig_l2), 0))
		goto skip;

	if (!f->remaining) {
		/* The original packet is the last copy. */
		st->tx_packets++;
		st->tx_bytes += skb->len;
		f->verdict = ifindex == skb->ifindex ? TC_ACT_OK : bpf_redirect(ifindex, 0);
		return 1;
	}

	if (clone_out(skb, ifindex)) {
		st->tx_errors++;
	} else {
		st->tx_packets++;
		st->tx_bytes += skb->len;
	}
	return 0;

skip:
	if (f->remaining)
		return 0;
	/* Nothing left to become the last copy: the packet holds a rewritten copy
	 * whose sending failed, so it must not leave. */
	f->verdict = TC_ACT_SHOT;
	return 1;
}

/*
 * TC egress on the attached interface. Each packet to the listen port leaves as
 * one copy per active destination of its family: the copies are clones sent with
 * bpf_clone_redirect(), rewritten one after the other in place, and the original
 * packet itself becomes the last copy.
 */
SEC("tc")
int udpc_egress(struct __sk_buff *skb)
{
	struct udpc_global_stats *gs;
	struct udpc_active *act;
	struct udpc_config *cfg;
	struct fanout f = {};
	__u32 zero = 0, fam, n = 0, i;
	__u32 *guard;
	int res;

	guard = bpf_map_lookup_elem(&udpc_guard, &zero);
	if (!guard || *guard)
		return TC_ACT_OK; /* one of our own copies */
	cfg = bpf_map_lookup_elem(&udpc_config, &zero);
	gs = global_stats();
	if (!cfg || !gs || !(cfg->flags & UDPC_CFG_ENABLED))
		return TC_ACT_OK;
	f.l2_len = cfg->l2_len ? ETH_HLEN : 0;

	res = parse(skb, f.l2_len, &f.p);
	if (res == PARSE_UDP_UNSUPPORTED) {
		if (listen_match(cfg, &f.p))
			gs->skipped++;
		return TC_ACT_OK;
	}
	if (res != PARSE_UDP || !listen_match(cfg, &f.p))
		return TC_ACT_OK;
	gs->matched++;

	/* Remember where this client sent to, for the return path. */
	f.now = bpf_ktime_get_ns();
	remember_flow(&f.p, &f.p.saddr, f.now);

	/* The destinations with an address of the packet's family. */
	act = bpf_map_lookup_elem(&udpc_active, &zero);
	fam = f.p.family == UDPC_AF_INET ? UDPC_ACTIVE_V4 : UDPC_ACTIVE_V6;
	if (act) {
		n = act->n[fam] < UDPC_MAX_DESTS ? act->n[fam] : UDPC_MAX_DESTS;
		__builtin_memcpy(f.slots, act->slot[fam], sizeof(f.slots));
	}
	if (!n) {
		gs->no_dest++;
		return TC_ACT_SHOT;
	}

	if (f.l2_len && bpf_skb_load_bytes(skb, 0, f.orig_l2, sizeof(f.orig_l2)))
		return TC_ACT_OK;
	f.ifindex = cfg->ifindex;
	f.cur_daddr = f.p.daddr;
	f.cur_saddr = f.p.saddr;
	f.cur_dport = f.p.dport;
	f.remaining = n;
	f.verdict = TC_ACT_OK;
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		if (i >= n || fanout_one(skb, &f, i))
			break;
	return f.verdict;
}

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
	struct udpc_flow_key key = {};
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
	key.addr = inner.saddr;
	key.port = inner.sport;
	key.family = inner.family;
	if (!bpf_map_lookup_elem(&udpc_flows, &key))
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

/*
 * TC ingress on the attached interface and on every uplink. A reply from a
 * configured destination to a known, recently active flow gets its source
 * rewritten to the address and port the client sent to, and, when it came back
 * to an uplink's address, its destination to the client's. Everything else
 * passes untouched.
 */
SEC("tc")
int udpc_ingress(struct __sk_buff *skb)
{
	struct udpc_global_stats *gs;
	struct udpc_dest_stats *st;
	struct udpc_config *cfg;
	struct udpc_flow_key fkey = {};
	struct udpc_flow *flow;
	struct udpc_addr orig, client;
	struct pkt p = {};
	__u32 zero = 0, slot;
	__be16 orig_port;
	__u64 now;
	int l2_len;

	cfg = bpf_map_lookup_elem(&udpc_config, &zero);
	gs = global_stats();
	if (!cfg || !gs || !(cfg->flags & UDPC_CFG_ENABLED))
		return TC_ACT_OK;
	l2_len = ingress_l2_len(skb, cfg);
	if (l2_len < 0)
		return TC_ACT_OK;
	if (parse(skb, l2_len, &p) != PARSE_UDP)
		return icmp_about_copy(skb, cfg, l2_len);

	slot = reply_slot_of(skb, cfg, &p);
	if (slot >= UDPC_MAX_DESTS)
		return TC_ACT_OK;

	fkey.addr = p.daddr;
	fkey.port = p.dport;
	fkey.family = p.family;
	flow = bpf_map_lookup_elem(&udpc_flows, &fkey);
	now = bpf_ktime_get_ns();
	/* Signed: egress on another CPU may have stamped the flow just after `now`. */
	if (!flow || (__s64)(now - flow->last_seen_ns) > (__s64)cfg->flow_timeout_ns) {
		gs->rx_no_flow++;
		return TC_ACT_OK;
	}
	if ((__s64)(now - flow->last_seen_ns) > (__s64)FLOW_REFRESH_NS)
		flow->last_seen_ns = now;
	orig = flow->orig_daddr;
	orig_port = flow->orig_dport;
	client = flow->client;

	st = bpf_map_lookup_elem(&udpc_dest_stats, &slot);
	if (st) {
		st->rx_packets++;
		st->rx_bytes += skb->len;
		st->last_rx_ns = now;
	}

	if (rewrite_addr(skb, &p, saddr_off(&p), &p.saddr, &orig) ||
	    rewrite_port(skb, &p, p.l4_off + offsetof(struct udphdr, source), p.sport, orig_port) ||
	    rewrite_addr(skb, &p, daddr_off(&p), &p.daddr, &client))
		return TC_ACT_SHOT; /* half rewritten: do not deliver a corrupt packet */
	return TC_ACT_OK;
}
