#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input (the executable of a traced process,
# /proc/<pid>/maps, and what gotrace explain reads: profiles, and the Go
# compiler's optimization log of escape analysis) with libFuzzer, ASan and
# UBSan.
#
#   scripts/fuzz.sh [SECONDS]     (default 60 seconds per target)
#
# Builds the fuzz targets in build-fuzz/ with clang-16 (GOTRACE_FUZZ=ON),
# assembles seed inputs in a temporary directory (a handful of diverse Go
# fixture binaries from the manifest, small files derived from them, and small
# synthetic Go executables and a profile from make_fuzz_seeds, the compiler's
# logs of the allocs fixture), then runs every target for
# SECONDS, as many at a time as there are CPUs. The executable parser is
# fuzzed twice: fuzz_go_binary on inputs of at most 64 KiB (the synthetic
# executables, thousands of runs per second), and fuzz_go_binary_full on the
# real fixture binaries (megabytes, about a hundred runs per second).
#
# The corpus each small-input run grows is kept in build-fuzz/fuzz/corpus/<run>/
# and reused by the next run; the full-size run's corpus (mutated copies of
# multi-megabyte binaries, hundreds of MB a minute) is scratch, deleted at the
# end. Reproducers go to build-fuzz/fuzz/artifacts/<run>/ and logs to
# build-fuzz/fuzz/logs/. Exits non-zero when any run finds a crash, leak,
# timeout, out-of-memory or sanitizer report, after printing the reproducer.
#
# Environment:
#   GOTRACE_FIXTURE_MANIFEST  TSV of fixture builds: fixture, go version,
#                             variant, absolute binary path
#                             (default: build/fixtures/manifest.tsv in the repository)
#   GOTRACE_FUZZ_CC / GOTRACE_FUZZ_CXX   compilers (default clang-16 / clang++-16)
#   GOTRACE_FUZZ_JOBS         targets run at the same time (default: CPU count)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS]   (a positive number of seconds per target)" >&2
  exit 2
fi
build=$root/build-fuzz
manifest=${GOTRACE_FIXTURE_MANIFEST:-$root/build/fixtures/manifest.tsv}
jobs=${GOTRACE_FUZZ_JOBS:-$(nproc)}
if ! [[ $jobs =~ ^[1-9][0-9]*$ ]]; then
  echo "GOTRACE_FUZZ_JOBS must be a positive number, not '$jobs'" >&2
  exit 2
fi
# Fuzz runs; a run's target is its name without "_full".
runs=(fuzz_go_binary fuzz_go_binary_full fuzz_build_info fuzz_proc_maps fuzz_compiler_log fuzz_pprof_profile)

echo "== building the fuzz targets in $build"
CC=${GOTRACE_FUZZ_CC:-clang-16} CXX=${GOTRACE_FUZZ_CXX:-clang++-16} \
  cmake -S "$root" -B "$build" -G Ninja -DGOTRACE_FUZZ=ON >/dev/null
cmake --build "$build"
bin=$build/tests/fuzz

seeds=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-fuzz-seeds.XXXXXX")
mkdir -p "$build/fuzz/logs"
scratch=$(mktemp -d "$build/fuzz/scratch.XXXXXX")
declare -A running=()  # pid -> run, for the fuzzers in flight
cleanup() {
  for pid in "${!running[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$seeds" "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for run in "${runs[@]}"; do mkdir -p "$seeds/$run"; done

# ---- seeds -----------------------------------------------------------------

# Small synthetic Go executables (every pclntab format, with and without
# section headers), two hostile layouts that used to hang the loader (for the
# full-size run: they are slow), build info blobs, a maps file and a profile.
"$bin/make_fuzz_seeds" "$seeds/fuzz_go_binary" "$seeds/fuzz_go_binary_full" "$seeds/fuzz_build_info" \
  "$seeds/fuzz_proc_maps" "$seeds/fuzz_pprof_profile"
cat /proc/self/maps >"$seeds/fuzz_proc_maps/self"

# A handful of fixture builds, as diverse as possible: first those that bring
# both a new Go version and a new variant (oldest toolchains first), then a
# new variant, then a new version (newest first), at most 6.
picked=()
if [[ -r $manifest ]]; then
  labels=()
  while IFS=$'\t' read -r version variant path; do
    picked+=("$path")
    labels+=("$version/$variant")
  done < <(
    awk -F'\t' 'NF >= 4 && $1 !~ /^#/ && $4 ~ /^\// { print }' "$manifest" | sort -s -t$'\t' -k2,2V |
      awk -F'\t' -v max=6 '
        { version[NR] = $2; variant[NR] = $3; path[NR] = $4 }
        END {
          for (pass = 1; pass <= 3; ++pass)
            for (j = 1; j <= NR && n < max; ++j) {
              i = pass == 3 ? NR + 1 - j : j  # new versions: the newest first
              if (path[i] in taken) continue
              new_version = !(version[i] in versions); new_variant = !(variant[i] in variants)
              if ((pass == 1 && new_version && new_variant) || (pass == 2 && new_variant) ||
                  (pass == 3 && new_version)) {
                taken[path[i]] = 1; versions[version[i]] = 1; variants[variant[i]] = 1; ++n
                print version[i] "\t" variant[i] "\t" path[i]
              }
            }
        }')
  echo "== seeds: ${#picked[@]} fixture builds from $manifest: ${labels[*]}"
else
  echo "warning: no fixture manifest at $manifest (run scripts/build-fixtures.sh, or set" \
    "GOTRACE_FIXTURE_MANIFEST); fuzzing from synthetic seeds only" >&2
fi

# The section's bytes, by name, via readelf; nothing when it has none.
extract_section() {  # file section output
  local line
  line=$(readelf -SW "$1" 2>/dev/null | awk -v name="$2" '$0 ~ "] " name " " {
    sub(/^.*\] */, ""); print $4, $5; exit }') || return 0
  [[ -n $line ]] || return 0
  local offset=$((16#${line% *})) size=$((16#${line#* }))
  dd if="$1" of="$3" bs=64K iflag=skip_bytes,count_bytes skip="$offset" count="$size" status=none
}

max_binary=65536
n=0
for path in "${picked[@]}"; do
  if [[ ! -r $path ]]; then
    echo "warning: fixture binary $path is not readable; skipped" >&2
    continue
  fi
  n=$((n + 1))
  name=$n-$(basename "$path")
  full=$seeds/fuzz_go_binary_full
  cp "$path" "$full/$name"
  size=$(stat -c %s "$path")
  if ((size > max_binary)); then max_binary=$size; fi
  # Derived inputs: the headers and the start of the text (for the small
  # run), and a copy without section headers (e_shoff, e_shnum, e_shstrndx
  # zeroed), which sends the symbolizer down its signature scans.
  head -c 65536 "$path" >"$seeds/fuzz_go_binary/$name.head64k"
  cp "$path" "$full/$name.noshdr"
  printf '\0\0\0\0\0\0\0\0' | dd of="$full/$name.noshdr" bs=1 seek=40 conv=notrunc status=none
  printf '\0\0\0\0' | dd of="$full/$name.noshdr" bs=1 seek=60 conv=notrunc status=none
  if command -v readelf >/dev/null; then
    extract_section "$path" .go.buildinfo "$seeds/fuzz_build_info/$name.buildinfo"
  fi
done

# The Go compiler's optimization logs of the allocs fixture, by the go on PATH.
logs=$scratch/compiler-logs
if command -v go >/dev/null &&
  (cd "$root/tests/fixtures/allocs" && GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
    go build -o "$scratch/allocs" -gcflags="gotrace.test/allocs=-json=0,file://$logs" .) >/dev/null 2>&1; then
  cp "$logs"/*/*.json "$seeds/fuzz_compiler_log/"
else
  echo "warning: no Go compiler logs for seeds (no go on PATH, or the build failed)" >&2
fi

# ---- fuzzing ---------------------------------------------------------------

run_fuzzer() {  # run; in the background, writes its log
  local run=$1 target=${1%_full} max_len=65536 corpus=$build/fuzz/corpus/$1
  local artifacts=$build/fuzz/artifacts/$run/
  if [[ $run == *_full ]]; then
    max_len=$max_binary
    corpus=$scratch/$run
  fi
  mkdir -p "$corpus" "$artifacts"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    exec "$bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -max_len="$max_len" -artifact_prefix="$artifacts" "$corpus" "$seeds/$run" \
    >"$build/fuzz/logs/$run.log" 2>&1
}

failed=()
report() {  # run exit-code
  local run=$1 target=${1%_full} rc=$2 log=$build/fuzz/logs/$1.log
  local executions rate cov
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  # Without final stats (a crash): the last status line's count.
  [[ -n $executions ]] || executions=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | sed 's/:/ /g; s/  */ /g')
  printf '%-20s %10s executions  %6s exec/s  %s\n' "$run" "${executions:-?}" "${rate:-?}" "${cov:-coverage ?}"
  if ((rc != 0)) || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|==[0-9]+== ?ERROR' "$log"; then
    failed+=("$run")
    echo "FAILED: $run (exit code $rc); from $log:" >&2
    grep -E 'ERROR|runtime error:|SUMMARY|invariant violated|deadly signal|timeout|out-of-memory' "$log" | head -20 >&2 || true
    local unit
    unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    if [[ -n $unit ]]; then
      echo "reproducer: $unit" >&2
      echo "  reproduce with: $bin/$target $unit" >&2
    else
      echo "no reproducer written; see $log" >&2
    fi
  fi
}

echo "== fuzzing: ${runs[*]}; ${seconds}s each, $jobs at a time (logs in $build/fuzz/logs)"
wait_for_one() {
  local rc=0 done_pid
  wait -n -p done_pid "${!running[@]}" || rc=$?
  report "${running[$done_pid]}" "$rc"
  unset "running[$done_pid]"
}
for run in "${runs[@]}"; do
  while ((${#running[@]} >= jobs)); do wait_for_one; done
  run_fuzzer "$run" &
  running[$!]=$run
done
while ((${#running[@]} > 0)); do wait_for_one; done

if ((${#failed[@]} > 0)); then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
echo "== fuzzing found nothing"
