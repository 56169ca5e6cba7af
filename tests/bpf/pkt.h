/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Test packet builder: Ethernet + IPv4/IPv6 + UDP (or TCP, ICMP, ARP) from a
 * declarative spec, with every checksum computed here (RFC 1071), never taken
 * from the program under test. Options damage the packet on purpose.
 *
 * Header-only and written with byte offsets rather than kernel structs, so the
 * layout the tests expect is spelled out independently of what bpf/ includes.
 */
#ifndef UDPC_TEST_PKT_H
#define UDPC_TEST_PKT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PKT_MAX 2048

#define PKT_IPV4 4
#define PKT_IPV6 6
#define PKT_ARP 1

#define PKT_IP_MF 0x2000

/* Where things are in a frame with a 14-byte Ethernet header. */
#define PKT_ETH_LEN 14
#define PKT_IP4_LEN 20
#define PKT_IP6_LEN 40
#define PKT_UDP_LEN 8

struct pkt_spec {
	int family;		/* PKT_IPV4, PKT_IPV6, PKT_ARP; 0 = no packet */
	const char *smac;	/* "02:00:00:00:00:01" */
	const char *dmac;
	const char *saddr;	/* literal of the family's address */
	const char *daddr;
	uint8_t proto;		/* IPPROTO_UDP (default), _TCP, _ICMP */
	uint16_t sport;
	uint16_t dport;
	const char *payload;	/* bytes after the L4 header */
	size_t payload_len;	/* 0: strlen(payload) */

	/* Deliberate oddities and damage. */
	bool udp_csum_zero;	/* IPv4: UDP checksum disabled (0) */
	int ihl;		/* IPv4 IHL field: 0 means 5; >5 adds NOP options, <5 lies */
	uint16_t frag_off;	/* IPv4 flags and fragment offset, host order */
	bool set_id;		/* IPv4: use ip_id (what the stack chose) instead of 0x1234 */
	uint16_t ip_id;
	int ip_len_delta;	/* added to tot_len / payload_len once the packet is built */
	int udp_len_delta;	/* added to the UDP length field (checksummed as written) */
	bool hbh;		/* IPv6: 8-byte hop-by-hop header before the L4 header */
	bool frag6;		/* IPv6: a fragment header before the L4 header (after hbh) */
	uint16_t frag6_off;	/* its offset and flags field, host order (offset << 3 | M) */
	size_t pad_to;		/* Ethernet padding: zero bytes up to this frame length */
	size_t cut;		/* keep only the first `cut` bytes of the frame */
};

static inline void pkt_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline uint16_t pkt_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071: one's complement sum of 16-bit big-endian words; an odd tail byte is
 * padded with zero. Only the last chunk added to a sum may have odd length. */
static inline uint64_t pkt_csum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; p += 2, len -= 2)
		sum += pkt_get16(p);
	if (len)
		sum += (uint64_t)p[0] << 8;
	return sum;
}

static inline uint16_t pkt_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline int pkt_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	int i;

	if (!s || sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* Address of a family into buf (4 or 16 bytes); -1 on a malformed literal. */
static inline int pkt_parse_addr(int family, const char *s, uint8_t *buf)
{
	if (!s)
		return -1;
	return inet_pton(family == PKT_IPV6 ? AF_INET6 : AF_INET, s, buf) == 1 ? 0 : -1;
}

/* Sum of the pseudo-header for an L4 checksum (RFC 768 / RFC 8200 8.1). */
static inline uint64_t pkt_pseudo_sum(int family, const uint8_t *saddr, const uint8_t *daddr,
				      uint8_t proto, uint32_t l4_len)
{
	int alen = family == PKT_IPV6 ? 16 : 4;
	uint64_t sum = 0;

	sum = pkt_csum_add(sum, saddr, alen);
	sum = pkt_csum_add(sum, daddr, alen);
	sum += proto;
	sum += l4_len >> 16;
	sum += l4_len & 0xffff;
	return sum;
}

/*
 * Build the frame described by s into buf. Returns its length, or -1 if the spec
 * is malformed or does not fit.
 */
static inline int pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	uint8_t saddr[16], daddr[16], *ip, *l4;
	size_t plen, l3_len, l4_len, ext_len, len;
	uint8_t proto = s->proto ? s->proto : IPPROTO_UDP;
	int ihl = s->ihl ? s->ihl : 5;
	int hlen;

	if (cap < PKT_MAX)
		return -1;
	memset(buf, 0, cap);
	if (pkt_parse_mac(s->dmac, buf) || pkt_parse_mac(s->smac, buf + 6) ||
	    pkt_parse_addr(s->family, s->saddr, saddr) || pkt_parse_addr(s->family, s->daddr, daddr))
		return -1;

	if (s->family == PKT_ARP) {
		uint8_t *a = buf + PKT_ETH_LEN;

		pkt_put16(buf + 12, 0x0806);
		pkt_put16(a, 1);		/* Ethernet */
		pkt_put16(a + 2, 0x0800);	/* IPv4 */
		a[4] = 6;
		a[5] = 4;
		pkt_put16(a + 6, 1);		/* request */
		memcpy(a + 8, buf + 6, 6);
		memcpy(a + 14, saddr, 4);
		memcpy(a + 24, daddr, 4);
		len = PKT_ETH_LEN + 28;
		goto out;
	}

	plen = s->payload ? (s->payload_len ? s->payload_len : strlen(s->payload)) : 0;
	hlen = s->family == PKT_IPV4 ? (ihl > 5 ? ihl : 5) * 4 : PKT_IP6_LEN;
	ext_len = s->family == PKT_IPV6 ? (s->hbh ? 8 : 0) + (s->frag6 ? 8 : 0) : 0;
	ip = buf + PKT_ETH_LEN;
	l4 = ip + hlen + ext_len;
	switch (proto) {
	case IPPROTO_UDP:
		l4_len = PKT_UDP_LEN + plen;
		break;
	case IPPROTO_TCP:
		l4_len = 20 + plen;
		break;
	case IPPROTO_ICMP:
		l4_len = 8 + plen;
		break;
	default:
		return -1;
	}
	l3_len = hlen + ext_len + l4_len;
	if (PKT_ETH_LEN + l3_len > cap)
		return -1;

	/* L4 header and payload, checksum last. */
	memcpy(l4 + (l4_len - plen), s->payload ? s->payload : "", plen);
	if (proto == IPPROTO_UDP) {
		uint16_t ulen = (uint16_t)(l4_len + s->udp_len_delta);
		uint16_t ck;

		pkt_put16(l4, s->sport);
		pkt_put16(l4 + 2, s->dport);
		pkt_put16(l4 + 4, ulen);
		ck = pkt_csum_fold(pkt_csum_add(pkt_pseudo_sum(s->family, saddr, daddr, proto, ulen),
						l4, l4_len));
		/* RFC 768: a computed 0 is sent as all ones; 0 means "no checksum". */
		pkt_put16(l4 + 6, s->udp_csum_zero ? 0 : ck ? ck : 0xffff);
	} else if (proto == IPPROTO_TCP) {
		pkt_put16(l4, s->sport);
		pkt_put16(l4 + 2, s->dport);
		l4[7] = 1;		/* seq 1 */
		l4[12] = 5 << 4;	/* data offset */
		l4[13] = 0x02;		/* SYN */
		pkt_put16(l4 + 14, 65535);
		pkt_put16(l4 + 16, pkt_csum_fold(pkt_csum_add(
			pkt_pseudo_sum(s->family, saddr, daddr, proto, l4_len), l4, l4_len)));
	} else {
		l4[0] = 8;		/* echo request */
		pkt_put16(l4 + 4, 1);	/* id */
		pkt_put16(l4 + 6, 1);	/* seq */
		pkt_put16(l4 + 2, pkt_csum_fold(pkt_csum_add(0, l4, l4_len)));
	}

	if (s->family == PKT_IPV4) {
		pkt_put16(buf + 12, 0x0800);
		ip[0] = 0x40 | (ihl & 0xf);
		pkt_put16(ip + 2, (uint16_t)(l3_len + s->ip_len_delta));
		pkt_put16(ip + 4, s->set_id ? s->ip_id : 0x1234);
		pkt_put16(ip + 6, s->frag_off);
		ip[8] = 64;			/* ttl */
		ip[9] = proto;
		memcpy(ip + 12, saddr, 4);
		memcpy(ip + 16, daddr, 4);
		memset(ip + PKT_IP4_LEN, 1, hlen - PKT_IP4_LEN);	/* NOP options */
		pkt_put16(ip + 10, pkt_csum_fold(pkt_csum_add(0, ip, hlen)));
	} else if (s->family == PKT_IPV6) {
		pkt_put16(buf + 12, 0x86dd);
		ip[0] = 0x60;
		pkt_put16(ip + 4, (uint16_t)(l3_len - PKT_IP6_LEN + s->ip_len_delta));
		/* 0: hop-by-hop options, 44: fragment */
		ip[6] = s->hbh ? 0 : s->frag6 ? 44 : proto;
		ip[7] = 64;			/* hop limit */
		memcpy(ip + 8, saddr, 16);
		memcpy(ip + 24, daddr, 16);
		if (s->hbh) {
			uint8_t *h = ip + PKT_IP6_LEN;

			h[0] = s->frag6 ? 44 : proto;	/* next header */
			h[1] = 0;		/* 8 bytes in all */
			h[2] = 1;		/* PadN option, 4 bytes of padding */
			h[3] = 4;
		}
		if (s->frag6) {
			uint8_t *h = ip + PKT_IP6_LEN + (s->hbh ? 8 : 0);

			h[0] = proto;		/* next header */
			h[1] = 0;		/* reserved */
			pkt_put16(h + 2, s->frag6_off);
			pkt_put16(h + 4, 0x1234); /* identification */
			pkt_put16(h + 6, 0x5678);
		}
	} else {
		return -1;
	}
	len = PKT_ETH_LEN + l3_len;

out:
	if (s->pad_to > len) {
		if (s->pad_to > cap)
			return -1;
		len = s->pad_to;
	}
	if (s->cut) {
		if (s->cut > len)
			return -1;
		len = s->cut;
	}
	return (int)len;
}

/*
 * Independent check of a frame's checksums: IPv4 header checksum and the UDP
 * checksum over the pseudo-header (0 is accepted for IPv4 only). Returns 0 if
 * they verify (or the frame is not IPv4/IPv6 UDP), -1 with a reason in why.
 */
static inline int pkt_verify_csums(const uint8_t *f, size_t len, char *why, size_t why_len)
{
	const uint8_t *ip = f + PKT_ETH_LEN, *udp;
	uint16_t ethertype, ulen;
	int family;

	if (len < PKT_ETH_LEN)
		return 0;
	ethertype = pkt_get16(f + 12);
	if (ethertype == 0x0800 && len >= PKT_ETH_LEN + PKT_IP4_LEN) {
		size_t hlen = (ip[0] & 0xf) * 4;

		if (hlen < PKT_IP4_LEN || len < PKT_ETH_LEN + hlen)
			return 0;
		if (pkt_csum_fold(pkt_csum_add(0, ip, hlen)) != 0) {
			snprintf(why, why_len, "IPv4 header checksum 0x%04x does not verify",
				 pkt_get16(ip + 10));
			return -1;
		}
		if (ip[9] != IPPROTO_UDP || (pkt_get16(ip + 6) & 0x3fff))
			return 0;
		family = PKT_IPV4;
		udp = ip + hlen;
	} else if (ethertype == 0x86dd && len >= PKT_ETH_LEN + PKT_IP6_LEN) {
		if (ip[6] != IPPROTO_UDP)
			return 0;
		family = PKT_IPV6;
		udp = ip + PKT_IP6_LEN;
	} else {
		return 0;
	}
	if ((size_t)(udp - f) + PKT_UDP_LEN > len)
		return 0;
	ulen = pkt_get16(udp + 4);
	if (ulen < PKT_UDP_LEN || (size_t)(udp - f) + ulen > len)
		return 0;
	if (!pkt_get16(udp + 6)) {
		if (family == PKT_IPV4)
			return 0;
		snprintf(why, why_len, "IPv6 UDP checksum is 0");
		return -1;
	}
	if (pkt_csum_fold(pkt_csum_add(pkt_pseudo_sum(family, family == PKT_IPV4 ? ip + 12 : ip + 8,
						      family == PKT_IPV4 ? ip + 16 : ip + 24,
						      IPPROTO_UDP, ulen),
				       udp, ulen)) != 0) {
		snprintf(why, why_len, "UDP checksum 0x%04x does not verify", pkt_get16(udp + 6));
		return -1;
	}
	return 0;
}

/*
 * Finish a UDP checksum left for the device (CHECKSUM_PARTIAL: the field holds the
 * pseudo-header sum only), as a NIC or skb_checksum_help() would. Returns -1 if
 * the frame is not IPv4/IPv6 UDP.
 */
static inline int pkt_complete_udp_csum(uint8_t *f, size_t len)
{
	uint8_t *ip = f + PKT_ETH_LEN, *udp;
	uint16_t ulen, ck;

	if (len >= PKT_ETH_LEN + PKT_IP4_LEN && pkt_get16(f + 12) == 0x0800 &&
	    ip[9] == IPPROTO_UDP)
		udp = ip + (ip[0] & 0xf) * 4;
	else if (len >= PKT_ETH_LEN + PKT_IP6_LEN && pkt_get16(f + 12) == 0x86dd &&
		 ip[6] == IPPROTO_UDP)
		udp = ip + PKT_IP6_LEN;
	else
		return -1;
	if ((size_t)(udp - f) + PKT_UDP_LEN > len)
		return -1;
	ulen = pkt_get16(udp + 4);
	if (ulen < PKT_UDP_LEN || (size_t)(udp - f) + ulen > len)
		return -1;
	ck = pkt_csum_fold(pkt_csum_add(0, udp, ulen));
	pkt_put16(udp + 6, ck ? ck : 0xffff);
	return 0;
}

/* Hex dump of a frame to out, 16 bytes a line, marking bytes that differ from ref. */
static inline void pkt_hexdump(char *out, size_t out_len, const uint8_t *f, size_t len,
			       const uint8_t *ref, size_t ref_len)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 8 < out_len; i++) {
		bool diff = ref && (i >= ref_len || f[i] != ref[i]);

		if (i % 16 == 0)
			n += snprintf(out + n, out_len - n, "%s    %04zx:", i ? "\n" : "", i);
		n += snprintf(out + n, out_len - n, "%c%02x", diff ? '*' : ' ', f[i]);
	}
	if (n < out_len)
		out[n] = '\0';
}

#endif /* UDPC_TEST_PKT_H */
