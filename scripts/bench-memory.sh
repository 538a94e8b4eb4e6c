#!/usr/bin/env bash
# What many distinct stacks cost gotrace in memory, during a trace and at
# its end, in one run:
#
#   scripts/bench-memory.sh
#
# The target is tests/fixtures/allocs in its stacks mode: it walks the 2^D
# call paths of a binary tree of calls D deep (D = GOTRACE_BENCH_DEPTH,
# default 19: 524,288 paths) under 10 frames of its own, over and over,
# allocating once at the end of each: 2^D distinct stacks of about D+15
# frames. For each mode, a fresh target runs and `gotrace attach PID -d
# GOTRACE_BENCH_SECONDS --no-tui -o FILE --folded FILE` traces it:
#
#   gotrace        the default memory bound (--max-memory 1GiB);
#   bounded        --max-memory GOTRACE_BENCH_SMALL_BOUND (default 64MiB),
#                  which the stacks exceed: the bound holds and the summary
#                  says how much was merged;
#   baseline       GOTRACE_BENCH_BASELINE=PATH, another gotrace binary (say,
#                  the one before a change) with its own defaults.
#
# Figures per mode: the distinct stacks written (lines of the folded file);
# gotrace's resident memory during the trace (the largest VmRSS of
# /proc/PID/status, sampled every 0.2 s until the duration ends); its peak
# over its whole life, writing the files included (/usr/bin/time's maximum
# resident set size, or, without it, the last VmHWM read before it exited);
# their ratio; and the time from the end of the duration to gotrace's exit.
# Each profile is read back by `go tool pprof -raw` and must hold as many
# samples as the folded file has stacks or more.
#
# Builds gotrace in build/ first (configuring it if needed) and the target
# with the machine's go. Needs root. Exits non-zero when something fails to
# run or does not agree.
#
# Environment:
#   GOTRACE_BENCH_SECONDS       trace length per mode (default 20)
#   GOTRACE_BENCH_DEPTH         depth of the call tree, 2^D stacks (default 19)
#   GOTRACE_BENCH_SMALL_BOUND   --max-memory of the bounded mode (default 64MiB)
#   GOTRACE_BENCH_BASELINE      another gotrace to measure beside (optional)
#   GOTRACE_BUILD_DIR           build directory (default build/ in the repository)
set -euo pipefail

prog=bench-memory
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/bench.sh"

build=${GOTRACE_BUILD_DIR:-$root/build}
seconds=${GOTRACE_BENCH_SECONDS:-20}
depth=${GOTRACE_BENCH_DEPTH:-19}
small_bound=${GOTRACE_BENCH_SMALL_BOUND:-64MiB}
require_positive GOTRACE_BENCH_SECONDS "$seconds"
require_positive GOTRACE_BENCH_DEPTH "$depth"
((depth <= 24)) || die "GOTRACE_BENCH_DEPTH must be at most 24"

build_gotrace_and_fixture allocs
target=$fixture

modes=(gotrace bounded)
add_baseline_mode

work=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-bench-memory.XXXXXX")
target_pid=
cleanup() {
  [[ -n $target_pid ]] && kill "$target_pid" 2>/dev/null
  rm -rf -- "$work"
}
trap cleanup EXIT

status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || true; }

# Starts the target with its stdin on a pipe kept open by us; sets target_pid.
start_target() {
  rm -f "$work/stdin" && mkfifo "$work/stdin"
  "$target" stacks "$depth" <"$work/stdin" >"$work/target.out" 2>&1 &
  target_pid=$!
  exec {target_stdin}>"$work/stdin"
  for ((i = 0; i < 100; i++)); do
    grep -q '^stacks$' "$work/target.out" 2>/dev/null && return 0
    sleep 0.1
  done
  die "the target did not start: $(cat "$work/target.out")"
}

stop_target() {
  exec {target_stdin}>&-
  wait "$target_pid" 2>/dev/null || true
  target_pid=
}

# One mode: prints "stacks during_kib peak_kib exit_seconds summary-line".
measure() {
  local mode=$1 binary=$gotrace extra=() err=$work/$1.err
  case $mode in
    bounded) extra=(--max-memory "$small_bound") ;;
    baseline) binary=$baseline ;;
  esac
  rm -f "$work/$mode".{pb.gz,folded}
  start_target
  local -a timed=()
  [[ -x /usr/bin/time ]] && timed=(/usr/bin/time -f 'maxrss_kib %M' -o "$work/$mode.time")
  # Every allocation: the memory a trace takes grows with the stacks it sees.
  [[ $binary == "$gotrace" ]] && extra+=(--exact)
  "${timed[@]}" "$binary" attach "$target_pid" -d "${seconds}s" --no-tui -o "$work/$mode.pb.gz" \
    --folded "$work/$mode.folded" "${extra[@]}" 2>"$err" >/dev/null &
  local runner=$! pid=
  for ((i = 0; i < 100; i++)); do
    [[ -n $pid ]] && break
    sleep 0.1
    if [[ ${timed[*]} ]]; then pid=$(pgrep -P "$runner" || true); else pid=$runner; fi
  done
  [[ -n $pid ]] || die "$mode: gotrace did not start"
  local started=$SECONDS during=0 hwm=0 rss read end=
  while rss=$(status_kib "$pid" VmRSS) && [[ -n $rss ]]; do
    if ((SECONDS - started < seconds)); then
      ((rss > during)) && during=$rss
    elif [[ -z $end ]]; then
      end=$(date +%s.%N)
    fi
    read=$(status_kib "$pid" VmHWM)
    [[ -n $read ]] && hwm=$read
    sleep 0.2
  done
  wait "$runner" || die "$mode: gotrace exited with status $?: $(tail -n 3 "$err")"
  local exited
  exited=$(date +%s.%N)
  stop_target
  [[ -s $work/$mode.time ]] && hwm=$(awk '$1 == "maxrss_kib" {print $2}' "$work/$mode.time")
  local stacks samples
  stacks=$(wc -l <"$work/$mode.folded")
  samples=$(go tool pprof -raw "$work/$mode.pb.gz" 2>/dev/null | awk '/^Samples:/ {s = 1; next} /^Locations/ {s = 0} s && /^ *[0-9]+( +[0-9]+)*:/ {n++} END {print n + 0}')
  ((samples >= stacks)) || die "$mode: go tool pprof reads $samples samples, the folded file has $stacks stacks"
  echo "$stacks $during $hwm $(awk -v a="${end:-$exited}" -v b="$exited" 'BEGIN {printf "%.1f", b - a}') $(grep -h 'max-memory' "$err" | head -n 1)"
}

mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }

echo "$prog: $seconds s per mode, 2^$depth paths, $(nproc) CPUs" >&2
printf '\n| mode | distinct stacks | RSS during the trace | peak at exit | peak / during | exit took |\n| --- | ---: | ---: | ---: | ---: | ---: |\n' >"$work/table"
for mode in "${modes[@]}"; do
  measure "$mode" >"$work/result"
  read -r stacks during peak took merged <"$work/result"
  note "$mode: $stacks stacks, $(mib "$during") MiB during, $(mib "$peak") MiB peak, exit in $took s"
  [[ -n $merged ]] && note "$mode: $merged"
  printf '| %s | %s | %s MiB | %s MiB | %s | %s s |\n' "$mode" "$stacks" "$(mib "$during")" "$(mib "$peak")" \
    "$(awk -v a="$peak" -v b="$during" 'BEGIN {printf "%.2f", a / b}')" "$took" >>"$work/table"
done
cat "$work/table"
