#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# A destination with nothing listening answers every copy with ICMP port
# unreachable. The other destinations must still get everything, and the
# client's connected socket must keep working.
#
#   1. The dead destination is another address and port than the one the client
#      sent to: the ICMP errors quote a copy whose (address, port) the client's
#      socket is not connected to, so the socket never sees them. Expected: no
#      send or receive error at all, both live receivers get every datagram, and
#      all replies come back.
#   2. The dead destination is the client's own destination (HOST:PORT equal to
#      where the client sends, as in the README's examples). Its ICMP errors quote
#      exactly the client's connection: reaching the connected socket they would
#      make it report ECONNREFUSED, on a recv or on the next send, which would then
#      fail and send that datagram nowhere, not even to the live destinations. The
#      ingress program keeps them from the client and counts them (icmp_errors):
#      no socket error at all, and every datagram reaches both live receivers.
#      (ICMP errors are rate limited to about one per second per peer: the count
#      is a few, not one per copy. See docs/RELIABILITY.md).
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
N=1500
RATE=500

e2e_begin dest_unreachable
require_udpc
require_peer
require_cmd jq
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end
# the server answers with ICMP errors at its default rate limit (net.ipv4.icmp_ratelimit)

st() { udpc_json "$C_NS" "$C_IF" "$1"; }

# ---- 1. dead destination elsewhere
peer_echo_bg "$S_NS" "$R4_1:9000" r1 "$E2E_TMP/e1" || e2e_end
E1=$BG_PID
peer_echo_bg "$S_NS" "$R4_2:9001" r2 "$E2E_TMP/e2" || e2e_end
E2=$BG_PID
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" \
	--destinations "$R4_1:9000,$R4_2:9001,$R4_3:9002" || e2e_end
peer_send "$C_NS" "$E2E_TMP/s1" --to "$R4_1:$P" --count $N --rate $RATE --wait-replies 3 \
	--expect-repliers 2
f=$E2E_TMP/s1
assert_eq "1: sent" $N "$(stat_get "$f" sent)"
assert_eq "1: send_errors" 0 "$(stat_get "$f" send_errors)"
assert_eq "1: recv_errors (no ICMP error reaches the socket)" 0 "$(stat_get "$f" recv_errors)"
assert_eq "1: every datagram answered by both live destinations" $((2 * N)) \
	"$(stat_get "$f" replies_total)"
assert_eq "1: dead destination's copies counted as sent" $N \
	"$(st '.destinations[2].tx_packets')"
bg_stop "$E1"
bg_stop "$E2"
for e in e1 e2; do
	assert_eq "1: $e unique" $N "$(stat_get "$E2E_TMP/$e" unique)"
	assert_eq "1: $e dup" 0 "$(stat_get "$E2E_TMP/$e" dup)"
done
# shellcheck disable=SC2154
bg_stop "$UDPC_PID" || fail "1: daemon exit status $?"

# ---- 2. dead destination = the client's own destination
peer_echo_bg "$S_NS" "$R4_1:9000" r1 "$E2E_TMP/f1" || e2e_end
E1=$BG_PID
peer_echo_bg "$S_NS" "$R4_2:9001" r2 "$E2E_TMP/f2" || e2e_end
E2=$BG_PID
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" \
	--destinations "$R4_1:9000,$R4_2:9001,$R4_3:$P" || e2e_end
peer_send "$C_NS" "$E2E_TMP/s2" --to "$R4_3:$P" --count $N --rate $RATE --wait-replies 3 \
	--expect-repliers 2
f=$E2E_TMP/s2
bg_stop "$E1"
bg_stop "$E2"
sent=$(stat_get "$f" sent)
serr=$(stat_get "$f" send_errors)
rerr=$(stat_get "$f" recv_errors)
e2e_log "2: sent $sent, send_errors $serr, recv_errors $rerr (ECONNREFUSED from ICMP errors)"
assert_eq "2: every datagram sent" $N "$sent"
assert_eq "2: no ECONNREFUSED on the client's socket" 0 $((serr + rerr))
assert_ge "2: the dead destination's ICMP errors counted" 1 "$(st '.destinations[2].icmp_errors')"
for e in f1 f2; do
	assert_eq "2: $e got every datagram that was sent" "$sent" "$(stat_get "$E2E_TMP/$e" unique)"
	assert_eq "2: $e dup" 0 "$(stat_get "$E2E_TMP/$e" dup)"
done
assert_eq "2: every sent datagram answered by both live destinations" $((2 * sent)) \
	"$(stat_get "$f" replies_total)"
e2e_end
