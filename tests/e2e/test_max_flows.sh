#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# attach --max-flows N sizes the flow table (an LRU hash) at load time:
#   - status says N (text, --json max_flows, Prometheus udpclone_bpf_flows_max);
#   - 3 x N client flows leave at most N in the table, none failed, the rest
#     counted as evicted;
#   - a new attach adopting the pinned state keeps its size when it does not ask
#     for one, and refuses (exit 1, naming both sizes and `detach`) when it asks
#     for another, leaving the running data path alone;
#   - after detach, the new size is taken.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
MAXF=1024
FLOWS=$((3 * MAXF))

e2e_begin max_flows
require_udpc
require_peer
require_cmd jq python3
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end
peer_echo_bg "$S_NS" "$R4_1:9000" r1 "$E2E_TMP/echo1" || e2e_end
ARGS=(--listen "$P" --destinations "$R4_1:9000")

udpc_attach_bg "$C_NS" "$C_IF" "${ARGS[@]}" --max-flows "$MAXF" || e2e_end
assert_eq "json max_flows" "$MAXF" "$(udpc_json "$C_NS" "$C_IF" .max_flows)"
udpc "$C_NS" status "$C_IF" >"$E2E_TMP/status.txt" 2>&1
assert_file_contains "$E2E_TMP/status.txt" "flows: 0 of at most $MAXF " "text status"
udpc "$C_NS" status "$C_IF" --prometheus >"$E2E_TMP/status.prom" 2>&1
assert_file_contains "$E2E_TMP/status.prom" "^udpclone_bpf_flows_max{interface=\"$C_IF\"} $MAXF\$" \
	"prometheus"

assert_eq "datagrams from distinct flows" "$FLOWS" "$(flows_send "$C_NS" "$R4_1" "$P" "$FLOWS" "$C4")"
udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/st.json" || fail "status failed"
j() { udpc_json "" "" "$1" "$E2E_TMP/st.json"; }
flows=$(j .flows)
echo "measure: max_flows=$MAXF flows_sent=$FLOWS table=$flows"
assert_le "flows in the table" "$MAXF" "$flows"
assert_ge "flows in the table (full, give or take the per-CPU free lists)" $((MAXF / 2)) "$flows"
assert_eq "flow_errors" 0 "$(j .counters.flow_errors)"
assert_eq "flows created" "$FLOWS" "$(j .counters.flows_created)"
assert_eq "flows evicted" $((FLOWS - flows)) "$(j .counters.flows_evicted)"

# -- kill -9, attach again without --max-flows: adopts the pinned table, same size
PID=$UDPC_PID
disown "$PID"
kill -KILL "$PID"
# shellcheck disable=SC2016 # expanded by eval, on each try
wait_until 3 eval '! pid_alive "$PID"' || fail "daemon $PID survived SIGKILL"
# (our filters are still there: wait for the new daemon's own word that it runs)
LOG=$E2E_TMP/udpc-$C_IF.log
attached_lines() { grep -c "attached to $C_IF:" "$LOG" 2>/dev/null; }
udpc_attach_bg "$C_NS" "$C_IF" "${ARGS[@]}" || e2e_end
# shellcheck disable=SC2016 # expanded by eval, on each try
wait_until 10 eval '[ "$(attached_lines)" -ge 2 ]' || fail "second attach did not report 'attached to'"
assert_file_contains "$LOG" "adopting the state pinned in $UDPC_PIN_ROOT/$C_IF" "adopted"
assert_eq "adopted: max_flows kept" "$MAXF" "$(udpc_json "$C_NS" "$C_IF" .max_flows)"
assert_ge "adopted: flows kept" $((MAXF / 2)) "$(udpc_json "$C_NS" "$C_IF" .flows)"

# -- kill -9, attach asking for another size: refused, the data path left running
PID=$UDPC_PID
disown "$PID"
kill -KILL "$PID"
wait_until 3 eval '! pid_alive "$PID"' || fail "daemon $PID survived SIGKILL"
EG=$(udpc_filter_ids "$C_NS" "$C_IF" egress)
rc=0
udpc "$C_NS" attach "$C_IF" "${ARGS[@]}" --max-flows 2048 >"$E2E_TMP/out" 2>"$E2E_TMP/err" || rc=$?
assert_eq "other size: exit status" 1 "$rc"
assert_file_contains "$E2E_TMP/err" \
	"holds $MAXF flows, not the 2048 of --max-flows: run 'udpclone-bpf detach $C_IF' first" \
	"other size: the message"
assert_eq "other size: stderr lines" 1 "$(wc -l <"$E2E_TMP/err")"
assert_eq "other size: egress program untouched" "$EG" "$(udpc_filter_ids "$C_NS" "$C_IF" egress)"
assert_ok "other size: pins kept" udpc_pinned "$C_IF"
assert_eq "other size: max_flows as before" "$MAXF" "$(udpc_json "$C_NS" "$C_IF" .max_flows)"

# -- detach, then the new size is taken; and without the option, the default
assert_ok "detach" udpc "$C_NS" detach "$C_IF"
udpc_attach_bg "$C_NS" "$C_IF" "${ARGS[@]}" --max-flows 2048 || e2e_end
assert_eq "after detach: max_flows" 2048 "$(udpc_json "$C_NS" "$C_IF" .max_flows)"
assert_eq "after detach: no flows" 0 "$(udpc_json "$C_NS" "$C_IF" .flows)"
bg_stop "$UDPC_PID" || fail "daemon exited non-zero"
udpc_attach_bg "$C_NS" "$C_IF" "${ARGS[@]}" || e2e_end
assert_eq "default size" 65536 "$(udpc_json "$C_NS" "$C_IF" .max_flows)"
bg_stop "$UDPC_PID" || fail "daemon exited non-zero"

e2e_end
