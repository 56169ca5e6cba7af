/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Peer mode: the frame of a keepalive (docs/PEER.md, "Path health"), IP header
 * included, as the daemon hands it to a raw socket. Pure byte work: no libbpf, no
 * system state, unit-tested without root.
 */
#ifndef UDPC_KAFRAME_H
#define UDPC_KAFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "udpc_peer.h"

/* IPv6 header, UDP header, peer header, payload: the longest frame. */
#define UDPC_KA_FRAME_MAX (40 + 8 + UDPC_PEER_HDR_LEN + sizeof(struct udpc_peer_ka))

/* One keepalive: where it goes, by which path, and what it reports (host order). */
struct udpc_ka_spec {
	int family;			/* UDPC_AF_INET or UDPC_AF_INET6 */
	struct udpc_addr src, dst;	/* IPv4 in word 0 */
	uint16_t sport, dport;
	uint8_t path;
	uint32_t seq;			/* never 0 */
	uint64_t session;		/* as in the map: opaque bytes */
	uint64_t stamp_ns, rtt_ns, rx_packets, rx_first, seq_first, seq_last;
};

/* Writes the frame of s into buf (at least UDPC_KA_FRAME_MAX bytes): IPv4 with its
 * header checksum, or IPv6; UDP with its checksum computed over everything.
 * Returns its length, or 0 for an unknown family. */
size_t udpc_ka_frame(const struct udpc_ka_spec *s, uint8_t *buf);

/* The ones' complement sum of RFC 1071 over len bytes, folded, not inverted, added
 * to sum (a partial sum from an earlier call). */
uint16_t udpc_csum16(const void *data, size_t len, uint16_t sum);

#endif
