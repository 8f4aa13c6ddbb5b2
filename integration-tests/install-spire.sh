#!/usr/bin/env bash
# Installs real SPIRE v1.15.3 (spire-server, spire-agent) into $(go env GOPATH)/bin, or reuses it.
#
# First tries exactly `CGO_ENABLED=1 go install ...@v1.15.3`. On the Go module proxy reachable here
# that fails: the proxy answers 403 for github.com/Keyfactor/ejbca-go-client-sdk v1.1.0's zip (a
# dependency of SPIRE's EJBCA UpstreamAuthority plugin only). The fallback builds the same two
# commands from an empty wrapper module that requires spire v1.15.3 and swaps only that library for
# v1.0.2 (API-compatible; the proxy serves it). SPIRE's own code is unchanged.
set -euo pipefail
version=v1.15.3
bin="$(go env GOPATH)/bin"
want="${version#v}"

have() {
  [ -x "$bin/spire-server" ] && [ -x "$bin/spire-agent" ] &&
    "$bin/spire-server" --version 2>&1 | grep -q "^$want" &&
    "$bin/spire-agent" --version 2>&1 | grep -q "^$want"
}

if have; then
  echo "SPIRE $want already installed in $bin"
  exit 0
fi
command -v gcc >/dev/null || { echo "gcc is needed (cgo, for SPIRE's SQLite datastore)" >&2; exit 1; }

echo "installing SPIRE $version into $bin"
if CGO_ENABLED=1 go install "github.com/spiffe/spire/cmd/spire-server@$version" "github.com/spiffe/spire/cmd/spire-agent@$version"; then
  have && exit 0
fi

echo "go install failed; building $version from a wrapper module (see the comment in $0)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/go.mod" <<MOD
module spirebuild

go 1.26.6

require github.com/spiffe/spire $version

replace github.com/Keyfactor/ejbca-go-client-sdk v1.1.0 => github.com/Keyfactor/ejbca-go-client-sdk v1.0.2
MOD
mkdir -p "$bin"
(cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=1 go build -o "$bin/" \
  github.com/spiffe/spire/cmd/spire-server github.com/spiffe/spire/cmd/spire-agent)
have || { echo "SPIRE build did not produce $want binaries" >&2; exit 1; }
echo "SPIRE $want installed in $bin"
