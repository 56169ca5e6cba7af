/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Text forms of addresses and destinations, shared by the daemon's log lines and
 * `status` so that both name a destination the same way. Pure string work: no
 * libbpf, no system state, unit-tested without root.
 */
#ifndef UDPC_FMT_H
#define UDPC_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "udpclone.h"

struct udpc_dest_spec;

/* Room for any udpc_fmt_dest(): a 255-byte host, "[]", ":65535", "@table=4294967295", NUL. */
#define UDPC_DEST_STR_MAX (UDPC_HOST_MAX + 2 + 6 + 17)

/*
 * A destination as the user writes it: HOST:PORT, or [IPv6]:PORT for a host that is
 * an IPv6 literal, then "@table=N" if table is not 0, else "@IFACE" if uplink is
 * neither NULL nor "". port is in host byte order. host is read up to UDPC_HOST_MAX
 * bytes and uplink up to UDPC_IFNAME_MAX, so map values' fixed arrays can be passed
 * as they are. Returns 0, or -ENOSPC when it does not fit: buf then holds what fits
 * (NUL-terminated if len > 0).
 */
int udpc_fmt_dest(const char *host, uint16_t port, const char *uplink, uint32_t table,
		  char *buf, size_t len);

/* udpc_fmt_dest() of a parsed --destinations item, suffix included. */
int udpc_fmt_dest_spec(const struct udpc_dest_spec *s, char *buf, size_t len);

/* Text form of an address of family UDPC_AF_*, "?" if it does not fit; returns buf. */
const char *udpc_addr_str(int family, const struct udpc_addr *a, char *buf, size_t len);

/* A destination's addresses: "v4", "v6", "v4<sep>v6", or none; returns buf. */
const char *udpc_dest_addrs(const struct udpc_dest *d, const char *sep, const char *none,
			    char *buf, size_t len);

#endif
