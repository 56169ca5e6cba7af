// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * udpc-cputime: where the CPU went while a command ran, for the benchmark's TCP
 * part (tests/bench/tcp.sh), whose load is a TCP transfer (udpc-tcp client), not
 * udpc-loadgen's datagrams.
 *
 *   udpc-cputime [--group NAME=PID[,PID...]]... -- COMMAND [ARG...]
 *
 * Runs COMMAND, waits for it, and prints "key value" lines (ns) after its output;
 * exits with its exit status.
 *   wall_ns                 how long it ran
 *   status                  its exit status (128 + signal if killed)
 *   cmd_ns, cmd_user_ns, cmd_sys_ns
 *                           its own CPU time (wait4's, all its threads)
 *   group_NAME_ns, group_NAME_user_ns, group_NAME_sys_ns
 *                           the run time of each group's processes, their threads and
 *                           their descendants (found when the command starts: a
 *                           daemon's child counts with it)
 *   ksoftirqd_ns            the ksoftirqd threads' run time
 *   others_ns               every other task's: other tenants of the machine
 *   cpuK_busy_ns            CPU K's wall time less its time in cpuidle states
 *   cpuK_user_ns, cpuK_system_ns, cpuK_softirq_ns, cpuK_irq_ns, cpuK_steal_ns
 *                           CPU K's time by kind, from /proc/stat
 *
 * The run times (/proc/PID/task/TID/schedstat) and cpuidle residencies are precise,
 * as udpc-loadgen's (bench.h). The user/system split of a process and /proc/stat's
 * kinds come from the scheduler tick (4 ms here): a second's run gives them to a few
 * per cent. Without CONFIG_IRQ_TIME_ACCOUNTING (Debian's kernels) the kernel charges
 * softirq work to the task it interrupts, so a process's system time holds the
 * network work done in its context, and a CPU's softirq time overlaps its tasks'.
 */
#include "bench.h"

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/wait.h>

const char *prog = "udpc-cputime";

#define MAX_GROUPS 8
#define MAX_CPU_KIND 5

struct group {
	const char *name;
	int pids[MAX_PIDS];
	int n;
};

/* One moment: each group's run time and ticks, the CPUs' idle time and kinds. */
struct moment {
	int64_t wall;
	int64_t run[MAX_GROUPS + 1];		/* ... and the last: ksoftirqd */
	int64_t user[MAX_GROUPS], sys[MAX_GROUPS];	/* ticks */
	int64_t others;
	int64_t idle[MAX_CPUS];
	int64_t kind[MAX_CPUS][MAX_CPU_KIND];	/* user+nice, system, softirq, irq, steal: ticks */
	int ncpu, nstat;
};

/* /proc/stat columns of each kind: user nice system idle iowait irq softirq steal */
static const char *const kind_name[MAX_CPU_KIND] = { "user", "system", "softirq", "irq", "steal" };

/* A process's parent, from /proc/PID/stat (comm may hold spaces and parentheses). */
static int parent_of(int pid)
{
	char path[64], line[512], *p;
	FILE *f;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')))
		sscanf(p + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

static bool in_list(const int *pids, int n, int pid)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Adds the descendants of g's processes to it (a pass per generation, bounded). */
static void add_descendants(struct group *g)
{
	for (int gen = 0, more = 1; more && gen < 8; gen++) {
		DIR *d = opendir("/proc");
		struct dirent *de;

		more = 0;
		while (d && (de = readdir(d)) && g->n < MAX_PIDS) {
			int pid = atoi(de->d_name);

			if (pid > 0 && !in_list(g->pids, g->n, pid) &&
			    in_list(g->pids, g->n, parent_of(pid))) {
				g->pids[g->n++] = pid;
				more = 1;
			}
		}
		if (d)
			closedir(d);
	}
}

/* The user and system ticks of every thread of the processes in pids[]. */
static void ticks_of(const int *pids, int n, int64_t *user, int64_t *sys)
{
	*user = *sys = 0;
	for (int i = 0; i < n; i++) {
		char path[64];
		DIR *d;
		struct dirent *te;

		snprintf(path, sizeof(path), "/proc/%d/task", pids[i]);
		d = opendir(path);
		while (d && (te = readdir(d))) {
			char line[512], *p;
			long long u, s;
			FILE *f;

			if (te->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat", pids[i], te->d_name);
			f = fopen(path, "re");
			if (!f)
				continue;
			/* after comm: state ppid pgrp session tty tpgid flags minflt cminflt
			 * majflt cmajflt utime stime */
			if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')) &&
			    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld",
				   &u, &s) == 2) {
				*user += u;
				*sys += s;
			}
			fclose(f);
		}
		if (d)
			closedir(d);
	}
}

/* Each CPU's ticks by kind from /proc/stat; returns the number of CPUs. */
static int cpu_kinds(int64_t kind[][MAX_CPU_KIND])
{
	FILE *f = fopen("/proc/stat", "re");
	char line[512];
	int n = 0;

	while (f && fgets(line, sizeof(line), f)) {
		long long v[8] = { 0 };
		int cpu;

		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
			continue;
		if (sscanf(line + 3, "%d %lld %lld %lld %lld %lld %lld %lld %lld", &cpu, &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 9 || cpu < 0 || cpu >= MAX_CPUS)
			continue;
		kind[cpu][0] = v[0] + v[1];
		kind[cpu][1] = v[2];
		kind[cpu][2] = v[6];
		kind[cpu][3] = v[5];
		kind[cpu][4] = v[7];
		if (cpu + 1 > n)
			n = cpu + 1;
	}
	if (f)
		fclose(f);
	return n;
}

static void sample(struct moment *m, struct group *g, int ng, const int *ksoft, int nks)
{
	int all[MAX_PIDS * (MAX_GROUPS + 1) + 1], nall = 0;
	int64_t others;

	for (int i = 0; i < ng; i++) {
		task_runtimes(g[i].pids, g[i].n, &m->run[i], &others);
		ticks_of(g[i].pids, g[i].n, &m->user[i], &m->sys[i]);
		memcpy(all + nall, g[i].pids, sizeof(int) * (size_t)g[i].n);
		nall += g[i].n;
	}
	memcpy(all + nall, ksoft, sizeof(int) * (size_t)nks);
	nall += nks;
	task_runtimes(ksoft, nks, &m->run[MAX_GROUPS], &others);
	all[nall++] = getpid();
	task_runtimes(all, nall, &others, &m->others);
	m->ncpu = cpu_idle_ns(m->idle);
	m->nstat = cpu_kinds(m->kind);
	m->wall = now_ns();
}

static int64_t tv_ns(struct timeval tv) { return (int64_t)tv.tv_sec * NSEC + tv.tv_usec * 1000; }

int main(int argc, char **argv)
{
	static struct group g[MAX_GROUPS];
	static struct moment a, b;
	int ng = 0, ksoft[MAX_PIDS], nks, i, st = 0;
	int64_t tick = NSEC / sysconf(_SC_CLK_TCK);
	struct rusage ru;
	pid_t child;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		char *eq, *p, *tok, *save;

		if (!strcmp(argv[i], "--help")) {
			printf("usage: %s [--group NAME=PID[,PID...]]... -- COMMAND [ARG...]\n", prog);
			return 0;
		}
		if (strcmp(argv[i], "--group") || i + 1 >= argc)
			die_usage("unknown option or missing value: '%s'", argv[i]);
		p = argv[++i];
		eq = strchr(p, '=');
		if (!eq || eq == p || ng == MAX_GROUPS)
			die_usage("--group: '%s' is not NAME=PID[,PID...] (at most %d groups)", p,
				  MAX_GROUPS);
		*eq = '\0';
		g[ng].name = p;
		for (tok = strtok_r(eq + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (g[ng].n < MAX_PIDS)
				g[ng].pids[g[ng].n++] = (int)parse_u64("--group", tok, 1, INT32_MAX);
		add_descendants(&g[ng]);
		ng++;
	}
	if (i + 1 >= argc)
		die_usage("no COMMAND after --");
	nks = add_ksoftirqd(ksoft, 0);

	sample(&a, g, ng, ksoft, nks);
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		execvp(argv[i + 1], argv + i + 1);
		fprintf(stderr, "%s: cannot run %s: %s\n", prog, argv[i + 1], strerror(errno));
		_exit(127);
	}
	while (wait4(child, &st, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4");
	sample(&b, g, ng, ksoft, nks);
	fflush(stdout); /* the command's output first */

	printf("wall_ns %" PRId64 "\nstatus %d\n", b.wall - a.wall,
	       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	printf("cmd_ns %" PRId64 "\ncmd_user_ns %" PRId64 "\ncmd_sys_ns %" PRId64 "\n",
	       tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime), tv_ns(ru.ru_utime), tv_ns(ru.ru_stime));
	for (i = 0; i < ng; i++)
		printf("group_%s_ns %" PRId64 "\ngroup_%s_user_ns %" PRId64 "\ngroup_%s_sys_ns %" PRId64 "\n",
		       g[i].name, b.run[i] - a.run[i], g[i].name, (b.user[i] - a.user[i]) * tick,
		       g[i].name, (b.sys[i] - a.sys[i]) * tick);
	printf("ksoftirqd_ns %" PRId64 "\n", b.run[MAX_GROUPS] - a.run[MAX_GROUPS]);
	/* a tenant's task that ended meanwhile takes its run time with it */
	printf("others_ns %" PRId64 "\n", b.others > a.others ? b.others - a.others : 0);
	for (i = 0; i < a.ncpu && i < b.ncpu; i++) {
		int64_t busy = (b.wall - a.wall) - (b.idle[i] - a.idle[i]);

		printf("cpu%d_busy_ns %" PRId64 "\n", i, busy > 0 ? busy : 0);
	}
	for (i = 0; i < a.nstat && i < b.nstat; i++)
		for (int k = 0; k < MAX_CPU_KIND; k++)
			printf("cpu%d_%s_ns %" PRId64 "\n", i, kind_name[k],
			       (b.kind[i][k] - a.kind[i][k]) * tick);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
