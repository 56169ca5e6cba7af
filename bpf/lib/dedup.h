/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Peer mode: the duplicate window of a session's receiving direction. */
#ifndef UDPC_BPF_LIB_DEDUP_H
#define UDPC_BPF_LIB_DEDUP_H

#include "udpc_peer.h"

enum dedup_verdict {
	DEDUP_NEW,	/* the first copy of its sequence number: deliver */
	DEDUP_DUP,	/* a later copy: drop */
	DEDUP_LATE,	/* older than the window: drop */
};

/* A 32-bit sequence number widened to 64 bits: the one nearest the highest seen
 * (half the number space each way); the first one seen lands at
 * UDPC_PEER_SEQ_BIAS + itself, so that numbers before it stay positive. */
static __always_inline __u64 seq_widen(__u64 top, __u32 seq)
{
	return top ? top + (__s64)(__s32)(seq - (__u32)top) : UDPC_PEER_SEQ_BIAS + seq;
}

/*
 * Judge sequence number seq of session s. Each window slot holds the last
 * sequence number that used it, and moves forward by compare-and-swap: of two CPUs
 * judging two copies of one datagram at once, one wins the slot and the other then
 * finds its own number there. The highest number seen moves first, then the slot,
 * so a slot holding a number above the highest seen is stale: left by a number
 * that the window has since been resynchronised away from (below). No lock, so
 * it works on the LRU map (which takes none) and costs the same for any gap.
 *
 * A copy more than UDPC_PEER_RESYNC behind the highest number seen is no late
 * copy (a window is UDPC_PEER_WINDOW): the highest one was bogus (a bit flip the
 * receiving kernel judged before any checksum, or forged). The window goes back
 * to this copy, and the session goes on, instead of counting all that follows
 * as late.
 */
static __always_inline enum dedup_verdict dedup(struct udpc_session *s, __u32 seq, __u64 *ext_out)
{
	__u64 top = *(volatile __u64 *)&s->rx_top, ext = seq_widen(top, seq), now_top;
	__u32 slot = seq & (UDPC_PEER_WINDOW - 1);
	int i, j;

	*ext_out = ext;
	if (top && ext + UDPC_PEER_WINDOW <= top) {
		if (ext + UDPC_PEER_RESYNC > top)
			return DEDUP_LATE;
		/* Widened afresh, as a first number is: the window never walks down
		 * towards zero, however many times it is resynchronised. */
		ext = UDPC_PEER_SEQ_BIAS + seq;
		*ext_out = ext;
		__sync_val_compare_and_swap(&s->rx_top, top, ext);
	}
	for (i = 0; i < 3; i++) {
		__u32 old = *(volatile __u32 *)&s->window[slot];

		if (old == seq)
			return DEDUP_DUP;
		if (old && (__s32)(old - seq) > 0) {
			/* A newer number holds the slot: seq is a window behind it, unless
			 * that number is above the highest seen (stale). */
			now_top = *(volatile __u64 *)&s->rx_top;
			if ((__s32)(old - (__u32)now_top) <= 0)
				return DEDUP_LATE;
		}
		for (j = 0; j < 3; j++) {
			now_top = *(volatile __u64 *)&s->rx_top;
			if (ext <= now_top ||
			    __sync_val_compare_and_swap(&s->rx_top, now_top, ext) == now_top)
				break;
		}
		if (__sync_val_compare_and_swap(&s->window[slot], old, seq) == old)
			return DEDUP_NEW;
	}
	return DEDUP_DUP; /* the slot kept changing under us: another CPU has it */
}

/* Count a copy that came by path `path` (checked < UDPC_MAX_DESTS by the caller). */
static __always_inline void path_rx(struct udpc_session *s, __u32 path, __u64 ext,
				    enum dedup_verdict v, __u64 now)
{
	struct udpc_peer_path *pp;

	if (path >= UDPC_MAX_DESTS)
		return;
	pp = &s->path[path];
	__sync_fetch_and_add(&pp->rx_packets, 1);
	if (v == DEDUP_NEW)
		__sync_fetch_and_add(&pp->rx_first, 1);
	else if (v == DEDUP_LATE)
		__sync_fetch_and_add(&pp->rx_late, 1);
	if (!pp->seq_first || ext < pp->seq_first)
		pp->seq_first = ext;
	if (ext > pp->seq_last)
		pp->seq_last = ext;
	pp->last_rx_ns = now;
	s->last_rx_ns = now;
	if (v == DEDUP_NEW)
		__sync_fetch_and_add(&s->rx_delivered, 1);
	else if (v == DEDUP_DUP)
		__sync_fetch_and_add(&s->rx_duplicates, 1);
	else
		__sync_fetch_and_add(&s->rx_late, 1);
}

#endif /* UDPC_BPF_LIB_DEDUP_H */
