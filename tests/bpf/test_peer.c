// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Peer mode's data path (docs/PEER.md) through BPF_PROG_TEST_RUN: the header added
 * by udpc_egress and udpc_serve_egress and taken off by udpc_serve_ingress and
 * udpc_ingress, byte for byte; the duplicate window's edges; sessions, labels and
 * paths; malformed headers.
 *
 * Expected frames come from this file's own encoder (peer_wrap), written from the
 * protocol description with RFC 1071 sums over whole buffers, never from the
 * incremental arithmetic the programs use.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
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

#define LISTEN 5743
#define TO_PORT 9999
#define PAYLOAD "peer mode payload, odd length"

/* The veth pair and one destination on its link, 198.51.100.1 and 2001:db8:1::10
 * (tests/bpf/env.h). */
static const char *const net_cmds[] = {
	ENV_NET_VETH,
	"ip route add 198.51.100.0/24 dev veth0",
	"ip neigh add 198.51.100.1 lladdr " MAC_A " dev veth0 nud permanent",
	"ip -6 neigh add 2001:db8:1::10 lladdr " MAC_A6 " dev veth0 nud permanent",
};

/* ---- this file's own encoder ---- */

struct hdr_spec {
	uint8_t ver_type;	/* 0: version 1, data */
	uint8_t path;
	uint32_t seq;
	uint64_t session;
};

static size_t l3_len_of(const uint8_t *f)
{
	return pkt_get16(f + 12) == 0x0800 ? (size_t)(f[PKT_ETH_LEN] & 0xf) * 4 : PKT_IP6_LEN;
}

/* Set the IP length fields of frame f to make its L3 packet ip_len bytes. */
static void set_ip_len(uint8_t *f, size_t ip_len)
{
	uint8_t *ip = f + PKT_ETH_LEN;

	if (pkt_get16(f + 12) == 0x0800) {
		pkt_put16(ip + 2, (uint16_t)ip_len);
		pkt_put16(ip + 10, 0);
		pkt_put16(ip + 10, pkt_csum_fold(pkt_csum_add(0, ip, l3_len_of(f))));
	} else {
		pkt_put16(ip + 4, (uint16_t)(ip_len - PKT_IP6_LEN));
	}
}

/*
 * The frame `app` (a UDP datagram with a valid or zero checksum) as a copy in peer
 * mode: 16 header bytes after the UDP header, the datagram's checksum carried in
 * the header over header bytes 8-15 and the payload with a pseudo-header of
 * protocol and length, the outer checksum over everything. Returns the length.
 */
static size_t peer_wrap(const uint8_t *app, size_t len, const struct hdr_spec *h, uint8_t *out)
{
	size_t l3 = PKT_ETH_LEN + l3_len_of(app), pay = l3 + PKT_UDP_LEN;
	uint16_t ulen = pkt_get16(app + l3 + 4), carried = 0;
	uint8_t *hdr = out + pay;
	uint64_t sum;

	memcpy(out, app, pay);
	memcpy(out + pay + UDPC_PEER_HDR_LEN, app + pay, len - pay);
	hdr[0] = h->ver_type ? h->ver_type : UDPC_PEER_VT(UDPC_PEER_T_DATA);
	hdr[1] = h->path;
	hdr[2] = h->seq >> 24;
	hdr[3] = h->seq >> 16;
	hdr[4] = h->seq >> 8;
	hdr[5] = h->seq;
	memcpy(hdr + 6, &h->session, 8);
	if (pkt_get16(app + l3 + 6)) {
		sum = IPPROTO_UDP + ulen;
		sum = pkt_csum_add(sum, hdr + 8, 6);
		sum = pkt_csum_add(sum, app + pay, len - pay);
		carried = pkt_csum_fold(sum);
		if (!carried)
			carried = 0xffff;
	}
	pkt_put16(hdr + 14, carried);
	pkt_put16(out + l3 + 4, ulen + UDPC_PEER_HDR_LEN);
	set_ip_len(out, len + UDPC_PEER_HDR_LEN - PKT_ETH_LEN);
	pkt_put16(out + l3 + 6, 0);
	if (carried) {
		const uint8_t *ip = out + PKT_ETH_LEN;
		int v4 = pkt_get16(out + 12) == 0x0800;
		uint16_t ck;

		sum = pkt_pseudo_sum(v4 ? PKT_IPV4 : PKT_IPV6, v4 ? ip + 12 : ip + 8,
				     v4 ? ip + 16 : ip + 24, IPPROTO_UDP, ulen + UDPC_PEER_HDR_LEN);
		ck = pkt_csum_fold(pkt_csum_add(sum, out + l3, ulen + UDPC_PEER_HDR_LEN));
		pkt_put16(out + l3 + 6, ck ? ck : 0xffff);
	}
	return len + UDPC_PEER_HDR_LEN;
}

/*
 * A keepalive or echo frame: the peer header of h (its type included) and payload
 * ka after the UDP header, no carried checksum, the outer checksum over it all.
 */
static size_t ka_frame(int fam, const char *smac, const char *dmac, const char *src,
		       uint16_t sport, const char *dst, uint16_t dport, const struct hdr_spec *h,
		       const struct udpc_peer_ka *ka, uint8_t *out)
{
	struct pkt_spec s = { .family = fam, .smac = smac, .dmac = dmac, .saddr = src,
			      .daddr = dst, .sport = sport, .dport = dport,
			      .payload = (const char *)ka, .payload_len = sizeof(*ka),
			      .udp_csum_zero = true };
	uint8_t app[PKT_MAX];
	int n = pkt_build(&s, app, sizeof(app));
	size_t len, l3;
	uint16_t ck;

	assert_true(n > 0);
	len = peer_wrap(app, (size_t)n, h, out);
	l3 = PKT_ETH_LEN + l3_len_of(out);
	pkt_put16(out + l3 + 6, 0);
	{
		const uint8_t *ip = out + PKT_ETH_LEN;
		int v4 = fam == PKT_IPV4;
		uint16_t ulen = pkt_get16(out + l3 + 4);
		uint64_t sum = pkt_pseudo_sum(fam, v4 ? ip + 12 : ip + 8, v4 ? ip + 16 : ip + 24,
					      IPPROTO_UDP, ulen);

		ck = pkt_csum_fold(pkt_csum_add(sum, out + l3, ulen));
		pkt_put16(out + l3 + 6, ck ? ck : 0xffff);
	}
	return len;
}

static struct udpc_peer_ka ka_of(uint64_t stamp, uint64_t rtt, uint64_t rx, uint64_t first,
				 uint64_t sf, uint64_t sl)
{
	return (struct udpc_peer_ka){ .stamp_ns = htobe64(stamp), .rtt_ns = htobe64(rtt),
				      .rx_packets = htobe64(rx), .rx_first = htobe64(first),
				      .seq_first = htobe64(sf), .seq_last = htobe64(sl) };
}

/* ---- maps ---- */

static int fd_of(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static void addr_from(struct udpc_addr *a, int family, const char *s)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(pkt_parse_addr(family, s, (uint8_t *)a->w), 0);
}

static void flush(struct bpf_map *m, size_t key_size)
{
	uint8_t k[64];

	assert_true(key_size <= sizeof(k));
	while (!bpf_map_get_next_key(fd_of(m), NULL, k))
		assert_int_equal(bpf_map_delete_elem(fd_of(m), k), 0);
}

/* A clean slate: no sessions, labels or flows, zero counters, the given mode. */
static void setup_mode(uint32_t peer_flags, uint64_t path_timeout_ns)
{
	struct udpc_config cfg = {
		.flags = UDPC_CFG_ENABLED,
		.listen_port = htons(LISTEN),
		.l2_len = 14,
		.flow_timeout_ns = 60 * NSEC,
		.ifindex = (uint32_t)env.veth0,
	};
	struct udpc_peer_cfg pc = {
		.flags = peer_flags,
		.to_port = htons(TO_PORT),
		.path_timeout_ns = path_timeout_ns,
		.session_timeout_ns = 180 * NSEC,
	};
	size_t sz = (size_t)env.ncpus * sizeof(struct udpc_peer_stats);
	void *zeros = calloc(1, sz);
	uint32_t zero = 0;

	assert_non_null(zeros);
	assert_int_equal(bpf_map_update_elem(fd_of(env.skel->maps.udpc_config), &zero, &cfg, 0), 0);
	assert_int_equal(bpf_map_update_elem(fd_of(env.skel->maps.udpc_peer_cfg), &zero, &pc, 0), 0);
	assert_int_equal(bpf_map_update_elem(fd_of(env.skel->maps.udpc_peer_stats), &zero, zeros, 0),
			 0);
	free(zeros);
	flush(env.skel->maps.udpc_sessions, sizeof(__u64));
	flush(env.skel->maps.udpc_labels, sizeof(struct udpc_flow_key));
	flush(env.skel->maps.udpc_flows, sizeof(struct udpc_flow_key));
}

static struct udpc_peer_stats stats(void)
{
	struct udpc_peer_stats *per = calloc((size_t)env.ncpus, sizeof(*per)), sum = {};
	uint32_t zero = 0;
	int c;

	assert_non_null(per);
	assert_int_equal(bpf_map_lookup_elem(fd_of(env.skel->maps.udpc_peer_stats), &zero, per), 0);
	for (c = 0; c < env.ncpus; c++) {
		__u64 *d = (__u64 *)&sum, *s = (__u64 *)&per[c];
		size_t i;

		for (i = 0; i < sizeof(sum) / sizeof(__u64); i++)
			d[i] += s[i];
	}
	free(per);
	return sum;
}

static struct udpc_session *session_get(uint64_t id)
{
	struct udpc_session *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	if (bpf_map_lookup_elem(fd_of(env.skel->maps.udpc_sessions), &id, s)) {
		free(s);
		return NULL;
	}
	return s;
}

/* The sequence number session id's next reply carries (its start is random). */
static uint32_t next_tx_seq(uint64_t id)
{
	struct udpc_session *s = session_get(id);
	uint32_t seq;

	assert_non_null(s);
	seq = (uint32_t)s->tx_seq + 1;
	free(s);
	return seq ? seq : 1;
}

/* ---- running the programs ---- */

struct run {
	uint32_t verdict;
	uint32_t len;
	uint8_t out[PKT_MAX];
};

static struct run run_prog(struct bpf_program *prog, const uint8_t *in, size_t in_len)
{
	struct __sk_buff ctx = { .ifindex = (uint32_t)env.veth0 };
	struct run r = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)in_len,
		    .data_out = r.out, .data_size_out = sizeof(r.out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), 0);
	r.verdict = opts.retval;
	r.len = opts.data_size_out;
	return r;
}

static void assert_frame(const char *what, const uint8_t *got, size_t got_len,
			 const uint8_t *want, size_t want_len)
{
	char why[128] = "", dump[8192];

	if (got_len == want_len && !memcmp(got, want, want_len))
		return;
	pkt_hexdump(dump, sizeof(dump), got, got_len, want, want_len);
	print_error("%s: frame differs (got %zu bytes, want %zu)\n%s\n", what, got_len, want_len,
		    dump);
	pkt_hexdump(dump, sizeof(dump), want, want_len, want, want_len);
	print_error("want:\n%s\n", dump);
	if (pkt_verify_csums(got, got_len, why, sizeof(why)))
		print_error("and its checksums: %s\n", why);
	fail();
}

static size_t build(const struct pkt_spec *s, uint8_t *buf)
{
	int len = pkt_build(s, buf, PKT_MAX);

	assert_true(len > 0);
	return (size_t)len;
}

/* A datagram of family fam (PKT_IPV4/6) from src:sport to dst:dport. */
static size_t dgram(int fam, const char *smac, const char *dmac, const char *src, uint16_t sport,
		    const char *dst, uint16_t dport, bool no_csum, uint8_t *buf)
{
	struct pkt_spec s = { .family = fam, .smac = smac, .dmac = dmac, .saddr = src,
			      .daddr = dst, .sport = sport, .dport = dport, .payload = PAYLOAD,
			      .udp_csum_zero = no_csum };

	return build(&s, buf);
}

/* An IPv4 frame as set_family() writes its header: id 0, don't fragment. */
static void as_converted_v4(uint8_t *f)
{
	uint8_t *ip = f + PKT_ETH_LEN;

	pkt_put16(ip + 4, 0);
	pkt_put16(ip + 6, 0x4000);
	pkt_put16(ip + 10, 0);
	pkt_put16(ip + 10, pkt_csum_fold(pkt_csum_add(0, ip, PKT_IP4_LEN)));
}

/* ---- server ingress ---- */

#define SRV4 "192.0.2.1"
#define CLI4 "203.0.113.7"
#define NAT4 "198.51.100.7"
#define SESSION 0x1122334455667788ULL

/* A copy from src:sport to the server's listen port, with the given header. */
static size_t copy_in(int fam, const char *src, uint16_t sport, const char *dst,
		      const struct hdr_spec *h, bool no_csum, uint8_t *out)
{
	uint8_t app[PKT_MAX];
	size_t n = dgram(fam, MAC_V1, MAC_V0, src, sport, dst, LISTEN, no_csum, app);

	return peer_wrap(app, n, h, out);
}

/* Feed one copy to udpc_serve_ingress; if it must be delivered, it must come out
 * as the datagram from label:lport to dst:TO_PORT. */
static void serve_in(int fam, const char *src, uint16_t sport, const char *dst, struct hdr_spec h,
		     const char *label, uint16_t lport, uint32_t want_verdict)
{
	uint8_t in[PKT_MAX], want[PKT_MAX];
	size_t n = copy_in(fam, src, sport, dst, &h, false, in), wn;
	struct run r = run_prog(env.skel->progs.udpc_serve_ingress, in, n);
	char what[96];

	snprintf(what, sizeof(what), "seq %u by path %u from %s:%u", h.seq, h.path, src, sport);
	if (r.verdict != want_verdict)
		fail_msg("%s: verdict %u, want %u", what, r.verdict, want_verdict);
	if (want_verdict != TC_ACT_OK)
		return;
	wn = dgram(fam, MAC_V1, MAC_V0, label, lport, dst, TO_PORT, false, want);
	assert_frame(what, r.out, r.len, want, wn);
}

static void test_serve_deliver_once(void **state)
{
	struct hdr_spec h = { .path = 0, .seq = 1, .session = SESSION };
	struct udpc_peer_stats st;
	struct udpc_session *s;

	setup_mode(UDPC_PEER_SERVER, 10 * NSEC);
	/* The first copy makes the session; its source is the session's label. */
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	/* The same datagram by path 1, through a NAT: a duplicate. */
	h.path = 1;
	serve_in(PKT_IPV4, NAT4, 40001, SRV4, h, NULL, 0, TC_ACT_SHOT);
	/* The next one comes first by path 1: delivered from the label all the same. */
	h.seq = 3;
	serve_in(PKT_IPV4, NAT4, 40001, SRV4, h, CLI4, 40000, TC_ACT_OK);
	/* Reordered inside the window: delivered at once; then its duplicate. */
	h.seq = 2;
	h.path = 0;
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, NULL, 0, TC_ACT_SHOT);

	st = stats();
	assert_int_equal(st.rx_delivered, 3);
	assert_int_equal(st.rx_duplicates, 2);
	assert_int_equal(st.sessions_new, 1);
	assert_int_equal(st.path_moves, 0);
	s = session_get(SESSION);
	assert_non_null(s);
	assert_int_equal(s->path[0].rx_packets, 3);
	assert_int_equal(s->path[0].rx_first, 2);
	assert_int_equal(s->path[1].rx_packets, 2);
	assert_int_equal(s->path[1].rx_first, 1);
	assert_true(s->path[1].flags & UDPC_PATH_SEEN);
	assert_int_equal(ntohs(s->path[1].port), 40001);
	assert_int_equal(s->path[0].seq_first, UDPC_PEER_SEQ_BIAS + 1);
	assert_int_equal(s->path[0].seq_last, UDPC_PEER_SEQ_BIAS + 2);
	assert_int_equal(s->rx_top, UDPC_PEER_SEQ_BIAS + 3);
	free(s);
}

static void test_serve_window_edges(void **state)
{
	struct hdr_spec h = { .seq = 1, .session = SESSION };
	struct udpc_peer_stats st;
	uint32_t seq;

	setup_mode(UDPC_PEER_SERVER, 10 * NSEC);
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	/* A long gap forward; the copy left behind is now older than the window. */
	h.seq = 1 + UDPC_PEER_WINDOW + 5;
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	h.seq = 5;
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, NULL, 0, TC_ACT_SHOT);
	/* The oldest number still inside: delivered once. */
	h.seq = 1 + 5 + 1;
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, NULL, 0, TC_ACT_SHOT);
	st = stats();
	assert_int_equal(st.rx_late, 1);
	assert_int_equal(st.rx_duplicates, 1);

	/* Crossing the window many times, each number once, every tenth twice. */
	for (seq = 2000; seq < 2000 + 5 * UDPC_PEER_WINDOW; seq++) {
		h.seq = seq;
		serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
		if (seq % 10 == 0)
			serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, NULL, 0, TC_ACT_SHOT);
	}
	st = stats();
	assert_int_equal(st.rx_delivered, 3 + 5 * UDPC_PEER_WINDOW);
	assert_int_equal(st.rx_duplicates, 1 + 5 * UDPC_PEER_WINDOW / 10);

	/* A bogus number far ahead (a flipped bit): the copies that follow it are far
	 * behind, and the window goes back to them instead of calling them all late. */
	h.seq = 2000 + 5 * UDPC_PEER_WINDOW + (1U << 20);
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	for (seq = 2000 + 5 * UDPC_PEER_WINDOW; seq < 2000 + 7 * UDPC_PEER_WINDOW; seq++) {
		h.seq = seq;
		serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	}
	h.seq = 2000 + 6 * UDPC_PEER_WINDOW;
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, NULL, 0, TC_ACT_SHOT);

	/* Sequence numbers wrap past 2^32 (0 is never sent). */
	h.session = SESSION + 1;
	for (seq = 0xfffffffd; seq != 3; seq++) {
		if (!seq)
			continue;
		h.seq = seq;
		serve_in(PKT_IPV4, CLI4, 40010, SRV4, h, CLI4, 40010, TC_ACT_OK);
	}
	h.seq = 0xffffffff;
	serve_in(PKT_IPV4, CLI4, 40010, SRV4, h, NULL, 0, TC_ACT_SHOT);
}

static void test_serve_paths_and_labels(void **state)
{
	struct hdr_spec h = { .path = 0, .seq = 1, .session = SESSION };
	struct udpc_peer_stats st;
	struct udpc_session *s;

	setup_mode(UDPC_PEER_SERVER, 10 * NSEC);
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	/* Path 0 rebinds to another port (its NAT changed its mind): the path moves,
	 * the label stays. */
	h.seq = 2;
	serve_in(PKT_IPV4, CLI4, 40002, SRV4, h, CLI4, 40000, TC_ACT_OK);
	s = session_get(SESSION);
	assert_non_null(s);
	assert_int_equal(ntohs(s->path[0].port), 40002);
	free(s);
	/* Another session from the address of a live one's label: not taken over. */
	h = (struct hdr_spec){ .seq = 1, .session = SESSION + 7 };
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, NULL, 0, TC_ACT_SHOT);
	/* Two clients behind one NAT: two sessions, each with its own label. */
	h.session = SESSION + 8;
	serve_in(PKT_IPV4, NAT4, 41000, SRV4, h, NAT4, 41000, TC_ACT_OK);
	h.session = SESSION + 9;
	serve_in(PKT_IPV4, NAT4, 41001, SRV4, h, NAT4, 41001, TC_ACT_OK);
	st = stats();
	assert_int_equal(st.path_moves, 1);
	assert_int_equal(st.label_conflicts, 1);
	assert_int_equal(st.sessions_new, 3);
}

static void test_serve_v6_and_no_csum(void **state)
{
	struct hdr_spec h = { .seq = 1, .session = SESSION };
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct run r;
	size_t n, wn;

	setup_mode(UDPC_PEER_SERVER, 10 * NSEC);
	serve_in(PKT_IPV6, "2001:db8:9::7", 40000, "2001:db8:1::1", h, "2001:db8:9::7", 40000,
		 TC_ACT_OK);
	/* IPv4 with no UDP checksum: none inside, none outside, none delivered. */
	h.session = SESSION + 1;
	n = copy_in(PKT_IPV4, CLI4, 40000, SRV4, &h, true, in);
	assert_int_equal(pkt_get16(in + PKT_ETH_LEN + PKT_IP4_LEN + 6), 0);
	r = run_prog(env.skel->progs.udpc_serve_ingress, in, n);
	assert_int_equal(r.verdict, TC_ACT_OK);
	wn = dgram(PKT_IPV4, MAC_V1, MAC_V0, CLI4, 40000, SRV4, TO_PORT, true, want);
	assert_frame("no checksum", r.out, r.len, want, wn);
}

static void test_serve_malformed(void **state)
{
	static const struct {
		const char *what;
		struct hdr_spec h;
	} bad[] = {
		{ "version 2", { .ver_type = 0x21, .seq = 1, .session = SESSION } },
		{ "keepalive type (not yet)", { .ver_type = 0x12, .seq = 1, .session = SESSION } },
		{ "path id 16", { .path = 16, .seq = 1, .session = SESSION } },
		{ "sequence 0", { .seq = 0, .session = SESSION } },
	};
	uint8_t in[PKT_MAX], app[PKT_MAX];
	struct run r;
	size_t i, n;

	setup_mode(UDPC_PEER_SERVER, 10 * NSEC);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = copy_in(PKT_IPV4, CLI4, 40000, SRV4, &bad[i].h, false, in);
		r = run_prog(env.skel->progs.udpc_serve_ingress, in, n);
		if (r.verdict != TC_ACT_SHOT)
			fail_msg("%s: verdict %u, want TC_ACT_SHOT", bad[i].what, r.verdict);
	}
	/* Shorter than a header: a plain datagram to the listen port. */
	{
		struct pkt_spec s = { .family = PKT_IPV4, .smac = MAC_V1, .dmac = MAC_V0,
				      .saddr = CLI4, .daddr = SRV4, .sport = 40000,
				      .dport = LISTEN, .payload = "short", .payload_len = 5 };

		n = build(&s, app);
		r = run_prog(env.skel->progs.udpc_serve_ingress, app, n);
		assert_int_equal(r.verdict, TC_ACT_SHOT);
	}
	/* Another port: not ours, untouched. */
	n = dgram(PKT_IPV4, MAC_V1, MAC_V0, CLI4, 40000, SRV4, LISTEN + 1, false, app);
	r = run_prog(env.skel->progs.udpc_serve_ingress, app, n);
	assert_int_equal(r.verdict, TC_ACT_OK);
	assert_frame("other port", r.out, r.len, app, n);
	assert_int_equal(stats().rx_malformed, sizeof(bad) / sizeof(bad[0]) + 1);
	assert_int_equal(stats().sessions_new, 0);
}

/* ---- server egress ---- */

static void test_serve_replies_by_every_path(void **state)
{
	struct hdr_spec h = { .path = 0, .seq = 1, .session = SESSION };
	uint8_t in[PKT_MAX], want[PKT_MAX], app[PKT_MAX], cap[PKT_MAX];
	struct run r;
	size_t n, an;
	int cn;

	setup_mode(UDPC_PEER_SERVER, 10 * NSEC);
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	h.path = 2;
	h.seq = 2;
	serve_in(PKT_IPV4, NAT4, 40001, SRV4, h, CLI4, 40000, TC_ACT_OK);
	capture_drain(50);

	/* The application answers the label, once: one copy by path 0 (a clone,
	 * captured on veth1), the last by path 2 (the packet itself). */
	h = (struct hdr_spec){ .path = 2, .seq = next_tx_seq(SESSION), .session = SESSION };
	n = dgram(PKT_IPV4, MAC_V0, MAC_V1, SRV4, TO_PORT, CLI4, 40000, false, in);
	r = run_prog(env.skel->progs.udpc_serve_egress, in, n);
	assert_int_equal(r.verdict, TC_ACT_OK);

	an = dgram(PKT_IPV4, MAC_V0, MAC_V1, SRV4, LISTEN, NAT4, 40001, false, app);
	assert_frame("copy by path 2", r.out, r.len, want, peer_wrap(app, an, &h, want));

	cn = capture_next(cap, sizeof(cap), 1000, NULL);
	assert_true(cn > 0);
	an = dgram(PKT_IPV4, MAC_V0, MAC_V1, SRV4, LISTEN, CLI4, 40000, false, app);
	h.path = 0;
	assert_frame("copy by path 0", cap, (size_t)cn, want, peer_wrap(app, an, &h, want));

	/* Not to a session's address: untouched. */
	n = dgram(PKT_IPV4, MAC_V0, MAC_V1, SRV4, TO_PORT, CLI4, 40099, false, in);
	r = run_prog(env.skel->progs.udpc_serve_egress, in, n);
	assert_int_equal(r.verdict, TC_ACT_OK);
	assert_frame("not a session", r.out, r.len, in, n);
}

static void test_serve_no_live_path(void **state)
{
	struct hdr_spec h = { .path = 0, .seq = 1, .session = SESSION };
	uint8_t in[PKT_MAX];
	struct run r;
	size_t n;

	setup_mode(UDPC_PEER_SERVER, 1); /* every path is silent by the time a reply comes */
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	n = dgram(PKT_IPV4, MAC_V0, MAC_V1, SRV4, TO_PORT, CLI4, 40000, false, in);
	r = run_prog(env.skel->progs.udpc_serve_egress, in, n);
	assert_int_equal(r.verdict, TC_ACT_SHOT);
	assert_int_equal(stats().tx_no_path, 1);
}

static void test_serve_keepalive_echo(void **state)
{
	struct hdr_spec h = { .path = 0, .seq = 1, .session = SESSION };
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct udpc_peer_ka ka;
	struct udpc_session *s;
	struct run r;
	size_t n, wn;

	setup_mode(UDPC_PEER_SERVER, 10 * NSEC);
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	h.seq = 2;
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);

	/* A keepalive by path 3, which carried no data yet, through a NAT. */
	h = (struct hdr_spec){ .ver_type = UDPC_PEER_VT(UDPC_PEER_T_KEEPALIVE), .path = 3,
			       .seq = 7, .session = SESSION };
	ka = ka_of(123456789, 25000000, 40, 30, 2, 45);
	n = ka_frame(PKT_IPV4, MAC_V1, MAC_V0, NAT4, 40001, SRV4, LISTEN, &h, &ka, in);
	r = run_prog(env.skel->progs.udpc_serve_ingress, in, n);
	assert_int_equal(r.verdict, TC_ACT_REDIRECT);
	/* Back where it came from, with this end's counters of path 3 (none yet). */
	h.ver_type = UDPC_PEER_VT(UDPC_PEER_T_ECHO);
	ka = ka_of(123456789, 25000000, 0, 0, 0, 0);
	wn = ka_frame(PKT_IPV4, MAC_V0, MAC_V1, SRV4, LISTEN, NAT4, 40001, &h, &ka, want);
	assert_frame("echo", r.out, r.len, want, wn);

	s = session_get(SESSION);
	assert_non_null(s);
	assert_true(s->path[3].flags & UDPC_PATH_SEEN);
	assert_int_equal(ntohs(s->path[3].port), 40001);
	assert_int_equal(s->path[3].ka_rx, 1);
	assert_int_equal(s->path[3].rtt_ns, 25000000);
	assert_int_equal(s->path[3].peer_rx_packets, 40);
	assert_int_equal(s->path[3].peer_seq_last, 45);
	assert_int_equal(s->path[3].rx_packets, 0);
	free(s);
	/* Path 0 reports its data counters in its echo. */
	h = (struct hdr_spec){ .ver_type = UDPC_PEER_VT(UDPC_PEER_T_KEEPALIVE), .path = 0,
			       .seq = 8, .session = SESSION };
	ka = ka_of(5, 0, 0, 0, 0, 0);
	n = ka_frame(PKT_IPV4, MAC_V1, MAC_V0, CLI4, 40000, SRV4, LISTEN, &h, &ka, in);
	r = run_prog(env.skel->progs.udpc_serve_ingress, in, n);
	assert_int_equal(r.verdict, TC_ACT_REDIRECT);
	h.ver_type = UDPC_PEER_VT(UDPC_PEER_T_ECHO);
	ka = ka_of(5, 0, 2, 2, UDPC_PEER_SEQ_BIAS + 1, UDPC_PEER_SEQ_BIAS + 2);
	wn = ka_frame(PKT_IPV4, MAC_V0, MAC_V1, SRV4, LISTEN, CLI4, 40000, &h, &ka, want);
	assert_frame("echo of path 0", r.out, r.len, want, wn);

	/* Of no session: not answered, no session made. */
	h = (struct hdr_spec){ .ver_type = UDPC_PEER_VT(UDPC_PEER_T_KEEPALIVE), .path = 0,
			       .seq = 1, .session = SESSION + 5 };
	n = ka_frame(PKT_IPV4, MAC_V1, MAC_V0, CLI4, 40000, SRV4, LISTEN, &h, &ka, in);
	r = run_prog(env.skel->progs.udpc_serve_ingress, in, n);
	assert_int_equal(r.verdict, TC_ACT_SHOT);
	assert_int_equal(stats().rx_unknown, 1);
	assert_int_equal(stats().ka_echoed, 2);
	assert_int_equal(stats().sessions_new, 1);
}

/* A session whose paths are of both families: an IPv4 one and an IPv6 one (a SIM
 * with IPv6 only, say). Copies by the IPv6 path are delivered in IPv4, from the
 * label to the first copy's destination; replies go by both paths, each in its
 * own family. */
static void test_serve_mixed_families(void **state)
{
	struct hdr_spec h = { .path = 0, .seq = 1, .session = SESSION };
	uint8_t in[PKT_MAX], want[PKT_MAX], app[PKT_MAX], cap[PKT_MAX];
	struct run r;
	size_t n, an, wn;
	int cn;

	setup_mode(UDPC_PEER_SERVER, 10 * NSEC);
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, CLI4, 40000, TC_ACT_OK);
	h.path = 1;
	h.seq = 2;
	n = copy_in(PKT_IPV6, "2001:db8:9::7", 40001, "2001:db8:1::1", &h, false, in);
	r = run_prog(env.skel->progs.udpc_serve_ingress, in, n);
	assert_int_equal(r.verdict, TC_ACT_OK);
	wn = dgram(PKT_IPV4, MAC_V1, MAC_V0, CLI4, 40000, SRV4, TO_PORT, false, want);
	as_converted_v4(want);
	assert_frame("IPv6 copy delivered in IPv4", r.out, r.len, want, wn);
	/* its duplicate by the IPv4 path */
	h.path = 0;
	serve_in(PKT_IPV4, CLI4, 40000, SRV4, h, NULL, 0, TC_ACT_SHOT);

	capture_drain(50);
	h = (struct hdr_spec){ .path = 1, .seq = next_tx_seq(SESSION), .session = SESSION };
	n = dgram(PKT_IPV4, MAC_V0, MAC_V1, SRV4, TO_PORT, CLI4, 40000, false, in);
	r = run_prog(env.skel->progs.udpc_serve_egress, in, n);
	assert_int_equal(r.verdict, TC_ACT_OK);
	an = dgram(PKT_IPV6, MAC_V0, MAC_V1, "2001:db8:1::1", LISTEN, "2001:db8:9::7", 40001, false,
		   app);
	assert_frame("reply by the IPv6 path", r.out, r.len, want, peer_wrap(app, an, &h, want));
	cn = capture_next(cap, sizeof(cap), 1000, NULL);
	assert_true(cn > 0);
	an = dgram(PKT_IPV4, MAC_V0, MAC_V1, SRV4, LISTEN, CLI4, 40000, false, app);
	h.path = 0;
	assert_frame("reply by the IPv4 path", cap, (size_t)cn, want, peer_wrap(app, an, &h, want));
}

/* ---- the client end ---- */

#define DEST_A "198.51.100.1"

static void client_dest(void)
{
	struct udpc_dest d = { .flags = UDPC_DEST_V4 | UDPC_DEST_V6, .port = htons(9000) };
	struct udpc_dest none = {};
	struct udpc_uplink up = {};
	struct udpc_active act;
	struct udpc_dest all[UDPC_MAX_DESTS] = {};
	uint32_t i;

	assert_int_equal(pkt_parse_addr(PKT_IPV4, DEST_A, (uint8_t *)&d.addr4), 0);
	addr_from(&d.addr6, PKT_IPV6, "2001:db8:1::10");
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		all[i] = i ? none : d;
		assert_int_equal(bpf_map_update_elem(fd_of(env.skel->maps.udpc_dests), &i, &all[i], 0),
				 0);
		assert_int_equal(bpf_map_update_elem(fd_of(env.skel->maps.udpc_uplinks), &i, &up, 0), 0);
	}
	udpc_active_of(all, &act);
	i = 0;
	assert_int_equal(bpf_map_update_elem(fd_of(env.skel->maps.udpc_active), &i, &act, 0), 0);
}

static uint64_t flow_session(int fam, const char *addr, uint16_t port)
{
	struct udpc_flow_key k = { .port = htons(port),
				   .family = fam == PKT_IPV6 ? UDPC_AF_INET6 : UDPC_AF_INET };
	struct udpc_flow f;

	addr_from(&k.addr, fam, addr);
	assert_int_equal(bpf_map_lookup_elem(fd_of(env.skel->maps.udpc_flows), &k, &f), 0);
	return f.session;
}

static void client_round_trip(int fam, const char *cli, const char *listen, const char *dest,
			      const char *dmac)
{
	uint8_t in[PKT_MAX], want[PKT_MAX], app[PKT_MAX];
	struct hdr_spec h = { .path = 0 };
	struct run r;
	size_t n, an;
	uint32_t seq;

	setup_mode(UDPC_PEER_CLIENT, 0);
	client_dest();
	for (seq = 1; seq <= 3; seq++) {
		n = dgram(fam, MAC_V0, MAC_V1, cli, 41000, listen, LISTEN, false, in);
		r = run_prog(env.skel->progs.udpc_egress, in, n);
		assert_int_equal(r.verdict, TC_ACT_OK);
		h.session = flow_session(fam, cli, 41000);
		assert_true(h.session != 0);
		h.seq = seq;
		an = dgram(fam, MAC_V0, dmac, cli, 41000, dest, 9000, false, app);
		assert_frame("client copy", r.out, r.len, want, peer_wrap(app, an, &h, want));
	}
	assert_int_equal(stats().tx_encap, 3);
	assert_int_equal(stats().sessions_new, 1);

	/* A reply of that session comes back: mapped to what the client sent to,
	 * once; its duplicate and one of another session are dropped. */
	an = dgram(fam, MAC_V1, MAC_V0, dest, 9000, cli, 41000, false, app);
	h.seq = 1;
	n = peer_wrap(app, an, &h, in);
	r = run_prog(env.skel->progs.udpc_ingress, in, n);
	assert_int_equal(r.verdict, TC_ACT_OK);
	an = dgram(fam, MAC_V1, MAC_V0, listen, LISTEN, cli, 41000, false, want);
	assert_frame("reply", r.out, r.len, want, an);
	r = run_prog(env.skel->progs.udpc_ingress, in, n);
	assert_int_equal(r.verdict, TC_ACT_SHOT);
	h.session ^= 1;
	an = dgram(fam, MAC_V1, MAC_V0, dest, 9000, cli, 41000, false, app);
	n = peer_wrap(app, an, &h, in);
	r = run_prog(env.skel->progs.udpc_ingress, in, n);
	assert_int_equal(r.verdict, TC_ACT_SHOT);
	assert_int_equal(stats().rx_delivered, 1);
	assert_int_equal(stats().rx_duplicates, 1);
	assert_int_equal(stats().rx_unknown, 1);

	/* The echo of a keepalive sent 5 ms ago by path 0: a round trip sample and the
	 * server's counters of that path; consumed. */
	{
		struct udpc_peer_ka ka = ka_of((uint64_t)now_ns() - 5000000, 0, 3, 3, 1, 3);
		struct udpc_session *s;

		h = (struct hdr_spec){ .ver_type = UDPC_PEER_VT(UDPC_PEER_T_ECHO), .path = 0,
				       .seq = 1, .session = flow_session(fam, cli, 41000) };
		n = ka_frame(fam, MAC_V1, MAC_V0, dest, 9000, cli, 41000, &h, &ka, in);
		r = run_prog(env.skel->progs.udpc_ingress, in, n);
		assert_int_equal(r.verdict, TC_ACT_SHOT);
		s = session_get(h.session);
		assert_non_null(s);
		assert_true(s->path[0].rtt_ns >= 5000000 && s->path[0].rtt_ns < 5000000000ULL);
		assert_int_equal(s->path[0].rtt_ns, s->path[0].rtt_last_ns);
		assert_int_equal(s->path[0].peer_rx_packets, 3);
		assert_int_equal(s->path[0].ka_rx, 1);
		assert_int_equal(ntohs(s->label_port), 41000);
		free(s);
		assert_int_equal(stats().ka_rx, 1);
	}
}

/* A client flow in IPv4 with one destination of each family only: the copy to the
 * IPv6 one leaves in IPv6 from the attached interface's IPv6 address (kept by the
 * daemon in udpc_uplinks), and its reply comes back in IPv4. */
static void test_client_mixed_families(void **state)
{
	struct udpc_dest d4 = { .flags = UDPC_DEST_V4, .port = htons(9000) };
	struct udpc_dest d6 = { .flags = UDPC_DEST_V6, .port = htons(9000) };
	struct udpc_uplink up6 = { .flags = UDPC_UPLINK_SRC6 }, none = {};
	struct udpc_dest all[UDPC_MAX_DESTS] = {};
	uint8_t in[PKT_MAX], want[PKT_MAX], app[PKT_MAX], cap[PKT_MAX];
	struct hdr_spec h = { .seq = 1 };
	struct udpc_active act;
	struct run r;
	uint32_t i;
	size_t n, an;
	int cn;

	setup_mode(UDPC_PEER_CLIENT, 0);
	assert_int_equal(pkt_parse_addr(PKT_IPV4, DEST_A, (uint8_t *)&d4.addr4), 0);
	addr_from(&d6.addr6, PKT_IPV6, "2001:db8:1::10");
	addr_from(&up6.src6, PKT_IPV6, "2001:db8:1::1");
	all[0] = d4;
	all[1] = d6;
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		assert_int_equal(bpf_map_update_elem(fd_of(env.skel->maps.udpc_dests), &i, &all[i], 0),
				 0);
		assert_int_equal(bpf_map_update_elem(fd_of(env.skel->maps.udpc_uplinks), &i,
						     i == 1 ? &up6 : &none, 0), 0);
	}
	udpc_active_of(all, &act);
	i = 0;
	assert_int_equal(bpf_map_update_elem(fd_of(env.skel->maps.udpc_active), &i, &act, 0), 0);
	capture_drain(50);

	n = dgram(PKT_IPV4, MAC_V0, MAC_V1, "192.0.2.1", 41000, "192.0.2.200", LISTEN, false, in);
	r = run_prog(env.skel->progs.udpc_egress, in, n);
	assert_int_equal(r.verdict, TC_ACT_OK);
	h.session = flow_session(PKT_IPV4, "192.0.2.1", 41000);
	h.path = 1;
	an = dgram(PKT_IPV6, MAC_V0, MAC_A6, "2001:db8:1::1", 41000, "2001:db8:1::10", 9000, false,
		   app);
	assert_frame("the IPv6 copy", r.out, r.len, want, peer_wrap(app, an, &h, want));
	cn = capture_next(cap, sizeof(cap), 1000, NULL);
	assert_true(cn > 0);
	h.path = 0;
	an = dgram(PKT_IPV4, MAC_V0, MAC_A, "192.0.2.1", 41000, DEST_A, 9000, false, app);
	assert_frame("the IPv4 copy", cap, (size_t)cn, want, peer_wrap(app, an, &h, want));

	/* The reply by the IPv6 path: in IPv4 again, from where the client sent to. */
	h.path = 1;
	an = dgram(PKT_IPV6, MAC_V1, MAC_V0, "2001:db8:1::10", 9000, "2001:db8:1::1", 41000, false,
		   app);
	n = peer_wrap(app, an, &h, in);
	r = run_prog(env.skel->progs.udpc_ingress, in, n);
	assert_int_equal(r.verdict, TC_ACT_OK);
	an = dgram(PKT_IPV4, MAC_V1, MAC_V0, "192.0.2.200", LISTEN, "192.0.2.1", 41000, false, want);
	as_converted_v4(want);
	assert_frame("reply by the IPv6 path", r.out, r.len, want, an);
	assert_int_equal(stats().rx_delivered, 1);
}

static void test_client_v4(void **state)
{
	client_round_trip(PKT_IPV4, "192.0.2.1", "192.0.2.200", DEST_A, MAC_A);
}

static void test_client_v6(void **state)
{
	client_round_trip(PKT_IPV6, "2001:db8:1::1", "2001:db8:1::200", "2001:db8:1::10", MAC_A6);
}

static void test_client_off_leaves_wire_alone(void **state)
{
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct run r;
	size_t n, wn;

	setup_mode(0, 0);
	client_dest();
	n = dgram(PKT_IPV4, MAC_V0, MAC_V1, "192.0.2.1", 41000, "192.0.2.200", LISTEN, false, in);
	r = run_prog(env.skel->progs.udpc_egress, in, n);
	assert_int_equal(r.verdict, TC_ACT_OK);
	wn = dgram(PKT_IPV4, MAC_V0, MAC_A, "192.0.2.1", 41000, DEST_A, 9000, false, want);
	assert_frame("plain copy", r.out, r.len, want, wn);
	assert_int_equal(flow_session(PKT_IPV4, "192.0.2.1", 41000), 0);
	assert_int_equal(stats().tx_encap, 0);
}

static int group_setup(void **state)
{
	return env_setup("udpc-peer", net_cmds, sizeof(net_cmds) / sizeof(net_cmds[0]));
}

static int group_teardown(void **state)
{
	env_teardown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_deliver_once),
		cmocka_unit_test(test_serve_window_edges),
		cmocka_unit_test(test_serve_paths_and_labels),
		cmocka_unit_test(test_serve_v6_and_no_csum),
		cmocka_unit_test(test_serve_malformed),
		cmocka_unit_test(test_serve_replies_by_every_path),
		cmocka_unit_test(test_serve_no_live_path),
		cmocka_unit_test(test_serve_keepalive_echo),
		cmocka_unit_test(test_serve_mixed_families),
		cmocka_unit_test(test_client_v4),
		cmocka_unit_test(test_client_v6),
		cmocka_unit_test(test_client_off_leaves_wire_alone),
		cmocka_unit_test(test_client_mixed_families),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
