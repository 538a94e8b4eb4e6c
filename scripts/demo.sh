#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install what is missing, build
# gotrace, start the bundled demo Go program, trace it for a few seconds,
# write a pprof profile and folded stacks, and print the top allocation
# sites. Run as root (tracing needs it).
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
echo "== gotrace attach $demo_pid -d ${seconds}s"
"$build/gotrace" attach "$demo_pid" -d "${seconds}s" -o "$build/demo/shop.pb.gz" --folded "$build/demo/shop.folded"

echo
echo "== top allocation sites by bytes (go tool pprof -top $build/demo/shop.pb.gz)"
go tool pprof -top -sample_index=alloc_space "$build/demo/shop.pb.gz" 2>/dev/null | head -20
echo
echo "profile: $build/demo/shop.pb.gz (go tool pprof -http=: $build/demo/shop.pb.gz)"
echo "folded stacks for a flame graph: $build/demo/shop.folded"
