// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* The map registry (maps.h): one table of names and layouts for both ways in. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "maps.h"
#include "udpc_peer.h"
#include "udpclone.h"

/* One row per map: its name (pin and object), where its fd goes, its layout. */
static const struct {
	const char *name;
	size_t fd_off;
	__u32 key_size, value_size;
} registry[] = {
	{ "udpc_config", offsetof(struct udpc_maps, config), 4, sizeof(struct udpc_config) },
	{ "udpc_dests", offsetof(struct udpc_maps, dests), 4, sizeof(struct udpc_dest) },
	{ "udpc_active", offsetof(struct udpc_maps, active), 4, sizeof(struct udpc_active) },
	{ "udpc_dest_info", offsetof(struct udpc_maps, dest_info), 4,
	  sizeof(struct udpc_dest_info) },
	{ "udpc_dest_stats", offsetof(struct udpc_maps, dest_stats), 4,
	  sizeof(struct udpc_dest_stats) },
	{ "udpc_nexthops", offsetof(struct udpc_maps, nexthops), 4, sizeof(struct udpc_nexthop) },
	{ "udpc_prev", offsetof(struct udpc_maps, prev), 4, sizeof(struct udpc_prev) },
	{ "udpc_uplinks", offsetof(struct udpc_maps, uplinks), 4, sizeof(struct udpc_uplink) },
	{ "udpc_global", offsetof(struct udpc_maps, global), 4,
	  sizeof(struct udpc_global_stats) },
	{ "udpc_flows", offsetof(struct udpc_maps, flows), sizeof(struct udpc_flow_key),
	  sizeof(struct udpc_flow) },
	{ "udpc_peer_cfg", offsetof(struct udpc_maps, peer_cfg), 4, sizeof(struct udpc_peer_cfg) },
	{ "udpc_sessions", offsetof(struct udpc_maps, sessions), 8, sizeof(struct udpc_session) },
	{ "udpc_labels", offsetof(struct udpc_maps, labels), sizeof(struct udpc_flow_key), 8 },
	{ "udpc_peer_stats", offsetof(struct udpc_maps, peer_stats), 4,
	  sizeof(struct udpc_peer_stats) },
};

#define N_MAPS (sizeof(registry) / sizeof(registry[0]))

static int *fd_at(struct udpc_maps *m, size_t i)
{
	return (int *)((char *)m + registry[i].fd_off);
}

/* Checks row i's fd against its layout; the tables' sizes are read on the way. */
static int check(struct udpc_maps *m, size_t i)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(*fd_at(m, i), &info, &len))
		return -errno;
	if (info.key_size != registry[i].key_size || info.value_size != registry[i].value_size)
		return -EPROTO;
	if (fd_at(m, i) == &m->flows)
		m->max_flows = info.max_entries;
	if (fd_at(m, i) == &m->sessions)
		m->max_sessions = info.max_entries;
	return 0;
}

static void init(struct udpc_maps *m, bool owned)
{
	size_t i;

	for (i = 0; i < N_MAPS; i++)
		*fd_at(m, i) = -1;
	m->max_flows = 0;
	m->max_sessions = 0;
	m->owned = owned;
}

int udpc_maps_of(struct udpc_maps *m, const struct bpf_object *obj)
{
	size_t i;
	int err;

	init(m, false);
	for (i = 0; i < N_MAPS; i++) {
		const struct bpf_map *map = bpf_object__find_map_by_name(obj, registry[i].name);

		*fd_at(m, i) = map ? bpf_map__fd(map) : -1;
		if (*fd_at(m, i) < 0)
			return -ENOENT;
		err = check(m, i);
		if (err)
			return err;
	}
	return 0;
}

int udpc_maps_open(struct udpc_maps *m, const char *pin_dir)
{
	char path[192];
	size_t i;
	int err;

	init(m, true);
	for (i = 0; i < N_MAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, registry[i].name);
		*fd_at(m, i) = bpf_obj_get(path);
		err = *fd_at(m, i) < 0 ? -errno : check(m, i);
		if (err) {
			udpc_maps_close(m);
			return err;
		}
	}
	return 0;
}

void udpc_maps_close(struct udpc_maps *m)
{
	size_t i;

	for (i = 0; i < N_MAPS; i++) {
		if (m->owned && *fd_at(m, i) >= 0)
			close(*fd_at(m, i));
		*fd_at(m, i) = -1;
	}
}
