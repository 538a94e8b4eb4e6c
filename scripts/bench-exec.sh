#!/usr/bin/env bash
# What `gotrace attach --all` and `--cgroup` cost the rest of the host: each
# exec on it then runs the process watcher's BPF program, and under --all
# writes a record that gotrace reads and answers with a stat of the new
# program (a look into a cache for a program seen before):
#
#   scripts/bench-exec.sh
#
# Each run execs /bin/true GOTRACE_BENCH_EXECS times (default 2000), one
# after another, from a shell loop (a fork and an exec each, what a build's
# scripts do), and gives the wall time per exec in µs. Modes:
#
#   untraced  nothing else runs;
#   all       `gotrace attach --all --heap` runs meanwhile (started before
#             and ended after the timed loop);
#   cgroup    `gotrace attach --cgroup` of an empty scratch cgroup runs
#             meanwhile: the execs are filtered out in the kernel.
#
# GOTRACE_BENCH_ROUNDS rounds (default 5), the order rotating by one each
# round; the table gives the median µs per exec, its range, and the median
# over rounds of the ratio to the same round's untraced run. Checks no
# threshold. Builds gotrace in build/ (GOTRACE_BUILD_DIR). Needs root and a
# cgroup v2 hierarchy.
set -euo pipefail

prog=bench-exec
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/bench.sh"

build=${GOTRACE_BUILD_DIR:-$root/build}
rounds=${GOTRACE_BENCH_ROUNDS:-5}
execs=${GOTRACE_BENCH_EXECS:-2000}
require_positive GOTRACE_BENCH_ROUNDS "$rounds"
require_positive GOTRACE_BENCH_EXECS "$execs"
[[ $(id -u) -eq 0 ]] || die "needs root (BPF)"
build_targets "$build" gotrace
gotrace=$build/gotrace

hierarchy=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
[[ -n $hierarchy ]] || die "no cgroup v2 hierarchy is mounted"
work=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-bench-exec.XXXXXX")
cgroup=$hierarchy/gotrace-bench-exec-$$
mkdir -- "$cgroup"
tracer=
cleanup() {
  [[ -z $tracer ]] || kill -KILL "$tracer" 2>/dev/null || true
  rmdir -- "$cgroup" 2>/dev/null || true
  rm -rf -- "$work"
}
trap cleanup EXIT

modes=(untraced all cgroup)
declare -A results ratios

# run MODE: prints µs per exec.
run() {
  local mode=$1 start end i
  case $mode in
    all) start_attach "$work" --all --heap ;;
    cgroup) start_attach "$work" --cgroup "$cgroup" --heap ;;
  esac
  start=$(date +%s%N)
  for ((i = 0; i < execs; i++)); do /bin/true; done
  end=$(date +%s%N)
  [[ $mode == untraced ]] || stop_attach
  awk -v ns=$((end - start)) -v n="$execs" 'BEGIN {printf "%.1f", ns / n / 1e3}'
}

note "$rounds rounds of $execs execs of /bin/true, $(nproc) CPUs, kernel $(uname -r)"
alternate_rounds µs

printf '\n| mode | µs per exec (median) | range | × untraced (median of rounds) |\n| --- | ---: | ---: | ---: |\n'
for mode in "${modes[@]}"; do
  printf '| %s | %s | %s–%s | %s |\n' "$mode" "$(median ${results[$mode]})" "$(minimum ${results[$mode]})" \
    "$(maximum ${results[$mode]})" "$(median ${ratios[$mode]})"
done
