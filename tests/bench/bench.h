/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * What the benchmark tools (udpc-loadgen, udpc-sink, udpc-relay) share beyond
 * tests/tools/common.h: option parsing, sleeps, the payload layout, the sink's
 * counter page and whole-machine CPU time from /proc/stat. IPv4 only: the
 * benchmark runs over IPv4.
 *
 * Payload (every datagram the load generator sends):
 *   [0,8)   sequence number, big-endian
 *   [8,16)  send time, CLOCK_REALTIME ns, native order (read back by the sender only)
 *   [16,20) "UCB1"
 *   [20,..) filler 0xa5
 * A sink counts datagrams; in echo mode it sends each one back as it came.
 *
 * The sink publishes running totals in a small shared file (struct bench_page,
 * mmap'ed), so a load generator in another network namespace reads the number of
 * delivered copies without a round trip through the network or a signal.
 */
#ifndef UDPC_BENCH_H
#define UDPC_BENCH_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../tools/common.h" /* prog, die(), die_usage(), parse_u64(), now_ns() */

#define HDR_LEN 20
#define MIN_SIZE HDR_LEN
#define MAX_SIZE 1472	/* one Ethernet frame: the data path does not clone fragments */
#define MAX_BATCH 1024
#define MAX_DESTS 16
#define MAX_SECONDS 3600.0
#define PAGE_MAGIC 0x55434231u /* "UCB1" */

/* Sleep until monotonic time t (ns), with a 1 ns timer slack (see main()s). */
static inline void sleep_until(int64_t t)
{
	struct timespec ts = { .tv_sec = t / NSEC, .tv_nsec = t % NSEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static inline double parse_double(const char *opt, const char *s, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		die_usage("%s: '%s' is not a number in %g..%g", opt, s, min, max);
	return v;
}

/* "A.B.C.D:PORT", numeric. */
static inline struct sockaddr_in parse_addr(const char *opt, const char *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *colon = strrchr(s, ':');
	char host[INET_ADDRSTRLEN];
	size_t hlen;

	if (!colon || (hlen = (size_t)(colon - s)) == 0 || hlen >= sizeof(host))
		die_usage("%s: '%s' is not A.B.C.D:PORT", opt, s);
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die_usage("%s: '%s' is not an IPv4 address", opt, host);
	sa.sin_port = htons((uint16_t)parse_u64(opt, colon + 1, 0, 65535));
	return sa;
}

/* "A:P,B:Q,...": at most max entries; returns how many. */
static inline int parse_addr_list(const char *opt, const char *s, struct sockaddr_in *out, int max)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int n = 0;

	if (!copy)
		die("strdup");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max)
			die_usage("%s: more than %d entries", opt, max);
		out[n++] = parse_addr(opt, tok);
	}
	free(copy);
	if (!n)
		die_usage("%s: empty list", opt);
	return n;
}

static inline void payload_init(uint8_t *p, size_t len)
{
	memset(p, 0, HDR_LEN);
	p[16] = 'U', p[17] = 'C', p[18] = 'B', p[19] = '1';
	memset(p + HDR_LEN, 0xa5, len - HDR_LEN);
}

static inline void payload_stamp(uint8_t *p, uint64_t seq, int64_t tx_ns)
{
	for (int i = 7; i >= 0; i--, seq >>= 8)
		p[i] = (uint8_t)seq;
	memcpy(p + 8, &tx_ns, sizeof(tx_ns));
}

static inline int payload_parse(const uint8_t *p, size_t len, uint64_t *seq, int64_t *tx_ns)
{
	uint64_t v = 0;

	if (len < HDR_LEN || memcmp(p + 16, "UCB1", 4))
		return -1;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	*seq = v;
	memcpy(tx_ns, p + 8, sizeof(*tx_ns));
	return 0;
}

/* The sink's counters, read by the load generator. Single writer, relaxed atomics. */
struct bench_page {
	uint32_t magic;
	uint32_t pid;
	uint64_t received;	/* datagrams */
	uint64_t bytes;		/* payload bytes */
	uint64_t replied;	/* echo mode */
	uint64_t reply_errors;
	uint64_t per_dst[256];	/* by the last byte of the address they were sent to */
};

#define PAGE_LOAD(f) __atomic_load_n(&(f), __ATOMIC_RELAXED)
#define PAGE_STORE(f, v) __atomic_store_n(&(f), (v), __ATOMIC_RELAXED)

/*
 * CPU time, precise (not tick-sampled), from two sources:
 *  - per task, its run time from /proc/PID/task/TID/schedstat: the benchmark's CPU
 *    time is that of its processes (client, receivers, relay, daemon) and of the
 *    ksoftirqd threads. Network work done in softirq context is charged to the task
 *    it interrupted, so a sender's in-kernel fan-out counts as the sender's time,
 *    and the receive path of a copy as the time of whoever sent it. Other tenants
 *    of a shared machine do not disturb this sum.
 *  - per CPU, wall time minus time in cpuidle states: what the machine did. Less
 *    the other tenants' tasks, it also holds kernel work charged to no task (an
 *    idle CPU woken by an interrupt); it is reported beside the first, but
 *    short-lived processes of other tenants escape it.
 */
#include <dirent.h>

#define MAX_CPUS 64
#define MAX_PIDS 64

static inline int64_t read_runtime(const char *path)
{
	char line[128];
	int64_t v = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f))
		v = strtoll(line, NULL, 10);
	fclose(f);
	return v;
}

/* Run time of all tasks: of the processes in pids[] (*ours), of the others (*others). */
static inline void task_runtimes(const int *pids, int npids, int64_t *ours, int64_t *others)
{
	struct dirent *de, *te;
	DIR *d = opendir("/proc"), *td;

	*ours = *others = 0;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300];
		int pid, mine = 0;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = atoi(de->d_name);
		for (int i = 0; i < npids; i++)
			mine |= pids[i] == pid;
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		td = opendir(path);
		if (!td)
			continue;
		while ((te = readdir(td))) {
			if (te->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", pid, te->d_name);
			*(mine ? ours : others) += read_runtime(path);
		}
		closedir(td);
	}
	closedir(d);
}

/* Idle time of each CPU (ns) from cpuidle; returns the number of CPUs, 0 if unknown. */
static inline int cpu_idle_ns(int64_t *idle)
{
	int n = 0;

	for (int cpu = 0; cpu < MAX_CPUS; cpu++) {
		char path[96];
		int64_t sum = 0;
		int st;

		for (st = 0; st < 16; st++) {
			FILE *f;
			long long v;

			snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpuidle/state%d/time", cpu, st);
			f = fopen(path, "re");
			if (!f)
				break;
			if (fscanf(f, "%lld", &v) == 1)
				sum += v * 1000;
			fclose(f);
		}
		if (!st)
			break;
		idle[cpu] = sum;
		n = cpu + 1;
	}
	return n;
}

struct cpu_sample {
	int64_t wall_ns;
	int64_t ours_ns;		/* the benchmark's processes + ksoftirqd */
	int64_t others_ns;		/* every other task */
	int64_t forks;			/* processes created since boot */
	int64_t idle_ns[MAX_CPUS];
	int ncpu;
};

/* pids: the benchmark's processes (the caller includes itself). */
static inline void cpu_sample(struct cpu_sample *s, const int *pids, int npids)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];

	s->forks = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "processes ", 10))
			s->forks = strtoll(line + 10, NULL, 10);
	if (f)
		fclose(f);
	task_runtimes(pids, npids, &s->ours_ns, &s->others_ns);
	s->ncpu = cpu_idle_ns(s->idle_ns);
	s->wall_ns = clock_ns(CLOCK_MONOTONIC);
}

/* Busy CPUs (0..ncpu) of the machine between two samples, and of each CPU. */
static inline double machine_busy(const struct cpu_sample *a, const struct cpu_sample *b, double *per_cpu)
{
	double wall = (double)(b->wall_ns - a->wall_ns), sum = 0;

	for (int i = 0; i < a->ncpu && i < b->ncpu; i++) {
		double busy = 1.0 - (double)(b->idle_ns[i] - a->idle_ns[i]) / wall;

		busy = busy < 0 ? 0 : busy > 1 ? 1 : busy;
		if (per_cpu)
			per_cpu[i] = busy;
		sum += busy;
	}
	return sum;
}

/* Appends the pids of the ksoftirqd threads to pids[]; returns the new count. */
static inline int add_ksoftirqd(int *pids, int n)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return n;
	while ((de = readdir(d)) && n < MAX_PIDS) {
		char path[300], comm[32] = "";
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "ksoftirqd/", 10))
			pids[n++] = atoi(de->d_name);
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Precise sleeps for pacing: the default 50 us timer slack would dominate. */
static inline void timer_slack_min(void) { prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); }

static inline int set_buf(int fd, int opt_force, int opt, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, opt_force, &bytes, sizeof(bytes)) == 0)
		return 0;
	return setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

#endif /* UDPC_BENCH_H */
