# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# shellcheck shell=bash
#
# The e2e harness, the bottom layer of tests/e2e/lib.sh: a test's start and end
# (run id, $E2E_TMP, traps, cleanup, the PASS/FAIL/SKIP verdict), require_*,
# processes, this run's names and commands in its namespaces, bounded waits,
# assertions. Sources no other file; it names the programs under test ($UDPC,
# $PEER, $WAN) because cleanup detaches $UDPC and removes its pins.
# lib/topo.sh (namespaces, links) and lib/drivers.sh (udpc-peer, udpclone-bpf)
# build on it. Source tests/e2e/lib.sh for all three, then:
#
#   e2e_begin my_test          # root check, run id, cleanup trap
#   topo_star                  # client + server namespaces (topo.sh)
#   udpc_attach_bg "$C_NS" "$C_IF" --listen 9000 --destinations ...  # (drivers.sh)
#   ... assert_eq / assert_ge / assert_file_contains ...
#   e2e_end                    # cleanup, verify nothing is left, PASS/FAIL, exit
#
# A test of files and commands only (no namespaces, no BPF: completion, packaging,
# cross build) sources this file alone and starts with `e2e_begin NAME --no-root`:
# any user, same $E2E_TMP, traps, verdict and exit codes.
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

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
OUT=${OUT:-build}
case $OUT in /*) ;; *) OUT=$E2E_ROOT/$OUT ;; esac
UDPC=${UDPC:-$OUT/udpclone-bpf}
PEER=${PEER:-$OUT/tests/udpc-peer}
WAN=${WAN:-${TUNPAIR:-$OUT/tests/udpc-wan}}
TCPT=${TCPT:-$OUT/tests/udpc-tcp}
TUNPAIR=$WAN # its name before it emulated a WAN (udpc-tunpair)
UDPC_PIN_ROOT=/sys/fs/bpf/udpclone-bpf
UDPC_RUN_ROOT=/run/udpclone-bpf # tcp-client / tcp-server's snapshots for status
export OUT UDPC PEER

E2E_NAME=
RUNID=
E2E_TMP=
E2E_NOROOT=0
E2E_FAILS=()
E2E_ENDED=0
E2E_CLEANING=0
E2E_INTERRUPTED=0
BG_PID=

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

# e2e_begin NAME [--no-root]: sets RUNID (4 hex digits), E2E_TMP, the cleanup trap.
# Skips unless root with ip and nsenter; with --no-root, needs none of them, and
# cleanup stops only the processes the test remembered (bg_remember): a test
# started so makes no namespaces and no pins.
e2e_begin() {
	local i
	E2E_NAME=${1:?e2e_begin NAME [--no-root]}
	case ${2:-} in
	'') E2E_NOROOT=0 ;;
	--no-root) E2E_NOROOT=1 ;;
	*)
		echo "e2e_begin: unknown option '$2'" >&2
		exit 2
		;;
	esac
	if [ "$E2E_NOROOT" = 1 ]; then
		# only names $E2E_TMP (mktemp makes it unique): nothing else carries it
		RUNID=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
	else
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
	fi
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
	# 2 to 4 only after a root start: a --no-root test made none of it
	if [ "$E2E_NOROOT" = 0 ]; then
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
		# 4. pins of this run's interfaces (names always contain $RUNID, see _ifname_ok),
		# and the snapshots tcp-client / tcp-server keep for status next to them
		if [ -s "$E2E_TMP/.ifaces" ]; then
			while read -r ifc; do
				_ifname_ok "$ifc" 2>/dev/null || continue
				[ -e "$UDPC_PIN_ROOT/$ifc" ] && rm -rf -- "${UDPC_PIN_ROOT:?}/$ifc"
				[ -e "$UDPC_RUN_ROOT/$ifc" ] && rm -rf -- "${UDPC_RUN_ROOT:?}/$ifc"
			done <"$E2E_TMP/.ifaces"
		fi
	fi
	E2E_CLEANING=0
	return 0
}

# e2e_leftovers: prints what this run left behind (namespaces, pins, processes).
e2e_leftovers() {
	local ns pid start ifc
	if [ "$E2E_NOROOT" = 0 ]; then
		while read -r ns _; do
			case $ns in "uc-$RUNID-"*) echo "namespace $ns" ;; esac
		done < <(ip netns list 2>/dev/null)
		if [ -f "$E2E_TMP/.ifaces" ]; then
			while read -r ifc; do
				[ -n "$ifc" ] && [ -e "$UDPC_PIN_ROOT/$ifc" ] && echo "pins $UDPC_PIN_ROOT/$ifc"
				[ -n "$ifc" ] && [ -e "$UDPC_RUN_ROOT/$ifc" ] && echo "snapshot $UDPC_RUN_ROOT/$ifc"
			done <"$E2E_TMP/.ifaces"
		fi
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

# require_tcp_lab: what the tcp-client / tcp-server tests need: the command, the WAN
# lab's emulator and the TCP test tool ($TCPT).
require_tcp_lab() {
	require_udpc
	require_peer
	[ -x "$WAN" ] || e2e_skip "udpc-wan is not built ($WAN)"
	[ -x "$TCPT" ] || e2e_skip "udpc-tcp is not built ($TCPT)"
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

# ---- this run's namespaces and interfaces: names, commands in them ----

# ns_name SHORT: prints the full name of this run's namespace SHORT.
ns_name() { echo "uc-$RUNID-$1"; }

# _ns NS: a full name (uc-...) or this run's SHORT name; never a foreign namespace.
_ns() {
	case $1 in
	uc-*) echo "$1" ;;
	*) echo "uc-$RUNID-$1" ;;
	esac
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
