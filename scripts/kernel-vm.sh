#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Runs a command as root under one of Debian's kernels, in qemu, on this host's
# own userland: what lets `make check-kernels` load and test the BPF object on
# the kernels people run, not only on the one this machine boots.
#   scripts/kernel-vm.sh fetch KERNEL...           download and unpack (cached)
#   scripts/kernel-vm.sh run [-t SECS] [-e VAR=VALUE]... KERNEL [--] CMD [ARG]...
#   scripts/kernel-vm.sh test [-t SECS] KERNEL     run `tests/run.sh bpf` (OUT, UDPC_*)
#   scripts/kernel-vm.sh package KERNEL            print the Debian package KERNEL means
# KERNEL is 6.1 (what linux-image-amd64 depends on: Debian 12's own kernel), another
# MAJOR.MINOR (the newest linux-image-MAJOR.MINOR.N+debNN-amd64 apt knows, e.g. 6.12
# from bookworm-security), or a package name; KERNEL_PKG_6_12=linux-image-... (dots
# as underscores) pins one. `run` exits with CMD's status, 1 if the guest did not
# report one (it then prints the console's tail), 77 if qemu, busybox-static or kmod
# is missing.
#
# How: the .deb is unpacked with `dpkg -x`, never installed, into $KERNEL_CACHE
# (/var/cache/udpclone-bpf/kernels as root, else $OUT/kernels). qemu boots it under
# TCG (a nested /dev/kvm may not run a stock kernel: docs/KERNELS.md) with a
# throwaway initramfs: busybox-static and the
# kernel's own virtio/9p/overlay modules. That mounts the host's / read-only over 9p,
# puts a tmpfs overlay on top and switch_roots into it, so the guest runs this
# very tree, build and tools. A second, writable 9p share carries the job in and the
# output and exit status out. After switch_root this script is PID 1 (`guest`).
# VM_MODULES (default: veth sch_ingress cls_bpf) are loaded before CMD runs; VM_KEEP=1
# keeps the work directory (console.log, share/output); VM_APPEND adds kernel arguments.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF=$ROOT/scripts/$(basename "$0")
OUT=${OUT:-build}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
if [ "$(id -u)" = 0 ]; then
	KERNEL_CACHE=${KERNEL_CACHE:-/var/cache/udpclone-bpf/kernels}
else
	KERNEL_CACHE=${KERNEL_CACHE:-$OUT/kernels}
fi
# What the guest loads before the command runs (the BPF tests' veth pairs and clsact).
VM_MODULES=${VM_MODULES:-veth sch_ingress cls_bpf}
VM_MEM=${VM_MEM:-2G}
VM_CPUS=${VM_CPUS:-2}
SHARE_TAG=udpcvm	# the writable share's tag, and where the guest mounts it: /udpcvm

die() { echo "kernel-vm: $*" >&2; exit 1; }
skip() { echo "kernel-vm: SKIP: $*" >&2; exit 77; }
usage() { sed -n '4,/^#$/{/^#$/d;s/^# \{0,1\}//p}' "$SELF" >&2; exit 2; }

# --- kernels: which package, fetched once ------------------------------------------

# package KERNEL: the Debian package of the kernel image KERNEL stands for.
package() {
	local k=$1 var pkg
	var=KERNEL_PKG_${k//[.-]/_}
	if [ -n "${!var:-}" ]; then
		echo "${!var}"
		return
	fi
	case $k in
	linux-image-*)
		echo "$k"
		return
		;;
	6.1)	# Debian 12's kernel: the image the meta-package depends on today
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1 || true)
		;;
	[0-9]*.[0-9]*)	# newest stock amd64 build (not rt, cloud, dbg, unsigned)
		pkg=$(apt-cache pkgnames "linux-image-$k." 2>/dev/null |
			grep -E "^linux-image-${k//./\\.}\.[0-9]+\+deb[0-9]+-amd64$" |
			sort -V | tail -n1 || true)
		;;
	*) die "unknown kernel '$k' (6.1, 6.12, ... or a linux-image-* package)" ;;
	esac
	[ -n "$pkg" ] || die "no Debian package for kernel $k (apt-get update? bookworm-security in sources?)"
	echo "$pkg"
}

# fetch KERNEL: unpack its image into the cache unless there already; prints the dir.
# The directory is named after package and version, so a new security update is a new
# directory, fetched once; old ones are left for the cache's owner to prune.
fetch() {
	local pkg ver dir tmp deb kver lock try
	command -v depmod >/dev/null || skip "depmod not found (apt-get install kmod)"
	mkdir -p "$KERNEL_CACHE"
	# Two runs sharing the cache (two worktrees, say) fetch one at a time.
	exec {lock}>"$KERNEL_CACHE/.lock"
	flock "$lock"
	tmp=$(mktemp -d "$KERNEL_CACHE/.fetch.XXXXXX")
	# shellcheck disable=SC2064 # expand now: $tmp is local
	trap "rm -rf '$tmp'" EXIT
	# Package lists may be missing (a fresh CI image) or stale (the version they name
	# left the mirror after a security update): then one apt-get update, and again.
	for try in 1 2; do
		if [ "$try" = 2 ]; then
			echo "kernel-vm: apt-get update" >&2
			apt-get update -qq >&2 || true
		fi
		pkg=$(package "$1") || continue
		ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null |
			sed -n 's/^Version: //p' | head -n1 || true)
		[ -n "$ver" ] || continue
		dir=$KERNEL_CACHE/${pkg}_$ver
		if [ -f "$dir/ready" ]; then
			rm -rf "$tmp"
			echo "$dir"
			return
		fi
		echo "kernel-vm: fetching $pkg $ver" >&2
		# as root apt drops to _apt, who cannot write here: download as ourselves
		(cd "$tmp" && apt-get -qq -o APT::Sandbox::User="$(id -un)" download "$pkg=$ver" >&2) &&
			break
	done
	deb=$(echo "$tmp"/*.deb)
	[ -f "$deb" ] || die "cannot download the package of kernel $1 (${pkg:-unknown} ${ver:-})"
	dpkg -x "$deb" "$tmp/root"
	rm -f "$deb"
	kver=$(ls "$tmp/root/lib/modules")
	if [ -z "$kver" ] || [ ! -f "$tmp/root/boot/vmlinuz-$kver" ]; then
		die "$pkg: no boot/vmlinuz-VERSION with lib/modules/VERSION"
	fi
	# The package ships no modules.dep (the postinst makes it): modprobe needs one.
	depmod -b "$tmp/root" "$kver"
	echo "$kver" >"$tmp/root/kver"
	echo "$pkg $ver" >"$tmp/root/package"
	touch "$tmp/root/ready"
	rm -rf "$dir"
	mv "$tmp/root" "$dir"
	rm -rf "$tmp"
	trap - EXIT
	echo "$dir"
}

# --- the host side of a run ---------------------------------------------------------

# initramfs KDIR DEST: the stage-1 root: busybox, the modules that reach the host's /,
# and an /init that mounts it and switch_roots into `$SELF guest`.
initramfs() {
	local kdir=$1 dest=$2 kver stage kind path m
	kver=$(cat "$kdir/kver")
	stage=$(dirname "$dest")/initramfs
	mkdir -p "$stage"/{bin,dev,proc,lower,rw,newroot,modules}
	cp /bin/busybox "$stage/bin/busybox"
	for m in sh mount umount mkdir insmod switch_root sleep cat poweroff; do
		ln -s busybox "$stage/bin/$m"
	done
	# kmod resolves the order; busybox's insmod cannot read .ko.xz, so unpack them here.
	: >"$stage/modules/order"
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue # "builtin X": nothing to load
		m=$(basename "$path")
		case $m in
		*.ko.xz) xz -dc "$path" >"$stage/modules/${m%.xz}" ;;
		*.ko.zst) zstd -qdc "$path" >"$stage/modules/${m%.zst}" ;;
		*.ko) cp "$path" "$stage/modules/$m" ;;
		*) die "$path: unknown module format" ;;
		esac
		grep -qx "${m%.ko*}.ko" "$stage/modules/order" || echo "${m%.ko*}.ko" >>"$stage/modules/order"
	done < <(modprobe -d "$kdir" -S "$kver" --show-depends -a virtio_pci 9pnet_virtio 9p overlay)
	case $SELF in *"'"*) die "the path $SELF has a quote in it" ;; esac
	cat >"$stage/init" <<EOF
#!/bin/sh
# stage 1 (busybox): reach the host's / and hand over to $SELF
PATH=/bin
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
fail() { echo "kernel-vm stage 1: \$*"; poweroff -f; sleep 5; }
mount -t proc proc /proc
while read -r m; do insmod "/modules/\$m" || fail "insmod \$m"; done </modules/order
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose hostroot /lower ||
	fail "cannot mount the host's / (9p)"
mount -t tmpfs -o mode=0755 rw /rw && mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
	fail "cannot mount the overlay"
mkdir -p /newroot/$SHARE_TAG
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 $SHARE_TAG /newroot/$SHARE_TAG ||
	fail "cannot mount the results share"
mount --move /dev /newroot/dev
umount /proc
exec switch_root /newroot /bin/bash '$SELF' guest
EOF
	chmod +x "$stage/init"
	(cd "$stage" && find . | cpio -o -H newc --quiet) >"$dest"
	rm -rf "$stage"
}

# A rejected program's reason ends its verifier log, maybe thousands of lines up in
# the output: repeat the last lines of each distinct log at the end.
verifier_tails() {
	awk '
	/-- BEGIN PROG LOAD LOG --/ { prog = $0; sub(/: *-- BEGIN.*/, "", prog); n = 0; inlog = 1; next }
	/-- END PROG LOAD LOG --/ {
		inlog = 0
		tail = ""
		for (i = (n > 4 ? n - 4 : 0); i < n; i++)
			tail = tail "  |   " substr(buf[i % 4], 1, 160) "\n"
		if (seen[prog tail]++)
			next
		if (!shown++)
			print "kernel-vm: the verifier rejected:"
		printf "  | %s\n%s", prog, tail
		next
	}
	inlog { buf[n++ % 4] = $0 }'
}

qemu_pid='' tail_pid='' work=''
cleanup() {
	set +e # whatever is already gone, remove the rest
	[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill "$qemu_pid" 2>/dev/null
		sleep 1
		kill -9 "$qemu_pid" 2>/dev/null
	fi
	if [ -n "$work" ] && [ -n "${VM_KEEP:-}" ]; then
		echo "kernel-vm: kept $work (VM_KEEP)" >&2
	elif [ -n "$work" ]; then
		rm -rf "$work"
	fi
	return 0
}

# run: see the header. The command runs in $PWD (the same path in the guest).
run() {
	local limit=600 envs=() k kdir kver q rc status start
	while [ $# -gt 0 ]; do
		case $1 in
		-t) limit=$2; shift 2 ;;
		-e) envs+=("$2"); shift 2 ;;
		*) break ;;
		esac
	done
	[ $# -ge 2 ] || usage
	k=$1
	shift
	[ "${1:-}" = -- ] && shift
	[ $# -ge 1 ] || usage
	[[ $limit =~ ^[0-9]+$ ]] || die "-t $limit: not a number of seconds"

	# The guest runs this host's binaries.
	[ "$(uname -m)" = x86_64 ] || skip "the kernels are amd64 ones; this host is $(uname -m)"
	q=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
	[ -x /bin/busybox ] || skip "/bin/busybox not found (apt-get install busybox-static)"
	command -v modprobe >/dev/null || skip "modprobe not found (apt-get install kmod)"
	kdir=$(fetch "$k")
	kver=$(cat "$kdir/kver")

	work=$(mktemp -d "${TMPDIR:-/tmp}/kernel-vm.XXXXXX")
	trap cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	mkdir "$work/share"
	initramfs "$kdir" "$work/initramfs.cpio"
	# The job, read by `guest`: bash syntax, quoted here.
	{
		printf 'KVER=%q\nMODDIR=%q\nCWD=%q\nMODULES=%q\n' \
			"$kver" "$kdir/lib/modules/$kver" "$PWD" "$VM_MODULES"
		printf 'CMD=('
		printf '%q ' "$@"
		printf ')\n'
		for e in "${envs[@]}"; do
			[[ $e == [A-Za-z_]*=* ]] || die "-e $e: not VAR=VALUE"
			printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
		done
	} >"$work/share/job"
	: >"$work/share/output"

	echo "kernel-vm: $(cat "$kdir/package") ($kver), limit ${limit}s: $*"
	start=$SECONDS
	# -no-reboot: the guest's poweroff, and a panic (panic=-1), end qemu.
	"$q" -accel tcg,thread=multi -cpu max -m "$VM_MEM" -smp "$VM_CPUS" -nographic -no-reboot \
		-kernel "$kdir/boot/vmlinuz-$kver" -initrd "$work/initramfs.cpio" \
		-append "console=ttyS0 rdinit=/init panic=-1 ${VM_APPEND:-}" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$work/share,mount_tag=$SHARE_TAG,security_model=none" \
		-nic none </dev/null >"$work/console.log" 2>&1 &
	qemu_pid=$!
	# The guest writes the command's output straight to the share: show it as it comes,
	# marked as the guest's (its own "tests: N passed" is not the caller's summary).
	tail -s 0.2 -n +1 -f --pid="$qemu_pid" "$work/share/output" | sed -u "s/^/$k| /" &
	tail_pid=$!
	rc=0
	while kill -0 "$qemu_pid" 2>/dev/null; do
		if [ $((SECONDS - start)) -ge "$limit" ]; then
			rc=124
			break
		fi
		sleep 0.5
	done
	if [ "$rc" = 124 ]; then
		kill "$qemu_pid" 2>/dev/null
		wait "$qemu_pid" 2>/dev/null || true
	else
		wait "$qemu_pid" || rc=$?
	fi
	qemu_pid=
	wait "$tail_pid" 2>/dev/null || true
	tail_pid=

	status=$(cat "$work/share/status" 2>/dev/null || true)
	if [ "$rc" = 124 ]; then
		echo "kernel-vm: $kver: no result after ${limit}s; guest killed. Console's last lines:"
	elif ! [[ $status =~ ^[0-9]+$ ]]; then
		echo "kernel-vm: $kver: the guest stopped without reporting a status (qemu exit $rc). Console's last lines:"
	else
		[ "$status" = 0 ] || verifier_tails <"$work/share/output"
		echo "kernel-vm: $kver: exit $status after $((SECONDS - start))s"
		return "$status"
	fi
	# without SeaBIOS's terminal escapes and the serial line's carriage returns
	tail -n 40 "$work/console.log" | sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\r//g' -e 's/^/  | /'
	return 1
}

# --- the guest side: PID 1 after switch_root ------------------------------------------

guest() {
	set +e
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
	local out=/$SHARE_TAG/output rc
	mount -t proc proc /proc
	mount -t sysfs sys /sys
	mountpoint -q /dev || mount -t devtmpfs dev /dev
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
	mount -t tmpfs tmpfs /dev/shm
	mount -t tmpfs -o mode=0755 tmpfs /run
	# /tmp stays the host's (through the overlay, writable): a build there must be seen
	mount -t bpf bpf /sys/fs/bpf
	mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
	# devtmpfs has none of these; bash's <(...) and many tools want /dev/fd
	ln -sfn /proc/self/fd /dev/fd
	ln -sfn /proc/self/fd/0 /dev/stdin
	ln -sfn /proc/self/fd/1 /dev/stdout
	ln -sfn /proc/self/fd/2 /dev/stderr
	# KVER, MODDIR, CWD, MODULES, CMD and the -e variables
	# shellcheck source=/dev/null
	. "/$SHARE_TAG/job"
	exec >>"$out" 2>&1 </dev/null
	# The host has no modules for this kernel: lend it the unpacked ones.
	# shellcheck disable=SC2153 # from the job
	mkdir -p "/lib/modules/$KVER" && mount --bind "$MODDIR" "/lib/modules/$KVER"
	for m in $MODULES; do
		modprobe "$m" || echo "kernel-vm guest: modprobe $m failed"
	done
	ip link set lo up
	echo "kernel-vm guest: $(uname -r), $(nproc) CPUs; running: ${CMD[*]}"
	(cd "$CWD" && exec "${CMD[@]}")
	rc=$?
	echo "$rc" >"/$SHARE_TAG/status.new" && mv "/$SHARE_TAG/status.new" "/$SHARE_TAG/status"
	sync
	/bin/busybox poweroff -f
	echo o >/proc/sysrq-trigger
	sleep 10
}

# --- main ---------------------------------------------------------------------------------

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
fetch)
	[ $# -ge 1 ] || usage
	for k in "$@"; do (fetch "$k") >/dev/null; done # a subshell each: its lock goes with it
	;;
package)
	[ $# -eq 1 ] || usage
	package "$1"
	;;
run) run "$@" ;;
test)
	limit=600
	if [ "${1:-}" = -t ]; then
		limit=$2
		shift 2
	fi
	[ $# -eq 1 ] || usage
	cd "$ROOT"
	# The guest is slower (TCG) than the per-test limit tests/run.sh sets for this
	# host; the limit that matters is this VM's, which also covers its boot.
	envs=(-e "OUT=$OUT" -e "BPF_LIMIT=$limit")
	# the tests' own knobs (UDPC_FUZZ_FRAMES, UDPC_FUZZ_SEED, ...) go along
	while read -r v; do envs+=(-e "$v=${!v}"); done < <(compgen -e | grep '^UDPC_' || true)
	run -t "$limit" "${envs[@]}" "$1" -- tests/run.sh bpf
	;;
guest)
	[ $$ = 1 ] || die "guest: only PID 1 in the VM runs this"
	guest
	;;
*) usage ;;
esac
