#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Benchmark: udpclone-bpf (kernel fan-out) against a userspace relay (udpc-relay)
# and against no relay at all (the client sends straight to one destination), in
# one run, on the namespace network of tests/e2e/lib.sh (topo_star and link_plain):
#
#   client ns: udpc-loadgen (CPU 0)                    server ns: udpc-sink (CPU 1)
#     kernel: udpclone-bpf on $C_IF, client sends to 198.51.100.1:5743
#     relay:  udpc-relay on 127.0.0.1:5743 (CPU 0), client sends to it
#     direct: client sends to 198.51.100.1:9000
#     peer:   udpclone-bpf attach --peer on $C_IF, copies to 198.51.100.1..N:7000,
#             udpclone-bpf serve on $S_IF (--listen 7000 --to 9000, daemon on CPU 1):
#             the server's kernel drops N-1 copies, the sink gets each datagram once
#   Every configuration has the same CPUs: the client host's work (the sender and
#   the fan-out, in the kernel or in the relay) on CPU 0, the receivers on CPU 1.
#   pair A ($C_IF): destinations 198.51.100.1..N port 9000 (counting sink) or 9001
#   (echo, for RTT); pair B ($CP_IF, no programs ever): 203.0.113.129..128+N, the
#   same, for the light-load RTT run, which interleaves the three configurations
#   packet by packet (one datagram to each in turn) while udpclone-bpf is
#   attached to $C_IF: direct and the relay's copies then go over pair B, so that
#   udpclone-bpf's programs never see their packets.
#
#   tests/bench/bench.sh quick   N = 3 (and direct), 512-byte payloads, peer mode, TCP: about 4 minutes
#   tests/bench/bench.sh full    N = 1 2 3 4 8 16 x 64/512/1400 bytes, 100,000 flows
#   (peer mode at N = 3 in quick mode, N = 1 3 16 in full mode: BENCH_PEER_NS)
#   Then TCP streams (issue 14): tests/bench/tcp.sh MODE, in namespaces of its own
#   (tcp-client -> tcp-server against plain TCP, results-tcp.tsv; it runs alone too).
#
# Writes $OUT/bench/results.md (tables), results.png (chart), results-*.tsv (raw
# numbers), logs/ (every tool's output) and, in full mode, profile-*.txt (perf).
# Peer mode (issue 13): results-peer.tsv; its CPU runs are made with the server
# interface's receive work steered to CPU 1 (RPS) and kernel.bpf_stats_enabled on,
# next to a plain-mode run made the same way, so that CPU 0 holds the client
# host's work only and each program's own run time is known.
# Exit status: 0 when it ran (whether or not the bar of issue 5 is met: the table
# says), 1 when it could not run. See docs/PERFORMANCE.md for what is measured.
#
# Environment: BENCH_TCP=0 (no TCP part; its own knobs: tests/bench/tcp.sh),
# BENCH_NICE (default -10), BENCH_REPS (repetitions, median; 3),
# BENCH_TRIAL (seconds per sweep trial), BENCH_NS, BENCH_SIZES, BENCH_PEER_NS (override
# the mode's lists; BENCH_PEER_NS= skips peer mode), BENCH_PEER_ROUNDS (peer against
# plain with the receive work on CPU 1: rounds, 2 or 3), BENCH_PROFILE=0/1 (perf profiles; default 1 in full mode), BENCH_RELAY_OPTS
# (udpc-relay's options; default "--connect --gso"), BENCH_LAYOUT=fair|old (old: the
# relay and the daemon on CPU 1 with the receivers, as in the runs before 2026-12-04;
# with BENCH_RELAY_OPTS=--connect it reproduces them).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
MODE=${1:-quick}
case $MODE in quick | full) ;; *) echo "usage: $0 quick|full" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: needs root (network namespaces, BPF): sudo $0 $MODE" >&2
	exit 1
fi
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh

BD=$OUT/bench
LOADGEN=$BD/udpc-loadgen SINK=$BD/udpc-sink RELAY=$BD/udpc-relay
for t in "$UDPC" "$LOADGEN" "$SINK" "$RELAY"; do
	[ -x "$t" ] || { echo "bench: $t not built (make bench-tools)" >&2; exit 1; }
done
if ! command -v ethtool >/dev/null 2>&1; then
	echo "bench: installing ethtool (the client's veths must not pass UDP GSO through)" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends ethtool; } >/dev/null 2>&1 || { echo "bench: no ethtool" >&2; exit 1; }
fi
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "bench: installing gnuplot-nox (for the chart)" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends gnuplot-nox; } >/dev/null 2>&1 || echo "bench: no gnuplot: no chart" >&2
fi

NICE=${BENCH_NICE:--10}
read -ra RELAY_OPTS <<<"${BENCH_RELAY_OPTS:---connect --gso}"
LAYOUT=${BENCH_LAYOUT:-fair}
case $LAYOUT in
fair) HOST_CPU=0 ;; # the relay and the daemon with the client
old) HOST_CPU=1 ;;  # ... with the receivers
*) echo "bench: BENCH_LAYOUT is fair or old" >&2; exit 2 ;;
esac
REPS=${BENCH_REPS:-3}
LISTEN=5743 PEER_PORT=7000 # attach --listen; serve --listen (--to is the sink's port)
if [ "$MODE" = quick ]; then
	read -ra NS <<<"${BENCH_NS:-3}"
	read -ra SIZES <<<"${BENCH_SIZES:-512}"
	read -ra PEER_NS <<<"${BENCH_PEER_NS-3}"
	PEER_ROUNDS=${BENCH_PEER_ROUNDS:-2}
	TRIAL=${BENCH_TRIAL:-0.5} PRECISION=0.05 CPU_SEC=1.5 RTT_ROUNDS=1 RTT_NS=(3) RTT_SEC=3
	START_PPS=40000 RETRIES=1
	PROFILE=${BENCH_PROFILE:-0} FLOWS=0
else
	read -ra NS <<<"${BENCH_NS:-1 2 3 4 8 16}"
	read -ra SIZES <<<"${BENCH_SIZES:-64 512 1400}"
	read -ra PEER_NS <<<"${BENCH_PEER_NS-1 3 16}"
	PEER_ROUNDS=${BENCH_PEER_ROUNDS:-3}
	TRIAL=${BENCH_TRIAL:-0.8} PRECISION=0.04 CPU_SEC=2 RTT_ROUNDS=3 RTT_NS=(3 16) RTT_SEC=3
	START_PPS=20000 RETRIES=2
	PROFILE=${BENCH_PROFILE:-1} FLOWS=100000
fi
# RTT: light load = RTT_LIGHT pps per configuration, the three interleaved packet by
# packet in one run of RTT_LIGHT_SEC; heavy load = in RTT_SLICE_MS time slices of one
# configuration at a time, RTT_SEC of them each.
RTT_LIGHT=1000 RTT_LIGHT_SEC=10 RTT_SLICE_MS=20
# The client sends a burst (one sendmmsg, at most 32 datagrams) every BURST_US: a
# wake-up per datagram would cost the client more than the fan-out being measured.
BURST_US=${BENCH_BURST_US:-200}

mkdir -p "$BD/logs"
rm -f "$BD"/results-*.tsv "$BD"/logs/* "$BD"/profile-*.txt
# What was measured: the commit the tool was built from (BENCH_COMMIT overrides).
if [ -n "${BENCH_COMMIT:-}" ]; then
	echo "$BENCH_COMMIT" >"$BD/commit"
elif git -C "$ROOT" rev-parse --short HEAD >"$BD/commit" 2>/dev/null; then
	git -C "$ROOT" diff --quiet HEAD -- bpf user include 2>/dev/null ||
		sed -i 's/$/ with uncommitted changes to bpf\/, user\/ or include\//' "$BD/commit"
else
	echo "an unknown commit" >"$BD/commit"
fi
T_TPUT=$BD/results-throughput.tsv T_CPU=$BD/results-cpu.tsv T_RTT=$BD/results-rtt.tsv
T_FLOWS=$BD/results-flows.tsv T_PEER=$BD/results-peer.tsv
printf 'config\tn\tsize\trate_pps\toffered_pps\tdelivered_pps\tlimit\tcpu_ns_per_copy\tcpu0\tcpu1\trates\n' >"$T_TPUT"
# cpu_ns_per_copy: per copy sent (peer: the sink gets one of every N, the CPU is
# divided by the N copies sent); cpu0/cpu1_ns_per_copy: CPU 0's and CPU 1's busy
# time while sending, per copy sent.
printf 'config\tn\tsize\trate_pps\tdelivered_pps\tcpu_ns_per_copy\tmachine_ns_per_copy\tforeign_cpus\tresult\tcpu0_ns_per_copy\tcpu1_ns_per_copy\tclient_ns_per_copy\n' >"$T_CPU"
# Peer mode against plain, receive work on CPU 1 (RPS), bpf_stats on: per copy sent,
# the client process's own CPU time (client_: with the kernel's work in its context),
# CPU 0 and CPU 1 busy time and each program's run time (ns); runs = program runs.
printf 'config\tn\tsize\trate_pps\tcopies\tdelivered_per_datagram\tclient_ns_per_copy\tcpu0_ns_per_copy\tcpu1_ns_per_copy\tcpu_ns_per_copy\tegress_ns_per_copy\tegress_runs\tserve_ns_per_copy\tserve_runs\tforeign_cpus\tresult\tround\n' >"$T_PEER"
# RTT rows: run = the loadgen run (its log's name); rows of one run were measured
# interleaved, packet by packet (light load: direct, relay and kernel together).
printf 'config\tn\tsize\tload\tcopy\trate_pps\tfirst_p50_us\tfirst_p99_us\tfirst_p999_us\tall_p50_us\tall_p99_us\tall_p999_us\tanswered\tsent\trun\n' >"$T_RTT"
printf 'config\tflows\tsize\tn\trate_pps\tcpu_ns_per_copy\tflows_in_table\tlimit\n' >"$T_FLOWS"

START=$SECONDS
e2e_begin "bench-$MODE"
require_udpc
log() { printf '[%3ds] %s\n' $((SECONDS - START)) "$*" >&2; }

# ---- the network: topo_star, 16 destination addresses, a second client address ----
# and pair B (link_plain): 16 more destinations on a program-free veth pair
topo_star || exit 1
for i in $(seq 4 16); do addr_add "$S_NS" "$S_IF" "198.51.100.$i/32" || exit 1; done
addr_add "$C_NS" "$C_IF" "192.0.2.11/24" || exit 1 # more client flows than one address has ports
neigh_warm "$C_NS" "$C_IF" "$S4" || exit 1
link_plain 16 || exit 1
neigh_warm "$C_NS" "$CP_IF" "$SP4" || exit 1
# The relay sends runs of datagrams as UDP_SEGMENT messages (--gso). A veth that
# offers UDP segmentation passes them whole to the receivers' stack, which would
# then route each run once and cut it into datagrams only at the socket: cheaper
# receive work, charged to the client's CPU, than real receivers' would be. With
# the offload off, the client's stack cuts them up before the veth (as a NIC
# without segmentation offload would need; one with it would do it in hardware),
# and the receivers get separate datagrams, as from udpclone-bpf and direct.
for dev in "$C_IF" "$CP_IF"; do
	nsx "$C_NS" ethtool -K "$dev" tx-udp-segmentation off >/dev/null 2>&1 ||
		{ fail "cannot turn tx-udp-segmentation off on $dev"; e2e_end; }
done

dests() { # dests N PORT: 198.51.100.1:PORT,...,198.51.100.N:PORT
	local i out=
	for ((i = 1; i <= $1; i++)); do out+="${out:+,}198.51.100.$i:$2"; done
	echo "$out"
}
# For RTT one destination is the echo and the others only count, so that the echo
# answers one copy per datagram, as in the direct path: the first destination (the
# copy sent first) or the last one (sent last: the other N-1 are in its way).
# On pair A (198.51.100.1..N) or, with "plain", on pair B (203.0.113.129..128+N).
rtt_dests() { # rtt_dests N first|last [plain]
	local i out='' net=198.51.100. base=0
	[ "${3:-}" = plain ] && net=203.0.113. base=128
	for ((i = 1; i <= $1; i++)); do
		if { [ "$2" = first ] && [ "$i" = 1 ]; } || { [ "$2" = last ] && [ "$i" = "$1" ]; }; then
			out+="${out:+,}$net$((base + i)):9001"
		else
			out+="${out:+,}$net$((base + i)):9000"
		fi
	done
	echo "$out"
}

# Pinning: the client on CPU 0, the receivers on CPU 1, the relay and the daemon on
# HOST_CPU. Fair (0): the client host's work shares one CPU whichever does the
# fan-out (the kernel path does it in the client's context anyway), as on a router
# or laptop, and the receivers stand for other machines. Old (1): the relay had a
# CPU of its own besides the client's (shared with the receivers).
nsx_bg "$S_NS" nice -n "$NICE" taskset -c 1 "$SINK" --bind 0.0.0.0:9000 --poll-us 100 \
	--page "$E2E_TMP/sink.page" --ready "$E2E_TMP/sink.ready" >"$BD/logs/sink.log" 2>&1
SINK_PID=$BG_PID
# The echo blocks (no polling delay) and runs SCHED_FIFO: on a shared machine other
# tenants' tasks would otherwise delay it by whole scheduler slices.
nsx_bg "$S_NS" chrt -f 50 taskset -c 1 "$SINK" --bind 0.0.0.0:9001 --echo \
	--page "$E2E_TMP/echo.page" --ready "$E2E_TMP/echo.ready" >"$BD/logs/echo.log" 2>&1
ECHO_PID=$BG_PID
if ! wait_until 5 test -e "$E2E_TMP/sink.ready" || ! wait_until 5 test -e "$E2E_TMP/echo.ready"; then
	fail "sinks did not start: $(tail -c 300 "$BD/logs/sink.log" "$BD/logs/echo.log")"
	e2e_end
fi

RELAY_PID='' KERNEL_ON=0 SERVE_PID=''
pids() { echo "$SINK_PID,$ECHO_PID${RELAY_PID:+,$RELAY_PID}${UDPC_PID:+,$UDPC_PID}${SERVE_PID:+,$SERVE_PID}"; }

relay_start() { # relay_start DESTINATIONS [rt]
	local prio=(nice -n "$NICE")
	[ "${2:-}" = rt ] && prio=(chrt -f 50)
	rm -f "$E2E_TMP/relay.ready"
	nsx_bg "$C_NS" "${prio[@]}" taskset -c "$HOST_CPU" "$RELAY" "${RELAY_OPTS[@]}" --listen "127.0.0.1:$LISTEN" \
		--destinations "$1" --max-flows 1024 --ready "$E2E_TMP/relay.ready" \
		>>"$BD/logs/relay.log" 2>&1
	RELAY_PID=$BG_PID
	wait_until 5 test -e "$E2E_TMP/relay.ready" || { fail "relay did not start"; return 1; }
}
relay_stop() { [ -n "$RELAY_PID" ] && bg_stop "$RELAY_PID"; RELAY_PID=; }

kernel_start() { # kernel_start DESTINATIONS [ATTACH OPTIONS...]
	local d=$1
	shift
	udpc_attach_bg "$C_NS" "$C_IF" --listen "$LISTEN" --destinations "$d" "$@" ||
		return 1
	taskset -pc "$HOST_CPU" "$UDPC_PID" >/dev/null && renice -n "$NICE" -p "$UDPC_PID" >/dev/null
	KERNEL_ON=1
}
kernel_stop() {
	[ "$KERNEL_ON" = 1 ] || return 0
	bg_stop "$UDPC_PID"
	udpc "$C_NS" detach "$C_IF" >/dev/null 2>&1
	UDPC_PID='' KERNEL_ON=0
}

# serve_start [TO_PORT=9000]: `serve` on the server's interface, the daemon with the
# receivers (CPU 1); the copies' ingress program runs wherever their receive work does.
serve_start() {
	local s=$UDPC_PID
	udpc_serve_bg "$S_NS" "$S_IF" --listen "$PEER_PORT" --to "${1:-9000}" || { UDPC_PID=$s; return 1; }
	SERVE_PID=$UDPC_PID UDPC_PID=$s
	taskset -pc 1 "$SERVE_PID" >/dev/null && renice -n "$NICE" -p "$SERVE_PID" >/dev/null
}
serve_stop() {
	[ -n "$SERVE_PID" ] || return 0
	bg_stop "$SERVE_PID"
	udpc "$S_NS" detach "$S_IF" >/dev/null 2>&1
	SERVE_PID=''
}
# peer_start N [TO_PORT]: serve, and attach --peer with N paths: 198.51.100.1..N:PEER_PORT
peer_start() {
	serve_start "${2:-9000}" && kernel_start "$(dests "$1" "$PEER_PORT")" --peer ||
		{ serve_stop; return 1; }
}
peer_stop() { kernel_stop; serve_stop; }

target() { # target CONFIG: where the client sends
	case $1 in
	kernel* | peer*) echo "198.51.100.1:$LISTEN" ;;
	relay) echo "127.0.0.1:$LISTEN" ;;
	direct) echo "198.51.100.1:9000" ;;
	esac
}

loadgen() { # loadgen LOGNAME ARGS...: runs the client on CPU 0, output in logs/LOGNAME
	local f=$BD/logs/$1
	shift
	nsx "$C_NS" nice -n "$NICE" taskset -c 0 timeout -k 5 900 "$LOADGEN" "$@" \
		--burst-us "$BURST_US" --retries "$RETRIES" --pids "$(pids)" >"$f" 2>&1 </dev/null || fail "udpc-loadgen $1 exited $?: $(tail -c 300 "$f")"
}

# sweep CONFIG N SIZE [LOADGEN ARGS]: the highest lossless input rate; a row in T_TPUT.
sweep() {
	local cfg=$1 n=$2 size=$3 f=sweep-$1-n$2-s$3 copies=$2
	shift 3
	# peer: the server delivers each datagram once, whatever N
	[ "$cfg" = peer ] && copies=1
	loadgen "$f" sweep --to "$(target "$cfg")" --copies "$copies" --size "$size" \
		--page "$E2E_TMP/sink.page" --duration "$TRIAL" --precision "$PRECISION" \
		--reps "$REPS" --start "$START_PPS" --max 3000000 "$@"
	f=$BD/logs/$f
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$n" "$size" \
		"$(stat_get "$f" sweep_rate)" "$(stat_get "$f" sweep_offered_pps)" \
		"$(stat_get "$f" sweep_delivered_pps)" "$(stat_get "$f" sweep_limit)" \
		"$(stat_get "$f" sweep_cpu_ns_per_copy)" "$(stat_get "$f" sweep_cpu0)" \
		"$(stat_get "$f" sweep_cpu1)" "$(sed -n 's/^sweep_rates //p' "$f" | tr ' ' '/')" >>"$T_TPUT"
	log "  $cfg N=$n ${size}B: $(stat_get "$f" sweep_rate) pps in, limit $(stat_get "$f" sweep_limit)"
}

# cpu_run CONFIG N SIZE RATE: CPU per delivered copy at RATE; a row in T_CPU.
cpu_run() {
	local cfg=$1 n=$2 size=$3 rate=$4 f=cpu-$1-n$2-s$3
	local copies=$n sent=$n per=1
	[ "$cfg" = direct ] && copies=1 sent=1
	# peer: the sink counts datagrams (one of the N copies); CPU per copy sent
	[ "$cfg" = peer ] && copies=1 per=$n
	loadgen "$f" run --to "$(target "$cfg")" --copies "$copies" --size "$size" --rate "$rate" \
		--page "$E2E_TMP/sink.page" --duration "$CPU_SEC" --reps "$REPS"
	f=$BD/logs/$f
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$n" "$size" "$rate" \
		"$(stat_get "$f" run_delivered_pps)" "$(div "$(stat_get "$f" run_cpu_ns_per_copy)" "$per")" \
		"$(div "$(stat_get "$f" run_machine_ns_per_copy)" "$per")" "$(stat_get "$f" run_foreign_cpus)" \
		"$(stat_get "$f" run_result)" "$(cpu_per_copy "$f" 0 "$sent")" \
		"$(cpu_per_copy "$f" 1 "$sent")" "$(div "$(stat_get "$f" run_self_ns_per_datagram)" "$sent")" >>"$T_CPU"
	log "  $cfg N=$n ${size}B at $rate pps: $(div "$(stat_get "$f" run_cpu_ns_per_copy)" "$per") ns per copy"
}
div() { awk -v a="${1:-}" -v b="$2" 'BEGIN { if (a != "") printf "%.1f", a / b }'; }
# cpu_per_copy LOG CPU COPIES: CPU's busy time while sending, ns per copy sent
cpu_per_copy() {
	awk -v u="$(stat_get "$1" "run_cpu$2")" -v r="$(stat_get "$1" run_offered_pps)" -v n="$3" \
		'BEGIN { if (u != "" && r > 0) printf "%.1f", u * 1e9 / (r * n) }'
}

# rtt_row RUN KEYPREFIX CONFIG N SIZE LOAD COPY RATE: a row in T_RTT from the keys
# KEYPREFIX_* of logs/RUN (rtt for a run with one unnamed target, rtt_NAME else).
rtt_row() {
	local f=$BD/logs/$1 p=$2 k
	printf '%s\t%s\t%s\t%s\t%s\t%s' "$3" "$4" "$5" "$6" "$7" "$8" >>"$T_RTT"
	for k in first_p50 first_p99 first_p999 all_p50 all_p99 all_p999; do
		printf '\t%s' "$(stat_get "$f" "${p}_${k}_us")" >>"$T_RTT"
	done
	printf '\t%s\t%s\t%s\n' "$(stat_get "$f" "${p}_answered")" "$(stat_get "$f" "${p}_counted")" \
		"$1" >>"$T_RTT"
}

# rtt_together N SIZE ROUND COPY LOAD RATE SECONDS [LOADGEN OPTIONS]: direct, relay
# and kernel in one run, each at RATE pps for SECONDS, so that a burst of noise from
# other tenants hits all three alike: packet by packet (light load: one datagram to
# each in turn, the order rotating), or with --slice-ms in time slices (heavy load:
# three streams at that rate at once would interfere). udpclone-bpf on pair A
# (copies to 198.51.100.x), the relay's copies and direct over pair B
# (203.0.113.x), which carries no programs; three rows in T_RTT with the same run.
rtt_together() {
	local n=$1 size=$2 round=$3 copy=$4 load=$5 rate=$6 sec=$7 f=rtt-n$1-s$2-$5-$4-r$3 cfg
	shift 7
	if relay_start "$(rtt_dests "$n" "$copy" plain)" rt &&
		kernel_start "$(rtt_dests "$n" "$copy")"; then
		nsx "$C_NS" chrt -f 50 taskset -c 0 timeout -k 5 300 "$LOADGEN" rtt \
			--to "direct=$P4_1:9001" --to "relay=$(target relay)" \
			--to "kernel=$(target kernel)" --copies 1 --size "$size" --rate "$rate" \
			--duration "$sec" "$@" >"$BD/logs/$f" 2>&1 </dev/null ||
			log "  udpc-loadgen $f exited $?: $(tail -c 300 "$BD/logs/$f")"
	fi
	relay_stop
	kernel_stop
	for cfg in direct relay kernel; do
		rtt_row "$f" "rtt_$cfg" "$cfg" "$n" "$size" "$load" \
			"$([ "$cfg" = direct ] && echo - || echo "$copy")" "$rate"
	done
}

# ---- peer mode: where its CPU time goes ----
# rps CPUMASK: the server interface's receive work (its ingress programs, IP, UDP,
# the sockets) on the CPUs of CPUMASK (2: CPU 1, the receivers'); 0: where it was
# sent (veth: CPU 0, in the sender's context). Remote receivers' would be theirs.
rps() {
	ip netns exec "$S_NS" sh -c "echo $1 >/sys/class/net/$S_IF/queues/rx-0/rps_cpus"
}
STATS_WAS=
stats_on() { # kernel.bpf_stats_enabled: each program's run time and count
	STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null) &&
		sysctl -qw kernel.bpf_stats_enabled=1
}
stats_off() { [ -z "$STATS_WAS" ] || sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"; STATS_WAS=; }
# an interrupted run must not leave them on (e2e_begin's cleanup still runs)
trap 'stats_off; _e2e_on_exit' EXIT
# prog_stats NS IFACE DIR: "run_time_ns run_cnt" of our programs on that hook, summed
prog_stats() {
	local id t=0 c=0 j
	for id in $(udpc_filter_ids "$1" "$2" "$3"); do
		j=$(bpftool prog show id "$id" --json 2>/dev/null) || continue
		t=$((t + $(jq -r '.run_time_ns // 0' <<<"$j"))) c=$((c + $(jq -r '.run_cnt // 0' <<<"$j")))
	done
	echo "$t $c"
}
# peer_cpu CONFIG N SIZE RATE ROUND: peer or kernel (plain) at RATE, receive work on
# CPU 1 and bpf_stats on (the caller's): a row in T_PEER, per copy sent.
peer_cpu() {
	local cfg=$1 n=$2 size=$3 rate=$4 round=$5 f=cpu-rps-$1-n$2-s$3-r$5 copies=$2 e0 e1 s0 s1 sent
	[ "$cfg" = peer ] && copies=1
	read -ra e0 <<<"$(prog_stats "$C_NS" "$C_IF" egress)"
	read -ra s0 <<<"$(prog_stats "$S_NS" "$S_IF" ingress)"
	loadgen "$f" run --to "$(target "$cfg")" --copies "$copies" --size "$size" \
		--rate "$rate" --page "$E2E_TMP/sink.page" --duration "$CPU_SEC" --reps "$REPS"
	read -ra e1 <<<"$(prog_stats "$C_NS" "$C_IF" egress)"
	read -ra s1 <<<"$(prog_stats "$S_NS" "$S_IF" ingress)"
	f=$BD/logs/$f
	# copies sent in all the trials (the programs ran for all of them)
	sent=$(awk -v n="$n" '$1 == "trial" || $1 == "noisy" { for (i = 2; i <= NF; i++)
		if ($i ~ /^sent=/) s += substr($i, 6) } END { print s * n }' "$f")
	awk -v c="$cfg" -v n="$n" -v sz="$size" -v r="$rate" -v sent="$sent" \
		-v dp="$(stat_get "$f" run_delivered_pps)" -v op="$(stat_get "$f" run_offered_pps)" \
		-v c0="$(cpu_per_copy "$f" 0 "$n")" -v c1="$(cpu_per_copy "$f" 1 "$n")" \
		-v cl="$(div "$(stat_get "$f" run_self_ns_per_datagram)" "$n")" \
		-v m="$(div "$(stat_get "$f" run_machine_ns_per_copy)" "$([ "$cfg" = peer ] && echo "$n" || echo 1)")" \
		-v et="$((e1[0] - e0[0]))" -v ec="$((e1[1] - e0[1]))" \
		-v st="$((s1[0] - s0[0]))" -v sc="$((s1[1] - s0[1]))" \
		-v fo="$(stat_get "$f" run_foreign_cpus)" -v res="$(stat_get "$f" run_result)" -v rd="$round" '
		function per(t) { return sent > 0 && t > 0 ? sprintf("%.1f", t / sent) : "" }
		BEGIN { printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c, n, sz, r,
			sent, (op > 0 ? sprintf("%.3f", dp / op) : ""), cl, c0, c1, m, per(et), ec, per(st),
			sc, fo, res, rd }' >>"$T_PEER"
	log "  $cfg N=$n ${size}B at $rate pps, receive work on CPU 1: client $(div "$(stat_get "$f" run_self_ns_per_datagram)" "$n")" \
		"ns per copy, CPU 0 $(cpu_per_copy "$f" 0 "$n") ns, egress program $(awk -v t="$((e1[0] - e0[0]))" -v s="$sent" 'BEGIN { if (s) printf "%.0f", t / s }') ns per copy"
}
mode_start() { # mode_start peer|kernel N: udpclone-bpf with or without --peer, to the sink
	if [ "$1" = peer ]; then peer_start "$2"; else kernel_start "$(dests "$2" 9000)"; fi
}
mode_stop() { if [ "$1" = peer ]; then peer_stop; else kernel_stop; fi; }
# peer_block N SIZE RATE: peer mode next to the plain rows just measured: its lossless
# rate and its CPU at RATE (both as plain mode's), then peer and plain again at RATE/2
# with the receive work on CPU 1 and bpf_stats on, PEER_ROUNDS times (rows in T_PEER).
peer_block() {
	local n=$1 size=$2 rate=$3
	log "peer mode, N=$n, ${size}-byte payloads"
	peer_start "$n" || return
	sweep peer "$n" "$size"
	cpu_run peer "$n" "$size" "$rate"
	if ! rps 2; then
		fail "cannot steer $S_IF's receive work to CPU 1 (RPS)"
		peer_stop
		return
	fi
	stats_on || log "  no kernel.bpf_stats_enabled: no program run times"
	# half the rate: CPU 1 now does all N copies' receive work, and a CPU's busy
	# time says nothing once it is full
	rate=$((rate / 2))
	# PEER_ROUNDS rounds, the order alternating (peer, plain, plain, peer, ...), so
	# that a change in other tenants' load does not fall on one mode only
	local r cur=peer next
	for ((r = 1; r <= PEER_ROUNDS; r++)); do
		[ "$KERNEL_ON" = 1 ] && peer_cpu "$cur" "$n" "$size" "$rate" "$r"
		next=$([ "$cur" = peer ] && echo kernel || echo peer)
		mode_stop "$cur"
		mode_start "$next" "$n" && peer_cpu "$next" "$n" "$size" "$rate" "$r"
		cur=$next
	done
	mode_stop "$cur"
	stats_off
	rps 0
}
in_list() { local x=$1 y; shift; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }

col() { # col FILE CONFIG N SIZE COLUMN-NAME: a value from a results TSV
	awk -F'\t' -v c="$2" -v n="$3" -v s="$4" -v k="$5" '
		NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$1 == c && $2 == n && $3 == s { v = $(h[k]) } END { print v }' "$1"
}

# ---- 1. throughput sweeps and CPU per copy ----
log "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r)"
for size in "${SIZES[@]}"; do
	log "direct, ${size}-byte payloads"
	sweep direct 1 "$size"
	for n in "${NS[@]}"; do
		log "N=$n, ${size}-byte payloads"
		relay_start "$(dests "$n" 9000)" || continue
		sweep relay "$n" "$size"
		relay_stop
		kernel_start "$(dests "$n" 9000)" || continue
		sweep kernel "$n" "$size"
		# CPU at one common input rate, below both lossless rates: 80% of the lower.
		rk=$(col "$T_TPUT" kernel "$n" "$size" rate_pps)
		rr=$(col "$T_TPUT" relay "$n" "$size" rate_pps)
		rate=$(awk -v a="${rk:-0}" -v b="${rr:-0}" 'BEGIN { m = a < b ? a : b; printf "%d", m * 0.8 }')
		[ "$rate" -ge 1000 ] || rate=1000
		cpu_run kernel "$n" "$size" "$rate"
		kernel_stop
		relay_start "$(dests "$n" 9000)" && cpu_run relay "$n" "$size" "$rate"
		relay_stop
		cpu_run direct "$n" "$size" "$rate"
		in_list "$n" "${PEER_NS[@]}" && peer_block "$n" "$size" "$rate"
	done
done

# ---- 2. round-trip time: the three configurations interleaved in one run ----
for n in "${RTT_NS[@]}"; do
	size=512
	rr=$(col "$T_TPUT" relay "$n" "$size" rate_pps)
	[ -n "$rr" ] || continue
	# heavy: a quarter of the relay's one-way lossless rate (it also relays the replies)
	heavy=$(awk -v r="$rr" 'BEGIN { printf "%d", r / 4 }')
	log "RTT N=$n ${size}B: light $RTT_LIGHT pps each, packet by packet; heavy $heavy pps each, $RTT_SLICE_MS ms slices; $RTT_ROUNDS round(s)"
	for ((round = 1; round <= RTT_ROUNDS; round++)); do
		for copy in first last; do
			rtt_together "$n" "$size" "$round" $copy light "$RTT_LIGHT" "$RTT_LIGHT_SEC"
			rtt_together "$n" "$size" "$round" $copy heavy "$heavy" "$RTT_SEC" \
				--slice-ms "$RTT_SLICE_MS"
		done
	done
done

# peer mode, light load: direct and peer interleaved packet by packet (serve --to the
# echo, which answers once; its answer comes back by every path and the client's
# kernel drops the duplicates), the echo behind the server's dedup
for n in "${RTT_NS[@]}"; do
	in_list "$n" "${PEER_NS[@]}" || continue
	size=512 f=rtt-n$n-s$size-light-peer
	log "RTT N=$n ${size}B, peer mode: light $RTT_LIGHT pps, packet by packet with direct, ${RTT_SEC} s"
	if peer_start "$n" 9001; then
		nsx "$C_NS" chrt -f 50 taskset -c 0 timeout -k 5 300 "$LOADGEN" rtt \
			--to "direct=$P4_1:9001" --to "peer=$(target peer)" --copies 1 --size "$size" \
			--rate "$RTT_LIGHT" --duration "$RTT_SEC" >"$BD/logs/$f" 2>&1 </dev/null ||
			log "  udpc-loadgen $f exited $?: $(tail -c 300 "$BD/logs/$f")"
	fi
	peer_stop
	rtt_row "$f" rtt_direct direct "$n" "$size" light - "$RTT_LIGHT"
	rtt_row "$f" rtt_peer peer "$n" "$size" light any "$RTT_LIGHT"
done

# ---- 3. many client flows (full mode): the flow table at 100,000 flows ----
if [ "$FLOWS" -gt 0 ]; then
	n=3 size=512
	rate=$(col "$T_CPU" kernel "$n" "$size" rate_pps)
	rate=${rate:-20000}
	flows_one() { # flows_one CONFIG FLOWS [ATTACH OPTIONS...]
		local cfg=$1 fl=$2 f=flows-$1-$2 args=(--raw --src "$C4") inside
		shift 2
		[ "$fl" -gt 1 ] && args=(--flows "$fl" --src "$C4,192.0.2.11")
		kernel_start "$(dests "$n" 9000)" "$@" || return
		log "flows: $cfg, $fl flows"
		loadgen "$f-sweep" sweep --to "$(target kernel)" --copies "$n" --size "$size" \
			--page "$E2E_TMP/sink.page" --duration "$TRIAL" --precision 0.05 --reps 1 \
			--start 20000 "${args[@]}"
		loadgen "$f-cpu" run --to "$(target kernel)" --copies "$n" --size "$size" \
			--rate "$rate" --page "$E2E_TMP/sink.page" --duration "$CPU_SEC" --reps "$REPS" \
			"${args[@]}"
		inside=$(udpc_json "$C_NS" "$C_IF" .flows)
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$fl" "$size" "$n" \
			"$(stat_get "$BD/logs/$f-sweep" sweep_rate)" \
			"$(stat_get "$BD/logs/$f-cpu" run_cpu_ns_per_copy)" "$inside" \
			"$(stat_get "$BD/logs/$f-sweep" sweep_limit)" >>"$T_FLOWS"
		kernel_stop
	}
	flows_one kernel 1
	flows_one kernel "$FLOWS"
	flows_one kernel-maxflows131072 "$FLOWS" --max-flows 131072
fi

# ---- 4. where the time goes (perf), at N=3, 512 B, at the common CPU rate ----
if [ "$PROFILE" = 1 ] && command -v perf >/dev/null 2>&1; then
	rate=$(col "$T_CPU" kernel 3 512 rate_pps)
	if [ -n "$rate" ]; then
		prof() { # prof CONFIG COMMAND-TO-DETAIL
			loadgen "profile-$1.run" run --to "$(target "$1")" --copies 3 --size 512 \
				--rate "$rate" --page "$E2E_TMP/sink.page" --duration 5 &
			local lg=$!
			sleep 1
			perf record -a -g -e cpu-clock -o "$E2E_TMP/perf-$1.data" -- sleep 3 >/dev/null 2>&1
			wait "$lg"
			{
				echo "# perf record -a -g -e cpu-clock, $1 path, N=3, 512 B, $rate pps, 3 s"
				echo "# share of all samples (both CPUs) by CPU and command"
				perf report -i "$E2E_TMP/perf-$1.data" --stdio --no-children --sort cpu,comm \
					-g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
				echo "# $2: inclusive (children) and own (self) share of its samples, by symbol"
				perf report -i "$E2E_TMP/perf-$1.data" --stdio --children --comm "$2" \
					--percentage relative --sort sym -g none 2>/dev/null |
					grep -v '^#' | grep -v '^$' | head -70
			} >"$BD/profile-$1.txt"
		}
		log "perf profiles at $rate pps"
		kernel_start "$(dests 3 9000)" && prof kernel udpc-loadgen
		kernel_stop
		relay_start "$(dests 3 9000)" && prof relay udpc-relay
		relay_stop
		if in_list 3 "${PEER_NS[@]}"; then
			peer_start 3 && prof peer udpc-loadgen
			peer_stop
		fi
	fi
fi

# ---- 5. TCP streams (issue 14): tcp-client -> tcp-server against plain TCP ----
# tests/bench/tcp.sh builds a network of its own (two uplinks through a router), so
# it runs as a test of its own; its rows go to results-tcp.tsv, its logs to logs/.
if [ "${BENCH_TCP:-1}" = 1 ]; then
	log "TCP streams: tests/bench/tcp.sh $MODE"
	BENCH_OUT=$BD BENCH_NICE=$NICE "$ROOT/tests/bench/tcp.sh" "$MODE" 2>&1 | tee "$BD/logs/tcp.log" >&2
	[ "${PIPESTATUS[0]}" = 0 ] || fail "the TCP part failed: $(grep FAIL "$BD/logs/tcp.log" | tail -n 3)"
fi

# ---- 6. report: Markdown tables and a chart ----
log "writing $BD/results.md"
MODE=$MODE BD=$BD ELAPSED=$((SECONDS - START)) NICE=$NICE REPS=$REPS TRIAL=$TRIAL \
	RTT_ROUNDS=$RTT_ROUNDS RTT_LIGHT_SEC=$RTT_LIGHT_SEC RTT_SEC=$RTT_SEC RTT_SLICE_MS=$RTT_SLICE_MS \
	BURST_US=$BURST_US LAYOUT=$LAYOUT RELAY_OPTS="${RELAY_OPTS[*]}" \
	"$ROOT/tests/bench/report.sh" || fail "report failed"
e2e_end
