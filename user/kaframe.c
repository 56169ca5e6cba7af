// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* A keepalive's frame (kaframe.h). */
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <string.h>

#include "kaframe.h"

uint16_t udpc_csum16(const void *data, size_t len, uint16_t sum)
{
	const uint8_t *p = data;
	uint32_t acc = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

size_t udpc_ka_frame(const struct udpc_ka_spec *s, uint8_t *buf)
{
	const size_t l4_len = 8 + UDPC_PEER_HDR_LEN + sizeof(struct udpc_peer_ka);
	size_t alen = s->family == UDPC_AF_INET ? 4 : 16, l3_len;
	struct udpc_peer_hdr h = {
		.ver_type = UDPC_PEER_VT(UDPC_PEER_T_KEEPALIVE),
		.path = s->path,
		.seq = htonl(s->seq),
		.session = s->session,
		.check = 0, /* no application datagram to carry the checksum of */
	};
	struct udpc_peer_ka ka = {
		.stamp_ns = htobe64(s->stamp_ns),
		.rtt_ns = htobe64(s->rtt_ns),
		.rx_packets = htobe64(s->rx_packets),
		.rx_first = htobe64(s->rx_first),
		.seq_first = htobe64(s->seq_first),
		.seq_last = htobe64(s->seq_last),
	};
	uint8_t pseudo[4], *ip = buf, *udp;
	uint16_t ck;

	if (s->family == UDPC_AF_INET) {
		l3_len = 20;
		memset(ip, 0, l3_len);
		ip[0] = 0x45;
		put16(ip + 2, l3_len + l4_len);
		put16(ip + 6, 0x4000); /* DF: a keepalive is never fragmented */
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, s->src.w, 4);
		memcpy(ip + 16, s->dst.w, 4);
		put16(ip + 10, ~udpc_csum16(ip, l3_len, 0));
	} else if (s->family == UDPC_AF_INET6) {
		l3_len = 40;
		memset(ip, 0, l3_len);
		ip[0] = 0x60;
		put16(ip + 4, l4_len);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, s->src.w, 16);
		memcpy(ip + 24, s->dst.w, 16);
	} else {
		return 0;
	}
	udp = buf + l3_len;
	put16(udp, s->sport);
	put16(udp + 2, s->dport);
	put16(udp + 4, l4_len);
	put16(udp + 6, 0);
	memcpy(udp + 8, &h, sizeof(h));
	memcpy(udp + 8 + sizeof(h), &ka, sizeof(ka));

	/* Pseudo-header: both addresses (in place in the IP header), protocol, length. */
	put16(pseudo, IPPROTO_UDP);
	put16(pseudo + 2, l4_len);
	ck = udpc_csum16(ip + l3_len - 2 * alen, 2 * alen, 0);
	ck = udpc_csum16(pseudo, sizeof(pseudo), ck);
	ck = ~udpc_csum16(udp, l4_len, ck);
	put16(udp + 6, ck ? ck : 0xffff);
	return l3_len + l4_len;
}
