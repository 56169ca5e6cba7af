#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# An active flow never times out, whatever the CPUs do. A fast stream to three
# receivers makes egress (client's CPU) and ingress (one CPU per replying echo)
# refresh the same flow's last_seen_ns concurrently. The ingress check must not
# mistake a last_seen_ns a little *newer* than its own clock reading for an idle
# flow (an unsigned `now - last_seen` wraps to a huge age): every reply must be
# mapped back (rx_no_flow 0) and the client must get all 3N. The default flow
# timeout is 180 s, so no real timeout can happen here.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

N=20000
RATE=10000
P=5743

e2e_begin flow_race
require_udpc
require_peer
require_cmd jq
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end

echo_receivers "$S_NS" "$R4_1:9000" "$R4_2:9001" "$R4_3:9002" || e2e_end
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$DESTS" || e2e_end

peer_send "$C_NS" "$E2E_TMP/send" --to "$R4_1:$P" --count "$N" --rate "$RATE" \
	--wait-replies 3 --expect-repliers 3
udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/status.json" || fail "status --json failed"
for i in 0 1 2; do bg_stop "${ECHO[i]}"; done

j() { udpc_json "" "" "$1" "$E2E_TMP/status.json"; }
replied=0
for i in 0 1 2; do
	assert_eq "r$i received" "$N" "$(stat_get "$E2E_TMP/echo$i" received)"
	r=$(stat_get "$E2E_TMP/echo$i" replied)
	replied=$((replied + ${r:-0}))
done
assert_eq "receivers replied" $((3 * N)) "$replied"
assert_eq "rx_no_flow (replies to an active flow taken for idle)" 0 "$(j .counters.rx_no_flow)"
assert_eq "rx_packets, all destinations" $((3 * N)) "$(j '[.destinations[].rx_packets] | add')"
assert_eq "client replies_total" $((3 * N)) "$(stat_get "$E2E_TMP/send" replies_total)"

e2e_end
