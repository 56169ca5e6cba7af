/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Parsing a frame down to its UDP header. */
#ifndef UDPC_BPF_LIB_PARSE_H
#define UDPC_BPF_LIB_PARSE_H

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "addr.h"

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
/* IPv6 extension headers (linux/in6.h names), and how many parse() looks through. */
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60
#define IP6_OFFSET 0xfff8	/* fragment header: offset, in 8-byte units << 3 */
#define IPV6_EXT_MAX 4

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

static __always_inline int listen_match(const struct udpc_config *cfg, const struct pkt *p)
{
	if (p->dport != cfg->listen_port)
		return 0;
	if (!(cfg->flags & UDPC_CFG_LISTEN_ADDR))
		return 1;
	return p->family == cfg->listen_family && addr_eq(&p->daddr, &cfg->listen_addr);
}

#endif /* UDPC_BPF_LIB_PARSE_H */
