// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* udpclone-bpf: command table and option parsing; the work is in attach.c, serve.c,
 * detach.c and status.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <stdarg.h>

#include "attach.h"
#include "cli.h"
#include "detach.h"
#include "log.h"
#include "resolve.h"
#include "serve.h"
#include "status.h"
#include "tcpfwd.h"

static const char usage_text[] =
	"Usage: udpclone-bpf COMMAND [ARGS]\n"
	"\n"
	"Send every UDP packet to several destinations at once, in the kernel (eBPF on TC).\n"
	"\n"
	"Commands:\n"
	"  attach IFACE --listen [ADDR:]PORT --destinations HOST:PORT[@UPLINK][,...]\n"
	"         [--resolve-interval SEC] [--flow-timeout SEC] [--max-flows N]\n"
	"         [--peer [--max-sessions N]] [--ready-fd FD] [-v]\n"
	"      Fan out UDP packets leaving IFACE for PORT (and ADDR, if given) to every\n"
	"      destination, and map their replies back. Stays in the foreground; SIGINT or\n"
	"      SIGTERM detaches. HOST is an IPv4 address, a bracketed IPv6 address or a name,\n"
	"      resolved again every --resolve-interval seconds (default 30). Replies reach a\n"
	"      client for --flow-timeout seconds after its last packet (default 180); the\n"
	"      flow table holds --max-flows clients (default 65536, least recently used\n"
	"      evicted; an attach that adopts running state keeps the size it has).\n"
	"      With --peer, the destinations are 'serve' endpoints: every copy carries a\n"
	"      16-byte header and duplicate replies are dropped (docs/PEER.md); the session\n"
	"      table holds --max-sessions client flows (default 1024).\n"
	"      Once both programs are attached, it writes \"ready\" to FD and closes it, and\n"
	"      tells systemd (READY=1 on $NOTIFY_SOCKET).\n"
	"  serve IFACE --listen PORT --to PORT [--max-sessions N] [--ready-fd FD] [-v]\n"
	"      The other end of 'attach --peer': take the copies arriving on IFACE for PORT,\n"
	"      drop duplicates and hand each datagram once to the local application on\n"
	"      --to PORT; send its replies back over every live path. Up to --max-sessions\n"
	"      sessions (default 1024, least recently used evicted). Stays in the foreground\n"
	"      like attach; SIGINT or SIGTERM detaches.\n"
	"  tcp-server IFACE --listen PORT --forward NAME=HOST:PORT[,...]\n"
	"         [--connect-timeout SEC] [--rto-min MS] [--max-rate RATE] [--mtu BYTES]\n"
	"         [--max-sessions N] [--ready-fd FD] [-v]\n"
	"      The server end of TCP forwarding (docs/TCP.md): serve on PORT, and connect each\n"
	"      stream that a tcp-client opens to the target it names, and to nothing else.\n"
	"      HOST is an address (IPv6 in brackets: app=[::1]:8000) or a name, resolved at\n"
	"      start (its first IPv4 address, else its first IPv6 one). A connect fails\n"
	"      after --connect-timeout seconds (default 10).\n"
	"  tcp-client IFACE --destinations HOST:PORT[@UPLINK][,...] --forward [ADDR:]LPORT=NAME[,...]\n"
	"         [--link-port PORT] [--rto-min MS] [--max-rate RATE] [--mtu BYTES]\n"
	"         [--max-sessions N] [--ready-fd FD] [-v]\n"
	"      Accept TCP connections on LPORT (ADDR: default 127.0.0.1; IPv6 in brackets,\n"
	"      [::1]:9000=app; 0.0.0.0 or [::] for every address) and carry each as a\n"
	"      stream to the tcp-server at the destinations, which connects it to NAME. The\n"
	"      streams travel over peer mode (attach --peer) on every path; the internal UDP\n"
	"      flow goes to the first destination's address at --link-port (default 5744).\n"
	"      Both: --rto-min floors the retransmission timeout (default 200 ms), --max-rate\n"
	"      bounds the rate in bytes/s (suffix k, M, G), --mtu is the path MTU (default\n"
	"      1280: 1,200-byte datagrams). SIGUSR1 logs counters; SIGINT or SIGTERM closes\n"
	"      the streams and detaches.\n"
	"  detach IFACE\n"
	"      Stop the daemon driving IFACE (attach or serve, if any) and remove our filters\n"
	"      and pins.\n"
	"  status [IFACE] [--json | --prometheus]\n"
	"      Destinations, addresses, states and counters (for peer mode, sessions and\n"
	"      paths), read from the pinned maps; as JSON, or as Prometheus metrics (text\n"
	"      exposition format).\n"
	"  help, --help      This text.\n"
	"  version, --version\n"
	"\n"
	"Switching an interface between attach, attach --peer and serve needs a detach first.\n"
	"Exit status: 0 success, 1 failure, 2 bad usage.\n";

int udpc_usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "udpclone-bpf: %s: ", cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'udpclone-bpf --help'.\n");
	return EXIT_USAGE;
}

/* getopt_long() said '?' (unknown option) or ':' (missing value); it prints nothing
 * itself (opterr = 0), so the one message names the option here. */
static int bad_option(const char *cmd, char **argv, int c)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		return udpc_usage_error(cmd, "option '%s' needs a value", opt);
	return udpc_usage_error(cmd, "unknown option '%s'", opt);
}

/* A whole number from min to max; `what` names its unit in the message. */
static int parse_uint(const char *cmd, const char *opt, const char *s, const char *what,
		      unsigned int min, unsigned int max, unsigned int *out)
{
	char msg[160];
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max || s[0] == '-' || s[0] == '+') {
		snprintf(msg, sizeof(msg), "%s '%%s': must be a whole number of %s from %u to %u",
			 opt, what, min, max);
		return udpc_usage_error(cmd, msg, s);
	}
	*out = v;
	return 0;
}

/* --ready-fd: a descriptor the caller opened for us. Checked now: a mistake must not
 * look like an attach that never gets ready. Not 0 (input) or 2 (the log). */
static int parse_ready_fd(const char *cmd, const char *s, int *fd)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!isdigit((unsigned char)s[0]) || *end || errno || v < 1 || v > INT_MAX ||
	    v == STDERR_FILENO)
		return udpc_usage_error(cmd, "--ready-fd '%s': must be a file descriptor number: 1, or 3 and up", s);
	if (fcntl((int)v, F_SETFD, FD_CLOEXEC))
		return udpc_usage_error(cmd, "--ready-fd '%s': no such open file descriptor", s);
	*fd = (int)v;
	return 0;
}

static int parse_max_sessions(const char *cmd, const char *s, unsigned int *out)
{
	return parse_uint(cmd, "--max-sessions", s, "sessions", UDPC_MIN_SESSIONS,
			  UDPC_LIMIT_SESSIONS, out);
}

/* The options attach, serve and the tcp commands share (--max-sessions, --ready-fd,
 * -v, -h) and getopt's complaints: -1 when taken, else the exit code to return now. */
int udpc_daemon_option(const char *cmd, char **argv, int c, unsigned int *max_sessions,
		       int *ready_fd)
{
	switch (c) {
	case 'S':
		return parse_max_sessions(cmd, optarg, max_sessions) ? EXIT_USAGE : -1;
	case 'R':
		return parse_ready_fd(cmd, optarg, ready_fd) ? EXIT_USAGE : -1;
	case 'v':
		udpc_log_set_level(UDPC_LOG_DEBUG);
		return -1;
	case 'h':
		fputs(usage_text, stdout);
		return EXIT_SUCCESS;
	default:
		return bad_option(cmd, argv, c);
	}
}

/* IFACE, the one argument: present, alone, and a possible interface name. */
int udpc_iface_arg(const char *cmd, int argc, char **argv, const char **ifname)
{
	if (optind >= argc)
		return udpc_usage_error(cmd, "%s", "missing IFACE");
	if (argc - optind > 1)
		return udpc_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	if (!*argv[optind] || strlen(argv[optind]) >= IF_NAMESIZE)
		return udpc_usage_error(cmd, "'%s' is not a valid interface name", argv[optind]);
	*ifname = argv[optind];
	return 0;
}

static int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "destinations", required_argument, NULL, 'd' },
		{ "resolve-interval", required_argument, NULL, 'r' },
		{ "flow-timeout", required_argument, NULL, 't' },
		{ "max-flows", required_argument, NULL, 'm' },
		{ "ready-fd", required_argument, NULL, 'R' }, /* long only */
		{ "peer", no_argument, NULL, 'p' },	      /* long only */
		{ "max-sessions", required_argument, NULL, 'S' }, /* long only */
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct udpc_attach_opts o = {
		.resolve_interval = UDPC_DEFAULT_RESOLVE_INTERVAL,
		.flow_timeout = UDPC_DEFAULT_FLOW_TIMEOUT,
		.ready_fd = -1,
		.resolver = udpc_resolve_getaddrinfo,
	};
	const char *listen = NULL, *dests = NULL;
	char err[512];
	int c, ret;

	while ((c = getopt_long(argc, argv, ":l:d:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'd':
			dests = optarg;
			break;
		case 'r':
			if (parse_uint("attach", "--resolve-interval", optarg, "seconds", 1, 86400,
				       &o.resolve_interval))
				return EXIT_USAGE;
			break;
		case 't':
			if (parse_uint("attach", "--flow-timeout", optarg, "seconds", 1, 7 * 86400,
				       &o.flow_timeout))
				return EXIT_USAGE;
			break;
		case 'm':
			if (parse_uint("attach", "--max-flows", optarg, "flows", UDPC_MIN_FLOWS,
				       UDPC_LIMIT_FLOWS, &o.max_flows))
				return EXIT_USAGE;
			break;
		case 'p':
			o.peer = true;
			break;
		default:
			ret = udpc_daemon_option("attach", argv, c, &o.max_sessions, &o.ready_fd);
			if (ret >= 0)
				return ret;
		}
	}
	if (o.max_sessions && !o.peer)
		return udpc_usage_error("attach", "%s", "--max-sessions needs --peer (sessions are peer mode's)");
	if (udpc_iface_arg("attach", argc, argv, &o.ifname))
		return EXIT_USAGE;
	if (!listen)
		return udpc_usage_error("attach", "%s", "missing --listen [ADDR:]PORT");
	if (!dests)
		return udpc_usage_error("attach", "%s", "missing --destinations HOST:PORT[,...]");
	if (udpc_parse_listen(listen, &o.listen, err, sizeof(err)))
		return udpc_usage_error("attach", "%s", err);
	if (udpc_parse_dest_list(dests, o.dests, UDPC_MAX_DESTS, &o.n_dests, err, sizeof(err)))
		return udpc_usage_error("attach", "%s", err);
	return udpc_attach_run(&o);
}

static int cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *ifname;
	int c;

	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		if (c == 'v') {
			udpc_log_set_level(UDPC_LOG_DEBUG);
		} else if (c == 'h') {
			fputs(usage_text, stdout);
			return EXIT_SUCCESS;
		} else {
			return bad_option("detach", argv, c);
		}
	}
	if (udpc_iface_arg("detach", argc, argv, &ifname))
		return EXIT_USAGE;
	return udpc_detach_run(ifname);
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "to", required_argument, NULL, 't' },
		{ "max-sessions", required_argument, NULL, 'S' }, /* long only */
		{ "ready-fd", required_argument, NULL, 'R' },	   /* long only */
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct udpc_serve_opts o = { .ready_fd = -1 };
	const char *listen = NULL, *to = NULL;
	char err[512];
	int c, ret;

	while ((c = getopt_long(argc, argv, ":l:t:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 't':
			to = optarg;
			break;
		default:
			ret = udpc_daemon_option("serve", argv, c, &o.max_sessions, &o.ready_fd);
			if (ret >= 0)
				return ret;
		}
	}
	if (udpc_iface_arg("serve", argc, argv, &o.ifname))
		return EXIT_USAGE;
	if (!listen)
		return udpc_usage_error("serve", "%s", "missing --listen PORT");
	if (!to)
		return udpc_usage_error("serve", "%s", "missing --to PORT");
	if (udpc_parse_serve_ports(listen, to, &o.listen_port, &o.to_port, err, sizeof(err)))
		return udpc_usage_error("serve", "%s", err);
	return udpc_serve_run(&o);
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'P' }, /* long only */
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	enum udpc_status_format format = UDPC_STATUS_TEXT;
	int c;

	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		if (c == 'j' || c == 'P') {
			enum udpc_status_format f = c == 'j' ? UDPC_STATUS_JSON : UDPC_STATUS_PROMETHEUS;

			if (format != UDPC_STATUS_TEXT && format != f)
				return udpc_usage_error("status", "%s", "--json and --prometheus exclude each other");
			format = f;
		} else if (c == 'h') {
			fputs(usage_text, stdout);
			return EXIT_SUCCESS;
		} else {
			return bad_option("status", argv, c);
		}
	}
	if (argc - optind > 1)
		return udpc_usage_error("status", "unexpected argument '%s'", argv[optind + 1]);
	return udpc_status_run(optind < argc ? argv[optind] : NULL, format);
}

static int cmd_help(int argc, char **argv)
{
	fputs(usage_text, stdout);
	return EXIT_SUCCESS;
}

static int cmd_version(int argc, char **argv)
{
	printf("udpclone-bpf %s\n", UDPC_VERSION);
	return EXIT_SUCCESS;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "attach", cmd_attach }, { "serve", cmd_serve },     { "detach", cmd_detach },
	{ "status", cmd_status },
	{ "tcp-client", udpc_cmd_tcp_client }, { "tcp-server", udpc_cmd_tcp_server },
	{ "help", cmd_help },	  { "--help", cmd_help },     { "-h", cmd_help },
	{ "version", cmd_version }, { "--version", cmd_version }, { "-V", cmd_version },
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's own log is detail (it reports expected misses too): -v only. */
	if (udpc_log_get_level() < UDPC_LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	size_t i;

	libbpf_set_print(libbpf_print);
	opterr = 0;

	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	return udpc_usage_error(argv[1], "%s", "unknown command");
}
