#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# `status --prometheus`: the text exposition format, with the same numbers as
# `status --json`.
#
#   1. Two reachable destinations and a name that does not resolve; N datagrams
#      through. The output is well formed (HELP and TYPE before each metric's
#      samples, one group per metric, no series twice; promtool agrees where it is
#      installed) and says what happened: N copies and N replies per reachable
#      destination, states active/unresolved, reply ages, the global counters.
#   2. Label values are escaped: an interface named with a double quote and a
#      backslash (legal in Linux interface names) comes out as \" and \\.
#   3. With no IFACE, every interface's samples still form one group per metric.
#   4. --json with --prometheus is bad usage; an interface with nothing attached
#      fails with exit 1.
#
# It runs in a private mount namespace with a bpffs of its own, so that "every
# interface" means this test's two, whatever other runs have pinned meanwhile.
set -u
if [ "${UDPC_PROM_OWN_BPFFS:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	UDPC_PROM_OWN_BPFFS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

N=200
P=5743

e2e_begin prometheus
[ "${UDPC_PROM_OWN_BPFFS:-}" = 1 ] || e2e_skip "needs unshare (a private mount namespace)"
mount -t bpf bpf /sys/fs/bpf || e2e_skip "cannot mount a bpffs of its own"
require_udpc
require_peer
require_cmd jq mount awk
topo_star || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end

# A name that fails at once: the daemon sees our resolv.conf (DNS at 127.0.0.1 in the
# client namespace, where nothing answers), as in test_dns.
RESOLV=$E2E_TMP/resolv.conf
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$RESOLV"
WRAP=$E2E_TMP/udpc-resolv
cat >"$WRAP" <<EOF
#!/bin/sh
exec unshare -m --propagation private sh -c \\
	'mount --bind "\$1" /etc/resolv.conf && shift && exec "\$@"' sh "$RESOLV" "$UDPC" "\$@"
EOF
chmod +x "$WRAP"

echo_receivers "$S_NS" "$R4_1:9000" "$R4_2:9001" || e2e_end
UDPC=$WRAP udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" \
	--destinations "$DESTS,nx.udpc.invalid:9002" || e2e_end

peer_send "$C_NS" "$E2E_TMP/send" --to "$R4_1:$P" --count "$N" --rate 1000 \
	--wait-replies 5 --expect-repliers 2
assert_eq "client replies_total" $((2 * N)) "$(stat_get "$E2E_TMP/send" replies_total)"

PROM=$E2E_TMP/metrics.prom
rc=0
udpc "$C_NS" status "$C_IF" --prometheus >"$PROM" 2>"$PROM.err" || rc=$?
assert_eq "status --prometheus exit" 0 "$rc"
assert_eq "status --prometheus stderr" "" "$(cat "$PROM.err")"
udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/status.json" || fail "status --json failed"

# prom_check FILE: the format's rules this output must keep, one message per breach.
prom_check() {
	awk '
	function base(n) { sub(/\{.*/, "", n); return n }
	/^# HELP / { help[$3] = NR; next }
	/^# TYPE / {
		if (!($3 in help)) print NR ": TYPE before HELP for " $3
		if ($3 in type) print NR ": second TYPE for " $3
		if ($4 !~ /^(counter|gauge)$/) print NR ": type " $4
		type[$3] = $4; next }
	/^#/ { print NR ": stray comment"; next }
	{
		if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? -?[0-9]+(\.[0-9]+)?$/)
			print NR ": malformed sample: " $0
		name = base($1)
		if (!(name in type)) print NR ": sample before TYPE: " name
		if (name != last && (name in seen)) print NR ": " name " is not in one group"
		seen[name] = 1; last = name
		series = $0; sub(/ [^ ]*$/, "", series)
		if (series in dup) print NR ": series twice: " series
		dup[series] = 1
		if (type[name] == "counter" && name !~ /_total$/) print NR ": counter without _total: " name
	}' "$1"
}
assert_eq "exposition format rules" "" "$(prom_check "$PROM")"
if command -v promtool >/dev/null 2>&1; then
	assert_ok "promtool check metrics" sh -c "promtool check metrics <'$PROM' >'$PROM.lint' 2>&1"
fi

# metric NAME LABELS: the value of the one sample NAME{LABELS} (labels in output order).
metric() { awk -v s="$1{$2}" 'index($0, s " ") == 1 { print $NF }' "$PROM"; }
I="interface=\"$C_IF\""
d() { echo "$I,destination=\"$1\",slot=\"$2\""; }
# shellcheck disable=SC2034 # D0, D1: read as ${!D}
D0=$(d "$R4_1:9000" 0) D1=$(d "$R4_2:9001" 1) D2=$(d nx.udpc.invalid:9002 2)

assert_eq "build_info" 1 "$(metric udpclone_bpf_build_info "version=\"$("$UDPC" --version | cut -d' ' -f2)\"")"
assert_eq "daemon_running" 1 "$(metric udpclone_bpf_daemon_running "$I")"
assert_eq "filter ingress" 1 "$(metric udpclone_bpf_filter_attached "$I,hook=\"ingress\"")"
assert_eq "filter egress" 1 "$(metric udpclone_bpf_filter_attached "$I,hook=\"egress\"")"
assert_eq "flows" 1 "$(metric udpclone_bpf_flows "$I")"
assert_eq "matched" "$N" "$(metric udpclone_bpf_matched_packets_total "$I")"
for m in no_destination_drops skipped_packets flow_errors replies_no_flow; do
	assert_eq "$m" 0 "$(metric "udpclone_bpf_${m}_total" "$I")"
done
for i in 0 1; do
	D=D$i A=R4_$((i + 1))
	assert_eq "slot $i info" 1 \
		"$(metric udpclone_bpf_destination_info "${!D},host=\"${!A}\",port=\"900$i\",ipv4=\"${!A}\",ipv6=\"\"")"
	assert_eq "slot $i active" 1 "$(metric udpclone_bpf_destination_state "${!D},state=\"active\"")"
	assert_eq "slot $i not stale" 0 "$(metric udpclone_bpf_destination_state "${!D},state=\"stale\"")"
	assert_eq "slot $i tx_packets" "$N" "$(metric udpclone_bpf_tx_packets_total "${!D}")"
	assert_eq "slot $i rx_packets" "$N" "$(metric udpclone_bpf_rx_packets_total "${!D}")"
	for m in tx_bytes tx_errors fib_errors neigh_missing rx_bytes; do
		assert_eq "slot $i $m as in JSON" "$(udpc_json "" "" ".destinations[$i].$m" "$E2E_TMP/status.json")" \
			"$(metric "udpclone_bpf_${m}_total" "${!D}")"
	done
	age=$(metric udpclone_bpf_last_reply_age_seconds "${!D}")
	if ! [[ $age =~ ^[0-9]+\.[0-9]{3}$ ]] || [ "${age%.*}" -ge 30 ]; then
		fail "slot $i last reply age: '$age'"
	fi
	ts=$(metric udpclone_bpf_destination_last_resolved_timestamp_seconds "${!D}")
	assert_between "slot $i last resolved" $(($(date +%s) - 60)) "$(date +%s)" "$ts"
done
assert_eq "slot 2 unresolved" 1 "$(metric udpclone_bpf_destination_state "$D2,state=\"unresolved\"")"
assert_eq "slot 2 not active" 0 "$(metric udpclone_bpf_destination_state "$D2,state=\"active\"")"
assert_eq "slot 2 no address" 1 \
	"$(metric udpclone_bpf_destination_info "$D2,host=\"nx.udpc.invalid\",port=\"9002\",ipv4=\"\",ipv6=\"\"")"
assert_eq "slot 2 tx_packets" 0 "$(metric udpclone_bpf_tx_packets_total "$D2")"
assert_eq "slot 2: no reply age" "" "$(metric udpclone_bpf_last_reply_age_seconds "$D2")"
assert_eq "slot 2: never resolved" "" \
	"$(metric udpclone_bpf_destination_last_resolved_timestamp_seconds "$D2")"
assert_eq "destinations in the output" 3 "$(grep -c '^udpclone_bpf_tx_packets_total{' "$PROM")"

# -- 2. escaping: a veth (both ends in the client namespace) named q"\RUNID, attached
# by hand (the harness only handles plain names): the daemon removes its pins on
# SIGTERM; checked below.
QIF="q\"\\$RUNID"
QPIN="$UDPC_PIN_ROOT/$QIF"
if ! ip -n "$C_NS" link add "$QIF" type veth peer name "qp$RUNID" ||
	! ip -n "$C_NS" link set "$QIF" up; then
	fail "cannot create an interface named '$QIF'"
fi
nsx_bg "$C_NS" "$UDPC" attach "$QIF" --listen 9 --destinations 192.0.2.99:9 \
	>"$E2E_TMP/udpc-q.log" 2>&1
QPID=$BG_PID
wait_until 10 sh -c "nsenter --net=/run/netns/$C_NS -- '$UDPC' status '$QIF' --json 2>/dev/null |
	grep -q '\"egress\":true'" || fail "attach to '$QIF' did not come up: $(cat "$E2E_TMP/udpc-q.log")"
udpc "$C_NS" status "$QIF" --prometheus >"$E2E_TMP/q.prom" 2>"$E2E_TMP/q.err"
# shellcheck disable=SC1003 # backslashes in a regular expression
assert_file_contains "$E2E_TMP/q.prom" '^udpclone_bpf_daemon_running\{interface="q\\"\\\\'"$RUNID"'"\} 1$' \
	"interface label escaped"
assert_eq "escaped output: format rules" "" "$(prom_check "$E2E_TMP/q.prom")"

# -- 3. both interfaces at once
rc=0
udpc "$C_NS" status --prometheus >"$E2E_TMP/all.prom" 2>"$E2E_TMP/all.err" || rc=$?
assert_eq "all interfaces: exit" 0 "$rc"
assert_eq "all interfaces: format rules" "" "$(prom_check "$E2E_TMP/all.prom")"
assert_eq "all interfaces: daemons" 2 "$(grep -c '^udpclone_bpf_daemon_running{' "$E2E_TMP/all.prom")"
assert_file_contains "$E2E_TMP/all.prom" "^udpclone_bpf_flows\\{interface=\"$C_IF\"\\} 1$" "all: $C_IF"
assert_file_contains "$E2E_TMP/all.prom" '^udpclone_bpf_flows\{interface="q\\"' "all: $QIF"

bg_stop "$QPID" 5 || fail "attach to '$QIF' exited $?"
if [ -e "$QPIN" ]; then
	fail "pins of '$QIF' left after SIGTERM"
	rm -rf -- "$QPIN"
fi

# -- 4. errors
rc=0
udpc "$C_NS" status "$C_IF" --json --prometheus >/dev/null 2>"$E2E_TMP/both.err" || rc=$?
assert_eq "--json --prometheus: exit" 2 "$rc"
assert_file_contains "$E2E_TMP/both.err" 'exclude each other' "--json --prometheus: message"
rc=0
udpc "$C_NS" status "nothere$RUNID" --prometheus >/dev/null 2>&1 || rc=$?
assert_eq "--prometheus of an interface with nothing attached: exit" 1 "$rc"

e2e_end
