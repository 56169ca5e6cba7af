// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The stream layer against a simulated link (linksim.h) in simulated time: two
 * engines, a client and a server, each with a small application that writes a
 * known pattern and checks every byte it reads against it, so that a byte lost,
 * doubled or out of order fails the test at the byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "stream_rset.h"
#include "unit/linksim.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define MAXS 2048
#define CHUNK 16384

/* The byte at offset off of stream id in direction dir (0: client to server). */
static uint8_t pattern(uint32_t id, int dir, uint64_t off)
{
	uint64_t x = (off >> 3) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)id << 1 | (uint64_t)dir);

	x ^= x >> 29;
	return (uint8_t)(x >> ((off & 7) * 8));
}

struct app_st {
	bool used, opened, eof, reset, closed, fin_sent, no_read;
	int reason;
	uint64_t to_send, sent, rcvd;
	uint64_t eof_ns, fin_ns;
	char target[STREAM_TARGET_MAX + 1];
};

struct app {
	struct stream_conn *c;
	int dir;			/* the direction it writes: 0 client, 1 server */
	struct app_st s[MAXS];
	uint64_t reply_bytes;		/* server: bytes to send on each opened stream */
	bool shut_after_send;		/* FIN once to_send is written */
	bool shut_on_eof;		/* ...but only after the peer's FIN */
	int reset_on_open;		/* server: reset new streams with this reason + 1 */
	int bad_bytes, opened, eofs, closed, resets;
	uint64_t rcvd_total;
	uint64_t now;
};

static struct app_st *st_of(struct app *a, uint32_t id)
{
	assert_true(id / 2 < MAXS);
	return &a->s[id / 2];
}

static void app_write(struct app *a, uint32_t id)
{
	struct app_st *st = st_of(a, id);
	uint8_t buf[CHUNK];
	ssize_t n;
	uint64_t k, i;

	while (st->sent < st->to_send && !st->reset) {
		k = st->to_send - st->sent < CHUNK ? st->to_send - st->sent : CHUNK;
		for (i = 0; i < k; i++)
			buf[i] = pattern(id, a->dir, st->sent + i);
		n = stream_write(a->c, id, buf, k);
		if (n <= 0)
			break;
		st->sent += (uint64_t)n;
	}
	if (st->sent == st->to_send && a->shut_after_send && !st->fin_sent && !st->reset &&
	    (!a->shut_on_eof || st->eof)) {
		assert_int_equal(stream_shutdown_write(a->c, id), 0);
		st->fin_sent = true;
		st->fin_ns = a->now;
	}
}

static void app_read(struct app *a, uint32_t id)
{
	struct app_st *st = st_of(a, id);
	uint8_t buf[CHUNK];
	ssize_t n, i;

	if (st->no_read)
		return;
	while ((n = stream_read(a->c, id, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(id, 1 - a->dir, st->rcvd + (uint64_t)i))
				a->bad_bytes++;
		st->rcvd += (uint64_t)n;
		a->rcvd_total += (uint64_t)n;
	}
	if (n == 0 && !st->eof) {
		st->eof = true;
		st->eof_ns = a->now;
		a->eofs++;
		if (a->shut_on_eof)
			app_write(a, id);
	}
}

static void app_events(struct app *a)
{
	struct stream_event ev;
	struct app_st *st;

	while (stream_next_event(a->c, &ev)) {
		st = st_of(a, ev.id);
		switch (ev.type) {
		case STREAM_EV_OPENED:
			assert_false(st->opened);
			st->used = st->opened = true;
			strcpy(st->target, ev.target);
			a->opened++;
			if (a->reset_on_open) {
				assert_int_equal(stream_reset(a->c, ev.id, a->reset_on_open - 1), 0);
				break;
			}
			st->to_send = a->reply_bytes;
			app_write(a, ev.id);
			break;
		case STREAM_EV_READABLE:
			app_read(a, ev.id);
			break;
		case STREAM_EV_WRITABLE:
			app_write(a, ev.id);
			break;
		case STREAM_EV_RESET:
			assert_false(st->reset);
			st->reset = true;
			st->reason = ev.reason;
			a->resets++;
			break;
		case STREAM_EV_CLOSED:
			assert_false(st->closed);
			st->closed = true;
			a->closed++;
			break;
		}
	}
}

static uint32_t stream_get_info_streams(const struct stream_conn *c)
{
	struct stream_info in;

	stream_get_info(c, &in);
	return in.streams;
}

struct world {
	struct sim sim;
	struct app *end[2];	/* 0 client, 1 server */
	uint64_t loops;
	void (*capture)(const uint8_t *buf, int len);	/* sees the client's datagrams */
};

static uint64_t epoch_seq = 0x1000;

static struct stream_conn *mk_conn(bool client, void (*tweak)(struct stream_config *))
{
	struct stream_config cfg;
	struct stream_conn *c = NULL;

	stream_config_default(&cfg);
	cfg.client = client;
	cfg.epoch = ++epoch_seq * 0x9E3779B97F4A7C15ull;
	if (tweak)
		tweak(&cfg);
	assert_int_equal(stream_conn_new(&cfg, &c), 0);
	return c;
}

static void world_init(struct world *w, uint64_t seed, const struct sim_dir_cfg *d,
		       void (*tweak)(struct stream_config *))
{
	int i;

	memset(w, 0, sizeof(*w));
	sim_init(&w->sim, seed);
	w->sim.dir[0] = w->sim.dir[1] = *d;
	for (i = 0; i < 2; i++) {
		w->end[i] = calloc(1, sizeof(struct app));
		assert_non_null(w->end[i]);
		w->end[i]->dir = i;
		w->end[i]->c = mk_conn(i == 0, tweak);
	}
}

static void world_free(struct world *w)
{
	int i;

	for (i = 0; i < 2; i++) {
		stream_conn_free(w->end[i]->c);
		free(w->end[i]);
	}
	sim_free(&w->sim);
}

static void flush(struct world *w, int i)
{
	uint8_t buf[SIM_MTU];
	int n;

	w->end[i]->now = w->sim.now;
	stream_tick(w->end[i]->c, w->sim.now);
	app_events(w->end[i]);
	while ((n = stream_next_datagram(w->end[i]->c, w->sim.now, buf, sizeof(buf))) > 0) {
		if (i == 0 && w->capture)
			w->capture(buf, n);
		sim_send(&w->sim, i, buf, (size_t)n);
	}
	assert_true(n == 0);
	app_events(w->end[i]);
}

static void trace(struct world *w)
{
	struct stream_info in;
	const struct stream_stats *st;
	int i;

	for (i = 0; i < 2; i++) {
		stream_get_info(w->end[i]->c, &in);
		st = stream_stats(w->end[i]->c);
		fprintf(stderr, "t=%.1f %d: srtt %llu rto %llu bw %llu pace %llu cwnd %llu infl %llu rtx %llu rto# %llu rcvd %llu tx %llu rx %llu\n",
			(double)w->sim.now / 1e9, i, (unsigned long long)in.srtt_us / 1000,
			(unsigned long long)in.rto_us / 1000, (unsigned long long)in.btl_bw / 1000,
			(unsigned long long)in.pacing_rate / 1000, (unsigned long long)in.cwnd,
			(unsigned long long)in.bytes_in_flight, (unsigned long long)st->retransmits,
			(unsigned long long)st->rto_fired, (unsigned long long)w->end[i]->rcvd_total,
			(unsigned long long)st->tx_datagrams, (unsigned long long)st->rx_datagrams);
	}
}

/* Runs until done(w) or the time limit; returns whether done. */
static bool run(struct world *w, uint64_t limit, bool (*done)(struct world *))
{
	uint64_t end = w->sim.now + limit, next, d;
	struct sim_pkt *p;
	int i;

	for (;;) {
		flush(w, 0);
		flush(w, 1);
		if (done && done(w))
			return true;
		next = sim_next(&w->sim);
		for (i = 0; i < 2; i++) {
			d = stream_next_deadline(w->end[i]->c);
			if (d < next)
				next = d;
		}
		if (next <= w->sim.now)
			next = w->sim.now + 1000;	/* a deadline that did not move: step */
		if (next > end) {
			w->sim.now = end;
			return done ? done(w) : true;
		}
		if (getenv("TRACE") && next / SEC != w->sim.now / SEC)
			trace(w);
		w->sim.now = next;
		w->loops++;
		assert_true(w->loops < 20000000);	/* a spin would never end */
		while ((p = sim_take(&w->sim))) {
			w->end[p->to]->now = w->sim.now;
			assert_int_equal(stream_input(w->end[p->to]->c, w->sim.now, p->data, p->len), 0);
			app_events(w->end[p->to]);
			free(p);
		}
	}
}

/* The client opens a stream that sends `bytes`, then FIN. */
static uint32_t client_open(struct world *w, uint64_t bytes, bool shut)
{
	struct app *a = w->end[0];
	int64_t id = stream_open(a->c, w->sim.now, "example.org:22");
	struct app_st *st;

	assert_true(id >= 0);
	st = st_of(a, (uint32_t)id);
	assert_false(st->used);
	st->used = st->opened = true;
	a->opened++;
	st->to_send = bytes;
	a->shut_after_send = shut;
	app_write(a, (uint32_t)id);
	return (uint32_t)id;
}

static bool all_closed(struct world *w)
{
	return w->end[0]->closed == w->end[0]->opened && w->end[1]->closed == w->end[1]->opened &&
	       w->end[0]->opened > 0 && w->end[1]->opened == w->end[0]->opened;
}

static void expect_clean(struct world *w, uint32_t id, uint64_t up, uint64_t down)
{
	struct app_st *c = st_of(w->end[0], id), *s = st_of(w->end[1], id);

	assert_int_equal(w->end[0]->bad_bytes, 0);
	assert_int_equal(w->end[1]->bad_bytes, 0);
	assert_true(s->opened);
	assert_string_equal(s->target, "example.org:22");
	assert_int_equal(s->rcvd, up);
	assert_int_equal(c->rcvd, down);
	assert_true(c->eof && s->eof && c->closed && s->closed);
	assert_false(c->reset || s->reset);
}

static const struct sim_dir_cfg LAB = {
	.delay_ns = 50 * MS, .rate = 2000000, .queue_bytes = 400000,
};

/*
 * Two paths as in test_tcp_wan: 20 and 30 ms one way, each its own bottleneck. A
 * datagram lost on the fast path and carried by the slow one arrives 10 ms late,
 * dozens of packets out of order.
 */
static const struct sim_dir_cfg MP_FAST = {
	.delay_ns = 20 * MS, .rate = 20000000, .queue_bytes = 750000,
};
static const struct sim_dir_cfg MP_SLOW = {
	.delay_ns = 30 * MS, .rate = 20000000, .queue_bytes = 750000,
};

/* Packets sent twice (thin flights, tail repairs) by both ends in the last bulk_over(). */
static uint64_t bulk_echoes;

/* One stream, `bytes` each way over d (and alt, a second path, if not NULL); returns
 * the simulated seconds to both EOFs. */
static double bulk_over(const struct sim_dir_cfg *d, const struct sim_dir_cfg *alt,
			uint64_t bytes, uint64_t seed)
{
	struct world w;
	uint32_t id;
	double secs;

	world_init(&w, seed, d, NULL);
	if (alt) {
		w.sim.paths = 2;
		w.sim.alt[0] = w.sim.alt[1] = *alt;
	}
	w.end[1]->reply_bytes = bytes;
	w.end[1]->shut_after_send = true;
	id = client_open(&w, bytes, true);
	assert_true(run(&w, 120 * SEC, all_closed));
	expect_clean(&w, id, bytes, bytes);
	secs = (double)(st_of(w.end[0], id)->eof_ns > st_of(w.end[1], id)->eof_ns ?
			st_of(w.end[0], id)->eof_ns : st_of(w.end[1], id)->eof_ns) / 1e9;
	{
		struct stream_info in;

		stream_get_info(w.end[0]->c, &in);
		printf("  %s loss %2.0f%%: %llu bytes each way in %.2f s simulated: %.0f KB/s "
		       "(srtt %llu ms, btl_bw %llu KB/s, retransmits %llu+%llu of which late %llu+%llu, "
		       "loss_avg %.3f, sent twice %llu+%llu)\n",
		       alt ? "two paths," : "one path,", d->loss * 100, (unsigned long long)bytes, secs, (double)bytes / secs / 1000,
		       (unsigned long long)in.srtt_us / 1000, (unsigned long long)in.btl_bw / 1000,
		       (unsigned long long)stream_stats(w.end[0]->c)->retransmits,
		       (unsigned long long)stream_stats(w.end[1]->c)->retransmits,
		       (unsigned long long)stream_stats(w.end[0]->c)->spurious_losses,
		       (unsigned long long)stream_stats(w.end[1]->c)->spurious_losses, in.loss_avg,
		       (unsigned long long)stream_stats(w.end[0]->c)->echoes,
		       (unsigned long long)stream_stats(w.end[1]->c)->echoes);
		bulk_echoes = stream_stats(w.end[0]->c)->echoes + stream_stats(w.end[1]->c)->echoes;
	}
	world_free(&w);
	return secs;
}

static double bulk(double loss, uint64_t bytes, uint64_t seed)
{
	struct sim_dir_cfg d = LAB;

	d.loss = loss;
	return bulk_over(&d, NULL, bytes, seed);
}

/* Over two paths (MP_FAST, MP_SLOW), each losing `loss` both ways. */
static double bulk2(double loss, uint64_t bytes, uint64_t seed)
{
	struct sim_dir_cfg a = MP_FAST, b = MP_SLOW;

	a.loss = b.loss = loss;
	return bulk_over(&a, &b, bytes, seed);
}

/* (a) + (b): intact at 0, 9 and 30 % loss each way; goodput at 9 % >= 60 % of 0 %. */
static void test_bulk(void **state)
{
	uint64_t mb = 4u << 20;
	double t0 = bulk(0, mb, 1), t9 = bulk(0.09, mb, 2), t30 = bulk(0.30, mb, 3);

	printf("  goodput vs 0 %% loss: 9 %%: %.0f %%, 30 %%: %.0f %%\n", 100 * t0 / t9,
	       100 * t0 / t30);
	/* 4 MB at 2 MB/s is 2.1 s of wire time; allow startup and the tail */
	assert_true(t0 < 4.0);
	assert_true(t0 / t9 >= 0.6);
	assert_true(t0 / t30 >= 0.3);
}

/*
 * Issue 14's target on two paths of different delays (peer mode's link): at 30 %
 * loss on each, at least 60 % of the clean goodput. The slow path's copies of what
 * the fast one lost arrive late and out of order; taken for losses, they were sent
 * again (a fifth of all packets) and the loss estimate read 30 % instead of 9 %.
 * Asserted: 70 %, over the mean of four seeds. A reordering window that kept the
 * longest late packet of 10 s made every repair wait 88 ms where 55 would do: 64 %.
 */
static void test_bulk_two_paths(void **state)
{
	uint64_t mb = 8u << 20;
	double t0 = bulk2(0, mb, 11), t30 = 0;
	int k, n = getenv("NSEEDS") ? atoi(getenv("NSEEDS")) : 4;

	(void)state;
	for (k = 0; k < n; k++)
		t30 += bulk2(0.30, mb, 12 + 2 * k) / n;
	printf("  two paths, goodput at 30 %% loss each vs 0 %%: %.0f %% (mean time of %d runs)\n",
	       100 * t0 / t30, n);
	assert_true(t0 / t30 >= 0.7);
}

/* The server has received `thin_want` bytes on stream thin_id. */
static uint64_t thin_want;
static uint32_t thin_id;

static bool thin_arrived(struct world *w)
{
	return st_of(w->end[1], thin_id)->rcvd >= thin_want;
}

/*
 * Typing over two paths that lose 30 % each way: 200 messages of 100 bytes, one every
 * 100 ms. Without a second copy, the 9 % lost on both paths waited for the tail probe
 * (or the time threshold) and a repair: 10 of 200 took longer than 40 ms. A thin
 * flight's packets go twice, 2 ms apart: 0.8 % are lost both times (1 of 200 here).
 * And the tail probe carries the lost bytes itself: the slowest message took 98 ms,
 * 222 ms when the probe was a PING whose ack had to come back first.
 */
static void test_thin_echo(void **state)
{
	struct sim_dir_cfg a = MP_FAST, b = MP_SLOW;
	struct app_st *st;
	struct world w;
	uint64_t t0, slow = 0, worst = 0, lat;
	int k;

	(void)state;
	a.loss = b.loss = 0.3;
	world_init(&w, 41, &a, NULL);
	w.sim.paths = 2;
	w.sim.alt[0] = w.sim.alt[1] = b;
	thin_id = client_open(&w, 0, false);
	st = st_of(w.end[0], thin_id);
	assert_true(run(&w, 2 * SEC, NULL));	/* opened, RTT known */
	for (k = 0; k < 200; k++) {
		t0 = w.sim.now;
		st->to_send += 100;
		w.end[0]->now = t0;
		app_write(w.end[0], thin_id);
		thin_want = st->to_send;
		assert_true(run(&w, 2 * SEC, thin_arrived));
		lat = w.sim.now - t0;
		slow += lat > 40 * MS;
		worst = lat > worst ? lat : worst;
		if (w.sim.now < t0 + 100 * MS)
			assert_true(run(&w, t0 + 100 * MS - w.sim.now, NULL));
	}
	printf("  typing at 30 %% loss on both paths: %llu of 200 messages later than 40 ms, "
	       "the slowest %llu ms; %llu packets sent twice\n", (unsigned long long)slow,
	       (unsigned long long)(worst / MS),
	       (unsigned long long)stream_stats(w.end[0]->c)->echoes);
	assert_true(slow <= 4);
	assert_true(worst < 150 * MS);
	assert_int_equal(w.end[1]->bad_bytes, 0);
	world_free(&w);
}

/* The least btl_bw each end's model had so far (see test_loss_fade). */
static uint64_t fade_min_bw[2];

static void fade_watch(struct world *w)
{
	struct stream_info in;
	int i;

	for (i = 0; i < 2; i++) {
		stream_get_info(w->end[i]->c, &in);
		if (in.btl_bw < fade_min_bw[i])
			fade_min_bw[i] = in.btl_bw;
	}
}

/*
 * A fade: a path losing 5 % each way loses 60 % for 150 ms, as radio links do, then 5 %
 * again. That is not a queue, and the rate must not fall for it. When a loss far above
 * the usual one was taken for a queue overflowing (the bandwidth slots cut by 15 % per
 * loss bucket), the fade took the models to 68 and 72 % of their rate, which the 1.25
 * probe wins back at a quarter per 8 rounds.
 */
static void test_loss_fade(void **state)
{
	struct sim_dir_cfg a = MP_FAST;
	uint64_t mb = 64u << 20, bw0[2], t;
	struct stream_info in;
	struct world w;
	int i;

	(void)state;
	a.loss = 0.05;
	world_init(&w, 5, &a, NULL);
	w.end[1]->reply_bytes = mb;
	w.end[1]->shut_after_send = true;
	client_open(&w, mb, true);
	assert_true(run(&w, 2 * SEC, NULL));	/* past startup: the rate is known */
	for (i = 0; i < 2; i++) {
		stream_get_info(w.end[i]->c, &in);
		bw0[i] = fade_min_bw[i] = in.btl_bw;
		w.sim.dir[i].loss = 0.6;
	}
	for (t = 0; t < 600; t++) {	/* 150 ms of fade, then 450 ms after it */
		if (t == 150)
			w.sim.dir[0].loss = w.sim.dir[1].loss = 0.05;
		assert_true(run(&w, MS, NULL));
		fade_watch(&w);
	}
	for (i = 0; i < 2; i++) {
		printf("  a 150 ms fade, %s: btl_bw %llu KB/s before, at least %llu KB/s during and after\n",
		       i ? "server" : "client", (unsigned long long)bw0[i] / 1000,
		       (unsigned long long)fade_min_bw[i] / 1000);
		assert_true(fade_min_bw[i] >= bw0[i] * 85 / 100);
	}
	assert_true(run(&w, 60 * SEC, all_closed));
	assert_int_equal(w.end[0]->bad_bytes + w.end[1]->bad_bytes, 0);
	world_free(&w);
}

/*
 * A path of 0.1 ms round trip (a LAN, or the bench's veth pairs): the rate model's
 * time constants were round trips, shorter than one packet's pacing gap. Samples
 * under 1 ms were thrown away, the probing phases lasted 0.05 ms, and a clean link of
 * 20 MB/s carried 2 MB/s.
 */
static void test_bulk_lan(void **state)
{
	struct sim_dir_cfg lan = { .delay_ns = 50000, .rate = 20000000, .queue_bytes = 150000 };
	uint64_t mb = 16u << 20;
	double secs = bulk_over(&lan, NULL, mb, 21);

	(void)state;
	printf("  0.1 ms round trip, 20 MB/s: %.0f %% of the link\n", 100 * (double)mb / secs / 20e6);
	assert_true((double)mb / secs >= 0.7 * 20e6);
	/* a bulk transfer is not a thin flight, nor are its last packets over a LAN */
	assert_int_equal(bulk_echoes, 0);
}

static void small_mtu(struct stream_config *cfg)
{
	cfg->mtu_payload = 576;
}

/* (a) 1 MB each way, with a smaller MTU: no datagram above it. */
static void test_one_mb_small_mtu(void **state)
{
	struct world w;
	uint32_t id;

	world_init(&w, 7, &LAB, small_mtu);
	w.end[1]->reply_bytes = 1 << 20;
	w.end[1]->shut_after_send = true;
	id = client_open(&w, 1 << 20, true);
	assert_true(run(&w, 30 * SEC, all_closed));
	expect_clean(&w, id, 1 << 20, 1 << 20);
	/* 1 MB in 576-byte datagrams is more than 1,900 of them */
	assert_true(stream_stats(w.end[0]->c)->tx_bytes / stream_stats(w.end[0]->c)->tx_datagrams <= 576);
	assert_true(stream_stats(w.end[0]->c)->tx_datagrams > 1900);
	world_free(&w);
}

/* (c) Heavy reordering (jitter 40 ms at 2 MB/s) and duplication: every byte once, in order. */
static void test_reorder_dup(void **state)
{
	struct sim_dir_cfg d = LAB;
	struct world w;
	uint32_t id;

	d.jitter_ns = 40 * MS;
	d.dup = 0.1;
	d.loss = 0.05;
	world_init(&w, 11, &d, NULL);
	w.end[1]->reply_bytes = 1 << 20;
	w.end[1]->shut_after_send = true;
	id = client_open(&w, 1 << 20, true);
	assert_true(run(&w, 60 * SEC, all_closed));
	expect_clean(&w, id, 1 << 20, 1 << 20);
	assert_true(w.sim.dups[0] + w.sim.dups[1] > 100);
	assert_true(stream_stats(w.end[0]->c)->rx_duplicate + stream_stats(w.end[1]->c)->rx_duplicate > 100);
	world_free(&w);
}

/* (d) Half-close: the client's FIN arrives, and the server still sends afterwards. */
static void test_half_close(void **state)
{
	struct sim_dir_cfg d = LAB;
	struct world w;
	struct app_st *c, *s;
	uint32_t id;

	d.loss = 0.1;
	world_init(&w, 13, &d, NULL);
	w.end[1]->reply_bytes = 300000;
	w.end[1]->shut_after_send = true;
	w.end[1]->shut_on_eof = true;	/* the server answers "after the request", as HTTP/1.0 */
	id = client_open(&w, 10000, true);
	assert_true(run(&w, 30 * SEC, all_closed));
	expect_clean(&w, id, 10000, 300000);
	c = st_of(w.end[0], id);
	s = st_of(w.end[1], id);
	assert_true(s->eof_ns <= s->fin_ns);	/* the server's FIN came after the client's */
	assert_true(c->fin_ns < c->eof_ns);	/* and the client read after its own FIN */
	world_free(&w);
}

static bool both_closed_one(struct world *w)
{
	return w->end[0]->closed == 1 && w->end[1]->closed == 1;
}

/* (d) A reset propagates both ways, and its reason with it. */
static void test_reset_propagates(void **state)
{
	struct sim_dir_cfg d = LAB;
	struct world w;
	uint32_t id;
	uint64_t t0;
	int who;

	d.loss = 0.2;
	for (who = 0; who < 2; who++) {
		world_init(&w, 17 + who, &d, NULL);
		w.end[1]->reply_bytes = 5u << 20;	/* still sending when the reset comes */
		id = client_open(&w, 5u << 20, false);
		assert_false(run(&w, 1 * SEC, both_closed_one));
		assert_true(st_of(w.end[1], id)->opened);
		assert_int_equal(stream_reset(w.end[who]->c, id, STREAM_R_APP), 0);
		assert_int_equal(stream_write(w.end[who]->c, id, "x", 1), -ECONNRESET);
		t0 = w.sim.now;
		/*
		 * 10 s is generous: the RESET goes at once (control frames do not wait behind
		 * the flight), and a lost RESET or a lost ack of it costs one RTO (~0.2 s),
		 * doubling while nothing is acked. Ten seconds is four losses in a row.
		 */
		assert_true(run(&w, 10 * SEC, both_closed_one));
		printf("  reset by the %s settled in %.2f s simulated\n", who ? "server" : "client",
		       (double)(w.sim.now - t0) / 1e9);
		assert_true(st_of(w.end[1 - who], id)->reset);
		assert_int_equal(st_of(w.end[1 - who], id)->reason, STREAM_R_APP);
		assert_false(st_of(w.end[who], id)->reset);	/* its own reset is no event */
		assert_int_equal(w.end[0]->bad_bytes + w.end[1]->bad_bytes, 0);
		assert_int_equal(stream_get_info_streams(w.end[0]->c), 0);
		assert_int_equal(stream_get_info_streams(w.end[1]->c), 0);
		world_free(&w);
	}
}

/* (d) The server cannot connect: the client's stream is reset with the reason. */
static void test_connect_failure(void **state)
{
	struct sim_dir_cfg d = LAB;
	struct world w;
	uint32_t id;

	d.loss = 0.3;
	world_init(&w, 19, &d, NULL);
	w.end[1]->reset_on_open = STREAM_R_REFUSED + 1;
	id = client_open(&w, 1000, true);
	assert_true(run(&w, 20 * SEC, both_closed_one));
	assert_true(st_of(w.end[0], id)->reset);
	assert_int_equal(st_of(w.end[0], id)->reason, STREAM_R_REFUSED);
	assert_int_equal(stream_read(w.end[0]->c, id, &d, 1), -ENOENT);	/* gone after CLOSED */
	world_free(&w);
}

static void small_window(struct stream_config *cfg)
{
	cfg->recv_window = 128 << 10;
	cfg->send_buffer = 256 << 10;
}

static bool stream_b_done(struct world *w)
{
	return st_of(w->end[1], 2)->eof;
}

/* (e) A reader that does not read holds its sender at the window; the other stream flows. */
static void test_window_no_hol(void **state)
{
	struct world w;
	uint32_t a, b;
	double solo, shared;
	uint64_t t0;

	/* the other stream alone first, for its rate. The server FINs after the client's
	 * FIN, as in the shared run below: without it, all_closed could never be true */
	world_init(&w, 23, &LAB, small_window);
	w.end[1]->shut_after_send = true;
	b = client_open(&w, 2u << 20, true);
	assert_true(run(&w, 30 * SEC, all_closed));
	solo = (double)st_of(w.end[1], b)->eof_ns / 1e9;
	world_free(&w);

	world_init(&w, 23, &LAB, small_window);
	w.end[1]->shut_after_send = true;
	a = client_open(&w, 2u << 20, true);
	st_of(w.end[1], a)->no_read = true;
	b = client_open(&w, 2u << 20, true);
	assert_int_equal(b, 2);
	t0 = w.sim.now;
	assert_true(run(&w, 30 * SEC, stream_b_done));
	shared = (double)(st_of(w.end[1], b)->eof_ns - t0) / 1e9;
	printf("  stream alone %.2f s, next to a stalled one %.2f s\n", solo, shared);
	assert_true(shared < solo * 1.3 + 0.2);
	/* the stalled stream: the server holds at most a window, the client the rest */
	assert_int_equal(st_of(w.end[1], a)->rcvd, 0);
	assert_true(stream_readable(w.end[1]->c, a) <= (128 << 10));
	assert_true(stream_readable(w.end[1]->c, a) >= (64 << 10));
	assert_true(st_of(w.end[0], a)->sent <= (256 << 10) + (128 << 10));
	assert_int_equal(stream_stats(w.end[1]->c)->rx_flow_violation, 0);
	/* the reader wakes up: the rest follows */
	st_of(w.end[1], a)->no_read = false;
	app_read(w.end[1], a);
	assert_true(run(&w, 30 * SEC, all_closed));
	assert_int_equal(st_of(w.end[1], a)->rcvd, 2u << 20);
	assert_int_equal(w.end[1]->bad_bytes, 0);
	world_free(&w);
}

static void small_conn_buffer(struct stream_config *cfg)
{
	cfg->send_buffer = 128 << 10;
	cfg->conn_send_buffer = 256 << 10;
}

/* The connection's send bound: four streams share 256 KiB, and all still complete. */
static void test_conn_send_buffer(void **state)
{
	struct world w;
	uint64_t queued = 0;
	uint32_t id[4];
	int i;

	world_init(&w, 43, &LAB, small_conn_buffer);
	w.end[1]->shut_after_send = true;
	for (i = 0; i < 4; i++)
		id[i] = client_open(&w, 1 << 20, true);
	for (i = 0; i < 4; i++)
		queued += st_of(w.end[0], id[i])->sent;
	assert_true(queued <= 256 << 10);
	assert_int_equal(st_of(w.end[0], id[2])->sent, 0);	/* the first two took it all */
	assert_int_equal(stream_write(w.end[0]->c, id[3], "x", 1), 0);
	assert_true(run(&w, 30 * SEC, all_closed));
	for (i = 0; i < 4; i++)
		expect_clean(&w, id[i], 1 << 20, 0);
	world_free(&w);
}

/* --- the connection window --- */

static void conn_window_small(struct stream_config *cfg)
{
	cfg->recv_window = 128 << 10;
	cfg->conn_recv_window = 512 << 10;
}

static void conn_window_tiny(struct stream_config *cfg)
{
	cfg->recv_window = 64 << 10;
	cfg->conn_recv_window = 256 << 10;
}

static uint64_t max_held[2];

/* A run()'s done callback that never ends the run: the most each end held, at every step. */
static bool track_held(struct world *w)
{
	struct stream_info in;
	int i;

	for (i = 0; i < 2; i++) {
		stream_get_info(w->end[i]->c, &in);
		if (in.rx_buffered > max_held[i])
			max_held[i] = in.rx_buffered;
	}
	return false;
}

static bool all_closed_tracked(struct world *w)
{
	track_held(w);
	return all_closed(w);
}

/* Both ends counted the same bytes each way, and hold none once every stream is gone. */
static void expect_windows_agree(struct world *w)
{
	struct stream_info ci, si;

	stream_get_info(w->end[0]->c, &ci);
	stream_get_info(w->end[1]->c, &si);
	assert_int_equal(ci.tx_conn_data, si.rx_conn_data);
	assert_int_equal(si.tx_conn_data, ci.rx_conn_data);
	assert_int_equal(ci.rx_buffered, 0);
	assert_int_equal(si.rx_buffered, 0);
	assert_int_equal(stream_stats(w->end[0]->c)->rx_flow_violation, 0);
	assert_int_equal(stream_stats(w->end[1]->c)->rx_flow_violation, 0);
}

/* 16 streams whose readers never read: the server holds the connection window, no more. */
static void test_conn_window_holds(void **state)
{
	struct stream_info si, ci;
	struct world w;
	uint64_t sum = 0;
	uint32_t id[16];
	int i;

	world_init(&w, 47, &LAB, conn_window_small);
	w.end[1]->shut_after_send = true;
	w.end[1]->shut_on_eof = true;
	for (i = 0; i < 16; i++) {
		id[i] = client_open(&w, 1 << 20, true);
		st_of(w.end[1], id[i])->no_read = true;
	}
	memset(max_held, 0, sizeof(max_held));
	run(&w, 20 * SEC, track_held);
	stream_get_info(w.end[1]->c, &si);
	stream_get_info(w.end[0]->c, &ci);
	for (i = 0; i < 16; i++) {
		assert_true(stream_readable(w.end[1]->c, id[i]) <= (128 << 10));
		sum += stream_readable(w.end[1]->c, id[i]);
	}
	printf("  16 stalled readers: the server holds %llu bytes (most ever %llu), the client's credit %llu\n",
	       (unsigned long long)sum, (unsigned long long)max_held[1],
	       (unsigned long long)ci.tx_conn_credit);
	/* the window is full, and it is what binds: 16 stream windows would be 2 MiB. It
	 * was given before the 16 target names were read: they are the 240 bytes short */
	assert_true(max_held[1] <= (512 << 10));
	assert_int_equal(si.rx_buffered, (512 << 10) - 16 * 15);
	assert_int_equal(sum, si.rx_buffered);	/* all in order: the link has no loss */
	assert_int_equal(ci.tx_conn_credit, 0);
	assert_int_equal(stream_stats(w.end[1]->c)->rx_flow_violation, 0);
	/* the readers wake up: everything follows, intact */
	for (i = 0; i < 16; i++) {
		st_of(w.end[1], id[i])->no_read = false;
		app_read(w.end[1], id[i]);
	}
	assert_true(run(&w, 60 * SEC, all_closed_tracked));
	for (i = 0; i < 16; i++)
		expect_clean(&w, id[i], 1 << 20, 0);
	assert_true(max_held[1] <= (512 << 10));
	expect_windows_agree(&w);
	world_free(&w);
}

static bool others_done(struct world *w)
{
	uint32_t id;

	track_held(w);
	for (id = 2; id <= 8; id += 2)
		if (!st_of(w->end[1], id)->eof)
			return false;
	return true;
}

/* A reader that stalls holds its own stream window of the connection's; the rest flows. */
static void test_conn_window_slow_reader(void **state)
{
	struct world w;
	uint32_t a, id;

	world_init(&w, 53, &LAB, conn_window_small);
	w.end[1]->shut_after_send = true;
	w.end[1]->shut_on_eof = true;
	a = client_open(&w, 2u << 20, true);
	st_of(w.end[1], a)->no_read = true;
	for (id = 2; id <= 8; id += 2)
		assert_int_equal(client_open(&w, 1 << 20, true), id);
	memset(max_held, 0, sizeof(max_held));
	assert_true(run(&w, 30 * SEC, others_done));
	printf("  4 MiB over 4 streams next to a stalled one in %.2f s simulated\n",
	       (double)w.sim.now / 1e9);
	assert_int_equal(st_of(w.end[1], a)->rcvd, 0);
	assert_true(stream_readable(w.end[1]->c, a) <= (128 << 10));
	assert_true(max_held[1] <= (512 << 10));
	st_of(w.end[1], a)->no_read = false;
	app_read(w.end[1], a);
	assert_true(run(&w, 30 * SEC, all_closed_tracked));
	expect_clean(&w, a, 2u << 20, 0);
	for (id = 2; id <= 8; id += 2)
		expect_clean(&w, id, 1 << 20, 0);
	assert_true(max_held[1] <= (512 << 10));
	expect_windows_agree(&w);
	world_free(&w);
}

/* 40 streams, 200 KB each way, through a 256 KiB connection window at 20 % loss with
 * reordering and duplicates; some reset by the client, some by the server, some by both
 * at once, mid-transfer. Everything else arrives intact, and both ends agree on the
 * count: the final sizes of the reset streams credit back what they never delivered. */
static void test_conn_window_lossy_resets(void **state)
{
	struct sim_dir_cfg d = LAB;
	struct world w;
	int nreset = 0, i, who;
	uint32_t id;

	d.loss = 0.2;
	d.jitter_ns = 20 * MS;
	d.dup = 0.05;
	world_init(&w, 59, &d, conn_window_tiny);
	w.end[1]->reply_bytes = 200000;
	w.end[1]->shut_after_send = true;
	for (i = 0; i < 40; i++)
		client_open(&w, 200000, true);
	memset(max_held, 0, sizeof(max_held));
	run(&w, 1 * SEC, track_held);
	for (id = 0; id < 80; id += 2) {
		if (id % 10 != 0 && id % 10 != 4 && id % 10 != 8)
			continue;
		assert_true(st_of(w.end[1], id)->opened);
		for (who = 0; who < 2; who++)
			if ((id % 10 == 0 && who == 0) || (id % 10 == 4 && who == 1) || id % 10 == 8)
				nreset += stream_reset(w.end[who]->c, id, STREAM_R_APP) == 0;
	}
	assert_int_equal(nreset, 32);	/* 8 streams each: by the client, the server, both */
	assert_true(run(&w, 60 * SEC, all_closed_tracked));
	for (id = 0; id < 80; id += 2) {
		if (id % 10 == 0 || id % 10 == 4 || id % 10 == 8)
			continue;
		expect_clean(&w, id, 200000, 200000);
	}
	assert_int_equal(w.end[0]->bad_bytes + w.end[1]->bad_bytes, 0);
	assert_true(max_held[0] <= (256 << 10) && max_held[1] <= (256 << 10));
	expect_windows_agree(&w);
	world_free(&w);
}

static void few_streams(struct stream_config *cfg)
{
	conn_window_tiny(cfg);
	cfg->max_streams = 8;
}

static bool refused_done(struct world *w)
{
	return w->end[0]->closed == w->end[0]->opened && w->end[1]->closed == w->end[1]->opened;
}

/* Streams the server refuses (too many) never counted there: the client gets their
 * bytes back, and later streams still have the whole window. */
static void test_conn_window_refused(void **state)
{
	struct world w;
	int i, ok = 0;
	uint32_t id;

	world_init(&w, 61, &LAB, conn_window_tiny);
	stream_conn_free(w.end[1]->c);
	w.end[1]->c = mk_conn(false, few_streams);
	w.end[1]->shut_after_send = true;
	w.end[1]->shut_on_eof = true;
	for (i = 0; i < 20; i++)
		client_open(&w, 100000, true);
	assert_true(run(&w, 30 * SEC, refused_done));
	for (id = 0; id < 40; id += 2) {
		struct app_st *st = st_of(w.end[0], id);

		if (st->reset)
			assert_int_equal(st->reason, STREAM_R_LIMIT);
		else
			ok++;
	}
	printf("  %d of 20 streams refused by the server\n", 20 - ok);
	assert_true(ok >= 8 && ok < 20);
	assert_int_equal(w.end[1]->rcvd_total, (uint64_t)ok * 100000);
	expect_windows_agree(&w);
	/* 8 more streams, 2.4 MB through the 256 KiB window: no credit was lost */
	w.end[0]->opened = w.end[0]->closed = w.end[1]->opened = w.end[1]->closed = 0;
	for (i = 0; i < 8; i++)
		client_open(&w, 300000, true);
	assert_true(run(&w, 30 * SEC, all_closed));
	for (id = 40; id < 56; id += 2)
		expect_clean(&w, id, 300000, 0);
	expect_windows_agree(&w);
	world_free(&w);
}

/* Datagrams of a peer that ignores the connection window: built by hand. */
static void wr(uint8_t *p, uint64_t v, int bytes)
{
	while (bytes--) {
		p[bytes] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t rd(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	while (bytes--)
		v = v << 8 | *p++;
	return v;
}

/* One DATA frame in a datagram of its own; returns its length. */
static size_t craft_data(uint8_t *b, uint64_t pn, uint64_t epoch, uint32_t id, uint64_t off,
			 uint16_t len)
{
	memset(b, 0, STREAM_HDR_LEN + 15 + len);
	b[0] = STREAM_VERSION;
	wr(b + 2, pn, 6);
	wr(b + 8, epoch, 8);
	b[STREAM_HDR_LEN] = 0x08;	/* DATA */
	wr(b + STREAM_HDR_LEN + 1, id, 4);
	wr(b + STREAM_HDR_LEN + 5, off, 8);
	wr(b + STREAM_HDR_LEN + 13, len, 2);
	if (!off)
		memcpy(b + STREAM_HDR_LEN + 15, "\x03h:1", 4);	/* the target: [3]"h:1" */
	return STREAM_HDR_LEN + 15 + len;
}

/* Whether the ACK frame that leads datagram b acks packet pn. */
static bool acks(const uint8_t *b, int n, uint64_t pn)
{
	const uint8_t *p = b + STREAM_HDR_LEN;
	uint64_t hi, lo;
	unsigned int i;

	if (n < STREAM_HDR_LEN + 16 || p[0] != 0x02)
		return false;
	hi = rd(p + 4, 8);
	lo = hi - rd(p + 12, 4);
	for (i = 0;; i++) {
		if (pn >= lo && pn <= hi)
			return true;
		if (i == p[1])
			return false;
		hi = lo - rd(p + 16 + 4 * i, 2) - 1;
		lo = hi - rd(p + 18 + 4 * i, 2);
	}
}

/* Drains the server's datagrams; returns whether one of them acked pn. */
static bool srv_acks(struct stream_conn *srv, uint64_t now, uint64_t pn)
{
	uint8_t out[SIM_MTU];
	bool acked = false;
	int n;

	while ((n = stream_next_datagram(srv, now, out, sizeof(out))) > 0)
		acked |= acks(out, n, pn);
	return acked;
}

static void test_conn_window_violation(void **state)
{
	struct stream_conn *srv = mk_conn(false, conn_window_tiny);
	uint64_t epoch = 0x5eed5eed5eedull, pn = 1, now = MS, off;
	uint8_t b[SIM_MTU], sink[65536];
	struct stream_info in;
	uint32_t id;
	size_t n;

	/* four streams fill their 64 KiB windows: 256 KiB, the whole connection window */
	for (id = 0; id < 8; id += 2)
		for (off = 0; off < (64 << 10); off += 1000) {
			n = craft_data(b, pn++, epoch, id, off, (uint16_t)((64 << 10) - off < 1000 ? (64 << 10) - off : 1000));
			assert_int_equal(stream_input(srv, now, b, n), 0);
		}
	assert_true(srv_acks(srv, now, pn - 1));
	stream_get_info(srv, &in);
	assert_int_equal(in.rx_conn_data, 256 << 10);
	assert_int_equal(stream_stats(srv)->rx_flow_violation, 0);
	/* a fifth stream's first bytes are beyond it: counted, and the packet is not acked */
	n = craft_data(b, pn, epoch, 8, 0, 100);
	assert_int_equal(stream_input(srv, now, b, n), 0);
	assert_int_equal(stream_stats(srv)->rx_flow_violation, 1);
	assert_false(srv_acks(srv, now, pn));
	stream_get_info(srv, &in);
	assert_int_equal(in.rx_conn_data, 256 << 10);
	assert_int_equal(stream_readable(srv, 8), 0);
	/* the application reads stream 0: the window moves on (a CONN_WINDOW frame went
	 * in the datagrams above), and the same bytes sent again are taken */
	assert_int_equal(stream_read(srv, 0, sink, sizeof(sink)), (64 << 10) - 4);
	assert_false(srv_acks(srv, now, pn));
	n = craft_data(b, ++pn, epoch, 8, 0, 100);
	assert_int_equal(stream_input(srv, now, b, n), 0);
	assert_int_equal(stream_stats(srv)->rx_flow_violation, 1);
	assert_int_equal(stream_readable(srv, 8), 96);
	assert_true(srv_acks(srv, now, pn));
	stream_conn_free(srv);
}

/* (f) 1,000 concurrent short connections over a lossy link; with tweak, through a
 * connection window of 256 KiB that their 5 MB must take turns in. */
static void thousand_streams(void (*tweak)(struct stream_config *))
{
	struct sim_dir_cfg d = LAB;
	struct world w;
	int i;

	d.loss = 0.09;
	world_init(&w, 29, &d, tweak);
	w.end[1]->reply_bytes = 3000;
	w.end[1]->shut_after_send = true;
	for (i = 0; i < 1000; i++)
		client_open(&w, 2000, true);
	assert_true(run(&w, 60 * SEC, all_closed));
	assert_int_equal(w.end[1]->opened, 1000);
	assert_int_equal(w.end[0]->closed, 1000);
	assert_int_equal(w.end[1]->closed, 1000);
	assert_int_equal(w.end[0]->rcvd_total, 1000 * 3000);
	assert_int_equal(w.end[1]->rcvd_total, 1000 * 2000);
	assert_int_equal(w.end[0]->bad_bytes + w.end[1]->bad_bytes, 0);
	assert_int_equal(w.end[0]->resets + w.end[1]->resets, 0);
	printf("  1000 streams done in %.2f s simulated%s\n", (double)w.sim.now / 1e9,
	       tweak ? ", through a 256 KiB connection window" : "");
	if (tweak)
		expect_windows_agree(&w);
	world_free(&w);
}

static void test_thousand_streams(void **state)
{
	thousand_streams(NULL);
	thousand_streams(conn_window_tiny);
}

static bool client_all_reset(struct world *w)
{
	return w->end[0]->resets == 5 && w->end[0]->closed == 5;
}

/* (g) The server restarts: the client's streams reset, new ones work. */
static void test_peer_restart(void **state)
{
	struct sim_dir_cfg d = LAB;
	struct world w;
	struct app *fresh;
	uint32_t id;
	int i;

	d.loss = 0.09;
	world_init(&w, 31, &d, NULL);
	for (i = 0; i < 5; i++)
		client_open(&w, 20000, false);	/* open, never closed */
	assert_false(run(&w, 3 * SEC, all_closed));
	assert_int_equal(w.end[1]->opened, 5);
	/* replace the server: a new process, a new epoch */
	stream_conn_free(w.end[1]->c);
	fresh = calloc(1, sizeof(*fresh));
	assert_non_null(fresh);
	fresh->dir = 1;
	fresh->c = mk_conn(false, NULL);
	free(w.end[1]);
	w.end[1] = fresh;
	assert_true(run(&w, 20 * SEC, client_all_reset));
	for (i = 0; i < 5; i++)
		assert_int_equal(st_of(w.end[0], 2 * i)->reason, STREAM_R_PEER_RESTART);
	assert_int_equal(stream_stats(w.end[0]->c)->peer_restarts, 1);
	assert_int_equal(w.end[1]->opened, 0);	/* the old streams were not taken as new */
	/* a new stream works */
	w.end[1]->reply_bytes = 50000;
	w.end[1]->shut_after_send = true;
	w.end[0]->opened = w.end[0]->closed = 0;
	id = client_open(&w, 50000, true);
	assert_true(run(&w, 20 * SEC, both_closed_one));
	expect_clean(&w, id, 50000, 50000);
	world_free(&w);
}

/* (h) An idle stream survives with keepalives; a silent link resets it. */
static void test_keepalive(void **state)
{
	struct sim_dir_cfg d = LAB;
	struct world w;
	uint32_t id;

	d.loss = 0.09;
	world_init(&w, 37, &d, NULL);
	id = client_open(&w, 1000, false);
	assert_false(run(&w, 300 * SEC, all_closed));	/* five minutes of silence */
	assert_false(st_of(w.end[0], id)->reset || st_of(w.end[1], id)->reset);
	assert_int_equal(st_of(w.end[1], id)->rcvd, 1000);
	assert_true(w.sim.sent[0] > 300 / 5 / 2);	/* it did send keepalives */
	/* still usable */
	st_of(w.end[0], id)->to_send = 2000;
	app_write(w.end[0], id);
	assert_false(run(&w, 2 * SEC, all_closed));
	assert_int_equal(st_of(w.end[1], id)->rcvd, 2000);
	/* now the link dies both ways */
	w.sim.dir[0].blackhole = w.sim.dir[1].blackhole = 1;
	assert_true(run(&w, 40 * SEC, both_closed_one));
	assert_int_equal(st_of(w.end[0], id)->reason, STREAM_R_TIMEOUT);
	assert_int_equal(st_of(w.end[1], id)->reason, STREAM_R_TIMEOUT);
	world_free(&w);
}

static uint8_t cap[512][SIM_MTU];
static uint16_t caplen[512];
static unsigned int ncap;

static void capture(const uint8_t *buf, int len)
{
	if (ncap < 512) {
		memcpy(cap[ncap], buf, (size_t)len);
		caplen[ncap++] = (uint16_t)len;
	}
}

/* (i) Garbage, bit flips of real datagrams, forged streams and replays. */
static void test_fuzz(void **state)
{
	struct world w;
	struct sim_dir_cfg d = LAB;
	struct stream_conn *victim;
	struct stream_event ev;
	uint8_t buf[SIM_MTU];
	unsigned int i, k;
	uint64_t now = 0;
	const struct stream_stats *st;

	/* capture real client datagrams */
	d.loss = 0.1;
	world_init(&w, 41, &d, NULL);
	w.end[1]->reply_bytes = 100000;
	client_open(&w, 100000, true);
	client_open(&w, 100, false);
	w.capture = capture;
	run(&w, 20 * SEC, all_closed);
	assert_true(ncap > 100);

	/* a fresh server: random bytes, then mutations of the capture */
	victim = mk_conn(false, NULL);
	for (i = 0; i < 200000; i++) {
		size_t len;

		now += 100000;
		if (i % 4 == 0) {
			len = sim_rand(&w.sim) % 200;
			for (k = 0; k < len; k++)
				buf[k] = (uint8_t)sim_rand(&w.sim);
			if (i % 8 == 0 && len > 2)
				buf[0] = STREAM_VERSION, buf[1] = 0;
		} else {
			k = sim_rand(&w.sim) % ncap;
			len = caplen[k];
			memcpy(buf, cap[k], len);
			for (k = sim_rand(&w.sim) % 4; k < 4; k++)
				buf[sim_rand(&w.sim) % len] ^= (uint8_t)(1u << (sim_rand(&w.sim) % 8));
			if (i % 16 == 1)
				len = sim_rand(&w.sim) % len;	/* truncated */
		}
		assert_int_equal(stream_input(victim, now, buf, len), 0);
		if (i % 64 == 0) {
			stream_tick(victim, now);
			while (stream_next_datagram(victim, now, buf, sizeof(buf)) > 0)
				;
			while (stream_next_event(victim, &ev))
				if (ev.type == STREAM_EV_READABLE)
					while (stream_read(victim, ev.id, buf, sizeof(buf)) > 0)
						;
		}
	}
	st = stream_stats(victim);
	printf("  fuzz: malformed %llu, bad version %llu, stale %llu, duplicate %llu, "
	       "unknown %llu, closed %llu, flow %llu\n",
	       (unsigned long long)st->rx_malformed, (unsigned long long)st->rx_bad_version,
	       (unsigned long long)st->rx_stale_epoch, (unsigned long long)st->rx_duplicate,
	       (unsigned long long)st->rx_unknown_stream, (unsigned long long)st->rx_closed_stream,
	       (unsigned long long)st->rx_flow_violation);
	assert_true(st->rx_malformed > 1000);
	assert_true(st->rx_bad_version > 1000);
	assert_true(st->rx_duplicate > 1000);
	assert_true(st->rx_stale_epoch > 0);
	stream_conn_free(victim);
	world_free(&w);
}

/* Replays of an old incarnation's datagrams after a restart are stale, not a restart. */
static void test_replay_after_restart(void **state)
{
	struct stream_conn *srv = mk_conn(false, NULL), *old = mk_conn(true, NULL);
	struct stream_conn *neu = mk_conn(true, NULL);
	uint8_t a[SIM_MTU], b[SIM_MTU];
	int na, nb;

	assert_true(stream_open(old, 0, "h:1") >= 0);
	na = stream_next_datagram(old, 0, a, sizeof(a));
	assert_true(na > 0);
	assert_int_equal(stream_input(srv, 1, a, (size_t)na), 0);
	assert_true(stream_open(neu, 2, "h:1") >= 0);
	nb = stream_next_datagram(neu, 2, b, sizeof(b));
	assert_true(nb > 0);
	assert_int_equal(stream_input(srv, 3, b, (size_t)nb), 0);
	assert_int_equal(stream_stats(srv)->peer_restarts, 1);
	assert_int_equal(stream_input(srv, 4, a, (size_t)na), 0);	/* the old one, replayed */
	assert_int_equal(stream_stats(srv)->peer_restarts, 1);
	assert_int_equal(stream_stats(srv)->rx_stale_epoch, 1);
	stream_conn_free(srv);
	stream_conn_free(old);
	stream_conn_free(neu);
}

static void test_config_and_api_errors(void **state)
{
	struct stream_config cfg;
	struct stream_conn *c = NULL;
	char big[300];

	stream_config_default(&cfg);
	assert_int_equal(stream_conn_new(&cfg, &c), -EINVAL);	/* no epoch */
	cfg.epoch = 1;
	cfg.mtu_payload = 100;
	assert_int_equal(stream_conn_new(&cfg, &c), -EINVAL);
	cfg.mtu_payload = 1200;
	cfg.recv_window = 1000;
	assert_int_equal(stream_conn_new(&cfg, &c), -EINVAL);
	cfg.recv_window = 1 << 20;
	cfg.conn_recv_window = 512 << 10;	/* below recv_window */
	assert_int_equal(stream_conn_new(&cfg, &c), -EINVAL);
	cfg.recv_window = 64 << 10;
	cfg.conn_recv_window = 128 << 10;	/* below the initial connection window */
	assert_int_equal(stream_conn_new(&cfg, &c), -EINVAL);
	stream_config_default(&cfg);
	cfg.epoch = 1;
	cfg.client = true;
	cfg.max_streams = 2;
	assert_int_equal(stream_conn_new(&cfg, &c), 0);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(stream_open(c, 0, big), -EINVAL);
	assert_int_equal(stream_open(c, 0, ""), -EINVAL);
	assert_int_equal(stream_open(c, 0, "a:1"), 0);
	assert_int_equal(stream_open(c, 0, "a:1"), 2);
	assert_int_equal(stream_open(c, 0, "a:1"), -EAGAIN);
	assert_int_equal(stream_write(c, 4, "x", 1), -ENOENT);
	assert_int_equal(stream_read(c, 0, big, 10), -EAGAIN);
	assert_int_equal(stream_shutdown_write(c, 0), 0);
	assert_int_equal(stream_write(c, 0, "x", 1), -EPIPE);
	assert_int_equal(stream_next_datagram(c, 0, big, 100), -EINVAL);
	assert_string_equal(stream_reason_name(STREAM_R_REFUSED), "connection refused");
	stream_conn_free(c);
}

static void test_rset(void **state)
{
	struct rset s;

	rset_init(&s, 4);
	assert_int_equal(rset_add(&s, 10, 20), 0);
	assert_int_equal(rset_add(&s, 30, 40), 0);
	assert_int_equal(rset_add(&s, 20, 30), 0);	/* bridges both */
	assert_int_equal(s.n, 1);
	assert_true(rset_contains(&s, 10, 40));
	assert_false(rset_contains(&s, 9, 40));
	assert_int_equal(rset_remove(&s, 15, 16), 0);	/* a split */
	assert_int_equal(s.n, 2);
	assert_int_equal(rset_end_from(&s, 10), 15);
	assert_int_equal(rset_end_from(&s, 15), 15);
	assert_int_equal(rset_add(&s, 50, 60), 0);
	assert_int_equal(rset_add(&s, 70, 80), 0);
	assert_int_equal(rset_add(&s, 90, 95), -ENOSPC);	/* capped */
	assert_int_equal(s.n, 4);
	assert_int_equal(rset_remove(&s, 0, 55), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.r[0].lo, 55);
	rset_trim_below(&s, 75);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].lo, 75);
	rset_free(&s);
}

static bool info_moved(struct world *w)
{
	struct app_st *c = st_of(w->end[0], 0), *s = st_of(w->end[1], 0);
	struct stream_stream_info in;

	return c->rcvd == 5000 && s->rcvd == 10000 &&
	       stream_stream_info(w->end[0]->c, 0, &in) == 0 && in.tx_acked == 10000;
}

static bool info_peer_fin(struct world *w)
{
	return st_of(w->end[1], 0)->eof;
}

static bool info_gone(struct world *w)
{
	struct stream_stream_info in;

	return stream_stream_info(w->end[0]->c, 0, &in) == -ENOENT &&
	       stream_stream_info(w->end[1]->c, 0, &in) == -ENOENT;
}

/* stream_stream_info(): the application's bytes (not the target name) and the state,
 * through a half-close and a reset, at both ends. */
static void test_stream_info(void **state)
{
	struct world w;
	struct stream_stream_info c, s;
	uint32_t id;

	world_init(&w, 21, &LAB, NULL);
	w.end[1]->reply_bytes = 5000;
	id = client_open(&w, 10000, false);
	assert_int_equal(id, 0);
	assert_int_equal(stream_stream_info(w.end[0]->c, id, &c), 0);
	assert_true(c.local);
	assert_string_equal(c.target, "example.org:22");
	assert_int_equal(c.state, STREAM_S_OPEN);
	assert_int_equal(c.tx_bytes, 10000);
	assert_int_equal(c.tx_acked, 0);
	assert_int_equal(stream_stream_info(w.end[1]->c, id, &s), -ENOENT);	/* not there yet */
	assert_int_equal(stream_stream_info(w.end[0]->c, 2, &c), -ENOENT);

	assert_true(run(&w, 10 * SEC, info_moved));
	assert_int_equal(stream_stream_info(w.end[0]->c, id, &c), 0);
	assert_int_equal(stream_stream_info(w.end[1]->c, id, &s), 0);
	assert_false(s.local);
	assert_string_equal(s.target, "example.org:22");
	assert_int_equal(c.tx_bytes, 10000);
	assert_int_equal(c.tx_acked, 10000);
	assert_int_equal(c.rx_bytes, 5000);
	assert_int_equal(c.rx_read, 5000);
	assert_int_equal(s.rx_bytes, 10000);
	assert_int_equal(s.rx_read, 10000);
	assert_int_equal(s.tx_bytes, 5000);
	assert_int_equal(s.state, STREAM_S_OPEN);

	/* the client's FIN: half-closed at both ends, seen from either side */
	assert_int_equal(stream_shutdown_write(w.end[0]->c, id), 0);
	assert_int_equal(stream_stream_info(w.end[0]->c, id, &c), 0);
	assert_int_equal(c.state, STREAM_S_HALF_CLOSED_LOCAL);
	assert_true(run(&w, 10 * SEC, info_peer_fin));
	assert_int_equal(stream_stream_info(w.end[1]->c, id, &s), 0);
	assert_int_equal(s.state, STREAM_S_HALF_CLOSED_REMOTE);
	assert_string_equal(stream_state_name(s.state), "half-closed-remote");

	/* the server resets: resetting until acked, then gone at both ends */
	assert_int_equal(stream_reset(w.end[1]->c, id, STREAM_R_APP), 0);
	assert_int_equal(stream_stream_info(w.end[1]->c, id, &s), 0);
	assert_int_equal(s.state, STREAM_S_RESETTING);
	assert_int_equal(s.reason, STREAM_R_APP);
	assert_true(run(&w, 10 * SEC, info_gone));
	assert_true(st_of(w.end[0], id)->reset);
	assert_string_equal(stream_state_name(STREAM_S_MAX), "?");
	world_free(&w);
}

int main(void)
{
	/* TEST=pattern runs the matching tests only (with TRACE=1: the model each second) */
	if (getenv("TEST"))
		cmocka_set_test_filter(getenv("TEST"));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rset),
		cmocka_unit_test(test_config_and_api_errors),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_bulk_two_paths),
		cmocka_unit_test(test_bulk_lan),
		cmocka_unit_test(test_loss_fade),
		cmocka_unit_test(test_thin_echo),
		cmocka_unit_test(test_one_mb_small_mtu),
		cmocka_unit_test(test_reorder_dup),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_reset_propagates),
		cmocka_unit_test(test_connect_failure),
		cmocka_unit_test(test_window_no_hol),
		cmocka_unit_test(test_conn_send_buffer),
		cmocka_unit_test(test_conn_window_holds),
		cmocka_unit_test(test_conn_window_slow_reader),
		cmocka_unit_test(test_conn_window_lossy_resets),
		cmocka_unit_test(test_conn_window_refused),
		cmocka_unit_test(test_conn_window_violation),
		cmocka_unit_test(test_thousand_streams),
		cmocka_unit_test(test_peer_restart),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_replay_after_restart),
		cmocka_unit_test(test_stream_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
