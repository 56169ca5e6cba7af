#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# More client flows than the flow table holds (UDPC_MAX_FLOWS = 65536, an LRU
# hash): FLOWS (default 80000) datagrams, each from its own (address, port), two
# client addresses x 40000 ports. Then:
#   - status shows a full table (flows <= 65536, close to it) and no flow_errors:
#     the LRU map evicts instead of failing;
#   - the oldest flows are the ones evicted, the newest are there (looked up in the
#     pinned map with bpftool);
#   - a new client still gets all its replies mapped back (a new flow is created
#     in a full table).
# Eviction itself is silent: there is no counter of it (see docs/RELIABILITY.md).
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
FLOWS=${FLOWS:-80000}
C4B=192.0.2.11
MAXF=65536

e2e_begin flow_table_full
require_udpc
require_peer
require_cmd jq python3 bpftool
topo_star || e2e_end
addr_add "$C_NS" "$C_IF" "$C4B/24" || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end
peer_echo_bg "$S_NS" "$R4_1:9000" r1 "$E2E_TMP/echo1" || e2e_end
E1=$BG_PID
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$R4_1:9000" || e2e_end

t0=$SECONDS
sent=$(flows_send "$C_NS" "$R4_1" "$P" "$FLOWS" "$C4" "$C4B")
e2e_log "sent $sent in $((SECONDS - t0)) s"
assert_eq "datagrams from distinct flows" "$FLOWS" "$sent"

udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/st.json" || fail "status failed"
j() { udpc_json "" "" "$1" "$E2E_TMP/st.json"; }
flows=$(j .flows)
e2e_log "after $FLOWS flows: status flows $flows, matched $(j .counters.matched), flow_errors $(j .counters.flow_errors) ($((SECONDS - t0)) s)"
echo "measure: flows_sent=$FLOWS table=$flows flow_errors=$(j .counters.flow_errors)"
assert_eq "matched" "$FLOWS" "$(j .counters.matched)"
assert_eq "flow_errors (LRU evicts, never fails)" 0 "$(j .counters.flow_errors)"
assert_le "flows in the table" $MAXF "$flows"
assert_ge "flows in the table (full, give or take the per-CPU free lists)" $((MAXF - 4096)) "$flows"
assert_eq "flows created, one per client" "$FLOWS" "$(j .counters.flows_created)"
assert_eq "flows evicted, counted: created minus present" $((FLOWS - flows)) "$(j .counters.flows_evicted)"

# shellcheck disable=SC2317 # called through assert_ok/assert_fail
# the key of a flow as the map has it: address (16 bytes), port (BE), family, pad
flow_key() {
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1 $2
	printf '%d %d %d %d 0 0 0 0 0 0 0 0 0 0 0 0 %d %d 2 0' "$1" "$2" "$3" "$4" $(($5 >> 8)) $(($5 & 255))
}
# shellcheck disable=SC2317
flow_present() {
	# shellcheck disable=SC2046
	bpftool map lookup pinned "$UDPC_PIN_ROOT/$C_IF/udpc_flows" key $(flow_key "$1" "$2") \
		>/dev/null 2>&1
}
per=$(((FLOWS + 1) / 2))
assert_fail "the oldest flow ($C4:20000) was evicted" flow_present "$C4" 20000
assert_ok "the newest flow ($C4B:$((20000 + per - 1))) is there" flow_present "$C4B" $((20000 + per - 1))

# a new client in the full table: every reply mapped back
peer_send "$C_NS" "$E2E_TMP/new" --to "$R4_1:$P" --count 200 --rate 1000 --wait-replies 3 \
	--expect-repliers 1
assert_eq "new client in a full table: replies" 200 "$(stat_get "$E2E_TMP/new" replies_total)"
assert_eq "flow_errors after the new client" 0 "$(udpc_json "$C_NS" "$C_IF" .counters.flow_errors)"
bg_stop "$E1"
e2e_end
