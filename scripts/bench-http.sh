#!/usr/bin/env bash
# What tracing costs a Go HTTP service under load, in requests/s and p99
# latency, the figures an SRE watches:
#
#   scripts/bench-http.sh
#
# The service is tests/bench/httpservice: net/http, JSON requests decoded
# and answered (orders created in a bounded in-memory store, read back
# through a cache of rendered answers, a catalog searched and sorted, per
# customer totals), net/http/pprof imported so that the runtime's heap
# profiler samples at its default rate, as in real services. Its load is the
# same binary's closed loop: GOTRACE_BENCH_CONNECTIONS keep-alive connections
# (default 32), each sending its next request when the previous answer has
# arrived, for GOTRACE_BENCH_WARMUP seconds (default 3) and then a measured
# window of GOTRACE_BENCH_SECONDS (default 10); it reports requests/s and the
# latency percentiles of every request completed in the window.
#
# Pinning, on a machine of two or more CPUs: the service on CPU 0 (so Go
# gives it GOMAXPROCS 1), the load on CPU 1, and the tracer (gotrace or
# bpftrace) on CPU 1 beside the load: the BPF program runs on the service's
# core, in the service's threads, and that is the cost measured; the tracer's
# own process drains the ring buffer on the other core, where it competes
# with the load, not with the service. The table's last columns show that
# neither the load nor the tracer starved: the service's core should be
# busy (near 1.00) in every mode.
#
# Each run of a mode is a fresh service process: start it; attach the tracer
# and wait until its probes are live (gotrace's "attached to pid" line on
# stderr, bpftrace's "Attaching" line); run the load; stop the tracer with
# SIGINT and check it: exit status 0, and at least one allocation counted
# per request served (gotrace with "0 events lost"; bpftrace's map summed);
# stop the service. A fresh process per run keeps the runs independent (a
# tracer's state, or a heap grown under it, cannot carry into the next mode)
# and costs only its start-up, which the warm-up covers. GOTRACE_BENCH_ROUNDS
# rounds (default 5) run every mode once, the order rotating by one each
# round. The table gives per mode the medians of requests/s, p50 and p99, and
# the medians over rounds of the ratios to the same round's untraced run.
# Checks no threshold; fails only when something does not run or does not
# agree.
#
# The modes are the MODES list below; GOTRACE_BENCH_MODES replaces it
# (entries separated by ';', untraced among them), e.g.
#   GOTRACE_BENCH_MODES='untraced;gotrace --heap' scripts/bench-http.sh
# GOTRACE_BENCH_BASELINE=PATH adds `PATH attach PID`, another gotrace build.
#
# Builds gotrace in build/ (GOTRACE_BUILD_DIR) and the service with the
# machine's go. Needs root, taskset, and bpftrace for the bpftrace mode.
set -euo pipefail

prog=bench-http
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/bench.sh"

# The modes, each `untraced`, `bpftrace` (the one-liner of
# scripts/bench-overhead.sh: uprobe on runtime.mallocgc, a count per user
# stack), `gotrace ARGS`: `gotrace attach PID ARGS` ("gotrace" alone is
# attach's default, exact under the overhead guard), or `agent ARGS`:
# `gotrace agent --dir DIR ARGS`, which traces every Go process of the
# machine, the load's included, as it would on a host, and writes a profile
# of each every interval (e.g. 'agent --interval 2s'; add --push URL to
# push them to a Pyroscope server as well).
MODES=(
  "untraced"
  "gotrace --heap"
  "gotrace"
  "gotrace --exact"
  "gotrace --sample"
  "bpftrace"
)

build=${GOTRACE_BUILD_DIR:-$root/build}
rounds=${GOTRACE_BENCH_ROUNDS:-5}
seconds=${GOTRACE_BENCH_SECONDS:-10}
warmup=${GOTRACE_BENCH_WARMUP:-3}
connections=${GOTRACE_BENCH_CONNECTIONS:-32}
[[ $# -eq 0 ]] || die "usage: $0 (no arguments; see the environment variables at the top of the script)"
require_positive GOTRACE_BENCH_ROUNDS "$rounds"
require_positive GOTRACE_BENCH_SECONDS "$seconds" "number of seconds"
require_positive GOTRACE_BENCH_WARMUP "$warmup" "number of seconds"
require_positive GOTRACE_BENCH_CONNECTIONS "$connections"
if [[ -n ${GOTRACE_BENCH_MODES:-} ]]; then
  IFS=';' read -r -a MODES <<<"$GOTRACE_BENCH_MODES"
fi
modes=()
for mode in "${MODES[@]}"; do
  read -r -a words <<<"$mode"  # trims and normalizes the spaces
  [[ ${words[0]:-} =~ ^(untraced|gotrace|agent|bpftrace)$ ]] ||
    die "mode '$mode': not untraced, bpftrace, gotrace ARGS or agent ARGS"
  [[ ${words[0]} =~ ^(gotrace|agent)$ || ${#words[@]} -eq 1 ]] || die "mode '$mode': only gotrace and agent take arguments"
  modes+=("${words[*]}")
done
[[ " ${modes[*]} " == *" untraced "* ]] || die "the modes must include untraced (the ratios are to it): ${modes[*]}"
(( $(nproc) >= 2 )) || die "needs two CPUs (the service on one, the load on the other); this machine has $(nproc)"
command -v taskset >/dev/null || die "taskset is missing (util-linux)"
if [[ " ${modes[*]} " == *" bpftrace "* ]]; then
  command -v bpftrace >/dev/null || die "bpftrace is not installed (apt-get install bpftrace), and the modes include it"
fi

build_gotrace_and_fixture httpservice tests/bench/httpservice
service_bin=$fixture
add_baseline_mode

work=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-bench-http.XXXXXX")
service_pid="" tracer_pid=""
cleanup() {
  set +e
  [[ -n $tracer_pid ]] && { kill -INT "$tracer_pid"; sleep 1; kill -KILL "$tracer_pid"; } 2>/dev/null
  [[ -n $service_pid ]] && kill -KILL "$service_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits up to $1 seconds for the command that follows to succeed.
wait_for() { local limit=$1; shift; local t0=$SECONDS; until "$@"; do (( SECONDS - t0 < limit )) || return 1; sleep 0.05; done; }
# The CPU time of a process, all its threads, in seconds.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$1/stat"; }
# The value of key $2 in the key=value line of file $1.
field() { tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k {print $2; exit}'; }

# Starts a fresh service on CPU 0; sets service_pid and service_addr.
start_service() {
  # Emptied here: the redirections below happen in the child, maybe after the wait begins.
  : >"$work/service.out"
  taskset -c 0 "$service_bin" serve >"$work/service.out" 2>"$work/service.err" &
  service_pid=$!
  wait_for 10 grep -q '^listening ' "$work/service.out" ||
    die "the service did not start listening: $(cat "$work/service.err")"
  service_addr=$(awk '$1 == "listening" {print $2}' "$work/service.out")
}

stop_service() {
  kill -KILL "$service_pid" 2>/dev/null || true
  wait "$service_pid" 2>/dev/null || true
  service_pid=""
}

# Starts the tracer of mode $1 on CPU 1 and waits until its probes are live.
start_tracer() {
  local mode=$1 args=() trace_limit=$((warmup + seconds + 300))s  # a bound in case this script dies
  : >"$work/tracer.out"  # emptied before the tracer starts: see start_service
  : >"$work/tracer.err"
  case $mode in
    bpftrace)
      taskset -c 1 bpftrace -e "uprobe:$service_bin:runtime.mallocgc /pid == $service_pid/ { @[ustack(perf)] = count(); }" \
        >"$work/tracer.out" 2>"$work/tracer.err" &
      tracer_pid=$!
      wait_for 60 grep -q '^Attaching' "$work/tracer.out" ||
        die "bpftrace did not attach: $(cat "$work/tracer.err" "$work/tracer.out")"
      return ;;
    baseline) taskset -c 1 "$baseline" attach "$service_pid" -d "$trace_limit" >"$work/tracer.out" 2>"$work/tracer.err" & ;;
    gotrace*)
      read -r -a args <<<"${mode#gotrace}"
      taskset -c 1 "$gotrace" attach "$service_pid" -d "$trace_limit" "${args[@]}" >"$work/tracer.out" 2>"$work/tracer.err" & ;;
    agent*)
      read -r -a args <<<"${mode#agent}"
      taskset -c 1 "$gotrace" agent --dir "$work/agent" -d "$trace_limit" "${args[@]}" >"$work/tracer.out" \
        2>"$work/tracer.err" &
      tracer_pid=$!
      # Said once every Go process running is attached.
      wait_for 60 grep -q '^gotrace agent: tracing every Go process' "$work/tracer.err" ||
        die "$mode did not start: $(cat "$work/tracer.err")"
      return ;;
  esac
  tracer_pid=$!
  wait_for 60 grep -q '^gotrace: attached to pid' "$work/tracer.err" ||
    die "$mode did not attach: $(cat "$work/tracer.err")"
}

# Stops the agent (SIGINT) and checks it: exit status 0, its summary, and
# the service's profiles; notes its peak resident memory.
stop_and_check_agent() {
  local mode=$1 status=0 peak anon
  peak=$(awk '$1 == "VmHWM:" {printf "%.1f", $2 / 1024}' "/proc/$tracer_pid/status")
  # What the agent holds of its own, beside the traced binaries' pages it
  # mapped and read (file-backed and clean: the kernel's to reclaim).
  anon=$(awk '$1 == "RssAnon:" {printf "%.1f", $2 / 1024}' "/proc/$tracer_pid/status")
  kill -INT "$tracer_pid"
  wait_for 120 eval '! kill -0 "$tracer_pid" 2>/dev/null' || die "$mode did not exit within 2 minutes of SIGINT"
  wait "$tracer_pid" || status=$?
  tracer_pid=""
  (( status == 0 )) || die "$mode exited with status $status: $(tail -n 5 "$work/tracer.err")"
  grep -q '^gotrace agent: [0-9]* process' "$work/tracer.err" || die "$mode printed no summary: $(tail -n 5 "$work/tracer.err")"
  local files=("$work/agent/$(basename "$service_bin")"/*.pb.gz)
  [[ -f ${files[0]} ]] || die "$mode wrote no profile of the service: $(tail -n 5 "$work/tracer.err")"
  note "$mode: ${#files[@]} profiles of the service, peak resident memory $peak MiB, $anon MiB of it its own" \
    "(the rest the traced binaries' pages); $(tail -n 1 "$work/tracer.err")"
  rm -rf -- "$work/agent"
}

# Stops the tracer of mode $1 (SIGINT) and checks what it says: exit status
# 0, and at least $2 allocations (one per request the load made).
stop_and_check_tracer() {
  local mode=$1 requests=$2 status=0 summary counted
  kill -INT "$tracer_pid"
  wait_for 120 eval '! kill -0 "$tracer_pid" 2>/dev/null' || die "$mode did not exit within 2 minutes of SIGINT"
  wait "$tracer_pid" || status=$?
  tracer_pid=""
  (( status == 0 )) || die "$mode exited with status $status: $(tail -n 5 "$work/tracer.err")"
  if [[ $mode == bpftrace ]]; then
    counted=$(awk '/^\]: [0-9]+$/ {s += $2} END {printf "%d", s}' "$work/tracer.out")
  else
    summary=$(grep '^gotrace: traced pid' "$work/tracer.err") || die "$mode printed no summary: $(tail -n 5 "$work/tracer.err")"
    [[ $summary == *"; 0 events lost" ]] || die "$mode lost events: $summary"
    [[ $summary =~ :\ ([0-9]+)\ allocations, ]] || die "cannot read the summary of $mode: $summary"
    counted=${BASH_REMATCH[1]}
  fi
  (( counted >= requests )) || die "$mode counted $counted allocations for $requests requests"
}

# One run of mode $1: a fresh service, the tracer, the load; sets `run` to
# "requests/s p50_µs p99_µs service_busy load_cpu tracer_cpu".
run_mode() {
  local mode=$1 busy tracer_cpu=0
  start_service
  [[ $mode == untraced ]] || start_tracer "$mode"
  local service_cpu=$(cpu_seconds "$service_pid") t0=$EPOCHREALTIME
  local tracer_cpu0=0
  [[ $mode == untraced ]] || tracer_cpu0=$(cpu_seconds "$tracer_pid")
  taskset -c 1 "$service_bin" load -addr "$service_addr" -c "$connections" -warmup "$warmup" -seconds "$seconds" \
    >"$work/load.out" 2>"$work/load.err" ||
    die "$mode: the load (-addr $service_addr) failed: $(cat "$work/load.err"); the service said: $(tail -n 3 "$work/service.err")"
  busy=$(awk -v a="$service_cpu" -v b="$(cpu_seconds "$service_pid")" -v t0="$t0" -v t1="$EPOCHREALTIME" \
    'BEGIN {printf "%.2f", (b - a) / (t1 - t0)}')
  if [[ $mode != untraced ]]; then
    tracer_cpu=$(awk -v a="$tracer_cpu0" -v b="$(cpu_seconds "$tracer_pid")" -v t0="$t0" -v t1="$EPOCHREALTIME" \
      'BEGIN {printf "%.2f", (b - a) / (t1 - t0)}')
    if [[ $mode == agent* ]]; then stop_and_check_agent "$mode"
    else stop_and_check_tracer "$mode" "$(field "$work/load.out" total_requests)"; fi
  fi
  [[ $(field "$work/load.out" errors) == 0 ]] || die "$mode: the load saw errors: $(cat "$work/load.out")"
  kill -0 "$service_pid" 2>/dev/null || die "$mode: the service died: $(tail -n 3 "$work/service.err")"
  stop_service
  run="$(field "$work/load.out" requests_per_second) $(field "$work/load.out" p50_us) $(field "$work/load.out" p99_us)"
  run+=" $busy $(field "$work/load.out" load_cpu) $tracer_cpu"
}

label() {
  case $1 in
    untraced) echo "untraced" ;;
    bpftrace) echo "bpftrace one-liner" ;;
    baseline) echo "baseline (\`$baseline attach\`)" ;;
    agent*) echo "\`gotrace agent${1#agent}\`" ;;
    *) echo "\`gotrace attach${1#gotrace}\`" ;;
  esac
}

start_service
note "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run; $(uname -r); $(go version)"
awk '{exit !($1 > 0.5)}' /proc/loadavg && note "warning: the machine is busy (load average over 0.5): the figures will be noisy"
note "service: $(tr '\n' ' ' <"$work/service.out")on CPU 0; load and tracer on CPU 1"
note "$rounds rounds of $warmup s warm-up + $seconds s measured, $connections connections; modes: ${modes[*]}"
stop_service

declare -A rps p50 p99 busy load_cpu tracer_cpu rps_ratio p99_ratio
for ((round = 0; round < rounds; round++)); do
  declare -A this=()
  line="round $((round + 1))/$rounds:"
  for ((i = 0; i < ${#modes[@]}; i++)); do
    mode=${modes[(i + round) % ${#modes[@]}]}
    run_mode "$mode"
    this[$mode]=$run
    read -r r a b c d e <<<"$run"
    rps[$mode]+="$r " p50[$mode]+="$a " p99[$mode]+="$b " busy[$mode]+="$c " load_cpu[$mode]+="$d " tracer_cpu[$mode]+="$e "
    line+=" [$mode] $r/s p99 $b µs;"
  done
  read -r base_rps _ base_p99 _ <<<"${this[untraced]}"
  for mode in "${modes[@]}"; do
    read -r r _ b _ <<<"${this[$mode]}"
    rps_ratio[$mode]+="$(awk -v a="$r" -v b="$base_rps" 'BEGIN {printf "%.4f", a / b}') "
    p99_ratio[$mode]+="$(awk -v a="$b" -v b="$base_p99" 'BEGIN {printf "%.4f", a / b}') "
  done
  note "$line"
done

note "load average $(cut -d' ' -f1-3 /proc/loadavg) after the run (the benchmark itself keeps CPU 0 and part of CPU 1 busy)"

# Unquoted expansions below: a mode's figures are space-separated, one argument each.
printf '\n| mode | requests/s | range | × untraced | p50 ms | p99 ms | p99 × untraced | service core busy | load, tracer CPU (cores) |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for mode in "${modes[@]}"; do
  printf '| %s | %.0f | %.0f–%.0f | %.3f | %.2f | %.2f | %.2f | %.2f | %.2f, %.2f |\n' "$(label "$mode")" \
    "$(median ${rps[$mode]})" "$(minimum ${rps[$mode]})" "$(maximum ${rps[$mode]})" "$(median ${rps_ratio[$mode]})" \
    "$(awk -v v="$(median ${p50[$mode]})" 'BEGIN {print v / 1000}')" \
    "$(awk -v v="$(median ${p99[$mode]})" 'BEGIN {print v / 1000}')" "$(median ${p99_ratio[$mode]})" \
    "$(median ${busy[$mode]})" "$(median ${load_cpu[$mode]})" "$(median ${tracer_cpu[$mode]})"
done
