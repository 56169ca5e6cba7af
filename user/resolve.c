// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "resolve.h"

int udpc_resolve_getaddrinfo(const char *host, struct udpc_resolved *out, void *ctx)
{
	/*
	 * No AI_ADDRCONFIG: it hides a family while the host has no address of it,
	 * e.g. at boot before DHCP, and the slot would then never get that family.
	 * SOCK_DGRAM: otherwise every address comes back once per socket type.
	 */
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
	};
	struct addrinfo *list, *ai;
	int i, rc;

	if (!host || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	rc = getaddrinfo(host, NULL, &hints, &list);
	if (rc) {
		out->error = rc;
		return 0;
	}
	for (ai = list; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET && out->n4 < UDPC_RESOLVE_MAX &&
		    ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
			uint32_t a = ((const struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr;

			for (i = 0; i < out->n4 && out->v4[i] != a; i++)
				;
			if (i == out->n4)
				out->v4[out->n4++] = a;
		} else if (ai->ai_family == AF_INET6 && out->n6 < UDPC_RESOLVE_MAX &&
			   ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			struct udpc_addr a;

			memcpy(&a, &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, sizeof(a));
			for (i = 0; i < out->n6 && memcmp(&out->v6[i], &a, sizeof(a)); i++)
				;
			if (i == out->n6)
				out->v6[out->n6++] = a;
		}
	}
	freeaddrinfo(list);
	return 0;
}
