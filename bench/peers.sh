#!/usr/bin/env bash
# Builds the peer tools the benchmark compares kubediag with (Popeye, k8sgpt) from the Go module proxy into
# the cache, keyed by version; only what is missing is built. Not part of CI or `make test`.
#   bench/peers.sh          build what is missing
#   bench/peers.sh --print  print NAME=PATH for each built binary
# The proxy serves exact versions (it may refuse version lists), so versions are pinned here.
set -euo pipefail

POPEYE_VERSION="${KUBEDIAG_POPEYE_VERSION:-v0.22.1}"
K8SGPT_VERSION="${KUBEDIAG_K8SGPT_VERSION:-v0.4.17}"
CACHE_DIR="${KUBEDIAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubediag}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

bin_of() { echo "$CACHE_DIR/bin/$1-$2/$1"; }

build() { # name module version package-in-module
  local name=$1 mod=$2 ver=$3 pkg=$4 out src log
  out="$(bin_of "$name" "$ver")"
  [ -x "$out" ] && return 0
  src="$CACHE_DIR/src/$name-$ver"
  log="$CACHE_DIR/logs/$name-$ver.log"
  mkdir -p "$(dirname "$out")" "$CACHE_DIR/logs"
  echo "bench/peers: building $name $ver (log: $log)" >&2
  (
    dir="$(go mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -n "$dir" ] || { echo "go mod download $mod@$ver gave no directory"; exit 1; }
    rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
    cd "$src"
    go mod download
    go build -trimpath -ldflags "-s -w" -o "$out" "./$pkg"
  ) >"$log" 2>&1 || { echo "bench/peers: building $name $ver failed (log: $log)" >&2; return 1; }
}

if [ "${1:-}" = "--print" ]; then
  for pair in "popeye $POPEYE_VERSION" "k8sgpt $K8SGPT_VERSION"; do
    set -- $pair
    [ -x "$(bin_of "$1" "$2")" ] && echo "$1=$(bin_of "$1" "$2")"
  done
  exit 0
fi
status=0
build popeye github.com/derailed/popeye "$POPEYE_VERSION" . || status=1
build k8sgpt github.com/k8sgpt-ai/k8sgpt "$K8SGPT_VERSION" . || status=1
exit "$status"
