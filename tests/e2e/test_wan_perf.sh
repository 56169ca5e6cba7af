#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The WAN lab's emulator is not what a test measures (issue 12; docs/WANLAB.md):
# udpc-wan carries at least 300 Mbit/s of 1,400-byte packets per link and adds
# under 100 us one way with no impairment (ping medians through it vs a plain veth);
# and its rate limit holds a TCP transfer to the rate set, within 5%, while its full
# queue adds the delay of a modem's buffer; with lossafter, a lost packet has still
# taken its time on the link.
# shellcheck disable=SC2317 # functions run through wait_until
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_begin wan_perf
require_peer
require_cmd ping python3 awk
[ -x "$WAN" ] || e2e_skip "udpc-wan is not built ($WAN)"
WAN_SEED=3 topo_wan clean clean || e2e_end
# a plain veth from the client to the router, for the baseline
V_C=$(ifname wvc) V_R=$(ifname wvr)
link_veth "$C_NS" "$V_C" "$R_NS" "$V_R" && addr_add "$C_NS" "$V_C" 198.51.100.65/30 &&
	addr_add "$R_NS" "$V_R" 198.51.100.66/30 || e2e_end
wait_until 5 link_up "$C_NS" "$V_C" || fail "veth did not come up"

# rtt_median NS DST COUNT: the median round trip of COUNT pings, in nanoseconds.
rtt_median() {
	nsx "$1" ping -n -c "$3" -i 0.002 -W 2 "$2" 2>/dev/null |
		sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%d\n", 1e6 * v[int((NR + 1) / 2)] }'
}
settled() { wan_dump "$1" && [ "$(wan_get "$1" a2b.queued)" = 0 ]; }

# -- 1. added latency at zero impairment: ping medians, emulated link vs veth
for dst in 198.51.100.66 "$WAN_R4_1" "$WAN_R4_2"; do
	nsx "$C_NS" ping -c 1 -W 2 "$dst" >/dev/null # neighbour resolution: no sample
done
veth=$(rtt_median "$C_NS" 198.51.100.66 500)
tap=$(rtt_median "$C_NS" "$WAN_R4_1" 500)
tun=$(rtt_median "$C_NS" "$WAN_R4_2" 500)
echo "  ping median over 500: plain veth $((veth / 1000)) us, emulated TAP link $((tap / 1000)) us," \
	"emulated tun link $((tun / 1000)) us: one way adds $(((tap - veth) / 2000)) us (TAP)," \
	"$(((tun - veth) / 2000)) us (tun)"
assert_le "added one-way latency, TAP (us)" 99 $(((tap - veth) / 2000))
assert_le "added one-way latency, tun (us)" 99 $(((tun - veth) / 2000))

# -- 2. throughput: 100,000 packets of 1,400 bytes (IP), unpaced, through each link
# to the router's end of it (not beyond: the router's forwarding and NAT would be
# measured too, as the emulator's writes run them); what the emulator wrote, from
# just before the first to its last write
# thru K SRC: prints Mbit/s
thru() {
	local k=$1 t0 b0 b1 t1 rcv dst=WAN_R4_$1
	dst=${!dst}:9100
	peer_echo_bg "$R_NS" "$dst" "thru$k" "$E2E_TMP/thru$k" --no-reply || return 1
	rcv=$BG_PID
	wan_dump "$k" || return 1
	t0=$(wan_get "$k" now_ns) b0=$(wan_get "$k" a2b.out_bytes)
	# the load generator at the emulator's priority (link_wan), so that on a busy
	# machine the figure is still the emulator's, not the sender's share of a core
	timeout 60 nsenter --net="/run/netns/$C_NS" -- nice -n -10 "$PEER" send --from "$2:0" \
		--to "$dst" --count 100000 --size 1372 --rate 0 --wait-replies 0 \
		>"$E2E_TMP/send-thru$k" 2>&1 || { fail "sender failed: $(head -c 300 "$E2E_TMP/send-thru$k")"; return 1; }
	wait_until 10 settled "$k" || { fail "uplink $k never emptied"; return 1; }
	bg_stop "$rcv"
	b1=$(wan_get "$k" a2b.out_bytes) t1=$(wan_get "$k" a2b.last_out_ns)
	echo $(((b1 - b0) * 8 * 1000 / (t1 - t0)))
}
mbit_tap=$(thru 1 "$WAN_C4_1") mbit_tun=$(thru 2 "$WAN_C4_2")
echo "  throughput of 1,400-byte packets: TAP link $mbit_tap Mbit/s (the echo read $(stat_get "$E2E_TMP/thru1" unique) of" \
	"100000), tun link $mbit_tun Mbit/s (the echo read $(stat_get "$E2E_TMP/thru2" unique))"
assert_ge "throughput, TAP link (Mbit/s)" 300 "$mbit_tap"
assert_ge "throughput, tun link (Mbit/s)" 300 "$mbit_tun"

# -- 3. rate: a TCP transfer up uplink 1 (TAP) at rate=20mbit, queue 100 packets.
# The receiver times the last 3/4 of 6 MB (past slow start); a segment of 1448
# bytes of payload (MSS with timestamps) is 1514 bytes on the link (Ethernet 14 +
# IP 20 + TCP 32): the link rate is the goodput x 1514/1448. The emulator's own
# out-bytes over the whole transfer are printed beside it.
wan_set 1 clean:up.rate=20mbit,up.queue=100pkt || e2e_end
# shellcheck disable=SC2016 # python, not shell
nsx_bg "$S_NS" timeout 60 python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1)
open(sys.argv[2] + ".ready", "w").close()
c, _ = s.accept(); total, marks = 0, []
while True:
    b = c.recv(1 << 16)
    if not b: break
    total += len(b); marks.append((time.monotonic(), total))
q = [m for m in marks if m[1] >= total // 4][0]
print("bytes", total); print("mss", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
print("goodput_bps", int((total - q[1]) * 8 / (marks[-1][0] - q[0])))
' "$WAN_S4" "$E2E_TMP/tcp" >"$E2E_TMP/tcp" 2>"$E2E_TMP/tcp.log"
TCP_RCV=$BG_PID
wait_until 5 test -e "$E2E_TMP/tcp.ready" || fail "TCP receiver did not start"
wan_dump 1
t0=$(wan_get 1 now_ns) b0=$(wan_get 1 a2b.out_bytes)
timeout 60 nsenter --net="/run/netns/$C_NS" -- python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[2], 5001), source_address=(sys.argv[1], 0))
s.sendall(b"x" * 6000000); s.close()' "$WAN_C4_1" "$WAN_S4" || fail "TCP sender failed"
# the sender is done once its data is queued: the receiver ends at the end of the data
wait_until 30 eval '! pid_alive "$TCP_RCV"' || fail "TCP receiver did not finish"
bg_stop "$TCP_RCV"
wan_dump 1
b1=$(wan_get 1 a2b.out_bytes) t1=$(wan_get 1 a2b.last_out_ns)
mss=$(stat_get "$E2E_TMP/tcp" mss) good=$(stat_get "$E2E_TMP/tcp" goodput_bps)
link=$((good * (mss + 66) / mss / 1000))
emu=$(((b1 - b0) * 8 * 1000000 / (t1 - t0)))
echo "  TCP at rate=20mbit: goodput $((good / 1000)) kbit/s (mss $mss) = link $link kbit/s;" \
	"the emulator wrote $emu kbit/s over the whole transfer (slow start included)"
assert_between "link rate from TCP goodput, set 20000 kbit/s (within 5%)" 19000 21000 "$link"

# -- 4. a full queue: UDP at twice the rate into a queue of 50 ms: a ping behind it
# waits ~50 ms, and what does not fit is dropped at the tail and counted
wan_set 1 clean:up.rate=20mbit,up.queue=50ms || e2e_end
wan_dump 1
d0=$(wan_get 1 a2b.queue_drops)
peer_send "$C_NS" "$E2E_TMP/send-flood" --from "$WAN_C4_1:0" --to "$WAN_S4:9" --count 8000 \
	--size 1372 --rate 3600 --wait-replies 0 &
FLOOD=$!
nsx "$C_NS" ping -n -c 20 -i 0.05 -I "$WAN_C4_1" "$WAN_S4" >"$E2E_TMP/ping-loaded" 2>&1
wait "$FLOOD"
wan_dump 1
loaded=$(sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' "$E2E_TMP/ping-loaded" | sort -n |
	awk '{ v[NR] = $1 } END { if (NR) printf "%d\n", v[int((NR + 1) / 2)] }')
drops=$(($(wan_get 1 a2b.queue_drops) - d0))
echo "  UDP at 40 Mbit/s into rate=20mbit,queue=50ms: ping median ${loaded:-?} ms" \
	"(unloaded: $((tap / 1000)) us), $drops of 8000 tail-dropped"
assert_between "ping behind a full 50 ms queue (ms)" 40 60 "${loaded:-0}"
# about half of what is offered does not fit (pings lost with it are not counted here)
assert_between "tail drops" 3000 5000 "$drops"

# -- 5. lossafter: loss after the rate queue, as on a radio. The same 40 Mbit/s into
# rate=20mbit with 50% loss: lost before the queue, the other half fits it (no tail
# drops to speak of); lost after it, every packet takes its time on the link, the
# queue overflows as above, and half of what it carried is lost after.
for where in before after; do
	spec=clean:up.rate=20mbit,up.queue=50ms,up.loss=50%
	[ "$where" = after ] && spec=$spec,up.lossafter
	wan_set 1 "$spec" || e2e_end
	wait_until 5 settled 1 || fail "uplink 1 did not settle"
	d0=$(wan_get 1 a2b.queue_drops) l0=$(wan_get 1 a2b.lost_random) o0=$(wan_get 1 a2b.out)
	peer_send "$C_NS" "$E2E_TMP/send-$where" --from "$WAN_C4_1:0" --to "$WAN_S4:9" --count 8000 \
		--size 1372 --rate 3600 --wait-replies 0
	wait_until 5 settled 1 || fail "uplink 1 did not settle"
	drops=$(($(wan_get 1 a2b.queue_drops) - d0)) lost=$(($(wan_get 1 a2b.lost_random) - l0))
	out=$(($(wan_get 1 a2b.out) - o0))
	echo "  UDP at 40 Mbit/s into rate=20mbit,loss=50%, loss $where the queue:" \
		"$drops tail-dropped, $lost lost, $out out of 8000"
	if [ "$where" = before ]; then
		assert_between "loss before the queue: lost" 3700 4300 "$lost"
		assert_le "loss before the queue: tail drops" 400 "$drops"
	else
		assert_between "loss after the queue: tail drops" 3000 5000 "$drops"
		assert_between "loss after the queue: lost, half of what the queue carried" \
			$(((8000 - drops) * 4 / 10)) $(((8000 - drops) * 6 / 10)) "$lost"
	fi
done
e2e_end
