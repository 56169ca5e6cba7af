/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * attach --peer: the daemon's keepalives (docs/PEER.md, "Path health"). Each
 * second, one by each usable path of each active session, from raw sockets opened
 * at start; the server's data path answers them, the client's takes the answers.
 */
#ifndef UDPC_KEEPALIVE_H
#define UDPC_KEEPALIVE_H

#include <linux/types.h>
#include <stdbool.h>

struct daemon;

/* The keepalive state of a daemon (in struct daemon). */
struct udpc_keepalive {
	int fd4, fd6;		/* raw sockets (IPPROTO_RAW: the header is ours); -1: none */
	__u32 seq;		/* the last keepalive counter sent; 0 is never sent */
	__u64 next_ns;		/* CLOCK_MONOTONIC of the next round */
	__u64 sent, failed;	/* sends, and those that failed */
	__u64 failed_said;	/* failed, as last logged */
	__u64 said_ns;		/* when it was logged */
	int last_err;		/* errno of the last failed send */
};

/* Opens the sockets (peer mode only; a failure is logged, and there are none). */
void keepalive_open(struct daemon *dm);
/* A round of keepalives, when one is due (the loop may tick faster than 1 s). */
void keepalive_tick(struct daemon *dm);
void keepalive_close(struct daemon *dm);

#endif
