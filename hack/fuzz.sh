#!/usr/bin/env bash
# Runs every fuzz target of the module (every `func FuzzX(f *testing.F)` in
# a _test.go file) for a short time each, one after another, so a decoder
# or parser that crashes on input its seeds never showed fails the build.
#
#   hack/fuzz.sh                            # every target, FUZZTIME each (3s)
#   FUZZTIME=2m hack/fuzz.sh FuzzReport     # chosen targets, longer
#
# A failing target leaves its input in the package's testdata/fuzz/<Target>/.
# Plain `go test` replays every file there, so once the code is fixed the
# file stays, committed, as the regression case. The inputs a run found
# interesting are kept in the Go build cache and seed the next run.
#
# Each package's instrumented test binary is built once (`go test -fuzz`
# would link it again for every target), in the background while the
# previous package's targets run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fuzztime=${FUZZTIME:-3s}
module=$(go list -m)
cache=$(go env GOCACHE)/fuzz
bin=$(mktemp -d)
builder=
cleanup() {
  [ -z "$builder" ] || kill "$builder" 2>/dev/null || true
  rm -rf "$bin"
}
trap cleanup EXIT

# Targets as "<package dir> <name>", from the files git tracks or would
# track (so a new test file counts before it is committed); the modules in
# hack/envtest and hack/tools are tools, not RedFlag.
targets=$(git ls-files --cached --others --exclude-standard -- '*_test.go' ':!hack/envtest/**' ':!hack/tools/**' |
  xargs grep -HEo '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' |
  sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' | sort -u)
if [ $# -gt 0 ]; then
  targets=$(grep -E " ($(IFS='|'; echo "$*"))\$" <<<"$targets" || true)
fi
[ -n "$targets" ] || { echo "fuzz: no fuzz target${*:+ named $*}" >&2; exit 1; }

binary() { echo "$bin/${1//\//_}.test"; }

# The builder: one binary per package, in the order the loop needs them;
# <binary>.done (or .failed, with the build's output) says it is ready.
(
  while read -r dir name; do
    out=$(binary "$dir")
    [ -e "$out.done" ] || [ -e "$out.failed" ] && continue
    if go test -c -fuzz "^$name\$" -o "$out" "./$dir" >"$out.log" 2>&1; then
      touch "$out.done"
    else
      touch "$out.failed"
    fi
  done <<<"$targets"
) &
builder=$!

failed=()
ran=0
start=$SECONDS
while read -r dir name; do
  test=$(binary "$dir")
  until [ -e "$test.done" ] || [ -e "$test.failed" ]; do sleep 0.1; done
  if [ -e "$test.failed" ]; then
    cat "$test.log" >&2
    echo "fuzz: FAIL $dir: the test binary does not build" >&2
    failed+=("$name")
    continue
  fi
  corpus=$dir/testdata/fuzz/$name
  before=$(ls "$corpus" 2>/dev/null || true)
  t0=$SECONDS
  # From the package directory, as go test runs it: testdata/fuzz is there.
  if (cd "$dir" && "$test" -test.run '^$' -test.fuzz "^$name\$" -test.fuzztime "$fuzztime" \
      -test.fuzzcachedir "$cache/$module/$dir" -test.timeout 10m -test.paniconexit0 >"$bin/out" 2>&1); then
    echo "fuzz: ok   $dir $name ($((SECONDS - t0))s)"
  elif [ "$(ls "$corpus" 2>/dev/null || true)" = "$before" ] && grep -q '^    context deadline exceeded$' "$bin/out" &&
    [ "$(grep -c '^    ' "$bin/out")" -eq 1 ]; then
    # Go's coordinator can report its own -fuzztime deadline as a failure
    # (go.dev/issue/75804, fixed in Go 1.27); a real failure writes an input.
    echo "fuzz: ok   $dir $name ($((SECONDS - t0))s; the toolchain's spurious deadline error ignored)"
  else
    cat "$bin/out" >&2
    echo "fuzz: FAIL $dir $name: any failing input is in $corpus/" >&2
    failed+=("$name")
  fi
  ran=$((ran + 1))
done <<<"$targets"

echo "fuzz: $ran targets, $fuzztime each, in $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
