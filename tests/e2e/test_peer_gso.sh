#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Peer mode and UDP GSO (docs/PEER.md, "GSO"): an application that hands the kernel
# 8 datagrams at a time in one UDP_SEGMENT message, as QUIC stacks do. Such a
# super-packet cannot take a peer header as it is; attach --peer sends it through
# its veth pair (ucg<ifindex>a/b), where the stack cuts it into datagrams, and each
# then takes its header and reaches the server's application once.
#   1. every datagram answered, none twice, the super-packets counted (tx_gso);
#   2. the pair is there while attached, kept by a new attach after kill -9, and
#      gone after SIGTERM and after detach.
# shellcheck disable=SC2317 # functions run through wait_until
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

N=${PEER_GSO_COUNT:-4000}
P=5743 SP=7000 APP=9000

e2e_begin peer_gso
require_udpc
require_peer
require_cmd jq
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end
IDX=$(nsx "$C_NS" ip -j link show "$C_IF" | jq -r '.[0].ifindex')
NEAR=$(printf 'ucg%xa' "$IDX") FAR=$(printf 'ucg%xb' "$IDX")
pair_here() { nsx "$C_NS" ip link show "$NEAR" >/dev/null 2>&1; }
pair_gone() { ! pair_here; }

udpc_serve_bg "$S_NS" "$S_IF" --listen "$SP" --to "$APP" || e2e_end
SERVE=$UDPC_PID
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$S4:$SP" --peer || e2e_end
ATTACH=$UDPC_PID
assert_ok "the veth pair $NEAR/$FAR is there" pair_here
assert_eq "its near end passes no GSO" 1 \
	"$(nsx "$C_NS" ip -d -j link show "$NEAR" | jq -r '.[0].gso_max_segs')"

peer_echo_bg "$S_NS" "0.0.0.0:$APP" srv "$E2E_TMP/echo" || e2e_end
SRV=$BG_PID
peer_send "$C_NS" "$E2E_TMP/send" --to "$S4:$P" --count "$N" --rate 4000 --size 200 --gso 8 \
	--wait-replies 1
bg_stop "$SRV"
udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/client.json"
rt=$(stat_get "$E2E_TMP/send" replies_unique_seq)
gso=$(udpc_json "" "" '.peer.counters.tx_gso' "$E2E_TMP/client.json")
echo "  $N datagrams in UDP_SEGMENT messages of 8: $rt answered; $gso super-packets cut by the pair"
assert_eq "every datagram answered" "$N" "$rt"
assert_eq "none twice at the application" 0 "$(stat_get "$E2E_TMP/echo" dup)"
assert_eq "none corrupt" 0 "$(stat_get "$E2E_TMP/echo" corrupt)"
assert_ge "super-packets went by the pair" $((N / 8 / 2)) "${gso:-0}"
assert_eq "none dropped for want of the pair" 0 \
	"$(udpc_json "" "" '.peer.counters.tx_errors' "$E2E_TMP/client.json")"

# -- the pair's life: kept across kill -9 and a new attach, gone with SIGTERM/detach
kill -9 "$ATTACH"
assert_ok "kept after kill -9" pair_here
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$S4:$SP" --peer || e2e_end
ATTACH=$UDPC_PID
assert_ok "still one pair after the new attach" pair_here
bg_stop "$ATTACH"
wait_until 5 pair_gone || fail "the pair outlived SIGTERM"
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$S4:$SP" --peer || e2e_end
kill -9 "$UDPC_PID"
udpc "$C_NS" detach "$C_IF" >/dev/null 2>&1
assert_ok "detach removes a killed attach's pair" pair_gone
bg_stop "$SERVE"
e2e_end
