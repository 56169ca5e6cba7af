# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# The BPF tests under the kernels people run, each booted in qemu (TCG) on this host's
# own / (scripts/kernel-vm.sh, docs/KERNELS.md). Part of `make check`.
#   make check-kernels               tests/run.sh bpf under Debian 12's 6.1 and newest 6.12
#   make check-kernels KERNELS=6.12  just one (any MAJOR.MINOR Debian ships, or a package)
#   make kernels                     only download and unpack them (the tests do it too;
#                                    quick once cached)
# Kernels are unpacked, never installed, into KERNEL_CACHE (as root
# /var/cache/udpclone-bpf/kernels, else $(OUT)/kernels).

.PHONY: check-kernels kernels

KERNELS ?= 6.1 6.12

kernels:
	$(Q)OUT=$(OUT) scripts/kernel-vm.sh fetch $(KERNELS)

check-kernels: $(BPF_TESTS)
	$(Q)OUT=$(OUT) KERNELS="$(KERNELS)" tests/run.sh kernels
