#!/usr/bin/env bash
# Builds Sockify's libFuzzer harnesses (tools/fuzz, a separate SwiftPM package) with ASan and runs each one for
# N seconds (default 60), starting from its seed corpus in tools/fuzz/corpus/<harness>/.
#
# Usage: tools/fuzz/run.sh [seconds] [harness...]        e.g. tools/fuzz/run.sh 600 FuzzFrames
#
# Exits non-zero if any harness crashes, trips ASan/LeakSanitizer, times out on one input or runs out of memory,
# and prints where libFuzzer saved the input (with a hex dump). Inputs that grow coverage go to
# <build>/work/<harness>/, not into the committed seeds; see tools/fuzz/README.md for keeping them.
set -euo pipefail

seconds="${1:-60}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
build="${FUZZ_BUILD_PATH:-$here/.build}"
if [ "$#" -gt 0 ]; then
    harnesses=("$@")
else
    harnesses=()
    for dir in "$here"/Sources/Fuzz*; do
        [ "$(basename "$dir")" = FuzzSupport ] || harnesses+=("$(basename "$dir")")
    done
fi

# Flags, and why both sanitizer spellings:
# - `--sanitize fuzzer` makes SwiftPM link libFuzzer's `main` and stop renaming the executable's entry point
#   (without it, `--defsym main=<Module>_main` replaces libFuzzer's main and the binary does nothing).
# - SwiftPM passes `--sanitize fuzzer --sanitize address` as two `-sanitize=` flags, and swiftc keeps only the
#   last one, losing coverage or ASan. `-Xswiftc -sanitize=fuzzer,address` comes after SwiftPM's own flag, so
#   it is the one swiftc keeps, for every Swift module including the product's.
# - Release: the harnesses run 1.3-6.5x more inputs per second than at -Onone (measured), for a similar build time.
# ld.gold warns once per ASan helper symbol ("Cannot export local symbol"); those lines are noise.
# Swift's own crash backtracer and ASan don't mix: under ASan it reports a stack-buffer-underflow in its own
# memcpy and then hangs instead of exiting. With it off, libFuzzer's handler reports the trap and saves the input.
export SWIFT_BACKTRACE=enable=no

echo "fuzz: building ${harnesses[*]} (release, -sanitize=fuzzer,address)"
started=$(date +%s)
set +e
swift build --package-path "$here" --scratch-path "$build" -c release \
    --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address 2>&1 | grep -v "Cannot export local symbol"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    echo "fuzz: build failed ($status)" >&2
    exit "$status"
fi
echo "fuzz: build took $(($(date +%s) - started)) s"
bin="$(swift build --package-path "$here" --scratch-path "$build" -c release --show-bin-path)"

failed=()
for harness in "${harnesses[@]}"; do
    work="$build/work/$harness"
    artifacts="$build/artifacts/$harness"
    log="$build/logs/$harness.log"
    mkdir -p "$work" "$artifacts" "$(dirname "$log")"
    rm -f "$artifacts"/*
    echo "fuzz: $harness for ${seconds} s (log: $log)"
    set +e
    # -timeout: one input running 10 s is a hang; -rss_limit_mb: the machine has 24 GiB and 2 cores to share.
    "$bin/$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$work" "$here/corpus/$harness" >"$log" 2>&1
    status=$?
    set -e
    summary=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)
    rate=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' "$log")
    echo "fuzz: $harness exit $status, ${rate:-?} exec/s, last: ${summary:-none}"
    if [ "$status" -ne 0 ]; then
        failed+=("$harness")
        echo "----- $harness: end of log -----"
        tail -n 60 "$log"
        for input in "$artifacts"/*; do
            [ -e "$input" ] || continue
            echo "fuzz: $harness saved the failing input at $input ($(wc -c <"$input") bytes):"
            od -An -tx1 -v "$input" | head -n 64
            echo "fuzz: reproduce with: $bin/$harness $input"
        done
    fi
done

# The summary line in the plain "N passed, N failed" form CI logs are read for.
echo "fuzz: $((${#harnesses[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
