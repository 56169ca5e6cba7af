#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Destinations on the listen port itself. Each copy leaves through the same egress
# hook that made it, still addressed to the listen port: without the recursion
# guard it would be fanned out again (a storm, or duplicates). Every receiver must
# get each datagram exactly once, `matched` must count only the client's datagrams,
# and tx_packets must be N per destination. Both families on one attach, so the
# v4 copies go only to the v4 destinations and the v6 copies only to the v6 ones.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

N=300
P=5743

e2e_begin dest_port_equals_listen
require_udpc
require_peer
require_cmd jq
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S6" || e2e_end

echo_receivers "$S_NS" "$R4_1:$P" "$R4_2:$P" "$R4_3:$P" "[$R6_1]:$P" "[$R6_2]:$P" "[$R6_3]:$P" ||
	e2e_end
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$DESTS" || e2e_end

peer_send "$C_NS" "$E2E_TMP/send4" --to "$R4_1:$P" --count "$N" --rate 1000 \
	--wait-replies 5 --expect-repliers 3
peer_send "$C_NS" "$E2E_TMP/send6" --to "[$R6_2]:$P" --count "$N" --rate 1000 \
	--wait-replies 5 --expect-repliers 3
sleep 0.3 # a runaway recursion would still be counting: give it time to show
udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/status.json" || fail "status --json failed"
for i in "${!BINDS[@]}"; do bg_stop "${ECHO[i]}"; done

for i in "${!BINDS[@]}"; do
	assert_echo_exact "$i" "$N" "${BINDS[i]}"
done
for fam in 4 6; do
	f=$E2E_TMP/send$fam
	assert_eq "v$fam client replies_total" $((3 * N)) "$(stat_get "$f" replies_total)"
	assert_eq "v$fam client replies_unique_seq" "$N" "$(stat_get "$f" replies_unique_seq)"
	assert_eq "v$fam client replies_dup" 0 "$(stat_get "$f" replies_dup)"
	assert_eq "v$fam client repliers" 3 "$(stat_get "$f" repliers)"
done

s=$E2E_TMP/status.json
j() { udpc_json "" "" "$1" "$s"; }
assert_eq "status matched (client datagrams only)" $((2 * N)) "$(j .counters.matched)"
assert_eq "status no_dest" 0 "$(j .counters.no_dest)"
for i in "${!BINDS[@]}"; do
	assert_eq "dest $i tx_packets" "$N" "$(j ".destinations[$i].tx_packets")"
	assert_eq "dest $i rx_packets" "$N" "$(j ".destinations[$i].rx_packets")"
	assert_eq "dest $i tx_errors" 0 "$(j ".destinations[$i].tx_errors")"
done

e2e_end
