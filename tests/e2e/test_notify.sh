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
# Prints how long attach took to become ready, each time.
# shellcheck disable=SC2317 # has_msg runs through wait_until and assert_ok
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

P=5743

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
# "UNIXTIME PID FILTERS LINE", PID from the kernel (SCM_CREDENTIALS, as systemd
# reads it), FILTERS our filters on IFACE while the sender of READY=1 is stopped
# (-1 for other messages).
cat >"$E2E_TMP/listen.py" <<'EOF'
import os, signal, socket, struct, subprocess, sys, time
addr, out, iface, ready = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(ready, "w").close()
def ours(hook):
    r = subprocess.run(["tc", "filter", "show", "dev", iface, hook],
                       capture_output=True, text=True)
    return sum(" pref 3088 " in l and " handle 0x55dc " in l for l in r.stdout.splitlines())
with open(out, "a", buffering=1) as f:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        t, pid, filters = time.time(), 0, -1
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        lines = msg.decode(errors="replace").split("\n")
        if "READY=1" in lines and pid > 0:
            os.kill(pid, signal.SIGSTOP)
            try:
                filters = ours("ingress") + ours("egress")
            finally:
                os.kill(pid, signal.SIGCONT)
        for l in lines:
            f.write(f"{t:.6f} {pid} {filters} {l}\n")
EOF

# listener ADDR NAME: starts the stand-in on ADDR in the client namespace; its
# lines go to $E2E_TMP/NAME.msgs.
listener() {
	rm -f "$E2E_TMP/$2.ready"
	nsx_bg "$C_NS" python3 "$E2E_TMP/listen.py" "$1" "$E2E_TMP/$2.msgs" "$C_IF" \
		"$E2E_TMP/$2.ready" 2>"$E2E_TMP/$2.log"
	wait_until 10 test -e "$E2E_TMP/$2.ready" ||
		fail "listener on $1 did not start: $(head -c 300 "$E2E_TMP/$2.log")"
}
# msgs NAME ERE: the lines of NAME matching ERE
msgs() { grep -E -- "$2" "$E2E_TMP/$1.msgs" 2>/dev/null; }
has_msg() { [ -n "$(msgs "$1" "$2")" ]; }

# check_ready NAME T0: READY=1 once, from the daemon, both filters already there.
# Prints the time to ready.
check_ready() {
	local r pid filters t ms
	r=$(msgs "$1" ' READY=1$')
	assert_eq "$1: READY=1 messages" 1 "$(echo "$r" | grep -c .)"
	read -r t pid filters _ <<<"$r"
	assert_eq "$1: READY=1 from the daemon" "$UDPC_PID" "$pid"
	assert_eq "$1: our filters when READY=1 arrived" 2 "$filters"
	assert_eq "$1: --ready-fd" ready "$(cat "$E2E_TMP/udpc-$C_IF.ready")"
	ms=$(($(_usec "$t") / 1000 - $2 / 1000))
	assert_between "$1: ready after (ms)" 0 $((UDPC_READY_TIMEOUT * 1000)) "$ms"
	e2e_log "$1: attach was ready ${ms} ms after it started"
}

# -- 1. path socket
SOCK=$E2E_TMP/notify.sock
listener "$SOCK" path || e2e_end
T0=$(_usec_now)
NOTIFY_SOCKET=$SOCK UDPC=$WRAP udpc_attach_bg "$C_NS" "$C_IF" --listen "$P" \
	--destinations "$DESTS" --resolve-interval 1 || e2e_end
check_ready path "$T0"
assert_eq "path: STATUS= with READY=1" \
	"STATUS=3 destinations on $C_IF: 2 active, 0 stale, 1 unresolved" \
	"$(msgs path ' STATUS=' | head -1 | cut -d' ' -f4-)"
READY_TIME=$(msgs path ' READY=1$' | cut -d' ' -f1)
assert_eq "path: STATUS= in the READY=1 datagram" "$READY_TIME" \
	"$(msgs path ' STATUS=' | head -1 | cut -d' ' -f1)"

# -- 2. a change of state is told
set_hosts "$R4_1 a.notify.test"
wait_until 10 has_msg path " STATUS=3 destinations on $C_IF: 3 active, 0 stale, 0 unresolved\$" ||
	fail "no STATUS= after a.notify.test resolved: $(msgs path STATUS= | cut -d' ' -f4- | paste -sd'|' -)"
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
check_ready abstract "$T0"
assert_ok "abstract: STATUS=" has_msg abstract \
	" STATUS=2 destinations on $C_IF: 2 active, 0 stale, 0 unresolved\$"
assert_ok "SIGTERM: clean exit" bg_stop "$UDPC_PID"
e2e_end
