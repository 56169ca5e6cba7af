#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Install the Debian packages udpclone-bpf needs to build, test and demo.
# Idempotent and quick when everything is there already.
set -euo pipefail

PKGS=(
	make gcc libc6-dev pkg-config   # toolchain
	clang llvm                      # BPF objects
	libbpf-dev libelf-dev zlib1g-dev bpftool
	libcmocka-dev                   # unit and BPF tests
	cppcheck clang-tidy shellcheck  # make lint (part of make check)
	iproute2 nftables util-linux procps jq   # namespaces, tc, nsenter, unshare; JSON in tests
	systemd                         # systemd-analyze and a real systemd for the unit tests
	libclang-rt-14-dev              # libFuzzer, ASan, UBSan runtimes (not pulled by clang here)
	dnsmasq-base python3 valgrind   # DNS fault tests, flow-table filler (and TCP in the WAN lab), soak under valgrind
	iputils-ping                    # round trips through the emulated WAN links (test_wan_*)
	ethtool                         # offloads off where plain TCP is measured (test_tcp_wan, demo)
	qemu-system-x86 busybox-static kmod xz-utils cpio   # make check-kernels: Debian's kernels in qemu
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root (sudo) to install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
