/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The map registry: the fd of every map the control plane reads or writes, from a
 * loaded object (attach) or from the pins (status, detach, a second attach), each
 * checked against this build's layouts (include/udpclone.h, udpc_peer.h).
 */
#ifndef UDPC_MAPS_H
#define UDPC_MAPS_H

#include <stdbool.h>

struct bpf_object;

struct udpc_maps {
	int config, dests, active, dest_info, dest_stats, nexthops, prev, uplinks, global, flows;
	int peer_cfg, sessions, labels, peer_stats; /* peer mode (udpc_peer.h) */
	unsigned int max_flows;	/* the flow table's size */
	unsigned int max_sessions; /* the session table's size (1 without peer mode) */
	bool owned;		/* opened from pins: udpc_maps_close() closes them */
};

/* The maps of a loaded object; its fds stay the object's. -EPROTO: another layout. */
int udpc_maps_of(struct udpc_maps *m, const struct bpf_object *obj);
/* The maps pinned in pin_dir. -EPROTO: pinned by a build with other map layouts,
 * which must not be read into this one's structs; -ENOENT: not pinned (all). */
int udpc_maps_open(struct udpc_maps *m, const char *pin_dir);
/* Closes what udpc_maps_open() opened; every fd is -1 afterwards. */
void udpc_maps_close(struct udpc_maps *m);

#endif
