#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Self-test of the harness and of udpc-peer, no BPF involved: the star topology
# routes both families, the peers count and verify what they see, the helpers
# behave, and cleanup leaves nothing behind.
# shellcheck disable=SC2317 # functions run through wait_until
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_begin harness
require_peer
topo_star || e2e_end

# -- plain echo over both families, on the receiver addresses of the topology
peer_echo_bg "$S_NS" "$R4_1:9000" r4 "$E2E_TMP/echo4" && ECHO4=$BG_PID
peer_echo_bg "$S_NS" "[$R6_1]:9000" r6 "$E2E_TMP/echo6" && ECHO6=$BG_PID

peer_send "$C_NS" "$E2E_TMP/send4" --to "$R4_1:9000" --from "$C4:40000" --count 100 \
	--wait-replies 5 --expect-repliers 1
peer_send "$C_NS" "$E2E_TMP/send6" --to "[$R6_1]:9000" --count 100 --size 200 \
	--wait-replies 5 --expect-repliers 1

for fam in 4 6; do
	f=$E2E_TMP/send$fam
	assert_eq "v$fam sent" 100 "$(stat_get "$f" sent)"
	assert_eq "v$fam replies_total" 100 "$(stat_get "$f" replies_total)"
	assert_eq "v$fam replies from r$fam" 100 "$(stat_get "$f" "replies_from r$fam" 3)"
	assert_eq "v$fam replies_unique_seq" 100 "$(stat_get "$f" replies_unique_seq)"
	assert_eq "v$fam repliers" 1 "$(stat_get "$f" repliers)"
	assert_eq "v$fam replies_corrupt" 0 "$(stat_get "$f" replies_corrupt)"
done

# -- SIGUSR1 writes the stats without stopping the echo
kill -USR1 "$ECHO4"
wait_until 5 test -s "$E2E_TMP/echo4" || fail "SIGUSR1 wrote no stats"
assert_file_contains "$E2E_TMP/echo4" '^received 100$' "echo4 stats on SIGUSR1"
assert_file_contains "$E2E_TMP/echo4" "^from $C4:40000\$" "echo4 saw --from's address"
assert_ok "echo4 survives SIGUSR1" pid_alive "$ECHO4"

# -- integrity: a datagram that is not a valid payload counts as corrupt, no reply
nsx "$C_NS" bash -c "printf 'not a udpc-peer payload' >/dev/udp/$R4_1/9000"
# echo4_received N: echo4 has counted N datagrams (SIGUSR1 makes it say)
echo4_received() {
	rm -f -- "$E2E_TMP/echo4"
	kill -USR1 "$ECHO4"
	wait_until 3 test -s "$E2E_TMP/echo4" && [ "$(stat_get "$E2E_TMP/echo4" received)" = "$1" ]
}
wait_until 5 echo4_received 101 || fail "echo4 did not count the datagram"

assert_ok "stop echo4" bg_stop "$ECHO4"
assert_ok "stop echo6" bg_stop "$ECHO6"
f=$E2E_TMP/echo4
assert_eq "echo4 received" 101 "$(stat_get "$f" received)"
assert_eq "echo4 unique" 100 "$(stat_get "$f" unique)"
assert_eq "echo4 corrupt" 1 "$(stat_get "$f" corrupt)"
assert_eq "echo4 dup" 0 "$(stat_get "$f" dup)"
assert_eq "echo4 replied" 100 "$(stat_get "$f" replied)"
f=$E2E_TMP/echo6
assert_eq "echo6 received" 100 "$(stat_get "$f" received)"
assert_eq "echo6 unique" 100 "$(stat_get "$f" unique)"
assert_eq "echo6 corrupt" 0 "$(stat_get "$f" corrupt)"
assert_eq "echo6 dup" 0 "$(stat_get "$f" dup)"
assert_file_contains "$E2E_TMP/echo6" "^from \\[$C6\\]:[0-9]+$" "echo6 last sender"

# -- duplicates: two runs with the same run id are the same datagrams twice;
#    --no-reply and --until-idle end the echo on their own
peer_echo_bg "$S_NS" "$R4_2:9001" dupe "$E2E_TMP/echo-dup" --no-reply --until-idle 1
ECHO_DUP=$BG_PID
for i in 1 2; do
	peer_send "$C_NS" "$E2E_TMP/send-dup$i" --to "$R4_2:9001" --count 50 --rate 0 \
		--run-id c0ffee --wait-replies 0
done
# shellcheck disable=SC2016 # expanded by eval, on each try
wait_until 10 eval '! pid_alive "$ECHO_DUP"' || fail "echo --until-idle did not exit"
bg_stop "$ECHO_DUP"
f=$E2E_TMP/echo-dup
assert_eq "dup: received" 100 "$(stat_get "$f" received)"
assert_eq "dup: unique" 50 "$(stat_get "$f" unique)"
assert_eq "dup: dup" 50 "$(stat_get "$f" dup)"
assert_eq "dup: replied" 0 "$(stat_get "$f" replied)"
assert_file_contains "$f" "^from $C4:[0-9]+$" "dup: last sender"
assert_eq "no-reply: replies seen" 0 "$(stat_get "$E2E_TMP/send-dup2" replies_total)"

# -- a bigger payload to a third receiver address
peer_echo_bg "$S_NS" "$R4_3:9000" r4c "$E2E_TMP/echo4c" && ECHO4C=$BG_PID
peer_send "$C_NS" "$E2E_TMP/send4c" --to "$R4_3:9000" --count 20 --size 1400 \
	--wait-replies 3 --expect-repliers 1
assert_eq "r4c replies" 20 "$(stat_get "$E2E_TMP/send4c" "replies_from r4c" 3)"
bg_stop "$ECHO4C"

# -- a wildcard-bound echo answers from the address each datagram was sent to
#    (else the connected sender drops the reply); dual-stack takes IPv4 too
peer_echo_bg "$S_NS" "[::]:9002" any "$E2E_TMP/echo-any" && ECHO_ANY=$BG_PID
peer_send "$C_NS" "$E2E_TMP/send-any6" --to "[$R6_3]:9002" --count 10 --wait-replies 3 \
	--expect-repliers 1
peer_send "$C_NS" "$E2E_TMP/send-any4" --to "$R4_3:9002" --count 10 --wait-replies 3 \
	--expect-repliers 1
assert_eq "wildcard echo, v6 replies" 10 "$(stat_get "$E2E_TMP/send-any6" "replies_from any" 3)"
assert_eq "wildcard echo, v4 replies" 10 "$(stat_get "$E2E_TMP/send-any4" "replies_from any" 3)"
bg_stop "$ECHO_ANY"

# -- helper self-checks (in subshells, so their failures do not count here)
out=$( (
	E2E_FAILS=()
	assert_eq x 1 2 2>/dev/null
	assert_ge x 5 4 2>/dev/null
	assert_ge x 5 abc 2>/dev/null
	assert_ge x 5 5 2>/dev/null
	echo "${#E2E_FAILS[@]}"
))
assert_eq "failing assertions recorded" 3 "$out"
start=$SECONDS
wait_until 0.5 false && fail "wait_until false succeeded"
assert_le "wait_until 0.5 false took (s)" 2 $((SECONDS - start))
assert_ok "wait_until true" wait_until 1 true
assert_fail "interface name without run id refused" _ifname_ok eth0 2>/dev/null
assert_fail "interface name over 15 chars refused" _ifname_ok "abcdefghijklmno$RUNID" 2>/dev/null

# -- cleanup: idempotent, and leaves nothing of this run
SLEEPER_NS=$C_NS
nsx_bg "$SLEEPER_NS" sleep 600
SLEEPER=$BG_PID
e2e_cleanup
e2e_cleanup
assert_eq "leftovers after cleanup" "" "$(e2e_leftovers)"
assert_eq "namespaces after cleanup" "" "$(ip netns list | grep "^uc-$RUNID-")"
assert_fail "background process stopped" pid_alive "$SLEEPER"

e2e_end
