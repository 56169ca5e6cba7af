#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The control plane of peer mode (docs/PEER.md): `serve` and `attach --peer`.
#
#   1. serve's usage and runtime errors: one line each, exit 2 or 1, nothing left.
#   2. serve starts, logs `serving`, and `status` (text, --json, --prometheus) shows
#      it as a serve instance with no session; attach on its interface is refused.
#   3. One datagram through attach --peer -> serve reaches the application once and
#      its reply comes back; it made one session, the same id at both ends, in both
#      statuses.
#   4. kill -9 leaves the data path and the pins; a new serve adopts them: the
#      owner changes and the session is still there. SIGTERM removes filters and
#      pins; `detach` removes what a killed serve left.
#   5. After a killed attach --peer, attach without --peer (or serve) on the same
#      interface is refused with an error that names `detach`.
# shellcheck disable=SC2317 # functions run through wait_until and assert_ok
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
TO=9000

e2e_begin serve_cli
require_udpc
require_cmd jq tc
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end

NX=$(ifname nx)
HINT="Try 'udpclone-bpf --help'."
N=0

# check WHAT STATUS TEXT ARGS...: udpclone-bpf ARGS... (in the server namespace) exits
# STATUS with one stderr line (and the hint, for a usage error) containing TEXT, and
# prints nothing on stdout.
check() {
	local what=$1 want=$2 text=$3 rc=0 first
	shift 3
	N=$((N + 1))
	udpc "$S_NS" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" </dev/null || rc=$?
	cp "$E2E_TMP/err" "$E2E_TMP/err.$N"
	assert_eq "$what: exit status" "$want" "$rc"
	assert_eq "$what: stdout" "" "$(head -c 200 "$E2E_TMP/out")"
	if [ "$want" = 2 ]; then
		assert_eq "$what: the hint" "$HINT" "$(sed -n 2p "$E2E_TMP/err")"
		assert_eq "$what: stderr lines" 2 "$(wc -l <"$E2E_TMP/err")"
	else
		assert_eq "$what: stderr lines ($(paste -sd'|' "$E2E_TMP/err"))" 1 "$(wc -l <"$E2E_TMP/err")"
	fi
	first=$(sed -n 1p "$E2E_TMP/err")
	case $first in
	"udpclone-bpf: "*"$text"*) _ok "$what: message" ;;
	*) fail "$what: first stderr line should contain '$text': '$first'" ;;
	esac
}

# nothing_left IFACE NS WHAT: no pins, none of our filters.
nothing_left() {
	assert_fail "$3: no pin dir for $1" udpc_pinned "$1"
	assert_eq "$3: our filters on $1" 0 "$(udpc_filter_count "$2" "$1")"
}

# ---- 1. errors
S=(serve "$S_IF")
check "serve: missing --to" 2 "serve: missing --to PORT" "${S[@]}" --listen "$P"
check "serve: missing --listen" 2 "serve: missing --listen PORT" "${S[@]}" --to "$TO"
check "serve: --listen = --to" 2 "to '$P': must differ from the --listen port" \
	"${S[@]}" --listen "$P" --to "$P"
check "serve: port 0" 2 "listen '0': port 0 is out of range" "${S[@]}" --listen 0 --to "$TO"
check "serve: --to 65536" 2 "to '65536': port 65536 is out of range" \
	"${S[@]}" --listen "$P" --to 65536
check "serve: an address" 2 "listen '$S4:$P': port must be a number" \
	"${S[@]}" --listen "$S4:$P" --to "$TO"
for v in 15 1048577 abc; do
	check "serve: --max-sessions $v" 2 \
		"--max-sessions '$v': must be a whole number of sessions from 16 to 1048576" \
		"${S[@]}" --listen "$P" --to "$TO" --max-sessions "$v"
done
check "serve: no IFACE" 2 "serve: missing IFACE" serve --listen "$P" --to "$TO"
check "serve: unknown option" 2 "unknown option '--destinations'" \
	"${S[@]}" --listen "$P" --to "$TO" --destinations "$R4_1:9000"
check "serve: unknown interface" 1 "unknown interface '$NX'" serve "$NX" --listen "$P" --to "$TO"
check "attach: --max-sessions without --peer" 2 "--max-sessions needs --peer" \
	attach "$S_IF" --listen "$P" --destinations "$R4_1:9000" --max-sessions 64
nothing_left "$S_IF" "$S_NS" "after the errors"
nothing_left "$NX" "$S_NS" "after the errors"

# ---- 2. serve runs; status shows it
LOG=$E2E_TMP/udpc-$S_IF.log
udpc_serve_bg "$S_NS" "$S_IF" --listen "$P" --to "$TO" || e2e_end
SPID1=$UDPC_PID
assert_file_contains "$LOG" "serving $S_IF: UDP port $P -> local port $TO, up to 1024 sessions" \
	"serve logs 'serving'"
assert_eq "serve: our filters" 2 "$(udpc_filter_count "$S_NS" "$S_IF")"

udpc "$S_NS" status "$S_IF" >"$E2E_TMP/status.txt" 2>&1 || fail "status (text) failed"
assert_file_contains "$E2E_TMP/status.txt" "^$S_IF: serve: UDP port $P, delivered to local port $TO\$" \
	"text: a serve instance"
assert_file_contains "$E2E_TMP/status.txt" "^  daemon: pid $SPID1 running\$" "text: the daemon"
assert_file_contains "$E2E_TMP/status.txt" "^  sessions: 0 of at most 1024, 0 evicted\$" "text: no session"
assert_file_not_contains "$E2E_TMP/status.txt" "DESTINATION" "text: no destination table"

J=$E2E_TMP/serve.json
udpc_json_save "$S_NS" "$S_IF" "$J" || fail "status --json failed: $(cat "$J.err")"
j() { udpc_json "" "" "$1" "$J"; }
assert_eq "json: mode" server "$(j .peer.mode)"
assert_eq "json: ports" "$P $TO" "$(j '"\(.listen.port) \(.peer.to_port)"')"
assert_eq "json: sessions" "0 1024 0" "$(j '"\(.peer.sessions) \(.peer.max_sessions) \(.peer.counters.sessions_created)"')"
assert_eq "json: timeouts" "10 180" "$(j '"\(.peer.path_timeout_s) \(.peer.session_timeout_s)"')"
assert_eq "json: running, pid" "true $SPID1" "$(j '"\(.running) \(.pid)"')"
assert_eq "json: filters" "true true" "$(j '"\(.filters.ingress) \(.filters.egress)"')"
assert_eq "json: no flows or destinations" "null null" "$(j '"\(.flows) \(.destinations)"')"
assert_eq "json: session list" "0 0" "$(j '"\(.peer.session_list | length) \(.peer.sessions_not_shown)"')"

PROM=$E2E_TMP/serve.prom
udpc "$S_NS" status "$S_IF" --prometheus >"$PROM" || fail "status --prometheus failed"
assert_file_contains "$PROM" "^udpclone_bpf_peer_sessions\\{interface=\"$S_IF\"\\} 0\$" "prom: sessions"
assert_file_contains "$PROM" "^udpclone_bpf_peer_sessions_max\\{interface=\"$S_IF\"\\} 1024\$" "prom: size"
assert_file_contains "$PROM" "^udpclone_bpf_daemon_running\\{interface=\"$S_IF\"\\} 1\$" "prom: running"
assert_file_not_contains "$PROM" "^udpclone_bpf_flows\\{" "prom: no flow table for serve"

# attach on the interface serve drives: refused, serve untouched
rc=0
udpc "$S_NS" attach "$S_IF" --listen "$P" --destinations "$R4_1:9000" >/dev/null 2>"$E2E_TMP/err" || rc=$?
assert_eq "attach where serve runs: exit status" 1 "$rc"
assert_file_contains "$E2E_TMP/err" \
	"^udpclone-bpf: interface '$S_IF' is already driven by a running udpclone-bpf \\(pid $SPID1\\)\$" \
	"attach where serve runs: names serve"
assert_ok "serve still runs" pid_alive "$SPID1"

# ---- 3. one datagram through attach --peer -> serve: one session, both ends
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$S4:$P" --peer || e2e_end
CPID=$UDPC_PID
assert_file_contains "$E2E_TMP/udpc-$C_IF.log" "attached to $C_IF: .* \\(peer mode\\)" "attach --peer logs peer mode"
CJ=$E2E_TMP/client.json
udpc_json_save "$C_NS" "$C_IF" "$CJ" || fail "client status --json failed"
assert_eq "client json: mode, sessions" "client 0 1024" \
	"$(udpc_json "" "" '"\(.peer.mode) \(.peer.sessions) \(.peer.max_sessions)"' "$CJ")"
udpc "$C_NS" status "$C_IF" >"$E2E_TMP/client.txt" || fail "client status failed"
assert_file_contains "$E2E_TMP/client.txt" "^  peer mode: on" "client text: peer mode on"

# the application on --to: answers one datagram, says what it got and from where
# shellcheck disable=SC2016 # python, not shell
nsx_bg "$S_NS" timeout 20 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
open(sys.argv[2] + ".ready", "w").close()
d, a = s.recvfrom(2000)
open(sys.argv[2], "w").write("%s %s:%d\n" % (d.decode(), a[0], a[1]))
s.sendto(b"pong", a)' "$TO" "$E2E_TMP/app" 2>"$E2E_TMP/app.log"
wait_until 5 test -e "$E2E_TMP/app.ready" || fail "the application did not start"
# shellcheck disable=SC2016 # python, not shell
nsx "$C_NS" timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 40000))
s.settimeout(3)
s.sendto(b"ping", (sys.argv[2], int(sys.argv[3])))
d, a = s.recvfrom(2000)
print("%s %s:%d" % (d.decode(), a[0], a[1]))' "$C4" "$S4" "$P" >"$E2E_TMP/reply" 2>&1 ||
	fail "no reply through peer mode: $(head -c 300 "$E2E_TMP/reply")"
assert_eq "the application got the datagram once, from the client" "ping $C4:40000" \
	"$(cat "$E2E_TMP/app" 2>/dev/null)"
assert_eq "the client got the reply, from where it sent" "pong $S4:$P" "$(cat "$E2E_TMP/reply")"
sessions_at() { [ "$(udpc_json "$1" "$2" .peer.sessions)" = 1 ]; }
wait_until 3 sessions_at "$S_NS" "$S_IF" || fail "no session on the server"
assert_eq "client: sessions" 1 "$(udpc_json "$C_NS" "$C_IF" .peer.sessions)"
SID=$(udpc_json "$S_NS" "$S_IF" '.peer.session_list[0].id')
assert_eq "the same session id at both ends" "$SID" "$(udpc_json "$C_NS" "$C_IF" '.peer.session_list[0].id')"
assert_eq "server: the session's label" "$C4:40000" "$(udpc_json "$S_NS" "$S_IF" '.peer.session_list[0].label')"
assert_eq "server: delivered once" "1 0" \
	"$(udpc_json "$S_NS" "$S_IF" '.peer.session_list[0] | "\(.rx_delivered) \(.rx_duplicates)"')"
assert_eq "server: path 0 seen from the client, one in, one out" "0 $C4:40000 $S4 1 1" \
	"$(udpc_json "$S_NS" "$S_IF" '.peer.session_list[0].paths[0] | "\(.path) \(.client) \(.local) \(.rx_packets) \(.tx_packets)"')"
assert_eq "client: path 0 is the destination" "0 $S4:$P" \
	"$(udpc_json "$C_NS" "$C_IF" '.peer.session_list[0].paths[0] | "\(.path) \(.destination)"')"
udpc "$S_NS" status "$S_IF" >"$E2E_TMP/status1.txt" || fail "status failed"
assert_file_contains "$E2E_TMP/status1.txt" "^  $SID $C4:[0-9]+ " "server text: the session"

# ---- 4. kill -9, adoption, SIGTERM, detach
disown "$SPID1"
kill -KILL "$SPID1"
wait_until 3 eval '! pid_alive "$SPID1"' || fail "serve $SPID1 survived SIGKILL"
assert_eq "after kill -9: running" false "$(udpc_json "$S_NS" "$S_IF" .running)"
assert_eq "after kill -9: filters" 2 "$(udpc_filter_count "$S_NS" "$S_IF")"
assert_ok "after kill -9: pins kept" udpc_pinned "$S_IF"
rc=0
udpc "$S_NS" attach "$S_IF" --listen "$P" --destinations "$R4_1:9000" >/dev/null 2>"$E2E_TMP/err" || rc=$?
assert_eq "attach over a killed serve: exit status" 1 "$rc"
assert_file_contains "$E2E_TMP/err" "set up by 'serve' .*not 'attach': run 'udpclone-bpf detach $S_IF' first" \
	"attach over a killed serve: names detach"
nothing_changed() { [ "$(udpc_json "$S_NS" "$S_IF" .peer.mode)" = server ]; }
assert_ok "the refused attach left the pins a serve's" nothing_changed

udpc_serve_bg "$S_NS" "$S_IF" --listen "$P" --to "$TO" || e2e_end
SPID2=$UDPC_PID
assert_file_contains "$LOG" "adopting the state pinned in $UDPC_PIN_ROOT/$S_IF" "second serve adopts"
assert_eq "after adoption: owner" "true $SPID2" "$(udpc_json "$S_NS" "$S_IF" '"\(.running) \(.pid)"')"
assert_eq "after adoption: the session survived" "1 $SID" \
	"$(udpc_json "$S_NS" "$S_IF" '"\(.peer.sessions) \(.peer.session_list[0].id)"')"
assert_eq "after adoption: our filters" 2 "$(udpc_filter_count "$S_NS" "$S_IF")"
rc=0
udpc "$S_NS" serve "$S_IF" --listen "$P" --to "$TO" --max-sessions 64 >/dev/null 2>"$E2E_TMP/err" || rc=$?
assert_eq "a second serve while one runs: exit status" 1 "$rc"

bg_stop "$SPID2" || fail "serve exited non-zero on SIGTERM"
assert_file_contains "$LOG" "Terminated: detaching" "SIGTERM: detaching"
nothing_left "$S_IF" "$S_NS" "after SIGTERM"
nsx "$S_NS" tc filter show dev "$S_IF" ingress >"$E2E_TMP/tc-ingress" 2>&1
assert_file_not_contains "$E2E_TMP/tc-ingress" 'udpc' "tc ingress shows no udpc filter"

udpc_serve_bg "$S_NS" "$S_IF" --listen "$P" --to "$TO" --max-sessions 64 || e2e_end
SPID3=$UDPC_PID
assert_eq "a fresh serve: --max-sessions" 64 "$(udpc_json "$S_NS" "$S_IF" .peer.max_sessions)"
disown "$SPID3"
kill -KILL "$SPID3"
wait_until 3 eval '! pid_alive "$SPID3"' || fail "serve $SPID3 survived SIGKILL"
rc=0
udpc "$S_NS" serve "$S_IF" --listen "$P" --to "$TO" --max-sessions 128 >/dev/null 2>"$E2E_TMP/err" || rc=$?
assert_eq "serve with another --max-sessions: exit status" 1 "$rc"
assert_file_contains "$E2E_TMP/err" "holds 64 sessions, not the 128 of --max-sessions: run 'udpclone-bpf detach $S_IF' first" \
	"serve with another --max-sessions: names detach"
assert_ok "detach of a killed serve" udpc "$S_NS" detach "$S_IF"
nothing_left "$S_IF" "$S_NS" "after detach"

# ---- 5. switching modes after a killed attach --peer
disown "$CPID"
kill -KILL "$CPID"
wait_until 3 eval '! pid_alive "$CPID"' || fail "attach $CPID survived SIGKILL"
for args in "attach $C_IF --listen $P --destinations $S4:$P" "serve $C_IF --listen $P --to $TO"; do
	rc=0
	# shellcheck disable=SC2086 # words on purpose
	udpc "$C_NS" $args >/dev/null 2>"$E2E_TMP/err" || rc=$?
	assert_eq "'${args%% *}' after attach --peer: exit status" 1 "$rc"
	assert_eq "'${args%% *}' after attach --peer: one line" 1 "$(wc -l <"$E2E_TMP/err")"
	assert_file_contains "$E2E_TMP/err" \
		"^udpclone-bpf: interface '$C_IF' was set up by 'attach --peer' .*not '${args%% *}': run 'udpclone-bpf detach $C_IF' first\$" \
		"'${args%% *}' after attach --peer: names detach"
done
assert_eq "the refused commands left attach --peer's pins" client "$(udpc_json "$C_NS" "$C_IF" .peer.mode)"
assert_ok "detach of a killed attach --peer" udpc "$C_NS" detach "$C_IF"
nothing_left "$C_IF" "$C_NS" "after detach"

e2e_end
