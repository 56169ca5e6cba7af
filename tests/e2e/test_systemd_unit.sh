#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The files `make install` writes, checked without running them: the tree is the
# one expected (under PREFIX and SYSCONFDIR), the unit names the installed binary
# and configuration, `systemd-analyze verify` finds nothing to say about the unit
# (its binary and man page included), and `make uninstall` removes every file
# again. Whether the unit works under a real systemd is test_systemd_boot's part.
# Needs neither root nor namespaces; skipped (77) without systemd-analyze.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-build}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
fails=0

fail() {
	echo "  FAIL: $*"
	fails=$((fails + 1))
}

command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP systemd_unit: needs systemd-analyze"; exit 77; }
[ -x "$OUT/udpclone-bpf" ] || { echo "FAIL systemd_unit: $OUT/udpclone-bpf not built (make)"; exit 1; }

TMP=$(mktemp -d /tmp/uc-unit.XXXXXX) || exit 1
trap 'rm -rf -- "$TMP"' EXIT
P=$TMP/prefix E=$TMP/etc

# A real prefix (no DESTDIR), so that the paths written into the unit exist.
make -s -C "$ROOT" OUT="$OUT" PREFIX="$P" SYSCONFDIR="$E" install >"$TMP/install.log" 2>&1 ||
	fail "make install: $(tail -c 300 "$TMP/install.log")"
expected="$E/udpclone-bpf/udpclone-bpf.conf.example
$P/lib/systemd/system/udpclone-bpf@.service
$P/sbin/udpclone-bpf
$P/share/bash-completion/completions/udpclone-bpf
$P/share/man/man8/udpclone-bpf.8"
got=$(find "$TMP" -type f ! -name install.log | sort)
[ "$got" = "$expected" ] || fail "installed files: $(echo "$got" | paste -sd' ' -)"
[ -x "$P/sbin/udpclone-bpf" ] || fail "the binary is not executable"
cmp -s "$OUT/udpclone-bpf" "$P/sbin/udpclone-bpf" || fail "the installed binary differs from the built one"

U=$P/lib/systemd/system/udpclone-bpf@.service
grep -q '@[A-Z]*@' "$U" && fail "placeholders left in the unit: $(grep -o '@[A-Z]*@' "$U" | sort -u | paste -sd' ' -)"
grep -qx "ExecStart=$P/sbin/udpclone-bpf attach %i .*" "$U" || fail "ExecStart does not run $P/sbin/udpclone-bpf"
grep -qx "EnvironmentFile=$E/udpclone-bpf/%i.conf" "$U" || fail "EnvironmentFile is not $E/udpclone-bpf/%i.conf"

# verify: syntax, unknown keys, the executables and Documentation=man: (found via
# MANPATH). Anything it prints is a finding.
(cd "$TMP" && MANPATH=$P/share/man systemd-analyze verify "$U") >"$TMP/verify.out" 2>&1 ||
	fail "systemd-analyze verify exited $?"
[ -s "$TMP/verify.out" ] && fail "systemd-analyze verify: $(paste -sd'|' "$TMP/verify.out")"

# The example configuration parses as the unit's EnvironmentFile would read it, and
# sets what ExecStart needs.
for k in LISTEN DESTINATIONS; do
	grep -Eq "^$k=[^[:space:]]+$" "$E/udpclone-bpf/udpclone-bpf.conf.example" ||
		fail "the example sets no $k"
done

make -s -C "$ROOT" OUT="$OUT" PREFIX="$P" SYSCONFDIR="$E" uninstall >"$TMP/uninstall.log" 2>&1 ||
	fail "make uninstall: $(tail -c 300 "$TMP/uninstall.log")"
left=$(find "$TMP" -type f ! -name '*.log' ! -name verify.out)
if [ -n "$left" ] || [ -e "$E/udpclone-bpf" ]; then
	fail "left after uninstall: $(echo "$left" | paste -sd' ' -) $(ls -d "$E/udpclone-bpf" 2>/dev/null)"
fi

if [ "$fails" = 0 ]; then
	echo "PASS systemd_unit"
	exit 0
fi
echo "FAIL systemd_unit: $fails checks failed"
exit 1
