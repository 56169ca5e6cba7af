/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* The few rtnetlink questions the daemon asks: the route and neighbour tables. */
#ifndef UDPC_NETLINK_H
#define UDPC_NETLINK_H

#include <stdbool.h>

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "udpclone.h"

/* The kernel's NUD_VALID (not in the uAPI): states with a usable link-layer address. */
#define UDPC_NUD_VALID \
	(NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)

/* Building a request: append an attribute (data may be NULL, len 0, to start a
 * nested one, ended by udpc_nl_nest_end()); the message's buffer must have room. */
struct rtattr *udpc_nl_attr(struct nlmsghdr *nh, int type, const void *data, size_t len);
void udpc_nl_nest_end(struct nlmsghdr *nh, struct rtattr *nest);
/* Send req (NLM_F_REQUEST | NLM_F_ACK added), wait for the kernel's answer: 0 or -errno. */
int udpc_nl_ack(struct nlmsghdr *req);

/* Next hop of a packet to dst leaving by oif, as `ip route get DST oif IF` says:
 * the gateway, or dst itself when it is on-link. A route that is not unicast
 * (blackhole, unreachable, prohibit) gives -ENETUNREACH, as does no route. */
int udpc_route_nexthop(int family, const struct udpc_addr *dst, int oif, struct udpc_addr *nh);

/* The route to dst in policy-routing table `table`, as the kernel would pick it
 * there (longest prefix, then lowest metric): its output interface, and its
 * next hop (the gateway, or dst itself) and preferred source (if it has one).
 * -ENETUNREACH if the table has no unicast route to dst. */
struct udpc_table_route {
	int oif;
	struct udpc_addr nexthop;
	struct udpc_addr prefsrc;
	int has_prefsrc;
};
int udpc_route_in_table(int family, const struct udpc_addr *dst, __u32 table,
			struct udpc_table_route *rt);

/* The neighbour entry of addr on ifindex: its MAC and NUD state. -ENOENT if none. */
int udpc_neigh_get(int family, const struct udpc_addr *addr, int ifindex, __u8 mac[6],
		   __u16 *state);

/* Ask the kernel to resolve addr on ifindex, as `ip neigh replace ADDR dev IF use`
 * does: the entry is created if missing and probed. */
int udpc_neigh_resolve(int family, const struct udpc_addr *addr, int ifindex);

#endif
