#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Fan-out over IPv4 (and, run as FANOUT_FAMILY=6 by test_fanout_v6.sh, over IPv6):
# a connected client sends N datagrams to the first destination's address on the
# listen port; each of three echo receivers gets every datagram exactly once,
# intact, from the client's own address and port; the client gets all 3N replies,
# each from the address it sent to; the counters in `status --json` agree.
#
# Forwarding is off in the client namespace, so bpf_fib_lookup() does not answer
# and the copies take their L2 header from the daemon's next-hop table. The client
# has talked to its gateway before attach (as any host has), so that table is
# complete from the first packet: neigh_missing must be exactly 0. (A next hop the
# daemon first has to resolve is test_nexthop_l2's business.)
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

FAM=${FANOUT_FAMILY:-4}
N=500
LISTEN=5743

e2e_begin "fanout_v$FAM"
require_udpc
require_peer
require_cmd jq
topo_star || e2e_end

if [ "$FAM" = 6 ]; then
	A=("$R6_1" "$R6_2" "$R6_3") GW=$S6 CLIENT=$C6
	brk() { echo "[$1]"; }
	SYSCTL=net.ipv6.conf.$C_IF.forwarding
else
	A=("$R4_1" "$R4_2" "$R4_3") GW=$S4 CLIENT=$C4
	brk() { echo "$1"; }
	SYSCTL=net.ipv4.conf.$C_IF.forwarding
fi
PORTS=(9000 9001 9002)

assert_eq "forwarding on the client iface ($SYSCTL)" 0 "$(nsx "$C_NS" sysctl -n "$SYSCTL")"
neigh_warm "$C_NS" "$C_IF" "$GW" || e2e_end

DESTS=
for i in 0 1 2; do
	peer_echo_bg "$S_NS" "$(brk "${A[i]}"):${PORTS[i]}" "r$i" "$E2E_TMP/echo$i" || e2e_end
	ECHO[i]=$BG_PID
	DESTS+="${DESTS:+,}$(brk "${A[i]}"):${PORTS[i]}"
done

udpc_attach_bg "$C_NS" "$C_IF" --listen "$LISTEN" --destinations "$DESTS" || e2e_end

peer_send "$C_NS" "$E2E_TMP/send" --to "$(brk "${A[0]}"):$LISTEN" --count "$N" --rate 1000 \
	--wait-replies 5 --expect-repliers 3
udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/status.json" ||
	fail "status --json failed: $(cat "$E2E_TMP/status.json.err")"
for i in 0 1 2; do bg_stop "${ECHO[i]}"; done

# -- the receivers: N each, intact, once, from the client's unchanged address
f=$E2E_TMP/send
client_port=
for i in 0 1 2; do
	e=$E2E_TMP/echo$i
	assert_echo_exact "$i" "$N"
	assert_eq "r$i replied" "$N" "$(stat_get "$e" replied)"
	from=$(stat_get "$e" from)
	assert_eq "r$i sender address" "$(brk "$CLIENT")" "${from%:*}"
	[ -n "$client_port" ] || client_port=${from##*:}
	assert_eq "r$i sender port (same source port for all copies)" "$client_port" "${from##*:}"
done

# -- the client: 3N replies, N from each receiver, every seq answered by all three
assert_eq "client sent" "$N" "$(stat_get "$f" sent)"
assert_eq "client send_errors" 0 "$(stat_get "$f" send_errors)"
assert_eq "client replies_total" $((3 * N)) "$(stat_get "$f" replies_total)"
assert_eq "client repliers" 3 "$(stat_get "$f" repliers)"
for i in 0 1 2; do
	assert_eq "client replies from r$i" "$N" "$(stat_get "$f" "replies_from r$i" 3)"
	assert_eq "client unique replies from r$i" "$N" "$(stat_get "$f" "replies_unique_from r$i" 3)"
done
assert_eq "client replies_unique_seq" "$N" "$(stat_get "$f" replies_unique_seq)"
assert_eq "client replies_dup" 0 "$(stat_get "$f" replies_dup)"
assert_eq "client replies_corrupt" 0 "$(stat_get "$f" replies_corrupt)"
assert_eq "client replies_foreign" 0 "$(stat_get "$f" replies_foreign)"

# -- status --json
s=$E2E_TMP/status.json
j() { udpc_json "" "" "$1" "$s"; }
assert_eq "status running" true "$(j .running)"
assert_eq "status filters" "true true" "$(j '"\(.filters.ingress) \(.filters.egress)"')"
assert_eq "status listen port" "$LISTEN" "$(j .listen.port)"
assert_eq "status listen address" null "$(j .listen.address)"
assert_eq "status destinations" 3 "$(j '.destinations | length')"
assert_eq "status matched" "$N" "$(j .counters.matched)"
assert_eq "status no_dest" 0 "$(j .counters.no_dest)"
assert_eq "status skipped" 0 "$(j .counters.skipped)"
assert_eq "status flow_errors" 0 "$(j .counters.flow_errors)"
assert_eq "status rx_no_flow" 0 "$(j .counters.rx_no_flow)"
assert_eq "status flows" 1 "$(j .flows)"
for i in 0 1 2; do
	d=".destinations[$i]"
	assert_eq "dest $i host" "${A[i]}" "$(j "$d.host")"
	assert_eq "dest $i port" "${PORTS[i]}" "$(j "$d.port")"
	assert_eq "dest $i state" active "$(j "$d.state")"
	assert_eq "dest $i ipv$FAM" "${A[i]}" "$(j "$d.ipv$FAM")"
	assert_eq "dest $i tx_packets" "$N" "$(j "$d.tx_packets")"
	assert_eq "dest $i rx_packets" "$N" "$(j "$d.rx_packets")"
	assert_eq "dest $i tx_errors" 0 "$(j "$d.tx_errors")"
	assert_eq "dest $i fib_errors" 0 "$(j "$d.fib_errors")"
	assert_eq "dest $i neigh_missing" 0 "$(j "$d.neigh_missing")"
	assert_ne "dest $i last_reply_age_s" null "$(j "$d.last_reply_age_s")"
done
# tx_bytes: N frames of the same size per destination (the original's size)
b0=$(j '.destinations[0].tx_bytes')
assert_eq "dest tx_bytes equal" "$b0 $b0" "$(j '.destinations[1].tx_bytes') $(j '.destinations[2].tx_bytes')"
assert_eq "dest tx_bytes multiple of N" 0 $((b0 % N))

e2e_end
