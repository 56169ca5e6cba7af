#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The files `make install` writes, checked without running them under systemd: the
# tree is the one expected (under PREFIX and SYSCONFDIR); each unit (attach's
# udpclone-bpf@, udpclone-bpf-tcp-server@, udpclone-bpf-tcp-client@) names the
# installed binary and its configuration, `systemd-analyze verify` finds nothing to
# say about it (its binary and man page included), and the tcp units keep every
# hardening setting of attach's; the ExecStart= line, expanded with the shipped
# example as systemd would, passes the real binary's option parser (in an empty
# network namespace of a user namespace: the command gets as far as "unknown
# interface", status 1, where a mistake would be status 2); `make uninstall` removes
# every file again. Whether the units work under a real systemd is
# test_systemd_boot's part. Needs neither root nor namespaces of the host
# (e2e_begin --no-root); skipped (77) without systemd-analyze, or without user
# namespaces for unshare -rn.
set -u
# shellcheck source-path=SCRIPTDIR source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"

e2e_begin systemd_unit --no-root
require_cmd systemd-analyze unshare ip
[ -x "$OUT/udpclone-bpf" ] || { fail "$OUT/udpclone-bpf not built (make)"; e2e_end; }
unshare -rn true 2>/dev/null || e2e_skip "needs user namespaces (unshare -rn)"

# Everything install writes goes under $T, the logs next to it.
T=$E2E_TMP/root
mkdir "$T" || { fail "cannot create $T"; e2e_end; }
P=$T/prefix E=$T/etc
UD=$P/lib/systemd/system

# A real prefix (no DESTDIR), so that the paths written into the units exist.
make -s -C "$E2E_ROOT" OUT="$OUT" PREFIX="$P" SYSCONFDIR="$E" install >"$E2E_TMP/install.log" 2>&1 ||
	fail "make install: $(tail -c 300 "$E2E_TMP/install.log")"
expected="$E/udpclone-bpf/tcp-client.conf.example
$E/udpclone-bpf/tcp-server.conf.example
$E/udpclone-bpf/udpclone-bpf.conf.example
$UD/udpclone-bpf-tcp-client@.service
$UD/udpclone-bpf-tcp-server@.service
$UD/udpclone-bpf@.service
$P/sbin/udpclone-bpf
$P/share/bash-completion/completions/udpclone-bpf
$P/share/man/man8/udpclone-bpf.8"
got=$(find "$T" -type f | LC_ALL=C sort)
[ "$got" = "$expected" ] || fail "installed files: $(echo "$got" | paste -sd' ' -)"
[ -x "$P/sbin/udpclone-bpf" ] || fail "the binary is not executable"
cmp -s "$OUT/udpclone-bpf" "$P/sbin/udpclone-bpf" || fail "the installed binary differs from the built one"

# unit_value UNIT KEY: the value of KEY= in UNIT (the last one, as systemd takes it).
unit_value() { sed -n "s/^$2=//p" "$1" | tail -1; }

# conf_value CONF KEY: KEY's value in an EnvironmentFile, without surrounding quotes.
conf_value() {
	local v
	v=$(sed -n "s/^$2=//p" "$1" | tail -1)
	v=${v#\"} v=${v%\"}
	printf '%s' "$v"
}

# exec_argv UNIT CONF INSTANCE: ExecStart= as systemd runs it, one word a line.
# %i is the instance; ${KEY} is KEY's value as one word, $KEY its value split at
# spaces (systemd.service(5), "Command lines"), KEY from Environment= then CONF.
# Other forms are refused, so that a unit using one cannot pass unread.
exec_argv() {
	local unit=$1 conf=$2 inst=$3 w k v
	local -A env=()
	local -a words split
	for w in $(unit_value "$unit" Environment); do
		env[${w%%=*}]=${w#*=}
	done
	while IFS= read -r k; do
		env[$k]=$(conf_value "$conf" "$k")
	done < <(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' "$conf")
	read -ra words <<<"$(unit_value "$unit" ExecStart)"
	for w in "${words[@]}"; do
		w=${w//%i/$inst}
		if [[ $w =~ ^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$ ]]; then
			k=${BASH_REMATCH[1]}
			[ -n "${env[$k]+x}" ] || { echo "unset: $k"; return 1; }
			printf '%s\n' "${env[$k]}"
		elif [[ $w =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
			read -ra split <<<"${env[${BASH_REMATCH[1]}]-}"
			[ ${#split[@]} = 0 ] || printf '%s\n' "${split[@]}"
		elif [[ $w == *[\$%]* ]]; then
			echo "cannot expand: $w"
			return 1
		else
			printf '%s\n' "$w"
		fi
	done
}

# parse_run NAME UNIT CONF: the unit's command line from CONF through the binary, in a
# user namespace with an empty network namespace (lo up, a default route on it, so
# that tcp-client can connect its internal socket before it checks IFACE). Prints
# the exit status and stderr.
parse_run() {
	local name=$1 unit=$2 conf=$3 rc=0
	local -a argv
	mapfile -t argv < <(exec_argv "$unit" "$conf" nope0) ||
		{ echo "exec_argv: ${argv[*]}"; return; }
	unshare -rn sh -c 'ip link set lo up && ip route add default dev lo &&
		ip -6 route add default dev lo && exec "$@"' sh "${argv[@]}" \
		>"$E2E_TMP/$name.out" 2>&1 </dev/null || rc=$?
	echo "$rc $(head -c 300 "$E2E_TMP/$name.out" | paste -sd'|' -)"
}

# The hardening of attach's unit, which the tcp units keep as it is.
HARDENING="NoNewPrivileges ProtectSystem ReadWritePaths ProtectHome PrivateTmp PrivateDevices
ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectClock ProtectHostname
RestrictAddressFamilies RestrictNamespaces RestrictRealtime RestrictSUIDSGID LockPersonality
MemoryDenyWriteExecute SystemCallArchitectures Type RestartPreventExitStatus AssertPathIsMountPoint"
A=$UD/udpclone-bpf@.service

# Each unit: its name's stem, its example, the .conf it reads, its command.
for spec in "udpclone-bpf@ udpclone-bpf.conf.example %i.conf attach" \
	"udpclone-bpf-tcp-server@ tcp-server.conf.example tcp-server-%i.conf tcp-server" \
	"udpclone-bpf-tcp-client@ tcp-client.conf.example tcp-client-%i.conf tcp-client"; do
	read -r stem example confname cmd <<<"$spec"
	U=$UD/$stem.service X=$E/udpclone-bpf/$example
	[ -f "$U" ] || continue # reported with the tree above
	if grep -q '@[A-Z]*@' "$U"; then
		fail "$stem: placeholders left: $(grep -o '@[A-Z]*@' "$U" | sort -u | paste -sd' ' -)"
	fi
	grep -qx "ExecStart=$P/sbin/udpclone-bpf $cmd %i .*" "$U" ||
		fail "$stem: ExecStart does not run $P/sbin/udpclone-bpf $cmd"
	grep -qx "EnvironmentFile=$E/udpclone-bpf/$confname" "$U" ||
		fail "$stem: EnvironmentFile is not $E/udpclone-bpf/$confname"
	grep -qx "AssertPathExists=$E/udpclone-bpf/$confname" "$U" ||
		fail "$stem: AssertPathExists is not $E/udpclone-bpf/$confname"

	# verify: syntax, unknown keys, the executables and Documentation=man: (found
	# via MANPATH). Anything it prints is a finding.
	(cd "$T" && MANPATH=$P/share/man systemd-analyze verify "$U") >"$E2E_TMP/verify-$cmd.out" 2>&1 ||
		fail "$stem: systemd-analyze verify exited $?"
	[ -s "$E2E_TMP/verify-$cmd.out" ] &&
		fail "$stem: systemd-analyze verify: $(paste -sd'|' "$E2E_TMP/verify-$cmd.out")"

	if [ "$cmd" != attach ]; then
		for k in $HARDENING; do
			[ "$(unit_value "$U" "$k")" = "$(unit_value "$A" "$k")" ] ||
				fail "$stem: $k='$(unit_value "$U" "$k")', attach's unit has '$(unit_value "$A" "$k")'"
		done
		for c in $(unit_value "$A" CapabilityBoundingSet); do
			[[ " $(unit_value "$U" CapabilityBoundingSet) " == *" $c "* ]] ||
				fail "$stem: CapabilityBoundingSet lacks $c, which the peer-mode child needs"
		done
		# SIGTERM to the main process only: it sends CLOSE before its child detaches.
		[ "$(unit_value "$U" KillMode)" = mixed ] || fail "$stem: KillMode is not mixed"
		# The snapshot for `status`, under ProtectSystem=strict.
		[ "$(unit_value "$U" RuntimeDirectory)" = "udpclone-bpf/%i" ] ||
			fail "$stem: RuntimeDirectory is not udpclone-bpf/%i"
	fi

	# The example's command line: parsed, and refused once a value is broken (the
	# check can tell). What ExecStart uses in ${} and Environment= does not default
	# is required: the example must set it.
	key=''
	for k in $(unit_value "$U" ExecStart | grep -o '\${[A-Z_]*}' | tr -d '${}'); do
		[[ " $(unit_value "$U" Environment) " == *" $k="* ]] && continue
		grep -Eq "^$k=[^[:space:]]+$" "$X" || fail "$stem: the example sets no $k"
		key=$k
	done
	r=$(parse_run "$cmd" "$U" "$X")
	[ "$r" = "1 udpclone-bpf: unknown interface 'nope0'" ] ||
		fail "$stem: the example's command line: status and output '$r', expected 1 and unknown interface"
	# $EXTRA_ARGS is split at spaces: "-v -v" as one word would be bad usage.
	{ cat "$X" && echo 'EXTRA_ARGS="-v -v"'; } >"$E2E_TMP/extra-$example"
	r=$(parse_run "$cmd-extra" "$U" "$E2E_TMP/extra-$example")
	[ "$r" = "1 udpclone-bpf: unknown interface 'nope0'" ] ||
		fail "$stem: with EXTRA_ARGS=\"-v -v\": status and output '$r', expected 1 and unknown interface"
	{ cat "$X" && echo "$key=:"; } >"$E2E_TMP/bad-$example"
	r=$(parse_run "$cmd-bad" "$U" "$E2E_TMP/bad-$example")
	[ "${r%% *}" = 2 ] || fail "$stem: with $key=':' status and output '$r', expected 2 (bad usage)"
done

make -s -C "$E2E_ROOT" OUT="$OUT" PREFIX="$P" SYSCONFDIR="$E" uninstall >"$E2E_TMP/uninstall.log" 2>&1 ||
	fail "make uninstall: $(tail -c 300 "$E2E_TMP/uninstall.log")"
left=$(find "$T" -type f)
if [ -n "$left" ] || [ -e "$E/udpclone-bpf" ]; then
	fail "left after uninstall: $(echo "$left" | paste -sd' ' -) $(ls -d "$E/udpclone-bpf" 2>/dev/null)"
fi

e2e_end
