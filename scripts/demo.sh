#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Quick start, first command: udpclone-bpf on a small network built in network
# namespaces (removed at the end): a client with three bad uplinks to a server,
# as a laptop with Wi-Fi, a USB modem and a second SIM.
#
#   client ca (Wi-Fi, Ethernet-like) 192.0.2.1    ---- 192.0.2.2    server
#          cb (modem, Ethernet-like) 198.51.100.1 ---- 198.51.100.2
#          cc (SIM, raw IP like wwan) 203.0.113.1 ---- 203.0.113.2
#
# Each link loses 30% of the UDP packets each way, independently (nftables). The
# client sends datagrams to the server, first over one link, then through
# udpclone-bpf with one copy per uplink, while `status` shows the counters live.
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
LOSS=${DEMO_LOSS:-30}

e2e_begin demo
require_cmd nft
topo_uplinks || e2e_end
link_loss "$S_NS" "$LOSS" "$SA_IF" "$SB_IF" "$SC_IF" || e2e_end

echo "== three uplinks, each losing $LOSS% of UDP packets each way"
echo "   ca $CA4 -> $SA4   cb $CB4 -> $SB4   cc $CC4 -> $SC4 (raw IP)"
peer_echo_bg "$S_NS" "0.0.0.0:9000" server "$E2E_TMP/one" || e2e_end
echo "== 1. without udpclone-bpf: $N datagrams to $SA4:9000 over ca alone"
peer_send "$C_NS" "$E2E_TMP/send-one" --to "$SA4:9000" --count "$N" --rate "$RATE" --wait-replies 1
bg_stop "$BG_PID"

DESTS="$SA4:9000,$SB4:9000@$CB_IF,$SC4:9000@$CC_IF"
echo "== 2. udpclone-bpf attach $CA_IF --listen 5743 --destinations $DESTS"
udpc_attach_bg "$C_NS" "$CA_IF" --listen 5743 --destinations "$DESTS" || e2e_end
peer_echo_bg "$S_NS" "0.0.0.0:9000" server "$E2E_TMP/three" || e2e_end
SRV=$BG_PID
echo "   $N datagrams to $SA4:5743: one copy leaves by each uplink"
peer_send "$C_NS" "$E2E_TMP/send-three" --to "$SA4:5743" --count "$N" --rate "$RATE" \
	--wait-replies 1 &
SENDER=$!
for _ in 1 2; do
	sleep 1
	echo
	nsx "$C_NS" "$UDPC" status "$CA_IF" | sed -n '/DESTINATION/,$p'
done
wait "$SENDER"
bg_stop "$SRV"
echo
nsx "$C_NS" "$UDPC" status "$CA_IF"

one=$(stat_get "$E2E_TMP/one" unique) three=$(stat_get "$E2E_TMP/three" unique)
one_rt=$(stat_get "$E2E_TMP/send-one" replies_unique_seq)
three_rt=$(stat_get "$E2E_TMP/send-three" replies_unique_seq)
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%5.1f%%", 100 * a / b }'; }
echo
echo "== datagrams that reached the server (and whose answer came back), out of $N:"
printf '   one link:              %5d %s   (round trip %5d %s)\n' "$one" "$(pct "$one" "$N")" \
	"$one_rt" "$(pct "$one_rt" "$N")"
printf '   three uplinks:         %5d %s   (round trip %5d %s)\n' "$three" "$(pct "$three" "$N")" \
	"$three_rt" "$(pct "$three_rt" "$N")"
printf '   independent losses predict %s and %s (round trip %s and %s)\n' \
	"$(awk -v l="$LOSS" 'BEGIN { printf "%.1f%%", 100 * (1 - l / 100) }')" \
	"$(awk -v l="$LOSS" 'BEGIN { printf "%.1f%%", 100 * (1 - (l / 100) ^ 3) }')" \
	"$(awk -v l="$LOSS" 'BEGIN { printf "%.1f%%", 100 * (1 - l / 100) ^ 2 }')" \
	"$(awk -v l="$LOSS" 'BEGIN { printf "%.1f%%", 100 * (1 - (1 - (1 - l / 100) ^ 2) ^ 3) }')"
# The demo checks itself: fan-out must beat one lossy link by far.
assert_ge "datagrams delivered with three uplinks" $((N * 95 / 100)) "$three"
e2e_end
