/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The stream layer of tcp-client / tcp-server: many reliable byte streams (one per
 * forwarded TCP connection) over one lossy, reordering datagram link, as peer mode
 * gives it (docs/TCP.md). Pure: no sockets, no clocks, no threads, no globals. The
 * host feeds datagrams and the time in, and takes datagrams, events and bytes out:
 *
 *	on a datagram:   stream_input(c, now, dgram, len)
 *	on a wake-up:    stream_tick(c, now)
 *	then:            while ((n = stream_next_datagram(c, now, buf, cap)) > 0) send(buf, n)
 *	                 while (stream_next_event(c, &ev)) ...read/write/shutdown/reset...
 *	sleep until      stream_next_deadline(c) or I/O
 *
 * Every function returns 0 (or a count) on success and -errno on failure.
 */
#ifndef UDPC_STREAM_H
#define UDPC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STREAM_VERSION		1
#define STREAM_HDR_LEN		24	/* datagram header, docs/TCP.md */
#define STREAM_MTU_MIN		256	/* smallest datagram payload we build */
#define STREAM_MTU_MAX		65000
#define STREAM_TARGET_MAX	255	/* target name bytes carried by a stream's opening */
#define STREAM_INITIAL_WINDOW	(64u << 10)	/* peer's window before its first WINDOW frame */
#define STREAM_CONN_INITIAL_WINDOW (256u << 10)	/* peer's connection window before its
						 * first CONN_WINDOW frame */
#define STREAM_NO_DEADLINE	UINT64_MAX

/* Why a stream was reset: carried by RESET frames and reported in events. */
enum stream_reason {
	STREAM_R_APP = 0,		/* the other end's application (its TCP peer sent RST) */
	STREAM_R_REFUSED = 1,		/* the server's connect() was refused */
	STREAM_R_UNREACHABLE = 2,	/* the server's connect() found no route / name */
	STREAM_R_CONNECT_TIMEOUT = 3,	/* the server's connect() timed out */
	STREAM_R_LIMIT = 4,		/* the other end has no room for another stream */
	STREAM_R_UNKNOWN = 5,		/* the other end does not know the stream (restarted) */
	STREAM_R_PEER_RESTART = 6,	/* local: the other end came back with a new epoch */
	STREAM_R_TIMEOUT = 7,		/* local: nothing heard for idle_timeout_ms */
	STREAM_R_PEER_CLOSE = 8,	/* the other end closed the whole link (CLOSE frame) */
	STREAM_R_MAX
};

struct stream_config {
	uint32_t mtu_payload;		/* largest datagram we build: path MTU - IP - UDP - 16 */
	uint32_t rto_min_ms;		/* floor of the retransmission timeout */
	uint64_t max_rate;		/* bytes/s on the wire, 0 = no limit besides the model */
	uint32_t recv_window;		/* per stream, bytes (>= STREAM_INITIAL_WINDOW) */
	uint32_t send_buffer;		/* per stream, bytes the application may queue */
	uint64_t conn_send_buffer;	/* all streams together (>= send_buffer): past it,
					 * stream_write() returns 0 until WRITABLE */
	uint64_t conn_recv_window;	/* the peer's bytes we hold, all streams together
					 * (>= recv_window, >= STREAM_CONN_INITIAL_WINDOW) */
	uint32_t max_streams;		/* open at once (ours + the peer's) */
	uint32_t max_inflight;		/* packets in flight (sent, not yet acked nor lost) */
	uint32_t keepalive_ms;		/* PING after this long without sending, if streams are open */
	uint32_t idle_timeout_ms;	/* reset every stream after this long without hearing */
	uint64_t epoch;			/* random, non-zero, new at each process start */
	bool client;			/* we open even stream ids, the peer odd ones */
};

/* Defaults for every field but epoch and client. */
void stream_config_default(struct stream_config *cfg);

enum stream_event_type {
	STREAM_EV_OPENED = 1,	/* the peer opened a stream: ev.target says where to */
	STREAM_EV_READABLE,	/* stream_read() has bytes, or end of stream (returns 0) */
	STREAM_EV_WRITABLE,	/* send buffer space again after a short stream_write() */
	STREAM_EV_RESET,	/* reset (ev.reason): read/write now fail with -ECONNRESET */
	STREAM_EV_CLOSED,	/* both directions done, or reset and settled: id is gone */
};

struct stream_event {
	enum stream_event_type type;
	uint32_t id;
	enum stream_reason reason;		/* STREAM_EV_RESET */
	char target[STREAM_TARGET_MAX + 1];	/* STREAM_EV_OPENED, terminated */
};

/* Counters: bad input is dropped and counted here, never fatal. */
struct stream_stats {
	uint64_t rx_datagrams, rx_bytes, tx_datagrams, tx_bytes;
	uint64_t rx_malformed;		/* header or a frame did not parse: whole datagram dropped */
	uint64_t rx_bad_version;
	uint64_t rx_stale_epoch;	/* addressed to another incarnation of us, or a retired peer */
	uint64_t rx_duplicate;		/* packet number seen before */
	uint64_t rx_too_old;		/* below what we still track */
	uint64_t rx_unknown_stream;	/* a frame for a stream we never had (answered by RESET) */
	uint64_t rx_closed_stream;	/* a frame for a stream already gone (ignored) */
	uint64_t rx_flow_violation;	/* data beyond the window we gave: packet not acked */
	uint64_t rx_refused;		/* frames not taken for lack of room: packet not acked */
	uint64_t retransmits;		/* packets declared lost */
	uint64_t spurious_losses;	/* ...and acked after all: late (reordered), not lost */
	uint64_t rto_fired;
	uint64_t tail_probes;		/* a silent flight's newest packet sent again (docs/TCP.md) */
	uint64_t echoes;		/* packets sent twice: thin flights, tail repairs (docs/TCP.md) */
	uint64_t spurious_acks;		/* acks of packet numbers we never sent */
	uint64_t peer_restarts;
	uint64_t peer_closes;		/* CLOSE frames taken: the peer went away */
	uint64_t timeouts;
	uint64_t streams_opened, streams_closed, streams_reset;
};

/* A snapshot of the transport model, for status output and tests. */
struct stream_info {
	uint64_t srtt_us, rttvar_us, min_rtt_us, rto_us;
	uint64_t btl_bw;		/* bytes/s, delivered */
	uint64_t pacing_rate;		/* bytes/s */
	uint64_t cwnd, bytes_in_flight;
	uint32_t streams;
	uint64_t peer_epoch;
	double loss_avg;		/* long-run fraction of packets lost */
	/* the connection window (docs/TCP.md, Flow control) */
	uint64_t tx_conn_data;		/* our streams' highest offsets sent, summed */
	uint64_t tx_conn_credit;	/* new bytes the peer's connection window still allows */
	uint64_t rx_conn_data;		/* the peer's streams' highest offsets received, summed */
	uint64_t rx_buffered;		/* of which held: not yet read nor dropped */
};

struct stream_conn;

/* Returns 0 and *out, -EINVAL for a bad config, -ENOMEM. */
int stream_conn_new(const struct stream_config *cfg, struct stream_conn **out);
void stream_conn_free(struct stream_conn *c);

/* A datagram from the link. Bad datagrams are counted, and still return 0. */
int stream_input(struct stream_conn *c, uint64_t now_ns, const void *dgram, size_t len);

/* Runs the timers due at now_ns (loss detection, RTO, keepalive, idle timeout). */
void stream_tick(struct stream_conn *c, uint64_t now_ns);

/*
 * The next datagram to send, built into buf (cap >= mtu_payload). Returns its length,
 * or 0 when there is nothing to send now (the pacer or the window says wait: see
 * stream_next_deadline()), or -EINVAL if cap is too small.
 */
int stream_next_datagram(struct stream_conn *c, uint64_t now_ns, void *buf, size_t cap);

/* When stream_tick() or stream_next_datagram() next has work, STREAM_NO_DEADLINE if never. */
uint64_t stream_next_deadline(const struct stream_conn *c);

/* Returns 1 and fills *ev, 0 when there are no more events. */
int stream_next_event(struct stream_conn *c, struct stream_event *ev);

/* Opens a stream to target (1..255 bytes). Returns its id (>= 0), -EAGAIN at max_streams. */
int64_t stream_open(struct stream_conn *c, uint64_t now_ns, const char *target);

/* Queues up to len bytes. Returns the bytes taken (0 when the stream's buffer, or the
 * connection's conn_send_buffer, is full: wait for STREAM_EV_WRITABLE), -EPIPE after shutdown, -ECONNRESET, -ENOENT. */
ssize_t stream_write(struct stream_conn *c, uint32_t id, const void *buf, size_t len);

/* In-order bytes. Returns a count, 0 at end of stream, -EAGAIN, -ECONNRESET, -ENOENT. */
ssize_t stream_read(struct stream_conn *c, uint32_t id, void *buf, size_t len);

/* Bytes stream_read() would return now, without reading. */
size_t stream_readable(const struct stream_conn *c, uint32_t id);

/* Half-close: FIN after the bytes already written. */
int stream_shutdown_write(struct stream_conn *c, uint32_t id);

/* Aborts both directions and tells the peer why. */
int stream_reset(struct stream_conn *c, uint32_t id, enum stream_reason reason);

/* Tells the peer that we are going away (best effort): it resets every stream. */
void stream_conn_close(struct stream_conn *c);

const struct stream_stats *stream_stats(const struct stream_conn *c);
void stream_get_info(const struct stream_conn *c, struct stream_info *info);
const char *stream_reason_name(enum stream_reason r);

/* A stream's state, as status shows it. */
enum stream_state {
	STREAM_S_OPENING,		/* the peer's: its target name has not all come yet */
	STREAM_S_OPEN,
	STREAM_S_HALF_CLOSED_LOCAL,	/* we sent FIN (stream_shutdown_write); the peer may send */
	STREAM_S_HALF_CLOSED_REMOTE,	/* the peer's FIN came; we may still send */
	STREAM_S_CLOSING,		/* both FINs: waiting for the last acks or reads */
	STREAM_S_RESETTING,		/* we reset it: waiting for the peer's ack */
	STREAM_S_RESET,			/* reset (by the peer, the link, or ours acked) */
	STREAM_S_MAX
};

/* One stream's counters and state. Byte counts are the application's: the target
 * name that opens a stream is not counted. */
struct stream_stream_info {
	uint64_t tx_bytes;		/* taken by stream_write() */
	uint64_t tx_acked;		/* of those, acknowledged by the peer */
	uint64_t rx_bytes;		/* received in order (read or not) */
	uint64_t rx_read;		/* of those, taken by stream_read() */
	enum stream_state state;
	enum stream_reason reason;	/* STREAM_S_RESETTING, STREAM_S_RESET */
	bool local;			/* we opened it (stream_open) */
	char target[STREAM_TARGET_MAX + 1];	/* "" while STREAM_S_OPENING */
};

/* Fills *out for stream id: 0, or -ENOENT if the engine has no such stream (any more). */
int stream_stream_info(const struct stream_conn *c, uint32_t id, struct stream_stream_info *out);
const char *stream_state_name(enum stream_state s);

#endif /* UDPC_STREAM_H */
