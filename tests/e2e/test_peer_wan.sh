#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Peer mode end to end (issue 13), on the WAN lab: a client with three uplinks to a
# router that plays the internet, each losing 30% of the packets in BOTH directions
# (5, 20 +- 5 and 45 ms one way; the third is raw IP behind the carrier's NAT), and
# a server behind one interface running `serve`. An echo application on the server
# counts the copies it gets; the client's connected socket counts the answers.
#   1. peer mode: the application sees each request once; >= 93% come back.
#   2. without peer mode, the same three copies: the echo sees ~2.1 copies of each
#      request, and ~87% come back; an application that answers once (a VPN) ~68%.
#   3. peer mode with an uplink dying mid-run (all its packets lost, both ways, as a
#      modem that loses its signal): no gap (no long run of losses).
#   4. on clean links, `kill -9` and restart of each daemon mid-stream: none lost;
#      a clean restart of serve (its sessions gone) mid-stream: replies resume.
#   5. peer mode over IPv6.
#   6. one session over paths of both families: an IPv4 client whose second and
#      third paths reach the server in IPv6 only.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

N=${PEER_WAN_COUNT:-10000}
RATE=${PEER_WAN_RATE:-1000}
P=5743    # the client application sends here (--listen)
SP=7000   # serve --listen: where the copies go
APP=9000  # serve --to: the server application

e2e_begin peer_wan
require_udpc
require_peer
require_cmd jq nft
[ -x "$WAN" ] || e2e_skip "udpc-wan is not built ($WAN)"
LOSSY=("clean:delay=5ms,loss=30%" "clean:delay=20ms,jitter=5ms,loss=30%" "clean:delay=45ms,loss=30%")
WAN_SEED=11 topo_wan "${LOSSY[@]}" || e2e_end
A=$WAN_IF_1 B=$WAN_IF_2 C=$WAN_IF_3
PEER_DESTS="$WAN_S4:$SP,$WAN_S4:$SP@$B,$WAN_S4:$SP@$C" # attach --peer: to serve, by each uplink
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }

# serve_up / attach_up ARGS...: the daemons, their pids in SERVE and ATTACH.
serve_up() {
	udpc_serve_bg "$S_NS" "$WAN_S_IF" --listen "$SP" --to "$APP" || e2e_end
	SERVE=$UDPC_PID
}
attach_up() {
	udpc_attach_bg "$C_NS" "$A" --listen "$P" "$@" || e2e_end
	ATTACH=$UDPC_PID
}
both_down() {
	bg_stop "$ATTACH"
	[ -n "${SERVE:-}" ] && bg_stop "$SERVE"
	SERVE=
}
echo_up() { # NAME [ECHO ARGS...]
	local name=$1
	shift
	peer_echo_bg "$S_NS" "0.0.0.0:$APP" srv "$E2E_TMP/$name" "$@" || e2e_end
	SRV=$BG_PID
}
requests() { # NAME COUNT: the client application's, to the listen port; stats in send-NAME
	peer_send "$C_NS" "$E2E_TMP/send-$1" --to "$WAN_S4:$P" --count "$2" --rate "$RATE" \
		--wait-replies 1
}

# -- 1. peer mode
serve_up
attach_up --destinations "$PEER_DESTS" --peer
echo_up peer
requests peer "$N"
bg_stop "$SRV"
udpc_json_save "$C_NS" "$A" "$E2E_TMP/peer-client.json"
udpc_json_save "$S_NS" "$WAN_S_IF" "$E2E_TMP/peer-server.json"
both_down
peer_rx=$(stat_get "$E2E_TMP/peer" received) peer_dup=$(stat_get "$E2E_TMP/peer" dup)
peer_rt=$(stat_get "$E2E_TMP/send-peer" replies_unique_seq)

# -- 2. the same copies without peer mode: to the application directly
attach_up --destinations "$WAN_S4:$APP,$WAN_S4:$APP@$B,$WAN_S4:$APP@$C"
echo_up plain
requests plain "$N"
bg_stop "$SRV"
echo_up once --reply-once
requests once "$N"
bg_stop "$SRV"
both_down
plain_rx=$(stat_get "$E2E_TMP/plain" received) plain_u=$(stat_get "$E2E_TMP/plain" unique)
plain_rt=$(stat_get "$E2E_TMP/send-plain" replies_unique_seq)
once_rt=$(stat_get "$E2E_TMP/send-once" replies_unique_seq)

echo "  $N requests, three uplinks each losing 30% each way (0.973^2 = 94.7% expected with peer mode):"
echo "    peer mode:      the application got $peer_rx datagrams, $peer_dup duplicates;" \
	"answered $peer_rt ($(pct "$peer_rt" "$N")%)"
echo "    without:        the application got $(ratio "$plain_rx" "$plain_u") copies of each request;" \
	"answered $plain_rt ($(pct "$plain_rt" "$N")%)"
echo "    without, an application that answers once (a VPN): answered $once_rt ($(pct "$once_rt" "$N")%)"
assert_eq "peer mode: duplicates seen by the application" 0 "$peer_dup"
assert_eq "peer mode: corrupt" 0 "$(stat_get "$E2E_TMP/peer" corrupt)"
assert_ge "peer mode: requests answered (per mille)" 930 $((peer_rt * 1000 / N))
# 0.7 x 3 = 2.1 copies of each request sent, 2.16 of each that arrived
assert_ge "without: copies per request (x100)" 190 $((plain_rx * 100 / plain_u))
# 1 - (1 - 0.7^2)^3 = 86.7% and 0.973 x 0.7 = 68.1%, each well below peer mode
assert_le "without: answered (per mille)" 900 $((plain_rt * 1000 / N))
assert_le "without, answered once (per mille)" 730 $((once_rt * 1000 / N))
assert_ge "without, answered once (per mille)" 630 $((once_rt * 1000 / N))
# both ends dropped duplicates, and say so
assert_eq "server: delivered = what the application got" "$peer_rx" \
	"$(udpc_json "" "" '.peer.counters.rx_delivered' "$E2E_TMP/peer-server.json")"
assert_ge "server: duplicates dropped" $((N / 2)) \
	"$(udpc_json "" "" '.peer.counters.rx_duplicates' "$E2E_TMP/peer-server.json")"
assert_ge "client: duplicate answers dropped" $((N / 2)) \
	"$(udpc_json "" "" '.peer.counters.rx_duplicates' "$E2E_TMP/peer-client.json")"
assert_eq "client: answers delivered" "$peer_rt" \
	"$(udpc_json "" "" '.peer.counters.rx_delivered' "$E2E_TMP/peer-client.json")"

# -- 3. peer mode, uplink B dies a third of the way through
serve_up
attach_up --destinations "$PEER_DESTS" --peer
echo_up down
requests down "$N" &
SENDER=$!
# a third of the way into the stream (a point in it, not a readiness wait)
sleep "$(awk -v n="$N" -v r="$RATE" 'BEGIN { printf "%.3f", n / r / 3 }')"
wan_set 2 "clean:loss=100%" || e2e_end
wait "$SENDER" || fail "sender failed"
bg_stop "$SRV"
both_down
down_rt=$(stat_get "$E2E_TMP/send-down" replies_unique_seq)
burst=$(stat_get "$E2E_TMP/down" loss_burst_max)
echo "    uplink B dead after a third: answered $down_rt ($(pct "$down_rt" "$N")%)," \
	"longest run of requests lost: ${burst:-?}"
assert_eq "path down: duplicates" 0 "$(stat_get "$E2E_TMP/down" dup)"
# two paths left: 9% of requests lost each, independently; a gap would be
# hundreds in a row (the rate is $RATE per second)
assert_le "path down: longest run of lost requests" 8 "${burst:-999}"
# a third at 94.7%, two thirds at 0.91^2 = 82.8%
assert_ge "path down: answered (per mille)" 800 $((down_rt * 1000 / N))

# -- 4. clean links; kill -9 and restart each daemon mid-stream: nothing lost
for k in 1 2 3; do wan_set "$k" "clean:delay=5ms" || e2e_end; done
K=$((N / 2))
# midstream NAME: both daemons and an echo up, K requests under way for a second;
# then the caller disturbs the daemons, and midstream_end waits for the requests
midstream() {
	serve_up
	attach_up --destinations "$PEER_DESTS" --peer
	echo_up "$1"
	requests "$1" "$K" &
	SENDER=$!
	sleep 1 # a second into the run (a point in the stream, not a readiness wait)
}
midstream_end() {
	wait "$SENDER" || fail "sender failed"
	bg_stop "$SRV"
	both_down
}
midstream kill
kill -9 "$ATTACH"
attach_up --destinations "$PEER_DESTS" --peer
kill -9 "$SERVE"
serve_up
midstream_end
kill_rt=$(stat_get "$E2E_TMP/send-kill" replies_unique_seq)
echo "    kill -9 and restart of both daemons mid-stream (clean links): answered $kill_rt of $K"
assert_eq "kill -9 mid-stream: answered" "$K" "$kill_rt"
assert_eq "kill -9 mid-stream: duplicates" 0 "$(stat_get "$E2E_TMP/kill" dup)"

# -- 4b. a clean restart of serve mid-stream: its sessions are gone, the client's are
# not; the new server's replies must not trail the client's window as late
midstream restart
bg_stop "$SERVE"
serve_up
midstream_end
restart_rt=$(stat_get "$E2E_TMP/send-restart" replies_unique_seq)
echo "    serve stopped and started again mid-stream (clean links): answered $restart_rt of $K"
# lost: what came while no serve ran (a fraction of a second); a new server counting
# its replies from 1 lost every one until it passed the old count (about 1000 here)
assert_ge "clean restart of serve: answered (per mille)" 900 $((restart_rt * 1000 / K))
assert_eq "clean restart of serve: duplicates" 0 "$(stat_get "$E2E_TMP/restart" dup)"

# -- 5. IPv6, lossy again
for k in 1 2 3; do wan_set "$k" "${LOSSY[$((k - 1))]}" || e2e_end; done
K=$((N / 5))
serve_up
attach_up --destinations "[$WAN_S6]:$SP,[$WAN_S6]:$SP@$B,[$WAN_S6]:$SP@$C" --peer
peer_echo_bg "$S_NS" "[::]:$APP" srv "$E2E_TMP/v6" || e2e_end
SRV=$BG_PID
peer_send "$C_NS" "$E2E_TMP/send-v6" --to "[$WAN_S6]:$P" --count "$K" --rate "$RATE" --wait-replies 1
bg_stop "$SRV"
both_down
v6_rt=$(stat_get "$E2E_TMP/send-v6" replies_unique_seq)
echo "    IPv6, peer mode: answered $v6_rt of $K ($(pct "$v6_rt" "$K")%)"
assert_eq "IPv6: duplicates" 0 "$(stat_get "$E2E_TMP/v6" dup)"
assert_ge "IPv6: answered (per mille)" 920 $((v6_rt * 1000 / K))

# -- 6. an IPv4 application, one IPv4 path and two IPv6 ones
serve_up
attach_up --destinations "$WAN_S4:$SP,[$WAN_S6]:$SP@$B,[$WAN_S6]:$SP@$C" --peer
echo_up mixed
requests mixed "$K"
bg_stop "$SRV"
udpc_json_save "$S_NS" "$WAN_S_IF" "$E2E_TMP/mixed-server.json"
both_down
mixed_rt=$(stat_get "$E2E_TMP/send-mixed" replies_unique_seq)
echo "    IPv4 application, paths of both families: answered $mixed_rt of $K ($(pct "$mixed_rt" "$K")%)"
assert_eq "mixed families: duplicates" 0 "$(stat_get "$E2E_TMP/mixed" dup)"
assert_eq "mixed families: corrupt" 0 "$(stat_get "$E2E_TMP/mixed" corrupt)"
assert_ge "mixed families: answered (per mille)" 920 $((mixed_rt * 1000 / K))
# every path carried copies: the IPv6 ones too
for path in 0 1 2; do
	assert_ge "mixed families: copies by path $path" $((K / 2)) \
		"$(udpc_json "" "" ".peer.session_list[0].paths[] | select(.path == $path) | .rx_packets" \
			"$E2E_TMP/mixed-server.json")"
done
e2e_end
