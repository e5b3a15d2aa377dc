#!/usr/bin/env bash
# Builds the local control plane's binaries from Go modules into a cache outside the repository,
# keyed by version. Only what is missing is built. Sourced by e2e/cluster; runnable on its own:
#   e2e/build.sh            build everything that is missing
#   e2e/build.sh --print    print the binary directory of each component
#   e2e/build.sh pushgateway   build the Pushgateway (audit --pushgateway e2e) if missing; print its path
set -euo pipefail

K8S_VERSION="${KUBEDIAG_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${KUBEDIAG_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KUBEDIAG_KWOK_VERSION:-v0.8.0}"
PUSHGATEWAY_VERSION="${KUBEDIAG_PUSHGATEWAY_VERSION:-v1.11.1}"
# Gateway API standard-channel CRDs (no controller): the module ships config/crd/standard/*.yaml.
# v1.7.0 needs Go >= 1.27; v1.6.3 is the newest release the machine's Go accepts.
GATEWAY_API_VERSION="${KUBEDIAG_GATEWAY_API_VERSION:-v1.6.3}"
CACHE_DIR="${KUBEDIAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubediag}"
BIN_K8S="$CACHE_DIR/bin/kubernetes-$K8S_VERSION"
BIN_ETCD="$CACHE_DIR/bin/etcd-$ETCD_VERSION"
BIN_KWOK="$CACHE_DIR/bin/kwok-$KWOK_VERSION"
BIN_PUSHGATEWAY="$CACHE_DIR/bin/pushgateway-$PUSHGATEWAY_VERSION"
CRD_GATEWAY_API="$CACHE_DIR/crds/gateway-api-$GATEWAY_API_VERSION"
LOG_DIR="$CACHE_DIR/logs"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

fail() { echo "e2e/build: step '$1' failed: $2 (log: $3)" >&2; exit 1; }

build_kwok() {
  [ -f "$BIN_KWOK/.ok" ] && return 0
  local log="$LOG_DIR/kwok-$KWOK_VERSION.log"
  echo "e2e/build: building kwok and kwokctl $KWOK_VERSION" >&2
  mkdir -p "$BIN_KWOK"
  GOBIN="$BIN_KWOK" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION" >"$log" 2>&1 \
    || fail "kwok" "go install sigs.k8s.io/kwok/cmd/{kwok,kwokctl}@$KWOK_VERSION" "$log"
  touch "$BIN_KWOK/.ok"
}

build_etcd() {
  [ -f "$BIN_ETCD/.ok" ] && return 0
  local log="$LOG_DIR/etcd-$ETCD_VERSION.log" src="$CACHE_DIR/src/etcd-$ETCD_VERSION"
  echo "e2e/build: building etcd $ETCD_VERSION" >&2
  mkdir -p "$BIN_ETCD" "$src"
  (
    cd "$src"
    cat >go.mod <<EOF
module kubediag.local/etcdbuild

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$BIN_ETCD/etcd" go.etcd.io/etcd/server/v3
  ) >"$log" 2>&1 || fail "etcd" "go build go.etcd.io/etcd/server/v3@$ETCD_VERSION" "$log"
  touch "$BIN_ETCD/.ok"
}

build_kubernetes() {
  [ -f "$BIN_K8S/.ok" ] && return 0
  local log="$LOG_DIR/kubernetes-$K8S_VERSION.log" src="$CACHE_DIR/src/kubernetes-$K8S_VERSION"
  local staging="v0.${K8S_VERSION#v1.}"
  echo "e2e/build: building kube-apiserver, kube-controller-manager, kube-scheduler $K8S_VERSION (cold: tens of minutes)" >&2
  mkdir -p "$BIN_K8S" "$src"
  (
    set -euo pipefail
    cd "$src"
    gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [ -f "$gomod" ] || { echo "no go.mod for k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
    {
      printf 'module kubediag.local/k8sbuild\n\ngo 1.25\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
      # every staging module that kubernetes replaces with ./staging/src/... gets the published v0.x.y
      sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\) => ./staging/src/.*#\1#p' "$gomod" | sort -u |
        while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
      printf ')\n'
    } >go.mod
    grep -c '=>' go.mod
    printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager"\n\t_ "k8s.io/kubernetes/cmd/kube-scheduler"\n)\n' >tools.go
    go mod tidy
    major=1 minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
    ld="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
      ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    go build -trimpath -tags selinux,notest -ldflags "$ld" -o "$BIN_K8S/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler
  ) >"$log" 2>&1 || fail "kubernetes" "go build k8s.io/kubernetes/cmd/{kube-apiserver,kube-controller-manager,kube-scheduler}@$K8S_VERSION" "$log"
  touch "$BIN_K8S/.ok"
}

# Not part of the control plane (build_all): the e2e test of `audit --pushgateway` pushes to a real one
# on 127.0.0.1; `make test` builds it. A small Go build (about a minute cold); serialised by a lock.
build_pushgateway() {
  [ -f "$BIN_PUSHGATEWAY/.ok" ] && return 0
  command -v go >/dev/null || fail "go" "the Go toolchain is not on PATH (needed to build the Pushgateway)" "-"
  mkdir -p "$LOG_DIR" "$BIN_PUSHGATEWAY"
  local log="$LOG_DIR/pushgateway-$PUSHGATEWAY_VERSION.log"
  exec 8>"$LOG_DIR/pushgateway.lock"
  flock 8
  if [ ! -f "$BIN_PUSHGATEWAY/.ok" ]; then
    echo "e2e/build: building pushgateway $PUSHGATEWAY_VERSION" >&2
    # the pinned module from the proxy, built in its own directory with its own go.sum
    (
      set -euo pipefail
      dir=$(go mod download -json "github.com/prometheus/pushgateway@$PUSHGATEWAY_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
      [ -d "$dir" ] || { echo "no source for github.com/prometheus/pushgateway@$PUSHGATEWAY_VERSION"; exit 1; }
      cd "$dir"
      go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${PUSHGATEWAY_VERSION#v}" \
        -o "$BIN_PUSHGATEWAY/pushgateway" .
    ) >"$log" 2>&1 || fail "pushgateway" "go build github.com/prometheus/pushgateway@$PUSHGATEWAY_VERSION" "$log"
    touch "$BIN_PUSHGATEWAY/.ok"
  fi
  exec 8>&-
}

# The Gateway API CRDs, from the Go module through the module proxy (`go mod download`), copied into the
# cache keyed by version. Only the CustomResourceDefinitions: not the bundle's ValidatingAdmissionPolicy.
fetch_gateway_api_crds() {
  [ -f "$CRD_GATEWAY_API/.ok" ] && return 0
  command -v go >/dev/null || fail "go" "the Go toolchain is not on PATH (needed to fetch the Gateway API CRDs)" "-"
  mkdir -p "$LOG_DIR"
  local log="$LOG_DIR/gateway-api-$GATEWAY_API_VERSION.log" dir
  echo "e2e/build: fetching the Gateway API $GATEWAY_API_VERSION CRDs (sigs.k8s.io/gateway-api)" >&2
  (
    set -euo pipefail
    cd "$CACHE_DIR"  # outside any module: `go mod download MOD@VER` only fills the module cache
    dir=$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    [ -d "$dir/config/crd/standard" ] || { echo "no config/crd/standard in sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION ($dir)"; exit 1; }
    rm -rf "$CRD_GATEWAY_API"
    mkdir -p "$CRD_GATEWAY_API"
    for f in "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
      grep -q '^kind: CustomResourceDefinition' "$f" && cp "$f" "$CRD_GATEWAY_API/"
    done
    chmod u+w "$CRD_GATEWAY_API"/*.yaml
    ls "$CRD_GATEWAY_API"
  ) >"$log" 2>&1 || fail "gateway-api" "go mod download sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" "$log"
  touch "$CRD_GATEWAY_API/.ok"
}

build_all() {
  if [ -f "$BIN_KWOK/.ok" ] && [ -f "$BIN_ETCD/.ok" ] && [ -f "$BIN_K8S/.ok" ]; then return 0; fi
  command -v go >/dev/null || fail "go" "the Go toolchain is not on PATH (needed to build the control plane)" "-"
  mkdir -p "$LOG_DIR"
  build_kwok
  build_etcd
  build_kubernetes
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    --print) printf '%s\n' "$BIN_K8S" "$BIN_ETCD" "$BIN_KWOK" "$CRD_GATEWAY_API" ;;
    pushgateway) build_pushgateway && printf '%s\n' "$BIN_PUSHGATEWAY/pushgateway" ;;
    *) build_all; fetch_gateway_api_crds ;;
  esac
fi
