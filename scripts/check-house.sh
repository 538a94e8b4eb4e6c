#!/usr/bin/env bash
# Checks the house rules that keep the tree easy to find one's way in:
#   - no source file over 400 lines, no function over 80 (generated code
#     is never in the tree);
#   - each folder includes only what README.md's map says it may depend on.
# Prints one line per breach and exits 1 if there is any. Needs
# universal-ctags (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

max_file_lines=400
max_function_lines=80
breaches=0
breach() {
  echo "house: $*"
  breaches=$((breaches + 1))
}

mapfile -t sources < <(git ls-files -- bpf base symbolizer userspace tests scripts CMakeLists.txt |
  grep -E '\.(c|cc|h|go|sh|proto)$|CMakeLists\.txt$')
(( ${#sources[@]} > 0 )) || { echo "house: no source files found (not a git checkout?)"; exit 1; }

for file in "${sources[@]}"; do
  lines=$(wc -l <"$file")
  (( lines <= max_file_lines )) || breach "$file: $lines lines (at most $max_file_lines)"
done

# Functions and TEST bodies of C and C++, from ctags' start and end lines;
# shell and Go functions (ctags gives no end for some), from the line that
# opens them to the `}` that closes them at the start of a line.
function_lengths() {
  ctags -x --_xformat='%{end} %n %N %F' --kinds-c++=f --kinds-c=f --fields=+ne -o - \
    $(printf '%s\n' "${sources[@]}" | grep -E '\.(c|cc|h)$')
  for file in $(printf '%s\n' "${sources[@]}" | grep -E '\.(sh|go)$'); do
    awk -v file="$file" '
      /^[A-Za-z_][A-Za-z0-9_]*\(\) *\{ *$/ || /^func / {
        name = $1 == "func" ? ($2 ~ /^\(/ ? $4 : $2) : $1
        sub(/[(\[].*/, "", name)
        start = /\} *$/ ? 0 : NR  # a one-line function is short
        next
      }
      /^(type|var|const) / { start = 0 }
      /^\}/ && start { print NR, start, name, file; start = 0 }' "$file"
  done
}
while read -r end start name file; do
  length=$((end - start + 1))
  (( length <= max_function_lines )) || breach "$file:$start: $name is $length lines (at most $max_function_lines)"
done < <(function_lengths)

# What each folder may include of ours, as README.md's map says.
allowed_includes() {
  case $1 in
    base/*) echo "base/" ;;
    bpf/*) echo "bpf/" ;;
    symbolizer/*) echo "base/ symbolizer/" ;;
    userspace/profile/*) echo "base/ bpf/ symbolizer/ userspace/profile/" ;;
    userspace/probe/*) echo "base/ bpf/ symbolizer/ userspace/probe/" ;;
    userspace/process/*) echo "base/ symbolizer/ userspace/process/" ;;
    userspace/export/*) echo "base/ symbolizer/ userspace/profile/ userspace/export/" ;;
    userspace/tui/*) echo "base/ bpf/ symbolizer/ userspace/probe/probe_counters.h userspace/profile/ userspace/tui/" ;;
    userspace/explain/*) echo "base/ symbolizer/ userspace/probe/ userspace/profile/ userspace/export/ userspace/explain/" ;;
    userspace/agent/*) echo "base/ symbolizer/ userspace/probe/probe_counters.h userspace/profile/ userspace/export/ userspace/tui/trace_snapshot.h userspace/agent/" ;;
    userspace/trace/*) echo "base/ bpf/ symbolizer/ userspace/probe/ userspace/process/ userspace/profile/ userspace/export/ userspace/tui/ userspace/trace/" ;;
    *) echo "" ;;  # commands, main and tests may use everything
  esac
}
for file in "${sources[@]}"; do
  allowed=$(allowed_includes "$file")
  [[ -n $allowed ]] || continue
  while IFS= read -r included; do
    ok=0
    for prefix in $allowed; do [[ $included == "$prefix"* ]] && ok=1; done
    [[ $included == *.skel.h || $included == */profile.pb.h ]] && ok=1  # generated into the build tree
    (( ok )) || breach "$file includes $included (its folder may use: $allowed)"
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done

if (( breaches > 0 )); then
  echo "house: $breaches breaches"
  exit 1
fi
echo "house: ${#sources[@]} files, each within the rules"
