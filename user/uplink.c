// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sys.h"
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
