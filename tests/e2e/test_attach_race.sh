#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Two `attach` on the same interface started at the same moment, ROUNDS times
# (default 5): exactly one wins and runs; the other exits 1 at once with one line
# saying the interface is already driven, and by which pid: the winner's.
# After each round the winner still forwards, status shows one daemon, exactly
# two filters of ours exist, and `detach` leaves no filter and no pin.
# shellcheck disable=SC2317 # one_exited runs through wait_until
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
ROUNDS=${ROUNDS:-5}

e2e_begin attach_race
require_udpc
require_peer
require_cmd jq
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end
peer_echo_bg "$S_NS" "$R4_1:9000" r1 "$E2E_TMP/echo1" || e2e_end
E1=$BG_PID

iface_remember "$C_IF"
echo "$C_NS $C_IF" >>"$E2E_TMP/.attached"
gate=$E2E_TMP/gate
for ((r = 1; r <= ROUNDS; r++)); do
	rm -f "$gate" "$E2E_TMP"/waiting-*
	pids=()
	for k in 0 1; do
		# both say they are waiting, wait on the same file, then exec attach within
		# microseconds; each says when it is ready on its own file
		# shellcheck disable=SC2016 # expanded by the inner bash
		nsx_bg "$C_NS" bash -c 'touch "$2"; while [ ! -e "$1" ]; do sleep 0.01; done; shift 2; exec "$@"' \
			_ "$gate" "$E2E_TMP/waiting-$k" "$UDPC" attach "$C_IF" --listen "$P" \
			--destinations "$R4_1:9000" --ready-fd 3 >"$E2E_TMP/a$r-$k.log" 2>&1 \
			3>"$E2E_TMP/a$r-$k.ready"
		pids[k]=$BG_PID
	done
	wait_until 10 test -e "$E2E_TMP/waiting-0" -a -e "$E2E_TMP/waiting-1" ||
		fail "round $r: the attach processes did not start"
	touch "$gate"
	# the loser exits promptly (before loading anything); the winner keeps running
	one_exited() { ! pid_alive "${pids[0]}" || ! pid_alive "${pids[1]}"; }
	if ! wait_until 10 one_exited; then
		fail "round $r: both attach processes still run after 10 s"
		break
	fi
	loser=0
	pid_alive "${pids[0]}" && loser=1
	winner=$((1 - loser))
	rc=0
	wait "${pids[loser]}" || rc=$?
	assert_eq "round $r: the loser's exit status" 1 "$rc"
	log=$E2E_TMP/a$r-$loser.log
	assert_eq "round $r: the loser says one line" 1 "$(grep -c . "$log")"
	assert_file_contains "$log" "interface '$C_IF' is already driven by a running udpclone-bpf \\(pid ${pids[winner]}\\)$" \
		"round $r: the loser says why, naming the winner"
	wait_until "$UDPC_READY_TIMEOUT" udpc_ready "$E2E_TMP/a$r-$winner.ready" "${pids[winner]}"
	[ -s "$E2E_TMP/a$r-$winner.ready" ] ||
		fail "round $r: the winner did not come up: $(tail -c 300 "$E2E_TMP/a$r-$winner.log")"
	assert_ok "round $r: the winner runs" pid_alive "${pids[winner]}"
	assert_eq "round $r: status names the winner" "${pids[winner]}" \
		"$(udpc_json "$C_NS" "$C_IF" .pid)"
	assert_eq "round $r: our filters" 2 "$(udpc_filter_count "$C_NS" "$C_IF")"
	peer_send "$C_NS" "$E2E_TMP/s$r" --to "$R4_1:$P" --count 50 --rate 1000 --wait-replies 3 \
		--expect-repliers 1
	assert_eq "round $r: replies through the winner" 50 "$(stat_get "$E2E_TMP/s$r" replies_total)"
	assert_ok "round $r: detach" udpc "$C_NS" detach "$C_IF" 2>>"$E2E_TMP/detach.log"
	wait_until 10 eval "! pid_alive ${pids[winner]}" || fail "round $r: the winner did not stop"
	assert_eq "round $r: filters after detach" 0 "$(udpc_filter_count "$C_NS" "$C_IF")"
	assert_fail "round $r: pins after detach" udpc_pinned "$C_IF"
	[ "${#E2E_FAILS[@]}" = 0 ] || break
done
bg_stop "$E1"
e2e_end
