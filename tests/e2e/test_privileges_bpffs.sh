#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Without CAP_BPF/CAP_NET_ADMIN every command that changes state refuses with one
# line and attaches nothing; where /sys/fs/bpf is not mounted (a fresh machine)
# attach mounts bpffs itself and status finds the pins there.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_begin privileges_bpffs
require_udpc
require_cmd setpriv unshare
topo_star || e2e_end
PIN="/sys/fs/bpf/udpclone-bpf/$C_IF"
ARGS=(--listen 5743 --destinations "$R4_1:9000")

# -- missing capabilities: as nobody, and as root without CAP_NET_ADMIN/CAP_BPF/CAP_SYS_ADMIN
for who in "--reuid=65534 --regid=65534 --clear-groups" \
	"--inh-caps=-all --bounding-set=-net_admin,-bpf,-sys_admin"; do
	# shellcheck disable=SC2086
	rc=0
	nsx "$C_NS" setpriv $who -- "$UDPC" attach "$C_IF" "${ARGS[@]}" \
		>"$E2E_TMP/caps.out" 2>"$E2E_TMP/caps.err" || rc=$?
	assert_eq "attach without capabilities ($who): exit" 1 "$rc"
	assert_eq "attach without capabilities: stderr lines" 1 "$(wc -l <"$E2E_TMP/caps.err")"
	assert_file_contains "$E2E_TMP/caps.err" 'needs CAP_NET_ADMIN and CAP_SYS_ADMIN' "capability message"
	assert_fail "no pins after a refused attach" test -e "$PIN"
	# shellcheck disable=SC2086
	rc=0
	nsx "$C_NS" setpriv $who -- "$UDPC" detach "$C_IF" 2>"$E2E_TMP/caps.err" || rc=$?
	assert_eq "detach without capabilities: exit" 1 "$rc"
	assert_file_contains "$E2E_TMP/caps.err" 'needs CAP_NET_ADMIN and CAP_SYS_ADMIN' "detach message"
done
assert_eq "no filter after refused attaches" "" \
	"$(nsx "$C_NS" tc filter show dev "$C_IF" egress | grep udpc)"

# -- bpffs not mounted: a private mount namespace without it, as on a fresh machine
cat >"$E2E_TMP/nobpffs.sh" <<SH
set -u
umount /sys/fs/bpf 2>/dev/null
if mountpoint -q /sys/fs/bpf; then echo "still mounted"; exit 3; fi
nsenter --net=/run/netns/$C_NS -- "$UDPC" attach "$C_IF" ${ARGS[*]} 2>"$E2E_TMP/nobpffs.log" &
pid=\$!
for i in \$(seq 50); do
	nsenter --net=/run/netns/$C_NS -- "$UDPC" status "$C_IF" --json 2>/dev/null |
		grep -q '"egress":true' && break
	sleep 0.1
done
mountpoint -q /sys/fs/bpf && echo "bpffs mounted"
nsenter --net=/run/netns/$C_NS -- "$UDPC" status "$C_IF" | head -1
kill -TERM \$pid; wait \$pid; echo "attach exit \$?"
test -e "$PIN" && echo "pins left"
exit 0
SH
unshare -m --propagation private bash "$E2E_TMP/nobpffs.sh" >"$E2E_TMP/nobpffs.out" 2>&1
assert_file_contains "$E2E_TMP/nobpffs.out" '^bpffs mounted$' "attach mounted bpffs"
assert_file_contains "$E2E_TMP/nobpffs.out" "^$C_IF: UDP port 5743" "status read the new bpffs"
assert_file_contains "$E2E_TMP/nobpffs.out" '^attach exit 0$' "attach stopped cleanly"
assert_file_not_contains "$E2E_TMP/nobpffs.out" 'pins left' "pins removed on SIGTERM"
assert_file_contains "$E2E_TMP/nobpffs.log" 'mounted bpffs at /sys/fs/bpf' "attach said so"
assert_eq "no filter left after SIGTERM" "" \
	"$(nsx "$C_NS" tc filter show dev "$C_IF" egress | grep udpc)"
e2e_end
