#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The report of tests/bench/bench.sh: reads $BD/results-*.tsv, writes $BD/results.md
# (Markdown tables, every figure also as a ratio to the baselines of the same run)
# and $BD/results.png (gnuplot). Environment: BD, MODE, ELAPSED, NICE, REPS, TRIAL,
# RTT_ROUNDS, RTT_LIGHT_SEC, RTT_SEC, RTT_SLICE_MS, BURST_US, LAYOUT, RELAY_OPTS (set by
# tests/bench/bench.sh).
set -u
BD=${BD:?} MODE=${MODE:-?}
T_TPUT=$BD/results-throughput.tsv T_CPU=$BD/results-cpu.tsv T_RTT=$BD/results-rtt.tsv
T_FLOWS=$BD/results-flows.tsv T_PEER=$BD/results-peer.tsv MD=$BD/results.md PNG=$BD/results.png
T_TCP=$BD/results-tcp.tsv

# v FILE KEY-COLUMNS... : the row whose first columns equal the given values, column COL
v() { # v FILE COL KEY1 [KEY2 [KEY3 [KEY4]]]
	awk -F'\t' -v k="$2" -v a="${3:-}" -v b="${4:-}" -v c="${5:-}" -v d="${6:-}" '
		NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		(a == "" || $1 == a) && (b == "" || $2 == b) && (c == "" || $3 == c) &&
		(d == "" || $4 == d) { x = $(h[k]) } END { print x }' "$1"
}
median() { sort -g | awk '{ x[m++] = $1 } END { if (m) print x[int((m - 1) / 2)] }'; }
# RTT: the median over rounds of one column. direct has no copy of its own (its rows
# say "-"): direct LOAD/COPY is direct as measured in the runs that measured COPY
# (interleaved with them: column run), else (no such row) every direct row of LOAD.
rtt() { # rtt CONFIG N LOAD/COPY COL
	local load=${3%/*} copy=${3#*/}
	awk -F'\t' -v c="$1" -v n="$2" -v l="$load" -v p="$copy" -v k="$4" '
		FNR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$2 != n || $4 != l { next }
		NR == FNR { if (h["run"] && $1 != "direct" && $5 == p) run[$(h["run"])] = 1; next }
		$(h[k]) == "" { next }
		c != "direct" { if ($1 == c && $5 == p) print $(h[k]); next }
		$1 == "direct" { if (h["run"] && ($(h["run"]) in run)) same[ns++] = $(h[k]); else other[no++] = $(h[k]) }
		END { if (ns) for (i = 0; i < ns; i++) print same[i]; else for (i = 0; i < no; i++) print other[i] }' \
		"$T_RTT" "$T_RTT" | median
}
# rtt_diff CONFIG N LOAD/COPY COL OTHER: CONFIG less OTHER (direct or relay), us. When
# every CONFIG row has an OTHER row from the same run (light load: interleaved packet
# by packet; heavy load: in time slices), the median over rounds of the difference
# within each run; else (a run without one of the two) the difference of the medians.
rtt_diff() {
	local load=${3%/*} copy=${3#*/} d
	d=$(awk -F'\t' -v c="$1" -v n="$2" -v l="$load" -v p="$copy" -v k="$4" -v o="$5" '
		NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		!h["run"] || $2 != n || $4 != l || $(h[k]) == "" { next }
		$1 == c && $5 == p { a[$(h["run"])] = $(h[k]) }
		$1 == o && (o == "direct" || $5 == p) { b[$(h["run"])] = $(h[k]) }
		END { for (r in a) if (r in b) print a[r] - b[r]; else bad = 1; if (bad) print "unpaired" }' "$T_RTT")
	if [ -n "$d" ] && ! grep -q unpaired <<<"$d"; then
		median <<<"$d"
	else
		awk -v a="$(rtt "$1" "$2" "$3" "$4")" -v b="$(rtt "$5" "$2" "$3" "$4")" \
			'BEGIN { if (a != "" && b != "") print a - b }'
	fi
}
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2fx", a / b }'; }
diff_us() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%+.1f", a - b }'; }
num() { awk -v a="${1:-}" 'BEGIN { if (a == "") print "-"; else if (a >= 10000) printf "%\047d", a; else if (a == int(a)) printf "%d", a; else printf "%.1f", a }'; }
# vmed FILE COL CONFIG N SIZE: the median of COL over the rows (the rounds) of CONFIG N SIZE
vmed() {
	awk -F'\t' -v k="$2" -v c="$3" -v n="$4" -v s="$5" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$1 == c && $2 == n && $3 == s && $(h[k]) != "" { print $(h[k]) }' "$1" | median
}
# rounds_ratio COL N SIZE: peer / plain of COL in each round of T_PEER, "1.01x, 1.05x"
rounds_ratio() {
	awk -F'\t' -v k="$1" -v n="$2" -v s="$3" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$2 == n && $3 == s && $(h[k]) != "" { x[$1, $(h["round"])] = $(h[k]); if ($(h["round"]) > m) m = $(h["round"]) }
		END { for (r = 1; r <= m; r++) if (x["kernel", r] > 0 && x["peer", r] != "")
			o = o (o == "" ? "" : ", ") sprintf("%.2fx", x["peer", r] / x["kernel", r]); print o }' "$T_PEER"
}
# the direct of the peer RTT run (interleaved with it): median over its rows
rtt_direct_of_peer() { # N COL
	awk -F'\t' -v n="$1" -v k="$2" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$1 == "peer" && $2 == n { run[$(h["run"])] = 1 }
		$1 == "direct" && $2 == n { v[$(h["run"])] = $(h[k]) }
		END { for (r in run) if (r in v) print v[r] }' "$T_RTT" | median
}
yesno() { [ "$1" = 1 ] && echo "**yes**" || echo "**no**"; }
# tmed COL CONFIG N LOAD: the median of COL over the rounds of a TCP configuration
# (transfers that completed: ok, or below-rate)
tmed() {
	awk -F'\t' -v k="$1" -v c="$2" -v n="$3" -v l="$4" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$1 == c && $2 == n && $3 == l && $(h[k]) != "" && ($(h["result"]) == "ok" || $(h["result"]) == "below-rate") { print $(h[k]) }' "$T_TCP" | median
}
# tcount CONFIG N LOAD: "3" or "3 (1 noisy, 1 below-rate, 1 failed)": the rounds and their flaws
tcount() {
	awk -F'\t' -v c="$1" -v n="$2" -v l="$3" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$1 == c && $2 == n && $3 == l { t++; if ($(h["noisy"]) == 1) z++; r = $(h["result"])
			if (r == "below-rate") b++; else if (r != "ok") f++ }
		END { o = (z ? z " noisy" : ""); if (b) o = o (o == "" ? "" : ", ") b " below-rate"
			if (f) o = o (o == "" ? "" : ", ") f " failed"; printf "%d%s", t, (o == "" ? "" : " (" o ")") }' "$T_TCP"
}

CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
NS=$(awk -F'\t' 'NR > 1 && $1 != "direct" { print $2 }' "$T_TPUT" | sort -nu | paste -sd' ')
SIZES=$(awk -F'\t' 'NR > 1 { print $3 }' "$T_TPUT" | sort -nu | paste -sd' ')

{
	echo "# udpclone-bpf benchmark ($MODE)"
	echo
	echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), ${ELAPSED:-?} s. Machine: $(nproc) CPUs ($CPU_MODEL), $(free -g | awk '/^Mem:/ { print $2 }') GiB," \
		"kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")$(grep -q hypervisor /proc/cpuinfo && echo ", a virtual machine")."
	echo
	if [ "${LAYOUT:-fair}" = old ]; then
		echo "Pinning (old layout): the client (udpc-loadgen) on CPU 0; the receivers (udpc-sink), the relay"
		echo "and the udpclone-bpf daemon on CPU 1; all at nice ${NICE:-?}. **The kernel path does its fan-out in"
		echo "the client's context, on CPU 0, while the relay has CPU 1 to itself (shared with the receivers only).**"
	else
		echo "Pinning (fair layout): the client host's work on CPU 0 (the client, udpc-loadgen, and whatever"
		echo "fans out: the kernel path in the client's context, or the relay; the udpclone-bpf daemon too),"
		echo "the receivers (udpc-sink) on CPU 1; all at nice ${NICE:-?}."
	fi
	echo "Relay: udpc-relay ${RELAY_OPTS:-?}."
	echo "The client sends bursts (one sendmmsg of up to 32 datagrams) every ${BURST_US:-?} us. Each throughput"
	echo "figure is the median of ${REPS:-?} searches (trials of ${TRIAL:-?} s); each CPU figure the median of ${REPS:-?}"
	echo "runs. RTT: the three configurations interleaved in one run, at light load packet by packet (one"
	echo "datagram to each in turn, the order rotating), ${RTT_LIGHT_SEC:-?} s; at heavy load in ${RTT_SLICE_MS:-?} ms time slices, ${RTT_SEC:-?} s each;"
	echo "median over ${RTT_ROUNDS:-?} round(s). udpclone-bpf built from $(cat "$BD/commit" 2>/dev/null || echo 'the work tree')."
	echo

	# ---- the bar ----
	n=3 s=512
	if [ -n "$(v "$T_TPUT" rate_pps kernel $n $s)" ]; then
		kr=$(v "$T_TPUT" rate_pps kernel $n $s) rr=$(v "$T_TPUT" rate_pps relay $n $s)
		dr=$(v "$T_TPUT" rate_pps direct 1 $s)
		kc=$(v "$T_CPU" cpu_ns_per_copy kernel $n $s) rc=$(v "$T_CPU" cpu_ns_per_copy relay $n $s)
		dc=$(v "$T_CPU" cpu_ns_per_copy direct $n $s) crate=$(v "$T_CPU" rate_pps kernel $n $s)
		ok1=$(awk -v a="$kr" -v b="$rr" 'BEGIN { print (b > 0 && a >= 1.5 * b) ? 1 : 0 }')
		ok2=$(awk -v a="$kc" -v b="$rc" 'BEGIN { print (b > 0 && a != "" && a <= 0.75 * b) ? 1 : 0 }')
		echo "## The bar of issue 5: N = 3 destinations, 512-byte payloads"
		echo
		echo "| measure | udpclone-bpf | userspace relay | direct (no relay) | udpclone-bpf vs relay | bar | met |"
		echo "| --- | --: | --: | --: | --: | --- | --- |"
		echo "| lossless input rate, pps | $(num "$kr") | $(num "$rr") | $(num "$dr") | $(ratio "$kr" "$rr") | >= 1.5x | $(yesno "$ok1") |"
		echo "| CPU per delivered copy, ns (all at $(num "$crate") pps in) | $(num "$kc") | $(num "$rc") | $(num "$dc") | $(ratio "$kc" "$rc") | <= 0.75x | $(yesno "$ok2") |"
		for lc in light/first heavy/first light/last heavy/last; do
			kp=$(rtt kernel $n $lc first_p99_us) rp=$(rtt relay $n $lc first_p99_us)
			dp=$(rtt direct $n $lc first_p99_us) rate=$(rtt kernel $n $lc rate_pps)
			[ -n "$kp" ] || continue
			kd=$(rtt_diff kernel $n $lc first_p99_us direct) kr=$(rtt_diff kernel $n $lc first_p99_us relay)
			ok=$(awk -v d="$kd" 'BEGIN { print (d != "" && d < 10) ? 1 : 0 }')
			bar="< +10 us over direct"
			[ "${lc#*/}" = last ] && bar="(reported)"
			echo "| RTT p99 via the ${lc#*/} copy, ${lc%/*} load ($(num "$rate") pps), us | $(num "$kp") | $(num "$rp") | $(num "$dp") | $(diff_us "$kd" 0) us vs direct, $(diff_us "$kr" 0) us vs relay | $bar | $([ "${lc#*/}" = last ] && echo "-" || yesno "$ok") |"
		done
		echo
		echo "RTT: the three configurations interleaved in one run, each compared with the direct path of the"
		echo "same run: at light load packet by packet (one datagram to each in turn, the order rotating), at"
		echo "heavy load in time slices of ${RTT_SLICE_MS:-?} ms (one configuration at a time)."
		echo "RTT via the first copy: the echo is destination 1, the copy sent first; via the last copy: the"
		echo "echo is destination N, which here also waits for the receive processing of the N-1 copies"
		echo "before it (local receivers: that runs on the sending CPU too). Direct sends one copy: its CPU"
		echo "figure is the floor of the cost of a delivered datagram."
		echo
	fi

	# ---- throughput ----
	echo "## Throughput: highest input rate with loss < 0.1 %"
	echo
	echo "Input = datagrams the client sent per second; output = copies delivered per second. *limit*"
	echo "says what stopped the next step up: \`sender\` = the client could not send faster (its CPU,"
	echo "which also runs the kernel fan-out$([ "${LAYOUT:-fair}" = fair ] && echo " and the relay"), was full), \`backlog\` = copies queued up faster"
	echo "than they were delivered (a relay that cannot keep up), \`loss\` = datagrams were dropped."
	echo
	echo "| payload | N | udpclone-bpf in | out | limit | relay in | out | limit | udpclone-bpf / relay | udpclone-bpf / direct (in) |"
	echo "| --: | --: | --: | --: | --- | --: | --: | --- | --: | --: |"
	for s in $SIZES; do
		dr=$(v "$T_TPUT" rate_pps direct 1 "$s")
		echo "| $s | direct | $(num "$dr") | $(num "$(v "$T_TPUT" delivered_pps direct 1 "$s")") | $(v "$T_TPUT" limit direct 1 "$s") | | | | | |"
		for n in $NS; do
			kr=$(v "$T_TPUT" rate_pps kernel "$n" "$s") rr=$(v "$T_TPUT" rate_pps relay "$n" "$s")
			[ -n "$kr$rr" ] || continue
			echo "| $s | $n | $(num "$kr") | $(num "$(v "$T_TPUT" delivered_pps kernel "$n" "$s")") | $(v "$T_TPUT" limit kernel "$n" "$s") | $(num "$rr") | $(num "$(v "$T_TPUT" delivered_pps relay "$n" "$s")") | $(v "$T_TPUT" limit relay "$n" "$s") | $(ratio "$kr" "$rr") | $(ratio "$kr" "$dr") |"
		done
	done
	echo

	# ---- CPU ----
	echo "## CPU time per delivered copy"
	echo
	echo "CPU time of every process of the benchmark (client, receivers, relay, daemon) and of ksoftirqd,"
	echo "from their run times; the kernel's network work is charged to the process it runs for (the"
	echo "sender's fan-out and the copies' receive path alike). Measured at one input rate per row for all"
	echo "three: 80 % of the lower of the two lossless rates. *per datagram* = per copy x N: the cost of"
	echo "fanning one datagram out. *machine* = busy time of both CPUs less other tenants' tasks (it also"
	echo "holds interrupt work charged to no process), udpclone-bpf / relay."
	echo
	echo "| payload | N | input pps | udpclone-bpf ns/copy | relay ns/copy | direct ns/copy | udpclone-bpf / relay | udpclone-bpf / direct | udpclone-bpf ns/datagram | relay ns/datagram | machine: udpclone-bpf / relay |"
	echo "| --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |"
	for s in $SIZES; do
		for n in $NS; do
			kc=$(v "$T_CPU" cpu_ns_per_copy kernel "$n" "$s") rc=$(v "$T_CPU" cpu_ns_per_copy relay "$n" "$s")
			dc=$(v "$T_CPU" cpu_ns_per_copy direct "$n" "$s")
			[ -n "$kc$rc" ] || continue
			echo "| $s | $n | $(num "$(v "$T_CPU" rate_pps kernel "$n" "$s")") | $(num "$kc") | $(num "$rc") | $(num "$dc") | $(ratio "$kc" "$rc") | $(ratio "$kc" "$dc") | $(num "$(awk -v a="$kc" -v n="$n" 'BEGIN { if (a != "") printf "%d", a * n }')") | $(num "$(awk -v a="$rc" -v n="$n" 'BEGIN { if (a != "") printf "%d", a * n }')") | $(ratio "$(v "$T_CPU" machine_ns_per_copy kernel "$n" "$s")" "$(v "$T_CPU" machine_ns_per_copy relay "$n" "$s")") |"
		done
	done
	echo

	# ---- scale in N ----
	if [ "$(echo "$NS" | wc -w)" -gt 2 ]; then
		echo "## Scale: cost per datagram as N grows"
		echo
		echo "Least-squares line through CPU ns per datagram against N (from the table above), and the"
		echo "largest distance of a point from it: a cliff would show as a large residual."
		echo
		echo "| payload | config | ns per extra copy (slope) | fixed ns per datagram (intercept) | largest residual |"
		echo "| --: | --- | --: | --: | --: |"
		for s in $SIZES; do
			for c in kernel relay; do
				awk -F'\t' -v c="$c" -v s="$s" 'NR > 1 && $1 == c && $3 == s && $6 != "" { x[n] = $2; y[n] = $6 * $2; n++ }
					END { if (n < 3) exit
						for (i = 0; i < n; i++) { sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i] }
						b = (n * sxy - sx * sy) / (n * sxx - sx * sx); a = (sy - b * sx) / n
						for (i = 0; i < n; i++) { r = y[i] - (a + b * x[i]); if (r < 0) r = -r; if (r > m) m = r }
						printf "| %s | %s | %d | %d | %d (%.0f %%) |\n", s, (c == "kernel" ? "udpclone-bpf" : "relay"), b, a, m, 100 * m / (a + b * x[n - 1]) }' "$T_CPU"
			done
		done
		echo
	fi

	# ---- RTT ----
	if [ "$(wc -l <"$T_RTT")" -gt 1 ]; then
		echo "## Round-trip time"
		echo
		echo "Client to an echo and back, one datagram per sendmsg. With fan-out one destination is the echo"
		echo "and the others are counting sinks, so the echo's load is the same as in the direct path: *copy*"
		echo "says which: the first (destination 1) or the last (destination N, with the N-1 others in its"
		echo "way). Send time: just before sendmsg; receive time: the kernel's timestamp. Client, echo and"
		echo "relay at SCHED_FIFO. Light = 1,000 pps per configuration, interleaved packet by packet in one"
		echo "run: one datagram to each of direct, relay and udpclone-bpf in turn (the order rotating), so that a burst of"
		echo "noise hits all three alike; direct and the relay's copies then cross a second veth pair without"
		echo "programs, udpclone-bpf the one it is attached to. One run has the echo at the first copy, one at"
		echo "the last, each with its own direct (*- (first run)*, *- (last run)*); *vs direct* compares with"
		echo "the direct of the same run (median over rounds of the differences). Heavy = a quarter of the"
		echo "relay's one-way lossless rate, interleaved in ${RTT_SLICE_MS:-?} ms time slices, one configuration at a"
		echo "time (three streams at that rate at once would interfere), likewise compared within the run."
		echo "Microseconds; median over rounds."
		echo
		echo "| N | load | pps | config | copy | p50 | p99 | p99.9 | p50 vs direct | p99 vs direct | p99.9 vs direct |"
		echo "| --: | --- | --: | --- | --- | --: | --: | --: | --: | --: | --: |"
		for n in $(awk -F'\t' 'NR > 1 { print $2 }' "$T_RTT" | sort -nu); do
			for load in light heavy; do
				# each run's own direct, before the configurations it was interleaved with
				ccs="direct/first relay/first kernel/first direct/last relay/last kernel/last"
				for cc in $ccs; do
					c=${cc%/*} lc=$load/${cc#*/} copy=${cc#*/}
					p50=$(rtt "$c" "$n" "$lc" first_p50_us) p99=$(rtt "$c" "$n" "$lc" first_p99_us)
					p999=$(rtt "$c" "$n" "$lc" first_p999_us)
					[ -n "$p99" ] || continue
					name=$c
					[ "$c" = kernel ] && name=udpclone-bpf
					[ "$c" = direct ] && [ "$copy" != - ] && copy="- ($copy run)"
					echo "| $n | $load | $(num "$(rtt "$c" "$n" "$lc" rate_pps)") | $name | $copy | $p50 | $p99 | $p999 | $(diff_us "$(rtt_diff "$c" "$n" "$lc" first_p50_us direct)" 0) | $(diff_us "$(rtt_diff "$c" "$n" "$lc" first_p99_us direct)" 0) | $(diff_us "$(rtt_diff "$c" "$n" "$lc" first_p999_us direct)" 0) |"
				done
			done
		done
		echo
	fi

	# ---- peer mode ----
	if [ "$(wc -l <"$T_PEER" 2>/dev/null || echo 0)" -gt 1 ]; then
		echo "## Peer mode (issue 13): against plain mode"
		echo
		echo "Peer mode: \`attach --peer\` on the client (copies to 198.51.100.1..N:7000, each with the"
		echo "16-byte header), \`serve\` on the server's interface (--to the sink): the server's kernel drops"
		echo "N-1 copies of each datagram and the sink gets it once. Plain: udpclone-bpf without --peer,"
		echo "copies to the sink, which gets all N. *Per copy* = per copy **sent** (N per datagram) in both."
		echo "Target of issue 13: peer mode costs at most 20 % more client CPU per copy than plain mode."
		echo
		echo "Both rows of a round are measured at the same input rate (half the rate of the CPU table),"
		echo "one after the other (the order alternating from round to round), with the server interface's"
		echo "receive work steered to CPU 1 (RPS), so"
		echo "that the client's side is alone on CPU 0. *client* = the CPU time of the client process"
		echo "(udpc-loadgen) itself, which holds the kernel's work in its context: the send, the egress"
		echo "program, the clones and their transmit (other tenants' work excluded): **the measure of"
		echo "the target**. *CPU 0*, *CPU 1* = each CPU's busy time while sending (from cpuidle; CPU 0:"
		echo "the client host, CPU 1: the receivers' ingress programs, IP, UDP and the sink; other tenants'"
		echo "work included, see *foreign*). *both CPUs* = the machine's busy time less other tenants'"
		echo "tasks. Program run times: \`kernel.bpf_stats_enabled\` (on for both rows), each program's own"
		echo "time with its helpers (egress: the clones' transmit too), per copy sent (egress runs once per"
		echo "copy: the clones pass through it again) or received (serve)."
		echo
		echo "| N | payload | input pps | round | config | delivered per datagram | client ns/copy | CPU 0 ns/copy | CPU 1 ns/copy | both CPUs ns/copy | udpc_egress ns/copy | udpc_serve_ingress ns/copy | foreign CPUs | result |"
		echo "| --: | --: | --: | --: | --- | --: | --: | --: | --: | --: | --: | --: | --: | --- |"
		awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
			{ printf "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4,
				$(h["round"]), ($1 == "kernel" ? "plain" : $1), $(h["delivered_per_datagram"]),
				$(h["client_ns_per_copy"]), $(h["cpu0_ns_per_copy"]), $(h["cpu1_ns_per_copy"]),
				$(h["cpu_ns_per_copy"]), $(h["egress_ns_per_copy"]), ($(h["serve_ns_per_copy"]) == "" ? "-" : $(h["serve_ns_per_copy"])),
				$(h["foreign_cpus"]), $(h["result"]) }' "$T_PEER"
		echo
		echo "| N | payload | measure | plain | peer | peer / plain | target | met |"
		echo "| --: | --: | --- | --: | --: | --: | --- | --- |"
		awk -F'\t' 'NR > 1 { print $2 "\t" $3 }' "$T_PEER" | sort -u -n | while IFS=$'\t' read -r n s; do
			k0=$(vmed "$T_PEER" client_ns_per_copy kernel "$n" "$s") p0=$(vmed "$T_PEER" client_ns_per_copy peer "$n" "$s")
			ok=$(awk -v a="$p0" -v b="$k0" 'BEGIN { print (a != "" && b > 0 && a <= 1.2 * b) ? 1 : 0 }')
			echo "| $n | $s | client CPU per copy sent (the client process with the kernel's work in its context), ns; median over rounds (each round's ratio: $(rounds_ratio client_ns_per_copy "$n" "$s")) | $(num "$k0") | $(num "$p0") | $(ratio "$p0" "$k0") | <= 1.20x | $(yesno "$ok") |"
			k=$(vmed "$T_PEER" cpu0_ns_per_copy kernel "$n" "$s") p=$(vmed "$T_PEER" cpu0_ns_per_copy peer "$n" "$s")
			echo "| $n | $s | CPU 0 busy per copy sent (the client host, with the daemon and other tenants), ns | $(num "$k") | $(num "$p") | $(ratio "$p" "$k") | (reported) | - |"
			k=$(vmed "$T_PEER" cpu1_ns_per_copy kernel "$n" "$s") p=$(vmed "$T_PEER" cpu1_ns_per_copy peer "$n" "$s")
			echo "| $n | $s | receivers' CPU (CPU 1) per copy received, ns: plain delivers all N, peer 1 | $(num "$k") | $(num "$p") | $(ratio "$p" "$k") | (reported) | - |"
			k=$(vmed "$T_PEER" egress_ns_per_copy kernel "$n" "$s") p=$(vmed "$T_PEER" egress_ns_per_copy peer "$n" "$s")
			echo "| $n | $s | udpc_egress run time per copy, ns (each round: $(rounds_ratio egress_ns_per_copy "$n" "$s")) | $(num "$k") | $(num "$p") | $(ratio "$p" "$k") | (reported) | - |"
			echo "| $n | $s | udpc_serve_ingress run time per copy received, ns | - | $(num "$(vmed "$T_PEER" serve_ns_per_copy peer "$n" "$s")") | - | (reported) | - |"
			kr=$(v "$T_TPUT" rate_pps kernel "$n" "$s") pr=$(v "$T_TPUT" rate_pps peer "$n" "$s")
			if [ -n "$pr" ]; then
				echo "| $n | $s | lossless input rate, pps (limit) | $(num "$kr") ($(v "$T_TPUT" limit kernel "$n" "$s")) | $(num "$pr") ($(v "$T_TPUT" limit peer "$n" "$s")) | $(ratio "$pr" "$kr") | (reported) | - |"
				echo "| $n | $s | datagrams delivered to the application at that rate, per s | $(num "$(awk -v d="$(v "$T_TPUT" delivered_pps kernel "$n" "$s")" -v n="$n" 'BEGIN { if (d != "") printf "%d", d / n }')") | $(num "$(v "$T_TPUT" delivered_pps peer "$n" "$s")") | - | (reported) | - |"
			fi
			kc=$(v "$T_CPU" cpu_ns_per_copy kernel "$n" "$s") pc=$(v "$T_CPU" cpu_ns_per_copy peer "$n" "$s")
			if [ -n "$pc" ]; then
				echo "| $n | $s | all benchmark tasks' CPU per copy sent, usual layout (receive work on CPU 0), ns, at $(num "$(v "$T_CPU" rate_pps peer "$n" "$s")") pps | $(num "$kc") | $(num "$pc") | $(ratio "$pc" "$kc") | (reported) | - |"
				k=$(v "$T_CPU" client_ns_per_copy kernel "$n" "$s") p=$(v "$T_CPU" client_ns_per_copy peer "$n" "$s")
				echo "| $n | $s | client CPU per copy sent, usual layout (with the copies' receive path, on CPU 0 in its context), ns | $(num "$k") | $(num "$p") | $(ratio "$p" "$k") | (reported) | - |"
			fi
			dp=$(rtt peer "$n" light/any first_p99_us)
			if [ -n "$dp" ] && [ "$s" = 512 ]; then
				echo "| $n | 512 | RTT p50 / p99 via the first copy, light load ($(num "$(rtt peer "$n" light/any rate_pps)") pps), us; in parentheses: less direct's of the same run (plain: the RTT run above; peer: its own run, interleaved with direct; direct there: $(rtt_direct_of_peer "$n" first_p50_us) / $(rtt_direct_of_peer "$n" first_p99_us)) | $(rtt kernel "$n" light/first first_p50_us) / $(rtt kernel "$n" light/first first_p99_us) ($(diff_us "$(rtt_diff kernel "$n" light/first first_p50_us direct)" 0) / $(diff_us "$(rtt_diff kernel "$n" light/first first_p99_us direct)" 0)) | $(rtt peer "$n" light/any first_p50_us) / $dp ($(diff_us "$(rtt_diff peer "$n" light/any first_p50_us direct)" 0) / $(diff_us "$(rtt_diff peer "$n" light/any first_p99_us direct)" 0)) | - | (reported) | - |"
			fi
		done
		echo
		echo "*The usual layout* rows come from the throughput and CPU runs above (the veth receive path on"
		echo "the sending CPU): there the server's work is on CPU 0 too, and peer mode's dropped copies stop"
		echo "at TC ingress, cheaper than plain mode's delivered ones, so those rows do not isolate the client."
		echo
	fi

	# ---- TCP streams ----
	if [ "$(wc -l <"$T_TCP" 2>/dev/null || echo 0)" -gt 1 ]; then
		echo "## TCP streams (issue 14): tcp-client -> tcp-server against plain TCP"
		echo
		echo "A download (the service sends, the client checks every byte) through \`tcp-client\` ->"
		echo "\`tcp-server\` (peer mode underneath, N paths: N = 2 is one path by each of two uplinks) and"
		echo "over plain TCP (the kernel's own, no tunnel, no program on any interface, the veths' TSO/GSO"
		echo "on: the floor), on clean links (veth pairs through a router namespace, no emulator):"
		echo "\`tests/bench/tcp.sh\`. The client host's work on CPU 0 (udpc-tcp client, tcp-client), the"
		echo "server's on CPU 1 (tcp-server, the udpc-tcp service), each host's receive processing steered"
		echo "to its CPU (RPS). *bulk*: as fast as it goes, sized from a probe to last a few seconds;"
		echo "*paced*: the service sends at one rate for both configurations (80 % of the slower one's"
		echo "probed bulk rate, at most 20 MB/s), so that CPU per MB is compared at equal load."
		echo "CPU in µs per MB of payload: *machine* = both CPUs' busy time (cpuidle) less other tenants'"
		echo "tasks (it holds receive work that RPS ran on an idle CPU, charged to no task); *tasks* = the"
		echo "run time of our processes (client, tcp-client, tcp-server, the service's connection thread)"
		echo "and ksoftirqd; *CPU 0* / *CPU 1* = each CPU's busy time, other tenants included (see"
		echo "*foreign*), with its softirq time (from the scheduler tick, which charges softirq work to the"
		echo "task it interrupts: it overlaps the processes' system time); *tcp-client* and *tcp-server* ="
		echo "both processes of each (the streams and the peer-mode daemon), user / system from the tick."
		echo "Medians over the rounds (configurations alternating); a transfer during which other tenants"
		echo "kept more than 0.15 CPU busy was repeated and, if still so, is counted *noisy*."
		echo
		echo "| load | config | N | MB/s | machine µs/MB | tasks µs/MB | CPU 0 µs/MB (softirq) | CPU 1 µs/MB (softirq) | client app | tcp-client (user / sys) | tcp-server | service | machine vs plain | rounds |"
		echo "| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |"
		for l in bulk paced; do
			pm=$(tmed machine_us_per_mb plain - "$l")
			awk -F'\t' -v l="$l" 'NR > 1 && $3 == l { print $1 "\t" $2 }' "$T_TCP" | sort -u -k1,1r -k2,2 |
				while IFS=$'\t' read -r c n; do
					m=$(tmed machine_us_per_mb "$c" "$n" "$l")
					tc=- ts=-
					if [ "$c" != plain ]; then
						tc="$(num "$(tmed tcp_client_us_per_mb "$c" "$n" "$l")") ($(num "$(tmed tcp_client_user_us_per_mb "$c" "$n" "$l")") / $(num "$(tmed tcp_client_sys_us_per_mb "$c" "$n" "$l")"))"
						ts=$(num "$(tmed tcp_server_us_per_mb "$c" "$n" "$l")")
					fi
					echo "| $l$([ "$l" = paced ] && echo " ($(awk -F'\t' 'NR > 1 && $3 == "paced" { printf "%.2f", $5 / 1e6; exit }' "$T_TCP") MB/s)") | $c | $n | $(tmed mb_per_s "$c" "$n" "$l") | $(num "$m") | $(num "$(tmed tasks_us_per_mb "$c" "$n" "$l")") | $(num "$(tmed cpu0_us_per_mb "$c" "$n" "$l")") ($(num "$(tmed cpu0_softirq_us_per_mb "$c" "$n" "$l")")) | $(num "$(tmed cpu1_us_per_mb "$c" "$n" "$l")") ($(num "$(tmed cpu1_softirq_us_per_mb "$c" "$n" "$l")")) | $(num "$(tmed app_client_us_per_mb "$c" "$n" "$l")") | $tc | $ts | $(num "$(tmed app_server_us_per_mb "$c" "$n" "$l")") | $(ratio "$m" "$pm") | $(tcount "$c" "$n" "$l") |"
				done
		done
		echo
		echo "Every transfer (raw: \`results-tcp.tsv\`; the engines' counters, SIGUSR1, in \`logs/tcp-daemons.log\`):"
		echo
		echo "| load | config | N | round | MB | s | MB/s | machine µs/MB | tasks µs/MB | CPU 0 | CPU 1 | foreign CPUs | result |"
		echo "| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |"
		awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
			{ printf "| %s | %s | %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s%s |\n", $3, $1, $2, $4,
				$(h["bytes"]) / 1e6, $(h["seconds"]), $(h["mb_per_s"]), $(h["machine_us_per_mb"]),
				$(h["tasks_us_per_mb"]), $(h["cpu0_us_per_mb"]), $(h["cpu1_us_per_mb"]),
				$(h["foreign_cpus"]), $(h["result"]), ($(h["noisy"]) == 1 ? ", noisy" : "") }' "$T_TCP"
		echo
	fi

	# ---- flows ----
	if [ "$(wc -l <"$T_FLOWS")" -gt 1 ]; then
		echo "## Many client flows"
		echo
		echo "N = 3, 512 B. The client sends from a raw socket, cycling through the flows (source address"
		echo "and port), one flow in the baseline row. *in table* = \`flows\` of \`status --json\` afterwards."
		echo
		echo "| flow table | flows | lossless input pps | limit | CPU ns/copy | in table | rate vs 1 flow | CPU vs 1 flow |"
		echo "| --- | --: | --: | --- | --: | --: | --: | --: |"
		r1=$(v "$T_FLOWS" rate_pps kernel 1) c1=$(v "$T_FLOWS" cpu_ns_per_copy kernel 1)
		awk -F'\t' 'NR > 1 { print $1 "\t" $2 }' "$T_FLOWS" | while IFS=$'\t' read -r c f; do
			r=$(v "$T_FLOWS" rate_pps "$c" "$f") cc=$(v "$T_FLOWS" cpu_ns_per_copy "$c" "$f")
			b="default (65536)"
			[ "$c" != kernel ] && b="--max-flows ${c#kernel-maxflows}"
			echo "| $b | $(num "$f") | $(num "$r") | $(v "$T_FLOWS" limit "$c" "$f") | $(num "$cc") | $(num "$(v "$T_FLOWS" flows_in_table "$c" "$f")") | $(ratio "$r" "$r1") | $(ratio "$cc" "$c1") |"
		done
		echo
	fi
	echo "Raw numbers: \`results-*.tsv\`; every tool's output: \`logs/\`."
	[ -e "$BD/profile-kernel.txt" ] && echo "Profiles (perf, cpu-clock): \`profile-kernel.txt\`, \`profile-relay.txt\`."
	[ -e "$PNG" ] || true
} >"$MD"

# ---- chart ----
command -v gnuplot >/dev/null 2>&1 || { echo "report: no gnuplot, no chart" >&2; exit 0; }
P=$BD/plot
mkdir -p "$P"
rm -f "$P"/*.dat
for s in $SIZES; do
	for c in kernel relay; do
		awk -F'\t' -v c="$c" -v s="$s" 'NR > 1 && $1 == c && $3 == s { print $2, $4, $6 }' "$T_TPUT" | sort -n >"$P/tput-$c-$s.dat"
		awk -F'\t' -v c="$c" -v s="$s" 'NR > 1 && $1 == c && $3 == s && $6 != "" { print $2, $6 }' "$T_CPU" | sort -n >"$P/cpu-$c-$s.dat"
	done
	awk -F'\t' -v s="$s" 'NR > 1 && $1 == "direct" && $3 == s && $6 != "" { print $2, $6 }' "$T_CPU" | sort -n >"$P/cpu-direct-$s.dat"
	d=$(v "$T_TPUT" rate_pps direct 1 "$s")
	printf '%s %s\n' 1 "${d:-0}" 16 "${d:-0}" >"$P/tput-direct-$s.dat"
done
for load in light heavy; do
	for c in direct relay kernel; do
		name=$c
		[ "$c" = kernel ] && name=udpclone-bpf
		printf '%s %s %s\n' "$name" "$(rtt $c 3 $load/first first_p50_us)" "$(rtt $c 3 $load/first first_p99_us)"
	done >"$P/rtt-$load.dat"
done

{
	echo "set terminal pngcairo size 1400,1000 font ',10'"
	echo "set output '$PNG'"
	echo "set multiplot layout 2,2 title 'udpclone-bpf vs userspace relay vs direct ($MODE run, $(nproc) CPUs, $(uname -r))'"
	echo "set key center right; set grid; set logscale x 2; set xrange [0.8:20]; set xtics (1,2,3,4,8,16)"
	echo "set xlabel 'destinations N'; set ylabel 'input datagrams/s'; set format y '%.0s%c'"
	echo "set title 'Highest lossless input rate'; set yrange [0:*]"
	plot="plot "
	dt=1
	for s in $SIZES; do
		plot+="'$P/tput-kernel-$s.dat' u 1:2 w lp lw 2 lc 1 dt $dt t 'udpclone-bpf ${s}B', "
		plot+="'$P/tput-relay-$s.dat' u 1:2 w lp lw 2 lc 2 dt $dt t 'relay ${s}B', "
		plot+="'$P/tput-direct-$s.dat' u 1:2 w l lw 1 lc 3 dt $dt t 'direct ${s}B (N=1)', "
		dt=$((dt + 1))
	done
	echo "${plot%, }"
	echo "set title 'Delivered copies/s at that rate'; set ylabel 'copies/s'; set key top left"
	plot="plot "
	dt=1
	for s in $SIZES; do
		plot+="'$P/tput-kernel-$s.dat' u 1:3 w lp lw 2 lc 1 dt $dt t 'udpclone-bpf ${s}B', "
		plot+="'$P/tput-relay-$s.dat' u 1:3 w lp lw 2 lc 2 dt $dt t 'relay ${s}B', "
		dt=$((dt + 1))
	done
	echo "${plot%, }"
	echo "set title 'CPU time per delivered copy, at one input rate per N (80 % of the lower lossless rate)'"
	echo "set ylabel 'ns per copy (all benchmark processes)'; set format y '%g'; set key top left"
	plot="plot "
	dt=1
	for s in $SIZES; do
		plot+="'$P/cpu-kernel-$s.dat' u 1:2 w lp lw 2 lc 1 dt $dt t 'udpclone-bpf ${s}B', "
		plot+="'$P/cpu-relay-$s.dat' u 1:2 w lp lw 2 lc 2 dt $dt t 'relay ${s}B', "
		plot+="'$P/cpu-direct-$s.dat' u 1:2 w lp lw 1 lc 3 dt $dt t 'direct ${s}B', "
		dt=$((dt + 1))
	done
	echo "${plot%, }"
	echo "unset logscale x; set xrange [*:*]; set xtics auto; set xlabel ''; set ylabel 'microseconds'"
	echo "set title 'Round-trip time via the first copy, N = 3, 512 B'; set yrange [0:*]"
	echo "set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1; set boxwidth 0.9"
	echo "set key top left"
	echo "plot '$P/rtt-light.dat' u 2:xtic(1) t 'p50 light' lc 1, '' u 3 t 'p99 light' lc 2, '$P/rtt-heavy.dat' u 2 t 'p50 heavy' lc 3, '' u 3 t 'p99 heavy' lc 4"
	echo "unset multiplot"
} >"$P/chart.gp"
gnuplot "$P/chart.gp" 2>"$P/gnuplot.log" || { echo "report: gnuplot failed: $(head -c 300 "$P/gnuplot.log")" >&2; exit 1; }
echo "Chart: \`results.png\`." >>"$MD"
