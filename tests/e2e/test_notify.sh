#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Readiness as systemd sees it (Type=notify), without systemd: a listener on a
# $NOTIFY_SOCKET of the test's own stands in for the service manager.
#
#   1. A path socket. READY=1 arrives once, from the daemon's pid, with
#      STATUS= naming the destination count and states ("1 unresolved": one name
#      does not resolve yet). The listener stops the daemon (SIGSTOP) the moment
#      READY=1 arrives and only then looks at the filters: both must be attached
#      already, so READY=1 cannot have been sent before them. --ready-fd says
#      "ready" too (udpc_attach_bg waits on it).
#   2. The name appears in the hosts file: a new STATUS= says so, unasked.
#   3. SIGTERM: STOPPING=1 before the daemon detaches and exits.
#   4. An abstract socket ("@name", Linux's abstract namespace: per network
#      namespace, so the listener runs in the client's): the same READY=1.
#   5. tcp-server and tcp-client (the daemon in a child, docs/TCP.md): READY=1 once,
#      from the pid the test started (systemd's main pid), with the "serving" or
#      "attached to" line as STATUS=; the child's filters already attached and (the
#      client) its forwarding port already accepting when it arrives; nothing ever
#      from the child. SIGTERM: STOPPING=1, from the same pid.
# Prints how long each took to become ready.
# shellcheck disable=SC2317 # has_msg runs through wait_until and assert_ok
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743
SP=7000 # tcp-server --listen
LP=9000 # tcp-client's forward

e2e_begin notify
require_udpc
require_cmd python3 tc unshare mount
grep -Eq '^hosts:.*[[:space:]]files([[:space:]]|$)' /etc/nsswitch.conf 2>/dev/null ||
	e2e_skip "/etc/nsswitch.conf has no 'files' source for hosts"
topo_star || e2e_end

HOSTS=$E2E_TMP/hosts
RESOLV=$E2E_TMP/resolv.conf
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$RESOLV"
set_hosts() { printf '%s\n' "127.0.0.1 localhost" "$@" >"$HOSTS"; }
set_hosts
WRAP=$(udpc_with_resolver "$HOSTS" "$RESOLV") || e2e_end
DESTS=a.notify.test:9000,$R4_2:9001,$R4_3:9002

# The stand-in service manager: one line per state line received,
# "UNIXTIME PID FILTERS ACCEPTS LINE", PID from the kernel (SCM_CREDENTIALS, as
# systemd reads it), FILTERS our filters on IFACE and ACCEPTS whether 127.0.0.1:PORT
# takes a connection (1 or 0; -1 without PORT), both while the sender of READY=1 is
# stopped (-1 for other messages).
cat >"$E2E_TMP/listen.py" <<'EOF'
import os, signal, socket, struct, subprocess, sys, time
addr, out, iface, ready = sys.argv[1:5]
port = int(sys.argv[5]) if len(sys.argv) > 5 else 0
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(ready, "w").close()
def ours(hook):
    r = subprocess.run(["tc", "filter", "show", "dev", iface, hook],
                       capture_output=True, text=True)
    return sum(" pref 3088 " in l and " handle 0x55dc " in l for l in r.stdout.splitlines())
# 1: something listens on PORT. A reset counts too (a closed port refuses): the sender
# may take the connection before the stop takes hold, and reset it (the server has
# nothing at "app"). Refused or no answer: 0.
def accepts():
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return 1
    except ConnectionResetError:
        return 1
    except OSError:
        return 0
with open(out, "a", buffering=1) as f:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        t, pid, filters, acc = time.time(), 0, -1, -1
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        lines = msg.decode(errors="replace").split("\n")
        if "READY=1" in lines and pid > 0:
            os.kill(pid, signal.SIGSTOP)
            try:
                filters = ours("ingress") + ours("egress")
                acc = accepts() if port else -1
            finally:
                os.kill(pid, signal.SIGCONT)
        # One write per datagram: a reader sees all of its lines or none.
        f.write("".join(f"{t:.6f} {pid} {filters} {acc} {l}\n" for l in lines))
EOF

# listener ADDR NAME [NS IFACE [PORT]]: starts the stand-in on ADDR in NS (the
# client's), counting our filters on IFACE ($C_IF); its lines go to $E2E_TMP/NAME.msgs.
listener() {
	rm -f "$E2E_TMP/$2.ready"
	nsx_bg "${3:-$C_NS}" python3 "$E2E_TMP/listen.py" "$1" "$E2E_TMP/$2.msgs" "${4:-$C_IF}" \
		"$E2E_TMP/$2.ready" ${5:+"$5"} 2>"$E2E_TMP/$2.log"
	wait_until 10 test -e "$E2E_TMP/$2.ready" ||
		fail "listener on $1 did not start: $(head -c 300 "$E2E_TMP/$2.log")"
}
# msgs NAME ERE: the lines of NAME matching ERE
msgs() { grep -E -- "$2" "$E2E_TMP/$1.msgs" 2>/dev/null; }
has_msg() { [ -n "$(msgs "$1" "$2")" ]; }

# check_ready NAME T0 [IFACE]: READY=1 once, from the daemon, both filters already
# there; the --ready-fd of the daemon on IFACE ($C_IF). Prints the time to ready;
# fails if no READY=1 came.
check_ready() {
	local r pid filters t ms
	# The daemon may write --ready-fd before the listener has written its line.
	wait_until 10 has_msg "$1" ' READY=1$' || { fail "$1: no READY=1 in 10 s"; return 1; }
	r=$(msgs "$1" ' READY=1$')
	assert_eq "$1: READY=1 messages" 1 "$(echo "$r" | grep -c .)"
	read -r t pid filters _ <<<"$r"
	assert_eq "$1: READY=1 from the daemon" "$UDPC_PID" "$pid"
	assert_eq "$1: our filters when READY=1 arrived" 2 "$filters"
	assert_eq "$1: --ready-fd" ready "$(cat "$E2E_TMP/udpc-${3:-$C_IF}.ready")"
	ms=$(($(_usec "$t") / 1000 - $2 / 1000))
	assert_between "$1: ready after (ms)" 0 $((UDPC_READY_TIMEOUT * 1000)) "$ms"
	e2e_log "$1: ready ${ms} ms after it started"
}
# status_line NAME: the first STATUS= line of NAME, its time first.
status_line() { msgs "$1" ' STATUS=' | head -1 | cut -d' ' -f1,5-; }

# -- 1. path socket
SOCK=$E2E_TMP/notify.sock
listener "$SOCK" path || e2e_end
T0=$(_usec_now)
NOTIFY_SOCKET=$SOCK UDPC=$WRAP udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" \
	--destinations "$DESTS" --resolve-interval 1 || e2e_end
check_ready path "$T0" || e2e_end
READY_TIME=$(msgs path ' READY=1$' | cut -d' ' -f1)
assert_eq "path: STATUS= in the READY=1 datagram" \
	"$READY_TIME STATUS=3 destinations on $C_IF: 2 active, 0 stale, 1 unresolved" \
	"$(status_line path)"

# -- 2. a change of state is told
set_hosts "$R4_1 a.notify.test"
wait_until 10 has_msg path " STATUS=3 destinations on $C_IF: 3 active, 0 stale, 0 unresolved\$" ||
	fail "no STATUS= after a.notify.test resolved: $(msgs path STATUS= | cut -d' ' -f5- | paste -sd'|' -)"
assert_eq "STATUS= lines: one per change" 2 "$(msgs path ' STATUS=' | grep -c .)"

# -- 3. stop
assert_ok "SIGTERM: clean exit" bg_stop "$UDPC_PID"
assert_ok "STOPPING=1 on SIGTERM" has_msg path ' STOPPING=1$'
assert_eq "filters after SIGTERM" 0 "$(udpc_filter_count "$C_NS" "$C_IF")"

# -- 4. abstract socket, plain addresses
listener "@udpc-notify-$RUNID" abstract || e2e_end
T0=$(_usec_now)
NOTIFY_SOCKET=@udpc-notify-$RUNID udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" \
	--destinations "$R4_1:9000,$R4_2:9001" || e2e_end
check_ready abstract "$T0" || e2e_end
assert_ok "abstract: STATUS=" has_msg abstract \
	" STATUS=2 destinations on $C_IF: 2 active, 0 stale, 0 unresolved\$"
assert_ok "SIGTERM: clean exit" bg_stop "$UDPC_PID"

# -- 5. tcp-server and tcp-client: the parent speaks, the child does not
# tcp_check NAME T0 IFACE STATUS: check_ready, STATUS= in the READY=1 datagram, and
# the child (the data path daemon) alive.
tcp_check() {
	local child
	check_ready "$1" "$2" "$3" || return 1
	assert_eq "$1: STATUS= in the READY=1 datagram" \
		"$(msgs "$1" ' READY=1$' | cut -d' ' -f1) STATUS=$4" "$(status_line "$1")"
	child=$(pgrep -P "$UDPC_PID" -x udpclone-bpf)
	assert_ok "$1: the child runs ($child)" test -n "$child"
}
# tcp_stop NAME PID: SIGTERM, STOPPING=1 from PID, and every message from PID.
tcp_stop() {
	assert_ok "$1: SIGTERM: clean exit" bg_stop "$2" 15
	assert_ok "$1: STOPPING=1 on SIGTERM" wait_until 5 has_msg "$1" "^[^ ]+ $2 .* STOPPING=1\$"
	assert_eq "$1: messages from another pid than $2" "" \
		"$(awk -v p="$2" '$2 != p' "$E2E_TMP/$1.msgs" | head -3 | paste -sd'|' -)"
}
listener "$E2E_TMP/tcps.sock" tcps "$S_NS" "$S_IF" || e2e_end
T0=$(_usec_now)
NOTIFY_SOCKET=$E2E_TMP/tcps.sock _udpc_daemon_bg tcp-server "$S_NS" "$S_IF" --listen "$SP" \
	--forward "app=127.0.0.1:$LP" || e2e_end
tcp_check tcps "$T0" "$S_IF" "tcp-server serving $S_IF: UDP port $SP, streams to app" ||
	e2e_end
SERVER=$UDPC_PID
listener "$E2E_TMP/tcpc.sock" tcpc "$C_NS" "$C_IF" "$LP" || e2e_end
T0=$(_usec_now)
NOTIFY_SOCKET=$E2E_TMP/tcpc.sock _udpc_daemon_bg tcp-client "$C_NS" "$C_IF" \
	--destinations "$S4:$SP" --forward "127.0.0.1:$LP=app" || e2e_end
tcp_check tcpc "$T0" "$C_IF" \
	"tcp-client attached to $C_IF: streams over 1 path (flow to $S4 port 5744), forwarding app" ||
	e2e_end
assert_eq "tcpc: 127.0.0.1:$LP accepting when READY=1 arrived" 1 \
	"$(msgs tcpc ' READY=1$' | cut -d' ' -f4)"
tcp_stop tcpc "$UDPC_PID"
tcp_stop tcps "$SERVER"
e2e_end
