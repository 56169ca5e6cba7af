// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The event loop of tcp-client and tcp-server (docs/TCP.md, "The commands"). Level-
 * triggered epoll; every local TCP socket is a stream of one engine: the client has one
 * engine (its session), the server one per client session (the address:port that
 * `serve` delivers the session from). Bytes move in bounded chunks:
 *
 *	TCP -> stream: read while stream_write() takes it; a short write parks the rest
 *	               (at most CHUNK bytes) and stops reading until STREAM_EV_WRITABLE.
 *	stream -> TCP: read the stream while the socket takes it; a short write parks the
 *	               rest and waits for EPOLLOUT. So a slow reader stalls only its stream.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"
#include "log.h"
#include "notify.h"
#include "tcpio.h"
#include "tcpstat_file.h"

#define CHUNK (16u << 10)	/* bytes read from one socket at a time */
#define READS_PER_WAKE 4	/* fairness between sockets */
#define RX_PER_WAKE 512		/* datagrams read per wake-up */
#define BUCKETS 4096
#define HOUSEKEEP_NS (200ULL * 1000000)
#define SESSION_IDLE_NS (120ULL * 1000000000)	/* an engine with no streams is freed after */
#define NS_PER_MS 1000000ULL
/* Client: sending and hearing nothing back for this long, take a new session (a server
 * restarted cleanly numbers its replies afresh, and the old session drops them). */
#define SILENT_NS (5ULL * 1000000000)
/* The snapshot for `status` (tcpstat.h): written this often, and this soon after a
 * stream or a session comes or goes; but a large one (tens of thousands of streams)
 * less often, so that it takes at most 1/PUBLISH_SHARE of the loop's time. */
#define PUBLISH_NS (1000ULL * 1000000)
#define PUBLISH_SOON_NS (100ULL * 1000000)
#define PUBLISH_SHARE 20

enum kind { K_UDP = 1, K_TIMER, K_SIGNAL, K_CHILD, K_LISTENER, K_SOCK };

struct item {
	enum kind kind;
};

struct tconn;

struct tsock {
	struct item it;
	struct tsock *next;	/* hash chain, or the graveyard */
	struct tconn *conn;
	uint32_t id;
	int fd;
	uint32_t mask;		/* what epoll has for fd; 0: not in epoll */
	bool connecting, rd_paused, rd_eof, fin_sent, stream_eof, wr_shut;
	uint64_t connect_deadline;
	char *in;		/* read from TCP, not yet taken by the stream */
	size_t in_off, in_len;
	char *out;		/* read from the stream, not yet taken by TCP */
	size_t out_off, out_len;
	/* for status: */
	const char *target;	/* the --forward NAME */
	uint64_t created;
	uint64_t tx_bytes, tx_acked, rx_bytes, rx_read;	/* as last seen: the engine
							 * forgets a closed stream */
	char local[TCPSTAT_ADDR_MAX], remote[TCPSTAT_ADDR_MAX];
};

struct tconn {
	struct tconn *next;
	struct stream_conn *sc;
	struct sockaddr_storage peer;	/* server: the session's label */
	socklen_t peer_len;
	uint64_t last_rx, last_busy;
	uint64_t tx_at_rx;		/* datagrams sent when we last heard */
	uint64_t unanswered_since;	/* the first datagram sent since we last heard; 0: none */
	uint64_t peer_closes;		/* stream_stats()'s, as last seen */
	uint64_t created;
	unsigned int nsocks;
	struct tsock *bucket[BUCKETS];
};

struct loop {
	const struct tcpio_opts *o;
	struct stream_config cfg;	/* o->cfg with our epoch and side */
	int ep, tfd, sfd;
	struct item udp_it, timer_it, signal_it, child_it;
	struct item *lis_it;		/* per listener: kind + index by pointer math */
	struct tconn *conns;
	unsigned int nconns;
	struct tsock *grave;
	int udp_fd;			/* o->udp_fd, or the client's new one after a rotation */
	bool udp_blocked;
	bool rotate;			/* client: take a new UDP socket (a new session) */
	uint64_t tx_dropped, accepted, refused_local;
	uint64_t next_housekeep;
	uint64_t armed;			/* the timerfd's deadline, 0 once it fired */
	/* the snapshot for status: the counters of engines gone, when it was last written */
	struct stream_stats retired;
	uint64_t next_publish, publish_gap;	/* after a change: at last_publish + gap */
	uint64_t last_publish;
	bool dirty, publish_failed;
	uint32_t cap_sessions, cap_streams;
	struct tcpstat snap;
	char buf[65536];
	char dgram[STREAM_MTU_MAX];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- sockets of streams ---- */

static struct tsock **slot_of(struct tconn *c, uint32_t id)
{
	return &c->bucket[id % BUCKETS];
}

static struct tsock *sock_find(struct tconn *c, uint32_t id)
{
	struct tsock *s;

	for (s = *slot_of(c, id); s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void set_mask(struct loop *l, struct tsock *s)
{
	uint32_t m = 0;
	struct epoll_event ev = { .data.ptr = &s->it };

	if (s->fd < 0)
		return;
	if (s->connecting) {
		m = EPOLLOUT;
	} else {
		if (!s->rd_eof && !s->rd_paused)
			m |= EPOLLIN;
		if (s->out_len)
			m |= EPOLLOUT;
	}
	if (m == s->mask)
		return;
	ev.events = m;
	/* Out of epoll when we want nothing: a hung-up socket must not spin the loop. */
	if (!m)
		epoll_ctl(l->ep, EPOLL_CTL_DEL, s->fd, NULL);
	else if (epoll_ctl(l->ep, s->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev))
		pr_warn("epoll_ctl: %s\n", strerror(errno));
	s->mask = m;
}

/* ADDR:PORT ([IPv6]:PORT) of a socket address, for status. */
static void sa_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
	} else if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
	}
	udpc_fmt_dest(host, port, NULL, 0, buf, len);
}

/* The local TCP connection's ends, for status: ours (getsockname) and the other. */
static void sock_ends(struct tsock *s, const struct sockaddr_storage *remote)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);

	if (!getsockname(s->fd, (struct sockaddr *)&ss, &len))
		sa_str(&ss, s->local, sizeof(s->local));
	sa_str(remote, s->remote, sizeof(s->remote));
}

static struct tsock *sock_new(struct loop *l, struct tconn *c, uint32_t id, int fd)
{
	struct tsock *s = calloc(1, sizeof(*s));
	int one = 1;

	if (!s)
		return NULL;
	s->it.kind = K_SOCK;
	s->conn = c;
	s->id = id;
	s->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->next = *slot_of(c, id);
	*slot_of(c, id) = s;
	c->nsocks++;
	l->dirty = true;
	return s;
}

/* Forget the socket: closed (with an RST if abort), unhashed, freed after this round. */
static void sock_drop(struct loop *l, struct tsock *s, bool abort)
{
	struct tsock **pp;

	if (s->fd >= 0) {
		if (abort) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(s->fd);
		s->fd = -1;
	}
	for (pp = slot_of(s->conn, s->id); *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->conn->nsocks--;
	l->dirty = true;
	s->next = l->grave;
	l->grave = s;
}

/* Frees the sockets sock_drop() set aside: kept to the end of the round, as its later
 * epoll events may still point at them. */
static void bury(struct loop *l)
{
	while (l->grave) {
		struct tsock *s = l->grave;

		l->grave = s->next;
		free(s->in);
		free(s->out);
		free(s);
	}
}

/* The local side failed or reset: the stream resets with reason r, the socket RSTs. */
static void sock_abort(struct loop *l, struct tsock *s, enum stream_reason r)
{
	stream_reset(s->conn->sc, s->id, r);
	sock_drop(l, s, true);
}

static void maybe_close(struct loop *l, struct tsock *s)
{
	if (s->fd >= 0 && s->fin_sent && s->wr_shut && !s->out_len)
		sock_drop(l, s, false);
}

static bool park(char **buf, size_t *off, size_t *len, const char *from, size_t n)
{
	if (!*buf) {
		*buf = malloc(sizeof(((struct loop *)0)->buf));
		if (!*buf)
			return false;
	}
	memcpy(*buf, from, n);
	*off = 0;
	*len = n;
	return true;
}

/* stream -> TCP, as far as the socket takes it. */
static void pump_out(struct loop *l, struct tsock *s)
{
	ssize_t n, w;

	if (s->fd < 0 || s->connecting)
		return;
	for (;;) {
		if (s->out_len) {
			w = send(s->fd, s->out + s->out_off, s->out_len, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				sock_abort(l, s, STREAM_R_APP);
				return;
			}
			s->out_off += w;
			s->out_len -= w;
			if (s->out_len)
				break;
			free(s->out);
			s->out = NULL;
		}
		if (s->stream_eof) {
			if (!s->wr_shut) {
				shutdown(s->fd, SHUT_WR);
				s->wr_shut = true;
			}
			break;
		}
		n = stream_read(s->conn->sc, s->id, l->buf, sizeof(l->buf));
		if (n == 0) {
			s->stream_eof = true;
			continue;
		}
		if (n < 0)
			break; /* -EAGAIN; a reset comes as its event */
		w = send(s->fd, l->buf, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				sock_abort(l, s, STREAM_R_APP);
				return;
			}
			w = 0;
		}
		if (w < n) {
			if (!park(&s->out, &s->out_off, &s->out_len, l->buf + w, n - w)) {
				sock_abort(l, s, STREAM_R_LIMIT);
				return;
			}
			break;
		}
	}
	set_mask(l, s);
	maybe_close(l, s);
}

static void send_fin(struct tsock *s)
{
	if (!s->fin_sent && s->rd_eof && !s->in_len) {
		stream_shutdown_write(s->conn->sc, s->id);
		s->fin_sent = true;
	}
}

/* TCP -> stream, while the stream takes it. */
static void pump_in(struct loop *l, struct tsock *s)
{
	ssize_t n, w;
	int i;

	if (s->fd < 0 || s->connecting)
		return;
	if (s->in_len) {
		w = stream_write(s->conn->sc, s->id, s->in + s->in_off, s->in_len);
		if (w < 0) {
			sock_drop(l, s, true);
			return;
		}
		s->in_off += w;
		s->in_len -= w;
		if (s->in_len) {
			s->rd_paused = true;
			set_mask(l, s);
			return;
		}
		free(s->in);
		s->in = NULL;
		s->rd_paused = false;
	}
	for (i = 0; i < READS_PER_WAKE && !s->rd_eof && !s->rd_paused; i++) {
		n = recv(s->fd, l->buf, CHUNK, 0);
		if (n == 0) {
			s->rd_eof = true;
			break;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			sock_abort(l, s, STREAM_R_APP);
			return;
		}
		w = stream_write(s->conn->sc, s->id, l->buf, n);
		if (w < 0) {
			sock_drop(l, s, true);
			return;
		}
		if (w < n) {
			if (!park(&s->in, &s->in_off, &s->in_len, l->buf + w, n - w)) {
				sock_abort(l, s, STREAM_R_LIMIT);
				return;
			}
			s->rd_paused = true;
		}
	}
	send_fin(s);
	set_mask(l, s);
	maybe_close(l, s);
}

static enum stream_reason connect_reason(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return STREAM_R_REFUSED;
	case ETIMEDOUT:
		return STREAM_R_CONNECT_TIMEOUT;
	default:
		return STREAM_R_UNREACHABLE;
	}
}

static void connected(struct loop *l, struct tsock *s)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err) {
		pr_debug("stream %u: connect: %s\n", s->id, strerror(err));
		sock_abort(l, s, connect_reason(err));
		return;
	}
	s->connecting = false;
	pump_out(l, s);
	if (s->fd >= 0)
		pump_in(l, s);
}

static void sock_event(struct loop *l, struct tsock *s, uint32_t ev)
{
	if (s->fd < 0)
		return;
	if (s->connecting) {
		connected(l, s);
		return;
	}
	if (ev & EPOLLOUT)
		pump_out(l, s);
	if (s->fd >= 0 && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		pump_in(l, s);
	if (s->fd >= 0 && (ev & EPOLLERR) && !(s->mask & EPOLLIN)) {
		/* a reset while we were not reading */
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err)
			sock_abort(l, s, STREAM_R_APP);
	}
}

/* ---- the server's connects ---- */

static const struct tcpio_target *target_of(const struct tcpio_opts *o, const char *name)
{
	int i;

	for (i = 0; i < o->n_targets; i++)
		if (!strcmp(o->targets[i].name, name))
			return &o->targets[i];
	return NULL;
}

static void opened(struct loop *l, struct tconn *c, const struct stream_event *ev, uint64_t now)
{
	const struct tcpio_target *t = target_of(l->o, ev->target);
	struct tsock *s;
	int fd;

	if (l->o->client || !t) {
		pr_debug("stream %u: no target '%s': refused\n", ev->id, ev->target);
		stream_reset(c->sc, ev->id, STREAM_R_UNREACHABLE);
		return;
	}
	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_warn("stream %u: socket: %s\n", ev->id, strerror(errno));
		stream_reset(c->sc, ev->id, STREAM_R_LIMIT);
		return;
	}
	s = sock_new(l, c, ev->id, fd);
	if (!s) {
		close(fd);
		stream_reset(c->sc, ev->id, STREAM_R_LIMIT);
		return;
	}
	s->target = t->name;
	s->created = now;
	if (connect(fd, (const struct sockaddr *)&t->addr, t->len) && errno != EINPROGRESS) {
		pr_debug("stream %u: connect to '%s': %s\n", ev->id, t->name, strerror(errno));
		sock_abort(l, s, connect_reason(errno));
		return;
	}
	sock_ends(s, &t->addr);	/* after connect(): it chose our port */
	s->connecting = true;
	s->connect_deadline = now + (uint64_t)l->o->connect_timeout_ms * NS_PER_MS;
	set_mask(l, s);
}

/* ---- engines ---- */

static struct tconn *conn_new(struct loop *l, const struct sockaddr_storage *peer,
			      socklen_t peer_len, uint64_t now)
{
	struct tconn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (stream_conn_new(&l->cfg, &c->sc)) {
		free(c);
		return NULL;
	}
	if (peer)
		memcpy(&c->peer, peer, peer_len);
	c->peer_len = peer_len;
	c->last_rx = c->last_busy = c->created = now;
	l->dirty = true;
	c->next = l->conns;
	l->conns = c;
	l->nconns++;
	return c;
}

static void conn_free(struct loop *l, struct tconn *c)
{
	struct tconn **pp;
	unsigned int i;

	for (i = 0; i < BUCKETS; i++)
		while (c->bucket[i])
			sock_drop(l, c->bucket[i], true);
	for (pp = &l->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	l->nconns--;
	tcpstat_add_counters(&l->retired, stream_stats(c->sc));
	l->dirty = true;
	stream_conn_free(c->sc);
	free(c);
}

/*
 * The engine's clock is read afresh for each datagram, in and out: a burst of hundreds
 * takes milliseconds, and stamps from its start made RTTs up to 7 ms short (a datagram
 * read late in the burst) or long (one sent late), min_rtt 33 ms on a 40 ms path, and
 * the time threshold took packets for lost that were not.
 */
static void flush(struct loop *l, struct tconn *c, uint64_t now)
{
	int n;

	while (!l->udp_blocked &&
	       (n = stream_next_datagram(c->sc, now = now_ns(), l->dgram, sizeof(l->dgram))) > 0) {
		ssize_t w;

		if (!c->unanswered_since)
			c->unanswered_since = now;
		if (l->o->client)
			w = send(l->udp_fd, l->dgram, n, 0);
		else
			w = sendto(l->udp_fd, l->dgram, n, 0, (struct sockaddr *)&c->peer,
				   c->peer_len);
		if (w < 0) {
			l->tx_dropped++; /* the engine sends it again once it counts it lost */
			if (errno == EAGAIN || errno == ENOBUFS) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT,
							  .data.ptr = &l->udp_it };

				l->udp_blocked = true;
				epoll_ctl(l->ep, EPOLL_CTL_MOD, l->udp_fd, &ev);
			}
		}
	}
}

static void conn_events(struct loop *l, struct tconn *c, uint64_t now)
{
	struct stream_event ev;
	struct tsock *s;

	while (stream_next_event(c->sc, &ev)) {
		if (ev.type == STREAM_EV_OPENED) {
			opened(l, c, &ev, now);
			continue;
		}
		s = sock_find(c, ev.id);
		if (!s)
			continue;
		switch (ev.type) {
		case STREAM_EV_READABLE:
			pump_out(l, s);
			break;
		case STREAM_EV_WRITABLE:
			pump_in(l, s);
			break;
		case STREAM_EV_RESET:
			/* The server went away (CLOSE), or nothing came back: a new session,
			 * so that a restarted server's replies are not taken for old ones. */
			if (l->o->client &&
			    (ev.reason == STREAM_R_PEER_CLOSE || ev.reason == STREAM_R_TIMEOUT))
				l->rotate = true;
			pr_debug("stream %u reset: %s\n", ev.id, stream_reason_name(ev.reason));
			sock_drop(l, s, true);
			break;
		case STREAM_EV_CLOSED:
			if (s->out_len == 0)
				sock_drop(l, s, false);
			break;
		default:
			break;
		}
	}
}

static void conn_run(struct loop *l, struct tconn *c, uint64_t now)
{
	if (stream_stats(c->sc)->peer_closes != c->peer_closes) {
		c->peer_closes = stream_stats(c->sc)->peer_closes;
		if (l->o->client)
			l->rotate = true;
	}
	if (stream_next_deadline(c->sc) <= now)
		stream_tick(c->sc, now);
	conn_events(l, c, now);
	flush(l, c, now);
	/* flushing may have acted on acks queued: events again, cheaply */
	conn_events(l, c, now);
	flush(l, c, now);
}

/* ---- the loop's own sources ---- */

/* Client: the same flow from a new local port, so peer mode starts a new session, and
 * a new engine (a new epoch, stream ids from 0) for the server to meet afresh. */
static void rotate_udp(struct loop *l, uint64_t now)
{
	struct sockaddr_storage peer = { 0 };
	socklen_t len = sizeof(peer);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->udp_it };
	int fd, sz = 8 << 20;

	l->rotate = false;
	if (getpeername(l->udp_fd, (struct sockaddr *)&peer, &len))
		return;
	fd = socket(peer.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&peer, len) ||
	    epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev)) {
		pr_warn("cannot open a new UDP socket: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	if (l->udp_fd != l->o->udp_fd)
		close(l->udp_fd);
	else
		epoll_ctl(l->ep, EPOLL_CTL_DEL, l->udp_fd, NULL);
	l->udp_fd = fd;
	l->udp_blocked = false;
	while (l->conns)
		conn_free(l, l->conns);
	if (!conn_new(l, NULL, 0, now))
		pr_warn("cannot create the stream engine\n");
	pr_info("the server closed or went silent: a new session\n");
}

static void udp_input(struct loop *l, uint64_t now)
{
	struct sockaddr_storage from;
	struct tconn *c;
	int i;

	for (i = 0; i < RX_PER_WAKE; i++) {
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(l->udp_fd, l->dgram, sizeof(l->dgram), 0,
				     (struct sockaddr *)&from, &flen);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			continue; /* ICMP errors of the connected socket: the data path decides */
		}
		now = now_ns();	/* see flush() */
		if (l->o->client) {
			c = l->conns;
			if (!c)
				continue;
		} else {
			for (c = l->conns; c; c = c->next)
				if (c->peer_len == flen && !memcmp(&c->peer, &from, flen))
					break;
			if (!c) {
				if (l->nconns >= TCPIO_MAX_SESSIONS) {
					l->tx_dropped++;
					continue;
				}
				c = conn_new(l, &from, flen, now);
				if (!c)
					continue;
			}
		}
		c->last_rx = now;
		c->unanswered_since = 0;
		c->tx_at_rx = stream_stats(c->sc)->tx_datagrams;
		stream_input(c->sc, now, l->dgram, n);
	}
}

static void accept_all(struct loop *l, const struct tcpio_listener *li, uint64_t now)
{
	struct tconn *c = l->conns;
	int i, fd;

	if (!c)
		return;
	for (i = 0; i < 64; i++) {
		struct sockaddr_storage from = { 0 };
		socklen_t flen = sizeof(from);
		int64_t id;
		struct tsock *s;

		fd = accept4(li->fd, (struct sockaddr *)&from, &flen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		id = stream_open(c->sc, now, li->name);
		s = id >= 0 ? sock_new(l, c, (uint32_t)id, fd) : NULL;
		if (!s) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			if (id >= 0)
				stream_reset(c->sc, (uint32_t)id, STREAM_R_LIMIT);
			l->refused_local++;
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			continue;
		}
		l->accepted++;
		s->target = li->name;
		s->created = now;
		sock_ends(s, &from);
		set_mask(l, s);
	}
}

static void housekeep(struct loop *l, uint64_t now)
{
	struct tconn *c, *next;
	unsigned int i;

	for (c = l->conns; c; c = next) {
		next = c->next;
		for (i = 0; i < BUCKETS; i++) {
			struct tsock *s, *sn;

			for (s = c->bucket[i]; s; s = sn) {
				sn = s->next;
				if (s->connecting && now >= s->connect_deadline)
					sock_abort(l, s, STREAM_R_CONNECT_TIMEOUT);
			}
		}
		if (c->nsocks)
			c->last_busy = now;
		/* Silent: sending for SILENT_NS with nothing heard since the first of those
		 * datagrams (not since the last thing heard: after an idle spell a new
		 * connection's first datagrams would count as silence at once). */
		if (l->o->client && c->unanswered_since && now - c->unanswered_since > SILENT_NS &&
		    stream_stats(c->sc)->tx_datagrams > c->tx_at_rx + 2) {
			l->rotate = true;
			c->last_rx = now;
			c->unanswered_since = 0;
			c->tx_at_rx = stream_stats(c->sc)->tx_datagrams;
		}
		if (!l->o->client && !c->nsocks && now - c->last_rx > SESSION_IDLE_NS &&
		    now - c->last_busy > SESSION_IDLE_NS)
			conn_free(l, c);
	}
}

static void log_stats(struct loop *l)
{
	struct tconn *c;

	pr_info("%u session%s, %llu connections accepted, %llu refused locally, %llu datagrams not sent\n",
		l->nconns, l->nconns == 1 ? "" : "s", (unsigned long long)l->accepted,
		(unsigned long long)l->refused_local, (unsigned long long)l->tx_dropped);
	for (c = l->conns; c; c = c->next) {
		const struct stream_stats *st = stream_stats(c->sc);
		struct stream_info in;

		stream_get_info(c->sc, &in);
		pr_info("  streams %u (opened %llu, reset %llu), srtt %llu us (min %llu), rate %llu KB/s "
			"(pacing %llu), cwnd %llu, in flight %llu, loss %.1f%%, "
			"tx %llu rx %llu datagrams, retransmits %llu (late %llu), timeouts %llu, "
			"held %llu KB, flow violations %llu\n",
			in.streams, (unsigned long long)st->streams_opened,
			(unsigned long long)st->streams_reset, (unsigned long long)in.srtt_us,
			(unsigned long long)in.min_rtt_us, (unsigned long long)in.btl_bw / 1000,
			(unsigned long long)in.pacing_rate / 1000, (unsigned long long)in.cwnd,
			(unsigned long long)in.bytes_in_flight, in.loss_avg * 100,
			(unsigned long long)st->tx_datagrams, (unsigned long long)st->rx_datagrams,
			(unsigned long long)st->retransmits, (unsigned long long)st->spurious_losses,
			(unsigned long long)st->rto_fired, (unsigned long long)in.rx_buffered / 1000,
			(unsigned long long)st->rx_flow_violation);
	}
}

/* ---- the snapshot for status (tcpstat.h) ---- */

/* Room for n items in *arr (of *cap): 0 or -ENOMEM. */
static int room(void **arr, uint32_t *cap, uint32_t n, size_t size)
{
	void *p;

	if (n <= *cap)
		return 0;
	p = realloc(*arr, (size_t)n * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

/* One stream of the snapshot, from its socket and its engine. */
static void snap_stream(struct tsock *s, uint32_t session, uint64_t now, struct tcpstat_stream *o)
{
	struct stream_stream_info in;
	bool gone = stream_stream_info(s->conn->sc, s->id, &in) == -ENOENT;

	if (!gone) {
		s->tx_bytes = in.tx_bytes;
		s->tx_acked = in.tx_acked;
		s->rx_bytes = in.rx_bytes;
		s->rx_read = in.rx_read;
	}
	memset(o, 0, sizeof(*o));
	o->session = session;
	o->id = s->id;
	snprintf(o->target, sizeof(o->target), "%s", s->target ? s->target : "");
	/* the engine is done with it, the socket still drains; or our connect() runs */
	snprintf(o->state, sizeof(o->state), "%s",
		 gone ? "closed" : s->connecting ? "connecting" : stream_state_name(in.state));
	memcpy(o->local, s->local, sizeof(o->local));
	memcpy(o->remote, s->remote, sizeof(o->remote));
	o->age_ms = (now - s->created) / NS_PER_MS;
	o->tx_bytes = s->tx_bytes;
	o->tx_acked = s->tx_acked;
	o->rx_bytes = s->rx_bytes;
	o->rx_read = s->rx_read;
}

/* Gathers the snapshot into l->snap and writes it for status. */
static void publish(struct loop *l, uint64_t now)
{
	struct tcpstat *t = &l->snap;
	uint32_t nsocks = 0, k = 0, i;
	struct tconn *c;
	uint64_t took;
	int err;

	l->dirty = false;
	l->last_publish = now;
	for (c = l->conns; c; c = c->next)
		nsocks += c->nsocks;
	if (nsocks > TCPSTAT_MAX_STREAMS)
		nsocks = TCPSTAT_MAX_STREAMS;
	err = room((void **)&t->sessions, &l->cap_sessions, l->nconns, sizeof(*t->sessions));
	if (!err)
		err = room((void **)&t->streams, &l->cap_streams, nsocks, sizeof(*t->streams));
	if (err)
		goto out;
	t->written_ns = now;
	t->accepted = l->accepted;
	t->refused_local = l->refused_local;
	t->tx_dropped = l->tx_dropped;
	t->total = l->retired;
	t->n_sessions = t->n_streams = 0;
	t->streams_not_listed = 0;
	for (c = l->conns; c; c = c->next, k++) {
		struct tcpstat_session *se = &t->sessions[k];

		memset(se, 0, sizeof(*se));
		if (!l->o->client)
			sa_str(&c->peer, se->peer, sizeof(se->peer));
		se->age_ms = (now - c->created) / NS_PER_MS;
		stream_get_info(c->sc, &se->link);
		se->st = *stream_stats(c->sc);
		tcpstat_add_counters(&t->total, &se->st);
		t->n_sessions++;
		for (i = 0; i < BUCKETS; i++) {
			struct tsock *s;

			for (s = c->bucket[i]; s; s = s->next) {
				if (t->n_streams < nsocks)
					snap_stream(s, k, now, &t->streams[t->n_streams++]);
				else
					t->streams_not_listed++;
			}
		}
	}
	err = tcpstat_publish(l->o->ifname, t);
out:
	took = now_ns() - now;
	l->publish_gap = took * PUBLISH_SHARE > PUBLISH_SOON_NS ? took * PUBLISH_SHARE : PUBLISH_SOON_NS;
	l->next_publish = now + (l->publish_gap > PUBLISH_NS ? l->publish_gap : PUBLISH_NS);
	if (err && !l->publish_failed)
		pr_warn("cannot write the status snapshot of %s: %s\n", l->o->ifname, strerror(-err));
	else if (!err && l->publish_failed)
		pr_info("the status snapshot of %s is written again\n", l->o->ifname);
	l->publish_failed = err != 0;
}

/* What does not change: who we are and the forwards. */
static void snap_init(struct loop *l)
{
	const struct tcpio_opts *o = l->o;
	struct tcpstat *t = &l->snap;
	int i;

	t->pid = (uint32_t)getpid();
	t->pid_start = tcpstat_proc_start(getpid());
	snprintf(t->role, sizeof(t->role), "%s", o->client ? "tcp-client" : "tcp-server");
	snprintf(t->ifname, sizeof(t->ifname), "%s", o->ifname);
	for (i = 0; o->client && i < o->n_listeners && i < TCPSTAT_MAX_FORWARDS; i++) {
		struct sockaddr_storage ss = { 0 };
		socklen_t len = sizeof(ss);

		snprintf(t->forwards[i].name, sizeof(t->forwards[i].name), "%s", o->listeners[i].name);
		if (!getsockname(o->listeners[i].fd, (struct sockaddr *)&ss, &len))
			sa_str(&ss, t->forwards[i].addr, sizeof(t->forwards[i].addr));
		t->n_forwards++;
	}
	for (i = 0; !o->client && i < o->n_targets && i < TCPSTAT_MAX_FORWARDS; i++) {
		snprintf(t->forwards[i].name, sizeof(t->forwards[i].name), "%s", o->targets[i].name);
		sa_str(&o->targets[i].addr, t->forwards[i].addr, sizeof(t->forwards[i].addr));
		t->n_forwards++;
	}
}

static void arm_timer(struct loop *l)
{
	uint64_t d = l->next_housekeep;
	struct itimerspec its = { 0 };
	struct tconn *c;

	for (c = l->conns; c; c = c->next) {
		uint64_t x = stream_next_deadline(c->sc);

		if (x < d)
			d = x;
	}
	if (!d)
		d = 1;
	if (d == l->armed)	/* a system call per wake-up saved: most do not move it */
		return;
	l->armed = d;
	its.it_value.tv_sec = d / 1000000000ULL;
	its.it_value.tv_nsec = d % 1000000000ULL;
	timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int add_fd(struct loop *l, int fd, struct item *it)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = it };

	return epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Going away: tell every peer (CLOSE), and reset the local connections. */
static void shut_all(struct loop *l, uint64_t now)
{
	while (l->conns) {
		stream_conn_close(l->conns->sc);
		flush(l, l->conns, now);
		conn_free(l, l->conns);
	}
}

static int loop_run(struct loop *l)
{
	const struct tcpio_opts *o = l->o;
	struct epoll_event evs[256];
	int i, n, ret = EXIT_SUCCESS;

	for (;;) {
		uint64_t now;
		struct tconn *c;

		arm_timer(l);
		n = epoll_wait(l->ep, evs, 256, -1);
		if (n < 0 && errno != EINTR) {
			pr_warn("epoll_wait: %s\n", strerror(errno));
			return EXIT_FAILURE;
		}
		now = now_ns();
		for (i = 0; i < n; i++) {
			struct item *it = evs[i].data.ptr;

			switch (it->kind) {
			case K_UDP:
				if ((evs[i].events & EPOLLOUT) && l->udp_blocked) {
					struct epoll_event ev = { .events = EPOLLIN, .data.ptr = it };

					l->udp_blocked = false;
					epoll_ctl(l->ep, EPOLL_CTL_MOD, l->udp_fd, &ev);
				}
				if (evs[i].events & EPOLLIN)
					udp_input(l, now);
				break;
			case K_TIMER: {
				uint64_t x;

				if (read(l->tfd, &x, sizeof(x)) < 0)
					(void)0;
				l->armed = 0;	/* fired: the next deadline must arm it again */
				break;
			}
			case K_SIGNAL: {
				struct signalfd_siginfo si;

				if (read(l->sfd, &si, sizeof(si)) != sizeof(si))
					break;
				if (si.ssi_signo == SIGUSR1) {
					log_stats(l);
					break;
				}
				if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
					pr_info("%s: closing\n", strsignal(si.ssi_signo));
					udpc_sd_notify("STOPPING=1\nSTATUS=closing");
					shut_all(l, now);
					return EXIT_SUCCESS;
				}
				break;
			}
			case K_CHILD:
				pr_warn("the data path daemon ended: closing\n");
				shut_all(l, now);
				return EXIT_FAILURE;
			case K_LISTENER:
				accept_all(l, &o->listeners[it - l->lis_it], now);
				break;
			case K_SOCK:
				sock_event(l, (struct tsock *)it, evs[i].events);
				break;
			}
		}
		now = now_ns();	/* the events above may have taken milliseconds */
		if (now >= l->next_housekeep) {
			housekeep(l, now);
			l->next_housekeep = now + HOUSEKEEP_NS;
		}
		if (now >= l->next_publish || (l->dirty && now >= l->last_publish + l->publish_gap))
			publish(l, now);
		for (c = l->conns; c; c = c->next)
			conn_run(l, c, now);
		if (l->rotate)
			rotate_udp(l, now);
		bury(l);
	}
	return ret;
}

int tcpio_run(const struct tcpio_opts *o)
{
	struct loop *l = calloc(1, sizeof(*l));
	int i, ret = EXIT_FAILURE;
	uint64_t epoch = 0;

	if (!l)
		return EXIT_FAILURE;
	l->o = o;
	l->udp_it.kind = K_UDP;
	l->timer_it.kind = K_TIMER;
	l->signal_it.kind = K_SIGNAL;
	l->child_it.kind = K_CHILD;
	l->ep = l->tfd = l->sfd = -1;
	l->udp_fd = o->udp_fd;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	l->sfd = signalfd(-1, o->signals, SFD_NONBLOCK | SFD_CLOEXEC);
	l->lis_it = calloc(o->n_listeners ? o->n_listeners : 1, sizeof(*l->lis_it));
	while (!epoch)
		if (getrandom(&epoch, sizeof(epoch), 0) != sizeof(epoch))
			goto out;
	l->cfg = o->cfg;
	l->cfg.epoch = epoch;
	l->cfg.client = o->client;
	if (l->ep < 0 || l->tfd < 0 || l->sfd < 0 || !l->lis_it ||
	    add_fd(l, o->udp_fd, &l->udp_it) || add_fd(l, l->tfd, &l->timer_it) ||
	    add_fd(l, l->sfd, &l->signal_it) ||
	    (o->child_pidfd >= 0 && add_fd(l, o->child_pidfd, &l->child_it))) {
		pr_warn("cannot set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	for (i = 0; i < o->n_listeners; i++) {
		l->lis_it[i].kind = K_LISTENER;
		if (add_fd(l, o->listeners[i].fd, &l->lis_it[i]))
			goto out;
	}
	if (o->client && !conn_new(l, NULL, 0, now_ns())) {
		pr_warn("cannot create the stream engine\n");
		goto out;
	}
	snap_init(l);
	publish(l, now_ns());
	ret = loop_run(l);
	tcpstat_unpublish(o->ifname);	/* a clean end: status then says nothing runs */
out:
	while (l->conns)
		conn_free(l, l->conns);
	bury(l);
	tcpstat_free(&l->snap);
	if (l->udp_fd != o->udp_fd)
		close(l->udp_fd);
	if (l->ep >= 0)
		close(l->ep);
	if (l->tfd >= 0)
		close(l->tfd);
	if (l->sfd >= 0)
		close(l->sfd);
	free(l->lis_it);
	free(l);
	return ret;
}
