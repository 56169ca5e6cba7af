#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The attached interface goes away under the daemon.
#   1. Down, then up again (a cable pulled, a Wi-Fi roam): the daemon keeps
#      running, our two filters survive, and once the link is up and its routes
#      are back (IPv4 routes over a link that goes down are flushed, as an admin or
#      networkd would restore them) traffic fans out to every destination again.
#   2. Deleted: the daemon exits 1 saying "interface ... is gone", and removes its
#      pins (the filters went with the interface).
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
N=200

e2e_begin iface_updown
require_udpc
require_peer
require_cmd jq bpftool
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end
echo_receivers "$S_NS" "$R4_1:9000" "$R4_2:9001" "$R4_3:9002" || e2e_end
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$DESTS" || e2e_end
DAEMON=$UDPC_PID

send() { # send NAME: N datagrams, every one answered by all three
	peer_send "$C_NS" "$E2E_TMP/$1" --to "$R4_1:$P" --count $N --rate 1000 --wait-replies 3 \
		--expect-repliers 3
	assert_eq "$1: replies" $((3 * N)) "$(stat_get "$E2E_TMP/$1" replies_total)"
}
send before

# -- 1. down and up
ip -n "$C_NS" link set "$C_IF" down
# the daemon notices (its routes are gone) and must not take down for gone
# shellcheck disable=SC2016 # expanded by eval, on each try
wait_until 10 eval '! udpc_nexthops_known "$C_IF" 3' ||
	fail "the daemon's next-hop table did not follow the link down"
assert_ok "daemon alive while the link is down" pid_alive "$DAEMON"
assert_eq "our filters while down" 2 "$(udpc_filter_count "$C_NS" "$C_IF")"
ip -n "$C_NS" link set "$C_IF" up
wait_until 5 link_up "$C_NS" "$C_IF" || fail "link did not come back up"
ip -n "$C_NS" route replace "$R4_NET" via "$S4" 2>/dev/null ||
	fail "cannot restore the route to $R4_NET"
neigh_warm "$C_NS" "$C_IF" "$S4"
wait_until 10 udpc_nexthops_known "$C_IF" 3 ||
	fail "the daemon's next-hop table did not follow the link up"
assert_ok "daemon alive after down/up" pid_alive "$DAEMON"
assert_eq "our filters after down/up" 2 "$(udpc_filter_count "$C_NS" "$C_IF")"
assert_eq "status: filters" '{"ingress":true,"egress":true}' \
	"$(udpc_json "$C_NS" "$C_IF" '.filters | tojson')"
send after
assert_file_not_contains "$E2E_TMP/udpc-$C_IF.log" "is gone" "no 'gone' message for a down/up"

# -- 2. deleted
ip -n "$C_NS" link del "$C_IF"
wait_until 5 eval "! pid_alive $DAEMON" || fail "daemon still runs 5 s after its interface went"
rc=0
bg_stop "$DAEMON" || rc=$?
assert_eq "daemon exit status when the interface is deleted" 1 "$rc"
assert_file_contains "$E2E_TMP/udpc-$C_IF.log" "interface '$C_IF' is gone: its filters went with it" \
	"the daemon says the interface is gone"
assert_fail "pins removed after the interface went" udpc_pinned "$C_IF"
for i in 0 1 2; do bg_stop "${ECHO[i]}"; done
for i in 0 1 2; do assert_echo_exact "$i" $((2 * N)); done
e2e_end
