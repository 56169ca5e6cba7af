// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "spec.h"

/* Appends to buf (holding *n bytes); -ENOSPC once something did not fit. */
static int __attribute__((format(printf, 4, 5)))
append(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*n >= len)
		return -ENOSPC;
	va_start(ap, fmt);
	w = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (w < 0)
		return -EINVAL;
	if ((size_t)w >= len - *n) {
		*n = len;
		return -ENOSPC;
	}
	*n += w;
	return 0;
}

int udpc_fmt_dest(const char *host, uint16_t port, const char *uplink, uint32_t table,
		  char *buf, size_t len)
{
	/* Map values hold these in fixed arrays that a bad writer may leave unterminated. */
	int hlen = (int)strnlen(host, UDPC_HOST_MAX);
	size_t n = 0;
	int err;

	if (len)
		buf[0] = '\0';
	/* Only an IPv6 literal has a ':' (names cannot), and it needs brackets before ":PORT". */
	err = append(buf, len, &n, memchr(host, ':', hlen) ? "[%.*s]:%u" : "%.*s:%u", hlen, host,
		     port);
	if (!err && table)
		err = append(buf, len, &n, "@table=%u", table);
	else if (!err && uplink && uplink[0])
		err = append(buf, len, &n, "@%.*s", (int)strnlen(uplink, UDPC_IFNAME_MAX), uplink);
	return err;
}

int udpc_fmt_dest_spec(const struct udpc_dest_spec *s, char *buf, size_t len)
{
	return udpc_fmt_dest(s->host, s->port, s->uplink, s->table, buf, len);
}

const char *udpc_addr_str(int family, const struct udpc_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(family == UDPC_AF_INET6 ? AF_INET6 : AF_INET, a->w, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *udpc_dest_addrs(const struct udpc_dest *d, const char *sep, const char *none,
			    char *buf, size_t len)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	struct udpc_addr v4 = { .w = { d->addr4 } };

	if ((d->flags & UDPC_DEST_V4) && (d->flags & UDPC_DEST_V6))
		snprintf(buf, len, "%s%s%s", udpc_addr_str(UDPC_AF_INET, &v4, a4, sizeof(a4)), sep,
			 udpc_addr_str(UDPC_AF_INET6, &d->addr6, a6, sizeof(a6)));
	else if (d->flags & UDPC_DEST_V4)
		udpc_addr_str(UDPC_AF_INET, &v4, buf, len);
	else if (d->flags & UDPC_DEST_V6)
		udpc_addr_str(UDPC_AF_INET6, &d->addr6, buf, len);
	else
		snprintf(buf, len, "%s", none);
	return buf;
}
