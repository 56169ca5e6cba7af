/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Everything the data path (bpf/) and the control plane (user/) must agree on:
 * limits, map value layouts and their flag bits. Fixed-width fields only, explicit
 * padding, sizes checked at compile time on both sides.
 */
#ifndef UDPCLONE_H
#define UDPCLONE_H

#include <linux/types.h>

/* Limits; each can be overridden at build time (-DUDPC_MAX_DESTS=32). */
#ifndef UDPC_MAX_DESTS
#define UDPC_MAX_DESTS 16 /* destinations (copies) per attached interface */
#endif
#ifndef UDPC_MAX_FLOWS
#define UDPC_MAX_FLOWS 65536 /* client flows remembered for the return path */
#endif
#define UDPC_HOST_MAX 256	/* a destination's host as given, NUL included */
#define UDPC_IFNAME_MAX 16	/* IFNAMSIZ */

/* Pins live in UDPC_PIN_ROOT/<ifname>/<map name>. */
#define UDPC_PIN_ROOT "/sys/fs/bpf/udpclone-bpf"

/* Our TC filters: fixed handle and priority, so detach removes only what we made. */
#define UDPC_TC_HANDLE 0x55dc
#define UDPC_TC_PRIO 0xc10

/* Address families as they appear in map keys and values (Linux AF_* values). */
#define UDPC_AF_INET 2
#define UDPC_AF_INET6 10

/* IPv4 addresses are stored in word 0 of a 4-word address, the rest zero. */
struct udpc_addr {
	__be32 w[4];
};

/* udpc_config: ARRAY, one entry (key 0). Written by user, read by both programs. */
#define UDPC_CFG_ENABLED (1U << 0)
#define UDPC_CFG_LISTEN_ADDR (1U << 1) /* match only listen_addr (of listen_family) */
struct udpc_config {
	__u32 flags;		/* UDPC_CFG_* */
	__be16 listen_port;	/* UDP destination port that is fanned out */
	__u8 listen_family;	/* with UDPC_CFG_LISTEN_ADDR: UDPC_AF_INET or _INET6 */
	__u8 l2_len;		/* 14 on Ethernet-like devices, 0 on raw-IP ones */
	struct udpc_addr listen_addr;
	__u64 flow_timeout_ns;	/* a flow idle for longer gets no reply mapping */
	__u32 ifindex;		/* the attached interface */
	__u32 owner_pid;	/* pid of the attach daemon driving it (informational) */
};
_Static_assert(sizeof(struct udpc_config) == 40, "udpc_config layout");

/* udpc_dests: ARRAY[UDPC_MAX_DESTS], index = position on the command line.
 * Written by user (one slot at a time), read by both programs. A destination gets
 * copies of packets of a family only while it has an address of that family. */
#define UDPC_DEST_V4 (1U << 0) /* addr4 is valid */
#define UDPC_DEST_V6 (1U << 1) /* addr6 is valid */
struct udpc_dest {
	__u32 flags;		/* UDPC_DEST_* ; 0 = slot unused or unresolved */
	__be16 port;
	__u16 _pad0;
	__be32 addr4;
	struct udpc_addr addr6;
};
_Static_assert(sizeof(struct udpc_dest) == 28, "udpc_dest layout");

/*
 * udpc_active: ARRAY, one entry (key 0), derived from udpc_dests by user and written
 * after each change to it: per family, the slots that have an address of that family,
 * in slot order. Egress visits only these. It still checks each slot's address, so a
 * list a moment behind udpc_dests never sends a copy to a slot just cleared.
 */
#define UDPC_ACTIVE_V4 0
#define UDPC_ACTIVE_V6 1
struct udpc_active {
	__u32 n[2];			/* [UDPC_ACTIVE_V4], [UDPC_ACTIVE_V6]: slots listed */
	__u8 slot[2][UDPC_MAX_DESTS];	/* slot[f][0..n[f]) */
	/* Of those, the slots with no address of the other family: in peer mode a
	 * datagram's copies to them change family (the other family's only[]). */
	__u32 n_only[2];
	__u8 only[2][UDPC_MAX_DESTS];
};
_Static_assert(sizeof(struct udpc_active) == (16 + 4 * UDPC_MAX_DESTS + 3) / 4 * 4,
	       "udpc_active layout");
_Static_assert(UDPC_MAX_DESTS <= 255, "udpc_active holds slot numbers in a byte");

/*
 * udpc_prev: ARRAY[UDPC_MAX_DESTS], a destination's addresses before its last
 * change, written by user when an address changes. Until `until_ns` replies from
 * them are still that destination's: they were on their way when it changed.
 */
#ifndef UDPC_PREV_GRACE_S
#define UDPC_PREV_GRACE_S 30 /* how long replies from a previous address are taken */
#endif
struct udpc_prev {
	__u32 flags;		/* UDPC_DEST_V4 / _V6: which previous address is set */
	__be32 addr4;
	struct udpc_addr addr6;
	__u64 until_ns;		/* bpf_ktime_get_ns() clock */
};
_Static_assert(sizeof(struct udpc_prev) == 32, "udpc_prev layout");

/*
 * udpc_uplinks: ARRAY[UDPC_MAX_DESTS], per destination slot: the interface its copy
 * leaves by when it is not the attached one (HOST:PORT@IFACE). Kept by user from
 * the interface's state: index, link up, addresses, MTU, link type.
 */
#define UDPC_UPLINK_VIA (1U << 3)  /* this destination leaves by an uplink, present or not */
#define UDPC_UPLINK_UP (1U << 0)   /* the uplink exists and is up: send */
#define UDPC_UPLINK_SRC4 (1U << 1) /* rewrite IPv4 sources to src4 */
#define UDPC_UPLINK_SRC6 (1U << 2) /* rewrite IPv6 sources to src6 */
struct udpc_uplink {
	__u32 ifindex;		/* the uplink's, while it exists */
	__u32 flags;		/* UDPC_UPLINK_*; without VIA: the attached interface, whose
				 * addresses (SRC4/SRC6) attach --peer keeps here for
				 * copies that change family */
	__be32 src4;		/* the uplink's own addresses: replies come back to them */
	struct udpc_addr src6;
	__u16 mtu;		/* a bigger copy is not sent (mtu_errors) */
	__u8 l2_len;		/* 14, or 0 on raw-IP uplinks (tun, ppp, wwan) */
	__u8 _pad;
	__u32 table;		/* HOST:PORT@table=N: routes come from table N; 0 if not */
};
_Static_assert(sizeof(struct udpc_uplink) == 36, "udpc_uplink layout");

/* udpc_dest_info: ARRAY[UDPC_MAX_DESTS], control plane only (the programs never
 * read it). It makes `status` work from any shell with nothing but the pins. */
#define UDPC_STATE_UNUSED 0	/* no destination in this slot */
#define UDPC_STATE_UNRESOLVED 1 /* never resolved: gets no copies */
#define UDPC_STATE_ACTIVE 2	/* last resolution succeeded */
#define UDPC_STATE_STALE 3	/* last resolution failed: last good address in use */
struct udpc_dest_info {
	char host[UDPC_HOST_MAX]; /* as given: name or literal address */
	__u32 state;		  /* UDPC_STATE_* */
	__s32 last_error;	  /* getaddrinfo() code of the last failure, 0 if none */
	__u64 last_resolved;	  /* unix time of the last successful resolution */
	__u64 last_changed;	  /* unix time the address last changed */
	char uplink[UDPC_IFNAME_MAX]; /* HOST:PORT@IFACE: IFACE; "" for the attached one */
	__u32 table;		  /* HOST:PORT@table=N: N; 0 if none */
	__u32 _pad;
};
_Static_assert(sizeof(struct udpc_dest_info) == UDPC_HOST_MAX + 48, "udpc_dest_info layout");

/* udpc_dest_stats: PERCPU_ARRAY[UDPC_MAX_DESTS]; user sums over CPUs. */
struct udpc_dest_stats {
	__u64 tx_packets;	/* copies sent (the original counts as one) */
	__u64 tx_bytes;
	__u64 tx_errors;	/* bpf_clone_redirect()/rewrite failed: copy lost */
	__u64 fib_errors;	/* no route to the destination: copy dropped */
	__u64 mtu_errors;	/* bigger than the uplink's MTU: copy dropped */
	__u64 down_drops;	/* the uplink is down or missing: copy dropped */
	__u64 icmp_errors;	/* "unreachable" errors about our copies, kept from the client */
	__u64 neigh_missing;	/* next hop unknown: sent with the original's L2 header */
	__u64 rx_packets;	/* replies mapped back to a client flow */
	__u64 rx_bytes;
	__u64 last_rx_ns;	/* bpf_ktime_get_ns() of the last reply (max over CPUs) */
};
_Static_assert(sizeof(struct udpc_dest_stats) == 88, "udpc_dest_stats layout");

/*
 * udpc_nexthops: ARRAY[UDPC_MAX_DESTS], written by user from the kernel's route and
 * neighbour tables. bpf_fib_lookup() answers only on interfaces with forwarding
 * enabled; on a host (forwarding off) the copies take their L2 header from here.
 * An entry applies only while its address equals the destination's current one.
 */
#define UDPC_NH_V4 (1U << 0) /* addr4 / dmac4 valid */
#define UDPC_NH_V6 (1U << 1) /* addr6 / dmac6 valid */
#define UDPC_NH_V4_NOROUTE (1U << 2) /* no usable route to addr4: drop its copies */
#define UDPC_NH_V6_NOROUTE (1U << 3) /* no usable route to addr6: drop its copies */
/* Forwarding is off for IPv4 / IPv6 on the interface the copies leave by, so
 * bpf_fib_lookup() would only refuse: egress goes straight to this entry. */
#define UDPC_NH_V4_NOFWD (1U << 4)
#define UDPC_NH_V6_NOFWD (1U << 5)
struct udpc_nexthop {
	__u32 flags;		/* UDPC_NH_* */
	__be32 addr4;		/* destination address this entry was resolved for */
	struct udpc_addr addr6;
	__u8 smac[6];		/* the output interface's address */
	__u8 dmac4[6];		/* next hop of IPv4 copies */
	__u8 dmac6[6];		/* next hop of IPv6 copies */
	__u8 _pad[2];
};
_Static_assert(sizeof(struct udpc_nexthop) == 44, "udpc_nexthop layout");

/* udpc_global: PERCPU_ARRAY, one entry. */
struct udpc_global_stats {
	__u64 matched;		/* packets to the listen port that were fanned out */
	__u64 no_dest;		/* matched, but no destination of that family: dropped */
	__u64 skipped;		/* UDP to the listen port passed untouched (fragment, IP options) */
	__u64 flow_errors;	/* could not record a client flow */
	__u64 rx_no_flow;	/* replies from a destination to no known (or an idle) flow */
	__u64 flow_new;		/* flows created; nothing but the LRU removes one, so
				 * flow_new - (flows in the map) = flows evicted */
};
_Static_assert(sizeof(struct udpc_global_stats) == 48, "udpc_global_stats layout");

/* udpc_flows: LRU_HASH[UDPC_MAX_FLOWS], (address, port) a reply comes back to -> where
 * the client sent to, and who the client is. Egress creates and refreshes them:
 * one for the client's own address, one per uplink address its copies left with;
 * ingress maps replies back. */
struct udpc_flow_key {
	struct udpc_addr addr;
	__be16 port;
	__u8 family;		/* UDPC_AF_* */
	__u8 _pad;
};
_Static_assert(sizeof(struct udpc_flow_key) == 20, "udpc_flow_key layout");

struct udpc_flow {
	struct udpc_addr orig_daddr; /* the address the client sent to */
	struct udpc_addr client;     /* the client's address (the key's, but for uplinks) */
	__be16 orig_dport;
	__u8 family;		/* UDPC_AF_* of client and orig_daddr, when not the key's:
				 * attach --peer sends a flow's copies over both families */
	__u8 _pad0;
	__u32 _pad1;
	__u64 last_seen_ns;	/* bpf_ktime_get_ns() of the last packet either way */
	__u64 session;		/* attach --peer: the flow's session id (udpc_peer.h), else 0 */
};
_Static_assert(sizeof(struct udpc_flow) == 56, "udpc_flow layout");

#endif /* UDPCLONE_H */
