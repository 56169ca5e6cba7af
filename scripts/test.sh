#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Quick start, second command: install what is needed, build, run every test
# (unit, BPF and end-to-end in network namespaces). Needs root. The router build's
# cross toolchain is installed too, so that its test (test_cross_arm64) runs rather
# than being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-cross-deps.sh
exec make check
