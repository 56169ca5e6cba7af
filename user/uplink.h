/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Uplinks (HOST:PORT@IFACE): what the data path needs to know of an interface. */
#ifndef UDPC_UPLINK_H
#define UDPC_UPLINK_H

#include <ifaddrs.h>

#include "udpclone.h"

/* Fill *up from the interface as it is now: index, up (administratively and with
 * carrier), first IPv4 and first global IPv6 address (from ifa, one getifaddrs()
 * for all uplinks; NULL: none), MTU, link type. -ENODEV if there is no such
 * interface; *up then says so (ifindex 0, flags 0). */
int udpc_uplink_probe(const char *ifname, const struct ifaddrs *ifa, struct udpc_uplink *up,
		      __u8 mac[6]);

/* The effective IPv4 rp_filter of ifname: max(all, ifname), 0..2, or -errno. 1
 * (strict) drops replies that arrive by an uplink the route does not point to. */
int udpc_rp_filter(const char *ifname);

/* Is forwarding on for family (UDPC_AF_*) on ifname? 1 or 0 (its
 * net.ipv{4,6}.conf.IFNAME.forwarding), -errno if unknown. bpf_fib_lookup()
 * answers only where it is on. */
int udpc_forwarding(int family, const char *ifname);

#endif
