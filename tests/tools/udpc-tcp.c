// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpc-tcp: a TCP test service and its client, for the tcp-client / tcp-server tests.
 *
 *   udpc-tcp server ADDR:PORT [--rate BYTES]
 *	Accepts connections (a thread each). A connection starts with 16 bytes from the
 *	client: the download and upload sizes (big-endian 64-bit). The server sends the
 *	download, reads the upload to its end and checks every byte, then sends one status
 *	byte ('K' intact, 'X' not) and closes. Prints "listening", then "accepted from ADDR" for
 *	each connection and, when it ends, "served down=N up=N cpu_ns=N" (the bytes sent
 *	and received, and the CPU time of its thread, which the benchmark counts: the
 *	thread has gone before anyone could read its run time from /proc).
 *	--rate: each download at most BYTES per second (suffix k, M, G:
 *	10^3, 10^6, 10^9), so that the benchmark can compare CPU per MB at equal load.
 *   udpc-tcp client ADDR:PORT [--down N] [--up N] [--conns N] [--parallel P] [--timeout S]
 *	[--rate BYTES]
 *	Opens --conns connections, --parallel at a time; each checks every downloaded byte,
 *	that the status byte is 'K', and that the end of stream comes right after it.
 *	Prints "key value" lines: ok, failed, reset, refused, short, corrupt, bytes_down,
 *	bytes_up, seconds, mbps (MB/s of both directions' payload over the whole run).
 *	Exits 0 if every connection was ok. --rate: each upload at most BYTES per second.
 *	With --conns 1, also where the time went, in ms from the start: ms_first_byte
 *	(the download's first byte), ms_down_done (its last) and ms_status (the status
 *	byte, which the server sends once it has read the whole upload).
 *   udpc-tcp client ... --expect-reset: exits 0 if every connection was reset (or refused).
 *   udpc-tcp client ... --hold S: each connection stays open S seconds after its upload
 *	before it closes its sending side (the server's status byte waits for that): a
 *	long-lived connection with bytes moved both ways, for status to show.
 *
 * The bytes are a stream of xorshift64 output seeded per direction, so a byte lost,
 * repeated or misplaced anywhere is seen.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

const char *prog = "udpc-tcp";

#define SEED_DOWN 0x9e3779b97f4a7c15ULL
#define SEED_UP 0xd1b54a32d192ed03ULL

struct gen {
	uint64_t x, w;	/* state, current word */
	unsigned int k;	/* bytes of w used */
};

static void gen_init(struct gen *g, uint64_t seed)
{
	g->x = seed;
	g->k = 8;
}

static uint8_t gen_byte(struct gen *g)
{
	if (g->k == 8) {
		g->x ^= g->x << 13;
		g->x ^= g->x >> 7;
		g->x ^= g->x << 17;
		g->w = g->x;
		g->k = 0;
	}
	return (uint8_t)(g->w >> (8 * g->k++));
}

static void gen_fill(struct gen *g, uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = gen_byte(g);
}

/* Checks n bytes against the generator; false at the first difference. */
static bool gen_check(struct gen *g, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != gen_byte(g))
			return false;
	return true;
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *colon = strrchr(s, ':');
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM }, *ai;
	size_t n;

	if (!colon)
		return -1;
	n = colon - s;
	if (s[0] == '[') {
		if (n < 2 || s[n - 1] != ']')
			return -1;
		s++;
		n -= 2;
	}
	if (n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* ---- pacing (--rate) ---- */

/* A sender held to rate bytes per second from t0; rate 0: no limit. */
struct pacer {
	double rate;
	int64_t t0;
};

#define PACE_CHUNK 16384 /* paced sends go in pieces of this much at least: few wake-ups */

/*
 * How much of want may go now, having sent `sent` since t0; 0 if nothing may, and
 * then *wait_ms is when to look again. A stall is made up for at once, so that the
 * average stays the rate (the socket's buffer bounds the catch-up).
 */
static size_t pace_room(const struct pacer *p, uint64_t sent, size_t want, int *wait_ms)
{
	double allowed, lack;

	if (p->rate <= 0)
		return want;
	allowed = p->rate * (double)(now_ns() - p->t0) / NSEC - (double)sent;
	if (allowed >= (double)want)
		return want;
	if (allowed >= PACE_CHUNK)
		return (size_t)allowed;
	lack = PACE_CHUNK - (allowed > 0 ? allowed : 0);
	*wait_ms = (int)(lack * 1000 / p->rate) + 1;
	return 0;
}

/* "20M", "500k", "1000000": bytes per second, or a usage error naming the option. */
static double parse_rate(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*end == 'k')
		v *= 1e3, end++;
	else if (*end == 'M')
		v *= 1e6, end++;
	else if (*end == 'G')
		v *= 1e9, end++;
	if (errno || end == s || *end || !(v >= 1))
		die_usage("%s: '%s' is not a rate in bytes per second (suffix k, M, G)", opt, s);
	return v;
}

/* ---- server ---- */

static double server_rate; /* --rate: each download's */

static void *serve_one(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t hdr[16], buf[65536];
	size_t got = 0;
	uint64_t down, up, sent = 0, rcvd = 0;
	struct gen gd, gu;
	struct pacer pc = { .rate = server_rate };
	bool ok = true, eof = false;

	while (got < sizeof(hdr)) {
		ssize_t n = recv(fd, hdr + got, sizeof(hdr) - got, 0);

		if (n <= 0)
			goto out;
		got += n;
	}
	down = get64(hdr);
	up = get64(hdr + 8);
	gen_init(&gd, SEED_DOWN);
	gen_init(&gu, SEED_UP);
	pc.t0 = now_ns();
	while (sent < down || !eof) {
		int wait = 120000;
		size_t room = sent < down ? pace_room(&pc, sent, sizeof(buf), &wait) : 0;
		struct pollfd pf = { .fd = fd, .events = (eof ? 0 : POLLIN) | (room ? POLLOUT : 0) };
		int r = poll(&pf, 1, room || sent >= down ? 120000 : wait);

		/* nothing for 2 minutes: the peer is gone (a paced wait is no such thing) */
		if (r < 0 || (r == 0 && (room || sent >= down)))
			goto out;
		if (pf.revents & POLLIN || (pf.revents & (POLLHUP | POLLERR) && !eof)) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n < 0 && errno != EAGAIN)
				goto out;
			if (n == 0)
				eof = true;
			if (n > 0) {
				if (ok && !gen_check(&gu, buf, n))
					ok = false;
				rcvd += n;
			}
		}
		if (pf.revents & POLLOUT && sent < down) {
			size_t want = down - sent < room ? down - sent : room;
			struct gen save = gd;
			ssize_t n;

			gen_fill(&gd, buf, want);
			n = send(fd, buf, want, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN)
				goto out;
			/* rewind the generator to what was taken */
			gd = save;
			if (n > 0) {
				gen_fill(&gd, buf, n);
				sent += n;
			}
		}
	}
	buf[0] = ok && rcvd == up ? 'K' : 'X';
	if (send(fd, buf, 1, MSG_NOSIGNAL) != 1)
		goto out;
out:
	close(fd);
	printf("served down=%" PRIu64 " up=%" PRIu64 " cpu_ns=%" PRId64 "\n", sent, rcvd,
	       clock_ns(CLOCK_THREAD_CPUTIME_ID));
	fflush(stdout);
	return NULL;
}

/*
 * TCP as Debian ships it: CUBIC, whatever the host's default (a namespace takes the
 * host's, and a host set to BBR, which does not slow down for loss, made plain TCP
 * over a 30% link look 50 times faster than it is). Root may set any algorithm.
 */
static void plain_tcp(int fd)
{
	static const char cc[] = "cubic";

	if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, sizeof(cc) - 1))
		fprintf(stderr, "udpc-tcp: TCP_CONGESTION %s: %s\n", cc, strerror(errno));
}

static int run_server(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, i;
	const char *addr = argv[0];

	if (parse_addr(addr, &ss, &len))
		die_usage("bad address '%s'", addr);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rate") || i + 1 >= argc)
			die_usage("unknown option or missing value: '%s'", argv[i]);
		server_rate = parse_rate(argv[i], argv[i + 1]);
		i++;
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	plain_tcp(fd); /* accepted sockets inherit it */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4096))
		die("listen on %s", addr);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		pthread_attr_t at;
		pthread_t t;
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		char host[INET6_ADDRSTRLEN] = "?";
		int c = accept4(fd, (struct sockaddr *)&from, &flen, SOCK_CLOEXEC);

		if (c < 0)
			continue;
		/* the peer's address: the tests check which family reached the service */
		inet_ntop(from.ss_family, from.ss_family == AF_INET6 ?
			  (void *)&((struct sockaddr_in6 *)&from)->sin6_addr :
			  (void *)&((struct sockaddr_in *)&from)->sin_addr, host, sizeof(host));
		printf("accepted from %s\n", host);
		fflush(stdout);
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 256 << 10);
		if (pthread_create(&t, &at, serve_one, (void *)(intptr_t)c))
			close(c);
		pthread_attr_destroy(&at);
	}
}

/* ---- client ---- */

enum result { T_OK, T_FAILED, T_RESET, T_REFUSED, T_SHORT, T_CORRUPT, T_MAX };
static const char *const result_name[T_MAX] = { "ok", "failed", "reset", "refused", "short", "corrupt" };

static struct {
	struct sockaddr_storage ss;
	socklen_t len;
	uint64_t down, up;
	double rate; /* --rate: each upload's */
	int64_t hold_ns; /* --hold */
	int conns, timeout_s;
	int next;
	uint64_t count[T_MAX], bytes_down, bytes_up;
	int64_t deadline;
	/* one connection's milestones, from the start (--conns 1): first download byte,
	 * last download byte, status byte */
	int64_t t_first, t_down, t_status;
	pthread_mutex_t lock;
} C = { .lock = PTHREAD_MUTEX_INITIALIZER };

static enum result one_conn(uint64_t *bd, uint64_t *bu)
{
	uint8_t buf[65536], hdr[16];
	struct gen gd, gu;
	uint64_t sent = 0, rcvd = 0;
	size_t hdr_sent = 0, room = 0;
	struct pacer pc = { .rate = C.rate };
	bool wr_done = false;
	int64_t hold_until = 0;	/* once the upload is out: when to close our side */
	int fd = socket(C.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	plain_tcp(fd);
	enum result r = T_FAILED;

	if (fd < 0)
		return T_FAILED;
	if (connect(fd, (struct sockaddr *)&C.ss, C.len)) {
		r = errno == ECONNREFUSED ? T_REFUSED : errno == ECONNRESET ? T_RESET : T_FAILED;
		goto out;
	}
	put64(hdr, C.down);
	put64(hdr + 8, C.up);
	gen_init(&gd, SEED_DOWN);
	gen_init(&gu, SEED_UP);
	pc.t0 = now_ns();
	for (;;) {
		int64_t left = C.deadline - now_ns();
		int wait = (int)(left / 1000000) + 1, pr;
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (!wr_done) {
			room = hdr_sent < sizeof(hdr) || sent >= C.up ? sizeof(buf) :
			       pace_room(&pc, sent, sizeof(buf), &wait);
			if (hdr_sent == sizeof(hdr) && sent >= C.up) {
				int64_t now = now_ns();

				if (!hold_until)
					hold_until = now + C.hold_ns;
				if (now < hold_until) { /* --hold: not writable, awake at its end */
					room = 0;
					if ((hold_until - now) / 1000000 + 1 < wait)
						wait = (int)((hold_until - now) / 1000000) + 1;
				}
			}
			pf.events |= room ? POLLOUT : 0;
		}
		if (left <= 0 || (pr = poll(&pf, 1, wait)) < 0 || (pr == 0 && now_ns() >= C.deadline)) {
			r = T_SHORT;
			goto out;
		}
		if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN) {
				r = errno == ECONNRESET ? T_RESET : T_FAILED;
				goto out;
			}
			if (n == 0) {
				/* the end: right after the download and its status byte */
				r = rcvd == C.down + 1 ? T_OK : T_SHORT;
				goto out;
			}
			if (n > 0) {
				uint64_t data = rcvd < C.down ? C.down - rcvd : 0;
				size_t d = (uint64_t)n < data ? (size_t)n : (size_t)data;

				if (!gen_check(&gd, buf, d) || (size_t)n > d + (rcvd + d == C.down) ||
				    ((size_t)n > d && buf[d] != 'K')) {
					r = T_CORRUPT;
					goto out;
				}
				if (!rcvd)
					C.t_first = now_ns();
				rcvd += n;
				*bd += d;
				if (d && rcvd >= C.down)
					C.t_down = now_ns();
				if ((size_t)n > d)
					C.t_status = now_ns();
			}
		}
		if (!wr_done && pf.revents & POLLOUT) {
			if (hdr_sent < sizeof(hdr)) {
				n = send(fd, hdr + hdr_sent, sizeof(hdr) - hdr_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (n > 0)
					hdr_sent += n;
			} else if (sent < C.up) {
				size_t want = C.up - sent < room ? C.up - sent : room;
				struct gen save = gu;

				gen_fill(&gu, buf, want);
				gu = save;
				n = send(fd, buf, want, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (n > 0) {
					gen_fill(&gu, buf, n);
					sent += n;
					*bu += n;
				}
			} else {
				n = 0;
			}
			if (n < 0 && errno != EAGAIN) {
				r = errno == ECONNRESET || errno == EPIPE ? T_RESET : T_FAILED;
				goto out;
			}
			if (hdr_sent == sizeof(hdr) && sent == C.up &&
			    (!C.hold_ns || (hold_until && now_ns() >= hold_until))) {
				shutdown(fd, SHUT_WR);
				wr_done = true;
			}
		}
	}
out:
	close(fd);
	return r;
}

static void *client_thread(void *arg)
{
	for (;;) {
		uint64_t bd = 0, bu = 0;
		enum result r;

		pthread_mutex_lock(&C.lock);
		if (C.next >= C.conns) {
			pthread_mutex_unlock(&C.lock);
			return NULL;
		}
		C.next++;
		pthread_mutex_unlock(&C.lock);
		r = one_conn(&bd, &bu);
		pthread_mutex_lock(&C.lock);
		C.count[r]++;
		C.bytes_down += bd;
		C.bytes_up += bu;
		pthread_mutex_unlock(&C.lock);
	}
}

static int run_client(int argc, char **argv)
{
	int parallel = 1, i;
	bool expect_reset = false;
	pthread_t *t;
	int64_t t0, t1;
	double secs;

	if (argc < 1 || parse_addr(argv[0], &C.ss, &C.len))
		die_usage("client needs ADDR:PORT");
	C.conns = 1;
	C.timeout_s = 60;
	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--expect-reset")) {
			expect_reset = true;
			continue;
		}
		if (!v)
			die_usage("%s needs a value", o);
		i++;
		if (!strcmp(o, "--down"))
			C.down = strtoull(v, NULL, 0);
		else if (!strcmp(o, "--up"))
			C.up = strtoull(v, NULL, 0);
		else if (!strcmp(o, "--conns"))
			C.conns = atoi(v);
		else if (!strcmp(o, "--parallel"))
			parallel = atoi(v);
		else if (!strcmp(o, "--timeout"))
			C.timeout_s = atoi(v);
		else if (!strcmp(o, "--rate"))
			C.rate = parse_rate(o, v);
		else if (!strcmp(o, "--hold"))
			C.hold_ns = (int64_t)atoi(v) * NSEC;
		else
			die_usage("unknown option '%s'", o);
	}
	if (parallel < 1 || parallel > 4096 || C.conns < 1 || C.timeout_s < 1 || C.hold_ns < 0)
		die_usage("bad --parallel, --conns, --timeout or --hold");
	signal(SIGPIPE, SIG_IGN);
	t = calloc(parallel, sizeof(*t));
	if (!t)
		die("calloc");
	t0 = now_ns();
	C.deadline = t0 + (int64_t)C.timeout_s * NSEC;
	for (i = 0; i < parallel; i++) {
		pthread_attr_t at;

		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, 512 << 10);
		if (pthread_create(&t[i], &at, client_thread, NULL))
			die("pthread_create");
		pthread_attr_destroy(&at);
	}
	for (i = 0; i < parallel; i++)
		pthread_join(t[i], NULL);
	t1 = now_ns();
	secs = (double)(t1 - t0) / NSEC;
	for (i = 0; i < T_MAX; i++)
		printf("%s %" PRIu64 "\n", result_name[i], C.count[i]);
	printf("bytes_down %" PRIu64 "\nbytes_up %" PRIu64 "\nseconds %.3f\nmbps %.3f\n",
	       C.bytes_down, C.bytes_up, secs, (double)(C.bytes_down + C.bytes_up) / 1e6 / secs);
	if (C.conns == 1 && C.t_status) /* where the time went: ms from the start */
		printf("ms_first_byte %.1f\nms_down_done %.1f\nms_status %.1f\n",
		       C.t_first ? (C.t_first - t0) / 1e6 : 0.0, C.t_down ? (C.t_down - t0) / 1e6 : 0.0,
		       (C.t_status - t0) / 1e6);
	free(t);
	if (expect_reset)
		return C.count[T_RESET] + C.count[T_REFUSED] == (uint64_t)C.conns ? 0 : 1;
	return C.count[T_OK] == (uint64_t)C.conns ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--help")) {
		printf("usage: %s server ADDR:PORT [--rate BYTES] | client ADDR:PORT [--down N] [--up N]"
		       " [--conns N] [--parallel P] [--timeout S] [--rate BYTES] [--hold S] [--expect-reset]\n", prog);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "server"))
		return run_server(argc - 2, argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "client"))
		return run_client(argc - 2, argv + 2);
	die_usage("server ADDR:PORT | client ADDR:PORT ...");
}
