/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * A simulated link for the stream layer's tests, in simulated time: per direction a
 * bottleneck (rate and a drop-tail queue), a one-way delay with jitter (which
 * reorders), random loss after the bottleneck (so lost packets still used it, as on
 * a radio) and duplication. Deterministic: one seeded generator.
 *
 * With paths = 2, each datagram also travels a second path (alt[], its own
 * bottleneck, delay and loss), and the receiver keeps the first copy: peer mode's
 * fan-out and the kernel's duplicate drop, which turn two lossy paths of different
 * delays into one link that loses less and reorders a lot.
 */
#ifndef LINKSIM_H
#define LINKSIM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SIM_MTU 1500
#define SIM_DEDUP 65536			/* datagrams the receivers remember (paths = 2) */

struct sim_dir_cfg {
	uint64_t delay_ns, jitter_ns;	/* one way: delay + uniform [0, jitter) */
	double loss, dup;		/* probabilities */
	uint64_t rate;			/* bytes/s, 0 = unlimited */
	uint64_t queue_bytes;		/* drop-tail queue before the bottleneck */
	int blackhole;			/* drop everything */
};

struct sim_pkt {
	uint64_t t, seq, orig;		/* orig: the sim_send() it is a copy of */
	int to;				/* 0 or 1: the receiving end */
	uint16_t len;
	uint8_t data[SIM_MTU];
};

struct sim {
	uint64_t now, rng, seq;
	struct sim_dir_cfg dir[2];	/* dir[i]: from end i to end 1 - i */
	struct sim_dir_cfg alt[2];	/* the second path, if paths == 2 */
	int paths;
	uint64_t busy_until[2], alt_busy_until[2], sends;
	uint64_t *seen;			/* paths == 2: orig + 1 at orig % SIM_DEDUP */
	struct sim_pkt **heap;
	size_t n, cap;
	uint64_t sent[2], lost[2], qdrops[2], dups[2];
};

static inline uint64_t sim_rand(struct sim *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 2685821657736338717ull;
}

static inline double sim_uniform(struct sim *s)
{
	return (double)(sim_rand(s) >> 11) / 9007199254740992.0;
}

static inline void sim_init(struct sim *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->rng = seed ? seed : 1;
}

static inline int sim_before(const struct sim_pkt *a, const struct sim_pkt *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static inline void sim_push(struct sim *s, struct sim_pkt *p)
{
	size_t i;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->heap = realloc(s->heap, s->cap * sizeof(*s->heap));
		if (!s->heap)
			abort();
	}
	p->seq = s->seq++;
	for (i = s->n++; i && sim_before(p, s->heap[(i - 1) / 2]); i = (i - 1) / 2)
		s->heap[i] = s->heap[(i - 1) / 2];
	s->heap[i] = p;
}

static inline struct sim_pkt *sim_pop(struct sim *s)
{
	struct sim_pkt *top = s->heap[0], *last = s->heap[--s->n];
	size_t i = 0, k;

	for (;;) {
		k = 2 * i + 1;
		if (k >= s->n)
			break;
		if (k + 1 < s->n && sim_before(s->heap[k + 1], s->heap[k]))
			k++;
		if (!sim_before(s->heap[k], last))
			break;
		s->heap[i] = s->heap[k];
		i = k;
	}
	if (s->n)
		s->heap[i] = last;
	return top;
}

/* The time of the next arrival, UINT64_MAX if none. */
static inline uint64_t sim_next(const struct sim *s)
{
	return s->n ? s->heap[0]->t : UINT64_MAX;
}

/* One copy over one path: its bottleneck, loss, duplication and delay. */
static inline void sim_path_send(struct sim *s, int from, const struct sim_dir_cfg *d,
				 uint64_t *busy_until, const void *buf, size_t len)
{
	uint64_t depart = s->now;
	int copies = 1, i;

	if (d->rate) {
		uint64_t start = *busy_until > s->now ? *busy_until : s->now;

		if (d->queue_bytes && (start - s->now) * d->rate / 1000000000ull > d->queue_bytes) {
			s->qdrops[from]++;
			return;
		}
		depart = start + len * 1000000000ull / d->rate;
		*busy_until = depart;
	}
	if (d->blackhole || sim_uniform(s) < d->loss) {
		s->lost[from]++;
		return;
	}
	if (sim_uniform(s) < d->dup) {
		copies = 2;
		s->dups[from]++;
	}
	for (i = 0; i < copies; i++) {
		struct sim_pkt *p = malloc(sizeof(*p));

		if (!p)
			abort();
		p->t = depart + d->delay_ns + (d->jitter_ns ? sim_rand(s) % d->jitter_ns : 0);
		p->to = 1 - from;
		p->orig = s->sends;
		p->len = (uint16_t)len;
		memcpy(p->data, buf, len);
		sim_push(s, p);
	}
}

/* End `from` sends a datagram at s->now: over each path. */
static inline void sim_send(struct sim *s, int from, const void *buf, size_t len)
{
	if (len > SIM_MTU)
		abort();
	s->sent[from]++;
	s->sends++;
	sim_path_send(s, from, &s->dir[from], &s->busy_until[from], buf, len);
	if (s->paths == 2)
		sim_path_send(s, from, &s->alt[from], &s->alt_busy_until[from], buf, len);
}

/* The next arrival due at s->now, NULL if none; with two paths, only first copies. */
static inline struct sim_pkt *sim_take(struct sim *s)
{
	struct sim_pkt *p;

	while (sim_next(s) <= s->now) {
		p = sim_pop(s);
		if (s->paths != 2)
			return p;
		if (!s->seen) {
			s->seen = calloc(SIM_DEDUP, sizeof(*s->seen));
			if (!s->seen)
				abort();
		}
		if (s->seen[p->orig % SIM_DEDUP] != p->orig + 1) {
			s->seen[p->orig % SIM_DEDUP] = p->orig + 1;
			return p;
		}
		free(p);
	}
	return NULL;
}

static inline void sim_free(struct sim *s)
{
	while (s->n)
		free(sim_pop(s));
	free(s->heap);
	free(s->seen);
	s->heap = NULL;
	s->seen = NULL;
}

#endif /* LINKSIM_H */
