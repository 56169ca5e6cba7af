#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The benchmark's TCP part (issue 14): a bulk TCP transfer through tcp-client ->
# tcp-server (peer mode underneath) against plain TCP over the same link, in one
# run, on clean links (veth: no emulator, so that the CPU measured is ours and the
# kernel's), with the CPU layout of the UDP part:
#
#   client ns: udpc-tcp client (CPU 0)    router ns       server ns: udpc-tcp server (CPU 1)
#              tcp-client (CPU 0)         (forwards)                 tcp-server (CPU 1)
#     uplink 1 $WAN_IF_1 ===== veth ===== $WAN_RIF_1
#     uplink 2 $WAN_IF_2 ===== veth ===== $WAN_RIF_2
#                                         $WAN_RS_IF ---- veth ---- $WAN_S_IF 203.0.113.2
#
#   tcp-client: tcp-client on uplink 1, N paths (N = 2: one by each uplink, the
#     target of issue 14; N = 1: uplink 1 alone), forwarding 127.0.0.1:9000 to the
#     bulk service (0.0.0.0:8000) and 127.0.0.1:9001 to the paced one (8001:
#     udpc-tcp server --rate); tcp-server on the server's interface.
#   plain: the same client straight to 203.0.113.2:8000 / 8001 over uplink 1 (the
#     client's default route), no program on any interface: the kernel's own TCP,
#     with the veths' offloads (TSO, GSO) as a NIC would have them. The floor.
#   Loads: bulk (as fast as it goes) and paced (the service sends at one rate for
#   both: 80 % of the slower configuration's bulk rate, at most BENCH_TCP_RATE, so
#   that CPU per MB is compared at equal load). Downloads: the service sends, the
#   client receives.
#
# Each host does its own receive work: the server interface's receive processing is
# steered to CPU 1 (RPS), the client's uplinks' to CPU 0; the router forwards on the
# CPU of whoever sent. A probe transfer of each configuration first gives its bulk
# rate, from which every transfer is sized to last about BULK_SEC (PACED_SEC paced).
# CPU is measured around each transfer by udpc-cputime: each CPU's busy time
# (cpuidle) and softirq time (/proc/stat), each process's run time (schedstat; the
# service's connection thread reports its own), per MB of payload. Rounds alternate
# the order of the two configurations (tcp-client, plain, plain, tcp-client, ...),
# as the UDP part's peer rounds do.
#
#   tests/bench/tcp.sh quick   N = 2, 2 rounds, 3 s bulk and 2 s paced transfers: about 40 s
#   tests/bench/tcp.sh full    N = 1 and 2, 3 rounds, 6 s and 4 s: about 3 minutes
#   tests/bench/tcp.sh smoke   N = 2, 1 round, 0.5 s and 0.3 s (tests/e2e/test_bench_tools.sh)
#
# Writes $BENCH_OUT/results-tcp.tsv (default $OUT/bench; columns below) and the
# tools' output to $BENCH_OUT/logs/tcp-*. tests/bench/bench.sh runs it, report.sh
# makes the TCP table of results.md from it. Exit status: 0 when every transfer was
# intact, 1 otherwise (the row is still written: its result says what went wrong).
# Environment: BENCH_NICE (-10), BENCH_TCP_NS, BENCH_TCP_ROUNDS, BENCH_TCP_BULK_SEC,
# BENCH_TCP_PACED_SEC, BENCH_TCP_RATE (the highest paced rate, bytes/s; 20000000).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
MODE=${1:-quick}
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh

# probe sizes (MB): tcp-client, plain
case $MODE in
quick) NS_DEF="2" ROUNDS_DEF=2 BULK_DEF=3 PACED_DEF=2 PROBE=(4 200) RETRIES=1 ;;
full) NS_DEF="1 2" ROUNDS_DEF=3 BULK_DEF=6 PACED_DEF=4 PROBE=(8 500) RETRIES=2 ;;
smoke) NS_DEF="2" ROUNDS_DEF=1 BULK_DEF=0.5 PACED_DEF=0.3 PROBE=(1 16) RETRIES=0 ;;
*) echo "usage: $0 quick|full|smoke" >&2; exit 2 ;;
esac
read -ra TNS <<<"${BENCH_TCP_NS:-$NS_DEF}"
ROUNDS=${BENCH_TCP_ROUNDS:-$ROUNDS_DEF}
BULK_SEC=${BENCH_TCP_BULK_SEC:-$BULK_DEF}
PACED_SEC=${BENCH_TCP_PACED_SEC:-$PACED_DEF}
RATE_MAX=${BENCH_TCP_RATE:-20000000}
NICE=${BENCH_NICE:--10}
MAX_FOREIGN=0.15 # CPUs of other tenants' tasks: a noisy transfer, repeated
BD=${BENCH_OUT:-$OUT/bench}
TCPT=$OUT/tests/udpc-tcp CPUT=$OUT/bench/udpc-cputime
SP=7000 APP=8000 LP=9000 # tcp-server --listen; the services (APP, APP+1 paced); tcp-client's forwards
T_TCP=$BD/results-tcp.tsv
declare -A BULK_BYTES # by "CONFIG N": the bulk transfer's size, from the probe

e2e_begin "bench-tcp-$MODE"
require_udpc
for t in "$TCPT" "$CPUT"; do
	[ -x "$t" ] || { fail "$t not built (make tools bench-tools)"; e2e_end; }
done
mkdir -p "$BD/logs"
rm -f "$BD"/logs/tcp-*
START=$SECONDS
log() { printf '[%3ds] tcp: %s\n' $((SECONDS - START)) "$*" >&2; }

# Per MB of payload (µs): machine = both CPUs' busy time less other tenants' tasks
# (it holds the receive work that RPS runs on an idle CPU, charged to no task);
# tasks = the run time of every task of ours (the client, tcp-client, tcp-server,
# the service's thread, ksoftirqd); each CPU's busy and softirq time (other tenants
# included: foreign); each process's run time (tcp-client and tcp-server: both
# processes, the parent's streams and the child's peer-mode daemon; user and system
# from the tick). foreign = other tenants' tasks, in CPUs; noisy = more than
# MAX_FOREIGN. result: ok; below-rate (paced, but slower than the rate); or what
# udpc-tcp said (failed, short, corrupt, ...).
printf 'config\tn\tload\tround\trate_offered\tbytes\tseconds\tmb_per_s\tmachine_us_per_mb\ttasks_us_per_mb\tcpu0_us_per_mb\tcpu1_us_per_mb\tcpu0_softirq_us_per_mb\tcpu1_softirq_us_per_mb\tapp_client_us_per_mb\ttcp_client_us_per_mb\ttcp_client_user_us_per_mb\ttcp_client_sys_us_per_mb\ttcp_server_us_per_mb\tapp_server_us_per_mb\tksoftirqd_us_per_mb\tforeign_cpus\tnoisy\tresult\n' >"$T_TCP"

# ---- the network: two clean uplinks to a router, the server behind it ----
WAN_RAW=0 topo_wan veth veth || e2e_end
for k in 1 2; do
	ifc=WAN_IF_$k r4=WAN_R4_$k
	neigh_warm "$C_NS" "${!ifc}" "${!r4}" || e2e_end
done
# rps NS IFACE CPUMASK: IFACE's receive processing on those CPUs
rps() { ip netns exec "$(_ns "$1")" sh -c "echo $3 >/sys/class/net/$2/queues/rx-0/rps_cpus"; }
if ! rps "$S_NS" "$WAN_S_IF" 2 || ! rps "$C_NS" "$WAN_IF_1" 1 || ! rps "$C_NS" "$WAN_IF_2" 1; then
	fail "cannot steer receive processing (RPS)"
	e2e_end
fi

# pin CPU PID: PID, its threads and its children on CPU, at the benchmark's nice
pin() {
	local p
	for p in "$2" $(pgrep -P "$2"); do
		taskset -apc "$1" "$p" >/dev/null && renice -n "$NICE" -p "$p" >/dev/null || return 1
	done
}

# service PORT [--rate BYTES]: udpc-tcp server on CPU 1 (bulk on APP, paced on APP+1)
service() {
	local port=$1
	shift
	nsx_bg "$S_NS" nice -n "$NICE" taskset -c 1 "$TCPT" server "0.0.0.0:$port" "$@" \
		>"$BD/logs/tcp-app-$port.log" 2>&1
	wait_until 5 grep -q listening "$BD/logs/tcp-app-$port.log" ||
		{ fail "udpc-tcp server on $port did not start"; e2e_end; }
}
service "$APP"

TS_PID='' TC_PID=''
tunnel_start() { # tunnel_start N: tcp-server, then tcp-client with N paths
	local dests="$WAN_S4:$SP"
	[ "$1" = 2 ] && dests+=",$WAN_S4:$SP@$WAN_IF_2"
	_udpc_daemon_bg tcp-server "$S_NS" "$WAN_S_IF" --listen "$SP" \
		--forward "bulk=127.0.0.1:$APP,paced=127.0.0.1:$((APP + 1))" || return 1
	TS_PID=$UDPC_PID
	_udpc_daemon_bg tcp-client "$C_NS" "$WAN_IF_1" --destinations "$dests" \
		--forward "127.0.0.1:$LP=bulk,127.0.0.1:$((LP + 1))=paced" || return 1
	TC_PID=$UDPC_PID
	if ! pin 1 "$TS_PID" || ! pin 0 "$TC_PID"; then
		fail "cannot pin tcp-server / tcp-client"
		return 1
	fi
}
# tunnel_stop: the engines' counters (srtt, rate, loss, retransmits: SIGUSR1) and
# the daemons' logs to logs/tcp-daemons.log, then both stopped
tunnel_stop() {
	local f
	[ -n "$TC_PID" ] && kill -USR1 "$TC_PID" "$TS_PID" 2>/dev/null && sleep 0.3
	[ -z "$TC_PID" ] || bg_stop "$TC_PID" || fail "tcp-client exited non-zero"
	[ -z "$TS_PID" ] || bg_stop "$TS_PID" || fail "tcp-server exited non-zero"
	for f in "$E2E_TMP/udpc-$WAN_IF_1.log" "$E2E_TMP/udpc-$WAN_S_IF.log"; do
		[ -e "$f" ] && cat "$f" >>"$BD/logs/tcp-daemons.log" && : >"$f"
	done
	TC_PID='' TS_PID=''
}

# served LOG: the number of connections the service has finished (udpc-tcp server)
served() { grep -c '^served' "$1"; }
served_more() { [ "$(served "$1")" -gt "$2" ]; }

# transfer CONFIG N LOAD ROUND: one download, measured; a row in T_TCP. Repeated
# (RETRIES times at most) while other tenants' tasks keep more than MAX_FOREIGN CPU
# busy, as udpc-loadgen's trials are; the last is kept, "noisy" if it was too.
transfer() {
	local cfg=$1 n=$2 load=$3 round=$4 to bytes offered=max port=$APP groups=() f app s0 try foreign
	f=$BD/logs/tcp-$cfg-n$n-$load-r$round
	[ "$cfg" = plain ] && n=- # plain does not depend on N
	bytes=${BULK_BYTES["$cfg $n"]}
	[ "$load" = paced ] && bytes=$PACED_BYTES offered=$RATE_BPS port=$((APP + 1))
	if [ "$cfg" = plain ]; then
		to=$WAN_S4:$port
	else
		to=127.0.0.1:$((LP + port - APP))
		groups=(--group "tcp_client=$TC_PID" --group "tcp_server=$TS_PID")
	fi
	app=$BD/logs/tcp-app-$port.log
	for ((try = 0; try <= RETRIES; try++)); do
		[ "$try" = 0 ] || { mv "$f" "$f.noisy$try"; sleep 0.3; }
		s0=$(served "$app")
		timeout -k 5 300 "$CPUT" "${groups[@]}" -- nsenter --net="/run/netns/$C_NS" -- \
			nice -n "$NICE" taskset -c 0 "$TCPT" client "$to" --down "$bytes" --timeout 200 \
			>"$f" 2>&1 </dev/null ||
			fail "$cfg N=$n $load: udpc-tcp client failed: $(paste -sd' ' "$f" | tail -c 300)"
		# the service's side of it: the CPU time of the thread that served it
		wait_until 5 served_more "$app" "$s0" || fail "$cfg N=$n $load: the service did not finish"
		grep '^served' "$app" | tail -n1 | tr ' =' '\n ' | sed -n 's/^cpu_ns /app_server_ns /p' >>"$f"
		foreign=$(awk '{ k[$1] = $2 } END { if (k["wall_ns"] > 0) printf "%.2f", k["others_ns"] / k["wall_ns"] }' "$f")
		awk -v x="$foreign" -v m="$MAX_FOREIGN" 'BEGIN { exit !(x == "" || x > m) }' || break
		log "  $cfg N=$n $load: other tenants kept $foreign CPUs busy"
	done
	awk -v c="$cfg" -v n="$n" -v l="$load" -v r="$round" -v o="$offered" -v mf="$MAX_FOREIGN" '
		{ k[$1] = $2 }
		function per(x) { return mb > 0 && x != "" ? sprintf("%.1f", x / 1000 / mb) : "" }
		END {
			mb = k["bytes_down"] / 1e6
			res = k["ok"] == 1 && k["bytes_down"] > 0 ? "ok" : "failed"
			for (x in k) if (x ~ /^(failed|reset|refused|short|corrupt)$/ && k[x] > 0) res = x
			# paced, but slower than the rate: not at the common load
			if (res == "ok" && o != "max" && mb / k["seconds"] < 0.95 * o / 1e6) res = "below-rate"
			# both CPUs busy less other tenants; every task of ours
			machine = k["cpu0_busy_ns"] + k["cpu1_busy_ns"] - k["others_ns"]
			tasks = k["cmd_ns"] + k["group_tcp_client_ns"] + k["group_tcp_server_ns"] + \
				k["app_server_ns"] + k["ksoftirqd_ns"]
			fo = k["wall_ns"] > 0 ? k["others_ns"] / k["wall_ns"] : 0
			printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%d\t%s\n",
				c, n, l, r, o, k["bytes_down"], k["seconds"],
				(k["seconds"] > 0 ? sprintf("%.2f", mb / k["seconds"]) : ""),
				per(machine > 0 ? machine : 0), per(tasks),
				per(k["cpu0_busy_ns"]), per(k["cpu1_busy_ns"]), per(k["cpu0_softirq_ns"]),
				per(k["cpu1_softirq_ns"]), per(k["cmd_ns"]), per(k["group_tcp_client_ns"]),
				per(k["group_tcp_client_user_ns"]), per(k["group_tcp_client_sys_ns"]),
				per(k["group_tcp_server_ns"]), per(k["app_server_ns"]),
				per(k["ksoftirqd_ns"]), fo, (fo > mf), res }' "$f" >>"$T_TCP"
	log "$cfg N=$n $load round $round: $(col_last mb_per_s) MB/s, machine $(col_last machine_us_per_mb) us/MB (CPU 0 $(col_last cpu0_us_per_mb), CPU 1 $(col_last cpu1_us_per_mb)), $(col_last result)"
}
# col_last COLUMN: that column of the last row of T_TCP
col_last() {
	awk -F'\t' -v k="$1" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i } END { print $(h[k]) }' "$T_TCP"
}

# block CONFIG N ROUND: the bulk and the paced transfer of one configuration
block() {
	if [ "$1" = tcp-client ]; then
		tunnel_start "$2" || { tunnel_stop; return; }
	fi
	transfer "$1" "$2" bulk "$3"
	transfer "$1" "$2" paced "$3"
	[ "$1" = tcp-client ] && tunnel_stop
}

# probe CONFIG N MB: an unmeasured bulk transfer; PROBED = its rate in MB/s
probe() {
	local f=$BD/logs/tcp-probe-$1-n$2 to=$WAN_S4:$APP
	[ "$1" = plain ] || to=127.0.0.1:$LP
	PROBED=
	nsx "$C_NS" timeout -k 5 300 nice -n "$NICE" taskset -c 0 "$TCPT" client "$to" \
		--down $(($3 * 1000000)) --timeout 200 >"$f" 2>&1 </dev/null ||
		{ fail "probe of $1 N=$2: $(paste -sd' ' "$f" | tail -c 300)"; return 1; }
	PROBED=$(stat_get "$f" mbps)
}
# size CONFIG N MBPS: the bulk transfer that lasts BULK_SEC at MBPS (1 MB at least)
size() {
	BULK_BYTES["$1 $2"]=$(awk -v r="$3" -v s="$BULK_SEC" 'BEGIN { b = r * s * 1e6
		printf "%d", b < 1e6 ? 1e6 : b }')
	log "probe: $1 N=$2 $3 MB/s: bulk transfers of $((BULK_BYTES["$1 $2"] / 1000000)) MB"
}

log "N = ${TNS[*]}, $ROUNDS round(s), bulk ${BULK_SEC} s, paced ${PACED_SEC} s"
probe plain - "${PROBE[1]}" || e2e_end
size plain - "$PROBED"
slowest=$PROBED
for n in "${TNS[@]}"; do
	if ! tunnel_start "$n" || ! probe tcp-client "$n" "${PROBE[0]}"; then
		tunnel_stop
		e2e_end
	fi
	tunnel_stop
	size tcp-client "$n" "$PROBED"
	slowest=$(awk -v a="$slowest" -v b="$PROBED" 'BEGIN { print (b < a ? b : a) }')
done
# the paced service: 80 % of the slowest bulk rate, so that every configuration keeps it
RATE_BPS=$(awk -v r="$slowest" -v m="$RATE_MAX" 'BEGIN { x = int(r * 0.8 * 1e3) * 1e3
	printf "%d", (x > m ? m : x) }')
PACED_BYTES=$(awk -v r="$RATE_BPS" -v s="$PACED_SEC" 'BEGIN { printf "%d", r * s }')
[ "$RATE_BPS" -ge 100000 ] || { fail "the slowest configuration moved $slowest MB/s: no paced rate"; e2e_end; }
service $((APP + 1)) --rate "$RATE_BPS"
log "paced: $RATE_BPS bytes/s, $PACED_BYTES bytes"

for n in "${TNS[@]}"; do
	for ((r = 1; r <= ROUNDS; r++)); do
		if [ $((r % 2)) = 1 ]; then
			block tcp-client "$n" "$r"
			block plain "$n" "$r"
		else
			block plain "$n" "$r"
			block tcp-client "$n" "$r"
		fi
	done
done
log "done: $T_TCP"
e2e_end
