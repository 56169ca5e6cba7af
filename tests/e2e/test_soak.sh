#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Soak: SOAK_SECS (default 60) of steady traffic at SOAK_RATE datagrams a second
# (default 2000) while two of three destinations change address every
# SOAK_CHANGE seconds (default 3): the hosts file the daemon reads is rewritten,
# --resolve-interval 1. Every address a name cycles through has a receiver on
# that destination's port, so no loss at all is expected:
#   - each datagram reaches exactly three receivers (one per destination), none
#     lost, none doubled, none corrupt; the counters agree; the replies all come
#     back except those in flight from a name's old address when it moved (ingress
#     no longer knows that address: see docs/RELIABILITY.md), at most two a change;
#   - the daemon's RSS (VmRSS) does not grow after a warm-up, and its open file
#     descriptors stay the same in number (sampled every 5 s, printed);
#   - after detach no map and no program of this run is left in the kernel (their
#     ids, noted while running, are gone from `bpftool`).
# Then, with valgrind installed (SOAK_VALGRIND=0 skips it), a shorter run
# (SOAK_VG_SECS, default 15) of the daemon under memcheck with the same address
# churn: no error and no leak in our code. What valgrind reports inside libbpf
# (uninitialised bytes in bpf_attr/netlink, false positives) and the one-off
# state of the resolver thread that is never joined are suppressed, by name.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
SECS=${SOAK_SECS:-60}
RATE=${SOAK_RATE:-2000}
CHANGE=${SOAK_CHANGE:-3}
VG_SECS=${SOAK_VG_SECS:-15}
R4_4=198.51.100.4
RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-512}

e2e_begin soak
require_udpc
require_peer
require_cmd jq unshare mount bpftool
grep -Eq '^hosts:.*[[:space:]]files([[:space:]]|$)' /etc/nsswitch.conf 2>/dev/null ||
	e2e_skip "/etc/nsswitch.conf has no 'files' source for hosts"
topo_star || e2e_end
addr_add "$S_NS" "$S_IF" "$R4_4/32" || e2e_end
neigh_warm "$C_NS" "$C_IF" "$S4" || e2e_end

HOSTS=$E2E_TMP/hosts
RESOLV=$E2E_TMP/resolv.conf
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$RESOLV"
# hosts_phase K: b and c on their K-th address (in place: the bind mount pins the inode)
hosts_phase() {
	local b c
	if [ $(($1 % 2)) = 0 ]; then b=$R4_2 c=$R4_3; else b=$R4_3 c=$R4_4; fi
	printf '%s\n' "127.0.0.1 localhost" "$R4_1 a.soak.test" "$b b.soak.test" "$c c.soak.test" \
		>"$HOSTS"
}
hosts_phase 0
wrapper() { # wrapper FILE [PREFIX...]: udpclone-bpf (under PREFIX) seeing our hosts file
	cat >"$1" <<EOF
#!/bin/sh
exec unshare -m --propagation private sh -c \\
	'mount --bind "\$1" /etc/hosts && mount --bind "\$2" /etc/resolv.conf && shift 2 && exec "\$@"' \\
	sh "$HOSTS" "$RESOLV" ${*:2} "$UDPC" "\$@"
EOF
	chmod +x "$1"
}
wrapper "$E2E_TMP/udpc-soak"

# receivers: a on one address, b and c on both of theirs
declare -A ECH
for r in "a $R4_1 9000" "b2 $R4_2 9001" "b3 $R4_3 9001" "c3 $R4_3 9002" "c4 $R4_4 9002"; do
	# shellcheck disable=SC2086 # split on purpose
	set -- $r
	peer_echo_bg "$S_NS" "$2:$3" "r$1" "$E2E_TMP/echo-$1" || e2e_end
	ECH[$1]=$BG_PID
done

DESTS=a.soak.test:9000,b.soak.test:9001,c.soak.test:9002
UDPC=$E2E_TMP/udpc-soak udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" --destinations "$DESTS" \
	--resolve-interval 1 || e2e_end
DAEMON=$UDPC_PID

# the ids of what this run loaded, to look for after detach
MAP_IDS=$(for f in "$UDPC_PIN_ROOT/$C_IF"/*; do bpftool map show pinned "$f" 2>/dev/null; done |
	awk -F: '/^[0-9]+:/ {print $1}' | sort -n | paste -sd' ')
PROG_IDS=$({ udpc_filter_ids "$C_NS" "$C_IF" ingress; udpc_filter_ids "$C_NS" "$C_IF" egress; } |
	paste -sd' ')
e2e_log "maps: $MAP_IDS; programs: $PROG_IDS"
assert_ge "maps noted" 5 "$(wc -w <<<"$MAP_IDS")"
assert_eq "programs noted" 2 "$(wc -w <<<"$PROG_IDS")"

N=$((SECS * RATE))
nsx_bg "$C_NS" "$PEER" send --to "$R4_1:$P" --count $N --rate "$RATE" --wait-replies 5 \
	--expect-repliers 3 >"$E2E_TMP/send" 2>"$E2E_TMP/send.log"
SENDER=$BG_PID

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON/status" 2>/dev/null; }
fds() { ls "/proc/$DAEMON/fd" 2>/dev/null | wc -l; }
SAMPLES=$E2E_TMP/samples
echo "t_s rss_kb fds" >"$SAMPLES"
t0=$SECONDS phase=0 next_change=$CHANGE next_sample=0 changes=0
while pid_alive "$SENDER" && [ $((SECONDS - t0)) -le $((SECS + 30)) ]; do
	t=$((SECONDS - t0))
	if [ "$t" -ge "$next_sample" ]; then
		echo "$t $(rss) $(fds)" >>"$SAMPLES"
		next_sample=$((next_sample + 5))
	fi
	if [ "$t" -ge "$next_change" ] && [ "$t" -lt "$SECS" ]; then
		phase=$((phase + 1))
		hosts_phase "$phase"
		changes=$((changes + 1))
		next_change=$((next_change + CHANGE))
	fi
	sleep 0.2
done
pid_alive "$SENDER" && fail "sender still running after $((SECS + 30)) s"
wait "$SENDER" || fail "sender failed: $(head -c 300 "$E2E_TMP/send.log")"
echo "$((SECONDS - t0)) $(rss) $(fds)" >>"$SAMPLES"
e2e_log "samples (t, VmRSS kB, fds): $(tail -n +2 "$SAMPLES" | paste -sd'|')"
echo "measure: soak ${SECS}s rate $RATE changes $changes samples $(tail -n +2 "$SAMPLES" | paste -sd'|')"

udpc_json_save "$C_NS" "$C_IF" "$E2E_TMP/st.json" || fail "status failed"
j() { udpc_json "" "" "$1" "$E2E_TMP/st.json"; }
for k in "${!ECH[@]}"; do bg_stop "${ECH[$k]}"; done

# -- no loss
f=$E2E_TMP/send
sent=$(stat_get "$f" sent)
assert_eq "sent" $N "$sent"
assert_eq "send_errors" 0 "$(stat_get "$f" send_errors)"
assert_eq "every datagram answered" $N "$(stat_get "$f" replies_unique_seq)"
# Replies: one already on its way from a name's old address when the daemon moves
# the slot is still taken, for UDPC_PREV_GRACE_S seconds (udpc_prev): none lost.
lost=$((3 * N - $(stat_get "$f" replies_total)))
e2e_log "replies lost at address changes: $lost over $((2 * changes)) changes"
echo "measure: replies_lost_at_changes=$lost name_changes=$((2 * changes))"
assert_eq "replies lost at address changes" 0 "$lost"
assert_eq "replies from a (never moves)" $N "$(stat_get "$f" "replies_from ra" 3)"
assert_eq "duplicate replies" 0 "$(stat_get "$f" replies_dup)"
u() { stat_get "$E2E_TMP/echo-$1" unique; }
assert_eq "a got everything" $N "$(u a)"
assert_eq "b: its two addresses together got everything" $N $(($(u b2) + $(u b3)))
assert_eq "c: its two addresses together got everything" $N $(($(u c3) + $(u c4)))
for k in a b2 b3 c3 c4; do
	assert_eq "r$k dup" 0 "$(stat_get "$E2E_TMP/echo-$k" dup)"
	assert_eq "r$k corrupt" 0 "$(stat_get "$E2E_TMP/echo-$k" corrupt)"
done
assert_ge "address changes during the run" $((SECS / CHANGE - 2)) "$changes"
assert_ge "b's second address was used" 1 "$(u b3)"
assert_eq "matched" $N "$(j .counters.matched)"
for i in 0 1 2; do
	assert_eq "dest $i tx_packets" $N "$(j ".destinations[$i].tx_packets")"
	assert_eq "dest $i tx_errors" 0 "$(j ".destinations[$i].tx_errors")"
done
assert_eq "flow_errors" 0 "$(j .counters.flow_errors)"

# -- no growth: RSS after the warm-up (the sample at 10 s) vs the last; fds constant
rss_warm=$(awk 'NR > 1 && $1 >= 10 {print $2; exit}' "$SAMPLES")
rss_last=$(tail -n 1 "$SAMPLES" | awk '{print $2}')
assert_le "VmRSS growth after warm-up (kB; ${rss_warm:-?} -> ${rss_last:-?})" "$RSS_SLACK_KB" \
	$((${rss_last:-0} - ${rss_warm:-0}))
assert_eq "open fds constant (distinct counts over the run)" 1 \
	"$(awk 'NR > 1 && $1 >= 5 {print $3}' "$SAMPLES" | sort -u | grep -c .)"

# -- nothing left after detach
rc=0
bg_stop "$DAEMON" 10 || rc=$?
assert_eq "daemon exit status on SIGTERM" 0 "$rc"
assert_fail "pins after detach" udpc_pinned "$C_IF"
assert_eq "our filters after detach" 0 "$(udpc_filter_count "$C_NS" "$C_IF")"
# shellcheck disable=SC2317 # called through wait_until
ids_gone() {
	local id
	for id in $MAP_IDS; do bpftool map show id "$id" >/dev/null 2>&1 && return 1; done
	for id in $PROG_IDS; do bpftool prog show id "$id" >/dev/null 2>&1 && return 1; done
	return 0
}
wait_until 10 ids_gone || fail "maps or programs of this run still loaded after detach: $(
	for id in $MAP_IDS; do bpftool map show id "$id" 2>/dev/null | head -1; done)"

# -- the daemon under valgrind, with the same churn
if [ "${SOAK_VALGRIND:-1}" = 1 ] && command -v valgrind >/dev/null 2>&1; then
	cat >"$E2E_TMP/vg.supp" <<'EOF'
{
   libbpf_bpf_attr_partly_initialised_1
   Memcheck:Param
   bpf(attr->expected_attach_type)
   fun:syscall
   obj:*/libbpf.so*
}
{
   libbpf_bpf_attr_partly_initialised_2
   Memcheck:Param
   bpf(attr->prog_ifindex)
   fun:syscall
   obj:*/libbpf.so*
}
{
   libbpf_netlink_reply_parsing
   Memcheck:Cond
   obj:*/libbpf.so*
}
{
   libbpf_netlink_reply_parsing_value
   Memcheck:Value8
   obj:*/libbpf.so*
}
{
   glibc_resolver_state_of_the_never_joined_resolver_thread
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   ...
   fun:__resolv_conf_allocate
}
{
   glibc_stack_of_the_never_joined_resolver_thread
   Memcheck:Leak
   match-leak-kinds: possible
   ...
   fun:pthread_create*
}
EOF
	wrapper "$E2E_TMP/udpc-vg" valgrind --quiet --leak-check=full --error-exitcode=42 \
		--suppressions="$E2E_TMP/vg.supp" --log-file="$E2E_TMP/valgrind.log"
	hosts_phase 0
	for k in a b2 b3 c3 c4; do
		# shellcheck disable=SC2046 # split on purpose
		set -- $(case $k in a) echo "$R4_1 9000" ;; b2) echo "$R4_2 9001" ;; b3) echo "$R4_3 9001" ;;
			c3) echo "$R4_3 9002" ;; c4) echo "$R4_4 9002" ;; esac)
		peer_echo_bg "$S_NS" "$1:$2" "r$k" "$E2E_TMP/vecho-$k" || e2e_end
		ECH[$k]=$BG_PID
	done
	# valgrind is slow to load the programs: a longer bound than udpc_attach_bg's
	nsx_bg "$C_NS" "$E2E_TMP/udpc-vg" attach "$C_IF" --listen "$P" --destinations "$DESTS" \
		--resolve-interval 1 --ready-fd 3 >>"$E2E_TMP/udpc-vg.log" 2>&1 3>"$E2E_TMP/udpc-vg.ready"
	VG=$BG_PID
	wait_until $((3 * UDPC_READY_TIMEOUT)) udpc_ready "$E2E_TMP/udpc-vg.ready" "$VG"
	[ -s "$E2E_TMP/udpc-vg.ready" ] || fail "daemon under valgrind did not come up"
	VN=$((VG_SECS * 200))
	nsx_bg "$C_NS" "$PEER" send --to "$R4_1:$P" --count $VN --rate 200 --wait-replies 5 \
		--expect-repliers 3 >"$E2E_TMP/vsend" 2>"$E2E_TMP/vsend.log"
	SENDER=$BG_PID
	for ((k = 1; k <= VG_SECS / 2; k++)); do
		sleep 2
		hosts_phase "$k"
	done
	wait_until 30 eval "! pid_alive $SENDER" || fail "valgrind phase: sender still running"
	assert_eq "valgrind phase: every datagram answered" $VN \
		"$(stat_get "$E2E_TMP/vsend" replies_unique_seq)"
	rc=0
	bg_stop "$VG" 30 || rc=$?
	for k in "${!ECH[@]}"; do bg_stop "${ECH[$k]}"; done
	e2e_log "valgrind: exit $rc; $(grep -E 'ERROR SUMMARY|definitely lost|suppressed:' "$E2E_TMP/valgrind.log" | sed 's/==[0-9]*== //' | paste -sd'|')"
	echo "measure: valgrind exit=$rc $(grep -E 'ERROR SUMMARY' "$E2E_TMP/valgrind.log" | sed 's/==[0-9]*== //')"
	assert_eq "the daemon under valgrind: exit status (42 = memcheck errors or leaks)" 0 "$rc"
	assert_file_not_contains "$E2E_TMP/valgrind.log" "definitely lost: [1-9]" "valgrind: nothing definitely lost"
	assert_fail "pins after the valgrind run" udpc_pinned "$C_IF"
fi
e2e_end
