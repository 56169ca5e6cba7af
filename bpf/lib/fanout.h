/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Egress: making one copy for one destination. */
#ifndef UDPC_BPF_LIB_FANOUT_H
#define UDPC_BPF_LIB_FANOUT_H

#include <linux/pkt_cls.h>

#include "encap.h"
#include "family.h"
#include "flow.h"
#include "maps.h"
#include "parse.h"
#include "rewrite.h"
#include "route.h"

/*
 * What the egress program hands to fanout_one() for each copy. Plain data only:
 * fanout_one() is a global function, which sees this as memory of unknown
 * contents, so a pointer kept here would come back as a number.
 */
struct fanout {
	struct pkt p;			/* the packet as it is now (peer mode: maybe the other family) */
	struct pkt orig;		/* and as the client sent it: its flow */
	struct udpc_addr cur_daddr;	/* what the packet's destination is now */
	struct udpc_addr cur_saddr;	/* and its source: an uplink's address, or the client's */
	__u64 now;
	__be16 cur_dport;
	__u16 l2_len;
	__u32 ifindex;			/* the attached interface */
	__u32 remaining;		/* copies still to make, this one included */
	__u32 tried;			/* destinations visited that had an address */
	__u32 n_same;			/* copies before this are to slots[], of the packet's own
					 * family; in peer mode those after it to slots_other[],
					 * of the other (the packet changes family on the way:
					 * set_family()) */
	__u8 slots[UDPC_MAX_DESTS];	/* the slots to visit, in order: udpc_active's */
	__u8 slots_other[UDPC_MAX_DESTS]; /* peer mode, then these: udpc_active's only[] of
					 * the other family */
	__s32 verdict;
	__u8 orig_l2[12];		/* the original's MACs, for copies with no next hop */
	__u64 session;			/* attach --peer: the flow's session, else 0 */
	struct udpc_peer_hdr h;		/* attach --peer: the header given (path set per copy) */
};

/* A packet's struct fanout, too big for the stack next to fanout_one()'s own
 * frame. Per CPU: TC runs with bottom halves off, and the one nested run of
 * udpc_egress on this CPU (a clone of our own) leaves at the recursion guard
 * before it touches this. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fanout);
} udpc_fanout_scratch SEC(".maps");

/* Clone the packet out of ifindex, with the recursion guard set around the call. */
static __always_inline long clone_out(struct __sk_buff *skb, __u32 ifindex, __u32 *guard)
{
	long err;

	*guard = 1;
	err = bpf_clone_redirect(skb, ifindex, 0);
	*guard = 0;
	return err;
}

/*
 * The i-th active destination: rewrite the packet in place from its current
 * destination to that one, then send a clone of it, or, for the last copy, let the
 * packet itself go. Returns 0 for the next copy, 1 when f->verdict is final.
 *
 * A global function (not inlined, not static): the verifier checks it once, on its
 * own, whatever the number of copies, and the loop that calls it in udpc_egress
 * stays a few instructions per iteration. Every kernel treats a global function
 * alike, where a bpf_loop() callback is verified once on older kernels and as a
 * loop, state by state, on newer ones (hundreds of thousands of instructions here).
 * guard is udpc_guard's value, looked up once per packet by the caller (a global
 * function takes a map value as plain memory).
 */
__noinline int fanout_one(struct __sk_buff *skb, struct fanout *f, __u32 *guard, __u32 i)
{
	const struct udpc_addr *dst, *src;
	struct udpc_dest_stats *st;
	enum route_result route;
	struct udpc_uplink *up;
	struct udpc_addr buf, sbuf;
	struct udpc_dest *d;
	__u32 ifindex, l2_len, slot;
	__be16 dport;

	if (!f || !guard || i >= UDPC_MAX_DESTS)
		return 1;
	if (i == f->n_same) {
		/* Between the two families' copies: the packet takes an IP header of
		 * the other family, addresses zero until the copy sets its own. */
		struct udpc_addr none = {};

		if (set_family(skb, &f->p, f->p.family == UDPC_AF_INET ? UDPC_AF_INET6 :
					 UDPC_AF_INET, &none, &none)) {
			f->verdict = TC_ACT_SHOT;
			return 1;
		}
		f->cur_saddr = none;
		f->cur_daddr = none;
	}
	src = &f->p.saddr;
	ifindex = f->ifindex;
	l2_len = f->l2_len;
	slot = i < f->n_same ? f->slots[i] : f->slots_other[(i - f->n_same) & (UDPC_MAX_DESTS - 1)];
	f->remaining--;
	d = bpf_map_lookup_elem(&udpc_dests, &slot);
	st = bpf_map_lookup_elem(&udpc_dest_stats, &slot);
	up = bpf_map_lookup_elem(&udpc_uplinks, &slot);
	if (!d || !st || !up)
		goto skip;
	dst = dest_addr(d, f->p.family, &buf);
	if (!dst) {
		/* Cleared by user space, which updates udpc_active just after. */
		if (!f->remaining && !f->tried) {
			struct udpc_global_stats *gs = global_stats();

			if (gs)
				gs->no_dest++;
		}
		goto skip;
	}
	f->tried++;
	dport = d->port;

	if ((up->flags & UDPC_UPLINK_VIA) || f->p.family != f->orig.family) {
		/* HOST:PORT@IFACE: leave by that uplink, from its own address, so that
		 * the replies come back by it too. Or, in peer mode, a copy of the other
		 * family by the attached interface: from its address of that family,
		 * which the daemon keeps here too (no UDPC_UPLINK_VIA). */
		__u32 need = f->p.family == UDPC_AF_INET ? UDPC_UPLINK_SRC4 : UDPC_UPLINK_SRC6;

		if (!(up->flags & UDPC_UPLINK_VIA))
			need &= ~UDPC_UPLINK_UP; /* nothing to be up: the attached interface */
		else
			need |= UDPC_UPLINK_UP;
		if ((up->flags & need) != need) {
			st->down_drops++;
			goto skip;
		}
		if (up->flags & UDPC_UPLINK_VIA) {
			if (!skb->gso_size && f->p.ip_len > up->mtu) {
				st->mtu_errors++;
				goto skip;
			}
			if (up->l2_len && !f->l2_len) {
				/* No Ethernet header to give it: raw-IP attached, Ethernet uplink. */
				st->tx_errors++;
				goto skip;
			}
			ifindex = up->ifindex;
			l2_len = up->l2_len ? ETH_HLEN : 0;
		}
		if (f->p.family == UDPC_AF_INET)
			sbuf = (struct udpc_addr){ .w = { up->src4 } };
		else
			sbuf = up->src6;
		src = &sbuf;
		remember_flow(&f->orig, src, f->p.family, f->now, f->session);
	}

	if (rewrite_addr(skb, &f->p, saddr_off(&f->p), &f->cur_saddr, src) ||
	    rewrite_dst(skb, &f->p, &f->cur_daddr, dst, f->cur_dport, dport)) {
		/* A failed rewrite may have left the packet half changed. */
		st->tx_errors++;
		f->verdict = TC_ACT_SHOT;
		return 1;
	}
	f->cur_saddr = *src;
	f->cur_daddr = *dst;
	f->cur_dport = dport;
	if (f->session) {
		/* The path id is the destination slot; the outer checksum is this copy's. */
		__u8 path = slot;

		f->h.path = path;
		if (peer_outer_csum(skb, &f->p, src, dst, f->p.sport, dport, &f->h)) {
			st->tx_errors++;
			f->verdict = TC_ACT_SHOT;
			return 1;
		}
	}

	route = route_copy(skb, &f->p, l2_len, slot, src, dst, dport,
			   up->flags & UDPC_UPLINK_VIA ? up->table : 0, &ifindex, st);
	if (route == ROUTE_DROP)
		goto skip;
	/* The packet carries the previous copy's MACs by now: put the original's back.
	 * (A raw-IP uplink needs none: the kernel strips them on the way to it.) */
	if (route == ROUTE_KEEP_L2 && l2_len &&
	    bpf_skb_store_bytes(skb, 0, f->orig_l2, sizeof(f->orig_l2), 0))
		goto skip;

	if (!f->remaining) {
		/* The original packet is the last copy. */
		st->tx_packets++;
		st->tx_bytes += skb->len;
		f->verdict = ifindex == skb->ifindex ? TC_ACT_OK : bpf_redirect(ifindex, 0);
		return 1;
	}

	if (clone_out(skb, ifindex, guard)) {
		st->tx_errors++;
	} else {
		st->tx_packets++;
		st->tx_bytes += skb->len;
	}
	return 0;

skip:
	if (f->remaining)
		return 0;
	/* Nothing left to become the last copy: the packet holds a rewritten copy
	 * whose sending failed, so it must not leave. */
	f->verdict = TC_ACT_SHOT;
	return 1;
}

#endif /* UDPC_BPF_LIB_FANOUT_H */
