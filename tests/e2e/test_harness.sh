#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Self-test of the harness and of udpc-peer, no BPF involved: the star topology
# routes both families, the peers count and verify what they see, the helpers
# behave, cleanup leaves nothing behind, and the unprivileged start (e2e_begin
# --no-root, in child scripts run as nobody) gives the same verdicts and cleanup.
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

# -- the unprivileged start (e2e_begin NAME --no-root), in child scripts run as
#    nobody: verdicts and exit codes, $E2E_TMP and remembered processes gone after
#    a pass or a skip, logs kept after a failure, and no namespace ever made
require_cmd setpriv
# child ID [AS]: runs the script on stdin under bash, as nobody (or as root with
# AS=root); its stdout, stderr and exit status go to $E2E_TMP/child-ID.{out,err,rc}.
child() {
	local rc=0 as=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
	[ "${2:-}" = root ] && as=()
	timeout -k 5 60 "${as[@]}" bash -s -- "$E2E_ROOT/tests/e2e" \
		>"$E2E_TMP/child-$1.out" 2>"$E2E_TMP/child-$1.err" || rc=$?
	echo "$rc" >"$E2E_TMP/child-$1.rc"
}
# child_tmp ID: the child's $E2E_TMP, as its e2e_begin logged it.
child_tmp() {
	sed -n 's|^  [^ ]*: run id [0-9a-f]*, files in \(/tmp/uc-e2e-[^ ]*\)$|\1|p' "$E2E_TMP/child-$1.err"
}
# check_child ID RC FIRST_LINE gone|kept: exit status, first line of stdout, and
# whether its $E2E_TMP is left (then removed here).
check_child() {
	local t
	t=$(child_tmp "$1")
	assert_eq "child $1: exit status" "$2" "$(cat "$E2E_TMP/child-$1.rc")"
	assert_eq "child $1: verdict" "$3" "$(head -n 1 "$E2E_TMP/child-$1.out")"
	if [[ $t != /tmp/uc-e2e-* ]]; then
		fail "child $1: no run id and files logged: $(paste -sd'|' "$E2E_TMP/child-$1.err")"
	elif [ "$4" = gone ]; then
		assert_fail "child $1: $t removed" test -e "$t"
	else
		assert_ok "child $1: $t kept" test -d "$t"
	fi
	[[ $t == /tmp/uc-e2e-* ]] && rm -rf -- "$t"
	return 0
}

child pass <<'EOF'
. "$1/lib/harness.sh"
e2e_begin nr-pass --no-root
e2e_log "uid $(id -u)"
sleep 600 &
bg_remember $!
e2e_log "sleeper $!"
assert_eq "one" 1 1
e2e_end
EOF
check_child pass 0 "PASS nr-pass" gone
assert_file_contains "$E2E_TMP/child-pass.err" '^  uid 65534$' "child pass ran unprivileged"
SLEEPER=$(sed -n 's/^  sleeper //p' "$E2E_TMP/child-pass.err")
if _is_int "$SLEEPER"; then
	assert_fail "child pass: remembered process stopped by cleanup" pid_alive "$SLEEPER"
else
	fail "child pass: logged no sleeper pid"
fi

child fail <<'EOF'
. "$1/lib/harness.sh"
e2e_begin nr-fail --no-root
assert_eq "one" 1 2
e2e_end
EOF
check_child fail 1 "FAIL nr-fail: one: expected '1', got '2'" kept

child skip <<'EOF'
. "$1/lib/harness.sh"
e2e_begin nr-skip --no-root
e2e_skip "no widget"
EOF
check_child skip 77 "SKIP nr-skip: no widget" gone

child noend <<'EOF'
. "$1/lib/harness.sh"
e2e_begin nr-noend --no-root
true
EOF
check_child noend 1 "FAIL nr-noend: script ended (status 0) before e2e_end" kept

# the same unprivileged user without --no-root is skipped, before any file is made
child root <<'EOF'
. "$1/lib/harness.sh"
e2e_begin nr-root
e2e_end
EOF
assert_eq "child root: exit status" 77 "$(cat "$E2E_TMP/child-root.rc")"
assert_eq "child root: verdict" "SKIP nr-root: needs root (network namespaces, BPF)" \
	"$(cat "$E2E_TMP/child-root.out")"

# a --no-root test makes no namespaces, even as root
child ns root <<'EOF'
. "$1/lib.sh"
e2e_begin nr-ns --no-root
ns_new a && e2e_log "made uc-$RUNID-a"
e2e_end
EOF
NS_RUNID=$(sed -n 's/^  nr-ns: run id \([0-9a-f]*\),.*/\1/p' "$E2E_TMP/child-ns.err")
check_child ns 1 "FAIL nr-ns: ns_new: the test started with e2e_begin --no-root" kept
assert_ne "child ns: run id" "" "$NS_RUNID"
assert_eq "child ns: namespaces" "" "$(ip netns list | grep "^uc-$NS_RUNID-")" ||
	ip netns del "uc-$NS_RUNID-a" 2>/dev/null

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
