// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Bounded, deterministic fuzzing of both data-path programs through
 * BPF_PROG_TEST_RUN. A seeded PRNG (UDPC_FUZZ_SEED, printed; fixed by default)
 * makes UDPC_FUZZ_FRAMES frames (default 24000) in epochs of EPOCH_FRAMES, each
 * epoch with its own random configuration (listen port, optional listen address,
 * 0..6 destinations in random slots, flow timeout, disabled now and then):
 * valid headers with random lengths, truncation at every offset, bogus IHL,
 * fragments, IPv6 extension-header chains, jumbograms (payload_len 0), zero,
 * 0xffff and random checksums, damaged length fields, bit flips, random bytes,
 * random MACs and ports; and replies (valid and damaged) through ingress.
 *
 * An independent oracle, written from the documented behaviour and not from the
 * program, classifies every frame, and the test asserts:
 *   - the verdict is TC_ACT_OK or TC_ACT_SHOT, and the one the oracle predicts;
 *   - a frame that is not ours leaves byte for byte unchanged, with no clone;
 *   - every copy of a matching frame (each clone captured on the veth peer, and
 *     the packet itself) differs from the input only in MACs, destination
 *     address and port and the checksums; those are the expected values; the
 *     IPv4 header checksum and UDP checksum verify exactly as well as the
 *     input's did (an incremental update keeps the residual), so a valid input
 *     gives valid copies, and a zero UDP checksum stays zero;
 *   - a mapped reply differs only in source address and port and checksums;
 *   - after every frame the global counters equal the oracle's (matched = the
 *     number of matching frames, skipped, no_dest, rx_no_flow, flow_errors 0);
 *     per destination tx/rx packets and bytes and fib_errors at each epoch's
 *     end; the flow table holds exactly the clients of matching frames.
 * That nothing is read outside the packet is not tested here: the verifier
 * guarantees it (every packet access is bounds-checked at load time).
 *
 * Runs in a private network namespace (veth0 "attached", clones captured on
 * veth1), maps pinned in a private directory: tests/bpf/env.h. Needs root;
 * exit 77 without.
 * Reproduce a failure with the printed seed (and the same frame count).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "udpclone.h"
#include "udpclone.skel.h"
#include "pkt.h"
#include "env.h"
#include "reconcile.h"
#define FUZZ_REPORT_SIZE 24576
#include "fuzz.h"

#define DEFAULT_SEED 0x75647063ULL	/* "udpc" */
#define DEFAULT_FRAMES 24000
#define EPOCH_FRAMES 1000
#define MAX_DETAILS 5			/* failures shown in full; all are counted */
#define MTU 1500			/* veth0's, and every route's */
#define FRAME_MAX (PKT_ETH_LEN + MTU)	/* what veth forwards (plus a VLAN tag) */

/* ---- the test network ---- */

/* The veth pair and the routed network of tests/bpf/env.h. */
static const char *const net_cmds[] = { ENV_NET_VETH, ENV_NET_ROUTED };

/* Destination addresses and the next-hop MAC the FIB gives for each. */
struct pool_entry {
	const char *addr, *mac;
	uint8_t a[16], m[6];
};

static struct pool_entry pool4[] = {
	{ "198.51.100.1", MAC_A }, { "198.51.100.2", MAC_B },
	{ "203.0.113.5", MAC_GW4 }, { "203.0.113.77", MAC_GW4 },
};
static struct pool_entry pool6[] = {
	{ "2001:db8:1::10", MAC_A6 }, { "2001:db8:1::20", MAC_B6 },
	{ "2001:db8:2::5", MAC_GW6 }, { "2001:db8:2::77", MAC_GW6 },
};
/* Clients: few, so that flows repeat and replies find them. */
static const char *const clients4[] = { "192.0.2.1", "192.0.2.7", "192.0.2.200" };
static const char *const clients6[] = { "2001:db8:1::1", "2001:db8:1::7", "2001:db8:1::c8" };
static uint8_t client4[ARRAY_SIZE(clients4)][4], client6[ARRAY_SIZE(clients6)][16];
static uint8_t mac_v0[6];

/* ---- the configuration of one epoch, as the oracle sees it ---- */

struct odest {
	bool used, has4, has6;
	uint8_t a4[4], a6[16], mac4[6], mac6[6];
	uint16_t port;
};

struct epoch {
	bool enabled;
	uint16_t listen_port;
	int listen_family;	/* 0, 4 or 6 */
	uint8_t listen_addr[16];
	bool idle;		/* flow timeout 0: every flow is idle for ingress */
	struct odest d[UDPC_MAX_DESTS];
};

struct oflow {
	int family;
	uint8_t addr[16];
	uint16_t port;
	uint8_t orig_daddr[16];
	uint16_t orig_dport;
};

/* What the oracle expects the maps' counters to say. */
struct ostats {
	uint64_t matched, no_dest, skipped, rx_no_flow;
	uint64_t tx[UDPC_MAX_DESTS], tx_bytes[UDPC_MAX_DESTS], fib_err[UDPC_MAX_DESTS];
	uint64_t neigh_missing[UDPC_MAX_DESTS], tx_err[UDPC_MAX_DESTS];
	uint64_t rx[UDPC_MAX_DESTS], rx_bytes[UDPC_MAX_DESTS];
};

static struct epoch ep;
static struct oflow flows[EPOCH_FRAMES * 2];
static int n_flows;
static struct ostats want;

static struct {
	uint64_t frames, egress, ingress, refused, match, unsup, other, clones, shot;
	uint64_t mapped, replies_nomatch, failures, kinds[32];
} st;

/* The oracle's parser, oracle_parse(): tests/bpf/fuzz.h. */

static bool listen_match(const struct parsed *p)
{
	if (p->dport != ep.listen_port)
		return false;
	if (!ep.listen_family)
		return true;
	return p->family == ep.listen_family && !memcmp(p->daddr, ep.listen_addr, alen(p->family));
}

static const uint8_t *dest_addr(const struct odest *d, int family)
{
	if (!d->used)
		return NULL;
	if (family == 4)
		return d->has4 ? d->a4 : NULL;
	return d->has6 ? d->a6 : NULL;
}

/*
 * The next hop's MACs for a copy to d, or NULL when the kernel FIB refuses to
 * route it (BPF_FIB_LKUP_RET_NOT_FWDED: an IPv6 link-local, multicast or loopback
 * source, which no router forwards). The program then sends the copy with the
 * input's L2 header, counted as neigh_missing, and no MTU check applies.
 */
static const uint8_t *copy_dmac(const struct odest *d, const struct parsed *p)
{
	static const uint8_t lo[16] = { [15] = 1 };

	if (p->family == 4)
		return d->mac4;
	if (p->saddr[0] == 0xff || (p->saddr[0] == 0xfe && (p->saddr[1] & 0xc0) == 0x80) ||
	    !memcmp(p->saddr, lo, 16))
		return NULL;
	return d->mac6;
}

static struct oflow *flow_find(int family, const uint8_t *addr, uint16_t port)
{
	int i;

	for (i = 0; i < n_flows; i++)
		if (flows[i].family == family && flows[i].port == port &&
		    !memcmp(flows[i].addr, addr, alen(family)))
			return &flows[i];
	return NULL;
}

/* ---- frames ---- */

enum { CS_VALID, CS_ZERO, CS_FFFF, CS_RANDOM };

struct fparams {
	uint8_t dmac[6], smac[6];
	uint16_t ethertype;	/* 0: the family's */
	int family;
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint8_t proto;
	size_t plen;
	int ihl;		/* IPv4 IHL field as written; the header has max(ihl, 5) words */
	uint16_t frag;
	uint8_t ext[6];		/* IPv6 extension headers before the L4 header */
	int n_ext;
	int csum;
	bool ip_csum_bad;
	int ip_len_delta, udp_len_delta;
	bool jumbo;		/* IPv6 payload_len 0 */
	size_t pad;		/* Ethernet padding after the IP packet */
};

static const uint8_t ext_types[] = { 0, 43, 44, 60, 51, 135, 139, 140, 253, 59 };

/* Builds fp into f (PKT_MAX bytes); returns the frame length. */
static size_t build(const struct fparams *fp, uint8_t *f)
{
	size_t hlen = fp->family == 4 ? (size_t)(fp->ihl > 5 ? fp->ihl : 5) * 4 : PKT_IP6_LEN;
	size_t ext_len = fp->family == 6 ? (size_t)fp->n_ext * 8 : 0;
	size_t plen = fp->plen, l4_len, len, i;
	uint8_t *ip = f + PKT_ETH_LEN, *l4;

	if (PKT_ETH_LEN + hlen + ext_len + PKT_UDP_LEN + plen + fp->pad > PKT_MAX)
		plen = PKT_MAX - (PKT_ETH_LEN + hlen + ext_len + PKT_UDP_LEN + fp->pad);
	l4_len = PKT_UDP_LEN + plen;
	len = PKT_ETH_LEN + hlen + ext_len + l4_len;
	memset(f, 0, PKT_MAX);
	memcpy(f, fp->dmac, 6);
	memcpy(f + 6, fp->smac, 6);
	pkt_put16(f + 12, fp->ethertype ? fp->ethertype : fp->family == 4 ? 0x0800 : 0x86dd);
	l4 = ip + hlen + ext_len;
	rbytes(l4 + PKT_UDP_LEN, plen);
	pkt_put16(l4, fp->sport);
	pkt_put16(l4 + 2, fp->dport);
	pkt_put16(l4 + 4, (uint16_t)(l4_len + fp->udp_len_delta));

	if (fp->family == 4) {
		ip[0] = (uint8_t)(0x40 | (fp->ihl & 0xf));
		ip[1] = (uint8_t)rnd();
		pkt_put16(ip + 2, (uint16_t)(hlen + l4_len + fp->ip_len_delta));
		pkt_put16(ip + 4, (uint16_t)rnd());
		pkt_put16(ip + 6, fp->frag);
		ip[8] = (uint8_t)(1 + rn(255));
		ip[9] = fp->proto;
		memcpy(ip + 12, fp->saddr, 4);
		memcpy(ip + 16, fp->daddr, 4);
		for (i = PKT_IP4_LEN; i < hlen; i++)
			ip[i] = chance(50) ? 1 : (uint8_t)rnd(); /* NOPs or junk options */
	} else {
		uint8_t next = fp->proto;
		int k;

		ip[0] = 0x60 | (uint8_t)rn(16);
		ip[1] = (uint8_t)rnd();
		pkt_put16(ip + 2, (uint16_t)rnd());
		pkt_put16(ip + 4, fp->jumbo ? 0 : (uint16_t)(ext_len + l4_len + fp->ip_len_delta));
		ip[7] = (uint8_t)(1 + rn(255));
		memcpy(ip + 8, fp->saddr, 16);
		memcpy(ip + 24, fp->daddr, 16);
		for (k = fp->n_ext - 1; k >= 0; k--) {
			uint8_t *h = ip + PKT_IP6_LEN + 8 * k;

			rbytes(h, 8);
			h[0] = next;
			if (fp->ext[k] != 51)
				h[1] = 0; /* 8 bytes in all (AH counts differently: 0 is fine) */
			next = fp->ext[k];
		}
		ip[6] = next;
	}

	{
		/* a UDP checksum even under another protocol number: it is only bytes then */
		uint16_t ulen = pkt_get16(l4 + 4), ck = 0;
		uint64_t s;
		int pf = fp->family == 4 ? PKT_IPV4 : PKT_IPV6;
		const uint8_t *sa = fp->family == 4 ? ip + 12 : ip + 8;
		const uint8_t *da = fp->family == 4 ? ip + 16 : ip + 24;

		switch (fp->csum) {
		case CS_VALID:
			s = pkt_pseudo_sum(pf, sa, da, IPPROTO_UDP, ulen);
			ck = pkt_csum_fold(pkt_csum_add(s, l4, l4_len));
			ck = ck ? ck : 0xffff;
			break;
		case CS_ZERO:
			ck = 0;
			break;
		case CS_FFFF:
			/* a payload word chosen so that the checksum computes to 0,
			 * which is sent as 0xffff (RFC 768) */
			if (plen >= 2) {
				uint16_t sum;

				l4[8] = l4[9] = 0;
				s = pkt_pseudo_sum(pf, sa, da, IPPROTO_UDP, ulen);
				sum = (uint16_t)~pkt_csum_fold(pkt_csum_add(s, l4, l4_len));
				pkt_put16(l4 + 8, (uint16_t)(0xffff - sum));
			}
			ck = 0xffff;
			break;
		default:
			ck = (uint16_t)rnd();
		}
		pkt_put16(l4 + 6, ck);
	}
	if (fp->family == 4) {
		uint16_t ck = pkt_csum_fold(pkt_csum_add(0, ip, hlen));

		pkt_put16(ip + 10, fp->ip_csum_bad ? (uint16_t)rnd() : ck);
	}
	if (fp->pad && len + fp->pad <= PKT_MAX)
		len += fp->pad; /* zero bytes: f was cleared */
	return len;
}

static void rand_mac(uint8_t *m)
{
	rbytes(m, 6);
}

static void pick_addr(int family, uint8_t *a, bool for_daddr)
{
	uint32_t r = rn(100);

	memset(a, 0, 16);
	if (for_daddr && ep.listen_family == family && r < 30) {
		memcpy(a, ep.listen_addr, alen(family));
	} else if (r < 60) {
		const struct pool_entry *e = family == 4 ? &pool4[rn(ARRAY_SIZE(pool4))]
							 : &pool6[rn(ARRAY_SIZE(pool6))];

		memcpy(a, e->a, alen(family));
	} else if (r < 80) {
		if (family == 4)
			memcpy(a, client4[rn(ARRAY_SIZE(client4))], 4);
		else
			memcpy(a, client6[rn(ARRAY_SIZE(client6))], 16);
	} else {
		rbytes(a, alen(family));
	}
}

/* A well-formed client packet of a family, to the listen port or not. */
static void base_params(struct fparams *fp, int family, bool to_listen)
{
	size_t max_plen = MTU - (family == 4 ? PKT_IP4_LEN : PKT_IP6_LEN) - PKT_UDP_LEN;
	uint32_t r;

	memset(fp, 0, sizeof(*fp));
	if (chance(50)) {
		rand_mac(fp->dmac);
		rand_mac(fp->smac);
	} else {
		memcpy(fp->dmac, pool4[0].m, 6);
		memcpy(fp->smac, mac_v0, 6);
	}
	fp->family = family;
	fp->proto = IPPROTO_UDP;
	fp->ihl = 5;
	if (chance(75)) {
		if (family == 4)
			memcpy(fp->saddr, client4[rn(ARRAY_SIZE(client4))], 4);
		else
			memcpy(fp->saddr, client6[rn(ARRAY_SIZE(client6))], 16);
	} else {
		rbytes(fp->saddr, alen(family));
	}
	pick_addr(family, fp->daddr, true);
	fp->sport = chance(60) ? (uint16_t)(40000 + rn(4)) : (uint16_t)rnd();
	fp->dport = to_listen ? ep.listen_port : (uint16_t)rnd();
	r = rn(100);
	fp->plen = r < 40 ? rn(33) : r < 80 ? 33 + rn(480) : rn((uint32_t)max_plen + 1);
	r = rn(100);
	fp->csum = r < 75 ? CS_VALID : r < 83 ? CS_ZERO : r < 90 ? CS_FFFF : CS_RANDOM;
	fp->ip_csum_bad = chance(3);
	if (chance(15)) {
		size_t len = PKT_ETH_LEN + (family == 4 ? PKT_IP4_LEN : PKT_IP6_LEN) +
			     PKT_UDP_LEN + fp->plen;

		fp->pad = len < 60 && chance(50) ? 60 - len : rn(32);
		if (len + fp->pad > FRAME_MAX)
			fp->pad = FRAME_MAX - len;
	}
}

/* A reply from a configured destination (or something like one) to a client. */
static void reply_params(struct fparams *fp)
{
	int family = chance(50) ? 4 : 6, i, n = 0, slots[UDPC_MAX_DESTS];
	const struct oflow *fl = NULL;

	base_params(fp, family, false);
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		if (dest_addr(&ep.d[i], family))
			slots[n++] = i;
	if (n && chance(85)) {
		const struct odest *d = &ep.d[slots[rn((uint32_t)n)]];

		memcpy(fp->saddr, dest_addr(d, family), alen(family));
		fp->sport = chance(90) ? d->port : (uint16_t)rnd();
	}
	for (i = 0; i < n_flows && !fl; i++)
		if (flows[i].family == family && chance(40))
			fl = &flows[i];
	if (fl && chance(85)) {
		memcpy(fp->daddr, fl->addr, 16);
		fp->dport = chance(90) ? fl->port : (uint16_t)rnd();
	} else {
		pick_addr(family, fp->daddr, false);
		fp->dport = chance(50) ? (uint16_t)(40000 + rn(4)) : (uint16_t)rnd();
	}
	memcpy(fp->dmac, mac_v0, 6);
}

enum kind {
	K_VALID, K_OTHER_PORT, K_IHL, K_FRAG, K_EXT6, K_JUMBO, K_LENS, K_OVERSIZE, K_FLIP,
	K_GARBAGE, K_GARBAGE_IP, K_PROTO, K_TRUNC, K_REPLY, K_REPLY_DAMAGED, K_NKINDS
};

static const char *const kind_names[] = {
	"valid", "other port", "bogus IHL/options", "fragment", "IPv6 ext chain",
	"IPv6 jumbo (payload_len 0)", "length fields", "oversize (> MTU)", "bit flips",
	"random bytes", "random IP bytes", "other protocol/ethertype", "truncated",
	"reply", "damaged reply",
};

/* Flip a few bits, or set a byte, in the headers of a frame. */
static void damage(uint8_t *f, size_t len)
{
	int n = 1 + (int)rn(4), i;

	for (i = 0; i < n; i++) {
		size_t at = rn((uint32_t)(len < 80 ? len : 80));

		if (chance(70))
			f[at] ^= (uint8_t)(1u << rn(8));
		else
			f[at] = chance(50) ? (uint8_t)rnd() : chance(50) ? 0 : 0xff;
	}
}

/* One egress frame of a random kind. */
static size_t gen_egress(uint8_t *f, enum kind *kind)
{
	int family = chance(50) ? 4 : 6;
	struct fparams fp;
	uint32_t r = rn(100);
	size_t len;

	base_params(&fp, family, chance(85));
	if (r < 30) {
		*kind = K_VALID;
	} else if (r < 36) {
		*kind = K_OTHER_PORT;
		fp.dport = (uint16_t)rnd();
	} else if (r < 43) {
		*kind = K_IHL;
		fp.family = family = 4;
		fp.ihl = (int)rn(16);
		memset(fp.saddr + 4, 0, 12);
		memset(fp.daddr + 4, 0, 12);
	} else if (r < 50) {
		*kind = K_FRAG;
		fp.family = 4;
		fp.frag = (uint16_t)((chance(50) ? PKT_IP_MF : 0) | (chance(50) ? rn(0x2000) : 0) |
				     (chance(30) ? 0x4000 : 0));
	} else if (r < 56) {
		*kind = K_EXT6;
		fp.family = 6;
		fp.n_ext = 1 + (int)rn(4);
		for (int k = 0; k < fp.n_ext; k++)
			fp.ext[k] = ext_types[rn(ARRAY_SIZE(ext_types))];
	} else if (r < 59) {
		*kind = K_JUMBO;
		fp.family = 6;
		fp.jumbo = true;
		if (chance(50)) {
			fp.n_ext = 1;
			fp.ext[0] = 0;
		}
	} else if (r < 67) {
		*kind = K_LENS;
		if (chance(50))
			fp.ip_len_delta = (int)rn(41) - 20;
		else
			fp.udp_len_delta = (int)rn(41) - 20;
		if (chance(10))
			fp.ip_len_delta = (int)rn(65536);
		if (chance(10))
			fp.udp_len_delta = (int)rn(65536);
	} else if (r < 70) {
		*kind = K_OVERSIZE;
		fp.plen = MTU + 1 + rn(100) - (family == 4 ? PKT_IP4_LEN : PKT_IP6_LEN) - PKT_UDP_LEN;
		fp.pad = 0;
	} else if (r < 82) {
		*kind = K_FLIP;
	} else if (r < 88) {
		*kind = K_GARBAGE;
		len = 14 + rn(200);
		rbytes(f, len);
		if (chance(30))
			pkt_put16(f + 12, chance(50) ? 0x0800 : 0x86dd);
		return len;
	} else if (r < 94) {
		*kind = K_GARBAGE_IP;
		len = rn(2) ? 14 + 20 + rn(120) : 14 + 40 + rn(120);
		rbytes(f, len);
		pkt_put16(f + 12, len < 54 || chance(50) ? 0x0800 : 0x86dd);
		f[14] = (uint8_t)((pkt_get16(f + 12) == 0x0800 ? 0x40 : 0x60) | (f[14] & 0xf));
		if (chance(70))
			f[pkt_get16(f + 12) == 0x0800 ? 14 + 9 : 14 + 6] = IPPROTO_UDP;
		return len;
	} else {
		static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_ICMP, 0, 41, 58, 132, 136 };
		static const uint16_t ets[] = { 0x0806, 0x8100, 0x88a8, 0x88cc, 0x0842, 0x05dc };

		*kind = K_PROTO;
		if (chance(60))
			fp.proto = protos[rn(ARRAY_SIZE(protos))];
		else
			fp.ethertype = ets[rn(ARRAY_SIZE(ets))];
	}
	len = build(&fp, f);
	if (*kind == K_FLIP)
		damage(f, len);
	return len;
}

/* ---- environment (tests/bpf/env.h) ---- */

static struct {
	int config, dests, stats, global, flows, nexthops;
} map_fds;

static int setup(void)
{
	if (env_setup("udpc-fuzz", net_cmds, ARRAY_SIZE(net_cmds)))
		return -1;
	map_fds.config = bpf_map__fd(env.skel->maps.udpc_config);
	map_fds.dests = bpf_map__fd(env.skel->maps.udpc_dests);
	map_fds.stats = bpf_map__fd(env.skel->maps.udpc_dest_stats);
	map_fds.global = bpf_map__fd(env.skel->maps.udpc_global);
	map_fds.flows = bpf_map__fd(env.skel->maps.udpc_flows);
	map_fds.nexthops = bpf_map__fd(env.skel->maps.udpc_nexthops);
	return 0;
}

/* ---- maps ---- */

static int write_epoch(void)
{
	struct udpc_config cfg = {
		.flags = ep.enabled ? UDPC_CFG_ENABLED : 0,
		.listen_port = htons(ep.listen_port),
		.l2_len = 14,
		.flow_timeout_ns = ep.idle ? 0 : 3600 * NSEC,
		.ifindex = (uint32_t)env.veth0,
	};
	struct udpc_dest all[UDPC_MAX_DESTS];
	struct udpc_active act;
	struct udpc_flow_key k;
	void *zeros = calloc((size_t)env.ncpus, sizeof(struct udpc_dest_stats));
	uint32_t i, zero = 0;
	int err = 0;

	if (!zeros)
		return -ENOMEM;
	if (ep.listen_family) {
		cfg.flags |= UDPC_CFG_LISTEN_ADDR;
		cfg.listen_family = ep.listen_family == 4 ? UDPC_AF_INET : UDPC_AF_INET6;
		memcpy(&cfg.listen_addr, ep.listen_addr, alen(ep.listen_family));
	}
	err |= bpf_map_update_elem(map_fds.config, &zero, &cfg, 0);
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		const struct odest *o = &ep.d[i];
		struct udpc_dest d = { 0 };
		struct udpc_nexthop nh = { 0 };

		if (o->used) {
			d.port = htons(o->port);
			if (o->has4) {
				d.flags |= UDPC_DEST_V4;
				memcpy(&d.addr4, o->a4, 4);
			}
			if (o->has6) {
				d.flags |= UDPC_DEST_V6;
				memcpy(&d.addr6, o->a6, 16);
			}
		}
		err |= bpf_map_update_elem(map_fds.dests, &i, &d, 0);
		all[i] = d;
		err |= bpf_map_update_elem(map_fds.nexthops, &i, &nh, 0);
		err |= bpf_map_update_elem(map_fds.stats, &i, zeros, 0);
	}
	udpc_active_of(all, &act); /* as the daemon derives it */
	err |= bpf_map_update_elem(bpf_map__fd(env.skel->maps.udpc_active), &zero, &act, 0);
	err |= bpf_map_update_elem(map_fds.global, &zero, zeros, 0);
	while (!bpf_map_get_next_key(map_fds.flows, NULL, &k))
		err |= bpf_map_delete_elem(map_fds.flows, &k);
	free(zeros);
	return err ? -EIO : 0;
}

static void new_epoch(int n)
{
	static const uint16_t ports[] = { 5743, 9000, 53, 1, 65535 };
	int i, nd;

	memset(&ep, 0, sizeof(ep));
	memset(&want, 0, sizeof(want));
	n_flows = 0;
	ep.enabled = n == 0 || !chance(5);
	ep.listen_port = chance(70) ? ports[rn(ARRAY_SIZE(ports))] : (uint16_t)(1 + rn(65535));
	ep.idle = chance(8);
	if (chance(25)) {
		ep.listen_family = chance(50) ? 4 : 6;
		memcpy(ep.listen_addr, ep.listen_family == 4 ? pool4[0].a : pool6[0].a, 16);
		if (ep.listen_family == 4)
			memset(ep.listen_addr + 4, 0, 12);
	}
	nd = chance(8) ? 0 : 1 + (int)rn(6);
	for (i = 0; i < nd; i++) {
		struct odest *d = &ep.d[rn(UDPC_MAX_DESTS)];
		uint32_t r = rn(100);
		const struct pool_entry *e4 = &pool4[rn(ARRAY_SIZE(pool4))];
		const struct pool_entry *e6 = &pool6[rn(ARRAY_SIZE(pool6))];

		d->used = true;
		d->has4 = r < 70;
		d->has6 = r >= 40;
		memcpy(d->a4, e4->a, 4);
		memcpy(d->mac4, e4->m, 6);
		memcpy(d->a6, e6->a, 16);
		memcpy(d->mac6, e6->m, 6);
		r = rn(100);
		d->port = r < 60 ? (uint16_t)(9000 + rn(3)) : r < 75 ? ep.listen_port
					: (uint16_t)(1 + rn(65535));
	}
}

static void read_global(struct udpc_global_stats *g)
{
	struct udpc_global_stats pc[64];
	uint32_t zero = 0;
	int c;

	memset(g, 0, sizeof(*g));
	if (env.ncpus > 64 || bpf_map_lookup_elem(map_fds.global, &zero, pc))
		return;
	for (c = 0; c < env.ncpus; c++) {
		g->matched += pc[c].matched;
		g->no_dest += pc[c].no_dest;
		g->skipped += pc[c].skipped;
		g->flow_errors += pc[c].flow_errors;
		g->rx_no_flow += pc[c].rx_no_flow;
	}
}

/* ---- checking ---- */

/* What the UDP checksum leaves over the pseudo-header and the datagram: 0 = valid. */
static uint16_t udp_residual(const uint8_t *f, const struct parsed *p)
{
	const uint8_t *ip = f + PKT_ETH_LEN, *udp = f + p->l4;
	uint16_t ulen = pkt_get16(udp + 4);
	int pf = p->family == 4 ? PKT_IPV4 : PKT_IPV6;
	uint64_t s = pkt_pseudo_sum(pf, p->family == 4 ? ip + 12 : ip + 8,
				    p->family == 4 ? ip + 16 : ip + 24, IPPROTO_UDP, ulen);

	return pkt_csum_fold(pkt_csum_add(s, udp, ulen));
}

/*
 * got must be in with the address at addr_off replaced by addr, the port at
 * port_off by port, the MACs by dmac/smac (if given), and the checksums updated
 * so that they verify exactly as well as in's: nothing else may differ.
 */
static void check_rewrite(const char *what, const uint8_t *in, size_t in_len,
			  const struct parsed *p, const uint8_t *got, size_t got_len,
			  size_t addr_off, const uint8_t *addr, size_t port_off, uint16_t port,
			  const uint8_t *dmac, const uint8_t *smac)
{
	size_t al = alen(p->family), i, csum4 = PKT_ETH_LEN + 10, csum_udp = p->l4 + 6;
	uint16_t in_ck = pkt_get16(in + csum_udp), got_ck = pkt_get16(got + csum_udp);
	int shown = 0;
	char why[128];

	if (got_len != in_len) {
		note("  %s: length %zu, want %zu\n", what, got_len, in_len);
		return;
	}
	for (i = 0; i < in_len; i++) {
		bool allowed = (dmac && i < 12) || (i >= addr_off && i < addr_off + al) ||
			       (i >= port_off && i < port_off + 2) ||
			       (p->family == 4 && (i == csum4 || i == csum4 + 1)) ||
			       i == csum_udp || i == csum_udp + 1;

		if (!allowed && got[i] != in[i] && shown++ < 4)
			note("  %s: byte %zu changed 0x%02x -> 0x%02x\n", what, i, in[i], got[i]);
	}
	if (dmac && (memcmp(got, dmac, 6) || memcmp(got + 6, smac, 6)))
		note("  %s: MACs are not the next hop's\n", what);
	if (memcmp(got + addr_off, addr, al))
		note("  %s: address not rewritten as expected\n", what);
	if (pkt_get16(got + port_off) != port)
		note("  %s: port %u, want %u\n", what, pkt_get16(got + port_off), port);
	if (p->family == 4 && ip4_residual(got) != ip4_residual(in))
		note("  %s: IPv4 header checksum residual 0x%04x, input's 0x%04x\n", what,
		     ip4_residual(got), ip4_residual(in));
	if (!in_ck) {
		if (got_ck)
			note("  %s: a zero UDP checksum became 0x%04x\n", what, got_ck);
	} else {
		if (!got_ck)
			note("  %s: UDP checksum became 0 (means 'none')\n", what);
		if (udp_residual(got, p) != udp_residual(in, p))
			note("  %s: UDP checksum residual 0x%04x, input's 0x%04x\n", what,
			     udp_residual(got, p), udp_residual(in, p));
	}
	/* The headline property, with pkt.h's own verifier: valid in, valid out. */
	if (!pkt_verify_csums(in, in_len, why, sizeof(why)) &&
	    pkt_verify_csums(got, got_len, why, sizeof(why)))
		note("  %s: valid input, but %s\n", what, why);
}

static void fail_frame(uint64_t idx, const char *prog, enum kind kind, const uint8_t *in,
		       size_t len, const uint8_t *out, size_t out_len)
{
	char dump[8192];

	st.failures++;
	if (st.failures <= MAX_DETAILS) {
		fprintf(stderr, "FAIL frame %" PRIu64 " (%s, %s, %zu bytes):\n%s", idx, prog,
			kind_names[kind], len, rep.buf);
		pkt_hexdump(dump, sizeof(dump), in, len < 128 ? len : 128, NULL, 0);
		fprintf(stderr, "  input:\n%s\n", dump);
		if (out) {
			pkt_hexdump(dump, sizeof(dump), out, out_len < 128 ? out_len : 128, in, len);
			fprintf(stderr, "  output (* = differs):\n%s\n", dump);
		}
	}
}

/* ---- running ---- */

static int run(struct bpf_program *prog, const uint8_t *in, size_t len, uint8_t *out,
	       uint32_t *out_len, uint32_t *retval)
{
	struct __sk_buff ctx = { .ifindex = (uint32_t)env.veth0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = *out_len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	*out_len = opts.data_size_out;
	*retval = opts.retval;
	return err;
}

static void compare_global(void)
{
	struct udpc_global_stats g;

	read_global(&g);
	if (g.matched != want.matched || g.no_dest != want.no_dest ||
	    g.skipped != want.skipped || g.rx_no_flow != want.rx_no_flow || g.flow_errors)
		note("  counters: matched %llu/%llu no_dest %llu/%llu skipped %llu/%llu "
		     "rx_no_flow %llu/%llu flow_errors %llu/0 (got/want)\n",
		     (unsigned long long)g.matched, (unsigned long long)want.matched,
		     (unsigned long long)g.no_dest, (unsigned long long)want.no_dest,
		     (unsigned long long)g.skipped, (unsigned long long)want.skipped,
		     (unsigned long long)g.rx_no_flow, (unsigned long long)want.rx_no_flow,
		     (unsigned long long)g.flow_errors);
}

static size_t daddr_off(int family)
{
	return PKT_ETH_LEN + (family == 4 ? 16 : 24);
}

static size_t saddr_off(int family)
{
	return PKT_ETH_LEN + (family == 4 ? 12 : 8);
}

static void egress_one(uint64_t idx, const uint8_t *in, size_t len, enum kind kind)
{
	uint8_t out[PKT_MAX], got[PKT_MAX];
	uint32_t out_len = sizeof(out), retval = ~0U, want_verdict = TC_ACT_OK;
	struct parsed p = oracle_parse(in, len);
	int err, i, last = -1, n_copies = 0, n_active = 0, copies[UDPC_MAX_DESTS];
	bool matched;

	rep_reset();
	st.egress++;
	err = run(env.skel->progs.udpc_egress, in, len, out, &out_len, &retval);
	if (err == -EINVAL && refusal_expected(in, len)) {
		st.refused++;
		return;
	}
	if (err) {
		note("  BPF_PROG_TEST_RUN: %s\n", strerror(-err));
		fail_frame(idx, "egress", kind, in, len, NULL, 0);
		return;
	}
	matched = ep.enabled && p.c == C_UDP && listen_match(&p);
	if (ep.enabled && p.c == C_UNSUP && listen_match(&p)) {
		want.skipped++;
		st.unsup++;
	}
	if (matched) {
		struct oflow *fl;

		st.match++;
		want.matched++;
		fl = flow_find(p.family, p.saddr, p.sport);
		if (!fl && n_flows < (int)ARRAY_SIZE(flows)) {
			fl = &flows[n_flows++];
			fl->family = p.family;
			memcpy(fl->addr, p.saddr, 16);
			fl->port = p.sport;
		}
		if (fl) {
			memcpy(fl->orig_daddr, p.daddr, 16);
			fl->orig_dport = p.dport;
		}
		for (i = 0; i < UDPC_MAX_DESTS; i++) {
			if (!dest_addr(&ep.d[i], p.family))
				continue;
			n_active++;
			last = i;
			if (copy_dmac(&ep.d[i], &p) && p.ip_len > MTU) {
				/* the FIB refuses it: fragmentation needed */
				want.fib_err[i]++;
				last = -1;
				continue;
			}
			want.tx[i]++;
			want.tx_bytes[i] += len;
			if (!copy_dmac(&ep.d[i], &p))
				want.neigh_missing[i]++;
			copies[n_copies++] = i;
		}
		if (!n_active)
			want.no_dest++;
		/* the packet itself is the last destination's copy: if that one was
		 * dropped, so is the packet, and every copy that went is a clone */
		if (last < 0)
			want_verdict = TC_ACT_SHOT;
		else
			n_copies--;
		/* a clone veth cannot forward (larger than MTU + Ethernet + VLAN tag,
		 * possible only where the FIB did not check the MTU) fails to send */
		for (i = 0; i < n_copies && len > FRAME_MAX + 4; i++) {
			want.tx[copies[i]]--;
			want.tx_bytes[copies[i]] -= len;
			want.tx_err[copies[i]]++;
		}
	} else if (!(ep.enabled && p.c == C_UNSUP && listen_match(&p))) {
		st.other++;
	}

	if (retval != TC_ACT_OK && retval != TC_ACT_SHOT)
		note("  verdict %u is neither TC_ACT_OK nor TC_ACT_SHOT\n", retval);
	else if (retval != want_verdict)
		note("  verdict %s, want %s\n", vname(retval), vname(want_verdict));
	if (retval == TC_ACT_SHOT)
		st.shot++;

	if (!matched) {
		if (out_len != len || memcmp(out, in, len))
			note("  not ours, but the output differs from the input\n");
	} else {
		if (last >= 0) {
			const struct odest *d = &ep.d[last];
			const uint8_t *dmac = copy_dmac(d, &p);

			check_rewrite("the packet (last copy)", in, len, &p, out, out_len,
				      daddr_off(p.family), dest_addr(d, p.family), p.l4 + 2, d->port,
				      dmac ? dmac : in, dmac ? mac_v0 : in + 6);
		}
		/* veth forwards at most MTU + Ethernet header + a VLAN tag */
		for (i = 0; i < n_copies && len <= FRAME_MAX + 4; i++) {
			const struct odest *c = &ep.d[copies[i]];
			const uint8_t *dmac = copy_dmac(c, &p);
			char what[48];
			int got_len = capture_next(got, sizeof(got), 1000, NULL);

			snprintf(what, sizeof(what), "clone %d (slot %d)", i, copies[i]);
			if (got_len <= 0) {
				note("  %s never arrived\n", what);
				break;
			}
			st.clones++;
			check_rewrite(what, in, len, &p, got, (size_t)got_len, daddr_off(p.family),
				      dest_addr(c, p.family), p.l4 + 2, c->port, dmac ? dmac : in,
				      dmac ? mac_v0 : in + 6);
		}
	}
	compare_global();
	if (rep.n)
		fail_frame(idx, "egress", kind, in, len, out, out_len);
}

static void ingress_one(uint64_t idx, const uint8_t *in, size_t len, enum kind kind)
{
	uint8_t out[PKT_MAX];
	uint32_t out_len = sizeof(out), retval = ~0U;
	struct parsed p = oracle_parse(in, len);
	const struct oflow *fl = NULL;
	int err, i, slot = -1;

	rep_reset();
	st.ingress++;
	err = run(env.skel->progs.udpc_ingress, in, len, out, &out_len, &retval);
	if (err == -EINVAL && refusal_expected(in, len)) {
		st.refused++;
		return;
	}
	if (err) {
		note("  BPF_PROG_TEST_RUN: %s\n", strerror(-err));
		fail_frame(idx, "ingress", kind, in, len, NULL, 0);
		return;
	}
	if (ep.enabled && p.c == C_UDP) {
		for (i = 0; i < UDPC_MAX_DESTS && slot < 0; i++) {
			const uint8_t *a = dest_addr(&ep.d[i], p.family);

			if (a && ep.d[i].port == p.sport && !memcmp(a, p.saddr, alen(p.family)))
				slot = i;
		}
	}
	if (slot >= 0) {
		fl = flow_find(p.family, p.daddr, p.dport);
		if (!fl || ep.idle) {
			want.rx_no_flow++;
			fl = NULL;
		} else {
			want.rx[slot]++;
			want.rx_bytes[slot] += len;
		}
	}
	if (retval != TC_ACT_OK)
		note("  verdict %s (%u), want OK\n", vname(retval), retval);
	if (fl) {
		st.mapped++;
		check_rewrite("mapped reply", in, len, &p, out, out_len, saddr_off(p.family),
			      fl->orig_daddr, p.l4, fl->orig_dport, NULL, NULL);
	} else {
		st.replies_nomatch++;
		if (out_len != len || memcmp(out, in, len))
			note("  not mapped, but the output differs from the input\n");
	}
	compare_global();
	if (rep.n)
		fail_frame(idx, "ingress", kind, in, len, out, out_len);
}

/* End of an epoch: per-destination counters, the flow table, no stray clones. */
static void check_epoch(int n)
{
	struct udpc_dest_stats pc[64];
	struct udpc_flow_key k, nk;
	struct udpc_flow fv;
	uint32_t i;
	int c, stray, in_map = 0, err;

	rep_reset();
	stray = capture_drain(30);
	if (stray)
		note("  %d frame(s) on veth1 that no matching packet explains\n", stray);
	for (i = 0; i < UDPC_MAX_DESTS && env.ncpus <= 64; i++) {
		struct udpc_dest_stats s = { 0 };

		if (bpf_map_lookup_elem(map_fds.stats, &i, pc)) {
			note("  cannot read dest stats %u\n", i);
			continue;
		}
		for (c = 0; c < env.ncpus; c++) {
			s.tx_packets += pc[c].tx_packets;
			s.tx_bytes += pc[c].tx_bytes;
			s.tx_errors += pc[c].tx_errors;
			s.fib_errors += pc[c].fib_errors;
			s.neigh_missing += pc[c].neigh_missing;
			s.rx_packets += pc[c].rx_packets;
			s.rx_bytes += pc[c].rx_bytes;
		}
		if (s.tx_packets != want.tx[i] || s.tx_bytes != want.tx_bytes[i] ||
		    s.fib_errors != want.fib_err[i] || s.rx_packets != want.rx[i] ||
		    s.rx_bytes != want.rx_bytes[i] || s.tx_errors != want.tx_err[i] ||
		    s.neigh_missing != want.neigh_missing[i])
			note("  slot %u: tx %llu/%llu bytes %llu/%llu fib_err %llu/%llu rx %llu/%llu "
			     "rx_bytes %llu/%llu tx_err %llu/%llu neigh_missing %llu/%llu (got/want)\n", i,
			     (unsigned long long)s.tx_packets, (unsigned long long)want.tx[i],
			     (unsigned long long)s.tx_bytes, (unsigned long long)want.tx_bytes[i],
			     (unsigned long long)s.fib_errors, (unsigned long long)want.fib_err[i],
			     (unsigned long long)s.rx_packets, (unsigned long long)want.rx[i],
			     (unsigned long long)s.rx_bytes, (unsigned long long)want.rx_bytes[i],
			     (unsigned long long)s.tx_errors, (unsigned long long)want.tx_err[i],
			     (unsigned long long)s.neigh_missing,
			     (unsigned long long)want.neigh_missing[i]);
	}
	for (err = bpf_map_get_next_key(map_fds.flows, NULL, &k); !err;
	     err = bpf_map_get_next_key(map_fds.flows, &k, &nk), k = nk) {
		const struct oflow *o;

		in_map++;
		o = flow_find(k.family == UDPC_AF_INET ? 4 : 6, (const uint8_t *)k.addr.w,
			      ntohs(k.port));
		if (!o || (k.family != UDPC_AF_INET && k.family != UDPC_AF_INET6)) {
			note("  flow table: a flow no matching packet created\n");
			continue;
		}
		if (bpf_map_lookup_elem(map_fds.flows, &k, &fv) ||
		    memcmp(fv.orig_daddr.w, o->orig_daddr, alen(o->family)) ||
		    ntohs(fv.orig_dport) != o->orig_dport)
			note("  flow table: a flow does not hold its client's latest destination\n");
	}
	if (in_map != n_flows)
		note("  flow table: %d flows, want %d\n", in_map, n_flows);
	if (rep.n) {
		st.failures++;
		if (st.failures <= MAX_DETAILS)
			fprintf(stderr, "FAIL at the end of epoch %d:\n%s", n, rep.buf);
	}
}

/* Truncations of one valid matching frame at every offset, through prog. */
static void sweep(uint64_t *idx, bool ingress)
{
	uint8_t full[PKT_MAX], f[PKT_MAX];
	struct fparams fp;
	size_t len, cut;

	if (ingress)
		reply_params(&fp);
	else
		base_params(&fp, chance(50) ? 4 : 6, true);
	fp.plen = rn(24);
	fp.pad = 0;
	len = build(&fp, full);
	for (cut = 0; cut <= len; cut++) {
		memcpy(f, full, cut);
		if (ingress)
			ingress_one((*idx)++, f, cut, K_TRUNC);
		else
			egress_one((*idx)++, f, cut, K_TRUNC);
		st.kinds[K_TRUNC]++;
	}
}

static int parse_pool(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pool4); i++)
		if (inet_pton(AF_INET, pool4[i].addr, pool4[i].a) != 1 ||
		    pkt_parse_mac(pool4[i].mac, pool4[i].m))
			return -1;
	for (i = 0; i < ARRAY_SIZE(pool6); i++)
		if (inet_pton(AF_INET6, pool6[i].addr, pool6[i].a) != 1 ||
		    pkt_parse_mac(pool6[i].mac, pool6[i].m))
			return -1;
	for (i = 0; i < ARRAY_SIZE(clients4); i++)
		if (inet_pton(AF_INET, clients4[i], client4[i]) != 1)
			return -1;
	for (i = 0; i < ARRAY_SIZE(clients6); i++)
		if (inet_pton(AF_INET6, clients6[i], client6[i]) != 1)
			return -1;
	return pkt_parse_mac(MAC_V0, mac_v0);
}

int main(void)
{
	uint64_t seed, frames, idx = 0;
	uint8_t f[PKT_MAX];
	int64_t t0;
	int epoch = 0, rc;
	bool swept;

	rc = fuzz_begin("test_fuzz", DEFAULT_SEED, DEFAULT_FRAMES, &seed, &frames);
	if (rc)
		return rc;
	if (parse_pool() || setup()) {
		fprintf(stderr, "test_fuzz: setup failed\n");
		env_teardown();
		return 1;
	}
	rng = seed;
	t0 = now_ns();
	while (idx < frames) {
		uint64_t end;

		new_epoch(epoch);
		if (write_epoch()) {
			fprintf(stderr, "test_fuzz: cannot write the maps\n");
			env_teardown();
			return 1;
		}
		end = idx + EPOCH_FRAMES < frames ? idx + EPOCH_FRAMES : frames;
		if (end - idx > 400) {
			sweep(&idx, false);
			sweep(&idx, false);
		}
		swept = false;
		while (idx < end) {
			if (!swept && end - idx <= 300 && end - idx > 100) {
				swept = true;
				sweep(&idx, true); /* late in the epoch: flows exist by then */
			}
			enum kind kind;
			size_t len;

			if (chance(25) && (n_flows || chance(30))) {
				struct fparams fp;

				reply_params(&fp);
				kind = K_REPLY;
				len = build(&fp, f);
				if (chance(25)) {
					kind = K_REPLY_DAMAGED;
					damage(f, len);
				}
				st.kinds[kind]++;
				ingress_one(idx++, f, len, kind);
				continue;
			}
			len = gen_egress(f, &kind);
			st.kinds[kind]++;
			egress_one(idx++, f, len, kind);
		}
		check_epoch(epoch);
		epoch++;
	}
	st.frames = idx;
	printf("test_fuzz: %" PRIu64 " frames in %d epochs, %.2f s: egress %" PRIu64
	       " (matched %" PRIu64 ", skipped %" PRIu64 ", not ours %" PRIu64 ", dropped %" PRIu64
	       ", clones checked %" PRIu64 "), ingress %" PRIu64 " (mapped %" PRIu64
	       ", passed %" PRIu64 "), refused by the test run %" PRIu64 "\n",
	       st.frames, epoch, (double)(now_ns() - t0) / 1e9, st.egress, st.match, st.unsup,
	       st.other, st.shot, st.clones, st.ingress, st.mapped, st.replies_nomatch,
	       st.refused);
	fuzz_kinds("test_fuzz", kind_names, st.kinds, K_NKINDS);
	env_teardown();
	return fuzz_result("test_fuzz", st.failures, seed, frames);
}
