#!/usr/bin/env bash
# What tracing costs a realistic Go service, beside the microbenchmark of
# scripts/bench-overhead.sh, whose shallow stacks on one thread flatter a
# uprobe tracer:
#
#   scripts/bench-service.sh
#
# The target is tests/fixtures/service in its bench mode: requests that build
# maps, call through reflect, start a goroutine each, defer, use generics,
# build strings, encode JSON and recurse 60 calls deep (stacks of 60 to 80
# frames), with the runtime's default heap profiling. Each run serves
# GOTRACE_BENCH_REQUESTS requests and prints the time per request it measured
# itself, so gotrace's start-up and symbolization are not in it. Modes, one
# process each:
#
#   untraced         the service alone;
#   gotrace          `gotrace run -- service bench N`, every allocation;
#   gotrace-sampled  `gotrace run --sample -- service bench N`;
#   gotrace-heap     `gotrace run --heap -- service bench N`: the runtime's
#                    own heap-profile samples (estimates within a factor of
#                    two of the service's count pass the check).
#
# GOTRACE_BENCH_ROUNDS rounds (default 5) run every mode once, the order
# rotating by one each round; the table gives the median µs per request, its
# range, and the median ratio to untraced, round by round. Each traced run
# must report 0 events lost and at least as many allocations as the service
# counted itself. Checks no threshold; fails only when something does not run
# or does not agree.
#
# GOTRACE_BENCH_BASELINE=PATH adds the mode `baseline`: the gotrace binary at
# PATH (another build, e.g. of an earlier commit) in the default mode, so that
# a change is measured against what it replaces in the same rounds.
#
# Builds gotrace in build/ (GOTRACE_BUILD_DIR) and the service with the
# machine's go. Needs root.
set -euo pipefail

prog=bench-service
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/bench.sh"

build=${GOTRACE_BUILD_DIR:-$root/build}
rounds=${GOTRACE_BENCH_ROUNDS:-5}
requests=${GOTRACE_BENCH_REQUESTS:-4000}
require_positive GOTRACE_BENCH_ROUNDS "$rounds"
require_positive GOTRACE_BENCH_REQUESTS "$requests"

build_gotrace_and_fixture service
service=$fixture

work=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-bench-service.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

modes=(untraced gotrace gotrace-sampled gotrace-heap)
add_baseline_mode
declare -A results  # mode → space-separated µs per request, by round
declare -A ratios   # mode → space-separated ratios to the round's untraced

# run MODE: prints the service's µs per request, after checking the trace.
run() {
  local mode=$1 out=$work/out err=$work/err allocs ns seen
  case $mode in
    untraced) "$service" bench "$requests" >"$out" 2>"$err" ;;
    gotrace) "$gotrace" run -- "$service" bench "$requests" >"$out" 2>"$err" ;;
    gotrace-sampled) "$gotrace" run --sample -- "$service" bench "$requests" >"$out" 2>"$err" ;;
    gotrace-heap) "$gotrace" run --heap -- "$service" bench "$requests" >"$out" 2>"$err" ;;
    baseline) "$baseline" run -- "$service" bench "$requests" >"$out" 2>"$err" ;;
  esac || die "$mode: exited with status $?: $(tail -n 3 "$err")"
  ns=$(awk '$1 == "ns/request" {print $2}' "$out")
  allocs=$(awk '$1 == "allocs/request" {print $2}' "$out")
  [[ -n $ns && -n $allocs ]] || die "$mode: the service printed no figures"
  if [[ $mode != untraced ]]; then
    grep -q '; 0 events lost' "$err" || die "$mode: events were lost: $(grep 'traced pid' "$err")"
    # The summary counts allocations (sampled: the kernel's exact count).
    if [[ $mode != gotrace-sampled ]]; then
      seen=$(sed -n 's/.*(until it exited): \([0-9]*\) allocations.*/\1/p' "$err")
    else
      seen=$(sed -n 's/^gotrace: sampled .*: [0-9]* of \([0-9]*\) allocations (.*/\1/p' "$err")
    fi
    [[ -n $seen ]] || die "$mode: no summary: $(tail -n 3 "$err")"
    if [[ $mode == gotrace-heap ]]; then
      ((seen * 2 >= allocs * requests && seen <= 2 * allocs * requests)) ||
        die "$mode: estimated $seen allocations, the service made about $((allocs * requests))"
    else
      ((seen >= allocs * requests)) || die "$mode: counted $seen allocations, the service made at least $((allocs * requests))"
    fi
  fi
  awk -v ns="$ns" 'BEGIN {printf "%.1f", ns / 1000}'
}

echo "$prog: $rounds rounds of $requests requests per mode, $(nproc) CPUs, $("$service" bench "$requests" | awk '$1 == "allocs/request" {print $2}') allocations per request" >&2
run untraced >/dev/null  # warm-up
alternate_rounds µs

range() { echo "$(minimum "$@")–$(maximum "$@")"; }

printf '\n| mode | µs per request (median) | range | × untraced (median of rounds) |\n| --- | ---: | ---: | ---: |\n'
for mode in "${modes[@]}"; do
  # Unquoted: a mode's figures are space-separated, one argument each.
  printf '| %s | %s | %s | %s |\n' "$mode" "$(median ${results[$mode]})" "$(range ${results[$mode]})" \
    "$(median ${ratios[$mode]})"
done
