// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The attach daemon: loads the data path (or adopts the pinned one), keeps the
 * destination map in step with DNS, helps the kernel resolve next hops, and on
 * SIGINT/SIGTERM removes what it attached. If it is killed outright the data path
 * keeps forwarding to the last known addresses.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "instance.h"
#include "log.h"
#include "netlink.h"
#include "sys.h"
#include "uplink.h"
#include "udpclone.skel.h"

#define TICK_MS 1000
/* While a next hop is being resolved, look again this often (ARP/ND answer in ms),
 * for at most FAST_TICKS ticks: a dead neighbour falls back to TICK_MS. */
#define FAST_TICK_MS 20
#define FAST_TICKS 250
/* A second attach losing the lock waits this long for the winner's pid. */
#define OWNER_WAIT_TRIES 40
#define OWNER_WAIT_US 50000

struct daemon {
	const struct udpc_attach_opts *o;
	struct udpc_instance in;
	int dests_fd, info_fd, config_fd, nexthops_fd, stats_fd, uplinks_fd, prev_fd, active_fd;
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
};

/* One round of answers, from udpc_resolve_all(). */
struct answers {
	struct udpc_resolved res[UDPC_MAX_DESTS];
};

/* The slow part, done holding no lock: a lookup may wait for DNS timeouts. */
static void resolve_all(const struct udpc_attach_opts *o, struct answers *a)
{
	udpc_resolve_all(o->dests, o->n_dests, o->resolver, o->resolver_ctx, a->res);
}

/* One line per event that matters; repeated failures stay at debug level. */
static void log_transition(const struct daemon *dm, const struct udpc_dest_spec *s,
			   const struct udpc_dest *cur, const struct udpc_dest_info *ci,
			   const struct udpc_dest *next, const struct udpc_dest_info *ni)
{
	char was[128], now[128];
	const char *fmt = strchr(s->host, ':') ? "[%s]:%u" : "%s:%u";
	char name[UDPC_HOST_MAX + 16];

	snprintf(name, sizeof(name), fmt, s->host, s->port);
	udpc_dest_addrs(cur, " and ", "no address", was, sizeof(was));
	udpc_dest_addrs(next, " and ", "no address", now, sizeof(now));

	switch (ni->state) {
	case UDPC_STATE_ACTIVE:
		if (ci->state != UDPC_STATE_ACTIVE && ci->state != UDPC_STATE_STALE)
			pr_info("destination %s: active, sending to %s\n", name, now);
		else if (strcmp(was, now))
			pr_info("destination %s: address changed from %s to %s\n", name, was, now);
		else if (ci->state == UDPC_STATE_STALE)
			pr_info("destination %s: resolves again, still %s\n", name, now);
		break;
	case UDPC_STATE_STALE:
		if (ci->state != UDPC_STATE_STALE)
			pr_warn("destination %s: cannot resolve (%s); still sending to %s\n", name,
				gai_strerror(ni->last_error), now);
		else
			pr_debug("destination %s: still cannot resolve (%s)\n", name,
				 gai_strerror(ni->last_error));
		break;
	case UDPC_STATE_UNRESOLVED:
		if (ci->state != UDPC_STATE_UNRESOLVED || ci->last_error != ni->last_error)
			pr_warn("destination %s: cannot resolve (%s); it gets no copies until it does, retrying every %u s\n",
				name, gai_strerror(ni->last_error), dm->o->resolve_interval);
		else
			pr_debug("destination %s: still cannot resolve (%s)\n", name,
				 gai_strerror(ni->last_error));
		break;
	}
}

/* Does slot i hold another destination than spec (or none)? Then its counters and next
 * hop belong to something else: an adopted state from a run with another list. */
static bool slot_reused(const struct udpc_dest_spec *spec, const struct udpc_dest *cur,
			const struct udpc_dest_info *ci)
{
	return ci->state != UDPC_STATE_UNUSED && (!spec || !udpc_slot_is_dest(spec, cur, ci));
}

static void reset_slot(struct daemon *dm, __u32 i)
{
	int ncpu = libbpf_num_possible_cpus();
	struct udpc_nexthop nh = {};
	struct udpc_uplink up = {};
	struct udpc_prev prev = {};
	void *zero;

	zero = ncpu > 0 ? calloc(ncpu, sizeof(struct udpc_dest_stats)) : NULL;
	if (!zero || bpf_map_update_elem(dm->stats_fd, &i, zero, BPF_ANY) ||
	    bpf_map_update_elem(dm->nexthops_fd, &i, &nh, BPF_ANY) ||
	    bpf_map_update_elem(dm->uplinks_fd, &i, &up, BPF_ANY) ||
	    bpf_map_update_elem(dm->prev_fd, &i, &prev, BPF_ANY))
		pr_warn("cannot reset the counters of destination slot %u\n", i);
	free(zero);
}

/* A destination's address changes: replies from the old one may be on their way.
 * Ingress keeps taking them for UDPC_PREV_GRACE_S seconds. */
static void remember_prev(struct daemon *dm, __u32 i, const struct udpc_dest *cur,
			  const struct udpc_dest *next, const struct udpc_dest_info *ci)
{
	struct udpc_prev prev = { .until_ns = udpc_mono_ns() + UDPC_PREV_GRACE_S * 1000000000ULL };

	if (ci->state == UDPC_STATE_UNUSED || (int)i >= dm->o->n_dests ||
	    slot_reused(&dm->o->dests[i], cur, ci))
		return;
	if ((cur->flags & UDPC_DEST_V4) && cur->addr4 != next->addr4) {
		prev.flags |= UDPC_DEST_V4;
		prev.addr4 = cur->addr4;
	}
	if ((cur->flags & UDPC_DEST_V6) && memcmp(&cur->addr6, &next->addr6, sizeof(cur->addr6))) {
		prev.flags |= UDPC_DEST_V6;
		prev.addr6 = cur->addr6;
	}
	if (prev.flags && bpf_map_update_elem(dm->prev_fd, &i, &prev, BPF_ANY))
		pr_warn("cannot remember the previous address of destination %u: %s\n", i,
			strerror(errno));
}

/* The list of active slots egress visits, from the destinations now in the map. */
static int write_active(struct daemon *dm, const struct udpc_dest *dests)
{
	struct udpc_active cur = {}, next;
	__u32 zero = 0;

	udpc_active_of(dests, &next);
	if (!bpf_map_lookup_elem(dm->active_fd, &zero, &cur) && !memcmp(&cur, &next, sizeof(cur)))
		return 0;
	if (bpf_map_update_elem(dm->active_fd, &zero, &next, BPF_ANY)) {
		int err = -errno;

		pr_warn("cannot update the list of active destinations: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

/* Apply a round of answers: write the slots that changed, and only those. */
static int sync_dests(struct daemon *dm, struct answers *a)
{
	struct udpc_dest cur[UDPC_MAX_DESTS] = {}, next[UDPC_MAX_DESTS] = {};
	struct udpc_dest_info ci[UDPC_MAX_DESTS] = {}, ni[UDPC_MAX_DESTS] = {};
	int changed[UDPC_MAX_DESTS] = {};
	__u32 i;
	int err;

	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		if (bpf_map_lookup_elem(dm->dests_fd, &i, &cur[i]) ||
		    bpf_map_lookup_elem(dm->info_fd, &i, &ci[i]))
			return -errno;
	}
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		if (slot_reused((int)i < dm->o->n_dests ? &dm->o->dests[i] : NULL, &cur[i], &ci[i]))
			reset_slot(dm, i);
	udpc_reconcile_all(dm->o->dests, dm->o->n_dests, cur, ci, a->res, (uint64_t)time(NULL),
			   next, ni, changed);
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		if (!changed[i])
			continue;
		if (changed[i] & UDPC_RC_DEST_CHANGED)
			remember_prev(dm, i, &cur[i], &next[i], &ci[i]);
		/* The map value first: info describes what the data path uses. */
		if ((changed[i] & UDPC_RC_DEST_CHANGED) &&
		    bpf_map_update_elem(dm->dests_fd, &i, &next[i], BPF_ANY)) {
			err = -errno;
			pr_warn("cannot update destination %u: %s\n", i, strerror(-err));
			return err;
		}
		if ((changed[i] & UDPC_RC_INFO_CHANGED) &&
		    bpf_map_update_elem(dm->info_fd, &i, &ni[i], BPF_ANY))
			return -errno;
		if ((int)i < dm->o->n_dests)
			log_transition(dm, &dm->o->dests[i], &cur[i], &ci[i], &next[i], &ni[i]);
	}
	/* next[] is what the map holds now: every slot was written or left as it was. */
	return write_active(dm, next);
}

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

/*
 * Keep udpc_nexthops in step with the kernel's route and neighbour tables, for
 * hosts where bpf_fib_lookup() does not answer (forwarding off). Returns how many
 * next hops are still unknown.
 */
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

	if (known && !(dm->nh_said[i] & said_known)) {
		pr_info("destination %s:%u: %s next hop resolved (%02x:%02x:%02x:%02x:%02x:%02x)\n",
			s->host, s->port, v, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		dm->nh_said[i] = (dm->nh_said[i] & ~said_unknown) | said_known;
	} else if (!known && !(dm->nh_said[i] & said_unknown)) {
		pr_info("destination %s:%u: %s next hop not resolved%s: its copies keep the original's Ethernet header until it is\n",
			s->host, s->port, v, dm->nh_said[i] & said_known ? " any more" : " yet");
		dm->nh_said[i] = (dm->nh_said[i] & ~said_known) | said_unknown;
	}
}

static int nexthop_tick(struct daemon *dm)
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

		if (bpf_map_lookup_elem(dm->dests_fd, &i, &d) ||
		    bpf_map_lookup_elem(dm->nexthops_fd, &i, &cur) ||
		    bpf_map_lookup_elem(dm->uplinks_fd, &i, &up))
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
		    bpf_map_update_elem(dm->nexthops_fd, &i, &next, BPF_ANY))
			pr_warn("cannot update the next hop of destination %u: %s\n", i,
				strerror(errno));
	}
	return unknown;
}

static const char *spec_name(const struct udpc_dest_spec *s, char *buf, size_t len)
{
	int n = snprintf(buf, len, strchr(s->host, ':') ? "[%s]:%u" : "%s:%u", s->host, s->port);

	if (n > 0 && (size_t)n < len) {
		if (s->table)
			snprintf(buf + n, len - n, "@table=%u", s->table);
		else
			snprintf(buf + n, len - n, "@%s", s->uplink);
	}
	return buf;
}

static void log_uplink(const struct udpc_dest_spec *s, const char *ifname,
		       const struct udpc_uplink *cur, const struct udpc_uplink *next)
{
	char name[UDPC_HOST_MAX + 40], a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "";
	struct udpc_addr v4 = { .w = { next->src4 } };

	spec_name(s, name, sizeof(name));
	if (next->flags & UDPC_UPLINK_SRC4)
		udpc_addr_str(UDPC_AF_INET, &v4, a4, sizeof(a4));
	if (next->flags & UDPC_UPLINK_SRC6)
		udpc_addr_str(UDPC_AF_INET6, &next->src6, a6, sizeof(a6));
	if (s->table && !next->ifindex)
		pr_warn("destination %s: routing table %u has no route to it: no copies until it has\n",
			name, s->table);
	else if (!next->ifindex)
		pr_warn("destination %s: uplink %s does not exist%s: no copies until it does\n",
			name, ifname, cur->ifindex ? " any more" : " (yet)");
	else if (!(next->flags & UDPC_UPLINK_UP))
		pr_warn("destination %s: uplink %s is down: no copies until it is up\n", name,
			ifname);
	else if (!(next->flags & (UDPC_UPLINK_SRC4 | UDPC_UPLINK_SRC6)))
		pr_warn("destination %s: uplink %s has no address: no copies until it has\n", name,
			ifname);
	else
		pr_info("destination %s: uplink %s up, sending from %s%s%s\n", name, ifname, a4,
			*a4 && *a6 ? " and " : "", a6);
}

/* @table=N: the interface table N routes the destination by now, and the source
 * that route prefers, if it names one; false if the table has no route. */
static bool table_uplink(struct daemon *dm, __u32 i, const struct udpc_dest_spec *s,
			 char ifname[IF_NAMESIZE], struct udpc_table_route *rt, int *family)
{
	struct udpc_addr a = {};
	struct udpc_dest d;

	if (bpf_map_lookup_elem(dm->dests_fd, &i, &d))
		return false;
	if (d.flags & UDPC_DEST_V4) {
		*family = UDPC_AF_INET;
		a.w[0] = d.addr4;
	} else if (d.flags & UDPC_DEST_V6) {
		*family = UDPC_AF_INET6;
		a = d.addr6;
	} else {
		return false; /* not resolved yet */
	}
	return !udpc_route_in_table(*family, &a, s->table, rt) && if_indextoname(rt->oif, ifname);
}

/* Slot i moves away from the uplink it had our filter on: remove the filter unless
 * another slot (or the attached interface) still uses that interface. */
static void release_uplink(struct daemon *dm, __u32 i)
{
	int old = dm->up[i].attached;
	__u32 j;

	dm->up[i].attached = 0;
	if (!old || old == dm->in.ifindex)
		return;
	for (j = 0; j < UDPC_MAX_DESTS; j++)
		if (dm->up[j].attached == old)
			return;
	udpc_detach_filters(old, "uplink");
}

/*
 * Follow each uplink: an interface that comes, goes, changes index (a modem
 * re-enumerated), address (a new DHCP lease) or MTU. Our ingress program goes on
 * each uplink, where the replies to its copies arrive.
 */
static void uplink_tick(struct daemon *dm)
{
	struct ifaddrs *ifa = NULL; /* every interface's addresses, read once per tick */
	__u32 i;

	for (i = 0; i < (__u32)dm->o->n_dests && i < UDPC_MAX_DESTS; i++) {
		const struct udpc_dest_spec *s = &dm->o->dests[i];
		struct udpc_uplink cur = {}, next = {};
		struct udpc_table_route rt = {};
		char ifname[IF_NAMESIZE];
		int family = 0;

		if (!s->uplink[0] && !s->table)
			continue;
		if (!ifa && getifaddrs(&ifa)) {
			/* Rather no news than every uplink without an address: next tick. */
			pr_debug("getifaddrs: %s\n", strerror(errno));
			return;
		}
		bpf_map_lookup_elem(dm->uplinks_fd, &i, &cur);
		if (!s->table) {
			snprintf(ifname, sizeof(ifname), "%s", s->uplink);
			udpc_uplink_probe(ifname, ifa, &next, dm->up[i].mac);
		} else if (table_uplink(dm, i, s, ifname, &rt, &family)) {
			udpc_uplink_probe(ifname, ifa, &next, dm->up[i].mac);
			/* The route's preferred source, as the stack would send from. */
			if (rt.has_prefsrc && family == UDPC_AF_INET) {
				next.src4 = rt.prefsrc.w[0];
				next.flags |= UDPC_UPLINK_SRC4;
			} else if (rt.has_prefsrc) {
				next.src6 = rt.prefsrc;
				next.flags |= UDPC_UPLINK_SRC6;
			}
		} else {
			snprintf(ifname, sizeof(ifname), "-");
		}
		next.flags |= UDPC_UPLINK_VIA;
		next.table = s->table;
		if (next.ifindex && next.ifindex != (__u32)dm->up[i].attached) {
			release_uplink(dm, i);
			if (udpc_instance_attach_uplink(&dm->in, next.ifindex, ifname)) {
				next.flags &= ~UDPC_UPLINK_UP; /* replies could not come back */
			} else {
				dm->up[i].attached = next.ifindex;
				if (udpc_rp_filter(ifname) == 1)
					pr_warn("uplink %s: rp_filter is strict, which drops the replies arriving by it: set net.ipv4.conf.%s.rp_filter=2 (loose)\n",
						ifname, ifname);
			}
		}
		if (!memcmp(&cur, &next, sizeof(cur)))
			continue;
		if (bpf_map_update_elem(dm->uplinks_fd, &i, &next, BPF_ANY)) {
			pr_warn("cannot update the uplink of destination %u: %s\n", i, strerror(errno));
			continue;
		}
		if ((cur.flags ^ next.flags) & ~UDPC_UPLINK_VIA || cur.src4 != next.src4 ||
		    cur.ifindex != next.ifindex || memcmp(&cur.src6, &next.src6, sizeof(cur.src6)) ||
		    !(cur.flags & UDPC_UPLINK_VIA))
			log_uplink(s, ifname, &cur, &next);
	}
	if (ifa)
		freeifaddrs(ifa);
}

/* Remove our ingress filters from the uplinks this run attached them to. */
static void detach_uplinks(struct daemon *dm)
{
	int i, j;

	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		if (!dm->up[i].attached || dm->up[i].attached == dm->in.ifindex)
			continue;
		for (j = 0; j < i && dm->up[j].attached != dm->up[i].attached; j++)
			;
		if (j == i)
			udpc_detach_filters(dm->up[i].attached, "uplink");
	}
}

static int write_config(struct daemon *dm, int l2_len)
{
	const struct udpc_listen *l = &dm->o->listen;
	struct udpc_config cfg = {
		.flags = UDPC_CFG_ENABLED,
		.listen_port = htons(l->port),
		.l2_len = l2_len,
		.flow_timeout_ns = (__u64)dm->o->flow_timeout * 1000000000ULL,
		.ifindex = dm->in.ifindex,
		.owner_pid = getpid(),
	};
	__u32 zero = 0;

	if (l->family) {
		cfg.flags |= UDPC_CFG_LISTEN_ADDR;
		cfg.listen_family = l->family;
		cfg.listen_addr = l->addr;
	}
	return bpf_map_update_elem(dm->config_fd, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

static int owner_pid(const char *pin_dir)
{
	struct udpc_pinned p;
	struct udpc_config cfg = {};
	__u32 zero = 0;

	if (udpc_pinned_open(pin_dir, &p))
		return 0;
	bpf_map_lookup_elem(p.config, &zero, &cfg);
	udpc_pinned_close(&p);
	return cfg.owner_pid;
}

/* Checks that need no state; each failure is one line naming what is wrong. */
static int preflight(const char *ifname, int *ifindex, int *l2_len)
{
	int err;

	if (udpc_check_caps()) {
		pr_warn("needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root\n");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr_warn("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): a kernel built with CONFIG_DEBUG_INFO_BTF is needed\n");
		return -ENOTSUP;
	}
	*ifindex = if_nametoindex(ifname);
	if (!*ifindex) {
		pr_warn("unknown interface '%s'\n", ifname);
		return -ENODEV;
	}
	err = udpc_iface_l2_len(ifname, l2_len);
	if (err == -EPROTONOSUPPORT) {
		pr_warn("interface '%s' has a link type udpclone-bpf does not support (Ethernet-like and raw-IP devices only)\n",
			ifname);
		return err;
	}
	if (err) {
		pr_warn("cannot read the link type of '%s': %s\n", ifname, strerror(-err));
		return err;
	}
	err = udpc_ensure_bpffs();
	if (err)
		pr_warn("cannot mount bpffs at /sys/fs/bpf: %s\n", strerror(-err));
	return err;
}

static int take_lock(struct udpc_instance *in)
{
	int err = udpc_pin_dir(in->ifname, in->pin_dir, sizeof(in->pin_dir));

	if (!err)
		err = udpc_instance_lock(in, true);
	if (err == -EBUSY) {
		/* The winner of a race writes its pid just after loading: give it a moment.
		 * A pid left by a daemon that was killed is not the owner. */
		int pid = 0, i;

		for (i = 0; i < OWNER_WAIT_TRIES; i++) {
			pid = owner_pid(in->pin_dir);
			if (pid > 0 && pid != getpid() && kill(pid, 0) == 0)
				break;
			pid = 0;
			usleep(OWNER_WAIT_US);
		}
		if (pid)
			pr_warn("interface '%s' is already driven by a running udpclone-bpf (pid %d)\n",
				in->ifname, pid);
		else
			pr_warn("interface '%s' is already driven by a running udpclone-bpf\n",
				in->ifname);
	} else if (err) {
		pr_warn("cannot create %s: %s\n", in->pin_dir, strerror(-err));
	}
	return err;
}

/* Resolves every interval (or when kicked), then applies the answers under the lock. */
static void *resolver_main(void *arg)
{
	struct daemon *dm = arg;
	struct answers a;

	for (;;) {
		struct timespec deadline;

		pthread_mutex_lock(&dm->lock);
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += dm->o->resolve_interval;
		while (!dm->kick &&
		       pthread_cond_timedwait(&dm->cond, &dm->lock, &deadline) != ETIMEDOUT)
			;
		dm->kick = false;
		pthread_mutex_unlock(&dm->lock);

		resolve_all(dm->o, &a);

		pthread_mutex_lock(&dm->lock);
		if (sync_dests(dm, &a))
			pr_warn("cannot update the destination map\n");
		else
			nexthop_tick(dm); /* at once for a changed address */
		pthread_mutex_unlock(&dm->lock);
	}
	return NULL;
}

static int run_loop(struct daemon *dm)
{
	pthread_condattr_t cattr;
	pthread_t resolver;
	int unknown = 1, fast = 0, n;
	struct pollfd pfd = { .events = POLLIN };
	sigset_t mask;
	int ret = EXIT_SUCCESS;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pfd.fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (pfd.fd < 0) {
		pr_warn("signalfd: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&dm->cond, &cattr);
	/* Signals stay blocked in the thread too: only the signalfd sees them. */
	if (pthread_create(&resolver, NULL, resolver_main, dm)) {
		pr_warn("cannot start the resolver thread\n");
		close(pfd.fd);
		return EXIT_FAILURE;
	}
	for (;;) {
		struct signalfd_siginfo si;
		int timeout = unknown && fast < FAST_TICKS ? FAST_TICK_MS : TICK_MS;

		if (poll(&pfd, 1, timeout) > 0 && read(pfd.fd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGHUP) {
				pr_info("%s: detaching\n", strsignal(si.ssi_signo));
				break;
			}
			pthread_mutex_lock(&dm->lock);
			dm->kick = true;
			pthread_cond_signal(&dm->cond);
			pthread_mutex_unlock(&dm->lock);
		}
		if (if_nametoindex(dm->in.ifname) != (unsigned int)dm->in.ifindex) {
			pr_warn("interface '%s' is gone: its filters went with it\n", dm->in.ifname);
			ret = EXIT_FAILURE;
			break;
		}
		pthread_mutex_lock(&dm->lock);
		uplink_tick(dm);
		n = nexthop_tick(dm);
		pthread_mutex_unlock(&dm->lock);
		/* A newly unknown next hop (an address changed) earns fast ticks again. */
		fast = !n || n > unknown ? 0 : fast + 1;
		unknown = n;
	}
	/* Keep the lock for good: the resolver thread, maybe still waiting for DNS, must not
	 * touch the maps being torn down; it ends with the process. */
	pthread_mutex_lock(&dm->lock);
	close(pfd.fd);
	return ret;
}

int udpc_attach_run(const struct udpc_attach_opts *o)
{
	struct daemon dm = { .o = o, .in = { .lock_fd = -1 }, .lock = PTHREAD_MUTEX_INITIALIZER };
	struct udpc_instance *in = &dm.in;
	bool attached = false;
	sigset_t mask;
	int l2_len, err, ret = EXIT_FAILURE;

	snprintf(in->ifname, sizeof(in->ifname), "%s", o->ifname);
	if (preflight(o->ifname, &in->ifindex, &l2_len) || take_lock(in))
		return EXIT_FAILURE;

	/* Signals are read from a signalfd; block them before anything can arrive. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	err = udpc_instance_load(in, o->max_flows);
	if (err) {
		if (err == -EEXIST)
			pr_warn("the flow table pinned in %s holds %u flows, not the %u of --max-flows: run 'udpclone-bpf detach %s' first (its flows are then forgotten), or attach without --max-flows\n",
				in->pin_dir, in->max_flows, o->max_flows, in->ifname);
		else if (in->adopted && err == -EINVAL)
			pr_warn("the maps pinned in %s do not match this version: run 'udpclone-bpf detach %s' first\n",
				in->pin_dir, in->ifname);
		else
			pr_warn("cannot load the BPF programs: %s\n", strerror(-err));
		goto out;
	}
	if (in->adopted)
		pr_info("adopting the state pinned in %s\n", in->pin_dir);
	dm.config_fd = bpf_map__fd(in->skel->maps.udpc_config);
	dm.dests_fd = bpf_map__fd(in->skel->maps.udpc_dests);
	dm.info_fd = bpf_map__fd(in->skel->maps.udpc_dest_info);
	dm.nexthops_fd = bpf_map__fd(in->skel->maps.udpc_nexthops);
	dm.uplinks_fd = bpf_map__fd(in->skel->maps.udpc_uplinks);
	dm.prev_fd = bpf_map__fd(in->skel->maps.udpc_prev);
	dm.active_fd = bpf_map__fd(in->skel->maps.udpc_active);
	dm.stats_fd = bpf_map__fd(in->skel->maps.udpc_dest_stats);
	dm.l2_len = l2_len;
	if (l2_len && udpc_iface_mac(in->ifname, dm.mac))
		pr_warn("cannot read the MAC address of %s\n", in->ifname);

	err = write_config(&dm, l2_len);
	if (!err) {
		struct answers a;

		/* The first round before attaching, so copies start with every address known. */
		resolve_all(o, &a);
		err = sync_dests(&dm, &a);
	}
	if (err) {
		pr_warn("cannot write the maps: %s\n", strerror(-err));
		goto out;
	}
	uplink_tick(&dm);
	nexthop_tick(&dm);
	err = udpc_instance_attach(in);
	if (err)
		goto out;
	attached = true;
	pr_info("attached to %s: UDP port %u%s fanned out to %d destination%s\n", in->ifname,
		o->listen.port, o->listen.family ? " (one address)" : "", o->n_dests,
		o->n_dests == 1 ? "" : "s");

	ret = run_loop(&dm);
out:
	/* Tear down what this run created; an adopted data path whose attach failed
	 * keeps running on the old programs rather than stop forwarding. */
	if (attached || !in->adopted) {
		if (in->ifindex && udpc_detach_filters(in->ifindex, in->ifname) < 0)
			pr_warn("cannot remove the filters from %s\n", in->ifname);
		detach_uplinks(&dm);
		udpc_unpin_dir(in->pin_dir);
	}
	udpc_instance_close(in);
	return ret;
}

/* The uplinks a killed daemon left our ingress program on, from its pins. */
static int detach_pinned_uplinks(const char *pin_dir)
{
	struct udpc_pinned p;
	int removed = 0;
	__u32 i;

	if (udpc_pinned_open(pin_dir, &p))
		return 0;
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		struct udpc_uplink up;
		char name[IF_NAMESIZE];
		int n;

		if (bpf_map_lookup_elem(p.uplinks, &i, &up) || !(up.flags & UDPC_UPLINK_VIA) ||
		    !up.ifindex || !if_indextoname(up.ifindex, name))
			continue;
		n = udpc_detach_filters(up.ifindex, name);
		if (n > 0)
			removed += n;
	}
	udpc_pinned_close(&p);
	return removed;
}

int udpc_detach_run(const char *ifname)
{
	struct udpc_instance in = { .lock_fd = -1 };
	int err, removed = 0, i;
	bool stopped = false;	/* a daemon was running and has cleaned up after itself */
	unsigned int ifindex;

	if (udpc_check_caps()) {
		pr_warn("needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root\n");
		return EXIT_FAILURE;
	}
	snprintf(in.ifname, sizeof(in.ifname), "%s", ifname);
	if (udpc_ensure_bpffs() || udpc_pin_dir(ifname, in.pin_dir, sizeof(in.pin_dir)))
		return EXIT_FAILURE;

	err = udpc_instance_lock(&in, false);
	if (err == -EBUSY) {
		/* A daemon drives it: ask it to stop; it removes everything itself. */
		int pid = owner_pid(in.pin_dir);

		if (pid > 0 && kill(pid, SIGTERM) == 0)
			pr_info("stopping the udpclone-bpf daemon (pid %d) on %s\n", pid, ifname);
		for (i = 0; i < 100 && err == -EBUSY; i++) {
			usleep(50000);
			err = udpc_instance_lock(&in, false);
		}
		if (err == -EBUSY) {
			pr_warn("the daemon driving '%s' (pid %d) did not stop\n", ifname, pid);
			return EXIT_FAILURE;
		}
		stopped = true;
	}
	if (err && err != -ENOENT) {
		pr_warn("cannot lock %s: %s\n", in.pin_dir, strerror(-err));
		return EXIT_FAILURE;
	}
	/* -ENOENT: no pins, maybe filters left by a run whose pins were removed. */

	if (!err)
		removed += detach_pinned_uplinks(in.pin_dir);
	ifindex = if_nametoindex(ifname);
	if (ifindex) {
		int n = udpc_detach_filters(ifindex, ifname);

		removed = n < 0 ? n : removed + n;
		if (removed < 0) {
			pr_warn("cannot remove the filters from '%s': %s\n", ifname, strerror(-removed));
			udpc_instance_close(&in);
			return EXIT_FAILURE;
		}
	} else if (err == -ENOENT) {
		pr_warn("unknown interface '%s', and nothing of ours is pinned for it\n", ifname);
		return EXIT_FAILURE;
	} else {
		pr_warn("interface '%s' does not exist here: removing its pins only\n", ifname);
	}
	if (err != -ENOENT) {
		udpc_unpin_dir(in.pin_dir);
		udpc_instance_close(&in);
	} else if (!removed && !stopped) {
		pr_warn("nothing of ours is attached to '%s'\n", ifname);
		return EXIT_FAILURE;
	}
	pr_info("detached from %s\n", ifname);
	return EXIT_SUCCESS;
}
