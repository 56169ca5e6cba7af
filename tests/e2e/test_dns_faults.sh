#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# DNS faults through the real resolver path: the daemon runs in a private mount
# namespace whose /etc/resolv.conf points at 127.0.0.1 (the client namespace's),
# where this test runs a DNS server, and whose /etc/hosts knows none of the names.
# dnsmasq (dnsmasq-base) serves the names from a hosts file of ours, with a CNAME
# chain; a tiny python3 server answers SERVFAIL to everything. --resolve-interval 1.
#
#   1. a.udpc.test (A), c.udpc.test -> c2 -> c3 (CNAME chain to an A record) and
#      d.udpc.test (A and AAAA) all resolve: status shows c's final address and both
#      of d's; IPv4 traffic fans out to a, c and d, IPv6 traffic to d only.
#   2. The A record at the end of the CNAME chain changes: c follows it.
#   3. The DNS server is stopped (queries meet ICMP port unreachable): every name
#      goes "stale" with a last_error, and copies keep flowing to the last good
#      addresses. The server comes back: "active" again, by itself.
#   4. The server answers SERVFAIL: the same, stale then back to active.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
N=100
R4_4=198.51.100.4

e2e_begin dns_faults
require_udpc
require_peer
require_cmd jq unshare mount dnsmasq python3
topo_star || e2e_end
addr_add "$S_NS" "$S_IF" "$R4_4/32" || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end

HOSTS=$E2E_TMP/hosts           # what the daemon's /etc/hosts is: none of our names
DNS_HOSTS=$E2E_TMP/dns-hosts   # what dnsmasq serves
RESOLV=$E2E_TMP/resolv.conf
printf '127.0.0.1 localhost\n::1 localhost\n' >"$HOSTS"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$RESOLV"
# dns_hosts LINES...: rewrites what dnsmasq serves (re-read on SIGHUP)
dns_hosts() { printf '%s\n' "$@" >"$DNS_HOSTS"; }
dns_hosts "$R4_1 a.udpc.test" "$R4_3 c3.udpc.test" "$R4_2 d.udpc.test" "$R6_2 d.udpc.test"

# shellcheck disable=SC2317 # called through wait_until
dns_bound() { nsx "$C_NS" grep -q ' 0100007F:0035 ' /proc/net/udp; }
DNSMASQ=
dns_start() {
	nsx_bg "$C_NS" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		--addn-hosts="$DNS_HOSTS" --listen-address=127.0.0.1 --bind-interfaces --port=53 \
		--user=root --group=root --pid-file= --local-ttl=0 \
		--cname=c.udpc.test,c2.udpc.test --cname=c2.udpc.test,c3.udpc.test \
		>>"$E2E_TMP/dnsmasq.log" 2>&1
	DNSMASQ=$BG_PID
	wait_until 5 dns_bound || true
	pid_alive "$DNSMASQ" || { fail "dnsmasq did not start: $(tail -c 300 "$E2E_TMP/dnsmasq.log")"; return 1; }
}
SERVFAIL=
servfail_start() {
	cat >"$E2E_TMP/servfail.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
open(sys.argv[1], "w").close()
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    # same id and question, QR|RD|RA, RCODE 2 (SERVFAIL), no answers
    s.sendto(q[:2] + bytes([0x81 | (q[2] & 0x01), 0x82]) + q[4:6] + b"\0\0\0\0\0\0" + q[12:], peer)
EOF
	rm -f "$E2E_TMP/servfail.ready"
	nsx_bg "$C_NS" python3 "$E2E_TMP/servfail.py" "$E2E_TMP/servfail.ready" \
		>>"$E2E_TMP/servfail.log" 2>&1
	SERVFAIL=$BG_PID
	wait_until 5 test -e "$E2E_TMP/servfail.ready" || { fail "SERVFAIL server did not start"; return 1; }
}

dns_start || e2e_end
# what the resolver in the client namespace says, for the record (and the CNAME chain)
nsx "$C_NS" unshare -m --propagation private sh -c \
	"mount --bind '$HOSTS' /etc/hosts && mount --bind '$RESOLV' /etc/resolv.conf && getent ahosts c.udpc.test" \
	>"$E2E_TMP/getent-c.txt" 2>&1
assert_file_contains "$E2E_TMP/getent-c.txt" "^$R4_3 .*c3\\.udpc\\.test" "getaddrinfo follows the CNAME chain"

WRAP=$(udpc_with_resolver "$HOSTS" "$RESOLV") || e2e_end

peer_echo_bg "$S_NS" "$R4_1:9000" ra "$E2E_TMP/echo-a" || e2e_end
EA=$BG_PID
peer_echo_bg "$S_NS" "$R4_3:9002" rc3 "$E2E_TMP/echo-c3" || e2e_end
EC3=$BG_PID
peer_echo_bg "$S_NS" "$R4_4:9002" rc4 "$E2E_TMP/echo-c4" || e2e_end
EC4=$BG_PID
peer_echo_bg "$S_NS" "$R4_2:9001" rd4 "$E2E_TMP/echo-d4" || e2e_end
ED4=$BG_PID
peer_echo_bg "$S_NS" "[$R6_2]:9001" rd6 "$E2E_TMP/echo-d6" || e2e_end
ED6=$BG_PID

LOG=$E2E_TMP/udpc-$C_IF.log
UDPC=$WRAP udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" \
	--destinations a.udpc.test:9000,c.udpc.test:9002,d.udpc.test:9001 --resolve-interval 1 ||
	e2e_end

dest() { udpc_json "$C_NS" "$C_IF" ".destinations[] | select(.host == \"$1\") | .$2"; }
# shellcheck disable=SC2317 # called through wait_until
all_state() { local h; for h in a c d; do [ "$(dest "$h.udpc.test" state)" = "$1" ] || return 1; done; }
# shellcheck disable=SC2317
ipv4_is() { [ "$(dest "$1" ipv4)" = "$2" ]; }
send4() { # send4 NAME REPLIERS
	peer_send "$C_NS" "$E2E_TMP/$1" --to "$R4_1:$P" --count $N --rate 1000 --wait-replies 3 \
		--expect-repliers "$2"
	assert_eq "$1: every datagram answered by $2" $(($2 * N)) "$(stat_get "$E2E_TMP/$1" replies_total)"
}

# -- 1. resolution, CNAME chain, dual stack
wait_until 5 all_state active || fail "not every name active: $(udpc "$C_NS" status "$C_IF" 2>&1 | tail -4 | paste -sd'|')"
assert_eq "a" "$R4_1" "$(dest a.udpc.test ipv4)"
assert_eq "c (CNAME c -> c2 -> c3)" "$R4_3" "$(dest c.udpc.test ipv4)"
assert_eq "c has no IPv6" null "$(dest c.udpc.test ipv6)"
assert_eq "d IPv4" "$R4_2" "$(dest d.udpc.test ipv4)"
assert_eq "d IPv6" "$R6_2" "$(dest d.udpc.test ipv6)"
send4 p1 3
peer_send "$C_NS" "$E2E_TMP/p1v6" --to "[$R6_2]:$P" --count $N --rate 1000 --wait-replies 3 \
	--expect-repliers 1
assert_eq "p1 IPv6: answered by d's IPv6 address only" $N "$(stat_get "$E2E_TMP/p1v6" replies_total)"
assert_eq "p1 IPv6: from rd6" $N "$(stat_get "$E2E_TMP/p1v6" "replies_from rd6" 3)"
assert_eq "no_dest (every IPv6 packet had d)" 0 "$(udpc_json "$C_NS" "$C_IF" .counters.no_dest)"

# -- 2. the CNAME chain's A record changes
dns_hosts "$R4_1 a.udpc.test" "$R4_4 c3.udpc.test" "$R4_2 d.udpc.test" "$R6_2 d.udpc.test"
kill -HUP "$DNSMASQ"
wait_until 6 ipv4_is c.udpc.test "$R4_4" || fail "c did not follow its CNAME chain to $R4_4"
assert_file_contains "$LOG" "destination c\\.udpc\\.test:9002: address changed from $R4_3 to $R4_4" \
	"log: c moved"
send4 p2 3
assert_eq "p2: from c's new address" $N "$(stat_get "$E2E_TMP/p2" "replies_from rc4" 3)"

# -- 3. DNS server down: stale, copies go on; back: active
bg_stop "$DNSMASQ"
wait_until 8 all_state stale || fail "names not stale with the DNS server down"
assert_ne "a last_error while the server is down" null "$(dest a.udpc.test last_error)"
e2e_log "last_error with the server down: $(dest a.udpc.test last_error)"
assert_eq "stale c keeps its address" "$R4_4" "$(dest c.udpc.test ipv4)"
assert_eq "stale d keeps its IPv6 address" "$R6_2" "$(dest d.udpc.test ipv6)"
assert_file_contains "$LOG" "destination a\\.udpc\\.test:9000: cannot resolve .*still sending to $R4_1" \
	"log: a stale"
send4 p3 3
dns_start || e2e_end
wait_until 8 all_state active || fail "names not active again after the DNS server came back"
assert_eq "a last_error once resolved again" null "$(dest a.udpc.test last_error)"
assert_file_contains "$LOG" "destination a\\.udpc\\.test:9000: resolves again, still $R4_1" "log: a back"

# -- 4. SERVFAIL: stale, copies go on; back: active
bg_stop "$DNSMASQ"
servfail_start || e2e_end
wait_until 8 all_state stale || fail "names not stale while the server answers SERVFAIL"
e2e_log "last_error on SERVFAIL: $(dest a.udpc.test last_error)"
assert_ne "a last_error on SERVFAIL" null "$(dest a.udpc.test last_error)"
send4 p4 3
bg_stop "$SERVFAIL"
dns_start || e2e_end
wait_until 8 all_state active || fail "names not active again after SERVFAIL ended"
send4 p5 3

for p in "$EA" "$EC3" "$EC4" "$ED4" "$ED6"; do bg_stop "$p"; done
assert_eq "a got everything" $((5 * N)) "$(stat_get "$E2E_TMP/echo-a" unique)"
assert_eq "c: old + new address" $((5 * N)) \
	$(($(stat_get "$E2E_TMP/echo-c3" unique) + $(stat_get "$E2E_TMP/echo-c4" unique)))
assert_eq "c's old address: phase 1 only" $N "$(stat_get "$E2E_TMP/echo-c3" unique)"
assert_eq "d IPv4 got everything" $((5 * N)) "$(stat_get "$E2E_TMP/echo-d4" unique)"
assert_eq "d IPv6 got the IPv6 traffic" $N "$(stat_get "$E2E_TMP/echo-d6" unique)"
for r in a c3 c4 d4 d6; do
	assert_eq "r$r dup" 0 "$(stat_get "$E2E_TMP/echo-$r" dup)"
done
e2e_end
