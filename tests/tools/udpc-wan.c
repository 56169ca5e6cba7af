// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpc-wan: an emulated WAN link between two network namespaces, for tests (the
 * kernel here has neither netem nor fq). A tun (raw IP, like a modem's wwan/ppp)
 * or, with --tap, a TAP (Ethernet-like) device in each namespace, and this
 * process carrying packets between them, any protocol, impaired per direction.
 *
 *   udpc-wan NS_A IF_A NS_B IF_B [--tap] [--ready FILE] [--seed N] [--stats FILE]
 *            [--control FILE] [SPEC] [--a2b SPEC] [--b2a SPEC]
 *
 * NS_* are names under /run/netns. a2b is what IF_A sends (it comes out of IF_B),
 * b2a the other way. SPEC is comma-separated KEY[=VALUE] items, later ones winning;
 * a bare SPEC sets both directions, --a2b/--b2a SPEC (or an "a2b."/"b2a." prefix on
 * a key) one direction:
 *   delay=T        fixed one-way delay (T: 0, or a number with ns, us, ms or s)
 *   jitter=T       plus a uniform random -T..+T (the total is never below 0)
 *   reorder        let jitter reorder packets; without it a packet never leaves
 *                  before the one that came in before it (FIFO, like a real modem)
 *   loss=P         random loss, P percent (0..100, "%" optional)
 *   lossafter      loss (random and GE) after the rate queue, not before it: a lost
 *                  packet has still taken its time on the link, as on a radio
 *   ge=P:R[:HB[:HG]]  Gilbert-Elliott bursty loss, all percent: P good->bad and
 *                  R bad->good per packet, loss HB in the bad state (default 100)
 *                  and HG in the good one (default 0). Mean burst 1/R packets and
 *                  loss P/(P+R) for HB=100, HG=0.
 *   dup=P          duplicate P percent of the packets
 *   rate=R         serialize at R (bit, kbit, mbit, gbit per second; 0 = unlimited),
 *                  counting the bytes carried (IP packet for tun, frame for TAP)
 *   queue=Q        the rate queue's bound: N pkt, N B / kB / MB, or a time (the most
 *                  delay it may add); default 100pkt. Arrivals beyond it are
 *                  dropped (tail drop, counted).
 *   none           all of the above back to zero (what a SPEC starts from)
 * Pipeline per direction, per packet: loss (random, then GE) -> duplication ->
 * rate queue (tail drop; serialized at rate) -> delay + jitter -> write; with
 * lossafter, loss comes right after the rate queue. With no
 * impairment a packet is written as soon as it is read. With --tap, ARP and IPv6
 * neighbour discovery frames skip the pipeline (counted as a2b.neigh): they stand
 * for the LAN between a host and its modem, the profile for the network beyond it
 * (a lost ARP request would otherwise drop a second of traffic in the neighbour
 * queue, which no real modem link does).
 *
 * --seed N makes every random choice repeatable (each direction has its own
 * generator, so one direction's traffic does not change the other's draws).
 * --stats FILE: "key=value" counters per direction (a2b.in, a2b.lost_random,
 * a2b.lost_burst, a2b.queue_drops, a2b.duplicated, a2b.out, a2b.reordered, ...),
 * written atomically on SIGUSR1 and at exit; "dumps" counts the writes, "now_ns"
 * and a2b.last_out_ns (the last write) are CLOCK_MONOTONIC, for throughputs.
 * --control FILE: re-read on SIGHUP; it holds "[SPEC] [--a2b SPEC] [--b2a SPEC]"
 * (whitespace-separated) and replaces both directions' profiles whole; "reloads"
 * in the stats counts the successful ones (a bad file changes nothing).
 * Runs until SIGTERM/SIGINT; the devices go with it. Packets up to PKT_MAX bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <math.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "common.h"

#define PKT_MAX 9232		/* a 9216-byte jumbo frame and its Ethernet header */
#define POOL 8192		/* packets held at once, both directions together */
#define BATCH 64		/* packets read from one device per wakeup */
#define DEFAULT_QUEUE_PKTS 100
#define IDLE_WAIT NSEC		/* longest sleep: signals end it anyway */

const char *prog = "udpc-wan";

enum qunit { Q_PKTS, Q_BYTES, Q_TIME };

struct profile {
	int64_t delay, jitter;		/* ns */
	bool reorder;
	bool loss_after;		/* lossafter: loss after the rate queue */
	double loss, dup;		/* probabilities 0..1 */
	double ge_p, ge_r, ge_hbad, ge_hgood;
	uint64_t rate;			/* bit/s, 0 = unlimited */
	enum qunit qunit;
	uint64_t qlimit;
};

struct pkt {
	struct pkt *next;		/* free list */
	int64_t at;			/* release time */
	uint64_t order;			/* ties keep arrival order */
	uint32_t len;
	uint8_t data[PKT_MAX];
};

struct counters {
	uint64_t in, in_bytes, neigh, lost_random, lost_burst, queue_drops, duplicated, out,
		out_bytes, reordered, write_errors, pool_drops;
};

/* What the rate queue holds: packets not yet fully serialized, oldest first. */
struct rateq {
	int64_t done[POOL];
	uint32_t len[POOL];
	unsigned head, n;
	uint64_t bytes;
	int64_t free_at;		/* when the last one finishes */
};

struct dir {
	const char *name;
	int in_fd, out_fd;
	bool tap;			/* Ethernet frames, not IP packets */
	struct profile prof;
	uint64_t rng[4];
	bool ge_bad;
	struct pkt *heap[POOL];		/* min-heap on (at, order) */
	unsigned nheap;
	uint64_t order;
	int64_t last_at;		/* latest release time given so far */
	int64_t last_out;		/* when the last packet was written (CLOCK_MONOTONIC) */
	struct rateq q;
	struct counters c;
};

static struct pkt *free_list;
static uint8_t scratch[PKT_MAX];
static volatile sig_atomic_t sig_stop, sig_dump, sig_reload;
static uint64_t dumps, reloads, reload_errors;

/* ---- random numbers: xoshiro256**, seeded by splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t *s)
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

static bool chance(uint64_t *s, double p) { return p > 0 && rng_unit(s) < p; }

static void rng_seed(uint64_t *s, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		s[i] = splitmix64(&seed);
}

/* ---- profile parsing ---- */

/* A number followed by one of the units; returns -EINVAL if none fits. */
static int parse_scaled(const char *s, const char *const *units, const double *scale,
			double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0) || !isfinite(v))
		return -EINVAL;
	if (!*end && v == 0) {
		*out = 0;
		return 0;
	}
	for (int i = 0; units[i]; i++) {
		if (!strcmp(end, units[i])) {
			*out = v * scale[i];
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const time_units[] = { "ns", "us", "ms", "s", NULL };
static const double time_scale[] = { 1, 1e3, 1e6, 1e9 };

static int parse_time(const char *s, int64_t *ns)
{
	double v;

	if (parse_scaled(s, time_units, time_scale, &v) || v > 3600e9)
		return -EINVAL;
	*ns = (int64_t)v;
	return 0;
}

/* Percent, "%" optional, to a probability. */
static int parse_pct(const char *s, double *p)
{
	static const char *const u[] = { "%", "", NULL };
	static const double sc[] = { 0.01, 0.01 };
	double v;

	if (parse_scaled(s, u, sc, &v) || v > 1)
		return -EINVAL;
	*p = v;
	return 0;
}

static int parse_rate(const char *s, uint64_t *bps)
{
	static const char *const u[] = { "bit", "kbit", "mbit", "gbit", NULL };
	static const double sc[] = { 1, 1e3, 1e6, 1e9 };
	double v;

	if (parse_scaled(s, u, sc, &v) || v > 1e12)
		return -EINVAL;
	*bps = (uint64_t)v;
	return 0;
}

static int parse_queue(const char *s, struct profile *p)
{
	static const char *const u[] = { "pkt", "B", "kB", "MB", NULL };
	static const double sc[] = { 1, 1, 1e3, 1e6 };
	int64_t t;
	double v;

	if (!parse_time(s, &t) && t > 0) {
		p->qunit = Q_TIME;
		p->qlimit = (uint64_t)t;
		return 0;
	}
	if (parse_scaled(s, u, sc, &v) || v < 1 || v > 1e9)
		return -EINVAL;
	p->qunit = strstr(s, "pkt") ? Q_PKTS : Q_BYTES;
	p->qlimit = (uint64_t)v;
	if (p->qunit == Q_PKTS && p->qlimit > POOL)
		return -EINVAL;
	return 0;
}

/* "P:R[:HB[:HG]]" */
static int parse_ge(const char *s, struct profile *p)
{
	char buf[128], *f[4] = { 0 }, *save = NULL;
	double v[4] = { 0, 0, 1, 0 };
	int n = 0;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (char *t = strtok_r(buf, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
		if (n == 4)
			return -EINVAL;
		f[n++] = t;
	}
	if (n < 2)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (parse_pct(f[i], &v[i]))
			return -EINVAL;
	p->ge_p = v[0];
	p->ge_r = v[1];
	p->ge_hbad = v[2];
	p->ge_hgood = v[3];
	return 0;
}

static const struct profile profile_none = { .qunit = Q_PKTS, .qlimit = DEFAULT_QUEUE_PKTS };

/* One KEY[=VALUE] item into p. */
/* A flag item: bare or =1 sets it, =0 clears it. */
static int parse_flag(const char *val, bool *flag)
{
	if (val && strcmp(val, "1") && strcmp(val, "0"))
		return -EINVAL;
	*flag = !val || !strcmp(val, "1");
	return 0;
}

static int item_apply(struct profile *p, const char *key, const char *val)
{
	if (!strcmp(key, "none") && !val) {
		*p = profile_none;
		return 0;
	}
	if (!strcmp(key, "reorder"))
		return parse_flag(val, &p->reorder);
	if (!strcmp(key, "lossafter"))
		return parse_flag(val, &p->loss_after);
	if (!val)
		return -EINVAL;
	if (!strcmp(key, "delay"))
		return parse_time(val, &p->delay);
	if (!strcmp(key, "jitter"))
		return parse_time(val, &p->jitter);
	if (!strcmp(key, "loss"))
		return parse_pct(val, &p->loss);
	if (!strcmp(key, "dup"))
		return parse_pct(val, &p->dup);
	if (!strcmp(key, "ge"))
		return parse_ge(val, p);
	if (!strcmp(key, "rate"))
		return parse_rate(val, &p->rate);
	if (!strcmp(key, "queue"))
		return parse_queue(val, p);
	return -EINVAL;
}

/*
 * Applies SPEC to both profiles, or only to prof[only] when only >= 0; an item
 * may name its direction itself ("a2b.loss=5%"). Errors name the item.
 */
static int spec_apply(struct profile prof[2], const char *spec, int only)
{
	char buf[1024], *save = NULL;

	if (strlen(spec) >= sizeof(buf)) {
		fprintf(stderr, "%s: profile too long: '%.40s...'\n", prog, spec);
		return -EINVAL;
	}
	strcpy(buf, spec);
	for (char *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
		char *key = it, *val = strchr(it, '=');
		int d = only, err = 0;

		if (val)
			*val++ = '\0';
		if (!strncmp(key, "a2b.", 4) || !strncmp(key, "b2a.", 4)) {
			d = key[0] == 'a' ? 0 : 1;
			key += 4;
			if (only >= 0 && d != only)
				err = -EINVAL;
		}
		for (int i = 0; i < 2 && !err; i++)
			if (d < 0 || d == i)
				err = item_apply(&prof[i], key, val);
		if (err) {
			fprintf(stderr, "%s: bad profile item '%s%s%s'\n", prog, key,
				val ? "=" : "", val ? val : "");
			return err;
		}
	}
	return 0;
}

/* Profile words as on the command line: SPEC, --a2b SPEC, --b2a SPEC. */
static int profile_words(struct profile prof[2], char **w, int n)
{
	for (int i = 0; i < n; i++) {
		int only = -1;

		if (!strcmp(w[i], "--a2b") || !strcmp(w[i], "--b2a")) {
			if (i + 1 == n) {
				fprintf(stderr, "%s: %s needs a SPEC\n", prog, w[i]);
				return -EINVAL;
			}
			only = w[i][2] == 'a' ? 0 : 1;
			i++;
		}
		if (spec_apply(prof, w[i], only))
			return -EINVAL;
	}
	return 0;
}

/* ---- devices ---- */

/* A tun or TAP device named ifname inside namespace ns; the fd stays ours after. */
static int dev_in_ns(const char *ns, const char *ifname, bool tap)
{
	struct ifreq ifr = { .ifr_flags = (short)((tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI) };
	char path[256];
	int nsfd, fd;

	if (strlen(ifname) >= IFNAMSIZ) {
		fprintf(stderr, "%s: '%s': name too long\n", prog, ifname);
		return -ENAMETOOLONG;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET)) {
		int err = -errno;

		fprintf(stderr, "%s: cannot enter %s: %s\n", prog, path, strerror(errno));
		if (nsfd >= 0)
			close(nsfd);
		return err;
	}
	close(nsfd);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "%s: /dev/net/tun: %s\n", prog, strerror(errno));
		return -errno;
	}
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		int err = -errno;

		fprintf(stderr, "%s: TUNSETIFF %s: %s\n", prog, ifname, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

/* ---- packets: pool, heap ---- */

static int pool_init(void)
{
	struct pkt *p = calloc(POOL, sizeof(*p)); /* lazily backed: untouched slots cost nothing */

	if (!p)
		return -ENOMEM;
	/* pushed in reverse so that slot 0 is used first and reuse stays LIFO (warm) */
	for (int i = POOL - 1; i >= 0; i--) {
		p[i].next = free_list;
		free_list = &p[i];
	}
	return 0;
}

static struct pkt *pkt_get(void)
{
	struct pkt *p = free_list;

	if (p)
		free_list = p->next;
	return p;
}

static void pkt_put(struct pkt *p)
{
	p->next = free_list;
	free_list = p;
}

static bool before(const struct pkt *a, const struct pkt *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void heap_push(struct dir *d, struct pkt *p)
{
	unsigned i = d->nheap++;

	while (i && before(p, d->heap[(i - 1) / 2])) {
		d->heap[i] = d->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	d->heap[i] = p;
}

static struct pkt *heap_pop(struct dir *d)
{
	struct pkt *top = d->heap[0], *last = d->heap[--d->nheap];
	unsigned i = 0, n = d->nheap;

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && before(d->heap[c + 1], d->heap[c]))
			c++;
		if (!before(d->heap[c], last))
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (n)
		d->heap[i] = last;
	return top;
}

/* ---- the pipeline ---- */

static void pkt_write(struct dir *d, const uint8_t *data, uint32_t len)
{
	/* A peer that is down refuses the write: the packet is lost, as on a real link. */
	if (write(d->out_fd, data, len) < 0) {
		d->c.write_errors++;
		return;
	}
	d->c.out++;
	d->c.out_bytes += len;
	d->last_out = now_ns();
}

/* Loss stage: true if the packet is lost (and counted). */
static bool lost(struct dir *d)
{
	const struct profile *p = &d->prof;
	bool drop;

	if (chance(d->rng, p->loss)) {
		d->c.lost_random++;
		return true;
	}
	if (p->ge_p <= 0) {
		d->ge_bad = false; /* a profile without GE starts in the good state */
		return false;
	}
	/* decide by the current state, then move: a burst starts with the packet
	 * after the transition, and lasts 1/R packets on average */
	drop = chance(d->rng, d->ge_bad ? p->ge_hbad : p->ge_hgood);
	if (d->ge_bad ? chance(d->rng, p->ge_r) : chance(d->rng, p->ge_p))
		d->ge_bad = !d->ge_bad;
	if (drop)
		d->c.lost_burst++;
	return drop;
}

static int64_t tx_time(const struct profile *p, uint32_t len)
{
	return p->rate ? (int64_t)((uint64_t)len * 8 * NSEC / p->rate) : 0;
}

/* Rate stage: when the packet is fully serialized, or -1 if the queue is full. */
static int64_t rate_queue(struct dir *d, uint32_t len, int64_t now)
{
	const struct profile *p = &d->prof;
	struct rateq *q = &d->q;
	int64_t start, tx = tx_time(p, len);
	bool full;

	if (!p->rate)
		return now;
	while (q->n && q->done[q->head] <= now) {
		q->bytes -= q->len[q->head];
		q->head = (q->head + 1) % POOL;
		q->n--;
	}
	start = q->free_at > now ? q->free_at : now;
	switch (p->qunit) {
	case Q_PKTS:
		full = q->n + 1 > p->qlimit;
		break;
	case Q_BYTES:
		full = q->bytes + len > p->qlimit;
		break;
	default:
		full = (uint64_t)(start + tx - now) > p->qlimit;
		break;
	}
	if (full || q->n == POOL) {
		d->c.queue_drops++;
		return -1;
	}
	q->free_at = start + tx;
	q->done[(q->head + q->n) % POOL] = q->free_at;
	q->len[(q->head + q->n) % POOL] = len;
	q->n++;
	q->bytes += len;
	return q->free_at;
}

/* Delay stage: the release time of a packet serialized at t. */
static int64_t release_time(struct dir *d, int64_t t)
{
	const struct profile *p = &d->prof;
	int64_t at = t + p->delay;

	if (p->jitter)
		at += (int64_t)((rng_unit(d->rng) * 2 - 1) * (double)p->jitter);
	if (at < t)
		at = t;
	if (at < d->last_at) {
		if (p->reorder)
			d->c.reordered++;
		else
			at = d->last_at; /* FIFO: never before the previous packet */
	}
	if (at > d->last_at)
		d->last_at = at;
	return at;
}

/* Rate and delay stages for one copy (p owned by us from here on). */
static void schedule(struct dir *d, struct pkt *p, int64_t now)
{
	int64_t t = rate_queue(d, p->len, now);

	if (t < 0 || (d->prof.loss_after && lost(d))) {
		pkt_put(p);
		return;
	}
	p->at = release_time(d, t);
	p->order = d->order++;
	if (p->at <= now && !d->nheap) {
		pkt_write(d, p->data, p->len);
		pkt_put(p);
		return;
	}
	heap_push(d, p);
}

/* ARP, or ICMPv6 router/neighbour solicitation/advertisement or redirect (133..137). */
static bool is_neigh(const uint8_t *f, uint32_t len)
{
	uint16_t type;

	if (len < 14)
		return false;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == 0x0806)
		return true;
	/* ND carries no extension headers (RFC 4861 hop limit 255, next header 58) */
	return type == 0x86dd && len >= 14 + 40 + 1 && f[14 + 6] == 58 &&
	       f[14 + 40] >= 133 && f[14 + 40] <= 137;
}

static void take(struct dir *d, struct pkt *p, int64_t now)
{
	struct pkt *copy = NULL;

	d->c.in++;
	d->c.in_bytes += p->len;
	if (d->tap && is_neigh(p->data, p->len)) {
		d->c.neigh++;
		pkt_write(d, p->data, p->len);
		pkt_put(p);
		return;
	}
	if (!d->prof.loss_after && lost(d)) {
		pkt_put(p);
		return;
	}
	if (chance(d->rng, d->prof.dup)) {
		copy = pkt_get();
		if (copy) {
			d->c.duplicated++;
			copy->len = p->len;
			memcpy(copy->data, p->data, p->len);
		}
	}
	schedule(d, p, now);
	if (copy)
		schedule(d, copy, now);
}

/* Reads up to BATCH packets from d's input; returns 0 or -errno. */
static int drain_input(struct dir *d)
{
	for (int i = 0; i < BATCH; i++) {
		struct pkt *p = pkt_get();
		ssize_t n = read(d->in_fd, p ? p->data : scratch, PKT_MAX);

		if (n <= 0) {
			if (p)
				pkt_put(p);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			return n < 0 ? -errno : 0;
		}
		if (!p) {
			d->c.in++;
			d->c.in_bytes += (uint64_t)n;
			d->c.pool_drops++;
			continue;
		}
		p->len = (uint32_t)n;
		take(d, p, now_ns());
	}
	return 0;
}

static void release_due(struct dir *d, int64_t now)
{
	while (d->nheap && d->heap[0]->at <= now) {
		struct pkt *p = heap_pop(d);

		pkt_write(d, p->data, p->len);
		pkt_put(p);
	}
}

/* ---- stats, control, signals ---- */

static void counters_print(FILE *f, const struct dir *d)
{
	const struct counters *c = &d->c;
#define C(field) fprintf(f, "%s." #field "=%" PRIu64 "\n", d->name, c->field)
	C(in);
	C(in_bytes);
	C(neigh);
	C(lost_random);
	C(lost_burst);
	C(queue_drops);
	C(duplicated);
	C(out);
	C(out_bytes);
	C(reordered);
	C(write_errors);
	C(pool_drops);
#undef C
	fprintf(f, "%s.queued=%u\n%s.last_out_ns=%" PRId64 "\n", d->name, d->nheap, d->name,
		d->last_out);
}

static int stats_write(const char *path, const struct dir dirs[2])
{
	char tmp[4096];
	FILE *f;

	if (!path)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	dumps++;
	fprintf(f, "dumps=%" PRIu64 "\nreloads=%" PRIu64 "\nreload_errors=%" PRIu64 "\nnow_ns=%" PRId64 "\n",
		dumps, reloads, reload_errors, now_ns());
	counters_print(f, &dirs[0]);
	counters_print(f, &dirs[1]);
	if (fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Replaces both profiles with the control file's; nothing changes on an error. */
static int control_reload(const char *path, struct dir dirs[2])
{
	struct profile prof[2] = { profile_none, profile_none };
	char buf[4096], *w[64], *save = NULL;
	int fd, n = 0;
	ssize_t len;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -errno;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0 || len == sizeof(buf) - 1) {
		fprintf(stderr, "%s: %s: unreadable or too long\n", prog, path);
		return -EINVAL;
	}
	buf[len] = '\0';
	for (char *t = strtok_r(buf, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
		if (n == 64)
			return -E2BIG;
		w[n++] = t;
	}
	if (profile_words(prof, w, n))
		return -EINVAL;
	dirs[0].prof = prof[0];
	dirs[1].prof = prof[1];
	return 0;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		sig_dump = 1;
	else if (sig == SIGHUP)
		sig_reload = 1;
	else
		sig_stop = 1;
}

/* Signals are blocked except inside ppoll(), so none is lost between checks. */
static void signals_setup(sigset_t *unblocked)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGUSR1, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, unblocked);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		/* a shell without job control starts background jobs with SIGINT ignored */
		sigdelset(unblocked, sigs[i]);
	}
}

/* ---- main loop ---- */

static int64_t next_wake(const struct dir dirs[2], int64_t now)
{
	int64_t wake = now + IDLE_WAIT;

	for (int i = 0; i < 2; i++)
		if (dirs[i].nheap && dirs[i].heap[0]->at < wake)
			wake = dirs[i].heap[0]->at;
	return wake;
}

static int run(struct dir dirs[2], const char *stats, const char *control,
	       const sigset_t *unblocked)
{
	struct pollfd pfd[2] = {
		{ .fd = dirs[0].in_fd, .events = POLLIN },
		{ .fd = dirs[1].in_fd, .events = POLLIN },
	};

	while (!sig_stop) {
		int64_t now = now_ns(), wait;
		struct timespec ts;

		if (sig_reload) {
			sig_reload = 0;
			if (control && !control_reload(control, dirs))
				reloads++;
			else
				reload_errors++;
			stats_write(stats, dirs); /* tells the test the new profile is in */
		}
		if (sig_dump) {
			sig_dump = 0;
			stats_write(stats, dirs);
		}
		release_due(&dirs[0], now);
		release_due(&dirs[1], now);
		wait = next_wake(dirs, now) - now_ns();
		ts.tv_sec = wait > 0 ? wait / NSEC : 0;
		ts.tv_nsec = wait > 0 ? wait % NSEC : 0;
		if (ppoll(pfd, 2, &ts, unblocked) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			return -errno;
		}
		for (int i = 0; i < 2; i++) {
			int err;

			if (!(pfd[i].revents & POLLIN))
				continue;
			err = drain_input(&dirs[i]);
			if (err && err != -EIO) { /* EIO: the device is down, for now */
				fprintf(stderr, "%s: read %s: %s\n", prog, dirs[i].name, strerror(-err));
				return err;
			}
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s NS_A IF_A NS_B IF_B [--tap] [--ready FILE] [--seed N]\n"
		"       [--stats FILE] [--control FILE] [SPEC] [--a2b SPEC] [--b2a SPEC]\n"
		"SPEC: delay=T,jitter=T,reorder,loss=P%%,lossafter,ge=P:R[:HB[:HG]],dup=P%%,rate=R,queue=Q\n"
		"(T in ns/us/ms/s; R in bit/kbit/mbit/gbit; Q in pkt, B/kB/MB or a time).\n"
		"See the comment at the top of tests/tools/udpc-wan.c and docs/WANLAB.md.\n",
		prog);
}

int main(int argc, char **argv)
{
	static struct dir dirs[2] = { { .name = "a2b" }, { .name = "b2a" } };
	struct profile prof[2] = { profile_none, profile_none };
	const char *ready = NULL, *stats = NULL, *control = NULL;
	char *words[64];
	int nwords = 0, fd_a, fd_b, err;
	bool tap = false, seeded = false;
	uint64_t seed = 0;
	sigset_t unblocked;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	if (argc < 5)
		die_usage("needs NS_A IF_A NS_B IF_B");
	for (int i = 5; i < argc; i++) {
		const char *a = argv[i];
		bool has_arg = !strcmp(a, "--ready") || !strcmp(a, "--seed") ||
			       !strcmp(a, "--stats") || !strcmp(a, "--control");

		if (has_arg && i + 1 == argc)
			die_usage("%s needs a value", a);
		if (!strcmp(a, "--tap")) {
			tap = true;
		} else if (!strcmp(a, "--ready")) {
			ready = argv[++i];
		} else if (!strcmp(a, "--stats")) {
			stats = argv[++i];
		} else if (!strcmp(a, "--control")) {
			control = argv[++i];
		} else if (!strcmp(a, "--seed")) {
			seed = parse_u64("--seed", argv[++i], 0, UINT64_MAX);
			seeded = true;
		} else if (nwords < 64) {
			words[nwords++] = argv[i];
		} else {
			die_usage("too many arguments");
		}
	}
	if (profile_words(prof, words, nwords))
		die_usage("bad profile");
	if (!seeded && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)now_ns();
	for (int i = 0; i < 2; i++) {
		dirs[i].prof = prof[i];
		dirs[i].tap = tap;
		rng_seed(dirs[i].rng, seed ^ (i ? 0xb2a0b2a0b2a0b2a0ULL : 0xa2b0a2b0a2b0a2b0ULL));
	}
	/* ppoll's timeouts are hrtimers: no slack, so a 1 ms delay is 1 ms, not 1.05 */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if (pool_init())
		die("cannot allocate %d packet buffers", POOL);
	fd_a = dev_in_ns(argv[1], argv[2], tap);
	fd_b = fd_a < 0 ? -1 : dev_in_ns(argv[3], argv[4], tap);
	if (fd_a < 0 || fd_b < 0)
		return EXIT_FAILURE;
	dirs[0].in_fd = dirs[1].out_fd = fd_a;
	dirs[1].in_fd = dirs[0].out_fd = fd_b;
	signals_setup(&unblocked);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f || fclose(f))
			die("cannot write %s", ready);
	}
	err = run(dirs, stats, control, &unblocked);
	if (stats_write(stats, dirs))
		err = -EIO;
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
