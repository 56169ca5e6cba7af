#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Quick start, first command: udpclone-bpf on a small network built in network
# namespaces (removed at the end): a laptop with three uplinks to the internet, each
# an emulated WAN link (tests/tools/udpc-wan, docs/WANLAB.md), and a server beyond.
#
#   client lte  (USB LTE modem, Ethernet-like)  40 ms +- 15 ms, 5% lost in bursts  \
#          wifi (Wi-Fi, Ethernet-like)          10 ms, 1% lost                       router -- server
#          sim  (second SIM, raw IP like wwan)  90 ms, 10% lost, behind carrier NAT /
#
# Delays and losses are one way, each direction on its own. The client sends
# datagrams to the server and the server's application answers each one once, as a
# VPN does: first over the LTE link alone; then through udpclone-bpf with one copy
# per uplink, while `status` shows the counters live (the application sees every
# copy, and its answer goes back by one link); then in peer mode, udpclone-bpf at
# both ends (`serve` on the server): the application sees each datagram once, and
# its answer goes back by every link. Last, TCP with every uplink made bad (30% lost
# each way): keystrokes echoed by the server (an ssh session) and a download, by
# plain TCP over LTE alone, then through tcp-client -> tcp-server (docs/TCP.md).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces, BPF): sudo $0" >&2
	exit 1
fi
scripts/install-deps.sh && make --no-print-directory all tools || exit 1
# shellcheck source=../tests/e2e/lib.sh
. tests/e2e/lib.sh

N=${DEMO_COUNT:-6000}
RATE=${DEMO_RATE:-2000}

e2e_begin demo
require_cmd nft ethtool
topo_wan lte wifi sim2 || e2e_end
LTE=$WAN_IF_1 WIFI=$WAN_IF_2 SIM=$WAN_IF_3 SRV4=$WAN_S4

echo "== three uplinks to the server $SRV4 (one way, each direction on its own):"
echo "   $LTE  $WAN_C4_1  LTE modem:  40 ms +- 15 ms, 5% lost in bursts of 3 (Ethernet-like)"
echo "   $WIFI  $WAN_C4_2  Wi-Fi:      10 ms, 1% lost (Ethernet-like)"
echo "   $SIM  $WAN_C4_3  second SIM: 90 ms, 10% lost, raw IP, carrier NAT to $WAN_NAT4"
peer_echo_bg "$S_NS" "0.0.0.0:9000" server "$E2E_TMP/one" --reply-once || e2e_end
echo "== 1. without udpclone-bpf: $N datagrams to $SRV4:9000 over the LTE link alone"
peer_send "$C_NS" "$E2E_TMP/send-one" --to "$SRV4:9000" --count "$N" --rate "$RATE" --wait-replies 1
bg_stop "$BG_PID"

DESTS="$SRV4:9000,$SRV4:9000@$WIFI,$SRV4:9000@$SIM"
echo "== 2. udpclone-bpf attach $LTE --listen 5743 --destinations $DESTS"
udpc_attach_bg "$C_NS" "$LTE" --listen 5743 --destinations "$DESTS" || e2e_end
peer_echo_bg "$S_NS" "0.0.0.0:9000" server "$E2E_TMP/three" --reply-once || e2e_end
SRV=$BG_PID
echo "   $N datagrams to $SRV4:5743: one copy leaves by each uplink"
peer_send "$C_NS" "$E2E_TMP/send-three" --to "$SRV4:5743" --count "$N" --rate "$RATE" \
	--wait-replies 1 &
SENDER=$!
for _ in 1 2; do
	sleep 1
	echo
	nsx "$C_NS" "$UDPC" status "$LTE" | sed -n '/DESTINATION/,$p'
done
wait "$SENDER"
bg_stop "$SRV"
echo
nsx "$C_NS" "$UDPC" status "$LTE"
bg_stop "$UDPC_PID"

PDESTS="$SRV4:7000,$SRV4:7000@$WIFI,$SRV4:7000@$SIM"
echo
echo "== 3. peer mode: on the server, udpclone-bpf serve $WAN_S_IF --listen 7000 --to 9000"
udpc_serve_bg "$S_NS" "$WAN_S_IF" --listen 7000 --to 9000 || e2e_end
SERVE=$UDPC_PID
echo "   on the client, udpclone-bpf attach $LTE --listen 5743 --destinations $PDESTS --peer"
udpc_attach_bg "$C_NS" "$LTE" --listen 5743 --destinations "$PDESTS" --peer || e2e_end
PCLIENT=$UDPC_PID
peer_echo_bg "$S_NS" "0.0.0.0:9000" server "$E2E_TMP/peer" --reply-once || e2e_end
SRV=$BG_PID
echo "   $N datagrams to $SRV4:5743: one copy by each uplink, the server's kernel keeps the first"
peer_send "$C_NS" "$E2E_TMP/send-peer" --to "$SRV4:5743" --count "$N" --rate "$RATE" --wait-replies 1
bg_stop "$SRV"
echo
nsx "$S_NS" "$UDPC" status "$WAN_S_IF"
bg_stop "$SERVE"

one=$(stat_get "$E2E_TMP/one" unique) three=$(stat_get "$E2E_TMP/three" unique)
peer=$(stat_get "$E2E_TMP/peer" unique)
one_rt=$(stat_get "$E2E_TMP/send-one" replies_unique_seq)
three_rt=$(stat_get "$E2E_TMP/send-three" replies_unique_seq)
peer_rt=$(stat_get "$E2E_TMP/send-peer" replies_unique_seq)
copies() { awk -v a="$(stat_get "$1" received)" -v b="$(stat_get "$1" unique)" \
	'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%5.1f%%", 100 * a / b }'; }
echo
echo "== out of $N datagrams: how many reached the application, how many copies of each it"
echo "   got, and how many of its answers came back:"
printf '   LTE alone:              %5d %s   %s copies   answered %5d %s\n' "$one" \
	"$(pct "$one" "$N")" "$(copies "$E2E_TMP/one")" "$one_rt" "$(pct "$one_rt" "$N")"
printf '   three uplinks:          %5d %s   %s copies   answered %5d %s\n' "$three" \
	"$(pct "$three" "$N")" "$(copies "$E2E_TMP/three")" "$three_rt" "$(pct "$three_rt" "$N")"
printf '   three uplinks, peer:    %5d %s   %s copies   answered %5d %s\n' "$peer" \
	"$(pct "$peer" "$N")" "$(copies "$E2E_TMP/peer")" "$peer_rt" "$(pct "$peer_rt" "$N")"
# one way: 1 - l per link, and three links fail only together; an answer sent once
# takes the link its datagram came by first (mostly Wi-Fi here); in peer mode the
# answer too goes by all three.
echo "   independent losses predict 95.0% one way and 90.3% answered for LTE alone,"
echo "   99.995% one way for three uplinks, and 99.99% answered in peer mode"
# The demo checks itself: fan-out must beat the lossy link it started with, and
# peer mode must hand the application each datagram once.
assert_ge "datagrams delivered with three uplinks" $((N * 99 / 100)) "$three"
assert_eq "copies the application got in peer mode, beyond the first" 0 \
	"$(stat_get "$E2E_TMP/peer" dup)"
assert_ge "answers in peer mode" $((N * 99 / 100)) "$peer_rt"

# -- 4. TCP on bad links: keystrokes and a download, plain TCP by LTE alone against
# tcp-client -> tcp-server over all three uplinks (docs/TCP.md).
TCPT=$OUT/tests/udpc-tcp
KEYS=${DEMO_KEYS:-100} BULK=${DEMO_BULK:-4000000}
TSP=7001 ECHO_PORT=8001 BULK_PORT=8000 LP=9100
# ECHO_PY server ADDR PORT: echoes every connection's bytes back at once.
# ECHO_PY client ADDR PORT N INTERVAL LIMIT: once connected (10 s at most), sends N
# one-byte "keystrokes" INTERVAL s apart without waiting (as ssh does) and times each
# one's echo, for LIMIT s from the first; prints "key value" lines (times in ms, p99
# by nearest rank; a keystroke still unanswered at the end counts its wait so far).
# shellcheck disable=SC2016 # python, not shell
ECHO_PY='
import socket, sys, threading, time
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def nodelay(s):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if mode == "server":
    ls = socket.create_server((addr, port), reuse_port=True)
    print("listening", flush=True)
    def echo(c):
        nodelay(c)
        while True:
            b = c.recv(4096)
            if not b:
                break
            c.sendall(b)
        c.close()
    while True:
        threading.Thread(target=echo, args=(ls.accept()[0],), daemon=True).start()
n, gap, limit = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
s = socket.create_connection((addr, port), timeout=10)
nodelay(s)
t0 = time.monotonic()
sent = []
def typist():
    for i in range(n):
        sent.append(time.monotonic())
        s.sendall(bytes([i % 256]))
        time.sleep(gap)
threading.Thread(target=typist, daemon=True).start()
rtt, intact = [], 1
try:
    while len(rtt) < n:
        s.settimeout(max(0.01, t0 + limit - time.monotonic()))
        b = s.recv(4096)
        if not b:
            break
        for x in b:
            if x != len(rtt) % 256:
                intact = 0
            rtt.append((time.monotonic() - sent[len(rtt)]) * 1000)
except OSError:
    pass
end = time.monotonic()
r = sorted(rtt + [(end - t) * 1000 for t in sent[len(rtt):n]]) or [0]
print("echoed %d\nintact %d\nmedian_ms %.0f\np99_ms %.0f\nmax_ms %.0f"
      % (len(rtt), intact, r[(len(r) - 1) // 2], r[-(-99 * len(r) // 100) - 1], r[-1]))
'
# keys NAME ADDR PORT: the keystrokes, stats in $E2E_TMP/NAME
keys() {
	nsx "$C_NS" timeout -k 5 90 python3 -c "$ECHO_PY" client "$2" "$3" "$KEYS" 0.1 20 \
		>"$E2E_TMP/$1" 2>"$E2E_TMP/$1.log"
}
# bulk NAME ADDR:PORT TIMEOUT: a download of BULK bytes, stats in $E2E_TMP/NAME
bulk() {
	nsx "$C_NS" timeout -k 5 90 "$TCPT" client "$2" --down "$BULK" --timeout "$3" \
		>"$E2E_TMP/$1" 2>&1
}
echo
echo "== 4. TCP, with each uplink made bad: 30% of packets lost each way (LTE's bursts on top)"
bg_stop "$PCLIENT"
wan_set 1 lte:loss=30% && wan_set 2 wifi:loss=30% && wan_set 3 sim2:loss=30% || e2e_end
# Segmentation offloads off on plain TCP's way (LTE), or udpc-wan would lose whole
# 64 KB super-packets rather than packets, and TCP's packets would not see 30% loss.
for nsif in "$C_NS $LTE" "$R_NS $WAN_RIF_1" "$R_NS $WAN_RS_IF" "$S_NS $WAN_S_IF"; do
	# shellcheck disable=SC2086 # two words: NS IFACE
	set -- $nsif
	nsx "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
done
nsx_bg "$S_NS" python3 -c "$ECHO_PY" server 0.0.0.0 "$ECHO_PORT" >"$E2E_TMP/echo-srv.log" 2>&1
ECHO_SRV=$BG_PID
nsx_bg "$S_NS" "$TCPT" server "0.0.0.0:$BULK_PORT" >"$E2E_TMP/bulk-srv.log" 2>&1
BULK_SRV=$BG_PID
wait_until 5 grep -q listening "$E2E_TMP/echo-srv.log" || fail "the echo service did not start"
wait_until 5 grep -q listening "$E2E_TMP/bulk-srv.log" || fail "the download service did not start"
FWD="echo=127.0.0.1:$ECHO_PORT,bulk=127.0.0.1:$BULK_PORT"
echo "   on the server, udpclone-bpf tcp-server $WAN_S_IF --listen $TSP --forward $FWD"
_udpc_daemon_bg tcp-server "$S_NS" "$WAN_S_IF" --listen "$TSP" --forward "$FWD" || e2e_end
TSERVER=$UDPC_PID
TDESTS="$SRV4:$TSP,$SRV4:$TSP@$WIFI,$SRV4:$TSP@$SIM"
TFWD="127.0.0.1:$LP=echo,127.0.0.1:$((LP + 1))=bulk"
echo "   on the client, udpclone-bpf tcp-client $LTE --destinations $TDESTS --forward $TFWD"
_udpc_daemon_bg tcp-client "$C_NS" "$LTE" --destinations "$TDESTS" --forward "$TFWD" || e2e_end
TCLIENT=$UDPC_PID
# tcp-client's flow is kept busy from here until its last use: after 5 s with nothing
# heard, a new connection's first datagrams can make it take the server for silent
# (user/tcpio.c: last_rx, SILENT_NS) and reset that connection.
echo "   (a) a $BULK-byte download through tcp-client, from 127.0.0.1:$((LP + 1))"
bulk bulk-tool "127.0.0.1:$((LP + 1))" 60 || true
echo "   (b) $KEYS keystrokes, 10 a second, each echoed by the server (an ssh session):"
echo "       to $SRV4:$ECHO_PORT by LTE alone, and to 127.0.0.1:$LP through tcp-client, at once"
keys keys-plain "$SRV4" "$ECHO_PORT" &
KP=$!
keys keys-tool 127.0.0.1 "$LP"
wait "$KP"
echo "   (c) the same download by LTE alone, from $SRV4:$BULK_PORT (10 s at most)"
bulk bulk-plain "$SRV4:$BULK_PORT" 10 || true
bg_stop "$TCLIENT"
bg_stop "$TSERVER"
bg_stop "$ECHO_SRV"
bg_stop "$BULK_SRV"

ks() { stat_get "$E2E_TMP/keys-$1" "$2"; }
bs() { stat_get "$E2E_TMP/bulk-$1" "$2"; }
kbps() { awk -v b="$(bs "$1" bytes_down)" -v s="$(bs "$1" seconds)" \
	'BEGIN { printf "%d", (s > 0 ? b / s / 1000 : 0) }'; }
echo
echo "== TCP with 30% loss each way: time from a keystroke to its echo, and the download"
for k in plain tool; do
	[ "$k" = plain ] && what="LTE alone: " || what="tcp-client:"
	more='' # a lower bound when some are still unanswered
	[ "$(ks $k echoed)" = "$KEYS" ] || more='>'
	printf '   keystrokes, %s     median %5s ms   p99 %6s ms   max %6s ms   %3s of %d echoed\n' \
		"$what" "$(ks $k median_ms)" "$more$(ks $k p99_ms)" "$more$(ks $k max_ms)" \
		"$(ks $k echoed)" "$KEYS"
done
printf '   download, LTE alone:        %6s MB/s   %9s bytes in %s s\n' \
	"$(bs plain mbps)" "$(bs plain bytes_down)" "$(bs plain seconds)"
printf '   download, tcp-client:       %6s MB/s   %9s bytes in %s s\n' \
	"$(bs tool mbps)" "$(bs tool bytes_down)" "$(bs tool seconds)"
echo "   (keystrokes are timed for 20 s from the first; one still unanswered then counts"
echo "   its wait so far, so LTE alone's times are lower bounds when not all came back.)"
echo "   LTE alone: a keystroke and its echo both get through less than half the time"
echo "   (0.7 x 0.7, less with LTE's bursts); a lost one waits for TCP's retransmission"
echo "   timer (200 ms or more, doubled at each loss in a row), and every keystroke typed"
echo "   meanwhile waits behind it, so the delays pile up. Through tcp-client each datagram"
echo "   goes by all three uplinks and is lost only if all three copies are (about 3%),"
echo "   and a keystroke's datagram goes twice, 2 ms apart (a thin flight: docs/TCP.md), so"
echo "   it waits for a repair about once in 1,400; each way the first copy in counts:"
echo "   Wi-Fi's 10 ms when its copy gets through (70%), else LTE's 40 ms or the SIM's 90 ms."
echo "   The download: TCP reads every loss as congestion and slows down, so over a 30%"
echo "   link it crawls whatever the link could carry (the Mathis estimate, MSS/RTT x"
echo "   1.22/sqrt(loss), gives about 40 KB/s here; less when its timers back off, and a"
echo "   lost SYN alone costs 1 s or more). tcp-client's streams"
echo "   send at the rate the path delivers and resend what is lost, over three uplinks,"
echo "   and the TCP connections at either end (to 127.0.0.1) see no loss at all."
assert_eq "keystrokes through tcp-client: all echoed" "$KEYS" "$(ks tool echoed)"
assert_eq "keystrokes through tcp-client: intact and in order" 1 "$(ks tool intact)"
assert_eq "keystrokes by LTE alone: intact and in order" 1 "$(ks plain intact)"
assert_eq "download through tcp-client: every byte intact, then the end" 1 "$(bs tool ok)"
assert_eq "download by LTE alone: the bytes that came, intact" 0 "$(bs plain corrupt)"
plain_kbps=$(kbps plain)
assert_ge "download KB/s through tcp-client, more than 10 x LTE alone's $plain_kbps" \
	$((${plain_kbps:-0} * 10 + 1)) "$(kbps tool)"
echo "   the demo took ${SECONDS} s"
e2e_end
