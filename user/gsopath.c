// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Peer mode's slow path for UDP GSO super-packets (UDP_SEGMENT: an application
 * hands the stack many datagrams at once, which the stack cuts after our TC
 * egress hook). Such a packet cannot take a peer header as it is, so the data
 * path sends it to a veth pair of ours: its near end cannot pass GSO
 * (gso_max_segs 1), so the stack cuts the packet into datagrams there, and the far
 * end's ingress program (udpc_gso_return) sends each back out of the interface,
 * where it takes its header like any other. `attach --peer` and `serve` keep the
 * pair; it stays, like the pins, when the daemon is killed, and goes with detach.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gsopath.h"
#include "log.h"
#include "netlink.h"
#include "tc.h"
#include "udpc_peer.h"

/* A request as a whole (its attributes follow the header): see udpc_nl_attr(). */
#define NLH(m) ((struct nlmsghdr *)(m))

struct nl_msg {
	struct nlmsghdr nh;
	struct ifinfomsg ifi;
	char attrs[256];
};

void udpc_gsopath_names(int ifindex, char near[IF_NAMESIZE], char far[IF_NAMESIZE])
{
	snprintf(near, IF_NAMESIZE, "ucg%xa", (unsigned int)ifindex);
	snprintf(far, IF_NAMESIZE, "ucg%xb", (unsigned int)ifindex);
}

/* The pair, up, with GSO off at the near end; -EEXIST if it is there already. */
static int pair_create(const char *near, const char *far)
{
	struct nl_msg m = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_NEWLINK, .nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP },
	};
	/* Not up at once: a veth end cannot open before its peer exists
	 * (-ENOTCONN); set_up() brings it up after. */
	struct ifinfomsg peer = { .ifi_family = AF_UNSPEC };
	struct rtattr *info, *data, *pa;
	__u32 one = 1;

	udpc_nl_attr(NLH(&m), IFLA_IFNAME, near, strlen(near) + 1);
	udpc_nl_attr(NLH(&m), IFLA_GSO_MAX_SEGS, &one, sizeof(one));
	info = udpc_nl_attr(NLH(&m), IFLA_LINKINFO, NULL, 0);
	udpc_nl_attr(NLH(&m), IFLA_INFO_KIND, "veth", 5);
	data = udpc_nl_attr(NLH(&m), IFLA_INFO_DATA, NULL, 0);
	pa = udpc_nl_attr(NLH(&m), VETH_INFO_PEER, &peer, sizeof(peer));
	udpc_nl_attr(NLH(&m), IFLA_IFNAME, far, strlen(far) + 1);
	udpc_nl_nest_end(NLH(&m), pa);
	udpc_nl_nest_end(NLH(&m), data);
	udpc_nl_nest_end(NLH(&m), info);
	return udpc_nl_ack(NLH(&m));
}

/* Bring ifindex up. */
static int set_up(int ifindex)
{
	struct nl_msg m = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_NEWLINK },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = IFF_UP,
			 .ifi_change = IFF_UP },
	};

	return udpc_nl_ack(NLH(&m));
}

/* No IPv6 on the pair: no router solicitations or neighbour discovery of its own. */
static void no_ipv6(const char *ifname)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* no IPv6 at all */
	if (write(fd, "1", 1) != 1)
		pr_debug("cannot disable IPv6 on %s\n", ifname);
	close(fd);
}

int udpc_gsopath_setup(int ifindex, int return_prog_fd)
{
	char near[IF_NAMESIZE], far[IF_NAMESIZE];
	int err, near_index, far_index;

	udpc_gsopath_names(ifindex, near, far);
	err = pair_create(near, far);
	if (err && err != -EEXIST) {
		pr_warn("cannot create %s/%s, the veth pair that cuts UDP GSO super-packets into datagrams: %s\n",
			near, far, strerror(-err));
		return err;
	}
	near_index = (int)if_nametoindex(near);
	far_index = (int)if_nametoindex(far);
	if (!near_index || !far_index) {
		pr_warn("veth pair %s/%s: gone after being made\n", near, far);
		return -ENODEV;
	}
	no_ipv6(near);
	no_ipv6(far);
	err = set_up(far_index);
	if (!err)
		err = set_up(near_index);
	if (err) {
		pr_warn("cannot bring %s/%s up: %s\n", near, far, strerror(-err));
		return err;
	}
	err = udpc_tc_clsact(far_index, far);
	if (!err)
		err = udpc_tc_attach(far_index, far, return_prog_fd, false);
	if (err)
		return err;
	return near_index;
}

int udpc_gsopath_enable(int ifindex, int return_prog_fd, int peer_cfg_fd)
{
	struct udpc_peer_cfg pc;
	__u32 zero = 0;
	int near = udpc_gsopath_setup(ifindex, return_prog_fd);

	if (near < 0) {
		pr_warn("UDP GSO super-packets will be dropped (counted in tx_gso and tx_errors)\n");
		return near;
	}
	if (bpf_map_lookup_elem(peer_cfg_fd, &zero, &pc))
		return -errno;
	pc.gso_ifindex = (__u32)near;
	return bpf_map_update_elem(peer_cfg_fd, &zero, &pc, BPF_ANY) ? -errno : 0;
}

void udpc_gsopath_remove(int ifindex)
{
	char near[IF_NAMESIZE], far[IF_NAMESIZE];
	struct nl_msg m = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_DELLINK },
		.ifi = { .ifi_family = AF_UNSPEC },
	};
	int err;

	udpc_gsopath_names(ifindex, near, far);
	m.ifi.ifi_index = (int)if_nametoindex(near);
	if (!m.ifi.ifi_index)
		return; /* never made, or gone with its namespace */
	err = udpc_nl_ack(NLH(&m)); /* the far end goes with it */
	if (err && err != -ENODEV)
		pr_warn("cannot remove the veth pair %s/%s: %s\n", near, far, strerror(-err));
}
