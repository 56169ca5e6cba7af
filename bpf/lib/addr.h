/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Addresses as the maps hold them (struct udpc_addr). */
#ifndef UDPC_BPF_LIB_ADDR_H
#define UDPC_BPF_LIB_ADDR_H

#include <stddef.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#include "udpclone.h"

/* All four words equal: IPv4 addresses too, whose words 1-3 are zero. */
static __always_inline int addr_eq(const struct udpc_addr *a, const struct udpc_addr *b)
{
	return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2] &&
	       a->w[3] == b->w[3];
}

/* The destination's address for the packet's family, or NULL if it has none. */
static __always_inline const struct udpc_addr *dest_addr(const struct udpc_dest *d, __u8 family,
							 struct udpc_addr *buf)
{
	if (family == UDPC_AF_INET) {
		if (!(d->flags & UDPC_DEST_V4))
			return NULL;
		*buf = (struct udpc_addr){ .w = { d->addr4 } };
		return buf;
	}
	if (!(d->flags & UDPC_DEST_V6))
		return NULL;
	return &d->addr6;
}

#endif /* UDPC_BPF_LIB_ADDR_H */
