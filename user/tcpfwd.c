// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * tcp-client and tcp-server (docs/TCP.md, "The commands"): TCP forwarding over peer mode.
 *
 *	tcp-client IFACE --destinations HOST:PORT[@UPLINK],... --forward [ADDR:]LPORT=NAME,...
 *	tcp-server IFACE --listen PORT --forward NAME=HOST:PORT,...
 *
 * Each command is two processes. A child runs the peer-mode daemon unchanged (attach
 * --peer on the client, serve on the server): duplication and dedup stay the kernel's.
 * The parent owns the internal UDP socket, the TCP sockets and the stream engines
 * (tcpio.c). It opens every socket before the child attaches, so once the child is
 * ready the whole command is: the parent tells systemd (Type=notify) and --ready-fd,
 * the child tells no one. SIGTERM to the parent closes the streams (a CLOSE to the
 * peer, while the data path still carries it), then stops the child. The child dies
 * with the parent (PR_SET_PDEATHSIG SIGKILL: like a daemon killed outright, it leaves
 * the data path pinned for the next one to adopt), and the parent ends when the child
 * does (`detach IFACE`).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach.h"
#include "cli.h"
#include "log.h"
#include "notify.h"
#include "resolve.h"
#include "serve.h"
#include "spec.h"
#include "tcpfwd.h"
#include "tcpio.h"

#define MTU_MIN 576
#define MTU_MAX 9000
#define MTU_OVERHEAD 80	/* IPv6 40 + UDP 8 + peer header 16 + 16 of margin (docs/TCP.md) */

struct common {
	struct stream_config cfg;
	unsigned int max_sessions;
	int ready_fd;
};

static int parse_num(const char *cmd, const char *opt, const char *s, unsigned long long min,
		     unsigned long long max, unsigned long long *out)
{
	unsigned long long v, mul = 1;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		goto bad;
	v = strtoull(s, &end, 10);
	if (*end && !end[1] && !strcmp(opt, "--max-rate")) {
		switch (*end) {
		case 'k': case 'K': mul = 1000; break;
		case 'm': case 'M': mul = 1000000; break;
		case 'g': case 'G': mul = 1000000000; break;
		default: goto bad;
		}
		end++;
	}
	if (*end || errno || v > max / mul || v * mul < min)
		goto bad;
	*out = v * mul;
	return 0;
bad:
	fprintf(stderr, "udpclone-bpf: %s: %s '%s': must be a whole number from %llu to %llu\n"
		"Try 'udpclone-bpf --help'.\n", cmd, opt, s, min, max);
	return EXIT_USAGE;
}

/* Options both commands take: -1 when taken, else the exit code to return now. */
static int common_option(const char *cmd, char **argv, int c, struct common *co)
{
	unsigned long long v;

	switch (c) {
	case 'T':
		if (parse_num(cmd, "--rto-min", optarg, 1, 60000, &v))
			return EXIT_USAGE;
		co->cfg.rto_min_ms = v;
		return -1;
	case 'B':
		if (parse_num(cmd, "--max-rate", optarg, 1000, 100000000000ULL, &v))
			return EXIT_USAGE;
		co->cfg.max_rate = v;
		return -1;
	case 'M':
		if (parse_num(cmd, "--mtu", optarg, MTU_MIN, MTU_MAX, &v))
			return EXIT_USAGE;
		co->cfg.mtu_payload = v - MTU_OVERHEAD;
		return -1;
	default: /* --max-sessions, --ready-fd, -v, -h: as attach and serve take them */
		return udpc_daemon_option(cmd, argv, c, &co->max_sessions, &co->ready_fd);
	}
}

/*
 * Either command's line: IFACE, the option that names the other end (--listen,
 * --destinations), --forward, a number of its own (--connect-timeout, --link-port)
 * and the options both take.
 */
struct cmd_line {
	const char *name;
	struct option peer, number;	/* peer's val is its short option too */
	unsigned long long min, max;	/* the number's range */
	const char *missing_peer, *missing_fwd;
};

struct args {
	const char *ifname, *peer, *fwd;
	unsigned long long number;	/* 0: not given */
	struct common co;
};

/* -1 when parsed, else the exit code to return now. */
static int parse_args(const struct cmd_line *cl, int argc, char **argv, struct args *a)
{
	const struct option opts[] = {
		cl->peer,
		{ "forward", required_argument, NULL, 'f' },
		cl->number,
		{ "rto-min", required_argument, NULL, 'T' },
		{ "max-rate", required_argument, NULL, 'B' },
		{ "mtu", required_argument, NULL, 'M' },
		{ "max-sessions", required_argument, NULL, 'S' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	char shortopts[] = ":?:f:vh", number_opt[32];
	int c, ret;

	shortopts[1] = (char)cl->peer.val;
	snprintf(number_opt, sizeof(number_opt), "--%s", cl->number.name);
	a->co.ready_fd = -1;
	stream_config_default(&a->co.cfg);
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (c == cl->peer.val) {
			a->peer = optarg;
		} else if (c == 'f') {
			a->fwd = optarg;
		} else if (c == cl->number.val) {
			if (parse_num(cl->name, number_opt, optarg, cl->min, cl->max, &a->number))
				return EXIT_USAGE;
		} else {
			ret = common_option(cl->name, argv, c, &a->co);
			if (ret >= 0)
				return ret;
		}
	}
	if (udpc_iface_arg(cl->name, argc, argv, &a->ifname))
		return EXIT_USAGE;
	if (!a->peer)
		return udpc_usage_error(cl->name, "%s", cl->missing_peer);
	if (!a->fwd)
		return udpc_usage_error(cl->name, "%s", cl->missing_fwd);
	return -1;
}

/* A --forward NAME: 1..63 of [A-Za-z0-9._-]. */
static bool name_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || n >= TCPIO_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

/* Splits a comma list into items (modifies s); returns the count or -1 if too many/empty. */
static int split(char *s, char **items, int max)
{
	int n = 0;
	char *save = NULL, *t;

	if (!*s || s[strlen(s) - 1] == ',' || s[0] == ',' || strstr(s, ",,"))
		return -1;
	for (t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return -1;
		items[n++] = t;
	}
	return n;
}

static void sockaddr_of(const struct udpc_addr *a, int family, uint16_t port,
			struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == UDPC_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->w, 16);
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = a->w[0];
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
	}
}

/* HOST (a name or a literal) to its first address: 0, or -1 with the message logged. */
static int resolve_first(const char *cmd, const char *host, uint16_t port,
			 struct sockaddr_storage *ss, socklen_t *len, int *family)
{
	struct udpc_resolved r = { 0 };
	int f;

	if (udpc_resolve_getaddrinfo(host, &r, NULL) || r.error || (!r.n4 && !r.n6)) {
		fprintf(stderr, "udpclone-bpf: %s: cannot resolve '%s': %s\n", cmd, host,
			r.error ? gai_strerror(r.error) : "no address");
		return -1;
	}
	if (r.n4) {
		struct udpc_addr a = { .w = { r.v4[0] } };

		f = UDPC_AF_INET;
		sockaddr_of(&a, f, port, ss, len);
	} else {
		f = UDPC_AF_INET6;
		sockaddr_of(&r.v6[0], f, port, ss, len);
	}
	if (family)
		*family = f;
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_max < 65536) {
		struct rlimit want = { 65536, 65536 };

		if (!setrlimit(RLIMIT_NOFILE, &want))
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static void big_buffers(int fd)
{
	int sz = 8 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* ---- the peer-mode daemon, in a child ---- */

struct child {
	pid_t pid;
	int pidfd;
};

typedef int (*daemon_fn)(const void *opts);

static int run_attach(const void *o)
{
	return udpc_attach_run(o);
}

static int run_serve(const void *o)
{
	return udpc_serve_run(o);
}

/*
 * Forks the daemon with its --ready-fd on a pipe, and waits until it is ready, it
 * exits, or a SIGINT/SIGTERM comes. Returns 0 once ready. *ready_fd is the daemon's
 * option field, set here.
 */
static int spawn(daemon_fn fn, const void *opts, int *ready_fd, const sigset_t *signals,
		 struct child *ch)
{
	pid_t parent = getpid();
	int p[2], sfd;
	char buf[16] = "";

	ch->pid = -1;
	ch->pidfd = -1;
	if (pipe2(p, O_CLOEXEC)) {
		pr_warn("pipe: %s\n", strerror(errno));
		return -1;
	}
	ch->pid = fork();
	if (ch->pid < 0) {
		pr_warn("fork: %s\n", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (ch->pid == 0) {
		/* Killed outright with the parent, as a daemon killed outright: the data
		 * path stays pinned, and the next command adopts its sessions. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(EXIT_FAILURE);
		/* The parent is the service (systemd's main pid): it says READY=1 once
		 * the whole command is, and STOPPING=1. The daemon's own would come from
		 * another pid: ignored under NotifyAccess=main, and under =all a word on
		 * the data path taken for one on the command. */
		unsetenv("NOTIFY_SOCKET");
		/* Only stdio and the pipe: the parent's sockets are the parent's. */
		if (dup2(p[1], 3) < 0)
			_exit(EXIT_FAILURE);
		syscall(SYS_close_range, 4U, ~0U, 0U);
		*ready_fd = 3;
		_exit(fn(opts));
	}
	close(p[1]);
	ch->pidfd = (int)syscall(SYS_pidfd_open, ch->pid, 0);
	sfd = signalfd(-1, signals, SFD_CLOEXEC);
	for (;;) {
		struct pollfd pf[3] = {
			{ .fd = p[0], .events = POLLIN },
			{ .fd = ch->pidfd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents) {
			n = read(p[0], buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			break;
		}
		if (pf[1].revents)
			break;
		if (pf[2].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si) &&
			    (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)) {
				pr_info("%s while attaching: stopping\n", strsignal(si.ssi_signo));
				udpc_sd_notify("STOPPING=1");
				break;
			}
		}
	}
	close(p[0]);
	if (sfd >= 0)
		close(sfd);
	return strcmp(buf, "ready\n") ? -1 : 0;
}

/* Stops the daemon (SIGTERM: it detaches) and returns its exit code. */
static int reap(struct child *ch)
{
	int st = 0, i;

	if (ch->pid <= 0)
		return EXIT_FAILURE;
	kill(ch->pid, SIGTERM);
	for (i = 0; i < 100; i++) { /* bounded: 10 s, then SIGKILL */
		pid_t r = waitpid(ch->pid, &st, WNOHANG);

		if (r == ch->pid)
			break;
		if (i == 99) {
			kill(ch->pid, SIGKILL);
			waitpid(ch->pid, &st, 0);
		}
		usleep(100000);
	}
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_FAILURE;
}

static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigprocmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* "started" and the --forward names: the line that says the command is up. */
static void started_line(char *line, size_t size, const char *started, const struct tcpio_opts *t)
{
	int n = t->client ? t->n_listeners : t->n_targets, i, off;

	off = snprintf(line, size, "%s", started);
	for (i = 0; i < n && off < (int)size; i++)
		off += snprintf(line + off, size - off, "%s %s", i ? "," : "",
				t->client ? t->listeners[i].name : t->targets[i].name);
}

/* The daemon in a child, the streams here, with the options both commands take. */
static int run_both(daemon_fn fn, const void *dopts, int *dready, struct tcpio_opts *t,
		    const struct common *co, const char *started)
{
	static sigset_t signals; /* t->signals points here for tcpio_run() */
	struct child ch;
	char line[512];
	int ret, dret;

	t->cfg = co->cfg;
	block_signals(&signals);
	t->signals = &signals;
	if (spawn(fn, dopts, dready, &signals, &ch)) {
		reap(&ch);
		return EXIT_FAILURE;
	}
	t->child_pidfd = ch.pidfd;
	started_line(line, sizeof(line), started, t);
	pr_info("%s\n", line);
	udpc_notify_ready(line, co->ready_fd);
	ret = tcpio_run(t);
	dret = reap(&ch);
	return ret ? ret : dret;
}

/* ---- tcp-server ---- */

static int parse_targets(const char *cmd, const char *spec, struct tcpio_target *t, int *n)
{
	char *copy = strdup(spec), *items[TCPIO_MAX_FORWARDS];
	int i, j, k;

	if (!copy)
		return EXIT_FAILURE;
	k = split(copy, items, TCPIO_MAX_FORWARDS);
	if (k < 0) {
		free(copy);
		return udpc_usage_error(cmd, "--forward '%s': a comma-separated list of NAME=HOST:PORT", spec);
	}
	for (i = 0; i < k; i++) {
		struct udpc_dest_spec d = { 0 };
		char *eq = strchr(items[i], '='), err[256], msg[512];

		if (!eq || !name_ok(items[i], eq - items[i])) {
			udpc_usage_error(cmd, "--forward '%s': must be NAME=HOST:PORT (NAME: letters, digits, '.', '_', '-')",
					 items[i]);
			free(copy);
			return EXIT_USAGE;
		}
		/* the parser says what is wrong with HOST:PORT (an IPv6 address in brackets) */
		if (udpc_parse_dest(eq + 1, &d, err, sizeof(err)) || d.uplink[0] || d.table) {
			snprintf(msg, sizeof(msg), "--forward '%s': %s", items[i],
				 d.uplink[0] || d.table ? "no @UPLINK here: must be NAME=HOST:PORT" : err);
			udpc_usage_error(cmd, "%s", msg);
			free(copy);
			return EXIT_USAGE;
		}
		memcpy(t[i].name, items[i], eq - items[i]);
		t[i].name[eq - items[i]] = '\0';
		for (j = 0; j < i; j++)
			if (!strcmp(t[j].name, t[i].name)) {
				udpc_usage_error(cmd, "--forward: the name '%s' is given twice", t[i].name);
				free(copy);
				return EXIT_USAGE;
			}
		if (resolve_first(cmd, d.host, d.port, &t[i].addr, &t[i].len, NULL)) {
			free(copy);
			return EXIT_FAILURE;
		}
	}
	*n = k;
	free(copy);
	return 0;
}

/* The socket `serve` delivers to: dual-stack, on a port of the system's choosing. */
static int server_socket(uint16_t listen_port, uint16_t *port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	socklen_t len = sizeof(a);
	int fd, zero = 0;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len) || ntohs(a.sin6_port) == listen_port) {
		close(fd);
		return -1;
	}
	big_buffers(fd);
	*port = ntohs(a.sin6_port);
	return fd;
}

int udpc_cmd_tcp_server(int argc, char **argv)
{
	static const struct cmd_line cl = {
		.name = "tcp-server",
		.peer = { "listen", required_argument, NULL, 'l' },
		.number = { "connect-timeout", required_argument, NULL, 'C' },
		.min = 1,
		.max = 600,
		.missing_peer = "missing --listen PORT",
		.missing_fwd = "missing --forward NAME=HOST:PORT[,...]",
	};
	static struct tcpio_target targets[TCPIO_MAX_FORWARDS];
	struct args a = { 0 };
	struct udpc_serve_opts so = { .ready_fd = -1 };
	struct tcpio_opts t = { .client = false, .connect_timeout_ms = TCPIO_DEFAULT_CONNECT_TIMEOUT_MS };
	char err[256], line[512];
	int ret, n = 0;

	ret = parse_args(&cl, argc, argv, &a);
	if (ret >= 0)
		return ret;
	so.ifname = a.ifname;
	if (a.number)
		t.connect_timeout_ms = a.number * 1000;
	if (udpc_parse_port("listen", a.peer, &so.listen_port, err, sizeof(err)))
		return udpc_usage_error(cl.name, "%s", err);
	ret = parse_targets(cl.name, a.fwd, targets, &n);
	if (ret)
		return ret;
	raise_nofile();
	t.udp_fd = server_socket(so.listen_port, &so.to_port);
	if (t.udp_fd < 0) {
		pr_warn("cannot open the internal UDP socket: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	so.max_sessions = a.co.max_sessions;
	t.targets = targets;
	t.n_targets = n;
	t.ifname = so.ifname;
	snprintf(line, sizeof(line), "tcp-server serving %s: UDP port %u, streams to", so.ifname,
		 so.listen_port);
	ret = run_both(run_serve, &so, &so.ready_fd, &t, &a.co, line);
	close(t.udp_fd);
	return ret;
}

/* ---- tcp-client ---- */

/*
 * The [ADDR:]LPORT of a --forward: as attach's --listen (an IPv6 ADDR in brackets),
 * except that the unspecified address, 0.0.0.0 or [::], is taken: a listener on every
 * address of that family, as ssh -L with a bind address of '*'.
 */
static int parse_lport(const char *s, struct udpc_listen *l, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	char host[INET6_ADDRSTRLEN + 2];
	struct udpc_addr any;
	size_t n = colon ? (size_t)(colon - s) : 0;
	int family = 0;

	if (n >= 2 && n < sizeof(host)) {
		memcpy(host, s, n);
		host[n] = '\0';
		memset(&any, 0, sizeof(any));
		if (host[0] == '[' && host[n - 1] == ']') {
			host[n - 1] = '\0';
			family = inet_pton(AF_INET6, host + 1, &any) == 1 ? UDPC_AF_INET6 : 0;
		} else {
			family = inet_pton(AF_INET, host, &any) == 1 ? UDPC_AF_INET : 0;
		}
		if (family && !(any.w[0] | any.w[1] | any.w[2] | any.w[3])) {
			memset(l, 0, sizeof(*l));
			l->family = family;
			return udpc_parse_port("listen", colon + 1, &l->port, err, errlen);
		}
	}
	return udpc_parse_listen(s, l, err, errlen);
}

static int client_listeners(const char *cmd, const char *spec, struct tcpio_listener *li, int *n)
{
	char *copy = strdup(spec), *items[TCPIO_MAX_FORWARDS];
	int i, k, ret = EXIT_USAGE;

	if (!copy)
		return EXIT_FAILURE;
	k = split(copy, items, TCPIO_MAX_FORWARDS);
	if (k < 0) {
		udpc_usage_error(cmd, "--forward '%s': a comma-separated list of [ADDR:]LPORT=NAME", spec);
		goto out;
	}
	for (i = 0; i < k; i++) {
		struct udpc_listen l;
		struct sockaddr_storage ss;
		socklen_t len;
		char *eq = strchr(items[i], '='), err[256], msg[512];
		int one = 1, fd;

		if (!eq || !name_ok(eq + 1, strlen(eq + 1))) {
			udpc_usage_error(cmd, "--forward '%s': must be [ADDR:]LPORT=NAME", items[i]);
			goto out;
		}
		*eq = '\0';
		/* the parser says what is wrong ([ADDR]:LPORT for IPv6, a literal) */
		if (parse_lport(items[i], &l, err, sizeof(err))) {
			snprintf(msg, sizeof(msg), "--forward '%s=%s': %s", items[i], eq + 1, err);
			udpc_usage_error(cmd, "%s", msg);
			goto out;
		}
		if (!l.family) { /* the loopback by default, as ssh -L */
			l.family = UDPC_AF_INET;
			l.addr.w[0] = htonl(INADDR_LOOPBACK);
		}
		sockaddr_of(&l.addr, l.family, l.port, &ss, &len);
		snprintf(li[i].name, sizeof(li[i].name), "%s", eq + 1);
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		li[i].fd = fd;
		*n = i + 1;
		/* [::] is IPv6 only: 0.0.0.0 on the same port may be another forward */
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    (ss.ss_family == AF_INET6 &&
		     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
		    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4096)) {
			fprintf(stderr, "udpclone-bpf: %s: cannot listen on '%s': %s\n", cmd, items[i],
				strerror(errno));
			ret = EXIT_FAILURE;
			goto out;
		}
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

int udpc_cmd_tcp_client(int argc, char **argv)
{
	static const struct cmd_line cl = {
		.name = "tcp-client",
		.peer = { "destinations", required_argument, NULL, 'd' },
		.number = { "link-port", required_argument, NULL, 'L' },
		.min = 1,
		.max = 65535,
		.missing_peer = "missing --destinations HOST:PORT[@UPLINK][,...]",
		.missing_fwd = "missing --forward [ADDR:]LPORT=NAME[,...]",
	};
	static struct tcpio_listener li[TCPIO_MAX_FORWARDS];
	static struct udpc_attach_opts ao;
	struct args a = { 0 };
	struct tcpio_opts t = { .client = true };
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t link_port;
	char err[512], line[512], host[INET6_ADDRSTRLEN];
	int ret, n = 0, i, family;

	ao.resolve_interval = UDPC_DEFAULT_RESOLVE_INTERVAL;
	ao.flow_timeout = UDPC_DEFAULT_FLOW_TIMEOUT;
	ao.resolver = udpc_resolve_getaddrinfo;
	ao.peer = true;
	ret = parse_args(&cl, argc, argv, &a);
	if (ret >= 0)
		return ret;
	ao.ifname = a.ifname;
	link_port = a.number ? (uint16_t)a.number : UDPC_TCP_LINK_PORT;
	if (udpc_parse_dest_list(a.peer, ao.dests, UDPC_MAX_DESTS, &ao.n_dests, err, sizeof(err)))
		return udpc_usage_error(cl.name, "%s", err);
	ao.max_sessions = a.co.max_sessions;
	raise_nofile();

	/* The internal flow: to the first destination's address, at --link-port, so it
	 * leaves by IFACE, where attach --peer catches it and sends it over every path. */
	if (resolve_first(cl.name, ao.dests[0].host, link_port, &ss, &len, &family))
		return EXIT_FAILURE;
	ao.listen.family = family;
	ao.listen.port = link_port;
	if (family == UDPC_AF_INET)
		ao.listen.addr.w[0] = ((struct sockaddr_in *)&ss)->sin_addr.s_addr;
	else
		memcpy(ao.listen.addr.w, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	t.udp_fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t.udp_fd < 0 || connect(t.udp_fd, (struct sockaddr *)&ss, len)) {
		pr_warn("cannot open the internal UDP socket: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	big_buffers(t.udp_fd);
	ret = client_listeners(cl.name, a.fwd, li, &n);
	if (!ret) {
		t.listeners = li;
		t.n_listeners = n;
		t.ifname = ao.ifname;
		inet_ntop(ss.ss_family, family == UDPC_AF_INET ?
			  (void *)&((struct sockaddr_in *)&ss)->sin_addr :
			  (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
		snprintf(line, sizeof(line),
			 "tcp-client attached to %s: streams over %d path%s (flow to %s port %u), forwarding",
			 ao.ifname, ao.n_dests, ao.n_dests == 1 ? "" : "s", host, link_port);
		ret = run_both(run_attach, &ao, &ao.ready_fd, &t, &a.co, line);
	}
	for (i = 0; i < n; i++)
		if (li[i].fd >= 0)
			close(li[i].fd);
	close(t.udp_fd);
	return ret;
}
