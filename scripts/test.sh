#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh machine (run as root):
# set-up, the build, every test (real BPF against real Go programs), every
# test again under AddressSanitizer and UBSan, and the parsers' fuzz targets
# for a bounded time.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

fuzz_seconds=${GOTRACE_FUZZ_SECONDS:-60}

scripts/setup.sh

echo "== build"
cmake -S . -B build -G Ninja -DGOTRACE_WERROR=ON >/dev/null
cmake --build build

echo "== tests"
ctest --test-dir build --output-on-failure

echo "== tests under AddressSanitizer and UBSan"
cmake -S . -B build-asan -G Ninja -DGOTRACE_WERROR=ON -DGOTRACE_SANITIZE=ON >/dev/null
cmake --build build-asan
# The reliability tier's loops of faults (attach/detach cycles, kills,
# signals) for a quarter of their time: the sanitizers watch gotrace end by
# every signal and every detach, and a sanitized gotrace starts slower.
GOTRACE_RELIABILITY_TIME=0.25 ctest --test-dir build-asan --output-on-failure

echo "== fuzzing the binary parsers for ${fuzz_seconds}s per target"
GOTRACE_FIXTURE_MANIFEST="$root/build/fixtures/manifest.tsv" scripts/fuzz.sh "$fuzz_seconds"
