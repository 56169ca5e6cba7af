/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Peer mode's per-path figures for `status`, from a path's counters (udpc_peer.h),
 * those of this end and those the other end reported in its keepalives or echoes:
 * pure arithmetic, unit-tested without root.
 */
#ifndef UDPC_PATHSTATS_H
#define UDPC_PATHSTATS_H

#include <stdint.h>

/* The share of the copies that came by a path that were the first of their sequence
 * number, 0..1: how often this path was the fastest. -1 before any copy came. */
double udpc_path_first_share(uint64_t rx_first, uint64_t rx_packets);

/* A path's loss from the gaps in its sequence numbers, 0..1:
 * 1 - rx_packets / (seq_last - seq_first + 1). -1 when unknown (nothing received,
 * or seq_last below seq_first). Duplicates on the path can make rx_packets exceed
 * the span: that is no negative loss, it is 0. */
double udpc_path_loss(uint64_t rx_packets, uint64_t seq_first, uint64_t seq_last);

/* The copies that came by a path and were dropped as duplicates: neither the first
 * of their sequence number nor late. Never below 0 (counters read a moment apart). */
uint64_t udpc_path_duplicates(uint64_t rx_packets, uint64_t rx_first, uint64_t rx_late);

/* A round trip time in ms; -1 for 0 ns, which means no sample yet. */
double udpc_ns_to_ms(uint64_t ns);

/* Seconds from a CLOCK_MONOTONIC stamp to now; 0 for a stamp taken after now was read. */
double udpc_elapsed_s(uint64_t stamp_ns, uint64_t now_ns);
/* The same, but -1 for stamp 0 (it has not happened). */
double udpc_age_s(uint64_t stamp_ns, uint64_t now_ns);

#endif
