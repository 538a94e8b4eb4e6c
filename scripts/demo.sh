#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install what is missing, build
# gotrace, start the bundled demo Go program, look at it with gotrace, and
# stop it again. Run as root (tracing needs it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build"

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
echo "== where the demo is right now: its allocator entry points, symbolized"
mapfile -t entries < <("$build/gotrace" info --json "$demo_pid" |
  python3 -c 'import json,sys; [print(p["address"]) for p in json.load(sys.stdin)["allocation_entry_points"]]')
"$build/gotrace" symbolize "$build/demo/shop" "${entries[@]}"
