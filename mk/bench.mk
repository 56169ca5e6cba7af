# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Benchmark: udpclone-bpf against a userspace relay and against no relay at all, and
# TCP streams through tcp-client -> tcp-server against plain TCP (tests/bench/tcp.sh).
#   make bench-quick   N = 3 (and direct), 512-byte payloads, peer mode at N = 3, TCP at N = 2: about 4 minutes
#   make bench         the full sweep (N = 1..16, 64/512/1400 bytes, 100,000 flows, peer mode at N = 1, 3, 16,
#                      TCP at N = 1 and 2)
# Both write build/bench/results.md, results.tsv and results.png (tests/bench/bench.sh,
# docs/PERFORMANCE.md).

.PHONY: bench bench-quick bench-tools

BENCH_DIR   := $(OUT)/bench
BENCH_TOOLS := $(BENCH_DIR)/udpc-loadgen $(BENCH_DIR)/udpc-sink $(BENCH_DIR)/udpc-relay \
	       $(BENCH_DIR)/udpc-cputime

$(BENCH_DIR):
	$(Q)mkdir -p $@

BENCH_HDRS  := tests/bench/bench.h tests/tools/common.h

$(BENCH_DIR)/udpc-loadgen: tests/bench/loadgen.c $(BENCH_HDRS) | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -lm -pthread -o $@

$(BENCH_DIR)/udpc-%: tests/bench/%.c $(BENCH_HDRS) | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

# the TCP part's client and service (tests/tools)
BENCH_TCPT  := $(OUT)/tests/udpc-tcp

bench-tools: $(BIN) $(BENCH_TOOLS) $(BENCH_TCPT)

bench: deps
	$(Q)$(MAKE) --no-print-directory bench-tools
	$(Q)OUT=$(OUT) tests/bench/bench.sh full

bench-quick: deps
	$(Q)$(MAKE) --no-print-directory bench-tools
	$(Q)OUT=$(OUT) tests/bench/bench.sh quick

-include $(wildcard $(BENCH_DIR)/*.d)

# The end-to-end tests include a smoke test of these tools (tests/e2e/test_bench_tools.sh).
check-e2e: $(BENCH_TOOLS) $(BENCH_TCPT)
