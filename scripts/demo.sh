#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install what is missing, build
# gotrace, start the bundled demo Go program, trace it for a few seconds,
# write a pprof profile and folded stacks, and print the top allocation
# sites; then explain why they allocate (to the compiler's escape analysis),
# fix the one that grows a slice, and measure again. Run as root (tracing
# needs it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build"
seconds=${GOTRACE_DEMO_SECONDS:-5}

"$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -G Ninja >/dev/null
cmake --build "$build"

mkdir -p "$build/demo"
(cd "$root/scripts/demo" && GOTOOLCHAIN=local GOWORK=off go build -o "$build/demo/shop" .)

"$build/demo/shop" &
demo_pid=$!
trap 'kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true' EXIT
sleep 1

echo
echo "== gotrace info $demo_pid"
"$build/gotrace" info "$demo_pid"

echo
echo "== gotrace attach $demo_pid --exact -d ${seconds}s"
"$build/gotrace" attach "$demo_pid" --exact -d "${seconds}s" -o "$build/demo/shop.pb.gz" --folded "$build/demo/shop.folded"

echo
echo "== top allocation sites by bytes (go tool pprof -top $build/demo/shop.pb.gz)"
go tool pprof -top -sample_index=alloc_space "$build/demo/shop.pb.gz" 2>/dev/null | head -20

echo
echo "== why they allocate (gotrace explain $build/demo/shop.pb.gz --source $root/scripts/demo --top 4)"
"$build/gotrace" explain "$build/demo/shop.pb.gz" --source "$root/scripts/demo" --top 4
kill "$demo_pid" && wait "$demo_pid" 2>/dev/null || true

# The fix the explanation hints at, on a copy of the source: main.skus makes
# its slice with the capacity it needs.
fixed="$build/demo/fixed"
rm -rf "$fixed" && cp -r "$root/scripts/demo" "$fixed"
sed -i 's/^\tvar list \[\]string$/\tlist := make([]string, 0, len(o.Items))/' "$fixed/main.go"
grep -q 'list := make(\[\]string, 0, len(o.Items))' "$fixed/main.go" || { echo "demo: the fix did not apply" >&2; exit 1; }
(cd "$fixed" && GOTOOLCHAIN=local GOWORK=off go build -o "$build/demo/shop-fixed" .)
"$build/demo/shop-fixed" &
demo_pid=$!
sleep 1
echo
echo "== fixed (main.skus: list := make([]string, 0, len(o.Items))): gotrace attach $demo_pid --exact -d ${seconds}s"
"$build/gotrace" attach "$demo_pid" --exact -d "${seconds}s" -o "$build/demo/shop-fixed.pb.gz" --no-tui >/dev/null
echo
echo "== what the fix changed (gotrace explain --diff shop.pb.gz shop-fixed.pb.gz --top 5)"
"$build/gotrace" explain --diff "$build/demo/shop.pb.gz" "$build/demo/shop-fixed.pb.gz" --top 5

echo
echo "profile: $build/demo/shop.pb.gz (go tool pprof -http=: $build/demo/shop.pb.gz)"
echo "folded stacks for a flame graph: $build/demo/shop.folded"
