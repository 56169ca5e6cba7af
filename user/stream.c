// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The stream engine (docs/TCP.md). Packet numbers are per datagram and never
 * reused: a retransmission is new bytes-at-offsets in a new packet, so every ack is
 * unambiguous for RTT and for the delivery-rate model. Acks are per packet with
 * ranges (SACK); loss is declared by reordering distance, by time, or by the RTO.
 * The rate comes from the measured delivery rate (BBR-like), not from loss, because
 * the loss this link sees is the radio's, not a queue's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "stream_rset.h"

#define NS_PER_MS		1000000ull
#define NS_PER_S		1000000000ull
#define MAX_ACK_DELAY_NS	(10 * NS_PER_MS)	/* we ack within this */
#define PEER_ACK_DELAY_CAP_NS	(25 * NS_PER_MS)	/* the most of a peer's ack delay we believe */
#define INITIAL_RTT_NS		(333 * NS_PER_MS)	/* RFC 9002's guess before a sample */
#define MIN_RTT_WINDOW_NS	(10 * NS_PER_S)
#define PKT_THRESHOLD		3	/* reordering distance that declares a loss */
#define ACK_RANGES_MAX		32	/* ranges one ACK frame carries */
#define RX_RANGES_MAX		1024	/* packet-number ranges remembered for acks and dedup */
#define ACK_TOP_RANGES		16	/* an ACK frame's newest ranges; the rest: late arrivals */
#define RX_LATE_MAX		16	/* late arrivals an ACK frame reports... */
#define RX_LATE_ACKS		4	/* ...each in this many ACK frames */
#define STREAM_RANGES_MAX	1024	/* holes one stream may have: more is refused */
#define FRAMES_MAX		8	/* stream frames one packet may carry (its sent record) */
#define RSTQ_MAX		64	/* pending resets for streams we refused */
#define RETIRED_MAX		4	/* old peer epochs that replays may carry */
#define BW_ROUNDS		10	/* delivery-rate max filter, in round trips */
#define INIT_CWND_PKTS		32
#define ANNOUNCE_GAP_NS		(100 * NS_PER_MS)
#define CTRL_BURST_PKTS		4	/* control packets may exceed cwnd by this many packets */
#define PACING_BATCH_NS		(500 * 1000ull)	/* a paced sender wakes at most this often */
#define ECHO_GAP_NS		(2 * NS_PER_MS)	/* a thin flight's packet goes again this
						 * much later (see echo_save()) */
#define THIN_PKTS		4	/* at most this many packets' worth of data
						 * outstanding: a thin flight */
#define ECHO_MAX		32	/* copies waiting to go */
#define HOST_DELAY_NS		(2 * NS_PER_MS)	/* what hosts add to a round trip: batches,
						 * delayed acks, wake-ups */

/* Frame types (docs/TCP.md). */
enum {
	F_PADDING = 0x00, F_PING = 0x01, F_ACK = 0x02, F_RESET = 0x03, F_WINDOW = 0x04,
	F_CLOSE = 0x05, F_CONN_WINDOW = 0x06, F_DATA = 0x08, F_DATA_FIN = 0x09,
};
#define DATA_HDR_LEN	15	/* type, stream, offset, length */
#define RESET_LEN	17	/* type, stream, reason, final size */
#define WINDOW_LEN	13
#define CONN_WINDOW_LEN	9
#define FINAL_NEVER	UINT64_MAX	/* RESET's final size: the stream never existed here */
#define CLOSE_LEN	5
#define ACK_HDR_LEN	16

/* Bandwidth model states. */
enum { BBR_STARTUP, BBR_DRAIN, BBR_PROBE_BW };
static const double STARTUP_GAIN = 2.885;
static const double CYCLE_GAIN[8] = { 1.25, 0.75, 1, 1, 1, 1, 1, 1 };

struct ring {
	uint8_t *buf;
	uint32_t cap;	/* a power of two: offset o lives at buf[o & (cap - 1)] */
};

struct stream {
	uint32_t id;
	/* send side: bytes [snd_una, write_off) are in sb */
	struct ring sb;
	uint64_t snd_una, send_next, write_off, peer_max, snd_cap;
	struct rset acked, lost;	/* above snd_una */
	/* receive side: bytes [read_off, read_off + recv_window) may be in rb */
	struct ring rb;
	uint64_t read_off, adv_max, fin_off;
	uint64_t rx_top;		/* highest offset received: what the connection window counts */
	struct rset rcvd;		/* at and above read_off */
	uint8_t fin_written : 1, fin_pending : 1, fin_acked : 1, fin_read : 1;
	uint8_t need_window : 1, need_reset : 1, reset_acked : 1, want_writable : 1;
	uint8_t reset_local : 1, reset_peer : 1, hdr_done : 1, announced : 1, closing : 1;
	uint8_t in_sendq : 1, in_evq : 1, in_ctrlq : 1;
	uint8_t echo : 1;		/* we answer the peer's RESET with ours (our final size) */
	uint8_t final_known : 1;	/* the peer's final size is counted */
	uint8_t ev;			/* pending EVF_* */
	uint8_t reason;
	char target[STREAM_TARGET_MAX + 1];
	struct stream *sq_next, *sq_prev;	/* round robin of streams with something to send */
	struct stream *cq_next, *cq_prev;	/* streams with a control frame to send: first */
	struct stream *ev_next;			/* streams with pending events */
	struct stream *all_next, *all_prev;
};

enum { EVF_OPENED = 1, EVF_READABLE = 2, EVF_WRITABLE = 4, EVF_RESET = 8, EVF_CLOSED = 16 };

struct sent_frame {
	uint64_t off;
	uint32_t stream;
	uint16_t len;
	uint8_t type;
	uint8_t fin;	/* F_DATA: carried FIN; F_RESET: reason */
};

struct sent_pkt {
	uint64_t pn, sent_ns, delivered, delivered_ns, first_sent_ns;
	uint32_t size;
	uint8_t in_flight, app_limited, nframes;
	uint8_t lost;	/* declared lost: an ack of it later means reordering, not loss */
	uint8_t echo;	/* the second copy of a thin flight's packet */
	uint8_t rtx;	/* carries bytes sent before (a repair) */
	uint32_t loss_bucket;	/* lost: the loss bucket that counted it */
	struct sent_frame f[FRAMES_MAX];
};

/* 8-byte fields first and the small ones last, each under its concern's heading:
 * the struct is per link, but lint (clang-analyzer's padding check) holds us to it. */
struct stream_conn {
	struct stream_config cfg;
	struct stream_stats st;

	/* epochs */
	uint64_t peer_epoch, retired[RETIRED_MAX];
	uint64_t last_announce_ns;

	/* sending */
	uint64_t next_pn, sent_base, largest_acked;
	uint64_t spur_base;		/* <= sent_base: below, no packet declared lost is
					 * recent enough for a late ack to be expected */
	struct sent_pkt *sent;
	uint64_t bytes_in_flight, loss_time, next_send_ns;
	uint64_t last_tx_elicit_ns;
	uint64_t tx_buffered;		/* bytes in every stream's send buffer */
	uint64_t tx_data, tx_max_data;	/* connection window: the sum of our streams' highest
					 * offsets sent, and the peer's bound on it */

	/* a thin flight's packets, to send again (see echo_save()): a ring. Their frames'
	 * records stay in sent[]: a copy goes only while its packet is in flight. */
	struct echo {
		uint64_t pn, at;
		size_t len;
	} echoq[ECHO_MAX];
	uint8_t *echo_buf;		/* their frames, mtu_payload bytes each */

	/* receiving */
	struct rset rx_pns;
	uint64_t rx_floor, rx_largest, rx_largest_ns, ack_deadline, last_rx_ns;
	uint64_t rx_late[RX_LATE_MAX];	/* packets that came below the largest: see put_ack() */
	uint64_t rx_data, rx_released, rx_max_data;	/* connection window: the sum of the
					 * peer's streams' highest offsets, the bytes of them read or
					 * dropped, and the bound we gave */

	/* RTT */
	uint64_t srtt, rttvar, min_rtt, min_rtt_stamp, latest_rtt;
	uint64_t reo_extra, reo_stamp;	/* how much later than the usual RTT reordered packets
					 * came of late (see reorder_sample()), and the last */
	uint64_t round_min_rtt;		/* the shortest RTT sample of this round */

	/* delivery-rate model */
	uint64_t delivered, delivered_ns, first_sent_ns, app_limited_until;
	uint64_t rs_prior_delivered, rs_prior_ns, rs_send_elapsed;
	uint64_t round, next_round_delivered, bw_slot[BW_ROUNDS], bw_round[BW_ROUNDS], btl_bw;
	uint64_t bw_rounds, bw_last_round;	/* rounds that gave a counted sample; the last */
	uint64_t full_bw;
	uint64_t cycle_start;
	uint64_t round_lost, round_acked;
	uint64_t pend_lost, pend_acked;	/* the last loss bucket, settled one bucket later */
	double loss_avg;
	double loss_round[BW_ROUNDS];	/* the loss of the last counted rounds: see loss_floor() */

	/* streams */
	struct stream **tab;
	struct stream *sq_head, *sq_tail, *cq_head, *cq_tail, *ev_head, *ev_tail, *all;

	/* the small fields: epochs, sending, receiving, the model, streams */
	unsigned int nretired;
	uint32_t sent_mask;
	unsigned int backoff;
	unsigned int close_pending;
	struct { uint32_t id, reason; } rstq[RSTQ_MAX];
	unsigned int nrstq;
	unsigned int rx_unacked;
	uint8_t rx_late_acks[RX_LATE_MAX];	/* ACK frames each is still to be in */
	unsigned int full_bw_cnt, mode, cycle;
	unsigned int loss_rounds;		/* loss buckets closed (the open one's number) */
	unsigned int loss_settled;		/* of those, counted into loss_round[] */
	uint32_t tab_mask, nstreams;
	uint32_t next_local_id, peer_next_id;
	unsigned int echo_head, echo_n;
	bool ping_pending;
	bool probed;			/* a tail probe went since the last ack */
	bool tx_blocked;		/* a write was cut short by conn_send_buffer */
	bool need_conn_window;		/* a CONN_WINDOW frame to send */
	bool ack_now;
	bool have_rtt;
	bool rs_valid, rs_app_limited;
	bool queueing;			/* last round's shortest RTT was well above min_rtt */
	bool reo_seen;			/* reo_stamp is a time */
};

/* --- wire helpers: big-endian, bounds checked by the callers --- */

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }
static void put48(uint8_t *p, uint64_t v) { put16(p, v >> 32); put32(p + 2, v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, v >> 32); put32(p + 4, v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static uint64_t get48(const uint8_t *p) { return (uint64_t)get16(p) << 32 | get32(p + 2); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* --- rings --- */

static void ring_put(struct ring *r, uint64_t off, const void *src, size_t len)
{
	uint32_t o = off & (r->cap - 1);
	size_t first = min64(len, r->cap - o);

	if (!len)	/* an empty ring has no buffer at all */
		return;
	memcpy(r->buf + o, src, first);
	memcpy(r->buf, (const uint8_t *)src + first, len - first);
}

static void ring_get(const struct ring *r, uint64_t off, void *dst, size_t len)
{
	uint32_t o = off & (r->cap - 1);
	size_t first = min64(len, r->cap - o);

	if (!len)	/* an empty ring has no buffer at all */
		return;
	memcpy(dst, r->buf + o, first);
	memcpy((uint8_t *)dst + first, r->buf, len - first);
}

/* Room for need bytes from lo, keeping what [lo, lo + old cap) holds. */
static int ring_fit(struct ring *r, uint64_t lo, uint64_t need)
{
	struct ring n;
	uint32_t k;

	if (need <= r->cap)
		return 0;
	n.cap = r->cap ? r->cap : 4096;
	while (n.cap < need)
		n.cap *= 2;
	n.buf = malloc(n.cap);
	if (!n.buf)
		return -ENOMEM;
	for (k = 0; k < r->cap;) {
		uint32_t o = (lo + k) & (r->cap - 1);
		uint32_t chunk = r->cap - o < r->cap - k ? r->cap - o : r->cap - k;

		ring_put(&n, lo + k, r->buf + o, chunk);
		k += chunk;
	}
	free(r->buf);
	*r = n;
	return 0;
}

/* --- the stream table: open addressing, linear probing, backward-shift delete --- */

static uint32_t hslot(const struct stream_conn *c, uint32_t id)
{
	return (id * 2654435761u) & c->tab_mask;
}

static struct stream *find(const struct stream_conn *c, uint32_t id)
{
	uint32_t i;

	for (i = hslot(c, id); c->tab[i]; i = (i + 1) & c->tab_mask)
		if (c->tab[i]->id == id)
			return c->tab[i];
	return NULL;
}

static void tab_insert(struct stream_conn *c, struct stream *s)
{
	uint32_t i;

	for (i = hslot(c, s->id); c->tab[i]; i = (i + 1) & c->tab_mask)
		;
	c->tab[i] = s;
}

static void tab_delete(struct stream_conn *c, const struct stream *s)
{
	uint32_t i, j, k;

	for (i = hslot(c, s->id); c->tab[i] != s; i = (i + 1) & c->tab_mask)
		;
	c->tab[i] = NULL;
	for (j = (i + 1) & c->tab_mask; c->tab[j]; j = (j + 1) & c->tab_mask) {
		k = hslot(c, c->tab[j]->id);
		/* move j back to the hole unless its home lies cyclically in (i, j] */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		c->tab[i] = c->tab[j];
		c->tab[j] = NULL;
		i = j;
	}
}

/* --- lists --- */

/* New stream bytes the peer's connection window still allows (docs/TCP.md). */
static uint64_t conn_credit(const struct stream_conn *c)
{
	return c->tx_max_data - c->tx_data;
}

static bool wants_send(const struct stream_conn *c, const struct stream *s)
{
	if (s->reset_local || s->echo)
		return s->need_reset;
	if (s->reset_peer || s->closing)
		return false;
	return s->need_window || !rset_empty(&s->lost) ||
	       (s->send_next < s->write_off && s->send_next < s->peer_max && conn_credit(c)) ||
	       (s->fin_pending && s->send_next == s->write_off);
}

/* A frame that must not wait behind bulk data: RESET, WINDOW, or a FIN with no data. */
static bool wants_ctrl(const struct stream *s)
{
	if (s->reset_local || s->echo)
		return s->need_reset;
	if (s->reset_peer || s->closing)
		return false;
	return s->need_window || (s->fin_pending && !s->fin_acked &&
				  s->send_next == s->write_off && rset_empty(&s->lost));
}

static void cq_remove(struct stream_conn *c, struct stream *s)
{
	if (!s->in_ctrlq)
		return;
	if (s->cq_prev)
		s->cq_prev->cq_next = s->cq_next;
	else
		c->cq_head = s->cq_next;
	if (s->cq_next)
		s->cq_next->cq_prev = s->cq_prev;
	else
		c->cq_tail = s->cq_prev;
	s->cq_next = s->cq_prev = NULL;
	s->in_ctrlq = 0;
}

static void cq_append(struct stream_conn *c, struct stream *s)
{
	s->cq_prev = c->cq_tail;
	s->cq_next = NULL;
	if (c->cq_tail)
		c->cq_tail->cq_next = s;
	else
		c->cq_head = s;
	c->cq_tail = s;
	s->in_ctrlq = 1;
}

static void sq_remove(struct stream_conn *c, struct stream *s)
{
	if (!s->in_sendq)
		return;
	if (s->sq_prev)
		s->sq_prev->sq_next = s->sq_next;
	else
		c->sq_head = s->sq_next;
	if (s->sq_next)
		s->sq_next->sq_prev = s->sq_prev;
	else
		c->sq_tail = s->sq_prev;
	s->sq_next = s->sq_prev = NULL;
	s->in_sendq = 0;
}

static void sq_append(struct stream_conn *c, struct stream *s)
{
	s->sq_prev = c->sq_tail;
	s->sq_next = NULL;
	if (c->sq_tail)
		c->sq_tail->sq_next = s;
	else
		c->sq_head = s;
	c->sq_tail = s;
	s->in_sendq = 1;
}

/* Puts s on (or takes it off) the send queue, and the control queue. */
static void sched(struct stream_conn *c, struct stream *s)
{
	bool want = wants_send(c, s), ctrl = want && wants_ctrl(s);

	if (want && !s->in_sendq)
		sq_append(c, s);
	else if (!want)
		sq_remove(c, s);
	if (ctrl && !s->in_ctrlq)
		cq_append(c, s);
	else if (!ctrl)
		cq_remove(c, s);
}

static void post(struct stream_conn *c, struct stream *s, uint8_t ev)
{
	if (!s->announced)
		return;
	s->ev |= ev;
	if (s->in_evq)
		return;
	s->in_evq = 1;
	s->ev_next = NULL;
	if (c->ev_tail)
		c->ev_tail->ev_next = s;
	else
		c->ev_head = s;
	c->ev_tail = s;
}

/* --- the connection window (docs/TCP.md, Flow control) --- */

/* The peer's bytes were read or dropped: move the window on once a quarter of it is. */
static void conn_release(struct stream_conn *c, uint64_t n)
{
	uint64_t w = c->cfg.conn_recv_window;

	c->rx_released += n;
	if (c->rx_released + w >= c->rx_max_data + w / 4)
		c->need_conn_window = true;
}

/* The connection window let nothing new out, and now does: every stream is looked at
 * again. A walk over the streams, but only once per time the window shut. */
static void conn_reopen(struct stream_conn *c, bool was_shut)
{
	struct stream *s;

	if (!was_shut || !conn_credit(c))
		return;
	for (s = c->all; s; s = s->all_next)
		sched(c, s);
}

/*
 * The peer's final size for a stream that ends by a reset: its bytes up to there count
 * as received, as the peer counted them sent (QUIC's final size), and those never held
 * count as released too once the stream dropped its buffer.
 */
static void take_final(struct stream_conn *c, struct stream *s, uint64_t final)
{
	uint64_t more = final > s->rx_top ? final - s->rx_top : 0;

	s->final_known = 1;
	if (!more)
		return;
	if (final > s->adv_max || c->rx_data + more > c->rx_max_data)
		c->st.rx_flow_violation++;	/* counted, not refused: both ends must agree */
	c->rx_data += more;
	s->rx_top = final;
	if (s->reset_local || s->reset_peer)
		conn_release(c, more);
}

/* --- streams --- */

static struct stream *stream_new(struct stream_conn *c, uint32_t id, uint64_t now)
{
	struct stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = id;
	s->peer_max = STREAM_INITIAL_WINDOW;
	s->snd_cap = c->cfg.send_buffer;
	s->adv_max = STREAM_INITIAL_WINDOW;
	s->fin_off = UINT64_MAX;
	rset_init(&s->acked, STREAM_RANGES_MAX);
	rset_init(&s->lost, STREAM_RANGES_MAX);
	rset_init(&s->rcvd, STREAM_RANGES_MAX);
	/* a bigger window than the initial one is advertised at once; the connection's too */
	s->need_window = c->cfg.recv_window > STREAM_INITIAL_WINDOW;
	if (c->rx_max_data == STREAM_CONN_INITIAL_WINDOW &&
	    c->cfg.conn_recv_window > STREAM_CONN_INITIAL_WINDOW)
		c->need_conn_window = true;
	if (!c->nstreams)
		c->last_rx_ns = max64(c->last_rx_ns, now);	/* the idle clock starts now */
	tab_insert(c, s);
	s->all_next = c->all;
	if (c->all)
		c->all->all_prev = s;
	c->all = s;
	c->nstreams++;
	c->st.streams_opened++;
	sched(c, s);
	return s;
}

static void tx_unblock(struct stream_conn *c);

static void stream_destroy(struct stream_conn *c, struct stream *s)
{
	sq_remove(c, s);
	cq_remove(c, s);
	tab_delete(c, s);
	if (s->all_prev)
		s->all_prev->all_next = s->all_next;
	else
		c->all = s->all_next;
	if (s->all_next)
		s->all_next->all_prev = s->all_prev;
	rset_free(&s->acked);
	rset_free(&s->lost);
	rset_free(&s->rcvd);
	free(s->sb.buf);
	free(s->rb.buf);
	c->tx_buffered -= s->write_off - s->snd_una;
	free(s);
	c->nstreams--;
	c->st.streams_closed++;
	tx_unblock(c);
}

/* Frees the stream (or has the application told first) once both directions are done. */
static void check_closed(struct stream_conn *c, struct stream *s)
{
	bool send_done, recv_done;

	if (s->closing)
		return;
	if (s->reset_local || s->echo)
		send_done = s->reset_acked;
	else
		send_done = s->reset_peer || (s->fin_acked && s->snd_una == s->write_off);
	/* after our reset, the stream stays until the peer's final size is known: from its
	 * RESET (its answer to ours), or from the FIN we had */
	recv_done = s->reset_peer || s->fin_read ||
		    (s->reset_local && (s->final_known || s->fin_off != UINT64_MAX));
	if (!send_done || !recv_done)
		return;
	if (s->reset_local && !s->final_known)
		take_final(c, s, s->fin_off);
	s->closing = 1;
	sq_remove(c, s);
	cq_remove(c, s);
	if (s->announced)
		post(c, s, EVF_CLOSED);
	else if (!s->in_evq)
		stream_destroy(c, s);
}

static void drop_buffers(struct stream_conn *c, struct stream *s)
{
	conn_release(c, s->rx_top - s->read_off);	/* held, and now dropped */
	rset_clear(&s->lost);
	rset_clear(&s->rcvd);
	free(s->rb.buf);
	s->rb.buf = NULL;
	s->rb.cap = 0;
	s->need_window = 0;
	s->fin_pending = 0;
}

/* The stream ends without telling the peer: it reset it, or is gone. */
static void kill_stream(struct stream_conn *c, struct stream *s, enum stream_reason why)
{
	if (s->reset_local || s->reset_peer)
		return;
	s->reset_peer = 1;
	s->reason = why;
	drop_buffers(c, s);
	c->st.streams_reset++;
	s->ev &= ~(EVF_READABLE | EVF_WRITABLE);
	post(c, s, EVF_RESET);
	sq_remove(c, s);
	cq_remove(c, s);
	check_closed(c, s);
}

static void local_reset(struct stream_conn *c, struct stream *s, enum stream_reason why)
{
	s->reset_local = 1;
	s->need_reset = 1;
	s->reason = why;
	drop_buffers(c, s);
	c->st.streams_reset++;
	s->ev &= ~(EVF_READABLE | EVF_WRITABLE);
	sched(c, s);
}

static void kill_all(struct stream_conn *c, enum stream_reason why)
{
	struct stream *s, *next;

	for (s = c->all; s; s = next) {
		next = s->all_next;
		if (s->reset_local || s->echo) {
			/* the peer will never ack our RESET nor send its own: settle it here */
			s->need_reset = 0;
			s->reset_acked = 1;
			s->final_known = 1;
			sq_remove(c, s);
			cq_remove(c, s);
			check_closed(c, s);
		} else {
			kill_stream(c, s, why);
		}
	}
}

/* --- RTT and the rate model --- */

static uint64_t rto_ns(const struct stream_conn *c)
{
	uint64_t base = c->have_rtt ? c->srtt + max64(4 * c->rttvar, NS_PER_MS) + MAX_ACK_DELAY_NS
				    : 3 * INITIAL_RTT_NS;

	return max64(base, (uint64_t)c->cfg.rto_min_ms * NS_PER_MS);
}

static uint64_t model_rtt(const struct stream_conn *c)
{
	return c->have_rtt ? c->min_rtt : INITIAL_RTT_NS;
}

static uint64_t pacing_rate(const struct stream_conn *c)
{
	double gain = c->mode == BBR_STARTUP ? STARTUP_GAIN :
		      c->mode == BBR_DRAIN ? 1 / STARTUP_GAIN : CYCLE_GAIN[c->cycle];
	uint64_t bw = c->btl_bw, rate;

	if (!bw)	/* no sample yet: the initial window over the guessed RTT */
		bw = (uint64_t)INIT_CWND_PKTS * c->cfg.mtu_payload * NS_PER_S / model_rtt(c);
	rate = (uint64_t)(gain * (double)bw);
	if (c->cfg.max_rate && rate > c->cfg.max_rate)
		rate = c->cfg.max_rate;
	return max64(rate, 4ull * c->cfg.mtu_payload);
}

static uint64_t cwnd(const struct stream_conn *c)
{
	double gain = c->mode == BBR_STARTUP ? STARTUP_GAIN : 2;
	uint64_t bdp, w;

	if (!c->btl_bw)
		return (uint64_t)INIT_CWND_PKTS * c->cfg.mtu_payload;
	/*
	 * Over a path of 0.1 ms, the round trip is the hosts' (a pacing batch, an ack
	 * after two packets, wake-ups): a window of 2 x btl_bw x 0.1 ms was 4 packets,
	 * which delivered 2 MB/s, which kept the window at 4 packets.
	 */
	bdp = (uint64_t)((double)c->btl_bw * (double)(model_rtt(c) + HOST_DELAY_NS) / NS_PER_S);
	w = (uint64_t)(gain * (double)bdp) + 3ull * c->cfg.mtu_payload;
	return max64(w, 4ull * c->cfg.mtu_payload);
}

static void update_rtt(struct stream_conn *c, uint64_t now, uint64_t latest, uint64_t ack_delay)
{
	uint64_t adj = latest, d;

	c->latest_rtt = latest;
	if (!c->have_rtt) {
		c->have_rtt = true;
		c->srtt = latest;
		c->rttvar = latest / 2;
		c->min_rtt = latest;
		c->min_rtt_stamp = now;
		return;
	}
	if (latest <= c->min_rtt || now - c->min_rtt_stamp > MIN_RTT_WINDOW_NS) {
		c->min_rtt = latest;
		c->min_rtt_stamp = now;
	}
	ack_delay = min64(ack_delay, PEER_ACK_DELAY_CAP_NS);
	if (adj >= c->min_rtt + ack_delay)
		adj -= ack_delay;
	c->round_min_rtt = min64(c->round_min_rtt ? c->round_min_rtt : UINT64_MAX, adj);
	d = c->srtt > adj ? c->srtt - adj : adj - c->srtt;
	c->rttvar = (3 * c->rttvar + d) / 4;
	c->srtt = (7 * c->srtt + adj) / 8;
}

/*
 * The loss the rate samples are corrected by: the least of the last 10 counted rounds.
 * Random loss is in every round; a queue overflows only in some (startup, the 1.25
 * probe, a rate above the path's). Corrected by all the loss, a sample is the rate we
 * sent at, whatever the path carried, and the model ran away: over a 20 MB/s path
 * with a 150 KB queue it asked for 39 MB/s and lost 44 % of a clean transfer.
 */
static double loss_floor(const struct stream_conn *c)
{
	unsigned int i, n = c->loss_settled < BW_ROUNDS ? c->loss_settled : BW_ROUNDS;
	double m = 0.5;

	for (i = 0; i < n; i++)
		if (c->loss_round[i] < m)
			m = c->loss_round[i];
	return n ? m : 0;
}

/*
 * A loss bucket (20 packets or more, whole rounds) is counted one bucket after it
 * closes: a packet taken for lost in it may still come late (reordering), and then it
 * was not lost. Counted at once, the paths' reordering read as a 30-50 % loss in the
 * first rounds after a quiet spell (the packet threshold back on).
 *
 * Loss does not lower the rate by itself. A bucket's loss far above the usual one was
 * once taken for a queue overflowing, and the bandwidth slots dropped by 15 %: but a
 * fade (a burst of loss, what radio links do) did that too, and so did the reordering
 * above and a transfer's tail, and the 1.25 probe took a second to win it back. A
 * queue that overflows because the model is too high is left to the model: its
 * samples are not loss-corrected while a queue shows, and the filter forgets a too
 * high one in 10 rounds.
 */
static void settle_loss(struct stream_conn *c)
{
	double loss = (double)c->pend_lost / (double)max64(c->pend_acked + c->pend_lost, 1);

	c->loss_avg = c->loss_avg ? (7 * c->loss_avg + loss) / 8 : loss;
	c->loss_round[c->loss_settled++ % BW_ROUNDS] = loss;
}

/* After an ACK frame: one delivery-rate sample, rounds, and the model's state. */
static void update_model(struct stream_conn *c, uint64_t now)
{
	uint64_t interval, rate, bw = 0;
	unsigned int i;
	bool new_round = false;

	if (!c->rs_valid)
		return;
	c->rs_valid = false;
	if (c->rs_prior_delivered >= c->next_round_delivered) {
		c->next_round_delivered = c->delivered;
		c->round++;
		new_round = true;
		/*
		 * A queue delays every packet of a round, whichever path it took; the paths'
		 * own spread of delays does not raise the round's shortest RTT.
		 */
		if (c->round_min_rtt)
			c->queueing = c->round_min_rtt > c->min_rtt + c->min_rtt / 4 + 2 * NS_PER_MS;
		c->round_min_rtt = 0;
		if (c->round_acked + c->round_lost >= 20) {
			/* the bucket before settles now: its late packets have had time to come */
			if (c->loss_rounds > c->loss_settled)
				settle_loss(c);
			c->pend_acked = c->round_acked;
			c->pend_lost = c->round_lost;
			c->loss_rounds++;
			c->round_acked = c->round_lost = 0;
		}
	}
	interval = max64(c->rs_send_elapsed, c->delivered_ns - c->rs_prior_ns);
	/* BBR's floor: a sample shorter than a round trip is an ack burst, not a rate */
	if (interval >= min64(model_rtt(c), NS_PER_MS) && interval &&
	    c->delivered > c->rs_prior_delivered) {
		rate = (c->delivered - c->rs_prior_delivered) * NS_PER_S / interval;
		/*
		 * Loss without a queue is the radio's: what the path carried is what was
		 * delivered plus the usual share lost. Without this, a 1.25 probe at 30 %
		 * loss delivers less than the rate it probes from, and the model shrinks.
		 * Loss with a queue is ours: a queue overflowing. Inflating the rate by it
		 * would feed the queue more, so the sample stays as delivered.
		 */
		if (!c->queueing)
			rate = (uint64_t)((double)rate / (1 - loss_floor(c)));
		/*
		 * A sample limited by the application (or the peer's window) says little
		 * about the path: it only counts if higher. The filter's window is 10 rounds
		 * that gave a counted sample, not 10 rounds: an idle or application-bound
		 * stretch (a transfer's tail, the pause before the next) also runs rounds,
		 * and the first sample after it, taken while the next transfer ramped up,
		 * was the whole filter: 29 MB/s became 10, and the 1.25 probe took a second
		 * to climb back.
		 */
		if (!c->rs_app_limited || rate > c->btl_bw) {
			unsigned int k;

			if (c->bw_last_round != c->round || !c->bw_rounds) {
				c->bw_last_round = c->round;
				c->bw_rounds++;
			}
			k = c->bw_rounds % BW_ROUNDS;
			if (c->bw_round[k] != c->bw_rounds) {
				c->bw_round[k] = c->bw_rounds;
				c->bw_slot[k] = 0;
			}
			c->bw_slot[k] = max64(c->bw_slot[k], rate);
			for (i = 0; i < BW_ROUNDS; i++)
				if (c->bw_round[i] + BW_ROUNDS > c->bw_rounds)
					bw = max64(bw, c->bw_slot[i]);
			c->btl_bw = bw;
		}
	}

	switch (c->mode) {
	case BBR_STARTUP:
		if (new_round && !c->rs_app_limited) {
			if (c->btl_bw >= c->full_bw + c->full_bw / 4) {
				c->full_bw = c->btl_bw;
				c->full_bw_cnt = 0;
			} else if (++c->full_bw_cnt >= 3) {
				c->mode = BBR_DRAIN;
			}
		}
		break;
	case BBR_DRAIN:
		if (c->bytes_in_flight <= cwnd(c) / 2) {
			c->mode = BBR_PROBE_BW;
			c->cycle = 1;
			c->cycle_start = now;
		}
		break;
	default:
		/* a phase shorter than the hosts' own delays would probe nothing */
		if (now - c->cycle_start > model_rtt(c) + HOST_DELAY_NS) {
			c->cycle = (c->cycle + 1) % 8;
			c->cycle_start = now;
		}
		break;
	}
}

/* --- acks and losses --- */

/*
 * The connection's send buffers fell a quarter below conn_send_buffer after a write was
 * cut short by it: every stream that waits for room hears WRITABLE. A walk over the
 * streams, but only once per time the bound was reached.
 */
static void tx_unblock(struct stream_conn *c)
{
	uint64_t cap = c->cfg.conn_send_buffer;
	struct stream *s;

	if (!c->tx_blocked || c->tx_buffered > cap - cap / 4)
		return;
	c->tx_blocked = false;
	for (s = c->all; s; s = s->all_next)
		if (s->want_writable && !s->reset_local && !s->reset_peer && !s->closing) {
			s->want_writable = 0;
			post(c, s, EVF_WRITABLE);
		}
}

static void on_frame_acked(struct stream_conn *c, const struct sent_frame *f)
{
	struct stream *s = find(c, f->stream);
	uint64_t space;

	if (!s)
		return;
	if (f->type == F_RESET) {
		if (s->reset_local || s->echo) {
			s->reset_acked = 1;
			check_closed(c, s);
		}
		return;
	}
	if (f->type != F_DATA || s->reset_local || s->reset_peer)
		return;
	if (f->off + f->len > s->snd_una) {
		uint64_t lo = max64(f->off, s->snd_una);

		if (rset_add(&s->acked, lo, f->off + f->len) ||
		    rset_remove(&s->lost, lo, f->off + f->len)) {
			/* no room to remember it: send it again rather than lose track */
			rset_remove(&s->acked, lo, f->off + f->len);
			if (rset_add(&s->lost, lo, f->off + f->len))
				local_reset(c, s, STREAM_R_LIMIT);
			sched(c, s);
			return;
		}
		uint64_t una = rset_end_from(&s->acked, s->snd_una);

		c->tx_buffered -= una - s->snd_una;
		s->snd_una = una;
		rset_trim_below(&s->acked, s->snd_una);
		rset_trim_below(&s->lost, s->snd_una);
	}
	if (f->fin)
		s->fin_acked = 1;
	space = s->snd_cap - (s->write_off - s->snd_una);
	if (s->want_writable && space >= s->snd_cap / 4 && !c->tx_blocked) {
		s->want_writable = 0;
		post(c, s, EVF_WRITABLE);
	}
	tx_unblock(c);
	check_closed(c, s);
}

static void on_frame_lost(struct stream_conn *c, const struct sent_frame *f)
{
	struct stream *s = find(c, f->stream);
	unsigned int i;

	if (f->type == F_CONN_WINDOW) {
		c->need_conn_window = true;	/* the current value goes again */
		return;
	}
	if (f->type == F_RESET && !s && f->fin == STREAM_R_LIMIT) {
		for (i = 0; i < c->nrstq; i++)
			if (c->rstq[i].id == f->stream)
				return;
		if (c->nrstq < RSTQ_MAX) {
			c->rstq[c->nrstq].id = f->stream;
			c->rstq[c->nrstq++].reason = STREAM_R_LIMIT;
		}
		return;
	}
	if (!s || s->closing)
		return;
	if (f->type == F_RESET) {
		if ((s->reset_local || s->echo) && !s->reset_acked)
			s->need_reset = 1;
	} else if (s->reset_local || s->reset_peer) {
		return;
	} else if (f->type == F_WINDOW) {
		s->need_window = 1;
	} else if (f->type == F_DATA) {
		uint64_t lo = max64(f->off, s->snd_una), hi = f->off + f->len;

		if (lo < hi && !rset_contains(&s->acked, lo, hi) && rset_add(&s->lost, lo, hi))
			local_reset(c, s, STREAM_R_LIMIT);	/* cannot track it: give up loudly */
		if (f->fin && !s->fin_acked)
			s->fin_pending = 1;
	}
	sched(c, s);
}

static struct sent_pkt *sent_at(const struct stream_conn *c, uint64_t pn)
{
	struct sent_pkt *p = &c->sent[pn & c->sent_mask];

	return p->pn == pn && p->in_flight ? p : NULL;
}

static uint64_t loss_delay(const struct stream_conn *c, uint64_t now);

static void advance_base(struct stream_conn *c, uint64_t now)
{
	/* a packet declared lost may still be acked within the reordering window's reach */
	uint64_t horizon = 2 * loss_delay(c, now) + 2 * MAX_ACK_DELAY_NS;
	const struct sent_pkt *p;

	while (c->sent_base < c->next_pn && !sent_at(c, c->sent_base))
		c->sent_base++;
	for (; c->spur_base < c->sent_base; c->spur_base++) {
		p = &c->sent[c->spur_base & c->sent_mask];
		if (p->pn == c->spur_base && p->lost && p->sent_ns + horizon > now)
			break;
	}
}

static void pkt_lost(struct stream_conn *c, struct sent_pkt *p)
{
	unsigned int i;

	p->in_flight = 0;
	p->lost = 1;
	c->bytes_in_flight -= p->size;
	c->st.retransmits++;
	c->round_lost++;
	p->loss_bucket = c->loss_rounds;
	for (i = 0; i < p->nframes; i++)
		on_frame_lost(c, &p->f[i]);
}

static void pkt_acked(struct stream_conn *c, uint64_t now, struct sent_pkt *p)
{
	unsigned int i;

	p->in_flight = 0;
	c->bytes_in_flight -= p->size;
	c->delivered += p->size;
	c->delivered_ns = now;
	c->round_acked++;
	/* the rate sample follows the most recently sent packet acked (BBR's rate sample) */
	if (!c->rs_valid || p->delivered >= c->rs_prior_delivered) {
		c->rs_valid = true;
		c->rs_prior_delivered = p->delivered;
		c->rs_prior_ns = p->delivered_ns;
		c->rs_send_elapsed = p->sent_ns - p->first_sent_ns;
		c->rs_app_limited = p->app_limited;
		c->first_sent_ns = p->sent_ns;
	}
	for (i = 0; i < p->nframes; i++)
		on_frame_acked(c, &p->f[i]);
}

/* Reordering seen lately: the packet threshold would take late packets for lost. */
static bool reordering(const struct stream_conn *c, uint64_t now)
{
	return c->reo_seen && now - c->reo_stamp <= MIN_RTT_WINDOW_NS;
}

/*
 * RFC 9002's time threshold, 9/8 of the larger of srtt and the latest RTT, stretched
 * by how much later than that reordered packets came of late (RACK's reordering
 * window, RFC 8985): peer mode's paths differ in delay, and what the fast path lost
 * comes by the slow one. The stretch is at most 2 srtt, so that one freak sample
 * cannot stall loss recovery.
 */
static uint64_t loss_delay(const struct stream_conn *c, uint64_t now)
{
	uint64_t rtt = c->have_rtt ? max64(c->srtt, c->latest_rtt) : INITIAL_RTT_NS;
	uint64_t d = max64(rtt, NS_PER_MS) * 9 / 8;

	if (reordering(c, now))
		d = max64(d, rtt + min64(c->reo_extra, 2 * c->srtt));
	return d;
}

/*
 * A packet acked after a later one (or after we took it for lost) took rtt to come:
 * how much later than the usual RTT. The window follows the latest such packets: it
 * jumps to a later one at once, and decays by 1/16 per packet towards earlier ones.
 * (The longest of 10 s was one freak sample's, twice the paths' spread: every hole
 * waited 88 ms where 55 would do, and a transfer's tail waited that once per repair.)
 */
static void reorder_sample(struct stream_conn *c, uint64_t now, uint64_t rtt)
{
	uint64_t usual = max64(c->srtt, c->latest_rtt), extra = rtt > usual ? rtt - usual : 0;

	if (extra >= c->reo_extra || !reordering(c, now))
		c->reo_extra = extra;
	else
		c->reo_extra -= (c->reo_extra - extra) / 16;
	c->reo_stamp = now;
	c->reo_seen = true;
}

/*
 * A packet we took for lost was acked after all: it was late, not lost. Its frames
 * count as acked (a retransmission still queued is dropped), the loss estimate takes
 * it back, and the reordering window grows to its RTT so that the next such packet
 * is waited for.
 */
static void pkt_late(struct stream_conn *c, uint64_t now, struct sent_pkt *p)
{
	unsigned int i;

	p->lost = 0;
	c->st.spurious_losses++;
	if (p->loss_bucket == c->loss_rounds) {
		if (c->round_lost)
			c->round_lost--;
		c->round_acked++;
	} else if (p->loss_bucket + 1 == c->loss_rounds && c->loss_rounds > c->loss_settled) {
		if (c->pend_lost)
			c->pend_lost--;
		c->pend_acked++;
	}
	c->delivered += p->size;
	reorder_sample(c, now, now - p->sent_ns);
	for (i = 0; i < p->nframes; i++)
		on_frame_acked(c, &p->f[i]);
}

static void detect_lost(struct stream_conn *c, uint64_t now)
{
	uint64_t delay = loss_delay(c, now);
	bool by_count = !reordering(c, now);	/* the packet threshold, unless reordering */
	uint64_t pn;
	struct sent_pkt *p;

	c->loss_time = 0;
	for (pn = c->sent_base; pn < c->largest_acked; pn++) {
		p = sent_at(c, pn);
		if (!p)
			continue;
		if ((by_count && c->largest_acked - pn >= PKT_THRESHOLD) || p->sent_ns + delay <= now)
			pkt_lost(c, p);
		else if (!c->loss_time || p->sent_ns + delay < c->loss_time)
			c->loss_time = p->sent_ns + delay;
	}
	advance_base(c, now);
}

/*
 * A tail probe (QUIC's PTO, RFC 9002 6.2): when nothing has been acked for a round trip
 * and a bit after the last send, a PING. Its ack lets the time threshold take the
 * flight's lost tail for lost, where the RTO (200 ms at least) was the only way: a
 * transfer's last packets, lost, each cost an RTO.
 */
static uint64_t probe_deadline(const struct stream_conn *c)
{
	if (!c->have_rtt || c->probed || !c->bytes_in_flight)
		return STREAM_NO_DEADLINE;
	return c->last_tx_elicit_ns + c->srtt + max64(4 * c->rttvar, NS_PER_MS) + MAX_ACK_DELAY_NS;
}

static uint64_t rto_deadline(const struct stream_conn *c)
{
	const struct sent_pkt *p;

	if (c->sent_base >= c->next_pn)
		return STREAM_NO_DEADLINE;
	p = sent_at(c, c->sent_base);
	if (!p)
		return STREAM_NO_DEADLINE;
	return p->sent_ns + (rto_ns(c) << c->backoff);
}

/*
 * The oldest packet's RTO expired: nothing was acked for that long. It is lost, and so
 * is every packet the time threshold says is (sent 9/8 RTT ago or more), as TCP's RTO
 * takes the whole flight for lost. Taking only those older than the backed-off RTO
 * cost one expiry per packet of a tail: after a stream's reset, its last data packets
 * and then the RESET itself each waited for a timer twice as long as the one before.
 */
static void on_rto(struct stream_conn *c, uint64_t now)
{
	uint64_t limit = min64(rto_ns(c) << c->backoff, loss_delay(c, now)), pn;
	struct sent_pkt *p;

	c->st.rto_fired++;
	for (pn = c->sent_base; pn < c->next_pn; pn++) {
		p = sent_at(c, pn);
		if (p && (pn == c->sent_base || p->sent_ns + limit <= now))
			pkt_lost(c, p);
	}
	if (c->backoff < 6)
		c->backoff++;
	advance_base(c, now);
}

/* --- input --- */

/* What one frame did to the packet: whether it is acked afterwards. */
enum { ACCEPT = 0, REFUSE = 1, MALFORMED = -1 };

/* The stream a frame names; may create the peer's new streams. NULL: ignore the frame. */
static struct stream *frame_stream(struct stream_conn *c, uint64_t now, uint32_t id, int *verdict)
{
	struct stream *s = find(c, id);
	bool ours = (id & 1) == (c->cfg.client ? 0 : 1);

	if (s)
		return s->closing ? NULL : s;
	if (ours) {
		if (id < c->next_local_id)
			c->st.rx_closed_stream++;
		else
			c->st.rx_unknown_stream++;	/* never opened: forged */
		return NULL;
	}
	if (id < c->peer_next_id) {
		c->st.rx_closed_stream++;
		return NULL;
	}
	if ((id - c->peer_next_id) / 2 > 2 * c->cfg.max_streams) {
		c->st.rx_unknown_stream++;	/* far beyond any sane peer: forged */
		return NULL;
	}
	/* the peer opens in order: ids skipped by reordering are opened too */
	while (c->peer_next_id <= id) {
		uint32_t nid = c->peer_next_id;

		if (c->nstreams >= c->cfg.max_streams) {
			if (c->nrstq >= RSTQ_MAX) {
				*verdict = REFUSE;
				c->st.rx_refused++;
				return NULL;
			}
			c->rstq[c->nrstq].id = nid;
			c->rstq[c->nrstq++].reason = STREAM_R_LIMIT;
			c->peer_next_id += 2;
			continue;
		}
		s = stream_new(c, nid, now);
		if (!s) {
			*verdict = REFUSE;
			c->st.rx_refused++;
			return NULL;
		}
		c->peer_next_id += 2;
	}
	return s;
}

/* The opener's first bytes name the target: [length][name]. */
static void parse_target(struct stream_conn *c, struct stream *s)
{
	uint64_t avail = rset_end_from(&s->rcvd, s->read_off) - s->read_off;
	uint8_t n;

	if (s->hdr_done || !avail)
		return;
	ring_get(&s->rb, s->read_off, &n, 1);
	if (!n || s->fin_off < s->read_off + 1 + n) {
		local_reset(c, s, STREAM_R_UNKNOWN);	/* not a stream opening */
		return;
	}
	if (avail < 1u + n)
		return;
	ring_get(&s->rb, s->read_off + 1, s->target, n);
	s->target[n] = '\0';
	s->read_off += 1u + n;
	conn_release(c, 1u + n);
	rset_trim_below(&s->rcvd, s->read_off);
	s->hdr_done = 1;
	s->announced = 1;
	post(c, s, EVF_OPENED);
}

static int rx_data(struct stream_conn *c, struct stream *s, uint64_t off, const uint8_t *d,
		   uint16_t len, bool fin)
{
	uint64_t end = off + len, lo, had;

	if (s->reset_local || s->reset_peer)
		return ACCEPT;
	if (end > s->adv_max) {
		c->st.rx_flow_violation++;
		return REFUSE;
	}
	if ((fin && s->fin_off != UINT64_MAX && s->fin_off != end) || end > s->fin_off)
		return ACCEPT;	/* contradicts the final size we know: a forgery or a bug */
	if (end > s->rx_top) {
		/* the connection window: the highest offsets of all streams together */
		if (c->rx_data + (end - s->rx_top) > c->rx_max_data) {
			c->st.rx_flow_violation++;
			return REFUSE;
		}
		c->rx_data += end - s->rx_top;
		s->rx_top = end;
	}
	if (fin)
		s->fin_off = end;
	had = rset_end_from(&s->rcvd, s->read_off);
	if (end > s->read_off) {
		lo = max64(off, s->read_off);
		if (ring_fit(&s->rb, s->read_off, end - s->read_off)) {
			c->st.rx_refused++;
			return REFUSE;
		}
		ring_put(&s->rb, lo, d + (lo - off), end - lo);
		if (rset_add(&s->rcvd, lo, end)) {
			c->st.rx_refused++;
			return REFUSE;
		}
	}
	if (!s->hdr_done) {
		parse_target(c, s);
		if (!s->hdr_done)
			return ACCEPT;
	}
	if (rset_end_from(&s->rcvd, s->read_off) > had || s->fin_off == rset_end_from(&s->rcvd, s->read_off))
		post(c, s, EVF_READABLE);
	return ACCEPT;
}

/*
 * The peer's RESET, with its final size. A stream we had not reset ends, and we answer
 * with a RESET of ours, so that the peer learns our final size too (QUIC's RESET_STREAM
 * and STOP_SENDING in one). FINAL_NEVER: the peer never had the stream (it refused it),
 * so it counted none of our bytes; they come back to our connection window.
 */
static void rx_reset(struct stream_conn *c, struct stream *s, uint32_t why, uint64_t final)
{
	/* only a stream we opened can have been refused: the peer opens its own */
	bool never = final == FINAL_NEVER && (s->id & 1) == (c->cfg.client ? 0 : 1);

	if (s->final_known)
		return;	/* a copy: it acted already */
	if (final == FINAL_NEVER && !never)
		final = s->rx_top;	/* a forgery or a bug: counts nothing more */
	if (never) {
		bool shut = !conn_credit(c);

		c->tx_data -= s->send_next;
		conn_reopen(c, shut);
		final = s->rx_top;
	}
	take_final(c, s, final);
	if (s->reset_local || s->reset_peer) {
		check_closed(c, s);	/* our reset crossed the peer's */
		return;
	}
	if (!never) {
		s->echo = 1;	/* before kill_stream(): the answer keeps the stream */
		s->need_reset = 1;
	}
	kill_stream(c, s, why < STREAM_R_MAX ? why : STREAM_R_APP);
	if (!never)
		sched(c, s);
}

static int rx_ack(struct stream_conn *c, uint64_t now, const uint8_t *p, size_t len,
		  size_t *used, bool apply)
{
	unsigned int nr = p[1], i;
	uint64_t delay = (uint64_t)get16(p + 2) * 8000, largest = get64(p + 4);
	uint64_t hi, lo, gap, n, pn, largest_sent = 0;
	struct sent_pkt *sp;
	bool progress = false;

	if (len < ACK_HDR_LEN + 4u * nr || nr > ACK_RANGES_MAX)
		return MALFORMED;
	*used = ACK_HDR_LEN + 4u * nr;
	n = get32(p + 12);
	if (largest < n || largest == 0)
		return MALFORMED;
	if (!apply)
		return ACCEPT;
	if (largest >= c->next_pn) {
		c->st.spurious_acks++;	/* acks what we never sent */
		return ACCEPT;
	}
	hi = largest;
	lo = largest - n;
	for (i = 0;; i++) {
		for (pn = max64(lo, c->spur_base); pn <= hi; pn++) {
			sp = &c->sent[pn & c->sent_mask];
			if (sp->pn != pn)
				continue;
			if (!sp->in_flight) {
				if (sp->lost) {
					pkt_late(c, now, sp);
					progress = true;
				}
				continue;
			}
			if (pn == largest)
				largest_sent = sp->sent_ns;
			else if (pn < c->largest_acked)
				reorder_sample(c, now, now - sp->sent_ns);
			pkt_acked(c, now, sp);
			progress = true;
		}
		if (i == nr)
			break;
		gap = get16(p + ACK_HDR_LEN + 4 * (size_t)i);
		n = get16(p + ACK_HDR_LEN + 4 * (size_t)i + 2);
		if (lo < gap + n + 2 || lo - gap - 1 < c->spur_base)
			break;	/* below packet 1, or below all we still track */
		hi = lo - gap - 1;
		lo = hi - n;
	}
	if (largest > c->largest_acked)
		c->largest_acked = largest;
	if (largest_sent)
		update_rtt(c, now, now - largest_sent, delay);
	if (progress) {
		c->backoff = 0;
		c->probed = false;
		update_model(c, now);
	}
	detect_lost(c, now);
	return ACCEPT;
}

/* Parses (apply = false: only checks) the frames of one datagram. */
static int rx_frames(struct stream_conn *c, uint64_t now, const uint8_t *p, size_t len,
		     bool apply, bool *eliciting)
{
	int verdict = ACCEPT, v;
	struct stream *s;
	size_t used;

	while (len) {
		uint8_t type = p[0];

		switch (type) {
		case F_PADDING:
			used = 1;
			break;
		case F_PING:
			used = 1;
			*eliciting = true;
			break;
		case F_ACK:
			if (len < ACK_HDR_LEN)
				return MALFORMED;
			v = rx_ack(c, now, p, len, &used, apply);
			if (v == MALFORMED)
				return v;
			break;
		case F_RESET:
			if (len < RESET_LEN)
				return MALFORMED;
			if (get64(p + 9) != FINAL_NEVER && get64(p + 9) > (1ull << 62))
				return MALFORMED;
			used = RESET_LEN;
			*eliciting = true;
			if (!apply)
				break;
			s = frame_stream(c, now, get32(p + 1), &verdict);
			if (s)
				rx_reset(c, s, get32(p + 5), get64(p + 9));
			break;
		case F_WINDOW:
			if (len < WINDOW_LEN)
				return MALFORMED;
			used = WINDOW_LEN;
			*eliciting = true;
			if (!apply)
				break;
			s = frame_stream(c, now, get32(p + 1), &verdict);
			if (s && get64(p + 5) > s->peer_max) {
				s->peer_max = get64(p + 5);
				sched(c, s);
			}
			break;
		case F_CONN_WINDOW:
			if (len < CONN_WINDOW_LEN)
				return MALFORMED;
			used = CONN_WINDOW_LEN;
			*eliciting = true;
			if (apply && get64(p + 1) > c->tx_max_data) {
				bool shut = !conn_credit(c);

				c->tx_max_data = get64(p + 1);
				conn_reopen(c, shut);
			}
			break;
		case F_CLOSE:
			if (len < CLOSE_LEN)
				return MALFORMED;
			used = CLOSE_LEN;
			*eliciting = true;
			if (apply) {
				c->st.peer_closes++;
				kill_all(c, STREAM_R_PEER_CLOSE);
			}
			break;
		case F_DATA:
		case F_DATA_FIN: {
			uint64_t off;
			uint16_t dlen;

			if (len < DATA_HDR_LEN)
				return MALFORMED;
			off = get64(p + 5);
			dlen = get16(p + 13);
			if (len - DATA_HDR_LEN < dlen || off > (1ull << 62))
				return MALFORMED;
			used = DATA_HDR_LEN + dlen;
			*eliciting = true;
			if (!apply)
				break;
			s = frame_stream(c, now, get32(p + 1), &verdict);
			if (s && rx_data(c, s, off, p + DATA_HDR_LEN, dlen, type == F_DATA_FIN) == REFUSE)
				verdict = REFUSE;
			break;
		}
		default:
			return MALFORMED;
		}
		p += used;
		len -= used;
	}
	return verdict;
}

static bool retired(const struct stream_conn *c, uint64_t e)
{
	unsigned int i;

	for (i = 0; i < c->nretired && i < RETIRED_MAX; i++)
		if (c->retired[i] == e)
			return true;
	return false;
}

/* The peer came back as a new process: forget all its state. */
static void peer_restart(struct stream_conn *c)
{
	uint64_t pn;

	c->st.peer_restarts++;
	c->retired[c->nretired++ % RETIRED_MAX] = c->peer_epoch;
	kill_all(c, STREAM_R_PEER_RESTART);
	for (pn = c->sent_base; pn < c->next_pn; pn++) {
		struct sent_pkt *p = sent_at(c, pn);

		if (p)
			p->in_flight = 0;
	}
	for (pn = c->spur_base; pn < c->sent_base; pn++)
		c->sent[pn & c->sent_mask].lost = 0;
	c->sent_base = c->spur_base = c->next_pn;
	c->largest_acked = c->next_pn - 1;
	c->bytes_in_flight = 0;
	c->loss_time = 0;
	c->backoff = 0;
	rset_clear(&c->rx_pns);
	memset(c->rx_late_acks, 0, sizeof(c->rx_late_acks));
	c->rx_floor = c->rx_largest = 0;
	c->rx_unacked = 0;
	c->ack_now = false;
	c->peer_next_id = c->cfg.client ? 1 : 0;
	c->nrstq = 0;
	/* the new process counts from 0: so do both directions of the connection window */
	c->tx_data = c->rx_data = c->rx_released = 0;
	c->tx_max_data = c->rx_max_data = STREAM_CONN_INITIAL_WINDOW;
	c->need_conn_window = false;
}

static void late_arrival(struct stream_conn *c, uint64_t pn);

int stream_input(struct stream_conn *c, uint64_t now, const void *dgram, size_t len)
{
	const uint8_t *p = dgram;
	uint64_t sender, receiver, pn;
	bool eliciting = false, elicits = false;
	int verdict;

	c->st.rx_datagrams++;
	c->st.rx_bytes += len;
	if (len < STREAM_HDR_LEN) {
		c->st.rx_malformed++;
		return 0;
	}
	if (p[0] != STREAM_VERSION) {
		c->st.rx_bad_version++;
		return 0;
	}
	pn = get48(p + 2);
	sender = get64(p + 8);
	receiver = get64(p + 16);
	if (p[1] || !pn || !sender) {
		c->st.rx_malformed++;
		return 0;
	}
	if (receiver && receiver != c->cfg.epoch) {
		/* meant for an earlier us: say who we are now, so that the peer resets */
		c->st.rx_stale_epoch++;
		if (!c->peer_epoch || c->peer_epoch == sender) {
			if (!c->last_announce_ns || now - c->last_announce_ns >= ANNOUNCE_GAP_NS) {
				c->last_announce_ns = now;
				c->ping_pending = true;
			}
		}
		return 0;
	}
	if (sender != c->peer_epoch && retired(c, sender)) {
		c->st.rx_stale_epoch++;	/* a replay from a previous incarnation */
		return 0;
	}
	/* check the whole datagram before any of it acts */
	if (rx_frames(c, now, p + STREAM_HDR_LEN, len - STREAM_HDR_LEN, false, &elicits) == MALFORMED) {
		c->st.rx_malformed++;
		return 0;
	}
	if (sender != c->peer_epoch) {
		if (c->peer_epoch)
			peer_restart(c);
		c->peer_epoch = sender;
	}
	if (pn < c->rx_floor) {
		c->st.rx_too_old++;
		return 0;
	}
	if (rset_contains(&c->rx_pns, pn, pn + 1)) {
		c->st.rx_duplicate++;
		if (elicits)
			c->ack_now = true;	/* our ack may have been lost */
		return 0;
	}
	c->last_rx_ns = now;
	verdict = rx_frames(c, now, p + STREAM_HDR_LEN, len - STREAM_HDR_LEN, true, &eliciting);
	if (verdict != ACCEPT)
		return 0;	/* not acked: the peer sends it again, and frames are idempotent */
	if (c->rx_pns.n >= RX_RANGES_MAX) {
		/* forget the oldest hole: packets from it are too old from now on */
		c->rx_floor = c->rx_pns.r[1].lo;
		rset_trim_below(&c->rx_pns, c->rx_floor);
	}
	if (rset_add(&c->rx_pns, pn, pn + 1))
		return 0;
	/* a hole, or a packet that fills one: tell the sender at once (never for an
	 * ack-only packet, or two ends would ack each other's acks forever) */
	if (pn > c->rx_largest) {
		if (eliciting && c->rx_largest && pn != c->rx_largest + 1)
			c->ack_now = true;
		c->rx_largest = pn;
		c->rx_largest_ns = now;
	} else {
		late_arrival(c, pn);
		if (eliciting)
			c->ack_now = true;
	}
	if (eliciting) {
		if (!c->rx_unacked)
			c->ack_deadline = now + MAX_ACK_DELAY_NS;
		if (++c->rx_unacked >= 2)
			c->ack_now = true;
	}
	return 0;
}

/* --- timers --- */

/*
 * A tail probe carries the newest packet's frames again, not only a PING (TCP's tail
 * loss probe, RFC 8985 7.3): the packet stays in flight, and whichever copy is acked
 * first acks the bytes. A lost keystroke, or a transfer's lost last packet, is then
 * repaired by the probe itself, not a round trip and a time threshold after it. The
 * PING still goes if the window holds the data back.
 */
static void probe_data(struct stream_conn *c)
{
	const struct sent_pkt *p = NULL;
	uint64_t pn;
	unsigned int i;

	for (pn = c->next_pn; pn > c->sent_base && !p; pn--)
		p = sent_at(c, pn - 1);
	for (i = 0; p && i < p->nframes; i++)
		on_frame_lost(c, &p->f[i]);
}

void stream_tick(struct stream_conn *c, uint64_t now)
{
	if (c->loss_time && now >= c->loss_time)
		detect_lost(c, now);
	if (now >= rto_deadline(c))
		on_rto(c, now);
	if (now >= probe_deadline(c)) {
		c->probed = true;
		c->ping_pending = true;
		c->st.tail_probes++;
		probe_data(c);
	}
	if (c->rx_unacked && now >= c->ack_deadline)
		c->ack_now = true;
	if (c->nstreams) {
		if (now - c->last_rx_ns >= (uint64_t)c->cfg.idle_timeout_ms * NS_PER_MS) {
			c->st.timeouts++;
			kill_all(c, STREAM_R_TIMEOUT);
			c->last_rx_ns = now;
		} else if (now - c->last_tx_elicit_ns >= (uint64_t)c->cfg.keepalive_ms * NS_PER_MS) {
			c->ping_pending = true;
		}
	}
}

static bool have_elicit_work(const struct stream_conn *c)
{
	return c->sq_head || c->ping_pending || c->close_pending || c->nrstq || c->need_conn_window;
}

static bool can_send_elicit(const struct stream_conn *c)
{
	return c->next_pn - c->sent_base <= c->sent_mask &&
	       c->bytes_in_flight + c->cfg.mtu_payload <= max64(cwnd(c), c->cfg.mtu_payload);
}

/* Control frames that must not wait behind a flight of bulk data. */
static bool have_ctrl_work(const struct stream_conn *c)
{
	return c->cq_head || c->ping_pending || c->close_pending || c->nrstq || c->need_conn_window;
}

/*
 * A packet of control frames only goes at once: it ignores the pacer, and may exceed
 * cwnd by CTRL_BURST_PKTS packets (as QUIC lets probes and urgent frames exceed the
 * congestion window). They are small, and few: one per stream per event.
 */
static bool can_send_ctrl(const struct stream_conn *c)
{
	return c->next_pn - c->sent_base <= c->sent_mask &&
	       c->bytes_in_flight + c->cfg.mtu_payload <=
		       max64(cwnd(c), c->cfg.mtu_payload) + CTRL_BURST_PKTS * (uint64_t)c->cfg.mtu_payload;
}

uint64_t stream_next_deadline(const struct stream_conn *c)
{
	uint64_t d = STREAM_NO_DEADLINE;

	if (c->ack_now || (have_ctrl_work(c) && can_send_ctrl(c)))
		return 0;
	if (c->rx_unacked)
		d = min64(d, c->ack_deadline);
	if (have_elicit_work(c) && can_send_elicit(c)) {
		/*
		 * Fast pacing wakes the host once per batch, not once per packet: at
		 * 16 MB/s packets are 75 us apart, and a wake-up each (a timer, epoll, a
		 * context switch) cost more CPU than the packet. The credit that builds
		 * meanwhile is sent at once (see the pacer in stream_next_datagram()).
		 */
		uint64_t gap = (uint64_t)c->cfg.mtu_payload * NS_PER_S / pacing_rate(c);

		d = min64(d, c->next_send_ns + (gap < PACING_BATCH_NS ? PACING_BATCH_NS - gap : 0));
	}
	if (c->loss_time)
		d = min64(d, c->loss_time);
	if (c->echo_n)	/* past due but unsendable: stream_next_datagram() drops it */
		d = min64(d, c->echoq[c->echo_head].at);
	d = min64(d, rto_deadline(c));
	d = min64(d, probe_deadline(c));
	if (c->nstreams) {
		d = min64(d, c->last_rx_ns + (uint64_t)c->cfg.idle_timeout_ms * NS_PER_MS);
		if (!c->ping_pending)
			d = min64(d, c->last_tx_elicit_ns + (uint64_t)c->cfg.keepalive_ms * NS_PER_MS);
	}
	return d;
}

/* --- output --- */

static int desc_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * The ranges an ACK frame reports, newest first: the newest ACK_TOP_RANGES, then those
 * of late arrivals. Two paths of different delays leave a hole every few packets for
 * as long as the slow path takes; at 20 MB/s, 32 newest ranges spanned 7 ms, and a
 * packet the slow path brought 10 ms late fell below them: never acked, it was taken
 * for lost and sent again (16 % of all packets). A range left out is not a loss to
 * the sender (a gap is only "not acked here"), so any descending subset will do.
 */
static unsigned int ack_ranges(struct stream_conn *c, uint32_t *idx)
{
	const struct rset *s = &c->rx_pns;
	unsigned int n = 0, i, k;

	for (i = s->n; i > 0 && n < ACK_TOP_RANGES; i--)
		idx[n++] = i - 1;
	k = n;
	for (i = 0; i < RX_LATE_MAX; i++) {
		uint32_t x;

		if (!c->rx_late_acks[i])
			continue;
		c->rx_late_acks[i]--;
		x = rset_index(s, c->rx_late[i]);
		if (x != UINT32_MAX && x + ACK_TOP_RANGES < s->n)
			idx[k++] = x;
	}
	qsort(idx + n, k - n, sizeof(*idx), desc_u32);
	for (i = n; i < k; i++)	/* two late packets in one range: once */
		if (idx[i] != idx[n - 1])
			idx[n++] = idx[i];
	return n;
}

/* A packet below the largest one received: its range goes in the next ACK frames. */
static void late_arrival(struct stream_conn *c, uint64_t pn)
{
	unsigned int i, oldest = 0;

	for (i = 0; i < RX_LATE_MAX; i++) {
		if (!c->rx_late_acks[i]) {
			oldest = i;
			break;
		}
		if (c->rx_late_acks[i] < c->rx_late_acks[oldest])
			oldest = i;
	}
	c->rx_late[oldest] = pn;
	c->rx_late_acks[oldest] = RX_LATE_ACKS;
}

static size_t put_ack(struct stream_conn *c, uint64_t now, uint8_t *p, size_t room)
{
	const struct rset *s = &c->rx_pns;
	uint32_t idx[ACK_TOP_RANGES + RX_LATE_MAX];
	unsigned int i, nr = 0, n;
	uint64_t delay, lo;

	if (rset_empty(s) || room < ACK_HDR_LEN)
		return 0;
	n = ack_ranges(c, idx);
	delay = (now - c->rx_largest_ns) / 8000;
	p[0] = F_ACK;
	put16(p + 2, delay > 0xffff ? 0xffff : (uint16_t)delay);
	put64(p + 4, s->r[s->n - 1].hi - 1);
	put32(p + 12, (uint32_t)min64(s->r[s->n - 1].hi - 1 - s->r[s->n - 1].lo, UINT32_MAX));
	lo = s->r[s->n - 1].lo;
	for (i = 1; i < n && nr < ACK_RANGES_MAX; i++) {
		const struct rset_range *r = &s->r[idx[i]];
		uint64_t gap = lo - r->hi, len = r->hi - 1 - r->lo;

		if (gap > 0xffff || len > 0xffff || room < ACK_HDR_LEN + 4u * (nr + 1))
			break;
		put16(p + ACK_HDR_LEN + 4 * (size_t)nr, (uint16_t)gap);
		put16(p + ACK_HDR_LEN + 4 * (size_t)nr + 2, (uint16_t)len);
		nr++;
		lo = r->lo;
	}
	p[1] = nr;
	c->ack_now = false;
	c->rx_unacked = 0;
	return ACK_HDR_LEN + 4u * nr;
}

static struct sent_frame *add_rec(struct sent_pkt *rec, uint8_t type, uint32_t id)
{
	struct sent_frame *f = &rec->f[rec->nframes++];

	memset(f, 0, sizeof(*f));
	f->type = type;
	f->stream = id;
	return f;
}

/* One frame of stream s into p. Returns the bytes used, 0 if none fit. */
static size_t put_stream_frame(struct stream_conn *c, struct stream *s, uint8_t *p, size_t room,
			       struct sent_pkt *rec)
{
	uint64_t off, len;
	bool fin;

	if (s->need_reset) {
		if (room < RESET_LEN)
			return 0;
		p[0] = F_RESET;
		put32(p + 1, s->id);
		put32(p + 5, s->reason);
		put64(p + 9, s->send_next);	/* our final size: nothing new goes after a reset */
		add_rec(rec, F_RESET, s->id)->fin = s->reason;
		s->need_reset = 0;
		return RESET_LEN;
	}
	if (s->need_window) {
		if (room < WINDOW_LEN)
			return 0;
		s->adv_max = s->read_off + c->cfg.recv_window;
		p[0] = F_WINDOW;
		put32(p + 1, s->id);
		put64(p + 5, s->adv_max);
		add_rec(rec, F_WINDOW, s->id);
		s->need_window = 0;
		return WINDOW_LEN;
	}
	if (room < DATA_HDR_LEN + 1)
		return 0;
	room -= DATA_HDR_LEN;
	if (!rset_empty(&s->lost)) {
		off = s->lost.r[0].lo;
		len = min64(min64(s->lost.r[0].hi - off, room), 0xffff);
		rset_remove(&s->lost, off, off + len);	/* a prefix: never needs room */
		rec->rtx = 1;
	} else {
		off = s->send_next;
		len = min64(min64(min64(s->write_off, s->peer_max) - off, room), 0xffff);
		len = min64(len, conn_credit(c));	/* new bytes: the connection window too */
		s->send_next += len;
		c->tx_data += len;
	}
	fin = s->fin_written && off + len == s->write_off && !s->fin_acked;
	if (!len && !fin)
		return 0;
	if (fin)
		s->fin_pending = 0;
	p[0] = fin ? F_DATA_FIN : F_DATA;
	put32(p + 1, s->id);
	put64(p + 5, off);
	put16(p + 13, (uint16_t)len);
	ring_get(&s->sb, off, p + DATA_HDR_LEN, len);
	{
		struct sent_frame *f = add_rec(rec, F_DATA, s->id);

		f->off = off;
		f->len = (uint16_t)len;
		f->fin = fin;
	}
	return DATA_HDR_LEN + len;
}

/*
 * A thin flight: the connection has at most THIN_PKTS packets' worth of data to deliver
 * (typing, a request, a prompt, a close). Each of its packets goes twice, the copy
 * ECHO_GAP_NS later, under a new packet number: peer mode already sends each datagram
 * over every path, but with two paths at 30 % loss 9 % are lost on both, and a lost
 * keystroke waited for the time threshold or the tail probe and a round trip (100-200
 * ms). Twice, 0.8 % are. A bulk transfer is not thin and does not pay for it, but for
 * its tail: a repair sent when nothing else waits and the window is half empty goes
 * twice too, so that the last holes need fewer rounds of repairs. A copy whose packet
 * was acked or taken for lost meanwhile is not sent (the peer acks a lone packet
 * within 10 ms, so over a LAN a keystroke's copy still goes: a hundred bytes).
 */
static void echo_save(struct stream_conn *c, uint64_t now, const struct sent_pkt *rec,
		      const uint8_t *frames, size_t len)
{
	struct echo *e;

	/* every packet passes here: the cheap tests first */
	if (c->echo_n == ECHO_MAX || rec->echo || !rec->nframes)
		return;
	if (c->tx_buffered > (uint64_t)THIN_PKTS * c->cfg.mtu_payload &&	/* not thin */
	    !(rec->rtx && !have_elicit_work(c) && c->bytes_in_flight <= cwnd(c) / 2)) /* nor a tail */
		return;
	e = &c->echoq[(c->echo_head + c->echo_n) % ECHO_MAX];
	memcpy(c->echo_buf + (size_t)(e - c->echoq) * c->cfg.mtu_payload, frames, len);
	e->len = len;
	e->pn = rec->pn;
	e->at = now + ECHO_GAP_NS;
	c->echo_n++;
}

/*
 * The copy due now, if any, and its packet (*orig, still in flight); those whose packet
 * is acked or lost by now are dropped.
 */
static struct echo *echo_due(struct stream_conn *c, uint64_t now, const struct sent_pkt **orig)
{
	struct echo *e;

	while (c->echo_n) {
		e = &c->echoq[c->echo_head];
		if (now < e->at)
			return NULL;
		*orig = sent_at(c, e->pn);
		if (*orig && can_send_ctrl(c))
			return e;
		c->echo_head = (c->echo_head + 1) % ECHO_MAX;
		c->echo_n--;
	}
	return NULL;
}

int stream_next_datagram(struct stream_conn *c, uint64_t now, void *buf, size_t cap)
{
	uint8_t *p = buf;
	size_t mtu = c->cfg.mtu_payload, pos = STREAM_HDR_LEN, n;
	bool elicit = false, ack_due = c->ack_now || (c->rx_unacked && now >= c->ack_deadline);
	bool bulk, ctrl;
	struct sent_pkt *rec;
	struct stream *s;
	const struct sent_pkt *orig;
	struct echo *e;
	size_t fstart;	/* where the frames after the ACK begin */

	if (cap < mtu)
		return -EINVAL;
	rec = &c->sent[c->next_pn & c->sent_mask];
	bulk = have_elicit_work(c) && can_send_elicit(c) && now >= c->next_send_ns;
	ctrl = have_ctrl_work(c) && can_send_ctrl(c);
	fstart = pos;
	if ((e = echo_due(c, now, &orig))) {
		/* a thin flight's packet again: its frames, and an ACK if one is due and fits */
		memset(rec, 0, offsetof(struct sent_pkt, f));
		memcpy(p + pos, c->echo_buf + (size_t)(e - c->echoq) * mtu, e->len);
		pos += e->len;
		/* rec is not orig's slot: can_send_ctrl() keeps next_pn within the ring */
		memcpy(rec->f, orig->f, orig->nframes * sizeof(orig->f[0]));
		rec->nframes = orig->nframes;
		rec->echo = 1;
		if (c->ack_now || c->rx_unacked)
			pos += put_ack(c, now, p + pos, mtu - pos);
		c->echo_head = (c->echo_head + 1) % ECHO_MAX;
		c->echo_n--;
		c->st.echoes++;
		elicit = true;
	} else if (bulk || ctrl) {
		/* the slot is free: can_send_elicit() keeps next_pn within the ring */
		memset(rec, 0, offsetof(struct sent_pkt, f));
		if (c->ack_now || c->rx_unacked)
			pos += put_ack(c, now, p + pos, mtu - pos);
		fstart = pos;
		if (c->close_pending && mtu - pos >= CLOSE_LEN) {
			p[pos] = F_CLOSE;
			put32(p + pos + 1, STREAM_R_PEER_CLOSE);
			pos += CLOSE_LEN;
			c->close_pending--;
			elicit = true;
		}
		if (c->need_conn_window && mtu - pos >= CONN_WINDOW_LEN) {
			c->rx_max_data = max64(c->rx_max_data,
					       c->rx_released + c->cfg.conn_recv_window);
			p[pos] = F_CONN_WINDOW;
			put64(p + pos + 1, c->rx_max_data);
			add_rec(rec, F_CONN_WINDOW, 0);
			pos += CONN_WINDOW_LEN;
			c->need_conn_window = false;
			elicit = true;
		}
		while (c->nrstq && mtu - pos >= RESET_LEN && rec->nframes < FRAMES_MAX) {
			c->nrstq--;
			p[pos] = F_RESET;
			put32(p + pos + 1, c->rstq[c->nrstq].id);
			put32(p + pos + 5, c->rstq[c->nrstq].reason);
			put64(p + pos + 9, FINAL_NEVER);	/* refused: nothing counted either way */
			add_rec(rec, F_RESET, c->rstq[c->nrstq].id)->fin = (uint8_t)c->rstq[c->nrstq].reason;
			pos += RESET_LEN;
			elicit = true;
		}
		/* control frames first: RESET, WINDOW, a FIN with no data */
		while ((s = c->cq_head) && rec->nframes < FRAMES_MAX) {
			n = put_stream_frame(c, s, p + pos, mtu - pos, rec);
			if (!n && mtu - pos < DATA_HDR_LEN + 16)
				break;	/* no room left */
			cq_remove(c, s);	/* sent, or nothing to send after all */
			sched(c, s);
			if (!n) {
				cq_remove(c, s);
				continue;
			}
			pos += n;
			elicit = true;
		}
		/* round robin: each stream gives one frame, then goes to the back */
		while (bulk && c->sq_head && rec->nframes < FRAMES_MAX) {
			s = c->sq_head;
			n = put_stream_frame(c, s, p + pos, mtu - pos, rec);
			if (!n && !wants_send(c, s)) {
				sq_remove(c, s);	/* only new bytes, and the connection window shut */
				continue;
			}
			if (!n)
				break;
			pos += n;
			elicit = true;
			sq_remove(c, s);
			sched(c, s);
			if (mtu - pos < DATA_HDR_LEN + 16)
				break;
		}
		if (c->ping_pending && (!elicit || mtu - pos >= 1)) {
			if (!elicit) {
				p[pos++] = F_PING;
				elicit = true;
			}
			c->ping_pending = false;
		}
		if (!elicit)	/* nothing could go after all */
			c->app_limited_until = c->delivered + c->bytes_in_flight;
	} else if (ack_due) {
		pos += put_ack(c, now, p + pos, mtu - pos);
	} else if (!have_elicit_work(c)) {
		c->app_limited_until = c->delivered + max64(c->bytes_in_flight, 1);
	}
	if (pos == STREAM_HDR_LEN)
		return 0;

	p[0] = STREAM_VERSION;
	p[1] = 0;
	put48(p + 2, c->next_pn);
	put64(p + 8, c->cfg.epoch);
	put64(p + 16, c->peer_epoch);
	if (elicit) {
		uint64_t rate = pacing_rate(c), gap = (uint64_t)pos * NS_PER_S / rate;
		/* pacing: at most a batch (or two packets) of credit after a pause */
		uint64_t credit = max64(2 * gap, PACING_BATCH_NS);

		if (!c->bytes_in_flight)	/* restarting from idle: intervals start now */
			c->first_sent_ns = c->delivered_ns = now;
		rec->pn = c->next_pn;
		rec->sent_ns = now;
		rec->size = (uint32_t)pos;
		rec->in_flight = 1;
		rec->lost = 0;
		rec->delivered = c->delivered;
		rec->delivered_ns = c->delivered_ns;
		rec->first_sent_ns = c->first_sent_ns;
		rec->app_limited = c->delivered < c->app_limited_until;
		c->bytes_in_flight += pos;
		c->last_tx_elicit_ns = now;
		c->next_send_ns = max64(c->next_send_ns, now > credit ? now - credit : 0) + gap;
		echo_save(c, now, rec, p + fstart, pos - fstart);
	}
	c->next_pn++;
	advance_base(c, now);
	c->st.tx_datagrams++;
	c->st.tx_bytes += pos;
	return (int)pos;
}

/* --- events and the application's side --- */

int stream_next_event(struct stream_conn *c, struct stream_event *ev)
{
	struct stream *s;
	static const uint8_t order[] = { EVF_OPENED, EVF_READABLE, EVF_WRITABLE, EVF_RESET,
					 EVF_CLOSED };
	unsigned int i;

	while ((s = c->ev_head)) {
		for (i = 0; i < sizeof(order); i++)
			if (s->ev & order[i])
				break;
		if (i == sizeof(order)) {
			c->ev_head = s->ev_next;
			if (!c->ev_head)
				c->ev_tail = NULL;
			s->in_evq = 0;
			continue;
		}
		memset(ev, 0, sizeof(*ev));
		ev->id = s->id;
		ev->reason = s->reason;
		s->ev &= ~order[i];
		switch (order[i]) {
		case EVF_OPENED:
			ev->type = STREAM_EV_OPENED;
			memcpy(ev->target, s->target, sizeof(ev->target));
			break;
		case EVF_READABLE:
			ev->type = STREAM_EV_READABLE;
			break;
		case EVF_WRITABLE:
			ev->type = STREAM_EV_WRITABLE;
			break;
		case EVF_RESET:
			ev->type = STREAM_EV_RESET;
			break;
		default:
			ev->type = STREAM_EV_CLOSED;
			c->ev_head = s->ev_next;
			if (!c->ev_head)
				c->ev_tail = NULL;
			s->in_evq = 0;
			stream_destroy(c, s);
			break;
		}
		return 1;
	}
	return 0;
}

static struct stream *app_stream(const struct stream_conn *c, uint32_t id)
{
	struct stream *s = find(c, id);

	return s && s->announced && !s->closing ? s : NULL;
}

int64_t stream_open(struct stream_conn *c, uint64_t now, const char *target)
{
	size_t n = target ? strnlen(target, STREAM_TARGET_MAX + 1) : 0;
	struct stream *s;
	uint8_t len;

	if (!n || n > STREAM_TARGET_MAX)
		return -EINVAL;
	if (c->nstreams >= c->cfg.max_streams)
		return -EAGAIN;
	if (c->next_local_id >= (1u << 31))
		return -ENOSPC;
	s = stream_new(c, c->next_local_id, now);
	if (!s)
		return -ENOMEM;
	memcpy(s->target, target, n);	/* for stream_stream_info(): the peer's side parses it */
	s->snd_cap += 1 + n;
	if (ring_fit(&s->sb, 0, 1 + n)) {
		s->closing = 1;
		stream_destroy(c, s);
		return -ENOMEM;
	}
	len = (uint8_t)n;
	ring_put(&s->sb, 0, &len, 1);
	ring_put(&s->sb, 1, target, n);
	s->write_off = 1 + n;
	c->tx_buffered += 1 + n;	/* may pass the bound by a target name: never refused */
	s->hdr_done = 1;
	s->announced = 1;
	c->next_local_id += 2;
	sched(c, s);
	return s->id;
}

ssize_t stream_write(struct stream_conn *c, uint32_t id, const void *buf, size_t len)
{
	struct stream *s = app_stream(c, id);
	uint64_t space;

	if (!s)
		return -ENOENT;
	if (s->reset_local || s->reset_peer)
		return -ECONNRESET;
	if (s->fin_written)
		return -EPIPE;
	space = s->snd_cap - (s->write_off - s->snd_una);
	if (len > space) {
		len = space;
		s->want_writable = 1;
	}
	if (len > c->cfg.conn_send_buffer - min64(c->tx_buffered, c->cfg.conn_send_buffer)) {
		/* the connection's bound: all streams together (docs/TCP.md, Memory) */
		len = c->cfg.conn_send_buffer - min64(c->tx_buffered, c->cfg.conn_send_buffer);
		s->want_writable = 1;
		c->tx_blocked = true;
	}
	if (!len)
		return 0;
	if (ring_fit(&s->sb, s->snd_una, s->write_off + len - s->snd_una))
		return -ENOMEM;
	ring_put(&s->sb, s->write_off, buf, len);
	s->write_off += len;
	c->tx_buffered += len;
	sched(c, s);
	return (ssize_t)len;
}

static uint64_t readable_bytes(const struct stream *s)
{
	uint64_t end = rset_end_from(&s->rcvd, s->read_off);

	return min64(end, s->fin_off) - s->read_off;
}

size_t stream_readable(const struct stream_conn *c, uint32_t id)
{
	const struct stream *s = app_stream(c, id);

	if (!s || s->reset_local || s->reset_peer)
		return 0;
	return readable_bytes(s);
}

ssize_t stream_read(struct stream_conn *c, uint32_t id, void *buf, size_t len)
{
	struct stream *s = app_stream(c, id);
	uint64_t n;

	if (!s)
		return -ENOENT;
	if (s->reset_local || s->reset_peer)
		return -ECONNRESET;
	n = min64(readable_bytes(s), len);
	if (!n) {
		if (s->read_off != s->fin_off)
			return -EAGAIN;
		if (!s->fin_read) {
			s->fin_read = 1;
			check_closed(c, s);
		}
		return 0;
	}
	ring_get(&s->rb, s->read_off, buf, n);
	s->read_off += n;
	rset_trim_below(&s->rcvd, s->read_off);
	conn_release(c, n);
	/* open the window again once a quarter of it has been read */
	if (s->fin_off == UINT64_MAX &&
	    s->read_off + c->cfg.recv_window >= s->adv_max + c->cfg.recv_window / 4) {
		s->need_window = 1;
		sched(c, s);
	}
	return (ssize_t)n;
}

int stream_shutdown_write(struct stream_conn *c, uint32_t id)
{
	struct stream *s = app_stream(c, id);

	if (!s)
		return -ENOENT;
	if (s->reset_local || s->reset_peer)
		return -ECONNRESET;
	if (!s->fin_written) {
		s->fin_written = 1;
		s->fin_pending = 1;
		sched(c, s);
	}
	return 0;
}

int stream_reset(struct stream_conn *c, uint32_t id, enum stream_reason reason)
{
	struct stream *s = app_stream(c, id);

	if (!s)
		return -ENOENT;
	if (s->reset_local || s->reset_peer)
		return 0;
	local_reset(c, s, reason < STREAM_R_MAX ? reason : STREAM_R_APP);
	return 0;
}

void stream_conn_close(struct stream_conn *c)
{
	c->close_pending = 3;	/* three copies: no ack will come to retransmit it */
}

/* --- the connection --- */

void stream_config_default(struct stream_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* 1280 (IPv6's minimum MTU) - 40 - 8 - 16 (peer header) leaves 1216 */
	cfg->mtu_payload = 1200;
	cfg->rto_min_ms = 200;
	cfg->recv_window = 8u << 20;
	cfg->send_buffer = 8u << 20;
	cfg->conn_send_buffer = 64u << 20;
	cfg->conn_recv_window = 64u << 20;	/* 8 stream windows: 8 stalled readers stop the rest */
	cfg->max_streams = 4096;
	cfg->max_inflight = 8192;
	cfg->keepalive_ms = 5000;
	cfg->idle_timeout_ms = 30000;
}

int stream_conn_new(const struct stream_config *cfg, struct stream_conn **out)
{
	struct stream_conn *c;
	uint32_t n;

	if (cfg->mtu_payload < STREAM_MTU_MIN || cfg->mtu_payload > STREAM_MTU_MAX ||
	    cfg->recv_window < STREAM_INITIAL_WINDOW || cfg->recv_window > (1u << 30) ||
	    !cfg->send_buffer || cfg->send_buffer > (1u << 30) ||
	    cfg->conn_send_buffer < cfg->send_buffer ||
	    cfg->conn_recv_window < cfg->recv_window ||
	    cfg->conn_recv_window < STREAM_CONN_INITIAL_WINDOW || cfg->conn_recv_window > (1ull << 40) ||
	    !cfg->max_streams || cfg->max_streams > (1u << 20) ||
	    cfg->max_inflight < 16 || cfg->max_inflight > (1u << 20) ||
	    !cfg->epoch || !cfg->keepalive_ms || cfg->idle_timeout_ms <= cfg->keepalive_ms)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	for (n = 16; n < cfg->max_inflight; n *= 2)
		;
	c->sent = calloc(n, sizeof(*c->sent));
	c->sent_mask = n - 1;
	for (n = 16; n < 2 * cfg->max_streams; n *= 2)
		;
	c->tab = calloc(n, sizeof(*c->tab));
	c->tab_mask = n - 1;
	c->echo_buf = malloc((size_t)ECHO_MAX * cfg->mtu_payload);
	if (!c->sent || !c->tab || !c->echo_buf) {
		free(c->sent);
		free(c->tab);
		free(c->echo_buf);
		free(c);
		return -ENOMEM;
	}
	rset_init(&c->rx_pns, RX_RANGES_MAX + 1);
	c->next_pn = c->sent_base = c->spur_base = 1;
	c->tx_max_data = c->rx_max_data = STREAM_CONN_INITIAL_WINDOW;
	c->next_local_id = cfg->client ? 0 : 1;
	c->peer_next_id = cfg->client ? 1 : 0;
	*out = c;
	return 0;
}

void stream_conn_free(struct stream_conn *c)
{
	if (!c)
		return;
	while (c->all) {
		c->all->in_evq = 0;
		stream_destroy(c, c->all);
	}
	rset_free(&c->rx_pns);
	free(c->sent);
	free(c->tab);
	free(c->echo_buf);
	free(c);
}

const struct stream_stats *stream_stats(const struct stream_conn *c)
{
	return &c->st;
}

void stream_get_info(const struct stream_conn *c, struct stream_info *info)
{
	memset(info, 0, sizeof(*info));
	info->srtt_us = c->srtt / 1000;
	info->rttvar_us = c->rttvar / 1000;
	info->min_rtt_us = c->min_rtt / 1000;
	info->rto_us = rto_ns(c) / 1000;
	info->btl_bw = c->btl_bw;
	info->pacing_rate = pacing_rate(c);
	info->cwnd = cwnd(c);
	info->bytes_in_flight = c->bytes_in_flight;
	info->streams = c->nstreams;
	info->peer_epoch = c->peer_epoch;
	info->loss_avg = c->loss_avg;
	info->tx_conn_data = c->tx_data;
	info->tx_conn_credit = conn_credit(c);
	info->rx_conn_data = c->rx_data;
	info->rx_buffered = c->rx_data - c->rx_released;
}

const char *stream_reason_name(enum stream_reason r)
{
	static const char *const names[STREAM_R_MAX] = {
		"reset by application", "connection refused", "target unreachable",
		"connect timed out", "too many streams", "unknown stream", "peer restarted",
		"link timed out", "peer closed",
	};

	return (unsigned int)r < STREAM_R_MAX ? names[r] : "?";
}

/* --- a stream as status shows it --- */

const char *stream_state_name(enum stream_state st)
{
	static const char *const names[STREAM_S_MAX] = {
		"opening", "open", "half-closed-local", "half-closed-remote", "closing",
		"resetting", "reset",
	};

	return (unsigned int)st < STREAM_S_MAX ? names[st] : "?";
}

int stream_stream_info(const struct stream_conn *c, uint32_t id, struct stream_stream_info *out)
{
	const struct stream *s = find(c, id);
	uint64_t hdr, rx_end;
	bool peer_fin;

	if (!s)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->local = (id & 1) == (c->cfg.client ? 0 : 1);
	memcpy(out->target, s->target, sizeof(out->target));
	/* the opener's first bytes, [length][name], are the stream's, not the application's */
	hdr = s->hdr_done ? 1 + strnlen(s->target, STREAM_TARGET_MAX) : 0;
	if (out->local) {
		out->tx_bytes = s->write_off - min64(hdr, s->write_off);
		out->tx_acked = s->snd_una - min64(hdr, s->snd_una);
		hdr = 0;
	} else {
		out->tx_bytes = s->write_off;
		out->tx_acked = s->snd_una;
	}
	rx_end = min64(rset_end_from(&s->rcvd, s->read_off), s->fin_off);
	if (out->local || s->hdr_done) {	/* else all there is, is part of the name */
		out->rx_read = s->read_off - min64(hdr, s->read_off);
		out->rx_bytes = rx_end - min64(hdr, rx_end);
	}
	peer_fin = s->fin_read || (s->fin_off != UINT64_MAX && rx_end == s->fin_off);
	out->reason = s->reason;
	if (s->reset_local)
		out->state = s->reset_acked ? STREAM_S_RESET : STREAM_S_RESETTING;
	else if (s->reset_peer)
		out->state = STREAM_S_RESET;
	else if (!s->hdr_done)
		out->state = STREAM_S_OPENING;
	else if (s->fin_written && peer_fin)
		out->state = STREAM_S_CLOSING;
	else if (s->fin_written)
		out->state = STREAM_S_HALF_CLOSED_LOCAL;
	else if (peer_fin)
		out->state = STREAM_S_HALF_CLOSED_REMOTE;
	else
		out->state = STREAM_S_OPEN;
	return 0;
}
