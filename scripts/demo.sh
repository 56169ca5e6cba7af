#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Quick start, first command: udpclone-bpf on a small network built in network
# namespaces (removed at the end): a laptop with three uplinks to the internet, each
# an emulated WAN link (tests/tools/udpc-wan, docs/WANLAB.md), and a server beyond.
#
#   client lte  (USB LTE modem, Ethernet-like)  40 ms +- 15 ms, 5% lost in bursts  \
#          wifi (Wi-Fi, Ethernet-like)          10 ms, 1% lost                       router -- server
#          sim  (second SIM, raw IP like wwan)  90 ms, 10% lost, behind carrier NAT /
#
# Delays and losses are one way, each direction on its own. The client sends
# datagrams to the server and the server's application answers each one once, as a
# VPN does: first over the LTE link alone; then through udpclone-bpf with one copy
# per uplink, while `status` shows the counters live (the application sees every
# copy, and its answer goes back by one link); then in peer mode, udpclone-bpf at
# both ends (`serve` on the server): the application sees each datagram once, and
# its answer goes back by every link.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces, BPF): sudo $0" >&2
	exit 1
fi
scripts/install-deps.sh && make --no-print-directory all tools || exit 1
# shellcheck source=../tests/e2e/lib.sh
. tests/e2e/lib.sh

N=${DEMO_COUNT:-6000}
RATE=${DEMO_RATE:-2000}

e2e_begin demo
require_cmd nft
topo_wan lte wifi sim2 || e2e_end
LTE=$WAN_IF_1 WIFI=$WAN_IF_2 SIM=$WAN_IF_3 SRV4=$WAN_S4

echo "== three uplinks to the server $SRV4 (one way, each direction on its own):"
echo "   $LTE  $WAN_C4_1  LTE modem:  40 ms +- 15 ms, 5% lost in bursts of 3 (Ethernet-like)"
echo "   $WIFI  $WAN_C4_2  Wi-Fi:      10 ms, 1% lost (Ethernet-like)"
echo "   $SIM  $WAN_C4_3  second SIM: 90 ms, 10% lost, raw IP, carrier NAT to $WAN_NAT4"
peer_echo_bg "$S_NS" "0.0.0.0:9000" server "$E2E_TMP/one" --reply-once || e2e_end
echo "== 1. without udpclone-bpf: $N datagrams to $SRV4:9000 over the LTE link alone"
peer_send "$C_NS" "$E2E_TMP/send-one" --to "$SRV4:9000" --count "$N" --rate "$RATE" --wait-replies 1
bg_stop "$BG_PID"

DESTS="$SRV4:9000,$SRV4:9000@$WIFI,$SRV4:9000@$SIM"
echo "== 2. udpclone-bpf attach $LTE --listen 5743 --destinations $DESTS"
udpc_attach_bg "$C_NS" "$LTE" --listen 5743 --destinations "$DESTS" || e2e_end
peer_echo_bg "$S_NS" "0.0.0.0:9000" server "$E2E_TMP/three" --reply-once || e2e_end
SRV=$BG_PID
echo "   $N datagrams to $SRV4:5743: one copy leaves by each uplink"
peer_send "$C_NS" "$E2E_TMP/send-three" --to "$SRV4:5743" --count "$N" --rate "$RATE" \
	--wait-replies 1 &
SENDER=$!
for _ in 1 2; do
	sleep 1
	echo
	nsx "$C_NS" "$UDPC" status "$LTE" | sed -n '/DESTINATION/,$p'
done
wait "$SENDER"
bg_stop "$SRV"
echo
nsx "$C_NS" "$UDPC" status "$LTE"
bg_stop "$UDPC_PID"

PDESTS="$SRV4:7000,$SRV4:7000@$WIFI,$SRV4:7000@$SIM"
echo
echo "== 3. peer mode: on the server, udpclone-bpf serve $WAN_S_IF --listen 7000 --to 9000"
udpc_serve_bg "$S_NS" "$WAN_S_IF" --listen 7000 --to 9000 || e2e_end
SERVE=$UDPC_PID
echo "   on the client, udpclone-bpf attach $LTE --listen 5743 --destinations $PDESTS --peer"
udpc_attach_bg "$C_NS" "$LTE" --listen 5743 --destinations "$PDESTS" --peer || e2e_end
peer_echo_bg "$S_NS" "0.0.0.0:9000" server "$E2E_TMP/peer" --reply-once || e2e_end
SRV=$BG_PID
echo "   $N datagrams to $SRV4:5743: one copy by each uplink, the server's kernel keeps the first"
peer_send "$C_NS" "$E2E_TMP/send-peer" --to "$SRV4:5743" --count "$N" --rate "$RATE" --wait-replies 1
bg_stop "$SRV"
echo
nsx "$S_NS" "$UDPC" status "$WAN_S_IF"
bg_stop "$SERVE"

one=$(stat_get "$E2E_TMP/one" unique) three=$(stat_get "$E2E_TMP/three" unique)
peer=$(stat_get "$E2E_TMP/peer" unique)
one_rt=$(stat_get "$E2E_TMP/send-one" replies_unique_seq)
three_rt=$(stat_get "$E2E_TMP/send-three" replies_unique_seq)
peer_rt=$(stat_get "$E2E_TMP/send-peer" replies_unique_seq)
copies() { awk -v a="$(stat_get "$1" received)" -v b="$(stat_get "$1" unique)" \
	'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%5.1f%%", 100 * a / b }'; }
echo
echo "== out of $N datagrams: how many reached the application, how many copies of each it"
echo "   got, and how many of its answers came back:"
printf '   LTE alone:              %5d %s   %s copies   answered %5d %s\n' "$one" \
	"$(pct "$one" "$N")" "$(copies "$E2E_TMP/one")" "$one_rt" "$(pct "$one_rt" "$N")"
printf '   three uplinks:          %5d %s   %s copies   answered %5d %s\n' "$three" \
	"$(pct "$three" "$N")" "$(copies "$E2E_TMP/three")" "$three_rt" "$(pct "$three_rt" "$N")"
printf '   three uplinks, peer:    %5d %s   %s copies   answered %5d %s\n' "$peer" \
	"$(pct "$peer" "$N")" "$(copies "$E2E_TMP/peer")" "$peer_rt" "$(pct "$peer_rt" "$N")"
# one way: 1 - l per link, and three links fail only together; an answer sent once
# takes the link its datagram came by first (mostly Wi-Fi here); in peer mode the
# answer too goes by all three.
echo "   independent losses predict 95.0% one way and 90.3% answered for LTE alone,"
echo "   99.995% one way for three uplinks, and 99.99% answered in peer mode"
# The demo checks itself: fan-out must beat the lossy link it started with, and
# peer mode must hand the application each datagram once.
assert_ge "datagrams delivered with three uplinks" $((N * 99 / 100)) "$three"
assert_eq "copies the application got in peer mode, beyond the first" 0 \
	"$(stat_get "$E2E_TMP/peer" dup)"
assert_ge "answers in peer mode" $((N * 99 / 100)) "$peer_rt"
e2e_end
