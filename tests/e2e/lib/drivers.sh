# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# shellcheck shell=bash
#
# The drivers of the programs under test, layer 3 of tests/e2e/lib.sh: udpc-peer
# (peer_echo_bg, peer_send, echo receivers and their stats), flows_send, and
# udpclone-bpf (udpc_attach_bg, udpc, status JSON, our TC filters, pins, next
# hops, neighbours, udpc_with_resolver). Needs lib/harness.sh (processes, nsx,
# assertions, cleanup) and lib/topo.sh (the namespaces they run in) sourced first.

declare -F e2e_begin >/dev/null || { echo "drivers.sh: source lib/harness.sh first" >&2; return 1; }

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

# How long a daemon may take to become ready: tens of milliseconds here, but a first
# DNS round against a dead server, valgrind or a machine busy with other work can make
# it seconds. A bound, not a delay: every wait on it ends as soon as the daemon says
# it is ready.
UDPC_READY_TIMEOUT=${UDPC_READY_TIMEOUT:-60}
UDPC_PID=

# udpc_attach_bg NS IFACE ARGS...: starts `udpclone-bpf attach IFACE ARGS...` in the
# background in NS, remembers it, waits (bounded) until it says it is ready: both
# programs attached (--ready-fd, on fd 3 into $E2E_TMP/udpc-IFACE.ready).
# UDPC_PID is the daemon's pid; its log is $E2E_TMP/udpc-IFACE.log.
udpc_attach_bg() { _udpc_daemon_bg attach "$@"; }

# udpc_serve_bg NS IFACE ARGS...: the same for `udpclone-bpf serve IFACE ARGS...`.
udpc_serve_bg() { _udpc_daemon_bg serve "$@"; }

_udpc_daemon_bg() {
	local cmd=$1 ns iface=$3 log ready
	ns=$(_ns "$2")
	shift 3
	log="$E2E_TMP/udpc-$iface.log"
	ready="$E2E_TMP/udpc-$iface.ready"
	iface_remember "$iface" || return 1
	echo "$ns $iface" >>"$E2E_TMP/.attached"
	nsx_bg "$ns" "$UDPC" "$cmd" "$iface" "$@" --ready-fd 3 >>"$log" 2>&1 3>"$ready"
	UDPC_PID=$BG_PID
	if ! wait_until "$UDPC_READY_TIMEOUT" udpc_ready "$ready" "$UDPC_PID"; then
		fail "$cmd $iface did not come up in ${UDPC_READY_TIMEOUT}s: $(tail -c 500 "$log" | paste -sd'|' -)"
		return 1
	fi
	if ! pid_alive "$UDPC_PID" || [ "$(cat "$ready")" != ready ]; then
		fail "$cmd $iface exited: $(tail -c 500 "$log" | paste -sd'|' -)"
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
# shellcheck disable=SC2034 # DESTS and ECHO are for the test that called it
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
