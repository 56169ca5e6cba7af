/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* tcp-client and tcp-server (docs/TCP.md): TCP forwarding over peer mode. */
#ifndef UDPC_TCPFWD_H
#define UDPC_TCPFWD_H

#define UDPC_TCP_LINK_PORT 5744	/* tcp-client: the internal flow's UDP port (--link-port) */

/* The commands, argv[0] being the command's name; return an exit code. */
int udpc_cmd_tcp_client(int argc, char **argv);
int udpc_cmd_tcp_server(int argc, char **argv);

#endif
