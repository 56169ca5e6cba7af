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
