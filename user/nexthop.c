// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The daemon's next hops, for hosts where bpf_fib_lookup() does not answer
 * (forwarding off): the MAC of each destination's next hop, from the kernel's
 * route and neighbour tables, resolved through the kernel when nothing else would.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "fmt.h"
#include "log.h"
#include "netlink.h"
#include "uplink.h"

enum nh_result {
	NH_KNOWN,		/* dmac filled in */
	NH_UNKNOWN,		/* not resolved (yet): being resolved */
	NH_NOROUTE,		/* the kernel would not send it: neither should we */
};

/* The MAC of dst's next hop leaving by oif, as the kernel's tables say. */
static enum nh_result nexthop_mac(int family, const struct udpc_addr *dst, int oif,
				  __u32 table, __u8 dmac[6])
{
	struct udpc_table_route rt;
	struct udpc_addr nh;
	__u16 state = NUD_NONE;
	__u8 mac[6];
	int err;

	if (table) {
		err = udpc_route_in_table(family, dst, table, &rt);
		nh = rt.nexthop;
	} else {
		err = udpc_route_nexthop(family, dst, oif, &nh);
	}
	if (err == -ENETUNREACH)
		return NH_NOROUTE;
	if (err)
		return NH_UNKNOWN;
	err = udpc_neigh_get(family, &nh, oif, mac, &state);
	if (!err && (state & UDPC_NUD_VALID)) {
		memcpy(dmac, mac, 6);
		return NH_KNOWN;
	}
	/* Nothing else would resolve a next hop only our copies use: ask the kernel,
	 * unless it is already asking. */
	if (err || !(state & (NUD_INCOMPLETE | NUD_PROBE | NUD_DELAY))) {
		char a[INET6_ADDRSTRLEN];

		err = udpc_neigh_resolve(family, &nh, oif);
		pr_debug("resolving next hop %s: %s\n",
			 udpc_addr_str(family, &nh, a, sizeof(a)), err ? strerror(-err) : "asked");
	}
	return NH_UNKNOWN;
}

/*
 * One family of a udpc_nexthops entry: the MAC for dst, keeping the one in use while
 * its neighbour is re-resolved (as the kernel itself does). Returns 1 if unknown.
 */
static int nexthop_family(int family, const struct udpc_addr *dst, int oif, __u32 table,
			  bool same_addr, __u32 cur_flags, const __u8 *cur_mac, __u8 *mac,
			  __u32 *flags, __u32 ok_flag, __u32 noroute_flag)
{
	if (same_addr && (cur_flags & ok_flag)) {
		memcpy(mac, cur_mac, 6);
		*flags |= ok_flag;
	}
	switch (nexthop_mac(family, dst, oif, table, mac)) {
	case NH_KNOWN:
		*flags |= ok_flag;
		return 0;
	case NH_NOROUTE:
		*flags = (*flags & ~ok_flag) | noroute_flag;
		return 0;
	case NH_UNKNOWN:
		break;
	}
	return 1;
}

#define NH_SAID_KNOWN4 (1U << 0)
#define NH_SAID_UNKNOWN4 (1U << 1)
#define NH_SAID_KNOWN6 (1U << 2)
#define NH_SAID_UNKNOWN6 (1U << 3)

/* One line when a destination's next hop becomes known, or unknown: not per tick. */
static void log_nexthop(struct daemon *dm, __u32 i, int family, bool known, const __u8 *mac)
{
	__u8 said_known = family == UDPC_AF_INET ? NH_SAID_KNOWN4 : NH_SAID_KNOWN6;
	__u8 said_unknown = family == UDPC_AF_INET ? NH_SAID_UNKNOWN4 : NH_SAID_UNKNOWN6;
	const struct udpc_dest_spec *s = &dm->o->dests[i];
	const char *v = family == UDPC_AF_INET ? "IPv4" : "IPv6";
	char name[UDPC_DEST_STR_MAX];

	udpc_fmt_dest(s->host, s->port, NULL, 0, name, sizeof(name));

	if (known && !(dm->nh_said[i] & said_known)) {
		pr_info("destination %s: %s next hop resolved (%02x:%02x:%02x:%02x:%02x:%02x)\n",
			name, v, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		dm->nh_said[i] = (dm->nh_said[i] & ~said_unknown) | said_known;
	} else if (!known && !(dm->nh_said[i] & said_unknown)) {
		pr_info("destination %s: %s next hop not resolved%s: its copies keep the original's Ethernet header until it is\n",
			name, v, dm->nh_said[i] & said_known ? " any more" : " yet");
		dm->nh_said[i] = (dm->nh_said[i] & ~said_known) | said_unknown;
	}
}

/*
 * Keep udpc_nexthops in step with the kernel's route and neighbour tables, for
 * hosts where bpf_fib_lookup() does not answer (forwarding off). Returns how many
 * next hops are still unknown.
 */
int nexthop_tick(struct daemon *dm)
{
	/* Forwarding of the last interface looked at: read once per interface in a row of
	 * slots (most leave by the attached one), not once per slot and family. */
	int unknown = 0, fwd_oif = 0, fwd4 = -1, fwd6 = -1;
	__u32 i;

	for (i = 0; i < (__u32)dm->o->n_dests && i < UDPC_MAX_DESTS; i++) {
		struct udpc_nexthop cur = {}, next = {};
		struct udpc_uplink up = {};
		struct udpc_dest d;
		char oif_name[IF_NAMESIZE];
		int oif = dm->in.ifindex;
		__u32 table = 0;

		if (bpf_map_lookup_elem(dm->maps.dests, &i, &d) ||
		    bpf_map_lookup_elem(dm->maps.nexthops, &i, &cur) ||
		    bpf_map_lookup_elem(dm->maps.uplinks, &i, &up))
			continue;
		if (up.flags & UDPC_UPLINK_VIA) {
			/* Missing, or raw IP: no next hop to find. */
			if (!up.ifindex || !up.l2_len)
				continue;
			oif = up.ifindex;
			table = up.table;
			memcpy(next.smac, dm->up[i].mac, sizeof(next.smac));
			if (!if_indextoname(oif, oif_name))
				oif_name[0] = '\0';
		} else {
			if (!dm->l2_len)
				continue;
			memcpy(next.smac, dm->mac, sizeof(next.smac));
			snprintf(oif_name, sizeof(oif_name), "%s", dm->in.ifname);
		}
		if (oif != fwd_oif) {
			fwd_oif = oif;
			fwd4 = oif_name[0] ? udpc_forwarding(UDPC_AF_INET, oif_name) : -1;
			fwd6 = oif_name[0] ? udpc_forwarding(UDPC_AF_INET6, oif_name) : -1;
		}
		if (d.flags & UDPC_DEST_V4) {
			struct udpc_addr dst = { .w = { d.addr4 } };

			next.addr4 = d.addr4;
			unknown += nexthop_family(UDPC_AF_INET, &dst, oif, table, cur.addr4 == d.addr4,
						  cur.flags, cur.dmac4, next.dmac4, &next.flags,
						  UDPC_NH_V4, UDPC_NH_V4_NOROUTE);
			/* Where forwarding is off, bpf_fib_lookup() would refuse every copy. */
			if (fwd4 == 0)
				next.flags |= UDPC_NH_V4_NOFWD;
		}
		if (d.flags & UDPC_DEST_V6) {
			next.addr6 = d.addr6;
			unknown += nexthop_family(UDPC_AF_INET6, &d.addr6, oif, table,
						  !memcmp(&cur.addr6, &d.addr6, sizeof(d.addr6)),
						  cur.flags, cur.dmac6, next.dmac6, &next.flags,
						  UDPC_NH_V6, UDPC_NH_V6_NOROUTE);
			if (fwd6 == 0)
				next.flags |= UDPC_NH_V6_NOFWD;
		}
		if (d.flags & UDPC_DEST_V4)
			log_nexthop(dm, i, UDPC_AF_INET, next.flags & (UDPC_NH_V4 | UDPC_NH_V4_NOROUTE),
				    next.dmac4);
		if (d.flags & UDPC_DEST_V6)
			log_nexthop(dm, i, UDPC_AF_INET6,
				    next.flags & (UDPC_NH_V6 | UDPC_NH_V6_NOROUTE), next.dmac6);
		if (memcmp(&cur, &next, sizeof(cur)) &&
		    bpf_map_update_elem(dm->maps.nexthops, &i, &next, BPF_ANY))
			pr_warn("cannot update the next hop of destination %u: %s\n", i,
				strerror(errno));
	}
	return unknown;
}
