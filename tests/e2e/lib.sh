# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# shellcheck shell=bash
#
# The namespace harness for the end-to-end tests (and the demo and the benchmark).
# Source it, then:
#
#   e2e_begin my_test          # root check, run id, cleanup trap
#   topo_star                  # client + server namespaces, see below
#   udpc_attach_bg "$C_NS" "$C_IF" --listen 9000 --destinations ...
#   ... assert_eq / assert_ge / assert_file_contains ...
#   e2e_end                    # cleanup, verify nothing is left, PASS/FAIL, exit
#
# Rules it enforces: every namespace is "uc-$RUNID-*" and every interface name
# contains $RUNID (so BPF pins, keyed by interface name across namespaces, never
# collide with anything else); every wait is bounded; cleanup runs on any exit,
# is idempotent, and only touches what this run created. State lives in files
# under $E2E_TMP, so helpers also work from subshells.
#
# Commands run in a namespace through nsenter --net=/run/netns/NAME, not
# `ip netns exec`, which remounts /sys and so hides the host's bpffs and its pins.
#
# Environment: OUT (build dir, default build, relative to the repo root),
# E2E_KEEP=1 keeps $E2E_TMP (logs, outputs) even when the test passes,
# E2E_VERBOSE=1 echoes passing assertions too.
#
# Test scripts use `set -u`; with `set -e` as well, the first failed assertion ends
# the test (still reported as FAIL, still cleaned up). Exit 77 (e2e_skip) only when
# a hard prerequisite is missing. A script killed by a signal cleans up from its
# trap once the foreground command it waits for has ended: signal the whole
# process group (as timeout and Ctrl-C do), not the script alone.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-build}
case $OUT in /*) ;; *) OUT=$E2E_ROOT/$OUT ;; esac
UDPC=${UDPC:-$OUT/udpclone-bpf}
PEER=${PEER:-$OUT/tests/udpc-peer}
TUNPAIR=${TUNPAIR:-$OUT/tests/udpc-tunpair}
UDPC_PIN_ROOT=/sys/fs/bpf/udpclone-bpf
export OUT UDPC PEER

E2E_NAME=
RUNID=
E2E_TMP=
E2E_FAILS=()
E2E_ENDED=0
E2E_CLEANING=0
E2E_INTERRUPTED=0
BG_PID=
UDPC_PID=

# ---- messages ----

e2e_log() { printf '  %s\n' "$*" >&2; }

# Marks the test failed; the reasons are repeated by e2e_end.
fail() {
	E2E_FAILS+=("$*")
	printf '  FAIL: %s\n' "$*" >&2
	return 1
}

_ok() {
	[ "${E2E_VERBOSE:-0}" = 1 ] && printf '  ok: %s\n' "$*" >&2
	return 0
}

# Prints SKIP and exits 77: only for a missing hard prerequisite.
e2e_skip() {
	printf 'SKIP %s: %s\n' "${E2E_NAME:-test}" "$*"
	E2E_ENDED=1
	exit 77
}

# ---- setup and teardown ----

# e2e_begin NAME: needs root; sets RUNID (4 hex digits), E2E_TMP, the cleanup trap.
e2e_begin() {
	local i
	E2E_NAME=${1:?e2e_begin NAME}
	[ "$(id -u)" = 0 ] || e2e_skip "needs root (network namespaces, BPF)"
	for i in ip nsenter timeout; do
		command -v "$i" >/dev/null 2>&1 || e2e_skip "needs '$i'"
	done
	for i in 1 2 3 4 5 6 7 8; do
		RUNID=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
		# a run id nobody uses yet: no namespace and no pin carries it
		if ! ip netns list 2>/dev/null | grep -q "^uc-$RUNID-" &&
			! ls -d "$UDPC_PIN_ROOT"/*"$RUNID"* >/dev/null 2>&1; then
			break
		fi
		[ "$i" = 8 ] && { echo "e2e_begin: no free run id" >&2; exit 1; }
	done
	E2E_TMP=$(mktemp -d "/tmp/uc-e2e-$RUNID.XXXXXX") || exit 1
	touch "$E2E_TMP/.pids" "$E2E_TMP/.ifaces" "$E2E_TMP/.attached"
	export RUNID E2E_TMP
	trap '_e2e_on_exit' EXIT
	trap '_e2e_on_signal INT 130' INT
	trap '_e2e_on_signal TERM 143' TERM
	trap '_e2e_on_signal HUP 129' HUP
	e2e_log "$E2E_NAME: run id $RUNID, files in $E2E_TMP"
}

_e2e_on_signal() {
	trap '' INT TERM HUP # a second Ctrl-C must not interrupt cleanup
	fail "interrupted by SIG$1"
	E2E_INTERRUPTED=1
	exit "$2" # the EXIT trap cleans up
}

_e2e_on_exit() {
	local rc=$?
	trap - EXIT
	trap '' INT TERM HUP
	e2e_cleanup
	if [ "$E2E_ENDED" = 0 ]; then
		[ "$E2E_INTERRUPTED" = 1 ] || E2E_FAILS+=("script ended (status $rc) before e2e_end")
		[ "$rc" = 0 ] && rc=1
		_e2e_verdict
	elif [ "$rc" = 77 ] && [ -n "$E2E_TMP" ] && [ "${E2E_KEEP:-0}" != 1 ]; then
		rm -rf -- "$E2E_TMP"
	fi
	exit "$rc"
}

# e2e_cleanup: stop remembered processes, detach, delete namespaces and pins.
# Idempotent; safe to call early (then the test can check that nothing is left).
e2e_cleanup() {
	local pid start ns ifc
	[ -n "$RUNID" ] || return 0
	[ "$E2E_CLEANING" = 1 ] && return 0
	E2E_CLEANING=1
	# 1. processes, newest first (a daemon goes before what it serves)
	if [ -s "$E2E_TMP/.pids" ]; then
		while read -r pid start; do
			bg_stop "$pid" 5 "$start" || true
		done < <(tac "$E2E_TMP/.pids")
		: >"$E2E_TMP/.pids"
	fi
	# 2. detach what this run attached (if the daemon did not already)
	if [ -s "$E2E_TMP/.attached" ] && [ -x "$UDPC" ]; then
		while read -r ns ifc; do
			[ -e "/run/netns/$ns" ] || continue
			timeout 10 nsenter --net="/run/netns/$ns" -- "$UDPC" detach "$ifc" \
				>/dev/null 2>&1 || true
		done <"$E2E_TMP/.attached"
		: >"$E2E_TMP/.attached"
	fi
	# 3. namespaces: everything named after this run, wherever it was created
	while read -r ns _; do
		case $ns in "uc-$RUNID-"*) ip netns del "$ns" 2>/dev/null || true ;; esac
	done < <(ip netns list 2>/dev/null)
	# 4. pins of this run's interfaces (names always contain $RUNID, see _ifname_ok)
	if [ -s "$E2E_TMP/.ifaces" ]; then
		while read -r ifc; do
			_ifname_ok "$ifc" 2>/dev/null || continue
			[ -e "$UDPC_PIN_ROOT/$ifc" ] && rm -rf -- "${UDPC_PIN_ROOT:?}/$ifc"
		done <"$E2E_TMP/.ifaces"
	fi
	E2E_CLEANING=0
	return 0
}

# e2e_leftovers: prints what this run left behind (namespaces, pins, processes).
e2e_leftovers() {
	local ns pid start ifc
	while read -r ns _; do
		case $ns in "uc-$RUNID-"*) echo "namespace $ns" ;; esac
	done < <(ip netns list 2>/dev/null)
	if [ -f "$E2E_TMP/.ifaces" ]; then
		while read -r ifc; do
			[ -n "$ifc" ] && [ -e "$UDPC_PIN_ROOT/$ifc" ] && echo "pins $UDPC_PIN_ROOT/$ifc"
		done <"$E2E_TMP/.ifaces"
	fi
	if [ -f "$E2E_TMP/.pids" ]; then
		while read -r pid start; do
			pid_alive "$pid" "$start" && echo "process $pid"
		done <"$E2E_TMP/.pids"
	fi
	return 0
}

_e2e_verdict() {
	local left
	left=$(e2e_leftovers)
	[ -n "$left" ] && E2E_FAILS+=("cleanup left: $(echo "$left" | paste -sd, -)")
	if [ "${#E2E_FAILS[@]}" = 0 ]; then
		echo "PASS $E2E_NAME"
		[ "${E2E_KEEP:-0}" = 1 ] || rm -rf -- "${E2E_TMP:?}"
		return 0
	fi
	local msg
	msg=$(printf '%s; ' "${E2E_FAILS[@]}")
	echo "FAIL $E2E_NAME: ${msg%; }"
	echo "  (logs kept in $E2E_TMP)"
	return 1
}

# e2e_end: cleans up, checks nothing is left, prints PASS/FAIL NAME, exits 0/1.
e2e_end() {
	local rc=0
	E2E_ENDED=1
	trap - EXIT INT TERM HUP
	trap '' INT TERM HUP
	e2e_cleanup
	_e2e_verdict || rc=1
	exit "$rc"
}

# require_cmd CMD...: skip unless every command exists.
require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || e2e_skip "needs '$c'"
	done
}

# require_udpc: skip unless the tool is built and bpffs is mounted (mounts it).
require_udpc() {
	[ -x "$UDPC" ] || e2e_skip "$UDPC not built (make)"
	if ! mountpoint -q /sys/fs/bpf; then
		mount -t bpf bpf /sys/fs/bpf 2>/dev/null || e2e_skip "cannot mount bpffs on /sys/fs/bpf"
	fi
}

# require_peer: skip unless udpc-peer is built.
require_peer() {
	[ -x "$PEER" ] || e2e_skip "$PEER not built (make tools)"
}

# ---- processes ----

# pid_alive PID [STARTTIME]: running (not a zombie) and, if given, the same process.
pid_alive() {
	local stat rest st
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) } # fields from 3 on; comm may contain spaces
	read -r st _ <<<"$rest"
	[ "$st" = Z ] && return 1
	[ -z "${2:-}" ] || [ "$(_pid_start "$1")" = "$2" ]
}

# Start time (field 22) tells a process from a later one that reused its pid.
_pid_start() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	rest=${stat##*) }
	# shellcheck disable=SC2086
	set -- $rest
	echo "${20:-}"
}

# bg_remember PID: adds a process to the ones cleanup stops.
bg_remember() {
	echo "$1 $(_pid_start "$1")" >>"$E2E_TMP/.pids"
}

# bg_stop PID [TIMEOUT_SEC=5] [STARTTIME]: SIGTERM, wait (bounded), then SIGKILL.
# Returns the process's exit status when it is our child, else 0.
bg_stop() {
	local pid=$1 limit=${2:-5} start=${3:-} i rc=0
	[ -n "$start" ] || start=$(grep -m1 "^$pid " "$E2E_TMP/.pids" 2>/dev/null | cut -d' ' -f2)
	if pid_alive "$pid" "$start"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < limit * 10; i++)); do
			pid_alive "$pid" "$start" || break
			sleep 0.1
		done
		if pid_alive "$pid" "$start"; then
			e2e_log "pid $pid ignored SIGTERM for ${limit}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null || rc=$?
	[ "$rc" = 127 ] && rc=0 # not our child
	return "$rc"
}

# ---- namespaces and links ----

# ns_name SHORT: prints the full name of this run's namespace SHORT.
ns_name() { echo "uc-$RUNID-$1"; }

# _ns NS: a full name (uc-...) or this run's SHORT name; never a foreign namespace.
_ns() {
	case $1 in
	uc-*) echo "$1" ;;
	*) echo "uc-$RUNID-$1" ;;
	esac
}

# ns_new SHORT [VAR]: creates namespace uc-$RUNID-SHORT with lo up and IPv6 DAD
# off; stores its name in VAR if given.
ns_new() {
	local short=${1:?ns_new SHORT [VAR]} ns
	[ -n "$RUNID" ] || { echo "ns_new: call e2e_begin first" >&2; return 1; }
	ns="uc-$RUNID-$short"
	ip netns add "$ns" || { fail "cannot create namespace $ns"; return 1; }
	ip -n "$ns" link set lo up
	nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		>/dev/null 2>&1 || true
	[ -n "${2:-}" ] && printf -v "$2" '%s' "$ns"
	return 0
}

# nsx NS CMD...: runs CMD in namespace NS (host mounts, so bpffs pins are visible).
nsx() {
	local ns
	ns=$(_ns "${1:?nsx NS CMD...}")
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# nsx_bg NS CMD...: nsx in the background; BG_PID is its pid, remembered for cleanup.
# Redirect the call itself: nsx_bg ns cmd >"$E2E_TMP/cmd.log" 2>&1
nsx_bg() {
	local ns
	ns=$(_ns "${1:?nsx_bg NS CMD...}")
	shift
	nsenter --net="/run/netns/$ns" -- "$@" &
	BG_PID=$!
	bg_remember "$BG_PID"
}

# ifname BASE: prints BASE$RUNID (the form every test interface name must have).
ifname() { echo "$1$RUNID"; }

_ifname_ok() {
	local n=$1
	if [ -z "$n" ] || [ "${#n}" -gt 15 ] || [[ ! $n =~ ^[A-Za-z0-9_.-]+$ ]] ||
		[[ $n != *"$RUNID"* ]]; then
		echo "bad interface name '$n': need <= 15 of [A-Za-z0-9_.-], containing $RUNID" >&2
		return 1
	fi
}

# iface_remember IFACE: makes cleanup remove IFACE's pins (link_veth does it).
iface_remember() {
	_ifname_ok "$1" || return 1
	grep -qx -- "$1" "$E2E_TMP/.ifaces" 2>/dev/null || echo "$1" >>"$E2E_TMP/.ifaces"
}

# link_veth NS_A IF_A NS_B IF_B: a veth pair between two namespaces, both ends up.
link_veth() {
	local na nb
	na=$(_ns "$1") nb=$(_ns "$3")
	if ! _ifname_ok "$2" || ! _ifname_ok "$4"; then
		fail "link_veth: bad interface names"
		return 1
	fi
	iface_remember "$2"
	iface_remember "$4"
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

# ---- waiting ----

# wait_until TIMEOUT_SEC CMD...: runs CMD every 0.1 s until it succeeds (return 0)
# or TIMEOUT_SEC (fractions allowed, <= 3600) of wall time pass (return 1).
wait_until() {
	local limit=${1:?wait_until TIMEOUT CMD...} end now
	shift
	[[ $limit =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "wait_until: bad timeout '$limit'" >&2; return 2; }
	# microseconds from EPOCHREALTIME, integer arithmetic only
	[ "$(_usec "$limit")" -le 3600000000 ] || { echo "wait_until: over 3600 s" >&2; return 2; }
	end=$(($(_usec_now) + $(_usec "$limit")))
	while :; do
		"$@" && return 0
		now=$(_usec_now)
		[ "$now" -ge "$end" ] && return 1
		sleep 0.1
	done
}

_usec_now() { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t))"; }
_usec() {
	local s=${1%%.*} f=000000
	[[ $1 == *.* ]] && f=${1#*.}000000
	echo "$((10#$s * 1000000 + 10#${f:0:6}))"
}

# ---- assertions: print a clear message, mark failed, return 1 on failure ----

_is_int() { [[ ${1:-} =~ ^-?[0-9]+$ ]]; }

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	if [ "$2" = "$3" ]; then _ok "$1 = $3"; else fail "$1: expected '$2', got '$3'"; fi
}

# assert_ne WHAT UNEXPECTED ACTUAL
assert_ne() {
	if [ "$2" != "$3" ]; then _ok "$1 = $3"; else fail "$1: expected anything but '$2'"; fi
}

# assert_ge WHAT MIN ACTUAL (integers)
assert_ge() {
	if _is_int "$2" && _is_int "$3" && [ "$3" -ge "$2" ]; then
		_ok "$1 = $3 >= $2"
	else
		fail "$1: expected >= $2, got '$3'"
	fi
}

# assert_le WHAT MAX ACTUAL (integers)
assert_le() {
	if _is_int "$2" && _is_int "$3" && [ "$3" -le "$2" ]; then
		_ok "$1 = $3 <= $2"
	else
		fail "$1: expected <= $2, got '$3'"
	fi
}

# assert_between WHAT MIN MAX ACTUAL (integers, inclusive)
assert_between() {
	if _is_int "$2" && _is_int "$3" && _is_int "$4" && [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then
		_ok "$1 = $4 in $2..$3"
	else
		fail "$1: expected $2..$3, got '$4'"
	fi
}

# assert_ok WHAT CMD...: CMD must succeed.
assert_ok() {
	local what=$1 rc=0
	shift
	"$@" || rc=$?
	if [ "$rc" = 0 ]; then _ok "$what"; else fail "$what: '$*' exited $rc"; fi
}

# assert_fail WHAT CMD...: CMD must fail.
assert_fail() {
	local what=$1
	shift
	if "$@"; then fail "$what: '$*' succeeded, expected failure"; else _ok "$what"; fi
}

# assert_file_contains FILE ERE [WHAT]: some line of FILE matches ERE.
assert_file_contains() {
	local what=${3:-"$1 contains /$2/"}
	if [ ! -f "$1" ]; then
		fail "$what: $1 does not exist"
	elif grep -Eq -- "$2" "$1"; then
		_ok "$what"
	else
		fail "$what: no line matches /$2/ in $1 ($(head -c 300 "$1" | paste -sd'|' -))"
	fi
}

# assert_file_not_contains FILE ERE [WHAT]
assert_file_not_contains() {
	local what=${3:-"$1 lacks /$2/"}
	if [ -f "$1" ] && grep -Eq -- "$2" "$1"; then
		fail "$what: $(grep -Em1 -- "$2" "$1")"
	else
		_ok "$what"
	fi
}

# ---- udpc-peer and udpclone-bpf ----

# stat_get FILE KEY [FIELD=2]: the value of a "KEY value..." line (empty if none).
# For "replies_from ID COUNT" lines: stat_get FILE "replies_from ID" 3.
stat_get() {
	local file=$1 key=$2 field=${3:-2}
	[ -f "$file" ] || return 0
	awk -v k="$key" -v f="$field" '
		{ n = split(k, kk, " "); ok = 1
		  for (i = 1; i <= n; i++) if ($i != kk[i]) ok = 0
		  if (ok) { print $f; exit } }' "$file"
}

# peer_echo_bg NS BIND ID OUTFILE [ECHO_OPTS...]: starts an echo server, waits
# (bounded) until it is bound. BG_PID is its pid. Stop it with bg_stop, then read
# OUTFILE (written atomically at exit).
peer_echo_bg() {
	local ns=$1 bind=$2 id=$3 out=$4 ready
	shift 4
	ready="$out.ready"
	rm -f -- "$ready" "$out"
	nsx_bg "$ns" "$PEER" echo --bind "$bind" --id "$id" --out "$out" --ready "$ready" "$@" \
		2>>"$out.log"
	if ! wait_until 5 test -e "$ready"; then
		fail "echo $id on $bind did not start: $(head -c 300 "$out.log" 2>/dev/null)"
		return 1
	fi
}

# peer_send NS OUTFILE SEND_OPTS...: runs udpc-peer send (foreground), output to
# OUTFILE. Bounded by timeout: count/rate + wait-replies, at most ~1 hour.
peer_send() {
	local ns=$1 out=$2 rc=0
	shift 2
	timeout -k 5 3700 nsenter --net="/run/netns/$(_ns "$ns")" -- "$PEER" send "$@" \
		>"$out" 2>"$out.log" || rc=$?
	[ "$rc" = 0 ] || fail "udpc-peer send $* exited $rc: $(head -c 300 "$out.log")"
	return "$rc"
}

# flows_send NS DST PORT N SRC...: one datagram to DST:PORT from each of N client
# flows, each from its own (address, port): ports 20000 up of each SRC address in
# turn, oldest first; bounded to 120 s. Prints the number sent. Needs python3.
flows_send() {
	local ns=$1
	shift
	# shellcheck disable=SC2016 # python, not shell
	timeout -k 5 150 nsenter --net="/run/netns/$(_ns "$ns")" -- python3 -c '
import socket, sys, time
dst, port, n, addrs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
per = (n + len(addrs) - 1) // len(addrs)
sent, t0 = 0, time.monotonic()
for a in addrs:
    for p in range(20000, 20000 + per):
        if sent == n or time.monotonic() - t0 > 120:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a, p))
        s.sendto(b"flow", (dst, port))
        s.close()
        sent += 1
print(sent)' "$@"
}

# How long a daemon may take to become ready: loading the BPF object takes seconds,
# and many more on a machine busy with other work. A bound, not a delay: every wait
# on it ends as soon as the daemon says it is ready.
UDPC_READY_TIMEOUT=${UDPC_READY_TIMEOUT:-60}

# udpc_attach_bg NS IFACE ARGS...: starts `udpclone-bpf attach IFACE ARGS...` in the
# background in NS, remembers it, waits (bounded) until it says it is ready: both
# programs attached (--ready-fd, on fd 3 into $E2E_TMP/udpc-IFACE.ready).
# UDPC_PID is the daemon's pid; its log is $E2E_TMP/udpc-IFACE.log.
udpc_attach_bg() {
	local ns iface=$2 log ready
	ns=$(_ns "$1")
	shift 2
	log="$E2E_TMP/udpc-$iface.log"
	ready="$E2E_TMP/udpc-$iface.ready"
	iface_remember "$iface" || return 1
	echo "$ns $iface" >>"$E2E_TMP/.attached"
	nsx_bg "$ns" "$UDPC" attach "$iface" "$@" --ready-fd 3 >>"$log" 2>&1 3>"$ready"
	UDPC_PID=$BG_PID
	if ! wait_until "$UDPC_READY_TIMEOUT" udpc_ready "$ready" "$UDPC_PID"; then
		fail "attach $iface did not come up in ${UDPC_READY_TIMEOUT}s: $(tail -c 500 "$log" | paste -sd'|' -)"
		return 1
	fi
	if ! pid_alive "$UDPC_PID" || [ "$(cat "$ready")" != ready ]; then
		fail "attach $iface exited: $(tail -c 500 "$log" | paste -sd'|' -)"
		return 1
	fi
}

# udpc_ready FILE PID: true once the daemon PID wrote its --ready-fd line to FILE, or
# has exited (it never will then: stop waiting, the caller reports it).
udpc_ready() {
	[ -s "$1" ] || ! pid_alive "$2"
}

# udpc NS ARGS...: runs udpclone-bpf in NS, bounded.
udpc() {
	local ns
	ns=$(_ns "$1")
	shift
	timeout -k 5 30 nsenter --net="/run/netns/$ns" -- "$UDPC" "$@"
}

# ---- status JSON, our filters, pins, neighbours ----

# udpc_json NS IFACE FILTER [FILE]: jq -r FILTER on IFACE's object of
# `status IFACE --json` (.interfaces[0]); with FILE, on that saved output instead
# (see udpc_json_save). Prints nothing if there is no such object. Needs jq.
udpc_json() {
	local ns=$1 iface=$2 filter=$3 file=${4:-}
	if [ -n "$file" ]; then
		jq -r ".interfaces[0] | $filter" "$file" 2>/dev/null
	else
		udpc "$ns" status "$iface" --json 2>/dev/null | jq -r ".interfaces[0] | $filter" 2>/dev/null
	fi
}

# udpc_json_save NS IFACE FILE: saves `status IFACE --json` to FILE (one consistent
# snapshot for several udpc_json reads); fails if status fails.
udpc_json_save() {
	udpc "$1" status "$2" --json >"$3" 2>"$3.err"
}

# udpc_filter_ids NS IFACE DIR: program ids of our TC filters (handle 0x55dc,
# pref 3088) on IFACE's DIR (ingress or egress) hook, as `tc` shows them, one a line.
udpc_filter_ids() {
	nsx "$1" tc filter show dev "$2" "$3" 2>/dev/null |
		awk '/ pref 3088 / && / handle 0x55dc / {
			for (i = 1; i < NF; i++) if ($i == "id") print $(i + 1) }'
}

# udpc_filter_count NS IFACE: how many of our filters IFACE has, both hooks together.
udpc_filter_count() {
	{ udpc_filter_ids "$1" "$2" ingress; udpc_filter_ids "$1" "$2" egress; } | grep -c .
}

# udpc_pinned IFACE: true if IFACE has a pin directory.
udpc_pinned() { [ -e "$UDPC_PIN_ROOT/$1" ]; }

# udpc_nexthops_known IFACE N [FLAG=1]: true once the daemon's next-hop table
# (udpc_nexthops) holds a next hop for each of the first N destinations: flag FLAG
# set (UDPC_NH_V4 = 1, UDPC_NH_V6 = 2) and its "no route" flag (FLAG * 4) clear.
# What a test waits on instead of "a daemon tick". Needs bpftool and jq.
udpc_nexthops_known() {
	bpftool -j map dump pinned "$UDPC_PIN_ROOT/$1/udpc_nexthops" 2>/dev/null |
		jq -e --argjson n "$2" --argjson f "${3:-1}" '
			def bit($b): (. / $b | floor) % 2 == 1;
			[.[] | select(.formatted.key < $n) | .formatted.value.flags] |
			length == $n and all(bit($f) and (bit($f * 4) | not))' >/dev/null
}

# neigh_valid NS IFACE ADDR: true if NS has a usable (has lladdr, not FAILED)
# neighbour entry for ADDR on IFACE.
neigh_valid() {
	ip -n "$(_ns "$1")" neigh show "$3" dev "$2" 2>/dev/null | grep -v FAILED | grep -q lladdr
}

# neigh_warm NS IFACE ADDR: makes NS resolve ADDR on IFACE (one datagram to its
# discard port) and waits (bounded) until the entry is usable.
neigh_warm() {
	nsx "$1" bash -c "echo warm >/dev/udp/$3/9" 2>/dev/null
	wait_until 3 neigh_valid "$1" "$2" "$3" || { fail "neighbour $3 on $2 not resolved"; return 1; }
}

# echo_receivers NS BIND...: one echo receiver per BIND (ids r0, r1, ...; stats in
# $E2E_TMP/echoI). Sets BINDS, DESTS (the binds joined by commas, ready for
# --destinations) and ECHO (their pids).
echo_receivers() {
	local ns=$1 i
	shift
	BINDS=("$@")
	DESTS=$(IFS=,; echo "$*")
	ECHO=()
	for i in "${!BINDS[@]}"; do
		peer_echo_bg "$ns" "${BINDS[i]}" "r$i" "$E2E_TMP/echo$i" || return 1
		ECHO[i]=$BG_PID
	done
}

# assert_echo_exact I N [WHAT]: receiver I got exactly N datagrams, each once, intact.
assert_echo_exact() {
	local e=$E2E_TMP/echo$1 what=${3:-}
	assert_eq "r$1 received${what:+ ($what)}" "$2" "$(stat_get "$e" received)"
	assert_eq "r$1 unique" "$2" "$(stat_get "$e" unique)"
	assert_eq "r$1 dup" 0 "$(stat_get "$e" dup)"
	assert_eq "r$1 corrupt" 0 "$(stat_get "$e" corrupt)"
}

# link_tun NS_A IF_A NS_B IF_B: a raw-IP point-to-point link (no link-layer header,
# like wwan or ppp): a tun device in each namespace, carried by udpc-tunpair.
link_tun() {
	local na nb ready
	na=$(_ns "$1") nb=$(_ns "$3")
	if ! _ifname_ok "$2" || ! _ifname_ok "$4"; then
		fail "link_tun: bad interface names"
		return 1
	fi
	iface_remember "$2"
	iface_remember "$4"
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

# udpc_with_resolver HOSTS RESOLV: prints the path of a wrapper that runs $UDPC in a
# private mount namespace where HOSTS and RESOLV are bind-mounted over /etc/hosts and
# /etc/resolv.conf: the daemon's real resolver path (getaddrinfo, nsswitch) with the
# test's names; pid and exec chain stay those of $UDPC. Use: UDPC=$WRAP udpc_attach_bg
udpc_with_resolver() {
	local wrap=$E2E_TMP/udpc-resolver
	cat >"$wrap" <<EOF
#!/bin/sh
exec unshare -m --propagation private sh -c \\
	'mount --bind "\$1" /etc/hosts && mount --bind "\$2" /etc/resolv.conf && shift 2 && exec "\$@"' \\
	sh "$1" "$2" "$UDPC" "\$@"
EOF
	chmod +x "$wrap" && echo "$wrap"
}
