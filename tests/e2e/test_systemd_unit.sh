#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The files `make install` writes, checked without running them: the tree is the
# one expected (under PREFIX and SYSCONFDIR), the unit names the installed binary
# and configuration, `systemd-analyze verify` finds nothing to say about the unit
# (its binary and man page included), and `make uninstall` removes every file
# again. Whether the unit works under a real systemd is test_systemd_boot's part.
# Needs neither root nor namespaces (e2e_begin --no-root); skipped (77) without
# systemd-analyze.
set -u
# shellcheck source-path=SCRIPTDIR source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"

e2e_begin systemd_unit --no-root
require_cmd systemd-analyze
[ -x "$OUT/udpclone-bpf" ] || { fail "$OUT/udpclone-bpf not built (make)"; e2e_end; }

# Everything install writes goes under $T, the logs next to it.
T=$E2E_TMP/root
mkdir "$T" || { fail "cannot create $T"; e2e_end; }
P=$T/prefix E=$T/etc

# A real prefix (no DESTDIR), so that the paths written into the unit exist.
make -s -C "$E2E_ROOT" OUT="$OUT" PREFIX="$P" SYSCONFDIR="$E" install >"$E2E_TMP/install.log" 2>&1 ||
	fail "make install: $(tail -c 300 "$E2E_TMP/install.log")"
expected="$E/udpclone-bpf/udpclone-bpf.conf.example
$P/lib/systemd/system/udpclone-bpf@.service
$P/sbin/udpclone-bpf
$P/share/bash-completion/completions/udpclone-bpf
$P/share/man/man8/udpclone-bpf.8"
got=$(find "$T" -type f | sort)
[ "$got" = "$expected" ] || fail "installed files: $(echo "$got" | paste -sd' ' -)"
[ -x "$P/sbin/udpclone-bpf" ] || fail "the binary is not executable"
cmp -s "$OUT/udpclone-bpf" "$P/sbin/udpclone-bpf" || fail "the installed binary differs from the built one"

U=$P/lib/systemd/system/udpclone-bpf@.service
grep -q '@[A-Z]*@' "$U" && fail "placeholders left in the unit: $(grep -o '@[A-Z]*@' "$U" | sort -u | paste -sd' ' -)"
grep -qx "ExecStart=$P/sbin/udpclone-bpf attach %i .*" "$U" || fail "ExecStart does not run $P/sbin/udpclone-bpf"
grep -qx "EnvironmentFile=$E/udpclone-bpf/%i.conf" "$U" || fail "EnvironmentFile is not $E/udpclone-bpf/%i.conf"

# verify: syntax, unknown keys, the executables and Documentation=man: (found via
# MANPATH). Anything it prints is a finding.
(cd "$T" && MANPATH=$P/share/man systemd-analyze verify "$U") >"$E2E_TMP/verify.out" 2>&1 ||
	fail "systemd-analyze verify exited $?"
[ -s "$E2E_TMP/verify.out" ] && fail "systemd-analyze verify: $(paste -sd'|' "$E2E_TMP/verify.out")"

# The example configuration parses as the unit's EnvironmentFile would read it, and
# sets what ExecStart needs.
for k in LISTEN DESTINATIONS; do
	grep -Eq "^$k=[^[:space:]]+$" "$E/udpclone-bpf/udpclone-bpf.conf.example" ||
		fail "the example sets no $k"
done

make -s -C "$E2E_ROOT" OUT="$OUT" PREFIX="$P" SYSCONFDIR="$E" uninstall >"$E2E_TMP/uninstall.log" 2>&1 ||
	fail "make uninstall: $(tail -c 300 "$E2E_TMP/uninstall.log")"
left=$(find "$T" -type f)
if [ -n "$left" ] || [ -e "$E/udpclone-bpf" ]; then
	fail "left after uninstall: $(echo "$left" | paste -sd' ' -) $(ls -d "$E/udpclone-bpf" 2>/dev/null)"
fi

e2e_end
