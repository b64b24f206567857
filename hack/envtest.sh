#!/usr/bin/env bash
# Prints a directory holding kube-apiserver and etcd for envtest, building them
# from the Go module proxy on first use (no download site for prebuilt
# Kubernetes binaries is reachable from our machines or CI).
#
#   KUBEBUILDER_ASSETS=$(hack/envtest.sh)
#
# A preset KUBEBUILDER_ASSETS that already holds both binaries wins. Otherwise
# the binaries live in ${REDFLAG_CACHE:-~/.cache/redflag}/envtest/<version>/,
# outside the clone, so every later run and CI reuse them. Progress goes to
# stderr; only the directory goes to stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools="$here/envtest"
k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2}' "$tools/go.mod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$tools/go.mod")
binaries=(kube-apiserver etcd)

have_all() {
  local dir=$1 b
  for b in "${binaries[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && have_all "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

cache="${REDFLAG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/redflag}/envtest/${k8s_version}-etcd${etcd_version}"
if have_all "$cache"; then
  echo "$cache"
  exit 0
fi

mkdir -p "$cache"
# One builder at a time: a second caller (a parallel make, say) waits here.
exec 9>"$cache/.lock"
flock 9
if have_all "$cache"; then
  echo "$cache"
  exit 0
fi

say() { echo "envtest: $*" >&2; }
say "building kube-apiserver $k8s_version and etcd $etcd_version from the Go module proxy into $cache"
say "a first build takes about ten minutes on 2 cores; later runs reuse it"

build() {
  local name=$1 pkg=$2 start=$SECONDS
  say "building $name ($pkg) ..."
  # A heartbeat so nobody thinks the build hung.
  ( while sleep 60; do say "  still building $name ($((SECONDS - start))s so far)"; done ) &
  local ticker=$!
  local status=0
  (cd "$tools" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags=-s -o "$cache/$name.tmp" "$pkg") || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    say "building $name failed (exit $status)"
    rm -f "$cache/$name.tmp"
    exit "$status"
  fi
  mv "$cache/$name.tmp" "$cache/$name"
  say "built $name in $((SECONDS - start))s"
}

build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
echo "$cache"
