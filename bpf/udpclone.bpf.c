// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpclone-bpf data path: TC programs, two per interface.
 *
 * `attach` (the client end):
 *   udpc_egress   clones each UDP packet sent to the listen port once per active
 *                 destination, rewriting destination address, port and L2 header;
 *                 with --peer, gives it the peer header first.
 *   udpc_ingress  rewrites the source of replies from a destination back to the
 *                 address the client sent to, so connected sockets and conntrack
 *                 see one ordinary conversation; with --peer, drops duplicate
 *                 replies and takes the peer header off first.
 * `serve` (the server end of peer mode, docs/PEER.md):
 *   udpc_serve_ingress  drops duplicate copies, takes the peer header off and
 *                 delivers to the local application from the session's address.
 *   udpc_serve_egress   gives the application's replies the header and sends one
 *                 copy by each live path of the session.
 *   udpc_gso_return     (`attach --peer`'s veth pair) sends the datagrams a GSO
 *                 super-packet was cut into back through udpc_egress.
 *
 * Map layouts and limits are in include/udpclone.h and include/udpc_peer.h; user/
 * fills the maps.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>

#include "udpclone.h"
#include "udpc_peer.h"
#include "lib/dedup.h"
#include "lib/encap.h"
#include "lib/fanout.h"
#include "lib/flow.h"
#include "lib/health.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/paths.h"
#include "lib/reply.h"
#include "lib/rewrite.h"
#include "lib/session.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline const struct udpc_peer_cfg *peer_cfg(__u32 flag)
{
	__u32 zero = 0;
	const struct udpc_peer_cfg *pc = bpf_map_lookup_elem(&udpc_peer_cfg, &zero);

	return pc && (pc->flags & flag) ? pc : NULL;
}

/*
 * Before the copies: a datagram leaving in peer mode takes its header, and the
 * next sequence number of its session. One the header would make too big for the
 * interface is not sent: counted and dropped. Returns 0 to go on. (A GSO
 * super-packet never gets here: see peer_gso().)
 */
static __always_inline int peer_out(struct __sk_buff *skb, struct pkt *p, struct udpc_session *s,
				    __u64 session, struct udpc_peer_hdr *h)
{
	struct udpc_peer_stats *ps = peer_stats();
	__u32 mtu = 0;
	__u64 now;

	if (!ps)
		return -1;
	if (bpf_check_mtu(skb, 0, &mtu, UDPC_PEER_HDR_LEN, 0)) {
		ps->tx_too_big++;
		return -1;
	}
	now = bpf_ktime_get_ns();
	if ((__s64)(now - s->last_tx_ns) > (__s64)FLOW_REFRESH_NS)
		s->last_tx_ns = now;
	if (peer_encap(skb, p, session, session_next_seq(s), h)) {
		ps->tx_errors++;
		return -1;
	}
	ps->tx_encap++;
	return 0;
}

/*
 * Peer mode, a UDP GSO super-packet (UDP_SEGMENT: many datagrams in one, cut by
 * the stack after this hook), leaving the client (udpc_egress) or the server
 * (udpc_serve_egress): it cannot take a header as it is, its segments would not
 * each get one. It goes to the daemon's veth pair, whose near end cannot pass
 * GSO (gso_max_segs 1), so the stack cuts it there; its datagrams come back to
 * this interface (udpc_gso_return) and through here one by one.
 */
static __always_inline int peer_gso(const struct udpc_peer_cfg *pc)
{
	struct udpc_peer_stats *ps = peer_stats();

	if (!pc || !ps)
		return TC_ACT_SHOT;
	ps->tx_gso++;
	if (!pc->gso_ifindex) {
		ps->tx_errors++;
		return TC_ACT_SHOT;
	}
	return bpf_redirect(pc->gso_ifindex, 0);
}

/*
 * A copy that came in peer mode, in session s (NULL: unknown): judge it against
 * the window and count it. Returns 0 when it is the first copy, to be delivered.
 */
static __always_inline int peer_in(struct udpc_session *s, const struct udpc_peer_hdr *h)
{
	struct udpc_peer_stats *ps = peer_stats();
	enum dedup_verdict v;
	__u64 ext;

	if (!ps)
		return -1;
	if (!s) {
		ps->rx_unknown++;
		return -1;
	}
	v = dedup(s, bpf_ntohl(h->seq), &ext);
	path_rx(s, h->path, ext, v, bpf_ktime_get_ns());
	if (v == DEDUP_NEW) {
		ps->rx_delivered++;
		return 0;
	}
	if (v == DEDUP_DUP)
		ps->rx_duplicates++;
	else
		ps->rx_late++;
	return -1;
}

/*
 * TC egress on the attached interface. Each packet to the listen port leaves as
 * one copy per active destination of its family: the copies are clones sent with
 * bpf_clone_redirect(), rewritten one after the other in place, and the original
 * packet itself becomes the last copy.
 */
SEC("tc")
int udpc_egress(struct __sk_buff *skb)
{
	const struct udpc_peer_cfg *pc;
	struct udpc_session *sess = NULL;
	struct udpc_global_stats *gs;
	struct udpc_active *act;
	struct udpc_config *cfg;
	struct fanout *f;
	__u32 zero = 0, fam, n = 0, total = 0, i;
	__u32 *guard;
	int res;

	guard = bpf_map_lookup_elem(&udpc_guard, &zero);
	if (!guard || *guard)
		return TC_ACT_OK; /* one of our own copies */
	cfg = bpf_map_lookup_elem(&udpc_config, &zero);
	gs = global_stats();
	f = bpf_map_lookup_elem(&udpc_fanout_scratch, &zero);
	if (!cfg || !gs || !f || !(cfg->flags & UDPC_CFG_ENABLED))
		return TC_ACT_OK;
	__builtin_memset(f, 0, sizeof(*f));
	f->l2_len = cfg->l2_len ? ETH_HLEN : 0;

	res = parse(skb, f->l2_len, &f->p);
	if (res == PARSE_UDP_UNSUPPORTED) {
		if (listen_match(cfg, &f->p))
			gs->skipped++;
		return TC_ACT_OK;
	}
	if (res != PARSE_UDP || !listen_match(cfg, &f->p))
		return TC_ACT_OK;
	pc = peer_cfg(UDPC_PEER_CLIENT);
	if (pc) {
		__u64 cookie;

		/* The daemon's own keepalive, addressed as a client's datagram would be. */
		if (pc->ka_cookie[0] || pc->ka_cookie[1]) {
			cookie = bpf_get_socket_cookie(skb);
			if (cookie && (cookie == pc->ka_cookie[0] || cookie == pc->ka_cookie[1]))
				return TC_ACT_OK;
		}
		if (skb->gso_size)
			return peer_gso(pc);
	}
	gs->matched++;

	/* Remember where this client sent to, for the return path, and in peer mode
	 * in which session. */
	f->now = bpf_ktime_get_ns();
	if (pc) {
		sess = client_session(&f->p, f->now, &f->session);
		if (!sess)
			return TC_ACT_SHOT;
	}
	remember_flow(&f->p, &f->p.saddr, f->p.family, f->now, f->session);
	f->orig = f->p;

	/* The destinations with an address of the packet's family; in peer mode then
	 * those with only one of the other family, whose copies change family (the
	 * daemon lists both in udpc_active). */
	act = bpf_map_lookup_elem(&udpc_active, &zero);
	fam = f->p.family == UDPC_AF_INET ? UDPC_ACTIVE_V4 : UDPC_ACTIVE_V6;
	if (act) {
		n = act->n[fam] < UDPC_MAX_DESTS ? act->n[fam] : UDPC_MAX_DESTS;
		__builtin_memcpy(f->slots, act->slot[fam], sizeof(f->slots));
		if (sess) {
			total = act->n_only[!fam] < UDPC_MAX_DESTS ? act->n_only[!fam] : UDPC_MAX_DESTS;
			__builtin_memcpy(f->slots_other, act->only[!fam], sizeof(f->slots_other));
		}
	}
	total += n;
	if (total > UDPC_MAX_DESTS)
		total = UDPC_MAX_DESTS;
	if (!total) {
		gs->no_dest++;
		return TC_ACT_SHOT;
	}

	if (f->l2_len && bpf_skb_load_bytes(skb, 0, f->orig_l2, sizeof(f->orig_l2)))
		return TC_ACT_OK;
	if (sess && peer_out(skb, &f->p, sess, f->session, &f->h))
		return TC_ACT_SHOT;
	f->ifindex = cfg->ifindex;
	f->cur_daddr = f->p.daddr;
	f->cur_saddr = f->p.saddr;
	f->cur_dport = f->p.dport;
	f->remaining = total;
	f->verdict = TC_ACT_OK;
	f->n_same = n;
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		if (i >= total || fanout_one(skb, f, guard, i))
			break;
	return f->verdict;
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

	if (peer_cfg(UDPC_PEER_CLIENT)) {
		/* Only the first copy of a reply of this flow's own session goes on;
		 * an echo of the daemon's keepalive is taken here. */
		struct udpc_peer_stats *ps = peer_stats();
		struct udpc_session *sess = NULL;
		struct udpc_peer_hdr h;

		if (!ps)
			return TC_ACT_SHOT;
		if (peer_hdr_load(skb, &p, &h) ||
		    UDPC_PEER_TYPE(h.ver_type) == UDPC_PEER_T_KEEPALIVE) {
			ps->rx_malformed++;
			return TC_ACT_SHOT;
		}
		if (h.session == flow->session)
			sess = bpf_map_lookup_elem(&udpc_sessions, &h.session);
		if (UDPC_PEER_TYPE(h.ver_type) == UDPC_PEER_T_ECHO) {
			if (sess)
				client_echo(skb, &p, &h, sess);
			else
				ps->rx_unknown++;
			return TC_ACT_SHOT;
		}
		if (peer_in(sess, &h) || peer_strip(skb, &p, &h, p.sport, p.dport))
			return TC_ACT_SHOT;
		/* By a path of the other family than the client's: back to its own. */
		if (flow->family && flow->family != p.family &&
		    set_family(skb, &p, flow->family, &orig, &client))
			return TC_ACT_SHOT;
	}

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

/*
 * TC ingress on the `serve` interface. A copy to the listen port carries the peer
 * header: its session is found (or made on its first copy), its path noted, and
 * only its first copy goes on, without the header, to the local application's
 * port, from the session's address. Anything malformed to the listen port is
 * counted and dropped; everything else passes untouched.
 */
SEC("tc")
int udpc_serve_ingress(struct __sk_buff *skb)
{
	const struct udpc_peer_cfg *pc = peer_cfg(UDPC_PEER_SERVER);
	struct udpc_peer_stats *ps = peer_stats();
	struct udpc_session *s;
	struct udpc_config *cfg;
	struct udpc_peer_hdr h;
	struct udpc_addr label, local;
	struct pkt p = {};
	__u32 zero = 0;
	__be16 label_port;

	cfg = bpf_map_lookup_elem(&udpc_config, &zero);
	if (!cfg || !pc || !ps || !(cfg->flags & UDPC_CFG_ENABLED))
		return TC_ACT_OK;
	if (parse(skb, cfg->l2_len ? ETH_HLEN : 0, &p) != PARSE_UDP || p.dport != cfg->listen_port)
		return TC_ACT_OK;
	if (skb->gso_size || peer_hdr_load(skb, &p, &h) ||
	    UDPC_PEER_TYPE(h.ver_type) == UDPC_PEER_T_ECHO) {
		ps->rx_malformed++;
		return TC_ACT_SHOT;
	}
	if (UDPC_PEER_TYPE(h.ver_type) == UDPC_PEER_T_KEEPALIVE) {
		/* Only a session's data makes it; a keepalive only keeps it. */
		s = bpf_map_lookup_elem(&udpc_sessions, &h.session);
		if (!s) {
			ps->rx_unknown++;
			return TC_ACT_SHOT;
		}
	} else {
		s = serve_session(&p, &h, pc, bpf_ktime_get_ns());
		if (!s)
			return TC_ACT_SHOT;
	}
	serve_path_seen(s, &p, &h);
	if (UDPC_PEER_TYPE(h.ver_type) == UDPC_PEER_T_KEEPALIVE)
		return serve_keepalive(skb, &p, &h, s, cfg->l2_len ? ETH_HLEN : 0);
	if (peer_in(s, &h))
		return TC_ACT_SHOT;
	label = s->label;
	local = s->local;
	label_port = s->label_port;
	if (peer_strip(skb, &p, &h, label_port, pc->to_port))
		return TC_ACT_SHOT;
	/* From the label, in the session's family whatever the path's: the
	 * application sees one peer. */
	if (p.family != s->family ? set_family(skb, &p, s->family, &label, &local) :
				    rewrite_addr(skb, &p, saddr_off(&p), &p.saddr, &label))
		return TC_ACT_SHOT; /* half rewritten: do not deliver a corrupt packet */
	return TC_ACT_OK;
}

/*
 * TC egress on the `serve` interface. The local application's reply to a
 * session's address gets the peer header and leaves once by every path of the
 * session heard from within the path timeout, from the listen port. Everything
 * else passes untouched.
 */
SEC("tc")
int udpc_serve_egress(struct __sk_buff *skb)
{
	const struct udpc_peer_cfg *pc = peer_cfg(UDPC_PEER_SERVER);
	struct udpc_peer_stats *ps = peer_stats();
	struct path_fanout *f;
	struct udpc_flow_key key = {};
	struct udpc_config *cfg;
	struct udpc_session *s;
	__u32 zero = 0, n, i;
	__u64 *id, sid;
	__u32 *guard;

	guard = bpf_map_lookup_elem(&udpc_guard, &zero);
	if (!guard || *guard)
		return TC_ACT_OK; /* one of our own copies */
	cfg = bpf_map_lookup_elem(&udpc_config, &zero);
	f = bpf_map_lookup_elem(&udpc_paths_scratch, &zero);
	if (!cfg || !pc || !ps || !f || !(cfg->flags & UDPC_CFG_ENABLED))
		return TC_ACT_OK;
	__builtin_memset(f, 0, sizeof(*f));
	if (parse(skb, cfg->l2_len ? ETH_HLEN : 0, &f->p) != PARSE_UDP || f->p.sport != pc->to_port)
		return TC_ACT_OK;
	key.addr = f->p.daddr;
	key.port = f->p.dport;
	key.family = f->p.family;
	id = bpf_map_lookup_elem(&udpc_labels, &key);
	if (!id)
		return TC_ACT_OK;
	sid = *id;
	s = bpf_map_lookup_elem(&udpc_sessions, &sid);
	if (!s)
		return TC_ACT_OK;

	if (skb->gso_size)
		return peer_gso(pc);
	n = live_paths(s, bpf_ktime_get_ns(), pc->path_timeout_ns, f->paths);
	if (!n) {
		ps->tx_no_path++;
		return TC_ACT_SHOT;
	}
	if (rewrite_port(skb, &f->p, f->p.l4_off + offsetof(struct udphdr, source), f->p.sport,
			 cfg->listen_port))
		return TC_ACT_SHOT;
	f->p.sport = cfg->listen_port;
	if (peer_out(skb, &f->p, s, sid, &f->h))
		return TC_ACT_SHOT;
	f->cur_saddr = f->p.saddr;
	f->cur_daddr = f->p.daddr;
	f->cur_dport = f->p.dport;
	f->remaining = n;
	f->verdict = TC_ACT_SHOT;
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		if (i >= n || serve_copy_one(skb, f, s, guard, i))
			break;
	return f->verdict;
}

/*
 * TC ingress on the far end of the peer daemon's veth pair (user/gsopath.c): the
 * datagrams a GSO super-packet was cut into go back out of the interface, through
 * udpc_egress or udpc_serve_egress, one by one. Nothing else is expected here:
 * anything else is dropped.
 */
SEC("tc")
int udpc_gso_return(struct __sk_buff *skb)
{
	const struct udpc_peer_cfg *pc = peer_cfg(UDPC_PEER_CLIENT | UDPC_PEER_SERVER);
	struct udpc_config *cfg;
	struct pkt p = {};
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&udpc_config, &zero);
	if (!cfg || !pc || skb->gso_size || parse(skb, ETH_HLEN, &p) != PARSE_UDP)
		return TC_ACT_SHOT;
	/* the client's datagrams to the listen port, or the server application's */
	if ((pc->flags & UDPC_PEER_CLIENT) ? !listen_match(cfg, &p) : p.sport != pc->to_port)
		return TC_ACT_SHOT;
	return bpf_redirect(cfg->ifindex, 0);
}
