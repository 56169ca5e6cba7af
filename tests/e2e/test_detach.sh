#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Every way of detaching removes exactly our filters (handle 0x55dc, pref 3088) and
# our pins, and nothing else: a foreign clsact filter on both hooks and the clsact
# qdisc itself survive. Ways: SIGTERM and SIGINT to the daemon; `detach` while a
# daemon runs (it stops the daemon); `detach` while the daemon is still starting;
# `detach` after kill -9 (no daemon, filters and pins left). `detach` with nothing
# attached, or of an unknown interface, fails with one clear line.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743

e2e_begin detach
require_udpc
require_cmd tc
topo_star || e2e_end
DESTS="$R4_1:9000,$R4_2:9001"

# A foreign filter on each hook (pref 1, before ours), on a clsact qdisc we did not create.
nsx "$C_NS" tc qdisc add dev "$C_IF" clsact || fail "cannot add clsact"
for dir in ingress egress; do
	# u32 (matchall and the gact action may be missing); it matches nothing
	nsx "$C_NS" tc filter add dev "$C_IF" "$dir" prio 1 protocol all \
		u32 match u32 0xcb0071fa 0xffffffff at 12 ||
		fail "cannot add a u32 filter on $dir"
done

foreign_count() {
	local dir n=0
	for dir in ingress egress; do
		n=$((n + $(nsx "$C_NS" tc filter show dev "$C_IF" "$dir" | grep -c ' pref 1 u32 .*fh 800::')))
	done
	echo "$n"
}
# shellcheck disable=SC2317 # (called through assert_ok)
clsact_present() { nsx "$C_NS" tc qdisc show dev "$C_IF" | grep -q '^qdisc clsact'; }

# check_clean WHAT: nothing of ours left, the foreign filters and the qdisc kept.
check_clean() {
	assert_eq "$1: our filters" 0 "$(udpc_filter_count "$C_NS" "$C_IF")"
	assert_fail "$1: pin dir removed" udpc_pinned "$C_IF"
	assert_eq "$1: foreign filters kept" 2 "$(foreign_count)"
	assert_ok "$1: clsact qdisc kept" clsact_present
}

# attach_checked WHAT: attach, both our filters and the foreign ones present.
attach_checked() {
	udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$DESTS" || e2e_end
	assert_eq "$1: our filters attached" 2 "$(udpc_filter_count "$C_NS" "$C_IF")"
	assert_eq "$1: foreign filters untouched by attach" 2 "$(foreign_count)"
	assert_ok "$1: pins" udpc_pinned "$C_IF"
}

# stop_by_signal SIG: the daemon detaches on SIG and exits 0.
stop_by_signal() {
	local sig=$1 pid rc=0
	attach_checked "SIG$sig"
	pid=$UDPC_PID
	kill -"$sig" "$pid"
	# shellcheck disable=SC2016 # expanded by eval, on each try
	wait_until 5 eval '! pid_alive "$pid"' || fail "SIG$sig: daemon $pid still runs"
	wait "$pid" || rc=$?
	assert_eq "SIG$sig: daemon exit status" 0 "$rc"
	check_clean "SIG$sig"
}

LOG=$E2E_TMP/udpc-$C_IF.log

# -- 1. signals
stop_by_signal TERM
assert_file_contains "$LOG" 'Terminated: detaching' "SIGTERM logged"
stop_by_signal INT
assert_file_contains "$LOG" 'Interrupt: detaching' "SIGINT logged"

# -- 2. `detach` while a daemon runs: it stops the daemon, which cleans up
attach_checked "detach (running)"
PID=$UDPC_PID
rc=0
udpc "$C_NS" detach "$C_IF" >"$E2E_TMP/d1.out" 2>"$E2E_TMP/d1.err" || rc=$?
assert_eq "detach (running): exit status" 0 "$rc"
assert_file_contains "$E2E_TMP/d1.err" "stopping the udpclone-bpf daemon \\(pid $PID\\) on $C_IF" \
	"detach (running): names the daemon it stops"
assert_file_not_contains "$E2E_TMP/d1.err" "nothing of ours is attached" \
	"detach (running): no 'nothing attached' after stopping the daemon"
assert_fail "detach (running): daemon gone when detach returns" pid_alive "$PID"
rc=0
wait "$PID" || rc=$?
assert_eq "detach (running): daemon exit status" 0 "$rc"
check_clean "detach (running)"

# -- 2b. `detach` while the daemon is still starting (loading its programs): the
# lock names it from the start, so detach stops it; it stops before attaching or
# detaches after, depending on how far it got, and cleans up either way.
iface_remember "$C_IF"
echo "$C_NS $C_IF" >>"$E2E_TMP/.attached"
nsx_bg "$C_NS" "$UDPC" attach "$C_IF" --listen "$P" --destinations "$DESTS" \
	>"$E2E_TMP/starting.log" 2>&1
PID=$BG_PID
wait_until 10 test -L "$UDPC_PIN_ROOT/$C_IF/udpc_owner" || fail "detach (starting): no owner written"
assert_eq "detach (starting): the owner file names it" "$PID" \
	"$(readlink "$UDPC_PIN_ROOT/$C_IF/udpc_owner")"
rc=0
udpc "$C_NS" detach "$C_IF" >"$E2E_TMP/d4.out" 2>"$E2E_TMP/d4.err" || rc=$?
assert_eq "detach (starting): exit status" 0 "$rc"
assert_file_contains "$E2E_TMP/d4.err" "stopping the udpclone-bpf daemon \\(pid $PID\\) on $C_IF" \
	"detach (starting): names the daemon it stops"
rc=0
wait "$PID" || rc=$?
assert_eq "detach (starting): daemon exit status" 0 "$rc"
assert_file_contains "$E2E_TMP/starting.log" "Terminated( before attaching)?: detaching" \
	"detach (starting): the daemon says it stops"
check_clean "detach (starting)"

# -- 3. `detach` after kill -9: no daemon, so detach removes filters and pins itself
attach_checked "detach (killed)"
PID=$UDPC_PID
disown "$PID" # no "Killed" job notice
kill -KILL "$PID"
# shellcheck disable=SC2016
wait_until 3 eval '! pid_alive "$PID"' || fail "daemon $PID survived SIGKILL"
assert_eq "detach (killed): filters left by kill -9" 2 "$(udpc_filter_count "$C_NS" "$C_IF")"
rc=0
udpc "$C_NS" detach "$C_IF" >"$E2E_TMP/d2.out" 2>"$E2E_TMP/d2.err" || rc=$?
assert_eq "detach (killed): exit status" 0 "$rc"
assert_file_contains "$E2E_TMP/d2.err" "detached from $C_IF" "detach (killed): says so"
check_clean "detach (killed)"

# -- 4. nothing attached: non-zero, one line naming the interface
for what in "nothing attached:$C_IF" "unknown interface:$(ifname nx)"; do
	ifc=${what#*:}
	rc=0
	udpc "$C_NS" detach "$ifc" >"$E2E_TMP/d3.out" 2>"$E2E_TMP/d3.err" || rc=$?
	assert_eq "detach ($what): exit status" 1 "$rc"
	assert_eq "detach ($what): stderr lines" 1 "$(wc -l <"$E2E_TMP/d3.err")"
	assert_file_contains "$E2E_TMP/d3.err" "^udpclone-bpf: .*'$ifc'" "detach ($what): names '$ifc'"
	assert_eq "detach ($what): stdout" "" "$(cat "$E2E_TMP/d3.out")"
	assert_fail "detach ($what): no pin dir made" udpc_pinned "$ifc"
done
assert_file_contains "$E2E_TMP/d3.err" "unknown interface" "unknown interface: says so"
check_clean "after everything"

e2e_end
