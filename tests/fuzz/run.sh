#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Runs the libFuzzer target of the spec parsers: first every input of
# tests/fuzz/corpus once (a deterministic regression run), then new inputs for
# SECONDS (default 20) from a fixed seed (FUZZ_SEED, default 1).
#   OUT=build tests/fuzz/run.sh [SECONDS]
# Exit 0 if nothing broke, 1 on a crash or broken property (the input is saved
# as $OUT/fuzz/crash-*: replay it with `$OUT/fuzz/fuzz_spec FILE`), 77 if the
# target is not built (make fuzz-build; needs clang with libFuzzer). No root needed.
# UDPC_FUZZ_STRICT_ONE_LINE=1 also fails on error messages that are not one line
# because the input had a newline (a known issue; see docs/RELIABILITY.md).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-build}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
BIN=$OUT/fuzz/fuzz_spec
SECS=${1:-20}
SEED=${FUZZ_SEED:-1}

[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -le 3600 ] || { echo "usage: $0 [SECONDS <= 3600]" >&2; exit 2; }
if [ ! -x "$BIN" ]; then
	echo "SKIP fuzz_spec: $BIN not built (make fuzz-build)"
	exit 77
fi
mkdir -p "$OUT/fuzz/corpus"
common=(-timeout=5 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1
	-artifact_prefix="$OUT/fuzz/")

echo "fuzz_spec: replaying tests/fuzz/corpus"
"$BIN" "${common[@]}" -runs=0 "$ROOT/tests/fuzz/corpus" >"$OUT/fuzz/replay.log" 2>&1 || {
	tail -n 30 "$OUT/fuzz/replay.log"
	echo "FAIL fuzz_spec: the corpus replay broke (log: $OUT/fuzz/replay.log)"
	exit 1
}
echo "fuzz_spec: fuzzing for ${SECS}s, seed $SEED"
# new inputs go to $OUT/fuzz/corpus (first directory); the repository's is only read
"$BIN" "${common[@]}" -seed="$SEED" -max_total_time="$SECS" \
	"$OUT/fuzz/corpus" "$ROOT/tests/fuzz/corpus" >"$OUT/fuzz/fuzz.log" 2>&1
rc=$?
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done ' "$OUT/fuzz/fuzz.log" | sed 's/^/  /'
if [ "$rc" != 0 ]; then
	grep -E 'property broken|ERROR:|runtime error|SUMMARY' "$OUT/fuzz/fuzz.log" | head -n 5
	ls -1 "$OUT"/fuzz/crash-* "$OUT"/fuzz/leak-* "$OUT"/fuzz/timeout-* 2>/dev/null | head -n 3
	echo "FAIL fuzz_spec (exit $rc; log: $OUT/fuzz/fuzz.log)"
	exit 1
fi
echo "PASS fuzz_spec"
