// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * status's part about tcp-client / tcp-server (status_tcp.h): their snapshot as text,
 * JSON and Prometheus metrics. A snapshot whose writer is gone (killed outright: a
 * clean exit removes it) is stale: shown as not running, and none of its numbers are
 * offered as live.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pathstats.h"
#include "status_out.h"
#include "status_tcp.h"
#include "tcpstat_file.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TEXT_STREAMS 20		/* the text output lists the busiest; --json all */
#define TEXT_SESSIONS 20

struct tcp_view {
	char ifname[IF_NAMESIZE];
	bool running;		/* its writer still runs */
	struct tcpstat t;
};

int tcp_view_load(const char *ifname, struct tcp_view **out)
{
	struct tcp_view *v = calloc(1, sizeof(*v));
	char why[160] = "", path[160];
	int err;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	snprintf(v->ifname, sizeof(v->ifname), "%s", ifname);
	err = tcpstat_load(ifname, &v->t, why, sizeof(why));
	if (err == -ENOENT) {
		tcp_view_free(v);
		return 0;
	}
	if (err) {
		tcpstat_path(ifname, path, sizeof(path));
		pr_warn("%s: cannot read the stream layer's snapshot %s: %s\n", ifname, path,
			why[0] ? why : strerror(-err));
		tcp_view_free(v);
		return err;
	}
	v->running = tcpstat_writer_alive(&v->t);
	*out = v;
	return 0;
}

void tcp_view_free(struct tcp_view *v)
{
	if (v)
		tcpstat_free(&v->t);
	free(v);
}

/* ---- the link model's figures, one table for the three outputs ---- */

enum link_kind {
	L_US,		/* a time in µs: ms in text and JSON, seconds in Prometheus */
	L_US_SAMPLE,	/* the same, 0 until the first sample: "-", null, no sample */
	L_RATE,		/* bytes/s: KB/s in text */
	L_U64,
	L_U32,
	L_EPOCH,	/* 16 hex digits, a string in JSON */
	L_RATIO,	/* 0..1: a percentage in text */
};

struct link_col {
	const char *json;	/* member of "link" */
	const char *prom;	/* gauge, labelled interface and session; NULL: none */
	const char *help;
	const char *column;	/* text heading; NULL: no column */
	int width;
	enum link_kind kind;
	size_t off;		/* in struct stream_info */
};

#define LI(m) offsetof(struct stream_info, m)

static const struct link_col link_cols[] = {
	{ "srtt_ms", "udpclone_bpf_tcp_srtt_seconds",
	  "Smoothed round trip time of the session's link (absent before the first sample).",
	  "SRTT_MS", 8, L_US_SAMPLE, LI(srtt_us) },
	{ "rttvar_ms", NULL, NULL, NULL, 0, L_US, LI(rttvar_us) },
	{ "min_rtt_ms", "udpclone_bpf_tcp_min_rtt_seconds",
	  "Lowest round trip time of the last 10 s (absent before the first sample).",
	  "MIN_RTT", 8, L_US_SAMPLE, LI(min_rtt_us) },
	{ "rto_ms", "udpclone_bpf_tcp_rto_seconds", "Retransmission timeout of the session's link.",
	  "RTO_MS", 8, L_US, LI(rto_us) },
	{ "btl_bw", "udpclone_bpf_tcp_delivery_rate_bytes_per_second",
	  "Delivery rate of the session's link: the model's bottleneck bandwidth.",
	  "BW_KB/S", 9, L_RATE, LI(btl_bw) },
	{ "pacing_rate", "udpclone_bpf_tcp_pacing_rate_bytes_per_second",
	  "Rate the session's datagrams are paced at.", "PACE_KB/S", 9, L_RATE, LI(pacing_rate) },
	{ "cwnd", "udpclone_bpf_tcp_cwnd_bytes", "Bytes the session may have in flight.",
	  "CWND", 10, L_U64, LI(cwnd) },
	{ "bytes_in_flight", "udpclone_bpf_tcp_bytes_in_flight",
	  "Bytes sent and neither acked nor declared lost.", "IN_FLIGHT", 10, L_U64,
	  LI(bytes_in_flight) },
	{ "streams", "udpclone_bpf_tcp_session_streams", "Streams open in the session's engine.",
	  "STREAMS", 7, L_U32, LI(streams) },
	{ "peer_epoch", NULL, NULL, "PEER_EPOCH", 16, L_EPOCH, LI(peer_epoch) },
	{ "loss", "udpclone_bpf_tcp_loss_ratio", "Long-run fraction of the session's packets lost.",
	  "LOSS", 7, L_RATIO, LI(loss_avg) },
};

static uint64_t link_u64(const struct link_col *c, const struct stream_info *in)
{
	uint64_t x;
	uint32_t y;

	if (c->kind == L_U32) {
		memcpy(&y, (const char *)in + c->off, sizeof(y));
		return y;
	}
	memcpy(&x, (const char *)in + c->off, sizeof(x));
	return x;
}

static double link_ratio(const struct link_col *c, const struct stream_info *in)
{
	double d;

	memcpy(&d, (const char *)in + c->off, sizeof(d));
	return d;
}

/* The figure is not known yet: a round trip time before the first sample. */
static bool link_unknown(const struct link_col *c, const struct stream_info *in)
{
	return c->kind == L_US_SAMPLE && !link_u64(c, in);
}

static void link_text(const struct link_col *c, const struct stream_info *in)
{
	uint64_t x;

	if (c->kind == L_RATIO) {
		printf(" %*.1f%%", c->width - 1, 100 * link_ratio(c, in));
		return;
	}
	x = link_u64(c, in);
	if (link_unknown(c, in))
		printf(" %*s", c->width, "-");
	else if (c->kind == L_US || c->kind == L_US_SAMPLE)
		printf(" %*.1f", c->width, x / 1e3);
	else if (c->kind == L_RATE)
		printf(" %*llu", c->width, (unsigned long long)(x / 1000));
	else if (c->kind == L_EPOCH)
		printf(" %0*llx", c->width, (unsigned long long)x);
	else
		printf(" %*llu", c->width, (unsigned long long)x);
}

static void link_json(const struct link_col *c, const struct stream_info *in)
{
	uint64_t x = c->kind == L_RATIO ? 0 : link_u64(c, in);

	printf("\"%s\":", c->json);
	if (c->kind == L_RATIO)
		printf("%.4f", link_ratio(c, in));
	else if (link_unknown(c, in))
		fputs("null", stdout);
	else if (c->kind == L_US || c->kind == L_US_SAMPLE)
		printf("%.3f", x / 1e3);
	else if (c->kind == L_EPOCH)
		printf("\"%016llx\"", (unsigned long long)x);
	else
		printf("%llu", (unsigned long long)x);
}

/* Forwarded TCP connections open: those listed and those not. */
static uint64_t get_streams(const struct tcpstat *t, size_t arg)
{
	return (uint64_t)t->n_streams + t->streams_not_listed;
}

static uint64_t get_sessions(const struct tcpstat *t, size_t arg)
{
	return t->n_sessions;
}

/* ---- text ---- */

static const char *role_word(const struct tcp_view *v)
{
	return v->t.role[0] ? v->t.role : "tcp";
}

static uint64_t busy(const struct tcpstat_stream *s)
{
	return s->tx_bytes + s->rx_bytes;
}

/* Busiest first, then the oldest (lowest id) first. */
static int busiest_first(const void *a, const void *b)
{
	const struct tcpstat_stream *x = *(const struct tcpstat_stream *const *)a;
	const struct tcpstat_stream *y = *(const struct tcpstat_stream *const *)b;

	if (busy(x) != busy(y))
		return busy(x) < busy(y) ? 1 : -1;
	return x->session != y->session ? (x->session < y->session ? -1 : 1) :
	       x->id < y->id ? -1 : x->id > y->id;
}

/* A forward as its command line gives it: LPORT=NAME (client), NAME=HOST:PORT (server). */
static void text_forwards(const struct tcpstat *t)
{
	bool client = !strcmp(t->role, "tcp-client");
	uint32_t i;

	for (i = 0; i < t->n_forwards; i++)
		printf("%s%s=%s", i ? ", " : " ",
		       client ? t->forwards[i].addr : t->forwards[i].name,
		       client ? t->forwards[i].name : t->forwards[i].addr);
	if (!t->n_forwards)
		printf(" none");
}

static void text_streams(const struct tcpstat *t)
{
	const struct tcpstat_stream **order;
	uint64_t open = get_streams(t, 0);
	uint32_t i, n;

	printf("  streams: %llu open", (unsigned long long)open);
	if (!t->n_streams) {
		printf("\n");
		return;
	}
	order = malloc(t->n_streams * sizeof(*order));
	if (!order) {
		printf(" (out of memory to list them)\n");
		return;
	}
	for (i = 0; i < t->n_streams; i++)
		order[i] = &t->streams[i];
	qsort(order, t->n_streams, sizeof(*order), busiest_first);
	n = t->n_streams < TEXT_STREAMS ? t->n_streams : TEXT_STREAMS;
	printf("%s\n", open > n ? ", the busiest listed" : "");
	printf("  %-10s %-7s %-16s %-18s %8s %-24s %-24s %12s %12s %12s\n", "STREAM", "SESSION",
	       "TARGET", "STATE", "AGE", "LOCAL", "REMOTE", "TX_BYTES", "TX_ACKED", "RX_BYTES");
	for (i = 0; i < n; i++) {
		const struct tcpstat_stream *s = order[i];

		printf("  %-10u %-7u %-16s %-18s %7.1fs %-24s %-24s %12llu %12llu %12llu\n", s->id,
		       s->session, s->target[0] ? s->target : "-", s->state, s->age_ms / 1e3,
		       s->local[0] ? s->local : "-", s->remote[0] ? s->remote : "-",
		       (unsigned long long)s->tx_bytes, (unsigned long long)s->tx_acked,
		       (unsigned long long)s->rx_bytes);
	}
	if (open > n)
		printf("  (%llu more streams not shown: --json lists them all)\n",
		       (unsigned long long)(open - n));
	free(order);
}

void tcp_print_text(const struct tcp_view *v, uint64_t now)
{
	const struct tcpstat *t;
	const char *sep = "";
	uint32_t i, n;
	size_t k;

	if (!v)
		return;
	t = &v->t;
	if (!v->running) {
		printf("  %s: NOT RUNNING: pid %u is gone; its snapshot (%.1f s old) is stale and not shown\n",
		       role_word(v), t->pid, udpc_elapsed_s(t->written_ns, now));
		return;
	}
	printf("  %s: pid %u running (snapshot %.1f s old), forwards", role_word(v), t->pid,
	       udpc_elapsed_s(t->written_ns, now));
	text_forwards(t);
	printf("\n  tcp: %llu connections accepted, %llu refused locally, %llu datagrams not sent\n",
	       (unsigned long long)t->accepted, (unsigned long long)t->refused_local,
	       (unsigned long long)t->tx_dropped);
	printf("  tcp counters:");
	for (k = 0; k < tcpstat_n_counters; k++) {
		uint64_t x;

		memcpy(&x, (const char *)&t->total + tcpstat_counters[k].off, sizeof(x));
		printf("%s %s %llu", sep, tcpstat_counters[k].name, (unsigned long long)x);
		sep = ",";
	}
	printf("\n  %-30s %8s", "SESSION", "AGE");
	for (k = 0; k < ARRAY_SIZE(link_cols); k++)
		if (link_cols[k].column)
			printf(" %*s", link_cols[k].width, link_cols[k].column);
	printf("\n");
	n = t->n_sessions < TEXT_SESSIONS ? t->n_sessions : TEXT_SESSIONS;
	for (i = 0; i < n; i++) {
		const struct tcpstat_session *se = &t->sessions[i];

		printf("  %-30s %7.1fs", se->peer[0] ? se->peer : "-", se->age_ms / 1e3);
		for (k = 0; k < ARRAY_SIZE(link_cols); k++)
			if (link_cols[k].column)
				link_text(&link_cols[k], &se->link);
		printf("\n");
	}
	if (t->n_sessions > n)
		printf("  (%u more sessions not shown: --json lists them all)\n", t->n_sessions - n);
	text_streams(t);
}

/* ---- JSON ---- */

static void json_counters(const struct stream_stats *st)
{
	size_t k;

	printf("\"counters\":{");
	for (k = 0; k < tcpstat_n_counters; k++) {
		uint64_t x;

		memcpy(&x, (const char *)st + tcpstat_counters[k].off, sizeof(x));
		printf("%s\"%s\":%llu", k ? "," : "", tcpstat_counters[k].name, (unsigned long long)x);
	}
	putchar('}');
}

static void json_str_or_null(const char *s)
{
	if (s[0])
		json_str(s);
	else
		fputs("null", stdout);
}

void tcp_print_json(const struct tcp_view *v, uint64_t now)
{
	const struct tcpstat *t;
	uint32_t i;
	size_t k;

	if (!v)
		return;
	t = &v->t;
	printf(",\"tcp\":{\"role\":");
	json_str(t->role);
	printf(",\"pid\":%u,\"running\":%s,\"snapshot_age_s\":%.3f,\"forwards\":[", t->pid,
	       v->running ? "true" : "false", udpc_elapsed_s(t->written_ns, now));
	for (i = 0; i < t->n_forwards; i++) {
		printf("%s{\"name\":", i ? "," : "");
		json_str(t->forwards[i].name);
		printf(",\"address\":");
		json_str(t->forwards[i].addr);
		putchar('}');
	}
	printf("],\"accepted\":%llu,\"refused_local\":%llu,\"tx_dropped\":%llu,",
	       (unsigned long long)t->accepted, (unsigned long long)t->refused_local,
	       (unsigned long long)t->tx_dropped);
	json_counters(&t->total);
	printf(",\"streams_open\":%llu,\"streams_not_listed\":%llu,\"sessions\":[",
	       (unsigned long long)get_streams(t, 0), (unsigned long long)t->streams_not_listed);
	for (i = 0; i < t->n_sessions; i++) {
		const struct tcpstat_session *se = &t->sessions[i];

		printf("%s{\"session\":%u,\"peer\":", i ? "," : "", i);
		json_str_or_null(se->peer);
		printf(",\"age_s\":%.3f,\"link\":{", se->age_ms / 1e3);
		for (k = 0; k < ARRAY_SIZE(link_cols); k++) {
			if (k)
				putchar(',');
			link_json(&link_cols[k], &se->link);
		}
		printf("},");
		json_counters(&se->st);
		putchar('}');
	}
	printf("],\"streams\":[");
	for (i = 0; i < t->n_streams; i++) {
		const struct tcpstat_stream *s = &t->streams[i];

		printf("%s{\"session\":%u,\"id\":%u,\"target\":", i ? "," : "", s->session, s->id);
		json_str_or_null(s->target);
		printf(",\"state\":");
		json_str(s->state);
		printf(",\"local\":");
		json_str_or_null(s->local);
		printf(",\"remote\":");
		json_str_or_null(s->remote);
		printf(",\"age_s\":%.3f,\"tx_bytes\":%llu,\"tx_acked\":%llu,\"rx_bytes\":%llu,\"rx_read\":%llu}",
		       s->age_ms / 1e3, (unsigned long long)s->tx_bytes,
		       (unsigned long long)s->tx_acked, (unsigned long long)s->rx_bytes,
		       (unsigned long long)s->rx_read);
	}
	printf("]}");
}

/* ---- Prometheus ---- */

static void prom_open(const char *name, const struct tcp_view *v)
{
	printf("%s{interface=\"", name);
	prom_str(v->ifname);
	putchar('"');
}

/* A gauge or counter of the whole command, of the running views; get returns it. */
static void prom_each(struct tcp_view *const *views, size_t n, const char *name, const char *type,
		      const char *help, uint64_t (*get)(const struct tcpstat *, size_t), size_t arg)
{
	size_t i;

	prom_family(name, type, help);
	for (i = 0; i < n; i++) {
		if (!views[i] || !views[i]->running)
			continue;
		prom_open(name, views[i]);
		printf("} %llu\n", (unsigned long long)get(&views[i]->t, arg));
	}
}

static uint64_t get_member(const struct tcpstat *t, size_t off)
{
	uint64_t x;

	memcpy(&x, (const char *)t + off, sizeof(x));
	return x;
}

void tcp_print_prometheus(struct tcp_view *const *views, size_t n)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} own[] = {
		{ "udpclone_bpf_tcp_connections_accepted_total",
		  "tcp-client: local TCP connections accepted.", offsetof(struct tcpstat, accepted) },
		{ "udpclone_bpf_tcp_connections_refused_total",
		  "tcp-client: of those, refused at once for want of a stream.",
		  offsetof(struct tcpstat, refused_local) },
		{ "udpclone_bpf_tcp_datagrams_not_sent_total",
		  "Datagrams the internal UDP socket did not take (sent again once counted lost).",
		  offsetof(struct tcpstat, tx_dropped) },
	};
	char name[96], help[256];
	size_t i, k, any = 0, live = 0;
	uint32_t j;

	for (i = 0; i < n; i++) {
		any += views[i] != NULL;
		live += views[i] && views[i]->running;
	}
	if (!any)
		return;
	prom_family("udpclone_bpf_tcp_running", "gauge",
		    "1 while the tcp-client or tcp-server (role) that publishes the stream layer's snapshot runs; 0 when its snapshot is stale.");
	for (i = 0; i < n; i++) {
		if (!views[i])
			continue;
		prom_open("udpclone_bpf_tcp_running", views[i]);
		fputs(",role=\"", stdout);
		prom_str(views[i]->t.role);
		printf("\"} %d\n", views[i]->running);
	}
	if (!live)
		return; /* a stale snapshot's numbers are not live: none of them */
	prom_each(views, n, "udpclone_bpf_tcp_sessions", "gauge",
		  "Stream engines: tcp-client has one, tcp-server one per client session.", get_sessions, 0);
	prom_each(views, n, "udpclone_bpf_tcp_streams", "gauge",
		  "Forwarded TCP connections open (each one stream).", get_streams, 0);
	for (k = 0; k < ARRAY_SIZE(own); k++)
		prom_each(views, n, own[k].name, "counter", own[k].help, get_member, own[k].off);
	for (k = 0; k < tcpstat_n_counters; k++) {
		snprintf(name, sizeof(name), "udpclone_bpf_tcp_%s_total", tcpstat_counters[k].name);
		/* the table's sentence without its full stop, then whose */
		snprintf(help, sizeof(help), "%.*s, of every session (those gone included).",
			 (int)strlen(tcpstat_counters[k].help) - 1, tcpstat_counters[k].help);
		prom_each(views, n, name, "counter", help, get_member,
			  offsetof(struct tcpstat, total) + tcpstat_counters[k].off);
	}
	/* the link model: per session, labelled by the session's peer ("" on a client) */
	for (k = 0; k < ARRAY_SIZE(link_cols); k++) {
		const struct link_col *c = &link_cols[k];

		if (!c->prom)
			continue;
		prom_family(c->prom, "gauge", c->help);
		for (i = 0; i < n; i++) {
			if (!views[i] || !views[i]->running)
				continue;
			for (j = 0; j < views[i]->t.n_sessions; j++) {
				const struct tcpstat_session *se = &views[i]->t.sessions[j];

				if (link_unknown(c, &se->link))
					continue;
				prom_open(c->prom, views[i]);
				fputs(",session=\"", stdout);
				prom_str(se->peer);
				if (c->kind == L_RATIO)
					printf("\"} %.6f\n", link_ratio(c, &se->link));
				else if (c->kind == L_US || c->kind == L_US_SAMPLE)
					printf("\"} %.6f\n", link_u64(c, &se->link) / 1e6);
				else
					printf("\"} %llu\n", (unsigned long long)link_u64(c, &se->link));
			}
		}
	}
}
