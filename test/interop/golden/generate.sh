#!/usr/bin/env bash
# Rebuilds test/wire/goldens/*.json from hashicorp/raft 1.1.2 and go-msgpack 0.5.5 as Debian packages
# them (apt-get install golang-go golang-github-hashicorp-raft-dev). Offline: no module downloads.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="$(mktemp -d)/golden"
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$here" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= go build -o "$bin" .)
"$bin" "$root/test/wire/goldens"
# Go's indentation differs from prettier's in places; the committed files follow prettier.
(cd "$root" && npx prettier --log-level warn --write test/wire/goldens)
echo "wrote $(ls "$root/test/wire/goldens" | tr '\n' ' ')"
