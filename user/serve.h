/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
#ifndef UDPC_SERVE_H
#define UDPC_SERVE_H

#include <stdint.h>

#define UDPC_PATH_TIMEOUT_S 10	   /* a path silent this long gets no more replies */
#define UDPC_SESSION_TIMEOUT_S 180 /* an idle session's delivery address may be reused after */

struct udpc_serve_opts {
	const char *ifname;
	uint16_t listen_port;	   /* host byte order: where clients' copies arrive */
	uint16_t to_port;	   /* host byte order: the local application's port */
	unsigned int max_sessions; /* 0: the pinned table's size, else UDPC_DEFAULT_SESSIONS */
	int ready_fd;		   /* written "ready\n" and closed once attached; -1: none */
};

/* The server end of peer mode: load (or adopt), attach udpc_serve_ingress/_egress,
 * and stay until SIGINT/SIGTERM; returns an exit code. */
int udpc_serve_run(const struct udpc_serve_opts *o);

#endif
