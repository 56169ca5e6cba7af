#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Bad invocations, as a table: each must exit with the documented status (2 for a
# usage error, 1 for a runtime one), print nothing on stdout and exactly one line
# on stderr (a usage error may add the "Try 'udpclone-bpf --help'." hint), that
# line naming the bad part, and leave nothing attached (no pin dir, no filter).
# Last, a second attach on an interface a running attach drives is refused and
# leaves the running one alone.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_begin cli_errors
require_udpc
topo_star || e2e_end

NX=$(ifname nx) # an interface that does not exist (the name carries the run id)
HINT="Try 'udpclone-bpf --help'."
D1=$R4_1:9000
N=0

# nothing_attached WHAT: no pins for our interfaces, no filter of ours on C_IF.
nothing_attached() {
	assert_fail "$1: no pin dir for $C_IF" udpc_pinned "$C_IF"
	assert_fail "$1: no pin dir for $NX" udpc_pinned "$NX"
	assert_eq "$1: our filters on $C_IF" 0 "$(udpc_filter_count "$C_NS" "$C_IF")"
}

# check WHAT STATUS TEXT ARGS...: udpclone-bpf ARGS... exits STATUS, its one stderr
# line contains TEXT (fixed string), stdout is empty.
check() {
	local what=$1 want=$2 text=$3 rc=0 lines first second
	shift 3
	N=$((N + 1))
	udpc "$C_NS" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" </dev/null || rc=$?
	cp "$E2E_TMP/err" "$E2E_TMP/err.$N" # kept with E2E_KEEP=1, for reading
	assert_eq "$what: exit status" "$want" "$rc"
	assert_eq "$what: stdout" "" "$(head -c 200 "$E2E_TMP/out")"
	lines=$(wc -l <"$E2E_TMP/err")
	first=$(sed -n 1p "$E2E_TMP/err")
	second=$(sed -n 2p "$E2E_TMP/err")
	if [ "$want" = 2 ] && [ "$lines" = 2 ] && [ "$second" = "$HINT" ]; then
		_ok "$what: one line and the hint"
	else
		assert_eq "$what: stderr lines ($(paste -sd'|' "$E2E_TMP/err"))" 1 "$lines"
	fi
	case $first in
	"udpclone-bpf: "*"$text"*) _ok "$what: message" ;;
	*) fail "$what: first stderr line should contain '$text': '$first'" ;;
	esac
	nothing_attached "$what"
}

MANY=
for i in $(seq 1 17); do MANY+="${MANY:+,}198.51.100.$i:9000"; done
SIXTEEN=${MANY%,*}

A=(attach "$C_IF")
# --- runtime errors (exit 1)
check "unknown interface" 1 "unknown interface '$NX'" \
	attach "$NX" --listen 5743 --destinations "$D1"
check "status, nothing attached" 1 "nothing of ours is attached to '$C_IF'" status "$C_IF"

# --- destinations (exit 2)
check "dest port 0" 2 "destination '198.51.100.1:0': port 0 is out of range" \
	"${A[@]}" --listen 5743 --destinations "198.51.100.1:0"
check "dest port 65536" 2 "destination '198.51.100.1:65536': port 65536 is out of range" \
	"${A[@]}" --listen 5743 --destinations "198.51.100.1:65536"
check "dest port not a number" 2 "destination '198.51.100.1:x1': port must be a number" \
	"${A[@]}" --listen 5743 --destinations "198.51.100.1:x1"
check "dest port missing" 2 "destination '198.51.100.1': port is missing" \
	"${A[@]}" --listen 5743 --destinations "198.51.100.1"
check "empty host" 2 "destination ':9000': empty host" \
	"${A[@]}" --listen 5743 --destinations ":9000"
check "unbracketed IPv6" 2 "destination '2001:db8:2::1:9000': an IPv6 address needs brackets" \
	"${A[@]}" --listen 5743 --destinations "2001:db8:2::1:9000"
check "bracketed IPv4" 2 "brackets are only for IPv6" \
	"${A[@]}" --listen 5743 --destinations "[198.51.100.1]:9000"
check "IPv4 shorthand" 2 "'127.1' is not a valid IPv4 address" \
	"${A[@]}" --listen 5743 --destinations "127.1:9000"
check "bad name" 2 "invalid character '!'" \
	"${A[@]}" --listen 5743 --destinations "bad!name.udpc.test:9000"
check "empty list item" 2 "item 2 is empty" \
	"${A[@]}" --listen 5743 --destinations "$D1,,198.51.100.2:9000"
check "duplicate destination" 2 "destination '$D1': duplicate of item 1 '$D1'" \
	"${A[@]}" --listen 5743 --destinations "$D1,198.51.100.2:9000,$D1"
check "duplicate IPv6, other spelling" 2 "duplicate of item 1" \
	"${A[@]}" --listen 5743 --destinations "[2001:db8:2::1]:9000,[2001:db8:2:0::1]:9000"
check "17 destinations" 2 "too many destinations: 17, the limit is 16" \
	"${A[@]}" --listen 5743 --destinations "$MANY"
check "empty destination list" 2 "no destinations given" \
	"${A[@]}" --listen 5743 --destinations ""

# --- listen (exit 2)
check "listen not a port" 2 "listen 'abc'" "${A[@]}" --listen abc --destinations "$D1"
check "listen port 0" 2 "listen '0': port 0 is out of range" "${A[@]}" --listen 0 --destinations "$D1"
check "listen port 65536" 2 "listen '65536': port 65536 is out of range" \
	"${A[@]}" --listen 65536 --destinations "$D1"
check "listen unspecified address" 2 "listen '0.0.0.0:5743': the unspecified address" \
	"${A[@]}" --listen 0.0.0.0:5743 --destinations "$D1"
check "listen name" 2 "names are not accepted here" \
	"${A[@]}" --listen host.udpc.test:5743 --destinations "$D1"
check "listen unbracketed IPv6" 2 "an IPv6 address needs brackets" \
	"${A[@]}" --listen 2001:db8:1::1:5743 --destinations "$D1"
check "missing --listen" 2 "missing --listen" "${A[@]}" --destinations "$D1"
check "missing --destinations" 2 "missing --destinations" "${A[@]}" --listen 5743

# --- intervals (exit 2)
for v in 0 abc -1 1.5 86401; do
	check "resolve-interval $v" 2 "--resolve-interval '$v'" \
		"${A[@]}" --listen 5743 --destinations "$D1" --resolve-interval "$v"
done
check "flow-timeout 0" 2 "--flow-timeout '0'" \
	"${A[@]}" --listen 5743 --destinations "$D1" --flow-timeout 0
for v in 0 255 abc 1e6 16777217; do
	check "max-flows $v" 2 "--max-flows '$v': must be a whole number of flows from 256 to 16777216" \
		"${A[@]}" --listen 5743 --destinations "$D1" --max-flows "$v"
done

# --- --ready-fd (exit 2): a number, not stdin or the log, and open now
for v in 0 2 abc -3 3x; do
	check "ready-fd $v" 2 "--ready-fd '$v': must be a file descriptor number: 1, or 3 and up" \
		"${A[@]}" --listen 5743 --destinations "$D1" --ready-fd "$v"
done
check "ready-fd not open" 2 "--ready-fd '97': no such open file descriptor" \
	"${A[@]}" --listen 5743 --destinations "$D1" --ready-fd 97

# --- command line shape (exit 2)
check "unknown command" 2 "frobnicate: unknown command" frobnicate "$C_IF"
check "attach without IFACE" 2 "missing IFACE" attach --listen 5743 --destinations "$D1"
check "attach, extra argument" 2 "unexpected argument 'extra'" \
	"${A[@]}" extra --listen 5743 --destinations "$D1"
check "interface name too long" 2 "'abcdefghijklmnop' is not a valid interface name" \
	attach abcdefghijklmnop --listen 5743 --destinations "$D1"
check "detach without IFACE" 2 "missing IFACE" detach
check "unknown option" 2 "bogus" "${A[@]}" --listen 5743 --destinations "$D1" --bogus
check "option without its value" 2 "listen" "${A[@]}" --destinations "$D1" --listen

# --- limits that are not errors: exactly 16 destinations attach
udpc_attach_bg "$C_NS" "$C_IF" --listen 5743 --destinations "$SIXTEEN" || e2e_end
PID=$UDPC_PID
assert_eq "16 destinations: status shows them" 16 \
	"$(udpc "$C_NS" status "$C_IF" --json | grep -o '"host":' | grep -c .)"

# --- a second attach on an interface a running attach drives
rc=0
udpc "$C_NS" attach "$C_IF" --listen 5744 --destinations "$D1" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || rc=$?
assert_eq "second attach: exit status" 1 "$rc"
assert_eq "second attach: stderr lines" 1 "$(wc -l <"$E2E_TMP/err")"
assert_file_contains "$E2E_TMP/err" \
	"^udpclone-bpf: interface '$C_IF' is already driven by a running udpclone-bpf \\(pid $PID\\)\$" \
	"second attach: names the running daemon"
assert_ok "second attach: the first daemon still runs" pid_alive "$PID"
assert_eq "second attach: our filters intact" 2 "$(udpc_filter_count "$C_NS" "$C_IF")"
assert_ok "second attach: pins intact" udpc_pinned "$C_IF"
assert_eq "second attach: listen port unchanged" 1 \
	"$(udpc "$C_NS" status "$C_IF" --json | grep -c '"listen":{"port":5743,')"

e2e_end
