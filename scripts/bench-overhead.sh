#!/usr/bin/env bash
# What tracing costs the traced program, per allocation, in one run:
#
#   scripts/bench-overhead.sh
#
# The target is tests/bench/overhead, a Go program that allocates escaping
# 32-byte pointer-free objects (struct of four int64 stored to a global) in
# a tight loop, in batches it is told to run on stdin, timing each batch
# itself (time.Now) and printing nanoseconds per allocation. One target
# process serves the whole run; tracers attach to it from outside between
# batches. The modes:
#
#   untraced       no probe;
#   gotrace        `gotrace attach PID --exact` (every allocation,
#                  with its stack, through the ring buffer);
#   gotrace-sampled `gotrace attach PID --sample-rate 524288`, included when
#                  `gotrace attach --help` lists --sample-rate;
#   bpftrace       bpftrace -e 'uprobe:BINARY:runtime.mallocgc /pid == PID/
#                  { @[ustack(perf)] = count(); }' (Debian's bpftrace,
#                  installed when missing);
#   floor          `gotrace attach PID --exact --empty-probe`: gotrace's probe sites
#                  with a BPF program that does nothing, the trap alone.
#
# A calibration round first runs every mode once (a warm-up, and the batch
# size of each mode: about GOTRACE_BENCH_BATCH_SECONDS per timed batch, since
# modes differ by orders of magnitude); then GOTRACE_BENCH_ROUNDS rounds each
# run every mode once, the order rotating by one each round. Per attach:
# start the tracer; wait until its probes are live (gotrace's "attached"
# line, bpftrace's "Attaching" line, and in both cases the int3 visible at
# every probe address in /proc/PID/mem); a warm-up batch; the timed batch;
# check the probes are still in place; stop the tracer (SIGINT) and wait for
# the probes to be gone. Afterwards the tracer's own count proves it saw the
# warm-up and the timed batch: gotrace's summary line counts at least
# warm-up + batch allocations with 0 events lost (in --sample-rate mode, the
# kernel's count of all allocations); bpftrace's map holds at least that many
# stacks whose caller of mallocgc is main.allocate. --empty-probe counts
# nothing; its evidence is the int3 before and after the batch.
#
# The table gives, per mode, the median ns/alloc over the rounds (and the
# range), the added ns/alloc over untraced (medians), and that added cost as a
# ratio to bpftrace's and to the floor's; below it, the same two ratios for
# gotrace computed round by round (each round against its own untraced
# batch), as a check on noise.
#
# The userspace side:
#   - consumer_bench (tests/bench/consumer_bench.cc): StackAggregator, the
#     consumer's per-event work, fed synthetic records on one pinned core
#     without the kernel: events/s, ns/event, CPU ms per million events, peak
#     RSS;
#   - the real pipeline, from the default-mode attaches: allocations/s of the
#     timed batch, every one delivered (0 events lost, count verified), the
#     gotrace process's CPU time per million events (sum of its threads'
#     /proc/PID/task/*/schedstat run time, from before the timed batch to
#     once it has gone idle after it) and the share of one core that was;
#   - the peak resident memory of gotrace: VmHWM from /proc/PID/status just
#     before it is stopped, and its maximum RSS over its whole life (including
#     symbolization after detaching) from /usr/bin/time when installed;
#   - the peak resident memory of gotrace tracing a large binary: the go
#     command building the standard library from scratch (`go build -a std`,
#     its own build cache in a temporary directory), attached until it exits.
#
# Goals, reported and never enforced: gotrace's default mode adds at most a
# quarter of what bpftrace adds; at most 1.5x the floor's added cost; the
# consumer sustains >= 2M events/s on one core; gotrace under 64 MiB resident.
#
# Builds gotrace and consumer_bench in build/ first (configuring it if
# needed) and the Go target into build/bench/overhead with the machine's go.
# Needs root. Exits non-zero when something fails to run or a verification
# fails; bpftrace that cannot be installed or cannot attach is reported with
# its error and the bpftrace column left empty.
#
# Environment:
#   GOTRACE_BENCH_ROUNDS          timed rounds (default 5)
#   GOTRACE_BENCH_BATCH_SECONDS   target length of a timed batch (default 1.5)
#   GOTRACE_BENCH_WARMUP          allocations in each warm-up batch (default 20000)
#   GOTRACE_BENCH_CONSUMER_EVENTS events per consumer_bench round (default 10000000)
#   GOTRACE_BUILD_DIR             build directory (default build/ in the repository)
#   GOTRACE_BENCH_BASELINE        another gotrace binary (a build of the commit before a
#                                 change): its --exact and its floor measured in the same rounds
set -euo pipefail

prog=bench-overhead
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/bench.sh"
source "$root/scripts/lib/overhead-attach.sh"

build=${GOTRACE_BUILD_DIR:-$root/build}
rounds=${GOTRACE_BENCH_ROUNDS:-5}
batch_seconds=${GOTRACE_BENCH_BATCH_SECONDS:-1.5}
warmup=${GOTRACE_BENCH_WARMUP:-20000}
consumer_events=${GOTRACE_BENCH_CONSUMER_EVENTS:-10000000}
sample_rate=524288
[[ $# -eq 0 ]] || die "usage: $0 (no arguments; see the environment variables at the top of the script)"
require_positive GOTRACE_BENCH_ROUNDS "$rounds"
[[ $batch_seconds =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "GOTRACE_BENCH_BATCH_SECONDS must be a number of seconds"
require_positive GOTRACE_BENCH_WARMUP "$warmup"
require_positive GOTRACE_BENCH_CONSUMER_EVENTS "$consumer_events"
(( EUID == 0 )) || die "tracing needs root"
[[ -r /proc/self/schedstat ]] || die "/proc/PID/schedstat is missing (kernel without CONFIG_SCHED_INFO): needed for CPU time"

# --- build ---
find_go
build_targets "$build" gotrace consumer_bench
gotrace=$build/gotrace
consumer_bench=$build/tests/bench/consumer_bench
target_bin=$build/bench/overhead
mkdir -p -- "$build/bench"
(cd -- "$root/tests/bench/overhead" && GOTOOLCHAIN=local GOFLAGS= go build -o "$target_bin" .) ||
  die "building tests/bench/overhead failed"
go_version=$(go version)

# --- bpftrace ---
bpftrace_error=""
if ! command -v bpftrace >/dev/null; then
  note "installing Debian's bpftrace"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q bpftrace >"$build/bench-overhead-apt.log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$build/bench-overhead-apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q bpftrace >>"$build/bench-overhead-apt.log" 2>&1 ||
      bpftrace_error="apt-get install bpftrace failed: $(tail -n 1 "$build/bench-overhead-apt.log")"
  fi
fi
bpftrace_version=$(bpftrace --version 2>/dev/null || echo "none")

sampled=0
"$gotrace" attach --help 2>/dev/null | grep -q -- '--sample-rate' && sampled=1

# --- the target, and cleanup ---
work=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-overhead.XXXXXX")
target_pid=""
cleanup() {
  set +e
  if [[ -n $tracer_pid ]] && kill -0 "$tracer_pid" 2>/dev/null; then kill -INT "$tracer_pid" 2>/dev/null; sleep 1; kill -KILL "$tracer_pid" 2>/dev/null; fi
  if [[ -n $wrapper_pid ]] && kill -0 "$wrapper_pid" 2>/dev/null; then kill -KILL "$wrapper_pid" 2>/dev/null; fi
  exec 3>&- 4<&-  # EOF on its stdin: the target exits
  if [[ -n $target_pid ]]; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$target_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$target_pid" 2>/dev/null
  fi
  wait 2>/dev/null
  rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkfifo "$work/in" "$work/out"
"$target_bin" <"$work/in" >"$work/out" 2>"$work/target.err" &
target_pid=$!
exec 3>"$work/in"
exec 4<"$work/out"
read -r -t 30 -u 4 line || die "the target printed nothing: $(cat "$work/target.err")"
[[ $line == "pid $target_pid" ]] || die "the target said '$line', expected 'pid $target_pid'"
read -r -t 30 -u 4 line && [[ $line == ready ]] || die "the target did not get ready"

# Runs a batch of $1 allocations; sets batch_ns (per allocation) and batch_s.
batch() {
  local line
  echo "go $1" >&3
  read -r -t 600 -u 4 line || die "no answer from the target for a batch of $1 (it said: $(cat "$work/target.err"))"
  [[ $line =~ ^ns_per_alloc\ ([0-9.]+)\ allocs\ ([0-9]+)\ seconds\ ([0-9.]+)$ ]] || die "the target said '$line'"
  batch_ns=${BASH_REMATCH[1]}
  batch_s=${BASH_REMATCH[3]}
}

# --- probe addresses, and their bytes with no probe in place ---
info=$("$gotrace" info --json "$target_pid") || die "gotrace info $target_pid failed"
load_bias=$(grep -o '"load_bias":"0x[0-9a-f]*"' <<<"$info" | grep -o '0x[0-9a-f]*') || die "no load_bias in gotrace info --json"
# One line per entry point; what gotrace says of how it found it is dropped.
entries=$(grep -o '{"function":"[^"]*","address":"0x[0-9a-f]*","file_offset":"0x[0-9a-f]*",[^{}]*"probe_offset":"0x[0-9a-f]*","probe_instruction":"[^"]*"' <<<"$info" |
  sed 's/,"call_sites":[0-9]*,"found":"[^"]*"//') ||
  die "no allocation entry points in gotrace info --json"
gotrace_sites=()
mallocgc_addr=""
entry_names=()
site_instructions=()
while read -r entry; do
  [[ $entry =~ \"function\":\"([^\"]*)\",\"address\":\"(0x[0-9a-f]*)\",\"file_offset\":\"(0x[0-9a-f]*)\",\"probe_offset\":\"(0x[0-9a-f]*)\",\"probe_instruction\":\"([^\"]*)\" ]] || die "cannot parse '$entry'"
  entry_names+=("${BASH_REMATCH[1]}")
  site_instructions+=("${BASH_REMATCH[5]}")
  gotrace_sites+=($(( BASH_REMATCH[2] + BASH_REMATCH[4] - BASH_REMATCH[3] + load_bias )))
  [[ ${BASH_REMATCH[1]} == runtime.mallocgc ]] && mallocgc_addr=$(( BASH_REMATCH[2] + load_bias ))
done <<<"$entries"
[[ -n $mallocgc_addr ]] || die "runtime.mallocgc is not among the entry points"
bpftrace_sites=("$mallocgc_addr")
# The instruction bpftrace's probe lands on (the function's first), for the record.
entry_instruction="unknown"
if command -v objdump >/dev/null && (( load_bias == 0 )); then
  entry_instruction=$(objdump -d --no-show-raw-insn --start-address="$mallocgc_addr" --stop-address=$(( mallocgc_addr + 16 )) "$target_bin" |
    awk -F'\t' '/^ *[0-9a-f]+:\t/ {gsub(/ +/, " ", $2); print $2; exit}')
  [[ -n $entry_instruction ]] || entry_instruction="unknown"
fi

remember_original_bytes

modes=(untraced gotrace)
(( sampled )) && modes+=(gotrace-sampled)
modes+=(bpftrace floor)
# GOTRACE_BENCH_BASELINE: another gotrace's exact mode and floor, side by side.
add_baseline_mode
[[ -n $baseline ]] && modes+=(baseline-floor)
bpftrace_prog="uprobe:$target_bin:runtime.mallocgc /pid == $target_pid/ { @[ustack(perf)] = count(); }"
drop_mode() { local kept=() m; for m in "${modes[@]}"; do [[ $m == "$1" ]] || kept+=("$m"); done; modes=("${kept[@]}"); }
[[ -z $bpftrace_error ]] || drop_mode bpftrace

declare -A n_of        # batch size per mode
declare -A results     # "mode round" -> ns/alloc

note "target: pid $target_pid, $target_bin ($go_version); probe sites: ${entry_names[*]}"
(( ${#entry_names[@]} == 1 )) || note "the target has ${#entry_names[@]} allocator entry points; the bpftrace one-liner probes runtime.mallocgc only"
note "modes: ${modes[*]}"

# --- calibration: a warm-up round that also sizes each mode's batch ---
for mode in "${modes[@]}"; do
  [[ $mode == bpftrace && -n $bpftrace_error ]] && continue
  # A first batch of the warm-up size gives the rate; the calibration batch lasts about a quarter second.
  probe_n=$(( warmup ))
  if ! run_mode "$mode" "$probe_n" 0; then
    note "bpftrace left out: $bpftrace_error"
    continue
  fi
  cal_n=$(awk -v ns="$batch_ns" -v w="$warmup" 'BEGIN {n = int(0.25e9 / ns); if (n < w) n = w; print n}')
  run_mode "$mode" "$cal_n" 0 || { note "bpftrace left out: $bpftrace_error"; continue; }
  n_of[$mode]=$(awk -v ns="$batch_ns" -v t="$batch_seconds" -v w="$warmup" 'BEGIN {
    n = int(t * 1e9 / ns); if (n < w) n = w; if (n > 300000000) n = 300000000; print n}')
  note "calibration: $mode $(printf '%.1f' "$batch_ns") ns/alloc; batches of ${n_of[$mode]}"
done
[[ -z $bpftrace_error ]] || drop_mode bpftrace

# --- the rounds ---
for (( r = 1; r <= rounds; r++ )); do
  order=()
  for (( i = 0; i < ${#modes[@]}; i++ )); do order+=("${modes[(i + r - 1) % ${#modes[@]}]}"); done
  line="round $r/$rounds:"
  for mode in "${order[@]}"; do
    run_mode "$mode" "${n_of[$mode]}" "$r" || die "$mode failed in round $r: $bpftrace_error"
    results["$mode $r"]=$batch_ns
    line+=" $mode $(printf '%.1f' "$batch_ns")"
  done
  note "$line"
done

# --- consumer_bench ---
note "consumer_bench: $consumer_events events per round"
"$consumer_bench" --events "$consumer_events" --rounds 5 >"$work/consumer.txt" || die "consumer_bench failed"
cget() { figure "$work/consumer.txt" "$1"; }

# --- a large binary ---
# The go command (about 15 MB, thousands of functions) building the standard
# library from scratch, traced by `gotrace attach` in its default mode until
# it exits: gotrace's peak resident memory on a real, large program, its
# symbolization at the end included.
large_bin=$(command -v go)
note "a large binary: gotrace attach to '$large_bin build -a std'"
GOCACHE=$work/gocache GOFLAGS= GOTOOLCHAIN=local go build -a -o /dev/null std >"$work/large.out" 2>&1 &
large_pid=$!
"$gotrace" attach "$large_pid" --exact -o "$work/large.pb.gz" >"$work/large-tracer.out" 2>"$work/large-tracer.err" &
large_tracer=$!
large_hwm=0
while kill -0 "$large_tracer" 2>/dev/null; do
  h=$(awk '/^VmHWM:/ {print $2}' "/proc/$large_tracer/status" 2>/dev/null || true)
  [[ $h =~ ^[0-9]+$ ]] && (( h > large_hwm )) && large_hwm=$h
  sleep 0.1
done
wait "$large_tracer" || die "gotrace attach to the go command failed: $(cat "$work/large-tracer.err")"
wait "$large_pid" || die "go build -a std failed: $(tail -n 5 "$work/large.out")"
large_summary=$(grep '^gotrace: traced pid' "$work/large-tracer.err") || die "no summary from gotrace: $(cat "$work/large-tracer.err")"
large_functions=$("$gotrace" info --json "$large_bin" | grep -o '"functions":[0-9]*' | grep -o '[0-9]*$' || echo "?")

# --- the table ---
calc() { awk "BEGIN {printf \"$1\", $2}"; }
declare -A med lo hi
for mode in "${modes[@]}"; do
  values=()
  for (( r = 1; r <= rounds; r++ )); do values+=("${results["$mode $r"]}"); done
  med[$mode]=$(median "${values[@]}")
  lo[$mode]=$(printf '%.1f' "$(minimum "${values[@]}")")
  hi[$mode]=$(printf '%.1f' "$(maximum "${values[@]}")")
done
added() { calc '%.1f' "${med[$1]} - ${med[untraced]}"; }
has() { local m; for m in "${modes[@]}"; do [[ $m == "$1" ]] && return 0; done; return 1; }
ratio() {  # added cost of $1 over that of $2
  has "$2" || { echo "n/a"; return; }
  awk -v a="${med[$1]}" -v b="${med[$2]}" -v u="${med[untraced]}" 'BEGIN {d = b - u; if (d <= 0) {print "n/a"; exit} printf "%.3f", (a - u) / d}'
}
# The ratio of $1's added cost to $2's, round by round: "median (min-max)".
paired() {
  has "$1" && has "$2" || { echo "n/a"; return; }
  local values=() r
  for (( r = 1; r <= rounds; r++ )); do
    values+=("$(awk -v a="${results["$1 $r"]}" -v b="${results["$2 $r"]}" -v u="${results["untraced $r"]}" 'BEGIN {printf "%.4f", (a - u) / (b - u)}')")
  done
  printf '%.3f (%.3f to %.3f)' "$(median "${values[@]}")" "$(minimum "${values[@]}")" "$(maximum "${values[@]}")"
}

echo
echo "Tracing overhead: $target_bin, escaping 32-byte pointer-free allocations (struct of 4 int64), one goroutine"
echo "  $(uname -r), $(nproc) CPUs; $go_version; bpftrace: $bpftrace_version"
echo "  $rounds rounds after a calibration round, order rotating; warm-up $warmup allocations before each timed batch"
echo "  probe sites: gotrace ${entry_names[*]} after the stack check ($(printf '0x%x ' "${gotrace_sites[@]}"| sed 's/ $//'): ${site_instructions[*]});" \
  "bpftrace runtime.mallocgc entry ($(printf '0x%x' "$mallocgc_addr"): $entry_instruction)"
echo "  (the tools probe different instructions: the floor is the trap at gotrace's site; a uprobe on an instruction the"
echo "  kernel cannot emulate is single-stepped out of line, which costs a second trap)"
echo
printf '  %-16s %12s %14s %20s %12s %14s %14s\n' "mode" "batch allocs" "ns/alloc (med)" "range (min-max)" "added ns" "/ bpftrace's" "/ floor's"
for mode in "${modes[@]}"; do
  if [[ $mode == untraced ]]; then
    printf '  %-16s %12s %14.1f %20s %12s %14s %14s\n' "$mode" "${n_of[$mode]}" "${med[$mode]}" "${lo[$mode]}-${hi[$mode]}" "-" "-" "-"
  else
    printf '  %-16s %12s %14.1f %20s %12s %14s %14s\n' "$mode" "${n_of[$mode]}" "${med[$mode]}" "${lo[$mode]}-${hi[$mode]}" \
      "$(added "$mode")" "$(ratio "$mode" bpftrace)" "$(ratio "$mode" floor)"
  fi
done
echo
echo "  round by round, gotrace's added cost / bpftrace's: $(paired gotrace bpftrace); / floor's: $(paired gotrace floor)"
has gotrace-sampled && echo "  round by round, gotrace-sampled's added cost / floor's: $(paired gotrace-sampled floor)"
has baseline && echo "  round by round, gotrace's added cost / the baseline's ($baseline): $(paired gotrace baseline); floor / the baseline's floor: $(paired floor baseline-floor)"
[[ -n $floor_allocs_note ]] && echo "  $floor_allocs_note"
[[ -n $bpftrace_error ]] && echo "  bpftrace: NOT MEASURED: $bpftrace_error"
[[ -n $bpftrace_stderr ]] && echo "  bpftrace's stderr (harmless, counts verified): $bpftrace_stderr"

echo
echo "Userspace"
echo "  consumer_bench (StackAggregator::add on synthetic records, one thread pinned to CPU $(cget cpu), no kernel):"
echo "    $(cget stacks) distinct stacks, depth $(cget depth_min)-$(cget depth_max) (mean $(cget depth_mean)), Zipf s=$(cget zipf); $(cget rounds) rounds of $(cget events_per_round) events"
printf '    events/s: %s (median; range %s-%s); %s ns/event; CPU %s ms per million events\n' \
  "$(cget events_per_sec)" "$(cget events_per_sec_min)" "$(cget events_per_sec_max)" "$(cget ns_per_event)" "$(cget cpu_ms_per_million)"
printf '    first pass, inserting the stacks: %s events/s; peak RSS %.1f MiB (%.1f MiB before aggregating)\n' \
  "$(cget cold_events_per_sec)" "$(calc '%.3f' "$(cget peak_rss_kib) / 1024")" "$(calc '%.3f' "$(cget rss_before_aggregation_kib) / 1024")"
if has gotrace; then
  rates=() cpus=() utils=()
  for (( r = 1; r <= rounds; r++ )); do
    read -r rate cpu util <<<"${pipeline[$r]}"
    rates+=("$rate"); cpus+=("$cpu"); utils+=("$util")
  done
  echo "  real pipeline, gotrace default mode, timed batches (every allocation delivered, 0 events lost, counts verified):"
  printf '    events/s handled: %.0f median, %.0f best (the target allocates no faster under the probe)\n' \
    "$(median "${rates[@]}")" "$(maximum "${rates[@]}")"
  printf '    gotrace CPU: %.1f ms per million events (median; %s to %s); %.1f%% of one core during the batch\n' \
    "$(median "${cpus[@]}")" "$(minimum "${cpus[@]}")" "$(maximum "${cpus[@]}")" "$(median "${utils[@]}")"
  printf '    gotrace peak memory: VmHWM %.1f MiB while attached (max over rounds)' "$(calc '%.3f' "$hwm_max / 1024")"
  (( maxrss_max > 0 )) && printf '; max RSS over its whole life %.1f MiB (/usr/bin/time)' "$(calc '%.3f' "$maxrss_max / 1024")"
  echo
  if [[ -n $hwm_rss_detail ]]; then
    read -r anon_kib bpf_kib <<<"$hwm_rss_detail"
    printf '      resident then: %.1f MiB of BPF maps mapped into gotrace (the ring buffer: data pages mapped twice), %.1f MiB anonymous, %.1f MiB the rest (mapped files: binary, libraries)\n' \
      "$(calc '%.3f' "$bpf_kib / 1024")" "$(calc '%.3f' "$anon_kib / 1024")" "$(calc '%.3f' "($hwm_max - $bpf_kib - $anon_kib) / 1024")"
  fi
  has gotrace-sampled && printf '    gotrace --sample-rate %s: VmHWM %.1f MiB\n' "$sample_rate" "$(calc '%.3f' "$hwm_sampled_max / 1024")"
fi

printf '  tracing a large binary, %s (%s MiB, %s functions) building std: VmHWM %.1f MiB (polled every 0.1 s)\n' \
  "$large_bin" "$(calc '%.1f' "$(stat -L -c %s "$large_bin") / 1048576")" "$large_functions" "$(calc '%.3f' "$large_hwm / 1024")"
echo "    ${large_summary#gotrace: }"

# --- goals ---
echo
echo "Goals (reported, not enforced):"
echo "  gotrace adds <= 1/4 of bpftrace's cost:      $(ratio gotrace bpftrace) -> $(goal "$(ratio gotrace bpftrace)" 0.25 "<=")"
echo "  gotrace adds <= 1.5x the floor's cost:       $(ratio gotrace floor) -> $(goal "$(ratio gotrace floor)" 1.5 "<=")"
echo "  consumer >= 2M events/s on one core:          $(cget events_per_sec) -> $(goal "$(cget events_per_sec)" 2000000 ">=")"
peak_kib=$(( maxrss_max > hwm_max ? maxrss_max : hwm_max ))
(( large_hwm > peak_kib )) && peak_kib=$large_hwm
peak_mib=$(calc '%.1f' "$peak_kib / 1024")
echo "  gotrace under 64 MiB resident:                ${peak_mib} MiB -> $(goal "$peak_mib" 64 "<")"
