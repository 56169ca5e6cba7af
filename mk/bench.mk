# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Benchmark: udpclone-bpf against a userspace relay and against no relay at all.
#   make bench-quick   N = 3 (and direct), 512-byte payloads, peer mode at N = 3: 3-4 minutes
#   make bench         the full sweep (N = 1..16, 64/512/1400 bytes, 100,000 flows, peer mode at N = 1, 3, 16)
# Both write build/bench/results.md, results.tsv and results.png (tests/bench/bench.sh,
# docs/PERFORMANCE.md).

.PHONY: bench bench-quick bench-tools

BENCH_DIR   := $(OUT)/bench
BENCH_TOOLS := $(BENCH_DIR)/udpc-loadgen $(BENCH_DIR)/udpc-sink $(BENCH_DIR)/udpc-relay

$(BENCH_DIR):
	$(Q)mkdir -p $@

BENCH_HDRS  := tests/bench/bench.h tests/tools/common.h

$(BENCH_DIR)/udpc-loadgen: tests/bench/loadgen.c $(BENCH_HDRS) | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -lm -pthread -o $@

$(BENCH_DIR)/udpc-%: tests/bench/%.c $(BENCH_HDRS) | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

bench-tools: $(BIN) $(BENCH_TOOLS)

bench: deps
	$(Q)$(MAKE) --no-print-directory bench-tools
	$(Q)OUT=$(OUT) tests/bench/bench.sh full

bench-quick: deps
	$(Q)$(MAKE) --no-print-directory $(BIN) $(BENCH_TOOLS)
	$(Q)OUT=$(OUT) tests/bench/bench.sh quick

-include $(wildcard $(BENCH_DIR)/*.d)

# The end-to-end tests include a smoke test of these tools (tests/e2e/test_bench_tools.sh).
check-e2e: $(BENCH_TOOLS)
