# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Static analysis, part of `make check`: cppcheck and clang-tidy (clang's static
# analyser and bugprone checks) on the control plane, and shellcheck (warnings and
# errors) on every shell script, must report nothing.
# Turned off, with the reason:
#   clang-analyzer-valist.Uninitialized   clang 14 flags every va_list right after
#                                         va_start (false positive)
#   clang-analyzer-unix.Malloc            its one report is in bpftool's generated
#                                         skeleton, which we do not own; valgrind
#                                         (tests/e2e/test_soak.sh) watches our leaks
#   bugprone-easily-swappable-parameters, -reserved-identifier (kernel-style __u32),
#   -suspicious-string-compare (if (memcmp(...))), -narrowing-conversions,
#   -sizeof-expression (sizeof(*ptrs) on arrays of pointers): style, not bugs
#   clang-analyzer-security.insecureAPI.*: strcpy after a length check, snprintf...

.PHONY: lint

TIDY_CHECKS := -*,clang-analyzer-*,bugprone-*,-clang-analyzer-valist.Uninitialized,$\
	-clang-analyzer-unix.Malloc,-clang-analyzer-security.insecureAPI.*,$\
	-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,$\
	-bugprone-suspicious-string-compare,-bugprone-narrowing-conversions,$\
	-bugprone-sizeof-expression

lint: $(SKEL)
	$(call msg,CPPCHECK,user/)
	$(Q)cppcheck --quiet --enable=warning,performance,portability --error-exitcode=1 \
		--inline-suppr --suppress=missingIncludeSystem --suppress=missingInclude \
		-Iinclude -Iuser -I$(OUT) '-DLIBBPF_OPTS(TYPE,NAME,...)=struct TYPE NAME' user/*.c
	$(call msg,TIDY,user/)
	$(Q)rc=0; clang-tidy --quiet -checks='$(TIDY_CHECKS)' --warnings-as-errors='*' user/*.c -- \
		-Iinclude -Iuser -I$(OUT) -std=gnu11 -DUDPC_VERSION='"$(VERSION)"' \
		>$(OUT)/tidy.log 2>&1 || rc=$$?; \
		grep -v 'warnings\? generated\.$$' $(OUT)/tidy.log; exit $$rc
	$(call msg,SHCHECK,scripts/ tests/)
	$(Q)shellcheck -x -S warning scripts/*.sh tests/run.sh tests/fuzz/run.sh \
		tests/e2e/*.sh tests/e2e/lib/*.sh tests/bench/*.sh
