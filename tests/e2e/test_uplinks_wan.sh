#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Several uplinks over the WAN lab (issues 3 and 12): udpclone-bpf on a client whose
# two uplinks are emulated WAN links, an LTE modem (40 ms +- 15 ms, 5% lost in
# bursts; TAP) and a second SIM (90 ms, 10% lost; raw IP, behind the carrier's NAT),
# to a server behind the router. One copy of each datagram leaves by each uplink
# (SERVER:PORT and SERVER:PORT@sim); the application gets a datagram, and its
# answer, when either link carries it. Then the same over IPv6.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

N=${UPLINKS_WAN_COUNT:-5000}
RATE=${UPLINKS_WAN_RATE:-2000}
P=5743

e2e_begin uplinks_wan
require_udpc
require_peer
require_cmd jq nft
[ -x "$WAN" ] || e2e_skip "udpc-wan is not built ($WAN)"
WAN_SEED=5 topo_wan lte sim2 || e2e_end
LTE=$WAN_IF_1 SIM=$WAN_IF_2
dest_json() { udpc_json "$C_NS" "$LTE" ".destinations[$1].$2"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }

# run NAME SERVER DESTS: N datagrams to SERVER:$P through udpclone-bpf with DESTS,
# the server echoing on port 9000; the server's and the client's counters in
# $E2E_TMP/NAME and $E2E_TMP/send-NAME.
run() {
	local name=$1 server=$2 dests=$3 bind=0.0.0.0:9000
	[[ $server == *:* ]] && bind='[::]:9000' server="[$server]"
	udpc_attach_bg "$C_NS" "$LTE" --listen "$P" --destinations "$dests" || e2e_end
	peer_echo_bg "$S_NS" "$bind" srv "$E2E_TMP/$name" || e2e_end
	local srv=$BG_PID
	# replies wait out the slowest link: 90 ms each way
	peer_send "$C_NS" "$E2E_TMP/send-$name" --to "$server:$P" --count "$N" --rate "$RATE" \
		--wait-replies 1
	bg_stop "$srv"
	udpc_json_save "$C_NS" "$LTE" "$E2E_TMP/$name.json"
	bg_stop "$UDPC_PID"
}

# -- 1. no fan-out: the LTE link alone (5% lost each way, in bursts)
peer_echo_bg "$S_NS" 0.0.0.0:9000 srv "$E2E_TMP/one" || e2e_end
peer_send "$C_NS" "$E2E_TMP/send-one" --to "$WAN_S4:9000" --count "$N" --rate "$RATE" --wait-replies 1
bg_stop "$BG_PID"
one=$(stat_get "$E2E_TMP/one" unique) one_rt=$(stat_get "$E2E_TMP/send-one" replies_unique_seq)

# -- 2. one copy by each uplink, IPv4 (the SIM's through the NAT)
run two "$WAN_S4" "$WAN_S4:9000,$WAN_S4:9000@$SIM"
two=$(stat_get "$E2E_TMP/two" unique) two_rt=$(stat_get "$E2E_TMP/send-two" replies_unique_seq)
wan_dump 1 && wan_dump 2
echo "  $N datagrams, LTE (5% bursty) and SIM (10%) each way:"
echo "    LTE alone:      $one ($(pct "$one" "$N")%)   round trip $one_rt ($(pct "$one_rt" "$N")%)"
echo "    LTE + SIM:      $two ($(pct "$two" "$N")%)   round trip $two_rt ($(pct "$two_rt" "$N")%)"
echo "    emulators: LTE lost $(wan_get 1 a2b.lost_burst) up / $(wan_get 1 b2a.lost_burst) down," \
	"SIM $(wan_get 2 a2b.lost_random) up / $(wan_get 2 b2a.lost_random) down"
# Independent links predict 95% and 99.5% one way, 90.3% and 98.1% for a round
# trip. Bounds: the LTE link alone is seen to lose (its losses come in bursts of 3,
# so its spread is ~3x a binomial's); fan-out stays within 5 of those spreads.
assert_le "LTE alone, one way (per mille)" 975 $((one * 1000 / N))
assert_ge "LTE alone lost in bursts" 1 "$(wan_get 1 a2b.lost_burst)"
assert_ge "LTE + SIM, one way (per mille)" 985 $((two * 1000 / N))
assert_ge "LTE + SIM, round trip (per mille)" 960 $((two_rt * 1000 / N))
assert_eq "corrupt at the server" 0 "$(stat_get "$E2E_TMP/two" corrupt)"
assert_eq "corrupt at the client" 0 "$(stat_get "$E2E_TMP/send-two" replies_corrupt)"
for i in 0 1; do
	assert_eq "destination $i: one copy per datagram" "$N" \
		"$(udpc_json "" "" ".destinations[$i].tx_packets" "$E2E_TMP/two.json")"
done
# the SIM's answers came back through the carrier's NAT and were mapped back
assert_ge "replies by the SIM mapped back" $((N * 70 / 100)) \
	"$(udpc_json "" "" '.destinations[1].rx_packets' "$E2E_TMP/two.json")"

# -- 3. the same over IPv6
run two6 "$WAN_S6" "[$WAN_S6]:9000,[$WAN_S6]:9000@$SIM"
two6=$(stat_get "$E2E_TMP/two6" unique) two6_rt=$(stat_get "$E2E_TMP/send-two6" replies_unique_seq)
echo "    LTE + SIM, v6:  $two6 ($(pct "$two6" "$N")%)   round trip $two6_rt ($(pct "$two6_rt" "$N")%)"
assert_ge "LTE + SIM over IPv6, one way (per mille)" 985 $((two6 * 1000 / N))
assert_ge "LTE + SIM over IPv6, round trip (per mille)" 960 $((two6_rt * 1000 / N))
e2e_end
