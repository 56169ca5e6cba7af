# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Router builds: udpclone-bpf for another CPU, as one static binary, with Debian's
# cross compiler and the target's libbpf, libelf and zlib archives (docs/DEPLOYMENT.md).
#
#   sudo scripts/install-cross-deps.sh     cross gcc, qemu-user-static, the arm64 sysroot
#   make ARCH=arm64                        build-arm64/udpclone-bpf, static, for aarch64
#   make CROSS_COMPILE=aarch64-linux-gnu-  the same
#   make ARCH=arm64 OUT=DIR GOAL           into DIR, for goals that build or install
#                                          (e.g. install DESTDIR=... PREFIX=/usr), not test
#
# The native build/ is never touched. The sysroot holds the arm64 .a files of
# libbpf-dev, libelf-dev and zlib1g-dev, unpacked (apt-get download, dpkg -x) rather
# than installed: multiarch libbpf-dev:arm64 installs beside the amd64 one, but pulls
# libc6-dev:arm64 and upgrades a dozen amd64 libraries in lockstep.
#
# The BPF object does not depend on the CPU: the same rule as natively, with
# -target bpfel (-target bpf means the build machine's byte order) and
# -D__TARGET_ARCH_arm64 (used by CO-RE tracing macros only, none here). The host's
# bpftool embeds it in build-arm64/udpclone.skel.h, the host's UAPI headers serve:
# both machines are little-endian and Linux UAPI types are the same on both.
#
# Variables: CROSS_COMPILE (default aarch64-linux-gnu- for ARCH=arm64), CROSS_SYSROOT
# (default /opt/udpclone-bpf/sysroot-arm64, where install-cross-deps.sh unpacks it),
# CROSS_OUT (default build-arm64; with OUT=DIR, DIR).

# The machine's own ARCH, as the top Makefile names it; ARCH= on the command line
# overrides that one.
CROSS_HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# Targets we know: ARCH -> Debian multiarch triplet, Debian architecture, BPF target.
CROSS_TRIPLET_arm64 := aarch64-linux-gnu
CROSS_DEBARCH_arm64 := arm64
CROSS_BPF_arm64     := bpfel
CROSS_KNOWN         := arm64

# Only what the command line says: an ARCH or CROSS_COMPILE exported for kernel builds
# must not turn `make check` into a cross build.
cross_prefix_arch = $(patsubst aarch64,arm64,$(firstword $(subst -, ,$(notdir $(1)))))
ifeq ($(origin CROSS_COMPILE),command line)
ifneq ($(strip $(CROSS_COMPILE)),)
CROSS_ARCH := $(call cross_prefix_arch,$(CROSS_COMPILE))
ifeq ($(origin ARCH),command line)
ifneq ($(ARCH),$(CROSS_ARCH))
$(error CROSS_COMPILE=$(CROSS_COMPILE) builds for $(CROSS_ARCH), not ARCH=$(ARCH))
endif
endif
endif
endif
ifeq ($(CROSS_ARCH),)
ifeq ($(origin ARCH),command line)
ifneq ($(ARCH),$(CROSS_HOST_ARCH))
CROSS_ARCH := $(ARCH)
endif
endif
endif

ifneq ($(CROSS_ARCH),)
ifeq ($(filter $(CROSS_ARCH),$(CROSS_KNOWN)),)
$(error ARCH=$(CROSS_ARCH): cross builds know $(CROSS_KNOWN) only (see mk/cross.mk))
endif
CROSS_TRIPLET  := $(CROSS_TRIPLET_$(CROSS_ARCH))
ifneq ($(call cross_prefix_arch,$(CROSS_COMPILE)),$(CROSS_ARCH))
override CROSS_COMPILE := $(CROSS_TRIPLET)-
endif
CROSS_SYSROOT  ?= /opt/udpclone-bpf/sysroot-$(CROSS_DEBARCH_$(CROSS_ARCH))
CROSS_LIBDIR   := $(CROSS_SYSROOT)/usr/lib/$(CROSS_TRIPLET)
CROSS_OUT      ?= build-$(CROSS_ARCH)
CROSS_HINT     := run 'sudo scripts/install-cross-deps.sh' first
# Goals that run something here: an $(CROSS_ARCH) binary cannot be tested on this machine.
CROSS_NO_GOALS := check check-% demo bench bench-% fuzz fuzz-build tools

ifeq ($(filter command line environment,$(origin OUT)),)
# `make ARCH=arm64`: the top Makefile's rules already name build/, so run make again
# with OUT=$(CROSS_OUT). Other goals would write to build/: refuse them.
.DEFAULT_GOAL := cross
ifneq ($(filter-out cross,$(MAKECMDGOALS)),)
$(error with ARCH=$(CROSS_ARCH), name the output directory for '$(filter-out cross,$(MAKECMDGOALS))': make ARCH=$(CROSS_ARCH) OUT=$(CROSS_OUT) $(filter-out cross,$(MAKECMDGOALS)))
endif

.PHONY: cross
cross:
	$(Q)$(MAKE) --no-print-directory OUT=$(CROSS_OUT) ARCH=$(CROSS_ARCH) \
		CROSS_COMPILE=$(CROSS_COMPILE) CROSS_SYSROOT=$(CROSS_SYSROOT) \
		$(CROSS_OUT)/udpclone-bpf

else
# OUT given: the top Makefile's own rules, with the cross compiler, into $(OUT).
ifeq ($(abspath $(OUT)),$(abspath build))
$(error OUT=$(OUT) is the native build directory: choose another for ARCH=$(CROSS_ARCH), e.g. OUT=$(CROSS_OUT))
endif
ifneq ($(filter $(CROSS_NO_GOALS),$(MAKECMDGOALS)),)
$(error '$(filter $(CROSS_NO_GOALS),$(MAKECMDGOALS))' runs on this machine: not with ARCH=$(CROSS_ARCH))
endif

ifneq ($(origin CC),command line)
CC := $(CROSS_COMPILE)gcc
endif
# -isystem: searched before /usr/include (which Debian's cross gcc also reads) and,
# like it, exempt from -Werror.
CFLAGS += -isystem $(CROSS_SYSROOT)/usr/include
# The linker warns that a static getaddrinfo() needs this glibc's NSS modules at run
# time. Only for sources other than files and dns, which glibc 2.34+ has built in
# (a lookup under qemu with no libnss_* and no nsswitch.conf works).
LIBS   := -static -L$(CROSS_LIBDIR) -lbpf -lelf -lz -pthread
# The build machine's asm/ headers (MULTIARCH came from $(CC), maybe the cross one).
CROSS_HOST_MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null)
BPF_CFLAGS := $(patsubst -D__TARGET_ARCH_%,-D__TARGET_ARCH_$(CROSS_ARCH), \
	      $(patsubst -I/usr/include/$(MULTIARCH),-I/usr/include/$(CROSS_HOST_MULTIARCH), \
	      $(subst -target bpf ,-target $(CROSS_BPF_$(CROSS_ARCH)) ,$(BPF_CFLAGS))))

# Say what is missing before the compiler does, in terms of what to run.
.PHONY: cross-prereqs
cross-prereqs:
	$(Q)command -v $(CC) >/dev/null || \
		{ echo "cross: no $(CC): $(CROSS_HINT)" >&2; exit 1; }
	$(Q)for l in bpf elf z; do [ -f $(CROSS_LIBDIR)/lib$$l.a ] || \
		{ echo "cross: no $(CROSS_LIBDIR)/lib$$l.a: $(CROSS_HINT)" >&2; exit 1; }; done

$(BPF_OBJ) $(USER_OBJS) $(BIN): | cross-prereqs
endif
endif
