#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Dynamic DNS through the real resolver path (getaddrinfo, nsswitch "files"): the
# daemon runs in a private mount namespace where /etc/hosts and /etc/resolv.conf
# are this test's files (DNS points at 127.0.0.1 in the client namespace, where
# nothing answers, so a name not in the hosts file fails at once). The hosts file
# is rewritten in place (the bind mount pins its inode). --resolve-interval 1.
#
#   1. c.udpc.test does not resolve at start: the daemon starts anyway, logs it,
#      status shows it "unresolved", its receiver gets nothing.
#   2. c.udpc.test appears in the hosts file: within a few seconds it is active
#      and its receiver gets every following datagram.
#   3. b.udpc.test moves from 198.51.100.2 to .3 during a steady stream: copies go
#      to the new address within ~2 intervals; nothing lost or doubled across the
#      switch; the other destinations get everything.
#   4. a.udpc.test disappears from the hosts file: "stale", and it keeps getting
#      copies at its last address (a resolver outage never stops the copies).
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743

e2e_begin dns
require_udpc
require_peer
require_cmd jq unshare mount
grep -Eq '^hosts:.*[[:space:]]files([[:space:]]|$)' /etc/nsswitch.conf 2>/dev/null ||
	e2e_skip "/etc/nsswitch.conf has no 'files' source for hosts"
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end

HOSTS=$E2E_TMP/hosts
RESOLV=$E2E_TMP/resolv.conf
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$RESOLV"
# set_hosts LINES...: rewrites the hosts file in place (same inode)
set_hosts() { printf '%s\n' "127.0.0.1 localhost" "$@" >"$HOSTS"; }
set_hosts "$R4_1 a.udpc.test" "$R4_2 b.udpc.test"

# udpclone-bpf seeing our hosts and resolv.conf
WRAP=$(udpc_with_resolver "$HOSTS" "$RESOLV") || e2e_end

# receivers: a, b before and after the move, c
peer_echo_bg "$S_NS" "$R4_1:9000" ra "$E2E_TMP/echo-a" || e2e_end
E_A=$BG_PID
peer_echo_bg "$S_NS" "$R4_2:9001" rb2 "$E2E_TMP/echo-b2" || e2e_end
E_B2=$BG_PID
peer_echo_bg "$S_NS" "$R4_3:9001" rb3 "$E2E_TMP/echo-b3" || e2e_end
E_B3=$BG_PID
peer_echo_bg "$S_NS" "$R4_3:9002" rc "$E2E_TMP/echo-c" || e2e_end
E_C=$BG_PID

LOG=$E2E_TMP/udpc-$C_IF.log
UDPC=$WRAP udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" \
	--destinations a.udpc.test:9000,b.udpc.test:9001,c.udpc.test:9002 --resolve-interval 1 ||
	e2e_end

st() { udpc_json "$C_NS" "$C_IF" "$1"; }
dest() { st ".destinations[] | select(.host == \"$1\") | .$2"; }
# waited SECONDS CMD...: wait_until, then print how long it took (whole seconds,
# rounded up); "timeout" if it never happened.
waited() {
	local t0
	t0=$(_usec_now)
	if wait_until "$1" "${@:2}"; then
		echo $((($(_usec_now) - t0 + 999999) / 1000000))
	else
		echo timeout
	fi
}
# shellcheck disable=SC2317 # (called through waited)
state_is() { [ "$(dest "$1" state)" = "$2" ]; }
# shellcheck disable=SC2317
ipv4_is() { [ "$(dest "$1" ipv4)" = "$2" ]; }

# -- 1. c does not resolve: started anyway, unresolved, no copies
assert_file_contains "$LOG" "destination c\\.udpc\\.test:9002: cannot resolve .*no copies until it does" \
	"log: c cannot resolve"
assert_eq "a state" active "$(dest a.udpc.test state)"
assert_eq "a address" "$R4_1" "$(dest a.udpc.test ipv4)"
assert_eq "b address" "$R4_2" "$(dest b.udpc.test ipv4)"
assert_eq "c state" unresolved "$(dest c.udpc.test state)"
assert_eq "c address" null "$(dest c.udpc.test ipv4)"
assert_ne "c last_error" null "$(dest c.udpc.test last_error)"
udpc "$C_NS" status "$C_IF" >"$E2E_TMP/status1.txt" 2>&1
assert_file_contains "$E2E_TMP/status1.txt" '^ +c\.udpc\.test:9002 +unresolved ' "text status: c unresolved"

N1=100
peer_send "$C_NS" "$E2E_TMP/send1" --to "$R4_1:$P" --count $N1 --rate 1000 --wait-replies 3 \
	--expect-repliers 2
assert_eq "phase 1: replies" $((2 * N1)) "$(stat_get "$E2E_TMP/send1" replies_total)"
assert_eq "phase 1: c tx_packets" 0 "$(dest c.udpc.test tx_packets)"
assert_eq "phase 1: no_dest" 0 "$(st .counters.no_dest)"

# -- 2. c appears
set_hosts "$R4_1 a.udpc.test" "$R4_2 b.udpc.test" "$R4_3 c.udpc.test"
took=$(waited 8 state_is c.udpc.test active)
assert_le "c active after it was added (s)" 3 "$took"
assert_eq "c address" "$R4_3" "$(dest c.udpc.test ipv4)"
assert_file_contains "$LOG" "destination c\\.udpc\\.test:9002: active, sending to $R4_3" "log: c active"
N2=100
peer_send "$C_NS" "$E2E_TMP/send2" --to "$R4_1:$P" --count $N2 --rate 1000 --wait-replies 3 \
	--expect-repliers 3
assert_eq "phase 2: replies" $((3 * N2)) "$(stat_get "$E2E_TMP/send2" replies_total)"
assert_eq "phase 2: replies from c" "$N2" "$(stat_get "$E2E_TMP/send2" "replies_from rc" 3)"

# -- 3. b moves to .3 while a stream runs
N3=1500
RATE3=300
B_TX=$(dest b.udpc.test tx_packets)
nsx_bg "$C_NS" "$PEER" send --to "$R4_1:$P" --count $N3 --rate $RATE3 --wait-replies 3 \
	--expect-repliers 3 >"$E2E_TMP/send3" 2>"$E2E_TMP/send3.log"
STREAM=$BG_PID
T_START=$(_usec_now)
# a second's worth of the stream to the old address first
# shellcheck disable=SC2317 # run through wait_until
b_sent() { local v; v=$(dest b.udpc.test tx_packets); _is_int "$v" && [ "$v" -ge $((B_TX + RATE3)) ]; }
wait_until 10 b_sent || fail "the stream does not reach b"
set_hosts "$R4_1 a.udpc.test" "$R4_3 b.udpc.test" "$R4_3 c.udpc.test"
took=$(waited 8 ipv4_is b.udpc.test "$R4_3")
T_SWITCH=$(_usec_now) # status shows the new address: the data path uses it from now
assert_le "b's new address in use after the change (s, resolve interval 1)" 3 "$took"
# shellcheck disable=SC2016 # expanded by eval, on each try
wait_until 15 eval '! pid_alive "$STREAM"' || fail "stream did not end"
wait "$STREAM" || fail "stream sender failed: $(head -c 300 "$E2E_TMP/send3.log")"
assert_file_contains "$LOG" "destination b\\.udpc\\.test:9001: address changed from $R4_2 to $R4_3" \
	"log: b moved"
assert_eq "phase 3: sent" "$N3" "$(stat_get "$E2E_TMP/send3" sent)"
assert_eq "phase 3: every datagram answered" "$N3" "$(stat_get "$E2E_TMP/send3" replies_unique_seq)"
assert_ge "phase 3: replies from b's new address" 1 "$(stat_get "$E2E_TMP/send3" "replies_from rb3" 3)"

# -- 4. a disappears: stale, copies continue to its last address
set_hosts "$R4_3 b.udpc.test" "$R4_3 c.udpc.test"
took=$(waited 8 state_is a.udpc.test stale)
assert_le "a stale after it was removed (s)" 3 "$took"
assert_eq "stale a keeps its address" "$R4_1" "$(dest a.udpc.test ipv4)"
assert_file_contains "$LOG" "destination a\\.udpc\\.test:9000: cannot resolve .*still sending to $R4_1" \
	"log: a stale"
N4=100
peer_send "$C_NS" "$E2E_TMP/send4" --to "$R4_1:$P" --count $N4 --rate 1000 --wait-replies 3 \
	--expect-repliers 3
assert_eq "phase 4: replies from stale a" "$N4" "$(stat_get "$E2E_TMP/send4" "replies_from ra" 3)"

udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/status.json" || fail "status --json failed"
for p in "$E_A" "$E_B2" "$E_B3" "$E_C"; do bg_stop "$p"; done

# -- totals
ALL=$((N1 + N2 + N3 + N4))
for r in a b2 b3 c; do
	assert_eq "r$r dup" 0 "$(stat_get "$E2E_TMP/echo-$r" dup)"
	assert_eq "r$r corrupt" 0 "$(stat_get "$E2E_TMP/echo-$r" corrupt)"
done
assert_eq "a got everything" "$ALL" "$(stat_get "$E2E_TMP/echo-a" unique)"
assert_eq "c got everything since it resolved, nothing before" $((N2 + N3 + N4)) \
	"$(stat_get "$E2E_TMP/echo-c" unique)"
b2=$(stat_get "$E2E_TMP/echo-b2" unique)
b3=$(stat_get "$E2E_TMP/echo-b3" unique)
assert_eq "b: old + new address got everything, once" "$ALL" $((b2 + b3))
# b's old address got phases 1, 2 and the stream up to the switch, no more
k=$((b2 - N1 - N2))
max_k=$(((T_SWITCH - T_START) * RATE3 / 1000000 + RATE3 / 2))
assert_between "stream datagrams to b's old address (switch after $(((T_SWITCH - T_START) / 1000)) ms)" \
	1 "$max_k" "$k"
assert_eq "b's new address got the rest of the stream and phase 4" $((N3 - k + N4)) "$b3"

j() { udpc_json "" "" "$1" "$E2E_TMP/status.json"; }
assert_eq "matched" "$ALL" "$(j .counters.matched)"
assert_eq "a tx_packets" "$ALL" "$(j '.destinations[0].tx_packets')"
assert_eq "b tx_packets (one slot, both addresses)" "$ALL" "$(j '.destinations[1].tx_packets')"
assert_eq "c tx_packets" $((N2 + N3 + N4)) "$(j '.destinations[2].tx_packets')"

e2e_end
