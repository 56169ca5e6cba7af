#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The test runner behind `make check`:
#   OUT=build tests/run.sh [all|unit|bpf|e2e|fuzz|kernels]... [NAME-SUBSTRING]...
# unit: $OUT/tests/test_X for each tests/unit/test_X.c (cmocka, no root)
# bpf:  $OUT/tests/test_X for each tests/bpf/test_X.c  (BPF_PROG_TEST_RUN, root)
# fuzz: libFuzzer over the --listen/--destinations parsers, 20 s (FUZZ_SECS)
# e2e:  each tests/e2e/test_*.sh (namespaces, root), 300 s each
# kernels: the bpf group again under each of KERNELS (default "6.1 6.12": Debian 12's
#       kernel and the newest 6.12 it ships) booted in qemu, one test kernel-K each
#       (scripts/kernel-vm.sh; KERNEL_LIMIT_6_1 / _6_12 seconds, KERNEL_LIMIT otherwise)
# A test passes with exit 0, is skipped with exit 77, fails otherwise. The last
# line is always "tests: N passed, M failed[, K skipped]"; the exit status is 1 if
# anything failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
OUT=${OUT:-build}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
export OUT

UNIT_LIMIT=${UNIT_LIMIT:-120}
BPF_LIMIT=${BPF_LIMIT:-120}
E2E_LIMIT=${E2E_LIMIT:-300}
KILL_GRACE=30 # after the limit's SIGTERM: time for a test's own cleanup

passed=0 failed=0 skipped=0
failed_names=()
child=
interrupted=0

usage() {
	echo "usage: OUT=build $0 [all|unit|bpf|e2e|fuzz|kernels]... [NAME-SUBSTRING]..." >&2
	exit 2
}

on_signal() {
	interrupted=1
	[ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap on_signal INT TERM

# matches NAME: true if no filter was given or NAME contains one of them.
matches() {
	local f
	[ "${#filters[@]}" = 0 ] && return 0
	for f in "${filters[@]}"; do
		[[ $1 == *"$f"* ]] && return 0
	done
	return 1
}

# run_one NAME LIMIT CMD...: runs one test program under a time limit and counts it.
run_one() {
	local name=$1 limit=$2 rc start secs
	shift 2
	echo "--- $name"
	start=$SECONDS
	# In the background, so a Ctrl-C here can be passed on as SIGTERM: timeout
	# puts the test in its own process group, out of the terminal's reach.
	timeout -k "$KILL_GRACE" "$limit" "$@" </dev/null &
	child=$!
	wait "$child"
	rc=$?
	# a signal interrupts wait; wait again for the test's cleanup (bounded by timeout -k)
	while [ "$interrupted" = 1 ] && kill -0 "$child" 2>/dev/null; do
		wait "$child"
		rc=$?
	done
	child=
	secs=$((SECONDS - start))
	case $rc in
	0)
		passed=$((passed + 1))
		echo "--- PASS $name (${secs}s)"
		;;
	77)
		skipped=$((skipped + 1))
		echo "--- SKIP $name (${secs}s)"
		;;
	124 | 137)
		failed=$((failed + 1))
		failed_names+=("$name")
		echo "--- FAIL $name: timed out after ${limit}s"
		;;
	*)
		failed=$((failed + 1))
		failed_names+=("$name")
		echo "--- FAIL $name (exit $rc, ${secs}s)"
		;;
	esac
}

# not_built NAME: a test whose program is missing counts as failed.
not_built() {
	echo "--- FAIL $1: $2 not built (run make check)"
	failed=$((failed + 1))
	failed_names+=("$1")
}

# run_binaries SUITE SRCDIR LIMIT: one program per SRCDIR/test_*.c.
run_binaries() {
	local suite=$1 dir=$2 limit=$3 src name bin
	local srcs=("$dir"/test_*.c)
	[ -e "${srcs[0]}" ] || srcs=()
	echo "==== $suite tests (${#srcs[@]}) ===="
	for src in "${srcs[@]}"; do
		[ "$interrupted" = 1 ] && return
		name=$(basename "$src" .c)
		matches "$name" || continue
		bin=$OUT/tests/$name
		if [ ! -x "$bin" ]; then
			not_built "$suite/$name" "$bin"
			continue
		fi
		run_one "$suite/$name" "$limit" "$bin"
	done
}

suite_unit() { run_binaries unit tests/unit "$UNIT_LIMIT"; }

suite_bpf() {
	if [ "$(id -u)" != 0 ]; then
		echo "==== bpf tests ===="
		echo "--- SKIP bpf suite: needs root (BPF_PROG_TEST_RUN)"
		local srcs=(tests/bpf/test_*.c)
		[ -e "${srcs[0]}" ] && skipped=$((skipped + ${#srcs[@]}))
		return
	fi
	run_binaries bpf tests/bpf "$BPF_LIMIT"
}

suite_e2e() {
	local scripts=(tests/e2e/test_*.sh) s name
	[ -e "${scripts[0]}" ] || scripts=()
	echo "==== e2e tests (${#scripts[@]}) ===="
	if [ "$(id -u)" = 0 ] && ! mountpoint -q /sys/fs/bpf; then
		mount -t bpf bpf /sys/fs/bpf ||
			echo "warning: cannot mount bpffs on /sys/fs/bpf" >&2
	fi
	for s in "${scripts[@]}"; do
		[ "$interrupted" = 1 ] && return
		name=$(basename "$s" .sh)
		matches "$name" || continue
		run_one "e2e/$name" "$E2E_LIMIT" bash "$s"
	done
}

# libFuzzer over the parsers, for a bounded time (tests/fuzz/run.sh; corpus kept in-tree)
FUZZ_LIMIT=${FUZZ_LIMIT:-120}
suite_fuzz() {
	echo "==== fuzz tests (1) ===="
	matches fuzz_spec || return 0
	run_one fuzz/fuzz_spec "$FUZZ_LIMIT" tests/fuzz/run.sh "${FUZZ_SECS:-20}"
}

# The BPF object must load and pass its tests on the kernels people run, not only on
# this host's: each kernel in qemu (TCG), on this host's own / (scripts/kernel-vm.sh).
KERNELS=${KERNELS:-6.1 6.12}
suite_kernels() {
	local ks=() k var limit fetch_rc
	read -ra ks <<<"$KERNELS"
	echo "==== kernels tests (${#ks[@]}) ===="
	for k in "${ks[@]}"; do
		[ "$interrupted" = 1 ] && return
		matches "kernel-$k" || continue
		# Fetching is set-up (a download the first time, cached after), outside the limit.
		fetch_rc=0
		timeout 900 scripts/kernel-vm.sh fetch "$k" 2>&1 || fetch_rc=$?
		case $fetch_rc in
		0) ;;
		77)
			echo "--- SKIP kernel-$k"
			skipped=$((skipped + 1))
			continue
			;;
		*)
			echo "--- FAIL kernel-$k: cannot fetch the kernel (exit $fetch_rc)"
			failed=$((failed + 1))
			failed_names+=("kernel-$k")
			continue
			;;
		esac
		# Emulated (TCG), the guest runs 10 to 50 times slower than this host, and
		# boots first: about 1 min measured for each (docs/KERNELS.md).
		var=KERNEL_LIMIT_${k//[.-]/_}
		limit=${!var:-${KERNEL_LIMIT:-$([ "$k" = 6.1 ] && echo 300 || echo 450)}}
		# kernel-vm.sh kills the guest at the limit and shows its console; the outer
		# limit is only a backstop.
		run_one "kernel-$k" "$((limit + 60))" scripts/kernel-vm.sh test -t "$limit" "$k"
	done
}

suites=()
filters=()
for arg in "$@"; do
	case $arg in
	all) suites+=(unit bpf fuzz e2e kernels) ;;
	unit | bpf | e2e | fuzz | kernels) suites+=("$arg") ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) filters+=("$arg") ;;
	esac
done
[ "${#suites[@]}" = 0 ] && suites=(unit bpf e2e)

for suite in "${suites[@]}"; do
	[ "$interrupted" = 1 ] && break
	"suite_$suite"
done

[ "$interrupted" = 1 ] && echo "interrupted"
[ "$failed" -gt 0 ] && echo "failed: ${failed_names[*]}"
summary="tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ "$failed" = 0 ] && [ "$interrupted" = 0 ]
