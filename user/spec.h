/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Command-line specs: the listen port (optionally with an address) and the
 * destinations. Pure string handling, no resolution: a name is only checked for
 * being a well-formed name here; the reconcile loop resolves it.
 */
#ifndef UDPC_SPEC_H
#define UDPC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udpclone.h"

struct udpc_listen {
	int family;		/* 0 = any address of either family; UDPC_AF_INET or UDPC_AF_INET6 when an address was given */
	struct udpc_addr addr;	/* network byte order, IPv4 in w[0] */
	uint16_t port;		/* host byte order, 1..65535 */
};

struct udpc_dest_spec {
	char host[UDPC_HOST_MAX];	/* name, IPv4 literal, or IPv6 literal WITHOUT brackets */
	uint16_t port;			/* host byte order, 1..65535 */
	char uplink[UDPC_IFNAME_MAX];	/* HOST:PORT@IFACE: the copy leaves by IFACE; "" if none */
	uint32_t table;			/* HOST:PORT@table=N: follow routing table N; 0 if none */
};

/*
 * All parsers return 0 or -EINVAL; on error err gets one line (no newline) that
 * starts with the kind and the offending item in quotes and names the bad part.
 * out is written only on success (udpc_parse_dest_list() may have filled some
 * entries before failing). err may be NULL.
 */

/* "5743", "192.0.2.1:5743", "[2001:db8::1]:5743" */
int udpc_parse_listen(const char *s, struct udpc_listen *out, char *err, size_t errlen);

/* "host:port"; host is a name, an IPv4 literal or a bracketed IPv6 literal. */
int udpc_parse_dest(const char *s, struct udpc_dest_spec *out, char *err, size_t errlen);

/*
 * Comma-separated destinations into out[0..max); *n gets the count. Rejects empty
 * items, more than max items and duplicates (see udpc_host_equal()).
 */
int udpc_parse_dest_list(const char *s, struct udpc_dest_spec *out, int max, int *n,
			 char *err, size_t errlen);

/* A port alone, "1".."65535"; kind names it in the message ("listen", "to"). */
int udpc_parse_port(const char *kind, const char *s, uint16_t *port, char *err, size_t errlen);

/* serve's --listen PORT and --to PORT: both ports, and not the same one. */
int udpc_parse_serve_ports(const char *listen, const char *to, uint16_t *listen_port,
			   uint16_t *to_port, char *err, size_t errlen);

/* UDPC_AF_INET or UDPC_AF_INET6 (addr filled, may be NULL) if host is a literal, 0 for a name. */
int udpc_host_literal(const char *host, struct udpc_addr *addr);

/*
 * Do two hosts (as stored in udpc_dest_spec) denote the same destination?
 * Literals compare in binary (2001:db8::1 == 2001:DB8:0::1), names
 * case-insensitively ignoring one trailing dot.
 */
bool udpc_host_equal(const char *a, const char *b);

#endif
