/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* main.c's command-line helpers, for the commands parsed elsewhere (tcpfwd.c). */
#ifndef UDPC_CLI_H
#define UDPC_CLI_H

#define EXIT_USAGE 2

/* "udpclone-bpf: CMD: " fmt (with arg) and the --help hint, on stderr; returns EXIT_USAGE. */
int udpc_usage_error(const char *cmd, const char *fmt, const char *arg);

/* IFACE, the one argument after the options: 0, or EXIT_USAGE with the message printed. */
int udpc_iface_arg(const char *cmd, int argc, char **argv, const char **ifname);

/* The options the peer-mode daemons take (--max-sessions 'S', --ready-fd 'R', -v, -h)
 * and getopt's complaints: -1 when taken, else the exit code to return now. */
int udpc_daemon_option(const char *cmd, char **argv, int c, unsigned int *max_sessions,
		       int *ready_fd);

#endif
