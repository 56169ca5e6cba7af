// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Bounded, deterministic fuzzing of peer mode (docs/PEER.md) through
 * BPF_PROG_TEST_RUN: the four programs with peer mode on. A seeded PRNG
 * (UDPC_FUZZ_SEED, printed; fixed by default) makes UDPC_FUZZ_FRAMES frames
 * (default 20000) in epochs of EPOCH_FRAMES, each with a fresh configuration:
 *
 * Server epochs (UDPC_PEER_SERVER; listen and --to ports, path and session
 * timeouts either "everything live" or "everything idle", disabled now and then):
 *   - udpc_serve_ingress: copies of a handful of sessions (random ids, 1..4 random
 *     path ids each, by their own sources, NAT rebindings, a few sessions from the
 *     address of another's label) whose sequence numbers come in order, reordered
 *     within the window, duplicated over several paths, very late, after large
 *     forward gaps, across the 2^32 wrap; IPv4 and IPv6, with and without the IPv4
 *     zero checksum, Ethernet padding; and damage: truncation at every offset of
 *     the header (lengths consistent, and the frame cut), wrong version or type,
 *     path >= 16, sequence 0, bit flips in headers, in the payload, in the UDP and
 *     IP lengths, random peer headers, random bytes, other ports and protocols,
 *     IPv4 options, IPv6 extension headers, fragments, a session's path moved to
 *     the other family. A third of the sessions have paths of both families
 *     (4/6, 6/4, 4/6/4...): their copies alternate families, each delivered in the
 *     session's (its first copy's), from the label to `local`.
 *   - udpc_serve_egress: replies to the labels of known sessions and to other
 *     addresses and ports, from --to or another port, with valid, zero or wrong
 *     checksums, some too big for the header; fanned out over the live paths in
 *     id order, changing family before a path of the other (a fresh IP header from
 *     then on, even back in the reply's own family).
 * Client epochs (UDPC_PEER_CLIENT; 1..4 destinations in random slots, all IPv4
 * only, all IPv6 only, all of both, or each its own; the attached interface's
 * addresses in udpc_uplinks, each family's now and then missing; no uplinks):
 *   - udpc_egress: datagrams to the listen port (and some that are not ours). Each
 *     matching one first goes through with peer mode off (a twin run: its flow is
 *     saved and put back), and every peer copy to a destination of its family,
 *     decoded, must be that plain copy; the copies to destinations of the other
 *     family only follow, in udpc_active's only[] order, each in that family from
 *     the attached interface's address (its flow remembered under it), dropped
 *     (down_drops) without one, or (fib_errors) when too big for the route.
 *   - udpc_ingress: peer replies of the flows' sessions (in order, reordered,
 *     duplicated, late), of other sessions, damaged, from elsewhere; replies over
 *     the other family to the flows of copies that changed family, delivered back
 *     in the client's.
 *
 * The oracle is written from docs/PEER.md, not from the programs: it parses each
 * frame itself, models sessions (one label per session, the first copy's source;
 * a new session from a live session's label is refused), paths (a known path seen
 * from elsewhere has moved) and the duplicate windows with unbounded sequence
 * numbers (the first copy of a number is delivered, a later one is a duplicate, one
 * UDPC_PEER_WINDOW or more behind the highest is late), and asserts:
 *   - the verdict;
 *   - a frame that is not ours leaves byte for byte unchanged;
 *   - a delivered copy is exactly the datagram expected (source = label or what the
 *     client sent to, destination as sent, ports, payload, lengths; after a change
 *     of family, the fresh IP header of docs/PEER.md, built by to_family() here
 *     from the description, the TTL or hop limit carried over), its IPv4 header
 *     checksum verifying exactly as well as the copy's did and its UDP checksum as
 *     well as the carried one did: a damaged payload never verifies after delivery;
 *   - every copy of a reply or datagram (clones captured on veth1, and the packet
 *     itself) decodes, with this file's own decoder, to the datagram expected, its
 *     header has the session, the path and consecutive sequence numbers, and its
 *     outer checksum verifies exactly as well as the datagram's did;
 *   - at the end of each epoch, every counter of udpc_peer_stats (and each
 *     destination's down_drops and fib_errors) equals the oracle's, the maps hold
 *     exactly the sessions (with their local address and each path's family),
 *     labels and flows (udpc_flows modelled as a keyed table: a copy that changed
 *     family may take over another client's key, and its session with it) it
 *     expects, and no frame on veth1 is left unexplained.
 * Before the epochs, the fixed cases this fuzzer found run whatever the seed
 * (known_cases()); they fail until the programs are fixed.
 *
 * Checksums here are RFC 1071 sums over whole buffers (tests/bpf/pkt.h), never the
 * incremental arithmetic of the programs. Runs in a private network namespace
 * (tests/bpf/env.h). Needs root; exit 77 without. Reproduce a failure with the
 * printed seed and the same frame count.
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
#include "udpc_peer.h"
#include "udpclone.skel.h"
#include "pkt.h"
#include "env.h"
#include "reconcile.h"
#include "fuzz.h"

#define DEFAULT_SEED 0x70656572ULL	/* "peer" */
#define DEFAULT_FRAMES 20000
#define EPOCH_FRAMES 1000
#define MAX_DETAILS 6			/* failures shown in full; all are counted */
#define MTU 1500			/* veth0's */
#define FRAME_MAX (PKT_ETH_LEN + MTU)
#define HDR UDPC_PEER_HDR_LEN
#define W UDPC_PEER_WINDOW
#define VT_DATA UDPC_PEER_VT(UDPC_PEER_T_DATA)
#define VT_KA UDPC_PEER_VT(UDPC_PEER_T_KEEPALIVE)
#define VT_ECHO UDPC_PEER_VT(UDPC_PEER_T_ECHO)
#define LONG_NS (3600 * NSEC)

/* ---- the test network ---- */

/* The veth pair and the routed network of tests/bpf/env.h. */
static const char *const net_cmds[] = { ENV_NET_VETH, ENV_NET_ROUTED };

/* Client epochs: destinations (all routable), clients. Server epochs: the server's
 * addresses, and where copies come from (clients, NATs). */
static const char *const dests4[] = { "198.51.100.1", "198.51.100.2", "203.0.113.5" };
static const char *const dests6[] = { "2001:db8:1::10", "2001:db8:1::20", "2001:db8:2::5" };
/* Their next hops' MACs, from the test network's neighbours (tests/bpf/env.h). */
static const char *const dest_macs4[] = { MAC_A, MAC_B, MAC_GW4 };
static const char *const dest_macs6[] = { MAC_A6, MAC_B6, MAC_GW6 };
/* The attached interface's addresses a copy that changes family may leave from:
 * veth0's own (also a client's: their flows' keys may meet) and another. */
static const char *const attached4[] = { "192.0.2.1", "192.0.2.9" };
static const char *const attached6[] = { "2001:db8:1::1", "2001:db8:1::99" };
static const char *const clients4[] = { "192.0.2.1", "192.0.2.7", "192.0.2.200" };
static const char *const clients6[] = { "2001:db8:1::1", "2001:db8:1::7", "2001:db8:1::c8" };
static const char *const servers4[] = { "192.0.2.1", "192.0.2.2" };
static const char *const servers6[] = { "2001:db8:1::1", "2001:db8:1::2" };
static const char *const remotes4[] = { "203.0.113.7", "203.0.113.8", "198.51.100.7",
					"198.51.100.9" };
static const char *const remotes6[] = { "2001:db8:9::7", "2001:db8:9::8", "2001:db8:a::7",
					"2001:db8:a::9" };

struct addrs {
	const char *const *s;
	size_t n;
	uint8_t a[8][16];
};

static struct addrs a_dests4 = { dests4, ARRAY_SIZE(dests4) }, a_dests6 = { dests6, ARRAY_SIZE(dests6) };
static struct addrs a_cli4 = { clients4, ARRAY_SIZE(clients4) }, a_cli6 = { clients6, ARRAY_SIZE(clients6) };
static struct addrs a_srv4 = { servers4, ARRAY_SIZE(servers4) }, a_srv6 = { servers6, ARRAY_SIZE(servers6) };
static struct addrs a_rem4 = { remotes4, ARRAY_SIZE(remotes4) }, a_rem6 = { remotes6, ARRAY_SIZE(remotes6) };
static struct addrs a_att4 = { attached4, ARRAY_SIZE(attached4) }, a_att6 = { attached6, ARRAY_SIZE(attached6) };
static uint8_t mac_v0[6], mac_v1[6], macs4[3][6], macs6[3][6];

/* The next hop's MAC for destination a (one of dests4/dests6). */
static const uint8_t *nh_mac(int fam, const uint8_t *a)
{
	struct addrs *d = fam == 4 ? &a_dests4 : &a_dests6;

	for (size_t i = 0; i < d->n; i++)
		if (!memcmp(d->a[i], a, 16))
			return fam == 4 ? macs4[i] : macs6[i];
	return mac_v1; /* not one of ours: the comparison will say */
}

static const uint8_t *pick(struct addrs *a)
{
	return a->a[rn((uint32_t)a->n)];
}

/* ---- reporting ---- */

static uint64_t seed;

static struct {
	uint64_t frames, failures, refused, delivered, dropped, passed, copies, clones, twins;
	/* the family changes checked: server deliveries, server copies with a fresh
	 * header (and of those, after two changes), client copies, client copies
	 * dropped without a source address or too big for the route, mapped replies */
	uint64_t fam_delivered, fam_copies, fam_twice, fam_c_copies, fam_c_down, fam_c_big;
	uint64_t fam_replies;
	uint64_t kinds[64];
} st;

static void dump(const char *title, const uint8_t *f, size_t len, const uint8_t *ref, size_t ref_len)
{
	char buf[12288];

	pkt_hexdump(buf, sizeof(buf), f, len < 200 ? len : 200, ref, ref_len);
	fprintf(stderr, "  %s (%zu bytes%s):\n%s\n", title, len, ref ? ", * = differs" : "", buf);
}

/* ---- checksums: RFC 1071 over whole buffers ---- */

static int fam_of(const uint8_t *f)
{
	return pkt_get16(f + 12) == 0x0800 ? 4 : 6;
}

static size_t l4_of(const uint8_t *f)
{
	return PKT_ETH_LEN + (fam_of(f) == 4 ? PKT_IP4_LEN : PKT_IP6_LEN);
}

static size_t ip_len_of(const uint8_t *f)
{
	const uint8_t *ip = f + PKT_ETH_LEN;

	return fam_of(f) == 4 ? pkt_get16(ip + 2) : PKT_IP6_LEN + (size_t)pkt_get16(ip + 4);
}

static void put_ip_len(uint8_t *f, size_t ip_len)
{
	uint8_t *ip = f + PKT_ETH_LEN;

	if (fam_of(f) == 4)
		pkt_put16(ip + 2, (uint16_t)ip_len);
	else
		pkt_put16(ip + 4, (uint16_t)(ip_len - PKT_IP6_LEN));
}

/* Pseudo-header sum of a plain frame f with UDP length ulen. */
static uint64_t pseudo(const uint8_t *f, uint32_t ulen)
{
	const uint8_t *ip = f + PKT_ETH_LEN;
	int v4 = fam_of(f) == 4;

	return pkt_pseudo_sum(v4 ? PKT_IPV4 : PKT_IPV6, v4 ? ip + 12 : ip + 8, v4 ? ip + 16 : ip + 24,
			      IPPROTO_UDP, ulen);
}

/* What the UDP checksum of plain frame f leaves over its UDP length: 0 = valid. */
static uint16_t udp_residual(const uint8_t *f)
{
	size_t l4 = l4_of(f);
	uint16_t ulen = pkt_get16(f + l4 + 4);

	return pkt_csum_fold(pkt_csum_add(pseudo(f, ulen), f + l4, ulen));
}

/* The residual of a peer copy's carried checksum, for an application datagram of
 * app_len bytes: pseudo-header of protocol and length, header bytes 8-15 and the
 * payload. */
static uint16_t carried_residual(const uint8_t *f, size_t app_len)
{
	size_t l4 = l4_of(f);
	uint64_t s = IPPROTO_UDP + app_len;

	s = pkt_csum_add(s, f + l4 + PKT_UDP_LEN + 8, 8);
	s = pkt_csum_add(s, f + l4 + PKT_UDP_LEN + HDR, app_len - PKT_UDP_LEN);
	return pkt_csum_fold(s);
}

/* Set the checksums of plain frame f so that they leave residuals r_ip (IPv4
 * header) and r_udp, or no UDP checksum at all (udp_zero). */
static void fix_csums(uint8_t *f, uint16_t r_ip, uint16_t r_udp, bool udp_zero)
{
	size_t l4 = l4_of(f);
	uint16_t ulen = pkt_get16(f + l4 + 4), c;

	if (fam_of(f) == 4) {
		pkt_put16(f + PKT_ETH_LEN + 10, 0);
		c = pkt_csum_fold(pkt_csum_add(0, f + PKT_ETH_LEN, PKT_IP4_LEN) + r_ip);
		pkt_put16(f + PKT_ETH_LEN + 10, c);
	}
	pkt_put16(f + l4 + 6, 0);
	if (udp_zero)
		return;
	c = pkt_csum_fold(pkt_csum_add(pseudo(f, ulen), f + l4, ulen) + r_udp);
	pkt_put16(f + l4 + 6, c ? c : 0xffff);
}

/*
 * got must be want but for the checksums' representation: every other byte equal,
 * the IPv4 header checksum leaving the same residual, the UDP checksum zero if
 * want's is, else non-zero and leaving the same residual. 0 if so.
 */
static int cmp_dgram(const char *what, const uint8_t *got, size_t got_len, const uint8_t *want,
		     size_t want_len)
{
	size_t l4, i, shown = 0;
	int bad = 0;

	if (got_len != want_len) {
		note("  %s: %zu bytes, want %zu\n", what, got_len, want_len);
		return -1;
	}
	l4 = l4_of(want);
	for (i = 0; i < want_len; i++) {
		bool ck = i == l4 + 6 || i == l4 + 7 ||
			  (fam_of(want) == 4 && (i == PKT_ETH_LEN + 10 || i == PKT_ETH_LEN + 11));

		if (!ck && got[i] != want[i]) {
			if (shown++ < 4)
				note("  %s: byte %zu is 0x%02x, want 0x%02x\n", what, i, got[i], want[i]);
			bad = -1;
		}
	}
	if (bad)
		return bad;
	if (fam_of(want) == 4 && ip4_residual(got) != ip4_residual(want)) {
		note("  %s: IPv4 header checksum residual 0x%04x, want 0x%04x\n", what,
		     ip4_residual(got), ip4_residual(want));
		bad = -1;
	}
	if (!pkt_get16(want + l4 + 6)) {
		if (pkt_get16(got + l4 + 6)) {
			note("  %s: UDP checksum 0x%04x, want 0 (none)\n", what, pkt_get16(got + l4 + 6));
			bad = -1;
		}
	} else if (!pkt_get16(got + l4 + 6)) {
		note("  %s: UDP checksum 0 (none), want one\n", what);
		bad = -1;
	} else if (udp_residual(got) != udp_residual(want)) {
		note("  %s: UDP checksum residual 0x%04x, want 0x%04x (0 = verifies)\n", what,
		     udp_residual(got), udp_residual(want));
		bad = -1;
	}
	return bad;
}

/* Set the ports of plain frame f, its UDP checksum leaving the residual it left
 * (none stays none) and the IPv4 header's as well. */
static void set_ports(uint8_t *f, uint16_t sport, uint16_t dport)
{
	size_t l4 = l4_of(f);
	bool zero = !pkt_get16(f + l4 + 6);
	uint16_t r_u = zero ? 0 : udp_residual(f), r_ip = fam_of(f) == 4 ? ip4_residual(f) : 0;

	pkt_put16(f + l4, sport);
	pkt_put16(f + l4 + 2, dport);
	fix_csums(f, r_ip, r_u, zero);
}

/*
 * Plain frame in (Ethernet, IPv4 without options or IPv6 without extension
 * headers, len with any padding) as the other family fam, as docs/PEER.md gives a
 * family change: the same MACs, the Ethernet type of fam, a fresh IP header from
 * sa to da (IPv6: traffic class and flow label 0, the payload length, next header
 * UDP, the hop limit the old TTL; IPv4: ihl 5, tos 0, the total length, id 0, DF,
 * the TTL the old hop limit, protocol UDP, a valid header checksum), the bytes
 * after the old IP header as they were (the IP length grows or shrinks by the
 * headers' difference), and the UDP checksum leaving the same residual over the
 * new pseudo-header as the old one did over the old (none stays none). Written
 * from the description, with whole-buffer sums: never the programs' arithmetic.
 */
static size_t to_family(const uint8_t *in, size_t len, int fam, const uint8_t *sa,
			const uint8_t *da, uint8_t *out)
{
	size_t ol4 = l4_of(in), hl = fam == 4 ? PKT_IP4_LEN : PKT_IP6_LEN;
	size_t ip_len = ip_len_of(in) - (ol4 - PKT_ETH_LEN) + hl;
	uint8_t hop = in[PKT_ETH_LEN + (fam_of(in) == 4 ? 8 : 7)], *ip = out + PKT_ETH_LEN;
	bool zero = !pkt_get16(in + ol4 + 6);
	uint16_t r_u = zero ? 0 : udp_residual(in);

	memcpy(out, in, 12);
	pkt_put16(out + 12, fam == 4 ? 0x0800 : 0x86dd);
	memset(ip, 0, hl);
	memcpy(ip + hl, in + ol4, len - ol4);
	if (fam == 4) {
		ip[0] = 0x45;
		pkt_put16(ip + 2, (uint16_t)ip_len);
		pkt_put16(ip + 6, 0x4000);
		ip[8] = hop;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, sa, 4);
		memcpy(ip + 16, da, 4);
	} else {
		ip[0] = 0x60;
		pkt_put16(ip + 4, (uint16_t)(ip_len - PKT_IP6_LEN));
		ip[6] = IPPROTO_UDP;
		ip[7] = hop;
		memcpy(ip + 8, sa, 16);
		memcpy(ip + 24, da, 16);
	}
	fix_csums(out, 0, r_u, zero);
	return PKT_ETH_LEN + hl + len - ol4;
}

/* ---- this file's own encoder and decoder (docs/PEER.md, "On the wire") ---- */

struct phdr {
	uint8_t vt, path;
	uint32_t seq;
	uint64_t session;
	uint16_t check;
};

static void hdr_put(uint8_t *h, const struct phdr *p)
{
	h[0] = p->vt;
	h[1] = p->path;
	h[2] = (uint8_t)(p->seq >> 24);
	h[3] = (uint8_t)(p->seq >> 16);
	h[4] = (uint8_t)(p->seq >> 8);
	h[5] = (uint8_t)p->seq;
	memcpy(h + 6, &p->session, 8);
	pkt_put16(h + 14, p->check);
}

static void hdr_get(const uint8_t *h, struct phdr *p)
{
	p->vt = h[0];
	p->path = h[1];
	p->seq = (uint32_t)h[2] << 24 | (uint32_t)h[3] << 16 | (uint32_t)h[4] << 8 | h[5];
	memcpy(&p->session, h + 6, 8);
	p->check = pkt_get16(h + 14);
}

/*
 * The plain frame app (IPv4 without options or IPv6 without extension headers;
 * padding allowed) as a peer copy with header h (h->check ignored): the
 * application's UDP header becomes header bytes 8-15, its checksum carried over
 * bytes 8-15 and the payload with a pseudo-header of protocol and length (0 stays
 * 0), a new UDP header with the same ports in front, the outer checksum over it
 * all. A valid application checksum gives a valid carried and outer one.
 */
static size_t wrap(const uint8_t *app, size_t len, const struct phdr *h, uint8_t *out)
{
	size_t l4 = l4_of(app), ip_len = ip_len_of(app);
	uint16_t ulen = pkt_get16(app + l4 + 4), carried = 0, ck;
	uint8_t *hdr = out + l4 + PKT_UDP_LEN;
	struct phdr ph = *h;
	uint64_t s;

	memcpy(out, app, l4 + PKT_UDP_LEN);
	memcpy(hdr + HDR, app + l4 + PKT_UDP_LEN, len - l4 - PKT_UDP_LEN);
	ph.check = 0;
	hdr_put(hdr, &ph);
	if (pkt_get16(app + l4 + 6)) {
		s = IPPROTO_UDP + ulen;
		s = pkt_csum_add(s, hdr + 8, 6);
		s = pkt_csum_add(s, app + l4 + PKT_UDP_LEN, ulen - PKT_UDP_LEN);
		carried = pkt_csum_fold(s);
		carried = carried ? carried : 0xffff;
	}
	pkt_put16(hdr + 14, carried);
	pkt_put16(out + l4 + 4, (uint16_t)(ulen + HDR));
	put_ip_len(out, ip_len + HDR);
	if (fam_of(out) == 4) {
		pkt_put16(out + PKT_ETH_LEN + 10, 0);
		pkt_put16(out + PKT_ETH_LEN + 10,
			  pkt_csum_fold(pkt_csum_add(0, out + PKT_ETH_LEN, PKT_IP4_LEN)));
	}
	pkt_put16(out + l4 + 6, 0);
	if (carried) {
		ck = pkt_csum_fold(pkt_csum_add(pseudo(out, ulen + HDR), out + l4, ulen + HDR));
		pkt_put16(out + l4 + 6, ck ? ck : 0xffff);
	}
	return len + HDR;
}

/*
 * A peer copy back to the application's datagram: 16 bytes out after the UDP
 * header, header bytes 8-15 as its UDP header with the outer ports, the length
 * app_len (0: the outer UDP length's, else as given), the carried checksum's
 * residual kept (0 stays 0), and the IPv4 header's. *h gets the header.
 * Returns the length, 0 if f is too short to be a copy.
 */
static size_t unwrap(const uint8_t *f, size_t len, size_t app_len, struct phdr *h, uint8_t *out)
{
	size_t l4 = l4_of(f);
	uint16_t r_ip = fam_of(f) == 4 ? ip4_residual(f) : 0, r_c;
	size_t ip_len = ip_len_of(f);

	if (len < l4 + PKT_UDP_LEN + HDR)
		return 0;
	if (!app_len) {
		if (pkt_get16(f + l4 + 4) < PKT_UDP_LEN + HDR)
			return 0;
		app_len = pkt_get16(f + l4 + 4) - HDR;
	}
	if (app_len < PKT_UDP_LEN || l4 + HDR + app_len > len)
		return 0;
	hdr_get(f + l4 + PKT_UDP_LEN, h);
	r_c = carried_residual(f, app_len);
	memcpy(out, f, l4 + 4);
	memcpy(out + l4 + PKT_UDP_LEN, f + l4 + PKT_UDP_LEN + HDR, len - l4 - PKT_UDP_LEN - HDR);
	pkt_put16(out + l4 + 4, (uint16_t)app_len);
	put_ip_len(out, ip_len - HDR);
	fix_csums(out, r_ip, r_c, !h->check);
	return len - HDR;
}

/* ---- frames ---- */

struct dg {
	int fam;
	const uint8_t *smac, *dmac;
	const uint8_t *sa, *da;
	uint16_t sport, dport;
	size_t plen;
	int csum;		/* CS_* */
	size_t pad;
};

enum { CS_VALID, CS_ZERO, CS_RANDOM };

/* A plain UDP datagram frame; the payload random. */
static size_t mk_dgram(const struct dg *d, uint8_t *f)
{
	size_t hl = d->fam == 4 ? PKT_IP4_LEN : PKT_IP6_LEN, l4 = PKT_ETH_LEN + hl;
	size_t ulen = PKT_UDP_LEN + d->plen, len = l4 + ulen;
	uint8_t *ip = f + PKT_ETH_LEN;
	uint16_t ck;

	memset(f, 0, len + d->pad);
	memcpy(f, d->dmac, 6);
	memcpy(f + 6, d->smac, 6);
	pkt_put16(f + 12, d->fam == 4 ? 0x0800 : 0x86dd);
	/* The fields a family change does not carry over (docs/PEER.md: a fresh
	 * header) now and then other than the stack's usual ones; the TTL that it
	 * does, too. */
	if (d->fam == 4) {
		ip[0] = 0x45;
		if (chance(20))
			ip[1] = (uint8_t)rnd();
		pkt_put16(ip + 4, (uint16_t)rnd());
		if (chance(50))
			pkt_put16(ip + 6, 0x4000);
		ip[8] = chance(70) ? 64 : (uint8_t)(1 + rn(255));
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, d->sa, 4);
		memcpy(ip + 16, d->da, 4);
	} else {
		ip[0] = 0x60;
		if (chance(25)) {
			ip[0] |= (uint8_t)rn(16);
			ip[1] = (uint8_t)rnd();
			pkt_put16(ip + 2, (uint16_t)rnd());
		}
		ip[6] = IPPROTO_UDP;
		ip[7] = chance(70) ? 64 : (uint8_t)(1 + rn(255));
		memcpy(ip + 8, d->sa, 16);
		memcpy(ip + 24, d->da, 16);
	}
	put_ip_len(f, hl + ulen);
	pkt_put16(f + l4, d->sport);
	pkt_put16(f + l4 + 2, d->dport);
	pkt_put16(f + l4 + 4, (uint16_t)ulen);
	rbytes(f + l4 + PKT_UDP_LEN, d->plen);
	if (d->fam == 4)
		pkt_put16(ip + 10, pkt_csum_fold(pkt_csum_add(0, ip, PKT_IP4_LEN)));
	ck = pkt_csum_fold(pkt_csum_add(pseudo(f, (uint32_t)ulen), f + l4, ulen));
	if (d->csum == CS_ZERO && d->fam == 4)
		ck = 0;
	else if (d->csum == CS_RANDOM)
		ck = (uint16_t)(ck + 1 + rn(0xfffe));
	else if (!ck)
		ck = 0xffff;
	pkt_put16(f + l4 + 6, ck);
	return len + d->pad;
}

static size_t rand_plen(int fam, size_t max_frame)
{
	size_t hl = fam == 4 ? PKT_IP4_LEN : PKT_IP6_LEN;
	size_t max = max_frame - PKT_ETH_LEN - hl - PKT_UDP_LEN;
	uint32_t r = rn(100);

	return r < 45 ? rn(41) : r < 85 ? 41 + rn(400) : rn((uint32_t)max + 1);
}

static int rand_csum(int fam)
{
	uint32_t r = rn(100);

	return r < 80 ? CS_VALID : r < 93 && fam == 4 ? CS_ZERO : r < 96 ? CS_RANDOM : CS_VALID;
}

/* Insert n bytes (zero) at off. */
static void insert_at(uint8_t *f, size_t *len, size_t off, size_t n)
{
	memmove(f + off + n, f + off, *len - off);
	memset(f + off, 0, n);
	*len += n;
}

static void ip4_fix(uint8_t *f)
{
	uint8_t *ip = f + PKT_ETH_LEN;
	size_t hl = (size_t)(ip[0] & 0xf) * 4;

	pkt_put16(ip + 10, 0);
	pkt_put16(ip + 10, pkt_csum_fold(pkt_csum_add(0, ip, hl)));
}

/* The IP length fields of frame f say the packet ends at len (the IPv4 header
 * checksum follows). */
static void set_frame_len(uint8_t *f, size_t len)
{
	put_ip_len(f, len - PKT_ETH_LEN);
	if (fam_of(f) == 4)
		ip4_fix(f);
}

/* 1 to 8 random bytes after the datagram in f, inside its IP packet (IP longer
 * than UDP). Returns the new length. */
static size_t add_trailer(uint8_t *f, size_t len)
{
	size_t k = 1 + rn(8);

	rbytes(f + len, k);
	len += k;
	set_frame_len(f, len);
	return len;
}

/* A payload length that makes a datagram of family fam 1 to HDR bytes too big for
 * the peer header within FRAME_MAX. */
static size_t big_plen(int fam)
{
	return FRAME_MAX - PKT_ETH_LEN - (fam == 4 ? PKT_IP4_LEN : PKT_IP6_LEN) - PKT_UDP_LEN -
	       HDR + 1 + rn(HDR);
}

/* Damage: bit flips or odd bytes in the first `span` bytes. */
static void flip(uint8_t *f, size_t len, size_t from, size_t span, int n)
{
	for (int i = 0; i < n && len > from; i++) {
		size_t at = from + rn((uint32_t)(span < len - from ? span : len - from));

		if (chance(80))
			f[at] ^= (uint8_t)(1u << rn(8));
		else
			f[at] = (uint8_t)rnd();
	}
}

/* ---- the oracle: the parser (oracle_parse(), tests/bpf/fuzz.h) and the peer header ---- */

/* The peer header of a parsed copy, if it is one the programs take (0), else -1. */
/* docs/PEER.md: version 1; data of any length, a keepalive or an echo exactly
 * its 48-byte payload long; a path id; a sequence number. */
static int oracle_hdr(const uint8_t *f, const struct parsed *p, struct phdr *h)
{
	uint16_t ulen = pkt_get16(f + p->l4 + 4);

	if (ulen < PKT_UDP_LEN + HDR)
		return -1;
	hdr_get(f + p->l4 + PKT_UDP_LEN, h);
	if (h->path >= UDPC_MAX_DESTS || !h->seq)
		return -1;
	if (h->vt == VT_DATA)
		return 0;
	if ((h->vt == VT_KA || h->vt == VT_ECHO) &&
	    ulen == PKT_UDP_LEN + HDR + sizeof(struct udpc_peer_ka))
		return 0;
	return -1;
}

/* ---- the oracle's duplicate window: unbounded numbers, docs/PEER.md ---- */

enum verdict { V_NEW, V_DUP, V_LATE };
static const char *const vnames[] = { "new", "duplicate", "late" };

struct win {
	bool any;
	int64_t top;		/* highest number seen, widened */
	int64_t slot[W];	/* the last number seen in each slot */
};

static void win_init(struct win *w)
{
	w->any = false;
	w->top = 0;
	for (int i = 0; i < W; i++)
		w->slot[i] = INT64_MIN;
}

/* A 32-bit number is the one nearest the highest seen (half the space each way). */
static enum verdict win_judge(struct win *w, uint32_t seq)
{
	int64_t ext = w->any ? w->top + (int32_t)(seq - (uint32_t)w->top) : seq;
	size_t i = (size_t)((uint64_t)ext & (W - 1));

	if (w->any && w->top - ext >= W) {
		if (w->top - ext < UDPC_PEER_RESYNC)
			return V_LATE;
		w->top = ext; /* docs/PEER.md: far behind resynchronises the window */
	}
	/* The same 32-bit number is the same datagram, whatever a resynchronisation
	 * did to the widening since. */
	if ((uint32_t)w->slot[i] == seq)
		return V_DUP;
	w->slot[i] = ext;
	if (!w->any || ext > w->top)
		w->top = ext;
	w->any = true;
	return V_NEW;
}

/* ---- sequence numbers as a sender makes them, with the network's disorder ---- */

struct seqgen {
	uint32_t next;		/* the next new number (never 0) */
	uint32_t recent[24];	/* sent: for duplicates */
	int n_recent, pos;
	uint32_t held[12];	/* not sent yet: they come late or reordered */
	int n_held;
};

static void sg_init(struct seqgen *g)
{
	uint32_t r = rn(100);

	memset(g, 0, sizeof(*g));
	g->next = r < 50 ? 1 : r < 80 ? (uint32_t)(0 - 1 - rn(3 * W)) : (uint32_t)rnd();
	if (!g->next)
		g->next = 1;
}

static uint32_t sg_take(struct seqgen *g)
{
	uint32_t s = g->next++;

	if (!g->next)
		g->next = 1;
	return s;
}

static void sg_hold(struct seqgen *g, uint32_t s)
{
	if (g->n_held < (int)ARRAY_SIZE(g->held))
		g->held[g->n_held++] = s;
	else
		g->held[rn(ARRAY_SIZE(g->held))] = s;
}

/* The number of the next datagram; *what says how it came to be. */
static uint32_t sg_pick(struct seqgen *g, const char **what)
{
	uint32_t r = rn(100), s;

	if (r < 50) {
		*what = "in order";
		s = sg_take(g);
	} else if (r < 62) {
		*what = "reordered";
		if (g->n_held && chance(60)) {
			int i = (int)rn((uint32_t)g->n_held);

			s = g->held[i];
			g->held[i] = g->held[--g->n_held];
		} else {
			sg_hold(g, sg_take(g));
			s = sg_take(g);
		}
	} else if (r < 76 && g->n_recent) {
		*what = "duplicate";
		s = g->recent[rn((uint32_t)g->n_recent)];
	} else if (r < 81) {
		*what = "very late";
		s = g->next - W - 1 - rn(2 * W);
	} else if (r < 86) {
		*what = "forward gap";
		g->next += W / 2 + rn(4 * W);
		if (chance(5))
			g->next += rn(1u << 28);
		if (!g->next)
			g->next = 1;
		if (chance(50))
			sg_hold(g, g->next - 1 - rn(W));
		s = sg_take(g);
	} else {
		*what = "after loss";
		for (int i = (int)rn(4); i >= 0; i--)
			if (chance(50))
				sg_hold(g, sg_take(g));
			else
				sg_take(g);
		s = sg_take(g);
	}
	if (!s)
		s = 1;
	g->recent[g->pos] = s;
	g->pos = (g->pos + 1) % (int)ARRAY_SIZE(g->recent);
	if (g->n_recent < (int)ARRAY_SIZE(g->recent))
		g->n_recent++;
	return s;
}

/* ---- the epoch's configuration and the oracle's state ---- */

struct odest {
	bool used;
	int has;		/* bit 4, bit 6 */
	uint8_t a4[16], a6[16];
	uint16_t port;
};

static struct {
	bool client;		/* a client epoch (else a server one) */
	bool enabled;
	uint16_t listen, to;
	bool path_live, sess_live;
	struct odest d[UDPC_MAX_DESTS];
	uint8_t slots[2][UDPC_MAX_DESTS];	/* udpc_active, as read back */
	uint32_t n_slots[2];
	uint8_t only[2][UDPC_MAX_DESTS];	/* its only[]: no address of the other family */
	uint32_t n_only[2];
	/* udpc_uplinks (no uplinks here: the attached interface's addresses, for the
	 * copies that change family), and the counters they make */
	struct {
		uint32_t flags;		/* UDPC_UPLINK_SRC4, _SRC6 */
		uint8_t a4[16], a6[16];
	} up[UDPC_MAX_DESTS];
	uint64_t down_drops[UDPC_MAX_DESTS], fib_errors[UDPC_MAX_DESTS];
} ep;

struct opath {
	bool seen;
	int fam;		/* each path its own family */
	uint8_t addr[16], local[16];
	uint16_t port;
};

/* A session as the server has it (the oracle's). */
struct osess {
	uint64_t id;
	int fam;		/* the first copy's: the label's and local's */
	uint8_t label[16], local[16];
	uint16_t lport;
	struct opath path[UDPC_MAX_DESTS];
	uint32_t tx_seq;
	bool diverged;		/* a failure was reported about it: no more checks */
	struct win w;
};

struct olabel {
	int fam;
	uint8_t a[16];
	uint16_t port;
	uint64_t id;
};

/* A session as a client sends it (the generator's). */
struct gsrc {
	uint8_t addr[16], local[16];
	uint16_t port;
};

struct gsess {
	uint64_t id;
	int fam;		/* the first path's; the others' may differ */
	int pfam[4];
	int n_paths;
	uint8_t ids[4];
	struct gsrc src[4];
	struct seqgen g;
};

/* An entry of udpc_flows as the oracle has it (client epochs): keyed by the
 * client's address and port, or, for a copy that changed family, by the source
 * it left from and the client's port in that family (docs/PEER.md); a later
 * copy's may take over the key of another. */
struct oflow {
	int fam;		/* the key */
	uint8_t a[16];
	uint16_t port;
	int cfam;		/* the client's family, of client and od */
	uint8_t client[16];
	uint8_t od[16];
	uint16_t odport;
	uint64_t sid;
	int family;		/* udpc_flow.family: 0, or cfam when not the key's */
};

/* A client session: flows that share it (a key taken over) share its numbers. */
struct ocs {
	uint64_t sid;
	uint32_t tx_seq;
	bool diverged;
	struct win w;
	struct seqgen rg;	/* the server's replies */
};

#define MAX_OSESS 400
#define MAX_GSESS 8
#define MAX_FLOWS 256

static struct osess osess[MAX_OSESS];
static int n_osess;
static struct olabel olabels[MAX_OSESS];
static int n_olabels;
static struct gsess gsess[MAX_GSESS];
static int n_gsess;
static struct oflow oflows[MAX_FLOWS];
static int n_oflows;
static struct ocs ocs[MAX_FLOWS];
static int n_ocs;
static struct udpc_peer_stats want;

static struct osess *osess_find(uint64_t id)
{
	for (int i = 0; i < n_osess; i++)
		if (osess[i].id == id)
			return &osess[i];
	return NULL;
}

static struct olabel *olabel_find(int fam, const uint8_t *a, uint16_t port)
{
	for (int i = 0; i < n_olabels; i++)
		if (olabels[i].fam == fam && olabels[i].port == port && !memcmp(olabels[i].a, a, alen(fam)))
			return &olabels[i];
	return NULL;
}

static struct oflow *oflow_find(int fam, const uint8_t *a, uint16_t port)
{
	for (int i = 0; i < n_oflows; i++)
		if (oflows[i].fam == fam && oflows[i].port == port && !memcmp(oflows[i].a, a, alen(fam)))
			return &oflows[i];
	return NULL;
}

static struct ocs *ocs_find(uint64_t sid)
{
	for (int i = 0; i < n_ocs; i++)
		if (ocs[i].sid == sid)
			return &ocs[i];
	return NULL;
}

/* remember_flow() as docs/PEER.md has it: the entry under the key, made or
 * replaced. NULL if the table is full. */
static struct oflow *oflow_set(int fam, const uint8_t *a, uint16_t port, int cfam,
			       const uint8_t *client, const uint8_t *od, uint16_t odport,
			       uint64_t sid)
{
	struct oflow *o = oflow_find(fam, a, port);

	if (!o) {
		if (n_oflows == MAX_FLOWS)
			return NULL;
		o = &oflows[n_oflows++];
		memset(o, 0, sizeof(*o));
		o->fam = fam;
		memcpy(o->a, a, 16);
		o->port = port;
	}
	o->cfam = cfam;
	memcpy(o->client, client, 16);
	memcpy(o->od, od, 16);
	o->odport = odport;
	o->sid = sid;
	o->family = cfam == fam ? 0 : cfam;
	return o;
}

/* ---- maps ---- */

static struct {
	int config, peer_cfg, peer_stats, sessions, labels, flows, dests, active, uplinks, dest_stats;
} fds;

static void flush(int fd, size_t key_size)
{
	uint8_t k[64];

	(void)key_size;
	while (!bpf_map_get_next_key(fd, NULL, k))
		if (bpf_map_delete_elem(fd, k))
			break;
}

static int write_peer_cfg(uint32_t flags)
{
	struct udpc_peer_cfg pc = {
		.flags = flags,
		.to_port = htons(ep.to),
		.path_timeout_ns = ep.path_live ? LONG_NS : 0,
		.session_timeout_ns = ep.sess_live ? LONG_NS : 0,
	};
	uint32_t zero = 0;

	return bpf_map_update_elem(fds.peer_cfg, &zero, &pc, 0);
}

static int write_epoch(void)
{
	struct udpc_config cfg = {
		.flags = ep.enabled ? UDPC_CFG_ENABLED : 0,
		.listen_port = htons(ep.listen),
		.l2_len = 14,
		.flow_timeout_ns = LONG_NS,
		.ifindex = (uint32_t)env.veth0,
	};
	struct udpc_dest all[UDPC_MAX_DESTS];
	struct udpc_active act;
	void *zeros = calloc((size_t)env.ncpus, sizeof(struct udpc_peer_stats) +
					      sizeof(struct udpc_dest_stats));
	uint32_t i, zero = 0;
	int err = 0;

	if (!zeros)
		return -ENOMEM;
	err |= bpf_map_update_elem(fds.config, &zero, &cfg, 0);
	err |= write_peer_cfg(ep.client ? UDPC_PEER_CLIENT : UDPC_PEER_SERVER);
	err |= bpf_map_update_elem(fds.peer_stats, &zero, zeros, 0);
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		struct udpc_uplink up = { .flags = ep.up[i].flags };

		memcpy(&up.src4, ep.up[i].a4, 4);
		memcpy(&up.src6, ep.up[i].a6, 16);
		err |= bpf_map_update_elem(fds.uplinks, &i, &up, 0);
		err |= bpf_map_update_elem(fds.dest_stats, &i, zeros, 0);
	}
	free(zeros);
	flush(fds.sessions, 8);
	flush(fds.labels, sizeof(struct udpc_flow_key));
	flush(fds.flows, sizeof(struct udpc_flow_key));
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		const struct odest *o = &ep.d[i];
		struct udpc_dest d = { 0 };

		if (o->used) {
			d.port = htons(o->port);
			if (o->has & 4) {
				d.flags |= UDPC_DEST_V4;
				memcpy(&d.addr4, o->a4, 4);
			}
			if (o->has & 2) {
				d.flags |= UDPC_DEST_V6;
				memcpy(&d.addr6, o->a6, 16);
			}
		}
		all[i] = d;
		err |= bpf_map_update_elem(fds.dests, &i, &d, 0);
	}
	udpc_active_of(all, &act);
	err |= bpf_map_update_elem(fds.active, &zero, &act, 0);
	memset(&act, 0, sizeof(act));
	err |= bpf_map_lookup_elem(fds.active, &zero, &act);
	for (i = 0; i < 2; i++) {
		ep.n_slots[i] = act.n[i] < UDPC_MAX_DESTS ? act.n[i] : UDPC_MAX_DESTS;
		memcpy(ep.slots[i], act.slot[i], UDPC_MAX_DESTS);
		ep.n_only[i] = act.n_only[i] < UDPC_MAX_DESTS ? act.n_only[i] : UDPC_MAX_DESTS;
		memcpy(ep.only[i], act.only[i], UDPC_MAX_DESTS);
	}
	return err ? -EIO : 0;
}

static void read_stats(struct udpc_peer_stats *sum)
{
	struct udpc_peer_stats per[64];
	uint32_t zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (env.ncpus > 64 || bpf_map_lookup_elem(fds.peer_stats, &zero, per))
		return;
	for (int c = 0; c < env.ncpus; c++) {
		__u64 *d = (__u64 *)sum, *s = (__u64 *)&per[c];

		for (size_t i = 0; i < sizeof(*sum) / sizeof(__u64); i++)
			d[i] += s[i];
	}
}

static const char *const stat_names[] = {
	"rx_delivered", "rx_duplicates", "rx_late", "rx_malformed", "rx_unknown",
	"sessions_new", "session_errors", "label_conflicts", "path_moves", "tx_encap",
	"tx_gso", "tx_too_big", "tx_no_path", "tx_errors", "ka_rx", "ka_echoed",
};
_Static_assert(ARRAY_SIZE(stat_names) * 8 == sizeof(struct udpc_peer_stats), "stat_names");

static void compare_stats(void)
{
	struct udpc_peer_stats got;
	const __u64 *g = (const __u64 *)&got, *w = (const __u64 *)&want;

	read_stats(&got);
	for (size_t i = 0; i < ARRAY_SIZE(stat_names); i++)
		if (g[i] != w[i])
			note("  udpc_peer_stats.%s %llu, want %llu\n", stat_names[i],
			     (unsigned long long)g[i], (unsigned long long)w[i]);
}

/* After a failure: the counters as the programs have them, so that one fault is
 * reported once, not again at every check after it. */
static void resync_stats(void)
{
	read_stats(&want);
}

/* ---- running ---- */

struct run {
	int err;
	uint32_t verdict, len;
	uint8_t out[PKT_MAX];
};

static struct run out_run;

static void run(struct bpf_program *prog, const uint8_t *in, size_t len, struct run *r)
{
	struct __sk_buff ctx = { .ifindex = (uint32_t)env.veth0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	r->err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	r->verdict = opts.retval;
	r->len = opts.data_size_out;
}

static void check_verdict(const struct run *r, uint32_t want_v)
{
	if (r->verdict != want_v)
		note("  verdict %s (%u), want %s\n", vname(r->verdict), r->verdict, vname(want_v));
}

static void check_unchanged(const struct run *r, const uint8_t *in, size_t len)
{
	check_verdict(r, TC_ACT_OK);
	if (r->len != len || memcmp(r->out, in, len))
		note("  not ours, but the output differs from the input\n");
}

/* A frame the program must drop: counted in *counter (NULL: the program counts it in
 * none of its counters). */
static void want_shot(const struct run *r, __u64 *counter)
{
	if (counter)
		(*counter)++;
	st.dropped++;
	check_verdict(r, TC_ACT_SHOT);
}

/* A datagram to go out in copies (a server's reply, a client's datagram): false when
 * the header would make it too long (dropped, tx_too_big), else counted in tx_encap,
 * and the session's sequence number moves on (never 0). */
static bool want_encap(const struct run *r, size_t len, uint32_t *tx_seq)
{
	if (len + HDR > FRAME_MAX) {
		want_shot(r, &want.tx_too_big);
		return false;
	}
	want.tx_encap++;
	if (!++*tx_seq)
		*tx_seq = 1;
	return true;
}

/* Report the frame if anything was noted. Returns true if it failed. */
static bool finish(uint64_t idx, const char *prog, const char *kind, const uint8_t *in, size_t len,
		   const struct run *r, const uint8_t *exp, size_t exp_len)
{
	if (!rep.n)
		return false;
	capture_drain(5); /* copies not read after the failure */
	st.failures++;
	if (st.failures <= MAX_DETAILS) {
		fprintf(stderr, "FAIL seed 0x%" PRIx64 " frame %" PRIu64 " (%s, %s):\n%s", seed, idx,
			prog, kind, rep.buf);
		dump("input", in, len, NULL, 0);
		if (r && r->err == 0)
			dump("output", r->out, r->len, in, len);
		if (exp)
			dump("expected", exp, exp_len, NULL, 0);
	}
	resync_stats();
	return true;
}

/* A clone on veth1; length, or 0 (noted) if none came. */
static size_t capture(uint8_t *buf, const char *what)
{
	int n = capture_next(buf, PKT_MAX, 1000, NULL);

	if (n <= 0) {
		note("  %s never arrived on veth1\n", what);
		return 0;
	}
	st.clones++;
	return (size_t)n;
}

/*
 * Copy i of the n that out_run made: the first n - 1 are clones on veth1 (read
 * into cap), the last is the packet itself. Sets *c and *cl to it; false (noted)
 * if a clone never came.
 */
static bool take_copy(size_t i, size_t n, const char *what, uint8_t *cap, const uint8_t **c,
		      size_t *cl)
{
	*c = out_run.out;
	*cl = out_run.len;
	if (i + 1 < n) {
		*cl = capture(cap, what);
		if (!*cl)
			return false;
		*c = cap;
	}
	st.copies++;
	return true;
}

/* The peer header h of a copy sent for datagram f (UDP header at l4), and the
 * copy c's outer checksum: none if f has none, else the same residual as f's. */
static void check_encap(const char *what, const struct phdr *h, unsigned int path, uint32_t seq,
		       uint64_t session, const uint8_t *c, const uint8_t *f, size_t l4,
		       const char *whose)
{
	if (h->vt != VT_DATA || h->path != path || h->seq != seq || h->session != session)
		note("  %s: header version/type 0x%02x path %u seq %u session %016" PRIx64
		     ", want 0x%02x %u %u %016" PRIx64 "\n", what, h->vt, h->path, h->seq,
		     h->session, VT_DATA, path, seq, session);
	if (!pkt_get16(f + l4 + 6)) {
		if (pkt_get16(c + l4_of(c) + 6))
			note("  %s: outer checksum 0x%04x for a datagram with none\n", what,
			     pkt_get16(c + l4_of(c) + 6));
	} else if (udp_residual(c) != udp_residual(f)) {
		note("  %s: outer checksum residual 0x%04x, %s 0x%04x (0 = verifies)\n", what,
		     udp_residual(c), whose, udp_residual(f));
	}
}

/* ---- server ingress: the oracle ---- */

/*
 * What udpc_serve_ingress must deliver for copy f (parsed p): the header out,
 * header bytes 8-15 as the UDP header from the label to --to, the length from the
 * outer UDP length (bytes after it in the IP packet stay, as padding), the source
 * address the label, the carried checksum's residual kept.
 */
static size_t expect_strip(const uint8_t *f, size_t len, const struct parsed *p,
			   const uint8_t *saddr, uint16_t sport, uint16_t dport, uint8_t *out)
{
	struct phdr h;
	size_t n = unwrap(f, len, 0, &h, out);
	uint16_t r_ip = p->family == 4 ? ip4_residual(out) : 0, r_u = 0;
	bool zero = !pkt_get16(out + p->l4 + 6);

	if (!n)
		return 0;
	if (!zero)
		r_u = udp_residual(out);
	memcpy(out + PKT_ETH_LEN + (p->family == 4 ? 12 : 8), saddr, alen(p->family));
	pkt_put16(out + p->l4, sport);
	pkt_put16(out + p->l4 + 2, dport);
	fix_csums(out, r_ip, r_u, zero);
	return n;
}

/*
 * What a receiving program must hand on for copy f: with the same family, expect_strip()
 * (from saddr:sport to dport); otherwise the datagram in family fam, from saddr:sport to
 * daddr:dport. 0 if the test cannot decode the copy.
 */
static size_t expect_delivered(const uint8_t *f, size_t len, const struct parsed *p, bool same,
			       int fam, const uint8_t *saddr, const uint8_t *daddr, uint16_t sport,
			       uint16_t dport, uint8_t *out)
{
	uint8_t tmp[PKT_MAX];
	struct phdr uh;
	size_t n;

	if (same)
		return expect_strip(f, len, p, saddr, sport, dport, out);
	n = unwrap(f, len, 0, &uh, tmp);
	if (!n)
		return 0;
	set_ports(tmp, sport, dport);
	return to_family(tmp, n, fam, saddr, daddr, out);
}

/* The sequence number a session in udpc_sessions sent last (0 if none). */
static uint32_t map_tx_seq(uint64_t id)
{
	static struct udpc_session sess;

	if (bpf_map_lookup_elem(fds.sessions, &id, &sess))
		return 0;
	return (uint32_t)sess.tx_seq;
}

/*
 * Judge copy f as the server must, update the oracle, and check the run. *sess
 * gets the session it went to (or NULL). Returns the expected verdict.
 */
static void serve_in_check(const uint8_t *f, size_t len, const struct run *r, bool must_fail_csum,
			   struct osess **sess_out, uint8_t *exp, size_t *exp_len)
{
	struct parsed p = oracle_parse(f, len);
	struct osess *s;
	struct opath *pp;
	struct phdr h;
	enum verdict v;

	*sess_out = NULL;
	*exp_len = 0;
	if (ep.client || !ep.enabled || p.c != C_UDP || p.dport != ep.listen) {
		st.passed++;
		check_unchanged(r, f, len);
		return;
	}
	if (oracle_hdr(f, &p, &h) || h.vt == VT_ECHO) {
		want_shot(r, &want.rx_malformed);
		return;
	}
	s = osess_find(h.session);
	if (!s && h.vt == VT_KA) {
		/* A keepalive keeps a session; only data makes one. */
		want_shot(r, &want.rx_unknown);
		return;
	}
	if (!s) {
		struct olabel *l = olabel_find(p.family, p.saddr, p.sport);

		if (l && l->id != h.session && osess_find(l->id) && ep.sess_live) {
			want_shot(r, &want.label_conflicts);
			return;
		}
		if (n_osess == MAX_OSESS) {
			note("  (test) too many sessions\n");
			return;
		}
		s = &osess[n_osess++];
		memset(s, 0, offsetof(struct osess, w));
		win_init(&s->w);
		s->id = h.session;
		s->tx_seq = map_tx_seq(h.session); /* the server's replies start at random */
		s->fam = p.family;
		memcpy(s->label, p.saddr, 16);
		memcpy(s->local, p.daddr, 16);
		s->lport = p.sport;
		want.sessions_new++;
		if (!l) {
			l = &olabels[n_olabels++];
			l->fam = p.family;
			memcpy(l->a, p.saddr, 16);
			l->port = p.sport;
		}
		l->id = h.session;
	}
	*sess_out = s;
	/* A copy over the other family than the session's is one of its paths too. */
	pp = &s->path[h.path];
	if (pp->seen && (pp->fam != p.family || pp->port != p.sport ||
			 memcmp(pp->addr, p.saddr, 16) || memcmp(pp->local, p.daddr, 16)))
		want.path_moves++;
	pp->seen = true;
	pp->fam = p.family;
	pp->port = p.sport;
	memcpy(pp->addr, p.saddr, 16);
	memcpy(pp->local, p.daddr, 16);
	if (h.vt == VT_KA) {
		/* Answered at once, back by the path it came (test_peer checks the bytes). */
		want.ka_rx++;
		want.ka_echoed++;
		st.passed++;
		check_verdict(r, TC_ACT_REDIRECT);
		return;
	}
	v = win_judge(&s->w, h.seq);
	if (v != V_NEW) {
		if (v == V_DUP)
			want.rx_duplicates++;
		else
			want.rx_late++;
		st.dropped++;
		if (r->verdict != TC_ACT_SHOT)
			note("  verdict %s, want SHOT: sequence number %u (0x%08x) of session %016" PRIx64
			     " is %s (highest seen %" PRId64 ")\n", vname(r->verdict), h.seq, h.seq,
			     h.session, vnames[v], s->w.top);
		return;
	}
	want.rx_delivered++;
	st.delivered++;
	if (r->verdict != TC_ACT_OK) {
		note("  verdict %s, want OK: sequence number %u (0x%08x) of session %016" PRIx64
		     " is new (highest seen now %" PRId64 ")\n", vname(r->verdict), h.seq, h.seq,
		     h.session, s->w.top);
		return;
	}
	/* in the session's family, from the label to local */
	*exp_len = expect_delivered(f, len, &p, p.family == s->fam, s->fam, s->label, s->local,
				    s->lport, ep.to, exp);
	if (p.family != s->fam)
		st.fam_delivered++;
	if (!*exp_len) {
		note("  (test) cannot decode the copy\n");
		return;
	}
	if (cmp_dgram("delivered datagram", r->out, r->len, exp, *exp_len))
		return;
	if (must_fail_csum && h.check && udp_residual(r->out) == 0)
		note("  the payload was damaged, yet the delivered UDP checksum verifies\n");
}

static void serve_in_one(uint64_t idx, const uint8_t *f, size_t len, const char *kind,
			 bool must_fail_csum)
{
	uint8_t exp[PKT_MAX];
	size_t exp_len = 0;
	struct osess *s = NULL;

	rep_reset();
	run(env.skel->progs.udpc_serve_ingress, f, len, &out_run);
	if (out_run.err == -EINVAL && refusal_expected(f, len)) {
		st.refused++;
		return;
	}
	if (out_run.err) {
		note("  BPF_PROG_TEST_RUN: %s\n", strerror(-out_run.err));
	} else {
		serve_in_check(f, len, &out_run, must_fail_csum, &s, exp, &exp_len);
		if (s && s->diverged) {
			rep_reset(); /* already reported: its window is no longer known */
			resync_stats();
		}
	}
	if (finish(idx, "udpc_serve_ingress", kind, f, len, &out_run, exp_len ? exp : NULL, exp_len) && s)
		s->diverged = true;
}

/* ---- server ingress: the generator ---- */

static void gsrc_new(struct gsrc *g, int fam, bool nat)
{
	memcpy(g->addr, fam == 4 ? pick(&a_rem4) : pick(&a_rem6), 16);
	if (nat)
		g->addr[alen(fam) - 1] ^= (uint8_t)(0x40 | rn(64));
	g->port = chance(60) ? (uint16_t)(40000 + rn(4)) : (uint16_t)(1024 + rn(64000));
	memcpy(g->local, fam == 4 ? pick(&a_srv4) : pick(&a_srv6), 16);
}

static struct gsess *gsess_new(void)
{
	struct gsess *g;
	bool mixed;
	int i, j;

	if (n_gsess < MAX_GSESS)
		g = &gsess[n_gsess++];
	else
		g = &gsess[rn(MAX_GSESS)];
	memset(g, 0, sizeof(*g));
	g->id = rnd() | 1;
	g->fam = chance(50) ? 4 : 6;
	g->n_paths = 1 + (int)rn(4);
	/* A third of the sessions have paths of both families (docs/PEER.md: a SIM
	 * with IPv6 only beside an IPv4 Wi-Fi); which one's copy comes first makes
	 * the session's family. */
	mixed = chance(35);
	for (i = 0; i < g->n_paths; i++) {
		uint8_t id;

		do {
			id = (uint8_t)(chance(60) ? rn(4) : rn(UDPC_MAX_DESTS));
			for (j = 0; j < i && g->ids[j] != id; j++)
				;
		} while (j < i);
		g->ids[i] = id;
		g->pfam[i] = !mixed || !i ? g->fam : chance(50) ? 4 : 6;
		gsrc_new(&g->src[i], g->pfam[i], i > 0);
	}
	if (mixed && g->n_paths > 1 && chance(50)) {
		/* Make sure of both (and, with 3 or more, now and then 4, 6, 4). */
		i = 1 + (int)rn((uint32_t)g->n_paths - 1);
		g->pfam[i] = g->fam == 4 ? 6 : 4;
		gsrc_new(&g->src[i], g->pfam[i], true);
	}
	/* Now and then, from the address and port of another session's first path:
	 * a label conflict while that one lives, a takeover when it is idle. */
	for (i = 0; i < n_gsess; i++)
		if (&gsess[i] != g && gsess[i].pfam[0] == g->pfam[0] && chance(12)) {
			memcpy(g->src[0].addr, gsess[i].src[0].addr, 16);
			g->src[0].port = gsess[i].src[0].port;
			break;
		}
	sg_init(&g->g);
	return g;
}

static struct gsess *gsess_pick(void)
{
	for (int tries = 0; tries < 8; tries++) {
		struct gsess *g = n_gsess ? &gsess[rn((uint32_t)n_gsess)] : NULL;
		struct osess *o = g ? osess_find(g->id) : NULL;

		if (!g || chance(2))
			return gsess_new();
		if (!o || !o->diverged)
			return g;
	}
	return gsess_new();
}

/* A copy of session g's datagram seq by its i-th path. */
static size_t mk_copy(const struct gsess *g, int i, uint32_t seq, size_t plen, int csum, size_t pad,
		      uint8_t *f)
{
	uint8_t app[PKT_MAX];
	struct dg d = { .fam = g->pfam[i], .smac = mac_v1, .dmac = mac_v0, .sa = g->src[i].addr,
			.da = g->src[i].local, .sport = g->src[i].port, .dport = ep.listen,
			.plen = plen, .csum = csum, .pad = pad };
	struct phdr h = { .vt = VT_DATA, .path = g->ids[i], .seq = seq, .session = g->id };
	size_t n = mk_dgram(&d, app);

	return wrap(app, n, &h, f);
}

enum kind {
	K_COPY, K_COPY_PAD, K_SWEEP_LEN, K_SWEEP_CUT, K_VT, K_PATH, K_SEQ0, K_FLIP_HDR, K_FLIP_PAY,
	K_CARRIED, K_ULEN, K_IPLEN, K_RANDOM_HDR, K_GARBAGE, K_OTHER_PORT, K_PROTO, K_OPTS, K_EXT6,
	K_FRAG, K_FAMILY, K_REPLY, K_REPLY_OTHER, K_REPLY_BIG, K_REPLY_ODD, K_C_DGRAM, K_C_OTHER,
	K_C_BIG, K_C_TRAILER, K_C_REPLY, K_C_REPLY_DAMAGED, K_C_REPLY_OTHER, K_CROSS, K_NKINDS
};

static const char *const kind_names[] = {
	"copy", "copy with Ethernet padding", "header truncated (lengths consistent)",
	"frame cut", "wrong version/type", "path id >= 16", "sequence 0", "header bit flips",
	"payload bit flip", "carried checksum damaged", "UDP length damaged",
	"IP length damaged", "random peer header", "random bytes", "other port",
	"other protocol/ethertype", "IPv4 options", "IPv6 extension header", "fragment",
	"a session's path moved to the other family", "reply to a label", "reply not ours",
	"reply too big for the header", "reply with odd lengths (IP > UDP, padding) or a fragment", "client datagram",
	"client frame not ours", "client datagram too big for the header",
	"client datagram (IP longer than UDP)", "client reply",
	"client reply damaged", "client reply of another session/source",
	"serve program in a client epoch",
};
_Static_assert(ARRAY_SIZE(kind_names) == K_NKINDS, "kind_names");

/* One datagram of a session, by one or more of its paths. Returns frames made. */
static uint64_t gen_datagram(uint64_t idx, uint64_t end)
{
	struct gsess *g = gsess_pick();
	uint8_t f[PKT_MAX];
	const char *how;
	uint32_t seq = sg_pick(&g->g, &how);
	int big = g->fam, csum, order[4], n, i, k = 0;
	size_t plen, pad = 0;
	uint64_t made = 0;
	char kind[96];

	/* Sized for the family with the bigger header among its paths. */
	for (i = 0; i < g->n_paths; i++)
		if (g->pfam[i] == 6)
			big = 6;
	plen = rand_plen(big, FRAME_MAX - HDR);
	csum = rand_csum(big);
	if (chance(10)) {
		size_t len = PKT_ETH_LEN + (big == 4 ? PKT_IP4_LEN : PKT_IP6_LEN) + PKT_UDP_LEN +
			     HDR + plen;

		pad = len < 60 ? 60 - len + rn(8) : rn(24);
		if (len + pad > FRAME_MAX)
			pad = 0;
	}
	/* A NAT rebinding now and then. */
	if (chance(3)) {
		int j = (int)rn((uint32_t)g->n_paths);
		struct gsrc *s = &g->src[j];

		if (chance(50))
			s->port = (uint16_t)(1024 + rn(64000));
		else
			gsrc_new(s, g->pfam[j], true);
	}
	for (i = 0; i < g->n_paths; i++)
		order[i] = i;
	for (i = g->n_paths - 1; i > 0; i--) {
		int j = (int)rn((uint32_t)i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	n = chance(45) ? 1 : 1 + (int)rn((uint32_t)g->n_paths);
	for (k = 0; k < n && idx + made < end; k++) {
		size_t len = mk_copy(g, order[k], seq, plen, csum, pad, f);
		enum kind kd = pad ? K_COPY_PAD : K_COPY;

		snprintf(kind, sizeof(kind), "%s, seq 0x%08x %s, path %u of %d (IPv%d)",
			 kind_names[kd], seq, how, g->ids[order[k]], g->n_paths, g->pfam[order[k]]);
		st.kinds[kd]++;
		serve_in_one(idx + made++, f, len, kind, false);
	}
	return made;
}

/* A damaged copy of some session. */
static void gen_damaged(uint64_t idx)
{
	struct gsess *g = gsess_pick();
	uint8_t f[PKT_MAX];
	const char *how;
	uint32_t seq = sg_pick(&g->g, &how);
	int i = (int)rn((uint32_t)g->n_paths), fam = g->pfam[i];
	size_t plen = rand_plen(fam, FRAME_MAX - HDR - 8), len, l4, hdr;
	size_t ip_hl = fam == 4 ? PKT_IP4_LEN : PKT_IP6_LEN;
	uint32_t r = rn(100);
	bool must_fail = false;
	enum kind kd;
	char kind[96];

	len = mk_copy(g, i, seq, plen, CS_VALID, 0, f);
	l4 = PKT_ETH_LEN + ip_hl;
	hdr = l4 + PKT_UDP_LEN;
	if (r < 8) {
		kd = K_VT;
		f[hdr] = chance(50) ? (uint8_t)rnd() : (uint8_t[]){ 0x12, 0x21, 0x10, 0x01, 0x1f }[rn(5)];
	} else if (r < 14) {
		kd = K_PATH;
		f[hdr + 1] = (uint8_t)(UDPC_MAX_DESTS + rn(256 - UDPC_MAX_DESTS));
	} else if (r < 19) {
		kd = K_SEQ0;
		memset(f + hdr + 2, 0, 4);
	} else if (r < 31) {
		kd = K_FLIP_HDR;
		flip(f, len, 0, hdr + HDR - 0, 1 + (int)rn(3));
	} else if (r < 40) {
		kd = K_FLIP_PAY;
		if (plen) {
			f[hdr + HDR + rn((uint32_t)plen)] ^= (uint8_t)(1u << rn(8));
			must_fail = true;
		}
	} else if (r < 44) {
		kd = K_CARRIED;
		f[hdr + 14 + rn(2)] ^= (uint8_t)(1u << rn(8));
		must_fail = true;
	} else if (r < 52) {
		kd = K_ULEN;
		pkt_put16(f + l4 + 4, (uint16_t)(pkt_get16(f + l4 + 4) + (chance(70) ? (int)rn(49) - 24
										  : (int)rnd())));
	} else if (r < 58) {
		kd = K_IPLEN;
		if (chance(50) && len < FRAME_MAX - 40) {
			memset(f + len, 0, 40);
			len += rn(41); /* padding for a longer IP length to reach into */
		}
		put_ip_len(f, (size_t)((int)ip_len_of(f) + (int)rn(49) - 24));
		if (fam == 4 && chance(80))
			ip4_fix(f);
	} else if (r < 66) {
		kd = K_RANDOM_HDR;
		rbytes(f + hdr, HDR);
		if (chance(60))
			f[hdr] = VT_DATA;
		if (chance(60))
			f[hdr + 1] = (uint8_t)rn(UDPC_MAX_DESTS);
		if (n_osess > MAX_OSESS / 2)
			f[hdr] = 0; /* the session table is busy enough */
	} else if (r < 71) {
		kd = K_GARBAGE;
		len = PKT_ETH_LEN + rn(120);
		rbytes(f, len);
		if (chance(70))
			pkt_put16(f + 12, chance(50) ? 0x0800 : 0x86dd);
		if (len > PKT_ETH_LEN) {
			f[PKT_ETH_LEN] = (uint8_t)((pkt_get16(f + 12) == 0x0800 ? 0x45 : 0x60));
			if (len > PKT_ETH_LEN + 9 && chance(70))
				f[PKT_ETH_LEN + (pkt_get16(f + 12) == 0x0800 ? 9 : 6)] = IPPROTO_UDP;
		}
	} else if (r < 75) {
		kd = K_OTHER_PORT;
		pkt_put16(f + l4 + 2, (uint16_t)(ep.listen + 1 + rn(65535)));
		if (pkt_get16(f + l4 + 2) == ep.listen)
			pkt_put16(f + l4 + 2, (uint16_t)(ep.listen ^ 1));
	} else if (r < 79) {
		static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_ICMP, 0, 41, 58, 132 };

		kd = K_PROTO;
		if (chance(70)) {
			f[PKT_ETH_LEN + (fam == 4 ? 9 : 6)] = protos[rn(ARRAY_SIZE(protos))];
			if (fam == 4)
				ip4_fix(f);
		} else {
			pkt_put16(f + 12, (uint16_t[]){ 0x0806, 0x8100, 0x88a8, 0x86dd ^ 0x0800 ^
								      pkt_get16(f + 12) }[rn(4)]);
		}
	} else if (r < 84 && fam == 4) {
		size_t n = 4 * (1 + rn(4));

		kd = K_OPTS;
		insert_at(f, &len, l4, n);
		memset(f + l4, 1, n);
		f[PKT_ETH_LEN] = (uint8_t)(0x40 | ((PKT_IP4_LEN + n) / 4));
		put_ip_len(f, ip_len_of(f) + n);
		ip4_fix(f);
	} else if (r < 84) {
		kd = K_EXT6;
		insert_at(f, &len, l4, 8);
		f[l4] = IPPROTO_UDP;
		f[l4 + 2] = 1;
		f[l4 + 3] = 4;
		f[PKT_ETH_LEN + 6] = (uint8_t[]){ 0, 43, 60, 44 }[rn(4)];
		if (f[PKT_ETH_LEN + 6] == 44)
			memset(f + l4 + 1, 0, 7); /* a first fragment */
		put_ip_len(f, ip_len_of(f) + 8);
	} else if (r < 90) {
		kd = K_FRAG;
		if (fam == 4) {
			pkt_put16(f + PKT_ETH_LEN + 6,
				  (uint16_t)((chance(50) ? PKT_IP_MF : 0) | (chance(60) ? 1 + rn(0x1fff) : 0) |
					     (chance(30) ? 0x4000 : 0)));
			if (!(pkt_get16(f + PKT_ETH_LEN + 6) & 0x3fff))
				pkt_put16(f + PKT_ETH_LEN + 6, PKT_IP_MF);
			ip4_fix(f);
		} else {
			insert_at(f, &len, l4, 8);
			f[l4] = IPPROTO_UDP;
			pkt_put16(f + l4 + 2, (uint16_t)(chance(50) ? 1 : (1 + rn(0x1fff)) << 3));
			f[PKT_ETH_LEN + 6] = 44;
			put_ip_len(f, ip_len_of(f) + 8);
		}
	} else {
		/* The session's id in the other family (refused once the session exists),
		 * or a copy cut down with consistent lengths. */
		struct gsess other = *g;

		if (chance(50)) {
			kd = K_FAMILY;
			other.pfam[i] = fam == 4 ? 6 : 4;
			gsrc_new(&other.src[i], other.pfam[i], i > 0);
			len = mk_copy(&other, i, seq, rn(40), rand_csum(other.pfam[i]), 0, f);
		} else {
			size_t keep = rn((uint32_t)(PKT_UDP_LEN + HDR + plen + 1));

			kd = K_SWEEP_LEN;
			len = l4 + keep < l4 + PKT_UDP_LEN ? l4 + PKT_UDP_LEN : l4 + keep;
			pkt_put16(f + l4 + 4, (uint16_t)(len - l4));
			set_frame_len(f, len);
			must_fail = len - l4 < PKT_UDP_LEN + HDR + plen;
		}
	}
	st.kinds[kd]++;
	snprintf(kind, sizeof(kind), "%s, seq 0x%08x %s, path %u", kind_names[kd], seq, how, g->ids[i]);
	serve_in_one(idx, f, len, kind, must_fail);
}

/* Truncations of one copy at every offset of its headers: lengths consistent
 * (the datagram is shorter), and the frame cut (the IP length is then a lie). */
static uint64_t sweep(uint64_t idx, uint64_t end)
{
	struct gsess *g = gsess_pick();
	uint8_t full[PKT_MAX], f[PKT_MAX];
	const char *how;
	uint32_t seq = sg_pick(&g->g, &how);
	size_t len = mk_copy(g, 0, seq, rn(12), rand_csum(g->pfam[0]), 0, full), l4 = l4_of(full), k;
	uint64_t made = 0;
	char kind[96];

	for (k = 0; k <= len - l4 && idx + made < end; k++) {
		memcpy(f, full, len);
		pkt_put16(f + l4 + 4, (uint16_t)(k < PKT_UDP_LEN ? PKT_UDP_LEN : k));
		put_ip_len(f, l4 - PKT_ETH_LEN + (k < PKT_UDP_LEN ? PKT_UDP_LEN : k));
		if (fam_of(f) == 4)
			ip4_fix(f);
		snprintf(kind, sizeof(kind), "%s: %zu bytes of UDP, seq 0x%08x", kind_names[K_SWEEP_LEN],
			 k, seq);
		st.kinds[K_SWEEP_LEN]++;
		serve_in_one(idx + made++, f, l4 + (k < PKT_UDP_LEN ? PKT_UDP_LEN : k), kind,
			     k < len - l4);
	}
	for (k = 0; k < len && idx + made < end; k++) {
		snprintf(kind, sizeof(kind), "%s at %zu of %zu, seq 0x%08x", kind_names[K_SWEEP_CUT], k,
			 len, seq);
		st.kinds[K_SWEEP_CUT]++;
		serve_in_one(idx + made++, full, k, kind, false);
	}
	return made;
}

/* ---- server egress ---- */

static void serve_out_one(uint64_t idx)
{
	uint8_t f[PKT_MAX], app[PKT_MAX], dec[PKT_MAX], cap[PKT_MAX], conv[PKT_MAX];
	const struct olabel *l = n_olabels && chance(80) ? &olabels[rn((uint32_t)n_olabels)] : NULL;
	int fam = l ? l->fam : chance(50) ? 4 : 6;
	struct dg d = { .fam = fam, .smac = mac_v0, .dmac = mac_v1, .sa = fam == 4 ? pick(&a_srv4)
									       : pick(&a_srv6),
			.da = l ? l->a : fam == 4 ? pick(&a_rem4) : pick(&a_rem6),
			.sport = chance(92) ? ep.to : (uint16_t)rnd(),
			.dport = l ? l->port : (uint16_t)(40000 + rn(4)), .csum = rand_csum(fam) };
	enum kind kd = l ? K_REPLY : K_REPLY_OTHER;
	struct osess *s = NULL;
	struct parsed p;
	size_t len, i, n_live = 0;
	int live[UDPC_MAX_DESTS];
	bool fresh = false;
	int prev_fam = fam;
	char kind[96];

	rep_reset();
	d.plen = rand_plen(fam, FRAME_MAX - HDR);
	if (l && chance(10))
		d.dport = (uint16_t)(d.dport + 1 + rn(3)); /* the label's address, another port */
	if (chance(4)) {
		kd = K_REPLY_BIG;
		d.plen = big_plen(fam);
		if (chance(30))
			d.plen -= 1 + rn(4); /* just fits */
	}
	if (fam == 4 && l) {
		/* Known case 3: an IPv4 reply that fits with the header, yet not 20 bytes
		 * more, would be copied over the MTU by an IPv6 path. Kept clear of (with
		 * room for the padding or trailer below) until that is settled. */
		const struct osess *s0 = osess_find(l->id);
		size_t v4 = PKT_ETH_LEN + PKT_IP4_LEN + PKT_UDP_LEN + d.plen;
		bool v6_path = false;

		for (i = 0; s0 && i < UDPC_MAX_DESTS; i++)
			v6_path |= s0->path[i].seen && s0->path[i].fam == 6;
		if (v6_path && v4 + HDR <= FRAME_MAX && v4 + HDR + 20 + 38 > FRAME_MAX)
			d.plen -= d.plen < 58 ? d.plen : 58;
	}
	len = mk_dgram(&d, f);
	if (chance(5)) {
		kd = K_REPLY_ODD;
		if (chance(30) && len + 8 <= FRAME_MAX) {
			len = add_trailer(f, len);
		} else if (fam == 4 && chance(50)) {
			pkt_put16(f + PKT_ETH_LEN + 6, PKT_IP_MF);
			ip4_fix(f);
		} else {
			memset(f + len, 0, 30);
			len += 1 + rn(30); /* padding */
		}
	}
	st.kinds[kd]++;
	run(env.skel->progs.udpc_serve_egress, f, len, &out_run);
	if (out_run.err) {
		note("  BPF_PROG_TEST_RUN: %s\n", strerror(-out_run.err));
		goto out;
	}
	p = oracle_parse(f, len);
	if (!ep.client && ep.enabled && p.c == C_UDP && p.sport == ep.to) {
		const struct olabel *hl = olabel_find(p.family, p.daddr, p.dport);

		s = hl ? osess_find(hl->id) : NULL;
	}
	if (!s) {
		st.passed++;
		check_unchanged(&out_run, f, len);
		goto out;
	}
	for (i = 0; i < UDPC_MAX_DESTS; i++)
		if (s->path[i].seen && ep.path_live)
			live[n_live++] = (int)i;
	if (!n_live) {
		want_shot(&out_run, &want.tx_no_path);
		goto out;
	}
	if (!want_encap(&out_run, len, &s->tx_seq))
		goto out;
	check_verdict(&out_run, TC_ACT_OK);
	/* The live paths in id order, of either family: before a copy by a path of
	 * the other family than the packet's now, it changes family, and from then
	 * on its IP header is the fresh one of docs/PEER.md, even back in the
	 * reply's own family (4, 6, 4: two changes). */
	for (i = 0; i < n_live; i++) {
		const struct opath *pp = &s->path[live[i]];
		const uint8_t *c;
		size_t cl, dl, al = len;
		struct phdr h;
		char what[96];

		if (pp->fam != fam && !fresh)
			fresh = true;
		else if (pp->fam != prev_fam)
			st.fam_twice++; /* back again */
		if (fresh)
			st.fam_copies++;
		prev_fam = pp->fam;
		snprintf(what, sizeof(what), "copy %zu of %zu (path %d, IPv%d%s)", i + 1, n_live,
			 live[i], pp->fam, fresh ? ", a fresh IP header" : "");
		if (!take_copy(i, n_live, what, cap, &c, &cl))
			break;
		/* the reply from the listen port, from our address of that path to it */
		memcpy(app, f, len);
		if (!fresh) {
			memcpy(app + PKT_ETH_LEN + (fam == 4 ? 12 : 8), pp->local, alen(fam));
			memcpy(app + PKT_ETH_LEN + (fam == 4 ? 16 : 24), pp->addr, alen(fam));
			pkt_put16(app + p.l4, ep.listen);
			pkt_put16(app + p.l4 + 2, pp->port);
			fix_csums(app, fam == 4 ? ip4_residual(f) : 0, udp_residual(f),
				  !pkt_get16(f + p.l4 + 6));
		} else {
			set_ports(app, ep.listen, pp->port);
			al = to_family(app, len, pp->fam, pp->local, pp->addr, conv);
			memcpy(app, conv, al);
		}
		if (cl != al + HDR) {
			note("  %s: %zu bytes, want %zu\n", what, cl, al + HDR);
			continue;
		}
		dl = unwrap(c, cl, 0, &h, dec);
		if (!dl) {
			note("  %s: does not decode\n", what);
			continue;
		}
		cmp_dgram(what, dec, dl, app, al);
		check_encap(what, &h, (unsigned int)live[i], s->tx_seq, s->id, c, f, p.l4,
			   "the reply's");
	}
out:
	snprintf(kind, sizeof(kind), "%s", kind_names[kd]);
	finish(idx, "udpc_serve_egress", kind, f, len, &out_run, NULL, 0);
}

/* ---- client egress, with a twin run in plain mode ---- */

static uint8_t plain[UDPC_MAX_DESTS][PKT_MAX];
static size_t plain_len[UDPC_MAX_DESTS];

static struct udpc_flow_key flow_key(int fam, const uint8_t *a, uint16_t port)
{
	struct udpc_flow_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.addr.w, a, alen(fam));
	k.port = htons(port);
	k.family = fam == 4 ? UDPC_AF_INET : UDPC_AF_INET6;
	return k;
}

static void client_out_one(uint64_t idx)
{
	uint8_t f[PKT_MAX], dec[PKT_MAX], cap[PKT_MAX];
	int fam = chance(50) ? 4 : 6;
	struct dg d = { .fam = fam, .smac = mac_v0, .dmac = mac_v1,
			.sa = fam == 4 ? pick(&a_cli4) : pick(&a_cli6),
			.da = fam == 4 ? pick(&a_rem4) : pick(&a_rem6),
			.sport = (uint16_t)(chance(85) ? 40000 + rn(4) : 1024 + 4111 * rn(8)),
			.dport = ep.listen, .csum = rand_csum(fam) };
	struct udpc_flow_key key;
	struct udpc_flow saved, fl;
	struct run pr;
	struct parsed p;
	struct oflow *o;
	struct ocs *cs;
	enum kind kd = K_C_DGRAM;
	bool had, matched, last_made;
	uint32_t n_act, n_other, i, fi = fam == 4 ? UDPC_ACTIVE_V4 : UDPC_ACTIVE_V6;
	int ofam = fam == 4 ? 6 : 4, n_make = 0, k, make[UDPC_MAX_DESTS];
	unsigned int slot_of[UDPC_MAX_DESTS];
	static uint8_t conv[UDPC_MAX_DESTS][PKT_MAX];
	size_t len, n_plain = 0, conv_len[UDPC_MAX_DESTS];
	char kind[96];

	rep_reset();
	d.plen = rand_plen(fam, FRAME_MAX - HDR);
	if (chance(4)) {
		kd = K_C_BIG;
		d.plen = big_plen(fam);
	}
	if (chance(8)) {
		size_t l = PKT_ETH_LEN + (fam == 4 ? PKT_IP4_LEN : PKT_IP6_LEN) + PKT_UDP_LEN + d.plen;

		d.pad = l < 60 ? 60 - l : rn(8);
		if (l + d.pad + HDR > FRAME_MAX)
			d.pad = 0;
	}
	len = mk_dgram(&d, f);
	if (chance(3) && !d.pad && len + 8 + HDR <= FRAME_MAX) {
		kd = K_C_TRAILER;
		len = add_trailer(f, len);
	} else if (chance(12)) {
		kd = K_C_OTHER;
		if (chance(50)) {
			pkt_put16(f + l4_of(f) + 2, (uint16_t)(ep.listen + 1));
		} else if (fam == 4) {
			pkt_put16(f + PKT_ETH_LEN + 6, PKT_IP_MF);
			ip4_fix(f);
		} else {
			f[PKT_ETH_LEN + 6] = IPPROTO_TCP;
		}
	}
	st.kinds[kd]++;
	p = oracle_parse(f, len);
	matched = ep.enabled && p.c == C_UDP && p.dport == ep.listen;
	n_act = ep.n_slots[fi];
	if (!matched) {
		run(env.skel->progs.udpc_egress, f, len, &out_run);
		if (out_run.err)
			note("  BPF_PROG_TEST_RUN: %s\n", strerror(-out_run.err));
		else
			check_unchanged(&out_run, f, len);
		goto out;
	}

	/* The twin: the same frame with peer mode off, its flow put back after. */
	key = flow_key(fam, p.saddr, p.sport);
	had = !bpf_map_lookup_elem(fds.flows, &key, &saved);
	if (write_peer_cfg(0)) {
		note("  (test) cannot write udpc_peer_cfg\n");
		goto out;
	}
	run(env.skel->progs.udpc_egress, f, len, &pr);
	st.twins++;
	if (!pr.err && pr.verdict == TC_ACT_OK && n_act) {
		for (i = 0; i + 1 < n_act; i++) {
			plain_len[n_plain] = capture(plain[n_plain], "plain clone");
			if (!plain_len[n_plain])
				break;
			n_plain++;
		}
		memcpy(plain[n_plain], pr.out, pr.len);
		plain_len[n_plain++] = pr.len;
	}
	if (had)
		bpf_map_update_elem(fds.flows, &key, &saved, 0);
	else
		bpf_map_delete_elem(fds.flows, &key);
	if (write_peer_cfg(UDPC_PEER_CLIENT)) {
		note("  (test) cannot write udpc_peer_cfg\n");
		goto out;
	}
	if (pr.err || (n_act && (pr.verdict != TC_ACT_OK || n_plain != n_act))) {
		note("  (test) the plain twin run did not make %u copies (verdict %u, %zu)\n", n_act,
		     pr.verdict, n_plain);
		goto out;
	}

	run(env.skel->progs.udpc_egress, f, len, &out_run);
	if (out_run.err) {
		note("  BPF_PROG_TEST_RUN: %s\n", strerror(-out_run.err));
		goto out;
	}
	o = oflow_find(fam, p.saddr, p.sport);
	cs = o && o->sid ? ocs_find(o->sid) : NULL;
	if (bpf_map_lookup_elem(fds.flows, &key, &fl)) {
		note("  the flow is not in udpc_flows\n");
		goto out;
	}
	if (!cs) {
		/* A new session (the key's entry, if any, had none that lives). */
		if (n_ocs == MAX_FLOWS) {
			note("  (test) too many sessions\n");
			goto out;
		}
		if (!fl.session)
			note("  a new flow with session 0\n");
		if (ocs_find(fl.session))
			note("  a new flow with the session of another\n");
		cs = &ocs[n_ocs++];
		memset(cs, 0, offsetof(struct ocs, w));
		win_init(&cs->w);
		sg_init(&cs->rg);
		cs->sid = fl.session;
		want.sessions_new++;
	} else if (fl.session != cs->sid) {
		note("  the flow's session changed from %016" PRIx64 " to %016" PRIx64 "\n", cs->sid,
		     (uint64_t)fl.session);
		cs->sid = fl.session;
	}
	if (!oflow_set(fam, p.saddr, p.sport, fam, p.saddr, p.daddr, p.dport, cs->sid)) {
		note("  (test) too many flows\n");
		goto out;
	}
	n_other = ep.n_only[!fi];
	if (!n_act && !n_other) {
		want_shot(&out_run, NULL);
		goto out;
	}
	if (!want_encap(&out_run, len, &cs->tx_seq))
		goto out; /* plain mode sent them: nothing else may */

	/* The copies: first to the slots with an address of the datagram's family
	 * (plain mode's, the twin's), then to those with only one of the other: the
	 * packet changes family at the first of these, and each leaves from the
	 * attached interface's address of that family in udpc_uplinks[slot] (none:
	 * dropped, counted in down_drops), its flow remembered under that address. */
	for (i = 0; i < n_act; i++) {
		make[n_make] = (int)i;
		slot_of[n_make++] = ep.slots[fi][i];
	}
	for (i = 0; i < n_other; i++) {
		uint32_t sl = ep.only[!fi][i];
		const struct odest *dd = &ep.d[sl];
		const uint8_t *src = ofam == 4 ? ep.up[sl].a4 : ep.up[sl].a6;
		const uint8_t *dst = ofam == 4 ? dd->a4 : dd->a6;
		uint8_t tmp[PKT_MAX];
		size_t cl;

		if (!(ep.up[sl].flags & (ofam == 4 ? UDPC_UPLINK_SRC4 : UDPC_UPLINK_SRC6))) {
			ep.down_drops[sl]++;
			st.fam_c_down++;
			continue;
		}
		if (!oflow_set(ofam, src, p.sport, fam, p.saddr, p.daddr, p.dport, cs->sid)) {
			note("  (test) too many flows\n");
			goto out;
		}
		memcpy(tmp, f, len);
		set_ports(tmp, p.sport, dd->port);
		cl = to_family(tmp, len, ofam, src, dst, conv[n_make]);
		memcpy(conv[n_make], nh_mac(ofam, dst), 6);
		memcpy(conv[n_make] + 6, mac_v0, 6);
		if (ip_len_of(conv[n_make]) + HDR > MTU) {
			/* The route's MTU: bpf_fib_lookup() says "fragmentation needed". */
			ep.fib_errors[sl]++;
			st.fam_c_big++;
			continue;
		}
		st.fam_c_copies++;
		conv_len[n_make] = cl;
		make[n_make] = -1;
		slot_of[n_make++] = sl;
	}
	last_made = n_make && slot_of[n_make - 1] ==
				      (n_other ? ep.only[!fi][n_other - 1] : ep.slots[fi][n_act - 1]);
	check_verdict(&out_run, last_made ? TC_ACT_OK : TC_ACT_SHOT);
	for (k = 0; k < n_make; k++) {
		const uint8_t *c = out_run.out;
		size_t cl = out_run.len, dl;
		const uint8_t *w = make[k] >= 0 ? plain[make[k]] : conv[k];
		size_t wl = make[k] >= 0 ? plain_len[make[k]] : conv_len[k];
		struct phdr h;
		char what[96];

		snprintf(what, sizeof(what), "copy %d of %d (slot %u%s)", k + 1, n_make, slot_of[k],
			 make[k] >= 0 ? "" : ", changed family");
		if (k + 1 < n_make || !last_made) {
			cl = capture(cap, what);
			if (!cl)
				break;
			c = cap;
		}
		st.copies++;
		dl = unwrap(c, cl, 0, &h, dec);
		if (!dl) {
			note("  %s: does not decode\n", what);
			continue;
		}
		if (cmp_dgram(what, dec, dl, w, wl)) {
			char buf[12288];

			pkt_hexdump(buf, sizeof(buf), w, wl < 200 ? wl : 200, NULL, 0);
			note("  %s:\n%s\n", make[k] >= 0 ? "plain mode's copy" : "expected", buf);
		}
		check_encap(what, &h, slot_of[k], cs->tx_seq, cs->sid, c, f, p.l4,
			   "the datagram's");
	}
out:
	snprintf(kind, sizeof(kind), "%s", kind_names[kd]);
	finish(idx, "udpc_egress (peer client)", kind, f, len, &out_run, NULL, 0);
}

/* ---- client ingress ---- */

static void client_in_one(uint64_t idx)
{
	uint8_t app[PKT_MAX], f[PKT_MAX], exp[PKT_MAX];
	struct oflow *o = n_oflows ? &oflows[rn((uint32_t)n_oflows)] : NULL;
	struct ocs *cs, *fcs = NULL;
	int fam, slot = -1;
	uint32_t fi, nsl;
	const struct odest *dd;
	struct dg d = { .smac = mac_v1, .dmac = mac_v0 };
	struct phdr h = { .vt = VT_DATA, .path = (uint8_t)rn(UDPC_MAX_DESTS) };
	const char *how = "";
	enum kind kd = K_C_REPLY;
	struct oflow *fo = NULL;
	struct parsed p;
	struct phdr ph;
	size_t len, exp_len = 0;
	bool must_fail = false;
	char kind[128];
	enum verdict v;

	rep_reset();
	/* Half the time, a reply to a flow whose copy changed family, if any. */
	for (int tries = 0; o && !o->family && tries < 4 && chance(50); tries++)
		o = &oflows[rn((uint32_t)n_oflows)];
	cs = o ? ocs_find(o->sid) : NULL;
	if (!o || !cs || cs->diverged)
		return;
	fam = o->fam;
	fi = fam == 4 ? UDPC_ACTIVE_V4 : UDPC_ACTIVE_V6;
	nsl = ep.n_slots[fi];
	dd = nsl ? &ep.d[ep.slots[fi][rn(nsl)]] : NULL;
	if (!dd)
		return;
	d.fam = fam;
	d.csum = rand_csum(fam);
	d.sa = fam == 4 ? dd->a4 : dd->a6;
	d.sport = dd->port;
	d.da = o->a;
	d.dport = o->port;
	d.plen = rand_plen(fam, FRAME_MAX - HDR);
	h.seq = sg_pick(&cs->rg, &how);
	h.session = o->sid;
	if (chance(8)) {
		kd = K_C_REPLY_OTHER;
		if (chance(40))
			h.session = chance(50) || n_ocs < 2 ? rnd() : ocs[rn((uint32_t)n_ocs)].sid;
		else if (chance(50))
			d.sport = (uint16_t)(d.sport + 1);
		else
			d.dport = (uint16_t)(d.dport + 7);
	}
	len = wrap(app, mk_dgram(&d, app), &h, f);
	if (chance(12)) {
		size_t hdr = l4_of(f) + PKT_UDP_LEN;
		uint32_t r = rn(5);

		kd = K_C_REPLY_DAMAGED;
		if (r == 0)
			f[hdr] ^= (uint8_t)(1u << rn(8));
		else if (r == 1)
			f[hdr + 1] = (uint8_t)(UDPC_MAX_DESTS + rn(200));
		else if (r == 2)
			memset(f + hdr + 2, 0, 4);
		else if (r == 3 && len > hdr + HDR) {
			f[hdr + HDR + rn((uint32_t)(len - hdr - HDR))] ^= (uint8_t)(1u << rn(8));
			must_fail = true;
		} else {
			size_t k = rn(HDR + PKT_UDP_LEN);

			len = l4_of(f) + (k < PKT_UDP_LEN ? PKT_UDP_LEN : k);
			pkt_put16(f + l4_of(f) + 4, (uint16_t)(len - l4_of(f)));
			set_frame_len(f, len);
		}
	}
	st.kinds[kd]++;
	snprintf(kind, sizeof(kind), "%s, seq 0x%08x %s%s", kind_names[kd], h.seq, how,
		 o->family ? ", to a flow of the other family" : "");
	run(env.skel->progs.udpc_ingress, f, len, &out_run);
	if (out_run.err) {
		note("  BPF_PROG_TEST_RUN: %s\n", strerror(-out_run.err));
		goto out;
	}
	p = oracle_parse(f, len);
	if (ep.enabled && p.c == C_UDP) {
		for (uint32_t j = 0; j < ep.n_slots[fi] && slot < 0; j++) {
			const struct odest *x = &ep.d[ep.slots[fi][j]];

			if (x->port == p.sport && !memcmp(fam == 4 ? x->a4 : x->a6, p.saddr, alen(fam)))
				slot = ep.slots[fi][j];
		}
		if (slot >= 0)
			fo = oflow_find(fam, p.daddr, p.dport);
	}
	if (!fo) {
		st.passed++;
		check_unchanged(&out_run, f, len);
		goto out;
	}
	if (oracle_hdr(f, &p, &ph) || ph.vt == VT_KA) {
		want_shot(&out_run, &want.rx_malformed);
		goto out;
	}
	fcs = ph.session == fo->sid ? ocs_find(fo->sid) : NULL;
	if (!fcs) {
		want_shot(&out_run, &want.rx_unknown);
		goto out;
	}
	if (ph.vt == VT_ECHO) {
		/* The echo of a keepalive: taken by the program, never delivered. */
		want_shot(&out_run, &want.ka_rx);
		goto out;
	}
	v = win_judge(&fcs->w, ph.seq);
	if (v != V_NEW) {
		if (v == V_DUP)
			want.rx_duplicates++;
		else
			want.rx_late++;
		st.dropped++;
		if (out_run.verdict != TC_ACT_SHOT)
			note("  verdict %s, want SHOT: reply sequence number %u (0x%08x) is %s "
			     "(highest seen %" PRId64 ")\n", vname(out_run.verdict), ph.seq, ph.seq,
			     vnames[v], fcs->w.top);
		goto out;
	}
	want.rx_delivered++;
	st.delivered++;
	if (out_run.verdict != TC_ACT_OK) {
		note("  verdict %s, want OK: reply sequence number %u (0x%08x) is new (highest seen "
		     "now %" PRId64 ")\n", vname(out_run.verdict), ph.seq, ph.seq, fcs->w.top);
		goto out;
	}
	/* back in the client's family, from where it sent to, to it */
	exp_len = expect_delivered(f, len, &p, !fo->family, fo->cfam, fo->od, fo->client,
				   fo->odport, p.dport, exp);
	if (fo->family)
		st.fam_replies++;
	if (!exp_len)
		note("  (test) cannot decode the reply\n");
	else if (!cmp_dgram("mapped reply", out_run.out, out_run.len, exp, exp_len) && must_fail &&
		 ph.check && udp_residual(out_run.out) == 0)
		note("  the payload was damaged, yet the mapped reply's checksum verifies\n");
out:
	if (finish(idx, "udpc_ingress (peer client)", kind, f, len, &out_run, exp_len ? exp : NULL,
		   exp_len) && fcs)
		fcs->diverged = true;
}

/* ---- epochs ---- */

static void new_epoch(int n)
{
	static const uint16_t ports[] = { 5743, 51820, 1194, 53, 1, 65535 };

	memset(&ep, 0, sizeof(ep));
	memset(&want, 0, sizeof(want));
	n_osess = n_olabels = n_gsess = n_oflows = n_ocs = 0;
	ep.client = n % 3 == 2;
	ep.enabled = n < 3 || !chance(5);
	ep.listen = chance(70) ? ports[rn(ARRAY_SIZE(ports))] : (uint16_t)(1 + rn(65535));
	do
		ep.to = chance(50) ? 9999 : (uint16_t)(1 + rn(65535));
	while (ep.to == ep.listen);
	ep.path_live = n < 3 || chance(88);
	ep.sess_live = n < 3 || chance(75);
	if (ep.client) {
		/* The destinations' families: all IPv4 only, all IPv6 only, all both, or
		 * each its own. Copies to those of the other family only than a
		 * datagram's change family (docs/PEER.md). */
		int nd = 1 + (int)rn(4), mode = (int)rn(5);
		const uint8_t *a4 = pick(&a_att4), *a6 = pick(&a_att6);

		for (int i = 0; i < nd; i++) {
			struct odest *d = &ep.d[chance(50) ? rn(4) : rn(UDPC_MAX_DESTS)];
			uint32_t r = rn(100);

			d->used = true;
			d->has = mode == 0 ? 4 : mode == 1 ? 2 : mode == 2 ? 6 :
				 r < 30 ? 4 : r < 60 ? 2 : 6;
			memcpy(d->a4, pick(&a_dests4), 16);
			memcpy(d->a6, pick(&a_dests6), 16);
			d->port = (uint16_t)(9000 + rn(3));
		}
		/* The attached interface's addresses in udpc_uplinks: mostly both, the
		 * same for every slot; now and then one missing, or another one. */
		for (int i = 0; i < UDPC_MAX_DESTS; i++) {
			if (chance(80))
				ep.up[i].flags |= UDPC_UPLINK_SRC4;
			if (chance(80))
				ep.up[i].flags |= UDPC_UPLINK_SRC6;
			memcpy(ep.up[i].a4, chance(90) ? a4 : pick(&a_att4), 16);
			memcpy(ep.up[i].a6, chance(90) ? a6 : pick(&a_att6), 16);
		}
	}
}

/* End of an epoch: counters, maps, and nothing stray on veth1. */
static void check_epoch(int n)
{
	struct udpc_flow_key k, nk;
	uint64_t id, nid;
	int stray, in_map = 0, err, i;

	rep_reset();
	stray = capture_drain(20);
	if (stray)
		note("  %d frame(s) on veth1 that no copy explains\n", stray);
	compare_stats();
	if (ep.client) {
		for (err = bpf_map_get_next_key(fds.flows, NULL, &k); !err;
		     err = bpf_map_get_next_key(fds.flows, &k, &nk), k = nk) {
			struct udpc_flow fv;
			struct oflow *o = oflow_find(k.family == UDPC_AF_INET ? 4 : 6,
						     (const uint8_t *)k.addr.w, ntohs(k.port));

			in_map++;
			if (!o || bpf_map_lookup_elem(fds.flows, &k, &fv) || fv.session != o->sid)
				note("  udpc_flows: a flow the oracle does not know, or its session\n");
			else if (fv.family != (!o->family ? 0 : o->family == 4 ? UDPC_AF_INET
										: UDPC_AF_INET6) ||
				 memcmp(fv.client.w, o->client, 16) ||
				 memcmp(fv.orig_daddr.w, o->od, 16) || ntohs(fv.orig_dport) != o->odport)
				note("  udpc_flows: the flow of IPv%d %s port %u: family %u, want %d (client, "
				     "where it sent to)\n", o->fam, o->family ? "(changed family)" : "",
				     o->port, fv.family, o->family);
		}
		if (in_map != n_oflows)
			note("  udpc_flows: %d flows, want %d\n", in_map, n_oflows);
		in_map = 0;
		for (err = bpf_map_get_next_key(fds.sessions, NULL, &id); !err;
		     err = bpf_map_get_next_key(fds.sessions, &id, &nid), id = nid)
			in_map++;
		if (in_map != n_ocs)
			note("  udpc_sessions: %d sessions, want %d\n", in_map, n_ocs);
		for (uint32_t sl = 0; sl < UDPC_MAX_DESTS; sl++) {
			struct udpc_dest_stats per[64];
			uint64_t dd = 0, fe = 0;

			if (env.ncpus > 64 || bpf_map_lookup_elem(fds.dest_stats, &sl, per))
				continue;
			for (int c = 0; c < env.ncpus; c++) {
				dd += per[c].down_drops;
				fe += per[c].fib_errors;
			}
			if (dd != ep.down_drops[sl] || fe != ep.fib_errors[sl])
				note("  udpc_dest_stats[%u]: down_drops %" PRIu64 ", fib_errors %" PRIu64
				     "; want %" PRIu64 ", %" PRIu64 "\n", sl, dd, fe, ep.down_drops[sl],
				     ep.fib_errors[sl]);
		}
	} else {
		for (err = bpf_map_get_next_key(fds.sessions, NULL, &id); !err;
		     err = bpf_map_get_next_key(fds.sessions, &id, &nid), id = nid) {
			struct udpc_session *s = calloc(1, sizeof(*s));
			struct osess *o = osess_find(id);

			in_map++;
			if (!s || bpf_map_lookup_elem(fds.sessions, &id, s) || !o) {
				note("  udpc_sessions: session %016" PRIx64 " the oracle does not know\n", id);
			} else if (s->family != (o->fam == 4 ? UDPC_AF_INET : UDPC_AF_INET6) ||
				   memcmp(s->label.w, o->label, 16) || ntohs(s->label_port) != o->lport ||
				   memcmp(s->local.w, o->local, 16)) {
				note("  udpc_sessions: session %016" PRIx64 " has another label or local\n", id);
			} else {
				for (i = 0; i < UDPC_MAX_DESTS; i++)
					if (!!(s->path[i].flags & UDPC_PATH_SEEN) != o->path[i].seen ||
					    (o->path[i].seen &&
					     (s->path[i].family != (o->path[i].fam == 4 ? UDPC_AF_INET
											: UDPC_AF_INET6) ||
					      memcmp(s->path[i].addr.w, o->path[i].addr, 16) ||
					      memcmp(s->path[i].local.w, o->path[i].local, 16) ||
					      ntohs(s->path[i].port) != o->path[i].port)))
						note("  udpc_sessions: session %016" PRIx64
						     " path %d is not where the oracle has it\n", id, i);
			}
			free(s);
		}
		if (in_map != n_osess)
			note("  udpc_sessions: %d sessions, want %d\n", in_map, n_osess);
		in_map = 0;
		for (err = bpf_map_get_next_key(fds.labels, NULL, &k); !err;
		     err = bpf_map_get_next_key(fds.labels, &k, &nk), k = nk) {
			struct olabel *l = olabel_find(k.family == UDPC_AF_INET ? 4 : 6,
						       (const uint8_t *)k.addr.w, ntohs(k.port));

			in_map++;
			if (!l || bpf_map_lookup_elem(fds.labels, &k, &id) || id != l->id)
				note("  udpc_labels: a label the oracle does not know, or its session\n");
		}
		if (in_map != n_olabels)
			note("  udpc_labels: %d labels, want %d\n", in_map, n_olabels);
	}
	if (rep.n) {
		st.failures++;
		if (st.failures <= MAX_DETAILS)
			fprintf(stderr, "FAIL seed 0x%" PRIx64 " at the end of epoch %d (%s):\n%s", seed, n,
				ep.client ? "client" : "server", rep.buf);
	}
}

/* ---- fixed cases, found by this fuzzer: kept whatever the seed ---- */

static void known_fail(const char *what, const uint8_t *f, size_t len, const struct run *r)
{
	st.failures++;
	fprintf(stderr, "FAIL known case: %s:\n%s", what, rep.buf);
	dump("input", f, len, NULL, 0);
	if (r && !r->err)
		dump("output", r->out, r->len, f, len);
}

/*
 * 1. Server window: a sequence number 2^31 away from the highest seen (here
 *    0x80000001 after 1) is far behind it (more than UDPC_PEER_RESYNC): the window
 *    resynchronises to it, and back to 2 after it, so the session never wedges
 *    (it once did: widened below zero, such a number became the highest for
 *    good). 2 again is a duplicate; 2000 behind 3 is late.
 * 2. Server egress: a reply whose IP packet is longer than its UDP datagram (4
 *    bytes after it, inside the IP length: legal, the receiver trims them) gets a
 *    copy whose outer checksum verifies, as the reply's did.
 * 3. Server egress, a session with an IPv4 path (0) and an IPv6 one (1): an IPv4
 *    reply whose copy fits the interface's MTU (1500) with the peer header (IP
 *    length 1476 + 16 = 1492) is not sent as an IPv6 copy 20 bytes bigger (1512)
 *    than the MTU. The too-big check (bpf_check_mtu() with the header's 16 bytes,
 *    peer_out()) is made before the family change that adds 20: the copy by the
 *    IPv6 path leaves over the MTU (the packet itself here, TC_ACT_OK; as a clone
 *    to veth1 it is dropped by veth and never arrives), counted as sent in the
 *    path's tx_packets. The client's copies that change family do not have this
 *    fault: their bpf_fib_lookup() checks the length after the change (dropped,
 *    fib_errors). Found by this fuzzer's mixed-family server sessions; it keeps
 *    away from those sizes until this is settled.
 */
static void known_cases(void)
{
	static const struct {
		uint32_t seq, verdict;
	} steps[] = { { 1, TC_ACT_OK },	  { 0x80000001, TC_ACT_OK }, { 2, TC_ACT_OK },
		      { 3, TC_ACT_OK },	  { 2, TC_ACT_SHOT },	     { 3 - 2000, TC_ACT_SHOT },
		      { 4, TC_ACT_OK } };
	struct gsess g = { .id = 0x1122334455667788ULL, .fam = 4, .pfam = { 4 }, .n_paths = 1 };
	uint8_t f[PKT_MAX];
	size_t len, i;

	memset(&ep, 0, sizeof(ep));
	ep.enabled = ep.path_live = ep.sess_live = true;
	ep.listen = 5743;
	ep.to = 9999;
	if (write_epoch()) {
		fprintf(stderr, "test_fuzz_peer: cannot write the maps\n");
		st.failures++;
		return;
	}
	memcpy(g.src[0].addr, a_rem4.a[0], 16);
	memcpy(g.src[0].local, a_srv4.a[0], 16);
	g.src[0].port = 40000;
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		rep_reset();
		len = mk_copy(&g, 0, steps[i].seq, 8, CS_VALID, 0, f);
		run(env.skel->progs.udpc_serve_ingress, f, len, &out_run);
		if (out_run.err)
			note("  BPF_PROG_TEST_RUN: %s\n", strerror(-out_run.err));
		else if (out_run.verdict != steps[i].verdict)
			note("  verdict %s, want %s\n", vname(out_run.verdict), vname(steps[i].verdict));
		if (rep.n) {
			char what[160];

			snprintf(what, sizeof(what), "1, server window: copies of session %016" PRIx64
				 " (seq 1, 0x80000001, 2, 3, 2, 3 - 2000, 4), this one seq 0x%08x", g.id, steps[i].seq);
			known_fail(what, f, len, &out_run);
			break;
		}
	}

	/* A reply from --to to the session's label, 4 bytes after its datagram. */
	{
		struct dg d = { .fam = 4, .smac = mac_v0, .dmac = mac_v1, .sa = a_srv4.a[0],
				.da = a_rem4.a[0], .sport = 9999, .dport = 40000, .plen = 8 };
		size_t l4 = PKT_ETH_LEN + PKT_IP4_LEN;

		rep_reset();
		len = mk_dgram(&d, f);
		memcpy(f + len, "\x01\x02\x03\x04", 4);
		len += 4;
		put_ip_len(f, len - PKT_ETH_LEN);
		ip4_fix(f);
		capture_drain(5);
		run(env.skel->progs.udpc_serve_egress, f, len, &out_run);
		if (out_run.err)
			note("  BPF_PROG_TEST_RUN: %s\n", strerror(-out_run.err));
		else if (out_run.verdict != TC_ACT_OK || out_run.len != len + HDR)
			note("  verdict %s, %u bytes; want OK, %zu\n", vname(out_run.verdict),
			     out_run.len, len + HDR);
		else if (udp_residual(out_run.out))
			note("  the copy's outer UDP checksum 0x%04x does not verify (residual 0x%04x;"
			     " the reply's verifies)\n", pkt_get16(out_run.out + l4 + 6),
			     udp_residual(out_run.out));
		if (rep.n)
			known_fail("2, server egress: a reply with 4 bytes after its UDP datagram "
				   "inside the IP packet", f, len, &out_run);
	}

	/* A session by an IPv4 path and an IPv6 one; an IPv4 reply of IP length 1476. */
	{
		struct gsess g3 = { .id = 0x2233445566778899ULL, .fam = 4, .pfam = { 4, 6 },
				    .n_paths = 2, .ids = { 0, 1 } };
		struct dg d = { .fam = 4, .smac = mac_v0, .dmac = mac_v1, .sa = a_srv4.a[0],
				.da = a_rem4.a[1], .sport = 9999, .dport = 40002,
				.plen = 1476 - PKT_IP4_LEN - PKT_UDP_LEN };
		uint8_t cap[PKT_MAX];
		int cn;

		memcpy(g3.src[0].addr, a_rem4.a[1], 16);
		memcpy(g3.src[0].local, a_srv4.a[0], 16);
		g3.src[0].port = 40002;
		memcpy(g3.src[1].addr, a_rem6.a[0], 16);
		memcpy(g3.src[1].local, a_srv6.a[0], 16);
		g3.src[1].port = 40003;
		rep_reset();
		for (i = 0; i < 2 && !rep.n; i++) {
			len = mk_copy(&g3, (int)i, (uint32_t)i + 1, 8, CS_VALID, 0, f);
			run(env.skel->progs.udpc_serve_ingress, f, len, &out_run);
			if (out_run.err || out_run.verdict != TC_ACT_OK)
				note("  (setup) copy %zu by path %zu: verdict %s, want OK\n", i + 1, i,
				     vname(out_run.verdict));
		}
		if (!rep.n) {
			len = mk_dgram(&d, f);
			capture_drain(5);
			run(env.skel->progs.udpc_serve_egress, f, len, &out_run);
			cn = capture_next(cap, sizeof(cap), 1000, NULL);
			if (out_run.err)
				note("  BPF_PROG_TEST_RUN: %s\n", strerror(-out_run.err));
			if (cn != (int)(len + HDR))
				note("  the copy by the IPv4 path: %d bytes, want %zu\n", cn, len + HDR);
			if (!out_run.err && out_run.verdict == TC_ACT_OK &&
			    out_run.len > PKT_ETH_LEN + MTU)
				note("  the copy by the IPv6 path leaves with IP length %u, over the MTU "
				     "(%d): verdict OK, want it not sent (dropped, counted)\n",
				     out_run.len - PKT_ETH_LEN, MTU);
			capture_drain(5);
		}
		if (rep.n)
			known_fail("3, server egress: a reply that fits the MTU in IPv4, copied "
				   "by an IPv6 path 20 bytes over it", f, len, &out_run);
	}
}

/* ---- main ---- */

static int parse_addrs(struct addrs *a, int fam)
{
	for (size_t i = 0; i < a->n; i++) {
		memset(a->a[i], 0, 16);
		if (inet_pton(fam == 4 ? AF_INET : AF_INET6, a->s[i], a->a[i]) != 1)
			return -1;
	}
	return 0;
}

static int setup(void)
{
	if (parse_addrs(&a_dests4, 4) || parse_addrs(&a_dests6, 6) || parse_addrs(&a_cli4, 4) ||
	    parse_addrs(&a_cli6, 6) || parse_addrs(&a_srv4, 4) || parse_addrs(&a_srv6, 6) ||
	    parse_addrs(&a_rem4, 4) || parse_addrs(&a_rem6, 6) || parse_addrs(&a_att4, 4) ||
	    parse_addrs(&a_att6, 6) || pkt_parse_mac(MAC_V0, mac_v0) ||
	    pkt_parse_mac(MAC_V1, mac_v1))
		return -1;
	for (size_t i = 0; i < 3; i++)
		if (pkt_parse_mac(dest_macs4[i], macs4[i]) || pkt_parse_mac(dest_macs6[i], macs6[i]))
			return -1;
	if (env_setup("udpc-fuzz-peer", net_cmds, ARRAY_SIZE(net_cmds)))
		return -1;
	fds.config = bpf_map__fd(env.skel->maps.udpc_config);
	fds.peer_cfg = bpf_map__fd(env.skel->maps.udpc_peer_cfg);
	fds.peer_stats = bpf_map__fd(env.skel->maps.udpc_peer_stats);
	fds.sessions = bpf_map__fd(env.skel->maps.udpc_sessions);
	fds.labels = bpf_map__fd(env.skel->maps.udpc_labels);
	fds.flows = bpf_map__fd(env.skel->maps.udpc_flows);
	fds.dests = bpf_map__fd(env.skel->maps.udpc_dests);
	fds.active = bpf_map__fd(env.skel->maps.udpc_active);
	fds.uplinks = bpf_map__fd(env.skel->maps.udpc_uplinks);
	fds.dest_stats = bpf_map__fd(env.skel->maps.udpc_dest_stats);
	return 0;
}

int main(void)
{
	uint64_t frames, idx = 0;
	int64_t t0;
	int epoch = 0, rc;

	rc = fuzz_begin("test_fuzz_peer", DEFAULT_SEED, DEFAULT_FRAMES, &seed, &frames);
	if (rc)
		return rc;
	if (setup()) {
		fprintf(stderr, "test_fuzz_peer: setup failed\n");
		env_teardown();
		return 1;
	}
	t0 = now_ns();
	known_cases();
	rng = seed;
	while (idx < frames) {
		uint64_t end;
		bool swept = false;

		new_epoch(epoch);
		if (write_epoch()) {
			fprintf(stderr, "test_fuzz_peer: cannot write the maps\n");
			env_teardown();
			return 1;
		}
		end = idx + EPOCH_FRAMES < frames ? idx + EPOCH_FRAMES : frames;
		while (idx < end) {
			uint32_t r = rn(100);

			if (ep.client) {
				if (r < 3) {
					uint8_t f[PKT_MAX];
					struct gsess *g = gsess_pick();
					size_t len = mk_copy(g, 0, 1, rn(40), CS_VALID, 0, f);

					st.kinds[K_CROSS]++;
					serve_in_one(idx++, f, len, kind_names[K_CROSS], false);
				} else if (r < 58 || !n_oflows) {
					client_out_one(idx++);
				} else {
					client_in_one(idx++);
				}
				continue;
			}
			if (!swept && end - idx < EPOCH_FRAMES / 2 && end - idx > 200) {
				swept = true;
				idx += sweep(idx, end);
			} else if (r < 50) {
				idx += gen_datagram(idx, end);
			} else if (r < 75) {
				gen_damaged(idx++);
			} else {
				serve_out_one(idx++);
			}
		}
		check_epoch(epoch);
		epoch++;
	}
	st.frames = idx;
	printf("test_fuzz_peer: %" PRIu64 " frames in %d epochs, %.2f s: delivered %" PRIu64
	       ", dropped %" PRIu64 ", passed untouched %" PRIu64 ", copies checked %" PRIu64
	       " (%" PRIu64 " clones), plain twin runs %" PRIu64 ", refused by the test run %" PRIu64
	       "\n", st.frames, epoch, (double)(now_ns() - t0) / 1e9, st.delivered, st.dropped,
	       st.passed, st.copies, st.clones, st.twins, st.refused);
	fuzz_kinds("test_fuzz_peer", kind_names, st.kinds, K_NKINDS);
	printf("test_fuzz_peer: family changes: server deliveries %" PRIu64 ", server copies with a "
	       "fresh header %" PRIu64 " (%" PRIu64 " after changing back), client copies %" PRIu64
	       " (dropped: %" PRIu64 " without an address, %" PRIu64 " too big for the route), "
	       "mapped replies %" PRIu64 "\n", st.fam_delivered, st.fam_copies, st.fam_twice,
	       st.fam_c_copies, st.fam_c_down, st.fam_c_big, st.fam_replies);
	env_teardown();
	return fuzz_result("test_fuzz_peer", st.failures, seed, frames);
}
