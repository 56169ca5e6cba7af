#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The router build (mk/cross.mk): `make ARCH=arm64` makes a static aarch64 binary with
# the little-endian BPF object embedded, and it runs under qemu-user: version, help,
# option parsing. Loading BPF cannot be tried there (qemu-user has no bpf(2)).
# Skips (77) unless scripts/install-cross-deps.sh has run. Needs no root.
set -u
# shellcheck source-path=SCRIPTDIR source=lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"

e2e_begin cross_arm64 --no-root
CROSS_COMPILE=${CROSS_COMPILE:-aarch64-linux-gnu-}
SYSROOT=${CROSS_SYSROOT:-/opt/udpclone-bpf/sysroot-arm64}

for c in make clang bpftool file python3 "${CROSS_COMPILE}gcc" "${CROSS_COMPILE}readelf"; do
	command -v "$c" >/dev/null 2>&1 ||
		e2e_skip "needs '$c' (scripts/install-cross-deps.sh installs what the cross build needs)"
done
[ -f "$SYSROOT/usr/lib/aarch64-linux-gnu/libbpf.a" ] ||
	e2e_skip "no arm64 sysroot in $SYSROOT (scripts/install-cross-deps.sh unpacks it)"

TMP=$E2E_TMP
X=$TMP/build
BIN=$X/udpclone-bpf

# make as a person types it, from the top; OUT from the test runner names the native
# build directory, which a cross build must leave alone.
xmake() {
	env -u OUT timeout 240 make -C "$E2E_ROOT" --no-print-directory CROSS_OUT="$X" \
		CROSS_SYSROOT="$SYSROOT" "$@"
}

# 1. Build: everything goes to $X, nothing to build/.
if ! xmake -j2 ARCH=arm64 >"$TMP/make.log" 2>&1; then
	fail "make ARCH=arm64 failed: $(tail -n 5 "$TMP/make.log" | paste -sd'|' -)"
	e2e_end
fi
if grep -E '^  [A-Z-]+ +build/' "$TMP/make.log" >&2; then
	fail "make ARCH=arm64 wrote to the native build/"
fi
# The other spelling finds it up to date: same directory, same rules.
xmake CROSS_COMPILE="$CROSS_COMPILE" >"$TMP/make2.log" 2>&1 || fail "make CROSS_COMPILE=$CROSS_COMPILE failed"
grep -E '^  (CC|LINK|BPF) ' "$TMP/make2.log" >&2 &&
	fail "make CROSS_COMPILE=$CROSS_COMPILE rebuilt what make ARCH=arm64 had built"
# Goals that would write to build/ or run tests are refused, with the way to do it.
if xmake -n ARCH=arm64 all >"$TMP/refuse.log" 2>&1; then
	fail "make ARCH=arm64 all was accepted: it would build into build/"
elif ! grep -q "OUT=" "$TMP/refuse.log"; then
	fail "make ARCH=arm64 all: refused without saying OUT=: $(cat "$TMP/refuse.log")"
fi
xmake -n ARCH=arm64 OUT=build >/dev/null 2>&1 && fail "make ARCH=arm64 OUT=build was accepted"

# 2. What was built.
desc=$(file -b "$BIN")
e2e_log "file: $desc"
case $desc in *"ARM aarch64"*"statically linked"*) ;; *) fail "not a static aarch64 ELF: $desc" ;; esac
"${CROSS_COMPILE}readelf" -h "$BIN" | grep -q 'Machine: *AArch64' || fail "readelf: machine is not AArch64"
dyn=$("${CROSS_COMPILE}readelf" -d "$BIN" 2>&1)
case $dyn in *"no dynamic section"*) ;; *) fail "has a dynamic section: $(echo "$dyn" | grep NEEDED | paste -sd, -)" ;; esac
e2e_log "size: $(stat -c %s "$BIN") bytes; $("${CROSS_COMPILE}size" "$BIN" | tail -n 1 | awk '{print "text " $1 ", data " $2 ", bss " $3}')"
obj=$(file -b "$X/udpclone.bpf.o")
case $obj in *"LSB relocatable, eBPF"*) ;; *) fail "BPF object is not little-endian eBPF: $obj" ;; esac
python3 - "$X/udpclone.bpf.o" "$BIN" <<'EOF' || fail "the BPF object is not embedded in the binary"
import sys
obj, binary = (open(p, "rb").read() for p in sys.argv[1:3])
sys.exit(0 if obj in binary else 1)
EOF

# 3. It runs: under qemu-user, everything up to the first bpf(2) call.
QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$QEMU" ]; then
	e2e_log "no qemu-aarch64-static: the binary was not run"
else
	run() { timeout 30 "$QEMU" "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"; }
	run --version
	rc=$?
	want="udpclone-bpf $(cat "$E2E_ROOT/VERSION")"
	if [ "$rc" != 0 ] || [ "$(cat "$TMP/out")" != "$want" ]; then
		fail "--version: exit $rc, '$(cat "$TMP/out" "$TMP/err")', want '$want'"
	fi
	run --help
	rc=$?
	if [ "$rc" != 0 ] || [ "$(head -n 1 "$TMP/out")" != "Usage: udpclone-bpf COMMAND [ARGS]" ]; then
		fail "--help: exit $rc, first line '$(head -n 1 "$TMP/out")'"
	fi
	for cmd in "attach IFACE" "detach IFACE" "status [IFACE]"; do
		grep -qF "  $cmd" "$TMP/out" || fail "--help does not mention '$cmd'"
	done
	# Bad usage is found by the parsers (spec.c, main.c) before anything needs root
	# or BPF. An interface that does not exist, should one be accepted after all.
	for args in "attach ucx-none0 --listen 0 --destinations 192.0.2.1:9" \
		"attach ucx-none0 --listen 9000 --destinations 192.0.2.1" \
		"attach ucx-none0 --listen 9000 --destinations 192.0.2.1:9@" \
		"attach ucx-none0 --listen 9000 --destinations 192.0.2.1:9 --flow-timeout 0"; do
		# shellcheck disable=SC2086 # split on purpose
		run $args
		rc=$?
		if [ "$rc" != 2 ] || [ -s "$TMP/out" ] || ! grep -q '^udpclone-bpf: attach: ' "$TMP/err"; then
			fail "'$args': exit $rc (want 2), stderr '$(head -n 1 "$TMP/err")'"
		fi
	done
	e2e_log "ran under $QEMU: --version, --help, four usage errors"
fi

e2e_end
