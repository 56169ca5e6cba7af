/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Peer mode: sessions, created on either end, and the server's paths. */
#ifndef UDPC_BPF_LIB_SESSION_H
#define UDPC_BPF_LIB_SESSION_H

#include "addr.h"
#include "maps.h"
#include "parse.h"
#include "udpc_peer.h"

/* A new session under id, from the per-CPU template (too big for the stack),
 * labelled with p's source and local address p's destination, its first sequence
 * number sent first_seq + 1; NULL if it cannot be made. An id already taken is not
 * overwritten: another CPU made it a moment ago, and that one is returned. */
static __always_inline struct udpc_session *session_new(__u64 id, const struct pkt *p, __u64 now,
							__u32 first_seq)
{
	struct udpc_peer_stats *ps = peer_stats();
	struct udpc_session *t, *s;
	__u32 zero = 0;
	long err;

	t = bpf_map_lookup_elem(&udpc_session_tmpl, &zero);
	if (!t || !ps)
		return NULL;
	t->tx_seq = first_seq;
	t->rx_top = 0;
	t->label = p->saddr;
	t->local = p->daddr;
	t->label_port = p->sport;
	t->family = p->family;
	t->created_ns = now;
	t->last_rx_ns = now;
	t->last_tx_ns = now;
	err = bpf_map_update_elem(&udpc_sessions, &id, t, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&udpc_sessions, &id);
	if (!s) {
		ps->session_errors++;
		return NULL;
	}
	if (!err)
		ps->sessions_new++;
	return s;
}

/* The next sequence number to send in session s; 0 is never sent. */
static __always_inline __u32 session_next_seq(struct udpc_session *s)
{
	__u32 seq = __sync_fetch_and_add(&s->tx_seq, 1) + 1;

	if (!seq)
		seq = __sync_fetch_and_add(&s->tx_seq, 1) + 1;
	return seq;
}

/*
 * The client's session for the flow of p (its address and port), made when the
 * flow has none or its session was evicted: a new random id then, as the server
 * may still hold the old one with a higher sequence number. *id is set.
 */
static __always_inline struct udpc_session *client_session(const struct pkt *p, __u64 now,
							   __u64 *id)
{
	struct udpc_flow_key key = { .addr = p->saddr, .port = p->sport, .family = p->family };
	struct udpc_flow *flow = bpf_map_lookup_elem(&udpc_flows, &key);
	struct udpc_session *s;

	if (flow && flow->session) {
		s = bpf_map_lookup_elem(&udpc_sessions, &flow->session);
		if (s) {
			*id = flow->session;
			return s;
		}
	}
	*id = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32();
	if (!*id)
		*id = 1;
	/* Its label is the client application's address: the daemon's keepalives
	 * leave from that port, as the copies do, through the same NAT bindings. */
	return session_new(*id, p, now, 0);
}

/*
 * The server's session of a copy (p, header h), made on its first copy: it is
 * delivered from the address and port that first copy came from (its label),
 * which the replies are recognised by. A label still held by another live session
 * is not taken over (counted): only an idle one's is.
 */
static __always_inline struct udpc_session *serve_session(const struct pkt *p,
							  const struct udpc_peer_hdr *h,
							  const struct udpc_peer_cfg *pc, __u64 now)
{
	struct udpc_flow_key label = { .addr = p->saddr, .port = p->sport, .family = p->family };
	struct udpc_peer_stats *ps = peer_stats();
	struct udpc_session *s;
	__u64 id = h->session, *holder;

	s = bpf_map_lookup_elem(&udpc_sessions, &id);
	if (s)
		return s;
	holder = bpf_map_lookup_elem(&udpc_labels, &label);
	if (holder && *holder != id) {
		struct udpc_session *other = bpf_map_lookup_elem(&udpc_sessions, holder);

		if (other && (__s64)(now - other->last_rx_ns) < (__s64)pc->session_timeout_ns) {
			if (ps)
				ps->label_conflicts++;
			return NULL;
		}
	}
	/* Its replies start at a random sequence number: a server restarted cleanly
	 * (its sessions gone) meets clients whose windows still hold the old one's
	 * numbers, which a new count from 1 would trail as late. A random start is
	 * ahead of them, or far enough behind to resynchronise (dedup.h), but for a
	 * chance of UDPC_PEER_RESYNC in 2^32. */
	s = session_new(id, p, now, bpf_get_prandom_u32());
	if (s && bpf_map_update_elem(&udpc_labels, &label, &id, BPF_ANY) && ps)
		ps->session_errors++;
	return s;
}

/* Record where path h->path of session s reaches the client: the copy p's source
 * as seen here (after any NAT), and our address it was sent to. A known path
 * seen from elsewhere has moved (NAT rebinding): counted. */
static __always_inline void serve_path_seen(struct udpc_session *s, const struct pkt *p,
					    const struct udpc_peer_hdr *h)
{
	struct udpc_peer_path *pp;
	__u32 id = h->path;

	if (id >= UDPC_MAX_DESTS)
		return;
	pp = &s->path[id];
	if ((pp->flags & UDPC_PATH_SEEN) && pp->port == p->sport && pp->family == p->family &&
	    addr_eq(&pp->addr, &p->saddr) && addr_eq(&pp->local, &p->daddr))
		return;
	if (pp->flags & UDPC_PATH_SEEN) {
		struct udpc_peer_stats *ps = peer_stats();

		if (ps)
			ps->path_moves++;
	}
	pp->addr = p->saddr;
	pp->local = p->daddr;
	pp->port = p->sport;
	pp->family = p->family;
	pp->flags = UDPC_PATH_SEEN;
}

#endif /* UDPC_BPF_LIB_SESSION_H */
