# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# libFuzzer target for the --listen/--destinations parsers (tests/fuzz/fuzz_spec.c),
# built with clang's libFuzzer, AddressSanitizer and UBSan (clang 14: libclang-rt-14-dev).
#   make fuzz          replay the corpus, then fuzz for FUZZ_TIME seconds (default 60)
#   make check-fuzz    the same for 20 s: what `make check` runs (tests/fuzz/run.sh)
# New inputs go to $(OUT)/fuzz/corpus, crashes to $(OUT)/fuzz/: tests/fuzz/corpus is
# only read. Add an interesting input there by hand (a few dozen files at most).

.PHONY: fuzz check-fuzz fuzz-build

FUZZ_CC     ?= clang
FUZZ_DIR    := $(OUT)/fuzz
FUZZ_BIN    := $(FUZZ_DIR)/fuzz_spec
FUZZ_TIME   ?= 60
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	       -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11 -Iinclude -Iuser

$(FUZZ_DIR):
	$(Q)mkdir -p $@

$(FUZZ_BIN): tests/fuzz/fuzz_spec.c user/spec.c user/log.c user/spec.h user/log.h \
	     include/udpclone.h | $(FUZZ_DIR)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) tests/fuzz/fuzz_spec.c user/spec.c user/log.c -o $@

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	$(Q)OUT=$(OUT) tests/fuzz/run.sh $(FUZZ_TIME)

check-fuzz: $(FUZZ_BIN)
	$(Q)OUT=$(OUT) tests/fuzz/run.sh 20
