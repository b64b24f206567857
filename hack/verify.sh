#!/usr/bin/env bash
# Fails when anything generated or formatted differs from what is committed:
# deepcopy code, CRDs, RBAC, the Helm chart's copies of the CRDs, gofmt and
# go.mod/go.sum of every module.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

status=0
fail() { echo "verify: $*" >&2; status=1; }

unformatted=$(gofmt -l $(git ls-files '*.go'))
[ -z "$unformatted" ] || fail "gofmt would change: $unformatted (run make fmt)"

go mod tidy -diff >/dev/null || fail "go.mod/go.sum are not tidy (run go mod tidy)"
(cd hack/envtest && go mod tidy -diff >/dev/null) || fail "hack/envtest/go.mod is not tidy (run go mod tidy there)"
(cd hack/tools && go mod tidy -diff >/dev/null) || fail "hack/tools/go.mod is not tidy (run go mod tidy there)"

# Regenerate, then compare with what was there before: generated files must
# be kept as generated. (CI runs this on a clean clone, so "before" is what
# was committed.)
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
cp -r api config "$before/"
cp -r charts/redflag/files/crds "$before/chart-crds"
make --no-print-directory generate manifests >/dev/null
if ! diff -r "$before/api" api >/dev/null || ! diff -r "$before/config" config >/dev/null; then
  fail "generated files were out of date (make generate manifests has now rewritten them):"
  diff -r "$before/api" api >&2 || true
  diff -r "$before/config" config >&2 || true
fi
# The chart ships copies of the CRDs (Helm cannot read outside the chart).
# `make manifests` re-syncs them, so compare with what was there before, and
# check the copies against the sources as well.
if ! diff -r "$before/chart-crds" charts/redflag/files/crds >/dev/null; then
  fail "charts/redflag/files/crds was out of date (make manifests has now re-synced it from config/crd/bases):"
  diff -r "$before/chart-crds" charts/redflag/files/crds >&2 || true
fi
hack/sync-chart-crds.sh --check || fail "charts/redflag/files/crds differs from config/crd/bases (run hack/sync-chart-crds.sh)"
exit $status
