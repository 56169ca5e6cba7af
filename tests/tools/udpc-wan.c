// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpc-tunpair: a raw-IP point-to-point link between two network namespaces, for
 * tests: a tun device in each, and this process carrying packets between them, as
 * a modem's wwan/ppp link would (no link-layer header).
 *
 *   udpc-tunpair NS_A IF_A NS_B IF_B [--ready FILE]
 *
 * NS_* are names under /run/netns. Runs until SIGTERM/SIGINT; the devices go with it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

/* A tun device named ifname inside network namespace ns; its fd stays ours after. */
static int tun_in_ns(const char *ns, const char *ifname)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	char path[256];
	int nsfd, fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET)) {
		fprintf(stderr, "udpc-tunpair: cannot enter %s: %s\n", path, strerror(errno));
		return -1;
	}
	close(nsfd);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "udpc-tunpair: /dev/net/tun: %s\n", strerror(errno));
		return -1;
	}
	if (strlen(ifname) >= IFNAMSIZ) {
		fprintf(stderr, "udpc-tunpair: '%s': name too long\n", ifname);
		return -1;
	}
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		fprintf(stderr, "udpc-tunpair: TUNSETIFF %s: %s\n", ifname, strerror(errno));
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct pollfd pfd[2];
	const char *ready = NULL;
	char buf[65536];
	int i;

	if (argc != 5 && !(argc == 7 && !strcmp(argv[5], "--ready"))) {
		fprintf(stderr, "usage: udpc-tunpair NS_A IF_A NS_B IF_B [--ready FILE]\n");
		return 2;
	}
	if (argc == 7)
		ready = argv[6];
	pfd[0].fd = tun_in_ns(argv[1], argv[2]);
	pfd[1].fd = pfd[0].fd < 0 ? -1 : tun_in_ns(argv[3], argv[4]);
	if (pfd[0].fd < 0 || pfd[1].fd < 0)
		return 1;
	pfd[0].events = pfd[1].events = POLLIN;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (f)
			fclose(f);
	}
	while (!stop) {
		if (poll(pfd, 2, 500) < 0) {
			if (errno == EINTR)
				continue;
			perror("udpc-tunpair: poll");
			return 1;
		}
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (!(pfd[i].revents & POLLIN))
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			/* A write to a peer that is down fails: the packet is lost, as on a
			 * real link. */
			if (n > 0 && write(pfd[!i].fd, buf, n) < 0 && errno != EIO)
				pfd[i].revents = 0;
		}
	}
	return 0;
}
