# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# shellcheck shell=bash
#
# The topologies of the e2e tests, layer 2 of tests/e2e/lib.sh: namespaces, veth
# and tun links, addresses and routes, and the shapes later tests reuse (topo_star,
# link_plain, link_wan, link_tun, topo_uplinks, link_loss, topo_wan and its wan_*
# helpers). Needs lib/harness.sh (run id, names, nsx, fail, wait_until, cleanup)
# sourced first; needs root.

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

# link_wan NS_A IF_A NS_B IF_B [UDPC_WAN_ARGS...]: an emulated WAN link carried by
# udpc-wan (tests/tools/udpc-wan.c): a tun device (raw IP, no link-layer header, like
# wwan or ppp) in each namespace, or TAP devices (Ethernet-like) with --tap; the
# other arguments are udpc-wan's (profiles: SPEC, --a2b SPEC, --b2a SPEC, --seed N;
# a2b is what IF_A sends). Its counters go to $E2E_TMP/wan-IF_A.stats (SIGUSR1 or
# wan_dump), SIGHUP re-reads $E2E_TMP/wan-IF_A.ctl (wan_set). Sets WAN_PID.
link_wan() {
	local na nb ia=$2 ib=$4 ready
	na=$(_ns "$1") nb=$(_ns "$3")
	shift 4
	_link_ends link_wan "$ia" "$ib" || return 1
	ready=$E2E_TMP/wan-$ia.ready
	rm -f -- "$ready"
	: >"$E2E_TMP/wan-$ia.ctl"
	# at nice -10: a link stands for hardware, which a busy test machine does not slow
	nice -n -10 "$WAN" "$na" "$ia" "$nb" "$ib" --ready "$ready" --stats "$E2E_TMP/wan-$ia.stats" \
		--control "$E2E_TMP/wan-$ia.ctl" "$@" 2>>"$E2E_TMP/wan-$ia.log" &
	WAN_PID=$!
	bg_remember "$WAN_PID"
	if ! wait_until 5 test -e "$ready"; then
		fail "link_wan $ia/$ib did not start: $(head -c 300 "$E2E_TMP/wan-$ia.log")"
		return 1
	fi
	ip -n "$na" link set "$ia" up && ip -n "$nb" link set "$ib" up
}

# link_tun NS_A IF_A NS_B IF_B: a raw-IP point-to-point link (no link-layer header,
# like wwan or ppp) without impairment: link_wan with no profile.
link_tun() {
	link_wan "$@"
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

# ---- the WAN lab (docs/WANLAB.md) ----

# The named link profiles of topo_wan, as udpc-wan SPECs; delays are one way (a
# ping's round trip is twice as long). lte's loss comes in bursts: Gilbert-Elliott
# with 1.75% good->bad and 33.3% bad->good, so 5% lost, 3 packets a burst on average.
declare -gA WAN_PROFILES=(
	[clean]='none'
	[wifi]='delay=10ms,loss=1%'
	[lte]='delay=40ms,jitter=15ms,ge=1.75:33.3'
	[sim2]='delay=90ms,loss=10%'
	[bad]='delay=60ms,jitter=30ms,loss=30%'
)

# wan_spec PROFILE[:OVERRIDES]: prints the udpc-wan SPEC of a named profile with
# OVERRIDES (udpc-wan items, comma-separated) after it; an item prefixed "up."
# applies to the client's direction only (a2b), "down." to the other (b2a):
#   wan_spec lte:jitter=0,down.loss=2%
wan_spec() {
	local name=${1%%:*} over='' spec
	[[ $1 == *:* ]] && over=${1#*:}
	spec=${WAN_PROFILES[$name]:-}
	[ -n "$spec" ] || { fail "wan_spec: no profile '$name' (${!WAN_PROFILES[*]})"; return 1; }
	over=$(sed -E 's/(^|,)up\./\1a2b./g; s/(^|,)down\./\1b2a./g' <<<"$over")
	echo "$spec${over:+,$over}"
}

# topo_wan PROFILE[:OVERRIDES]...: a client with one uplink per argument to a router
# that plays the internet, each uplink an emulated WAN link (udpc-wan) with its own
# profile (see WAN_PROFILES, wan_spec), or, for the PROFILE "veth", a plain veth pair
# (no emulator, nothing to set or dump: the benchmark's clean links, whose cost is
# the kernel's alone), and a server behind the router:
#
#   client $WAN_C_NS              router $WAN_R_NS                 server $WAN_S_NS
#   $WAN_IF_k  $WAN_C4_k/28  ==== $WAN_RIF_k $WAN_R4_k/28
#              $WAN_C6_k/64  link $WAN_RIF_k $WAN_R6_k/64
#                            k   $WAN_RS_IF 203.0.113.1/24 --veth-- $WAN_S_IF $WAN_S4/24
#                                          2001:db8:ff::1/64         $WAN_S6/64
#
# Uplink k (1..8): 192.0.2.(16k+1)/28 and 2001:db8:k::1/64 at the client, .(16k+2)
# and ::2 at the router. Uplinks are TAP (Ethernet-like) except uplink $WAN_RAW
# (default: the last one when there are 2 or more and it is not veth), raw IP
# (tun), which the router source-NATs like a carrier (nftables snat to $WAN_NAT4 /
# $WAN_NAT6) when
# WAN_NAT=$WAN_RAW (the default; set WAN_NAT=0 before the call for no NAT). Set
# WAN_RAW=0 before the call for TAP only, WAN_SEED for other seeds (default 1;
# uplink k uses WAN_SEED + k). The client's default route is uplink 1; policy routing
# sends whatever leaves from uplink k's address by uplink k, and the router returns
# replies by the uplink they came by, so the server answers every uplink (an
# udpclone-bpf destination SERVER:PORT@$WAN_IF_k works for each k).
# Exports WAN_N, WAN_C_NS, WAN_R_NS, WAN_S_NS (also as C_NS, R_NS, S_NS), WAN_S4,
# WAN_S6, WAN_S_IF, WAN_RS_IF, WAN_RAW, WAN_NAT, WAN_NAT4, WAN_NAT6 and for each k:
# WAN_IF_k, WAN_RIF_k, WAN_C4_k, WAN_R4_k, WAN_C6_k, WAN_R6_k, WAN_KIND_k (tap|tun|veth),
# WAN_SPEC_k, WAN_STATS_k (the link's counters: wan_dump, wan_get), WAN_PID_k.
topo_wan() {
	local n=$# k spec kind ns_c ns_r ns_s
	if [ "$n" -lt 1 ] || [ "$n" -gt 8 ]; then
		fail "topo_wan: 1 to 8 uplinks, not $n"
		return 1
	fi
	WAN_N=$n
	WAN_RAW=${WAN_RAW-$([ "$n" -ge 2 ] && [ "${!n}" != veth ] && echo "$n" || echo 0)}
	WAN_NAT=${WAN_NAT-$WAN_RAW}
	WAN_NAT4=198.51.100.1 WAN_NAT6=2001:db8:100::1
	WAN_S4=203.0.113.2 WAN_S6=2001:db8:ff::2
	WAN_S_IF=$(ifname ws) WAN_RS_IF=$(ifname wrs)
	ns_new client WAN_C_NS && ns_new router WAN_R_NS && ns_new server WAN_S_NS || return 1
	C_NS=$WAN_C_NS R_NS=$WAN_R_NS S_NS=$WAN_S_NS
	ns_c=$C_NS ns_r=$R_NS ns_s=$S_NS
	export WAN_N WAN_RAW WAN_NAT WAN_NAT4 WAN_NAT6 WAN_S4 WAN_S6 WAN_S_IF WAN_RS_IF \
		WAN_C_NS WAN_R_NS WAN_S_NS C_NS R_NS S_NS
	nsx "$ns_r" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null ||
		{ fail "topo_wan: cannot enable forwarding"; return 1; }
	# the server's side: one veth behind the router
	link_veth "$ns_r" "$WAN_RS_IF" "$ns_s" "$WAN_S_IF" &&
		addr_add "$ns_r" "$WAN_RS_IF" 203.0.113.1/24 && addr_add "$ns_r" "$WAN_RS_IF" 2001:db8:ff::1/64 &&
		addr_add "$ns_s" "$WAN_S_IF" "$WAN_S4/24" && addr_add "$ns_s" "$WAN_S_IF" "$WAN_S6/64" &&
		route_add "$ns_s" default via 203.0.113.1 && route_add "$ns_s" default via 2001:db8:ff::1 ||
		return 1
	k=0
	for spec in "$@"; do
		k=$((k + 1))
		if [ "$spec" = veth ]; then
			kind=veth
		else
			spec=$(wan_spec "$spec") || return 1
			kind=tap
			[ "$k" = "$WAN_RAW" ] && kind=tun
		fi
		_wan_uplink "$k" "$kind" "$spec" || return 1
	done
	[ "$WAN_NAT" = 0 ] || _wan_nat "$WAN_NAT" || return 1
	for ((k = 1; k <= n; k++)); do
		local ifc=WAN_IF_$k rif=WAN_RIF_$k
		if ! wait_until 5 link_up "$ns_c" "${!ifc}" || ! wait_until 5 link_up "$ns_r" "${!rif}"; then
			fail "topo_wan: uplink $k did not come up"
			return 1
		fi
	done
}

# _wan_uplink K KIND SPEC: uplink K of topo_wan, its addresses and routes.
_wan_uplink() {
	local k=$1 kind=$2 spec=$3 c4 r4 c6 r6 ifc rif opts=()
	ifc=$(ifname "wc$k") rif=$(ifname "wr$k")
	c4=192.0.2.$((16 * k + 1)) r4=192.0.2.$((16 * k + 2))
	c6=2001:db8:$k::1 r6=2001:db8:$k::2
	if [ "$kind" = veth ]; then
		link_veth "$C_NS" "$ifc" "$R_NS" "$rif" || return 1
		WAN_PID=
	else
		[ "$kind" = tap ] && opts=(--tap)
		link_wan "$C_NS" "$ifc" "$R_NS" "$rif" "${opts[@]}" --seed $((${WAN_SEED:-1} + k)) "$spec" ||
			return 1
	fi
	local v
	for v in IF:$ifc RIF:$rif C4:$c4 R4:$r4 C6:$c6 R6:$r6 KIND:$kind SPEC:$spec \
		STATS:$E2E_TMP/wan-$ifc.stats PID:$WAN_PID; do
		printf -v "WAN_${v%%:*}_$k" '%s' "${v#*:}"
		export "WAN_${v%%:*}_$k"
	done
	addr_add "$C_NS" "$ifc" "$c4/28" && addr_add "$R_NS" "$rif" "$r4/28" &&
		addr_add "$C_NS" "$ifc" "$c6/64" && addr_add "$R_NS" "$rif" "$r6/64" || return 1
	# whatever leaves from uplink k's address leaves by uplink k (table 100 + k)
	nsx "$C_NS" ip rule add from "$c4" table $((100 + k)) pref $((100 + k)) &&
		nsx "$C_NS" ip -6 rule add from "$c6" table $((100 + k)) pref $((100 + k)) &&
		route_add "$C_NS" default via "$r4" dev "$ifc" table $((100 + k)) &&
		route_add "$C_NS" default via "$r6" dev "$ifc" table $((100 + k)) || return 1
	# and a default route of its own, metric 100 k, as NetworkManager gives each
	# connection: uplink 1 wins; the others' next hops (an Ethernet-like uplink's
	# copies need one) are found by the interface
	route_add "$C_NS" default via "$r4" dev "$ifc" metric $((100 * k)) &&
		route_add "$C_NS" default via "$r6" dev "$ifc" metric $((100 * k))
}

# _wan_nat K: the router source-NATs what comes by uplink K, as a carrier's CGNAT.
_wan_nat() {
	local k=$1 net4=192.0.2.$((16 * $1))/28
	nsx "$R_NS" nft -f - <<NFT || { fail "topo_wan: nft NAT failed"; return 1; }
table inet udpc_wan {
	chain post {
		type nat hook postrouting priority srcnat;
		ip saddr $net4 oifname "$WAN_RS_IF" counter snat ip to $WAN_NAT4
		ip6 saddr 2001:db8:$k::/64 oifname "$WAN_RS_IF" counter snat ip6 to $WAN_NAT6
	}
}
NFT
}

# wan_dump K: makes uplink K's udpc-wan write its counters now and waits for them.
wan_dump() {
	local stats=WAN_STATS_$1 pid=WAN_PID_$1 before
	before=$(wan_get "$1" dumps)
	kill -USR1 "${!pid}" 2>/dev/null || { fail "wan_dump: uplink $1's udpc-wan is gone"; return 1; }
	wait_until 5 _wan_newer "${!stats}" dumps "${before:-0}" ||
		{ fail "wan_dump: uplink $1 wrote no counters"; return 1; }
}

_wan_newer() {
	local v
	v=$(sed -n "s/^$2=//p" "$1" 2>/dev/null)
	[ -n "$v" ] && [ "$v" -gt "$3" ]
}

# wan_get K KEY: a value from uplink K's last counters (wan_dump first), e.g.
# wan_get 1 a2b.lost_random; empty if none.
wan_get() {
	local stats=WAN_STATS_$1
	sed -n "s/^$2=//p" "${!stats}" 2>/dev/null
}

# wan_set K PROFILE[:OVERRIDES]: gives uplink K a new profile (both directions,
# replacing the old one whole) at once, and waits until udpc-wan has taken it.
wan_set() {
	local k=$1 spec ifc=WAN_IF_$1 pid=WAN_PID_$1 stats=WAN_STATS_$1 before errs
	spec=$(wan_spec "$2") || return 1
	before=$(wan_get "$k" reloads) errs=$(wan_get "$k" reload_errors)
	echo "$spec" >"$E2E_TMP/wan-${!ifc}.ctl"
	kill -HUP "${!pid}" 2>/dev/null || { fail "wan_set: uplink $k's udpc-wan is gone"; return 1; }
	if ! wait_until 5 _wan_newer "${!stats}" reloads "${before:-0}"; then
		fail "wan_set $k $2: not taken ($(wan_get "$k" reload_errors) errors, was ${errs:-0})"
		return 1
	fi
	printf -v "WAN_SPEC_$k" '%s' "$spec"
}
