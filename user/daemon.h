/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The attach daemon's state, shared by its steps, one file each: the DNS rounds
 * (destsync.c), next hops (nexthop.c), uplinks (uplink.c), peer mode's keepalives
 * (keepalive.c) and the lifecycle that runs them (attach.c). Internal to the
 * daemon: `status` and `detach` read pins.
 */
#ifndef UDPC_DAEMON_H
#define UDPC_DAEMON_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "attach.h"
#include "instance.h"
#include "keepalive.h"
#include "maps.h"
#include "reconcile.h"

struct daemon {
	const struct udpc_attach_opts *o;
	struct udpc_instance in;
	struct udpc_maps maps;
	sigset_t signals;	/* what the daemon reads from its signalfd, blocked everywhere */
	int l2_len;
	__u8 mac[6];		/* the attached interface's */
	struct {
		int attached;	/* ifindex our ingress filter is on, 0 if none */
		__u8 mac[6];
	} up[UDPC_MAX_DESTS];	/* per slot with HOST:PORT@IFACE */
	__u8 nh_said[UDPC_MAX_DESTS]; /* per slot: NH_SAID_* already logged, by family */
	/* The resolver thread and the main loop's tick both write maps: one at a time. */
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* resolver thread waits here between rounds */
	bool kick;		/* resolve now (SIGHUP) */
	bool ready;		/* attached and told so: STATUS= changes are sent from then on */
	int states[UDPC_STATE_STALE + 1]; /* destinations per UDPC_STATE_*, as last synced */
	char status[128];	/* the STATUS= line last sent */
	struct udpc_keepalive ka; /* --peer */
};

/* One round of answers, from udpc_resolve_all(). */
struct answers {
	struct udpc_resolved res[UDPC_MAX_DESTS];
};

/* destsync.c: one round of lookups, done holding no lock (DNS may time out). */
void resolve_all(const struct udpc_attach_opts *o, struct answers *a);
/* destsync.c: apply a round of answers to the maps, writing only the slots that
 * changed, and the active lists. The caller then refreshes the next hops. */
int sync_dests(struct daemon *dm, const struct answers *a);

/* nexthop.c: keep udpc_nexthops in step with the kernel's route and neighbour
 * tables; returns how many next hops are still unknown. */
int nexthop_tick(struct daemon *dm);

/* uplink.c: follow each uplink's interface (index, link, addresses, MTU) and keep
 * our ingress filter on it; detach_uplinks() removes the filters this run put there. */
void uplink_tick(struct daemon *dm);
void detach_uplinks(struct daemon *dm);

#endif
