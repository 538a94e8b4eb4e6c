#!/usr/bin/env bash
# What tracing a whole Go build costs, and where the Go compiler allocates:
#
#   scripts/bench-build.sh
#
# Builds tests/bench/buildmodule (a main package importing encoding/json,
# text/template, regexp and compress/gzip: 85 packages of the standard
# library) with `go build -a`, each run with a fresh, empty GOCACHE so that
# every package really is compiled, one `compile` process each, in three
# modes:
#
#   untraced  go build -a alone;
#   heap      gotrace run --follow --heap -o FILE -- go build -a: the go
#             command and every Go process it starts, by the runtime's own
#             heap-profile samples;
#   exact     gotrace run --follow --exact -o FILE -- go build -a: every
#             allocation of every compile process;
#   all       go build -a alone, while gotrace attach --all --heap runs
#             (started before, ended after): what a trace of the whole host
#             costs a build that runs meanwhile, each new Go program
#             attached once it runs. Not in the default list.
#
# GOTRACE_BENCH_ROUNDS rounds (default 3), after one untraced warm-up build
# (the toolchain's files into the page cache), run every mode once, the order
# rotating by one each round. The table gives the median wall time of each
# mode, from the start of the command to its exit (gotrace writing its
# profile included), its range, and the median over rounds of the ratio to
# the same round's untraced build. Then, from the last round's profiles, the
# number of compile processes each holds and the compiler's top allocation
# sites (`go tool pprof -top -tagfocus=process=compile`): by alloc_space in
# exact mode; in heap mode by alloc_space, by inuse_space (what each compile
# process still held at its exit, summed) and by peak_inuse_space (what each
# held at its peak, summed). Checks no threshold; fails only when a build
# fails or a profile holds no compile process.
#
# Every mode builds with -gcflags=all=-memprofile=/dev/null: the compiler
# turns its heap profiling off at its start unless asked for a memory
# profile, and --heap would see its first moments only.
#
# cgo is off (CGO_ENABLED=0), so that the build runs no C compiler, and the
# machine's go builds (GOTOOLCHAIN=local). GOTRACE_BENCH_MODES replaces the
# list of modes (space-separated, untraced among them), e.g.
# GOTRACE_BENCH_MODES='untraced heap'. GOTRACE_BENCH_KEEP=DIR keeps the last
# round's profiles in DIR (heap.pb.gz, exact.pb.gz).
#
# Builds gotrace in build/ (GOTRACE_BUILD_DIR). Needs root.
set -euo pipefail

prog=bench-build
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/bench.sh"

build=${GOTRACE_BUILD_DIR:-$root/build}
rounds=${GOTRACE_BENCH_ROUNDS:-3}
require_positive GOTRACE_BENCH_ROUNDS "$rounds"
keep=${GOTRACE_BENCH_KEEP:-}
module=$root/tests/bench/buildmodule

[[ $(id -u) -eq 0 ]] || die "needs root (BPF uprobes)"
find_go
build_targets "$build" gotrace
gotrace=$build/gotrace
go=$(command -v go)

work=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-bench-build.XXXXXX")
tracer=
trap '[[ -z $tracer ]] || kill -KILL "$tracer" 2>/dev/null; rm -rf -- "$work"' EXIT
export GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOTOOLCHAIN=local

read -r -a modes <<<"${GOTRACE_BENCH_MODES:-untraced heap exact}"
traced=0
for mode in "${modes[@]}"; do
  case $mode in
    untraced) ;;
    heap | exact | all) traced=1 ;;
    *) die "GOTRACE_BENCH_MODES: unknown mode '$mode' (untraced, heap, exact, all)" ;;
  esac
done
[[ " ${modes[*]} " == *" untraced "* ]] || die "GOTRACE_BENCH_MODES must include untraced, the ratios' base"

# `run --follow` is what this measures: say so at once when this gotrace
# refuses it, rather than after a warm-up build.
if ((traced)); then
  "$gotrace" run --follow -- "$go" version >"$work/out" 2>"$work/err" || {
    status=$?
    ((status != 2)) || die "this gotrace ($gotrace) refuses run --follow: $(head -n 1 "$work/err")"
    die "gotrace run --follow -- go version failed (status $status): $(tail -n 1 "$work/err")"
  }
fi
declare -A results  # mode → space-separated seconds, by round
declare -A ratios   # mode → space-separated ratios to the round's untraced build

# run MODE: builds the module once in MODE with an empty build cache;
# prints the wall time in seconds.
run() {
  local mode=$1 cache start end
  cache=$(mktemp -d "$work/gocache.XXXXXX")
  local go_build=("$go" build -a -gcflags=all=-memprofile=/dev/null -o "$work/buildmodule" .)
  start=$(date +%s%N)
  # GOCACHE goes in the environment gotrace hands on: under `env`, the
  # traced command would be a program that execs go, not go itself.
  case $mode in
    untraced) (cd "$module" && GOCACHE=$cache "${go_build[@]}") >"$work/out" 2>"$work/err" ;;
    all)
      start_attach "$work" --all --heap
      start=$(date +%s%N)
      (cd "$module" && GOCACHE=$cache "${go_build[@]}") >"$work/out" 2>"$work/err"
      ;;
    heap | exact)
      (cd "$module" && GOCACHE=$cache "$gotrace" run --follow "--$mode" -o "$work/$mode.pb.gz" -- "${go_build[@]}") \
        >"$work/out" 2>"$work/err"
      ;;
  esac || die "$mode: the build exited with status $?: $(tail -n 5 "$work/err")"
  end=$(date +%s%N)
  if [[ $mode == all ]]; then
    stop_attach
    mv -- "$work/attach.pb.gz" "$work/all.pb.gz"
  fi
  rm -rf -- "$cache"
  [[ -x $work/buildmodule ]] || die "$mode: the build wrote no binary"
  rm -f -- "$work/buildmodule"
  awk -v ns=$((end - start)) 'BEGIN {printf "%.2f", ns / 1e9}'
}

# compile_processes PROFILE: how many distinct pids are labelled
# process=compile, and how many processes in all, from `go tool pprof -raw`
# (a sample's string labels on one line, its numeric ones on the next).
compile_processes() {
  go tool pprof -raw "$1" 2>/dev/null | awk '
    /^ *[a-z_]+:\[/ && /process:\[/ { match($0, /process:\[[^]]*\]/); name = substr($0, RSTART + 9, RLENGTH - 10); next }
    /^ *[a-z_]+:\[/ && /pid:\[/ { match($0, /pid:\[[0-9]+/); pid = substr($0, RSTART + 5, RLENGTH - 5)
                                  all[pid] = 1; if (name == "compile") compile[pid] = 1; name = ""; next }
    END { n = 0; for (p in compile) n++; m = 0; for (p in all) m++; print n, m }'
}

# top_sites PROFILE SAMPLE_INDEX: the compiler's top 15 functions by flat SAMPLE_INDEX.
top_sites() {
  go tool pprof -top -nodecount=15 -tagfocus=process=compile -sample_index="$2" "$1" 2>/dev/null |
    sed -n '/ flat /,$p'
}

packages=$(cd "$module" && "$go" list -deps . | wc -l)
note "$rounds rounds of go build -a of tests/bench/buildmodule ($packages packages), $(nproc) CPUs, $("$go" version | awk '{print $3}')"
note "warm-up: untraced $(run untraced) s"
alternate_rounds s

range() { echo "$(minimum "$@")–$(maximum "$@")"; }

printf '\n| mode | seconds (median) | range | × untraced (median of rounds) |\n| --- | ---: | ---: | ---: |\n'
for mode in "${modes[@]}"; do
  # Unquoted: a mode's figures are space-separated, one argument each.
  printf '| %s | %s | %s | %s |\n' "$mode" "$(median ${results[$mode]})" "$(range ${results[$mode]})" \
    "$(median ${ratios[$mode]})"
done

for mode in heap exact all; do
  [[ " ${modes[*]} " == *" $mode "* ]] || continue
  read -r compiles processes < <(compile_processes "$work/$mode.pb.gz")
  ((compiles > 0)) || die "$mode: the profile holds no compile process"
  printf '\n%s: %d compile processes among %d processes traced (last round)\n' "$mode" "$compiles" "$processes"
  if [[ $mode == exact ]]; then
    printf '\nTop compile sites by alloc_space (exact, last round):\n'
    top_sites "$work/exact.pb.gz" alloc_space
    grep -q 'cmd/compile/internal' <(top_sites "$work/exact.pb.gz" alloc_space) ||
      die "exact: no cmd/compile/internal site among the compiler's top sites"
  else
    printf '\nTop compile sites by alloc_space (%s, last round):\n' "$mode"
    top_sites "$work/$mode.pb.gz" alloc_space
    printf '\nTop compile sites by inuse_space at each compile'"'"'s exit (%s, last round):\n' "$mode"
    top_sites "$work/$mode.pb.gz" inuse_space
    printf '\nTop compile sites by peak_inuse_space, each compile'"'"'s heap at its peak (%s, last round):\n' "$mode"
    top_sites "$work/$mode.pb.gz" peak_inuse_space
  fi
done

if [[ -n $keep ]] && ((traced)); then
  mkdir -p -- "$keep"
  cp -- "$work/"*.pb.gz "$keep/"
  note "profiles kept in $keep"
fi
