# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# shellcheck shell=bash
#
# The topologies of the e2e tests, layer 2 of tests/e2e/lib.sh: namespaces, veth
# and tun links, addresses and routes, and the shapes later tests reuse (topo_star,
# link_plain, link_tun, topo_uplinks, link_loss). Needs lib/harness.sh (run id,
# names, nsx, fail, wait_until, cleanup) sourced first; needs root.

declare -F e2e_begin >/dev/null || { echo "topo.sh: source lib/harness.sh first" >&2; return 1; }

# ---- namespaces and links ----

# ns_new SHORT [VAR]: creates namespace uc-$RUNID-SHORT with lo up and IPv6 DAD
# off; stores its name in VAR if given.
ns_new() {
	local short=${1:?ns_new SHORT [VAR]} ns
	[ -n "$RUNID" ] || { echo "ns_new: call e2e_begin first" >&2; return 1; }
	[ "$E2E_NOROOT" = 0 ] || { fail "ns_new: the test started with e2e_begin --no-root"; return 1; }
	ns="uc-$RUNID-$short"
	ip netns add "$ns" || { fail "cannot create namespace $ns"; return 1; }
	ip -n "$ns" link set lo up
	nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		>/dev/null 2>&1 || true
	[ -n "${2:-}" ] && printf -v "$2" '%s' "$ns"
	return 0
}

# _link_ends WHO IF_A IF_B: both ends of a new link carry this run's id (see
# _ifname_ok) and are remembered for cleanup; WHO names the caller in the failure.
_link_ends() {
	if ! _ifname_ok "$2" || ! _ifname_ok "$3"; then
		fail "$1: bad interface names"
		return 1
	fi
	iface_remember "$2"
	iface_remember "$3"
}

# link_veth NS_A IF_A NS_B IF_B: a veth pair between two namespaces, both ends up.
link_veth() {
	local na nb
	na=$(_ns "$1") nb=$(_ns "$3")
	_link_ends link_veth "$2" "$4" || return 1
	ip link add "$2" netns "$na" type veth peer name "$4" netns "$nb" ||
		{ fail "cannot create veth $2/$4"; return 1; }
	ip -n "$na" link set "$2" up && ip -n "$nb" link set "$4" up
}

# addr_add NS IF CIDR: adds an address (IPv6 with nodad: usable at once).
addr_add() {
	local ns
	ns=$(_ns "$1")
	case $3 in
	*:*) ip -n "$ns" addr add "$3" dev "$2" nodad ;;
	*) ip -n "$ns" addr add "$3" dev "$2" ;;
	esac || { fail "cannot add $3 to $2 in $ns"; return 1; }
}

# route_add NS ROUTE...: ip route add ROUTE... in NS (IPv6 detected by a ':').
route_add() {
	local ns
	ns=$(_ns "$1")
	shift
	case "$*" in
	*:*) ip -n "$ns" -6 route add "$@" ;;
	*) ip -n "$ns" route add "$@" ;;
	esac || { fail "cannot add route $* in $ns"; return 1; }
}

# link_up NS IF: true once IF's operstate is up (for wait_until).
link_up() {
	# tun devices say "state UNKNOWN" even with carrier: LOWER_UP is the carrier
	ip -n "$(_ns "$1")" -o link show "$2" 2>/dev/null | grep -qE 'state UP|[<,]LOWER_UP[,>]'
}

# topo_star: the standard topology of the core tests.
#
#   client ns $C_NS                          server ns $S_NS
#   $C_IF  192.0.2.1/24      <-- veth -->    $S_IF  192.0.2.2/24
#          2001:db8:1::1/64                         2001:db8:1::2/64
#   198.51.100.0/24 via 192.0.2.2                   + receivers $R4_1..3 = 198.51.100.1..3
#   2001:db8:2::/64 via 2001:db8:1::2               + receivers $R6_1..3 = 2001:db8:2::1..3
topo_star() {
	C_NS=$(ns_name client) S_NS=$(ns_name server)
	C_IF=$(ifname c) S_IF=$(ifname s)
	C4=192.0.2.1 S4=192.0.2.2
	R4_1=198.51.100.1 R4_2=198.51.100.2 R4_3=198.51.100.3
	C6=2001:db8:1::1 S6=2001:db8:1::2
	R6_1=2001:db8:2::1 R6_2=2001:db8:2::2 R6_3=2001:db8:2::3
	R4_NET=198.51.100.0/24 R6_NET=2001:db8:2::/64
	export C_NS S_NS C_IF S_IF C4 S4 C6 S6 R4_1 R4_2 R4_3 R6_1 R6_2 R6_3 R4_NET R6_NET
	ns_new client && ns_new server || return 1
	link_veth "$C_NS" "$C_IF" "$S_NS" "$S_IF" || return 1
	addr_add "$C_NS" "$C_IF" "$C4/24" && addr_add "$S_NS" "$S_IF" "$S4/24" &&
		addr_add "$C_NS" "$C_IF" "$C6/64" && addr_add "$S_NS" "$S_IF" "$S6/64" || return 1
	local a
	for a in "$R4_1" "$R4_2" "$R4_3"; do addr_add "$S_NS" "$S_IF" "$a/32" || return 1; done
	for a in "$R6_1" "$R6_2" "$R6_3"; do addr_add "$S_NS" "$S_IF" "$a/128" || return 1; done
	route_add "$C_NS" "$R4_NET" via "$S4" && route_add "$C_NS" "$R6_NET" via "$S6" || return 1
	if ! wait_until 5 link_up "$C_NS" "$C_IF" || ! wait_until 5 link_up "$S_NS" "$S_IF"; then
		fail "topo_star: veth did not come up"
		return 1
	fi
}

# link_plain [N=16]: after topo_star, a second veth pair between $C_NS and $S_NS,
# shaped like the first (routed via a gateway, one neighbour) but carrying no
# programs: for baselines that must not cross the interface udpclone-bpf is on.
#
#   client ns $C_NS                          server ns $S_NS
#   $CP_IF 203.0.113.1/25    <-- veth -->    $SP_IF 203.0.113.2/25
#   203.0.113.128/25 via 203.0.113.2                + receivers 203.0.113.129..128+N/32
#
# Sets CP_IF, SP_IF, CP4, SP4, P4_NET and P4_1 (203.0.113.129, the first receiver).
link_plain() {
	local n=${1:-16} i
	if [[ ! $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 126 ]; then
		fail "link_plain: N must be 1..126, not '$n'"
		return 1
	fi
	CP_IF=$(ifname cp) SP_IF=$(ifname sp)
	CP4=203.0.113.1 SP4=203.0.113.2 P4_NET=203.0.113.128/25 P4_1=203.0.113.129
	export CP_IF SP_IF CP4 SP4 P4_NET P4_1
	link_veth "$C_NS" "$CP_IF" "$S_NS" "$SP_IF" || return 1
	addr_add "$C_NS" "$CP_IF" "$CP4/25" && addr_add "$S_NS" "$SP_IF" "$SP4/25" || return 1
	for ((i = 1; i <= n; i++)); do addr_add "$S_NS" "$SP_IF" "203.0.113.$((128 + i))/32" || return 1; done
	route_add "$C_NS" "$P4_NET" via "$SP4" || return 1
	if ! wait_until 5 link_up "$C_NS" "$CP_IF" || ! wait_until 5 link_up "$S_NS" "$SP_IF"; then
		fail "link_plain: veth did not come up"
		return 1
	fi
}

# link_tun NS_A IF_A NS_B IF_B: a raw-IP point-to-point link (no link-layer header,
# like wwan or ppp): a tun device in each namespace, carried by udpc-tunpair.
link_tun() {
	local na nb ready
	na=$(_ns "$1") nb=$(_ns "$3")
	_link_ends link_tun "$2" "$4" || return 1
	ready=$E2E_TMP/tun-$2.ready
	"$TUNPAIR" "$na" "$2" "$nb" "$4" --ready "$ready" 2>>"$E2E_TMP/tun-$2.log" &
	bg_remember $!
	if ! wait_until 5 test -e "$ready"; then
		fail "link_tun $2/$4 did not start: $(head -c 300 "$E2E_TMP/tun-$2.log")"
		return 1
	fi
	ip -n "$na" link set "$2" up && ip -n "$nb" link set "$4" up
}

# topo_uplinks: a client with three uplinks to one server, as a laptop with Wi-Fi,
# a USB modem and a second SIM: A and B are veth (Ethernet-like), C is raw IP.
#   A: client $CA_IF $CA4/24 (the attached interface)   server $SA_IF $SA4/24
#   B: client $CB_IF $CB4/24                            server $SB_IF $SB4/24
#   C: client $CC_IF $CC4 peer $SC4 (tun)               server $SC_IF $SC4 peer $CC4
# A server listening on 0.0.0.0 is reachable by each link at that link's address.
topo_uplinks() {
	C_NS=$(ns_name client) S_NS=$(ns_name server)
	CA_IF=$(ifname ca) CB_IF=$(ifname cb) CC_IF=$(ifname cc)
	SA_IF=$(ifname sa) SB_IF=$(ifname sb) SC_IF=$(ifname sc)
	CA4=192.0.2.1 SA4=192.0.2.2 CB4=198.51.100.1 SB4=198.51.100.2 CC4=203.0.113.1 SC4=203.0.113.2
	export C_NS S_NS CA_IF CB_IF CC_IF SA_IF SB_IF SC_IF CA4 SA4 CB4 SB4 CC4 SC4
	ns_new client && ns_new server || return 1
	link_veth "$C_NS" "$CA_IF" "$S_NS" "$SA_IF" && link_veth "$C_NS" "$CB_IF" "$S_NS" "$SB_IF" &&
		link_tun "$C_NS" "$CC_IF" "$S_NS" "$SC_IF" || return 1
	addr_add "$C_NS" "$CA_IF" "$CA4/24" && addr_add "$S_NS" "$SA_IF" "$SA4/24" &&
		addr_add "$C_NS" "$CB_IF" "$CB4/24" && addr_add "$S_NS" "$SB_IF" "$SB4/24" || return 1
	nsx "$C_NS" ip addr add "$CC4" peer "$SC4" dev "$CC_IF" &&
		nsx "$S_NS" ip addr add "$SC4" peer "$CC4" dev "$SC_IF" || return 1
	if ! wait_until 5 link_up "$C_NS" "$CA_IF" || ! wait_until 5 link_up "$C_NS" "$CB_IF" ||
		! wait_until 5 link_up "$C_NS" "$CC_IF"; then
		fail "topo_uplinks: links did not come up"
		return 1
	fi
}

# link_loss NS PCT IFACE...: drop PCT% of the UDP packets entering and leaving NS by
# each IFACE, independently at random (nftables numgen), as a bad radio link would.
# link_loss NS 0 removes it.
link_loss() {
	local ns=$1 pct=$2 ifs
	shift 2
	nsx "$ns" nft delete table inet udpc_loss 2>/dev/null
	[ "$pct" = 0 ] && return 0
	ifs=$(printf '"%s", ' "$@")
	nsx "$ns" nft -f - <<NFT || { fail "link_loss: nft failed"; return 1; }
table inet udpc_loss {
	chain in {
		type filter hook input priority 0;
		iifname { ${ifs%, } } meta l4proto udp numgen random mod 100 < $pct counter drop
	}
	chain out {
		type filter hook output priority 0;
		oifname { ${ifs%, } } meta l4proto udp numgen random mod 100 < $pct counter drop
	}
}
NFT
}
