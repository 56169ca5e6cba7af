// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Dynamic DNS without flapping: an address that is still among the results is
 * kept whatever order the resolver returns them in, and a failed resolution never
 * takes an address away (the last good one stays in use, marked stale).
 */
#define _GNU_SOURCE	/* EAI_NODATA */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "reconcile.h"

static int clamp_count(int n)
{
	if (n < 0)
		return 0;
	return n > UDPC_RESOLVE_MAX ? UDPC_RESOLVE_MAX : n;
}

bool udpc_slot_has_hostport(const struct udpc_dest_spec *spec, const struct udpc_dest *cur,
			    const struct udpc_dest_info *cur_info)
{
	char host[UDPC_HOST_MAX];

	if (cur_info->state == UDPC_STATE_UNUSED || ntohs(cur->port) != spec->port)
		return false;
	/* pinned state may come from anywhere: do not trust it to be terminated */
	memcpy(host, cur_info->host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	return udpc_host_equal(spec->host, host);
}

bool udpc_slot_is_dest(const struct udpc_dest_spec *spec, const struct udpc_dest *cur,
		       const struct udpc_dest_info *cur_info)
{
	return udpc_slot_has_hostport(spec, cur, cur_info) &&
	       !strncmp(cur_info->uplink, spec->uplink, sizeof(cur_info->uplink)) &&
	       cur_info->table == spec->table;
}

int udpc_reconcile_slot(const struct udpc_dest_spec *spec,
			const struct udpc_dest *cur, const struct udpc_dest_info *cur_info,
			const struct udpc_resolved *res, uint64_t now_unix,
			struct udpc_dest *next, struct udpc_dest_info *next_info)
{
	struct udpc_dest d, before;
	struct udpc_dest_info info;
	int n4 = clamp_count(res->n4), n6 = clamp_count(res->n6);
	int i, ret = 0;
	bool keep;

	/* Whole structs zeroed, padding included: the memcmp()s below rely on it. */
	memset(&d, 0, sizeof(d));
	memset(&info, 0, sizeof(info));
	if (udpc_slot_has_hostport(spec, cur, cur_info)) {
		d.flags = cur->flags & (UDPC_DEST_V4 | UDPC_DEST_V6);
		if (d.flags & UDPC_DEST_V4)
			d.addr4 = cur->addr4;
		if (d.flags & UDPC_DEST_V6)
			d.addr6 = cur->addr6;
		info.state = cur_info->state;
		info.last_error = cur_info->last_error;
		info.last_resolved = cur_info->last_resolved;
		info.last_changed = cur_info->last_changed;
	}
	d.port = htons(spec->port);
	/* bounded: spec comes from the parser, but the map value must stay terminated */
	memcpy(info.host, spec->host, strnlen(spec->host, sizeof(info.host) - 1));
	memcpy(info.uplink, spec->uplink, strnlen(spec->uplink, sizeof(info.uplink) - 1));
	info.table = spec->table;
	before = d;

	if (!res->error && n4 + n6 > 0) {
		if (n4) {
			keep = false;
			for (i = 0; i < n4 && (d.flags & UDPC_DEST_V4); i++)
				keep |= res->v4[i] == d.addr4;
			if (!keep) {
				d.addr4 = res->v4[0];
				d.flags |= UDPC_DEST_V4;
			}
		} else {
			d.addr4 = 0;
			d.flags &= ~UDPC_DEST_V4;
		}
		if (n6) {
			keep = false;
			for (i = 0; i < n6 && (d.flags & UDPC_DEST_V6); i++)
				keep |= !memcmp(&res->v6[i], &d.addr6, sizeof(d.addr6));
			if (!keep) {
				d.addr6 = res->v6[0];
				d.flags |= UDPC_DEST_V6;
			}
		} else {
			memset(&d.addr6, 0, sizeof(d.addr6));
			d.flags &= ~UDPC_DEST_V6;
		}
		info.state = UDPC_STATE_ACTIVE;
		info.last_error = 0;
		info.last_resolved = now_unix;
		if (memcmp(&d, &before, sizeof(d)))
			info.last_changed = now_unix;
	} else {
		/* A resolver outage must not stop the copies: keep what we had. */
		info.state = d.flags ? UDPC_STATE_STALE : UDPC_STATE_UNRESOLVED;
		info.last_error = res->error ? res->error : EAI_NODATA;
	}

	if (memcmp(&d, cur, sizeof(d)))
		ret |= UDPC_RC_DEST_CHANGED;
	if (memcmp(&info, cur_info, sizeof(info)))
		ret |= UDPC_RC_INFO_CHANGED;
	/* written last so that next may alias cur */
	*next = d;
	*next_info = info;
	return ret;
}

void udpc_active_of(const struct udpc_dest *dests, struct udpc_active *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		__u32 f = dests[i].flags & (UDPC_DEST_V4 | UDPC_DEST_V6);

		if (f & UDPC_DEST_V4)
			out->slot[UDPC_ACTIVE_V4][out->n[UDPC_ACTIVE_V4]++] = (__u8)i;
		if (f & UDPC_DEST_V6)
			out->slot[UDPC_ACTIVE_V6][out->n[UDPC_ACTIVE_V6]++] = (__u8)i;
		if (f == UDPC_DEST_V4)
			out->only[UDPC_ACTIVE_V4][out->n_only[UDPC_ACTIVE_V4]++] = (__u8)i;
		if (f == UDPC_DEST_V6)
			out->only[UDPC_ACTIVE_V6][out->n_only[UDPC_ACTIVE_V6]++] = (__u8)i;
	}
}

void udpc_resolve_all(const struct udpc_dest_spec *specs, int n, udpc_resolver_fn resolver,
		      void *ctx, struct udpc_resolved *res)
{
	int i, j;

	for (i = 0; i < n && i < UDPC_MAX_DESTS; i++) {
		for (j = 0; j < i; j++)
			if (udpc_host_equal(specs[j].host, specs[i].host))
				break;
		if (j < i) {
			res[i] = res[j];
			continue;
		}
		memset(&res[i], 0, sizeof(res[i]));
		if (resolver(specs[i].host, &res[i], ctx) < 0 && !res[i].error)
			res[i].error = EAI_SYSTEM;
	}
}

int udpc_reconcile_all(const struct udpc_dest_spec *specs, int n,
		       const struct udpc_dest *cur, const struct udpc_dest_info *cur_info,
		       const struct udpc_resolved *res, uint64_t now_unix,
		       struct udpc_dest *next, struct udpc_dest_info *next_info, int *changed)
{
	struct udpc_dest_info info;
	struct udpc_dest d;
	int i, mask;

	if (n < 0 || n > UDPC_MAX_DESTS)
		return -EINVAL;
	for (i = 0; i < UDPC_MAX_DESTS; i++) {
		if (i >= n) {
			memset(&d, 0, sizeof(d));
			memset(&info, 0, sizeof(info));
			mask = 0;
			if (memcmp(&d, &cur[i], sizeof(d)))
				mask |= UDPC_RC_DEST_CHANGED;
			if (memcmp(&info, &cur_info[i], sizeof(info)))
				mask |= UDPC_RC_INFO_CHANGED;
			next[i] = d;
			next_info[i] = info;
		} else {
			mask = udpc_reconcile_slot(&specs[i], &cur[i], &cur_info[i], &res[i],
						   now_unix, &next[i], &next_info[i]);
		}
		if (changed)
			changed[i] = mask;
	}
	return 0;
}
