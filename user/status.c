// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * `status`: everything shown comes from the pinned maps, so it works from any
 * shell while `attach` runs, and after a crashed daemon left the data path behind.
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

#include "instance.h"
#include "log.h"
#include "status.h"
#include "sys.h"

struct dest_view {
	__u32 slot; /* index in udpc_dests: the position in --destinations */
	struct udpc_dest d;
	struct udpc_dest_info info;
	struct udpc_dest_stats st; /* summed over CPUs; last_rx_ns is the max */
	struct udpc_uplink up;	   /* flags without UDPC_UPLINK_VIA: the attached interface */
};

struct iface_view {
	char ifname[IF_NAMESIZE];
	bool running;
	__u32 pid;	 /* the running daemon's, else the last one's */
	bool filters[2]; /* ingress, egress */
	struct udpc_config cfg;
	struct udpc_global_stats gs;
	__u64 flows;
	unsigned int max_flows;	/* the flow table's size */
	int n;
	struct dest_view dests[UDPC_MAX_DESTS];
};

static const char *const state_names[] = {
	[UDPC_STATE_UNUSED] = "unused",
	[UDPC_STATE_UNRESOLVED] = "unresolved",
	[UDPC_STATE_ACTIVE] = "active",
	[UDPC_STATE_STALE] = "stale",
};

static const char *state_name(__u32 s)
{
	return s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
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

static int read_view(const char *pin_dir, struct iface_view *v)
{
	struct udpc_instance probe = { .lock_fd = -1 };
	struct udpc_pinned p;
	struct udpc_flow_key k, nk;
	int ncpu = libbpf_num_possible_cpus();
	__u32 i, zero = 0;
	int err, c;

	err = udpc_pinned_open(pin_dir, &p);
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
		v->n++;
	}
	v->max_flows = p.max_flows;
	for (err = bpf_map_get_next_key(p.flows, NULL, &k); !err;
	     err = bpf_map_get_next_key(p.flows, &k, &nk), k = nk)
		v->flows++;
	err = 0;

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
	udpc_pinned_close(&p);
	return err;
}

/* Only the LRU removes flows: what was created and is not there was evicted. */
static __u64 flows_evicted(const struct iface_view *v)
{
	return v->gs.flow_new > v->flows ? v->gs.flow_new - v->flows : 0;
}

static void dest_name(const struct dest_view *dv, char *buf, size_t len)
{
	int n = snprintf(buf, len, strchr(dv->info.host, ':') ? "[%s]:%u" : "%s:%u",
			 dv->info.host, ntohs(dv->d.port));

	if (n <= 0 || (size_t)n >= len)
		return;
	if (dv->info.table)
		snprintf(buf + n, len - n, "@table=%u", dv->info.table);
	else if (dv->info.uplink[0])
		snprintf(buf + n, len - n, "@%.*s", (int)sizeof(dv->info.uplink), dv->info.uplink);
}

/* The interface the destination's copies leave by now: named, or its table's choice. */
static const char *uplink_ifname(const struct dest_view *dv, char buf[IF_NAMESIZE])
{
	if (!dv->info.table)
		return memcpy(buf, dv->info.uplink, IF_NAMESIZE);
	if (dv->up.ifindex && if_indextoname(dv->up.ifindex, buf))
		return buf;
	return "-";
}

/* Seconds since the last reply; one stamped after `now` was read is 0 s old. */
static double reply_age(const struct dest_view *dv, __u64 now)
{
	return now > dv->st.last_rx_ns ? (now - dv->st.last_rx_ns) / 1e9 : 0;
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

/* The state to show: the uplink's when it stops the copies, else the resolution's. */
static const char *dest_state(const struct dest_view *dv)
{
	const char *up = uplink_state(dv);

	return up && strcmp(up, "up") ? up : state_name(dv->info.state);
}

static void print_text(const struct iface_view *v, __u64 now)
{
	char listen[INET6_ADDRSTRLEN + 16] = "any address";
	int i;

	if (v->cfg.flags & UDPC_CFG_LISTEN_ADDR)
		udpc_addr_str(v->cfg.listen_family, &v->cfg.listen_addr, listen, sizeof(listen));
	printf("%s: UDP port %u (%s) fanned out to %d destination%s\n", v->ifname,
	       ntohs(v->cfg.listen_port), listen, v->n, v->n == 1 ? "" : "s");
	if (v->running)
		printf("  daemon: pid %u running\n", v->pid);
	else
		printf("  daemon: not running (the data path forwards to the last known addresses)\n");
	printf("  filters: ingress %s, egress %s\n", v->filters[0] ? "attached" : "MISSING",
	       v->filters[1] ? "attached" : "MISSING");
	printf("  packets: %llu to the listen port, %llu of them dropped (no destination), %llu passed untouched (fragment, IP options or IPv6 extension headers)\n",
	       (unsigned long long)v->gs.matched, (unsigned long long)v->gs.no_dest,
	       (unsigned long long)v->gs.skipped);
	printf("  flows: %llu of at most %u (idle timeout %llu s), %llu evicted, %llu flow errors, %llu replies to no known flow\n",
	       (unsigned long long)v->flows, v->max_flows,
	       (unsigned long long)(v->cfg.flow_timeout_ns / 1000000000ULL),
	       (unsigned long long)flows_evicted(v), (unsigned long long)v->gs.flow_errors,
	       (unsigned long long)v->gs.rx_no_flow);
	printf("  %-28s %-10s %-28s %10s %12s %7s %7s %10s %10s\n", "DESTINATION", "STATE",
	       "ADDRESS", "TX_PKTS", "TX_BYTES", "ERRORS", "NEIGH", "RX_PKTS", "LAST_REPLY");
	for (i = 0; i < v->n; i++) {
		const struct dest_view *dv = &v->dests[i];
		char name[UDPC_HOST_MAX + 16], addr[INET6_ADDRSTRLEN * 2 + 4], a4[INET_ADDRSTRLEN],
			a6[INET6_ADDRSTRLEN], age[32] = "never";

		dest_name(dv, name, sizeof(name));
		udpc_dest_addrs(&dv->d, ",", "-", addr, sizeof(addr));
		if (dv->st.last_rx_ns)
			snprintf(age, sizeof(age), "%.1fs ago", reply_age(dv, now));
		printf("  %-28s %-10s %-28s %10llu %12llu %7llu %7llu %10llu %10s\n", name,
		       dest_state(dv), addr, (unsigned long long)dv->st.tx_packets,
		       (unsigned long long)dv->st.tx_bytes,
		       (unsigned long long)(dv->st.tx_errors + dv->st.fib_errors +
					    dv->st.mtu_errors + dv->st.down_drops),
		       (unsigned long long)dv->st.neigh_missing, (unsigned long long)dv->st.rx_packets,
		       age);
		if (dv->info.last_error)
			printf("  %-28s last resolution failed: %s\n", "", gai_strerror(dv->info.last_error));
		if (uplink_state(dv)) {
			struct udpc_addr s4 = { .w = { dv->up.src4 } };

			char ifn[IF_NAMESIZE];

			printf("  %-28s via %s (%s", "", uplink_ifname(dv, ifn), uplink_state(dv));
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
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_addr(int family, const struct udpc_addr *a, bool valid)
{
	char buf[INET6_ADDRSTRLEN];

	if (valid)
		json_str(udpc_addr_str(family, a, buf, sizeof(buf)));
	else
		fputs("null", stdout);
}

#define JU64(name, val) printf("\"%s\":%llu", name, (unsigned long long)(val))

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
	printf("},");
	JU64("flow_timeout_s", v->cfg.flow_timeout_ns / 1000000000ULL);
	putchar(',');
	JU64("flows", v->flows);
	putchar(',');
	JU64("max_flows", v->max_flows);
	printf(",\"counters\":{");
	JU64("matched", v->gs.matched);
	putchar(',');
	JU64("no_dest", v->gs.no_dest);
	putchar(',');
	JU64("skipped", v->gs.skipped);
	putchar(',');
	JU64("flow_errors", v->gs.flow_errors);
	putchar(',');
	JU64("rx_no_flow", v->gs.rx_no_flow);
	putchar(',');
	JU64("flows_created", v->gs.flow_new);
	putchar(',');
	JU64("flows_evicted", flows_evicted(v));
	printf("},\"destinations\":[");
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
		printf(",");
		JU64("last_resolved", dv->info.last_resolved);
		putchar(',');
		JU64("tx_packets", dv->st.tx_packets);
		putchar(',');
		JU64("tx_bytes", dv->st.tx_bytes);
		putchar(',');
		JU64("tx_errors", dv->st.tx_errors);
		putchar(',');
		JU64("fib_errors", dv->st.fib_errors);
		putchar(',');
		JU64("mtu_errors", dv->st.mtu_errors);
		putchar(',');
		JU64("down_drops", dv->st.down_drops);
		putchar(',');
		JU64("icmp_errors", dv->st.icmp_errors);
		putchar(',');
		JU64("neigh_missing", dv->st.neigh_missing);
		putchar(',');
		JU64("rx_packets", dv->st.rx_packets);
		putchar(',');
		JU64("rx_bytes", dv->st.rx_bytes);
		printf(",\"last_reply_age_s\":");
		if (dv->st.last_rx_ns)
			printf("%.3f", reply_age(dv, now));
		else
			fputs("null", stdout);
		printf(",\"uplink\":");
		if (uplink_state(dv)) {
			struct udpc_addr s4 = { .w = { dv->up.src4 } };

			char ifn[IF_NAMESIZE];

			printf("{\"interface\":");
			json_str(uplink_ifname(dv, ifn));
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
	printf("]}");
}

/*
 * Prometheus text exposition format (version 0.0.4). Every sample of a metric must
 * follow its HELP and TYPE lines in one group, so this prints metric by metric over
 * all interfaces rather than interface by interface.
 */
struct prom_counter {
	const char *name, *help;
	size_t off; /* of a __u64 in udpc_global_stats or udpc_dest_stats */
};

static const struct prom_counter prom_iface_counters[] = {
	{ "udpclone_bpf_matched_packets_total",
	  "UDP packets to the listen port caught for fan-out (including those dropped for want of a destination).",
	  offsetof(struct udpc_global_stats, matched) },
	{ "udpclone_bpf_no_destination_drops_total",
	  "Matched packets dropped because no destination had an address of their family.",
	  offsetof(struct udpc_global_stats, no_dest) },
	{ "udpclone_bpf_skipped_packets_total",
	  "UDP packets to the listen port passed untouched: first fragments, IPv4 with options, IPv6 with extension headers.",
	  offsetof(struct udpc_global_stats, skipped) },
	{ "udpclone_bpf_flow_errors_total", "Client flows that could not be recorded.",
	  offsetof(struct udpc_global_stats, flow_errors) },
	{ "udpclone_bpf_replies_no_flow_total",
	  "Packets from a destination to no known (or an idle) client flow, passed untouched.",
	  offsetof(struct udpc_global_stats, rx_no_flow) },
	{ "udpclone_bpf_flows_created_total",
	  "Client flows created; created minus udpclone_bpf_flows is the number evicted by the LRU.",
	  offsetof(struct udpc_global_stats, flow_new) },
};

static const struct prom_counter prom_dest_counters[] = {
	{ "udpclone_bpf_tx_packets_total", "Copies sent to the destination (the original packet counts as one).",
	  offsetof(struct udpc_dest_stats, tx_packets) },
	{ "udpclone_bpf_tx_bytes_total", "Bytes of the copies sent to the destination, as seen at TC.",
	  offsetof(struct udpc_dest_stats, tx_bytes) },
	{ "udpclone_bpf_tx_errors_total", "Copies lost because rewriting or cloning the packet failed.",
	  offsetof(struct udpc_dest_stats, tx_errors) },
	{ "udpclone_bpf_fib_errors_total", "Copies dropped because there is no usable route to the destination.",
	  offsetof(struct udpc_dest_stats, fib_errors) },
	{ "udpclone_bpf_mtu_errors_total", "Copies dropped because they exceed the uplink's MTU.",
	  offsetof(struct udpc_dest_stats, mtu_errors) },
	{ "udpclone_bpf_down_drops_total", "Copies dropped because the destination's uplink was down or missing.",
	  offsetof(struct udpc_dest_stats, down_drops) },
	{ "udpclone_bpf_icmp_errors_total",
	  "ICMP unreachable errors about copies to the destination, kept from the client's socket.",
	  offsetof(struct udpc_dest_stats, icmp_errors) },
	{ "udpclone_bpf_neigh_missing_total",
	  "Copies sent with the original packet's Ethernet header because the next hop was not known yet.",
	  offsetof(struct udpc_dest_stats, neigh_missing) },
	{ "udpclone_bpf_rx_packets_total", "Replies from the destination mapped back to a client.",
	  offsetof(struct udpc_dest_stats, rx_packets) },
	{ "udpclone_bpf_rx_bytes_total", "Bytes of the replies from the destination mapped back to a client.",
	  offsetof(struct udpc_dest_stats, rx_bytes) },
};

static void prom_family(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and line feed escaped, as the format says. */
static void prom_str(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

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
	char dest[UDPC_HOST_MAX + 16];

	dest_name(dv, dest, sizeof(dest));
	prom_iface(name, v);
	fputs(",destination=\"", stdout);
	prom_str(dest);
	printf("\",slot=\"%u\"", dv->slot);
}

static __u64 prom_u64(const void *stats, size_t off)
{
	__u64 x;

	memcpy(&x, (const char *)stats + off, sizeof(x));
	return x;
}

static int iface_cmp(const void *a, const void *b)
{
	return strcmp((*(struct iface_view *const *)a)->ifname,
		      (*(struct iface_view *const *)b)->ifname);
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
	prom_family("udpclone_bpf_flows", "gauge", "Client flows remembered for the return path.");
	for (i = 0; i < n; i++) {
		prom_iface("udpclone_bpf_flows", views[i]);
		printf("} %llu\n", (unsigned long long)views[i]->flows);
	}
	prom_family("udpclone_bpf_flows_max", "gauge",
		    "Size of the flow table (attach --max-flows): beyond it the least recently used flow is evicted.");
	for (i = 0; i < n; i++) {
		prom_iface("udpclone_bpf_flows_max", views[i]);
		printf("} %u\n", views[i]->max_flows);
	}
	for (k = 0; k < sizeof(prom_iface_counters) / sizeof(prom_iface_counters[0]); k++) {
		const struct prom_counter *m = &prom_iface_counters[k];

		prom_family(m->name, "counter", m->help);
		for (i = 0; i < n; i++) {
			prom_iface(m->name, views[i]);
			printf("} %llu\n", (unsigned long long)prom_u64(&views[i]->gs, m->off));
		}
	}

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
			for (k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
				const struct dest_view *dv = &views[i]->dests[j];

				prom_dest("udpclone_bpf_destination_state", views[i], dv);
				printf(",state=\"%s\"} %d\n", state_name(states[k]),
				       dv->info.state == states[k]);
			}
	prom_family("udpclone_bpf_destination_last_resolved_timestamp_seconds", "gauge",
		    "Unix time of the destination's last successful resolution (absent if never).");
	for (i = 0; i < n; i++)
		for (j = 0; j < views[i]->n; j++) {
			const struct dest_view *dv = &views[i]->dests[j];

			if (!dv->info.last_resolved)
				continue;
			prom_dest("udpclone_bpf_destination_last_resolved_timestamp_seconds", views[i], dv);
			printf("} %llu\n", (unsigned long long)dv->info.last_resolved);
		}
	for (k = 0; k < sizeof(prom_dest_counters) / sizeof(prom_dest_counters[0]); k++) {
		const struct prom_counter *m = &prom_dest_counters[k];

		prom_family(m->name, "counter", m->help);
		for (i = 0; i < n; i++)
			for (j = 0; j < views[i]->n; j++) {
				prom_dest(m->name, views[i], &views[i]->dests[j]);
				printf("} %llu\n",
				       (unsigned long long)prom_u64(&views[i]->dests[j].st, m->off));
			}
	}
	prom_family("udpclone_bpf_uplink_up", "gauge",
		    "For destinations sent by an uplink (HOST:PORT@IFACE): 1 while it is up, 0 while it is down or missing.");
	for (i = 0; i < n; i++)
		for (j = 0; j < views[i]->n; j++) {
			const struct dest_view *dv = &views[i]->dests[j];

			if (!uplink_state(dv))
				continue;
			prom_dest("udpclone_bpf_uplink_up", views[i], dv);
			char ifn[IF_NAMESIZE];

			fputs(",uplink=\"", stdout);
			prom_str(uplink_ifname(dv, ifn));
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
				free(v);
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
			}
			shown++;
		}
		free(v);
	}
	if (d)
		closedir(d);
	if (json)
		printf("]}\n");
	if (format == UDPC_STATUS_PROMETHEUS) {
		print_prometheus(keep, shown, now);
		for (i = 0; i < shown; i++)
			free(keep[i]);
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
