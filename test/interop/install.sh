#!/bin/sh
# Installs the Go toolchain and hashicorp/raft 1.1.2 from Debian's archive (bookworm) and builds
# test/interop/bin/gonode. Idempotent: does nothing when the packages are there and the binary is
# newer than its sources. Builds offline (GOPATH mode over /usr/share/gocode, GOPROXY=off):
# nothing is fetched from anywhere but Debian's archive.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
source_dir="$here/gonode"
binary="$here/bin/gonode"
gocode=/usr/share/gocode
packages="golang-go golang-github-hashicorp-raft-dev golang-github-hashicorp-raft-boltdb-dev"

log() { echo "interop/install.sh: $*" >&2; }

packages_present() {
  command -v go >/dev/null 2>&1 &&
    [ -f "$gocode/src/github.com/hashicorp/raft/api.go" ] &&
    [ -f "$gocode/src/github.com/hashicorp/raft-boltdb/bolt_store.go" ]
}

install_packages() {
  if [ "$(id -u)" -eq 0 ]; then
    as_root=""
  elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
  else
    log "need root (or sudo) to apt-get install: $packages"
    exit 1
  fi
  log "installing $packages"
  $as_root apt-get update
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y --no-install-recommends $packages
}

needs_build() {
  [ ! -x "$binary" ] && return 0
  [ -n "$(find "$source_dir" -name '*.go' -newer "$binary")" ]
}

build() {
  log "building $binary"
  mkdir -p "$(dirname "$binary")"
  # A go cache that works without HOME (CI containers) and a build into a temporary file that is
  # renamed, so a concurrent run never sees half a binary.
  cache="${GOCACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/go-build}"
  tmp="$binary.tmp.$$"
  (cd "$source_dir" &&
    GO111MODULE=off GOPATH="$gocode" GOPROXY=off GOFLAGS= GOCACHE="$cache" go build -o "$tmp" .)
  mv "$tmp" "$binary"
}

packages_present || install_packages
if ! packages_present; then
  log "packages still missing after install: $packages"
  exit 1
fi
if needs_build; then build; fi
