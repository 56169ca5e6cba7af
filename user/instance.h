/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * One interface driven by udpclone-bpf: its pinned maps under
 * /sys/fs/bpf/udpclone-bpf/<ifname>/, the lock that makes one daemon its owner,
 * and our two TC filters (fixed handle and priority, see udpclone.h).
 */
#ifndef UDPC_INSTANCE_H
#define UDPC_INSTANCE_H

#include <net/if.h>
#include <stdbool.h>

#include "udpclone.h"

struct udpclone;

struct udpc_instance {
	char ifname[IF_NAMESIZE];
	int ifindex;
	char pin_dir[128];
	int lock_fd;		/* flock()ed pin directory, -1 if not held */
	bool adopted;		/* maps were pinned already: a previous run's state */
	unsigned int max_flows;	/* the flow table's size, once loaded (or as pinned) */
	struct udpclone *skel;
};

/* Take the pin directory's lock; -EBUSY if another process holds it. With create
 * (attach), make the directory first and, once locked, record our pid as its owner. */
int udpc_instance_lock(struct udpc_instance *in, bool create);
/* The pid of the process holding pin_dir's lock (the daemon driving it), 0 if unknown. */
int udpc_owner_pid(const char *pin_dir);
/* Open and load the BPF object, reusing maps pinned by an earlier run. The flow
 * table gets max_flows entries; 0: as pinned when adopting, else UDPC_MAX_FLOWS.
 * -EEXIST: pinned with another size (in->max_flows says which). */
int udpc_instance_load(struct udpc_instance *in, unsigned int max_flows);
/* Attach (or atomically replace) our ingress and egress filters. */
int udpc_instance_attach(struct udpc_instance *in);
/* Attach (or replace) our ingress filter on an uplink: replies come back by it. */
int udpc_instance_attach_uplink(struct udpc_instance *in, int ifindex, const char *ifname);
void udpc_instance_close(struct udpc_instance *in);

/* Unpin our maps in pin_dir and remove the directory. */
int udpc_unpin_dir(const char *pin_dir);

#endif
