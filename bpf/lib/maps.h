/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* Every map of the data path (layouts: include/udpclone.h). */
#ifndef UDPC_BPF_LIB_MAPS_H
#define UDPC_BPF_LIB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "udpclone.h"
#include "udpc_peer.h"

/* All maps are pinned by name, so a new `attach` adopts the running state and the
 * replaced programs keep counting into the same counters. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udpc_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_dest);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_dests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udpc_active);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_active SEC(".maps");

/* Control plane only; defined here so that it is created and pinned with the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_dest_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_dest_info SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_dest_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_dest_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_nexthop);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_nexthops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_prev);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_prev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UDPC_MAX_DESTS);
	__type(key, __u32);
	__type(value, struct udpc_uplink);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_uplinks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udpc_global_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_global SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UDPC_MAX_FLOWS);
	__type(key, struct udpc_flow_key);
	__type(value, struct udpc_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_flows SEC(".maps");

/*
 * Recursion guard. bpf_clone_redirect() to an egress device transmits the clone
 * synchronously (dev_queue_xmit), which runs this interface's egress hook again on
 * the clone before the helper returns. The guard is set around the call, so the
 * nested run sees it and lets our own copy through, whatever its port. The CPU
 * cannot switch to another packet meanwhile: TC runs with bottom halves disabled.
 * Pinned so that a program replaced mid-flight shares it with its successor.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_guard SEC(".maps");

/* Peer mode (include/udpc_peer.h). Pinned like the rest: sessions outlive a daemon
 * killed outright. Without peer mode user space loads udpc_sessions and udpc_labels
 * with one entry each. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udpc_peer_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_peer_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UDPC_DEFAULT_SESSIONS);
	__type(key, __u64);
	__type(value, struct udpc_session);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UDPC_DEFAULT_SESSIONS);
	__type(key, struct udpc_flow_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_labels SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udpc_peer_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udpc_peer_stats SEC(".maps");

/* A new session is built here and copied into udpc_sessions: it is too big for the
 * stack. Only its first fields are ever written, so its paths and window stay zero. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udpc_session);
} udpc_session_tmpl SEC(".maps");

static __always_inline struct udpc_global_stats *global_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&udpc_global, &zero);
}

static __always_inline struct udpc_peer_stats *peer_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&udpc_peer_stats, &zero);
}

#endif /* UDPC_BPF_LIB_MAPS_H */
