#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Quick start, second command: install what is needed, build, run every test
# (unit, BPF, end-to-end in network namespaces, and the BPF tests again under
# Debian's 6.1 and 6.12 kernels in qemu). Needs root. The router build's
# cross toolchain is installed too, so that its test (test_cross_arm64) runs rather
# than being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-cross-deps.sh
exec make check
