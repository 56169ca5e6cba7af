#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# docs/STATUS.md is the contract of `status --json` and `status --prometheus`; this
# holds the output to it, reading the field tables from the document itself:
#
#   1. --json: the top-level members, every interface member and every destination
#      member (with an uplink object and with null) are the documented ones, no more,
#      no fewer, in the documented order (nested members as a.b).
#   2. --prometheus: the metrics printed are the documented ones with the documented
#      TYPE, each once.
#   3. One HOST:PORT form everywhere: an IPv6 destination is [ADDR]:PORT and an
#      uplink's has @IFACE, alike in the text output and the destination label.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
DOC=$E2E_ROOT/docs/STATUS.md

e2e_begin status_fields
require_udpc
require_peer
require_cmd jq awk
[ -r "$DOC" ] || e2e_skip "no $DOC"
topo_star || e2e_end
link_plain 1 || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end
# the uplink's next hop too: a copy to a neighbour not yet resolved is dropped until
# the daemon has it (bpf/lib/route.h), and destination 2 lost its first 8 of 20 once
neigh_warm "$C_NS" "$CP_IF" "$SP4" || e2e_end

# doc_fields SECTION: the first column's `names` of the table under the heading
# SECTION, one a line, in order ("`a`, `b`" in one cell gives both).
doc_fields() {
	awk -v want="$1" '
	/^#/ { on = ($0 == want); next }
	on && /^\| `/ {
		split($0, cell, "|"); c = cell[2]
		while (match(c, /`[^`]+`/)) { print substr(c, RSTART + 1, RLENGTH - 2); c = substr(c, RSTART + RLENGTH) }
	}' "$DOC"
}
# json_leaves FILTER FILE: FILTER's members in output order, nested objects as a.b,
# arrays and nulls as leaves.
json_leaves() {
	jq -r "$1 | paths(type != \"object\") | select(all(.[]; type == \"string\")) | join(\".\")" "$2"
}
# The lists in one line each, for readable messages.
flat() { paste -sd' ' -; }

# shellcheck disable=SC2016 # backquotes of the heading, not a command
TOP=$(doc_fields '## `--json`' | flat)
IFACE=$(doc_fields '### interface' | flat)
DEST=$(doc_fields '### destination' | flat)
for v in TOP IFACE DEST; do
	[ -n "${!v}" ] || fail "no field table found for $v in $DOC"
done
# a destination has either the uplink object's members or a null uplink
DEST_UP=$(tr ' ' '\n' <<<"$DEST" | grep -vx uplink | flat)
DEST_NOUP=$(tr ' ' '\n' <<<"$DEST" | grep -v '^uplink\.' | flat)

echo_receivers "$S_NS" "$R4_1:9000" "[$R6_1]:9000" "$P4_1:9000" || e2e_end
udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" \
	--destinations "$R4_1:9000,[$R6_1]:9000,$P4_1:9000@$CP_IF" || e2e_end
# IPv4 goes to the two IPv4 destinations, IPv6 to the IPv6 one
peer_send "$C_NS" "$E2E_TMP/send4" --to "$R4_1:$P" --count 20 --rate 1000 --wait-replies 3 \
	--expect-repliers 2
peer_send "$C_NS" "$E2E_TMP/send6" --to "[$R6_1]:$P" --count 20 --rate 1000 --wait-replies 3

J=$E2E_TMP/status.json
udpc_json_save "$C_NS" "$C_IF" "$J" || fail "status --json failed: $(cat "$J.err")"

# -- 1. JSON members, in order
assert_eq "top-level members" "$TOP" "$(jq -r 'keys_unsorted[]' "$J" | flat)"
assert_eq "interface members" "$IFACE" "$(json_leaves '.interfaces[0]' "$J" | flat)"
assert_eq "destination members (no uplink)" "$DEST_NOUP" "$(json_leaves '.interfaces[0].destinations[0]' "$J" | flat)"
assert_eq "destination members (IPv6, no uplink)" "$DEST_NOUP" "$(json_leaves '.interfaces[0].destinations[1]' "$J" | flat)"
assert_eq "destination members (uplink)" "$DEST_UP" "$(json_leaves '.interfaces[0].destinations[2]' "$J" | flat)"
# every number really is one, and the sample run left some in each family
assert_eq "uplink state" up "$(udpc_json "" "" '.destinations[2].uplink.state' "$J")"
for i in 0 1 2; do
	nm=$(udpc_json "" "" ".destinations[$i].neigh_missing" "$J")
	assert_eq "destination $i replies ($nm copies went before its next hop's MAC was known)" 20 \
		"$(udpc_json "" "" ".destinations[$i].rx_packets" "$J")"
done

# -- 2. Prometheus metrics and types
PROM=$E2E_TMP/metrics.prom
udpc "$C_NS" status "$C_IF" --prometheus >"$PROM" || fail "status --prometheus failed"
want=$(awk '/^## `--prometheus`/ { on = 1; next } /^##/ { on = 0 }
	on && /^\| `udpclone_bpf_/ { split($0, c, "|"); gsub(/[` ]/, "", c[2]); gsub(/ /, "", c[3]); print c[2], c[3] }' "$DOC" | sort)
[ -n "$want" ] || fail "no metric table found in $DOC"
assert_eq "metrics and types" "$want" "$(awk '/^# TYPE / { print $3, $4 }' "$PROM" | sort)"
assert_eq "each metric once" "" "$(awk '/^# TYPE / { print $3 }' "$PROM" | sort | uniq -d)"

# -- 3. one HOST:PORT form
# ere STRING: STRING as an extended regular expression matching it literally
# shellcheck disable=SC2001 # one sed beats a bash replacement per character
ere() { sed 's/[].[*^$\\+?(){}|]/\\&/g' <<<"$1"; }
for d in "$R4_1:9000" "[$R6_1]:9000" "$P4_1:9000@$CP_IF"; do
	re=$(ere "udpclone_bpf_tx_packets_total{interface=\"$C_IF\",destination=\"$d\",slot=")
	assert_file_contains "$PROM" "^$re" "destination label $d"
done
udpc "$C_NS" status "$C_IF" >"$E2E_TMP/status.txt" || fail "status failed"
assert_file_contains "$E2E_TMP/status.txt" "^  $(ere "[$R6_1]:9000") +active " "text: IPv6 bracketed"
assert_file_contains "$E2E_TMP/status.txt" "^  $(ere "$P4_1:9000@$CP_IF") +active " "text: uplink suffix"

e2e_end
