# What the benchmark scripts (scripts/bench-*.sh) share. Sourced once they
# have set `prog` (their name in messages) and `root` (the repository).

die() { echo "$prog: error: $*" >&2; exit 1; }
note() { echo "$prog: $*" >&2; }

# Dies unless $2, the value of the environment variable $1, is a positive
# integer; $3 says what it counts when "number" alone would not.
require_positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive ${3:-number}"; }

# Puts the machine's go on PATH (scripts/setup.sh installs it in /usr/local/go).
find_go() {
  command -v go >/dev/null && return 0
  [[ -x /usr/local/go/bin/go ]] || die "go is not on PATH (scripts/setup.sh installs one)"
  PATH=$PATH:/usr/local/go/bin
}

# Builds the CMake targets $2... in the build directory $1, configuring it
# first when it never was; the output goes to a log there, shown on failure.
build_targets() {
  local build=$1 log=$1/$prog-build.log
  shift
  mkdir -p -- "$build"
  if [[ ! -f $build/CMakeCache.txt ]]; then
    note "configuring $build"
    local generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    cmake -S "$root" -B "$build" "${generator[@]}" >"$log" 2>&1 ||
      { tail -n 30 "$log" >&2; die "configuring $build failed"; }
  fi
  local targets=$*
  note "building ${targets// / and } in $build"
  cmake --build "$build" --target "$@" >"$log" 2>&1 ||
    { tail -n 30 "$log" >&2; die "building failed (cmake --build $build --target $*; log in $log)"; }
}

# What a benchmark of gotrace tracing a Go fixture needs: root, the
# machine's go, gotrace built in $build, and tests/fixtures/$1 (or the
# directory $2 of the repository) built as $build/bench/$1. Sets `gotrace`
# and `fixture` to the two binaries.
build_gotrace_and_fixture() {
  [[ $(id -u) -eq 0 ]] || die "needs root (BPF uprobes)"
  find_go
  build_targets "$build" gotrace
  gotrace=$build/gotrace
  fixture=$build/bench/$1
  mkdir -p "$build/bench"
  (cd "$root/${2:-tests/fixtures/$1}" && GOWORK=off GOFLAGS=-buildvcs=false go build -o "$fixture" .) ||
    die "building ${2:-tests/fixtures/$1} failed"
}

# Sets `baseline` to GOTRACE_BENCH_BASELINE, another gotrace binary (say,
# a build of the commit before a change), and when it is set adds the mode
# `baseline` to the array `modes`: measured in the same runs as the others.
add_baseline_mode() {
  baseline=${GOTRACE_BENCH_BASELINE:-}
  [[ -n $baseline ]] || return 0
  [[ -x $baseline ]] || die "GOTRACE_BENCH_BASELINE: '$baseline' is not an executable"
  modes+=(baseline)
}

# Runs `rounds` rounds of every mode in the array `modes`, each round in
# another order (rotated: on a shared machine no mode always runs first),
# with `run MODE` printing the mode's one figure; appends each figure to
# results[MODE] and its ratio to the untraced mode's of the same round to
# ratios[MODE], and notes each round's figures, in the unit $1.
alternate_rounds() {
  local unit=$1 round i mode
  for ((round = 0; round < rounds; round++)); do
    declare -A this=()
    for ((i = 0; i < ${#modes[@]}; i++)); do
      mode=${modes[(i + round) % ${#modes[@]}]}
      this[$mode]=$(run "$mode")
      results[$mode]+="${this[$mode]} "
    done
    for mode in "${modes[@]}"; do
      ratios[$mode]+="$(awk -v a="${this[$mode]}" -v b="${this[untraced]}" 'BEGIN {printf "%.2f", a / b}') "
    done
    note "round $((round + 1)): $(for m in "${modes[@]}"; do printf '%s %s %s  ' "$m" "${this[$m]}" "$unit"; done)"
  done
}

# The median, smallest and largest of the arguments (numbers).
median() {
  printf '%s\n' "$@" | sort -g |
    awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'
}
minimum() { printf '%s\n' "$@" | sort -g | head -n 1; }
maximum() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# The value of KEY ($2) in a file of key=value lines ($1), as the benchmark
# programs print their figures.
figure() { awk -F= -v k="$2" '$1 == k {sub(/^[^=]*=/, ""); print; exit}' "$1"; }

# "met" or "NOT met": whether the value $1 is $3 ("<", "<=" or ">=") the goal $2.
goal() {
  if awk -v v="$1" -v g="$2" -v op="$3" 'BEGIN {exit !(v != "n/a" && (op == "<=" ? v <= g : op == "<" ? v < g : v >= g))}'
  then
    echo met
  else
    echo "NOT met"
  fi
}

# start_attach DIR ARGS...: `$gotrace attach ARGS --no-tui` in the
# background, writing its profile, stdout and stderr into DIR; returns once
# it says it traces, with `tracer` set to its pid. stop_attach ends it as
# Ctrl-C would and dies unless it exits 0. A caller's EXIT trap should kill
# a `tracer` still set.
start_attach() {
  attach_dir=$1
  local dir=$1 i
  shift
  "$gotrace" attach "$@" --no-tui -o "$dir/attach.pb.gz" >"$dir/attach.out" 2>"$dir/attach.err" &
  tracer=$!
  for ((i = 0; i < 600; i++)); do
    grep -q 'Ctrl-C to stop' "$dir/attach.err" && return 0
    kill -0 "$tracer" 2>/dev/null || die "gotrace attach $* exited: $(tail -n 3 "$dir/attach.err")"
    sleep 0.1
  done
  die "gotrace attach $* did not start within 60 s"
}

stop_attach() {
  kill -INT "$tracer"
  wait "$tracer" || die "gotrace attach exited with status $?: $(tail -n 3 "$attach_dir/attach.err")"
  tracer=
}
