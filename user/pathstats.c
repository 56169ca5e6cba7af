// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* A path's first-arrival share and loss (pathstats.h). */
#include "pathstats.h"

double udpc_path_first_share(uint64_t rx_first, uint64_t rx_packets)
{
	if (!rx_packets)
		return -1;
	/* Counters are updated without a lock: first may run a moment ahead. */
	return rx_first >= rx_packets ? 1.0 : (double)rx_first / (double)rx_packets;
}

double udpc_path_loss(uint64_t rx_packets, uint64_t seq_first, uint64_t seq_last)
{
	uint64_t span;

	if (!rx_packets || seq_last < seq_first)
		return -1;
	span = seq_last - seq_first;
	/* 0 .. UINT64_MAX: the span is span + 1 sequence numbers, computed without overflow. */
	if (rx_packets > span)
		return 0;
	return 1.0 - (double)rx_packets / ((double)span + 1.0);
}

uint64_t udpc_path_duplicates(uint64_t rx_packets, uint64_t rx_first, uint64_t rx_late)
{
	/* Read a moment apart, first and late may together run ahead of packets. */
	return rx_first + rx_late >= rx_packets || rx_first + rx_late < rx_first
		       ? 0
		       : rx_packets - rx_first - rx_late;
}

double udpc_ns_to_ms(uint64_t ns)
{
	return ns ? (double)ns / 1e6 : -1;
}

double udpc_elapsed_s(uint64_t stamp_ns, uint64_t now_ns)
{
	return now_ns > stamp_ns ? (double)(now_ns - stamp_ns) / 1e9 : 0;
}

double udpc_age_s(uint64_t stamp_ns, uint64_t now_ns)
{
	return stamp_ns ? udpc_elapsed_s(stamp_ns, now_ns) : -1;
}
