#!/usr/bin/env bash
# Builds the Go fixture programs under tests/fixtures/ with every Go toolchain
# in the matrix below, in several variants, and writes OUTDIR/manifest.tsv:
#
#   <fixture>\t<go version, e.g. go1.21.13>\t<variant>\t<absolute path of the binary>
#
# one line per build, ordered by fixture, then toolchain (in TOOLCHAINS order),
# then variant (plain, stripped, pie, cgo, cgo-pie).
#
# A fixture is a directory tests/fixtures/<name>/ holding a go.mod. Variants:
#   plain     default build (CGO_ENABLED=0)
#   stripped  -ldflags=-s -w
#   pie       -buildmode=pie
#   cgo       only for fixtures with a file containing "//go:build cgofixture",
#             only with the go on PATH: CGO_ENABLED=1 -tags=cgofixture
#             -ldflags=-linkmode=external
#   cgo-pie   the same with -buildmode=pie
#   exp-<experiment>  GOEXPERIMENT=<experiment>, for the EXPERIMENTS below
#
# The non-cgo variants set CGO_ENABLED=0, so they do not depend on the
# machine's C compiler. go build runs in the fixture directory with GOWORK=off
# and GOFLAGS=-buildvcs=false.
#
# Builds are cached in ${GOTRACE_FIXTURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gotrace/fixtures}/<key>/
# where <key> is the sha256 of the toolchain's `go version` output and GOROOT,
# the variant's environment and flags, the fixture's name and directory, and
# the name and content of every file in the fixture directory (plus the C
# compiler's version for cgo variants). A cached build is reused without
# running go build.
#
# Usage: scripts/build-fixtures.sh OUTDIR
# Environment: GOTRACE_FIXTURE_CACHE (cache directory), GOTRACE_FIXTURE_JOBS
# (parallel builds, default 2), GOTRACE_FIXTURE_TOOLCHAINS (replaces the
# TOOLCHAINS list below, space-separated), GOTRACE_FIXTURES_DIR (instead of
# tests/fixtures). GOCACHE and GOMODCACHE are passed on to go as usual.
set -euo pipefail

# The toolchain matrix. Each entry is one of:
#   local        the go on PATH, with GOTOOLCHAIN=local
#   goX.Y.Z      the go on PATH with GOTOOLCHAIN=goX.Y.Z (downloaded from the
#                Go module proxy into the module cache on first use)
#   /path/to/go  that go binary
# A trailing "?" makes an entry optional: when that toolchain is missing or
# cannot be downloaded, print a warning and continue without it.
TOOLCHAINS=(
  "/usr/lib/go-1.19/bin/go?"   # Debian 12's golang-1.19-go
  go1.21.13
  go1.22.12
  go1.23.12
  go1.24.13
  go1.25.14
  "go1.27.4?"
  local
)
# Builds with a GOEXPERIMENT that changes how allocation works, as
# "<toolchain> <experiment>", each a variant exp-<experiment> (not stripped,
# not PIE). Skipped, with a warning, when the toolchain is not in the matrix.
EXPERIMENTS=(
  "local sizespecializedmalloc"        # opt-in before Go 1.27
  "go1.27.4 nosizespecializedmalloc"   # the default turned off in Go 1.27
)
# For experiments: GOTRACE_FIXTURE_TOOLCHAINS="go1.22.12 local" replaces the list.
if [[ -n ${GOTRACE_FIXTURE_TOOLCHAINS:-} ]]; then
  read -r -a TOOLCHAINS <<<"$GOTRACE_FIXTURE_TOOLCHAINS"
fi
# The toolchain for the cgo and cgo-pie variants.
CGO_TOOLCHAIN=local
VARIANTS=(plain stripped pie)
CGO_VARIANTS=(cgo cgo-pie)
KEY_VERSION=1  # bump to invalidate every cached build

prog=build-fixtures
die() { echo "$prog: error: $*" >&2; exit 1; }
warn() { echo "$prog: warning: $*" >&2; }

[[ $# -eq 1 && -n $1 ]] || die "usage: $0 OUTDIR"
start_ns=$(date +%s%N)
mkdir -p -- "$1"
outdir=$(cd -- "$1" && pwd)
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
fixtures_root=${GOTRACE_FIXTURES_DIR:-$repo/tests/fixtures}
[[ -d $fixtures_root ]] || die "no fixture directory $fixtures_root"
fixtures_root=$(cd -- "$fixtures_root" && pwd)
cache=${GOTRACE_FIXTURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gotrace/fixtures}
jobs=${GOTRACE_FIXTURE_JOBS:-2}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "GOTRACE_FIXTURE_JOBS must be a positive number, not '$jobs'"
mkdir -p -- "$cache"
cache=$(cd -- "$cache" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-fixtures.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# Every go command runs with this environment: no workspace, no user GOFLAGS,
# no VCS stamping (the binaries must not depend on the git state), and nothing
# that would point a toolchain at another GOROOT or change its target.
export GOWORK=off GOFLAGS=-buildvcs=false
unset GOROOT GOOS GOARCH GOAMD64 GOEXPERIMENT

path_go=$(command -v go || true)

# ---- resolve the toolchains -------------------------------------------------

tc_labels=() tc_cmds=() tc_gotoolchain=() tc_ids=() tc_specs=()

# resolve SPEC: sets r_label, r_cmd, r_gotoolchain, r_id, or returns 1 with
# the reason in r_error.
resolve() {
  local spec=$1 out
  r_error=
  case $spec in
    local) r_cmd=$path_go r_gotoolchain=local ;;
    /*) r_cmd=$spec r_gotoolchain=local ;;
    go[0-9]*) r_cmd=$path_go r_gotoolchain=$spec ;;
    *) die "bad toolchain entry '$spec' in TOOLCHAINS" ;;
  esac
  if [[ -z $r_cmd ]]; then r_error="no go on PATH"; return 1; fi
  if [[ ! -x $r_cmd ]]; then r_error="$r_cmd does not exist"; return 1; fi
  # Run outside any module so no go.mod or go.work is consulted.
  if ! out=$(cd "$work" && GOTOOLCHAIN=$r_gotoolchain "$r_cmd" version 2>&1); then
    r_error=$(printf '%s\n' "$out" | tail -n 3 | tr '\n' ' ')
    return 1
  fi
  local goroot
  goroot=$(cd "$work" && GOTOOLCHAIN=$r_gotoolchain "$r_cmd" env GOROOT 2>&1) || { r_error=$goroot; return 1; }
  r_label=$(awk '{print $3; exit}' <<<"$out")
  [[ $r_label == go* ]] || { r_error="unexpected 'go version' output: $out"; return 1; }
  r_id="$out"$'\n'"GOROOT=$goroot"
}

for entry in "${TOOLCHAINS[@]}"; do
  spec=${entry%\?}
  optional=0
  if [[ $entry == *\? ]]; then optional=1; fi
  if ! resolve "$spec"; then
    if (( optional )); then
      warn "toolchain $spec is unavailable, continuing without it: $r_error"
      continue
    fi
    die "toolchain $spec is unavailable: $r_error"
  fi
  dup=0
  for l in "${tc_labels[@]}"; do
    if [[ $l == "$r_label" ]]; then dup=1; fi
  done
  if (( dup )); then
    warn "toolchain $spec is $r_label, already in the matrix; skipping the duplicate"
    continue
  fi
  tc_labels+=("$r_label") tc_cmds+=("$r_cmd") tc_gotoolchain+=("$r_gotoolchain") tc_ids+=("$r_id") tc_specs+=("$spec")
done
(( ${#tc_labels[@]} > 0 )) || die "no usable Go toolchain"

cgo_label= cgo_cmd= cgo_gotoolchain= cgo_id=
if resolve "$CGO_TOOLCHAIN"; then
  cgo_label=$r_label cgo_cmd=$r_cmd cgo_gotoolchain=$r_gotoolchain cgo_id=$r_id
fi

# ---- variants ---------------------------------------------------------------

# variant_args VARIANT: sets v_env (array of NAME=VALUE) and v_flags (array of
# go build flags).
variant_args() {
  case $1 in
    plain) v_env=(CGO_ENABLED=0) v_flags=() ;;
    stripped) v_env=(CGO_ENABLED=0) v_flags=("-ldflags=-s -w") ;;
    pie) v_env=(CGO_ENABLED=0) v_flags=(-buildmode=pie) ;;
    cgo) v_env=(CGO_ENABLED=1) v_flags=(-tags=cgofixture -ldflags=-linkmode=external) ;;
    cgo-pie) v_env=(CGO_ENABLED=1) v_flags=(-tags=cgofixture -ldflags=-linkmode=external -buildmode=pie) ;;
    exp-*) v_env=(CGO_ENABLED=0 "GOEXPERIMENT=${1#exp-}") v_flags=() ;;
    *) die "unknown variant $1" ;;
  esac
}

# The C compiler of the cgo variants, for their cache key.
cc_id=
c_compiler_id() {
  if [[ -z $cc_id ]]; then
    local cc
    cc=$(cd "$work" && GOTOOLCHAIN=$cgo_gotoolchain CGO_ENABLED=1 "$cgo_cmd" env CC)
    cc_id="CC=$cc $( (${cc:-gcc} --version 2>/dev/null || true) | head -n 1)"
  fi
}

# ---- plan the builds --------------------------------------------------------

# One job per build, as tab-separated fields:
#   fixture dir label cmd gotoolchain variant key
job_list=()
fixture_count=0
for dir in "$fixtures_root"/*/; do
  dir=${dir%/}
  [[ -f $dir/go.mod ]] || continue
  fixture=$(basename -- "$dir")
  fixture_count=$((fixture_count + 1))
  # Every file of the fixture, by name and content.
  files_id=$(cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
  builds=()  # "toolchain-index variant" pairs; index -1 is the cgo toolchain
  for i in "${!tc_labels[@]}"; do
    for v in "${VARIANTS[@]}"; do builds+=("$i $v"); done
  done
  for e in "${EXPERIMENTS[@]}"; do
    spec=${e% *} experiment=${e#* } found=-1
    for i in "${!tc_specs[@]}"; do
      if [[ ${tc_specs[i]} == "$spec" ]]; then found=$i; fi
    done
    if (( found < 0 )); then
      warn "no toolchain $spec in the matrix; skipping the $experiment build of $fixture"
      continue
    fi
    builds+=("$found exp-$experiment")
  done
  if grep -rqs --include='*.go' '^//go:build cgofixture' "$dir"; then
    if [[ -z $cgo_label ]]; then
      die "fixture $fixture has cgo variants but the go on PATH is unusable: $r_error"
    fi
    for v in "${CGO_VARIANTS[@]}"; do builds+=("-1 $v"); done
  fi
  for b in "${builds[@]}"; do
    i=${b% *} v=${b#* }
    if (( i < 0 )); then
      label=$cgo_label cmd=$cgo_cmd gotc=$cgo_gotoolchain tcid=$cgo_id
    else
      label=${tc_labels[i]} cmd=${tc_cmds[i]} gotc=${tc_gotoolchain[i]} tcid=${tc_ids[i]}
    fi
    variant_args "$v"
    extra=
    if [[ $v == cgo* ]]; then
      c_compiler_id
      extra=$cc_id
    fi
    key=$(printf 'gotrace fixture key v%s\nfixture %s\ndir %s\ntoolchain %s\nvariant %s\nenv %s\nflags %s\n%s\nfiles\n%s\n' \
      "$KEY_VERSION" "$fixture" "$dir" "$tcid" "$v" "${v_env[*]}" "${v_flags[*]}" "$extra" "$files_id" |
      sha256sum | cut -d' ' -f1)
    job_list+=("$fixture"$'\t'"$dir"$'\t'"$label"$'\t'"$cmd"$'\t'"$gotc"$'\t'"$v"$'\t'"$key")
  done
done
(( fixture_count > 0 )) || die "no fixtures (directories with a go.mod) under $fixtures_root"

# ---- build ------------------------------------------------------------------

# build_one JOB-INDEX: builds one job unless it is cached; writes
# $work/status.N ("cached", "built" or "failed") and, on failure, $work/log.N.
build_one() {
  local n=$1 fixture dir label cmd gotc v key
  IFS=$'\t' read -r fixture dir label cmd gotc v key <<<"${job_list[n]}"
  local final=$cache/$key
  if [[ -x $final/$fixture ]]; then
    echo cached >"$work/status.$n"
    return 0
  fi
  variant_args "$v"
  local tmp t0=$SECONDS
  tmp=$(mktemp -d "$cache/.tmp.$key.XXXXXX")
  chmod 755 "$tmp"
  if (cd "$dir" && env GOTOOLCHAIN="$gotc" "${v_env[@]}" "$cmd" build -o "$tmp/$fixture" "${v_flags[@]}" .) \
      >"$work/log.$n" 2>&1; then
    printf '%s\t%s\t%s\n' "$fixture" "$label" "$v" >"$tmp/build.tsv"
    # Publish atomically. If another run published the same key meanwhile,
    # keep that one; if a broken entry is in the way, replace it.
    if ! mv -T -- "$tmp" "$final" 2>/dev/null; then
      if [[ -x $final/$fixture ]]; then
        rm -rf -- "$tmp"
      else
        rm -rf -- "$final"
        mv -T -- "$tmp" "$final"
      fi
    fi
    echo "$prog: built $fixture/$label/$v ($((SECONDS - t0))s)"
    echo built >"$work/status.$n"
  else
    rm -rf -- "$tmp"
    echo failed >"$work/status.$n"
  fi
}

running=0
for n in "${!job_list[@]}"; do
  if (( running >= jobs )); then
    wait -n || true
    running=$((running - 1))
  fi
  build_one "$n" &
  running=$((running + 1))
done
wait

built=0 cached=0 failed=0
manifest=$outdir/manifest.tsv
tmp_manifest=$(mktemp "$outdir/.manifest.tsv.XXXXXX")
for n in "${!job_list[@]}"; do
  IFS=$'\t' read -r fixture dir label cmd gotc v key <<<"${job_list[n]}"
  status=$(cat "$work/status.$n" 2>/dev/null || echo failed)
  case $status in
    built) built=$((built + 1)) ;;
    cached) cached=$((cached + 1)) ;;
    *)
      failed=$((failed + 1))
      echo "$prog: FAILED: fixture $fixture, toolchain $label, variant $v; go build output:" >&2
      sed 's/^/    /' "$work/log.$n" >&2 2>/dev/null || true
      continue
      ;;
  esac
  printf '%s\t%s\t%s\t%s\n' "$fixture" "$label" "$v" "$cache/$key/$fixture" >>"$tmp_manifest"
done
if (( failed > 0 )); then
  rm -f -- "$tmp_manifest"
  die "$failed of ${#job_list[@]} builds failed"
fi
mv -f -- "$tmp_manifest" "$manifest"

elapsed_ns=$(( $(date +%s%N) - start_ns ))
printf '%s: %d builds of %d fixture(s) with %d toolchain(s): %d built, %d from cache, in %d.%ds; manifest: %s\n' \
  "$prog" "${#job_list[@]}" "$fixture_count" "${#tc_labels[@]}" "$built" "$cached" \
  $((elapsed_ns / 1000000000)) $((elapsed_ns / 100000000 % 10)) "$manifest"
