/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
#ifndef UDPC_ATTACH_H
#define UDPC_ATTACH_H

#include <stdbool.h>

#include "reconcile.h"
#include "spec.h"

#define UDPC_DEFAULT_RESOLVE_INTERVAL 30 /* s */
#define UDPC_DEFAULT_FLOW_TIMEOUT 180	 /* s: conntrack's UDP stream timeout */
#define UDPC_MIN_FLOWS 256		 /* --max-flows range */
#define UDPC_LIMIT_FLOWS (1U << 24)	 /* about 2.3 GB of flow table */
#define UDPC_MIN_SESSIONS 16		 /* --max-sessions range (both ends) */
#define UDPC_LIMIT_SESSIONS (1U << 20)	 /* about 6 GB of session table */

struct udpc_attach_opts {
	const char *ifname;
	struct udpc_listen listen;
	struct udpc_dest_spec dests[UDPC_MAX_DESTS];
	int n_dests;
	unsigned int resolve_interval; /* s */
	unsigned int flow_timeout;     /* s */
	unsigned int max_flows;	       /* flow table size; 0: pinned one's, else UDPC_MAX_FLOWS */
	bool peer;		       /* --peer: the destinations are `serve` endpoints */
	unsigned int max_sessions;     /* --peer: session table size; 0: pinned one's, else default */
	int ready_fd;		       /* written "ready\n" and closed once attached; -1: none */
	udpc_resolver_fn resolver;
	void *resolver_ctx;
};

/* Load, attach and drive the data path until SIGINT/SIGTERM; returns an exit code. */
int udpc_attach_run(const struct udpc_attach_opts *o);

#endif
