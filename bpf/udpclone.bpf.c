// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpclone-bpf data path: two TC programs on one interface.
 *
 *   udpc_egress   clones each UDP packet sent to the listen port once per active
 *                 destination, rewriting destination address, port and L2 header.
 *   udpc_ingress  rewrites the source of replies from a destination back to the
 *                 address the client sent to, so connected sockets and conntrack
 *                 see one ordinary conversation.
 *
 * Map layouts and limits are in include/udpclone.h; user/ fills the maps.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>

#include "udpclone.h"
#include "lib/fanout.h"
#include "lib/flow.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/reply.h"
#include "lib/rewrite.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * TC egress on the attached interface. Each packet to the listen port leaves as
 * one copy per active destination of its family: the copies are clones sent with
 * bpf_clone_redirect(), rewritten one after the other in place, and the original
 * packet itself becomes the last copy.
 */
SEC("tc")
int udpc_egress(struct __sk_buff *skb)
{
	struct udpc_global_stats *gs;
	struct udpc_active *act;
	struct udpc_config *cfg;
	struct fanout f = {};
	__u32 zero = 0, fam, n = 0, i;
	__u32 *guard;
	int res;

	guard = bpf_map_lookup_elem(&udpc_guard, &zero);
	if (!guard || *guard)
		return TC_ACT_OK; /* one of our own copies */
	cfg = bpf_map_lookup_elem(&udpc_config, &zero);
	gs = global_stats();
	if (!cfg || !gs || !(cfg->flags & UDPC_CFG_ENABLED))
		return TC_ACT_OK;
	f.l2_len = cfg->l2_len ? ETH_HLEN : 0;

	res = parse(skb, f.l2_len, &f.p);
	if (res == PARSE_UDP_UNSUPPORTED) {
		if (listen_match(cfg, &f.p))
			gs->skipped++;
		return TC_ACT_OK;
	}
	if (res != PARSE_UDP || !listen_match(cfg, &f.p))
		return TC_ACT_OK;
	gs->matched++;

	/* Remember where this client sent to, for the return path. */
	f.now = bpf_ktime_get_ns();
	remember_flow(&f.p, &f.p.saddr, f.now);

	/* The destinations with an address of the packet's family. */
	act = bpf_map_lookup_elem(&udpc_active, &zero);
	fam = f.p.family == UDPC_AF_INET ? UDPC_ACTIVE_V4 : UDPC_ACTIVE_V6;
	if (act) {
		n = act->n[fam] < UDPC_MAX_DESTS ? act->n[fam] : UDPC_MAX_DESTS;
		__builtin_memcpy(f.slots, act->slot[fam], sizeof(f.slots));
	}
	if (!n) {
		gs->no_dest++;
		return TC_ACT_SHOT;
	}

	if (f.l2_len && bpf_skb_load_bytes(skb, 0, f.orig_l2, sizeof(f.orig_l2)))
		return TC_ACT_OK;
	f.ifindex = cfg->ifindex;
	f.cur_daddr = f.p.daddr;
	f.cur_saddr = f.p.saddr;
	f.cur_dport = f.p.dport;
	f.remaining = n;
	f.verdict = TC_ACT_OK;
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		if (i >= n || fanout_one(skb, &f, guard, i))
			break;
	return f.verdict;
}

/*
 * TC ingress on the attached interface and on every uplink. A reply from a
 * configured destination to a known, recently active flow gets its source
 * rewritten to the address and port the client sent to, and, when it came back
 * to an uplink's address, its destination to the client's. Everything else
 * passes untouched.
 */
SEC("tc")
int udpc_ingress(struct __sk_buff *skb)
{
	struct udpc_global_stats *gs;
	struct udpc_dest_stats *st;
	struct udpc_config *cfg;
	struct udpc_flow *flow;
	struct udpc_addr orig, client;
	struct pkt p = {};
	__u32 zero = 0, slot;
	__be16 orig_port;
	__u64 now;
	int l2_len;

	cfg = bpf_map_lookup_elem(&udpc_config, &zero);
	gs = global_stats();
	if (!cfg || !gs || !(cfg->flags & UDPC_CFG_ENABLED))
		return TC_ACT_OK;
	l2_len = ingress_l2_len(skb, cfg);
	if (l2_len < 0)
		return TC_ACT_OK;
	if (parse(skb, l2_len, &p) != PARSE_UDP)
		return icmp_about_copy(skb, cfg, l2_len);

	slot = reply_slot_of(skb, cfg, &p);
	if (slot >= UDPC_MAX_DESTS)
		return TC_ACT_OK;

	flow = flow_lookup(&p.daddr, p.dport, p.family);
	now = bpf_ktime_get_ns();
	/* Signed: egress on another CPU may have stamped the flow just after `now`. */
	if (!flow || (__s64)(now - flow->last_seen_ns) > (__s64)cfg->flow_timeout_ns) {
		gs->rx_no_flow++;
		return TC_ACT_OK;
	}
	if ((__s64)(now - flow->last_seen_ns) > (__s64)FLOW_REFRESH_NS)
		flow->last_seen_ns = now;
	orig = flow->orig_daddr;
	orig_port = flow->orig_dport;
	client = flow->client;

	st = bpf_map_lookup_elem(&udpc_dest_stats, &slot);
	if (st) {
		st->rx_packets++;
		st->rx_bytes += skb->len;
		st->last_rx_ns = now;
	}

	if (rewrite_addr(skb, &p, saddr_off(&p), &p.saddr, &orig) ||
	    rewrite_port(skb, &p, p.l4_off + offsetof(struct udphdr, source), p.sport, orig_port) ||
	    rewrite_addr(skb, &p, daddr_off(&p), &p.daddr, &client))
		return TC_ACT_SHOT; /* half rewritten: do not deliver a corrupt packet */
	return TC_ACT_OK;
}
