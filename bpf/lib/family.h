/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Peer mode: a copy taking a path of the other address family. */
#ifndef UDPC_BPF_LIB_FAMILY_H
#define UDPC_BPF_LIB_FAMILY_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include "encap.h"
#include "parse.h"

/*
 * Give packet p (plain UDP: IPv4 without options or IPv6 without extension
 * headers) an IP header of `family` instead, from saddr to daddr, with the same
 * hop limit, and the UDP checksum's pseudo-header moved over. In peer mode only:
 * the application's datagram is carried with its own checksum whatever the outer
 * family, so a session may have paths of both (a SIM with IPv6 only beside an
 * IPv4 Wi-Fi). Returns 0, or -1 with the packet possibly changed.
 *
 * bpf_skb_change_proto() makes room for (or takes away) the 20 bytes the headers
 * differ by right after the link-layer header; the rest of the packet stays where
 * it was, so a checksum the device completes still has its start. A global
 * function: four programs call it, the verifier checks it once.
 */
__noinline int set_family(struct __sk_buff *skb, struct pkt *p, __u32 family,
			  const struct udpc_addr *saddr, const struct udpc_addr *daddr)
{
	__u32 l3, csum_off;
	__u8 hop;
	__s64 diff;

	if (!p || !saddr || !daddr || p->family == family ||
	    (family != UDPC_AF_INET && family != UDPC_AF_INET6))
		return -1;
	l3 = p->l3_off;
	if (bpf_skb_load_bytes(skb, l3 + (p->family == UDPC_AF_INET ?
					  offsetof(struct iphdr, ttl) :
					  offsetof(struct ipv6hdr, hop_limit)), &hop, 1))
		return -1;
	/* The pseudo-header: only the addresses differ between the families (the
	 * length and protocol sum alike in both). */
	diff = bpf_csum_diff(p->saddr.w, sizeof(p->saddr), (__be32 *)saddr->w, sizeof(*saddr), 0);
	if (diff >= 0)
		diff = bpf_csum_diff(p->daddr.w, sizeof(p->daddr), (__be32 *)daddr->w,
				     sizeof(*daddr), diff);
	csum_off = p->l4_off + offsetof(struct udphdr, check);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, diff,
					    BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
		return -1;

	if (family == UDPC_AF_INET6) {
		struct ipv6hdr ip6 = {
			.version = 6,
			.payload_len = bpf_htons(p->ip_len - sizeof(struct iphdr)),
			.nexthdr = IPPROTO_UDP,
			.hop_limit = hop,
		};
		__be16 proto = bpf_htons(ETH_P_IPV6);

		__builtin_memcpy(&ip6.saddr, saddr->w, sizeof(ip6.saddr));
		__builtin_memcpy(&ip6.daddr, daddr->w, sizeof(ip6.daddr));
		if (bpf_skb_change_proto(skb, proto, 0) ||
		    bpf_skb_store_bytes(skb, l3, &ip6, sizeof(ip6), 0) ||
		    (l3 && bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto,
					       sizeof(proto), 0)))
			return -1;
		p->ip_len += sizeof(ip6) - sizeof(struct iphdr);
		p->l4_off = l3 + sizeof(ip6);
	} else {
		struct iphdr ip = {
			.version = 4,
			.ihl = 5,
			.tot_len = bpf_htons(p->ip_len - sizeof(struct ipv6hdr) + sizeof(ip)),
			.frag_off = bpf_htons(0x4000), /* DF: the stack's default for UDP */
			.ttl = hop,
			.protocol = IPPROTO_UDP,
			.saddr = saddr->w[0],
			.daddr = daddr->w[0],
		};
		__be16 proto = bpf_htons(ETH_P_IP);
		__s64 c = bpf_csum_diff(NULL, 0, (__be32 *)&ip, sizeof(ip), 0);

		if (c < 0)
			return -1;
		ip.check = (__u16)~csum_fold32((__u32)c);
		if (bpf_skb_change_proto(skb, proto, 0) ||
		    bpf_skb_store_bytes(skb, l3, &ip, sizeof(ip), 0) ||
		    (l3 && bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto,
					       sizeof(proto), 0)))
			return -1;
		p->ip_len -= sizeof(struct ipv6hdr) - sizeof(ip);
		p->l4_off = l3 + sizeof(ip);
	}
	p->family = family;
	p->saddr = *saddr;
	p->daddr = *daddr;
	return 0;
}

#endif /* UDPC_BPF_LIB_FAMILY_H */
