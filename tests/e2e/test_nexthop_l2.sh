#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The copies get their L2 header from the routing and neighbour tables, not from
# the original. The client sends to 192.0.2.99, whose neighbour entry is a static
# MAC nobody has: a frame still carrying it is dropped by the server (not for its
# MAC). The destinations are reached via 192.0.2.2, whose neighbour entry does not
# exist when the traffic starts. Each receiver must get (almost) every datagram:
# only the first few may be lost while the next hop resolves.
#
#   A. forwarding off (the daemon's next-hop table), cold start: no neighbour entry
#      when attach starts, traffic right after attach
#   B. forwarding off, the neighbour table flushed under a running daemon: the MAC
#      it knows stays in use while the kernel re-resolves
#   C. forwarding on (bpf_fib_lookup), cold start as in A
#   D. forwarding switched off, then on again, under the running daemon: within a
#      tick its next-hop entries say so (UDPC_NH_V4_NOFWD: egress then goes straight
#      to them instead of asking bpf_fib_lookup(), which would refuse), and the
#      copies keep arriving throughout
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

N=500
RATE=500 # 1 s of traffic per phase
LOSS_OK=5
P=5743
FAKE=192.0.2.99
FAKE_MAC=02:00:00:00:00:99

e2e_begin nexthop_l2
require_udpc
require_peer
require_cmd jq bpftool
topo_star || e2e_end

nsx "$C_NS" ip neigh replace "$FAKE" lladdr "$FAKE_MAC" dev "$C_IF" nud permanent ||
	fail "cannot add the fake neighbour"
echo_receivers "$S_NS" "$R4_1:9000" "$R4_2:9001" "$R4_3:9002" || e2e_end

# echo_unique I: datagrams receiver I has had so far (SIGUSR1 makes it write them)
echo_unique() {
	local f=$E2E_TMP/echo$1
	rm -f -- "$f"
	kill -USR1 "${ECHO[$1]}"
	wait_until 3 test -s "$f" || { echo "?"; return; }
	stat_get "$f" unique
}

# flush_gw PHASE: flush the client's neighbour table (not the permanent fake entry)
# and check, in the same breath (a running daemon asks for it again on its next
# tick), that the gateway's entry is gone.
flush_gw() {
	local left
	# shellcheck disable=SC2016 # expanded by the inner sh
	left=$(nsx "$C_NS" sh -c 'ip neigh flush dev "$1" && ip neigh show "$2" dev "$1"' sh \
		"$C_IF" "$S4")
	assert_eq "$1: neighbour entry for $S4 after the flush" "" "$(echo "$left" | grep lladdr)"
	assert_ok "$1: the fake neighbour stays" neigh_valid "$C_NS" "$C_IF" "$FAKE"
}

# phase NAME: send N to the fake address, check receivers and counters (deltas)
phase() {
	local name=$1 i before after miss0 miss1 f=$E2E_TMP/send-$1
	for i in 0 1 2; do before[i]=$(echo_unique "$i"); done
	for i in 0 1 2; do miss0[i]=$(udpc_json "$C_NS" "$C_IF" ".destinations[$i].neigh_missing"); done
	peer_send "$C_NS" "$f" --to "$FAKE:$P" --count "$N" --rate "$RATE" --wait-replies 2 \
		--expect-repliers 3
	for i in 0 1 2; do
		after=$(echo_unique "$i")
		if _is_int "${before[i]}" && _is_int "$after"; then
			assert_between "$name: r$i got (of $N)" $((N - LOSS_OK)) "$N" $((after - before[i]))
		else
			fail "$name: cannot read r$i's counters (${before[i]}, $after)"
		fi
		miss1=$(udpc_json "$C_NS" "$C_IF" ".destinations[$i].neigh_missing")
		assert_le "$name: dest $i neigh_missing (this phase)" "$LOSS_OK" $((miss1 - miss0[i]))
	done
	assert_ge "$name: client replies_unique_seq" $((N - LOSS_OK)) "$(stat_get "$f" replies_unique_seq)"
}

# -- A: forwarding off, cold
assert_eq "A: client forwarding" 0 "$(nsx "$C_NS" sysctl -n "net.ipv4.conf.$C_IF.forwarding")"
flush_gw A
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$DESTS" || e2e_end
phase A

# -- B: forwarding off, the kernel forgets the next hop under a running daemon
# the daemon's table has every next hop (whatever A showed) before it is flushed
wait_until 10 udpc_nexthops_known "$C_IF" 3 || fail "B: the daemon's next hops are not all known"
flush_gw B
phase B
wait_until 3 neigh_valid "$C_NS" "$C_IF" "$S4" || fail "B: $S4 was not re-resolved"

# -- C: forwarding on, cold
bg_stop "$UDPC_PID" || fail "daemon exited non-zero"
nsx "$C_NS" sysctl -qw "net.ipv4.conf.$C_IF.forwarding=1"
assert_eq "C: client forwarding" 1 "$(nsx "$C_NS" sysctl -n "net.ipv4.conf.$C_IF.forwarding")"
flush_gw C
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$DESTS" || e2e_end
phase C

# -- D: forwarding toggled under the running daemon (C's)
NOFWD4=16 # UDPC_NH_V4_NOFWD
# nofwd SLOT: 1 if slot's next-hop entry has the IPv4 forwarding-off flag, else 0
nofwd() {
	local flags
	# the value's bytes; flags is its first (little-endian) word, bit 4 in byte 0
	flags=$(bpftool -j map lookup pinned "$UDPC_PIN_ROOT/$C_IF/udpc_nexthops" \
		key "$1" 0 0 0 2>/dev/null | jq -r '.value[0] // empty')
	[[ $flags =~ ^0x[0-9a-f]+$ ]] || { echo "?"; return; }
	echo $(((flags & NOFWD4) != 0))
}
all_nofwd() { [ "$(nofwd 0)$(nofwd 1)$(nofwd 2)" = "$1$1$1" ]; }
assert_eq "D: forwarding on: no slot flagged" 000 "$(nofwd 0)$(nofwd 1)$(nofwd 2)"
nsx "$C_NS" sysctl -qw "net.ipv4.conf.$C_IF.forwarding=0"
assert_ok "D: forwarding off: every slot flagged within a tick" wait_until 3 all_nofwd 1
phase D-off
nsx "$C_NS" sysctl -qw "net.ipv4.conf.$C_IF.forwarding=1"
assert_ok "D: forwarding on again: the flags go within a tick" wait_until 3 all_nofwd 0
phase D-on

for i in 0 1 2; do bg_stop "${ECHO[i]}"; done
for i in 0 1 2; do
	assert_eq "r$i dup" 0 "$(stat_get "$E2E_TMP/echo$i" dup)"
	assert_eq "r$i corrupt" 0 "$(stat_get "$E2E_TMP/echo$i" corrupt)"
done

e2e_end
