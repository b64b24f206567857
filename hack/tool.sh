#!/usr/bin/env bash
# Prints the path of a developer tool pinned in hack/tools/go.mod (helm,
# nfpm), building it once into a cache outside the clone:
#
#   helm=$(hack/tool.sh helm)
#
# The cache is keyed by the tools module's go.sum, so a version bump builds
# anew and every other run (and CI on this machine) reuses the binary.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name=${1:?usage: hack/tool.sh helm|nfpm}
case "$name" in
  helm) pkg=helm.sh/helm/v3/cmd/helm ;;
  nfpm) pkg=github.com/goreleaser/nfpm/v2/cmd/nfpm ;;
  *) echo "hack/tool.sh: unknown tool $name (known: helm, nfpm)" >&2; exit 2 ;;
esac

key=$(sha256sum "$here/tools/go.sum" | cut -c1-12)
dir="${REDFLAG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/redflag}/tools/$key"
if [ -x "$dir/$name" ]; then
  echo "$dir/$name"
  exit 0
fi
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ ! -x "$dir/$name" ]; then
  echo "tool.sh: building $name from hack/tools/go.mod into $dir (once)" >&2
  (cd "$here/tools" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags=-s -o "$dir/$name.tmp" "$pkg")
  mv "$dir/$name.tmp" "$dir/$name"
fi
echo "$dir/$name"
