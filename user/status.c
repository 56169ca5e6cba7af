// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * `status`: what the data path does comes from the pinned maps, so it works from any
 * shell while `attach` runs, and after a crashed daemon left the data path behind.
 * tcp-client / tcp-server's stream layer is not in the pins: status_tcp.c adds it.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"
#include "instance.h"
#include "log.h"
#include "maps.h"
#include "pathstats.h"
#include "status.h"
#include "status_out.h"
#include "status_tcp.h"
#include "sys.h"
#include "tc.h"
#include "udpc_peer.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct dest_view {
	__u32 slot; /* index in udpc_dests: the position in --destinations */
	struct udpc_dest d;
	struct udpc_dest_info info;
	struct udpc_dest_stats st; /* summed over CPUs; last_rx_ns is the max */
	struct udpc_uplink up;	   /* flags without UDPC_UPLINK_VIA: the attached interface */
	char name[UDPC_DEST_STR_MAX]; /* HOST:PORT[@IFACE|@table=N], as the user wrote it */
	char via[IF_NAMESIZE];	   /* with an uplink: the interface copies leave by now, or "-" */
};

/* Peer mode: sessions listed one by one, the most recently active first; the others
 * are only counted. */
#define SESSIONS_SHOWN 32

struct session_view {
	__u64 id;
	struct udpc_session s;	/* as the map gives it (window included: ~5.7 KB) */
};

/* One path of a session, as shown. */
struct path_view {
	__u32 id;			/* path id: the client's destination slot */
	struct udpc_peer_path p;
	__u64 now;			/* when the status was taken, for ages */
	const char *dest;		/* client: that destination's HOST:PORT@UPLINK; else NULL */
};

struct iface_view {
	char ifname[IF_NAMESIZE];
	bool running;
	__u32 pid;	 /* the running daemon's, else the last one's */
	bool filters[2]; /* ingress, egress */
	struct udpc_config cfg;
	struct udpc_global_stats gs;
	__u64 flows;
	__u64 max_flows;	/* the flow table's size */
	int n;
	struct dest_view dests[UDPC_MAX_DESTS];
	enum udpc_mode mode;		/* from udpc_peer_cfg's flags */
	struct udpc_peer_cfg pcfg;
	struct udpc_peer_stats ps;	/* summed over CPUs */
	__u64 sessions;			/* in the session table */
	__u64 max_sessions;		/* its size */
	struct session_view *top;	/* peer mode: up to SESSIONS_SHOWN, newest first */
	int n_top;
	struct tcp_view *tcp;		/* tcp-client / tcp-server: their snapshot; else NULL */
};

static void view_free(struct iface_view *v)
{
	if (v) {
		free(v->top);
		tcp_view_free(v->tcp);
	}
	free(v);
}

static const char *const state_names[] = {
	[UDPC_STATE_UNUSED] = "unused",
	[UDPC_STATE_UNRESOLVED] = "unresolved",
	[UDPC_STATE_ACTIVE] = "active",
	[UDPC_STATE_STALE] = "stale",
};

static const char *state_name(__u32 s)
{
	return s < ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

static int sum_percpu(int fd, __u32 key, void *out, size_t size, size_t n_u64_max)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	size_t i, stride = (size + 7) & ~7UL;
	__u64 *sum = out;
	char *buf;

	if (ncpu <= 0)
		return ncpu;
	buf = calloc(ncpu, stride);
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, buf)) {
		free(buf);
		return -errno;
	}
	memcpy(out, buf, size);
	for (c = 1; c < ncpu; c++) {
		__u64 *v = (__u64 *)(buf + c * stride);

		for (i = 0; i < n_u64_max; i++)
			sum[i] += v[i];
	}
	free(buf);
	return 0;
}

/* "up", "down" or "missing" for a destination with an uplink, NULL otherwise. */
static const char *uplink_state(const struct dest_view *dv)
{
	if (!(dv->up.flags & UDPC_UPLINK_VIA))
		return NULL;
	if (!dv->up.ifindex)
		return "missing";
	return dv->up.flags & UDPC_UPLINK_UP ? "up" : "down";
}

/* The interface the destination's copies leave by now: named, or its table's choice. */
static void uplink_ifname(const struct dest_view *dv, char buf[IF_NAMESIZE])
{
	if (!dv->info.table) {
		/* Kernel names have at most IF_NAMESIZE - 1 bytes; attach refused longer ones. */
		memcpy(buf, dv->info.uplink, IF_NAMESIZE - 1);
		buf[IF_NAMESIZE - 1] = '\0';
	} else if (!dv->up.ifindex || !if_indextoname(dv->up.ifindex, buf)) {
		snprintf(buf, IF_NAMESIZE, "-");
	}
}

/* When a session was last heard of: its last copy, or its creation. */
static __u64 session_active_ns(const struct udpc_session *s)
{
	return s->last_rx_ns > s->created_ns ? s->last_rx_ns : s->created_ns;
}

static int newest_first(const void *a, const void *b)
{
	__u64 x = session_active_ns(&((const struct session_view *)a)->s);
	__u64 y = session_active_ns(&((const struct session_view *)b)->s);

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Peer mode: count the sessions and keep the SESSIONS_SHOWN most recently active. */
static int read_sessions(int fd, struct iface_view *v)
{
	struct udpc_session *cur = malloc(sizeof(*cur));
	__u64 k, nk, tries = v->max_sessions * 2 + 16;
	int err, i, j;

	v->top = calloc(SESSIONS_SHOWN, sizeof(*v->top));
	if (!cur || !v->top) {
		free(cur);
		return -ENOMEM;
	}
	/* Bounded: a key evicted under our feet makes the walk start over. */
	for (err = bpf_map_get_next_key(fd, NULL, &k); !err && tries--;
	     err = bpf_map_get_next_key(fd, &k, &nk), k = nk) {
		if (bpf_map_lookup_elem(fd, &k, cur))
			continue; /* evicted meanwhile */
		v->sessions++;
		i = v->n_top;
		if (v->n_top < SESSIONS_SHOWN) {
			v->n_top++;
		} else {
			for (i = 0, j = 1; j < SESSIONS_SHOWN; j++)
				if (session_active_ns(&v->top[j].s) < session_active_ns(&v->top[i].s))
					i = j;
			if (session_active_ns(&v->top[i].s) >= session_active_ns(cur))
				continue;
		}
		v->top[i].id = k;
		memcpy(&v->top[i].s, cur, sizeof(*cur));
	}
	qsort(v->top, v->n_top, sizeof(*v->top), newest_first);
	free(cur);
	return 0;
}

static int read_view(const char *pin_dir, struct iface_view *v)
{
	struct udpc_instance probe = { .lock_fd = -1 };
	struct udpc_maps p;
	struct udpc_flow_key k, nk;
	int ncpu = libbpf_num_possible_cpus();
	__u32 i, zero = 0;
	int err, c;

	err = udpc_maps_open(&p, pin_dir);
	if (err)
		return err;
	if (bpf_map_lookup_elem(p.config, &zero, &v->cfg)) {
		err = -errno;
		goto out;
	}
	sum_percpu(p.global, 0, &v->gs, sizeof(v->gs), sizeof(v->gs) / 8);
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		struct dest_view *dv = &v->dests[v->n];
		struct udpc_dest_stats *all;

		if (bpf_map_lookup_elem(p.dests, &i, &dv->d) ||
		    bpf_map_lookup_elem(p.dest_info, &i, &dv->info) ||
		    dv->info.state == UDPC_STATE_UNUSED)
			continue;
		dv->slot = i;
		bpf_map_lookup_elem(p.uplinks, &i, &dv->up);
		/* Counters add up over CPUs; the last reply time is the latest of them. */
		sum_percpu(p.dest_stats, i, &dv->st, sizeof(dv->st),
			   offsetof(struct udpc_dest_stats, last_rx_ns) / 8);
		all = calloc(ncpu > 0 ? ncpu : 1, sizeof(*all));
		if (all && bpf_map_lookup_elem(p.dest_stats, &i, all) == 0)
			for (c = 0; c < ncpu; c++)
				if (all[c].last_rx_ns > dv->st.last_rx_ns)
					dv->st.last_rx_ns = all[c].last_rx_ns;
		free(all);
		/* A name too long for the buffer is still shown, cut short. */
		udpc_fmt_dest(dv->info.host, ntohs(dv->d.port), dv->info.uplink, dv->info.table,
			      dv->name, sizeof(dv->name));
		if (uplink_state(dv))
			uplink_ifname(dv, dv->via);
		v->n++;
	}
	v->max_flows = p.max_flows;
	for (err = bpf_map_get_next_key(p.flows, NULL, &k); !err;
	     err = bpf_map_get_next_key(p.flows, &k, &nk), k = nk)
		v->flows++;
	err = 0;
	bpf_map_lookup_elem(p.peer_cfg, &zero, &v->pcfg);
	v->mode = udpc_mode_of(v->pcfg.flags);
	v->max_sessions = p.max_sessions;
	if (v->mode != UDPC_MODE_PLAIN) {
		sum_percpu(p.peer_stats, 0, &v->ps, sizeof(v->ps), sizeof(v->ps) / 8);
		err = read_sessions(p.sessions, v);
		if (err)
			goto out;
	}

	/* The lock is held exactly while a daemon runs. */
	snprintf(probe.pin_dir, sizeof(probe.pin_dir), "%s", pin_dir);
	v->running = udpc_instance_lock(&probe, false) == -EBUSY;
	if (probe.lock_fd >= 0)
		close(probe.lock_fd);
	/* The lock holder's pid: the configuration's is written only after loading, and
	 * while a new daemon adopts the pins it still names the one before. */
	v->pid = v->running ? udpc_owner_pid(pin_dir) : 0;
	if (!v->pid)
		v->pid = v->cfg.owner_pid;
	v->filters[0] = udpc_filter_present(v->cfg.ifindex, false) == 1;
	v->filters[1] = udpc_filter_present(v->cfg.ifindex, true) == 1;
out:
	udpc_maps_close(&p);
	return err;
}

/* Seconds since the last reply; one stamped after `now` was read is 0 s old. */
static double reply_age(const struct dest_view *dv, __u64 now)
{
	return now > dv->st.last_rx_ns ? (now - dv->st.last_rx_ns) / 1e9 : 0;
}

/* The state to show: the uplink's when it stops the copies, else the resolution's. */
static const char *dest_state(const struct dest_view *dv)
{
	const char *up = uplink_state(dv);

	return up && strcmp(up, "up") ? up : state_name(dv->info.state);
}

/*
 * Every number `status` shows is one row of a table below: the text columns, the
 * JSON printer and the Prometheus printer all walk the same rows, so a counter
 * added to the data path is added once and the three outputs cannot drift apart.
 * Rows are in output order: JSON members as docs/STATUS.md lists them, metric
 * families as printed. What is not a number (names, addresses, states, labelled
 * samples) is written out by each printer.
 */
#define F_ERRORS (1U << 0)	 /* adds up into the text output's ERRORS column */
#define F_PROM_NONZERO (1U << 1) /* no sample while 0: a time that has not come yet */
#define F_SERVE (1U << 2)	 /* only of a serve instance */

struct field {
	const char *json;	/* member name; NULL: not in --json */
	const char *group;	/* the JSON object it sits in ("counters"); NULL: none */
	const char *prom;	/* metric name; NULL: not in --prometheus */
	const char *type;	/* the metric's TYPE: "counter" or "gauge" */
	const char *help;	/* the metric's HELP */
	const char *column;	/* text: the column's heading; NULL: no column of its own */
	int width;		/* text: the column's width */
	unsigned int flags;	/* F_* */
	size_t off;		/* of a __u64 in the view (iface_view or dest_view)... */
	__u64 (*get)(const void *view); /* ...unless it is worked out from the view */
	double (*ratio)(const void *view); /* a share 0..1 instead, < 0 if unknown */
	double (*real)(const void *view); /* a number (ms, s) instead, < 0 if unknown... */
	int prec;		/* ...with this many decimals in --json (text: 1) */
};

static bool same_group(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static __u64 field_value(const struct field *f, const void *view)
{
	__u64 x;

	if (f->get)
		return f->get(view);
	memcpy(&x, (const char *)view + f->off, sizeof(x));
	return x;
}

static __u64 flow_timeout_s(const void *view)
{
	return ((const struct iface_view *)view)->cfg.flow_timeout_ns / 1000000000ULL;
}

/* Only the LRU removes flows: what was created and is not there was evicted. */
static __u64 flows_evicted(const void *view)
{
	const struct iface_view *v = view;

	return v->gs.flow_new > v->flows ? v->gs.flow_new - v->flows : 0;
}

#define IFV(m) offsetof(struct iface_view, m)
#define IFACE_COUNTER(j, p, h, m) \
	{ .json = (j), .group = "counters", .prom = (p), .type = "counter", .help = (h), .off = IFV(m) }

static const struct field iface_fields[] = {
	{ .json = "flow_timeout_s", .get = flow_timeout_s },
	{ .json = "flows", .prom = "udpclone_bpf_flows", .type = "gauge",
	  .help = "Client flows remembered for the return path.", .off = IFV(flows) },
	{ .json = "max_flows", .prom = "udpclone_bpf_flows_max", .type = "gauge",
	  .help = "Size of the flow table (attach --max-flows): beyond it the least recently used flow is evicted.",
	  .off = IFV(max_flows) },
	IFACE_COUNTER("matched", "udpclone_bpf_matched_packets_total",
		      "UDP packets to the listen port caught for fan-out (including those dropped for want of a destination).",
		      gs.matched),
	IFACE_COUNTER("no_dest", "udpclone_bpf_no_destination_drops_total",
		      "Matched packets dropped because no destination had an address of their family.",
		      gs.no_dest),
	IFACE_COUNTER("skipped", "udpclone_bpf_skipped_packets_total",
		      "UDP packets to the listen port passed untouched: first fragments, IPv4 with options, IPv6 with extension headers.",
		      gs.skipped),
	IFACE_COUNTER("flow_errors", "udpclone_bpf_flow_errors_total",
		      "Client flows that could not be recorded.", gs.flow_errors),
	IFACE_COUNTER("rx_no_flow", "udpclone_bpf_replies_no_flow_total",
		      "Packets from a destination to no known (or an idle) client flow, passed untouched.",
		      gs.rx_no_flow),
	IFACE_COUNTER("flows_created", "udpclone_bpf_flows_created_total",
		      "Client flows created; created minus udpclone_bpf_flows is the number evicted by the LRU.",
		      gs.flow_new),
	{ .json = "flows_evicted", .group = "counters", .get = flows_evicted },
};

static __u64 dest_errors(const void *view);

#define DV(m) offsetof(struct dest_view, m)
#define DEST_COUNTER(j, p, h, m, ...) \
	{ .json = (j), .prom = (p), .type = "counter", .help = (h), .off = DV(st.m), __VA_ARGS__ }

static const struct field dest_fields[] = {
	{ .json = "last_resolved", .prom = "udpclone_bpf_destination_last_resolved_timestamp_seconds",
	  .type = "gauge",
	  .help = "Unix time of the destination's last successful resolution (absent if never).",
	  .flags = F_PROM_NONZERO, .off = DV(info.last_resolved) },
	DEST_COUNTER("tx_packets", "udpclone_bpf_tx_packets_total",
		     "Copies sent to the destination (the original packet counts as one).", tx_packets,
		     .column = "TX_PKTS", .width = 10),
	DEST_COUNTER("tx_bytes", "udpclone_bpf_tx_bytes_total",
		     "Bytes of the copies sent to the destination, as seen at TC.", tx_bytes,
		     .column = "TX_BYTES", .width = 12),
	DEST_COUNTER("tx_errors", "udpclone_bpf_tx_errors_total",
		     "Copies lost because rewriting or cloning the packet failed.", tx_errors,
		     .flags = F_ERRORS),
	DEST_COUNTER("fib_errors", "udpclone_bpf_fib_errors_total",
		     "Copies dropped because there is no usable route to the destination.", fib_errors,
		     .flags = F_ERRORS),
	DEST_COUNTER("mtu_errors", "udpclone_bpf_mtu_errors_total",
		     "Copies dropped because they exceed the uplink's MTU.", mtu_errors,
		     .flags = F_ERRORS),
	DEST_COUNTER("down_drops", "udpclone_bpf_down_drops_total",
		     "Copies dropped because the destination's uplink was down or missing.", down_drops,
		     .flags = F_ERRORS),
	{ .column = "ERRORS", .width = 7, .get = dest_errors },
	DEST_COUNTER("icmp_errors", "udpclone_bpf_icmp_errors_total",
		     "ICMP unreachable errors about copies to the destination, kept from the client's socket.",
		     icmp_errors),
	DEST_COUNTER("neigh_missing", "udpclone_bpf_neigh_missing_total",
		     "Copies sent with the original packet's Ethernet header because the next hop was not known yet.",
		     neigh_missing, .column = "NEIGH", .width = 7),
	DEST_COUNTER("rx_packets", "udpclone_bpf_rx_packets_total",
		     "Replies from the destination mapped back to a client.", rx_packets,
		     .column = "RX_PKTS", .width = 10),
	DEST_COUNTER("rx_bytes", "udpclone_bpf_rx_bytes_total",
		     "Bytes of the replies from the destination mapped back to a client.", rx_bytes),
};

/* Copies that did not go out: the rows marked F_ERRORS (docs/STATUS.md: ERRORS). */
static __u64 dest_errors(const void *view)
{
	__u64 sum = 0;
	size_t k;

	for (k = 0; k < ARRAY_SIZE(dest_fields); k++)
		if (dest_fields[k].flags & F_ERRORS)
			sum += field_value(&dest_fields[k], view);
	return sum;
}

static __u64 to_port(const void *view)
{
	return ntohs(((const struct iface_view *)view)->pcfg.to_port);
}

static __u64 path_timeout_s(const void *view)
{
	return ((const struct iface_view *)view)->pcfg.path_timeout_ns / 1000000000ULL;
}

static __u64 session_timeout_s(const void *view)
{
	return ((const struct iface_view *)view)->pcfg.session_timeout_ns / 1000000000ULL;
}

/* Only the LRU removes sessions: what was created and is not there was evicted. */
static __u64 sessions_evicted(const void *view)
{
	const struct iface_view *v = view;

	return v->ps.sessions_new > v->sessions ? v->ps.sessions_new - v->sessions : 0;
}

#define PEER_COUNTER(j, p, h, m) \
	{ .json = (j), .group = "counters", .prom = (p), .type = "counter", .help = (h), .off = IFV(ps.m) }

/* Peer mode (attach --peer and serve), in the "peer" object and its metrics. */
static const struct field peer_fields[] = {
	{ .json = "to_port", .flags = F_SERVE, .get = to_port },
	{ .json = "path_timeout_s", .flags = F_SERVE, .get = path_timeout_s },
	{ .json = "session_timeout_s", .flags = F_SERVE, .get = session_timeout_s },
	{ .json = "sessions", .prom = "udpclone_bpf_peer_sessions", .type = "gauge",
	  .help = "Peer-mode sessions in the session table.", .off = IFV(sessions) },
	{ .json = "max_sessions", .prom = "udpclone_bpf_peer_sessions_max", .type = "gauge",
	  .help = "Size of the session table (--max-sessions): beyond it the least recently used session is evicted.",
	  .off = IFV(max_sessions) },
	PEER_COUNTER("rx_delivered", "udpclone_bpf_peer_rx_delivered_total",
		     "Datagrams delivered: the first copy of each sequence number.", rx_delivered),
	PEER_COUNTER("rx_duplicates", "udpclone_bpf_peer_rx_duplicates_total",
		     "Later copies of a delivered sequence number, dropped.", rx_duplicates),
	PEER_COUNTER("rx_late", "udpclone_bpf_peer_rx_late_total",
		     "Copies older than the duplicate window, dropped.", rx_late),
	PEER_COUNTER("rx_malformed", "udpclone_bpf_peer_rx_malformed_total",
		     "Packets to our port that were short or had a bad version or type, dropped.",
		     rx_malformed),
	PEER_COUNTER("rx_unknown", "udpclone_bpf_peer_rx_unknown_total",
		     "Client: replies of an unknown session, or of another flow's, dropped.", rx_unknown),
	PEER_COUNTER("sessions_created", "udpclone_bpf_peer_sessions_created_total",
		     "Sessions created; created minus udpclone_bpf_peer_sessions is the number evicted.",
		     sessions_new),
	PEER_COUNTER("session_errors", "udpclone_bpf_peer_session_errors_total",
		     "Datagrams dropped because their session could not be created.", session_errors),
	PEER_COUNTER("label_conflicts", "udpclone_bpf_peer_label_conflicts_total",
		     "Server: a session's delivery address was another live session's.", label_conflicts),
	PEER_COUNTER("path_moves", "udpclone_bpf_peer_path_moves_total",
		     "Server: a path's client address or port changed (NAT rebinding).", path_moves),
	PEER_COUNTER("tx_encap", "udpclone_bpf_peer_tx_encap_total",
		     "Datagrams given the peer header (once, before their copies).", tx_encap),
	PEER_COUNTER("tx_gso", "udpclone_bpf_peer_tx_gso_total",
		     "GSO super-packets, which cannot take the header, dropped.", tx_gso),
	PEER_COUNTER("tx_too_big", "udpclone_bpf_peer_tx_too_big_total",
		     "Datagrams the header would make too long, dropped.", tx_too_big),
	PEER_COUNTER("tx_no_path", "udpclone_bpf_peer_tx_no_path_total",
		     "Server: replies of a session with no live path, dropped.", tx_no_path),
	PEER_COUNTER("tx_errors", "udpclone_bpf_peer_tx_errors_total",
		     "Datagrams the header could not be added to, dropped.", tx_errors),
	PEER_COUNTER("ka_rx", "udpclone_bpf_peer_keepalives_rx_total",
		     "Keepalives: client, echoes taken; server, keepalives received.", ka_rx),
	PEER_COUNTER("ka_echoed", "udpclone_bpf_peer_keepalives_echoed_total",
		     "Server: keepalives answered with an echo by the path they came.", ka_echoed),
	{ .json = "sessions_evicted", .group = "counters", .get = sessions_evicted },
};

#define SV(m) offsetof(struct session_view, m)

static const struct field session_fields[] = {
	{ .json = "rx_delivered", .column = "DELIVERED", .width = 10, .off = SV(s.rx_delivered) },
	{ .json = "rx_duplicates", .column = "DUPLICATES", .width = 10, .off = SV(s.rx_duplicates) },
	{ .json = "rx_late", .column = "LATE", .width = 7, .off = SV(s.rx_late) },
};

static double path_first_share(const void *view)
{
	const struct path_view *pv = view;

	return udpc_path_first_share(pv->p.rx_first, pv->p.rx_packets);
}

static double path_loss(const void *view)
{
	const struct path_view *pv = view;

	return udpc_path_loss(pv->p.rx_packets, pv->p.seq_first, pv->p.seq_last);
}

#define PV(m) offsetof(struct path_view, m)

static __u64 path_duplicates(const void *view)
{
	const struct path_view *pv = view;

	return udpc_path_duplicates(pv->p.rx_packets, pv->p.rx_first, pv->p.rx_late);
}

static double path_rtt_ms(const void *view)
{
	return udpc_ns_to_ms(((const struct path_view *)view)->p.rtt_ns);
}

static double path_rtt_last_ms(const void *view)
{
	return udpc_ns_to_ms(((const struct path_view *)view)->p.rtt_last_ns);
}

static double path_ka_age(const void *view)
{
	const struct path_view *pv = view;

	return udpc_age_s(pv->p.ka_last_ns, pv->now);
}

/* What the other end reported of the path: the direction towards it. */
static double path_peer_first_share(const void *view)
{
	const struct path_view *pv = view;

	return udpc_path_first_share(pv->p.peer_rx_first, pv->p.peer_rx_packets);
}

static double path_peer_loss(const void *view)
{
	const struct path_view *pv = view;

	return udpc_path_loss(pv->p.peer_rx_packets, pv->p.peer_seq_first, pv->p.peer_seq_last);
}

/* A path's counters, then its health from keepalives (docs/PEER.md, "Path health"). */
static const struct field path_fields[] = {
	{ .json = "rx_packets", .column = "RX", .width = 10, .off = PV(p.rx_packets) },
	{ .json = "rx_first", .off = PV(p.rx_first) },
	{ .json = "first_share", .column = "FIRST", .width = 7, .ratio = path_first_share },
	{ .json = "rx_late", .column = "LATE", .width = 7, .off = PV(p.rx_late) },
	{ .json = "rx_duplicates", .column = "DUPS", .width = 8, .get = path_duplicates },
	{ .json = "loss", .column = "LOSS", .width = 7, .ratio = path_loss },
	{ .json = "tx_packets", .column = "TX", .width = 10, .off = PV(p.tx_packets) },
	{ .json = "rtt_ms", .column = "RTT_MS", .width = 7, .real = path_rtt_ms, .prec = 3 },
	{ .json = "rtt_last_ms", .real = path_rtt_last_ms, .prec = 3 },
	{ .json = "ka_rx", .column = "KA", .width = 7, .off = PV(p.ka_rx) },
	{ .json = "ka_last_age_s", .column = "KA_AGE", .width = 7, .real = path_ka_age, .prec = 3 },
	{ .json = "peer_rx_packets", .off = PV(p.peer_rx_packets) },
	{ .json = "peer_rx_first", .off = PV(p.peer_rx_first) },
	{ .json = "peer_first_share", .column = "PEER_FIRST", .width = 10,
	  .ratio = path_peer_first_share },
	{ .json = "peer_loss", .column = "PEER_LOSS", .width = 9, .ratio = path_peer_loss },
};

/* The paths of a session worth showing into out[UDPC_MAX_DESTS]; returns how many.
 * Server: those it has seen. Client: one per destination (slot = path id). */
static int session_paths(const struct iface_view *v, const struct session_view *sv, __u64 now,
			 struct path_view *out)
{
	int n = 0, i;

	if (v->mode == UDPC_MODE_SERVE) {
		for (i = 0; i < UDPC_MAX_DESTS; i++)
			if (sv->s.path[i].flags & UDPC_PATH_SEEN)
				out[n++] = (struct path_view){ .id = i, .p = sv->s.path[i], .now = now };
		return n;
	}
	for (i = 0; i < v->n; i++) {
		__u32 slot = v->dests[i].slot;

		out[n++] = (struct path_view){ .id = slot, .p = sv->s.path[slot], .now = now,
					       .dest = v->dests[i].name };
	}
	return n;
}

/* ADDR:PORT ([IPv6]:PORT) of a family UDPC_AF_* address; port in network order. */
static const char *addr_port(int family, const struct udpc_addr *a, __be16 port, char *buf,
			     size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	udpc_fmt_dest(udpc_addr_str(family, a, addr, sizeof(addr)), ntohs(port), NULL, 0, buf,
		      len);
	return buf;
}

/* A text column of a table row: the number, or the share as a percentage ("-": unknown). */
static void text_cell(const struct field *f, const void *view)
{
	double r;

	if (!f->ratio && !f->real) {
		printf(" %*llu", f->width, (unsigned long long)field_value(f, view));
		return;
	}
	r = f->ratio ? f->ratio(view) : f->real(view);
	if (r < 0)
		printf(" %*s", f->width, "-");
	else if (f->ratio)
		printf(" %*.1f%%", f->width - 1, 100 * r);
	else
		printf(" %*.1f", f->width, r);
}

static void text_headings(const struct field *f, size_t n)
{
	for (; n; n--, f++)
		if (f->column)
			printf(" %*s", f->width, f->column);
}

static void text_cells(const struct field *f, size_t n, const void *view)
{
	for (; n; n--, f++)
		if (f->column)
			text_cell(f, view);
}

/* Peer mode's part of the text output: the table's sizes and counters, then the
 * sessions, each with its paths. */
static void print_text_peer(const struct iface_view *v, __u64 now)
{
	struct path_view pv[UDPC_MAX_DESTS];
	const char *sep = "";
	size_t k;
	int i, j, n;

	if (v->mode == UDPC_MODE_PEER)
		printf("  peer mode: on (the destinations are serve endpoints)\n");
	printf("  sessions: %llu of at most %llu, %llu evicted\n", (unsigned long long)v->sessions,
	       (unsigned long long)v->max_sessions, (unsigned long long)sessions_evicted(v));
	printf("  peer counters:");
	for (k = 0; k < ARRAY_SIZE(peer_fields); k++) {
		if (!same_group(peer_fields[k].group, "counters"))
			continue;
		printf("%s %s %llu", sep, peer_fields[k].json,
		       (unsigned long long)field_value(&peer_fields[k], v));
		sep = ",";
	}
	printf("\n");
	if (!v->n_top)
		return;
	printf("  %-16s %-30s %8s %9s", "SESSION", "LABEL", "AGE", "LAST_RX");
	text_headings(session_fields, ARRAY_SIZE(session_fields));
	if (v->mode == UDPC_MODE_SERVE)
		printf("\n    %-4s %-30s %-15s %9s", "PATH", "CLIENT", "LOCAL", "LAST_RX");
	else
		printf("\n    %-4s %-46s %9s", "PATH", "DESTINATION", "LAST_RX");
	text_headings(path_fields, ARRAY_SIZE(path_fields));
	printf("\n");
	for (i = 0; i < v->n_top; i++) {
		const struct session_view *sv = &v->top[i];
		char label[UDPC_DEST_STR_MAX] = "-", last[32] = "never";

		if (sv->s.family) /* a session made by an older data path has none */
			addr_port(sv->s.family, &sv->s.label, sv->s.label_port, label, sizeof(label));
		if (sv->s.last_rx_ns)
			snprintf(last, sizeof(last), "%.1fs", udpc_elapsed_s(sv->s.last_rx_ns, now));
		printf("  %016llx %-30s %7.1fs %9s", (unsigned long long)sv->id, label,
		       udpc_elapsed_s(sv->s.created_ns, now), last);
		text_cells(session_fields, ARRAY_SIZE(session_fields), sv);
		printf("\n");
		n = session_paths(v, sv, now, pv);
		for (j = 0; j < n; j++) {
			char from[UDPC_DEST_STR_MAX], local[INET6_ADDRSTRLEN];

			snprintf(last, sizeof(last), "never");
			if (pv[j].p.last_rx_ns)
				snprintf(last, sizeof(last), "%.1fs", udpc_elapsed_s(pv[j].p.last_rx_ns, now));
			if (pv[j].dest) {
				printf("    %-4u %-46s %9s", pv[j].id, pv[j].dest, last);
			} else {
				addr_port(pv[j].p.family, &pv[j].p.addr, pv[j].p.port, from, sizeof(from));
				udpc_addr_str(pv[j].p.family, &pv[j].p.local, local, sizeof(local));
				printf("    %-4u %-30s %-15s %9s", pv[j].id, from, local, last);
			}
			text_cells(path_fields, ARRAY_SIZE(path_fields), &pv[j]);
			printf("\n");
		}
	}
	if (v->sessions > (__u64)v->n_top)
		printf("  (%llu more sessions not shown: the %d most recently active are)\n",
		       (unsigned long long)(v->sessions - v->n_top), v->n_top);
}

static void print_text(const struct iface_view *v, __u64 now)
{
	char listen[INET6_ADDRSTRLEN + 16] = "any address";
	int i;

	if (v->cfg.flags & UDPC_CFG_LISTEN_ADDR)
		udpc_addr_str(v->cfg.listen_family, &v->cfg.listen_addr, listen, sizeof(listen));
	if (v->mode == UDPC_MODE_SERVE)
		printf("%s: serve: UDP port %u, delivered to local port %llu\n", v->ifname,
		       ntohs(v->cfg.listen_port), (unsigned long long)to_port(v));
	else
		printf("%s: UDP port %u (%s) fanned out to %d destination%s\n", v->ifname,
		       ntohs(v->cfg.listen_port), listen, v->n, v->n == 1 ? "" : "s");
	if (v->running)
		printf("  daemon: pid %u running\n", v->pid);
	else if (v->mode == UDPC_MODE_SERVE)
		printf("  daemon: not running (the data path serves its sessions on its own)\n");
	else
		printf("  daemon: not running (the data path forwards to the last known addresses)\n");
	printf("  filters: ingress %s, egress %s\n", v->filters[0] ? "attached" : "MISSING",
	       v->filters[1] ? "attached" : "MISSING");
	if (v->mode == UDPC_MODE_SERVE) {
		print_text_peer(v, now);
		return;
	}
	printf("  packets: %llu to the listen port, %llu of them dropped (no destination), %llu passed untouched (fragment, IP options or IPv6 extension headers)\n",
	       (unsigned long long)v->gs.matched, (unsigned long long)v->gs.no_dest,
	       (unsigned long long)v->gs.skipped);
	printf("  flows: %llu of at most %llu (idle timeout %llu s), %llu evicted, %llu flow errors, %llu replies to no known flow\n",
	       (unsigned long long)v->flows, (unsigned long long)v->max_flows,
	       (unsigned long long)flow_timeout_s(v), (unsigned long long)flows_evicted(v),
	       (unsigned long long)v->gs.flow_errors, (unsigned long long)v->gs.rx_no_flow);
	printf("  %-28s %-10s %-28s", "DESTINATION", "STATE", "ADDRESS");
	text_headings(dest_fields, ARRAY_SIZE(dest_fields));
	printf(" %10s\n", "LAST_REPLY");
	for (i = 0; i < v->n; i++) {
		const struct dest_view *dv = &v->dests[i];
		char addr[INET6_ADDRSTRLEN * 2 + 4], a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN],
			age[32] = "never";

		udpc_dest_addrs(&dv->d, ",", "-", addr, sizeof(addr));
		if (dv->st.last_rx_ns)
			snprintf(age, sizeof(age), "%.1fs ago", reply_age(dv, now));
		printf("  %-28s %-10s %-28s", dv->name, dest_state(dv), addr);
		text_cells(dest_fields, ARRAY_SIZE(dest_fields), dv);
		printf(" %10s\n", age);
		if (dv->info.last_error)
			printf("  %-28s last resolution failed: %s\n", "", gai_strerror(dv->info.last_error));
		if (uplink_state(dv)) {
			struct udpc_addr s4 = { .w = { dv->up.src4 } };

			printf("  %-28s via %s (%s", "", dv->via, uplink_state(dv));
			if (dv->up.flags & UDPC_UPLINK_SRC4)
				printf(", from %s", udpc_addr_str(UDPC_AF_INET, &s4, a4, sizeof(a4)));
			if (dv->up.flags & UDPC_UPLINK_SRC6)
				printf(", from %s", udpc_addr_str(UDPC_AF_INET6, &dv->up.src6, a6, sizeof(a6)));
			if (dv->up.ifindex)
				printf(", mtu %u", dv->up.mtu);
			printf(")\n");
		}
		if (dv->st.mtu_errors || dv->st.down_drops)
			printf("  %-28s dropped: %llu over the MTU, %llu while the uplink was down\n", "",
			       (unsigned long long)dv->st.mtu_errors,
			       (unsigned long long)dv->st.down_drops);
		if (dv->st.icmp_errors)
			printf("  %-28s %llu \"unreachable\" errors about its copies (kept from the client)\n",
			       "", (unsigned long long)dv->st.icmp_errors);
	}
	if (v->mode == UDPC_MODE_PEER)
		print_text_peer(v, now);
}

static void json_addr(int family, const struct udpc_addr *a, bool valid)
{
	char buf[INET6_ADDRSTRLEN];

	if (valid)
		json_str(udpc_addr_str(family, a, buf, sizeof(buf)));
	else
		fputs("null", stdout);
}

/* A table's members, each after a comma (the caller has printed a member before),
 * rows of one group gathered in one nested object; rows with a flag of skip are left out. */
static void json_fields(const struct field *f, size_t n, const void *view, unsigned int skip)
{
	const char *group = NULL, *sep = ",";

	for (; n; n--, f++) {
		if (!f->json || (f->flags & skip))
			continue;
		if (!same_group(f->group, group)) {
			if (group)
				putchar('}');
			sep = ",";
			if (f->group) {
				printf(",\"%s\":{", f->group);
				sep = "";
			}
			group = f->group;
		}
		if ((f->ratio && f->ratio(view) < 0) || (f->real && f->real(view) < 0))
			printf("%s\"%s\":null", sep, f->json);
		else if (f->ratio)
			printf("%s\"%s\":%.4f", sep, f->json, f->ratio(view));
		else if (f->real)
			printf("%s\"%s\":%.*f", sep, f->json, f->prec, f->real(view));
		else
			printf("%s\"%s\":%llu", sep, f->json, (unsigned long long)field_value(f, view));
		sep = ",";
	}
	if (group)
		putchar('}');
}

/* An age in seconds, or null for a time that has not come yet (stamp 0). */
static void json_age(__u64 stamp, __u64 now)
{
	if (stamp)
		printf("%.3f", udpc_elapsed_s(stamp, now));
	else
		fputs("null", stdout);
}

static void json_addr_port(int family, const struct udpc_addr *a, __be16 port, bool valid)
{
	char buf[UDPC_DEST_STR_MAX];

	if (valid)
		json_str(addr_port(family, a, port, buf, sizeof(buf)));
	else
		fputs("null", stdout);
}

/* ,"peer":{...}: peer mode's member of an interface (docs/STATUS.md, "peer"). */
static void print_json_peer(const struct iface_view *v, __u64 now)
{
	struct path_view pv[UDPC_MAX_DESTS];
	int i, j, n;

	printf(",\"peer\":{\"mode\":\"%s\"", v->mode == UDPC_MODE_SERVE ? "server" : "client");
	json_fields(peer_fields, ARRAY_SIZE(peer_fields), v,
		    v->mode == UDPC_MODE_SERVE ? 0 : F_SERVE);
	printf(",\"sessions_not_shown\":%llu,\"session_list\":[",
	       (unsigned long long)(v->sessions - v->n_top));
	for (i = 0; i < v->n_top; i++) {
		const struct session_view *sv = &v->top[i];

		printf("%s{\"id\":\"%016llx\",\"label\":", i ? "," : "", (unsigned long long)sv->id);
		json_addr_port(sv->s.family, &sv->s.label, sv->s.label_port, sv->s.family != 0);
		printf(",\"age_s\":%.3f,\"last_rx_age_s\":", udpc_elapsed_s(sv->s.created_ns, now));
		json_age(sv->s.last_rx_ns, now);
		json_fields(session_fields, ARRAY_SIZE(session_fields), sv, 0);
		printf(",\"paths\":[");
		n = session_paths(v, sv, now, pv);
		for (j = 0; j < n; j++) {
			bool seen = !pv[j].dest;

			printf("%s{\"path\":%u,\"destination\":", j ? "," : "", pv[j].id);
			if (pv[j].dest)
				json_str(pv[j].dest);
			else
				fputs("null", stdout);
			printf(",\"client\":");
			json_addr_port(pv[j].p.family, &pv[j].p.addr, pv[j].p.port, seen);
			printf(",\"local\":");
			json_addr(pv[j].p.family, &pv[j].p.local, seen);
			printf(",\"last_rx_age_s\":");
			json_age(pv[j].p.last_rx_ns, now);
			json_fields(path_fields, ARRAY_SIZE(path_fields), &pv[j], 0);
			putchar('}');
		}
		printf("]}");
	}
	printf("]}");
}

static void print_json(const struct iface_view *v, __u64 now)
{
	int i;

	printf("{\"interface\":");
	json_str(v->ifname);
	printf(",\"ifindex\":%u,\"running\":%s,\"pid\":%u,", v->cfg.ifindex,
	       v->running ? "true" : "false", v->pid);
	printf("\"filters\":{\"ingress\":%s,\"egress\":%s},", v->filters[0] ? "true" : "false",
	       v->filters[1] ? "true" : "false");
	printf("\"listen\":{\"port\":%u,\"address\":", ntohs(v->cfg.listen_port));
	json_addr(v->cfg.listen_family, &v->cfg.listen_addr, v->cfg.flags & UDPC_CFG_LISTEN_ADDR);
	putchar('}');
	if (v->mode == UDPC_MODE_SERVE) {
		print_json_peer(v, now);
		tcp_print_json(v->tcp, now);
		putchar('}');
		return;
	}
	json_fields(iface_fields, ARRAY_SIZE(iface_fields), v, 0);
	printf(",\"destinations\":[");
	for (i = 0; i < v->n; i++) {
		const struct dest_view *dv = &v->dests[i];
		struct udpc_addr v4 = { .w = { dv->d.addr4 } };

		printf("%s{\"host\":", i ? "," : "");
		json_str(dv->info.host);
		printf(",\"port\":%u,\"state\":\"%s\",\"ipv4\":", ntohs(dv->d.port),
		       dest_state(dv));
		json_addr(UDPC_AF_INET, &v4, dv->d.flags & UDPC_DEST_V4);
		printf(",\"ipv6\":");
		json_addr(UDPC_AF_INET6, &dv->d.addr6, dv->d.flags & UDPC_DEST_V6);
		printf(",\"last_error\":");
		if (dv->info.last_error)
			json_str(gai_strerror(dv->info.last_error));
		else
			fputs("null", stdout);
		json_fields(dest_fields, ARRAY_SIZE(dest_fields), dv, 0);
		printf(",\"last_reply_age_s\":");
		if (dv->st.last_rx_ns)
			printf("%.3f", reply_age(dv, now));
		else
			fputs("null", stdout);
		printf(",\"uplink\":");
		if (uplink_state(dv)) {
			struct udpc_addr s4 = { .w = { dv->up.src4 } };

			printf("{\"interface\":");
			json_str(dv->via);
			printf(",\"table\":%u", dv->info.table);
			printf(",\"ifindex\":%u,\"state\":\"%s\",\"source4\":", dv->up.ifindex,
			       uplink_state(dv));
			json_addr(UDPC_AF_INET, &s4, dv->up.flags & UDPC_UPLINK_SRC4);
			printf(",\"source6\":");
			json_addr(UDPC_AF_INET6, &dv->up.src6, dv->up.flags & UDPC_UPLINK_SRC6);
			printf(",\"mtu\":%u}", dv->up.mtu);
		} else {
			fputs("null", stdout);
		}
		putchar('}');
	}
	putchar(']');
	if (v->mode == UDPC_MODE_PEER)
		print_json_peer(v, now);
	tcp_print_json(v->tcp, now);
	putchar('}');
}

/*
 * Prometheus text exposition format (version 0.0.4). Every sample of a metric must
 * follow its HELP and TYPE lines in one group, so this prints metric by metric over
 * all interfaces rather than interface by interface.
 */

/* Opens a sample: NAME{interface="..."  (the caller adds labels, then closes it). */
static void prom_iface(const char *name, const struct iface_view *v)
{
	printf("%s{interface=\"", name);
	prom_str(v->ifname);
	putchar('"');
}

/* NAME{interface="...",destination="HOST:PORT",slot="N"  (the slot keeps series apart
 * when one HOST:PORT is listed twice). */
static void prom_dest(const char *name, const struct iface_view *v, const struct dest_view *dv)
{
	prom_iface(name, v);
	fputs(",destination=\"", stdout);
	prom_str(dv->name);
	printf("\",slot=\"%u\"", dv->slot);
}

/* One sample of a table row: of the interface when dv is NULL, else of destination dv. */
static void prom_sample(const struct field *f, const struct iface_view *v,
			const struct dest_view *dv)
{
	__u64 x = field_value(f, dv ? (const void *)dv : v);

	if ((f->flags & F_PROM_NONZERO) && !x)
		return;
	if (dv)
		prom_dest(f->prom, v, dv);
	else
		prom_iface(f->prom, v);
	printf("} %llu\n", (unsigned long long)x);
}

/* Which interfaces a table's metrics are about. */
enum prom_scope {
	SCOPE_IFACE,	/* the fan-out (attach, with or without --peer) */
	SCOPE_DEST,	/* its destinations */
	SCOPE_PEER,	/* peer mode (attach --peer, serve) */
};

static bool in_scope(const struct iface_view *v, enum prom_scope scope)
{
	return scope == SCOPE_PEER ? v->mode != UDPC_MODE_PLAIN : v->mode != UDPC_MODE_SERVE;
}

/* The table's metrics, each one family over the interfaces in scope (SCOPE_DEST: all
 * their destinations); a family none is in is left out. */
static void prom_fields(const struct field *f, size_t nf, struct iface_view **views, size_t n,
			enum prom_scope scope)
{
	size_t i, any = 0;
	int j;

	for (i = 0; i < n; i++)
		any += in_scope(views[i], scope);
	for (; any && nf; nf--, f++) {
		if (!f->prom)
			continue;
		prom_family(f->prom, f->type, f->help);
		for (i = 0; i < n; i++) {
			if (!in_scope(views[i], scope))
				continue;
			if (scope != SCOPE_DEST)
				prom_sample(f, views[i], NULL);
			else
				for (j = 0; j < views[i]->n; j++)
					prom_sample(f, views[i], &views[i]->dests[j]);
		}
	}
}

static int iface_cmp(const void *a, const void *b)
{
	return strcmp((*(struct iface_view *const *)a)->ifname,
		      (*(struct iface_view *const *)b)->ifname);
}

/* tcp-client / tcp-server's metrics, after all the others. */
static void print_prometheus_tcp(struct iface_view **views, size_t n)
{
	struct tcp_view **tv = calloc(n ? n : 1, sizeof(*tv));
	size_t i;

	if (!tv)
		return;
	for (i = 0; i < n; i++)
		tv[i] = views[i]->tcp;
	tcp_print_prometheus(tv, n);
	free(tv);
}

static void print_prometheus(struct iface_view **views, size_t n, __u64 now)
{
	static const __u32 states[] = { UDPC_STATE_UNRESOLVED, UDPC_STATE_ACTIVE, UDPC_STATE_STALE };
	size_t i, k;
	int j;

	if (n > 1)
		qsort(views, n, sizeof(*views), iface_cmp);
	prom_family("udpclone_bpf_build_info", "gauge", "Version of the udpclone-bpf that wrote this.");
	printf("udpclone_bpf_build_info{version=\"");
	prom_str(UDPC_VERSION);
	printf("\"} 1\n");
	if (!n)
		return;

	prom_family("udpclone_bpf_daemon_running", "gauge",
		    "1 while an attach daemon drives the interface; 0 when the data path runs on its own.");
	for (i = 0; i < n; i++) {
		prom_iface("udpclone_bpf_daemon_running", views[i]);
		printf("} %d\n", views[i]->running);
	}
	prom_family("udpclone_bpf_filter_attached", "gauge",
		    "1 if our TC filter is attached to the interface's hook.");
	for (i = 0; i < n; i++)
		for (j = 0; j < 2; j++) {
			prom_iface("udpclone_bpf_filter_attached", views[i]);
			printf(",hook=\"%s\"} %d\n", j ? "egress" : "ingress", views[i]->filters[j]);
		}
	prom_fields(iface_fields, ARRAY_SIZE(iface_fields), views, n, SCOPE_IFACE);

	prom_family("udpclone_bpf_destination_info", "gauge",
		    "A destination and the addresses its copies go to (empty: none of that family).");
	for (i = 0; i < n; i++)
		for (j = 0; j < views[i]->n; j++) {
			const struct dest_view *dv = &views[i]->dests[j];
			struct udpc_addr v4 = { .w = { dv->d.addr4 } };
			char a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "";

			if (dv->d.flags & UDPC_DEST_V4)
				udpc_addr_str(UDPC_AF_INET, &v4, a4, sizeof(a4));
			if (dv->d.flags & UDPC_DEST_V6)
				udpc_addr_str(UDPC_AF_INET6, &dv->d.addr6, a6, sizeof(a6));
			prom_dest("udpclone_bpf_destination_info", views[i], dv);
			fputs(",host=\"", stdout);
			prom_str(dv->info.host);
			printf("\",port=\"%u\",ipv4=\"%s\",ipv6=\"%s\"} 1\n", ntohs(dv->d.port), a4, a6);
		}
	prom_family("udpclone_bpf_destination_state", "gauge",
		    "1 for the destination's current state (active, unresolved or stale), 0 for the others.");
	for (i = 0; i < n; i++)
		for (j = 0; j < views[i]->n; j++)
			for (k = 0; k < ARRAY_SIZE(states); k++) {
				const struct dest_view *dv = &views[i]->dests[j];

				prom_dest("udpclone_bpf_destination_state", views[i], dv);
				printf(",state=\"%s\"} %d\n", state_name(states[k]),
				       dv->info.state == states[k]);
			}
	prom_fields(dest_fields, ARRAY_SIZE(dest_fields), views, n, SCOPE_DEST);
	prom_family("udpclone_bpf_uplink_up", "gauge",
		    "For destinations sent by an uplink (HOST:PORT@IFACE): 1 while it is up, 0 while it is down or missing.");
	for (i = 0; i < n; i++)
		for (j = 0; j < views[i]->n; j++) {
			const struct dest_view *dv = &views[i]->dests[j];

			if (!uplink_state(dv))
				continue;
			prom_dest("udpclone_bpf_uplink_up", views[i], dv);
			fputs(",uplink=\"", stdout);
			prom_str(dv->via);
			printf("\"} %d\n", !strcmp(uplink_state(dv), "up"));
		}
	prom_family("udpclone_bpf_last_reply_age_seconds", "gauge",
		    "Seconds since the destination's last reply was mapped back (absent if none yet).");
	for (i = 0; i < n; i++)
		for (j = 0; j < views[i]->n; j++) {
			const struct dest_view *dv = &views[i]->dests[j];

			if (!dv->st.last_rx_ns)
				continue;
			prom_dest("udpclone_bpf_last_reply_age_seconds", views[i], dv);
			printf("} %.3f\n", reply_age(dv, now));
		}
	prom_fields(peer_fields, ARRAY_SIZE(peer_fields), views, n, SCOPE_PEER);
	print_prometheus_tcp(views, n);
}

int udpc_status_run(const char *ifname, enum udpc_status_format format)
{
	char pin_dir[sizeof(((struct udpc_instance *)0)->pin_dir)];
	struct iface_view **keep = NULL; /* --prometheus: printed at the end, sorted */
	bool json = format == UDPC_STATUS_JSON;
	struct dirent *de;
	int shown = 0, ret = EXIT_SUCCESS, err, i;
	__u64 now = udpc_mono_ns();
	DIR *d;

	if (json)
		printf("{\"version\":\"%s\",\"interfaces\":[", UDPC_VERSION);
	d = opendir(UDPC_PIN_ROOT);
	if (!d && errno != ENOENT) {
		pr_warn("cannot read %s: %s%s\n", UDPC_PIN_ROOT, strerror(errno),
			errno == EACCES ? " (status needs root)" : "");
		ret = EXIT_FAILURE;
	}
	while (d && (de = readdir(d))) {
		struct iface_view *v;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= IF_NAMESIZE ||
		    (ifname && strcmp(ifname, de->d_name)))
			continue;
		v = calloc(1, sizeof(*v));
		if (!v)
			break;
		strcpy(v->ifname, de->d_name);
		err = udpc_pin_dir(v->ifname, pin_dir, sizeof(pin_dir));
		if (!err)
			err = read_view(pin_dir, v);
		/* an unreadable snapshot is one line on stderr; the pins are still shown */
		if (!err && tcp_view_load(v->ifname, &v->tcp))
			ret = EXIT_FAILURE;
		if (err == -EPROTO) {
			pr_warn("%s: pinned by another version of udpclone-bpf (other map layouts): use that version, or detach it\n",
				de->d_name);
			ret = EXIT_FAILURE;
		} else if (err) {
			pr_warn("cannot read the state of %s: %s\n", de->d_name, strerror(-err));
			ret = EXIT_FAILURE;
		} else if (format == UDPC_STATUS_PROMETHEUS) {
			struct iface_view **more = realloc(keep, (shown + 1) * sizeof(*keep));

			if (!more) {
				pr_warn("out of memory\n");
				ret = EXIT_FAILURE;
				view_free(v);
				break;
			}
			keep = more;
			keep[shown++] = v;
			continue;
		} else {
			if (json) {
				if (shown)
					putchar(',');
				print_json(v, now);
			} else {
				print_text(v, now);
				tcp_print_text(v->tcp, now);
			}
			shown++;
		}
		view_free(v);
	}
	if (d)
		closedir(d);
	if (json)
		printf("]}\n");
	if (format == UDPC_STATUS_PROMETHEUS) {
		print_prometheus(keep, shown, now);
		for (i = 0; i < shown; i++)
			view_free(keep[i]);
		free(keep);
	}
	if (!shown && ret == EXIT_SUCCESS) {
		if (ifname) {
			pr_warn("nothing of ours is attached to '%s'\n", ifname);
			ret = EXIT_FAILURE;
		} else if (format == UDPC_STATUS_TEXT) {
			printf("udpclone-bpf is not attached to any interface\n");
		}
	}
	return ret;
}
