/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Our TC filters (fixed handle and priority, see udpclone.h), never anyone else's. */
#ifndef UDPC_TC_H
#define UDPC_TC_H

#include <stdbool.h>

/* The clsact qdisc on ifindex, created unless it is there. */
int udpc_tc_clsact(int ifindex, const char *ifname);
/* Attach (or atomically replace ours) prog_fd at our handle on this hook; -EEXIST if
 * someone else's filter sits there. */
int udpc_tc_attach(int ifindex, const char *ifname, int prog_fd, bool egress);
/* The clsact qdisc, then ingress_fd and egress_fd (each unless -1) at our handle,
 * ingress first. */
int udpc_tc_attach_progs(int ifindex, const char *ifname, int ingress_fd, int egress_fd);
/* Remove our filters from ifindex (never anyone else's); returns how many, or -errno. */
int udpc_detach_filters(int ifindex, const char *ifname);
/* Is a udpclone-bpf TC filter attached at this hook? 1 yes, 0 no, -errno. */
int udpc_filter_present(int ifindex, bool egress);

#endif
