// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink.h"

struct nl_req {
	struct nlmsghdr nh;
	union {
		struct rtmsg rt;
		struct ndmsg nd;
	};
	char attrs[64];
};

static size_t addr_len(int family)
{
	return family == UDPC_AF_INET6 ? 16 : 4;
}

struct rtattr *udpc_nl_attr(struct nlmsghdr *nh, int type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
	return rta;
}

void udpc_nl_nest_end(struct nlmsghdr *nh, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)nh + nh->nlmsg_len - (char *)nest);
}

static void add_attr(struct nl_req *r, int type, const void *data, size_t len)
{
	/* The whole request, not its header member: the attributes follow it. */
	udpc_nl_attr((struct nlmsghdr *)r, type, data, len);
}

/* One request, one answer (a message or an error/ack) into resp. */
static int nl_transact(const struct nlmsghdr *req, void *resp, size_t resp_len)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nh = resp;
	int fd, err = 0;
	ssize_t n;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	n = recv(fd, resp, resp_len, 0);
	if (n < 0)
		err = -errno;
	else if (n < (ssize_t)sizeof(*nh) || !NLMSG_OK(nh, (size_t)n))
		err = -EBADMSG;
	else if (nh->nlmsg_type == NLMSG_ERROR)
		err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
out:
	close(fd);
	return err;
}

int udpc_nl_ack(struct nlmsghdr *req)
{
	char buf[512];

	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	return nl_transact(req, buf, sizeof(buf));
}

/* One RTM_GETROUTE: next hop and output interface of dst (oif 0: any). */
static int route_get(int family, const struct udpc_addr *dst, int oif, struct udpc_addr *nh,
		     int *out_oif)
{
	struct nl_req r = {};
	char buf[4096] = { 0 }; /* zeroed: analysers cannot see recv() fill it */
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct rtattr *rta;
	int err, len;
	__u32 oif32 = oif;

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(r.rt));
	r.nh.nlmsg_type = RTM_GETROUTE;
	r.nh.nlmsg_flags = NLM_F_REQUEST;
	r.rt.rtm_family = family;
	r.rt.rtm_dst_len = addr_len(family) * 8;
	add_attr(&r, RTA_DST, dst->w, addr_len(family));
	if (oif)
		add_attr(&r, RTA_OIF, &oif32, sizeof(oif32));
	err = nl_transact((struct nlmsghdr *)&r, buf, sizeof(buf));
	if (err)
		return err;
	if (h->nlmsg_type != RTM_NEWROUTE)
		return -EBADMSG;
	if (((struct rtmsg *)NLMSG_DATA(h))->rtm_type != RTN_UNICAST)
		return -ENETUNREACH; /* blackhole, unreachable, prohibit, local... */

	*nh = *dst; /* on-link unless a gateway says otherwise */
	*out_oif = 0;
	len = RTM_PAYLOAD(h);
	for (rta = RTM_RTA(NLMSG_DATA(h)); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_GATEWAY && RTA_PAYLOAD(rta) == addr_len(family)) {
			memset(nh, 0, sizeof(*nh));
			memcpy(nh->w, RTA_DATA(rta), addr_len(family));
		} else if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) == sizeof(__u32)) {
			*out_oif = *(__u32 *)RTA_DATA(rta);
		}
	}
	return 0;
}

int udpc_route_nexthop(int family, const struct udpc_addr *dst, int oif, struct udpc_addr *nh)
{
	int err, route_oif;

	/* The plain route first: a lookup pinned to an oif finds no blackhole, it
	 * assumes any destination is on-link when nothing else matches. */
	err = route_get(family, dst, 0, nh, &route_oif);
	if (err == -EINVAL || err == -EHOSTUNREACH || err == -EACCES)
		return -ENETUNREACH;
	if (err || route_oif == oif)
		return err;
	/* The route leaves by another interface, but the copy leaves by oif: its
	 * next hop there, as bpf_fib_lookup() pinned to oif would answer. */
	return route_get(family, dst, oif, nh, &route_oif);
}

/* Does prefix/len (network order words) contain a? */
static bool prefix_has(const struct udpc_addr *prefix, int len, const struct udpc_addr *a)
{
	int i;

	for (i = 0; i < 4 && len > 0; i++, len -= 32) {
		__u32 mask = len >= 32 ? 0xffffffff : ~(0xffffffffu >> len);

		if ((ntohl(prefix->w[i]) ^ ntohl(a->w[i])) & mask)
			return false;
	}
	return true;
}

/* The kernel answers RTM_GETROUTE from the rules and the main table only (RTA_TABLE
 * is not a lookup key there): a table's route is found by dumping the table. */
int udpc_route_in_table(int family, const struct udpc_addr *dst, __u32 table,
			struct udpc_table_route *rt)
{
	struct nl_req r = {};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, err = -ENETUNREACH, best_len = -1, done = 0;
	__u32 best_metric = 0;
	unsigned char best_type = 0;
	static char buf[32768];

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(r.rt));
	r.nh.nlmsg_type = RTM_GETROUTE;
	r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r.rt.rtm_family = family;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &r, r.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			err = -errno;
			goto out;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct rtmsg *rtm = NLMSG_DATA(h);
			struct udpc_table_route cand = { 0 };
			struct udpc_addr pfx = { 0 };
			struct rtattr *rta;
			__u32 tbl = rtm->rtm_table, metric = 0;
			int len;

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = 1;
				break;
			}
			if (h->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != family)
				continue;
			cand.nexthop = *dst;
			len = RTM_PAYLOAD(h);
			for (rta = RTM_RTA(rtm); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
				size_t plen = RTA_PAYLOAD(rta);

				switch (rta->rta_type) {
				case RTA_TABLE:
					tbl = *(__u32 *)RTA_DATA(rta);
					break;
				case RTA_DST:
					if (plen == addr_len(family))
						memcpy(pfx.w, RTA_DATA(rta), plen);
					break;
				case RTA_OIF:
					cand.oif = *(__u32 *)RTA_DATA(rta);
					break;
				case RTA_GATEWAY:
					if (plen == addr_len(family)) {
						memset(&cand.nexthop, 0, sizeof(cand.nexthop));
						memcpy(cand.nexthop.w, RTA_DATA(rta), plen);
					}
					break;
				case RTA_PREFSRC:
					if (plen == addr_len(family)) {
						memcpy(cand.prefsrc.w, RTA_DATA(rta), plen);
						cand.has_prefsrc = 1;
					}
					break;
				case RTA_PRIORITY:
					metric = *(__u32 *)RTA_DATA(rta);
					break;
				}
			}
			if (tbl != table || !prefix_has(&pfx, rtm->rtm_dst_len, dst))
				continue;
			if (rtm->rtm_dst_len < best_len ||
			    (rtm->rtm_dst_len == best_len && metric >= best_metric))
				continue;
			best_len = rtm->rtm_dst_len;
			best_metric = metric;
			best_type = rtm->rtm_type;
			*rt = cand;
		}
	}
	/* A blackhole or unreachable route wins its prefix as it would in the kernel. */
	err = best_len >= 0 && best_type == RTN_UNICAST && rt->oif ? 0 : -ENETUNREACH;
out:
	close(fd);
	return err;
}

int udpc_neigh_get(int family, const struct udpc_addr *addr, int ifindex, __u8 mac[6],
		   __u16 *state)
{
	struct nl_req r = {};
	char buf[1024] = { 0 };
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct rtattr *rta;
	bool have_mac = false;
	int err, len;

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(r.nd));
	r.nh.nlmsg_type = RTM_GETNEIGH;
	r.nh.nlmsg_flags = NLM_F_REQUEST;
	r.nd.ndm_family = family;
	r.nd.ndm_ifindex = ifindex;
	add_attr(&r, NDA_DST, addr->w, addr_len(family));
	err = nl_transact((struct nlmsghdr *)&r, buf, sizeof(buf));
	if (err)
		return err;
	if (h->nlmsg_type != RTM_NEWNEIGH)
		return -EBADMSG;
	*state = ((struct ndmsg *)NLMSG_DATA(h))->ndm_state;
	len = h->nlmsg_len - NLMSG_LENGTH(sizeof(struct ndmsg));
	for (rta = (struct rtattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct ndmsg)));
	     RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == NDA_LLADDR && RTA_PAYLOAD(rta) == 6) {
			memcpy(mac, RTA_DATA(rta), 6);
			have_mac = true;
		}
	if (!have_mac)
		*state &= ~UDPC_NUD_VALID; /* nothing usable to write into a frame */
	return 0;
}

int udpc_neigh_resolve(int family, const struct udpc_addr *addr, int ifindex)
{
	struct nl_req r = {};
	char buf[512] = { 0 };

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(r.nd));
	r.nh.nlmsg_type = RTM_NEWNEIGH;
	r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	r.nd.ndm_family = family;
	r.nd.ndm_ifindex = ifindex;
	r.nd.ndm_state = NUD_NONE;
	r.nd.ndm_flags = NTF_USE; /* probe it, as a packet to it would */
	add_attr(&r, NDA_DST, addr->w, addr_len(family));
	return nl_transact((struct nlmsghdr *)&r, buf, sizeof(buf));
}
