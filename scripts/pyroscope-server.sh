#!/usr/bin/env bash
# Builds the Grafana Pyroscope server that the tests of `gotrace agent --push`
# run on loopback (tests/support/pyroscope_server.h), from the Go module
# proxy at the pinned versions below, once, into a cache:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/gotrace/pyroscope/<key>/pyroscope
#
# where <key> is the sha256 of the two module versions, `go version` and this
# script's own content, so that changing any of them builds anew. A build
# goes to a staging directory next to its key's and is renamed into place, so
# a cached binary is always complete.
#
# Usage:
#   scripts/pyroscope-server.sh build   build unless cached; prints one line
#                                       when it builds, nothing when cached
#   scripts/pyroscope-server.sh path    print the cached binary's path; exit 1
#                                       with a message when it is not built
#
# The go on PATH builds it (GOTOOLCHAIN=local); GOMODCACHE, GOCACHE, GOPROXY
# and GONOSUMDB are honoured as usual. scripts/setup.sh runs `build`.
set -euo pipefail

# The pins. The Go module proxy this project builds from serves
# github.com/grafana/pyroscope v1.9.0 but refuses (403) most later versions,
# and later api modules do not match v1.9.0's code. v1.9.0's go.mod replaces
# its api module with ./api, a directory its module zip leaves out, so the
# build drops that replace and requires the published api v1.0.0 instead,
# the one that matches v1.9.0.
PYROSCOPE_MODULE=github.com/grafana/pyroscope
PYROSCOPE_VERSION=v1.9.0
API_MODULE=github.com/grafana/pyroscope/api
API_VERSION=v1.0.0

prog=pyroscope-server
die() { echo "$prog: error: $*" >&2; exit 1; }

[[ $# -eq 1 && ( $1 == build || $1 == path ) ]] || die "usage: $0 build|path"
command=$1
script=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/$(basename -- "${BASH_SOURCE[0]}")
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/gotrace/pyroscope

# Every go command: no workspace, no VCS stamping, this machine's toolchain,
# a static binary (no C compiler needed), and nothing that would point go at
# another GOROOT or target.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
unset GOROOT GOOS GOARCH GOEXPERIMENT

command -v go >/dev/null || die "no go on PATH; run scripts/setup.sh"
go_version=$(cd / && go version 2>&1) || die "'go version' failed: $go_version"
key=$(printf 'gotrace pyroscope server\n%s@%s\n%s@%s\n%s\n%s\n' \
  "$PYROSCOPE_MODULE" "$PYROSCOPE_VERSION" "$API_MODULE" "$API_VERSION" "$go_version" \
  "$(sha256sum <"$script")" | sha256sum | cut -d' ' -f1)
final=$cache_root/$key
binary=$final/pyroscope

if [[ $command == path ]]; then
  [[ -x $binary ]] || die "the Pyroscope server $PYROSCOPE_VERSION is not built for this go and script; run scripts/setup.sh (or $0 build)"
  echo "$binary"
  exit 0
fi

[[ -x $binary ]] && exit 0

work= staging=
cleanup() { rm -rf -- ${work:+"$work"} ${staging:+"$staging"}; }
trap cleanup EXIT
work=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-pyroscope.XXXXXX")
log=$work/build.log
# fail WHAT: the one-line error, then the end of the log.
fail() {
  echo "$prog: error: $1; the end of its log:" >&2
  tail -n 30 "$log" | sed 's/^/    /' >&2
  exit 1
}

t0=$SECONDS
# The module's source: downloaded (and checked against the checksum
# database) into the module cache, whose copy is read-only, so it is copied.
(cd "$work" && go mod download -json "$PYROSCOPE_MODULE@$PYROSCOPE_VERSION") >"$work/download.json" 2>"$log" || {
  cat "$work/download.json" >>"$log"
  fail "downloading $PYROSCOPE_MODULE@$PYROSCOPE_VERSION failed"
}
dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' "$work/download.json")
[[ -n $dir && -f $dir/go.mod ]] || { cat "$work/download.json" >>"$log"; fail "go mod download did not extract $PYROSCOPE_MODULE@$PYROSCOPE_VERSION"; }
cp -R -- "$dir" "$work/src"
chmod -R u+w -- "$work/src"
rm -f -- "$work/src/go.work" "$work/src/go.work.sum"
(cd "$work/src" && go mod edit -dropreplace "$API_MODULE" -require "$API_MODULE@$API_VERSION") >>"$log" 2>&1 ||
  fail "editing the go.mod of $PYROSCOPE_MODULE@$PYROSCOPE_VERSION failed"

mkdir -p -- "$cache_root"
staging=$(mktemp -d "$cache_root/.tmp.$key.XXXXXX")
chmod 755 -- "$staging"
(cd "$work/src" && go build -o "$staging/pyroscope" ./cmd/pyroscope) >>"$log" 2>&1 ||
  fail "go build of $PYROSCOPE_MODULE@$PYROSCOPE_VERSION (api $API_VERSION) failed"
printf '%s@%s\n%s@%s\n%s\n' "$PYROSCOPE_MODULE" "$PYROSCOPE_VERSION" "$API_MODULE" "$API_VERSION" "$go_version" \
  >"$staging/build.txt"
# Publish atomically. If another run published the same key meanwhile, keep
# that one; if a broken entry is in the way, replace it.
if ! mv -T -- "$staging" "$final" 2>/dev/null; then
  if [[ ! -x $binary ]]; then
    rm -rf -- "$final"
    mv -T -- "$staging" "$final"
  fi
fi
echo "$prog: built Grafana Pyroscope $PYROSCOPE_VERSION (api $API_VERSION) in $((SECONDS - t0))s: $binary"
