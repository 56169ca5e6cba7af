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

/* What runs on an interface: chosen by the command, kept in the pins (udpc_peer_cfg's
 * flags), so that a later command knows what it would adopt. */
enum udpc_mode {
	UDPC_MODE_PLAIN,	/* attach */
	UDPC_MODE_PEER,		/* attach --peer */
	UDPC_MODE_SERVE,	/* serve */
};

struct udpc_instance {
	char ifname[IF_NAMESIZE];
	int ifindex;
	char pin_dir[128];
	int lock_fd;		/* flock()ed pin directory, -1 if not held */
	bool adopted;		/* maps were pinned already: a previous run's state */
	enum udpc_mode mode;	/* once loaded: this run's; after -EEXIST: the pinned one */
	unsigned int max_flows;	/* the flow table's size, once loaded (or as pinned) */
	unsigned int max_sessions; /* the session table's size, once loaded (or as pinned) */
	struct udpclone *skel;
};

/* What a command asks of the object it loads or adopts. */
struct udpc_load_req {
	enum udpc_mode mode;
	unsigned int max_flows;	   /* 0: as pinned when adopting, else UDPC_MAX_FLOWS */
	unsigned int max_sessions; /* 0: as pinned when adopting, else UDPC_DEFAULT_SESSIONS */
};

/* The mode udpc_peer_cfg's flags say, and its name as the command that starts it. */
enum udpc_mode udpc_mode_of(__u32 peer_flags);
const char *udpc_mode_cmd(enum udpc_mode mode);

/* The checks that need no state (privileges, BTF, the interface and its link type,
 * bpffs), then the pin directory's lock; each failure is logged as one line. */
int udpc_instance_begin(struct udpc_instance *in, const char *ifname, int *l2_len);

/* Take the pin directory's lock; -EBUSY if another process holds it. With create
 * (attach), make the directory first and, once locked, record our pid as its owner. */
int udpc_instance_lock(struct udpc_instance *in, bool create);
/* The pid of the process holding pin_dir's lock (the daemon driving it), 0 if unknown. */
int udpc_owner_pid(const char *pin_dir);
/* Open and load the BPF object, reusing maps pinned by an earlier run, its tables
 * sized as req asks. -EEXIST: pinned in another mode or with other sizes (in->mode,
 * in->max_flows and in->max_sessions say which). */
int udpc_instance_load(struct udpc_instance *in, const struct udpc_load_req *req);
/* Log why udpc_instance_load() failed, naming the fix. */
void udpc_instance_load_failed(const struct udpc_instance *in, const struct udpc_load_req *req,
			       int err);
/* Attach (or atomically replace) our ingress and egress filters: the mode's programs. */
int udpc_instance_attach(struct udpc_instance *in);
/* Attach (or replace) our ingress filter on an uplink: replies come back by it. */
int udpc_instance_attach_uplink(struct udpc_instance *in, int ifindex, const char *ifname);
/* Remove our filters from the interface and unpin everything: the run is over. */
void udpc_instance_remove(struct udpc_instance *in);
void udpc_instance_close(struct udpc_instance *in);

/* Unpin our maps in pin_dir and remove the directory. */
int udpc_unpin_dir(const char *pin_dir);

#endif
