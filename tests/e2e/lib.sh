# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# shellcheck shell=bash source-path=SCRIPTDIR
#
# The namespace harness for the end-to-end tests (and the demo and the benchmark):
# `. tests/e2e/lib.sh` sources its three layers, each after those it builds on.
#   lib/harness.sh  a test's life (e2e_begin, e2e_end, cleanup, verdict), require_*,
#                   processes, nsx, bounded waits, assertions; the rules all follow
#   lib/topo.sh     namespaces and links: ns_new, link_veth, topo_star, link_plain,
#                   link_tun, topo_uplinks, link_loss
#   lib/drivers.sh  udpc-peer and udpclone-bpf: peer_*, flows_send, udpc_attach_bg,
#                   udpc, udpc_json*, filters, pins, neighbours, echo receivers
# A test that needs neither root nor namespaces sources lib/harness.sh alone.

. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh" || return 1
. "$(dirname "${BASH_SOURCE[0]}")/lib/topo.sh" || return 1
. "$(dirname "${BASH_SOURCE[0]}")/lib/drivers.sh" || return 1
