/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * status's part about tcp-client / tcp-server (docs/STATUS.md, "tcp"): their stream
 * layer lives in a process of its own, not in the pins, and publishes a snapshot
 * (tcpstat_file.h) that this reads and shows in the text, JSON and Prometheus outputs.
 */
#ifndef UDPC_STATUS_TCP_H
#define UDPC_STATUS_TCP_H

#include <stddef.h>
#include <stdint.h>

struct tcp_view;

/* ifname's snapshot: 0 with *out NULL when there is none, 0 with *out set, or -errno
 * after one line on stderr saying why it cannot be read. */
int tcp_view_load(const char *ifname, struct tcp_view **out);
void tcp_view_free(struct tcp_view *v);

/* The text output's lines about it; now: CLOCK_MONOTONIC ns. */
void tcp_print_text(const struct tcp_view *v, uint64_t now);

/* The interface's "tcp" member: ,"tcp":{...} */
void tcp_print_json(const struct tcp_view *v, uint64_t now);

/* Its metrics, each family over the n views (NULL ones have none). */
void tcp_print_prometheus(struct tcp_view *const *views, size_t n);

#endif
