// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpc-loadgen: the client side of the benchmark. A paced sender (sendmmsg,
 * sequence numbers) with three modes:
 *
 *   run    send at --rate for --duration, wait until the copies stop arriving at
 *          the sink (its counter page, --page), report offered and delivered
 *          rates, loss and CPU time per delivered copy; --reps K repeats it, median.
 *   sweep  the highest offered rate that loses less than --loss (default 0.1%):
 *          doubling from --start, then bisection to --precision; --reps K repeats
 *          the search, median.
 *   rtt    send at --rate, one datagram per sendmsg, read the replies on the same
 *          (connected) socket, report round-trip time percentiles: of the first
 *          reply to each datagram and of every reply. Times: send = CLOCK_REALTIME
 *          just before sendmsg, receive = the kernel's receive timestamp
 *          (SO_TIMESTAMPNS), so how soon this process reads a reply does not count.
 *          Several targets (--to NAME=ADDR:PORT, repeated) are measured in one run,
 *          interleaved: each round of T datagrams sends one to every target (the
 *          order rotating by one each round), each target at --rate
 *          (--rate x T in all), so that bursts of noise on the machine hit them all
 *          alike. With --slice-ms MS, in time slices instead: MS worth of datagrams
 *          in a row to one target at --rate, then the next (for loads at which
 *          three streams at once would interfere). Each target has its own
 *          connected socket, sequence numbers and warm-up; its results are the keys
 *          rtt_NAME_* (rtt_* for one unnamed --to).
 *
 *   udpc-loadgen run|sweep --to ADDR:PORT [--size BYTES] [--batch N]
 *       [--burst-us US] [--copies N] [--page FILE] [--rate PPS] [--duration SEC]
 *       [--reps K] [--start PPS] [--max PPS] [--precision FRAC] [--loss FRAC]
 *       [--flows K --src ADDR[,ADDR]] [--raw] [--wait SEC] [--pids PID[,PID...]]
 *       [--retries N]
 *   udpc-loadgen rtt --to [NAME=]ADDR:PORT [--to NAME=ADDR:PORT...] [--rate PPS]
 *       [--duration SEC] [--size BYTES] [--copies N] [--wait SEC] [--burst-us US]
 *       [--slice-ms MS]
 *
 * Pacing: a burst of the datagrams due (at most --batch, one sendmmsg) every
 * --burst-us microseconds (default 50), sleeping in between, never spinning.
 * --flows K (> 1) sends from K client flows, source ports 10000..59999 of each
 * --src address in turn, through a raw socket (IP_HDRINCL) so that one sendmmsg
 * carries many flows; --flows 1 (default) uses a connected UDP socket, unless
 * --raw (one flow through the raw socket: the baseline of a many-flow run).
 * A trial passes when loss < --loss, the sender offered at least 97% of the
 * target rate (if it could not, its CPU is what limits: in the kernel path that
 * CPU also does the fan-out) and the last copy arrived soon after the last send
 * (else a socket buffer was filling: not sustainable).
 * CPU time is the run time of this process, of --pids (the sink, relay, daemon)
 * and of the ksoftirqd threads, per delivered copy (see bench.h); the machine's
 * busy time less other tenants' tasks is reported beside it (machine_ns_per_copy),
 * and this process's own CPU time per datagram sent (self_ns_per_datagram: the
 * client and the kernel's work in its context, other tenants' work excluded),
 * and a trial during which other tenants kept a CPU busy is repeated (--retries
 * times at most, default 2).
 * Output: "key value" lines; a trial is one line of key=value fields.
 */
#include "bench.h"

#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sys/mman.h>

const char *prog = "udpc-loadgen";

#define FLOWS_PER_SRC 50000
#define FLOW_PORT0 10000
#define MAX_SRCS 8
#define MAX_TRIALS 40
#define MAX_REPS 15
#define KEEP_UP 0.97
/* The last copy may arrive at most this fraction of the trial after the last send
 * (plus 5 ms): a relay with a 64 MiB socket buffer would otherwise look lossless
 * for a while at rates it cannot sustain. */
#define MAX_DRAIN 0.02
/* Other tenants' tasks using more than this many CPUs make a trial "noisy": it is
 * repeated up to NOISY_RETRIES times, then judged as it is (and says noisy=1). */
#define MAX_FOREIGN 0.15
#define NOISY_RETRIES 2 /* default of --retries */
#define MAX_TARGETS 8	/* rtt: --to NAME=ADDR:PORT, repeated */
#define MAX_NAME 32

struct target {
	char name[MAX_NAME + 1];	/* [a-z0-9_-]+; "" for one plain --to ADDR:PORT */
	struct sockaddr_in addr;
};

struct sender {
	int fd, raw, batch;
	size_t size, frame;	/* UDP payload; what one message carries */
	struct sockaddr_in to;
	uint8_t *bufs;
	struct mmsghdr *msgs;
	struct iovec *iov;
	uint64_t seq;
	uint32_t nflows, next_flow;
	struct sockaddr_in srcs[MAX_SRCS];
	int nsrcs;
	uint32_t const_sum;	/* raw: checksum of the constant part of the payload */
};

struct opts {
	const char *mode, *page_path;
	struct sender s;
	double rate, duration, start, max, precision, loss, wait, slice_ms;
	int copies, reps;
	struct target to[MAX_TARGETS];
	int nto;
};

struct trial {
	double target, offered, delivered_pps, loss, drain_ms;
	double cpu_per_copy;		/* ns of the benchmark's tasks per delivered copy */
	double machine_per_copy;	/* ns of the machine's busy time less other tenants' tasks */
	double self_per_datagram;	/* ns of this process per datagram sent: the client, and the
					 * kernel's work in its context (fan-out, clones, transmit; on
					 * veth the receive path too, unless RPS moves it away) */
	double busy_cpus;		/* the machine's busy CPUs, send and drain */
	double foreign;			/* CPUs busy with other tenants' tasks */
	double cpu_util[MAX_CPUS];	/* each CPU's busy share while sending */
	uint64_t sent, errors, delivered;
	int64_t forks;		/* processes started meanwhile: someone else is at work */
	int noisy;		/* other tenants used more than MAX_FOREIGN CPUs */
	int ncpu;
	const char *result;
};

static struct bench_page *page;
static int noisy_retries = NOISY_RETRIES;
static int pids[MAX_PIDS], npids;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s run|sweep --to ADDR:PORT [--size BYTES] [--batch N]\n"
		"         [--burst-us US] [--copies N] [--page FILE] [--rate PPS] [--duration SEC]\n"
		"         [--reps K] [--start PPS] [--max PPS] [--precision FRAC] [--loss FRAC]\n"
		"         [--flows K --src ADDR[,ADDR]] [--raw] [--wait SEC] [--pids PID[,PID...]]\n"
		"         [--retries N]\n"
		"       %s rtt --to [NAME=]ADDR:PORT [--to NAME=ADDR:PORT...] [--rate PPS]\n"
		"         [--duration SEC] [--size BYTES] [--copies N] [--wait SEC] [--burst-us US]\n"
		"         [--slice-ms MS]\n"
		"  rtt with several --to (at most %d, NAME of [a-z0-9_-]): each round of T\n"
		"  datagrams sends one to every target, the order rotating by one each round,\n"
		"  each target at --rate; keys rtt_NAME_* per target. --slice-ms MS: instead,\n"
		"  MS worth of datagrams in a row to one target, at --rate, then the next\n",
		prog, prog, MAX_TARGETS);
}

/* ---- sending ---- */

static uint32_t sum16(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void sender_open(struct sender *s, int stamps)
{
	int one = 1;

	s->raw = s->raw || s->nflows > 1;
	s->frame = s->size + (s->raw ? sizeof(struct iphdr) + sizeof(struct udphdr) : 0);
	s->bufs = calloc((size_t)s->batch, s->frame);
	s->msgs = calloc((size_t)s->batch, sizeof(*s->msgs));
	s->iov = calloc((size_t)s->batch, sizeof(*s->iov));
	if (!s->bufs || !s->msgs || !s->iov)
		die("out of memory");
	if (s->raw) {
		s->fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
		if (s->fd < 0)
			die("raw socket (--flows needs CAP_NET_RAW)");
	} else {
		s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s->fd < 0)
			die("socket");
		if (connect(s->fd, (struct sockaddr *)&s->to, sizeof(s->to)))
			die("cannot connect to the target");
	}
	set_buf(s->fd, SO_SNDBUFFORCE, SO_SNDBUF, 16 << 20);
	set_buf(s->fd, SO_RCVBUFFORCE, SO_RCVBUF, 64 << 20);
	/* Only for rtt: while any socket asks for them, every packet gets a timestamp. */
	if (stamps && setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)))
		die("SO_TIMESTAMPNS");
	for (int i = 0; i < s->batch; i++) {
		uint8_t *b = s->bufs + (size_t)i * s->frame;
		uint8_t *pl = b + (s->raw ? sizeof(struct iphdr) + sizeof(struct udphdr) : 0);

		payload_init(pl, s->size);
		s->iov[i] = (struct iovec){ b, s->frame };
		s->msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &s->iov[i], .msg_iovlen = 1 };
		if (s->raw) {
			struct iphdr *ip = (struct iphdr *)b;
			struct udphdr *udp = (struct udphdr *)(ip + 1);

			s->msgs[i].msg_hdr.msg_name = &s->to;
			s->msgs[i].msg_hdr.msg_namelen = sizeof(s->to);
			*ip = (struct iphdr){ .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
					      .tot_len = htons((uint16_t)s->frame),
					      .frag_off = htons(IP_DF), .daddr = s->to.sin_addr.s_addr };
			udp->dest = s->to.sin_port;
			udp->len = htons((uint16_t)(s->size + sizeof(*udp)));
		}
	}
	/* The payload from byte 16 on never changes (16 is even: word-aligned). */
	s->const_sum = sum16(s->bufs + (s->raw ? 28 : 0) + 16, s->size - 16);
}

/* Raw mode: the next flow's source address and port, and the UDP checksum. */
static void raw_fill(struct sender *s, uint8_t *b)
{
	struct iphdr *ip = (struct iphdr *)b;
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	uint32_t f = s->next_flow++ % s->nflows, sum;

	ip->saddr = s->srcs[(f / FLOWS_PER_SRC) % (uint32_t)s->nsrcs].sin_addr.s_addr;
	udp->source = htons((uint16_t)(FLOW_PORT0 + f % FLOWS_PER_SRC));
	udp->check = 0;
	sum = sum16((uint8_t *)&ip->saddr, 8) + IPPROTO_UDP + ntohs(udp->len) +
	      sum16((uint8_t *)udp, sizeof(*udp)) + sum16((uint8_t *)(udp + 1), 16) + s->const_sum;
	udp->check = htons((uint16_t)~fold(sum));
	if (!udp->check)
		udp->check = 0xffff;
}

/* Sends n datagrams (n <= batch); returns how many the kernel took; *errs counts failures. */
static int send_n(struct sender *s, int n, uint64_t *errs)
{
	int64_t tx = clock_ns(CLOCK_REALTIME);
	int sent = 0;

	for (int i = 0; i < n; i++) {
		uint8_t *b = s->bufs + (size_t)i * s->frame;

		payload_stamp(b + (s->raw ? 28 : 0), s->seq++, tx);
		if (s->raw)
			raw_fill(s, b);
	}
	while (sent < n) {
		int r = sendmmsg(s->fd, s->msgs + sent, (unsigned)(n - sent), 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			(*errs)++; /* e.g. ENOBUFS: that datagram is lost */
			sent++;
			continue;
		}
		sent += r;
	}
	return n;
}

/*
 * Sends count datagrams at rate, in chunks of about 50 us worth (at most a batch),
 * sleeping in between (no spinning: the CPU time is measured). Returns the time
 * from the first send to the end of the last one. With nsend > 1 senders, datagram
 * k goes to s[target_of(k, nsend)], one per sendmmsg, its failures counted there too.
 */
static double burst_us = 50;

/* Which of n targets datagram k goes to: each round of n datagrams sends one to
 * every target, in an order that rotates by one every round, so that no target
 * always comes first, or always right after the same other one. */
static uint64_t target_of(uint64_t k, uint64_t n)
{
	return (k + k / n) % n;
}

static uint64_t slice = 1; /* with several senders: datagrams in a row to one of them */

static int64_t send_paced(struct sender *s, int nsend, uint64_t count, double rate, uint64_t *errs)
{
	double ns_per = 1e9 / rate;
	uint64_t sent = 0, chunk = (uint64_t)(rate * burst_us * 1e-6);
	int64_t start = now_ns();

	if (chunk < 1)
		chunk = 1;
	if (chunk > (uint64_t)s->batch)
		chunk = (uint64_t)s->batch;
	while (sent < count) {
		int64_t now = now_ns();
		uint64_t due = (uint64_t)((double)(now - start) / ns_per) + 1;
		uint64_t want = chunk < count - sent ? chunk : count - sent;

		if (due > count)
			due = count;
		if (due >= sent + want) {
			uint64_t n = due - sent;

			if (n > (uint64_t)s->batch)
				n = (uint64_t)s->batch;
			if (nsend == 1) {
				sent += (uint64_t)send_n(s, (int)n, errs);
				continue;
			}
			for (uint64_t end = sent + n; sent < end; sent++) {
				uint64_t k = target_of(sent / slice, (uint64_t)nsend);

				send_n(&s[k], 1, &errs[k]);
			}
		} else {
			sleep_until(start + (int64_t)((double)(sent + want - 1) * ns_per));
		}
	}
	return now_ns() - start;
}

/* ---- one trial: paced send, drain, count ---- */

static uint64_t delivered_now(void) { return page ? PAGE_LOAD(page->received) : 0; }

static void print_trial(const char *tag, const struct trial *t);

static struct trial run_trial_once(struct opts *o, double rate, double duration)
{
	struct trial t = { .target = rate };
	struct cpu_sample c0, c1, c2;
	uint64_t count = (uint64_t)(rate * duration), d0, last, expected;
	int64_t elapsed, t_sent, t_last, t_end, self0;
	double window;

	if (count < 1)
		count = 1;
	expected = count * (uint64_t)o->copies;
	d0 = delivered_now();
	self0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	cpu_sample(&c0, pids, npids);
	elapsed = send_paced(&o->s, 1, count, rate, &t.errors);
	cpu_sample(&c1, pids, npids);
	/* Drain: until every copy is in, or nothing came for 50 ms (at most 3 s). */
	last = delivered_now();
	t_sent = t_last = now_ns();
	t_end = t_last + 3 * NSEC;
	while (last - d0 < expected && now_ns() < t_end && now_ns() - t_last < 50000000) {
		uint64_t d;

		sleep_until(now_ns() + 2000000);
		d = delivered_now();
		if (d != last) {
			last = d;
			t_last = now_ns();
		}
	}
	cpu_sample(&c2, pids, npids);
	t.self_per_datagram = (double)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - self0) / (double)count;
	t.drain_ms = (double)(t_last - t_sent) / 1e6;
	t.sent = count;
	t.delivered = last - d0;
	t.offered = (double)count / ((double)elapsed / 1e9);
	t.delivered_pps = (double)t.delivered / ((double)elapsed / 1e9);
	t.loss = t.delivered >= expected ? 0.0 : 1.0 - (double)t.delivered / (double)expected;
	t.ncpu = c1.ncpu;
	machine_busy(&c0, &c1, t.cpu_util);
	window = (double)(c2.wall_ns - c0.wall_ns);
	t.busy_cpus = machine_busy(&c0, &c2, NULL);
	t.foreign = fmax(0, (double)(c2.others_ns - c0.others_ns) / window);
	t.forks = c2.forks - c0.forks;
	if (t.delivered) {
		t.cpu_per_copy = (double)(c2.ours_ns - c0.ours_ns) / (double)t.delivered;
		t.machine_per_copy = fmax(t.busy_cpus - t.foreign, 0) * window / (double)t.delivered;
	}
	t.noisy = t.foreign > MAX_FOREIGN;
	if (!page)
		t.result = "sent";
	else if (t.loss >= o->loss)
		t.result = "loss";
	else if (t.offered < KEEP_UP * rate)
		t.result = "sender"; /* could not offer the rate: the sender's CPU is the limit */
	else if (t.drain_ms > MAX_DRAIN * duration * 1e3 + 5)
		t.result = "backlog"; /* kept up only by filling a socket buffer: not sustained */
	else
		t.result = "pass";
	return t;
}

/* A trial, repeated (after a pause) while other work on the machine disturbs it. */
static struct trial run_trial(struct opts *o, double rate, double duration)
{
	struct trial t;

	for (int i = 0;; i++) {
		t = run_trial_once(o, rate, duration);
		if (!t.noisy || i >= noisy_retries)
			break;
		print_trial("noisy", &t);
		sleep_until(now_ns() + NSEC * 3 / 10);
	}
	return t;
}

static void print_trial(const char *tag, const struct trial *t)
{
	printf("%s target=%.0f sent=%" PRIu64 " offered=%.0f delivered=%" PRIu64
	       " delivered_pps=%.0f loss=%.6f errors=%" PRIu64 " drain_ms=%.1f cpu_ns_per_copy=%.1f"
	       " machine_ns_per_copy=%.1f self_ns_per_datagram=%.1f foreign_cpus=%.2f forks=%" PRId64
	       " noisy=%d",
	       tag, t->target, t->sent, t->offered, t->delivered, t->delivered_pps, t->loss,
	       t->errors, t->drain_ms, t->cpu_per_copy, t->machine_per_copy, t->self_per_datagram,
	       t->foreign, t->forks, t->noisy);
	for (int i = 0; i < t->ncpu && i < MAX_CPUS; i++)
		printf(" cpu%d=%.2f", i, t->cpu_util[i]);
	printf(" result=%s\n", t->result);
	fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Index of the median of v[0..n) by value (the lower one for even n). */
static int median_index(const double *v, int n)
{
	double sorted[MAX_REPS];

	memcpy(sorted, v, sizeof(double) * (size_t)n);
	qsort(sorted, (size_t)n, sizeof(double), cmp_double);
	for (int i = 0; i < n; i++)
		if (v[i] == sorted[(n - 1) / 2])
			return i;
	return 0;
}

static void print_result(const char *prefix, const struct trial *t)
{
	printf("%s_rate %.0f\n%s_offered_pps %.0f\n%s_delivered_pps %.0f\n%s_loss %.6f\n"
	       "%s_cpu_ns_per_copy %.1f\n%s_machine_ns_per_copy %.1f\n%s_self_ns_per_datagram %.1f\n"
	       "%s_foreign_cpus %.2f\n%s_cpu0 %.2f\n%s_cpu1 %.2f\n%s_result %s\n",
	       prefix, t->target, prefix, t->offered, prefix, t->delivered_pps, prefix, t->loss,
	       prefix, t->cpu_per_copy, prefix, t->machine_per_copy, prefix, t->self_per_datagram,
	       prefix, t->foreign, prefix,
	       t->cpu_util[0], prefix, t->cpu_util[1], prefix, t->result);
}

static int mode_run(struct opts *o)
{
	struct trial t[MAX_REPS];
	double cpu[MAX_REPS];
	int m;

	for (int r = 0; r < o->reps; r++) {
		t[r] = run_trial(o, o->rate, o->duration);
		print_trial("trial", &t[r]);
		cpu[r] = t[r].cpu_per_copy;
	}
	m = median_index(cpu, o->reps);
	print_result("run", &t[m]);
	return 0;
}

/* One search: doubling (or `grow`) from start while trials pass, then bisection. */
static struct trial search(struct opts *o, double start, double grow, const char **limit)
{
	struct trial best = { .target = 0, .result = "none" }, t;
	double lo = 0, hi = 0, r = start;

	*limit = "none";
	for (int n = 0; n < MAX_TRIALS; n++) {
		t = run_trial(o, r, o->duration);
		print_trial("trial", &t);
		if (!strcmp(t.result, "pass")) {
			lo = r;
			best = t;
			if (lo >= o->max)
				break;
		} else {
			hi = r;
			*limit = t.result;
		}
		if (!hi)
			r = fmin(r * grow, o->max);
		else if (!lo)
			r /= grow;
		else if (hi / lo - 1 <= o->precision)
			break;
		else
			r = (lo + hi) / 2;
		if (r < 100)
			break;
	}
	if (!strcmp(*limit, "none") && lo >= o->max)
		*limit = "max";
	return best;
}

static int mode_sweep(struct opts *o)
{
	struct trial best[MAX_REPS];
	const char *limit[MAX_REPS];
	double rates[MAX_REPS], start = o->start, grow = 2.0;
	int m;

	/* Warm-up (discarded): caches, next hops and, with --flows, every flow once. */
	{
		double d = fmax(0.2, (double)o->s.nflows / o->start);

		print_trial("warmup", (struct trial[]){ run_trial(o, o->start, d) });
	}
	for (int r = 0; r < o->reps; r++) {
		best[r] = search(o, start, grow, &limit[r]);
		rates[r] = best[r].target;
		printf("search %d rate=%.0f limit=%s\n", r, rates[r], limit[r]);
		if (rates[r] > 0) {
			/* Later searches start just below and climb in small steps. */
			start = rates[r] * 0.9;
			grow = 1.15;
		}
	}
	m = median_index(rates, o->reps);
	print_result("sweep", &best[m]);
	printf("sweep_limit %s\nsweep_rates", limit[m]);
	for (int r = 0; r < o->reps; r++)
		printf(" %.0f", rates[r]);
	printf("\n");
	return 0;
}

/* ---- rtt ---- */

/* One target: its own connected socket, sequence numbers, warm-up and samples. */
struct rtt_target {
	const char *name;	/* "" for one plain --to ADDR:PORT */
	int fd;
	uint8_t *seen;
	int64_t *first, *all;
	uint64_t nfirst, nall, cap_all, foreign;
};

struct rtt_state {
	struct rtt_target *t;
	int n;
	uint64_t count, skip;	/* per target; seqs below skip are a warm-up: not counted */
	volatile int stop;
};

/* The replies in m[0..n) that came to target t. */
static void rtt_take(const struct rtt_state *st, struct rtt_target *t, struct mmsghdr *m, int n)
{
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &m[i].msg_hdr;
		struct cmsghdr *cm;
		int64_t rx = 0, tx, rtt;
		uint64_t seq;

		for (cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				rx = (int64_t)ts.tv_sec * NSEC + ts.tv_nsec;
			}
		if (!rx)
			rx = clock_ns(CLOCK_REALTIME);
		if (payload_parse(h->msg_iov->iov_base, m[i].msg_len, &seq, &tx) || seq >= st->count) {
			t->foreign++;
			continue;
		}
		if (seq < st->skip)
			continue;
		rtt = rx - tx;
		if (t->nall < t->cap_all) {
			t->all[t->nall] = rtt;
			__atomic_store_n(&t->nall, t->nall + 1, __ATOMIC_RELAXED);
		}
		if (!t->seen[seq]++)
			t->first[t->nfirst++] = rtt;
	}
}

static void *rtt_reader(void *arg)
{
	struct rtt_state *st = arg;
	enum { B = 64 };
	static uint8_t bufs[B][2048], ctl[B][64];
	struct mmsghdr m[B];
	struct iovec iov[B];

	while (!st->stop) {
		int got = 0;

		/* Poll every target's socket: receive times are the kernel's, so reading
		 * late costs nothing, while a blocked reader would have the echo (or the
		 * relay) pay for waking it up. */
		for (int k = 0; k < st->n; k++) {
			int n;

			for (int i = 0; i < B; i++) {
				iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
				m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1,
								.msg_control = ctl[i],
								.msg_controllen = sizeof(ctl[i]) };
			}
			n = recvmmsg(st->t[k].fd, m, B, MSG_DONTWAIT, NULL);
			if (n > 0) {
				rtt_take(st, &st->t[k], m, n);
				got += n;
			}
		}
		if (!got)
			sleep_until(now_ns() + 100000);
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_pcts(const char *prefix, const char *name, int64_t *v, uint64_t n)
{
	static const struct { const char *k; double q; } q[] = {
		{ "p50", 0.50 }, { "p90", 0.90 }, { "p99", 0.99 }, { "p999", 0.999 }, { "max", 1.0 },
	};

	qsort(v, n, sizeof(*v), cmp_i64);
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		uint64_t k = n ? (uint64_t)ceil(q[i].q * (double)n) : 0;

		if (k)
			k--;
		printf("%s_%s_%s_us %.2f\n", prefix, name, q[i].k, n ? (double)v[k] / 1000.0 : -1.0);
	}
}

static int mode_rtt(struct opts *o)
{
	struct rtt_state st = { .n = o->nto };
	struct sender ss[MAX_TARGETS];
	uint64_t expected, waited = 0, errs[MAX_TARGETS] = { 0 };
	double total_rate, offered;
	int64_t elapsed;
	pthread_t th;
	int done, sliced;

	st.count = (uint64_t)(o->rate * o->duration);
	if (st.count < 100)
		st.count = 100;
	sliced = o->slice_ms > 0 && o->nto > 1;
	if (sliced) {
		/* Time slices: `slice` datagrams in a row to one target at o->rate, then to
		 * the next (target_of over slices); whole rounds, so each gets st.count. */
		slice = (uint64_t)(o->rate * o->slice_ms / 1000.0);
		if (slice < 1)
			slice = 1;
		st.count = (st.count + slice - 1) / slice * slice;
	}
	st.skip = st.count / 100;
	expected = (st.count - st.skip) * (uint64_t)o->copies;
	st.t = calloc((size_t)st.n, sizeof(*st.t));
	if (!st.t)
		die("out of memory");
	for (int k = 0; k < st.n; k++) {
		struct rtt_target *t = &st.t[k];

		ss[k] = o->s;
		ss[k].to = o->to[k].addr;
		sender_open(&ss[k], 1);
		t->name = o->to[k].name;
		t->fd = ss[k].fd;
		t->cap_all = st.count * (uint64_t)o->copies;
		t->seen = calloc(st.count, 1);
		t->first = calloc(st.count, sizeof(int64_t));
		t->all = calloc(t->cap_all, sizeof(int64_t));
		if (!t->seen || !t->first || !t->all)
			die("out of memory");
	}
	if (pthread_create(&th, NULL, rtt_reader, &st))
		die("pthread_create");
	/* Sliced: each target at o->rate during its slices. Else each round of n
	 * datagrams sends one to every target (target_of): each at o->rate throughout. */
	total_rate = sliced ? o->rate : o->rate * st.n;
	elapsed = send_paced(ss, st.n, st.count * (uint64_t)st.n, total_rate, errs);
	/* each target's rate: while it is sent to (sliced), or throughout */
	offered = (double)(st.count * (uint64_t)(sliced ? st.n : 1)) / ((double)elapsed / 1e9);
	do {
		done = 1;
		for (int k = 0; k < st.n; k++)
			done &= __atomic_load_n(&st.t[k].nall, __ATOMIC_RELAXED) >= expected;
		if (!done)
			sleep_until(now_ns() + 1000000);
	} while (!done && ++waited < o->wait * 1000);
	st.stop = 1;
	pthread_join(th, NULL);
	if (st.t[0].name[0])
		printf("rtt_targets %d\nrtt_total_rate %.0f\nrtt_total_offered_pps %.0f\n", st.n,
		       total_rate, (double)(st.count * (uint64_t)st.n) / ((double)elapsed / 1e9));
	for (int k = 0; k < st.n; k++) {
		struct rtt_target *t = &st.t[k];
		char p[sizeof("rtt_") + MAX_NAME];

		snprintf(p, sizeof(p), "rtt%s%s", t->name[0] ? "_" : "", t->name);
		printf("%s_rate %.0f\n%s_offered_pps %.0f\n%s_sent %" PRIu64 "\n%s_send_errors %" PRIu64
		       "\n%s_counted %" PRIu64 "\n%s_replies %" PRIu64 "\n%s_replies_expected %" PRIu64
		       "\n%s_answered %" PRIu64 "\n%s_foreign %" PRIu64 "\n",
		       p, o->rate, p, offered, p, st.count, p, errs[k],
		       p, st.count - st.skip, p, t->nall, p, expected, p, t->nfirst, p, t->foreign);
		print_pcts(p, "first", t->first, t->nfirst);
		print_pcts(p, "all", t->all, t->nall);
	}
	return 0;
}

/* ---- main ---- */

/* --to [NAME=]ADDR:PORT */
static void parse_target(struct opts *o, const char *arg)
{
	struct target *t = &o->to[o->nto];
	const char *eq = strchr(arg, '=');

	if (o->nto == MAX_TARGETS)
		die_usage("--to: more than %d targets", MAX_TARGETS);
	memset(t, 0, sizeof(*t));
	if (eq) {
		size_t len = (size_t)(eq - arg);

		if (!len || len > MAX_NAME || strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len)
			die_usage("--to: '%.*s' is not a NAME of 1..%d of [a-z0-9_-]", (int)len, arg,
				  MAX_NAME);
		memcpy(t->name, arg, len);
		for (int i = 0; i < o->nto; i++)
			if (!strcmp(o->to[i].name, t->name))
				die_usage("--to: two targets named '%s'", t->name);
		arg = eq + 1;
	}
	t->addr = parse_addr("--to", arg);
	o->nto++;
}

static struct bench_page *page_open(const char *path)
{
	struct bench_page *pg;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("cannot open %s", path);
	pg = mmap(NULL, sizeof(*pg), PROT_READ, MAP_SHARED, fd, 0);
	if (pg == MAP_FAILED)
		die("cannot map %s", path);
	close(fd);
	if (__atomic_load_n(&pg->magic, __ATOMIC_ACQUIRE) != PAGE_MAGIC)
		die_usage("%s is not a sink's counter page", path);
	return pg;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "copies", required_argument, NULL, 'c' },
		{ "page", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "reps", required_argument, NULL, 'k' },
		{ "start", required_argument, NULL, 'S' },
		{ "max", required_argument, NULL, 'M' },
		{ "precision", required_argument, NULL, 'P' },
		{ "loss", required_argument, NULL, 'L' },
		{ "flows", required_argument, NULL, 'f' },
		{ "src", required_argument, NULL, 'a' },
		{ "raw", no_argument, NULL, 'W' },
		{ "burst-us", required_argument, NULL, 'B' },
		{ "retries", required_argument, NULL, 'T' },
		{ "wait", required_argument, NULL, 'w' },
		{ "slice-ms", required_argument, NULL, 'm' },
		{ "pids", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct opts o = {
		.s = { .batch = -1, .size = 512, .nflows = 1 },
		.rate = 10000, .duration = 1, .start = 20000, .max = 5e6, .precision = 0.05,
		.loss = 0.001, .wait = 0.5, .copies = 1, .reps = 1,
	};
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	o.mode = argv[1];
	if (strcmp(o.mode, "run") && strcmp(o.mode, "sweep") && strcmp(o.mode, "rtt"))
		die_usage("unknown mode '%s'", o.mode);
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 't': parse_target(&o, optarg); break;
		case 's': o.s.size = parse_u64("--size", optarg, MIN_SIZE, MAX_SIZE); break;
		case 'b': o.s.batch = (int)parse_u64("--batch", optarg, 1, MAX_BATCH); break;
		case 'c': o.copies = (int)parse_u64("--copies", optarg, 1, 64); break;
		case 'p': o.page_path = optarg; break;
		case 'r': o.rate = parse_double("--rate", optarg, 1, 1e8); break;
		case 'd': o.duration = parse_double("--duration", optarg, 0.01, 600); break;
		case 'k': o.reps = (int)parse_u64("--reps", optarg, 1, MAX_REPS); break;
		case 'S': o.start = parse_double("--start", optarg, 100, 1e8); break;
		case 'M': o.max = parse_double("--max", optarg, 100, 1e8); break;
		case 'P': o.precision = parse_double("--precision", optarg, 0.001, 1); break;
		case 'L': o.loss = parse_double("--loss", optarg, 0, 1); break;
		case 'f': o.s.nflows = (uint32_t)parse_u64("--flows", optarg, 1, FLOWS_PER_SRC * MAX_SRCS); break;
		case 'W': o.s.raw = 1; break;
		case 'T': noisy_retries = (int)parse_u64("--retries", optarg, 0, 10); break;
		case 'B': burst_us = parse_double("--burst-us", optarg, 0, 100000); break;
		case 'a': {
			char *save = NULL, *tok, *copy = strdup(optarg);

			o.s.nsrcs = 0;
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (o.s.nsrcs == MAX_SRCS)
					die_usage("--src: more than %d addresses", MAX_SRCS);
				o.s.srcs[o.s.nsrcs].sin_family = AF_INET;
				if (inet_pton(AF_INET, tok, &o.s.srcs[o.s.nsrcs++].sin_addr) != 1)
					die_usage("--src: '%s' is not an IPv4 address", tok);
			}
			free(copy);
			break;
		}
		case 'i': {
			char *save = NULL, *tok, *copy = strdup(optarg);

			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (npids == MAX_PIDS - 16)
					die_usage("--pids: too many");
				pids[npids++] = (int)parse_u64("--pids", tok, 1, 1 << 30);
			}
			free(copy);
			break;
		}
		case 'w': o.wait = parse_double("--wait", optarg, 0, 60); break;
		case 'm': o.slice_ms = parse_double("--slice-ms", optarg, 1, 10000); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !o.nto)
		die_usage("--to is required");
	if (strcmp(o.mode, "rtt") && (o.nto > 1 || o.to[0].name[0]))
		die_usage("several --to, or --to NAME=ADDR:PORT, only in rtt mode");
	for (int i = 0; o.nto > 1 && i < o.nto; i++)
		if (!o.to[i].name[0])
			die_usage("with several --to, each needs a NAME= (--to NAME=ADDR:PORT)");
	o.s.to = o.to[0].addr;
	if (o.s.batch < 0)
		o.s.batch = strcmp(o.mode, "rtt") ? 32 : 1;
	if (o.s.nflows > 1 || o.s.raw) {
		if (!strcmp(o.mode, "rtt"))
			die_usage("rtt uses one flow, on a UDP socket");
		if ((uint32_t)o.s.nsrcs * FLOWS_PER_SRC < o.s.nflows)
			die_usage("--flows %u needs %u --src addresses (%d flows each)", o.s.nflows,
				  (o.s.nflows + FLOWS_PER_SRC - 1) / FLOWS_PER_SRC, FLOWS_PER_SRC);
	}
	if (strcmp(o.mode, "rtt") && !o.page_path)
		die_usage("%s needs --page (the sink's counters)", o.mode);
	if (o.page_path)
		page = page_open(o.page_path);

	pids[npids++] = getpid();
	npids = add_ksoftirqd(pids, npids);
	timer_slack_min();
	if (!strcmp(o.mode, "rtt"))
		return mode_rtt(&o); /* opens a sender per target */
	sender_open(&o.s, 0);
	if (!strcmp(o.mode, "run"))
		return mode_run(&o);
	return mode_sweep(&o);
}
