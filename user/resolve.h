/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* The real resolver behind udpc_resolver_fn: getaddrinfo(). Not a pure module. */
#ifndef UDPC_RESOLVE_H
#define UDPC_RESOLVE_H

#include "reconcile.h"

/*
 * getaddrinfo(host, NULL, {AF_UNSPEC, SOCK_DGRAM}) into *out: addresses of each
 * family deduplicated, in the order returned, at most UDPC_RESOLVE_MAX each.
 * Literals go through the same call. Blocks no longer than the libc resolver's
 * own timeouts (resolv.conf). Returns 0 with a failure in out->error, or -EINVAL.
 * ctx is unused.
 */
int udpc_resolve_getaddrinfo(const char *host, struct udpc_resolved *out, void *ctx);

#endif
