# One attach of one mode of scripts/bench-overhead.sh to its target, and the
# proof of what the tracer saw. Sourced by it before it starts the target;
# the functions use its settings, its target (target_pid, batch) and the
# probe sites it finds (gotrace_sites, bpftrace_sites, bpftrace_prog), and
# leave their figures in the variables below.

tracer_pid=""   # the process to signal (gotrace or bpftrace)
wrapper_pid=""  # the process to reap (/usr/bin/time around gotrace, or the tracer itself)
declare -A original  # probe address -> its byte with no probe in place
declare -A pipeline  # "round" -> events/s, cpu ms per million, utilization (default mode)
hwm_max=0
hwm_rss_detail=""
hwm_sampled_max=0
maxrss_max=0
floor_allocs_note=""
bpftrace_stderr=""

# The byte at a runtime address of the target, in hex.
byte_at() { dd if="/proc/$target_pid/mem" bs=1 skip="$1" count=1 iflag=skip_bytes status=none | od -An -tx1 | tr -d ' \n'; }
remember_original_bytes() { local a; for a in "${gotrace_sites[@]}" "${bpftrace_sites[@]}"; do original[$a]=$(byte_at "$a"); done; }
# True when every address given holds something other than its original byte (a uprobe's int3).
probed() { local a; for a in "$@"; do [[ $(byte_at "$a") != "${original[$a]}" ]] || return 1; done; }
unprobed() { local a; for a in "${gotrace_sites[@]}" "${bpftrace_sites[@]}"; do [[ $(byte_at "$a") == "${original[$a]}" ]] || return 1; done; }
# Waits up to $1 seconds for the command that follows to succeed.
wait_for() { local limit=$1; shift; local t0=$SECONDS; until "$@"; do (( SECONDS - t0 < limit )) || return 1; sleep 0.02; done; }

# CPU time, in ns, of all the threads of a process.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
# Waits until a process has used less than 1 ms of CPU over 200 ms (its ring buffer drained).
settle() { local a b; for _ in $(seq 50); do a=$(cpu_ns "$1"); sleep 0.2; b=$(cpu_ns "$1"); (( b - a < 1000000 )) && return 0; done; return 1; }

# Stops the running tracer with SIGINT and reaps it; returns its exit status.
stop_tracer() {
  local status=0
  kill -INT "$tracer_pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$wrapper_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$wrapper_pid" 2>/dev/null && { kill -KILL "$tracer_pid" "$wrapper_pid" 2>/dev/null || true; }
  wait "$wrapper_pid" || status=$?
  tracer_pid=""
  wrapper_pid=""
  return "$status"
}

# Starts bpftrace and waits for its probes at the addresses given; returns 1,
# with bpftrace_error set, when it does not attach.
start_bpftrace() {
  bpftrace -e "$bpftrace_prog" >"$work/tracer.out" 2>"$work/tracer.err" &
  tracer_pid=$!
  wrapper_pid=$tracer_pid
  if ! wait_for 60 grep -q '^Attaching' "$work/tracer.out" || ! wait_for 10 probed "$@"; then
    bpftrace_error="bpftrace did not attach: $(grep -v '^$' "$work/tracer.err" "$work/tracer.out" | tr '\n' ' ')"
    stop_tracer || true
    return 1
  fi
}

# Starts `gotrace attach` with the flags given, under /usr/bin/time when it is
# installed (for its maximum RSS), and waits until it says it attached.
start_gotrace() {
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -f '%M' -o "$work/tracer.maxrss" "$tracer_bin" attach "$target_pid" -d 10m "$@" \
      >"$work/tracer.out" 2>"$work/tracer.err" &
    wrapper_pid=$!
    wait_for 10 pgrep -P "$wrapper_pid" >/dev/null || die "gotrace did not start"
    tracer_pid=$(pgrep -P "$wrapper_pid")
  else
    "$tracer_bin" attach "$target_pid" -d 10m "$@" >"$work/tracer.out" 2>"$work/tracer.err" &
    tracer_pid=$!
    wrapper_pid=$tracer_pid
  fi
  wait_for 60 grep -q '^gotrace: attached to pid' "$work/tracer.err" ||
    { stop_tracer || true; die "gotrace $* did not attach: $(cat "$work/tracer.err")"; }
}

# The peak resident memory of gotrace in mode $1, before it is stopped.
record_memory() {
  local mode=$1 hwm
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$tracer_pid/status")
  if [[ $mode == gotrace ]] && (( hwm > hwm_max )); then
    hwm_max=$hwm
    # Where it is: the process's own anonymous memory, files it maps, and
    # BPF maps mapped into it (the ring buffer), from smaps.
    hwm_rss_detail=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {bpf = ($0 ~ /anon_inode:bpf-map/)} /^Rss:/ {if (bpf) b += $2}
      /^Anonymous:/ {a += $2} END {printf "%d %d", a, b}' "/proc/$tracer_pid/smaps")
  fi
  if [[ $mode == gotrace-sampled ]] && (( hwm > hwm_sampled_max )); then hwm_sampled_max=$hwm; fi
}

# Proof that gotrace in mode $1 (round $2) saw the $3 allocations of the
# warm-up and the timed batch; it exited with status $4, started with flags $5.
check_gotrace_count() {
  local mode=$1 round=$2 expected=$3 status=$4 flags=$5 summary counted
  (( status == 0 )) || die "gotrace $flags exited with $status: $(cat "$work/tracer.err")"
  summary=$(grep '^gotrace: traced pid' "$work/tracer.err") || die "no summary from gotrace: $(cat "$work/tracer.err")"
  [[ $summary =~ :\ ([0-9]+)\ allocations, ]] || die "cannot read '$summary'"
  counted=${BASH_REMATCH[1]}
  [[ $summary == *"; 0 events lost" ]] || note "round $round, $mode: ${summary#*; }"
  if [[ -s $work/tracer.maxrss ]]; then
    local m
    m=$(tail -n 1 "$work/tracer.maxrss")
    [[ $m =~ ^[0-9]+$ ]] && [[ $mode == gotrace ]] && (( m > maxrss_max )) && maxrss_max=$m
  fi
  case $mode in
    gotrace | baseline)
      (( counted >= expected )) || die "gotrace counted $counted allocations, fewer than the $expected of the batches"
      [[ $summary == *"; 0 events lost" ]] || die "gotrace lost events: $summary" ;;
    gotrace-sampled)
      local kernel
      kernel=$(grep -o 'of [0-9]* allocations' "$work/tracer.err" | grep -o '[0-9]*') || die "no kernel count from gotrace --sample-rate"
      (( kernel >= expected )) || die "gotrace --sample-rate counted $kernel allocations in the kernel, fewer than the $expected of the batches" ;;
    floor)
      floor_allocs_note="--empty-probe records nothing (its summary says $counted allocations); its probes were verified in place before and after each batch" ;;
  esac
  return 0
}

# Proof that bpftrace (round $1) saw the $2 allocations of the warm-up and the
# timed batch: stacks whose caller of mallocgc (second frame) is
# main.allocate. It exited with status $3.
check_bpftrace_count() {
  local round=$1 expected=$2 status=$3 seen
  seen=$(awk '/^@\[/ {depth = 0; direct = 0; next}
              /^]: [0-9]+$/ {if (direct) s += $2; next}
              {depth++; if (depth == 2 && $0 ~ /main\.allocate\+/) direct = 1}
              END {printf "%d", s}' "$work/tracer.out")
  (( seen >= expected )) || die "bpftrace counted $seen allocations from main.allocate, fewer than the $expected of the batches (exit status $status; stderr: $(tr '\n' ' ' <"$work/tracer.err"))"
  [[ $round == 1 ]] && bpftrace_stderr=$(grep -v '^$' "$work/tracer.err" | tr '\n' '|' | sed 's/|$//; s/|/ | /g')
  return 0
}

# One attach of mode $1: probes live, warm-up, timed batch of $2 allocations
# (round $3; 0 for calibration), verified, detached. Sets batch_ns; returns 1
# when bpftrace does not attach.
run_mode() {
  local mode=$1 n=$2 round=$3
  local flags=() sites=("${gotrace_sites[@]}") status=0
  case $mode in
    untraced)
      unprobed || die "a probe is still in place before the untraced batch"
      batch "$warmup"
      batch "$n"
      return 0 ;;
    gotrace) flags=(--exact) ;;
    gotrace-sampled) flags=(--sample-rate "$sample_rate") ;;
    floor) flags=(--exact --empty-probe) ;;
    baseline) flags=(--exact) ;;
    baseline-floor) flags=(--exact --empty-probe) ;;
    bpftrace) sites=("${bpftrace_sites[@]}") ;;
  esac
  tracer_bin=$gotrace
  [[ $mode == baseline* ]] && tracer_bin=$baseline
  unprobed || die "a probe is still in place before $mode attaches"
  : >"$work/tracer.out"
  : >"$work/tracer.err"
  rm -f -- "$work/tracer.maxrss"
  if [[ $mode == bpftrace ]]; then
    start_bpftrace "${sites[@]}" || return 1
  else
    start_gotrace "${flags[@]}"
    wait_for 10 probed "${sites[@]}" || { stop_tracer || true; die "gotrace said it attached but no probe is in place"; }
  fi

  batch "$warmup"
  local cpu_a cpu_b
  [[ $mode == gotrace ]] && { settle "$tracer_pid" || true; cpu_a=$(cpu_ns "$tracer_pid"); }
  batch "$n"
  local ns=$batch_ns seconds=$batch_s
  probed "${sites[@]}" || die "$mode: a probe disappeared during the batch"
  if [[ $mode == gotrace ]]; then
    settle "$tracer_pid" || note "gotrace kept using CPU 10 s after the batch"
    cpu_b=$(cpu_ns "$tracer_pid")
    pipeline[$round]="$(awk -v n="$n" -v s="$seconds" -v a="$cpu_a" -v b="$cpu_b" 'BEGIN {
      printf "%.0f %.1f %.1f", n / s, (b - a) / 1e6 / ((n) / 1e6), 100 * (b - a) / 1e9 / s }')"
  fi
  [[ $mode == bpftrace ]] || record_memory "$mode"
  stop_tracer || status=$?
  wait_for 10 unprobed || die "$mode: probes still in place after the tracer exited"
  batch_ns=$ns

  if [[ $mode == bpftrace ]]; then
    check_bpftrace_count "$round" $(( warmup + n )) "$status"
  else
    check_gotrace_count "$mode" "$round" $(( warmup + n )) "$status" "${flags[*]}"
  fi
}
