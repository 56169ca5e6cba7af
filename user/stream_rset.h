/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Sets of disjoint half-open ranges [lo, hi) of 64-bit numbers, kept sorted: the
 * stream layer's received packet numbers, received and acked byte ranges, and
 * byte ranges to retransmit. Growable up to a hard cap, so that a peer can make us
 * keep only so many holes.
 */
#ifndef UDPC_STREAM_RSET_H
#define UDPC_STREAM_RSET_H

#include <stdbool.h>
#include <stdint.h>

struct rset_range {
	uint64_t lo, hi;
};

struct rset {
	struct rset_range *r;
	uint32_t n, cap, max;	/* max: ranges it may ever hold */
};

void rset_init(struct rset *s, uint32_t max);
void rset_free(struct rset *s);
void rset_clear(struct rset *s);

/* Adds [lo, hi). Returns 0, or -ENOSPC / -ENOMEM (the set is unchanged then). */
int rset_add(struct rset *s, uint64_t lo, uint64_t hi);

/* Removes [lo, hi) (may split a range: -ENOSPC / -ENOMEM, set unchanged). */
int rset_remove(struct rset *s, uint64_t lo, uint64_t hi);

/* Removes everything below x. */
void rset_trim_below(struct rset *s, uint64_t x);

/* Whether [lo, hi) is wholly in the set. */
bool rset_contains(const struct rset *s, uint64_t lo, uint64_t hi);

/* The end of the range that holds x, or x if none does (the first hole at or after x). */
uint64_t rset_end_from(const struct rset *s, uint64_t x);

/* The index of the range that holds x, or UINT32_MAX. */
uint32_t rset_index(const struct rset *s, uint64_t x);

static inline bool rset_empty(const struct rset *s)
{
	return s->n == 0;
}

#endif /* UDPC_STREAM_RSET_H */
