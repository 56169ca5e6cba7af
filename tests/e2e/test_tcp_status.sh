#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# `status` shows tcp-client / tcp-server's stream layer (issue 14, docs/STATUS.md
# "tcp"), on the WAN lab with one clean uplink (10 ms each way): a TCP service on the
# server, tcp-server forwarding app=127.0.0.1:$APP, tcp-client 127.0.0.1:$LP=app, and
# 25 long-lived connections through it (udpc-tcp --hold), each with bytes both ways.
#   1. --json, both ends: the role, its pid, running, the forward; a session whose
#      link's round trip time is the emulated 20 ms (at least 15: the ack delay taken
#      off each sample can make it a little less; without the delay it would be under
#      1); every connection as a stream of target app, open, with its local TCP ends
#      and its bytes each way.
#   2. text: the same at a glance, the 20 busiest streams and a line for the other 5.
#   3. --prometheus: running, the streams, the link's round trip time.
#   4. tcp-client killed (-9): status says it is not running (stale), and offers none
#      of its numbers as live; damaged, the snapshot is one line on stderr and exit 1;
#      detach removes the stale one; a new tcp-client is shown running again.
#   5. a clean stop (SIGTERM) of each removes its snapshot.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

SP=7000   # tcp-server --listen
APP=8000  # the TCP service
LP=9000   # tcp-client's forward
N=25      # connections held open
DOWN=300000 UP=200000

e2e_begin tcp_status
require_tcp_lab
require_cmd jq
topo_wan "clean:delay=10ms" || e2e_end
A=$WAN_IF_1 S=$WAN_S_IF
CJ=$E2E_TMP/client.json SJ=$E2E_TMP/server.json

server_up() {
	_udpc_daemon_bg tcp-server "$S_NS" "$S" --listen "$SP" --forward "app=127.0.0.1:$APP" || e2e_end
	SERVER=$UDPC_PID
}
client_up() {
	_udpc_daemon_bg tcp-client "$C_NS" "$A" --destinations "$WAN_S4:$SP" \
		--forward "127.0.0.1:$LP=app" || e2e_end
	CLIENT=$UDPC_PID
}
# jqf FILE FILTER: jq -r FILTER on the interface's "tcp" member of a saved status
jqf() { jq -r ".interfaces[0].tcp | $2" "$1" 2>/dev/null; }
# moved: every held connection has sent and received all its bytes, as status sees it
moved() {
	udpc_json_save "$C_NS" "$A" "$CJ" || return 1
	[ "$(jqf "$CJ" "[.streams[] | select(.rx_bytes == $DOWN and .tx_acked == $UP + 16)] | length")" = "$N" ]
}

nsx_bg "$S_NS" "$TCPT" server "0.0.0.0:$APP" >"$E2E_TMP/app.log" 2>&1
wait_until 5 grep -q listening "$E2E_TMP/app.log" || fail "the TCP service did not start"
server_up
client_up
# 16 bytes of udpc-tcp's header go up before the upload: the stream carries UP + 16
nsx_bg "$C_NS" timeout -k 5 150 "$TCPT" client "127.0.0.1:$LP" --down "$DOWN" --up "$UP" \
	--conns "$N" --parallel "$N" --hold 90 --timeout 120 >"$E2E_TMP/held" 2>&1
HELD=$BG_PID
wait_until 30 moved || fail "status did not show $N streams with their bytes: $(jqf "$CJ" '.streams' | head -c 600)"

# -- 1. --json, the client
assert_eq "client: role" tcp-client "$(jqf "$CJ" .role)"
assert_eq "client: pid" "$CLIENT" "$(jqf "$CJ" .pid)"
assert_eq "client: running" true "$(jqf "$CJ" .running)"
assert_eq "client: forward" "app 127.0.0.1:$LP" "$(jqf "$CJ" '.forwards[] | "\(.name) \(.address)"')"
assert_eq "client: one session" 1 "$(jqf "$CJ" '.sessions | length')"
assert_eq "client: its peer" null "$(jqf "$CJ" '.sessions[0].peer')"
srtt=$(jqf "$CJ" '.sessions[0].link.srtt_ms')
min_rtt=$(jqf "$CJ" '.sessions[0].link.min_rtt_ms')
echo "  tcp-client's link: srtt $srtt ms, min_rtt $min_rtt ms (20 ms emulated)"
# 20 ms emulated; the peer's ack delay, taken off each sample, may take a little more
awk -v x="$min_rtt" 'BEGIN { exit !(x >= 15 && x < 1000) }' || fail "client: min_rtt_ms $min_rtt, not 15..1000"
awk -v x="$srtt" 'BEGIN { exit !(x >= 15 && x < 1000) }' || fail "client: srtt_ms $srtt, not 15..1000"
assert_eq "client: streams open" "$N" "$(jqf "$CJ" .streams_open)"
assert_eq "client: all listed" "$N" "$(jqf "$CJ" '.streams | length')"
assert_eq "client: the link's stream count" "$N" "$(jqf "$CJ" '.sessions[0].link.streams')"
assert_eq "client: streams of target app, open" "$N" \
	"$(jqf "$CJ" '[.streams[] | select(.target == "app" and .state == "open")] | length')"
assert_eq "client: local ends are the forward's" "$N" \
	"$(jqf "$CJ" "[.streams[] | select(.local == \"127.0.0.1:$LP\" and (.remote | test(\"^127[.]0[.]0[.]1:[0-9]+$\")))] | length")"
assert_eq "client: distinct stream ids" "$N" "$(jqf "$CJ" '[.streams[].id] | unique | length')"
assert_ge "client: streams opened" "$N" "$(jqf "$CJ" .counters.streams_opened)"
assert_ge "client: datagrams received" 1 "$(jqf "$CJ" .counters.rx_datagrams)"
assert_eq "client: connections accepted" "$N" "$(jqf "$CJ" .accepted)"

# -- 1. --json, the server
udpc_json_save "$S_NS" "$S" "$SJ" || fail "status --json on the server: $(cat "$SJ.err")"
assert_eq "server: role" tcp-server "$(jqf "$SJ" .role)"
assert_eq "server: pid" "$SERVER" "$(jqf "$SJ" .pid)"
assert_eq "server: forward" "app 127.0.0.1:$APP" "$(jqf "$SJ" '.forwards[] | "\(.name) \(.address)"')"
assert_eq "server: one session, from a client address" 1 \
	"$(jqf "$SJ" '[.sessions[] | select(.peer | test(":[0-9]+$"))] | length')"
assert_ge "server: its link's srtt_ms" 15 "$(jqf "$SJ" '.sessions[0].link.srtt_ms | floor')"
assert_eq "server: streams to app, connected to it, bytes each way" "$N" \
	"$(jqf "$SJ" "[.streams[] | select(.target == \"app\" and .remote == \"127.0.0.1:$APP\" and .rx_bytes == $UP + 16 and .tx_acked == $DOWN and .state == \"open\")] | length")"

# -- 2. text
udpc "$C_NS" status "$A" >"$E2E_TMP/client.txt" || fail "status (text) failed"
assert_file_contains "$E2E_TMP/client.txt" "^  tcp-client: pid $CLIENT running .*forwards 127\.0\.0\.1:$LP=app$"
assert_file_contains "$E2E_TMP/client.txt" "^  streams: $N open, the busiest listed$"
assert_eq "text: 20 stream rows" 20 "$(grep -cE "^  [0-9]+ +0 +app +open +[0-9.]+s +127\.0\.0\.1:$LP +127\.0\.0\.1:[0-9]+ +$((UP + 16)) +$((UP + 16)) +$DOWN$" "$E2E_TMP/client.txt")"
assert_file_contains "$E2E_TMP/client.txt" "^  \($((N - 20)) more streams not shown: --json lists them all\)$"
# the session row: no peer on a client, its round trip times in ms
assert_file_contains "$E2E_TMP/client.txt" "^  - +[0-9.]+s +[0-9]+\.[0-9] +[0-9]+\.[0-9] "

# -- 3. --prometheus
P=$E2E_TMP/client.prom
udpc "$C_NS" status "$A" --prometheus >"$P" || fail "status --prometheus failed"
assert_file_contains "$P" "^udpclone_bpf_tcp_running\{interface=\"$A\",role=\"tcp-client\"\} 1$"
assert_file_contains "$P" "^udpclone_bpf_tcp_streams\{interface=\"$A\"\} $N$"
assert_file_contains "$P" "^udpclone_bpf_tcp_srtt_seconds\{interface=\"$A\",session=\"\"\} [0-9]+\.[0-9]{6}$"
assert_file_contains "$P" "^udpclone_bpf_tcp_streams_opened_total\{interface=\"$A\"\} [1-9]"
assert_eq "each metric once" "" "$(awk '/^# TYPE / { print $3 }' "$P" | sort | uniq -d)"

# -- 4. tcp-client killed outright: its snapshot is stale
{ kill -9 "$CLIENT" && wait "$CLIENT"; } 2>/dev/null # (no "Killed" notice from bash)
gone() { ! pid_alive "$CLIENT" && ! pgrep -f "tcp-client $A " >/dev/null; }
wait_until 10 gone || fail "tcp-client (or its child) lingers after kill -9"
[ -e "$UDPC_RUN_ROOT/$A/tcp" ] || fail "no snapshot left by the killed tcp-client: nothing to call stale"
udpc_json_save "$C_NS" "$A" "$CJ" || fail "status --json after kill -9: $(cat "$CJ.err")"
assert_eq "killed: the data path's daemon is not running" false "$(jq -r '.interfaces[0].running' "$CJ")"
assert_eq "killed: tcp-client not running" false "$(jqf "$CJ" .running)"
assert_eq "killed: the pid it names" "$CLIENT" "$(jqf "$CJ" .pid)"
udpc "$C_NS" status "$A" >"$E2E_TMP/stale.txt" || fail "status (text) after kill -9 failed"
assert_file_contains "$E2E_TMP/stale.txt" "^  tcp-client: NOT RUNNING: pid $CLIENT is gone; its snapshot .* is stale and not shown$"
assert_file_not_contains "$E2E_TMP/stale.txt" "^  streams: "
udpc "$C_NS" status "$A" --prometheus >"$P" || fail "status --prometheus after kill -9 failed"
assert_file_contains "$P" "^udpclone_bpf_tcp_running\{interface=\"$A\",role=\"tcp-client\"\} 0$"
assert_file_not_contains "$P" "^udpclone_bpf_tcp_streams\{interface=\"$A\"\}"
bg_stop "$HELD" || true

# a damaged snapshot: one line on stderr, exit 1, and the pins still shown
SNAP=$UDPC_RUN_ROOT/$A/tcp
cp "$SNAP" "$E2E_TMP/snapshot"
head -n 3 "$E2E_TMP/snapshot" >"$SNAP" # whole lines, no "end"
rc=0
udpc "$C_NS" status "$A" >"$E2E_TMP/bad.txt" 2>"$E2E_TMP/bad.err" || rc=$?
assert_eq "damaged snapshot: exit status" 1 "$rc"
assert_eq "damaged snapshot: one line on stderr" 1 "$(wc -l <"$E2E_TMP/bad.err")"
assert_file_contains "$E2E_TMP/bad.err" "^udpclone-bpf: $A: cannot read the stream layer's snapshot $SNAP: cut short"
assert_file_contains "$E2E_TMP/bad.txt" "^$A: UDP port "
# detach removes a stale snapshot with the pins
cp "$E2E_TMP/snapshot" "$SNAP"
udpc "$C_NS" detach "$A" >/dev/null 2>&1 || fail "detach after kill -9 failed"
[ -e "$SNAP" ] && fail "detach left the stale snapshot $SNAP"

# a new tcp-client takes the interface and its snapshot is live again
client_up
udpc_json_save "$C_NS" "$A" "$CJ" || fail "status --json after the restart: $(cat "$CJ.err")"
assert_eq "restarted: running" true "$(jqf "$CJ" .running)"
assert_eq "restarted: its pid" "$CLIENT" "$(jqf "$CJ" .pid)"

# -- 5. a clean stop removes the snapshot, at both ends
bg_stop "$CLIENT" || fail "tcp-client did not exit cleanly on SIGTERM"
[ -e "$UDPC_RUN_ROOT/$A/tcp" ] && fail "tcp-client stopped cleanly and left $UDPC_RUN_ROOT/$A/tcp"
[ -e "$UDPC_RUN_ROOT/$S/tcp" ] || fail "tcp-server's snapshot is missing while it runs"
bg_stop "$SERVER" || fail "tcp-server did not exit cleanly on SIGTERM"
[ -e "$UDPC_RUN_ROOT/$S/tcp" ] && fail "tcp-server stopped cleanly and left $UDPC_RUN_ROOT/$S/tcp"
e2e_end
