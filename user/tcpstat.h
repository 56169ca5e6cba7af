/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The snapshot of the stream layer that tcp-client and tcp-server publish for
 * `status` (docs/STATUS.md, "The stream layer's snapshot"): its model, and its text
 * form, written and parsed here. Pure string work: no files, no clocks, unit-tested
 * without root (tcpstat_file.c puts it in a file and tells a live writer from a dead
 * one).
 *
 * The text is line-oriented and versioned: a first line "udpclone-bpf-tcp-status 1",
 * then records, each a keyword and KEY=VALUE tokens separated by one space, then
 * "end". Values are numbers or tokens without spaces ("-" for none). A reader skips
 * records and keys it does not know: a later writer may add some without a new version.
 */
#ifndef UDPC_TCPSTAT_H
#define UDPC_TCPSTAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stream.h"

#define TCPSTAT_MAGIC		"udpclone-bpf-tcp-status"
#define TCPSTAT_VERSION		1
#define TCPSTAT_NAME_MAX	64	/* a --forward NAME (TCPIO_NAME_MAX) */
#define TCPSTAT_ADDR_MAX	56	/* [IPv6]:PORT */
#define TCPSTAT_TOKEN_MAX	24	/* role, state */
#define TCPSTAT_MAX_FORWARDS	64	/* TCPIO_MAX_FORWARDS */
#define TCPSTAT_MAX_STREAMS	65536	/* listed; more are only counted (streams_not_listed) */
#define TCPSTAT_FILE_MAX	(64u << 20)	/* a reader refuses a longer file */

struct tcpstat_forward {
	char name[TCPSTAT_NAME_MAX];
	char addr[TCPSTAT_ADDR_MAX];	/* client: where it listens; server: where it connects */
};

/* One session: one stream engine, its link model and counters. */
struct tcpstat_session {
	char peer[TCPSTAT_ADDR_MAX];	/* server: the ADDR:PORT serve delivers it from; client: "" */
	uint64_t age_ms;
	struct stream_info link;
	struct stream_stats st;
};

/* One forwarded TCP connection: a stream and its local socket. */
struct tcpstat_stream {
	uint32_t session;		/* index in sessions */
	uint32_t id;			/* the stream id */
	char target[TCPSTAT_NAME_MAX];
	char state[TCPSTAT_TOKEN_MAX];	/* stream_state_name(), or "closed": the engine is done
					 * with it and the socket still drains */
	char local[TCPSTAT_ADDR_MAX];	/* the TCP connection's ends: ours... */
	char remote[TCPSTAT_ADDR_MAX];	/* ...and the application's */
	uint64_t age_ms;
	uint64_t tx_bytes, tx_acked;	/* from the local TCP into the stream; acked by the peer */
	uint64_t rx_bytes, rx_read;	/* from the peer; of those, read (towards the local TCP) */
};

struct tcpstat {
	uint32_t version;
	uint32_t pid;
	uint64_t pid_start;		/* /proc/PID/stat's starttime: tells a reused pid apart */
	char role[TCPSTAT_TOKEN_MAX];	/* "tcp-client" or "tcp-server" */
	char ifname[TCPSTAT_TOKEN_MAX];
	uint64_t written_ns;		/* CLOCK_MONOTONIC when written */
	uint64_t accepted;		/* client: TCP connections accepted */
	uint64_t refused_local;		/* client: of those, refused (no room for a stream) */
	uint64_t tx_dropped;		/* datagrams the UDP socket did not take */
	uint64_t streams_not_listed;	/* beyond TCPSTAT_MAX_STREAMS */
	struct stream_stats total;	/* every session's, those gone included */
	uint32_t n_forwards, n_sessions, n_streams;
	struct tcpstat_forward forwards[TCPSTAT_MAX_FORWARDS];
	struct tcpstat_session *sessions;
	struct tcpstat_stream *streams;
};

/* A number of a record, by name: the tables below drive the writer, the parser and
 * status's JSON and Prometheus output alike. */
enum tcpstat_type { TCPSTAT_U64, TCPSTAT_U32, TCPSTAT_DBL, TCPSTAT_STR };

struct tcpstat_key {
	const char *name;
	enum tcpstat_type type;
	size_t off;			/* in its struct */
	size_t size;			/* TCPSTAT_STR: the buffer's */
	const char *help;		/* what it counts (the Prometheus HELP) */
};

/* struct stream_stats's counters, in the order status shows them. */
extern const struct tcpstat_key tcpstat_counters[];
extern const size_t tcpstat_n_counters;

/* sum += x, counter by counter (the table's). */
void tcpstat_add_counters(struct stream_stats *sum, const struct stream_stats *x);

/* Writes t's text form (t->version is not read: this writes TCPSTAT_VERSION).
 * Returns 0, or -EIO if the stream failed. */
int tcpstat_write(FILE *f, const struct tcpstat *t);

/*
 * Parses a text form of len bytes into *t (tcpstat_free() it after, even on error).
 * Returns 0; -EPROTO when it is another version's (t->version says which); -EINVAL
 * when it is not a snapshot or is cut short, with why in err ("line 4: ...").
 */
int tcpstat_parse(const char *text, size_t len, struct tcpstat *t, char *err, size_t errlen);

void tcpstat_free(struct tcpstat *t);

#endif
