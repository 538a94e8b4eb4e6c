#!/usr/bin/env bash
# Installs what building and testing gotrace needs on Debian 12 (run as root):
# the Debian packages below, a Go toolchain when there is none, and the
# Grafana Pyroscope server the agent's tests push to
# (scripts/pyroscope-server.sh build, cached).
#
# Idempotent: it prints one line per step it actually does, and only
# "setup: nothing to do" when everything is already there. apt output goes to
# a log file (its tail is printed on failure).
#
# Go: Debian 12's golang-go (1.19) is too old to be the main Go (the fixture
# builds need GOTOOLCHAIN, Go >= 1.21). When go is not on PATH (or is older
# than 1.21) and $GOTRACE_GO_ROOT/bin/go is missing, the script takes the
# official toolchain from the Go module proxy, where it is published as the
# module golang.org/toolchain@v0.0.1-<version>.<os>-<arch>: Debian's Go 1.19
# (golang-1.19-go) downloads it with `go mod download`, which also verifies
# it against the checksum database (sum.golang.org, through the proxy). The
# module's files are a complete GOROOT; they are copied to $GOTRACE_GO_ROOT and
# bin/go and bin/gofmt are symlinked into $GOTRACE_GO_LINK_DIR. dl.google.com
# (what golang.org/dl uses) is not needed.
#
# Environment:
#   GOTRACE_GO_VERSION   Go to install (default go1.26.8)
#   GOTRACE_GO_ROOT      where to install it (default /usr/local/go); when set,
#                        Go is installed there even if a go is on PATH
#   GOTRACE_GO_LINK_DIR  where to symlink go and gofmt (default /usr/local/bin)
#   GOPROXY, GONOSUMDB, GOFLAGS, ...  are honoured by the download
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang llvm clang-16 libclang-rt-16-dev
  libbpf-dev bpftool libelf-dev zlib1g-dev
  libfmt-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev googletest
  libprotobuf-dev protobuf-compiler
  libncurses-dev libzydis-dev tmux universal-ctags
  golang-1.19-go curl ca-certificates libcurl4-openssl-dev python3-prometheus-client socat openssl
)
GO_VERSION=${GOTRACE_GO_VERSION:-go1.26.8}
GO_ROOT=${GOTRACE_GO_ROOT:-/usr/local/go}
GO_LINK_DIR=${GOTRACE_GO_LINK_DIR:-/usr/local/bin}
BOOTSTRAP_GO=/usr/lib/go-1.19/bin/go
LOG=/tmp/gotrace-setup.log

did_something=0
step() { echo "setup: $*"; did_something=1; }
die() { echo "setup: error: $*" >&2; exit 1; }

log_started=0
start_log() {
  if (( ! log_started )); then
    : >"$LOG"
    log_started=1
  fi
}
fail_with_log() {
  echo "setup: error: $1; the end of $LOG:" >&2
  tail -n 30 "$LOG" | sed 's/^/    /' >&2
  exit 1
}
# run_logged CMD...: runs CMD with its output appended to $LOG; on failure
# prints the log's tail and exits.
run_logged() {
  start_log
  echo "+ $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 || fail_with_log "'$*' failed"
}

need_root() {
  [[ $EUID -eq 0 ]] || die "$1 needs root; run this script as root"
}

# ---- Debian packages --------------------------------------------------------

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  if [[ $status != ii* ]]; then missing+=("$pkg"); fi
done
if (( ${#missing[@]} > 0 )); then
  need_root "installing Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  step "apt-get update (log: $LOG)"
  run_logged apt-get -o DPkg::Lock::Timeout=300 update
  step "installing ${#missing[@]} Debian package(s): ${missing[*]}"
  run_logged apt-get -o DPkg::Lock::Timeout=300 install -y "${missing[@]}"
fi

# ---- Go ---------------------------------------------------------------------

# go_minor GO: prints the minor version of that go (21 for go1.21.13), or
# nothing when it cannot tell.
go_minor() {
  local v
  v=$(cd / && GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null) || return 0
  [[ $v =~ ^go1\.([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

go_on_path_ok() {
  local go minor
  go=$(command -v go) || return 1
  minor=$(go_minor "$go")
  [[ -n $minor ]] && (( minor >= 21 ))
}

go_arch() {
  local arch
  arch=$(dpkg --print-architecture)
  case $arch in
    amd64 | arm64 | s390x | riscv64) echo "$arch" ;;
    ppc64el) echo ppc64le ;;
    i386) echo 386 ;;
    armhf) echo armv6l ;;
    *) die "no Go toolchain for the Debian architecture $arch" ;;
  esac
}

go_tmp= go_staging=
cleanup_go() { rm -rf -- ${go_tmp:+"$go_tmp"} ${go_staging:+"$go_staging"}; }

install_go() {
  local module dir got
  module="golang.org/toolchain@v0.0.1-$GO_VERSION.linux-$(go_arch)"
  step "installing Go $GO_VERSION into $GO_ROOT from the Go module proxy ($module)"
  [[ -x $BOOTSTRAP_GO ]] || die "$BOOTSTRAP_GO is missing (Debian package golang-1.19-go)"
  if [[ -e $GO_ROOT ]]; then
    # Only an empty directory may be in the way; never delete anything else.
    rmdir -- "$GO_ROOT" 2>/dev/null || die "$GO_ROOT exists but has no bin/go; move it away first"
  fi
  mkdir -p -- "$(dirname -- "$GO_ROOT")"
  trap cleanup_go EXIT
  go_tmp=$(mktemp -d "${TMPDIR:-/tmp}/gotrace-go.XXXXXX")
  # A private module cache, writable (-modcacherw) so it can be removed, and
  # no go.mod in the working directory. The JSON on stdout names the
  # extracted directory (or the error).
  start_log
  echo "+ $BOOTSTRAP_GO mod download -json $module" >>"$LOG"
  if ! (cd "$go_tmp" && env GOPATH="$go_tmp/gopath" GOMODCACHE="$go_tmp/modcache" GOFLAGS=-modcacherw \
      GO111MODULE=on "$BOOTSTRAP_GO" mod download -json "$module") >"$go_tmp/download.json" 2>>"$LOG"; then
    cat "$go_tmp/download.json" >>"$LOG"
    fail_with_log "downloading $module failed"
  fi
  cat "$go_tmp/download.json" >>"$LOG"
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' "$go_tmp/download.json")
  [[ -n $dir && -f $dir/VERSION ]] || fail_with_log "go mod download did not extract $module"
  # Stage next to the target so that the final rename is atomic.
  go_staging=$(mktemp -d "$(dirname -- "$GO_ROOT")/.gotrace-go.XXXXXX")
  cp -R -- "$dir/." "$go_staging/"
  chmod -R u+w,go-w,a+rX -- "$go_staging"
  # Module zips do not keep the executable bit.
  chmod a+x -- "$go_staging"/bin/* "$go_staging"/pkg/tool/*/*
  got=$(cd / && GOTOOLCHAIN=local "$go_staging/bin/go" version 2>&1) || die "the downloaded Go does not run: $got"
  [[ $got == "go version $GO_VERSION "* ]] || die "the downloaded Go says '$got', expected $GO_VERSION"
  mv -T -- "$go_staging" "$GO_ROOT"
  go_staging=
  cleanup_go
  trap - EXIT
}

installed_go=0
if [[ ! -x $GO_ROOT/bin/go ]] && { [[ -n ${GOTRACE_GO_ROOT:-} ]] || ! go_on_path_ok; }; then
  if [[ ! -w $(dirname -- "$GO_ROOT") ]] && [[ $EUID -ne 0 ]]; then need_root "installing Go into $GO_ROOT"; fi
  install_go
  installed_go=1
fi

# Link go and gofmt into GO_LINK_DIR when Go was just installed, when the
# install location was chosen explicitly, or when no usable go is on PATH.
if [[ -x $GO_ROOT/bin/go ]] && { (( installed_go )) || [[ -n ${GOTRACE_GO_ROOT:-} ]] || ! go_on_path_ok; }; then
  for tool in go gofmt; do
    target=$GO_ROOT/bin/$tool
    link=$GO_LINK_DIR/$tool
    [[ -x $target ]] || continue
    if [[ -L $link && $(readlink -- "$link") == "$target" ]]; then continue; fi
    if [[ -e $link && ! -L $link ]]; then
      echo "setup: warning: $link exists and is not a symlink; leaving it alone" >&2
      continue
    fi
    step "linking $link -> $target"
    mkdir -p -- "$GO_LINK_DIR"
    ln -sfn -- "$target" "$link"
  done
fi

if (( installed_go )); then
  # Check the result the way a user would see it.
  version=$("$GO_LINK_DIR/go" version)
  step "installed: $version"
  if [[ -z ${GOTRACE_GO_ROOT:-} && -z ${GOTRACE_GO_LINK_DIR:-} ]] && [[ $(command -v go || true) != "$GO_LINK_DIR/go" ]]; then
    echo "setup: warning: 'go' on PATH is $(command -v go || echo missing), not $GO_LINK_DIR/go; put $GO_LINK_DIR first in PATH" >&2
  fi
fi

# ---- the Pyroscope server of the tests --------------------------------------

# Built with the Go above from the Go module proxy, at the versions
# scripts/pyroscope-server.sh pins, into its cache; minutes the first time.
if ! go_on_path_ok && [[ -x $GO_LINK_DIR/go ]]; then export PATH=$GO_LINK_DIR:$PATH; fi
pyroscope_script=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/pyroscope-server.sh
if ! "$pyroscope_script" path >/dev/null 2>&1; then
  step "building the Pyroscope server for the tests with $pyroscope_script (log: $LOG)"
  run_logged "$pyroscope_script" build
fi

if (( ! did_something )); then
  echo "setup: nothing to do"
fi
