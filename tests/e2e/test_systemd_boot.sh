#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# udpclone-bpf@.service and the tcp units under a real systemd: systemd is booted as
# PID 1 of new PID, mount, cgroup and network namespaces, with only a few empty
# targets besides the installed units (the machine's own units, generators and /run
# are hidden by tmpfs mounts, so nothing of the host starts or changes), a bpffs of
# its own and a veth pair to attach to. Then, through systemctl in those namespaces:
#
#   1. The unit starts from IFACE.conf made from the shipped example: the daemon's
#      command line is what EnvironmentFile= and ExecStart= should make of it, and
#      it runs with the capability bounding set and no_new_privs the unit asks for.
#      Type=notify: the unit is active only once the daemon said READY=1, and by
#      then both filters are attached; its status line counts the destinations.
#   2. `systemctl reload` makes it resolve at once (last_resolved moves).
#   3. `systemctl kill -s SIGKILL`: the filters stay attached while no daemon runs,
#      Restart=on-failure starts one that adopts the pins and replaces both programs
#      (the programs are the new ones as soon as the unit is active again).
#   4. `systemctl stop` detaches: no filters, no pins.
#   5. A .conf without LISTEN fails with status 2 and is not restarted; a missing
#      .conf fails the start (AssertPathExists=) without running anything.
#   6. udpclone-bpf-tcp-server@IF and udpclone-bpf-tcp-client@pIF (the veth's other
#      end), from the shipped examples: active once READY=1 came from the main pid,
#      two processes, their bounding sets, LimitNOFILE= as the soft limit, the status
#      snapshot written under ProtectSystem=strict (RuntimeDirectory=); SIGKILL: the
#      restart adopts the pins; stop: a clean exit (SIGTERM to the main pid only,
#      KillMode=mixed), no pins, no runtime directory.
#
# Each unit gets one test-only drop-in: its output goes to a file, as no journald
# runs. Skipped (77) where systemd cannot be booted so (no systemd, no cgroup2).
# shellcheck disable=SC2317 # functions run through wait_until and assert_*
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

SYSTEMD=/lib/systemd/systemd

e2e_begin systemd_boot
require_udpc
require_cmd unshare findmnt pgrep jq make
[ -x "$SYSTEMD" ] || e2e_skip "needs $SYSTEMD (Debian package systemd)"
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -1)
if [ -z "$CG2" ] || [ ! -w "$CG2" ]; then
	e2e_skip "needs a writable cgroup2 hierarchy"
fi

B=$E2E_TMP/boot
IF=uc$RUNID
PREFIX=/srv/udpclone-test # a tmpfs inside the namespaces, outside PrivateTmp's reach
CGDIR=$CG2/udpclone-test-$RUNID
BOOT_PID='' SD_PID=''

# -- what the namespaces get: the installed tree, a configuration, minimal units
TCPU="udpclone-bpf-tcp-server@ udpclone-bpf-tcp-client@"
for u in udpclone-bpf@ $TCPU; do mkdir -p "$B/units/$u.service.d" || e2e_end; done
make -s -C "$E2E_ROOT" OUT="$OUT" DESTDIR="$B/stage" PREFIX="$PREFIX" SYSCONFDIR="$PREFIX/etc" \
	install >"$B/install.log" 2>&1 || { fail "make install: $(tail -c 300 "$B/install.log")"; e2e_end; }
CONFDIR=$B/stage$PREFIX/etc/udpclone-bpf
sed -e 's/^LISTEN=.*/LISTEN=5743/' \
	-e 's/^DESTINATIONS=.*/DESTINATIONS=192.0.2.2:9000,[2001:db8::2]:9001/' \
	-e 's/^#FLOW_TIMEOUT=.*/FLOW_TIMEOUT=60/' -e 's/^#EXTRA_ARGS=.*/EXTRA_ARGS="-v"/' \
	"$CONFDIR/udpclone-bpf.conf.example" >"$CONFDIR/$IF.conf"
grep -v '^LISTEN=' "$CONFDIR/$IF.conf" >"$CONFDIR/bad.conf"
sed -e 's/^FORWARD=.*/FORWARD=web=127.0.0.1:80/' "$CONFDIR/tcp-server.conf.example" >"$CONFDIR/tcp-server-$IF.conf"
sed -e 's/^DESTINATIONS=.*/DESTINATIONS=198.51.100.2:7000/' -e 's/^FORWARD=.*/FORWARD=8080=web/' \
	"$CONFDIR/tcp-client.conf.example" >"$CONFDIR/tcp-client-p$IF.conf"
for u in udpclone-bpf@ $TCPU; do
	cp "$B/stage$PREFIX/lib/systemd/system/$u.service" "$B/units/"
	printf '[Service]\nStandardOutput=append:/run/udpclone-test.log\nStandardError=append:/run/udpclone-test.log\n' \
		>"$B/units/$u.service.d/test-log.conf"
done
for t in sysinit basic multi-user network-online shutdown default; do
	printf '[Unit]\nDescription=%s (test)\n' "$t" >"$B/units/$t.target"
done
printf '[Unit]\nDescription=udpclone-bpf test\nWants=udpclone-bpf@%s.service\n' "$IF" \
	>"$B/units/udpclone-test.target"

# PID 1 of the namespaces, until it becomes systemd.
cat >"$B/init.sh" <<EOF
set -e
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /usr/lib/systemd/system
cp -a "$B/units/." /usr/lib/systemd/system/
mount -t tmpfs tmpfs /etc/systemd/system
mount -t tmpfs tmpfs /usr/lib/systemd/system-generators
mount -t cgroup2 none /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mkdir -p /srv && mount -t tmpfs tmpfs /srv && cp -a "$B/stage/srv/." /srv/
ip link set lo up
ip link add $IF type veth peer name p$IF
ip link set $IF up && ip link set p$IF up
ip addr add 192.0.2.1/24 dev $IF && ip addr add 2001:db8::1/64 dev $IF nodad
ip addr add 198.51.100.1/24 dev p$IF
exec env -i container=udpclone-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \\
	$SYSTEMD --system --unit=udpclone-test.target --log-target=null
EOF

boot_cleanup() {
	local i d
	[ -n "$SD_PID" ] && kill -KILL "$SD_PID" 2>/dev/null
	[ -n "$BOOT_PID" ] && kill -KILL "$BOOT_PID" 2>/dev/null && wait "$BOOT_PID" 2>/dev/null
	SD_PID='' BOOT_PID=''
	# systemd's cgroups empty once the namespace's processes are gone
	for ((i = 0; i < 50; i++)); do
		[ -d "$CGDIR" ] || break
		while read -r d; do rmdir "$d" 2>/dev/null; done < <(find "$CGDIR" -depth -type d)
		[ -d "$CGDIR" ] && sleep 0.1
	done
	[ -d "$CGDIR" ] && fail "cannot remove $CGDIR"
	return 0
}
trap 'rc=$?; boot_cleanup; (exit $rc); _e2e_on_exit' EXIT
end() {
	boot_cleanup
	e2e_end
}

mkdir "$CGDIR" || e2e_skip "cannot create a cgroup under $CG2"
(
	echo "$BASHPID" >"$CGDIR/cgroup.procs" &&
		exec unshare --kill-child --pid --fork --mount --cgroup --net --propagation private \
			--mount-proc bash "$B/init.sh"
) >"$B/boot.log" 2>&1 &
BOOT_PID=$!
wait_until 10 sh -c "pgrep -P $BOOT_PID >/dev/null" || { fail "no PID 1: $(cat "$B/boot.log")"; end; }
SD_PID=$(pgrep -P "$BOOT_PID")

sdx() { nsenter -t "$SD_PID" -m -p -n -C -- "$@"; }
sctl() { timeout 30 nsenter -t "$SD_PID" -m -p -n -C -- systemctl "$@"; }
prop() { sctl show -P "$2" "udpclone-bpf@$1.service"; }
ustatus() { sdx timeout 10 "$PREFIX/sbin/udpclone-bpf" status "$IF" --json 2>/dev/null | jq -r ".interfaces[0] | $1"; }
up_and_adopted() { [ "$(ustatus '"\(.running) \(.pid) \(.filters.ingress) \(.filters.egress)"')" = "true $1 true true" ]; }

booted() { sctl is-active -q udpclone-test.target 2>/dev/null; }
if ! wait_until 20 booted; then
	e2e_skip "systemd did not boot in namespaces here: $(head -c 300 "$B/boot.log")"
fi

# -- 1. started from the configuration
if ! wait_until "$UDPC_READY_TIMEOUT" sh -c "[ \"\$(nsenter -t $SD_PID -m -p -n -C -- systemctl is-active udpclone-bpf@$IF)\" = active ]"; then
	fail "udpclone-bpf@$IF did not start: $(sctl status "udpclone-bpf@$IF" --no-pager 2>&1 |
		grep -E 'Active:|Process:' | paste -sd'|' -); its output: $(sdx tail -c 300 /run/udpclone-test.log 2>&1)"
	end
fi
MAIN=$(prop "$IF" MainPID)
assert_eq "command line from $IF.conf" \
	"$PREFIX/sbin/udpclone-bpf attach $IF --listen 5743 --destinations 192.0.2.2:9000,[2001:db8::2]:9001 --resolve-interval 30 --flow-timeout 60 -v" \
	"$(sdx cat "/proc/$MAIN/cmdline" | tr '\0' ' ' | sed 's/ $//')"
# CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39
# shellcheck disable=SC2016 # awk's $1, $2
assert_eq "capability bounding set" 000000c000201000 "$(sdx awk '$1 == "CapBnd:" { print $2 }' "/proc/$MAIN/status")"
# shellcheck disable=SC2016
assert_eq "no_new_privs" 1 "$(sdx awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$MAIN/status")"
assert_eq "Type" notify "$(prop "$IF" Type)"
# active = READY=1 received: no waiting for the filters from here
assert_ok "both filters attached once active" up_and_adopted "$MAIN"
assert_eq "status line" "2 destinations on $IF: 2 active, 0 stale, 0 unresolved" \
	"$(prop "$IF" StatusText)"
assert_eq "destination states" "active active" "$(ustatus '[.destinations[].state] | join(" ")')"
assert_eq "flow timeout from the file" 60 "$(ustatus .flow_timeout_s)"

# -- 2. reload = SIGHUP = resolve now (the interval is 30 s)
t0=$(ustatus '.destinations[0].last_resolved')
sleep 1.1
assert_ok "systemctl reload" sctl reload "udpclone-bpf@$IF"
resolved_since() { [ "$(ustatus '.destinations[0].last_resolved')" -gt "$1" ]; }
wait_until 5 resolved_since "$t0" || fail "reload did not resolve again (last_resolved still $t0)"

# -- 3. SIGKILL: the data path stays, the restarted daemon adopts it
ids() { sdx tc filter show dev "$IF" "$1" 2>/dev/null | awk '/handle 0x55dc/ { for (i = 1; i < NF; i++) if ($i == "id") print $(i + 1) }'; }
old="$(ids ingress) $(ids egress)"
assert_ok "systemctl kill -s SIGKILL" sctl kill -s SIGKILL "udpclone-bpf@$IF"
wait_until 5 test "$(ustatus .running)" = false || fail "the daemon did not die"
assert_eq "filters while no daemon runs" "$old" "$(ids ingress) $(ids egress)"
if wait_until 15 sh -c "[ \"\$(nsenter -t $SD_PID -m -p -n -C -- systemctl show -P NRestarts udpclone-bpf@$IF)\" = 1 ]" &&
	wait_until "$UDPC_READY_TIMEOUT" sh -c "nsenter -t $SD_PID -m -p -n -C -- systemctl is-active -q udpclone-bpf@$IF"; then
	MAIN2=$(prop "$IF" MainPID)
	assert_ne "a new daemon" "$MAIN" "$MAIN2"
	assert_ok "status once active again" up_and_adopted "$MAIN2"
	new="$(ids ingress) $(ids egress)"
	assert_ne "programs replaced" "$old" "$new"
	assert_eq "still one filter per hook" 2 "$(echo "$new" | wc -w)"
	assert_eq "adopted" 1 "$(sdx grep -c '^udpclone-bpf: adopting the state pinned' /run/udpclone-test.log)"
else
	fail "not restarted after SIGKILL: $(sctl status "udpclone-bpf@$IF" --no-pager 2>&1 | tail -5 | paste -sd'|' -)"
fi

# -- 4. stop = detach
assert_ok "systemctl stop" sctl stop "udpclone-bpf@$IF"
assert_eq "after stop: result" success "$(prop "$IF" Result)"
assert_eq "after stop: filters" "" "$(ids ingress)$(ids egress)"
assert_fail "after stop: pins" sdx test -e "/sys/fs/bpf/udpclone-bpf/$IF"

# -- 5. configuration mistakes
# Type=notify: the start waits for READY=1, and fails when the daemon exits first.
assert_fail "start without LISTEN fails" sctl start -q udpclone-bpf@bad 2>/dev/null
wait_until 10 test "$(prop bad ActiveState)" = failed || fail "bad: $(prop bad ActiveState)"
assert_eq "no LISTEN: exit status" 2 "$(prop bad ExecMainStatus)"
sleep 6 # RestartSec= is 5 s: a restart would have happened by now
assert_eq "no LISTEN: not restarted" "0 failed" "$(prop bad NRestarts) $(prop bad ActiveState)"
assert_fail "start with no .conf fails" sctl start -q udpclone-bpf@none 2>/dev/null
assert_eq "no .conf: assertion" no "$(prop none AssertResult)"
assert_eq "no .conf: nothing ran" 0 "$(prop none ExecMainPID)"

# -- 6. the tcp units, one at each end of the veth
tprop() { sctl show -P "$3" "$1$2.service"; }
tactive() { [ "$(nsenter -t "$SD_PID" -m -p -n -C -- systemctl is-active "$1$2.service")" = active ]; }
# CAP_NET_BIND_SERVICE 10: the client's forwards may listen below 1024
declare -A CAPS=([udpclone-bpf-tcp-server@]=000000c000201000 [udpclone-bpf-tcp-client@]=000000c000201400)
declare -A ON=([udpclone-bpf-tcp-server@]=$IF [udpclone-bpf-tcp-client@]=p$IF)
declare -A READY=([udpclone-bpf-tcp-server@]="tcp-server serving $IF:" [udpclone-bpf-tcp-client@]="tcp-client attached to p$IF:")
# LimitNOFILE=65536, and the command's soft limit raised to it; where no
# CAP_SYS_RESOURCE lets systemd raise its own hard limit that far (some sandboxes),
# it sets the closest, the hard limit it has, and the command raises the soft to it.
NOFILE=65536
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $NOFILE ] && ! (ulimit -Hn $NOFILE) 2>/dev/null; then
	NOFILE=$(ulimit -Hn)
fi
for u in $TCPU; do
	i=${ON[$u]}
	# Type=notify: start returns once READY=1 came (or fails)
	if ! sctl start "$u$i" 2>/dev/null || ! tactive "$u" "$i"; then
		fail "$u$i did not start: $(sctl status "$u$i" --no-pager 2>&1 | grep -E 'Active:|Process:' |
			paste -sd'|' -); output: $(sdx tail -c 300 /run/udpclone-test.log 2>&1)"
		continue
	fi
	M=$(tprop "$u" "$i" MainPID)
	procs=$(sdx cat "/sys/fs/cgroup$(tprop "$u" "$i" ControlGroup)/cgroup.procs" | sort -n | paste -sd' ' -)
	# shellcheck disable=SC2016 # awk's $1, $2
	assert_eq "$u: the main pid and its child" "$M $M" \
		"${procs%% *} $(sdx awk '$1 == "PPid:" { print $2 }' "/proc/${procs##* }/status")"
	# shellcheck disable=SC2016 # awk's $1, $2
	assert_eq "$u: capability bounding set" "${CAPS[$u]}" "$(sdx awk '$1 == "CapBnd:" { print $2 }' "/proc/$M/status")"
	# shellcheck disable=SC2016
	assert_eq "$u: open files" "$NOFILE $NOFILE" "$(sdx awk '/^Max open files/ { print $4, $5 }' "/proc/$M/limits")"
	st=$(tprop "$u" "$i" StatusText)
	assert_eq "$u: READY=1 with its status line" "${READY[$u]}" "${st:0:${#READY[$u]}}"
	wait_until 5 sdx test -s "/run/udpclone-bpf/$i/tcp" || fail "$u: no status snapshot in /run/udpclone-bpf/$i"
	assert_ok "$u: systemctl kill -s SIGKILL" sctl kill -s SIGKILL "$u$i"
	if wait_until 15 sh -c "[ \"\$(nsenter -t $SD_PID -m -p -n -C -- systemctl show -P NRestarts $u$i)\" = 1 ]" &&
		wait_until "$UDPC_READY_TIMEOUT" tactive "$u" "$i"; then
		assert_ne "$u: a new main pid" "$M" "$(tprop "$u" "$i" MainPID)"
	else
		fail "$u: not restarted after SIGKILL: $(sctl status "$u$i" --no-pager 2>&1 | tail -5 | paste -sd'|' -)"
	fi
	assert_ok "$u: systemctl stop" sctl stop "$u$i"
	assert_eq "$u: after stop: result" success "$(tprop "$u" "$i" Result)"
	assert_fail "$u: after stop: pins" sdx test -e "/sys/fs/bpf/udpclone-bpf/$i"
	assert_fail "$u: after stop: runtime directory" sdx test -e "/run/udpclone-bpf/$i"
done
assert_eq "attach's and the tcp units' restarts adopted the pins" 3 \
	"$(sdx grep -c '^udpclone-bpf: adopting the state pinned' /run/udpclone-test.log)"

end
