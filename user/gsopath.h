/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Peer mode's slow path for UDP GSO super-packets: a veth pair that cuts them. */
#ifndef UDPC_GSOPATH_H
#define UDPC_GSOPATH_H

#include <net/if.h>

/* The pair's names for interface ifindex: ucg<ifindex in hex>a (near) and ...b. */
void udpc_gsopath_names(int ifindex, char near[IF_NAMESIZE], char far[IF_NAMESIZE]);
/* Make (or find, after a killed daemon) the pair of interface ifindex and put
 * return_prog_fd (udpc_gso_return) on its far end's ingress. Returns the near
 * end's ifindex, for udpc_peer_cfg.gso_ifindex, or -errno (said in the log). */
int udpc_gsopath_setup(int ifindex, int return_prog_fd);
/* udpc_gsopath_setup(), then its near end into udpc_peer_cfg (peer_cfg_fd); a
 * failure leaves GSO super-packets dropped and counted, as said in the log. */
int udpc_gsopath_enable(int ifindex, int return_prog_fd, int peer_cfg_fd);
/* Remove the pair of interface ifindex, if there is one. */
void udpc_gsopath_remove(int ifindex);

#endif
