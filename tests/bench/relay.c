// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpc-relay: the userspace fan-out relay the benchmark compares udpclone-bpf with,
 * built the way a good relay is (the shape of udpclone, paracat or engarde, minus
 * their protocols), on one thread:
 *
 *   - a listen socket receives the client's datagrams in batches (recvmmsg);
 *   - each client (source address and port) gets an upstream socket of its own,
 *     created on its first datagram, so that replies can be told apart;
 *   - every datagram is sent once per destination from that upstream socket, all
 *     copies of consecutive datagrams of one client in one sendmmsg;
 *   - replies arriving on an upstream socket go back to its client from the listen
 *     socket (recvmmsg + sendmmsg), so a connected client socket accepts them;
 *   - large socket buffers (SO_RCVBUFFORCE/SO_SNDBUFFORCE), epoll, no busy polling
 *     (the benchmark runs the relay on the sender's CPU: spinning would take that
 *     CPU from the sender).
 *
 *   udpc-relay --listen ADDR:PORT --destinations A:P[,...] [--connect] [--gso]
 *              [--batch N] [--rcvbuf BYTES] [--max-flows N] [--ready FILE]
 *              [--duration SEC]
 *
 * --connect gives each client one connected upstream socket per destination
 * (no route lookup per datagram, one sendmmsg per destination) instead of one
 * unconnected socket (one sendmmsg carrying every copy).
 * --gso sends each run of a client's consecutive datagrams of one size (the
 * last of a run may be shorter) to a destination as one message with UDP_SEGMENT,
 * up to 64 datagrams or 64 KB: one pass through the stack for the run, which is
 * cut into datagrams on the way (by the device, or in software before it). This
 * is what the fastest userspace UDP senders do (QUIC stacks, wireguard-go); it
 * only pays when consecutive datagrams have the same size. Where the kernel
 * refuses it (a device without checksum offload), the relay falls back to one
 * message per datagram (or for one run only, when its datagrams exceed the MTU).
 *
 * Prints "key value" totals at exit: received, copies_sent, send_errors, replies,
 * reply_errors, flows, flows_refused, gso_sends (UDP_SEGMENT messages sent).
 * Flows never expire (runs are bounded).
 * Ends on SIGTERM/SIGINT or after --duration (default and limit 3600 s).
 */
#include "bench.h"

#include <fcntl.h>
#include <getopt.h>
#include <netinet/udp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>

const char *prog = "udpc-relay";

#define LISTEN_TAG UINT64_MAX
#define BUF_SIZE 2048
#define REPLY_BATCH 64
#define GSO_MAX_SEGS 64		/* the kernel's UDP_MAX_SEGMENTS is at least this */
#define GSO_MAX_BYTES 65000	/* payload of one UDP_SEGMENT message: 64 KiB less headers */

struct flow {
	struct sockaddr_in client;
	int fd[MAX_DESTS];	/* one upstream socket, or one connected socket per destination */
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = sig; }

static struct flow *flows;
static uint32_t *table;	/* open addressing: flow index + 1, 0 = empty */
static uint32_t table_mask, nflows, max_flows;
static struct sockaddr_in dests[MAX_DESTS];
static int ndests, nfds = 1, lfd, efd, sock_bufs = 4 << 20, gso;
/* One control buffer (UDP_SEGMENT) per outgoing message of a batch. */
static union {
	char buf[CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
} *gso_cmsg;
static uint64_t received, copies_sent, send_errors, replies, reply_errors, flows_refused;
static uint64_t gso_sends;	/* messages sent that carried more than one datagram */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s --listen ADDR:PORT --destinations A:P[,...] [--connect] [--gso]\n"
		"                  [--batch N] [--rcvbuf BYTES] [--max-flows N] [--ready FILE]\n"
		"                  [--duration SEC]\n",
		prog);
}

static uint32_t hash_client(const struct sockaddr_in *sa)
{
	uint64_t x = (uint64_t)sa->sin_addr.s_addr << 16 | sa->sin_port;

	x *= 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(x >> 32);
}

static int upstream_socket(uint32_t flow, int d, const struct sockaddr_in *peer)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)flow << 8 | (uint64_t)d };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, sock_bufs);
	set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, sock_bufs);
	if ((peer && connect(fd, (const struct sockaddr *)peer, sizeof(*peer))) ||
	    epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The flow of this client, created (with its upstream sockets) if new; -1 if full. */
static int flow_get(const struct sockaddr_in *client)
{
	uint32_t h = hash_client(client) & table_mask;
	struct flow *f;

	for (;; h = (h + 1) & table_mask) {
		uint32_t i = table[h];

		if (!i)
			break;
		f = &flows[i - 1];
		if (f->client.sin_addr.s_addr == client->sin_addr.s_addr &&
		    f->client.sin_port == client->sin_port)
			return (int)(i - 1);
	}
	if (nflows == max_flows)
		return -1;
	f = &flows[nflows];
	for (int d = 0; d < nfds; d++) {
		f->fd[d] = upstream_socket(nflows, d, nfds > 1 ? &dests[d] : NULL);
		if (f->fd[d] < 0) {
			while (d--)
				close(f->fd[d]);
			return -1;
		}
	}
	f->client = *client;
	table[h] = ++nflows;
	return (int)(nflows - 1);
}

/* A UDP_SEGMENT message the kernel refused: its datagrams go one by one. EIO: the
 * path cannot segment (no checksum offload, xfrm): no more GSO. EMSGSIZE, EINVAL:
 * these datagrams are too large to be segments on this path (alone, IP fragments
 * them). */
static void gso_refused(int fd, const struct msghdr *h, uint64_t *ok, uint64_t *errs)
{
	if (errno == EIO && gso) {
		fprintf(stderr, "%s: UDP_SEGMENT refused (%s): one message per datagram from now on\n",
			prog, strerror(EIO));
		gso = 0;
	}
	for (size_t i = 0; i < h->msg_iovlen; i++) {
		struct msghdr one = { .msg_name = h->msg_name, .msg_namelen = h->msg_namelen,
				      .msg_iov = &h->msg_iov[i], .msg_iovlen = 1 };

		if (sendmsg(fd, &one, 0) < 0)
			(*errs)++;
		else
			(*ok)++;
	}
}

/* sendmmsg all of v[0..n), retrying the rest after a short count; a message that
 * fails is counted and skipped. Blocking socket: a full buffer waits, as a relay
 * that must not drop would. A message carries one datagram per iovec (several
 * with UDP_SEGMENT): ok and errs count datagrams. */
static void send_all(int fd, struct mmsghdr *v, int n, uint64_t *ok, uint64_t *errs)
{
	for (int done = 0; done < n;) {
		int s = sendmmsg(fd, v + done, (unsigned)(n - done), 0);

		if (s < 0 && errno == EINTR)
			continue;
		if (s <= 0) {
			const struct msghdr *h = &v[done].msg_hdr;

			if (h->msg_control && (errno == EIO || errno == EMSGSIZE || errno == EINVAL))
				gso_refused(fd, h, ok, errs);
			else
				*errs += h->msg_iovlen;
			done++;
			continue;
		}
		for (int i = done; i < done + s; i++) {
			*ok += v[i].msg_hdr.msg_iovlen;
			gso_sends += v[i].msg_hdr.msg_iovlen > 1;
		}
		done += s;
	}
}

/* Appends to out[m..] the messages that send the k datagrams of oiov[] to one
 * destination (to = NULL: the socket is connected to it); returns the new count.
 * Without --gso one message per datagram; with it one per run of equal sizes. */
static int copies_to(struct sockaddr_in *to, struct iovec *oiov, int k, struct mmsghdr *out, int m)
{
	for (int i = 0, j; i < k; i = j, m++) {
		size_t seg = oiov[i].iov_len, total = seg;
		struct msghdr *h = &out[m].msg_hdr;
		struct cmsghdr *c;
		uint16_t size = (uint16_t)seg;

		for (j = i + 1; gso && j < k && j - i < GSO_MAX_SEGS && oiov[j].iov_len <= seg &&
				total + oiov[j].iov_len <= GSO_MAX_BYTES;) {
			total += oiov[j].iov_len;
			if (oiov[j++].iov_len < seg)
				break; /* only the last segment may be shorter */
		}
		*h = (struct msghdr){ .msg_name = to, .msg_namelen = to ? sizeof(*to) : 0,
				      .msg_iov = &oiov[i], .msg_iovlen = (size_t)(j - i) };
		if (j - i == 1)
			continue;
		c = &gso_cmsg[m].align;
		h->msg_control = c;
		h->msg_controllen = sizeof(gso_cmsg[m].buf);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(size));
		memcpy(CMSG_DATA(c), &size, sizeof(size));
	}
	return m;
}

/* Sends the k datagrams in[first..first+k) of one flow to every destination. */
static void fan_out(const struct flow *f, struct mmsghdr *in, int first, int k,
		    struct mmsghdr *out, struct iovec *oiov)
{
	int m = 0;

	for (int i = 0; i < k; i++)
		oiov[i] = (struct iovec){ in[first + i].msg_hdr.msg_iov->iov_base, in[first + i].msg_len };
	if (nfds > 1) {
		/* Connected sockets: one sendmmsg per destination, no per-datagram route lookup. */
		for (int d = 0; d < ndests; d++)
			send_all(f->fd[d], out, copies_to(NULL, oiov, k, out, 0), &copies_sent,
				 &send_errors);
		return;
	}
	if (gso) {
		for (int d = 0; d < ndests; d++)
			m = copies_to(&dests[d], oiov, k, out, m);
		send_all(f->fd[0], out, m, &copies_sent, &send_errors);
		return;
	}
	for (int i = 0; i < k; i++)
		for (int d = 0; d < ndests; d++)
			out[m++].msg_hdr = (struct msghdr){ .msg_name = &dests[d],
							    .msg_namelen = sizeof(dests[d]),
							    .msg_iov = &oiov[i], .msg_iovlen = 1 };
	send_all(f->fd[0], out, m, &copies_sent, &send_errors);
}

/* Up to `batch` datagrams from clients, fanned out; consecutive datagrams of one
 * client go out together. Returns how many were read. */
static int relay_batch(int batch, struct mmsghdr *in, struct iovec *iov, struct sockaddr_in *from,
		       uint8_t *bufs, struct mmsghdr *out, struct iovec *oiov)
{
	int n, first = 0, cur = -1;

	for (int i = 0; i < batch; i++) {
		iov[i] = (struct iovec){ bufs + (size_t)i * BUF_SIZE, BUF_SIZE };
		in[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
						 .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	n = recvmmsg(lfd, in, (unsigned)batch, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	received += (uint64_t)n;
	for (int i = 0; i < n; i++) {
		int fl = flow_get(&from[i]);

		if (fl != cur) {
			if (cur >= 0)
				fan_out(&flows[cur], in, first, i - first, out, oiov);
			first = i;
			cur = fl;
		}
		if (fl < 0) {
			flows_refused++;
			first = i + 1;
		}
	}
	if (cur >= 0 && n > first)
		fan_out(&flows[cur], in, first, n - first, out, oiov);
	return n;
}

/* Replies waiting on one flow's upstream socket go back to its client. */
static void relay_replies(struct flow *f, int fd, struct mmsghdr *in, struct iovec *iov,
			  uint8_t *bufs)
{
	for (int round = 0; round < 16; round++) {
		int n;

		for (int i = 0; i < REPLY_BATCH; i++) {
			iov[i] = (struct iovec){ bufs + (size_t)i * BUF_SIZE, BUF_SIZE };
			in[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		n = recvmmsg(fd, in, REPLY_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			iov[i].iov_len = in[i].msg_len;
			in[i].msg_hdr.msg_name = &f->client;
			in[i].msg_hdr.msg_namelen = sizeof(f->client);
		}
		send_all(lfd, in, n, &replies, &reply_errors);
		if (n < REPLY_BATCH)
			return;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "destinations", required_argument, NULL, 'd' },
		{ "batch", required_argument, NULL, 'n' },
		{ "rcvbuf", required_argument, NULL, 'r' },
		{ "max-flows", required_argument, NULL, 'm' },
		{ "connect", no_argument, NULL, 'c' },
		{ "gso", no_argument, NULL, 'g' },
		{ "ready", required_argument, NULL, 'R' },
		{ "duration", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct epoll_event lev = { .events = EPOLLIN, .data.u64 = LISTEN_TAG }, evs[64];
	struct sockaddr_in listen_sa = {}, *from;
	struct mmsghdr *in, *out;
	struct iovec *iov, *oiov;
	struct rlimit rl;
	rlim_t want;
	const char *ready = NULL;
	double duration = MAX_SECONDS;
	int batch = 64, rcvbuf = 64 << 20, have_listen = 0, connected = 0, nin, c;
	uint8_t *bufs;
	uint32_t tsize;
	int64_t end;

	max_flows = 4096;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_sa = parse_addr("--listen", optarg); have_listen = 1; break;
		case 'd': ndests = parse_addr_list("--destinations", optarg, dests, MAX_DESTS); break;
		case 'n': batch = (int)parse_u64("--batch", optarg, 1, MAX_BATCH / MAX_DESTS); break;
		case 'r': rcvbuf = (int)parse_u64("--rcvbuf", optarg, 4096, 1 << 30); break;
		case 'c': connected = 1; break;
		case 'g': gso = 1; break;
		case 'm': max_flows = (uint32_t)parse_u64("--max-flows", optarg, 1, 1 << 20); break;
		case 'R': ready = optarg; break;
		case 'D': duration = parse_double("--duration", optarg, 0.001, MAX_SECONDS); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !have_listen || !ndests)
		die_usage("--listen and --destinations are required");
	if (connected)
		nfds = ndests;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* One upstream socket (or N) per client: many clients need many descriptors.
	 * Without CAP_SYS_RESOURCE the hard limit caps how many clients a relay serves. */
	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit");
	want = (rlim_t)max_flows * (rlim_t)nfds + 64;
	if (rl.rlim_cur < want) {
		struct rlimit r = { want, want > rl.rlim_max ? want : rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &r)) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < (rlim_t)nfds + 64)
				die("cannot allow %llu open files", (unsigned long long)want);
			max_flows = (uint32_t)((rl.rlim_cur - 64) / (rlim_t)nfds);
			fprintf(stderr, "%s: open files limited to %llu: at most %u flows\n", prog,
				(unsigned long long)rl.rlim_cur, max_flows);
		}
	}
	/* Many flows: small upstream buffers (the kernel charges what is queued, not the limit). */
	if (max_flows > 1024)
		sock_bufs = 1 << 20;

	for (tsize = 1024; tsize < 2 * max_flows; tsize *= 2)
		;
	table_mask = tsize - 1;
	table = calloc(tsize, sizeof(*table));
	flows = calloc(max_flows, sizeof(*flows));
	nin = batch > REPLY_BATCH ? batch : REPLY_BATCH; /* in[] and iov[] serve replies too */
	in = calloc((size_t)nin, sizeof(*in));
	iov = calloc((size_t)nin, sizeof(*iov));
	oiov = calloc((size_t)batch, sizeof(*oiov));
	from = calloc((size_t)batch, sizeof(*from));
	out = calloc((size_t)batch * MAX_DESTS, sizeof(*out));
	gso_cmsg = calloc((size_t)batch * MAX_DESTS, sizeof(*gso_cmsg));
	bufs = malloc((size_t)nin * BUF_SIZE);
	if (!table || !flows || !in || !iov || !oiov || !from || !out || !gso_cmsg || !bufs)
		die("out of memory");

	efd = epoll_create1(EPOLL_CLOEXEC);
	lfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (efd < 0 || lfd < 0)
		die("socket");
	if (set_buf(lfd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf) ||
	    set_buf(lfd, SO_SNDBUFFORCE, SO_SNDBUF, sock_bufs))
		die("cannot size the listen socket's buffers");
	if (bind(lfd, (struct sockaddr *)&listen_sa, sizeof(listen_sa)))
		die("cannot bind the listen socket");
	if (epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &lev))
		die("epoll_ctl");
	if (ready) {
		int rfd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (rfd >= 0)
			close(rfd);
	}

	end = now_ns() + (int64_t)(duration * 1e9);
	while (!stop && now_ns() < end) {
		int n = epoll_wait(efd, evs, 64, 200);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == LISTEN_TAG) {
				/* Drain, but come back to epoll now and then for replies. */
				for (int round = 0; round < 64; round++)
					if (relay_batch(batch, in, iov, from, bufs, out, oiov) < batch)
						break;
			} else {
				struct flow *f = &flows[evs[i].data.u64 >> 8];

				relay_replies(f, f->fd[evs[i].data.u64 & 0xff], in, iov, bufs);
			}
		}
	}

	printf("received %" PRIu64 "\ncopies_sent %" PRIu64 "\nsend_errors %" PRIu64
	       "\nreplies %" PRIu64 "\nreply_errors %" PRIu64 "\nflows %u\nflows_refused %" PRIu64
	       "\ngso_sends %" PRIu64 "\n",
	       received, copies_sent, send_errors, replies, reply_errors, nflows, flows_refused,
	       gso_sends);
	return 0;
}
