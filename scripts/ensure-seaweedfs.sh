#!/usr/bin/env bash
# Makes a SeaweedFS `weed` binary available: the S3-compatible server of the DuckLake-on-S3 tests
# (test/s3-server.ts). SeaweedFS ships no Debian/npm/PyPI package and GitHub is out of reach, so it is
# built from Go modules once (~5 min) and cached. Prints the binary's path on success; otherwise says why
# and exits non-zero, and the tests skip with that message.
set -uo pipefail

# The pinned SeaweedFS commit (a Go pseudo-version) and where its build is cached.
VERSION=v0.0.0-20261109003541-7506e5f91cd6
CACHE_DIR="${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}/bin"
CACHED="$CACHE_DIR/weed"

works() { [ -n "$1" ] && [ -x "$1" ] && "$1" version >/dev/null 2>&1; }

if [ -n "${SEAWEEDFS_WEED_PATH:-}" ]; then
  works "$SEAWEEDFS_WEED_PATH" && { echo "$SEAWEEDFS_WEED_PATH"; exit 0; }
  echo "SEAWEEDFS_WEED_PATH=$SEAWEEDFS_WEED_PATH is not a working weed binary ('weed version' failed)" >&2
  exit 1
fi
for c in "$(command -v weed 2>/dev/null)" "$CACHED"; do
  works "$c" && { echo "$c"; exit 0; }
done

GO="$(command -v go 2>/dev/null || true)"
[ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
if [ -z "$GO" ]; then
  echo "no SeaweedFS 'weed' binary and no Go toolchain to build it: install Go (https://go.dev/dl) or set SEAWEEDFS_WEED_PATH" >&2
  exit 1
fi

mkdir -p "$CACHE_DIR" || { echo "cannot create $CACHE_DIR" >&2; exit 1; }
log="$CACHE_DIR/weed-build.log"
# Test files run in parallel: the first one builds, the others wait here and then find the cached binary.
exec 9>"$CACHE_DIR/weed.lock"
flock -w 1800 9 || { echo "timed out waiting for another build of weed (lock $CACHE_DIR/weed.lock)" >&2; exit 1; }
works "$CACHED" && { echo "$CACHED"; exit 0; }

echo "building SeaweedFS weed $VERSION from Go modules (once, ~5 minutes; log: $log)" >&2
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-weed-build-XXXXXX")"
trap 'rm -rf "$work"' EXIT
# `go install …/weed@version` is refused because SeaweedFS's go.mod has a replace directive; a wrapper
# module that requires it and repeats that replace builds the same program.
cat >"$work/go.mod" <<EOF
module sluice.local/weedbuild

go 1.24

require github.com/seaweedfs/seaweedfs $VERSION

replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
EOF
cat >"$work/tools.go" <<'EOF'
//go:build tools

package tools

import _ "github.com/seaweedfs/seaweedfs/weed"
EOF
# CGO off: no C compiler needed, and the binary does not depend on the machine's libc.
export CGO_ENABLED=0 GOFLAGS=-mod=mod
{
  cd "$work" && "$GO" mod tidy && "$GO" build -o "$work/weed" github.com/seaweedfs/seaweedfs/weed
} >"$log" 2>&1 || { echo "building weed failed (see $log): $(tail -3 "$log" | tr '\n' ' ')" >&2; exit 1; }
# Renamed into place so a reader never sees a half-written binary.
mv -f "$work/weed" "$CACHED.tmp.$$" && mv -f "$CACHED.tmp.$$" "$CACHED"
works "$CACHED" || { echo "built $CACHED but 'weed version' fails" >&2; exit 1; }
echo "$CACHED"
