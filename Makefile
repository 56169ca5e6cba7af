# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# udpclone-bpf: one Makefile, everything built out of tree in $(OUT).
#   make            build the tool          make check   build + all tests (as root; the
#                                           packages: scripts/install-deps.sh, or test.sh)
#   make demo       run the namespace demo  make V=1     show full commands

OUT      ?= build
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= gcc
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ARCH        := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTIARCH   := $(shell $(CC) -print-multiarch 2>/dev/null)
LIBS        := -lbpf -lelf -lz -pthread
CMOCKA_LIBS := -lcmocka

CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -std=gnu11 \
	    -Iinclude -Iuser -I$(OUT) -DUDPC_VERSION='"$(VERSION)"' -MMD -MP
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
	      -Iinclude -I/usr/include/$(MULTIARCH) -MMD -MP

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.PHONY: all clean check check-unit check-bpf check-e2e demo deps tools

BPF_OBJ  := $(OUT)/udpclone.bpf.o
SKEL     := $(OUT)/udpclone.skel.h
BIN      := $(OUT)/udpclone-bpf

# Control-plane modules with no libbpf dependency: unit-tested without root.
PURE_SRCS := user/spec.c user/reconcile.c user/log.c user/fmt.c user/pathstats.c \
	     user/stream.c user/stream_rset.c user/kaframe.c user/tcpstat.c
USER_SRCS := $(wildcard user/*.c)
PURE_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(PURE_SRCS))
USER_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(wildcard tests/unit/test_*.c))
BPF_TESTS  := $(patsubst tests/bpf/%.c,$(OUT)/tests/%,$(wildcard tests/bpf/test_*.c))
TOOLS      := $(patsubst tests/tools/%.c,$(OUT)/tests/%,$(wildcard tests/tools/*.c))

all: $(BIN)

$(OUT) $(OUT)/user $(OUT)/tests:
	$(Q)mkdir -p $@

$(BPF_OBJ): bpf/udpclone.bpf.c | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BPF_OBJ)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name udpclone > $@

# Pure modules build without the BPF toolchain, so unit tests need neither.
$(PURE_OBJS): $(OUT)/user/%.o: user/%.c | $(OUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The rest may include the skeleton: generate it first.
$(filter-out $(PURE_OBJS),$(USER_OBJS)): $(OUT)/user/%.o: user/%.c $(SKEL) | $(OUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BIN): $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

$(OUT)/tests/test_%: tests/unit/test_%.c $(PURE_OBJS) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests $< $(PURE_OBJS) $(CMOCKA_LIBS) -o $@

# BPF data-path tests drive the real object through BPF_PROG_TEST_RUN.
$(BPF_TESTS): $(OUT)/tests/%: tests/bpf/%.c $(SKEL) $(PURE_OBJS) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests -Iuser $< $(PURE_OBJS) $(LIBS) $(CMOCKA_LIBS) -o $@

$(TOOLS): $(OUT)/tests/%: tests/tools/%.c tests/tools/common.h | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

tools: $(TOOLS)

deps:
	$(Q)scripts/install-deps.sh

check:
	$(Q)$(MAKE) --no-print-directory $(BIN) $(UNIT_TESTS) $(BPF_TESTS) $(TOOLS) $(BENCH_TOOLS) \
		fuzz-build lint
	$(Q)OUT=$(OUT) tests/run.sh all

check-unit: $(UNIT_TESTS)
	$(Q)OUT=$(OUT) tests/run.sh unit

check-bpf: $(BPF_TESTS)
	$(Q)OUT=$(OUT) tests/run.sh bpf

check-e2e: $(BIN) $(TOOLS)
	$(Q)OUT=$(OUT) tests/run.sh e2e

demo: deps
	$(Q)$(MAKE) --no-print-directory $(BIN) $(TOOLS)
	$(Q)OUT=$(OUT) scripts/demo.sh

clean:
	$(call msg,CLEAN,$(OUT))
	$(Q)rm -rf $(OUT)

# Further targets (bench, install, ...) live in mk/, one file per concern.
include $(sort $(wildcard mk/*.mk))

-include $(wildcard $(OUT)/*.d $(OUT)/user/*.d $(OUT)/tests/*.d)
