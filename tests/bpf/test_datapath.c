// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Data-path tests: udpc_egress and udpc_ingress driven through BPF_PROG_TEST_RUN
 * with crafted packets, Katran style. Each row of `cases` is {description,
 * config and destinations, input packet, expected verdict, expected output
 * packet, expected clones, expected counters}; every expected packet is built by
 * tests/bpf/pkt.h with its checksums computed there, not taken from the program.
 *
 * The process moves into a private network namespace first (tests/bpf/env.h),
 * so the clones that bpf_clone_redirect() transmits cannot leave the test.
 * There, veth0 is the "attached" interface with routes and permanent neighbours
 * (net_cmds) that give bpf_fib_lookup() known answers, and the clones are
 * captured on its peer veth1 with a packet socket. veth0 forwards (router
 * mode: bpf_fib_lookup() answers); "host" cases turn forwarding off, so next
 * hops come from udpc_nexthops. Test-run packets are CHECKSUM_NONE;
 * `socket_cases` send real UDP through the program attached to veth0, so
 * CHECKSUM_PARTIAL (the usual case for local traffic) is covered too. Maps are
 * pinned under a private directory, never under a real instance's pins. Needs
 * root; exits 77 (skip) without it.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "udpclone.h"
#include "udpclone.skel.h"
#include "pkt.h"
#include "env.h"
#include "reconcile.h"

/* The table overrides fields of the packet macros below (C4(.dport = 9) etc.). */
#pragma GCC diagnostic ignored "-Woverride-init"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the test network (net_cmds: run by env_setup(), tests/bpf/env.h) ---- */

/* MAC_V0, MAC_V1, MAC_A ... MAC_GW6: the network of tests/bpf/env.h. */
/* The original's MACs as the stack built them: distinct from anything the FIB
 * returns, so a rewrite that did not happen (or a stale one) shows. */
#define MAC_IN_SRC "02:00:00:00:00:aa"
#define MAC_IN_DST "02:00:00:00:00:bb"
#define MAC_MTU "02:00:00:00:01:c8"	/* 198.51.100.200, behind a route with mtu 100 */
/* Only in udpc_nexthops (what user space would have resolved), never in the kernel. */
#define MAC_USER "02:00:00:00:03:01"
#define MAC_USER_SRC "02:00:00:00:03:aa"

static const char *const net_cmds[] = {
	ENV_NET_VETH,
	/* Socket cases compare whole frames: no random IPv6 flow labels. */
	"sysctl -qw net.ipv6.auto_flowlabels=0",
	ENV_NET_ROUTED,
	"ip route add 203.0.113.128/25 via 192.0.2.253 dev veth0",	/* gateway: no neighbour */
	"ip route add blackhole 203.0.113.66/32",
	"ip route add 198.51.100.200/32 dev veth0 mtu lock 100",
	"ip -6 route add blackhole 2001:db8:2::66/128",
	"ip neigh add 198.51.100.200 lladdr " MAC_MTU " dev veth0 nud permanent",
	/* Deliberately without neighbours: 198.51.100.9, 192.0.2.253, 2001:db8:1::99. */
};

/* ---- packets ---- */

#define LISTEN 5743
#define TIMEOUT_NS (30 * NSEC)
#define CLIENT4 "192.0.2.1"
#define CLIENT6 "2001:db8:1::1"
#define PAYLOAD "udpclone data-path test payload" /* odd length on purpose */
#define LONG_PAYLOAD                                                                   \
	"a payload long enough that the packet exceeds the 100-byte route MTU to "      \
	"198.51.100.200 by a comfortable margin"

/* The client's packet as the stack hands it to TC egress:
 * 192.0.2.1:40000 -> 198.51.100.1:5743 (2001:db8:1::1 -> 2001:db8:1::10). */
#define C4(...)                                                                        \
	{ .family = PKT_IPV4, .smac = MAC_IN_SRC, .dmac = MAC_IN_DST, .saddr = CLIENT4,  \
	  .daddr = "198.51.100.1", .sport = 40000, .dport = LISTEN, .payload = PAYLOAD,  \
	  __VA_ARGS__ }
#define C6(...)                                                                        \
	{ .family = PKT_IPV6, .smac = MAC_IN_SRC, .dmac = MAC_IN_DST, .saddr = CLIENT6,  \
	  .daddr = "2001:db8:1::10", .sport = 40000, .dport = LISTEN, .payload = PAYLOAD,\
	  __VA_ARGS__ }

/* Its copy for one destination: address and port rewritten, MACs from the FIB. */
#define C4_TO(mac, addr, port, ...)                                                    \
	C4(.smac = MAC_V0, .dmac = (mac), .daddr = (addr), .dport = (port), __VA_ARGS__)
#define C6_TO(mac, addr, port, ...)                                                    \
	C6(.smac = MAC_V0, .dmac = (mac), .daddr = (addr), .dport = (port), __VA_ARGS__)
#define TO_A(...) C4_TO(MAC_A, "198.51.100.1", 9000, __VA_ARGS__)
#define TO_B(...) C4_TO(MAC_B, "198.51.100.2", 9001, __VA_ARGS__)
#define TO_GW(...) C4_TO(MAC_GW4, "203.0.113.5", 9002, __VA_ARGS__)
#define TO_A6(...) C6_TO(MAC_A6, "2001:db8:1::10", 9000, __VA_ARGS__)
#define TO_B6(...) C6_TO(MAC_B6, "2001:db8:1::20", 9001, __VA_ARGS__)
#define TO_GW6(...) C6_TO(MAC_GW6, "2001:db8:2::5", 9002, __VA_ARGS__)

/* A reply from a destination to the client, as TC ingress sees it... */
#define R4(mac, addr, port, ...)                                                       \
	{ .family = PKT_IPV4, .smac = (mac), .dmac = MAC_V0, .saddr = (addr),            \
	  .daddr = CLIENT4, .sport = (port), .dport = 40000, .payload = "a reply",       \
	  __VA_ARGS__ }
#define R6(mac, addr, port, ...)                                                       \
	{ .family = PKT_IPV6, .smac = (mac), .dmac = MAC_V0, .saddr = (addr),            \
	  .daddr = CLIENT6, .sport = (port), .dport = 40000, .payload = "a reply",       \
	  __VA_ARGS__ }
/* ...and after ingress: from where the client sent to (C4/C6's destination). */
#define R4_MAPPED(mac, ...) R4(mac, "198.51.100.1", LISTEN, __VA_ARGS__)
#define R6_MAPPED(mac, ...) R6(mac, "2001:db8:1::10", LISTEN, __VA_ARGS__)

/* ---- configuration ---- */

struct cfg_spec {
	bool set;		/* false: enabled, port LISTEN, any address, TIMEOUT_NS */
	uint32_t flags;
	uint16_t port;
	uint8_t listen_family;
	const char *listen_addr;
	uint64_t timeout_ns;
};

#define CFG_DISABLED { .set = true, .flags = 0, .port = LISTEN, .timeout_ns = TIMEOUT_NS }
#define CFG_LISTEN(fam, addr)                                                          \
	{ .set = true, .flags = UDPC_CFG_ENABLED | UDPC_CFG_LISTEN_ADDR, .port = LISTEN,   \
	  .listen_family = (fam), .listen_addr = (addr), .timeout_ns = TIMEOUT_NS }

struct dest_spec {
	uint32_t flags;		/* UDPC_DEST_*; 0 = unused slot */
	const char *v4, *v6;
	uint16_t port;
	uint32_t ifindex;	/* leaves by this uplink (from the client's own address) */
};

#define DEST4(a, p) { .flags = UDPC_DEST_V4, .v4 = (a), .port = (p) }
#define DEST6(a, p) { .flags = UDPC_DEST_V6, .v6 = (a), .port = (p) }
/* Destinations, by how the FIB reaches them from veth0. */
#define D_A DEST4("198.51.100.1", 9000)		/* on-link, MAC_A */
#define D_B DEST4("198.51.100.2", 9001)		/* on-link, MAC_B */
#define D_GW DEST4("203.0.113.5", 9002)		/* via 192.0.2.254, MAC_GW4 */
#define D_NONEIGH DEST4("198.51.100.9", 9003)	/* on-link, no neighbour */
#define D_GWNONEIGH DEST4("203.0.113.200", 9004) /* via 192.0.2.253, no neighbour */
#define D_BH DEST4("203.0.113.66", 9005)	/* blackhole route */
#define D_MTU DEST4("198.51.100.200", 9006)	/* route mtu 100 */
#define D_LOCAL DEST4("192.0.2.1", 9007)	/* veth0's own address */
#define D_A6 DEST6("2001:db8:1::10", 9000)
#define D_B6 DEST6("2001:db8:1::20", 9001)
#define D_GW6 DEST6("2001:db8:2::5", 9002)	/* via 2001:db8:1::fe, MAC_GW6 */
#define D_NONEIGH6 DEST6("2001:db8:1::99", 9003)
#define D_BH6 DEST6("2001:db8:2::66", 9005)
/* Both families: gets copies of either. */
#define D_A46 { .flags = UDPC_DEST_V4 | UDPC_DEST_V6, .v4 = "198.51.100.1",            \
		.v6 = "2001:db8:1::10", .port = 9000 }

/* udpc_nexthops entries: what user space found for a slot's address. */
struct nh_spec {
	uint32_t flags;		/* UDPC_NH_*; 0 = no entry */
	const char *v4, *v6;	/* the destination address it was resolved for */
	const char *smac, *dmac4, *dmac6;
};

#define NH4(addr, mac) { .flags = UDPC_NH_V4, .v4 = (addr), .smac = MAC_V0, .dmac4 = (mac) }
#define NH6(addr, mac) { .flags = UDPC_NH_V6, .v6 = (addr), .smac = MAC_V0, .dmac6 = (mac) }

/* ---- the table ---- */

enum prog_kind { EGRESS, INGRESS };

struct want_dest {
	uint64_t tx, tx_err, fib_err, neigh_missing, rx;
};

/* Counters after the case; everything not named must stay 0. Byte counters are
 * checked as packets * input length. */
struct want {
	struct udpc_global_stats g;
	struct want_dest d[UDPC_MAX_DESTS];
};

#define MAX_CLONES 4

struct test_case {
	const char *name;
	enum prog_kind prog;
	struct cfg_spec cfg;
	struct dest_spec dests[UDPC_MAX_DESTS];	/* by slot */
	struct nh_spec nexthops[UDPC_MAX_DESTS];	/* by slot */
	/* udpc_active as written, if set: else what the daemon derives from dests */
	struct {
		bool set;
		struct udpc_active a;
	} active;
	bool host;		/* forwarding off on veth0: bpf_fib_lookup() refuses */
	bool attach_egress;	/* also attach udpc_egress to veth0, as in production */
	struct pkt_spec prime;	/* run through egress first to create a client flow */
	int64_t age_ns;		/* then make that flow look idle for this long */
	struct pkt_spec in;
	int verdict;
	bool out_is_in;		/* data_out must equal the input */
	struct pkt_spec out;	/* otherwise this; unset: not checked (dropped packet) */
	struct pkt_spec clones[MAX_CLONES];	/* captured on veth1, in this order */
	struct want want;
};

#define MATCHED { .matched = 1, .flow_new = 1 }	/* each case starts with no flow */
#define SKIPPED { .skipped = 1 }
#define NO_DEST { .matched = 1, .no_dest = 1, .flow_new = 1 }
#define PASS .verdict = TC_ACT_OK, .out_is_in = true

static const struct test_case cases[] = {
	/* -------- egress: fan-out -------- */
	{
		.name = "v4: 3 destinations (2 on-link, 1 via gateway): 2 clones + the original",
		.dests = { D_A, D_B, D_GW },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A(), TO_B() },
		.out = TO_GW(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: UDP checksum 0 (disabled) stays 0 in every copy",
		.dests = { D_A, D_B, D_GW },
		.in = C4(.udp_csum_zero = true),
		.verdict = TC_ACT_OK,
		.clones = { TO_A(.udp_csum_zero = true), TO_B(.udp_csum_zero = true) },
		.out = TO_GW(.udp_csum_zero = true),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: one destination: no clone, the original is the copy",
		.dests = { D_B },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.out = TO_B(),
		.want = { .g = MATCHED, .d = { { .tx = 1 } } },
	},
	{
		.name = "v4: unused slots in between are skipped",
		.dests = { [3] = D_A, [9] = D_B, [15] = D_GW },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A(), TO_B() },
		.out = TO_GW(),
		.want = { .g = MATCHED, .d = { [3] = { .tx = 1 }, [9] = { .tx = 1 },
					       [15] = { .tx = 1 } } },
	},
	{
		.name = "v4: active list a moment behind: a slot just resolved gets no copy yet",
		.dests = { D_A, D_B },
		.active = { .set = true, .a = { .n = { 1, 0 }, .slot = { { 0 } } } },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.out = TO_A(),
		.want = { .g = MATCHED, .d = { { .tx = 1 } } },
	},
	{
		.name = "v4: active list names a slot just cleared, last: copies sent, packet dropped",
		.dests = { D_A, D_B },
		.active = { .set = true, .a = { .n = { 3, 0 }, .slot = { { 0, 1, 2 } } } },
		.in = C4(),
		.verdict = TC_ACT_SHOT,
		.clones = { TO_A(), TO_B() },
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: active list names only a slot without IPv4 now: dropped as no_dest",
		.dests = { D_A6 },
		.active = { .set = true, .a = { .n = { 1, 1 }, .slot = { { 0 }, { 0 } } } },
		.in = C4(),
		.verdict = TC_ACT_SHOT,
		.want = { .g = NO_DEST },
	},
	{
		.name = "v4: active list in another order: copies go in the list's order",
		.dests = { D_A, D_B, D_GW },
		.active = { .set = true, .a = { .n = { 3, 0 }, .slot = { { 2, 0, 1 } } } },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_GW(), TO_A() },
		.out = TO_B(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: active count beyond the slots: clamped, nothing read past the list",
		.dests = { [1] = D_A },
		/* slot 1, then 15 times slot 0 (unused): the last visit drops the packet */
		.active = { .set = true, .a = { .n = { 200, 0 }, .slot = { { 1 } } } },
		.in = C4(),
		.verdict = TC_ACT_SHOT,
		.clones = { TO_A() },
		.want = { .g = MATCHED, .d = { [1] = { .tx = 1 } } },
	},
	{
		.name = "v4: Ethernet padding after the IP packet is kept and counted",
		.dests = { D_A, D_GW },
		.in = C4(.payload = "pad", .pad_to = 60),
		.verdict = TC_ACT_OK,
		.clones = { TO_A(.payload = "pad", .pad_to = 60) },
		.out = TO_GW(.payload = "pad", .pad_to = 60),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: destination port = listen port, egress attached: each clone leaves once",
		.attach_egress = true,
		.dests = { DEST4("198.51.100.1", LISTEN), DEST4("198.51.100.2", LISTEN),
			   DEST4("203.0.113.5", LISTEN) },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { C4_TO(MAC_A, "198.51.100.1", LISTEN),
			    C4_TO(MAC_B, "198.51.100.2", LISTEN) },
		.out = C4_TO(MAC_GW4, "203.0.113.5", LISTEN),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: 3 destinations with egress attached (clones pass the hook untouched)",
		.attach_egress = true,
		.dests = { D_A, D_B, D_GW },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A(), TO_B() },
		.out = TO_GW(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: listen address set: a packet to it is fanned out",
		.cfg = CFG_LISTEN(UDPC_AF_INET, "198.51.100.1"),
		.dests = { D_A, D_B },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A() },
		.out = TO_B(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: listen address set: another address on the listen port passes",
		.cfg = CFG_LISTEN(UDPC_AF_INET, "198.51.100.1"),
		.dests = { D_A, D_B },
		.in = C4(.daddr = "198.51.100.7"),
		PASS,
	},
	{
		.name = "v6: IPv4 listen address set: IPv6 to the listen port passes",
		.cfg = CFG_LISTEN(UDPC_AF_INET, "198.51.100.1"),
		.dests = { D_A46, D_GW6 },
		.in = C6(),
		PASS,
	},
	{
		.name = "v6: IPv6 listen address set: a packet to it is fanned out",
		.cfg = CFG_LISTEN(UDPC_AF_INET6, "2001:db8:1::10"),
		.dests = { D_A6, D_GW6 },
		.in = C6(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A6() },
		.out = TO_GW6(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: disabled config: the listen port passes, nothing counted",
		.cfg = CFG_DISABLED,
		.dests = { D_A, D_B },
		.in = C4(),
		PASS,
	},
	{
		.name = "v4: no destinations: dropped, no_dest",
		.in = C4(),
		.verdict = TC_ACT_SHOT,
		.want = { .g = NO_DEST },
	},
	{
		.name = "v6: 2 destinations (on-link, via gateway)",
		.dests = { D_A6, D_GW6 },
		.in = C6(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A6() },
		.out = TO_GW6(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v6: 3 on-link/gateway destinations, odd and even payload",
		.dests = { D_A6, D_B6, D_GW6 },
		.in = C6(.payload = "even"),
		.verdict = TC_ACT_OK,
		.clones = { TO_A6(.payload = "even"), TO_B6(.payload = "even") },
		.out = TO_GW6(.payload = "even"),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v6: mixed slots: only destinations with an IPv6 address get copies",
		.dests = { D_A, D_A46, D_B, D_GW6 },
		.in = C6(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A6() },
		.out = TO_GW6(),
		.want = { .g = MATCHED, .d = { [1] = { .tx = 1 }, [3] = { .tx = 1 } } },
	},
	{
		.name = "v4: mixed slots: only destinations with an IPv4 address get copies",
		.dests = { D_A6, D_A46, D_GW6, D_B },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A() },
		.out = TO_B(),
		.want = { .g = MATCHED, .d = { [1] = { .tx = 1 }, [3] = { .tx = 1 } } },
	},
	{
		.name = "v6: destinations with IPv4 addresses only: dropped, no_dest",
		.dests = { D_A, D_B, D_GW },
		.in = C6(),
		.verdict = TC_ACT_SHOT,
		.want = { .g = NO_DEST },
	},
	{
		.name = "v6: no destinations: dropped, no_dest",
		.in = C6(),
		.verdict = TC_ACT_SHOT,
		.want = { .g = NO_DEST },
	},

	/* -------- egress: next hops the FIB cannot give -------- */
	{
		.name = "v4: no neighbour (first slot): copy keeps the input's L2 header",
		.dests = { D_NONEIGH, D_A },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { C4(.daddr = "198.51.100.9", .dport = 9003) },
		.out = TO_A(),
		.want = { .g = MATCHED,
			  .d = { { .tx = 1, .neigh_missing = 1 },
				 { .tx = 1 } } },
	},
	{
		.name = "v4: no neighbour after a resolved destination: input's L2 header",
		.dests = { D_A, D_NONEIGH },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A() },
		.out = C4(.daddr = "198.51.100.9", .dport = 9003),
		.want = { .g = MATCHED,
			  .d = { { .tx = 1 },
				 { .tx = 1, .neigh_missing = 1 } } },
	},
	{
		.name = "v4: gateway without neighbour: copy keeps the input's L2 header",
		.dests = { D_GWNONEIGH, D_B },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { C4(.daddr = "203.0.113.200", .dport = 9004) },
		.out = TO_B(),
		.want = { .g = MATCHED,
			  .d = { { .tx = 1, .neigh_missing = 1 },
				 { .tx = 1 } } },
	},
	{
		.name = "v4: no neighbour, but a udpc_nexthops entry: its MACs are used",
		.dests = { D_GWNONEIGH, D_B },
		.nexthops = { { .flags = UDPC_NH_V4, .v4 = "203.0.113.200", .smac = MAC_USER_SRC,
				.dmac4 = MAC_USER } },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { C4(.smac = MAC_USER_SRC, .dmac = MAC_USER, .daddr = "203.0.113.200",
			       .dport = 9004) },
		.out = TO_B(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: no neighbour, udpc_nexthops entry for an older address: not used",
		.dests = { D_NONEIGH, D_B },
		.nexthops = { NH4("198.51.100.77", MAC_USER) },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { C4(.daddr = "198.51.100.9", .dport = 9003) },
		.out = TO_B(),
		.want = { .g = MATCHED, .d = { { .tx = 1, .neigh_missing = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: the FIB's answer wins over a udpc_nexthops entry",
		.dests = { D_A, D_B },
		.nexthops = { NH4("198.51.100.1", MAC_USER), NH4("198.51.100.2", MAC_USER) },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A() },
		.out = TO_B(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: udpc_nexthops says forwarding is off: its entry is used, the FIB not asked",
		.dests = { D_A, D_B },
		.nexthops = { { .flags = UDPC_NH_V4 | UDPC_NH_V4_NOFWD, .v4 = "198.51.100.1",
				.smac = MAC_USER_SRC, .dmac4 = MAC_USER } },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { C4(.smac = MAC_USER_SRC, .dmac = MAC_USER, .daddr = "198.51.100.1",
			       .dport = 9000) },
		.out = TO_B(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: forwarding-off entry for an older address: the FIB answers",
		.dests = { D_A },
		.nexthops = { { .flags = UDPC_NH_V4 | UDPC_NH_V4_NOFWD, .v4 = "198.51.100.77",
				.smac = MAC_USER_SRC, .dmac4 = MAC_USER } },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.out = TO_A(),
		.want = { .g = MATCHED, .d = { { .tx = 1 } } },
	},
	{
		.name = "v4: forwarding-off entry, next hop unknown: input's L2 header, neigh_missing",
		.dests = { D_A },
		.nexthops = { { .flags = UDPC_NH_V4_NOFWD, .v4 = "198.51.100.1" } },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.out = C4(.dport = 9000),
		.want = { .g = MATCHED, .d = { { .tx = 1, .neigh_missing = 1 } } },
	},
	{
		.name = "v4: forwarding-off entry saying no route: the copy is dropped",
		.dests = { D_A, D_B },
		.nexthops = { { .flags = UDPC_NH_V4_NOROUTE | UDPC_NH_V4_NOFWD,
				.v4 = "198.51.100.1" } },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.out = TO_B(),
		.want = { .g = MATCHED, .d = { { .fib_err = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v6: udpc_nexthops says forwarding is off: its entry is used",
		.dests = { D_A6 },
		.nexthops = { { .flags = UDPC_NH_V6 | UDPC_NH_V6_NOFWD, .v6 = "2001:db8:1::10",
				.smac = MAC_USER_SRC, .dmac6 = MAC_USER } },
		.in = C6(),
		.verdict = TC_ACT_OK,
		.out = C6(.smac = MAC_USER_SRC, .dmac = MAC_USER, .dport = 9000),
		.want = { .g = MATCHED, .d = { { .tx = 1 } } },
	},
	{
		.name = "v6: an IPv4 forwarding-off flag does not apply to IPv6 copies",
		.dests = { D_A46 },
		.nexthops = { { .flags = UDPC_NH_V4 | UDPC_NH_V4_NOFWD | UDPC_NH_V6,
				.v4 = "198.51.100.1", .v6 = "2001:db8:1::10", .smac = MAC_USER_SRC,
				.dmac4 = MAC_USER, .dmac6 = MAC_USER } },
		.in = C6(),
		.verdict = TC_ACT_OK,
		.out = TO_A6(),
		.want = { .g = MATCHED, .d = { { .tx = 1 } } },
	},
	{
		.name = "v6: no neighbour: copy keeps the input's L2 header",
		.dests = { D_NONEIGH6, D_A6 },
		.in = C6(),
		.verdict = TC_ACT_OK,
		.clones = { C6(.daddr = "2001:db8:1::99", .dport = 9003) },
		.out = TO_A6(),
		.want = { .g = MATCHED,
			  .d = { { .tx = 1, .neigh_missing = 1 },
				 { .tx = 1 } } },
	},
	{
		.name = "v4: blackhole destination in the middle: that copy dropped, others go",
		.dests = { D_A, D_BH, D_B },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A() },
		.out = TO_B(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .fib_err = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: blackhole destination last: clones go, the original is dropped",
		.dests = { D_A, D_B, D_BH },
		.in = C4(),
		.verdict = TC_ACT_SHOT,
		.clones = { TO_A(), TO_B() },
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 }, { .fib_err = 1 } } },
	},
	{
		.name = "v4: only a blackhole destination: dropped",
		.dests = { D_BH },
		.in = C4(),
		.verdict = TC_ACT_SHOT,
		.want = { .g = MATCHED, .d = { { .fib_err = 1 } } },
	},
	{
		.name = "v6: blackhole destination first: that copy dropped, others go",
		.dests = { D_BH6, D_A6, D_GW6 },
		.in = C6(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A6() },
		.out = TO_GW6(),
		.want = { .g = MATCHED, .d = { { .fib_err = 1 }, { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: route MTU smaller than the packet: that copy dropped (fib_errors)",
		.dests = { D_MTU, D_A },
		.in = C4(.payload = LONG_PAYLOAD),
		.verdict = TC_ACT_OK,
		.out = TO_A(.payload = LONG_PAYLOAD),
		.want = { .g = MATCHED, .d = { { .fib_err = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: local destination address (FIB: not forwarded): sent with input L2",
		.dests = { D_LOCAL, D_A },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { C4(.daddr = "192.0.2.1", .dport = 9007) },
		.out = TO_A(),
		.want = { .g = MATCHED, .d = { { .tx = 1, .neigh_missing = 1 }, { .tx = 1 } } },
	},
	{
		.name = "v4: destination on a missing interface: clone fails (tx_errors)",
		.dests = { { .flags = UDPC_DEST_V4, .v4 = "198.51.100.2", .port = 9001,
			     .ifindex = 9999 },
			   D_A },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.out = TO_A(),
		.want = { .g = MATCHED, .d = { { .tx_err = 1, .neigh_missing = 1 }, { .tx = 1 } } },
	},

	/* -------- egress on a host (forwarding off): next hops from udpc_nexthops -------- */
	{
		.name = "host v4: 3 destinations, next hops from udpc_nexthops",
		.host = true,
		.dests = { D_A, D_B, D_GW },
		.nexthops = { NH4("198.51.100.1", MAC_A), NH4("198.51.100.2", MAC_B),
			      NH4("203.0.113.5", MAC_GW4) },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A(), TO_B() },
		.out = TO_GW(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "host v6: 2 destinations, next hops from udpc_nexthops",
		.host = true,
		.dests = { D_A6, D_GW6 },
		.nexthops = { NH6("2001:db8:1::10", MAC_A6), NH6("2001:db8:2::5", MAC_GW6) },
		.in = C6(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A6() },
		.out = TO_GW6(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "host v4: no udpc_nexthops entry: input's L2 header, neigh_missing",
		.host = true,
		.dests = { D_A },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.out = C4(.dport = 9000),
		.want = { .g = MATCHED, .d = { { .tx = 1, .neigh_missing = 1 } } },
	},
	{
		.name = "host v6: an IPv4-only udpc_nexthops entry does not serve IPv6",
		.host = true,
		.dests = { D_A46 },
		.nexthops = { NH4("198.51.100.1", MAC_A) },
		.in = C6(),
		.verdict = TC_ACT_OK,
		.out = C6(.dport = 9000),
		.want = { .g = MATCHED, .d = { { .tx = 1, .neigh_missing = 1 } } },
	},
	{
		.name = "host v4: resolved, then unresolved destination: input's L2 header",
		.host = true,
		.dests = { D_A, D_B },
		.nexthops = { NH4("198.51.100.1", MAC_A) },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { TO_A() },
		.out = C4(.daddr = "198.51.100.2", .dport = 9001),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1, .neigh_missing = 1 } } },
	},
	{
		.name = "host v4: no udpc_nexthops entry for a blackholed destination yet: copy sent",
		.host = true,
		.dests = { D_BH, D_A },
		.nexthops = { [1] = NH4("198.51.100.1", MAC_A) },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.clones = { C4(.daddr = "203.0.113.66", .dport = 9005) },
		.out = TO_A(),
		.want = { .g = MATCHED, .d = { { .tx = 1, .neigh_missing = 1 }, { .tx = 1 } } },
	},
	{
		.name = "host v4: udpc_nexthops says no route: that copy dropped, the others go",
		.host = true,
		.dests = { D_BH, D_A },
		.nexthops = { { .flags = UDPC_NH_V4_NOROUTE, .v4 = "203.0.113.66" },
			      NH4("198.51.100.1", MAC_A) },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.out = TO_A(),
		.want = { .g = MATCHED, .d = { { .fib_err = 1 }, { .tx = 1 } } },
	},
	{
		.name = "host v6: udpc_nexthops says no route, last copy: the packet is dropped",
		.host = true,
		.dests = { D_A6, D_BH6 },
		.nexthops = { NH6("2001:db8:1::10", MAC_A6),
			      { .flags = UDPC_NH_V6_NOROUTE, .v6 = "2001:db8:2::66" } },
		.in = C6(),
		.verdict = TC_ACT_SHOT,
		.clones = { TO_A6() },
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .fib_err = 1 } } },
	},
	{
		.name = "host v4: a no-route entry for an older address does not apply",
		.host = true,
		.dests = { D_A },
		.nexthops = { { .flags = UDPC_NH_V4_NOROUTE, .v4 = "198.51.100.77" } },
		.in = C4(),
		.verdict = TC_ACT_OK,
		.out = C4(.dport = 9000),
		.want = { .g = MATCHED, .d = { { .tx = 1, .neigh_missing = 1 } } },
	},

	/* -------- egress: not ours, passes byte for byte -------- */
	{ .name = "v4: other UDP port", .dests = { D_A, D_B }, .in = C4(.dport = 5744), PASS },
	{ .name = "v4: UDP from the listen port (source, not destination)", .dests = { D_A, D_B },
	  .in = C4(.sport = LISTEN, .dport = 40000), PASS },
	{ .name = "v6: other UDP port", .dests = { D_A6 }, .in = C6(.dport = 5744), PASS },
	{ .name = "v4: TCP to the listen port", .dests = { D_A, D_B },
	  .in = C4(.proto = IPPROTO_TCP), PASS },
	{ .name = "v4: ICMP echo", .dests = { D_A, D_B }, .in = C4(.proto = IPPROTO_ICMP), PASS },
	{ .name = "ARP request", .dests = { D_A, D_B },
	  .in = { .family = PKT_ARP, .smac = MAC_V0, .dmac = "ff:ff:ff:ff:ff:ff",
		  .saddr = CLIENT4, .daddr = "198.51.100.1" },
	  PASS },
	{ .name = "v4: IP options (ihl 6) to the listen port: skipped", .dests = { D_A, D_B },
	  .in = C4(.ihl = 6), PASS, .want = { .g = SKIPPED } },
	{ .name = "v4: IP options (ihl 15) to another port: not counted", .dests = { D_A, D_B },
	  .in = C4(.ihl = 15, .dport = 53), PASS },
	{ .name = "v4: listen address set: IP options to another address: not counted",
	  .cfg = CFG_LISTEN(UDPC_AF_INET, "198.51.100.1"), .dests = { D_A, D_B },
	  .in = C4(.ihl = 6, .daddr = "198.51.100.7"), PASS },
	{ .name = "v4: first fragment (MF) to the listen port: skipped", .dests = { D_A, D_B },
	  .in = C4(.frag_off = PKT_IP_MF), PASS, .want = { .g = SKIPPED } },
	{ .name = "v4: middle fragment (offset, MF)", .dests = { D_A, D_B },
	  .in = C4(.frag_off = PKT_IP_MF | 185), PASS },
	{ .name = "v4: last fragment (offset, no MF)", .dests = { D_A, D_B },
	  .in = C4(.frag_off = 185), PASS },
	{ .name = "v4: DF set is not a fragment", .dests = { D_B },
	  .in = C4(.frag_off = 0x4000), .verdict = TC_ACT_OK, .out = TO_B(.frag_off = 0x4000),
	  .want = { .g = MATCHED, .d = { { .tx = 1 } } } },
	{ .name = "v4: truncated: Ethernet header only", .dests = { D_A, D_B },
	  .in = C4(.cut = 14), PASS },
	{ .name = "v4: truncated: 1 byte of IP header", .dests = { D_A, D_B },
	  .in = C4(.cut = 15), PASS },
	{ .name = "v4: truncated: 19 bytes of IP header", .dests = { D_A, D_B },
	  .in = C4(.cut = 14 + 19), PASS },
	{ .name = "v4: truncated: IP header only", .dests = { D_A, D_B },
	  .in = C4(.cut = 14 + 20), PASS },
	{ .name = "v4: truncated: 4 bytes of UDP header", .dests = { D_A, D_B },
	  .in = C4(.cut = 14 + 20 + 4), PASS },
	{ .name = "v4: truncated: 7 bytes of UDP header", .dests = { D_A, D_B },
	  .in = C4(.cut = 14 + 20 + 7), PASS },
	{ .name = "v4: truncated: inside the payload", .dests = { D_A, D_B },
	  .in = C4(.cut = 14 + 20 + 8 + 3), PASS },
	{ .name = "v4: truncated options packet (ihl 6): UDP header missing",
	  .dests = { D_A, D_B }, .in = C4(.ihl = 6, .cut = 14 + 24 + 2), PASS },
	{ .name = "v6: truncated: 39 bytes of IPv6 header", .dests = { D_A6 },
	  .in = C6(.cut = 14 + 39), PASS },
	{ .name = "v6: truncated: 6 bytes of UDP header", .dests = { D_A6 },
	  .in = C6(.cut = 14 + 40 + 6), PASS },
	{ .name = "v4: bogus IHL 4", .dests = { D_A, D_B }, .in = C4(.ihl = 4), PASS },
	{ .name = "v4: bogus IHL 1", .dests = { D_A, D_B }, .in = C4(.ihl = 1), PASS },
	{ .name = "v4: tot_len 1 larger than the packet", .dests = { D_A, D_B },
	  .in = C4(.ip_len_delta = 1), PASS },
	{ .name = "v4: tot_len too short for a UDP header", .dests = { D_A, D_B },
	  .in = C4(.ip_len_delta = -(int)sizeof(PAYLOAD)), PASS },
	{ .name = "v4: UDP length 7", .dests = { D_A, D_B },
	  .in = C4(.udp_len_delta = -(int)sizeof(PAYLOAD)), PASS },
	{ .name = "v4: UDP length 0", .dests = { D_A, D_B },
	  .in = C4(.udp_len_delta = -(int)sizeof(PAYLOAD) - 7), PASS },
	{ .name = "v4: UDP length beyond the IP packet", .dests = { D_A, D_B },
	  .in = C4(.udp_len_delta = 1), PASS },
	{ .name = "v6: payload_len 1 larger than the packet", .dests = { D_A6 },
	  .in = C6(.ip_len_delta = 1), PASS },
	{ .name = "v6: payload_len 0 (jumbogram)", .dests = { D_A6 },
	  .in = C6(.ip_len_delta = -(int)(8 + sizeof(PAYLOAD) - 1)), PASS },
	{ .name = "v6: UDP length 4", .dests = { D_A6 },
	  .in = C6(.udp_len_delta = -(int)sizeof(PAYLOAD) - 3), PASS },
	{ .name = "v6: hop-by-hop header before UDP to the listen port: skipped",
	  .dests = { D_A6 }, .in = C6(.hbh = true), PASS, .want = { .g = SKIPPED } },
	{ .name = "v6: hop-by-hop header before UDP to another port: not counted",
	  .dests = { D_A6 }, .in = C6(.hbh = true, .dport = 53), PASS },
	{ .name = "v6: first fragment (offset 0, M) to the listen port: skipped", .dests = { D_A6 },
	  .in = C6(.frag6 = true, .frag6_off = 1), PASS, .want = { .g = SKIPPED } },
	{ .name = "v6: hop-by-hop, then a first fragment, to the listen port: skipped",
	  .dests = { D_A6 }, .in = C6(.hbh = true, .frag6 = true, .frag6_off = 1), PASS,
	  .want = { .g = SKIPPED } },
	{ .name = "v6: later fragment (offset 185, M): no UDP header, not counted",
	  .dests = { D_A6 }, .in = C6(.frag6 = true, .frag6_off = 185 << 3 | 1), PASS },
	{ .name = "v6: listen address set: first fragment to another address: not counted",
	  .cfg = CFG_LISTEN(UDPC_AF_INET6, "2001:db8:1::99"), .dests = { D_A6 },
	  .in = C6(.frag6 = true, .frag6_off = 1), PASS },
	{ .name = "v6: first fragment to the listen port, with a listen address: skipped",
	  .cfg = CFG_LISTEN(UDPC_AF_INET6, "2001:db8:1::10"), .dests = { D_A6 },
	  .in = C6(.frag6 = true, .frag6_off = 1), PASS, .want = { .g = SKIPPED } },

	/* -------- ingress: replies mapped back to the client's flow -------- */
	{
		.name = "ingress v4: reply from destination 1 gets the original source",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.in = R4(MAC_B, "198.51.100.2", 9001),
		.verdict = TC_ACT_OK,
		.out = R4_MAPPED(MAC_B),
		.want = { .d = { [1] = { .rx = 1 } } },
	},
	{
		.name = "ingress v4: reply from destination 0 (same address: port only)",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.in = R4(MAC_A, "198.51.100.1", 9000),
		.verdict = TC_ACT_OK,
		.out = R4_MAPPED(MAC_A),
		.want = { .d = { [0] = { .rx = 1 } } },
	},
	{
		.name = "ingress v4: reply with UDP checksum 0 keeps it 0",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.in = R4(MAC_B, "198.51.100.2", 9001, .udp_csum_zero = true),
		.verdict = TC_ACT_OK,
		.out = R4_MAPPED(MAC_B, .udp_csum_zero = true),
		.want = { .d = { [1] = { .rx = 1 } } },
	},
	{
		.name = "ingress v4: flow idle for less than the timeout: mapped",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.age_ns = TIMEOUT_NS - 2 * NSEC,
		.in = R4(MAC_B, "198.51.100.2", 9001),
		.verdict = TC_ACT_OK,
		.out = R4_MAPPED(MAC_B),
		.want = { .d = { [1] = { .rx = 1 } } },
	},
	{
		.name = "ingress v4: flow idle longer than the timeout: unchanged, rx_no_flow",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.age_ns = TIMEOUT_NS + NSEC,
		.in = R4(MAC_B, "198.51.100.2", 9001),
		PASS,
		.want = { .g = { .rx_no_flow = 1 } },
	},
	{
		/* Egress on another CPU may refresh last_seen_ns between ingress reading
		 * its clock and reading the flow: last_seen is then after ingress's "now".
		 * That window is nanoseconds wide; a flow stamped 1 s ahead is the same
		 * case, made reproducible. It is fresh, not idle for 2^64 ns. */
		.name = "ingress v4: last_seen_ns after ingress's clock (egress raced): mapped",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.age_ns = -(int64_t)NSEC,
		.in = R4(MAC_B, "198.51.100.2", 9001),
		.verdict = TC_ACT_OK,
		.out = R4_MAPPED(MAC_B),
		.want = { .d = { [1] = { .rx = 1 } } },
	},
	{
		.name = "ingress v4: reply to an unknown client port: unchanged, rx_no_flow",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.in = R4(MAC_B, "198.51.100.2", 9001, .dport = 40001),
		PASS,
		.want = { .g = { .rx_no_flow = 1 } },
	},
	{
		.name = "ingress v4: reply to another client address: unchanged, rx_no_flow",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.in = R4(MAC_B, "198.51.100.2", 9001, .daddr = "192.0.2.2"),
		PASS,
		.want = { .g = { .rx_no_flow = 1 } },
	},
	{
		.name = "ingress v4: reply from a non-destination address: unchanged",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.in = R4(MAC_B, "198.51.100.7", 9001),
		PASS,
	},
	{
		.name = "ingress v4: destination address with another slot's port: unchanged",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.in = R4(MAC_B, "198.51.100.2", 9000),
		PASS,
	},
	{
		.name = "ingress v4: disabled config: unchanged",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.cfg = CFG_DISABLED,
		.in = R4(MAC_B, "198.51.100.2", 9001),
		PASS,
	},
	{
		.name = "ingress v4: IPv6 reply does not use the IPv4 flow",
		.prog = INGRESS,
		.dests = { D_A46, D_B },
		.prime = C4(),
		.in = R6(MAC_A6, "2001:db8:1::10", 9000),
		PASS,
		.want = { .g = { .rx_no_flow = 1 } },
	},
	{
		.name = "ingress v6: reply from the gateway destination gets the original source",
		.prog = INGRESS,
		.dests = { D_A6, D_GW6 },
		.prime = C6(),
		.in = R6(MAC_GW6, "2001:db8:2::5", 9002),
		.verdict = TC_ACT_OK,
		.out = R6_MAPPED(MAC_GW6),
		.want = { .d = { [1] = { .rx = 1 } } },
	},
	{
		.name = "ingress v6: flow idle longer than the timeout: unchanged, rx_no_flow",
		.prog = INGRESS,
		.dests = { D_A6, D_GW6 },
		.prime = C6(),
		.age_ns = TIMEOUT_NS + NSEC,
		.in = R6(MAC_GW6, "2001:db8:2::5", 9002),
		PASS,
		.want = { .g = { .rx_no_flow = 1 } },
	},
	{
		.name = "ingress v4: not UDP (TCP from a destination): unchanged",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.in = R4(MAC_B, "198.51.100.2", 9001, .proto = IPPROTO_TCP),
		PASS,
	},
	{
		.name = "ingress v4: truncated reply: unchanged",
		.prog = INGRESS,
		.dests = { D_A, D_B },
		.prime = C4(),
		.in = R4(MAC_B, "198.51.100.2", 9001, .cut = 14 + 20 + 5),
		PASS,
	},
};

/*
 * Real traffic: a UDP socket on veth0's addresses sends through udpc_egress
 * attached to veth0, and every copy (the last one too) is captured on veth1.
 * `in` is the frame the stack builds (DF set, next hop's MAC); IPv4 ids are the
 * stack's, taken from the capture.
 */
#define SOCK4(...) C4(.smac = MAC_V0, .dmac = MAC_A, .frag_off = 0x4000, __VA_ARGS__)
#define SOCK6(...) C6(.smac = MAC_V0, .dmac = MAC_A6, __VA_ARGS__)

static const struct test_case socket_cases[] = {
	{
		.name = "socket v4 (CHECKSUM_PARTIAL): 3 destinations through attached egress",
		.dests = { D_A, D_B, D_GW },
		.in = SOCK4(),
		.clones = { TO_A(.frag_off = 0x4000), TO_B(.frag_off = 0x4000) },
		.out = TO_GW(.frag_off = 0x4000),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 }, { .tx = 1 } } },
	},
	{
		.name = "socket v4 (CHECKSUM_PARTIAL): no neighbour keeps the stack's L2 header",
		.dests = { D_NONEIGH, D_GW },
		.in = SOCK4(),
		.clones = { SOCK4(.daddr = "198.51.100.9", .dport = 9003) },
		.out = TO_GW(.frag_off = 0x4000),
		.want = { .g = MATCHED, .d = { { .tx = 1, .neigh_missing = 1 }, { .tx = 1 } } },
	},
	{
		.name = "socket v6 (CHECKSUM_PARTIAL): 3 destinations through attached egress",
		.dests = { D_B6, D_A6, D_GW6 },
		.in = SOCK6(),
		.clones = { TO_B6(), TO_A6() },
		.out = TO_GW6(),
		.want = { .g = MATCHED, .d = { { .tx = 1 }, { .tx = 1 }, { .tx = 1 } } },
	},
};

/* ---- environment (tests/bpf/env.h), and what only these tests add ---- */

static struct {
	bool tc_attached;
	bool host;		/* forwarding is off on veth0 */
} dp;

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -EIO;
}

/* Router (forwarding on veth0: bpf_fib_lookup() answers) or host (it refuses). */
static int set_forwarding(bool on)
{
	const char *v = on ? "1" : "0";

	dp.host = !on;
	if (write_file("/proc/sys/net/ipv4/conf/veth0/forwarding", v) ||
	    write_file("/proc/sys/net/ipv6/conf/veth0/forwarding", v))
		return -1;
	return 0;
}

static void tc_detach(void)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = env.veth0,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	if (!dp.tc_attached)
		return;
	bpf_tc_hook_destroy(&hook); /* removes the clsact qdisc and our filter with it */
	dp.tc_attached = false;
}

static int tc_attach_egress(void)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = env.veth0, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1,
		    .prog_fd = bpf_program__fd(env.skel->progs.udpc_egress));
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	dp.tc_attached = true;
	return bpf_tc_attach(&hook, &opts);
}

static int group_setup(void **state)
{
	return env_setup("udpc-test", net_cmds, ARRAY_SIZE(net_cmds));
}

static int group_teardown(void **state)
{
	tc_detach();
	env_teardown();
	return 0;
}

/* ---- maps ---- */

static int map_fd(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static void addr_from(struct udpc_addr *a, int family, const char *s)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(pkt_parse_addr(family, s, (uint8_t *)a->w), 0);
}

static void write_config(const struct cfg_spec *c, bool force_enabled)
{
	struct udpc_config cfg = {
		.flags = (c->set ? c->flags : UDPC_CFG_ENABLED) | (force_enabled ? UDPC_CFG_ENABLED : 0),
		.listen_port = htons(c->set ? c->port : LISTEN),
		.listen_family = c->listen_family,
		.l2_len = 14,
		.flow_timeout_ns = c->set ? c->timeout_ns : TIMEOUT_NS,
		.ifindex = (uint32_t)env.veth0,
	};
	uint32_t zero = 0;

	if (c->listen_addr)
		addr_from(&cfg.listen_addr, c->listen_family == UDPC_AF_INET6 ? PKT_IPV6 : PKT_IPV4,
			  c->listen_addr);
	assert_int_equal(bpf_map_update_elem(map_fd(env.skel->maps.udpc_config), &zero, &cfg, 0), 0);
}

static void write_active(const struct udpc_active *act)
{
	uint32_t zero = 0;

	assert_int_equal(bpf_map_update_elem(map_fd(env.skel->maps.udpc_active), &zero, act, 0), 0);
}

/* The destinations, and the list of active slots as the daemon derives it. */
static void write_dests(const struct dest_spec *ds)
{
	struct udpc_dest all[UDPC_MAX_DESTS];
	struct udpc_active act;
	uint32_t i;

	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		const struct dest_spec *s = &ds[i];
		struct udpc_dest d = { .flags = s->flags, .port = htons(s->port) };
		struct udpc_uplink up = {};

		if (s->v4)
			assert_int_equal(pkt_parse_addr(PKT_IPV4, s->v4, (uint8_t *)&d.addr4), 0);
		if (s->v6)
			addr_from(&d.addr6, PKT_IPV6, s->v6);
		assert_int_equal(bpf_map_update_elem(map_fd(env.skel->maps.udpc_dests), &i, &d, 0), 0);
		all[i] = d;
		if (s->ifindex) {
			up = (struct udpc_uplink){ .ifindex = s->ifindex, .mtu = 1500, .l2_len = 14,
						   .flags = UDPC_UPLINK_VIA | UDPC_UPLINK_UP |
							    UDPC_UPLINK_SRC4 };
			assert_int_equal(pkt_parse_addr(PKT_IPV4, "192.0.2.1", (uint8_t *)&up.src4), 0);
		}
		assert_int_equal(bpf_map_update_elem(map_fd(env.skel->maps.udpc_uplinks), &i, &up, 0), 0);
	}
	udpc_active_of(all, &act);
	write_active(&act);
}

static void write_nexthops(const struct nh_spec *ns)
{
	uint32_t i;

	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		const struct nh_spec *s = &ns[i];
		struct udpc_nexthop nh = { .flags = s->flags };

		if (s->v4)
			assert_int_equal(pkt_parse_addr(PKT_IPV4, s->v4, (uint8_t *)&nh.addr4), 0);
		if (s->v6)
			addr_from(&nh.addr6, PKT_IPV6, s->v6);
		if (s->smac)
			assert_int_equal(pkt_parse_mac(s->smac, nh.smac), 0);
		if (s->dmac4)
			assert_int_equal(pkt_parse_mac(s->dmac4, nh.dmac4), 0);
		if (s->dmac6)
			assert_int_equal(pkt_parse_mac(s->dmac6, nh.dmac6), 0);
		assert_int_equal(bpf_map_update_elem(map_fd(env.skel->maps.udpc_nexthops), &i, &nh,
						     0), 0);
	}
}

/* Every case starts from zero counters, so its expectations are absolute. */
static void reset_stats(void)
{
	size_t sz = (size_t)env.ncpus * sizeof(struct udpc_dest_stats);
	void *zeros = calloc(1, sz);
	uint32_t i;

	assert_non_null(zeros);
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		assert_int_equal(bpf_map_update_elem(map_fd(env.skel->maps.udpc_dest_stats), &i,
						     zeros, 0), 0);
	i = 0;
	assert_int_equal(bpf_map_update_elem(map_fd(env.skel->maps.udpc_global), &i, zeros, 0), 0);
	free(zeros);
}

static int count_flows(void)
{
	int fd = map_fd(env.skel->maps.udpc_flows), n = 0;
	struct udpc_flow_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static void flush_flows(void)
{
	int fd = map_fd(env.skel->maps.udpc_flows);
	struct udpc_flow_key k;

	while (!bpf_map_get_next_key(fd, NULL, &k))
		assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
}

static struct udpc_flow_key flow_key_of(const struct pkt_spec *s)
{
	struct udpc_flow_key k = {
		.port = htons(s->sport),
		.family = s->family == PKT_IPV6 ? UDPC_AF_INET6 : UDPC_AF_INET,
	};

	addr_from(&k.addr, s->family, s->saddr);
	return k;
}

static void sum_dest_stats(uint32_t slot, struct udpc_dest_stats *sum,
			   struct udpc_dest_stats *percpu)
{
	int c;

	assert_int_equal(bpf_map_lookup_elem(map_fd(env.skel->maps.udpc_dest_stats), &slot,
					     percpu), 0);
	memset(sum, 0, sizeof(*sum));
	for (c = 0; c < env.ncpus; c++) {
		sum->tx_packets += percpu[c].tx_packets;
		sum->tx_bytes += percpu[c].tx_bytes;
		sum->tx_errors += percpu[c].tx_errors;
		sum->fib_errors += percpu[c].fib_errors;
		sum->neigh_missing += percpu[c].neigh_missing;
		sum->rx_packets += percpu[c].rx_packets;
		sum->rx_bytes += percpu[c].rx_bytes;
		if (percpu[c].last_rx_ns > sum->last_rx_ns)
			sum->last_rx_ns = percpu[c].last_rx_ns;
	}
}

static void sum_global(struct udpc_global_stats *sum)
{
	struct udpc_global_stats *percpu = calloc((size_t)env.ncpus, sizeof(*percpu));
	uint32_t zero = 0;
	int c;

	assert_non_null(percpu);
	assert_int_equal(bpf_map_lookup_elem(map_fd(env.skel->maps.udpc_global), &zero, percpu), 0);
	memset(sum, 0, sizeof(*sum));
	for (c = 0; c < env.ncpus; c++) {
		sum->matched += percpu[c].matched;
		sum->no_dest += percpu[c].no_dest;
		sum->skipped += percpu[c].skipped;
		sum->flow_errors += percpu[c].flow_errors;
		sum->rx_no_flow += percpu[c].rx_no_flow;
		sum->flow_new += percpu[c].flow_new;
	}
	free(percpu);
}

/* ---- running and checking ---- */

/* Mismatches of one case, collected so that a failure shows all of them at once. */
struct report {
	char buf[16384];
	size_t n;
};

static void note(struct report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->n >= sizeof(r->buf) - 1)
		return;
	va_start(ap, fmt);
	r->n += (size_t)vsnprintf(r->buf + r->n, sizeof(r->buf) - r->n, fmt, ap);
	va_end(ap);
	if (r->n > sizeof(r->buf) - 1)
		r->n = sizeof(r->buf) - 1;
}

static const char *verdict_name(long v)
{
	switch (v) {
	case TC_ACT_OK: return "TC_ACT_OK";
	case TC_ACT_SHOT: return "TC_ACT_SHOT";
	case TC_ACT_REDIRECT: return "TC_ACT_REDIRECT";
	default: return "?";
	}
}

/*
 * One BPF_PROG_TEST_RUN of prog on frame, as if it passed TC on veth0 (the
 * ifindex is what bpf_clone_redirect() transmits on). Returns 0 or -errno;
 * *out_len is the full output length even when the buffer was too small.
 */
static int run_prog(struct bpf_program *prog, const uint8_t *in, uint32_t in_len, uint8_t *out,
		    uint32_t *out_len, uint32_t *retval)
{
	struct __sk_buff ctx = { .ifindex = (uint32_t)env.veth0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = in, .data_size_in = in_len,
		    .data_out = out, .data_size_out = *out_len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	*out_len = opts.data_size_out;
	*retval = opts.retval;
	return err;
}

static int build(const struct pkt_spec *s, uint8_t *buf)
{
	int len = pkt_build(s, buf, PKT_MAX);

	if (len < 0)
		fail_msg("malformed packet spec in the table (family %d, %s -> %s)", s->family,
			 s->saddr ? s->saddr : "-", s->daddr ? s->daddr : "-");
	return len;
}

/* Compare a frame the program produced with the expected one, byte for byte, and
 * verify its checksums independently of the expectation. */
static void expect_frame(struct report *r, const char *what, const uint8_t *got, size_t got_len,
			 const uint8_t *exp, size_t exp_len)
{
	char why[128], dump_got[4096], dump_exp[4096];

	if (got_len != exp_len || memcmp(got, exp, exp_len)) {
		size_t i = 0;

		while (i < got_len && i < exp_len && got[i] == exp[i])
			i++;
		pkt_hexdump(dump_got, sizeof(dump_got), got, got_len, exp, exp_len);
		pkt_hexdump(dump_exp, sizeof(dump_exp), exp, exp_len, NULL, 0);
		note(r, "  %s differs from offset %zu (length %zu, want %zu)\n   got (* = differs):\n%s\n"
			"   want:\n%s\n", what, i, got_len, exp_len, dump_got, dump_exp);
	}
	/* Only frames whose expectation verifies: damaged inputs are meant not to. */
	if (!pkt_verify_csums(exp, exp_len, why, sizeof(why)) &&
	    pkt_verify_csums(got, got_len, why, sizeof(why)))
		note(r, "  %s: %s\n", what, why);
}

static void check_counters(struct report *r, const struct test_case *c, size_t in_len,
			   int64_t t0, int64_t t1)
{
	struct udpc_dest_stats *percpu = calloc((size_t)env.ncpus, sizeof(*percpu));
	struct udpc_global_stats g;
	uint32_t slot;

	assert_non_null(percpu);
	sum_global(&g);
#define CHECK_G(f)                                                                     \
	if (g.f != c->want.g.f)                                                         \
		note(r, "  global " #f " = %llu, want %llu\n", (unsigned long long)g.f,  \
		     (unsigned long long)c->want.g.f)
	CHECK_G(matched);
	CHECK_G(no_dest);
	CHECK_G(skipped);
	CHECK_G(flow_errors);
	CHECK_G(rx_no_flow);
	CHECK_G(flow_new);
#undef CHECK_G

	for (slot = 0; slot < UDPC_MAX_DESTS; slot++) {
		const struct want_dest *w = &c->want.d[slot];
		struct udpc_dest_stats s;

		sum_dest_stats(slot, &s, percpu);
#define CHECK_D(f, v)                                                                  \
	if (s.f != (uint64_t)(v))                                                        \
		note(r, "  dest %u " #f " = %llu, want %llu\n", slot,                     \
		     (unsigned long long)s.f, (unsigned long long)(v))
		CHECK_D(tx_packets, w->tx);
		CHECK_D(tx_bytes, w->tx * in_len);
		CHECK_D(tx_errors, w->tx_err);
		CHECK_D(fib_errors, w->fib_err);
		CHECK_D(neigh_missing, w->neigh_missing);
		CHECK_D(rx_packets, w->rx);
		CHECK_D(rx_bytes, w->rx * in_len);
#undef CHECK_D
		if (w->rx && ((int64_t)s.last_rx_ns < t0 || (int64_t)s.last_rx_ns > t1))
			note(r, "  dest %u last_rx_ns %llu not within the run\n", slot,
			     (unsigned long long)s.last_rx_ns);
		if (!w->rx && s.last_rx_ns)
			note(r, "  dest %u last_rx_ns set without a reply\n", slot);

	}
	free(percpu);
}

/* The primed flow's last_seen_ns, after its ageing: what check_flows() measures from. */
static int64_t primed_seen_ns;

/* Egress records where a matched client sent to; nothing else creates flows.
 * Ingress refreshes the flow only when it maps a reply. */
static void check_flows(struct report *r, const struct test_case *c, int64_t t0, int64_t t1)
{
	int fd = map_fd(env.skel->maps.udpc_flows);
	struct udpc_flow_key k;
	struct udpc_flow f;
	uint64_t rx = 0;
	int i;

	if (c->prog == EGRESS) {
		struct udpc_addr want_daddr;

		if (!c->want.g.matched) {
			if (count_flows())
				note(r, "  %d flow(s) created for an unmatched packet\n", count_flows());
			return;
		}
		k = flow_key_of(&c->in);
		if (bpf_map_lookup_elem(fd, &k, &f)) {
			note(r, "  no flow for the client %s:%u\n", c->in.saddr, c->in.sport);
			return;
		}
		addr_from(&want_daddr, c->in.family, c->in.daddr);
		if (memcmp(&f.orig_daddr, &want_daddr, sizeof(want_daddr)) ||
		    f.orig_dport != htons(c->in.dport))
			note(r, "  flow does not record the original destination %s:%u\n",
			     c->in.daddr, c->in.dport);
		if ((int64_t)f.last_seen_ns < t0 || (int64_t)f.last_seen_ns > t1)
			note(r, "  flow last_seen_ns not within the run\n");
		if (count_flows() != 1)
			note(r, "  %d flows, want 1\n", count_flows());
		return;
	}

	if (!c->prime.family)
		return;
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		rx += c->want.d[i].rx;
	k = flow_key_of(&c->prime);
	if (bpf_map_lookup_elem(fd, &k, &f)) {
		note(r, "  the primed flow disappeared\n");
		return;
	}
	/* A mapped reply refreshes a flow last seen more than 100 ms (FLOW_REFRESH_NS in
	 * the program) before it; a fresher one is left alone, to spare the write. The
	 * age is measured, not the case's: under emulation (make check-kernels) priming
	 * and the run alone can be 100 ms apart. Between the two bounds, either is right. */
	if (rx && t0 - primed_seen_ns > 100000000 &&
	    ((int64_t)f.last_seen_ns < t0 || (int64_t)f.last_seen_ns > t1))
		note(r, "  a mapped reply did not refresh an aged flow\n");
	if (rx && t1 - primed_seen_ns <= 100000000 && (int64_t)f.last_seen_ns != primed_seen_ns)
		note(r, "  a mapped reply rewrote a fresh flow's last_seen_ns\n");
	if (!rx && (int64_t)f.last_seen_ns >= t0)
		note(r, "  an unmapped reply refreshed the flow\n");
}

/* Create the client flow as production would: the client's packet through egress. */
static void prime_flow(const struct test_case *c)
{
	uint8_t in[PKT_MAX], out[PKT_MAX];
	uint32_t out_len = sizeof(out), retval;
	int fd = map_fd(env.skel->maps.udpc_flows), len;
	struct udpc_flow_key k;
	struct udpc_flow f;

	len = build(&c->prime, in);
	assert_int_equal(run_prog(env.skel->progs.udpc_egress, in, (uint32_t)len, out, &out_len,
				  &retval), 0);
	assert_int_equal(retval, TC_ACT_OK);
	capture_drain(20);
	k = flow_key_of(&c->prime);
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &f), 0);
	if (c->age_ns) {
		f.last_seen_ns -= c->age_ns;
		assert_int_equal(bpf_map_update_elem(fd, &k, &f, BPF_EXIST), 0);
	}
	primed_seen_ns = (int64_t)f.last_seen_ns;
	reset_stats();
}

static void run_case(const struct test_case *c)
{
	static struct report r;
	uint8_t in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX], got[PKT_MAX];
	uint32_t out_len = sizeof(out), retval;
	int in_len, exp_len, got_len, i, err, stale, extra;
	int64_t t0, t1;

	r.n = 0;
	r.buf[0] = '\0';
	write_dests(c->dests);
	if (c->active.set)
		write_active(&c->active.a);
	write_nexthops(c->nexthops);
	flush_flows();
	reset_stats();
	if (c->host)
		assert_int_equal(set_forwarding(false), 0);
	if (c->attach_egress)
		assert_int_equal(tc_attach_egress(), 0);
	if (c->prime.family) {
		write_config(&c->cfg, true); /* even a case that then disables it */
		prime_flow(c);
	}
	write_config(&c->cfg, false);
	if (!c->out_is_in && !c->out.family && c->verdict != TC_ACT_SHOT)
		fail_msg("%s: table error: a passing case must say what leaves", c->name);
	in_len = build(&c->in, in);
	stale = capture_drain(20);
	if (stale)
		note(&r, "  note: %d stray frame(s) on veth1 before the run\n", stale);

	t0 = now_ns();
	err = run_prog(c->prog == EGRESS ? env.skel->progs.udpc_egress
					 : env.skel->progs.udpc_ingress,
		       in, (uint32_t)in_len, out, &out_len, &retval);
	t1 = now_ns();
	if (err == -EINVAL && c->in.cut &&
	    c->in.cut < PKT_ETH_LEN + (c->in.family == PKT_IPV6 ? PKT_IP6_LEN : PKT_IP4_LEN)) {
		/* The kernel's test run refuses a frame whose ethertype promises an IP
		 * header it does not hold, so the program cannot be shown one. */
		print_message("kernel refuses a %d-byte frame cut inside its IP header: "
			      "skipped\n", in_len);
		skip();
	}
	if (err)
		fail_msg("%s: BPF_PROG_TEST_RUN failed: %s%s", c->name, strerror(-err),
			 err == -ENOSPC ? " (output buffer too small)" : "");

	if ((int)retval != c->verdict)
		note(&r, "  verdict %s (%u), want %s (%d)\n", verdict_name(retval), retval,
		     verdict_name(c->verdict), c->verdict);
	if (c->out_is_in)
		expect_frame(&r, "output (want the input unchanged)", out, out_len, in,
			     (size_t)in_len);
	else if (c->out.family) {
		exp_len = build(&c->out, exp);
		expect_frame(&r, "output (data_out)", out, out_len, exp, (size_t)exp_len);
	}

	/* The clones: each expected one, in slot order, then nothing more. */
	for (i = 0; i < MAX_CLONES && c->clones[i].family; i++) {
		char what[48];

		snprintf(what, sizeof(what), "clone %d", i);
		got_len = capture_next(got, sizeof(got), 1000, NULL);
		if (got_len <= 0) {
			note(&r, "  clone %d never arrived on veth1%s\n", i,
			     got_len < 0 ? " (capture error)" : "");
			break;
		}
		exp_len = build(&c->clones[i], exp);
		expect_frame(&r, what, got, (size_t)got_len, exp, (size_t)exp_len);
	}
	for (extra = 0; (got_len = capture_next(got, sizeof(got), 50, NULL)) > 0; extra++) {
		char dump[4096];

		if (extra >= 2)
			continue; /* counted, not shown */
		pkt_hexdump(dump, sizeof(dump), got, (size_t)got_len, NULL, 0);
		note(&r, "  unexpected extra frame on veth1:\n%s\n", dump);
	}
	if (extra)
		note(&r, "  %d unexpected frame(s) on veth1 in all\n", extra);

	check_counters(&r, c, (size_t)in_len, t0, t1);
	check_flows(&r, c, t0, t1);
	if (r.n) {
		/* cmocka's own messages are cut at 1 KiB: the details go out first. */
		fprintf(stderr, "%s:\n%s", c->name, r.buf);
		fail_msg("%s: mismatches above", c->name);
	}
}

static void test_case_fn(void **state)
{
	run_case(*state);
}

static int case_teardown(void **state)
{
	tc_detach();
	if (dp.host)
		return set_forwarding(true);
	return 0;
}

/* Send c->in from a real socket; see socket_cases. */
static void run_socket_case(const struct test_case *c)
{
	static struct report r;
	const struct pkt_spec *exp_specs[MAX_CLONES + 1];
	uint8_t in[PKT_MAX], exp[PKT_MAX], got[PKT_MAX];
	struct sockaddr_storage src = { 0 }, dst = { 0 };
	int in_len, exp_len, got_len, n_exp = 0, i, fd, extra, partial_seen = 0;
	int af = c->in.family == PKT_IPV6 ? AF_INET6 : AF_INET, one = IP_PMTUDISC_DO;
	socklen_t alen;
	int64_t t0, t1;
	bool partial;
	uint16_t ip_id = 0;

	r.n = 0;
	r.buf[0] = '\0';
	write_dests(c->dests);
	write_nexthops(c->nexthops);
	flush_flows();
	reset_stats();
	write_config(&c->cfg, false);
	assert_int_equal(tc_attach_egress(), 0);
	in_len = build(&c->in, in);
	for (i = 0; i < MAX_CLONES && c->clones[i].family; i++)
		exp_specs[n_exp++] = &c->clones[i];
	exp_specs[n_exp++] = &c->out;

	if (af == AF_INET) {
		struct sockaddr_in *s4 = (void *)&src, *d4 = (void *)&dst;

		s4->sin_family = d4->sin_family = AF_INET;
		s4->sin_port = htons(c->in.sport);
		d4->sin_port = htons(c->in.dport);
		inet_pton(AF_INET, c->in.saddr, &s4->sin_addr);
		inet_pton(AF_INET, c->in.daddr, &d4->sin_addr);
		alen = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (void *)&src, *d6 = (void *)&dst;

		s6->sin6_family = d6->sin6_family = AF_INET6;
		s6->sin6_port = htons(c->in.sport);
		d6->sin6_port = htons(c->in.dport);
		inet_pton(AF_INET6, c->in.saddr, &s6->sin6_addr);
		inet_pton(AF_INET6, c->in.daddr, &d6->sin6_addr);
		alen = sizeof(*s6);
	}
	fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (af == AF_INET) /* DF, as SOCK4 expects */
		assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&src, alen), 0);
	capture_drain(20);

	t0 = now_ns();
	assert_int_equal(sendto(fd, c->in.payload, strlen(c->in.payload), 0,
				(struct sockaddr *)&dst, alen), (ssize_t)strlen(c->in.payload));
	t1 = now_ns(); /* egress ran inside sendto() */
	close(fd);

	for (i = 0; i < n_exp; i++) {
		struct pkt_spec spec = *exp_specs[i];
		char what[48];

		snprintf(what, sizeof(what), i < n_exp - 1 ? "clone %d" : "last copy (%d)", i);
		got_len = capture_next(got, sizeof(got), 1000, &partial);
		if (got_len <= 0) {
			note(&r, "  %s never arrived on veth1\n", what);
			break;
		}
		if (partial) {
			partial_seen++;
			if (pkt_complete_udp_csum(got, (size_t)got_len))
				note(&r, "  %s: partial checksum on a frame that is not UDP\n", what);
		}
		if (af == AF_INET) {
			if (i == 0)
				ip_id = pkt_get16(got + PKT_ETH_LEN + 4);
			spec.set_id = true;
			spec.ip_id = ip_id;
		}
		exp_len = build(&spec, exp);
		expect_frame(&r, what, got, (size_t)got_len, exp, (size_t)exp_len);
	}
	for (extra = 0; capture_next(got, sizeof(got), 50, NULL) > 0; extra++)
		;
	if (extra)
		note(&r, "  %d unexpected frame(s) on veth1\n", extra);
	if (!partial_seen)
		print_message("note: no copy arrived with a partial checksum: "
			      "this run did not cover CHECKSUM_PARTIAL\n");

	/* The frame the stack built has the same length as in: counters check it. */
	if (af == AF_INET) {
		struct pkt_spec spec = c->in;

		spec.set_id = true;
		spec.ip_id = ip_id;
		in_len = build(&spec, in);
	}
	check_counters(&r, c, (size_t)in_len, t0, t1);
	check_flows(&r, c, t0, t1);
	if (r.n) {
		fprintf(stderr, "%s:\n%s", c->name, r.buf);
		fail_msg("%s: mismatches above", c->name);
	}
}

static void test_socket_case_fn(void **state)
{
	run_socket_case(*state);
}

/* ---- tests outside the table ---- */

/* The checksum code itself against a known answer (RFC 1071 sum of the classic
 * IPv4 header example) and the verifier against damage, so that expectations
 * built with them mean something. */
static void test_checksum_reference(void **state)
{
	static const uint8_t hdr[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00,
					 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01,
					 0xc0, 0xa8, 0x00, 0xc7 };
	const struct pkt_spec specs[] = { C4(), C6(), C4(.payload = "even"), TO_GW6(),
					  C4(.ihl = 7), R6(MAC_A6, "2001:db8:1::10", 9000) };
	uint8_t f[PKT_MAX];
	char why[128];
	size_t i;
	int len;

	assert_int_equal(pkt_csum_fold(pkt_csum_add(0, hdr, sizeof(hdr))), 0xb861);
	for (i = 0; i < ARRAY_SIZE(specs); i++) {
		len = build(&specs[i], f);
		assert_int_equal(pkt_verify_csums(f, (size_t)len, why, sizeof(why)), 0);
		f[len - 1] ^= 0x01; /* a payload bit: the UDP checksum must catch it */
		assert_int_not_equal(pkt_verify_csums(f, (size_t)len, why, sizeof(why)), 0);
	}
	len = build(&(struct pkt_spec)C4(), f);
	f[PKT_ETH_LEN + 8] ^= 0x01; /* TTL: the IPv4 header checksum must catch it */
	assert_int_not_equal(pkt_verify_csums(f, (size_t)len, why, sizeof(why)), 0);
}

/* BPF_PROG_TEST_RUN with an output buffer smaller than the packet: the kernel
 * copies what fits and says -ENOSPC with the full length; run_prog passes both on. */
static void test_short_output_buffer(void **state)
{
	const struct test_case c = { .dests = { D_A } };
	uint8_t in[PKT_MAX], out[PKT_MAX];
	uint32_t out_len = 20, retval = ~0U;
	int len, err;

	write_config(&c.cfg, false);
	write_dests(c.dests);
	write_nexthops(c.nexthops);
	len = build(&(struct pkt_spec)C4(.dport = 9), in);
	memset(out, 0xee, sizeof(out));
	err = run_prog(env.skel->progs.udpc_egress, in, (uint32_t)len, out, &out_len, &retval);
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(out_len, len);
	assert_int_equal(retval, TC_ACT_OK);
	assert_memory_equal(out, in, 20);
	assert_int_equal(out[20], 0xee);
}

/*
 * A copy whose UDP checksum comes out as 0 must carry 0xffff (0 would mean "no
 * checksum"). The payload's last word is chosen so that the copy to D_A sums to
 * exactly that; the input itself has an ordinary checksum.
 */
static void test_checksum_zero_becomes_ffff(void **state)
{
	struct test_case c = {
		.name = "v4: a copy whose UDP checksum computes to 0 carries 0xffff",
		.dests = { D_A },
		.verdict = TC_ACT_OK,
		.want = { .g = MATCHED, .d = { { .tx = 1 } } },
	};
	struct pkt_spec out = TO_A(), in = C4();
	char payload[20] = "checksum-is-zero..";
	uint8_t f[PKT_MAX];
	uint16_t sum, word;
	int len;

	/* Sum of the copy with the last payload word and the checksum field zero. */
	payload[18] = payload[19] = 0;
	out.payload = in.payload = payload;
	out.payload_len = in.payload_len = sizeof(payload);
	out.udp_csum_zero = true;
	len = build(&out, f);
	sum = (uint16_t)~pkt_csum_fold(pkt_csum_add(
		pkt_pseudo_sum(PKT_IPV4, f + PKT_ETH_LEN + 12, f + PKT_ETH_LEN + 16, IPPROTO_UDP,
			       (uint32_t)(len - PKT_ETH_LEN - PKT_IP4_LEN)),
		f + PKT_ETH_LEN + PKT_IP4_LEN, (size_t)(len - PKT_ETH_LEN - PKT_IP4_LEN)));
	word = (uint16_t)(0xffff - sum); /* sum + word = 0xffff: the checksum is ~0xffff = 0 */
	pkt_put16((uint8_t *)payload + 18, word);
	out.udp_csum_zero = false;

	len = build(&out, f);
	assert_int_equal(pkt_get16(f + PKT_ETH_LEN + PKT_IP4_LEN + 6), 0xffff);
	len = build(&in, f);
	assert_int_not_equal(pkt_get16(f + PKT_ETH_LEN + PKT_IP4_LEN + 6), 0xffff);
	c.in = in;
	c.out = out;
	run_case(&c);
}

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(cases) + ARRAY_SIZE(socket_cases) + 3];
	size_t i, n = 0;

	if (geteuid() != 0) {
		printf("SKIP test_datapath: needs root (network namespace, BPF)\n");
		return 77;
	}
	tests[n++] = (struct CMUnitTest){ "pkt.h: checksums against a reference",
					  test_checksum_reference, NULL, NULL, NULL };
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		tests[n++] = (struct CMUnitTest){ cases[i].name, test_case_fn, NULL,
						  case_teardown, (void *)&cases[i] };
	for (i = 0; i < ARRAY_SIZE(socket_cases); i++)
		tests[n++] = (struct CMUnitTest){ socket_cases[i].name, test_socket_case_fn, NULL,
						  case_teardown, (void *)&socket_cases[i] };
	tests[n++] = (struct CMUnitTest){ "v4: a copy whose UDP checksum computes to 0 carries 0xffff",
					  test_checksum_zero_becomes_ffff, NULL, case_teardown,
					  NULL };
	tests[n++] = (struct CMUnitTest){ "test run: output buffer too small gives -ENOSPC",
					  test_short_output_buffer, NULL, NULL, NULL };
	return _cmocka_run_group_tests("udpclone data path", tests, n, group_setup, group_teardown);
}
