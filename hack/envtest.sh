#!/usr/bin/env bash
# Prints a directory holding kube-apiserver, etcd and kubectl for envtest,
# building them from the Go module proxy on first use (no download site for
# prebuilt Kubernetes binaries is reachable from our machines or CI). kubectl
# is there for the tests that drive the cluster as a user would (helm, GitOps
# apply, dry runs against the real schemas).
#
#   KUBEBUILDER_ASSETS=$(hack/envtest.sh)
#
# A preset KUBEBUILDER_ASSETS that already holds all three binaries wins.
# Otherwise the binaries live in ${REDFLAG_CACHE:-~/.cache/redflag}/envtest/<version>/,
# outside the clone, so every later run and CI reuse them; a cache that lacks
# some of them (one made before kubectl was added, say) gets only the missing
# ones built. Progress goes to stderr; only the directory goes to stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools="$here/envtest"
k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2}' "$tools/go.mod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$tools/go.mod")
binaries=(kube-apiserver etcd kubectl)
# Where each binary's main package is, in the module hack/envtest/go.mod.
declare -A packages=(
  [etcd]=go.etcd.io/etcd/server/v3
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
)

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
missing=()
for b in "${binaries[@]}"; do [ -x "$cache/$b" ] || missing+=("$b"); done
say "building ${missing[*]} (Kubernetes $k8s_version, etcd $etcd_version) from the Go module proxy into $cache"
if [ "${#missing[@]}" -eq "${#binaries[@]}" ]; then
  say "a first build takes about fifteen minutes on 2 cores; later runs reuse it"
else
  say "the other binaries are cached already and are not rebuilt"
fi

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

for b in "${missing[@]}"; do build "$b" "${packages[$b]}"; done
echo "$cache"
