// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * attach --peer: keepalives (keepalive.h). A keepalive takes the way its path's
 * copies take: the same source address and port (the same NAT binding), the same
 * interface, and the kernel's routing picks the rest, source-based rules included.
 */
#define _GNU_SOURCE /* struct in6_pktinfo */
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "kaframe.h"
#include "keepalive.h"
#include "log.h"
#include "sys.h"
#include "udpc_peer.h"

#define NS_PER_S 1000000000ULL
#define KA_INTERVAL_NS NS_PER_S
#define KA_SAY_NS (60 * NS_PER_S) /* failed sends are logged (-v) at most this often */

/* What a round needs of the destinations, read at once under the daemon's lock. */
struct ka_slots {
	struct udpc_dest d[UDPC_MAX_DESTS];
	struct udpc_uplink up[UDPC_MAX_DESTS];
};

/* The socket's cookie (SO_COOKIE), 0 if it has none. */
static __u64 cookie_of(int fd)
{
	__u64 cookie = 0;
	socklen_t len = sizeof(cookie);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len))
		return 0;
	return cookie;
}

/*
 * Tell the data path our sockets: a keepalive leaving the attached interface to a
 * destination on the listen port is addressed as a client's datagram would be,
 * and udpc_egress would otherwise fan it out as data.
 */
static void keepalive_cookies(struct daemon *dm)
{
	struct udpc_peer_cfg pc;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(dm->maps.peer_cfg, &zero, &pc))
		return;
	pc.ka_cookie[0] = cookie_of(dm->ka.fd4);
	pc.ka_cookie[1] = cookie_of(dm->ka.fd6);
	if (bpf_map_update_elem(dm->maps.peer_cfg, &zero, &pc, BPF_ANY))
		pr_warn("cannot record the keepalive sockets: %s\n", strerror(errno));
}

void keepalive_open(struct daemon *dm)
{
	struct udpc_keepalive *ka = &dm->ka;

	ka->fd4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (ka->fd4 < 0)
		pr_warn("no IPv4 keepalives: cannot open a raw socket: %s\n", strerror(errno));
	ka->fd6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (ka->fd6 < 0)
		pr_warn("no IPv6 keepalives: cannot open a raw socket: %s\n", strerror(errno));
	keepalive_cookies(dm);
}

void keepalive_close(struct daemon *dm)
{
	if (dm->ka.fd4 >= 0)
		close(dm->ka.fd4);
	if (dm->ka.fd6 >= 0)
		close(dm->ka.fd6);
	dm->ka.fd4 = dm->ka.fd6 = -1;
}

/* The address of a family of a map value that keeps both. */
static struct udpc_addr of_family(bool v4, __be32 a4, const struct udpc_addr *a6)
{
	struct udpc_addr a = { .w = { a4 } };

	return v4 ? a : *a6;
}

/*
 * The way path `slot` of session (id, s) takes, into ks (family, addresses, ports)
 * and *ifindex; false when it has none now. A path is of the session's family when
 * its destination has an address of it, else of the other one (docs/PEER.md, "Both
 * address families in one session"), as the copies are. None: no address, its
 * uplink down or without an address of that family, or no flow of this session by
 * it (no data went by it yet, or long ago: the echo would find no flow, and reach
 * the application).
 */
static bool ka_way(struct daemon *dm, const struct ka_slots *sl, __u32 slot, __u64 id,
		   const struct udpc_session *s, __u64 now, struct udpc_ka_spec *ks,
		   __u32 *ifindex)
{
	const struct udpc_dest *d = &sl->d[slot];
	const struct udpc_uplink *up = &sl->up[slot];
	bool v4 = s->family == UDPC_AF_INET;
	struct udpc_flow_key key = { .port = s->label_port };
	struct udpc_flow flow;
	__u32 src_flag;

	if (!(d->flags & (v4 ? UDPC_DEST_V4 : UDPC_DEST_V6)))
		v4 = !v4; /* a copy of the other family goes by it, if it has that one */
	if (!(d->flags & (v4 ? UDPC_DEST_V4 : UDPC_DEST_V6)))
		return false;
	ks->family = v4 ? UDPC_AF_INET : UDPC_AF_INET6;
	ks->dst = of_family(v4, d->addr4, &d->addr6);
	src_flag = v4 ? UDPC_UPLINK_SRC4 : UDPC_UPLINK_SRC6;
	if (up->flags & UDPC_UPLINK_VIA) {
		if ((up->flags & (UDPC_UPLINK_UP | src_flag)) != (UDPC_UPLINK_UP | src_flag) ||
		    !up->ifindex)
			return false;
		ks->src = of_family(v4, up->src4, &up->src6);
		*ifindex = up->ifindex;
	} else {
		if (ks->family == s->family)
			ks->src = s->label;
		else if (up->flags & src_flag) /* the attached interface's, kept for this */
			ks->src = of_family(v4, up->src4, &up->src6);
		else
			return false;
		*ifindex = dm->in.ifindex;
	}
	key.addr = ks->src;
	key.family = ks->family;
	if (bpf_map_lookup_elem(dm->maps.flows, &key, &flow) || flow.session != id ||
	    (__s64)(now - flow.last_seen_ns) > (__s64)((__u64)dm->o->flow_timeout * NS_PER_S))
		return false;
	ks->sport = ntohs(s->label_port);
	ks->dport = ntohs(d->port);
	return true;
}

/* msg's one control message: level, type and len bytes of data (room for it given). */
static void put_cmsg(struct msghdr *msg, int level, int type, const void *data, size_t len)
{
	struct cmsghdr *c = msg->msg_control;

	msg->msg_controllen = CMSG_SPACE(len);
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
}

/* Sends frame ks by interface ifindex, from ks->src; returns 0 or -errno. */
static int ka_send(const struct udpc_keepalive *ka, const struct udpc_ka_spec *ks,
		   __u32 ifindex)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl = {};
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} to = {};
	uint8_t frame[UDPC_KA_FRAME_MAX];
	struct iovec iov = { .iov_base = frame };
	struct msghdr msg = { .msg_name = &to, .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf };
	int fd;

	iov.iov_len = udpc_ka_frame(ks, frame);
	if (ks->family == UDPC_AF_INET) {
		struct in_pktinfo pi = { .ipi_ifindex = (int)ifindex };

		fd = ka->fd4;
		memcpy(&pi.ipi_spec_dst, ks->src.w, 4);
		to.v4.sin_family = AF_INET;
		memcpy(&to.v4.sin_addr, ks->dst.w, 4);
		msg.msg_namelen = sizeof(to.v4);
		put_cmsg(&msg, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { .ipi6_ifindex = ifindex };

		fd = ka->fd6;
		memcpy(&pi.ipi6_addr, ks->src.w, 16);
		to.v6.sin6_family = AF_INET6;
		memcpy(&to.v6.sin6_addr, ks->dst.w, 16);
		if (IN6_IS_ADDR_LINKLOCAL(&to.v6.sin6_addr))
			to.v6.sin6_scope_id = ifindex;
		msg.msg_namelen = sizeof(to.v6);
		put_cmsg(&msg, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
	}
	if (fd < 0)
		return -EAFNOSUPPORT;
	return sendmsg(fd, &msg, MSG_DONTWAIT) < 0 ? -errno : 0;
}

/* One keepalive by each way of session (id, s), if it is active. */
static void ka_session(struct daemon *dm, const struct ka_slots *sl, __u64 id,
		       const struct udpc_session *s, __u64 now)
{
	struct udpc_keepalive *ka = &dm->ka;
	__u32 slot, ifindex;
	int err;

	if ((__s64)(now - s->last_tx_ns) > (__s64)((__u64)dm->o->flow_timeout * NS_PER_S))
		return;
	for (slot = 0; slot < UDPC_MAX_DESTS; slot++) {
		const struct udpc_peer_path *pp = &s->path[slot];
		struct udpc_ka_spec ks = {
			.path = slot,
			.session = id,
			.rtt_ns = pp->rtt_ns,
			.rx_packets = pp->rx_packets,
			.rx_first = pp->rx_first,
			.seq_first = pp->seq_first,
			.seq_last = pp->seq_last,
		};

		if (!ka_way(dm, sl, slot, id, s, now, &ks, &ifindex))
			continue;
		ks.seq = ++ka->seq ? ka->seq : ++ka->seq;
		ks.stamp_ns = udpc_mono_ns();
		err = ka_send(ka, &ks, ifindex);
		ka->sent++;
		if (err) {
			ka->failed++;
			ka->last_err = -err;
		}
	}
}

void keepalive_tick(struct daemon *dm)
{
	struct udpc_keepalive *ka = &dm->ka;
	__u64 now = udpc_mono_ns(), k, nk, tries;
	struct udpc_session *s;
	struct ka_slots sl;
	__u32 i;
	int err;

	if (!dm->o->peer || (ka->fd4 < 0 && ka->fd6 < 0) || now < ka->next_ns)
		return;
	ka->next_ns = now + KA_INTERVAL_NS;
	memset(&sl, 0, sizeof(sl));
	pthread_mutex_lock(&dm->lock);
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		bpf_map_lookup_elem(dm->maps.dests, &i, &sl.d[i]);
		bpf_map_lookup_elem(dm->maps.uplinks, &i, &sl.up[i]);
	}
	pthread_mutex_unlock(&dm->lock);

	s = malloc(sizeof(*s));
	if (!s)
		return;
	/* Bounded: a key evicted under our feet makes the walk start over. */
	tries = (__u64)dm->maps.max_sessions * 2 + 16;
	for (err = bpf_map_get_next_key(dm->maps.sessions, NULL, &k); !err && tries--;
	     err = bpf_map_get_next_key(dm->maps.sessions, &k, &nk), k = nk)
		if (!bpf_map_lookup_elem(dm->maps.sessions, &k, s))
			ka_session(dm, &sl, k, s, now);
	free(s);

	if (ka->failed > ka->failed_said && (!ka->said_ns || now - ka->said_ns >= KA_SAY_NS)) {
		pr_debug("keepalives: %llu sent, %llu of them failed (the last: %s)\n",
			 (unsigned long long)ka->sent, (unsigned long long)ka->failed,
			 strerror(ka->last_err));
		ka->failed_said = ka->failed;
		ka->said_ns = now;
	}
}
