// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Uplinks (HOST:PORT@IFACE, @table=N): what the data path must know of the
 * interface a destination's copies leave by (index, link, addresses, MTU, link
 * type), kept by the daemon's uplink step each tick, and our ingress filter on it,
 * where the replies to those copies come back.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "fmt.h"
#include "log.h"
#include "netlink.h"
#include "sys.h"
#include "tc.h"
#include "uplink.h"

/* First IPv4 and first global IPv6 address of ifname in ifa (getifaddrs()): the
 * source of its copies. */
static void uplink_addrs(const char *ifname, const struct ifaddrs *ifa, struct udpc_uplink *up)
{
	const struct ifaddrs *a;

	for (a = ifa; a; a = a->ifa_next) {
		if (!a->ifa_addr || strcmp(a->ifa_name, ifname))
			continue;
		if (a->ifa_addr->sa_family == AF_INET && !(up->flags & UDPC_UPLINK_SRC4)) {
			up->src4 = ((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr;
			up->flags |= UDPC_UPLINK_SRC4;
		} else if (a->ifa_addr->sa_family == AF_INET6 && !(up->flags & UDPC_UPLINK_SRC6)) {
			const struct in6_addr *a6 = &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;

			/* A link-local source would not get the replies back. */
			if (IN6_IS_ADDR_LINKLOCAL(a6))
				continue;
			memcpy(up->src6.w, a6, sizeof(up->src6.w));
			up->flags |= UDPC_UPLINK_SRC6;
		}
	}
}

int udpc_uplink_probe(const char *ifname, const struct ifaddrs *ifa, struct udpc_uplink *up,
		      __u8 mac[6])
{
	struct ifreq ifr;
	int l2_len, err;

	memset(up, 0, sizeof(*up));
	memset(mac, 0, 6);
	up->ifindex = if_nametoindex(ifname);
	if (!up->ifindex)
		return -ENODEV;
	err = udpc_iface_ioctl(ifname, SIOCGIFMTU, &ifr);
	if (err)
		goto gone;
	up->mtu = ifr.ifr_mtu > 0xffff ? 0xffff : ifr.ifr_mtu;
	err = udpc_iface_l2_len(ifname, &l2_len);
	if (err)
		goto gone;
	up->l2_len = l2_len;
	if (l2_len)
		udpc_iface_mac(ifname, mac);
	err = udpc_iface_ioctl(ifname, SIOCGIFFLAGS, &ifr);
	if (err)
		goto gone;
	/* Up and with carrier: a modem without signal is as good as down. */
	if ((ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING))
		up->flags |= UDPC_UPLINK_UP;
	uplink_addrs(ifname, ifa, up);
	return 0;
gone:
	/* Vanished between the calls: as if it never was. */
	memset(up, 0, sizeof(*up));
	return err == -ENODEV || err == -ENXIO ? -ENODEV : err;
}

static int read_int(const char *path)
{
	FILE *f = fopen(path, "re");
	int v, ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%d", &v) == 1;
	fclose(f);
	return ok ? v : -EINVAL;
}

int udpc_forwarding(int family, const char *ifname)
{
	char path[96];
	int v;

	snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/forwarding",
		 family == UDPC_AF_INET ? "ipv4" : "ipv6", ifname);
	v = read_int(path);
	return v < 0 ? v : v != 0;
}

int udpc_rp_filter(const char *ifname)
{
	char path[96];
	int all, one;

	all = read_int("/proc/sys/net/ipv4/conf/all/rp_filter");
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", ifname);
	one = read_int(path);
	if (all < 0 || one < 0)
		return all < 0 ? all : one;
	return all > one ? all : one;
}

static void log_uplink(const struct udpc_dest_spec *s, const char *ifname,
		       const struct udpc_uplink *cur, const struct udpc_uplink *next)
{
	char name[UDPC_DEST_STR_MAX], a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "";
	struct udpc_addr v4 = { .w = { next->src4 } };

	udpc_fmt_dest_spec(s, name, sizeof(name));
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

	if (bpf_map_lookup_elem(dm->maps.dests, &i, &d))
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
void uplink_tick(struct daemon *dm)
{
	struct ifaddrs *ifa = NULL; /* every interface's addresses, read once per tick */
	__u32 i;

	for (i = 0; i < (__u32)dm->o->n_dests && i < UDPC_MAX_DESTS; i++) {
		const struct udpc_dest_spec *s = &dm->o->dests[i];
		struct udpc_uplink cur = {}, next = {};
		struct udpc_table_route rt = {};
		char ifname[IF_NAMESIZE];
		int family = 0;

		if (!s->uplink[0] && !s->table && !dm->o->peer)
			continue;
		if (!ifa && getifaddrs(&ifa)) {
			/* Rather no news than every uplink without an address: next tick. */
			pr_debug("getifaddrs: %s\n", strerror(errno));
			return;
		}
		bpf_map_lookup_elem(dm->maps.uplinks, &i, &cur);
		if (!s->uplink[0] && !s->table) {
			/* Peer mode, a destination by the attached interface: its addresses,
			 * for the copies of a datagram of the other family (not an uplink:
			 * no UDPC_UPLINK_VIA). */
			uplink_addrs(dm->in.ifname, ifa, &next);
			if (memcmp(&cur, &next, sizeof(cur)) &&
			    bpf_map_update_elem(dm->maps.uplinks, &i, &next, BPF_ANY))
				pr_warn("cannot update the sources of destination %u: %s\n", i,
					strerror(errno));
			continue;
		}
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
		if (bpf_map_update_elem(dm->maps.uplinks, &i, &next, BPF_ANY)) {
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
void detach_uplinks(struct daemon *dm)
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
