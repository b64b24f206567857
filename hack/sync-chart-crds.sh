#!/usr/bin/env bash
# Copies the generated CRDs (config/crd/bases, written by `make manifests`)
# into the Helm chart, byte for byte:
#
#   hack/sync-chart-crds.sh          # copy
#   hack/sync-chart-crds.sh --check  # fail (listing the drift) instead of copying
#
# The chart renders them from charts/redflag/files/crds/ through
# templates/crds.yaml rather than from Helm's crds/ directory, because Helm
# installs crds/ once and never upgrades it. They are copies, not symlinks,
# because `helm package` and chart repositories do not follow links out of the
# chart. hack/verify.sh runs --check so the copies cannot drift.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

src=config/crd/bases
dst=charts/redflag/files/crds

if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$src" "$dst" >&2; then
    echo "sync-chart-crds: $dst differs from $src (run hack/sync-chart-crds.sh)" >&2
    exit 1
  fi
  exit 0
fi

mkdir -p "$dst"
# Remove copies of CRDs that no longer exist, then copy the current ones.
find "$dst" -name '*.yaml' -delete
cp "$src"/*.yaml "$dst"/
echo "sync-chart-crds: copied $(ls "$src"/*.yaml | wc -l) CRDs into $dst"
