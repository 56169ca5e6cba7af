// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpc-sink: the receivers of the benchmark. One socket, bound to a wildcard
 * address, receives the copies sent to every destination address (198.51.100.1..N
 * on one port), in batches (recvmmsg), and counts them; with --echo it sends each
 * datagram back (sendmmsg), from the address it was sent to (IP_PKTINFO), as N
 * separate servers would.
 *
 *   udpc-sink --bind ADDR:PORT --page FILE [--echo] [--poll-us US] [--batch N]
 *             [--rcvbuf BYTES] [--ready FILE] [--duration SEC]
 *
 * --poll-us US: never block on the socket; when it is empty, sleep US microseconds.
 * A blocked receiver must be woken by whoever queues a datagram for it, and on
 * another CPU that wake-up (an inter-processor interrupt, very dear in a VM) is
 * charged to the sender's context: the kernel path's sender, or the relay. A remote
 * receiver would cost neither. Polling takes the receivers' wake-ups out of the
 * comparison, at the price of up to US of added latency: the RTT echo blocks.
 *
 * Running totals go to FILE (struct bench_page in bench.h, shared memory) after
 * every batch; the final ones are also printed as "key value" lines at exit.
 * Ends on SIGTERM/SIGINT or after --duration (default and limit 3600 s).
 */
#include "bench.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>

const char *prog = "udpc-sink";

static volatile sig_atomic_t stop;

static void on_signal(int sig) { stop = sig; }

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s --bind ADDR:PORT --page FILE [--echo] [--poll-us US] [--batch N]\n"
		"                 [--rcvbuf BYTES] [--ready FILE] [--duration SEC]\n",
		prog);
}

static struct bench_page *page_create(const char *path)
{
	struct bench_page *pg;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die("cannot create %s", path);
	if (ftruncate(fd, sizeof(*pg)))
		die("cannot size %s", path);
	pg = mmap(NULL, sizeof(*pg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pg == MAP_FAILED)
		die("cannot map %s", path);
	close(fd);
	pg->pid = (uint32_t)getpid();
	__atomic_store_n(&pg->magic, PAGE_MAGIC, __ATOMIC_RELEASE);
	return pg;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "page", required_argument, NULL, 'p' },
		{ "echo", no_argument, NULL, 'e' },
		{ "poll-us", required_argument, NULL, 'P' },
		{ "batch", required_argument, NULL, 'n' },
		{ "rcvbuf", required_argument, NULL, 'r' },
		{ "ready", required_argument, NULL, 'R' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *page_path = NULL, *ready = NULL;
	struct sockaddr_in bind_sa = {}, *from;
	struct mmsghdr *in, *out;
	struct iovec *iov, *oiov;
	struct bench_page *pg;
	struct timeval tv = { .tv_usec = 200000 };
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t received = 0, bytes = 0, replied = 0, reply_errors = 0, per_dst[256] = {};
	int64_t end;
	double duration = MAX_SECONDS;
	int batch = 64, rcvbuf = 64 << 20, echo = 0, poll_us = 0, have_bind = 0, one = 1, fd, c;
	uint8_t *bufs, *dsts, (*ctl)[64], (*octl)[64];

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bind_sa = parse_addr("--bind", optarg); have_bind = 1; break;
		case 'p': page_path = optarg; break;
		case 'e': echo = 1; break;
		case 'P': poll_us = (int)parse_u64("--poll-us", optarg, 0, 100000); break;
		case 'n': batch = (int)parse_u64("--batch", optarg, 1, MAX_BATCH); break;
		case 'r': rcvbuf = (int)parse_u64("--rcvbuf", optarg, 4096, 1 << 30); break;
		case 'R': ready = optarg; break;
		case 'd': duration = parse_double("--duration", optarg, 0.001, MAX_SECONDS); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !have_bind || !page_path)
		die_usage("--bind and --page are required");

	timer_slack_min();
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pg = page_create(page_path);

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf) || set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, 16 << 20))
		die("cannot size the socket buffers");
	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		die("setsockopt");
	if (bind(fd, (struct sockaddr *)&bind_sa, sizeof(bind_sa)))
		die("cannot bind");

	in = calloc((size_t)batch, sizeof(*in));
	out = calloc((size_t)batch, sizeof(*out));
	iov = calloc((size_t)batch, sizeof(*iov));
	oiov = calloc((size_t)batch, sizeof(*oiov));
	from = calloc((size_t)batch, sizeof(*from));
	ctl = calloc((size_t)batch, sizeof(*ctl));
	octl = calloc((size_t)batch, sizeof(*octl));
	bufs = malloc((size_t)batch * 2048);
	dsts = malloc((size_t)batch);
	if (!in || !out || !iov || !oiov || !from || !ctl || !octl || !bufs || !dsts)
		die("out of memory");

	if (ready) {
		int rfd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (rfd >= 0)
			close(rfd);
	}

	end = now_ns() + (int64_t)(duration * 1e9);
	while (!stop && now_ns() < end) {
		int n, k = 0, nd = 0;

		for (int i = 0; i < batch; i++) {
			iov[i] = (struct iovec){ bufs + (size_t)i * 2048, 2048 };
			in[i].msg_hdr = (struct msghdr){
				.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
				.msg_iov = &iov[i], .msg_iovlen = 1,
				.msg_control = ctl[i], .msg_controllen = sizeof(ctl[i]),
			};
		}
		n = recvmmsg(fd, in, (unsigned)batch, poll_us ? MSG_DONTWAIT : MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EAGAIN && poll_us)
				sleep_until(now_ns() + poll_us * 1000LL);
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("recvmmsg");
		}
		for (int i = 0; i < n; i++) {
			struct cmsghdr *cm;
			struct in_pktinfo *pi = NULL;

			received++;
			bytes += in[i].msg_len;
			for (cm = CMSG_FIRSTHDR(&in[i].msg_hdr); cm; cm = CMSG_NXTHDR(&in[i].msg_hdr, cm))
				if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO)
					pi = (struct in_pktinfo *)CMSG_DATA(cm);
			if (pi) {
				unsigned d = ntohl(pi->ipi_addr.s_addr) & 0xff;

				if (!per_dst[d]++ || !nd || dsts[nd - 1] != d)
					dsts[nd++] = (uint8_t)d;
			}
			if (!echo || !pi)
				continue;
			/* Reply from the address the datagram was sent to. */
			oiov[k] = (struct iovec){ iov[i].iov_base, in[i].msg_len };
			memset(octl[k], 0, sizeof(octl[k]));
			out[k].msg_hdr = (struct msghdr){
				.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
				.msg_iov = &oiov[k], .msg_iovlen = 1,
				.msg_control = octl[k], .msg_controllen = CMSG_SPACE(sizeof(*pi)),
			};
			cm = CMSG_FIRSTHDR(&out[k].msg_hdr);
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(*pi));
			((struct in_pktinfo *)CMSG_DATA(cm))->ipi_spec_dst = pi->ipi_addr;
			k++;
		}
		for (int done = 0; done < k;) {
			int s = sendmmsg(fd, out + done, (unsigned)(k - done), 0);

			if (s <= 0) {
				if (s < 0 && errno == EINTR)
					continue;
				reply_errors++; /* skip the one that failed */
				done++;
				continue;
			}
			replied += (uint64_t)s;
			done += s;
		}
		PAGE_STORE(pg->received, received);
		PAGE_STORE(pg->bytes, bytes);
		PAGE_STORE(pg->replied, replied);
		PAGE_STORE(pg->reply_errors, reply_errors);
		for (int i = 0; i < nd; i++)
			PAGE_STORE(pg->per_dst[dsts[i]], per_dst[dsts[i]]);
	}

	printf("received %" PRIu64 "\nbytes %" PRIu64 "\nreplied %" PRIu64 "\nreply_errors %" PRIu64 "\n",
	       received, bytes, replied, reply_errors);
	for (int d = 0; d < 256; d++)
		if (per_dst[d])
			printf("to_addr_byte %d %" PRIu64 "\n", d, per_dst[d]);
	return 0;
}
