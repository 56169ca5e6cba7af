#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# HOST:PORT@table=N: a destination's copy follows policy-routing table N instead of
# naming its uplink. The server's link-A address, reached over link B by table 100;
# the table then points at the raw-IP link C, then has no route at all. On a host
# (forwarding off) and on a router (forwarding on: bpf_fib_lookup() in table N).
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

N=300
P=5743

e2e_begin uplink_table
require_udpc
require_peer
require_cmd jq
[ -x "$WAN" ] || e2e_skip "udpc-wan is not built ($WAN)"
topo_uplinks || e2e_end
nsx "$C_NS" ip route add "$SA4/32" via "$SB4" dev "$CB_IF" table 100 || e2e_end
# Cold next hops are test_nexthop_l2's subject: here B's is known from the start.
neigh_warm "$C_NS" "$CB_IF" "$SB4" || e2e_end

dest_json() { udpc_json "$C_NS" "$CA_IF" ".destinations[$1].$2"; }
dest_is() { [ "$(dest_json "$1" "$2")" = "$3" ]; }
# send_round NAME: N datagrams through the fan-out, all replies awaited
send_round() {
	peer_send "$C_NS" "$E2E_TMP/send-$1" --to "$SA4:$P" --count "$N" --rate 1000 \
		--wait-replies 1
}

peer_echo_bg "$S_NS" "0.0.0.0:9000" srv "$E2E_TMP/srv" || e2e_end
udpc_attach_bg "$C_NS" "$CA_IF" --listen "$P" --destinations "$SA4:9000,$SA4:9000@table=100" ||
	e2e_end
assert_eq "table 100's uplink" "$CB_IF" "$(dest_json 1 uplink.interface)"
assert_eq "its table" 100 "$(dest_json 1 uplink.table)"
assert_eq "its source: uplink B's address" "$CB4" "$(dest_json 1 uplink.source4)"
assert_eq "status names it" "$SA4:9000@table=100" \
	"$(udpc_json "$C_NS" "$CA_IF" '.destinations[1].host + ":" + (.destinations[1].port|tostring)')@table=100"

# -- by link B
send_round b
assert_eq "replies, two per datagram" $((2 * N)) "$(stat_get "$E2E_TMP/send-b" replies_total)"
assert_eq "table copy sent" "$N" "$(dest_json 1 tx_packets)"
assert_eq "table copy answered by B, mapped back" "$N" "$(dest_json 1 rx_packets)"

# -- the table now routes it by the raw-IP link C: followed, B's filter released
nsx "$C_NS" ip route replace "$SA4/32" dev "$CC_IF" table 100
wait_until 3 dest_is 1 uplink.interface "$CC_IF" || fail "the table's new route was not followed"
assert_eq "its source: uplink C's address" "$CC4" "$(dest_json 1 uplink.source4)"
assert_eq "our filter left B" 0 "$(nsx "$C_NS" tc filter show dev "$CB_IF" ingress | grep -c udpc)"
assert_eq "our filter is on C" 1 "$(nsx "$C_NS" tc filter show dev "$CC_IF" ingress | grep -c udpc_ingress)"
send_round c
assert_eq "replies by C mapped back" $((2 * N)) "$(dest_json 1 rx_packets)"

# -- no route in the table: its copies are dropped and counted, the other goes on
nsx "$C_NS" ip route del "$SA4/32" table 100
wait_until 3 dest_is 1 uplink.state missing || fail "a table without a route not noticed"
a0=$(dest_json 0 tx_packets)
peer_send "$C_NS" "$E2E_TMP/send-none" --to "$SA4:$P" --count 100 --rate 1000 --wait-replies 1
assert_eq "copies without a route counted" 100 "$(dest_json 1 down_drops)"
assert_eq "the other destination unaffected" $((a0 + 100)) "$(dest_json 0 tx_packets)"

# -- a router: forwarding on, so the data path asks the FIB for table 100 itself
nsx "$C_NS" sysctl -qw net.ipv4.conf.all.forwarding=1
nsx "$C_NS" ip route add "$SA4/32" via "$SB4" dev "$CB_IF" table 100
wait_until 3 dest_is 1 uplink.interface "$CB_IF" || fail "the restored route was not followed"
rx0=$(dest_json 1 rx_packets) nm0=$(dest_json 1 neigh_missing)
send_round router
assert_eq "router: replies by B mapped back" $((rx0 + N)) "$(dest_json 1 rx_packets)"
assert_eq "router: next hop from the FIB, never missing" "$nm0" "$(dest_json 1 neigh_missing)"
e2e_end
