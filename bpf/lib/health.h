/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Peer mode: path health. The server echoes keepalives; the client times them. */
#ifndef UDPC_BPF_LIB_HEALTH_H
#define UDPC_BPF_LIB_HEALTH_H

#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include "encap.h"
#include "maps.h"
#include "session.h"

#define KA_OFF (PEER_HDR_OFF + UDPC_PEER_HDR_LEN) /* the payload, from the UDP header */
#define KA_MAX_RTT_NS (60ULL * 1000000000ULL)	   /* a sample above this is not one */

/* What this end received by path pp, as a keepalive or echo reports it. */
static __always_inline void ka_fill(struct udpc_peer_ka *ka, const struct udpc_peer_path *pp)
{
	ka->rx_packets = bpf_cpu_to_be64(pp->rx_packets);
	ka->rx_first = bpf_cpu_to_be64(pp->rx_first);
	ka->seq_first = bpf_cpu_to_be64(pp->seq_first);
	ka->seq_last = bpf_cpu_to_be64(pp->seq_last);
}

/* What the other end reported of path pp. */
static __always_inline void ka_take(struct udpc_peer_path *pp, const struct udpc_peer_ka *ka,
				    __u64 now)
{
	pp->peer_rx_packets = bpf_be64_to_cpu(ka->rx_packets);
	pp->peer_rx_first = bpf_be64_to_cpu(ka->rx_first);
	pp->peer_seq_first = bpf_be64_to_cpu(ka->seq_first);
	pp->peer_seq_last = bpf_be64_to_cpu(ka->seq_last);
	pp->ka_last_ns = now;
	__sync_fetch_and_add(&pp->ka_rx, 1);
}

/*
 * Server ingress, a keepalive (p, h) of a known session s: note where its path
 * reaches the client now and what the client reported, then send it back where
 * it came from as an echo carrying this end's counters of that path: addresses,
 * ports and MACs swapped, the outer checksum computed whole (72 bytes). Returns
 * the TC verdict.
 */
static __always_inline int serve_keepalive(struct __sk_buff *skb, const struct pkt *p,
					   const struct udpc_peer_hdr *h, struct udpc_session *s,
					   __u32 l2_len)
{
	struct udpc_peer_stats *ps = peer_stats();
	struct {
		struct udphdr udp;
		struct udpc_peer_hdr h;
		struct udpc_peer_ka ka;	/* at 24: aligned, no padding before it */
	} l4;
	struct udpc_addr addrs[2];
	struct udpc_peer_path *pp;
	__u64 now = bpf_ktime_get_ns();
	__u8 macs[2 * ETH_ALEN];
	__u32 path = h->path;
	__be16 check;
	__s64 c;

	_Static_assert(sizeof(l4) == 72, "keepalive: UDP header, peer header, payload");
	if (!ps || path >= UDPC_MAX_DESTS ||
	    bpf_skb_load_bytes(skb, p->l4_off, &l4, sizeof(l4)))
		return TC_ACT_SHOT;
	pp = &s->path[path];
	ka_take(pp, &l4.ka, now);
	pp->rtt_ns = bpf_be64_to_cpu(l4.ka.rtt_ns);
	pp->last_rx_ns = now;	/* a live path, data or not: replies may take it */
	__sync_fetch_and_add(&ps->ka_rx, 1);

	ka_fill(&l4.ka, pp);
	l4.h.ver_type = UDPC_PEER_VT(UDPC_PEER_T_ECHO);
	l4.udp.source = p->dport;
	l4.udp.dest = p->sport;
	l4.udp.check = 0;
	addrs[0] = p->daddr;
	addrs[1] = p->saddr;
	c = bpf_csum_diff(NULL, 0, (__be32 *)addrs, sizeof(addrs), 0);
	if (c < 0)
		return TC_ACT_SHOT;
	c = bpf_csum_diff(NULL, 0, (__be32 *)&l4, sizeof(l4), c);
	if (c < 0)
		return TC_ACT_SHOT;
	check = (__u16)~csum_fold32(csum_add32((__u32)c,
					       (__u32)bpf_htons(IPPROTO_UDP) + bpf_htons(sizeof(l4))));
	l4.udp.check = check ? check : 0xffff;

	/* Swapping the addresses keeps the IPv4 header's sum: no checksum update. */
	if (p->family == UDPC_AF_INET) {
		__be32 v4[2] = { p->daddr.w[0], p->saddr.w[0] };

		if (bpf_skb_store_bytes(skb, saddr_off(p), v4, sizeof(v4), 0))
			return TC_ACT_SHOT;
	} else if (bpf_skb_store_bytes(skb, saddr_off(p), addrs, sizeof(addrs), 0)) {
		return TC_ACT_SHOT;
	}
	if (bpf_skb_store_bytes(skb, p->l4_off, &l4, sizeof(l4), 0))
		return TC_ACT_SHOT;
	if (l2_len) {
		__u8 swapped[2 * ETH_ALEN];

		if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)))
			return TC_ACT_SHOT;
		__builtin_memcpy(swapped, macs + ETH_ALEN, ETH_ALEN);
		__builtin_memcpy(swapped + ETH_ALEN, macs, ETH_ALEN);
		if (bpf_skb_store_bytes(skb, 0, swapped, sizeof(swapped), 0))
			return TC_ACT_SHOT;
	}
	__sync_fetch_and_add(&ps->ka_echoed, 1);
	return bpf_redirect(skb->ifindex, 0);
}

/*
 * Client ingress, an echo (p, h) in session s: a round-trip sample of path
 * h->path, and what the server received by it. The echo is consumed.
 */
static __always_inline void client_echo(struct __sk_buff *skb, const struct pkt *p,
					const struct udpc_peer_hdr *h, struct udpc_session *s)
{
	struct udpc_peer_stats *ps = peer_stats();
	struct udpc_peer_path *pp;
	struct udpc_peer_ka ka;
	__u64 now = bpf_ktime_get_ns(), sample;
	__u32 path = h->path;

	if (!ps || path >= UDPC_MAX_DESTS || bpf_skb_load_bytes(skb, p->l4_off + KA_OFF, &ka, sizeof(ka)))
		return;
	pp = &s->path[path];
	ka_take(pp, &ka, now);
	__sync_fetch_and_add(&ps->ka_rx, 1);
	sample = now - bpf_be64_to_cpu(ka.stamp_ns);
	if ((__s64)sample <= 0 || sample > KA_MAX_RTT_NS)
		return;
	pp->rtt_last_ns = sample;
	pp->rtt_ns = pp->rtt_ns ? (7 * pp->rtt_ns + sample) / 8 : sample;
}

#endif /* UDPC_BPF_LIB_HEALTH_H */
