// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpc-peer: the two ends of the end-to-end tests.
 *
 *   udpc-peer send --to ADDR:PORT [--from ADDR:PORT] --count N [--rate PPS]
 *                  [--size BYTES] [--wait-replies SEC] [--expect-repliers K]
 *                  [--run-id HEX] [--gso N]
 *   udpc-peer echo --bind ADDR:PORT [--id ID] [--duration SEC] [--until-idle SEC]
 *                  [--no-reply | --reply-once] [--out FILE] [--ready FILE]
 *
 * The sender uses a *connected* socket, as real clients do: the kernel then only
 * accepts replies whose source is exactly the address it sent to, which is what the
 * ingress rewrite must restore. --gso N hands the kernel N datagrams at a time in
 * one UDP_SEGMENT message (a GSO super-packet, as QUIC stacks send), each still
 * its own datagram on the wire.
 *
 * Payload (every datagram the sender sends, big-endian fields):
 *   [0,8)   sequence number, 0 .. N-1
 *   [8,10)  "UC"
 *   [10,12) total payload length (so truncation and padding are caught)
 *   [12,16) run id (random per send run unless --run-id)
 *   [16,..) filler: a pure function of (run id, seq, offset)
 * A reply is the payload as received followed by a 16-byte trailer: the replier's
 * ID, NUL-padded. The echo replies only to intact payloads, and from the address
 * the datagram was sent to (IP_PKTINFO), even when bound to a wildcard.
 *
 * Output is "key value" lines, for grep/awk. send prints, in this order:
 *   run_id HEX, sent N, send_errors E, recv_errors E (ICMP errors on the socket),
 *   replies_total R (intact replies to this run), replies_from ID COUNT (one line
 *   per replier), replies_unique_from ID U, replies_unique_seq U (seqs answered
 *   at least once), replies_dup D, replies_corrupt C, replies_foreign F (intact
 *   but another run's), repliers K.
 * It stops waiting early once every seq has a reply from --expect-repliers IDs.
 * echo prints (stdout, or FILE written atomically at exit and on SIGUSR1):
 *   received N, unique U, corrupt C, dup D (received = U + C + D; uniqueness is
 *   per run id and seq), from ADDR:PORT (last sender, "-" if none), replied R,
 *   reply_errors E, bytes B, runs K, id ID, and for the sequence numbers of the
 *   runs it still tracks: reordered O (first arrivals after a higher seq),
 *   lost_seqs M (seqs never received below the highest one received), loss_bursts G
 *   (runs of consecutive lost seqs) and loss_burst_max L (the longest).
 * echo ends on SIGTERM/SIGINT, after --duration, after --until-idle seconds
 * without a datagram (once one came), and in any case after 3600 s; 0 = unset.
 * Exit status: 0, 1 on a socket error, 2 on a usage error.
 */
#define _GNU_SOURCE /* ppoll, in6_pktinfo */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define MAX_COUNT 10000000ULL	/* datagrams per send run, and highest tracked seq */
#define MAX_SECONDS 3600.0	/* any duration, and the hard bound on any run */
#define MAX_RATE 10000000ULL
#define HDR_LEN 16
#define ID_LEN 16		/* reply trailer */
#define MIN_SIZE HDR_LEN
#define MAX_SIZE 65000		/* + ID_LEN still fits an IPv4 UDP datagram */
#define MAX_REPLIERS 64
#define MAX_RUNS 32		/* distinct senders an echo tells apart at once */
#define RCVBUF (16 << 20)
#define DRAIN_BATCH 4096	/* datagrams read per wakeup before rechecking the clock */

const char *prog = "udpc-peer";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s send --to ADDR:PORT [--from ADDR:PORT] --count N [--rate PPS]\n"
		"                 [--size BYTES] [--wait-replies SEC] [--expect-repliers K]\n"
		"                 [--run-id HEX] [--gso N]\n"
		"       %s echo --bind ADDR:PORT [--id ID] [--duration SEC] [--until-idle SEC]\n"
		"                 [--no-reply | --reply-once] [--out FILE] [--ready FILE]\n"
		"IPv6 addresses go in brackets: [2001:db8::1]:9000. Limits: count <= %llu,\n"
		"rate <= %llu (0 = unpaced), size %d..%d, every duration <= %.0f s.\n",
		prog, prog, MAX_COUNT, MAX_RATE, MIN_SIZE, MAX_SIZE, MAX_SECONDS);
}

static struct timespec ns_to_ts(int64_t ns)
{
	struct timespec ts;

	if (ns < 0)
		ns = 0;
	ts.tv_sec = ns / NSEC;
	ts.tv_nsec = ns % NSEC;
	return ts;
}

/* ---- argument parsing ---- */

/* Seconds, fractions allowed, to nanoseconds. */
static int64_t parse_seconds(const char *opt, const char *s)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.0 && v <= MAX_SECONDS))
		die_usage("%s: '%s' is not a number of seconds in 0..%.0f", opt, s, MAX_SECONDS);
	return (int64_t)(v * 1e9);
}

/* "A.B.C.D:PORT" or "[V6]:PORT", numeric only. */
static void parse_addr(const char *opt, const char *s, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *port, *colon;
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_DGRAM,
	};
	struct addrinfo *ai;
	size_t hlen;
	int err;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			die_usage("%s: '%s' is not [ADDR]:PORT", opt, s);
		hlen = (size_t)(close - s - 1);
		port = close + 2;
		hints.ai_family = AF_INET6;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			die_usage("%s: '%s' is not ADDR:PORT (IPv6 goes in brackets)", opt, s);
		hlen = (size_t)(colon - s);
		port = colon + 1;
		hints.ai_family = AF_INET;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		die_usage("%s: bad address in '%s'", opt, s);
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	parse_u64(opt, port, 0, 65535);
	err = getaddrinfo(host, port, &hints, &ai);
	if (err)
		die_usage("%s: '%s': %s", opt, host, gai_strerror(err));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
}

static void fmt_addr(const struct sockaddr_storage *ss, socklen_t len, char *out,
		     size_t outlen)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), serv,
			sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(out, outlen, "?");
		return;
	}
	snprintf(out, outlen, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

/* An ID is printed as one field: printable, no blanks. */
static bool id_valid(const char *id, size_t len)
{
	if (len == 0 || len > ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (id[i] < 0x21 || id[i] > 0x7e)
			return false;
	return true;
}

/* ---- payload ---- */

static uint64_t mix64(uint64_t x)
{
	/* splitmix64 finaliser: cheap, and every input bit affects every output bit */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static uint8_t filler_byte(uint64_t seed, size_t off, uint64_t *block, size_t *blockno)
{
	size_t k = (off - HDR_LEN) / 8;

	if (k != *blockno) {
		*block = mix64(seed + k * 0x9e3779b97f4a7c15ULL);
		*blockno = k;
	}
	return (uint8_t)(*block >> (8 * ((off - HDR_LEN) % 8)));
}

static uint64_t filler_seed(uint64_t seq, uint32_t run)
{
	return mix64(seq ^ ((uint64_t)run << 32));
}

static void payload_fill(uint8_t *p, size_t len, uint64_t seq, uint32_t run)
{
	uint64_t seed = filler_seed(seq, run), block = 0;
	size_t blockno = SIZE_MAX;

	put_be(p, seq, 8);
	p[8] = 'U';
	p[9] = 'C';
	put_be(p + 10, len, 2);
	put_be(p + 12, run, 4);
	for (size_t off = HDR_LEN; off < len; off++)
		p[off] = filler_byte(seed, off, &block, &blockno);
}

/* True if p[0..len) is an intact payload; its seq and run id are returned. */
static bool payload_check(const uint8_t *p, size_t len, uint64_t *seq, uint32_t *run)
{
	uint64_t seed, block = 0;
	size_t blockno = SIZE_MAX;

	if (len < HDR_LEN || p[8] != 'U' || p[9] != 'C' || get_be(p + 10, 2) != len)
		return false;
	*seq = get_be(p, 8);
	*run = (uint32_t)get_be(p + 12, 4);
	seed = filler_seed(*seq, *run);
	for (size_t off = HDR_LEN; off < len; off++)
		if (p[off] != filler_byte(seed, off, &block, &blockno))
			return false;
	return true;
}

/* ---- sequence bitmaps ---- */

struct bitmap {
	uint8_t *bits;
	size_t nbytes;
};

/* Marks bit n; returns 1 if it was already set, 0 if not, -1 on allocation failure. */
static int bitmap_test_set(struct bitmap *b, uint64_t n)
{
	size_t byte = n / 8;
	uint8_t mask = (uint8_t)(1u << (n % 8));
	int was;

	if (byte >= b->nbytes) {
		size_t want = b->nbytes ? b->nbytes : 1024;
		uint8_t *nb;

		while (want <= byte)
			want *= 2;
		if (want > MAX_COUNT / 8 + 1)
			want = MAX_COUNT / 8 + 1;
		nb = realloc(b->bits, want);
		if (!nb)
			return -1;
		memset(nb + b->nbytes, 0, want - b->nbytes);
		b->bits = nb;
		b->nbytes = want;
	}
	was = !!(b->bits[byte] & mask);
	b->bits[byte] |= mask;
	return was;
}

static void bitmap_free(struct bitmap *b)
{
	free(b->bits);
	b->bits = NULL;
	b->nbytes = 0;
}

/* ---- common socket setup ---- */

static volatile sig_atomic_t sig_stop, sig_dump;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		sig_dump = 1;
	else
		sig_stop = 1;
}

/* Signals are blocked except inside ppoll(), so none is lost between checks. */
static void signals_setup(sigset_t *unblocked)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART */
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, unblocked);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* A shell without job control starts background jobs with SIGINT ignored. */
	sigdelset(unblocked, SIGINT);
	sigdelset(unblocked, SIGTERM);
	sigdelset(unblocked, SIGUSR1);
}

static int udp_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = RCVBUF;

	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return -1;
	}
	/* Replies arrive K times faster than we send; the default buffer holds ~250. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return fd;
}

/* Errors a UDP socket reports for the network's sake (ICMP, local drops): counted. */
static bool transient_error(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENONET:
	case ENOBUFS:
	case EPERM: /* a netfilter drop on output */
	case EMSGSIZE:
	case EPROTO:
		return true;
	default:
		return false;
	}
}

/* ---- send ---- */

struct replier {
	char id[ID_LEN + 1];
	uint64_t count;
	uint64_t unique;
	struct bitmap seen;
};

struct sender {
	int fd;
	uint64_t count;
	size_t size;
	uint32_t run;
	uint64_t sent, send_errors, recv_errors;
	uint64_t replies_total, replies_corrupt, replies_foreign, replies_overflow;
	uint64_t replies_dup, unique_seq, pairs;
	struct bitmap seen;
	struct replier repliers[MAX_REPLIERS];
	int nrepliers;
};

static struct replier *replier_get(struct sender *s, const char *id)
{
	struct replier *r;

	for (int i = 0; i < s->nrepliers; i++)
		if (!strcmp(s->repliers[i].id, id))
			return &s->repliers[i];
	if (s->nrepliers == MAX_REPLIERS)
		return NULL;
	r = &s->repliers[s->nrepliers++];
	snprintf(r->id, sizeof(r->id), "%s", id);
	return r;
}

static void sender_take_reply(struct sender *s, const uint8_t *buf, size_t n)
{
	char id[ID_LEN + 1];
	struct replier *r;
	uint64_t seq;
	uint32_t run;
	size_t idlen;
	int was;

	if (n < HDR_LEN + ID_LEN || n > MAX_SIZE + ID_LEN ||
	    !payload_check(buf, n - ID_LEN, &seq, &run)) {
		s->replies_corrupt++;
		return;
	}
	if (run != s->run) {
		s->replies_foreign++; /* intact, but an earlier run's */
		return;
	}
	memcpy(id, buf + n - ID_LEN, ID_LEN);
	id[ID_LEN] = '\0';
	idlen = strlen(id);
	for (size_t i = idlen; i < ID_LEN; i++)
		if (buf[n - ID_LEN + i]) {
			idlen = 0; /* junk after the NUL */
			break;
		}
	if (n - ID_LEN != s->size || seq >= s->count || !id_valid(id, idlen)) {
		s->replies_corrupt++;
		return;
	}
	r = replier_get(s, id);
	if (!r) {
		s->replies_overflow++;
		return;
	}
	s->replies_total++;
	r->count++;
	was = bitmap_test_set(&r->seen, seq);
	if (was == 0) {
		r->unique++;
		s->pairs++;
	} else {
		s->replies_dup++;
	}
	if (bitmap_test_set(&s->seen, seq) == 0)
		s->unique_seq++;
}

/* Reads what is queued, without blocking. Returns -1 on a fatal socket error. */
static int sender_drain(struct sender *s, uint8_t *buf, size_t buflen)
{
	for (int i = 0; i < DRAIN_BATCH; i++) {
		ssize_t n = recv(s->fd, buf, buflen, MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			if (transient_error(errno)) {
				s->recv_errors++;
				continue;
			}
			fprintf(stderr, "%s: recv: %s\n", prog, strerror(errno));
			return -1;
		}
		if ((size_t)n > buflen) {
			s->replies_corrupt++;
			continue;
		}
		sender_take_reply(s, buf, (size_t)n);
	}
	return 0;
}

/* Waits for a reply until deadline (monotonic ns). -1: fatal error. */
static int sender_wait(struct sender *s, int64_t deadline, const sigset_t *unblocked,
		       uint8_t *buf, size_t buflen)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	struct timespec ts = ns_to_ts(deadline - now_ns());
	int r = ppoll(&pfd, 1, &ts, unblocked);

	if (r < 0 && errno != EINTR) {
		fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
		return -1;
	}
	if (r > 0)
		return sender_drain(s, buf, buflen);
	return 0;
}

/* n datagrams of size bytes each at buf: one send, or one UDP_SEGMENT message. */
static ssize_t send_segments(int fd, const uint8_t *buf, size_t size, uint64_t n)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(uint16_t))];
	} ctl = {};
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = size * n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint16_t seg = (uint16_t)size;

	if (n == 1)
		return send(fd, buf, size, 0);
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	ctl.h.cmsg_level = SOL_UDP;
	ctl.h.cmsg_type = UDP_SEGMENT;
	ctl.h.cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(&ctl.h), &seg, sizeof(seg));
	return sendmsg(fd, &mh, 0);
}

static int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "wait-replies", required_argument, NULL, 'w' },
		{ "expect-repliers", required_argument, NULL, 'k' },
		{ "run-id", required_argument, NULL, 'i' },
		{ "gso", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct sockaddr_storage to, from;
	uint64_t gso = 1;
	socklen_t to_len = 0, from_len = 0;
	uint64_t rate = 1000, expect = 0;
	int64_t wait = 2 * NSEC, start, deadline, hard_end;
	struct sender *s;
	sigset_t unblocked;
	uint8_t *out, *in;
	size_t inlen = 65536;
	bool have_run = false;
	int ret = EXIT_FAILURE, c;

	s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return EXIT_FAILURE;
	}
	s->fd = -1;
	s->size = 64;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			parse_addr("--to", optarg, &to, &to_len);
			break;
		case 'f':
			parse_addr("--from", optarg, &from, &from_len);
			break;
		case 'c':
			s->count = parse_u64("--count", optarg, 1, MAX_COUNT);
			break;
		case 'r':
			rate = parse_u64("--rate", optarg, 0, MAX_RATE);
			break;
		case 's':
			s->size = parse_u64("--size", optarg, MIN_SIZE, MAX_SIZE);
			break;
		case 'w':
			wait = parse_seconds("--wait-replies", optarg);
			break;
		case 'k':
			expect = parse_u64("--expect-repliers", optarg, 1, MAX_REPLIERS);
			break;
		case 'g':
			gso = parse_u64("--gso", optarg, 1, 64);
			break;
		case 'i': {
			char *end;

			errno = 0;
			unsigned long v = strtoul(optarg, &end, 16);

			if (errno || end == optarg || *end || v > UINT32_MAX)
				die_usage("--run-id: '%s' is not a 32-bit hex number", optarg);
			s->run = (uint32_t)v;
			have_run = true;
			break;
		}
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			die_usage("send: bad option");
		}
	}
	if (optind != argc)
		die_usage("send: unexpected argument '%s'", argv[optind]);
	if (!to_len)
		die_usage("send: --to is required");
	if (!s->count)
		die_usage("send: --count is required");
	if (from_len && from.ss_family != to.ss_family)
		die_usage("send: --from and --to are of different address families");
	if (rate && (double)s->count / (double)rate > MAX_SECONDS)
		die_usage("send: --count/--rate would take longer than %.0f s", MAX_SECONDS);
	if (!have_run && getrandom(&s->run, sizeof(s->run), 0) != sizeof(s->run))
		s->run = (uint32_t)(now_ns() ^ getpid());

	if (gso > 1 && gso * s->size > MAX_SIZE)
		die_usage("send: --gso %" PRIu64 " x --size %zu is more than a datagram can carry",
			  gso, s->size);
	out = malloc(gso * s->size);
	in = malloc(inlen);
	if (!out || !in) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto cleanup;
	}
	signals_setup(&unblocked);
	s->fd = udp_socket(to.ss_family);
	if (s->fd < 0)
		goto cleanup;
	if (from_len && bind(s->fd, (struct sockaddr *)&from, from_len)) {
		fprintf(stderr, "%s: bind: %s\n", prog, strerror(errno));
		goto cleanup;
	}
	if (connect(s->fd, (struct sockaddr *)&to, to_len)) {
		fprintf(stderr, "%s: connect: %s\n", prog, strerror(errno));
		goto cleanup;
	}

	start = now_ns();
	hard_end = start + (int64_t)(2 * MAX_SECONDS) * NSEC;
	for (uint64_t seq = 0; seq < s->count && !sig_stop;) {
		int64_t t = now_ns();

		if (t > hard_end)
			break;
		if (rate) {
			int64_t due = start + (int64_t)(seq * (uint64_t)NSEC / rate);

			if (t < due) {
				if (sender_wait(s, due, &unblocked, in, inlen))
					goto cleanup;
				continue;
			}
		}
		uint64_t k, n = gso < s->count - seq ? gso : s->count - seq;

		for (k = 0; k < n; k++)
			payload_fill(out + k * s->size, s->size, seq + k, s->run);
		if (send_segments(s->fd, out, s->size, n) < 0) {
			if (errno == EINTR)
				continue;
			if (!transient_error(errno)) {
				fprintf(stderr, "%s: send: %s\n", prog, strerror(errno));
				goto cleanup;
			}
			s->send_errors += n; /* the seqs are spent: the receiver sees a gap */
		} else {
			s->sent += n;
		}
		seq += n;
		if (sender_drain(s, in, inlen))
			goto cleanup;
	}

	deadline = now_ns() + wait;
	while (!sig_stop && now_ns() < deadline) {
		if (expect && s->pairs >= s->count * expect)
			break;
		if (sender_wait(s, deadline, &unblocked, in, inlen))
			goto cleanup;
	}
	ret = EXIT_SUCCESS;

cleanup:
	printf("run_id %08" PRIx32 "\n", s->run);
	printf("sent %" PRIu64 "\n", s->sent);
	printf("send_errors %" PRIu64 "\n", s->send_errors);
	printf("recv_errors %" PRIu64 "\n", s->recv_errors);
	printf("replies_total %" PRIu64 "\n", s->replies_total);
	for (int i = 0; i < s->nrepliers; i++)
		printf("replies_from %s %" PRIu64 "\n", s->repliers[i].id, s->repliers[i].count);
	for (int i = 0; i < s->nrepliers; i++)
		printf("replies_unique_from %s %" PRIu64 "\n", s->repliers[i].id,
		       s->repliers[i].unique);
	printf("replies_unique_seq %" PRIu64 "\n", s->unique_seq);
	printf("replies_dup %" PRIu64 "\n", s->replies_dup);
	printf("replies_corrupt %" PRIu64 "\n", s->replies_corrupt);
	printf("replies_foreign %" PRIu64 "\n", s->replies_foreign + s->replies_overflow);
	printf("repliers %d\n", s->nrepliers);
	fflush(stdout);
	for (int i = 0; i < s->nrepliers; i++)
		bitmap_free(&s->repliers[i].seen);
	bitmap_free(&s->seen);
	if (s->fd >= 0)
		close(s->fd);
	free(out);
	free(in);
	free(s);
	return ret;
}

/* ---- echo ---- */

struct run {
	uint32_t id;
	bool used;
	uint64_t last_use;
	uint64_t hi;		/* highest seq received + 1 */
	struct bitmap seen;
};

/* Losses as the sequence numbers show them: what the WAN lab's burst tests read. */
struct gaps {
	uint64_t lost, bursts, longest;
};

static void gaps_add(const struct run *r, struct gaps *g)
{
	uint64_t cur = 0;

	for (uint64_t n = 0; n < r->hi; n++) {
		bool got = n / 8 < r->seen.nbytes && (r->seen.bits[n / 8] & (1u << (n % 8)));

		if (got) {
			cur = 0;
			continue;
		}
		g->lost++;
		if (!cur++)
			g->bursts++;
		if (cur > g->longest)
			g->longest = cur;
	}
}

struct echo {
	char id[ID_LEN + 1];
	uint64_t received, unique, corrupt, dup, replied, reply_errors, bytes, reordered;
	uint64_t tick;
	bool reply_once;	/* --reply-once */
	struct sockaddr_storage last;
	socklen_t last_len;
	struct run runs[MAX_RUNS];
	unsigned nruns_seen;
};

static struct run *run_get(struct echo *e, uint32_t id)
{
	struct run *victim = &e->runs[0];

	for (int i = 0; i < MAX_RUNS; i++) {
		struct run *r = &e->runs[i];

		if (r->used && r->id == id) {
			r->last_use = ++e->tick;
			return r;
		}
		if (!r->used || (victim->used && r->last_use < victim->last_use))
			victim = r;
	}
	/* A new sender run; past MAX_RUNS the least recently heard one is forgotten. */
	bitmap_free(&victim->seen);
	victim->used = true;
	victim->hi = 0;
	victim->id = id;
	victim->last_use = ++e->tick;
	e->nruns_seen++;
	return victim;
}

static int echo_format(const struct echo *e, char *buf, size_t len)
{
	char from[NI_MAXHOST + NI_MAXSERV + 4] = "-";
	struct gaps g = { 0 };

	if (e->last_len)
		fmt_addr(&e->last, e->last_len, from, sizeof(from));
	for (int i = 0; i < MAX_RUNS; i++)
		if (e->runs[i].used)
			gaps_add(&e->runs[i], &g);
	return snprintf(buf, len,
			"received %" PRIu64 "\nunique %" PRIu64 "\ncorrupt %" PRIu64
			"\ndup %" PRIu64 "\nfrom %s\nreplied %" PRIu64
			"\nreply_errors %" PRIu64 "\nbytes %" PRIu64 "\nruns %u\nid %s\n"
			"reordered %" PRIu64 "\nlost_seqs %" PRIu64 "\nloss_bursts %" PRIu64
			"\nloss_burst_max %" PRIu64 "\n",
			e->received, e->unique, e->corrupt, e->dup, from, e->replied,
			e->reply_errors, e->bytes, e->nruns_seen, e->id, e->reordered, g.lost,
			g.bursts, g.longest);
}

/* Write-then-rename: a reader sees the old file or the whole new one. */
static int write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[4096];
	ssize_t n;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n != (ssize_t)len || close(fd)) {
		int err = n < 0 ? -errno : -EIO;

		unlink(tmp);
		return err;
	}
	if (rename(tmp, path)) {
		int err = -errno;

		unlink(tmp);
		return err;
	}
	return 0;
}

static int echo_report(const struct echo *e, const char *out)
{
	char buf[1024];
	int n = echo_format(e, buf, sizeof(buf)), err;

	if (!out) {
		fputs(buf, stdout);
		fflush(stdout);
		return 0;
	}
	err = write_atomic(out, buf, (size_t)n);
	if (err)
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, out, strerror(-err));
	return err;
}

/*
 * The local address a datagram was sent to. Replies leave from it, as a server
 * bound to one address would: on a wildcard bind the kernel would otherwise pick
 * the source by route, and a connected client drops a reply from any other address.
 */
struct local_addr {
	int family; /* 0: unknown, let the kernel choose */
	struct in_pktinfo v4;
	struct in6_pktinfo v6;
};

union cmsg_buf {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct cmsghdr align;
};

static void pktinfo_enable(int fd, int family)
{
	int one = 1;

	if (family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
}

static void local_addr_parse(struct msghdr *mh, struct local_addr *la)
{
	la->family = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			if (IN_MULTICAST(ntohl(pi.ipi_addr.s_addr)) ||
			    pi.ipi_addr.s_addr == INADDR_BROADCAST)
				continue;
			memset(&la->v4, 0, sizeof(la->v4));
			la->v4.ipi_spec_dst = pi.ipi_addr;
			la->family = AF_INET;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			memcpy(&la->v6, CMSG_DATA(c), sizeof(la->v6));
			if (IN6_IS_ADDR_MULTICAST(&la->v6.ipi6_addr))
				continue;
			if (!IN6_IS_ADDR_LINKLOCAL(&la->v6.ipi6_addr))
				la->v6.ipi6_ifindex = 0; /* leave by the route, not the way in */
			la->family = AF_INET6;
		}
	}
}

static ssize_t reply_send(int fd, const void *buf, size_t len,
			  const struct sockaddr_storage *to, socklen_t tolen,
			  const struct local_addr *la)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = {
		.msg_name = (void *)to,
		.msg_namelen = tolen,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	union cmsg_buf cb;
	struct cmsghdr *c;

	if (la->family) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = la->family == AF_INET ? CMSG_SPACE(sizeof(la->v4))
							  : CMSG_SPACE(sizeof(la->v6));
		c = CMSG_FIRSTHDR(&mh);
		if (la->family == AF_INET) {
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(la->v4));
			memcpy(CMSG_DATA(c), &la->v4, sizeof(la->v4));
		} else {
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(la->v6));
			memcpy(CMSG_DATA(c), &la->v6, sizeof(la->v6));
		}
	}
	return sendmsg(fd, &mh, 0);
}

static void echo_take(struct echo *e, int fd, uint8_t *buf, size_t n, size_t buflen,
		      bool reply, const struct sockaddr_storage *from, socklen_t fromlen,
		      const struct local_addr *la)
{
	uint64_t seq;
	uint32_t run;
	struct run *r;
	int was;

	e->received++;
	e->bytes += n;
	memcpy(&e->last, from, fromlen);
	e->last_len = fromlen;
	if (n > MAX_SIZE || !payload_check(buf, n, &seq, &run) || seq >= MAX_COUNT) {
		e->corrupt++;
		return;
	}
	r = run_get(e, run);
	was = bitmap_test_set(&r->seen, seq);
	if (was > 0)
		e->dup++;
	else
		e->unique++; /* (an allocation failure counts as unique: never a false dup) */
	if (was <= 0 && seq + 1 < r->hi)
		e->reordered++;
	if (seq + 1 > r->hi)
		r->hi = seq + 1;
	/* --reply-once: only the first copy is answered, as a VPN answers a packet once. */
	if (!reply || (e->reply_once && was > 0) || n + ID_LEN > buflen)
		return;
	memset(buf + n, 0, ID_LEN);
	memcpy(buf + n, e->id, strlen(e->id));
	if (reply_send(fd, buf, n + ID_LEN, from, fromlen, la) < 0)
		e->reply_errors++;
	else
		e->replied++;
}

static int cmd_echo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "id", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "until-idle", required_argument, NULL, 'u' },
		{ "no-reply", no_argument, NULL, 'n' },
		{ "reply-once", no_argument, NULL, '1' },
		{ "out", required_argument, NULL, 'o' },
		{ "ready", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct sockaddr_storage bind_addr;
	socklen_t bind_len = 0;
	int64_t duration = 0, idle = 0, start, end, last_rx = 0;
	const char *out = NULL, *ready = NULL, *id = NULL;
	bool reply = true, once = false;
	struct echo *e;
	sigset_t unblocked;
	size_t buflen = 65536;
	uint8_t *buf;
	int ret = EXIT_FAILURE, fd = -1, c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			parse_addr("--bind", optarg, &bind_addr, &bind_len);
			break;
		case 'i':
			id = optarg;
			if (!id_valid(id, strlen(id)))
				die_usage("--id: '%s' must be 1..%d printable characters, no blanks",
					  id, ID_LEN);
			break;
		case 'd':
			duration = parse_seconds("--duration", optarg);
			break;
		case 'u':
			idle = parse_seconds("--until-idle", optarg);
			break;
		case 'n':
			reply = false;
			break;
		case '1':
			once = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'R':
			ready = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			die_usage("echo: bad option");
		}
	}
	if (optind != argc)
		die_usage("echo: unexpected argument '%s'", argv[optind]);
	if (!bind_len)
		die_usage("echo: --bind is required");
	if (once && !reply)
		die_usage("echo: --no-reply and --reply-once exclude each other");

	e = calloc(1, sizeof(*e));
	buf = malloc(buflen);
	if (!e || !buf) {
		fprintf(stderr, "%s: out of memory\n", prog);
		free(e);
		free(buf);
		return EXIT_FAILURE;
	}
	e->reply_once = once;
	if (id) {
		snprintf(e->id, sizeof(e->id), "%s", id);
	} else {
		/* Default ID: the bound address, when it fits the trailer. */
		char host[NI_MAXHOST];

		if (getnameinfo((struct sockaddr *)&bind_addr, bind_len, host, sizeof(host), NULL,
				0, NI_NUMERICHOST) ||
		    !id_valid(host, strlen(host)))
			die_usage("echo: the bound address is no valid ID: give --id");
		snprintf(e->id, sizeof(e->id), "%s", host);
	}

	signals_setup(&unblocked);
	fd = udp_socket(bind_addr.ss_family);
	if (fd < 0)
		goto cleanup;
	if (bind(fd, (struct sockaddr *)&bind_addr, bind_len)) {
		char a[NI_MAXHOST + NI_MAXSERV + 4];

		fmt_addr(&bind_addr, bind_len, a, sizeof(a));
		fprintf(stderr, "%s: bind %s: %s\n", prog, a, strerror(errno));
		goto cleanup;
	}
	pktinfo_enable(fd, bind_addr.ss_family);
	if (ready) {
		char a[NI_MAXHOST + NI_MAXSERV + 4];
		int n;

		bind_len = sizeof(bind_addr); /* the port the kernel chose for port 0 */
		getsockname(fd, (struct sockaddr *)&bind_addr, &bind_len);
		fmt_addr(&bind_addr, bind_len, a, sizeof(a));
		n = (int)strlen(a);
		a[n++] = '\n';
		if (write_atomic(ready, a, (size_t)n)) {
			fprintf(stderr, "%s: cannot write %s\n", prog, ready);
			goto cleanup;
		}
	}

	start = now_ns();
	end = start + (duration ? duration : (int64_t)MAX_SECONDS * NSEC);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t t = now_ns(), wake = end;
		struct timespec ts;
		int r;

		if (sig_dump) {
			sig_dump = 0;
			echo_report(e, out);
		}
		if (sig_stop || t >= end)
			break;
		if (idle && e->received) {
			if (t >= last_rx + idle)
				break;
			if (last_rx + idle < wake)
				wake = last_rx + idle;
		}
		ts = ns_to_ts(wake - t);
		r = ppoll(&pfd, 1, &ts, &unblocked);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
			goto cleanup;
		}
		if (r == 0)
			continue;
		for (int i = 0; i < DRAIN_BATCH; i++) {
			struct sockaddr_storage from;
			struct iovec iov = { .iov_base = buf, .iov_len = buflen - ID_LEN };
			union cmsg_buf cb;
			struct msghdr mh = {
				.msg_name = &from,
				.msg_namelen = sizeof(from),
				.msg_iov = &iov,
				.msg_iovlen = 1,
				.msg_control = cb.buf,
				.msg_controllen = sizeof(cb.buf),
			};
			struct local_addr la;
			ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);

			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				if (errno == EINTR || transient_error(errno))
					continue;
				fprintf(stderr, "%s: recv: %s\n", prog, strerror(errno));
				goto cleanup;
			}
			last_rx = now_ns();
			local_addr_parse(&mh, &la);
			/* MSG_TRUNC: n is the real length; a clipped datagram fails the check. */
			echo_take(e, fd, buf, (size_t)n, buflen, reply, &from, mh.msg_namelen, &la);
		}
	}
	ret = EXIT_SUCCESS;

cleanup:
	if (echo_report(e, out))
		ret = EXIT_FAILURE;
	for (int i = 0; i < MAX_RUNS; i++)
		bitmap_free(&e->runs[i].seen);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(e);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die_usage("missing command: send or echo");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	/* Parse the subcommand's options as if it were argv[0]. */
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "echo"))
		return cmd_echo(argc - 1, argv + 1);
	die_usage("unknown command '%s'", argv[1]);
	return EXIT_USAGE;
}
