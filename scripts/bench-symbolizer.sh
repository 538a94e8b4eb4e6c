#!/usr/bin/env bash
# Benchmarks the symbolizer on a large real Go binary beside `go tool addr2line`,
# on the same PCs, in one run, and prints a small table:
#
#   scripts/bench-symbolizer.sh [BINARY]
#
# BINARY defaults to the toolchain's own compiler, $(go env GOTOOLDIR)/compile.
# The steps:
#   1. symbolizer_bench generates the PCs (seeded: uniform over the bytes of
#      text inside functions, plus a share of repeats from a small hot set;
#      see tests/bench/symbolizer_bench.cc);
#   2. go tool addr2line symbolizes them (stdin, two lines out per PC), timed;
#      its start-up and load time is measured apart on a single PC and taken
#      out of its PCs/s, as gotrace's load time is. When a probe says all the
#      PCs would take more than the budget (3 minutes), it gets the first N
#      instead and the output says so; PCs/s are per PC fed, so they compare;
#   3. symbolizer_bench measures gotrace's load time (median of fresh loads),
#      peak RSS and PCs/s (first pass on a fresh binary, "cold", then a second
#      pass, "warm"; median of 3 rounds), then checks that it agrees with
#      addr2line on every PC addr2line answered: addr2line prints the physical
#      (outermost) function and the innermost file:line, so that is compared.
#
# Builds the symbolizer_bench target in build/ first (configuring build/ if
# needed); a no-op when it is up to date. Prints figures; the goals (load under
# 100 ms, at least 10x addr2line's PCs/s) are reported, never enforced. Exits
# non-zero only when something fails to run or the two disagree on some PC.
#
# Environment:
#   GOTRACE_BENCH_PCS     number of PCs (default 1000000)
#   GOTRACE_BENCH_SEED    seed of the PCs (default 1)
#   GOTRACE_BENCH_BUDGET  seconds addr2line may take on its share (default 180)
#   GOTRACE_BENCH_KEEP    directory to keep the PCs and both outputs in
set -euo pipefail

prog=bench-symbolizer
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/bench.sh"

[[ $# -le 1 ]] || die "usage: $0 [BINARY]"
find_go
binary=${1:-$(go env GOTOOLDIR)/compile}
[[ -f $binary ]] || die "no such file: $binary"
binary=$(cd -- "$(dirname -- "$binary")" && pwd)/$(basename -- "$binary")
count=${GOTRACE_BENCH_PCS:-1000000}
seed=${GOTRACE_BENCH_SEED:-1}
budget=${GOTRACE_BENCH_BUDGET:-180}
min_sample=10000
require_positive GOTRACE_BENCH_PCS "$count"
[[ $seed =~ ^[0-9]+$ ]] || die "GOTRACE_BENCH_SEED must be a number"
require_positive GOTRACE_BENCH_BUDGET "$budget" "number of seconds"

# --- build ---
build=$root/build
bench=$build/tests/bench/symbolizer_bench
build_targets "$build" symbolizer_bench

work=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-bench.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
pcs=$work/pcs.txt

now_ns() { date +%s%N; }

# --- 1. the PCs ---
echo "$prog: generating $count PCs in $binary (seed $seed)" >&2
"$bench" "$binary" --count "$count" --seed "$seed" --generate-only --write-pcs "$pcs" >"$work/generate.txt"
pcs_count=$(wc -l <"$pcs")
(( pcs_count == count )) || die "expected $count PCs, got $pcs_count"

# --- 2. go tool addr2line ---
addr2line() { go tool addr2line "$binary"; }
# Start-up and load: the median of three runs on one PC.
head -n 1 "$pcs" >"$work/one.txt"
startup=()
for _ in 1 2 3; do
  t0=$(now_ns)
  addr2line <"$work/one.txt" >/dev/null || die "go tool addr2line failed on $binary"
  startup+=($(( $(now_ns) - t0 )))
done
startup_ns=$(median "${startup[@]}")

# A probe on the first PCs decides whether all of them fit in the budget.
probe=$(( count < 20000 ? count : 20000 ))
head -n "$probe" "$pcs" >"$work/probe.txt"
t0=$(now_ns)
addr2line <"$work/probe.txt" >/dev/null
probe_ns=$(( $(now_ns) - t0 - startup_ns ))
(( probe_ns > 0 )) || probe_ns=1
fed=$(awk -v n="$count" -v p="$probe" -v pns="$probe_ns" -v sns="$startup_ns" -v b="$budget" -v m="$min_sample" 'BEGIN {
  per = pns / p; full = sns + n * per
  if (full <= b * 1e9) { print n; exit }
  k = int((b * 1e9 * 0.9 - sns) / per); if (k < m) k = m; if (k > n) k = n; print k }')
subset_note=""
if (( fed < count )); then
  estimate=$(awk -v n="$count" -v p="$probe" -v pns="$probe_ns" -v sns="$startup_ns" 'BEGIN {printf "%.0f", (sns + n * pns / p) / 1e9}')
  subset_note="addr2line was fed the first $fed of the $count PCs: all of them would take about ${estimate}s, over the ${budget}s budget"
  echo "$prog: $subset_note" >&2
fi
echo "$prog: go tool addr2line on $fed PCs" >&2
head -n "$fed" "$pcs" >"$work/fed.txt"
t0=$(now_ns)
if [[ -x /usr/bin/time ]]; then
  /usr/bin/time -f '%M' -o "$work/addr2line.rss" go tool addr2line "$binary" <"$work/fed.txt" >"$work/addr2line.out" ||
    die "go tool addr2line failed"
else
  addr2line <"$work/fed.txt" >"$work/addr2line.out" || die "go tool addr2line failed"
fi
addr2line_ns=$(( $(now_ns) - t0 ))
lines=$(wc -l <"$work/addr2line.out")
(( lines == 2 * fed )) || die "go tool addr2line printed $lines lines for $fed PCs (expected two per PC)"
paste - - <"$work/addr2line.out" >"$work/expected.tsv"

# --- 3. gotrace ---
echo "$prog: symbolizer_bench on $count PCs" >&2
status=0
"$bench" "$binary" --pcs "$pcs" --expect "$work/expected.tsv" --max-mismatches 5 >"$work/bench.txt" || status=$?
(( status == 0 || status == 3 )) || { cat "$work/bench.txt" >&2; die "symbolizer_bench failed (exit $status)"; }

if [[ -n ${GOTRACE_BENCH_KEEP:-} ]]; then
  mkdir -p -- "$GOTRACE_BENCH_KEEP"
  cp -- "$pcs" "$work/expected.tsv" "$work/bench.txt" "$GOTRACE_BENCH_KEEP"/
fi

# --- the table ---
get() { figure "$work/bench.txt" "$1"; }
load_ms=$(get load_ms_median)
loads=$(get loads)
rss=$(get peak_rss_after_load_mib)
rss_end=$(get peak_rss_end_mib)
cold=$(get cold_pcs_per_sec)
warm=$(get warm_pcs_per_sec)
verified=$(get verified)
mismatches=$(get mismatches)
a2l_rate=$(awk -v n="$fed" -v t="$addr2line_ns" -v s="$startup_ns" 'BEGIN {d = t - s; if (d <= 0) d = 1; printf "%.0f", n / (d / 1e9)}')
a2l_rss=""
[[ -s $work/addr2line.rss ]] && a2l_rss=$(awk '{printf "%.1f MiB", $1 / 1024}' "$work/addr2line.rss")

fmt_rate() { awk -v r="$1" 'BEGIN {printf "%.0f", r}' | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1fx", a / b}'; }

echo
echo "Symbolizer benchmark: $binary"
echo "  $(get go_version), pclntab $(get pclntab_format), $(get functions) functions, $(awk -v b="$(get text_bytes)" 'BEGIN {printf "%.1f MiB", b / 1048576}') of text"
echo "  $count PCs (seed $seed; $(get frames_per_pc) frames per PC with inlining expanded), same PCs for both"
[[ -n $subset_note ]] && echo "  NOTE: $subset_note"
echo
printf '  %-34s %18s %22s\n' "" "gotrace" "go tool addr2line"
printf '  %-34s %18s %22s\n' "load ms (median of $loads fresh loads)" "$load_ms" \
  "$(awk -v s="$startup_ns" 'BEGIN {printf "%.1f", s / 1e6}') (start-up+load)"
printf '  %-34s %18s %22s\n' "peak RSS MiB (after load / at end)" "$rss / $rss_end" "${a2l_rss:-n/a} (at end)"
printf '  %-34s %18s %22s\n' "PCs/s, cold (first pass)" "$(fmt_rate "$cold")" "$(fmt_rate "$a2l_rate")"
printf '  %-34s %18s %22s\n' "PCs/s, warm (second pass)" "$(fmt_rate "$warm")" ""
printf '  %-34s %18s\n' "speedup over addr2line, cold" "$(ratio "$cold" "$a2l_rate")"
printf '  %-34s %18s\n' "speedup over addr2line, warm" "$(ratio "$warm" "$a2l_rate")"
echo
echo "  addr2line: $fed PCs in $(awk -v t="$addr2line_ns" 'BEGIN {printf "%.2f", t / 1e9}')s wall, of which $(awk -v s="$startup_ns" 'BEGIN {printf "%.2f", s / 1e9}')s start-up+load; PCs/s exclude start-up+load, as gotrace's do"
echo "  agreement (function, file:line) on $verified PCs: $mismatches mismatches"
if (( mismatches > 0 )); then
  echo "  first mismatches:"
  sed -n '/^mismatch /,/^  frames:/p' "$work/bench.txt" | sed 's/^/    /'
fi
echo "  goals: load < 100 ms: $(goal "$load_ms" 100 "<");" \
  ">= 10x addr2line: cold $(goal "$(awk -v a="$cold" -v b="$a2l_rate" 'BEGIN {print a / b}')" 10 ">="), warm $(goal "$(awk -v a="$warm" -v b="$a2l_rate" 'BEGIN {print a / b}')" 10 ">=")"
(( mismatches == 0 )) || exit 1
