# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Benchmark: udpclone-bpf against a userspace relay and against no relay at all.
#   make bench-quick   N = 1 and 3, 512-byte payloads, under 2 minutes
#   make bench         the full sweep (N = 1..16, 64/512/1400 bytes, 100,000 flows)
# Both write build/bench/results.md, results.tsv and results.png (scripts/bench.sh,
# docs/PERFORMANCE.md).

.PHONY: bench bench-quick bench-tools

BENCH_DIR   := $(OUT)/bench
BENCH_TOOLS := $(BENCH_DIR)/udpc-loadgen $(BENCH_DIR)/udpc-sink $(BENCH_DIR)/udpc-relay

# A build of the tool with a larger flow table, for the 100,000-flow measurement
# (the stock table holds UDPC_MAX_FLOWS = 65536 flows). Same sources, one define.
BENCH_MAX_FLOWS := 131072
BENCH_FLOWS     := $(BENCH_DIR)/flows$(BENCH_MAX_FLOWS)
BENCH_FLOWS_BIN := $(BENCH_FLOWS)/udpclone-bpf
BENCH_FLOWS_OBJS := $(patsubst user/%.c,$(BENCH_FLOWS)/user/%.o,$(USER_SRCS))

$(BENCH_DIR) $(BENCH_FLOWS)/user:
	$(Q)mkdir -p $@

$(BENCH_DIR)/udpc-loadgen: tests/bench/loadgen.c tests/bench/bench.h | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -lm -pthread -o $@

$(BENCH_DIR)/udpc-%: tests/bench/%.c tests/bench/bench.h | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

$(BENCH_FLOWS)/udpclone.bpf.o: bpf/udpclone.bpf.c | $(BENCH_FLOWS)/user
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DUDPC_MAX_FLOWS=$(BENCH_MAX_FLOWS) -c $< -o $@

$(BENCH_FLOWS)/udpclone.skel.h: $(BENCH_FLOWS)/udpclone.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name udpclone > $@

# -I$(BENCH_FLOWS) first, so that its skeleton is the one included.
$(BENCH_FLOWS_OBJS): $(BENCH_FLOWS)/user/%.o: user/%.c $(BENCH_FLOWS)/udpclone.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) -I$(BENCH_FLOWS) -DUDPC_MAX_FLOWS=$(BENCH_MAX_FLOWS) $(CFLAGS) -c $< -o $@

$(BENCH_FLOWS_BIN): $(BENCH_FLOWS_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

bench-tools: $(BIN) $(BENCH_TOOLS) $(BENCH_FLOWS_BIN)

bench: deps
	$(Q)$(MAKE) --no-print-directory bench-tools
	$(Q)OUT=$(OUT) scripts/bench.sh full

bench-quick: deps
	$(Q)$(MAKE) --no-print-directory $(BIN) $(BENCH_TOOLS)
	$(Q)OUT=$(OUT) scripts/bench.sh quick

-include $(wildcard $(BENCH_DIR)/*.d $(BENCH_FLOWS)/*.d $(BENCH_FLOWS)/user/*.d)
