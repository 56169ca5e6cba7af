#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Quick start, first command: udpclone-bpf on a small network built in network
# namespaces (removed at the end). A client sends datagrams to three destinations
# that each lose 30% of what reaches them (nftables), first without fan-out, then
# through udpclone-bpf: the client gets a reply for almost every datagram.
#
#   client 192.0.2.1 ---veth--- server 192.0.2.2
#                               198.51.100.1:9000, .2:9001, .3:9002 (echo, 30% loss each)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces, BPF): sudo $0" >&2
	exit 1
fi
if [ ! -x "${OUT:-build}/udpclone-bpf" ] || [ ! -x "${OUT:-build}/tests/udpc-peer" ]; then
	scripts/install-deps.sh && make --no-print-directory all tools || exit 1
fi
# shellcheck source=../tests/e2e/lib.sh
. tests/e2e/lib.sh

N=${DEMO_COUNT:-2000}
LOSS=${DEMO_LOSS:-30}

e2e_begin demo
topo_star || exit 1
require_cmd nft

echo "== network: client $C4 on $C_IF, destinations $R4_1:9000 $R4_2:9001 $R4_3:9002 ($LOSS% loss each)"
nsx "$S_NS" nft -f - <<NFT || exit 1
table inet demo {
	chain input {
		type filter hook input priority 0;
		udp dport 9000-9002 numgen random mod 100 < $LOSS counter drop
	}
}
NFT
i=0
for r in "$R4_1:9000" "$R4_2:9001" "$R4_3:9002"; do
	i=$((i + 1))
	peer_echo_bg "$S_NS" "$r" "server$i" "$E2E_TMP/echo$i.out" || exit 1
done

echo "== 1. without udpclone-bpf: $N datagrams to $R4_1:9000"
peer_send "$C_NS" "$E2E_TMP/direct.out" --to "$R4_1:9000" --count "$N" --rate 2000 --wait-replies 1
direct=$(stat_get "$E2E_TMP/direct.out" replies_unique_seq)

echo "== 2. udpclone-bpf attach $C_IF --listen 5743 --destinations $R4_1:9000,$R4_2:9001,$R4_3:9002"
udpc_attach_bg "$C_NS" "$C_IF" --listen 5743 --destinations "$R4_1:9000,$R4_2:9001,$R4_3:9002" || exit 1
echo "   $N datagrams to $R4_1:5743 (any address routed via $C_IF would do)"
peer_send "$C_NS" "$E2E_TMP/fanout.out" --to "$R4_1:5743" --count "$N" --rate 2000 --wait-replies 1
fanout=$(stat_get "$E2E_TMP/fanout.out" replies_unique_seq)

echo
nsx "$C_NS" "$UDPC" status "$C_IF"
echo
printf '== datagrams answered at least once, out of %d:\n' "$N"
printf '   one destination:              %5d (%d%%)\n' "$direct" $((direct * 100 / N))
printf '   three through udpclone-bpf:   %5d (%d%%)   independent losses predict %s%%\n' "$fanout" \
	$((fanout * 100 / N)) "$(awk -v l="$LOSS" 'BEGIN { printf "%.1f", 100 * (1 - (l / 100) ^ 3) }')"
# The demo checks itself: fan-out must beat one lossy path by far.
assert_ge "datagrams answered with fan-out" $((N * 95 / 100)) "$fanout"
e2e_end
