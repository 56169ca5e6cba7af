/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Rewriting addresses and ports with incremental checksum updates. */
#ifndef UDPC_BPF_LIB_REWRITE_H
#define UDPC_BPF_LIB_REWRITE_H

#include "addr.h"
#include "parse.h"

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
static __always_inline int pkt_addr_eq(const struct pkt *p, const struct udpc_addr *a,
				     const struct udpc_addr *b)
{
	return p->family == UDPC_AF_INET ? a->w[0] == b->w[0] : addr_eq(a, b);
}

static __always_inline int rewrite_addr(struct __sk_buff *skb, const struct pkt *p, __u32 addr_off,
					const struct udpc_addr *from, const struct udpc_addr *to)
{
	if (pkt_addr_eq(p, from, to))
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
	int same = pkt_addr_eq(p, from, to);

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

#endif /* UDPC_BPF_LIB_REWRITE_H */
