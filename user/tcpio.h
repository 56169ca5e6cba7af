/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The socket side of tcp-client and tcp-server (docs/TCP.md): one epoll loop over the
 * internal UDP socket (the peer-mode flow), a timerfd armed at the stream engines'
 * next deadline, the local TCP sockets (one per stream), and, for the client, the
 * listening sockets of --forward. The stream engines (stream.h) do the rest.
 */
#ifndef UDPC_TCPIO_H
#define UDPC_TCPIO_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stream.h"

#define TCPIO_NAME_MAX 64		/* a --forward NAME */
#define TCPIO_MAX_FORWARDS 64
#define TCPIO_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define TCPIO_MAX_SESSIONS 256		/* tcp-server: stream engines (client sessions) */

struct tcpio_listener {			/* tcp-client: [ADDR:]LPORT=NAME */
	int fd;
	char name[TCPIO_NAME_MAX];
};

struct tcpio_target {			/* tcp-server: NAME=HOST:PORT */
	char name[TCPIO_NAME_MAX];
	struct sockaddr_storage addr;
	socklen_t len;
};

struct tcpio_opts {
	bool client;
	const char *ifname;		/* the interface: names the snapshot for status */
	int udp_fd;			/* client: connected to the server; server: bound */
	const struct tcpio_listener *listeners;
	int n_listeners;
	const struct tcpio_target *targets;
	int n_targets;
	struct stream_config cfg;	/* epoch and client are filled by tcpio_run */
	unsigned int connect_timeout_ms;
	int child_pidfd;		/* the attach/serve daemon: we stop when it ends */
	const sigset_t *signals;	/* blocked; read from a signalfd here */
};

/* Runs until SIGINT/SIGTERM or the daemon's end; returns an exit code. */
int tcpio_run(const struct tcpio_opts *o);

#endif
