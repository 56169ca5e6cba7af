/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The environment the BPF tests run in: a private network namespace built from
 * the test's own table of ip/sysctl commands (made of the pieces below), where
 * veth0 is the "attached" interface and its peer veth1 captures what the
 * programs transmit (AF_PACKET); and the udpclone skeleton, loaded with its maps
 * pinned in a private directory under /sys/fs/bpf that is removed at exit and on
 * SIGTERM and SIGINT.
 *
 * Header-only, like pkt.h: each test is one translation unit, and this is its
 * `env`. Include it after defining _GNU_SOURCE (for unshare()).
 */
#ifndef UDPC_TEST_ENV_H
#define UDPC_TEST_ENV_H

#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_packet.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>

#include "udpclone.skel.h"
#include "pkt.h"

#define NSEC 1000000000ULL
#define ENV_MAX_PINS 32

/*
 * The test network, in pieces a test puts in the table of commands it gives
 * env_setup(): ENV_NET_VETH, which every test starts with, then ENV_NET_ROUTED
 * if it wants the routed network, then its own commands.
 */
#define MAC_V0 "02:00:00:00:00:01"	/* veth0, the attached interface */
#define MAC_V1 "02:00:00:00:00:02"	/* veth1, where clones are captured */
#define MAC_A "02:00:00:00:01:01"	/* 198.51.100.1 */
#define MAC_B "02:00:00:00:01:02"	/* 198.51.100.2 */
#define MAC_GW4 "02:00:00:00:01:fe"	/* 192.0.2.254, gateway to 203.0.113.0/24 */
#define MAC_A6 "02:00:00:00:02:10"	/* 2001:db8:1::10 */
#define MAC_B6 "02:00:00:00:02:20"	/* 2001:db8:1::20 */
#define MAC_GW6 "02:00:00:00:02:fe"	/* 2001:db8:1::fe, gateway to 2001:db8:2::/64 */

/* The veth pair, veth0 with 192.0.2.1/24 and 2001:db8:1::1/64. */
#define ENV_NET_VETH                                                                   \
	"ip link set lo up",                                                           \
	"ip link add veth0 address " MAC_V0 " type veth peer name veth1 address " MAC_V1, \
	/* veth1 only listens: no ND/MLD/RS chatter of its own. */                    \
	"sysctl -qw net.ipv6.conf.veth1.disable_ipv6=1",                               \
	/* bpf_fib_lookup() answers only on interfaces that forward. */               \
	"sysctl -qw net.ipv4.conf.veth0.forwarding=1",                                 \
	"sysctl -qw net.ipv6.conf.veth0.forwarding=1",                                 \
	"ip link set veth0 up",                                                        \
	"ip link set veth1 up",                                                        \
	"ip addr add 192.0.2.1/24 dev veth0",                                          \
	"ip -6 addr add 2001:db8:1::1/64 dev veth0 nodad"

/* Destinations behind veth0, directly and through gateways, with permanent
 * neighbours: every next hop bpf_fib_lookup() gives is known. */
#define ENV_NET_ROUTED                                                                 \
	"ip route add 198.51.100.0/24 dev veth0",                                      \
	"ip route add 203.0.113.0/24 via 192.0.2.254 dev veth0",                       \
	"ip -6 route add 2001:db8:2::/64 via 2001:db8:1::fe dev veth0",                \
	"ip neigh add 198.51.100.1 lladdr " MAC_A " dev veth0 nud permanent",          \
	"ip neigh add 198.51.100.2 lladdr " MAC_B " dev veth0 nud permanent",          \
	"ip neigh add 192.0.2.254 lladdr " MAC_GW4 " dev veth0 nud permanent",         \
	"ip -6 neigh add 2001:db8:1::10 lladdr " MAC_A6 " dev veth0 nud permanent",    \
	"ip -6 neigh add 2001:db8:1::20 lladdr " MAC_B6 " dev veth0 nud permanent",    \
	"ip -6 neigh add 2001:db8:1::fe lladdr " MAC_GW6 " dev veth0 nud permanent"

static struct {
	struct udpclone *skel;
	char pin_dir[64];
	char pin_paths[ENV_MAX_PINS][128];	/* of the maps, known once loaded */
	int n_pins;
	int veth0, veth1;	/* ifindexes */
	int cap_fd;		/* packet socket on veth1 */
	int ncpus;
} env = { .cap_fd = -1 };

/* Async-signal-safe: also run on SIGTERM (the runner's time limit) and at exit. */
static inline void remove_pins(void)
{
	int i;

	if (!env.pin_dir[0])
		return;
	for (i = 0; i < env.n_pins; i++)
		unlink(env.pin_paths[i]);
	rmdir(env.pin_dir);
}

static inline void on_signal(int sig)
{
	remove_pins();
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "setup: '%s' failed (status %d)\n", cmd, rc);
	return rc == 0 ? 0 : -1;
}

static inline int env_netns(const char *const *cmds, size_t n_cmds)
{
	size_t i;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "setup: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	for (i = 0; i < n_cmds; i++)
		if (sh(cmds[i]))
			return -1;
	env.veth0 = (int)if_nametoindex("veth0");
	env.veth1 = (int)if_nametoindex("veth1");
	if (!env.veth0 || !env.veth1) {
		fprintf(stderr, "setup: veth pair missing\n");
		return -1;
	}
	return 0;
}

static inline int env_capture_open(void)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = env.veth1,
	};
	int one = 1;

	env.cap_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	/* PACKET_AUXDATA tells which frames still carry a partial checksum. */
	if (env.cap_fd < 0 || bind(env.cap_fd, (struct sockaddr *)&sll, sizeof(sll)) ||
	    setsockopt(env.cap_fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one))) {
		fprintf(stderr, "setup: packet socket on veth1: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Pins go to /sys/fs/bpf/<name>-<pid> (bpffs mounted if nobody did). */
static inline int env_load(const char *name)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct bpf_map *map;
	struct statfs sfs;
	int err;

	if (statfs("/sys/fs/bpf", &sfs) || (unsigned long)sfs.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL)) {
			fprintf(stderr, "setup: mount bpffs: %s\n", strerror(errno));
			return -1;
		}
	}
	snprintf(env.pin_dir, sizeof(env.pin_dir), "/sys/fs/bpf/%s-%d", name, (int)getpid());
	if (!access(env.pin_dir, F_OK)) {
		fprintf(stderr, "setup: %s exists (a dead run with our pid?)\n", env.pin_dir);
		env.pin_dir[0] = '\0';
		return -1;
	}
	atexit(remove_pins);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (mkdir(env.pin_dir, 0700)) {
		fprintf(stderr, "setup: mkdir %s: %s\n", env.pin_dir, strerror(errno));
		return -1;
	}

	oo.pin_root_path = env.pin_dir;
	env.skel = udpclone__open_opts(&oo);
	if (!env.skel) {
		fprintf(stderr, "setup: open skeleton: %s\n", strerror(errno));
		return -1;
	}
	/* Every pinned map, so that even a signal handler can remove the pins. */
	bpf_object__for_each_map(map, env.skel->obj) {
		if (env.n_pins == ENV_MAX_PINS) {
			fprintf(stderr, "setup: more maps than ENV_MAX_PINS (%d)\n", ENV_MAX_PINS);
			return -1;
		}
		snprintf(env.pin_paths[env.n_pins++], sizeof(env.pin_paths[0]), "%s/%s",
			 env.pin_dir, bpf_map__name(map));
	}
	err = udpclone__load(env.skel);
	if (err) {
		fprintf(stderr, "setup: load: %s\n", strerror(-err));
		return -1;
	}
	env.ncpus = libbpf_num_possible_cpus();
	return env.ncpus > 0 ? 0 : -1;
}

/*
 * All of the above; `name` names the pin directory. After a failure too,
 * env_teardown() undoes what was done.
 */
static inline int env_setup(const char *name, const char *const *cmds, size_t n_cmds)
{
	if (env_netns(cmds, n_cmds) || env_capture_open())
		return -1;
	return env_load(name);
}

static inline void env_teardown(void)
{
	if (env.skel)
		bpf_object__unpin_maps(env.skel->obj, NULL);
	udpclone__destroy(env.skel);
	env.skel = NULL;
	remove_pins();
	if (env.cap_fd >= 0)
		close(env.cap_fd);
	env.cap_fd = -1;
}

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* the clock of bpf_ktime_get_ns() */
	return (int64_t)ts.tv_sec * (int64_t)NSEC + ts.tv_nsec;
}

static inline bool is_udp_frame(const uint8_t *f, size_t len)
{
	if (len >= PKT_ETH_LEN + PKT_IP4_LEN && pkt_get16(f + 12) == 0x0800)
		return f[PKT_ETH_LEN + 9] == IPPROTO_UDP;
	if (len >= PKT_ETH_LEN + PKT_IP6_LEN && pkt_get16(f + 12) == 0x86dd)
		return f[PKT_ETH_LEN + 6] == IPPROTO_UDP;
	return false;
}

/*
 * The next UDP frame that arrives on veth1 within timeout_ms: its length, 0 if
 * none came, -errno on error. Frames veth1 sends and non-UDP chatter (ND, MLD,
 * ARP) are not the program's and are skipped. *partial (if given) says the UDP
 * checksum was left for the device to finish (CHECKSUM_PARTIAL).
 */
static inline int capture_next(uint8_t *buf, size_t cap, int timeout_ms, bool *partial)
{
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		int64_t left = (deadline - now_ns()) / 1000000;
		struct pollfd pfd = { .fd = env.cap_fd, .events = POLLIN };
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		} ctl;
		struct sockaddr_ll sll;
		struct iovec iov = { .iov_base = buf, .iov_len = cap };
		struct msghdr msg = { .msg_name = &sll, .msg_namelen = sizeof(sll),
				      .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
		struct cmsghdr *cm;
		ssize_t len;
		int n;

		if (left < 0)
			return 0;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		len = recvmsg(env.cap_fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if ((size_t)len > cap)
			return -EMSGSIZE;
		if (sll.sll_pkttype == PACKET_OUTGOING || !is_udp_frame(buf, (size_t)len))
			continue;
		if (partial) {
			*partial = false;
			for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
				struct tpacket_auxdata aux;

				if (cm->cmsg_level != SOL_PACKET || cm->cmsg_type != PACKET_AUXDATA)
					continue;
				memcpy(&aux, CMSG_DATA(cm), sizeof(aux));
				*partial = aux.tp_status & TP_STATUS_CSUMNOTREADY;
			}
		}
		return (int)len;
	}
}

/* Read until veth1 has been quiet for quiet_ms; returns how many frames that was. */
static inline int capture_drain(int quiet_ms)
{
	uint8_t buf[PKT_MAX];
	int n = 0;

	while (capture_next(buf, sizeof(buf), quiet_ms, NULL) > 0)
		n++;
	return n;
}

#endif /* UDPC_TEST_ENV_H */
