// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Range sets: a sorted array, because the sets stay small (a few holes per round
 * trip) and an array is what a binary search and a memmove want.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream_rset.h"

void rset_init(struct rset *s, uint32_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
}

void rset_free(struct rset *s)
{
	free(s->r);
	s->r = NULL;
	s->n = s->cap = 0;
}

void rset_clear(struct rset *s)
{
	s->n = 0;
}

static int reserve(struct rset *s, uint32_t n)
{
	struct rset_range *r;
	uint32_t cap;

	if (n <= s->cap)
		return 0;
	if (n > s->max)
		return -ENOSPC;
	cap = s->cap ? s->cap * 2 : 4;
	if (cap > s->max)
		cap = s->max;
	r = realloc(s->r, (size_t)cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->r = r;
	s->cap = cap;
	return 0;
}

/* The first range whose hi >= x (it may touch or hold x), or n. */
static uint32_t first_reaching(const struct rset *s, uint64_t x)
{
	uint32_t lo = 0, hi = s->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->r[mid].hi < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t rset_index(const struct rset *s, uint64_t x)
{
	uint32_t i = first_reaching(s, x + 1);

	return i < s->n && s->r[i].lo <= x ? i : UINT32_MAX;
}

int rset_add(struct rset *s, uint64_t lo, uint64_t hi)
{
	uint32_t i, j;
	int err;

	if (lo >= hi)
		return 0;
	i = first_reaching(s, lo);
	/* ranges i..j-1 touch or overlap [lo, hi): they merge into one */
	for (j = i; j < s->n && s->r[j].lo <= hi; j++)
		;
	if (i == j) {
		err = reserve(s, s->n + 1);
		if (err)
			return err;
		memmove(&s->r[i + 1], &s->r[i], (size_t)(s->n - i) * sizeof(s->r[0]));
		s->r[i].lo = lo;
		s->r[i].hi = hi;
		s->n++;
		return 0;
	}
	if (s->r[i].lo < lo)
		lo = s->r[i].lo;
	if (s->r[j - 1].hi > hi)
		hi = s->r[j - 1].hi;
	s->r[i].lo = lo;
	s->r[i].hi = hi;
	memmove(&s->r[i + 1], &s->r[j], (size_t)(s->n - j) * sizeof(s->r[0]));
	s->n -= j - i - 1;
	return 0;
}

int rset_remove(struct rset *s, uint64_t lo, uint64_t hi)
{
	uint32_t i, j, k;
	int err;

	if (lo >= hi)
		return 0;
	i = first_reaching(s, lo + 1);	/* ranges ending at lo are untouched */
	if (i < s->n && s->r[i].lo < lo && s->r[i].hi > hi) {
		/* a split: the only case that needs room */
		err = reserve(s, s->n + 1);
		if (err)
			return err;
		memmove(&s->r[i + 1], &s->r[i], (size_t)(s->n - i) * sizeof(s->r[0]));
		s->n++;
		s->r[i].hi = lo;
		s->r[i + 1].lo = hi;
		return 0;
	}
	for (j = i, k = i; j < s->n && s->r[j].lo < hi; j++) {
		struct rset_range r = s->r[j];

		if (r.lo < lo)
			s->r[k++] = (struct rset_range){ r.lo, lo };
		else if (r.hi > hi)
			s->r[k++] = (struct rset_range){ hi, r.hi };
	}
	if (j == k)
		return 0;	/* nothing removed (and r may still be NULL: no memmove) */
	memmove(&s->r[k], &s->r[j], (size_t)(s->n - j) * sizeof(s->r[0]));
	s->n -= j - k;
	return 0;
}

void rset_trim_below(struct rset *s, uint64_t x)
{
	uint32_t i = first_reaching(s, x + 1);

	if (i) {
		memmove(&s->r[0], &s->r[i], (size_t)(s->n - i) * sizeof(s->r[0]));
		s->n -= i;
	}
	if (s->n && s->r[0].lo < x)
		s->r[0].lo = x;
}

bool rset_contains(const struct rset *s, uint64_t lo, uint64_t hi)
{
	uint32_t i;

	if (lo >= hi)
		return true;
	i = first_reaching(s, lo + 1);
	return i < s->n && s->r[i].lo <= lo && s->r[i].hi >= hi;
}

uint64_t rset_end_from(const struct rset *s, uint64_t x)
{
	uint32_t i = first_reaching(s, x);

	if (i < s->n && s->r[i].lo <= x)
		return s->r[i].hi;
	return x;
}
