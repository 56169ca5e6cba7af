/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Peer mode: adding the peer header to a datagram, and taking it off (docs/PEER.md). */
#ifndef UDPC_BPF_LIB_ENCAP_H
#define UDPC_BPF_LIB_ENCAP_H

#include <linux/pkt_cls.h>

#include "parse.h"
#include "udpc_peer.h"

/* Where things are, from the start of the outer UDP header. */
#define PEER_HDR_OFF sizeof(struct udphdr)		/* the peer header */
#define PEER_CHECK_OFF (PEER_HDR_OFF + 14)		/* its carried checksum */
#define PEER_INNER_OFF (PEER_HDR_OFF + 8)		/* where the inner UDP header was */

/* A 32-bit ones' complement sum folded to 16 bits. */
static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Two 32-bit ones' complement sums added, the carry wrapped round. */
static __always_inline __u32 csum_add32(__u32 a, __u32 b)
{
	__u32 r = a + b;

	return r + (r < a);
}

/* The sum the carried checksum makes of what it covers: the complement of its
 * pseudo-header, protocol and length (both already in network order as words). */
static __always_inline __u16 peer_covered_sum(__u16 app_len)
{
	return (__u16)~csum_fold32((__u32)bpf_htons(IPPROTO_UDP) + bpf_htons(app_len));
}

/* Set the IP header's length field to ip_len, with the IPv4 header checksum. */
static __always_inline int set_ip_len(struct __sk_buff *skb, const struct pkt *p, __u32 old_len,
				      __u32 ip_len)
{
	if (p->family == UDPC_AF_INET) {
		__be16 from = bpf_htons(old_len), to = bpf_htons(ip_len);

		if (bpf_l3_csum_replace(skb, p->l3_off + offsetof(struct iphdr, check), from, to,
					sizeof(__be16)))
			return -1;
		return bpf_skb_store_bytes(skb, p->l3_off + offsetof(struct iphdr, tot_len), &to,
					   sizeof(to), 0) ? -1 : 0;
	} else {
		__be16 to = bpf_htons(ip_len - sizeof(struct ipv6hdr));

		return bpf_skb_store_bytes(skb, p->l3_off + offsetof(struct ipv6hdr, payload_len),
					   &to, sizeof(to), 0) ? -1 : 0;
	}
}

/* The pseudo-header's address pair as a checksum diff: added (add) or taken out. */
static __always_inline __s64 addr_pair_diff(const struct pkt *p, int add)
{
	struct udpc_addr a[2] = { p->saddr, p->daddr };

	if (add)
		return bpf_csum_diff(NULL, 0, (__be32 *)a, sizeof(a), 0);
	return bpf_csum_diff((__be32 *)a, sizeof(a), NULL, 0, 0);
}

/*
 * Give the datagram p (plain UDP, no IPv4 options or IPv6 extension headers) the
 * peer header: 16 bytes inserted after the IP header. The application's UDP
 * header becomes bytes 8-15 of the peer header, its checksum field staying where
 * it was and losing the addresses from its pseudo-header; in front of it, a new
 * outer UDP header with the same ports and a zero checksum, which the sender of
 * each copy fills in (peer_outer_csum). *h is filled in but for h->check, which
 * stays where it was in the packet, and h->path, which each copy sets. p's
 * ip_len grows by the header. Returns 0, or -1 with the packet possibly changed.
 * A global function: its buffers stay off the stack of the program that calls it,
 * whose copies (fanout_one) need theirs.
 */
__noinline int peer_encap(struct __sk_buff *skb, struct pkt *p, __u64 session, __u32 seq,
			  struct udpc_peer_hdr *h)
{
	__u32 l4;
	struct {
		struct udphdr udp;
		__u8 hdr[14];
	} __attribute__((packed)) out;
	__be16 old[4], neu[4];
	__u16 app_len;
	__s64 diff;

	if (!p || !h)
		return -1;
	l4 = p->l4_off;
	if (bpf_skb_load_bytes(skb, l4, old, sizeof(old)))
		return -1;
	app_len = bpf_ntohs(old[2]);
	h->ver_type = UDPC_PEER_VT(UDPC_PEER_T_DATA);
	h->path = 0;
	h->seq = bpf_htonl(seq);
	h->session = session;
	h->check = old[3];

	/* The carried checksum loses the addresses (a pseudo-header change: a packet
	 * whose checksum the device completes gets its seed changed) ... */
	diff = addr_pair_diff(p, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, l4 + offsetof(struct udphdr, check), 0, diff,
					    BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
		return -1;
	/* ... and covers header bytes 8-13 in place of ports and length. */
	__builtin_memcpy(neu, (__u8 *)h + 8, 6);
	neu[3] = old[3] = 0;
	diff = bpf_csum_diff((__be32 *)old, sizeof(old), (__be32 *)neu, sizeof(neu), 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, l4 + offsetof(struct udphdr, check), 0, diff,
					    BPF_F_MARK_MANGLED_0))
		return -1;

	if (bpf_skb_adjust_room(skb, UDPC_PEER_HDR_LEN, BPF_ADJ_ROOM_NET, 0))
		return -1;
	out.udp.source = p->sport;
	out.udp.dest = p->dport;
	out.udp.len = bpf_htons(app_len + UDPC_PEER_HDR_LEN);
	out.udp.check = 0;
	__builtin_memcpy(out.hdr, h, sizeof(out.hdr));
	if (bpf_skb_store_bytes(skb, l4, &out, sizeof(out), 0))
		return -1;
	if (set_ip_len(skb, p, p->ip_len, p->ip_len + UDPC_PEER_HDR_LEN))
		return -1;
	p->ip_len += UDPC_PEER_HDR_LEN;
	return 0;
}

/*
 * The outer UDP checksum of one copy, from its addresses, ports and length and
 * the first 8 bytes of its peer header: the rest is covered by the carried
 * checksum, whose covered bytes sum to a known value. A datagram that came with
 * no checksum (check 0, IPv4 only) gets none outside either. Stored with the
 * copy's path id, which follows it (UDP header bytes 6-9: checksum, the peer
 * header's version and type, path): one store per copy.
 */
static __always_inline int peer_outer_csum(struct __sk_buff *skb, const struct pkt *p,
					   const struct udpc_addr *src, const struct udpc_addr *dst,
					   __be16 sport, __be16 dport, const struct udpc_peer_hdr *h)
{
	struct {
		__be16 proto, len;
		__be16 sport, dport, ulen, zero;
		__u8 hdr[8];
		__u16 covered, pad;
	} rest = {};
	__be16 ulen_be, check = 0;
	__u16 ulen;
	__s64 c;

	/* The UDP length, not the IP one: an IP packet may carry bytes after it. */
	if (bpf_skb_load_bytes(skb, p->l4_off + offsetof(struct udphdr, len), &ulen_be,
			       sizeof(ulen_be)))
		return -1;
	ulen = bpf_ntohs(ulen_be);
	if (h->check) {
		/* Both addresses whole: an IPv4 one's words 1-3 are zero. */
		c = bpf_csum_diff(NULL, 0, (__be32 *)src->w, sizeof(*src), 0);
		if (c < 0)
			return -1;
		c = bpf_csum_diff(NULL, 0, (__be32 *)dst->w, sizeof(*dst), c);
		if (c < 0)
			return -1;
		rest.proto = bpf_htons(IPPROTO_UDP);
		rest.len = rest.ulen = bpf_htons(ulen);
		rest.sport = sport;
		rest.dport = dport;
		__builtin_memcpy(rest.hdr, h, sizeof(rest.hdr));
		rest.covered = peer_covered_sum(ulen - UDPC_PEER_HDR_LEN);
		c = bpf_csum_diff(NULL, 0, (__be32 *)&rest, sizeof(rest), c);
		if (c < 0)
			return -1;
		check = (__u16)~csum_fold32((__u32)c);
		if (!check)
			check = 0xffff;
	}
	{
		struct {
			__be16 check;
			__u8 ver_type, path;
		} tail = { check, h->ver_type, h->path };

		return bpf_skb_store_bytes(skb, p->l4_off + offsetof(struct udphdr, check), &tail,
					   sizeof(tail), 0) ? -1 : 0;
	}
}

/* Load and check the peer header of p: version 1, a known type, a path id, a
 * sequence number; a keepalive or echo has exactly its payload. 0 if we take it. */
static __always_inline int peer_hdr_load(struct __sk_buff *skb, const struct pkt *p,
					 struct udpc_peer_hdr *h)
{
	__u32 min = sizeof(struct udphdr) + UDPC_PEER_HDR_LEN;
	__be16 ulen;
	__u8 type;

	if (bpf_skb_load_bytes(skb, p->l4_off + offsetof(struct udphdr, len), &ulen, sizeof(ulen)) ||
	    bpf_ntohs(ulen) < min ||
	    bpf_skb_load_bytes(skb, p->l4_off + PEER_HDR_OFF, h, sizeof(*h)))
		return -1;
	type = UDPC_PEER_TYPE(h->ver_type);
	if (UDPC_PEER_VER(h->ver_type) != UDPC_PEER_VERSION || h->path >= UDPC_MAX_DESTS || !h->seq)
		return -1;
	if (type == UDPC_PEER_T_DATA)
		return 0;
	if ((type == UDPC_PEER_T_KEEPALIVE || type == UDPC_PEER_T_ECHO) &&
	    bpf_ntohs(ulen) == min + sizeof(struct udpc_peer_ka))
		return 0;
	return -1;
}

/*
 * Take the peer header off: header bytes 8-15 become the UDP header again, with
 * ports sport and dport, and the carried checksum gets p's addresses back. p's
 * ip_len shrinks by the header. Returns 0, or -1 with the packet possibly changed.
 */
static __always_inline int peer_strip(struct __sk_buff *skb, struct pkt *p,
				      const struct udpc_peer_hdr *h, __be16 sport, __be16 dport)
{
	__u32 l4 = p->l4_off;
	__be16 old[4], neu[4] = { sport, dport, 0, 0 };
	__u16 app_len;
	__s64 diff;

	/* The UDP length, not the IP one (see peer_outer_csum); at least a header's. */
	if (bpf_skb_load_bytes(skb, l4 + offsetof(struct udphdr, len), &neu[2], sizeof(neu[2])))
		return -1;
	app_len = bpf_ntohs(neu[2]) - UDPC_PEER_HDR_LEN;
	neu[2] = bpf_htons(app_len);

	if (h->check) {
		diff = addr_pair_diff(p, 1);
		if (diff < 0 || bpf_l4_csum_replace(skb, l4 + PEER_CHECK_OFF, 0, diff,
						    BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
			return -1;
		__builtin_memcpy(old, (__u8 *)h + 8, 6);
		old[3] = 0;
		diff = bpf_csum_diff((__be32 *)old, sizeof(old), (__be32 *)neu, sizeof(neu), 0);
		if (diff < 0 || bpf_l4_csum_replace(skb, l4 + PEER_CHECK_OFF, 0, diff,
						    BPF_F_MARK_MANGLED_0))
			return -1;
	}
	if (bpf_skb_store_bytes(skb, l4 + PEER_INNER_OFF, neu, 6, 0))
		return -1;
	if (bpf_skb_adjust_room(skb, -UDPC_PEER_HDR_LEN, BPF_ADJ_ROOM_NET, 0))
		return -1;
	if (set_ip_len(skb, p, p->ip_len, p->ip_len - UDPC_PEER_HDR_LEN))
		return -1;
	p->ip_len -= UDPC_PEER_HDR_LEN;
	p->sport = sport;
	p->dport = dport;
	return 0;
}

#endif /* UDPC_BPF_LIB_ENCAP_H */
