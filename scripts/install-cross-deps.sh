#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Install what `make ARCH=arm64` needs (mk/cross.mk), on top of what the native build
# needs: Debian's aarch64 cross compiler, qemu-user-static for the smoke test
# (tests/e2e/test_cross_arm64.sh), and a sysroot with the arm64 static libraries.
# Not part of scripts/install-deps.sh (a native build needs none of it); the test
# command, scripts/test.sh, runs it so that CI builds and tests the router binary.
#
# The sysroot ($CROSS_SYSROOT, default /opt/udpclone-bpf/sysroot-arm64) is
# libbpf-dev, libelf-dev and zlib1g-dev for arm64, downloaded with apt-get download
# and unpacked with dpkg -x, at the versions installed for the build machine (the
# host's bpftool writes the skeleton for that libbpf). Installing them as multiarch
# packages would work too, but would pull libc6-dev:arm64 and upgrade a dozen amd64
# libraries in lockstep; this leaves dpkg's list of architectures alone as well.
# Idempotent and quick when everything is there already.
set -euo pipefail

DEBARCH=arm64
TRIPLET=aarch64-linux-gnu
SYSROOT=${CROSS_SYSROOT:-/opt/udpclone-bpf/sysroot-$DEBARCH}
LIBS=(libbpf-dev libelf-dev zlib1g-dev)
PKGS=(
	make clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev gcc libc6-dev # as natively
	"gcc-$TRIPLET" "libc6-dev-$DEBARCH-cross" "binutils-$TRIPLET"        # the cross compiler
	qemu-user-static file                                                 # smoke test
)
APT_TIMEOUT=600

say() { echo "install-cross-deps: $*"; }
die() { echo "install-cross-deps: $*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die "$1; run as root (sudo)"
}

export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	need_root "missing packages: ${missing[*]}"
	say "installing ${missing[*]}"
	timeout "$APT_TIMEOUT" apt-get update -qq
	timeout "$APT_TIMEOUT" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The sysroot: one line per package in $SYSROOT/.debs, PACKAGE:ARCH=VERSION.
want=()
for p in "${LIBS[@]}"; do
	want+=("$p:$DEBARCH=$(dpkg-query -W -f='${Version}' "$p")")
done
if [ -f "$SYSROOT/.debs" ] && [ "$(cat "$SYSROOT/.debs")" = "$(printf '%s\n' "${want[@]}")" ] &&
	[ -f "$SYSROOT/usr/lib/$TRIPLET/libbpf.a" ]; then
	exit 0
fi
need_root "no $DEBARCH sysroot at $SYSROOT (or an outdated one) to unpack"

say "unpacking ${want[*]} into $SYSROOT"
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
# apt's downloads run as _apt, which must be able to write there.
chown _apt "$tmp" 2>/dev/null || true
# The $DEBARCH package lists for this run only, whatever dpkg's architectures are.
apt_arch=(-o "APT::Architectures::=$(dpkg --print-architecture)" -o "APT::Architectures::=$DEBARCH")
timeout "$APT_TIMEOUT" apt-get "${apt_arch[@]}" update -qq
if ! (cd "$tmp" && timeout "$APT_TIMEOUT" apt-get "${apt_arch[@]}" download -qq "${want[@]}"); then
	# The build machine's versions are gone from the mirror: take the current ones.
	say "warning: these versions cannot be downloaded; taking the current ${LIBS[*]} instead"
	(cd "$tmp" && timeout "$APT_TIMEOUT" apt-get "${apt_arch[@]}" download -qq \
		"${LIBS[@]/%/:$DEBARCH}")
	want=()
	for deb in "$tmp"/*.deb; do
		want+=("$(dpkg-deb -f "$deb" Package):$DEBARCH=$(dpkg-deb -f "$deb" Version)")
	done
fi
# Unpacked beside the old sysroot, then swapped in: a build never sees half of each.
mkdir -p "$(dirname "$SYSROOT")"
rm -rf -- "$SYSROOT.new" "$SYSROOT.old"
mkdir -m 0755 "$SYSROOT.new"
for deb in "$tmp"/*.deb; do
	dpkg-deb -x "$deb" "$SYSROOT.new"
done
printf '%s\n' "${want[@]}" >"$SYSROOT.new/.debs"
[ -f "$SYSROOT.new/usr/lib/$TRIPLET/libbpf.a" ] || die "no libbpf.a in the $DEBARCH packages"
[ -e "$SYSROOT" ] && mv -- "$SYSROOT" "$SYSROOT.old"
mv -- "$SYSROOT.new" "$SYSROOT"
rm -rf -- "$SYSROOT.old"
say "done: make ARCH=$DEBARCH"
