#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# A daemon killed outright (kill -9) leaves the data path forwarding; a new attach
# with the same arguments adopts the pinned state and swaps the programs in place,
# all while a steady stream runs: no receiver misses a datagram, none gets one
# twice, and the counters carry on across the swap. A final `detach` removes our
# filters and pins.
# shellcheck disable=SC2317 # functions run through wait_until
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

RATE=500
P=5743

e2e_begin kill9_adopt
require_udpc
require_peer
require_cmd jq
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end

echo_receivers "$S_NS" "$R4_1:9000" "$R4_2:9001" "$R4_3:9002" || e2e_end
LOG=$E2E_TMP/udpc-$C_IF.log
T_LOAD=$(_usec_now)
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$DESTS" || e2e_end
PID1=$UDPC_PID
# The stream must outlast the kill and the second attach's load: 6 s, or longer
# where loading took long (a busy machine); the first load says how long.
LOAD_S=$((($(_usec_now) - T_LOAD) / 1000000 + 1))
SECS=$((2 * LOAD_S + 4 > 6 ? 2 * LOAD_S + 4 : 6))
N=$((RATE * SECS))
EG1=$(udpc_filter_ids "$C_NS" "$C_IF" egress)
IN1=$(udpc_filter_ids "$C_NS" "$C_IF" ingress)
assert_ne "first egress program id" "" "$EG1"

# echo_received I: datagrams receiver I has had so far (SIGUSR1 makes it write them)
echo_received() {
	local f=$E2E_TMP/echo$1
	rm -f -- "$f"
	kill -USR1 "${ECHO[$1]}"
	wait_until 3 test -s "$f" || { echo "?"; return; }
	stat_get "$f" received
}

nsx_bg "$C_NS" "$PEER" send --to "$R4_1:$P" --count "$N" --rate "$RATE" --wait-replies 3 \
	--expect-repliers 3 >"$E2E_TMP/send" 2>"$E2E_TMP/send.log"
STREAM=$BG_PID
stream_flows() { local n; n=$(echo_received 1); _is_int "$n" && [ "$n" -gt 0 ]; }
wait_until 5 stream_flows || fail "the stream does not reach r1"

# -- kill -9 mid-stream: the data path keeps forwarding without its daemon
disown "$PID1" # no "Killed" job notice
kill -KILL "$PID1"
# shellcheck disable=SC2016 # expanded by eval, on each try
wait_until 3 eval '! pid_alive "$PID1"' || fail "daemon $PID1 survived SIGKILL"
udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/status-killed.json" || fail "status after kill -9 failed"
j() { udpc_json "" "" "$1" "$E2E_TMP/status-killed.json"; }
assert_eq "after kill -9: running" false "$(j .running)"
assert_eq "after kill -9: filters" "true true" "$(j '"\(.filters.ingress) \(.filters.egress)"')"
assert_ok "after kill -9: pins kept" udpc_pinned "$C_IF"
udpc "$C_NS" status "$C_IF" >"$E2E_TMP/status-killed.txt" 2>&1
assert_file_contains "$E2E_TMP/status-killed.txt" 'daemon: not running' "text status says not running"
assert_eq "after kill -9: egress program unchanged" "$EG1" "$(udpc_filter_ids "$C_NS" "$C_IF" egress)"

before=$(echo_received 1)
sleep 1
after=$(echo_received 1)
if _is_int "$before" && _is_int "$after"; then
	# 500 pps for 1 s; half of it is plenty to tell "forwarding" from "stopped"
	assert_ge "r1 datagrams in 1 s without a daemon" $((RATE / 2)) $((after - before))
else
	fail "could not read r1's counters ($before, $after)"
fi

# -- a new attach, same arguments, still mid-stream: adopts and replaces the programs
attached_lines() { grep -c "attached to $C_IF:" "$LOG" 2>/dev/null; }
assert_eq "attach lines before the second attach" 1 "$(attached_lines)"
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$DESTS" || e2e_end
PID2=$UDPC_PID
# shellcheck disable=SC2016 # expanded by eval, on each try
wait_until 10 eval '[ "$(attached_lines)" -ge 2 ]' || fail "second attach did not report 'attached to'"
assert_file_contains "$LOG" "adopting the state pinned in $UDPC_PIN_ROOT/$C_IF" "second attach adopts"
assert_ok "the stream still runs once the second attach is ready" pid_alive "$STREAM"
EG2=$(udpc_filter_ids "$C_NS" "$C_IF" egress)
IN2=$(udpc_filter_ids "$C_NS" "$C_IF" ingress)
assert_ne "egress program replaced (old id $EG1)" "$EG1" "$EG2"
assert_ne "ingress program replaced (old id $IN1)" "$IN1" "$IN2"
assert_eq "our egress filters after adoption" 1 "$(udpc_filter_ids "$C_NS" "$C_IF" egress | grep -c .)"
assert_eq "our ingress filters after adoption" 1 "$(udpc_filter_ids "$C_NS" "$C_IF" ingress | grep -c .)"
assert_eq "status pid after adoption" "$PID2" "$(udpc_json "$C_NS" "$C_IF" .pid)"
assert_eq "status running after adoption" true "$(udpc_json "$C_NS" "$C_IF" .running)"

# -- the stream ends (SECS of sending, then at most 3 s for replies)
# shellcheck disable=SC2016
wait_until $((SECS + 15)) eval '! pid_alive "$STREAM"' || fail "sender did not finish"
wait "$STREAM" || fail "sender exited non-zero: $(head -c 300 "$E2E_TMP/send.log")"
udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/status.json" || fail "status --json failed"
for i in 0 1 2; do bg_stop "${ECHO[i]}"; done

for i in 0 1 2; do
	assert_echo_exact "$i" "$N" "0 lost across kill -9 and adoption"
done
f=$E2E_TMP/send
assert_eq "client sent" "$N" "$(stat_get "$f" sent)"
# the return path, too, carries on across the swap
assert_eq "client replies_unique_seq" "$N" "$(stat_get "$f" replies_unique_seq)"
assert_eq "client replies_total" $((3 * N)) "$(stat_get "$f" replies_total)"
j() { udpc_json "" "" "$1" "$E2E_TMP/status.json"; }
assert_eq "matched (counted across both daemons)" "$N" "$(j .counters.matched)"
for i in 0 1 2; do
	assert_eq "dest $i tx_packets (kept across adoption)" "$N" "$(j ".destinations[$i].tx_packets")"
	assert_eq "dest $i rx_packets" "$N" "$(j ".destinations[$i].rx_packets")"
done

# -- detach stops the daemon and removes everything of ours
# (its exit status and messages are test_detach's business)
out=$(udpc "$C_NS" detach "$C_IF" 2>&1)
e2e_log "detach exited $?: $(echo "$out" | paste -sd'|' -)"
# shellcheck disable=SC2016
wait_until 5 eval '! pid_alive "$PID2"' || fail "daemon $PID2 still runs after detach"
rc=0
wait "$PID2" || rc=$?
assert_eq "daemon exit status after detach" 0 "$rc"
assert_eq "our filters after detach" 0 "$(udpc_filter_count "$C_NS" "$C_IF")"
assert_fail "pin dir removed by detach" udpc_pinned "$C_IF"
nsx "$C_NS" tc filter show dev "$C_IF" egress >"$E2E_TMP/tc-egress" 2>&1
nsx "$C_NS" tc filter show dev "$C_IF" ingress >"$E2E_TMP/tc-ingress" 2>&1
assert_file_not_contains "$E2E_TMP/tc-egress" 'udpc' "tc egress shows no udpc filter"
assert_file_not_contains "$E2E_TMP/tc-ingress" 'udpc' "tc ingress shows no udpc filter"
e2e_end
