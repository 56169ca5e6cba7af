#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# --flow-timeout 2: a reply reaches the client only while its flow is active.
# The client (connected, fixed source port) sends for 2 s and then stays open,
# idle. A datagram from a destination's address and port to the client's port is
#   - rewritten (so the connected socket takes it) while the client is active,
#   - left alone (so the socket never sees it) once the client has been idle for
#     more than 2 s, and counted in rx_no_flow;
# and a client that speaks again gets its replies mapped again.
# The unsolicited datagrams come from 198.51.100.3:9002, the third destination,
# where no echo runs; the client counts what it gets from them as replies_corrupt
# (they carry no replier trailer).
# shellcheck disable=SC2317 # functions run through wait_until
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
CPORT=40000
TIMEOUT=2
COUNT=40
RATE=20 # 2 s of traffic

e2e_begin flow_timeout
require_udpc
require_peer
require_cmd jq
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end

peer_echo_bg "$S_NS" "$R4_1:9000" r1 "$E2E_TMP/echo1" || e2e_end
E1=$BG_PID
peer_echo_bg "$S_NS" "$R4_2:9001" r2 "$E2E_TMP/echo2" || e2e_end
E2=$BG_PID
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$R4_1:9000,$R4_2:9001,$R4_3:9002" \
	--flow-timeout "$TIMEOUT" || e2e_end
assert_eq "status flow_timeout_s" "$TIMEOUT" "$(udpc_json "$C_NS" "$C_IF" .flow_timeout_s)"

# unsolicited NAME: one datagram from the third destination to the client's port
unsolicited() {
	peer_send "$S_NS" "$E2E_TMP/unsol-$1" --to "$C4:$CPORT" --from "$R4_3:9002" --count 1 \
		--wait-replies 0
}
d3_rx() { udpc_json "$C_NS" "$C_IF" '.destinations[2].rx_packets'; }
no_flow() { udpc_json "$C_NS" "$C_IF" '.counters.rx_no_flow'; }

T0=$(_usec_now)
nsx_bg "$C_NS" "$PEER" send --to "$R4_1:$P" --from "$C4:$CPORT" --count "$COUNT" --rate "$RATE" \
	--wait-replies 6 >"$E2E_TMP/send1" 2>"$E2E_TMP/send1.log"
CLIENT=$BG_PID
since() { echo $((($(_usec_now) - T0) / 1000)); } # ms since the client started

# d1_tx: how many of the client's datagrams have gone out (its first copies)
d1_tx() { udpc_json "$C_NS" "$C_IF" '.destinations[0].tx_packets'; }
is() { [ "$("$1")" = "$2" ]; }
sent_some() { _is_int "$(d1_tx)" && [ "$(d1_tx)" -ge 1 ]; }

# -- while the client is active (it has sent, and goes on for ~2 s)
wait_until 10 sent_some || fail "the client sent nothing"
unsolicited active
t_active=$(since)
wait_until 5 is d3_rx 1
assert_eq "active: the third destination's datagram was mapped (its rx_packets)" 1 "$(d3_rx)"
assert_eq "active: rx_no_flow" 0 "$(no_flow)"

# -- once the client has sent its last datagram, idle for more than TIMEOUT s (it
# waits 6 s for replies: still listening)
wait_until 20 is d1_tx "$COUNT" || fail "the client did not send its $COUNT datagrams"
sleep $((TIMEOUT + 1)) # the time being tested: no state to wait on
unsolicited idle
t_idle=$(since)
wait_until 5 is no_flow 1
assert_eq "idle: the third destination's rx_packets unchanged" 1 "$(d3_rx)"
assert_eq "idle: rx_no_flow" 1 "$(no_flow)"
assert_ok "idle: the client is still listening" pid_alive "$CLIENT"
e2e_log "unsolicited datagrams at ${t_active} ms (active) and ${t_idle} ms (idle)"

# shellcheck disable=SC2016 # expanded by eval, on each try
wait_until 10 eval '! pid_alive "$CLIENT"' || fail "client did not finish"
wait "$CLIENT" || fail "client failed: $(head -c 300 "$E2E_TMP/send1.log")"
f=$E2E_TMP/send1
assert_eq "client sent" "$COUNT" "$(stat_get "$f" sent)"
assert_eq "client replies while active" $((2 * COUNT)) "$(stat_get "$f" replies_total)"
assert_eq "client replies_unique_seq" "$COUNT" "$(stat_get "$f" replies_unique_seq)"
assert_eq "client got the active-time datagram only (replies_corrupt)" 1 \
	"$(stat_get "$f" replies_corrupt)"

# -- the same client port speaks again: its flow is refreshed, replies map again
peer_send "$C_NS" "$E2E_TMP/send2" --to "$R4_1:$P" --from "$C4:$CPORT" --count 5 --rate 100 \
	--wait-replies 3 --expect-repliers 2
assert_eq "again: replies" 10 "$(stat_get "$E2E_TMP/send2" replies_total)"
assert_eq "again: rx_no_flow unchanged" 1 "$(no_flow)"

bg_stop "$E1"
bg_stop "$E2"
assert_eq "r1 received" $((COUNT + 5)) "$(stat_get "$E2E_TMP/echo1" received)"
assert_eq "r2 received" $((COUNT + 5)) "$(stat_get "$E2E_TMP/echo2" received)"

e2e_end
