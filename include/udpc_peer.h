/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Peer mode (`attach --peer` on the client, `serve` on the server): the header each
 * copy carries on the wire, and the maps both ends keep about sessions. Same rules
 * as udpclone.h: fixed-width fields, explicit padding, sizes checked at compile time.
 * The protocol is described in docs/PEER.md.
 */
#ifndef UDPC_PEER_H
#define UDPC_PEER_H

#include <linux/types.h>

#include "udpclone.h"

/*
 * The peer header, right after the UDP header of every copy (16 bytes):
 *
 *   0       ver_type   version (high 4 bits, UDPC_PEER_VERSION) and type (low 4)
 *   1       path       path id: the client's destination slot the copy went by
 *   2..5    seq        per session and direction, from 1; 0 is never sent
 *   6..13   session    random, chosen by the client per client flow
 *   14..15  check      the application datagram's UDP checksum, carried through:
 *                      it covers bytes 8..15 of this header and the payload, with a
 *                      pseudo-header of protocol and UDP length only (no addresses).
 *                      0: the sender's datagram had none (IPv4 only).
 *
 * Bytes 8..15 are where the application's own UDP header was: the sender inserts
 * 16 bytes after the IP header, and the original checksum field stays in place, so
 * a CHECKSUM_PARTIAL packet is still completed by the device (or the stack) at
 * the same place. The outer UDP checksum covers the whole header and payload as
 * usual; it is computed without reading the payload, from the carried checksum.
 */
#define UDPC_PEER_VERSION 1
#define UDPC_PEER_T_DATA 1	/* an application datagram */
#define UDPC_PEER_T_KEEPALIVE 2	/* client to server, per path, each second: struct udpc_peer_ka */
#define UDPC_PEER_T_ECHO 3	/* the server's answer to a keepalive, by the same path */
#define UDPC_PEER_HDR_LEN 16
#define UDPC_PEER_VT(type) ((UDPC_PEER_VERSION << 4) | (type))
#define UDPC_PEER_VER(vt) ((vt) >> 4)
#define UDPC_PEER_TYPE(vt) ((vt) & 0xf)

struct udpc_peer_hdr {
	__u8 ver_type;
	__u8 path;
	__be32 seq;
	__u64 session;		/* opaque random bytes: no byte order */
	__be16 check;
} __attribute__((packed));
_Static_assert(sizeof(struct udpc_peer_hdr) == UDPC_PEER_HDR_LEN, "udpc_peer_hdr layout");

/*
 * The payload of a keepalive and of its echo, after the peer header; big-endian.
 * The client's daemon sends one by each path of each active session every second
 * (header: that path's id, a keepalive counter as sequence number). The server's
 * ingress answers it at once, by the same path: the same bytes with the type set
 * to echo and the server's counters of that path in place of the client's. So
 * each end learns what the other received by each path (the loss of each
 * direction, from sequence gaps), the client the round trip time, and a path
 * that carries no data keeps its NAT binding and its place on the server.
 */
struct udpc_peer_ka {
	__be64 stamp_ns;	/* the client's CLOCK_MONOTONIC when sent; echoed unchanged */
	__be64 rtt_ns;		/* client: its smoothed RTT of this path (the server shows it) */
	__be64 rx_packets;	/* the sender's udpc_peer_path counters of this path */
	__be64 rx_first;
	__be64 seq_first;
	__be64 seq_last;
};
_Static_assert(sizeof(struct udpc_peer_ka) == 48, "udpc_peer_ka layout");

/* The duplicate window: how many sequence numbers back a copy is still judged on
 * its own; an older one is dropped as late. A power of two. */
#ifndef UDPC_PEER_WINDOW
#define UDPC_PEER_WINDOW 1024
#endif
_Static_assert((UDPC_PEER_WINDOW & (UDPC_PEER_WINDOW - 1)) == 0, "window: a power of two");

/* A copy this far behind the highest sequence number seen is taken as proof that
 * the highest was bogus: the window resynchronises to it (bpf/lib/dedup.h). */
#define UDPC_PEER_RESYNC (1U << 16)
_Static_assert(UDPC_PEER_RESYNC > 4 * UDPC_PEER_WINDOW, "resync: far beyond the window");

/* Sequence numbers widened to 64 bits (rx_top, seq_first, seq_last) start at this
 * plus the first number seen, so that a copy from before it still compares
 * below; only differences between them mean anything. */
#define UDPC_PEER_SEQ_BIAS (1ULL << 32)

#ifndef UDPC_DEFAULT_SESSIONS
#define UDPC_DEFAULT_SESSIONS 1024 /* --max-sessions default, both ends */
#endif

/* udpc_peer_cfg: ARRAY, one entry. Written by user; zero (no flags) = peer mode off. */
#define UDPC_PEER_CLIENT (1U << 0) /* attach --peer: copies get the header, replies lose it */
#define UDPC_PEER_SERVER (1U << 1) /* serve: the other end */
struct udpc_peer_cfg {
	__u32 flags;		/* UDPC_PEER_* */
	__be16 to_port;		/* serve: the local application's port (--to) */
	__u16 _pad;
	__u64 path_timeout_ns;	/* serve: a path silent this long gets no more replies */
	__u64 session_timeout_ns; /* serve: an idle session's address may be reused after */
	__u32 gso_ifindex;	/* client: where UDP GSO super-packets go to be cut into
				 * datagrams (the daemon's veth pair: user/gsopath.c);
				 * 0: none, they are dropped (tx_gso, tx_errors) */
	__u32 _pad1;
	__u64 ka_cookie[2];	/* client: the socket cookies (SO_COOKIE) of the daemon's
				 * keepalive sockets, IPv4 and IPv6: their packets pass
				 * udpc_egress untouched, even to the listen port; 0: none */
};
_Static_assert(sizeof(struct udpc_peer_cfg) == 48, "udpc_peer_cfg layout");

/* One path of a session: how the other end is reached by it, and what came by it. */
#define UDPC_PATH_SEEN (1U << 0) /* serve: addr/port/local are known */
struct udpc_peer_path {
	struct udpc_addr addr;	/* serve: the client's address on this path, as seen (after NAT) */
	struct udpc_addr local;	/* serve: our own address the client sent to */
	__be16 port;		/* serve: the client's port on this path, as seen */
	__u8 family;		/* UDPC_AF_* of addr and local */
	__u8 flags;		/* UDPC_PATH_* */
	__u32 _pad;
	__u64 last_rx_ns;	/* bpf_ktime_get_ns() of the last copy that came by it */
	__u64 rx_packets;	/* copies that came by this path */
	__u64 rx_first;		/* ... that were the first of their sequence number */
	__u64 rx_late;		/* ... that were older than the window */
	__u64 seq_first;	/* lowest and highest sequence number seen on this path: */
	__u64 seq_last;		/*   with rx_packets, the path's loss (sequence gaps) */
	__u64 tx_packets;	/* copies sent by this path (serve; the client counts per slot) */
	/* Path health, from keepalives (see struct udpc_peer_ka). */
	__u64 rtt_ns;		/* smoothed round trip time (7/8 old + 1/8 new), 0: none yet */
	__u64 rtt_last_ns;	/* the last sample */
	__u64 ka_rx;		/* client: echoes received; serve: keepalives received */
	__u64 ka_last_ns;	/* when the last one came */
	__u64 peer_rx_packets;	/* what the other end reported of this path: its */
	__u64 peer_rx_first;	/*   udpc_peer_path counters, for the loss of the */
	__u64 peer_seq_first;	/*   direction towards it */
	__u64 peer_seq_last;
};
_Static_assert(sizeof(struct udpc_peer_path) == 160, "udpc_peer_path layout");

/*
 * udpc_sessions: LRU_HASH[--max-sessions], session id -> session. The client
 * creates one per client flow (egress); the server when a session's first copy
 * arrives. Counters are updated from any CPU without a lock: close, not exact.
 */
struct udpc_session {
	__u64 tx_seq;		/* last sequence number sent (atomic add; 0 before the first) */
	__u64 rx_top;		/* highest sequence number received, widened to 64 bits
				 * (see UDPC_PEER_SEQ_BIAS); 0 before the first */
	struct udpc_addr label;	/* serve: the source the local application sees; client: the
				 * client application's address (its flow), for keepalives */
	struct udpc_addr local;	/* serve: our address the application's datagrams go to
				 * (the first copy's destination); copies by a path of the
				 * other family are delivered from label to it */
	__be16 label_port;
	__u8 family;		/* UDPC_AF_* of label and local */
	__u8 _pad0;
	__u32 _pad1;
	__u64 created_ns;
	__u64 last_rx_ns;
	__u64 last_tx_ns;	/* refreshed at most every 100 ms */
	__u64 rx_delivered;	/* first copies delivered */
	__u64 rx_duplicates;	/* later copies dropped */
	__u64 rx_late;		/* copies older than the window, dropped */
	struct udpc_peer_path path[UDPC_MAX_DESTS]; /* index: path id */
	__u32 window[UDPC_PEER_WINDOW]; /* seq % WINDOW -> low 32 bits of the last seq seen */
};
_Static_assert(sizeof(struct udpc_session) ==
		       104 + UDPC_MAX_DESTS * sizeof(struct udpc_peer_path) + 4 * UDPC_PEER_WINDOW,
	       "udpc_session layout");

/* udpc_labels: LRU_HASH[--max-sessions] (serve): the address a session's datagrams
 * are delivered from (key: udpc_flow_key) -> session id, for the replies. */

/* udpc_peer_stats: PERCPU_ARRAY, one entry; user sums over CPUs. */
struct udpc_peer_stats {
	__u64 rx_delivered;	/* first copies delivered to the application */
	__u64 rx_duplicates;	/* later copies of a delivered sequence number: dropped */
	__u64 rx_late;		/* older than the window: dropped */
	__u64 rx_malformed;	/* to our port, but short, bad version or type: dropped */
	__u64 rx_unknown;	/* client: session unknown or not this flow's: dropped */
	__u64 sessions_new;	/* created; minus those in the map = evicted */
	__u64 session_errors;	/* could not create a session: dropped */
	__u64 label_conflicts;	/* serve: the delivery address is another live session's */
	__u64 path_moves;	/* serve: a path's address or port changed (NAT rebinding) */
	__u64 tx_encap;		/* datagrams given the header (once, before the copies) */
	__u64 tx_gso;		/* GSO super-packets: cannot take a header as they are: sent to
				 * be cut into datagrams (gso_ifindex), which come back here */
	__u64 tx_too_big;	/* the header would make the datagram too long: dropped */
	__u64 tx_no_path;	/* serve: a reply for a session with no live path: dropped */
	__u64 tx_errors;	/* the header could not be added: dropped */
	__u64 ka_rx;		/* keepalives (serve) or echoes (client) taken */
	__u64 ka_echoed;	/* serve: keepalives answered */
};
_Static_assert(sizeof(struct udpc_peer_stats) == 16 * 8, "udpc_peer_stats layout");

#endif /* UDPC_PEER_H */
