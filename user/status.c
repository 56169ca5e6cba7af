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
	struct udpc_dest d;
	struct udpc_dest_info info;
	struct udpc_dest_stats st; /* summed over CPUs; last_rx_ns is the max */
};

struct iface_view {
	char ifname[IF_NAMESIZE];
	bool running;
	bool filters[2]; /* ingress, egress */
	struct udpc_config cfg;
	struct udpc_global_stats gs;
	__u64 flows;
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
	for (err = bpf_map_get_next_key(p.flows, NULL, &k); !err;
	     err = bpf_map_get_next_key(p.flows, &k, &nk), k = nk)
		v->flows++;
	err = 0;

	/* The lock is held exactly while a daemon runs. */
	snprintf(probe.pin_dir, sizeof(probe.pin_dir), "%s", pin_dir);
	v->running = udpc_instance_lock(&probe, false) == -EBUSY;
	if (probe.lock_fd >= 0)
		close(probe.lock_fd);
	v->filters[0] = udpc_filter_present(v->cfg.ifindex, false) == 1;
	v->filters[1] = udpc_filter_present(v->cfg.ifindex, true) == 1;
out:
	udpc_pinned_close(&p);
	return err;
}

static void dest_name(const struct dest_view *dv, char *buf, size_t len)
{
	snprintf(buf, len, strchr(dv->info.host, ':') ? "[%s]:%u" : "%s:%u", dv->info.host,
		 ntohs(dv->d.port));
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
		printf("  daemon: pid %u running\n", v->cfg.owner_pid);
	else
		printf("  daemon: not running (the data path forwards to the last known addresses)\n");
	printf("  filters: ingress %s, egress %s\n", v->filters[0] ? "attached" : "MISSING",
	       v->filters[1] ? "attached" : "MISSING");
	printf("  packets: %llu to the listen port, %llu of them dropped (no destination), %llu passed untouched (fragment or IP options)\n",
	       (unsigned long long)v->gs.matched, (unsigned long long)v->gs.no_dest,
	       (unsigned long long)v->gs.skipped);
	printf("  flows: %llu (idle timeout %llu s), %llu flow errors, %llu replies to no known flow\n",
	       (unsigned long long)v->flows, (unsigned long long)(v->cfg.flow_timeout_ns / 1000000000ULL),
	       (unsigned long long)v->gs.flow_errors, (unsigned long long)v->gs.rx_no_flow);
	printf("  %-28s %-10s %-28s %10s %12s %7s %7s %10s %10s\n", "DESTINATION", "STATE",
	       "ADDRESS", "TX_PKTS", "TX_BYTES", "ERRORS", "NEIGH", "RX_PKTS", "LAST_REPLY");
	for (i = 0; i < v->n; i++) {
		const struct dest_view *dv = &v->dests[i];
		char name[UDPC_HOST_MAX + 16], addr[INET6_ADDRSTRLEN * 2 + 4] = "-", a4[INET_ADDRSTRLEN],
			a6[INET6_ADDRSTRLEN], age[32] = "never";
		struct udpc_addr v4 = { .w = { dv->d.addr4 } };

		dest_name(dv, name, sizeof(name));
		if ((dv->d.flags & UDPC_DEST_V4) && (dv->d.flags & UDPC_DEST_V6))
			snprintf(addr, sizeof(addr), "%s,%s", udpc_addr_str(UDPC_AF_INET, &v4, a4, sizeof(a4)),
				 udpc_addr_str(UDPC_AF_INET6, &dv->d.addr6, a6, sizeof(a6)));
		else if (dv->d.flags & UDPC_DEST_V4)
			udpc_addr_str(UDPC_AF_INET, &v4, addr, sizeof(addr));
		else if (dv->d.flags & UDPC_DEST_V6)
			udpc_addr_str(UDPC_AF_INET6, &dv->d.addr6, addr, sizeof(addr));
		if (dv->st.last_rx_ns && now >= dv->st.last_rx_ns)
			snprintf(age, sizeof(age), "%.1fs ago", (now - dv->st.last_rx_ns) / 1e9);
		printf("  %-28s %-10s %-28s %10llu %12llu %7llu %7llu %10llu %10s\n", name,
		       state_name(dv->info.state), addr, (unsigned long long)dv->st.tx_packets,
		       (unsigned long long)dv->st.tx_bytes,
		       (unsigned long long)(dv->st.tx_errors + dv->st.fib_errors),
		       (unsigned long long)dv->st.neigh_missing, (unsigned long long)dv->st.rx_packets,
		       age);
		if (dv->info.last_error)
			printf("  %-28s last resolution failed: %s\n", "", gai_strerror(dv->info.last_error));
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
	       v->running ? "true" : "false", v->cfg.owner_pid);
	printf("\"filters\":{\"ingress\":%s,\"egress\":%s},", v->filters[0] ? "true" : "false",
	       v->filters[1] ? "true" : "false");
	printf("\"listen\":{\"port\":%u,\"address\":", ntohs(v->cfg.listen_port));
	json_addr(v->cfg.listen_family, &v->cfg.listen_addr, v->cfg.flags & UDPC_CFG_LISTEN_ADDR);
	printf("},");
	JU64("flow_timeout_s", v->cfg.flow_timeout_ns / 1000000000ULL);
	putchar(',');
	JU64("flows", v->flows);
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
	printf("},\"destinations\":[");
	for (i = 0; i < v->n; i++) {
		const struct dest_view *dv = &v->dests[i];
		struct udpc_addr v4 = { .w = { dv->d.addr4 } };

		printf("%s{\"host\":", i ? "," : "");
		json_str(dv->info.host);
		printf(",\"port\":%u,\"state\":\"%s\",\"ipv4\":", ntohs(dv->d.port),
		       state_name(dv->info.state));
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
		JU64("neigh_missing", dv->st.neigh_missing);
		putchar(',');
		JU64("rx_packets", dv->st.rx_packets);
		putchar(',');
		JU64("rx_bytes", dv->st.rx_bytes);
		printf(",\"last_reply_age_s\":");
		if (dv->st.last_rx_ns && now >= dv->st.last_rx_ns)
			printf("%.3f", (now - dv->st.last_rx_ns) / 1e9);
		else
			fputs("null", stdout);
		putchar('}');
	}
	printf("]}");
}

int udpc_status_run(const char *ifname, bool json)
{
	char pin_dir[sizeof(((struct udpc_instance *)0)->pin_dir)];
	struct dirent *de;
	int shown = 0, ret = EXIT_SUCCESS, err;
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
		if (err) {
			pr_warn("cannot read the state of %s: %s\n", de->d_name, strerror(-err));
			ret = EXIT_FAILURE;
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
	if (!shown && ret == EXIT_SUCCESS) {
		if (ifname) {
			pr_warn("nothing of ours is attached to '%s'\n", ifname);
			ret = EXIT_FAILURE;
		} else if (!json) {
			printf("udpclone-bpf is not attached to any interface\n");
		}
	}
	return ret;
}
