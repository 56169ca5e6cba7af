#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tcp-client / tcp-server over IPv6 end to end (issue 14), on the WAN lab: a client
# with two uplinks to a router (10 ms one way, 10% loss each way on each), the server
# behind it. Every hop is IPv6: the client application connects to tcp-client on
# [::1], tcp-client reaches tcp-server at [$WAN_S6] by both uplinks, and tcp-server
# connects to a TCP service (udpc-tcp) on [::1] or at a name with only an IPv6 address.
#   1. 2 MB down and 2 MB up at once, intact, closed right after the last byte.
#   2. a refused IPv6 target: the client's connection is reset.
#   3. mixed: an IPv4 client application (127.0.0.1), IPv6 paths, an IPv6 target.
#   4. a target NAME whose only address is IPv6 (the name from the test's hosts file).
#   5. a listener on every IPv6 address ([::]:LPORT=NAME), reached at the client's
#      own global address.
#   6. bad IPv6 input is refused with a message that says what is wrong.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

SP=7000    # tcp-server --listen (serve's port)
APP=8000   # the TCP service on the server, on [::]
NOAPP=8001 # nothing listens here
LP=9000    # tcp-client's forwards: LP app, LP+1 closed, LP+2 app (IPv4), LP+3 named,
           # LP+4 app on every IPv6 address ([::])
MB2=2000000

e2e_begin tcp_v6
require_tcp_lab
require_cmd unshare mount
grep -Eq '^hosts:.*[[:space:]]files([[:space:]]|$)' /etc/nsswitch.conf 2>/dev/null ||
	e2e_skip "/etc/nsswitch.conf has no 'files' source for hosts"
LINKS=("clean:delay=10ms,loss=10%" "clean:delay=10ms,loss=10%")
WAN_SEED=5 topo_wan "${LINKS[@]}" || e2e_end
A=$WAN_IF_1 B=$WAN_IF_2

# -- 6. bad input first: no daemon is needed to refuse it
# bad_input CMD IFACE ARGS... -- WANT: usage error (exit 2) whose message has WANT
bad_input() {
	local want=${*: -1} out rc=0
	set -- "${@:1:$(($# - 2))}"
	out=$(udpc "$C_NS" "$@" 2>&1) || rc=$?
	if [ "$rc" = 2 ] && grep -qF -- "$want" <<<"$out"; then
		_ok "refused: $* ($want)"
	else
		fail "$*: expected exit 2 and '$want', got $rc: $out"
	fi
}
bad_input tcp-client "$A" --destinations "[$WAN_S6:$SP" --forward "$LP=app" -- "missing ']'"
bad_input tcp-client "$A" --destinations "$WAN_S6:$SP" --forward "$LP=app" -- "needs brackets"
bad_input tcp-client "$A" --destinations "[$WAN_S6]:$SP" --forward "::1:$LP=app" -- "needs brackets"
bad_input tcp-client "$A" --destinations "[$WAN_S6]:$SP" --forward "[::1]$LP=app" -- "expected ':' and a port after ']'"
bad_input tcp-client "$A" --destinations "[$WAN_S6]:$SP" --forward "[::g]:$LP=app" -- "not a valid IPv6 address"
bad_input tcp-client "$A" --destinations "[$WAN_S6]:$SP" --forward "[::]:0=app" -- "out of range"
bad_input tcp-server "$WAN_S_IF" --listen "$SP" --forward "app=::1:$APP" -- "needs brackets"
bad_input tcp-server "$WAN_S_IF" --listen "$SP" --forward "app=[::1]" -- "port"
bad_input tcp-server "$WAN_S_IF" --listen "$SP" --forward "app=[fe80::1%lo]:$APP" -- "zone ids"

# The server's resolver sees the test's hosts file: app6.udpc.test has an IPv6
# address only (the server's own), dual.udpc.test has both.
HOSTS=$E2E_TMP/hosts
RESOLV=$E2E_TMP/resolv.conf
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$RESOLV"
printf '%s\n' "127.0.0.1 localhost" "$WAN_S6 app6.udpc.test" >"$HOSTS"
WRAP=$(udpc_with_resolver "$HOSTS" "$RESOLV") || e2e_end

nsx_bg "$S_NS" "$TCPT" server "[::]:$APP" >"$E2E_TMP/app.log" 2>&1
APP_PID=$BG_PID
wait_until 5 grep -q listening "$E2E_TMP/app.log" || fail "the TCP service did not start"
UDPC=$WRAP _udpc_daemon_bg tcp-server "$S_NS" "$WAN_S_IF" --listen "$SP" \
	--forward "app=[::1]:$APP,closed=[::1]:$NOAPP,named=app6.udpc.test:$APP" || e2e_end
SERVER=$UDPC_PID
_udpc_daemon_bg tcp-client "$C_NS" "$A" --destinations "[$WAN_S6]:$SP,[$WAN_S6]:$SP@$B" \
	--forward "[::1]:$LP=app,[::1]:$((LP + 1))=closed,127.0.0.1:$((LP + 2))=app,[::1]:$((LP + 3))=named,[::]:$((LP + 4))=app" ||
	e2e_end
CLIENT=$UDPC_PID
assert_file_contains "$E2E_TMP/udpc-$WAN_S_IF.log" "serving"
assert_file_contains "$E2E_TMP/udpc-$A.log" "flow to $WAN_S6 port" "the internal flow is IPv6"

# from ADDR: how many connections reached the service from ADDR
from() { grep -cx "accepted from $1" "$E2E_TMP/app.log"; }

# tcpc NAME ADDR:PORT ARGS...: udpc-tcp client in the client namespace; stats in NAME
tcpc() {
	local name=$1
	shift
	nsx "$C_NS" timeout -k 5 60 "$TCPT" client "$@" >"$E2E_TMP/$name" 2>&1
}

# -- 1. IPv6 all the way
tcpc v6 "[::1]:$LP" --down "$MB2" --up "$MB2" --timeout 30
assert_eq "IPv6: 2 MB each way intact, closed right after the last byte" 1 "$(stat_get "$E2E_TMP/v6" ok)"
assert_eq "tcp-server reached the service from ::1" 1 "$(from ::1)"
echo "    IPv6 end to end, 10% loss on both uplinks: $(stat_get "$E2E_TMP/v6" mbps) MB/s ($(stat_get "$E2E_TMP/v6" seconds) s)"

# -- 2. a refused IPv6 target resets the client's connection
tcpc refused "[::1]:$((LP + 1))" --down 1000 --timeout 20 --expect-reset ||
	fail "refused IPv6 target: $(paste -sd' ' "$E2E_TMP/refused")"
assert_eq "refused IPv6 target: reset" 1 "$(stat_get "$E2E_TMP/refused" reset)"

# -- 3. mixed: IPv4 application, IPv6 paths and target
tcpc mixed "127.0.0.1:$((LP + 2))" --down "$MB2" --up "$MB2" --timeout 30
assert_eq "IPv4 application to an IPv6 target: intact" 1 "$(stat_get "$E2E_TMP/mixed" ok)"
assert_eq "mixed: the service was reached over IPv6 again" 2 "$(from ::1)"

# -- 4. a target name with only an IPv6 address, a few connections at once
tcpc named "[::1]:$((LP + 3))" --down 200000 --up 100000 --conns 20 --parallel 10 --timeout 30
assert_eq "a name with an IPv6 address only: 20 connections intact" 20 "$(stat_get "$E2E_TMP/named" ok)"
assert_eq "the name's connections came from $WAN_S6" 20 "$(from "$WAN_S6")"

# -- 5. the [::] listener, at the client's address on uplink 1
tcpc any "[$WAN_C6_1]:$((LP + 4))" --down 100000 --up 100000 --timeout 30
assert_eq "a listener on [::]: intact" 1 "$(stat_get "$E2E_TMP/any" ok)"

# both uplinks carried the flow (its destinations are IPv6 literals only)
for k in 1 2; do
	wan_dump "$k" || e2e_end
	assert_ge "uplink $k: packets from the client" 1000 "$(wan_get "$k" a2b.in)"
done

bg_stop "$CLIENT"
bg_stop "$SERVER"
bg_stop "$APP_PID"
e2e_end
