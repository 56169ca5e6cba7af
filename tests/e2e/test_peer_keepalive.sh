#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Peer mode's path health (docs/PEER.md, "Path health"): the attach --peer daemon
# sends a keepalive by each path of each active session every second, the server's
# data path answers it, and both statuses show what each end learned.
#
#   client $C_NS                 router $R_NS                    server $S_NS
#   $CA_IF 192.0.2.1/25   ---   $RA_IF 192.0.2.2/25
#   $CB_IF 198.51.100.1/25 ---  $RB_IF 198.51.100.2/25   $RS_IF 192.0.2.129/25 --- $S_IF 192.0.2.130/25
#   $CC_IF 203.0.113.1/25  ---  $RC_IF 203.0.113.2/25                        + $T1..$T3 (/32)
#
# The server is reached by link A at $T1, by B at $T2, by C at $T3; one serve on
# $S_IF sees all three paths of a session (attach on $CA_IF, B and C as uplinks).
#
#   1. After a few datagrams, every path of the client's session has keepalives
#      answered (ka_rx >= 2) and an RTT (0 < rtt < 50 ms); the server shows the same
#      session's paths with keepalives, the client's RTT and the client's counters.
#   2. Idle for longer than the server's path timeout (10 s): the keepalives keep
#      every path live, so a reply the server's application sends then still leaves
#      by every path, and reaches the client application once.
#   3. Link B down at the router: B's keepalives go unanswered (its age grows), A's
#      and C's go on.
#   4. Destinations on attach's --listen port: a keepalive leaving the attached
#      interface is addressed as a client's datagram would be; attach's egress
#      program knows the daemon's sockets (their cookies) and lets it pass, so path
#      A gets keepalives too, and no keepalive reaches the server's application.
# shellcheck disable=SC2317 # functions run through wait_until
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743  # attach --listen
SP=5744 # serve --listen: the destinations' port (see 4. for P)
TO=9000
IDLE=12 # s: longer than the server's path timeout

e2e_begin peer_keepalive
require_udpc
require_cmd jq python3

C_NS=$(ns_name client) R_NS=$(ns_name router) S_NS=$(ns_name server)
CA_IF=$(ifname ca) CB_IF=$(ifname cb) CC_IF=$(ifname cc)
RA_IF=$(ifname ra) RB_IF=$(ifname rb) RC_IF=$(ifname rc) RS_IF=$(ifname rs) S_IF=$(ifname s)
CA4=192.0.2.1 RA4=192.0.2.2 CB4=198.51.100.1 RB4=198.51.100.2 CC4=203.0.113.1 RC4=203.0.113.2
RS4=192.0.2.129 S4=192.0.2.130
T1=203.0.113.201 T2=203.0.113.202 T3=203.0.113.203

topo() {
	local t
	ns_new client && ns_new router && ns_new server || return 1
	link_veth "$C_NS" "$CA_IF" "$R_NS" "$RA_IF" && link_veth "$C_NS" "$CB_IF" "$R_NS" "$RB_IF" &&
		link_veth "$C_NS" "$CC_IF" "$R_NS" "$RC_IF" && link_veth "$R_NS" "$RS_IF" "$S_NS" "$S_IF" ||
		return 1
	addr_add "$C_NS" "$CA_IF" "$CA4/25" && addr_add "$R_NS" "$RA_IF" "$RA4/25" &&
		addr_add "$C_NS" "$CB_IF" "$CB4/25" && addr_add "$R_NS" "$RB_IF" "$RB4/25" &&
		addr_add "$C_NS" "$CC_IF" "$CC4/25" && addr_add "$R_NS" "$RC_IF" "$RC4/25" &&
		addr_add "$R_NS" "$RS_IF" "$RS4/25" && addr_add "$S_NS" "$S_IF" "$S4/25" || return 1
	for t in "$T1" "$T2" "$T3"; do
		addr_add "$S_NS" "$S_IF" "$t/32" && route_add "$R_NS" "$t/32" via "$S4" || return 1
	done
	route_add "$C_NS" "$T1/32" via "$RA4" && route_add "$C_NS" "$T2/32" via "$RB4" &&
		route_add "$C_NS" "$T3/32" via "$RC4" || return 1
	for t in 192.0.2.0/25 198.51.100.0/25 203.0.113.0/25; do
		route_add "$S_NS" "$t" via "$RS4" || return 1
	done
	nsx "$R_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 >/dev/null || return 1
	for t in "$C_NS $CA_IF" "$C_NS $CB_IF" "$C_NS $CC_IF" "$S_NS $S_IF"; do
		# shellcheck disable=SC2086 # two words: NS IF
		wait_until 5 link_up $t || { fail "topo: $t did not come up"; return 1; }
	done
}
topo || e2e_end

# The server's application on --to: answers each datagram; once $E2E_TMP/late.go
# exists, sends one datagram of its own ("late") to the last client it heard.
# shellcheck disable=SC2016 # python, not shell
nsx_bg "$S_NS" timeout 120 python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(0.1)
open(sys.argv[2] + ".ready", "w").close()
peer, late = None, False
while True:
    try:
        d, peer = s.recvfrom(2000)
        s.sendto(b"re " + d, peer)
    except socket.timeout:
        pass
    if peer and not late and os.path.exists(sys.argv[2] + ".go"):
        s.sendto(b"late", peer)
        late = True
        open(sys.argv[2] + ".sent", "w").close()' "$TO" "$E2E_TMP/late" 2>"$E2E_TMP/server-app.log"
wait_until 5 test -e "$E2E_TMP/late.ready" || fail "the server application did not start"

udpc_serve_bg "$S_NS" "$S_IF" --listen "$SP" --to "$TO" || e2e_end
udpc_attach_bg "$C_NS" "$CA_IF" --listen "$P" --peer -v \
	--destinations "$T1:$SP,$T2:$SP@$CB_IF,$T3:$SP@$CC_IF" || e2e_end
APID=$UDPC_PID

# The client's application: 5 datagrams, their replies, then it waits for "late".
# shellcheck disable=SC2016 # python, not shell
nsx_bg "$C_NS" timeout 120 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 40000))
s.settimeout(0.1)
out, replies, late = sys.argv[4], 0, 0
for i in range(5):
    s.sendto(b"ping %d" % i, (sys.argv[2], int(sys.argv[3])))
    time.sleep(0.1)
end = time.monotonic() + 2
while time.monotonic() < end:
    try:
        replies += s.recv(2000).startswith(b"re ping")
    except socket.timeout:
        pass
open(out + ".pinged", "w").write("%d\n" % replies)
end = time.monotonic() + 90
while time.monotonic() < end:
    try:
        if s.recv(2000) == b"late":
            late += 1
            end = min(end, time.monotonic() + 1) # a duplicate would come within it
    except socket.timeout:
        pass
open(out, "w").write("%d\n" % late)' "$CA4" "$T1" "$P" "$E2E_TMP/client-app" 2>"$E2E_TMP/client-app.log"
wait_until 10 test -e "$E2E_TMP/client-app.pinged" || fail "the client application sent nothing"
assert_eq "the client got a reply to each datagram, once" 5 "$(cat "$E2E_TMP/client-app.pinged" 2>/dev/null)"

CJ=$E2E_TMP/client.json SJ=$E2E_TMP/server.json
cj() { udpc_json "" "" "$1" "$CJ"; }
sj() { udpc_json "" "" "$1" "$SJ"; }
save() { udpc_json_save "$C_NS" "$CA_IF" "$CJ" && udpc_json_save "$S_NS" "$S_IF" "$SJ"; }

# ---- 1. every path's health, at both ends
# healthy: on the client, every path has >= 2 echoes and an RTT in (0, 50) ms; on
# the server, the same session's three paths have keepalives and what the client
# reported of them.
healthy() {
	save || return 1
	[ "$(cj '[.peer.session_list[0].paths[] | select(.ka_rx >= 2 and .rtt_ms > 0 and .rtt_ms < 50)] | length')" = 3 ] &&
		[ "$(sj '[.peer.session_list[0].paths[] | select(.ka_rx >= 2 and .rtt_ms > 0 and .peer_rx_packets >= 5)] | length')" = 3 ]
}
wait_until 15 healthy || fail "paths not healthy: client $(jq -c '.interfaces[0].peer.session_list[0].paths' "$CJ") server $(jq -c '.interfaces[0].peer.session_list[0].paths' "$SJ")"
SID=$(cj '.peer.session_list[0].id')
assert_eq "the same session at both ends" "$SID" "$(sj '.peer.session_list[0].id')"
assert_eq "client: the session's label is the application's" "$CA4:40000" "$(cj '.peer.session_list[0].label')"
assert_eq "server: paths by id" "0 1 2" "$(sj '[.peer.session_list[0].paths[].path] | map(tostring) | join(" ")')"
assert_eq "server: the paths' addresses" "$CA4:40000 $CB4:40000 $CC4:40000" \
	"$(sj '[.peer.session_list[0].paths[].client] | join(" ")')"
for i in 0 1 2; do
	p=".peer.session_list[0].paths[$i]"
	assert_eq "client path $i: the server got all 5 by it (peer_rx_packets, peer_loss)" "5 0" \
		"$(cj "$p | \"\(.peer_rx_packets) \(.peer_loss)\"")"
	assert_eq "client path $i: 5 replies by it, the duplicates counted" \
		"5 $((5 - $(cj "$p.rx_first") - $(cj "$p.rx_late")))" "$(cj "$p | \"\(.rx_packets) \(.rx_duplicates)\"")"
	assert_eq "server path $i: the client got all 5 replies by it (peer_loss)" 0 "$(sj "$p.peer_loss")"
	assert_between "server path $i: the client's RTT (ms)" 0 50 "$(sj "$p.rtt_ms | floor")"
done
assert_ge "server: keepalives echoed" 6 "$(sj .peer.counters.ka_echoed)"
assert_ge "client: echoes taken" 6 "$(cj .peer.counters.ka_rx)"
assert_eq "server: nothing malformed" "0 0" "$(sj '.peer.counters | "\(.rx_malformed) \(.rx_unknown)"')"
assert_eq "server: the keepalives were no data" 5 "$(sj '.peer.session_list[0].rx_delivered')"

udpc "$C_NS" status "$CA_IF" >"$E2E_TMP/client.txt" || fail "client status (text) failed"
assert_file_contains "$E2E_TMP/client.txt" "^  $SID $CA4:40000 " "client text: the session's label"
assert_file_contains "$E2E_TMP/client.txt" " RTT_MS +KA +KA_AGE +PEER_FIRST +PEER_LOSS\$" "client text: health columns"
PROM=$E2E_TMP/server.prom
udpc "$S_NS" status "$S_IF" --prometheus >"$PROM" || fail "server status --prometheus failed"
assert_file_contains "$PROM" "^udpclone_bpf_peer_keepalives_echoed_total\\{interface=\"$S_IF\"\\} [1-9]" \
	"prom: keepalives echoed"

# ---- 2. idle past the path timeout: keepalives keep the server's paths live
tx_before=$(sj '[.peer.session_list[0].paths[].tx_packets] | map(tostring) | join(" ")')
rx_before=$(cj '[.peer.session_list[0].paths[].rx_packets] | map(tostring) | join(" ")')
assert_eq "server: 5 replies by each path so far" "5 5 5" "$tx_before"
assert_eq "client: 5 replies by each path so far" "5 5 5" "$rx_before"
idle_over() {
	save && [ "$(sj '.peer.session_list[0].last_rx_age_s | floor')" -ge "$IDLE" ]
}
# a wait on the session's own clock: the last data came IDLE seconds ago
wait_until $((IDLE + 10)) idle_over || fail "the session did not go idle for ${IDLE}s"
assert_eq "server: every path still live after ${IDLE}s without data" 3 \
	"$(sj '[.peer.session_list[0].paths[] | select(.last_rx_age_s < 2)] | length')"
touch "$E2E_TMP/late.go"
late_out() { save && [ "$(sj '[.peer.session_list[0].paths[].tx_packets] | map(tostring) | join(" ")')" = "6 6 6" ]; }
wait_until 5 late_out || fail "the late reply did not leave by every path: $(sj '[.peer.session_list[0].paths[].tx_packets]')"
late_in() { save && [ "$(cj '[.peer.session_list[0].paths[].rx_packets] | map(tostring) | join(" ")')" = "6 6 6" ]; }
wait_until 5 late_in || fail "the late reply did not come by every path: was $rx_before, is $(cj '[.peer.session_list[0].paths[].rx_packets]')"
wait_until 5 test -s "$E2E_TMP/client-app" || fail "the client application did not finish"
assert_eq "the client application got the late reply once" 1 "$(cat "$E2E_TMP/client-app" 2>/dev/null)"

# ---- 3. link B down at the router: its keepalives go unanswered, the others' do not
ka_of() { cj ".peer.session_list[0].paths[$1].ka_rx"; }
save || fail "status failed"
ka0=$(ka_of 0) ka1=$(ka_of 1) ka2=$(ka_of 2)
nsx "$R_NS" ip link set "$RB_IF" down || fail "cannot take link B down"
b_silent() {
	save && [ "$(cj '.peer.session_list[0].paths[1].ka_last_age_s | floor')" -ge 3 ] &&
		[ "$(ka_of 0)" -ge $((ka0 + 3)) ] && [ "$(ka_of 2)" -ge $((ka2 + 3)) ]
}
wait_until 10 b_silent || fail "B not silent, or A and C not answered: $(jq -c '[.interfaces[0].peer.session_list[0].paths[] | {path, ka_rx, ka_last_age_s}]' "$CJ")"
assert_le "path B: at most one echo after it went down" $((ka1 + 1)) "$(ka_of 1)"
for i in 0 2; do
	assert_eq "path $i: its last echo is recent" 0 "$(cj ".peer.session_list[0].paths[$i].ka_last_age_s | if . < 2 then 0 else 1 end")"
done

# ---- 4. the destinations' port is the listen port
bg_stop "$APID" || fail "attach exited non-zero on SIGTERM"
udpc_attach_bg "$C_NS" "$CA_IF" --listen "$SP" --peer \
	--destinations "$T1:$SP,$T2:$SP@$CB_IF,$T3:$SP@$CC_IF" || e2e_end
# shellcheck disable=SC2016 # python, not shell
nsx "$C_NS" timeout 10 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 40001))
s.settimeout(2)
for i in range(3):
    s.sendto(b"ping %d" % i, (sys.argv[2], int(sys.argv[3])))
    s.recv(2000)' "$CA4" "$T1" "$SP" >"$E2E_TMP/edge.log" 2>&1 ||
	fail "no replies with the destinations on the listen port: $(head -c 300 "$E2E_TMP/edge.log")"
a_c_answered() {
	save && [ "$(cj '.peer.session_list[0].paths[2].ka_rx')" -ge 3 ] &&
		[ "$(cj '.peer.session_list[0].paths[0].ka_rx')" -ge 3 ]
}
wait_until 10 a_c_answered || fail "paths A and C got no keepalives answered: $(jq -c '.interfaces[0].peer.session_list[0].paths' "$CJ")"
assert_eq "the new session" "$CA4:40001" "$(cj '.peer.session_list[0].label')"
assert_ge "path A: keepalives received by the server" 3 "$(sj '.peer.session_list[0].paths[0].ka_rx')"
assert_eq "server: the application got the 3 datagrams, no keepalive" 3 "$(sj '.peer.session_list[0].rx_delivered')"
assert_eq "client: nothing but the datagrams matched" 3 "$(cj '.counters.matched')"

e2e_end
